# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""The achievable bound (core/achievable.py, issue 15 item 2; docs/fim-derivation.md §10).

What is checked, each against something computed another way:
* the module's fast conditional CRB (beam-output Gram matrices, per-receiver Schur complements) equals
  trial_stats.conditional_crbs_m2 (fim.conditional_fim_psi on the full derivative tensor, the phases in the
  amplitudes) frame by frame on the PHY's actual frames, and its expected FIM gives the paper's CRB (FimMap);
* the achievable bound from the module's OWN sampler of the symbol distributions matches the Monte-Carlo of
  trial_stats.conditional_crbs_m2 over the PHY's frames to 2 % (with 2 % ≥ 3 standard errors of the difference);
* the P → ∞ limit: P·(conditional CRB) → the phase-conditional CRB (common phases), gap shrinking like 1/P;
  the floor is the shared data's: with independent data per node the limit is exactly the paper's bound;
* the ML estimator's MSE / achievable bound in [0.9, 1.1] at high SNR, P = 1 on the paper scenario and P = 8 on
  the 3-node one (the other two of the issue's four cases are in bench/bench_achievable.py: the test run's time);
* the CLI keys `disac crb` crb_achievable_m2 (+ --symbols), and bad input.
"""

import functools
import json
import math
import os

import numpy as np
import pytest

from gnuradio.disac.apps.cli import main
from gnuradio.disac.core import achievable, channels, fusion, fim, ofdm, precoder_sets, trial_stats
from gnuradio.disac.core.scenario import load_scenario

THREE_NODES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "scenarios", "three_nodes_calibration.toml")
# the MSE runs: far above the threshold region (docs/localization.md: −5 dB already asymptotic on the paper scenario)
MSE_SNR_DB = 30.0


@functools.lru_cache(maxsize=None)
def designed(name, snr_db=MSE_SNR_DB):
    """The scenario at the target SNR and its precoders designed at Γ_c = 10 dB (as `disac localize` defaults)."""
    scenario = trial_stats.scenario_at_snr(load_scenario(name), snr_db)
    wc, wr = precoder_sets.designed_precoders(scenario, 10.0)
    return scenario, wc, wr


def phy_frames(scenario, wc, wr, frames, seed, channel_seed):
    layout = ofdm.layout_from_scenario(scenario)
    x = np.stack([ofdm.transmitted_frames(layout, seed, frames, m, wc[m], wr[m]) for m in range(scenario.num_nodes)],
                 axis=1)
    return x, channels.node_phases_rad(channel_seed, frames, scenario.num_nodes)


# ---- the fast path is the conditional CRB --------------------------------------------------------------------

@pytest.mark.parametrize("name, amplitude_phase", [("paper", "zero"), (THREE_NODES, "random")])
def test_conditional_crb_equals_trial_stats_frame_by_frame(name, amplitude_phase):
    """Same frames, same phases: the beam-output path equals the full conditional FIM of eq. (10) to rounding
    (1e-9 relative: both are double-precision inverses of well-conditioned 2K × 2K equivalent FIMs), also with
    random phases of b (the amplitudes enter the derivatives, not only the phases)."""
    scenario, wc, wr = designed(name)
    scenario = scenario.replace(target_amplitude_phase=amplitude_phase, symbols_per_frame=2)
    frames = np.arange(5, 17)
    reference = trial_stats.conditional_crbs_m2(scenario, wc, wr, frames, seed=3, channel_seed=4)
    x, phases = phy_frames(scenario, wc, wr, frames, 3, 4)
    bound = achievable.AchievableBound(scenario, wc, wr)
    fast = bound.conditional_crbs_m2(bound.beams_of_frames(x, phases))
    np.testing.assert_allclose(fast, reference, rtol=1e-9)
    assert np.ptp(fast) > 0.05 * np.mean(fast)  # the frames really differ: the check is not of one number


@pytest.mark.parametrize("name", ["paper", THREE_NODES])
def test_expected_fim_gives_the_paper_bound(name):
    """The module's data- and phase-averaged beam Gram (cross-node terms zero) is the paper's CRB of FimMap."""
    scenario, wc, wr = designed(name)
    bound = achievable.AchievableBound(scenario, wc, wr)
    assert bound.expected_crb_m2() == pytest.approx(achievable.paper_crb_m2(scenario, wc, wr, 1), rel=1e-10)
    assert achievable.paper_crb_m2(scenario, wc, wr, 4) == pytest.approx(
        float(np.sum(fusion.position_crb_per_target_m2(fim.SensingGeometry.from_scenario(scenario), wc, wr))) / 4,
        rel=1e-10)


# ---- the achievable bound against a Monte-Carlo of conditional CRBs on the PHY's frames --------------------------

@pytest.mark.parametrize("name, symbols, draws", [("paper", 1, 5000), (THREE_NODES, 2, 2000)])
def test_achievable_matches_the_monte_carlo_of_phy_conditional_crbs(name, symbols, draws):
    """The bound from the module's own sampler (``draws``) against the mean conditional CRB over as many of the PHY's
    actual frames (ofdm.transmitted_frames, channels.node_phases_rad: the frames `disac localize` sends). The per-frame
    CRB of the PHY frames is evaluated on the fast path, which test_conditional_crb_equals_trial_stats_frame_by_frame
    proves equal to trial_stats.conditional_crbs_m2 frame by frame (1e-9; that function itself costs ~4 ms a frame);
    what is independent here is the sampling of the frames. The standard error of the difference of the two
    Monte-Carlos is computed (≈ 0.5 % with the relative spreads 0.26 and 0.12 of the two cases) and 2 % must be ≥ 3
    of it."""
    scenario, wc, wr = designed(name)
    scenario = scenario.replace(symbols_per_frame=symbols)
    bound = achievable.AchievableBound(scenario, wc, wr)
    result = achievable.achievable_crb_m2(scenario, wc, wr, draws=draws, seed=11, bound=bound)
    frames = np.arange(draws)
    phy = bound.conditional_crbs_m2(bound.beams_of_frames(*phy_frames(scenario, wc, wr, frames, 0, 1)))
    phy_mean, phy_se = float(np.mean(phy)), float(np.std(phy, ddof=1) / math.sqrt(len(phy)))
    relative_se = math.hypot(result["relative_standard_error"], phy_se / phy_mean)
    assert 3 * relative_se <= 0.02, relative_se
    assert result["achievable_m2"] / phy_mean == pytest.approx(1.0, abs=0.02)
    assert result["ratio"] > 1.1  # and the bound is well above the paper's (1.31, 1.13): the check has a subject


def test_achievable_is_reproducible_and_its_standard_error_is_honest():
    """Same seed → the same number; two seeds differ by about the reported standard error (within 4 of them)."""
    scenario, wc, wr = designed(THREE_NODES)
    a = achievable.achievable_crb_m2(scenario, wc, wr, draws=600, seed=1)
    assert achievable.achievable_crb_m2(scenario, wc, wr, draws=600, seed=1) == a
    b = achievable.achievable_crb_m2(scenario, wc, wr, draws=600, seed=2)
    assert abs(a["achievable_m2"] - b["achievable_m2"]) < 4 * math.hypot(a["standard_error_m2"], b["standard_error_m2"])
    assert 0 < a["relative_standard_error"] < 0.02
    assert set(a) >= {"achievable_m2", "paper_m2", "ratio", "standard_error_m2", "relative_standard_error", "symbols",
                      "draws", "method", "seed"}


# ---- the P → ∞ limit ----------------------------------------------------------------------------------------

def test_the_limit_is_approached_like_one_over_p():
    """Common random numbers: the same 300 phase sets at P = 4 and 32 and in the phase-conditional limit, so the
    per-frame gap P·CRB_P/CRB_∞ − 1 carries only the data's fluctuation (standard errors 0.3 % and 0.1 %). Measured:
    ≈ +2.2 % at 4, +0.2 % at 32 (≈ 0.09/P); asserted with 3 standard errors of room each: positive at P = 4 (the
    data's fluctuation costs information), below 0.8 % at P = 32 and less than half of P = 4's (1/P: an eighth)."""
    scenario, wc, wr = designed("paper")
    bound = achievable.AchievableBound(scenario, wc, wr)
    phases = achievable.sample_phases_rad(300, scenario.num_nodes, seed=5)
    limit = bound.phase_conditional_crbs_m2(phases)
    gaps = {}
    for p in (4, 32):
        gap = p * bound.conditional_crbs_m2(bound.sample_beams(p, 300, seed=5, phases_rad=phases)) / limit - 1
        gaps[p] = (float(np.mean(gap)), float(np.std(gap, ddof=1) / math.sqrt(len(gap))))
    (g4, s4), (g32, s32) = gaps[4], gaps[32]
    assert g4 - 3 * s4 > 0 and g32 + 3 * s32 < 0.008, gaps
    assert g32 + 3 * s32 < 0.5 * (g4 - 3 * s4), gaps


def test_the_floor_comes_from_the_shared_data():
    """P → ∞: with the PHY's shared CoMP data the limit stays above the paper's bound (1.18× on the paper scenario);
    with independent data per node the cross-node terms vanish at fixed phases too and the limit IS the paper's
    bound (to rounding), whatever the phases."""
    scenario, wc, wr = designed("paper")
    bound = achievable.AchievableBound(scenario, wc, wr)
    paper = bound.expected_crb_m2()
    phases = achievable.sample_phases_rad(50, scenario.num_nodes, seed=2)
    np.testing.assert_allclose(bound.phase_conditional_crbs_m2(phases, shared_data=False), paper, rtol=1e-9)
    floor = achievable.achievable_crb_m2(scenario, wc, wr, math.inf)
    assert floor["method"] == "phase-grid" and floor["symbols"] == "inf"
    assert floor["ratio"] > 1.1
    assert floor["relative_standard_error"] < 1e-6  # the periodic trapezoid has converged (the half grid agrees)
    finer = np.mean(bound.phase_conditional_crbs_m2(achievable.phase_grid_rad(scenario.num_nodes, 256)))
    assert floor["achievable_m2"] == pytest.approx(finer / scenario.symbols_per_frame, rel=1e-9)


def test_three_nodes_floor_by_grid_equals_sampled_phases():
    """N = 3: the 32 × 32 phase grid against 1 000 sampled phase sets (their standard error ≈ 0.4 %: within 4)."""
    scenario, wc, wr = designed(THREE_NODES)
    bound = achievable.AchievableBound(scenario, wc, wr)
    grid = achievable.achievable_crb_m2(scenario, wc, wr, math.inf, bound=bound)
    sampled = bound.phase_conditional_crbs_m2(achievable.sample_phases_rad(1000, 3, seed=9))
    se = np.std(sampled, ddof=1) / math.sqrt(len(sampled))
    assert abs(grid["achievable_m2"] - np.mean(sampled)) < 4 * se


# ---- the estimator reaches the achievable bound ------------------------------------------------------------------

# two of the four cases (P = 1 on the paper scenario, P = 8 on the three-node one): all four ran in ~70 s on
# the loaded 2-core machine, beyond this file's budget; bench/bench_achievable.py runs all four (and P = 2, 4)
@pytest.mark.parametrize("name, symbols", [("paper", 1), (THREE_NODES, 8)])
def test_mse_over_achievable_is_one(name, symbols):
    """The central unit's ML estimate (receive_snapshots + localise_frames, the ideal air, search "track": the full
    search's estimates at this SNR) at 30 dB, 60 frames, against the achievable bound (2 000 draws: ≤ 0.8 %).

    Σ_k‖e_k‖² spreads by 0.75–0.9 of its mean from frame to frame, so a plain mean of 60 frames is known to ±11 %
    only (the [0.9, 1.1] of the issue would need ≥ 600 frames per case at 3 standard errors: bench/bench_achievable.py
    runs 1 500). The MSE is therefore estimated with a control variate of known mean: the same frames' linearised
    efficient errors (E[sq_lin | frame] = that frame's conditional CRB, whose mean over frames is the achievable
    bound: test above), MSE ≈ mean(sq − sq_lin) + achievable. Its standard error is computed (≈ 0.8 %, nearly all
    the bound's own: the ML error is the linearised one to ~1e-4 at 30 dB), so [0.9, 1.1] is ≥ 3 of it on each side
    (asserted: ≥ 10); and the plain mean must agree with it within 3 of its own standard errors (nothing hidden in
    the control variate)."""
    scenario, wc, wr = designed(name)
    scenario = scenario.replace(symbols_per_frame=symbols)
    sq, sq_lin = achievable.localisation_squared_errors_m2(scenario, wc, wr, np.arange(60), seed=0, channel_seed=1,
                                                           linearised=True)
    bound = achievable.achievable_crb_m2(scenario, wc, wr, draws=2000, seed=3)
    ach = bound["achievable_m2"]
    difference = sq - sq_lin
    mse = float(np.mean(difference)) + ach
    mse_se = math.hypot(np.std(difference, ddof=1) / math.sqrt(len(sq)), bound["standard_error_m2"])
    assert 10 * mse_se / ach <= 0.1, mse_se / ach
    assert 0.9 <= mse / ach <= 1.1, (mse / ach, mse_se / ach)
    plain_se = np.std(sq, ddof=1) / math.sqrt(len(sq))
    assert abs(float(np.mean(sq)) - mse) <= 3 * plain_se, (np.mean(sq) / ach, mse / ach, plain_se / ach)
    assert mse / bound["paper_m2"] > mse / ach  # against the paper's bound the same MSE is further off


# ---- contracts ---------------------------------------------------------------------------------------------------

def test_crb_command_reports_the_achievable_bound(capsys):
    """`disac crb --json`: crb_achievable_m2 beside crb_position_m2, the paper bound of the same precoders and P, and
    --symbols P (every bound at P: the paper's scales 1/P) or inf (the floor, for the scenario's own P)."""
    assert main(["crb", "paper", "--json", "--draws", "400"]) == 0
    one = json.loads(capsys.readouterr().out)
    assert one["crb_achievable_m2"] >= one["crb_position_m2"] * 0.98  # isotropic: radar only, ≥ paper (Jensen)
    assert one["achievable"]["paper_m2"] == pytest.approx(one["crb_position_m2"], rel=1e-9)
    assert main(["crb", "paper", "--json", "--symbols", "4", "--draws", "400"]) == 0
    four = json.loads(capsys.readouterr().out)
    assert four["crb_position_m2"] == pytest.approx(one["crb_position_m2"] / 4, rel=1e-9)
    assert four["achievable"]["symbols"] == 4
    assert main(["crb", "paper", "--json", "--symbols", "inf", "--draws", "400"]) == 0
    limit = json.loads(capsys.readouterr().out)
    assert limit["achievable"]["symbols"] == "inf"
    assert limit["crb_achievable_m2"] == pytest.approx(limit["crb_position_m2"], rel=1e-6)  # no shared data: no floor


@pytest.mark.parametrize("value", ["0", "-2", "1.5", "many"])
def test_crb_command_rejects_bad_symbols(capsys, value):
    with pytest.raises(SystemExit) as stop:
        main(["crb", "paper", "--json", "--symbols", value])
    assert stop.value.code == 2
    assert "--symbols" in capsys.readouterr().err


@pytest.mark.parametrize("kwargs, fragment", [(dict(symbols=0), "symbols = 0"), (dict(symbols=2.5), "symbols = 2.5"),
                                              (dict(draws=1), "draws = 1"), (dict(symbols=-math.inf), "symbols = -inf")])
def test_bad_requests_name_the_value(kwargs, fragment):
    scenario, wc, wr = designed("paper")
    with pytest.raises(achievable.AchievableError, match=fragment.replace(".", r"\.")):
        achievable.achievable_crb_m2(scenario, wc, wr, **kwargs)


def test_too_few_resource_elements_for_orthogonal_radar_is_an_error():
    scenario, wc, wr = designed(THREE_NODES)
    bound = achievable.AchievableBound(scenario, wc, wr)
    with pytest.raises(achievable.AchievableError, match="symbols = 0"):
        bound.sample_beams(0, 10)


def test_localize_reports_mse_over_achievable():
    """`disac localize`'s Monte-Carlo (the GNU Radio chain) adds crb_achievable_m2 (the bound of the same precoders
    and P) and mse_over_achievable = mse_m2 / crb_achievable_m2 beside its other keys."""
    from gnuradio.disac.apps import localize_cmd

    scenario, wc, wr = designed("paper", 20.0)
    result = localize_cmd.monte_carlo(scenario, wc, wr, trials=6, seed=2, channel_seed=3)
    assert result["crb_achievable_m2"] == pytest.approx(
        achievable.achievable_crb_m2(scenario, wc, wr, seed=2)["achievable_m2"], rel=1e-12)
    assert result["mse_over_achievable"] == pytest.approx(result["mse_m2"] / result["crb_achievable_m2"], rel=1e-12)
    assert result["crb_achievable_m2"] > result["crb_position_m2"]  # 1.3× on this scenario (Jensen and the floor)
