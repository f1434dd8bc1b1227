# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Detection with an unknown number of targets (issue 15 item 3, core/detection.py, docs/localization.md
"Unknown number of targets").

Scenes: the paper geometry (nodes, arrays, OFDM, σ² = 1) at the paper's SNR — every target's amplitude is the
paper's β (target SNR 0 dB with its two targets: each target as strong as in the paper, whatever K) — with
K = 0 … 4 targets: the first K of SCENE_TARGETS_M, the paper's two and two placed here, [0, 80] (north of
the paper's targets, 154 m from node 1) and [−20, −60] (south, 146 m from node 2): inside the search
region, ≥ 60 m from every other target (≫ the c/(4B) = 7.5 m grid step and the 30 m bistatic range
resolution), every echo within the cyclic prefix. K = 0 is the paper scenario with β = 0 (a scenario needs
a target position; with β = 0 it has no echo). The receive side is the paper scenario's for every K (the
same search region and the same precoders, designed for the paper's prior at Γ_c = 10 dB): what it is told
does not depend on the scene.

Frames: 100 per K through the core path (impairment_trials.receive_snapshots: the synthetic air and the node
receiver; core.fusion.FrameEstimator with max_targets = 6 at the default false-alarm rate 1e-3). Why 100:
with at most one wrong K̂ in 100 frames the one-sided 95 % Clopper–Pearson lower bound on P(K̂ = K) is
0.953 ≥ 0.95 — the test shows the done-when line with confidence, not only as a point estimate; pooled over
the 500 frames, at most one false target gives a one-sided 95 % upper bound of 4.74/500 = 0.0095 false
targets per frame ≤ 0.01.
"""

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from gnuradio.disac.blocks.central_unit import central_unit, estimate_from_pmt, estimate_to_pmt
from gnuradio.disac.blocks.live_map import MapModel
from gnuradio.disac.core import (detection, fusion, impairment_trials, localizer, ofdm, precoder_sets, trial_stats,
                                 wire)
from gnuradio.disac.core.scenario import load_scenario

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WRAPPER = ("import runpy, sys, gnuradio; "
           f"gnuradio.__path__.insert(0, {os.path.join(ROOT, 'python')!r}); "
           f"sys.argv[0] = 'disac'; runpy.run_path({os.path.join(ROOT, 'apps', 'disac')!r}, run_name='__main__')")
SCENE_TARGETS_M = np.array([[-65.0, 25.0], [50.0, 5.0], [0.0, 80.0], [-20.0, -60.0]])
FRAMES_PER_K = 100
MAX_TARGETS = 6


def scene(paper, k):
    """The paper geometry with the first k of SCENE_TARGETS_M, each at the paper's β (k = 0: β = 0)."""
    return paper.replace(target_positions_m=SCENE_TARGETS_M[:max(k, 1)],
                         target_amplitude=paper.target_amplitude if k else 0.0)


@pytest.fixture(scope="module")
def paper():
    return load_scenario("paper")


@pytest.fixture(scope="module")
def receive_side(paper):
    """(precoders, table, localizer, null model): the paper's receive side; the null model calibrated once
    (FrameEstimator.calibrate_start: 500 noise-only frames with the designed set's frames X_m; at a rate the
    calibration resolves, 0.05 — at the default 1e-3 the estimator takes the union bound without any draws)."""
    wc, wr = precoder_sets.resolve_precoders(paper, "designed", 10.0, 0)
    table = fusion.PrecoderTable(ofdm.layout_from_scenario(paper))
    table.set_start(0, wc, wr)
    loc = localizer.Localizer.from_scenario(paper)
    model = fusion.FrameEstimator(paper, 0, loc, max_targets=MAX_TARGETS, false_alarm_rate=0.05).calibrate_start(table)
    return (wc, wr), table, loc, model


def frame_set(frame, snapshots):
    nodes = range(len(snapshots))
    return fusion.FrameSet(int(frame), {n: snapshots[n] for n in nodes}, {n: 0 for n in nodes}, 0.0,
                           precoder_ids={n: 0 for n in nodes})


def run_scene(paper, receive_side, k, frames, **options):
    """{frame: Estimate} of the unknown-K estimator on ``frames`` of the K = k scene (the core path)."""
    (wc, wr), table, loc, model = receive_side
    air = scene(paper, k)
    snaps = impairment_trials.receive_snapshots(air, wc, wr, frames, seed=0, channel_seed=1)
    told = air if k else paper  # the prior (CRB) of the scene; K = 0: the paper's
    estimator = fusion.FrameEstimator(told, 0, loc, max_targets=MAX_TARGETS, null_model=model, **options)
    return {int(f): estimator.estimate(frame_set(f, snaps[i]), table) for i, f in enumerate(frames)}


@pytest.fixture(scope="module")
def done_when(paper, receive_side):
    frames = np.arange(FRAMES_PER_K)
    out = {}
    for k in range(5):
        estimates = run_scene(paper, receive_side, k, frames)
        out[k] = trial_stats.detection_statistics(trial_stats.true_targets_m(scene(paper, k)), estimates,
                                                  trial_stats.default_gate_m(paper))
        out[k]["estimates"] = estimates
    return out


def test_calibrated_threshold_is_in_the_tail_and_below_the_union_bound(receive_side):
    _, _, loc, model = receive_side
    assert model.method == "calibrated" and model.dof == 4 and model.draws == detection.DEFAULT_CALIBRATION_DRAWS
    # the grid's points are correlated: fewer effective cells than points, and the union bound (all points)
    # is the larger threshold; measured G_eff ≈ 1700 of 2948 (docs/localization.md)
    assert 0.3 * len(loc.grid_m) < model.effective_cells < len(loc.grid_m)
    union = detection.bonferroni_null_model(loc, 2, 2)
    assert model.threshold(0.05) < union.threshold(0.05)
    # below the rates 500 draws resolve (10/500 = 0.02) the union bound's threshold (nearly tight there)
    assert model.resolved_rate == pytest.approx(0.02)
    assert model.threshold(1e-3) == union.threshold(1e-3)
    for rate in (0.05, 0.02, 1e-3):
        assert model.false_alarm_rate(model.threshold(rate)) == pytest.approx(rate, rel=1e-9)


def test_below_the_resolved_rates_the_estimator_draws_nothing_and_takes_the_union_bound(paper, receive_side):
    """At the default 1e-3 (below 10/500) the calibrated fit would not be used (NullModel.cells_at): the estimator
    skips the noise-only draws (seconds per precoder set at start-up) and its threshold is the one the calibrated
    model gives there, the union bound's."""
    _, table, loc, model = receive_side
    estimator = fusion.FrameEstimator(paper, 0, loc, max_targets=MAX_TARGETS)
    fast = estimator.calibrate_start(table)
    assert fast.method == "bonferroni" and fast.draws == 0 and not estimator._null_models
    assert fast.threshold(detection.DEFAULT_FALSE_ALARM_RATE) == model.threshold(detection.DEFAULT_FALSE_ALARM_RATE)


def test_unknown_k_from_0_to_4_meets_the_done_when_line(done_when):
    pooled_false = 0
    for k, stats in done_when.items():
        wrong = round((1 - stats["k_detected_rate"]) * FRAMES_PER_K)
        assert wrong <= 1, (k, stats["detected_count_histogram"])  # CP lower bound on P(K̂ = K) ≥ 0.953
        assert stats["true_targets"] == k
        pooled_false += round(stats["false_targets_per_frame"] * FRAMES_PER_K)
    assert pooled_false <= 1, {k: s["false_targets_per_frame"] for k, s in done_when.items()}


def test_detected_targets_are_localised_and_carry_the_prior_bound(done_when, paper):
    # with K̂ = K the joint refinement is the ML estimate: every target within the gate (c/(4B)); the CRB of
    # each detection is the prior's for the target it is assigned to (finite, > 0), in the order found
    for k in (2, 4):
        for estimate in list(done_when[k]["estimates"].values())[:10]:
            assert estimate.positions_m.shape == (k, 2) and estimate.crb_m2.shape == (k,)
            assigned, matched = trial_stats.match_detections(estimate.positions_m, SCENE_TARGETS_M[:k], 7.5)
            assert matched == k
            assert np.all(np.isfinite(estimate.crb_m2)) and np.all(estimate.crb_m2 > 0)
            assert len(estimate.detection.statistics) == k + 1  # K̂ accepted steps, then the one that stopped
            assert estimate.detection.statistics[-1] <= estimate.detection.thresholds[-1]
    empty = next(iter(done_when[0]["estimates"].values()))
    assert empty.positions_m.shape == (0, 2) and empty.crb_m2.shape == (0,) and empty.num_targets == 0


def test_noise_only_frames_give_false_targets_at_the_set_rate(receive_side):
    """600 noise-only frames at P_fa = 0.05 (frames X of the run, fresh noise): the measured rate is within
    0.05 ± 0.033 — 3 standard deviations of binomial(600, 0.05) (0.0089) and of the calibration's own spread
    (500 draws, 12 % on G_eff: ±0.006 on the rate), combined."""
    (wc, wr), _, loc, model = receive_side
    paper_layout = ofdm.layout_from_scenario(load_scenario("paper"))
    frames = np.arange(600)
    x = np.stack([ofdm.transmitted_frames(paper_layout, 0, frames, m, wc[m], wr[m]) for m in range(2)], axis=1)
    maxima = detection.max_statistics_noise_only(loc, list(x), None, None, len(frames), seed=2026)
    rate = float(np.mean(maxima > model.threshold(0.05)))
    assert 0.017 <= rate <= 0.083, rate
    # the statistic of a noise-only frame is the detector's first step: the same frames through detect_targets
    rng = np.random.default_rng(7)
    y = (rng.standard_normal((2, 16, 16, 1)) + 1j * rng.standard_normal((2, 16, 16, 1))) * math.sqrt(0.5)
    found = detection.detect_targets(loc, y, x[0], 3, 1.0, 0.05, null_model=model)
    again = detection.max_statistics_noise_only(loc, [x[0]], None, None, 1, seed=0)
    assert found.statistics[0] == pytest.approx(
        float(np.max(loc._grid_explained_energy(loc._problem(y, x[0], None, None), y))), rel=1e-12)
    assert again.shape == (1,)


def test_estimated_noise_power_finds_the_same_targets(paper, receive_side):
    # σ² from the residual (a radio without a known noise figure): conservative while targets are left, the
    # same K̂ at the paper's SNR (the echoes are 600–3600 σ² above the threshold's ~22 σ²)
    estimates = run_scene(paper, receive_side, 3, np.arange(8), estimate_noise=True)
    for estimate in estimates.values():
        assert estimate.positions_m.shape == (3, 2)
        powers = estimate.detection.noise_power
        assert powers[-1] == pytest.approx(1.0, rel=0.15)  # after the last target: the noise alone (512 dims)
        assert powers[0] > powers[-1]  # before: the echoes not yet found are in it


def test_known_k_is_unchanged(paper, receive_side):
    # max_targets None (central_unit max_targets = 0): exactly the localiser's known-K ML estimate
    (wc, wr), table, loc, _ = receive_side
    snaps = impairment_trials.receive_snapshots(paper, wc, wr, np.arange(3), seed=0, channel_seed=1)
    known = fusion.FrameEstimator(paper, 0, loc)
    for f in range(3):
        estimate = known.estimate(frame_set(f, snaps[f]), table)
        inputs = fusion.localiser_inputs(frame_set(f, snaps[f]), table, 0)
        direct = loc.localize(inputs.snapshots, inputs.frames, 2, inputs.rx_nodes, inputs.tx_nodes)
        np.testing.assert_array_equal(estimate.positions_m, direct.positions_m)
        assert estimate.detection is None and estimate.residual == direct.residual


def test_cfar_on_the_fused_map_runs_and_finds_the_strongest_target(paper, receive_side):
    # the measured alternative (docs/localization.md: worse on the paper geometry than the GLRT); here only
    # that it detects nothing in noise and at least the strongest of one target
    (wc, wr), _, loc, model = receive_side
    lay = ofdm.layout_from_scenario(paper)
    snaps = impairment_trials.receive_snapshots(scene(paper, 1), wc, wr, np.arange(2), seed=0, channel_seed=1)
    x = np.stack([ofdm.transmitted_frames(lay, 0, np.arange(2), m, wc[m], wr[m]) for m in range(2)], axis=1)
    one = detection.cfar_detect(loc, snaps[0], x[0], 4, 1e-3, null_model=model)
    assert one.count >= 1 and np.min(np.linalg.norm(one.positions_m - SCENE_TARGETS_M[0], axis=1)) < 7.5
    rng = np.random.default_rng(3)
    noise = (rng.standard_normal((2, 16, 16, 1)) + 1j * rng.standard_normal((2, 16, 16, 1))) * math.sqrt(0.5)
    assert detection.cfar_detect(loc, noise, x[1], 4, 1e-3, null_model=model).count == 0


def test_an_empty_estimate_passes_every_consumer(paper):
    estimate = fusion.Estimate(5, 0, np.zeros((0, 2)), np.zeros(0), 512.0, (0, 1), True, True, 0,
                               detection.Detection(np.zeros((0, 2)), 0, (14.0,), (21.5,), 512.0, (1.0,)))
    back = estimate_from_pmt(estimate_to_pmt(estimate, 2))
    assert back["positions_m"].shape == (0, 2) and back["crb_m2"].shape == (0,) and back["num_targets"] == 0
    message = wire.decode(wire.encode(wire.EstimateMessage(5, 0, estimate.positions_m, estimate.crb_m2, 512.0,
                                                           np.array([0, 1], np.int32))))
    assert message.positions_m.shape == (0, 2)
    model = MapModel(paper)
    model.add_estimate(estimate_to_pmt(estimate, 2))
    assert model.frames_localised == 1 and model.counters["bad_estimates"] == 0
    # a known-K message is what it was: no num_targets key
    known = fusion.Estimate(6, 0, np.ones((2, 2)), np.ones(2), 1.0, (0, 1), True, True)
    assert "num_targets" not in estimate_from_pmt(estimate_to_pmt(known, 2))


def test_bad_detection_parameters_are_refused_naming_the_value(paper, receive_side):
    _, _, loc, _ = receive_side
    for kwargs, text in (({"max_targets": -1}, "max_targets = -1"), ({"max_targets": 2.5}, "max_targets = 2.5"),
                         ({"max_targets": 2, "false_alarm_rate": 0.0}, "false_alarm_rate = 0.0"),
                         ({"max_targets": 2, "false_alarm_rate": 1.5}, "false_alarm_rate = 1.5"),
                         ({"max_targets": 2, "search": "track"}, "search = 'track'")):
        with pytest.raises(ValueError, match=text.replace("(", r"\(")):
            fusion.FrameEstimator(paper, 0, loc, **kwargs)
    with pytest.raises(ValueError, match="max_targets = -2"):
        central_unit(paper, max_targets=-2)
    with pytest.raises(ValueError, match="noise_power"):
        detection.detect_targets(loc, np.zeros((2, 16, 16, 1)), np.zeros((2, 6, 16, 1)), 2, -1.0, 1e-3)
    with pytest.raises(ValueError, match="applies with --unknown-k only"):
        trial_stats.unknown_k_options(False, 3, None)


def test_localize_unknown_k_json_contract_through_the_gnu_radio_chain():
    """One run of `disac localize --unknown-k --json` (GNU Radio chain, central unit detecting): the keys, and
    K̂ = K = 2 in every one of 8 frames at the paper's SNR (as in the core path)."""
    done = subprocess.run([sys.executable, "-c", WRAPPER, "localize", "paper", "--trials", "8", "--snr-db", "0",
                           "--unknown-k", "--max-targets", "4", "--false-alarm-rate", "0.001", "--json"],
                          capture_output=True, text=True, timeout=600, env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    for key in ("k_detected_rate", "false_targets_per_frame", "missed_targets_per_frame", "false_alarm_rate",
                "max_targets", "mse_m2", "trials"):
        assert key in result, key
    assert result["max_targets"] == 4 and result["false_alarm_rate"] == 0.001 and result["trials"] == 8
    assert result["k_detected_rate"] == 1.0 and result["false_targets_per_frame"] == 0.0
    assert result["missed_targets_per_frame"] == 0.0 and result["failures"] == 0
    orphan = subprocess.run([sys.executable, "-c", WRAPPER, "localize", "paper", "--trials", "1", "--snr-db", "0",
                             "--max-targets", "3"], capture_output=True, text=True, timeout=120)
    assert orphan.returncode != 0 and "applies with --unknown-k only" in orphan.stderr
