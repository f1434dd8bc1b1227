# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""The ML localiser (core/localizer.py) on synthetic data from the paper's model, eq. (3)/(5)/(9).

Frames are random complex matrices with i.i.d. unit-power entries (the PHY's real frames come later);
amplitudes b[n, m, k] have the scenario's modulus β and random phases (noncoherent nodes). Estimates
are matched to the true targets by the best permutation (the localiser orders them by discovery).
`run_trials` is the Monte-Carlo helper the MSE-vs-CRB test will use once core/fim.py lands.
"""

import itertools

import numpy as np
import pytest

from gnuradio.disac.core import localizer, model, scenario

# Noise-free data: the LM iterates converge quadratically on a zero-residual problem, so the estimate
# reaches the truth to float64 rounding (~1e-12 m observed on positions of ~100 m); 1e-6 m leaves six
# orders of margin and is still far below any noise-driven error (≥ 1e-3 m even at 30 dB).
EXACT_M = 1e-6


@pytest.fixture(scope="module")
def paper():
    return scenario.load_scenario("paper")


@pytest.fixture(scope="module")
def paper_localizer(paper):
    return localizer.Localizer.from_scenario(paper)


def random_frames(scn, rng, symbols=1):
    shape = (scn.num_nodes, scn.tx_antennas, scn.subcarriers, symbols)
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) / np.sqrt(2)


def random_amplitudes(scn, rng):
    shape = (scn.num_nodes, scn.num_nodes, scn.num_targets)
    return scn.target_amplitude * np.exp(2j * np.pi * rng.random(shape))


def noisy_snapshots(scn, frames, amplitudes, rng, noise_power):
    y = model.sensing_mean(scn.target_angles_rad(), scn.target_delays_s(), amplitudes, frames,
                           scn.rx_antennas, scn.bandwidth_hz)
    if noise_power:
        y = y + np.sqrt(noise_power / 2) * (rng.standard_normal(y.shape) + 1j * rng.standard_normal(y.shape))
    return y


def matched(estimate_m, truth_m):
    """estimate_m reordered to the permutation closest to truth_m."""
    best = min(itertools.permutations(range(len(truth_m))),
               key=lambda p: np.sum((estimate_m[list(p)] - truth_m) ** 2))
    return estimate_m[list(best)]


def run_trials(loc, scn, trials, snr_db=None, seed=0, method="joint"):
    """Monte-Carlo: `trials` frames (new frames, amplitude phases and noise each), target SNR snr_db in
    the paper's definition (scenario default when None). Returns position errors (trials, K, 2) in m,
    estimate minus truth, matched to the targets. method: "joint", "aoa" or "tof" (the baselines start
    from the joint estimate)."""
    rng = np.random.default_rng(seed)
    snr_db = scn.target_snr_db if snr_db is None else snr_db
    beta = scenario.amplitude_for_target_snr(snr_db, scn.per_antenna_power, scn.noise_power,
                                             scn.num_targets, scn.num_nodes)
    errors = []
    for _ in range(trials):
        x = random_frames(scn, rng)
        b = beta * np.exp(2j * np.pi * rng.random((scn.num_nodes, scn.num_nodes, scn.num_targets)))
        y = noisy_snapshots(scn, x, b, rng, scn.noise_power)
        estimate = matched(loc.localize(y, x, scn.num_targets).positions_m, scn.target_positions_m)
        if method != "joint":
            estimate = getattr(loc, f"{method}_only")(y, x, estimate).positions_m
        errors.append(estimate - scn.target_positions_m)
    return np.array(errors)


def test_noise_free_paper_scenario_is_exact(paper, paper_localizer):
    rng = np.random.default_rng(1)
    x, b = random_frames(paper, rng), random_amplitudes(paper, rng)
    y = noisy_snapshots(paper, x, b, rng, 0)
    result = paper_localizer.localize(y, x, 2)
    assert result.converged and result.rx_nodes == (0, 1) and result.tx_nodes == (0, 1)
    order = [int(np.argmin(np.linalg.norm(paper.target_positions_m - p, axis=1))) for p in result.positions_m]
    assert sorted(order) == [0, 1]
    np.testing.assert_allclose(result.positions_m, paper.target_positions_m[order], rtol=0, atol=EXACT_M)
    # amplitudes: LS values at the exact positions; relative error set by the same rounding
    np.testing.assert_allclose(result.amplitudes, b[:, :, order], rtol=0, atol=1e-8 * paper.target_amplitude)
    assert result.residual < 1e-12 * np.sum(np.abs(y) ** 2)


def test_target_past_the_unambiguous_delay(paper, paper_localizer):
    """Target 2's monostatic echo at node 2 takes 1.608 µs > L/B = 1.6 µs: d(τ) wraps, geometry does not."""
    tau = paper.bistatic_delays_s()
    assert tau[1, 1, 1] > paper.unambiguous_delay_s
    assert any("past the unambiguous delay" in w for w in paper.notes)  # a note in a preset (issue 12)
    rng = np.random.default_rng(2)
    x, b = random_frames(paper, rng), random_amplitudes(paper, rng)
    y = noisy_snapshots(paper, x, b, rng, 0)
    # the grid stage alone: the best grid point for target 2 lies within one grid step of the truth
    single = paper.replace(target_positions_m=paper.target_positions_m[1:])
    y_single = noisy_snapshots(single, x, b[:, :, 1:], rng, 0)
    energy = paper_localizer._grid_explained_energy(paper_localizer._problem(y_single, x, None, None), y_single)
    best = paper_localizer.grid_m[np.argmax(energy)]
    assert np.linalg.norm(best - single.target_positions_m[0]) <= paper_localizer.grid_step_m
    result = paper_localizer.refine(y, x, paper.target_positions_m + [[3.0, -2.0], [-2.0, 3.0]])
    np.testing.assert_allclose(result.positions_m, paper.target_positions_m, rtol=0, atol=EXACT_M)


def test_concentrated_cost_is_zero_at_the_truth_only(paper, paper_localizer):
    rng = np.random.default_rng(3)
    x, b = random_frames(paper, rng), random_amplitudes(paper, rng)
    y = noisy_snapshots(paper, x, b, rng, 0)
    energy = np.sum(np.abs(y) ** 2)
    assert paper_localizer.concentrated_cost(y, x, paper.target_positions_m) < 1e-20 * energy
    moved = paper.target_positions_m + [[1.0, 0.0], [0.0, 0.0]]
    assert paper_localizer.concentrated_cost(y, x, moved) > 1e-3 * energy


def test_amplitude_phases_do_not_matter(paper, paper_localizer):
    """Noncoherent nodes: each link's phase is absorbed by its own b; zero and random phases localise alike."""
    rng = np.random.default_rng(4)
    x = random_frames(paper, rng)
    for b in (paper.target_amplitudes(), random_amplitudes(paper, rng)):
        y = noisy_snapshots(paper, x, b, rng, 0)
        estimate = matched(paper_localizer.localize(y, x, 2).positions_m, paper.target_positions_m)
        np.testing.assert_allclose(estimate, paper.target_positions_m, rtol=0, atol=EXACT_M)


def test_single_target_and_four_symbols():
    scn = scenario.load_scenario("fig4").replace(symbols_per_frame=4)
    loc = localizer.Localizer.from_scenario(scn)
    rng = np.random.default_rng(5)
    x, b = random_frames(scn, rng, symbols=4), random_amplitudes(scn, rng)
    result = loc.localize(noisy_snapshots(scn, x, b, rng, 0), x, 1)
    np.testing.assert_allclose(result.positions_m, scn.target_positions_m, rtol=0, atol=EXACT_M)


def test_missing_receiving_node(paper, paper_localizer):
    """Node 2's snapshot is lost: node 1 alone (its monostatic and bistatic echoes) still localises both."""
    rng = np.random.default_rng(6)
    x, b = random_frames(paper, rng), random_amplitudes(paper, rng)
    y = noisy_snapshots(paper, x, b, rng, 0)
    y_missing = y.copy()
    y_missing[1] = np.nan  # never read
    for snapshots in (y_missing, {0: y[0]}):
        result = paper_localizer.localize(snapshots, x, 2, rx_nodes=[0])
        assert result.rx_nodes == (0,)
        assert np.all(np.isnan(result.amplitudes[1])) and not np.any(np.isnan(result.amplitudes[0]))
        estimate = matched(result.positions_m, paper.target_positions_m)
        np.testing.assert_allclose(estimate, paper.target_positions_m, rtol=0, atol=EXACT_M)


def test_missing_transmit_frame_when_that_node_was_silent(paper, paper_localizer):
    """Frames of node 2 unknown (tx_nodes=[0]): exact when node 2 sent nothing, so no echo is unmodelled.

    With node 2 transmitting an unknown frame its echoes stay in the data as interference (see
    docs/localization.md); this test checks the bookkeeping, not that case.
    """
    rng = np.random.default_rng(7)
    x, b = random_frames(paper, rng), random_amplitudes(paper, rng)
    x_silent = x.copy()
    x_silent[1] = 0
    y = noisy_snapshots(paper, x_silent, b, rng, 0)
    result = paper_localizer.localize(y, {0: x[0]}, 2, tx_nodes=[0])
    assert result.tx_nodes == (0,) and np.all(np.isnan(result.amplitudes[:, 1]))
    np.testing.assert_allclose(matched(result.positions_m, paper.target_positions_m), paper.target_positions_m,
                               rtol=0, atol=EXACT_M)


def test_high_snr_errors_are_small_unbiased_and_scale_with_noise(paper, paper_localizer):
    """At 30 and 40 dB (same frames and noise draws, noise scaled by 1/√10) the ML is in its asymptotic,
    linear regime: each trial's error shrinks by √10 (checked to 10 %, the size of the second-order terms
    at these SNRs), and the mean error is within 3 standard errors of zero (no bias)."""
    trials = 30
    e30 = run_trials(paper_localizer, paper, trials, snr_db=30.0, seed=11)
    e40 = run_trials(paper_localizer, paper, trials, snr_db=40.0, seed=11)
    rms30, rms40 = np.sqrt(np.mean(e30 ** 2)), np.sqrt(np.mean(e40 ** 2))
    assert rms30 < 0.1  # metres: far below the 15 m range resolution c/(2B), i.e. no outliers
    assert rms30 / rms40 == pytest.approx(np.sqrt(10), rel=0.1)
    mean, sem = e30.mean(axis=0), e30.std(axis=0, ddof=1) / np.sqrt(trials)
    assert np.all(np.abs(mean) < 3 * sem)


def test_joint_ml_beats_the_two_step_baselines(paper, paper_localizer):
    """Joint TOF+AOA uses all the information each baseline uses: its MSE is the smallest (fixed seeds)."""
    mse = {m: np.mean(np.sum(run_trials(paper_localizer, paper, 20, snr_db=20.0, seed=12, method=m) ** 2, -1))
           for m in ("joint", "aoa", "tof")}
    assert mse["joint"] <= mse["aoa"] and mse["joint"] <= mse["tof"]


def test_baselines_are_exact_without_noise(paper, paper_localizer):
    rng = np.random.default_rng(13)
    x, b = random_frames(paper, rng), random_amplitudes(paper, rng)
    y = noisy_snapshots(paper, x, b, rng, 0)
    start = paper.target_positions_m + [[2.0, 1.0], [-1.0, 2.0]]
    for result in (paper_localizer.aoa_only(y, x, start), paper_localizer.tof_only(y, x, start)):
        np.testing.assert_allclose(result.positions_m, paper.target_positions_m, rtol=0, atol=EXACT_M)
        np.testing.assert_allclose(result.angles_rad, paper.target_angles_rad(), rtol=0, atol=1e-9)
        np.testing.assert_allclose(result.delays_s, paper.target_delays_s(), rtol=0, atol=1e-15)


def test_four_nodes_three_targets_noise_free():
    scn = scenario.load_scenario("paper").replace(
        node_positions_m=[[-141.4, 141.4], [-141.4, -141.4], [141.4, 141.4], [141.4, -141.4]],
        target_positions_m=[[-65.0, 25.0], [50.0, 5.0], [10.0, -80.0]])
    loc = localizer.Localizer.from_scenario(scn)
    rng = np.random.default_rng(14)
    x, b = random_frames(scn, rng), random_amplitudes(scn, rng)
    result = loc.localize(noisy_snapshots(scn, x, b, rng, 0), x, 3)
    np.testing.assert_allclose(matched(result.positions_m, scn.target_positions_m), scn.target_positions_m,
                               rtol=0, atol=EXACT_M)


@pytest.mark.parametrize("call, match", [
    (lambda loc, y, x: loc.localize(y[:, :8], x, 2), r"snapshots of node 0: shape \(8, 16, 1\)"),
    (lambda loc, y, x: loc.localize(y, x[:1], 2), r"frames of shape \(1, 6, 16, 1\)"),
    (lambda loc, y, x: loc.localize(y, x, 0), "num_targets = 0"),
    (lambda loc, y, x: loc.localize(y, x, 2, rx_nodes=[2]), r"nodes \[2\]"),
    (lambda loc, y, x: loc.localize(y, x, 2, rx_nodes=[]), "no node selected"),
    (lambda loc, y, x: loc.localize(np.where(True, np.nan, y), x, 2), "NaN or Inf"),
    (lambda loc, y, x: loc.localize({1: y[1]}, x, 2, rx_nodes=[0]), r"node\(s\) \[0\] selected but not given"),
    (lambda loc, y, x: loc.refine(y, x, [1.0, 2.0]), "expected finite \\(K, 2\\)"),
    (lambda loc, y, x: loc.aoa_only(y, x, [[0.0, 0.0]], rx_nodes=[0], tx_nodes=[0]), "at least 2 nodes"),
])
def test_bad_input_is_named(paper, paper_localizer, call, match):
    rng = np.random.default_rng(15)
    x = random_frames(paper, rng)
    y = noisy_snapshots(paper, x, random_amplitudes(paper, rng), rng, 0)
    with pytest.raises(ValueError, match=match):
        call(paper_localizer, y, x)


def test_localizer_construction_is_checked(paper):
    with pytest.raises(ValueError, match="region_m"):
        localizer.Localizer.from_scenario(paper, region_m=(10, 0, 0, 10))
    with pytest.raises(ValueError, match="grid_step_m"):
        localizer.Localizer.from_scenario(paper, grid_step_m=0.0)
    with pytest.raises(ValueError, match="at most 4 000 000"):
        localizer.Localizer.from_scenario(paper, grid_step_m=0.01)


def test_default_region_starts_at_the_arrays_front_and_excludes_the_mirror_images(paper):
    """Every ULA lies along y with broadside +x, so a target and its mirror image across the nodes' line
    x = −141.4 m give the same snapshots (a(θ) depends on sin θ only): the loopback's 1-in-2 failure of
    issue 11 was frame 95 estimated at the mirror [−216.8, 25.1] of the target at [−65, 25]. The default
    region holds every target and none of their mirrors, and comes from the arrays' geometry, not from
    where the targets are: moving a target behind the arrays does not move the region's front."""
    x_min, x_max, y_min, y_max = localizer.default_search_region(paper)
    front = float(np.min(paper.node_positions_m[:, 0]))
    assert x_min == pytest.approx(front)
    for x, y in paper.target_positions_m:
        assert x_min <= x <= x_max and y_min <= y <= y_max
        mirror_x = 2 * front - x
        assert mirror_x < x_min  # the mirror is outside the search
    behind = paper.replace(target_positions_m=np.array([[-300.0, 25.0], [50.0, 5.0]]))
    assert localizer.default_search_region(behind)[0] == pytest.approx(front)
