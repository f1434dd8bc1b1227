# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""The achievable bound (core/achievable.py, issue 15 item 2; docs/fim-derivation.md §9).

What is checked, each against something computed another way:
* the module's fast conditional CRB (beam-output Gram matrices, per-receiver Schur complements) equals
  trial_stats.conditional_crbs_m2 (fim.conditional_fim_psi on the full derivative tensor, the phases in the
  amplitudes) frame by frame on the PHY's actual frames, and its expected FIM gives the paper's CRB (FimMap);
* the achievable bound from the module's OWN sampler of the symbol distributions matches the Monte-Carlo of
  trial_stats.conditional_crbs_m2 over the PHY's frames to 2 % (with 2 % ≥ 3 standard errors of the difference);
* the P → ∞ limit: P·(conditional CRB) → the phase-conditional CRB (common phases), gap shrinking like 1/P;
  the floor is the shared data's: with independent data per node the limit is exactly the paper's bound;
* the ML estimator's MSE / achievable bound in [0.9, 1.1] at high SNR, P = 1 on the paper scenario and P = 8 on
  the 3-node one (the other two cases of the issue's four are in bench/bench_achievable.py: the test run's time);
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

@pytest.mark.parametrize("name, symbols, draws", [("paper", 1, 8000), (THREE_NODES, 2, 3000)])
def test_achievable_matches_the_monte_carlo_of_phy_conditional_crbs(name, symbols, draws):
    """The bound from the module's own sampler (``draws``) against the mean conditional CRB over as many of the PHY's
    actual frames (ofdm.transmitted_frames, channels.node_phases_rad: the frames `disac localize` sends). The per-frame
    CRB of the PHY frames is evaluated on the fast path, which test_conditional_crb_equals_trial_stats_frame_by_frame
    proves equal to trial_stats.conditional_crbs_m2 frame by frame (1e-9; that function itself costs ~4 ms a frame);
    what is independent here is the sampling of the frames. The standard error of the difference of the two
    Monte-Carlos is computed (≈ 0.4 % with the relative spreads 0.26 and 0.17 of the two cases) and 2 % must be ≥ 3
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

@pytest.mark.parametrize("name, symbols, trials", [("paper", 1, 700), (THREE_NODES, 8, 600)])
def test_mse_over_achievable_is_one(name, symbols, trials):
    """The central unit's ML estimate (receive_snapshots + localise_frames, the ideal air, search "track": the full
    search's estimates at this SNR) at 30 dB. Σ_k‖e_k‖² has a relative spread ≈ 0.75–0.9 per frame (four error
    coordinates of unequal variance), so 600–700 frames give a standard error of ≈ 3 % of the MSE: the issue's
    [0.9, 1.1] is then ≥ 3 standard errors wide on each side (asserted, from the measured spread). The bound's own
    error (4 000 draws, < 0.6 %) is negligible beside it."""
    scenario, wc, wr = designed(name)
    scenario = scenario.replace(symbols_per_frame=symbols)
    sq = achievable.localisation_squared_errors_m2(scenario, wc, wr, np.arange(trials), seed=0, channel_seed=1)
    bound = achievable.achievable_crb_m2(scenario, wc, wr, draws=4000, seed=3)
    ratio = float(np.mean(sq)) / bound["achievable_m2"]
    relative_se = math.hypot(np.std(sq, ddof=1) / math.sqrt(len(sq)) / np.mean(sq), bound["relative_standard_error"])
    assert 3 * relative_se <= 0.1 + 1e-9 or 0.9 + 3 * relative_se * ratio <= ratio, relative_se
    assert 0.9 <= ratio <= 1.1, (ratio, relative_se)
    assert float(np.mean(sq)) / bound["paper_m2"] > ratio  # against the paper's bound the same MSE is further off


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
