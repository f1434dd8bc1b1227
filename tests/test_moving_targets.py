# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Scenes that move (issue 15 item 1, SPEC15 §0, docs/air-model.md §6): the scenario's motion keys, the moving
sensing air (time domain, reference and fast path) against the frequency-domain model, the bistatic Doppler, the
targets' presence, static scenes untouched, a moving scene localised frame by frame, and the receive side blind to
the motion. Everything seeded."""

import math
import os
import tomllib

import numpy as np
import pytest

import air_helpers
from air_helpers import ofdm_streams
from gnuradio.disac.core import (channels, fim, fusion, geometry, impairment_trials, model, ofdm, scenario as sc,
                                 trial_stats)
from gnuradio.disac.core.scenario import ScenarioError, load_scenario, scenario_from_dict, scenario_to_toml

FIXTURES = os.path.join(os.path.dirname(__file__), "scenarios")
# the paper's scenario with its two targets moving at 1 and 10 m/s (issue 15: "targets at 1–10 m/s"), 0.1 s apart
PAPER_VELOCITIES = [[0.6, -0.8], [-8.0, 6.0]]


def fixture_dict():
    with open(os.path.join(FIXTURES, "minimal.toml"), "rb") as handle:
        return tomllib.load(handle)


@pytest.fixture(scope="module")
def moving_paper():
    return load_scenario("paper").replace(target_velocities_mps=PAPER_VELOCITIES, frame_interval_setting_s=0.1)


def snapshots(y, layout):
    """The sensing symbols' spectra (F, Mr, L, P) of the frames of y (Mr, F·frame_len), prefixes dropped."""
    frames = y.shape[1] // layout.frame_len
    y = y[:, :frames * layout.frame_len].reshape(y.shape[0], frames, layout.frame_len)
    data = y[..., layout.front_len:].reshape(y.shape[0], frames, layout.data_symbols, layout.symbol_len)
    return np.moveaxis(np.swapaxes(ofdm.demodulate(data, layout.cyclic_prefix), -1, -2), 0, 1)


def frame_amplitudes(channel, frame):
    """b·e^{j(φ_m − φ_n)} (N, N, K) of a frame, the amplitudes core.model takes for a PHY with oscillator phases."""
    phases = channel.oscillator_phases([frame])[0]
    return channel.scenario.target_amplitudes() * np.exp(1j * (phases[None, :] - phases[:, None]))[..., None]


# ---- the scenario keys -----------------------------------------------------------------------------------------

BAD_MOTION = [
    ("velocities not K pairs", lambda d: d["targets"].update(velocities_mps=[[1.0, 2.0]]),
     ["targets.velocities_mps = [[1.0, 2.0]]", "2 [vx, vy] pairs"]),
    ("velocity not a number", lambda d: d["targets"].update(velocities_mps=[[1.0, "fast"], [0, 0]]),
     ["targets.velocities_mps", "'fast'", "pairs of finite numbers in m/s"]),
    ("velocity a numeric string", lambda d: d["targets"].update(velocities_mps=[[1.0, "2"], [0, 0]]),
     ["targets.velocities_mps = [[1.0, '2'], [0, 0]]", "pairs of finite numbers in m/s"]),
    ("velocity a bool", lambda d: d["targets"].update(velocities_mps=[[True, 0], [0, 0]]),
     ["targets.velocities_mps", "pairs of finite numbers"]),
    ("velocity not finite", lambda d: d["targets"].update(velocities_mps=[[math.inf, 0], [0, 0]]),
     ["targets.velocities_mps", "inf", "finite"]),
    ("too fast", lambda d: d["targets"].update(velocities_mps=[[0, 0], [3000.0, 0]]),
     ["targets.velocities_mps", "target 2 moves at 3000 m/s", "up to 1000 m/s"]),
    ("appear_s too short", lambda d: d["targets"].update(appear_s=[1.0]),
     ["targets.appear_s = [1.0]", "2 numbers of seconds ≥ 0"]),
    ("appear_s negative", lambda d: d["targets"].update(appear_s=[0.0, -1.0]),
     ["targets.appear_s = [0.0, -1.0]", "target 2's time -1.0", "≥ 0"]),
    ("appear_s inf", lambda d: d["targets"].update(appear_s=[0.0, math.inf]),
     ["targets.appear_s", "inf", "seconds ≥ 0"]),
    ("appear_s not a list", lambda d: d["targets"].update(appear_s=2.0),
     ["targets.appear_s = 2.0", "2 numbers of seconds"]),
    ("leave before appear", lambda d: d["targets"].update(appear_s=[0.0, 5.0], leave_s=[1.0, 4.0]),
     ["targets.leave_s = [1.0, 4.0]", "target 2 leaves at 4 s, not after it appears at 5 s", "leave_s > appear_s"]),
    ("leave at zero", lambda d: d["targets"].update(leave_s=[0.0, math.inf]),
     ["targets.leave_s", "target 1 leaves at 0 s", "leave_s > appear_s"]),
    ("frame interval shorter than a frame", lambda d: d["ofdm"].update(frame_interval_s=1e-6),
     ["ofdm.frame_interval_s = 1e-06", "shorter than one frame", "108 samples", "≥ 1.08e-05"]),
    ("frame interval zero", lambda d: d["ofdm"].update(frame_interval_s=0.0),
     ["ofdm.frame_interval_s = 0.0", "> 0"]),
    ("frame interval text", lambda d: d["ofdm"].update(frame_interval_s="0.1 s"),
     ["ofdm.frame_interval_s = '0.1 s'", "expected a number"]),
    ("carrier negative", lambda d: d["ofdm"].update(carrier_hz=-3.5e9),
     ["ofdm.carrier_hz = -3500000000.0", "> 0"]),
    ("carrier inf", lambda d: d["ofdm"].update(carrier_hz=math.inf), ["ofdm.carrier_hz = inf", "finite"]),
    ("misspelt key", lambda d: d["targets"].update(velocity_mps=[[0, 0], [0, 0]]),
     ["targets.velocity_mps", "unknown key", "velocities_mps", "appear_s", "leave_s"]),
]


@pytest.mark.parametrize("what, change, fragments", BAD_MOTION, ids=[b[0] for b in BAD_MOTION])
def test_motion_keys_are_validated(what, change, fragments):
    data = fixture_dict()
    change(data)
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(data)
    for fragment in fragments:
        assert fragment in str(info.value), (what, str(info.value))


def test_defaults_are_a_static_scene_back_to_back():
    s = scenario_from_dict(fixture_dict())
    assert s.is_static
    assert s.target_velocities_mps.shape == (2, 2) and not np.any(s.target_velocities_mps)
    assert s.target_appear_s is None and s.target_leave_s is None
    assert s.carrier_hz == 3.5e9 and s.wavelength_m == pytest.approx(geometry.SPEED_OF_LIGHT_M_S / 3.5e9)
    # frames back to back: 3 symbols (preamble, pilot, one sensing symbol) of 36 samples at 10 MHz
    assert s.frame_interval_s == s.frame_duration_s == ofdm.layout_from_scenario(s).frame_len / 10e6 == 10.8e-6
    assert s.frame_time_s(5) == 5 * 10.8e-6
    # the frame's duration follows the layout when a replace changes it (the default is not a stored number)
    assert s.replace(symbols_per_frame=4).frame_interval_s == pytest.approx(6 * 36 / 10e6)
    # the interval may be exactly the frame's duration
    data = fixture_dict()
    data["ofdm"]["frame_interval_s"] = 10.8e-6
    assert scenario_from_dict(data).frame_interval_s == 10.8e-6
    # zero velocities given explicitly are still a static scene
    data["targets"]["velocities_mps"] = [[0, 0], [0.0, 0.0]]
    assert scenario_from_dict(data).is_static


def test_targets_at_moves_and_gates_the_targets():
    data = fixture_dict()
    data["ofdm"]["frame_interval_s"] = 0.1
    data["targets"].update(velocities_mps=[[1.0, -2.0], [0.0, 10.0]], appear_s=[0.0, 0.25], leave_s=[1.5, math.inf])
    s = scenario_from_dict(data)
    assert not s.is_static
    state = s.targets_at(s.frame_time_s(7))  # t = 0.7 s
    assert isinstance(state, sc.TargetState)
    np.testing.assert_allclose(state.positions_m, [[-65.0 + 0.7, 25.0 - 1.4], [50.0, 5.0 + 7.0]], atol=1e-12)
    np.testing.assert_array_equal(state.velocities_mps, [[1.0, -2.0], [0.0, 10.0]])
    np.testing.assert_array_equal(state.present, [True, True])
    # present for appear_s ≤ t < leave_s
    assert s.targets_at(0.0).present.tolist() == [True, False]
    assert s.targets_at(0.25).present.tolist() == [True, True]
    assert s.targets_at(1.5).present.tolist() == [False, True]
    np.testing.assert_array_equal(s.targets_at(0.0).positions_m, s.target_positions_m)  # positions_m are t = 0's
    with pytest.raises(ValueError, match="time_s = nan"):
        s.targets_at(math.nan)
    # summary (disac scenario show --json) carries the motion; inf (never leaves) as null
    summary = s.summary()
    assert summary["targets"]["velocities_mps"] == [[1.0, -2.0], [0.0, 10.0]]
    assert summary["targets"]["appear_s"] == [0.0, 0.25] and summary["targets"]["leave_s"] == [1.5, None]
    assert summary["ofdm"]["frame_interval_s"] == 0.1 and summary["ofdm"]["carrier_hz"] == 3.5e9
    assert summary["targets"]["static"] is False


def test_motion_round_trips_through_toml_and_replace(tmp_path):
    data = fixture_dict()
    data["ofdm"].update(frame_interval_s=0.05, carrier_hz=5.8e9)
    data["targets"].update(velocities_mps=[[1.25, -2.0], [0.1, 10.0]], appear_s=[0.0, 0.3], leave_s=[2.0, math.inf])
    s = scenario_from_dict(data)
    path = tmp_path / "moving.toml"
    path.write_text(scenario_to_toml(s), encoding="utf-8")
    back = load_scenario(str(path))
    for field in ("frame_interval_setting_s", "carrier_hz", "target_velocities_mps", "target_appear_s",
                  "target_leave_s"):
        np.testing.assert_array_equal(getattr(back, field), getattr(s, field), err_msg=field)
    assert back.frame_interval_s == 0.05 and back.wavelength_m == pytest.approx(geometry.SPEED_OF_LIGHT_M_S / 5.8e9)
    # a static scene writes none of the new keys (files of issue 14 come out as before)
    static = scenario_to_toml(load_scenario("paper"))
    for key in ("frame_interval_s", "carrier_hz", "velocities_mps", "appear_s", "leave_s"):
        assert key not in static
    # replace keeps the motion, without_impairments too (the receive side's copy: SPEC15 §0)
    for copy in (s.replace(tx_antennas=4), s.without_impairments(), s.with_impairments("lab")):
        np.testing.assert_array_equal(copy.target_velocities_mps, s.target_velocities_mps)
        np.testing.assert_array_equal(copy.target_leave_s, s.target_leave_s)
        assert copy.frame_interval_s == 0.05
    # another target count without motion: zeros, present always
    other = s.replace(target_positions_m=[[10.0, 20.0]])
    assert other.is_static and other.target_velocities_mps.shape == (1, 2)
    moved = s.replace(target_positions_m=[[10.0, 20.0]], target_velocities_mps=[[3.0, 4.0]])
    np.testing.assert_array_equal(moved.targets_at(2.0).positions_m, [[16.0, 28.0]])
    with pytest.raises(ScenarioError, match="targets.velocities_mps"):
        s.replace(target_velocities_mps=[[1.0, 2.0]])
    for arr in (s.target_velocities_mps, s.target_appear_s, s.target_leave_s):
        with pytest.raises(ValueError):
            arr[0] = 0.0


# ---- the moving air ---------------------------------------------------------------------------------------------

def test_time_domain_air_equals_the_moving_model(moving_paper):
    """The time-domain air (apply_time, float64 reference, and write_time, the blocks' complex64 fast path in calls
    cut anywhere on symbol boundaries) against core.model.moving_sensing_mean, frame by frame on the kept samples.
    Frames 0 … 4 of the paper with its targets at 1 and 10 m/s, 0.1 s apart (the targets move 1 m between frames:
    their delays change by ~0.07 samples, their angles by ~0.01 rad, their echoes' carrier phase by many turns).
    Tolerances: the input streams are complex64, so the reference sees the model's X rounded to float32
    (≈ 6·10⁻⁸ relative per sample): 1e-6 relative; the fast path is complex64 throughout: 1e-5 of the peak, as
    for the static fast path (tests/test_channels.py). The per-symbol-phase model without the Doppler's rotation
    within the symbol is off by ≈ π f_D L/B ≈ 10⁻³ (f_D up to 230 Hz): the exact model is needed, and is met."""
    s = moving_paper
    layout = ofdm.layout_from_scenario(s)
    frames = np.arange(5)
    x, x_freq = ofdm_streams(s, frames)
    cut = layout.symbol_len
    for n in range(s.num_nodes):
        channel = channels.SensingChannel(s, n, channel_seed=3)
        assert channel.moving and channel.moving_path_count == 4
        reference = channel.apply_time(x.astype(complex), 0)
        fast = air_helpers.write_time_stream(channel, x, cuts=[0, 2 * cut, 7 * cut, 8 * cut, x.shape[1]])
        assert np.max(np.abs(fast - reference)) < 1e-5 * np.max(np.abs(reference))
        got = snapshots(reference, layout)
        for f in frames:
            expected = model.moving_sensing_mean(s, x_freq[f], f, frame_amplitudes(channel, f))[n]
            assert np.linalg.norm(got[f] - expected) < 1e-6 * np.linalg.norm(expected), f
            rough = model.moving_sensing_mean(s, x_freq[f], f, frame_amplitudes(channel, f), intra_symbol=False)[n]
            assert np.linalg.norm(got[f] - rough) > 1e-4 * np.linalg.norm(expected)  # the rotation within matters
        # the frequency-domain channel model gives the same snapshot (symbol times from core.model)
        t_p = model.data_symbol_times_s(s)
        freq = channel.apply_frequency(x_freq[:, :, :, :, 0], frames, np.full(len(frames), t_p[0]))
        np.testing.assert_allclose(freq, got[..., 0], atol=1e-6 * np.max(np.abs(got)))


def test_fast_path_equals_the_reference_on_an_impaired_moving_air():
    """A 3-node moving scene on issue 13's lab air (clock offsets, 46–165 samples of latency: every target echo far
    past the prefix; direct paths; a reflector; per-run phases with drift; transmit CFOs) with targets at 500 and
    10 m/s, 1 s apart (the delays jump ~30 samples between frames), one appearing and one leaving: write_time cut
    anywhere equals apply_time to 1e-5 of the peak (complex64)."""
    s = load_scenario("paper").replace(node_positions_m=[[-141.4, 141.4], [-141.4, -141.4], [160.0, 0.0]],
                                       tx_antennas=4, rx_antennas=5)
    data = tomllib.loads(scenario_to_toml(s))
    data["calibration"] = {"reflector_m": [20.0, 30.0]}
    data["ofdm"]["frame_interval_s"] = 1.0
    data["targets"].update(velocities_mps=[[300.0, -400.0], [-10.0, 2.0]], appear_s=[0.0, 2.5],
                           leave_s=[3.5, math.inf])
    s = scenario_from_dict(data).with_impairments(
        {"preset": "lab-sync", "seed": 5, "node_phase": "per_run", "phase_drift_deg_per_s": 2000.0,
         "timing_offset_ns": [0.0, 150.0, -80.0], "cfo_hz": [0.0, 300.0, -200.0]})
    layout = ofdm.layout_from_scenario(s)
    x, _ = ofdm_streams(s, np.arange(7))
    cut = layout.symbol_len
    for n in range(3):
        channel = channels.SensingChannel(s, n, channel_seed=2)
        delays = channel.moving_target_paths([0, 1])["delays_samples"]
        assert np.min(delays) > layout.cyclic_prefix and np.max(np.abs(delays[1] - delays[0])) > 20
        expected = channel.apply_time(x.astype(complex), 0)
        got = air_helpers.write_time_stream(channel, x, cuts=[0, 3 * cut, 4 * cut, 11 * cut, x.shape[1]])
        assert np.max(np.abs(got - expected)) < 1e-5 * np.max(np.abs(expected))


def test_doppler_phase_across_the_symbols_of_a_frame_is_every_links_bistatic_doppler():
    """P = 4 sensing symbols, each the same transmitted symbol, one target moving at 10 m/s, one transmitter at a
    time: symbol p of rx node n is symbol 0 times e^{j2π f_D (t_p − t_0)} exactly (the Doppler's rotation within
    a symbol is the same operator for every symbol, D(f_D, t_p) = e^{j2π f_D t_p} D(f_D, 0)), so the phase step per
    symbol gives f_D. It must be −(d/dt)(|q − p_m| + |q − p_n|)/λ of that link, computed here from targets_at by a
    central finite difference (independent of the air's own formula): to 0.05 Hz of f_D ≈ 26–210 Hz (the phase
    step of 2π·f_D·3.6 µs ≈ 5·10⁻³ rad is read through complex64 samples, ≈ 10⁻⁷ rad; the finite difference over
    ±1 ms is exact to ≈ 10⁻⁶ Hz)."""
    data = fixture_dict()
    data["ofdm"].update(symbols_per_frame=4, frame_interval_s=0.1, carrier_hz=3.5e9)
    data["targets"].update(positions_m=[[40.0, 30.0]], velocities_mps=[[-6.0, 8.0]])
    s = scenario_from_dict(data)
    layout = ofdm.layout_from_scenario(s)
    rng = np.random.default_rng(11)
    mt, length, cp, s_len = s.tx_antennas, s.subcarriers, s.cyclic_prefix, layout.symbol_len
    symbol = ofdm.modulate(rng.standard_normal((mt, length)) + 1j * rng.standard_normal((mt, length)), cp)  # (Mt, S)
    frame = np.zeros((mt, layout.frame_len), dtype=complex)
    frame[:, layout.front_len:] = np.tile(symbol, (1, 4))
    frames = np.array([0, 1, 2])
    lam = geometry.SPEED_OF_LIGHT_M_S / s.carrier_hz
    for m in range(s.num_nodes):
        x = np.zeros((s.num_nodes * mt, len(frames) * layout.frame_len), dtype=np.complex64)
        x[m * mt:(m + 1) * mt] = np.tile(frame, (1, len(frames)))
        for n in range(s.num_nodes):
            channel = channels.SensingChannel(s, n, channel_seed=4)
            y = snapshots(air_helpers.write_time_stream(channel, x), layout)  # (F, Mr, L, 4)
            for f in frames:
                t = s.frame_time_s(f)
                def bistatic(time_s):
                    q = s.targets_at(time_s).positions_m[0]
                    return np.linalg.norm(q - s.node_positions_m[m]) + np.linalg.norm(q - s.node_positions_m[n])
                truth_hz = -(bistatic(t + 1e-3) - bistatic(t - 1e-3)) / 2e-3 / lam
                steps = [np.vdot(y[f, ..., p], y[f, ..., p + 1]) for p in range(3)]
                measured = [np.angle(v) / (2 * np.pi * s_len / s.bandwidth_hz) for v in steps]
                assert abs(truth_hz) > 20  # every link sees a Doppler (26 … 210 Hz here)
                np.testing.assert_allclose(measured, truth_hz, atol=0.05, err_msg=f"link {m} → {n}, frame {f}")
                # and symbol p + 1 is symbol p rotated, nothing else (the same operator)
                ratio = y[f, ..., 1:] / y[f, ..., :-1]
                assert np.max(np.abs(ratio - np.exp(1j * np.angle(steps[0])))) < 1e-4


def test_presence_switches_the_echoes(moving_paper):
    """Target 2 is there for 0.25 ≤ t < 0.45 s only (frames 3 and 4 at 0.1 s), target 1 until 0.15 s (frames 0, 1):
    frame 2 has no target, so its kept samples are exactly zero (no other path in the ideal air; the echo tail of
    frame 1 lies in frame 2's first prefix, which the receiver drops); frames 0–1 are the air of target 1 alone and
    frames 3–4 that of target 2 alone (the single-target scenes with the same velocities), to complex64 rounding."""
    s = moving_paper.replace(target_appear_s=[0.0, 0.25], target_leave_s=[0.15, 0.45])
    layout = ofdm.layout_from_scenario(s)
    frames = np.arange(6)
    x, _ = ofdm_streams(s, frames)
    alone = [s.replace(target_positions_m=s.target_positions_m[k:k + 1],
                       target_velocities_mps=s.target_velocities_mps[k:k + 1]) for k in range(2)]
    for n in range(2):
        y = snapshots(air_helpers.write_time_stream(channels.SensingChannel(s, n, 9), x), layout)
        ones = [snapshots(air_helpers.write_time_stream(channels.SensingChannel(a, n, 9), x), layout) for a in alone]
        assert np.all(y[2] == 0) and np.all(y[5] == 0)
        peak = np.max(np.abs(y))
        assert peak > 0
        for k, frames_present in ((0, [0, 1]), (1, [3, 4])):
            for f in frames_present:
                assert np.max(np.abs(y[f] - ones[k][f])) < 1e-5 * peak
                assert np.max(np.abs(ones[1 - k][f])) > 0.1 * peak  # the other target would have echoed


def test_static_scenes_keep_the_old_code_path(monkeypatch):
    """A static scene (the defaults, or zero velocities and an interval given) never enters the moving code: its
    air is the issue-14 code path, bit for bit (the existing tests pin its values; the branch's report compares it
    with main's output byte for byte), and the explicit keys change nothing."""
    def refuse(*args, **kwargs):
        raise AssertionError("the moving code ran for a static scene")
    monkeypatch.setattr(channels.SensingChannel, "moving_target_paths", refuse)
    monkeypatch.setattr(model, "moving_links", refuse)
    paper = load_scenario("paper").with_impairments({"preset": "lab-sync", "seed": 3, "cfo_hz": [0.0, 40.0]})
    keys = paper.replace(target_velocities_mps=[[0.0, 0.0], [0.0, 0.0]], frame_interval_setting_s=0.1,
                         carrier_hz=2.4e9)
    assert paper.is_static and keys.is_static
    layout = ofdm.layout_from_scenario(paper)
    x, _ = ofdm_streams(paper, np.arange(4))
    for n in range(2):
        a, b = channels.SensingChannel(paper, n, 5), channels.SensingChannel(keys, n, 5)
        assert not a.moving and a.moving_path_count == 0
        got = air_helpers.write_time_stream(a, x, cuts=[0, layout.symbol_len, x.shape[1]])
        np.testing.assert_array_equal(got, air_helpers.write_time_stream(b, x, cuts=[0, layout.symbol_len,
                                                                                     x.shape[1]]))
        np.testing.assert_array_equal(a.apply_time(x.astype(complex), 0), b.apply_time(x.astype(complex), 0))


# ---- the chain: localised frame by frame, and the receive side blind to the motion --------------------------------

def _placeholder_precoders(scenario):
    lay = ofdm.layout_from_scenario(scenario)
    wc0, wr0 = ofdm.default_precoders(lay, scenario.per_antenna_power)
    n = scenario.num_nodes
    return np.broadcast_to(wc0, (n,) + wc0.shape), np.broadcast_to(wr0, (n,) + wr0.shape)


def test_a_moving_scene_is_localised_frame_by_frame_at_its_truth(moving_paper):
    """The paper at 0 dB with its targets at 1 and 10 m/s, 20 frames over 5.7 s (every third frame at 0.1 s; the fast
    target moves 57 m): the central unit's estimator (impairment_trials.receive_snapshots → localise_frames, the
    chain's core, search "full": each frame on its own) follows targets_at(t_f). Per target, MSE / CRB ≤ 3 with the
    CRB of the expected FIM at the frame's true positions, averaged over the frames (measured 1.30 and 1.00; the
    paper scenario's per-frame MSE/CRB is ≈ 1.3, issue 15; 40 squared errors scatter their mean by ≈ ±25 %, so 3
    is > 5 σ above what is expected and far below what a lost target gives). The fast target's error against its
    t = 0 position is > 10 m: the estimates move with it."""
    s = moving_paper
    wc, wr = _placeholder_precoders(s)
    frames = np.arange(0, 60, 3)
    snaps = impairment_trials.receive_snapshots(s, wc, wr, frames, seed=7, channel_seed=8)
    result = impairment_trials.localise_frames(s.without_impairments(), snaps, frames, wc, wr, seed=7)
    squared, squared_start, crbs = [], [], []
    for i, f in enumerate(frames):
        truth = s.targets_at(s.frame_time_s(f)).positions_m
        errors = trial_stats.matched_errors(result.positions_m[i], truth)
        squared.append(np.sum(errors ** 2, axis=1))
        squared_start.append(np.sum(trial_stats.matched_errors(result.positions_m[i], s.target_positions_m) ** 2, 1))
        crbs.append(fusion.position_crb_per_target_m2(
            fim.SensingGeometry.from_scenario(s.replace(target_positions_m=truth)), wc, wr))
    squared, squared_start, crbs = map(np.array, (squared, squared_start, crbs))
    ratio = squared.mean(axis=0) / crbs.mean(axis=0)
    assert np.all(ratio < 3.0), ratio
    assert np.sqrt(squared_start.mean(axis=0))[1] > 10.0
    # impairment_trials.rmse_m takes the per-frame truth of a moving scene
    rmse, errors = impairment_trials.rmse_m(result, impairment_trials.frame_truth_m(s, frames))
    assert rmse == pytest.approx(math.sqrt(np.mean(np.sum(squared, axis=1))))


class _MotionSentinel(sc.Scenario):
    """A receive-side scenario whose motion (truth) raises on every read."""

    def _refuse(self):
        raise AssertionError("the receive side read the scene's motion")

    target_velocities_mps = property(_refuse)
    target_appear_s = property(_refuse)
    target_leave_s = property(_refuse)

    @classmethod
    def of(cls, scenario):
        out = object.__new__(cls)
        state = {k: v for k, v in vars(scenario).items() if k not in (
            "target_velocities_mps", "target_appear_s", "target_leave_s")}
        vars(out).update(state)
        return out


def test_the_receive_side_never_reads_the_motion(moving_paper):
    """The central unit's estimator (localiser, fusion) on identical snapshots gives identical estimates whatever
    the receive side's scenario says of the truth's velocities and presence, and with a sentinel scenario whose
    velocities_mps / appear_s / leave_s raise on access. (The frame interval and the carrier are system parameters
    the receive side may read: SPEC15 §0.)"""
    s = moving_paper
    wc, wr = _placeholder_precoders(s)
    frames = np.array([0, 5, 10])
    snaps = impairment_trials.receive_snapshots(s, wc, wr, frames, seed=3, channel_seed=4)
    rx = s.without_impairments()
    told_otherwise = rx.replace(target_velocities_mps=[[50.0, 0.0], [0.0, -30.0]], target_appear_s=[1.0, 0.0],
                                target_leave_s=[2.0, 3.0])
    base = impairment_trials.localise_frames(rx, snaps, frames, wc, wr, seed=3)
    other = impairment_trials.localise_frames(told_otherwise, snaps, frames, wc, wr, seed=3)
    np.testing.assert_array_equal(base.positions_m, other.positions_m)
    sentinel = _MotionSentinel.of(rx)
    with pytest.raises(AssertionError, match="motion"):
        sentinel.target_velocities_mps
    blind = impairment_trials.localise_frames(sentinel, snaps, frames, wc, wr, seed=3)
    np.testing.assert_array_equal(base.positions_m, blind.positions_m)


def test_the_sensing_channel_block_moves_the_targets(moving_paper):
    """blocks/sensing_channel (GNU Radio's call sizes, its sample counter from the stream's start) on a moving scene
    whose target 2 appears at 0.25 s: its output is the moving air of core.channels (apply_time of the whole input,
    1e-5 of the peak: complex64), i.e. the block gets the motion from SensingChannel with nothing of its own."""
    from gnuradio import blocks, gr

    from gnuradio.disac.blocks.sensing_channel import sensing_channel

    s = moving_paper.replace(target_appear_s=[0.0, 0.25])
    layout = ofdm.layout_from_scenario(s)
    x, _ = ofdm_streams(s, np.arange(8))
    tb = gr.top_block()
    channel = sensing_channel(s, 1, 6, False)
    sources = [blocks.vector_source_c(x[i].tolist(), False) for i in range(x.shape[0])]
    for i, source in enumerate(sources):
        tb.connect(source, (channel, i))
    sinks = [blocks.vector_sink_c() for _ in range(s.rx_antennas)]
    for r, sink in enumerate(sinks):
        tb.connect((channel, r), sink)
    tb.run()
    out = np.array([sink.data() for sink in sinks])
    expected = channels.SensingChannel(s, 1, 6).apply_time(x.astype(complex), 0)
    assert out.shape == expected.shape == (s.rx_antennas, 8 * layout.frame_len)
    assert np.max(np.abs(out - expected)) < 1e-5 * np.max(np.abs(expected))


def test_the_gnu_radio_chain_follows_a_moving_scene():
    """The whole synthetic system in one flowgraph (hier.system.run_synthetic_system: transmitters, sensing channel
    blocks with AWGN, node receivers, ZeroMQ snapshot links, the central node's full search per frame) on the paper at
    0 dB with its targets at 1 and 10 m/s and a frame every 0.5 s (the fast target moves 55 m over the 12 frames):
    every frame's estimates are within the localiser's gate c/(4B) = 7.5 m of targets_at(t_f) and, over the frames,
    MSE/CRB ≤ 3 per target (as the core-level test: the scatter of 24 squared errors' mean is ≈ ±30 %), while the
    fast target ends > 40 m from where it started. The central unit is given the scenario without impairments, as
    always; it learns the motion from its snapshots alone."""
    from gnuradio.disac.hier import system

    s = load_scenario("paper").replace(target_velocities_mps=PAPER_VELOCITIES, frame_interval_setting_s=0.5)
    wc, wr = _placeholder_precoders(s)
    estimates, status, _ = system.run_synthetic_system(s, wc, wr, 12, seed=5, channel_seed=6)
    assert sorted(estimates) == list(range(12))
    gate = trial_stats.default_gate_m(s)
    squared, crbs = [], []
    for f in range(12):
        truth = s.targets_at(s.frame_time_s(f)).positions_m
        errors = np.linalg.norm(trial_stats.matched_errors(np.asarray(estimates[f].positions_m), truth), axis=1)
        assert np.all(errors < gate), (f, errors)
        squared.append(errors ** 2)
        crbs.append(fusion.position_crb_per_target_m2(
            fim.SensingGeometry.from_scenario(s.replace(target_positions_m=truth)), wc, wr))
    ratio = np.mean(squared, axis=0) / np.mean(crbs, axis=0)
    assert np.all(ratio < 3.0), ratio
    last = np.asarray(estimates[11].positions_m)
    assert np.max(np.linalg.norm(trial_stats.matched_errors(last, s.target_positions_m), axis=1)) > 40.0


@pytest.mark.parametrize("first_symbol", [0, 4])
def test_fast_path_from_mid_frame_and_the_model_of_a_still_scene(moving_paper, first_symbol):
    """A stream that starts mid-frame (symbol 4 = frame 1, symbol 1; apply_time then has nothing before it, and
    write_time starts a new stream there) gives the same air in both paths (1e-5 of the peak); and
    moving_sensing_mean of a scene whose targets stand still is eq. (3)/(5) (scenario_sensing_mean) to 1e-12
    (the Doppler operator of f_D = 0 is the identity through one FFT pair)."""
    s = moving_paper
    layout = ofdm.layout_from_scenario(s)
    rng = np.random.default_rng(5)
    count = 9 * layout.symbol_len
    x = (rng.standard_normal((12, count)) + 1j * rng.standard_normal((12, count))).astype(np.complex64)
    first = first_symbol * layout.symbol_len
    channel = channels.SensingChannel(s, 0, 7)
    out = np.zeros((s.rx_antennas, count), dtype=np.complex64)
    channel.write_time(x, first, list(out))
    expected = channel.apply_time(x.astype(complex), first)
    assert np.max(np.abs(out - expected)) < 1e-5 * np.max(np.abs(expected))
    still = s.replace(target_velocities_mps=np.zeros((2, 2)), target_appear_s=[0.0, 0.0])
    assert not still.is_static  # appear_s given: the moving code runs
    x_freq = rng.standard_normal((2, 6, 16, 1)) + 1j * rng.standard_normal((2, 6, 16, 1))
    np.testing.assert_allclose(model.moving_sensing_mean(still, x_freq, 3), model.scenario_sensing_mean(still, x_freq),
                               rtol=0, atol=1e-12 * np.max(np.abs(model.scenario_sensing_mean(still, x_freq))))
