# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""The on-the-fly calibration tracker (core/calibration_tracker.py): quiet on a calibrated run, flags a
timing jump and a channel-phase jump within 10 frames (docs/air-model.md §4).

The air is the spec-derived one of test_calibration_estimator.py (docs/air-model.md §2 written in the test); the
calibration is estimated by the estimator from a calibration capture of the same air; the operating run
uses the placeholder precoders (W_c and W_r both on, every node at once) and applies the calibration as
docs/air-model.md §3 says the transmitter, node_rx and the central unit do.
"""

import dataclasses

import numpy as np
import pytest

from gnuradio.disac.core import calibration_estimator as est
from gnuradio.disac.core import calibration_tracker as trk
from gnuradio.disac.core import ofdm
from gnuradio.disac.core.calibration import CalibrationError, identity_calibration
from gnuradio.disac.core.scenario import load_scenario
from test_calibration_estimator import LAB_PER_RUN, SEED, calibration_capture, spec_air_capture

FRAMES = 24
JUMP_AT = 12


@pytest.fixture(scope="module")
def calibrated():
    s = load_scenario("examples/scenarios/three-nodes.toml").with_impairments(LAB_PER_RUN)
    schedule, caps, max_lag = calibration_capture(s, frames_per_node=10)
    cal = est.estimate_calibration(s.without_impairments(), caps, schedule, SEED, max_lag_samples=max_lag).calibration
    return s, cal


def operating_frames(s, cal, imp=None, extra_delay_samples=None):
    """{frame: (snapshots, frames)} of an operating run, calibrated as node_rx / isac_tx / the central unit do."""
    lay = ofdm.layout_from_scenario(s)
    wc, wr = ofdm.default_precoders(lay, s.per_antenna_power)
    total = FRAMES + 4
    # the transmitters divide by the calibrated tx gains (a per-antenna scale, so the precoder rows) and undo
    # their CFO; the rescaling to P_T is a common factor, absorbed by the amplitudes
    corrected = {m: (wc / cal.tx_gains[m][:, None], wr / cal.tx_gains[m][:, None]) for m in range(s.num_nodes)}
    caps = spec_air_capture(s, total, -200, total * lay.frame_len + 400, imp=imp,
                            extra_delay_samples=extra_delay_samples, tx_cfo_correction_hz=cal.cfo_hz,
                            precoders=corrected, noise_seed=5)
    out = {}
    for f in range(2, 2 + FRAMES):
        snaps, frames = {}, {}
        for n in range(s.num_nodes):
            c = caps[n]
            labels = c.first_index + np.arange(c.samples.shape[1])
            cfo = np.exp(2j * np.pi * cal.cfo_hz[n] * labels / s.bandwidth_hz)  # node_rx: × e^{+j2π ε̂_n t}
            c = est.ReceivedCapture(c.samples * cfo[None], c.first_index)
            y = est.frame_snapshots(c, lay, [f], cal.window_offset_samples(n))[0]
            snaps[n] = y * cal.rx_correction(n, s.subcarriers)[..., None]
        for m in range(s.num_nodes):
            x = ofdm.transmitted_frames(lay, SEED, [f], m, wc, wr)[0]
            frames[m] = x * cal.tx_delay_phases(s.subcarriers)[m][:, None]
        out[f] = (snaps, frames)
    return out


def run(tracker, good, bad=None):
    states = []
    for f in sorted(good):
        snaps, frames = (bad or good)[f] if bad is not None and f >= 2 + JUMP_AT else good[f]
        states.append(tracker.update(f, snaps, frames))
    return states


def test_quiet_on_a_calibrated_run(calibrated):
    s, cal = calibrated
    good = operating_frames(s, cal)
    tracker = trk.CalibrationTracker(s.without_impairments(), cal)
    states = run(tracker, good)
    assert states == ["ok"] * FRAMES and tracker.jumps == 0
    # the residual delays are the calibration's error: ≪ the 0.05-sample threshold
    assert max(abs(c.delay_samples) for c in tracker.last_checks) < 0.01


@pytest.mark.parametrize("every", [1, 2])
def test_a_timing_jump_is_flagged_within_10_frames(calibrated, every):
    s, cal = calibrated
    good = operating_frames(s, cal)
    step = np.zeros((3, 3))
    step[:, 1] = 0.3  # node 2's clock slips by 30 ns: every link from node 2 moves
    step[1, :] -= 0.3
    bad = operating_frames(s, cal, extra_delay_samples=step)
    tracker = trk.CalibrationTracker(s.without_impairments(), cal, every_frames=every)
    states = run(tracker, good, bad)
    assert states[:JUMP_AT] == ["ok"] * JUMP_AT
    first = states.index("jump")
    assert JUMP_AT <= first < JUMP_AT + 10 and tracker.jumps == 1
    assert all(st == "jump" for st in states[first:])  # a step persists: the state stays until recalibration
    assert tracker.status()["calibration"] == "jump" and tracker.status()["calibration_jumps"] == 1


@pytest.mark.parametrize("side", ["rx_gains", "tx_gains"])
def test_a_channel_phase_jump_is_flagged_within_10_frames(calibrated, side):
    s, cal = calibrated
    good = operating_frames(s, cal)
    imp = s.impairments
    gains = np.array(getattr(imp, side))
    gains[0, 2:4] *= np.exp(1j * np.pi / 2)  # a retune: two channels of node 1 jump by 90°
    bad = operating_frames(s, cal, imp=dataclasses.replace(imp, **{side: gains}))
    tracker = trk.CalibrationTracker(s.without_impairments(), cal)
    states = run(tracker, good, bad)
    first = states.index("jump")
    assert states[:JUMP_AT] == ["ok"] * JUMP_AT and JUMP_AT <= first < JUMP_AT + 10 and tracker.jumps == 1


def test_nothing_to_track_is_none_and_bad_input_is_refused(calibrated):
    s, cal = calibrated
    tracker = trk.CalibrationTracker(s.without_impairments(), cal)
    assert tracker.status()["calibration"] == "none"
    good = operating_frames(s, cal)
    snaps, frames = good[2]
    assert tracker.update(2, {0: snaps[0]}, {0: frames[0]}) == "none"  # a node alone has no direct path
    with pytest.raises(CalibrationError, match="snapshot of node 1 of shape"):
        tracker.update(3, {0: snaps[0][:3]}, frames)
    with pytest.raises(CalibrationError, match="confirm_frames = 11"):
        trk.CalibrationTracker(s, cal, confirm_frames=11)
    with pytest.raises(CalibrationError, match="every_frames × confirm_frames = 12"):
        trk.CalibrationTracker(s, cal, confirm_frames=4, every_frames=3)
    # nothing was estimated: nothing to check
    identity = trk.CalibrationTracker(s, identity_calibration(s))
    assert identity.update(2, *good[2]) == "none" and identity.status()["calibration"] == "none"


def test_on_the_air_a_latency_step_is_flagged_and_a_steady_run_is_not():
    """The air engineer's channel (core/calibration_air.air_capture: tx chain, SensingChannel, rx chain): the
    calibration estimated on it, an operating run calibrated as docs/air-model.md §3 says, and a restart's latency step
    of node 2 (0.3 sample, every other impairment drawn the same) from frame JUMP_AT on."""
    from gnuradio.disac.core import calibration_air as air
    base = load_scenario("examples/scenarios/three-nodes.toml").with_impairments({"preset": "lab-sync", "seed": 4})
    lat = base.impairments.latency_samples
    stepped = base.with_impairments({"preset": "lab-sync", "seed": 4, "latency_samples": (lat + [0.0, 0.3, 0.0]).tolist()})
    schedule = est.CalibrationSchedule.for_search(base, 8, 300)
    caps = air.synthetic_capture(base, schedule, SEED)
    cal = est.estimate_calibration(base.without_impairments(), caps, schedule, SEED, max_lag_samples=300).calibration
    lay = ofdm.layout_from_scenario(base)
    wc, wr = ofdm.default_precoders(lay, base.per_antenna_power)
    total = FRAMES + 4
    frames = np.arange(total)
    x = np.concatenate([est.transmitted_samples(base, SEED, frames, m, (wc / cal.tx_gains[m][:, None],
                                                                          wr / cal.tx_gains[m][:, None]))
                        for m in range(3)])  # isac_tx divides by the calibrated tx gains (cfo_hz = 0 here)

    def snapshots(scenario):
        runs = air.air_capture(scenario, x, channel_seed=9)
        out = {}
        for f in range(2, 2 + FRAMES):
            snaps = {n: est.frame_snapshots(runs[n], lay, [f], cal.window_offset_samples(n))[0]
                     * cal.rx_correction(n, base.subcarriers)[..., None] for n in range(3)}
            model = {m: ofdm.transmitted_frames(lay, SEED, [f], m, wc, wr)[0]
                     * cal.tx_delay_phases(base.subcarriers)[m][:, None] for m in range(3)}
            out[f] = (snaps, model)
        return out
    good, bad = snapshots(base), snapshots(stepped)
    quiet = trk.CalibrationTracker(base.without_impairments(), cal)
    assert run(quiet, good) == ["ok"] * FRAMES and quiet.jumps == 0
    tracker = trk.CalibrationTracker(base.without_impairments(), cal)
    states = run(tracker, good, bad)
    first = states.index("jump")
    assert states[:JUMP_AT] == ["ok"] * JUMP_AT and JUMP_AT <= first < JUMP_AT + 10 and tracker.jumps == 1
