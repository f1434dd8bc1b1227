# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Calibration on the full "lab" air of issue 14 (docs/calibration.md, "On the full lab air"): direct paths at
free-space level, 40 dB isolation with the radios' 60 dB RF canceller, 50 clutter scatterers at 30 dB CNR (10 %
beyond the cyclic prefix), 12-bit ADCs with AGC, guard bins 1/5 + DC. Played by core/calibration_air.py (the
receive front end on every node's whole stream, the background pass with the reflector covered), fitted by the
estimator from the samples and the geometry only (scenario.without_impairments()), checked against the truth.

Tolerances. The issue-13 figures (≤ 2° RMS channel phase, ≤ 0.1 ns RMS timing) are asserted on "lab-sync"
(tests/test_calibration_air.py); on the full lab air the channel phases meet 2° on this module's seeds (measured
0.81–1.24° rx on impairment seeds 0, 2, 3 — and 2.36° on seed 1, not asserted here: the clutter's bias on the direct
paths' gains, docs/calibration.md "On the full lab air"). Timing: on the paper scenario with the reflector pass
≤ 0.3 ns RMS (measured 0.058–0.168 ns over seeds 0–3 with SPEC16 "cal13b": every bistatic link from the reflector
pass, the direct paths' residuals flagging the clutter; the monostatic differences and the bistatic reflector pass are
clutter-free, noise-limited at ~43 dB); on three-nodes (direct paths only) ≤ 0.5 ns (measured 0.24 ns: the clutter
near the lines of sight pulls the direct paths' delays, nothing cancels it without a reflector; 0.5 ns = 0.005
sample = 0.15 m of range).
"""

import numpy as np
import pytest

from gnuradio.disac.core import calibration_air as air
from gnuradio.disac.core import calibration_estimator as est
from gnuradio.disac.core import calibration_tracker as trk
from gnuradio.disac.core import ofdm
from gnuradio.disac.core.calibration import CalibrationError
from gnuradio.disac.core.scenario import load_scenario

MAX_LAG = 300  # samples: the lab preset's latencies are ≤ 165 samples
FRAMES = 10
REFLECTOR = {"reflector_m": [-60.0, -20.0], "reflector_amplitude": np.sqrt(100 / 4)}  # 20 dB over the 4 links
SEED = 0


def paper_lab(seed=0):
    return load_scenario("paper").with_impairments({"preset": "lab", "seed": seed}).replace(**REFLECTOR)


def capture(scenario, background=None):
    schedule = est.CalibrationSchedule.for_search(scenario, FRAMES, MAX_LAG, background=background)
    status = {}
    captures = air.synthetic_capture(scenario, schedule, SEED, channel_seed=SEED + 1, front_end_status=status)
    return schedule, captures, status


def fit_of(scenario, schedule, captures):
    return est.estimate_calibration(scenario.without_impairments(), captures, schedule, SEED, max_lag_samples=MAX_LAG)


@pytest.fixture(scope="module")
def paper():
    s = paper_lab(3)
    schedule, captures, status = capture(s)
    return s, schedule, captures, status, fit_of(s, schedule, captures)


def test_paper_lab_is_calibrated_from_the_reflector_pass(paper):
    s, schedule, captures, status, fit = paper
    assert schedule.background and schedule.settle_frames == est.DEFAULT_SETTLE_FRAMES
    # the radios' front end ran: every node's canceller settled within its settle frames, held its weights
    for n in range(2):
        assert status[n]["canceller_settled"] and status[n]["canceller_retunes"] == 0
        assert status[n]["first_settled_frame"] <= schedule.frames_of(n)[0]
    assert fit.calibration.method == "direct_path+reflector"
    assert any("background pass" in note for note in fit.notes)
    # the reflector's monostatic echoes found well above the 25 dB presence level (measured 42–43 dB)
    assert fit.path_snr_db[(0, 0, "reflector")] > 35 and fit.path_snr_db[(1, 1, "reflector")] > 35
    truth = air.truth_errors(s, fit.calibration)
    assert truth["rx_phase_deg_rms"] <= 2 and truth["tx_phase_deg_rms"] <= 2  # the 2° (module docstring)
    assert truth["timing_ns_rms"] <= 0.3  # module docstring (measured 0.058 ns on this seed)
    # the bistatic links were checked against the reflector pass (clutter-free): found there too
    assert fit.path_snr_db[(0, 1, "reflector_pass")] > 35 and fit.path_snr_db[(1, 0, "reflector_pass")] > 35
    assert truth["rx_gain_db_rms"] <= 0.3 and truth["tx_gain_db_rms"] <= 0.3  # the lab's 1 dB std (measured ≤ 0.14)
    # the receive side never reads the impairments: the scenario with its truth gives the same numbers
    again = est.estimate_calibration(s, captures, schedule, SEED, max_lag_samples=MAX_LAG).calibration
    for key in ("rx_gains", "tx_gains", "rx_delay_samples", "tx_delay_samples"):
        np.testing.assert_array_equal(getattr(again, key), getattr(fit.calibration, key))


def test_paper_lab_without_the_reflector_pass_fails_as_before():
    """The issue-13 capture (no background pass) on the full lab air: the reflector's monostatic echo sits under the
    canceller's leakage residual (+40 dB over σ²) and the clutter: not found, the error issue 14 reported."""
    s = paper_lab(3)
    schedule, captures, _ = capture(s, background=False)
    with pytest.raises(CalibrationError, match="reflector's echo node 1 → node 1 was not found"):
        fit_of(s, schedule, captures)


def operating_snapshots(s, cal, frames, jump=None):
    """{frame: (snapshots, model frames)} of an operating run on s's air (every node on, the placeholder precoders,
    calibrated as isac_tx / node_rx / the central unit do: docs/air-model.md §3), through the radios' front end.
    jump: an [impairments] change made before the run (a restart's new latency, a retune's new phases)."""
    if jump is not None:
        s = s.with_impairments({**s.impairments_table, **jump})
    lay = ofdm.layout_from_scenario(s)
    wc, wr = ofdm.default_precoders(lay, s.per_antenna_power)
    total = frames[-1] + 4
    x = []
    for m in range(s.num_nodes):
        phase = np.conj(cal.tx_gains[m]) / np.abs(cal.tx_gains[m])  # the chains' phases undone (unit modulus)
        x.append(est.transmitted_samples(s, SEED, np.arange(total), m, (phase[:, None] * wc, phase[:, None] * wr)))
    caps = air.air_capture(s, np.concatenate(x), channel_seed=7)
    out = {}
    for f in frames:
        snaps = {n: est.frame_snapshots(caps[n], lay, [f], cal.window_offset_samples(n))[0]
                 * cal.rx_correction(n, s.subcarriers)[..., None] for n in range(s.num_nodes)}
        model = {m: ofdm.transmitted_frames(lay, SEED, [f], m, wc, wr)[0] for m in range(s.num_nodes)}
        out[f] = (snaps, model)
    return out


def test_three_nodes_lab_with_direct_paths_only():
    s = load_scenario("examples/scenarios/three-nodes.toml").with_impairments({"preset": "lab", "seed": 3})
    schedule, captures, _ = capture(s)
    assert not schedule.background  # no reflector: nothing to cover
    fit = fit_of(s, schedule, captures)
    assert fit.calibration.method == "direct_path" and len(fit.calibration.residuals.links) == 6
    truth = air.truth_errors(s, fit.calibration)
    assert truth["rx_phase_deg_rms"] <= 2 and truth["tx_phase_deg_rms"] <= 2  # measured 0.80° / 0.36°
    assert truth["timing_ns_rms"] <= 0.5  # module docstring (measured 0.24 ns)


def test_tracker_on_the_full_lab_air_is_quiet_and_flags_a_jump_within_10_frames():
    """three-nodes on the full lab air (direct paths only): quiet while the calibration holds; a restart of node 2
    (its TX→RX latency 1 sample longer) and a retune of node 3 (every rx channel's phase new) are flagged within
    10 frames. The operating frames start after the front end settled (frame 16: its canceller settles by ~frame 9)."""
    s = load_scenario("examples/scenarios/three-nodes.toml").with_impairments({"preset": "lab", "seed": 4})
    schedule, captures, _ = capture(s)
    cal = fit_of(s, schedule, captures).calibration
    frames = list(range(16, 28))
    good = operating_snapshots(s, cal, frames)
    tracker = trk.CalibrationTracker(s.without_impairments(), cal, frames_tx_delay_applied=False)
    states = [tracker.update(f, *good[f]) for f in frames]
    assert states == ["ok"] * len(frames) and tracker.jumps == 0
    # the residual delays are the calibration's error and the interference's: ≪ the 0.05-sample threshold
    # the residual delays: the calibration's error plus what the unmodelled interference (the canceller's leakage
    # residual, the clutter, the targets) pulls per frame; measured ≤ 0.027 sample on this seed (σ ≈ 0.006): below
    # the 0.05-sample threshold with a margin (a jump of 1 sample reads ~0.5, a retune collapses the fit)
    assert max(abs(c.delay_samples) for c in tracker.last_checks) < 0.035
    monitored = {(c.tx, c.rx) for c in tracker.last_checks if c.snr_db >= est.PRESENT_SNR_DB}
    assert len(monitored) == 6  # every direct path is monitored through the leakage residual and the clutter
    latency = np.array(s.impairments.latency_samples, float)
    rx_phase = np.degrees(np.angle(s.impairments.rx_gains))
    for jump in ({"latency_samples": (latency + [0.0, 1.0, 0.0]).tolist()},
                 {"rx_phase_deg": (rx_phase + np.where(np.arange(3)[:, None] == 2,
                                                       np.linspace(0, 270, s.rx_antennas)[None], 0)).tolist(),
                  "rx_gain_db": (20 * np.log10(np.abs(s.impairments.rx_gains))).tolist()}):
        bad = operating_snapshots(s, cal, frames, jump)
        tracker = trk.CalibrationTracker(s.without_impairments(), cal, frames_tx_delay_applied=False)
        states = [tracker.update(f, *good[f]) for f in frames[:4]] + [tracker.update(f, *bad[f]) for f in frames[4:]]
        assert states[:4] == ["ok"] * 4
        assert "jump" in states[4:4 + 10] and tracker.jumps >= 1  # flagged within 10 frames
