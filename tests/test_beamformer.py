# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""The SDR beamformer of paper problem (18) and the rank-1 extraction of eq. (19) (core/beamformer.py).

What is proved (issue 3, "Done when"), on the paper scenario unless said otherwise:
- the extracted beamformers meet every SINR ≥ Γ_c − 1e-3 dB and every per-antenna power ≤ P_T(1 + 1e-6) where
  the solver says optimal (issue 16; Γ_c − 0.1 dB and P_T(1 + 1e-4) where it says optimal_inaccurate),
  recomputed here from W_c and W_r with eq. (6), not read from the result, on the presets and on seeded random
  3-node scenarios where the old extraction missed both;
- bound ≤ extracted CRB (both extraction variants; "keep_covariance" keeps R_n, so its CRB equals the bound
  and its SINRs equal eq. (17) at the relaxed optimum); the bound equals the solver's optimal value;
- the bound is non-decreasing in Γ_c;
- the decomposed, one-LMI and literal (18b) formulations agree; the decomposed one of issue 16 (auxiliary
  variable, transmit subspace) equals the one it replaced to 1e-6; SCS and Clarabel agree where both say optimal;
- an infeasible threshold gives status "infeasible", no NaN anywhere, and the largest common SINR on request,
  which is checked by solving just below and just above it;
- bad choices raise ValueError naming the value; a translated scene gives the same bound; a single node works.
The SDP solves take ~0.1–0.3 s each, so the designers are built once per module and the points are few.
"""

import json
import math

import numpy as np
import pytest

from gnuradio.disac.core import beamformer, fim, scenario, sinr

SWEEP_DB = (0.0, 10.0, 20.0, 30.0)
# Issue 16's acceptance margins for the extracted solution where the solver says optimal. The extraction
# projects R_c and R_n onto the PSD cone, rebuilds R_c consistently with the solver's own signals, and scales
# a node down to P_T when its power exceeds it (docs/beamforming.md §4), so the power holds to rounding and
# the SINR to the solver's residuals (≥ −2.5e-4 dB observed on the cases below, with tol_feas = 1e-8).
SINR_MARGIN_DB = 1e-3
POWER_RTOL = 1e-6
# Where Clarabel stops at its reduced tolerances (optimal_inaccurate: 5e-5 on the gap, 1e-4 on feasibility)
# its R_n and R_c violate (18d)/(18f) by up to ~1e-4 relative, which no extraction can repair without leaving
# the solver's answer: the issue-3 margins stay there.
INACCURATE_SINR_MARGIN_DB = 0.1
INACCURATE_POWER_RTOL = 1e-4
# Clarabel stops at relative gap and feasibility residuals of 1e-7 (beamformer._SOLVER_OPTIONS), measured
# against the norms of the whole problem's data. The bound (the CRB evaluated in numpy at the solver's R)
# matches the optimal value to ≤ 3e-7 relative (observed), so 1e-5 leaves a margin of ~30 and still fails
# for any real mismatch between the SDP's F(Θ) and fim.py's. A single SINR constraint (18f), though, is
# met only to ~1e-5 relative of its own terms near the largest feasible threshold (−3e-5 dB observed at
# 32.6 dB), hence 1e-3 dB there: still a hundred times inside the 0.1 dB margin.
SOLVER_RTOL = 1e-5
SOLVER_DB = 1e-3
# Extraction with eq. (19) gives ŵŵ^H ⪯ R_c, so the extracted R_n ⪯ relaxed R_n up to the negative
# eigenvalues that psd_factor clips (the solver's R_c and R_r are PSD only to ~2e-8 absolute, on
# eigenvalues of order 1–4); F is linear and monotone in R_n, so bound ≤ extracted CRB, and with
# "keep_covariance" the two are equal, to ~1e-8 relative: 1e-6 has margin.
EXTRACTION_RTOL = 1e-6
# ... but the SINR is sensitive to that clipping at high thresholds: at Γ_c = 30 dB interference plus
# noise is 1e-3 of the received power, so a ~1e-7 change of h^H R h moves it by ~1e-4 dB (1.2e-4 dB
# observed at 30 dB, 2.5e-4 dB at 32.6 dB). 1e-3 dB for "equal SINR" after keep_covariance extraction.
KEEP_SINR_DB = 1e-3
# The agreement between formulations and between solvers (observed: ≤ 6e-6 and ≤ 3e-6).
AGREE_RTOL = 1e-3


@pytest.fixture(scope="module")
def paper():
    return scenario.load_scenario("paper")


@pytest.fixture(scope="module")
def position_designer(paper):
    return beamformer.BeamformerDesigner(paper, objective="position")


@pytest.fixture(scope="module")
def position_sweep(position_designer):
    """Γ_c → (result with the paper's extraction, the solver's optimal value), one compiled problem (DPP)."""
    out = {}
    for gamma_db in SWEEP_DB:
        result = position_designer.solve(gamma_db)
        out[gamma_db] = (result, position_designer.problem.value)
    return out


@pytest.fixture(scope="module")
def paper_objective_sweep(paper):
    designer = beamformer.BeamformerDesigner(paper, objective="paper")
    out = {}
    for gamma_db in (10.0, 30.0):
        result = designer.solve(gamma_db)
        out[gamma_db] = (result, designer.problem.value)
    return out


def check_extracted(scn, result, gamma_db):
    """Eq. (6) SINR and per-antenna power of the extracted beamformers, recomputed from W_c and W_r, against
    issue 16's margins (optimal) or issue 3's (optimal_inaccurate). Returns W_c W_c^H + W_r W_r^H."""
    assert result.ok, (result.status, result.message)
    strict = result.status == "optimal"
    pt = scn.per_antenna_power
    h = scn.user_channels()
    sinr_db = sinr.to_db(sinr.sinr_from_beamformers(h, result.Wc, result.Wr, scn.user_noise_power))
    margin_db = SINR_MARGIN_DB if strict else INACCURATE_SINR_MARGIN_DB
    assert np.all(sinr_db >= gamma_db - margin_db), (result.status, sinr_db - gamma_db)
    np.testing.assert_allclose(result.sinr_extracted_db, sinr_db, rtol=0, atol=1e-9)
    extracted_R = (np.einsum("niu,nju->nij", result.Wc, result.Wc.conj())
                   + np.einsum("nij,nkj->nik", result.Wr, result.Wr.conj()))
    power = np.real(np.einsum("nii->ni", extracted_R))
    assert np.max(power) <= pt * (1 + (POWER_RTOL if strict else INACCURATE_POWER_RTOL)), np.max(power) / pt - 1
    assert result.max_antenna_power == pytest.approx(np.max(power), rel=1e-12)
    return extracted_R


def check_solution(scn, result, gamma_db):
    """The acceptance checks of one solved design, recomputed from its beamformers and covariances."""
    assert result.status == "optimal", result.message
    extracted_R = check_extracted(scn, result, gamma_db)
    pt = scn.per_antenna_power
    # relaxed optimum: (18c)–(18f) to solver accuracy
    assert np.max(np.real(np.einsum("nii->ni", result.R))) <= pt * (1 + SOLVER_RTOL)
    assert np.all(np.array(result.sinr_bound_db) >= gamma_db - SOLVER_DB)
    for n in range(scn.num_nodes):
        scale = np.real(np.trace(result.R[n]))
        assert np.linalg.eigvalsh(result.R[n] - result.Rc[n].sum(axis=0))[0] >= -SOLVER_RTOL * scale  # R_r ⪰ 0
        for u in range(scn.num_users):
            assert np.linalg.eigvalsh(result.Rc[n, u])[0] >= -SOLVER_RTOL * scale
    # the reported bounds are the CRBs of the relaxed and of the extracted covariances
    geom = fim.SensingGeometry.from_scenario(scn)
    bound, extracted = fim.crb_report(geom, result.R), fim.crb_report(geom, extracted_R)
    assert result.crb_position_bound_m2 == pytest.approx(bound.crb_position_m2, rel=1e-12)
    assert result.crb_position_extracted_m2 == pytest.approx(extracted.crb_position_m2, rel=1e-12)
    assert result.crb_paper_bound == pytest.approx(bound.crb_paper, rel=1e-12)
    assert result.crb_paper_extracted == pytest.approx(extracted.crb_paper, rel=1e-12)
    # bound ≤ extracted CRB, for both metrics
    assert result.crb_position_bound_m2 <= result.crb_position_extracted_m2 * (1 + EXTRACTION_RTOL)
    assert result.crb_paper_bound <= result.crb_paper_extracted * (1 + EXTRACTION_RTOL)


# ---- the solution and its extraction ----------------------------------------------------------------

@pytest.mark.parametrize("gamma_db", SWEEP_DB)
def test_position_design_meets_constraints(paper, position_sweep, gamma_db):
    result, value = position_sweep[gamma_db]
    check_solution(paper, result, gamma_db)
    # the SDP's objective is the position CRB of its own R: its F(Θ) (scaled, decomposed) is fim.py's
    assert value / paper.per_antenna_power == pytest.approx(result.crb_position_bound_m2, rel=SOLVER_RTOL)


@pytest.mark.parametrize("gamma_db", (10.0, 30.0))
def test_paper_objective_design_meets_constraints(paper, paper_objective_sweep, gamma_db):
    result, value = paper_objective_sweep[gamma_db]
    check_solution(paper, result, gamma_db)
    assert value / paper.per_antenna_power == pytest.approx(result.crb_paper_bound, rel=SOLVER_RTOL)


def test_bound_non_decreasing_in_threshold(position_sweep, paper_objective_sweep):
    # a higher threshold shrinks the feasible set, so the optimum cannot improve (up to solver accuracy)
    bounds = [position_sweep[g][0].crb_position_bound_m2 for g in SWEEP_DB]
    assert all(b1 >= b0 * (1 - SOLVER_RTOL) for b0, b1 in zip(bounds, bounds[1:])), bounds
    assert bounds[-1] > bounds[0]  # and the trade-off is real on this scenario
    paper_bounds = [paper_objective_sweep[g][0].crb_paper_bound for g in (10.0, 30.0)]
    assert paper_bounds[1] >= paper_bounds[0] * (1 - SOLVER_RTOL)
    # each objective is the best for its own metric
    for g in (10.0, 30.0):
        assert (position_sweep[g][0].crb_position_bound_m2
                <= paper_objective_sweep[g][0].crb_position_bound_m2 * (1 + SOLVER_RTOL))
        assert (paper_objective_sweep[g][0].crb_paper_bound
                <= position_sweep[g][0].crb_paper_bound * (1 + SOLVER_RTOL))


@pytest.mark.parametrize("gamma_db", (0.0, 30.0))  # slack SINR constraints, and nearly tight ones
def test_keep_covariance_extraction_keeps_bound_and_sinr(paper, position_designer, gamma_db):
    result = position_designer.solve(gamma_db, extraction="keep_covariance")
    assert result.extraction == "keep_covariance"
    check_solution(paper, result, gamma_db)
    extracted_R = (np.einsum("niu,nju->nij", result.Wc, result.Wc.conj())
                   + np.einsum("nij,nkj->nik", result.Wr, result.Wr.conj()))
    assert np.linalg.norm(extracted_R - result.R) <= EXTRACTION_RTOL * np.linalg.norm(result.R)
    assert result.crb_position_extracted_m2 == pytest.approx(result.crb_position_bound_m2, rel=EXTRACTION_RTOL)
    assert result.crb_paper_extracted == pytest.approx(result.crb_paper_bound, rel=EXTRACTION_RTOL)
    # eq. (19) keeps each user's signal h^H R_c h and R_n keeps the total: the SINR of eq. (17) survives
    np.testing.assert_allclose(result.sinr_extracted_db, result.sinr_bound_db, rtol=0, atol=KEEP_SINR_DB)


def test_extraction_on_synthetic_covariances():
    """eq. (19) and the radar factor on hand-made covariances, singular and slightly indefinite ones too."""
    rng = np.random.default_rng(5)
    N, U, mt = 2, 2, 4
    h = (rng.standard_normal((N, U, mt)) + 1j * rng.standard_normal((N, U, mt))) / np.sqrt(2)
    a = (rng.standard_normal((N, U, mt, 2)) + 1j * rng.standard_normal((N, U, mt, 2)))
    Rc = np.einsum("nuaj,nubj->nuab", a, a.conj())  # rank 2
    Rc[1, 1] = 0.0  # node 2 gives user 2 nothing
    radar = np.zeros((N, mt, mt), complex)
    radar[0] = np.diag([1.0, 0.0, 0.0, -1e-10])  # singular and slightly indefinite (solver round-off)
    radar[1] = np.eye(mt)
    R = Rc.sum(axis=1) + radar
    for extraction in beamformer.EXTRACTIONS:
        Wc, Wr = beamformer.extract_beamformers(h, Rc, R, extraction)
        assert np.all(np.isfinite(Wc)) and np.all(np.isfinite(Wr))
        for n in range(N):
            for u in range(U):
                w = Wc[n, :, u]
                signal = np.real(h[n, u].conj() @ Rc[n, u] @ h[n, u])
                assert abs(h[n, u].conj() @ w) ** 2 == pytest.approx(signal, rel=1e-12, abs=1e-12)  # eq. (19)
                assert np.linalg.eigvalsh(Rc[n, u] - np.outer(w, w.conj()))[0] >= -1e-9 * (1 + signal)
        np.testing.assert_array_equal(Wc[1, :, 1], 0.0)
        WrWr = np.einsum("nij,nkj->nik", Wr, Wr.conj())
        if extraction == "paper":  # the PSD part of R_{r,n}: the −1e-10 eigenvalue is clipped
            np.testing.assert_allclose(WrWr[0], np.diag([1.0, 0, 0, 0]), atol=1e-12)
            np.testing.assert_allclose(WrWr[1], np.eye(mt), atol=1e-12)
        else:  # W_c W_c^H + W_r W_r^H = R_n
            total = np.einsum("niu,nju->nij", Wc, Wc.conj()) + WrWr
            np.testing.assert_allclose(total, R, atol=1e-9)


def test_extraction_projects_an_indefinite_rc_onto_the_psd_cone():
    """A solver's R_c with a −1e-8 eigenvalue along h and a strong direction nearly orthogonal to h: eq. (19)
    on it divides by an h^H R_c h that nearly cancels, so |ŵ|² came out far above tr R_c (issue 16: 5×).
    After the eigen-clip |ŵ|² ≤ λ_max(R_c⁺) ≤ tr R_c⁺ and ŵŵ^H ⪯ R_c⁺, and the signal is that of R_c⁺."""
    mt = 4
    h = np.zeros((1, 1, mt), complex)
    h[0, 0, 0] = 1.0
    strong = np.array([1e-4, 1.0, 0.0, 0.0], complex)  # |h^H v|² = 1e-8
    Rc = np.zeros((1, 1, mt, mt), complex)
    Rc[0, 0] = np.outer(strong, strong.conj()) - 0.99e-8 * np.diag([1.0, 0, 0, 0])  # h^H R_c h = 1e-10
    R = Rc[:, 0] + 0.5 * np.eye(mt)
    projected = beamformer.psd_part(Rc[0, 0])
    assert np.linalg.eigvalsh(Rc[0, 0])[0] < -1e-9 and np.linalg.eigvalsh(projected)[0] >= -1e-15
    for extraction in beamformer.EXTRACTIONS:
        Wc, Wr = beamformer.extract_beamformers(h, Rc, R, extraction)
        w = Wc[0, :, 0]
        assert np.vdot(w, w).real <= np.trace(projected).real * (1 + 1e-12)
        assert np.linalg.eigvalsh(projected - np.outer(w, w.conj()))[0] >= -1e-12
        assert abs(h[0, 0].conj() @ w) ** 2 == pytest.approx(np.real(h[0, 0].conj() @ projected @ h[0, 0]), rel=1e-9)


def test_per_antenna_rescale_brings_every_node_to_the_power_limit():
    """extract_beamformers(per_antenna_power=P_T) scales a node whose beamformers exceed P_T on some antenna by
    √(P_T / max power) (all its beamformers alike), and leaves the other nodes untouched."""
    rng = np.random.default_rng(9)
    N, U, mt, pt = 2, 2, 3, 0.8
    h = (rng.standard_normal((N, U, mt)) + 1j * rng.standard_normal((N, U, mt))) / np.sqrt(2)
    a = rng.standard_normal((N, U, mt, 1)) + 1j * rng.standard_normal((N, U, mt, 1))
    Rc = np.einsum("nuaj,nubj->nuab", a, a.conj())
    R = Rc.sum(axis=1) + np.eye(mt)
    # node 0: 30 % over the limit; node 1: 10 % under it
    for n, level in ((0, 1.3), (1, 0.9)):
        factor = level * pt / np.max(np.real(np.diag(R[n])))
        R[n] *= factor
        Rc[n] *= factor
    free_c, free_r = beamformer.extract_beamformers(h, Rc, R, "keep_covariance")
    free_power = np.real(np.einsum("niu,niu->ni", free_c, free_c.conj()) + np.einsum("nij,nij->ni", free_r, free_r.conj()))
    assert np.max(free_power[0]) == pytest.approx(1.3 * pt, rel=1e-9)  # keep_covariance keeps R_n
    Wc, Wr = beamformer.extract_beamformers(h, Rc, R, "keep_covariance", per_antenna_power=pt)
    power = np.real(np.einsum("niu,niu->ni", Wc, Wc.conj()) + np.einsum("nij,nij->ni", Wr, Wr.conj()))
    assert np.max(power[0]) <= pt * (1 + 1e-12) and np.max(power[0]) == pytest.approx(pt, rel=1e-12)
    scale = np.sqrt(pt / np.max(free_power[0]))
    np.testing.assert_allclose(Wc[0], free_c[0] * scale, rtol=1e-12)
    np.testing.assert_allclose(Wr[0], free_r[0] * scale, rtol=1e-12)
    np.testing.assert_array_equal(Wc[1], free_c[1])
    np.testing.assert_array_equal(Wr[1], free_r[1])


def random_design_scenario(seed):
    """N = 3 nodes, K = 2 targets, U = 3 users, Mt ∈ 3…6, Mr ∈ 3…8, P_T ∈ [0.5, 2], positions uniform: the
    generator under which the extraction before issue 16 broke the power limit (by up to 4 %) and the SINR."""
    rng = np.random.default_rng(seed)
    return scenario.scenario_from_dict({
        "name": f"random-design-{seed}",
        "nodes": {"positions_m": rng.uniform(-200, 200, (3, 2)).tolist(), "tx_antennas": int(rng.integers(3, 7)),
                  "rx_antennas": int(rng.integers(3, 9)), "per_antenna_power": float(rng.uniform(0.5, 2))},
        "ofdm": {"bandwidth_hz": 10e6, "subcarriers": 8, "cyclic_prefix": 64, "symbols_per_frame": 1},
        "targets": {"positions_m": rng.uniform(-100, 100, (2, 2)).tolist(), "snr_db": 0.0, "noise_power": 1.0},
        "users": {"positions_m": rng.uniform(-200, 200, (3, 2)).tolist(), "snr_db": 20.0}})


# Seeds 0, 1, 2 and 8 at 20 dB are cases where the old extraction failed (power up to 3.9e-2 over P_T, SINR
# down to −1.3e-3 dB, R_c eigenvalues to −3e-6 of tr R_n); 3 and 5 at 10 dB are ordinary ones (the old code
# failed even some of those on the R_c check). Each solve takes ~0.05–0.2 s.
RANDOM_DESIGN_CASES = ([(seed, objective, 20.0) for seed in (0, 1, 2, 8) for objective in ("position", "paper")]
                       + [(seed, objective, 10.0) for seed in (3, 5) for objective in ("position", "paper")])


@pytest.mark.parametrize("seed, objective, gamma_db", RANDOM_DESIGN_CASES)
def test_extraction_meets_power_and_sinr_on_random_scenarios(seed, objective, gamma_db):
    scn = random_design_scenario(seed)
    designer = beamformer.BeamformerDesigner(scn, objective=objective)
    for extraction in beamformer.EXTRACTIONS:
        result = designer.solve(gamma_db, extraction=extraction)
        check_extracted(scn, result, gamma_db)
        # the recovered R_c are PSD to rounding (the rebuild of docs/beamforming.md §4; before issue 16: eigenvalues
        # to −3e-6 of tr R_n here) and fit inside the solver's R_n to its tolerance. Rounding: the rebuild
        # R Q A^+ M A^+ Q^H R carries ~ε·cond(A) relative, and A = Q^H R Q reaches cond ~1e7 on these cases
        # (observed −2.7e-11), hence 1e-9
        for n in range(scn.num_nodes):
            scale = np.real(np.trace(result.R[n]))
            assert min(np.linalg.eigvalsh(rc)[0] for rc in result.Rc[n]) >= -1e-9 * scale
            assert np.linalg.eigvalsh(result.R[n] - result.Rc[n].sum(axis=0))[0] >= -SOLVER_RTOL * scale


@pytest.mark.parametrize("preset, gamma_db", [("fig4", 20.0), ("fig5-single-m12", 20.0), ("four-nodes", 20.0),
                                              ("four-nodes", 30.0)])
@pytest.mark.parametrize("objective", ("position", "paper"))
def test_extraction_meets_power_and_sinr_on_presets(preset, gamma_db, objective):
    """The paper preset is checked by every sweep above; here the other presets' shapes (one user, one node,
    N = 4 with K = 3, U = 4), both objectives and both extractions."""
    scn = scenario.load_scenario(preset)
    designer = beamformer.BeamformerDesigner(scn, objective=objective)
    for extraction in beamformer.EXTRACTIONS:
        check_extracted(scn, designer.solve(gamma_db, extraction=extraction), gamma_db)


# ---- formulations and solvers ----------------------------------------------------------------------

@pytest.mark.parametrize("objective, gamma_db", [("position", 20.0), ("paper", 30.0)])
def test_formulations_agree(paper, position_sweep, paper_objective_sweep, objective, gamma_db):
    reference = (position_sweep if objective == "position" else paper_objective_sweep)[gamma_db][0]
    key = "crb_position_bound_m2" if objective == "position" else "crb_paper_bound"
    variants = [dict(formulation="one_lmi"), dict(formulation="literal")]
    if objective == "position":  # the literal (18c)/(18e) cones instead of the users'-subspace reduction
        variants.append(dict(formulation="decomposed", user_subspace=False))
    for variant in variants:
        designer = beamformer.BeamformerDesigner(paper, objective=objective, **variant)
        assert designer.problem.is_dpp()
        result = designer.solve(gamma_db)
        assert result.status == "optimal", (variant, result.message)
        assert getattr(result, key) == pytest.approx(getattr(reference, key), rel=AGREE_RTOL), variant
        if objective == "position":
            check_solution(paper, result, gamma_db)


# New against old decomposed build (issue 16): the same SDP up to exact reformulations (an auxiliary variable
# for F_pp − Σ S_l, F(Θ) read through Y_m = Q^H R_m Q, R_n held in a unitary frame whose leading block is Y_m and
# R_n ⪰ 0 on its own real embedding instead of a free PSD variable), so their optima differ by the solver's
# tolerance only:
# Clarabel's 1e-7 relative gap gives ≤ ~3e-7 on the objective (observed ≤ 1e-8 here), hence 1e-6.
EQUIVALENT_RTOL = 1e-6


@pytest.mark.parametrize("objective", ("position", "paper"))
@pytest.mark.parametrize("case", ("paper", "random-N3"))
def test_decomposed_equals_the_build_it_replaced(objective, case):
    scn = scenario.load_scenario("paper") if case == "paper" else random_design_scenario(3)
    key = "crb_position_bound_m2" if objective == "position" else "crb_paper_bound"
    values = {}
    for label, kwargs in (("new", {}), ("old", dict(formulation="decomposed_dense")),
                          ("new, no transmit subspace", dict(transmit_subspace=False)),
                          ("before the transmit frame", dict(formulation="decomposed_free_psd"))):
        designer = beamformer.BeamformerDesigner(scn, objective=objective, **kwargs)
        assert designer.problem.is_dpp()
        result = designer.solve(20.0)
        assert result.status == "optimal", (label, result.message)
        values[label] = (getattr(result, key), designer.problem.value)
    for label, (bound, value) in values.items():
        assert bound == pytest.approx(values["old"][0], rel=EQUIVALENT_RTOL), label
        assert value == pytest.approx(values["old"][1], rel=EQUIVALENT_RTOL), label


def test_scs_agrees_with_clarabel(paper, position_sweep):
    # 10 dB: SCS converges to its 1e-7 tolerances there in ~0.5 s (near 30 dB it needs far longer)
    result = beamformer.design(paper, 10.0, objective="position", solver="scs")
    assert result.solver == "scs" and result.status == "optimal", result.status
    check_solution(paper, result, 10.0)
    assert result.crb_position_bound_m2 == pytest.approx(position_sweep[10.0][0].crb_position_bound_m2,
                                                         rel=AGREE_RTOL)


def test_problem_is_dpp(position_designer):
    # the threshold enters only through Parameters, so a sweep re-uses one compiled problem
    assert position_designer.problem.is_dpp()
    assert {p.name() for p in position_designer.problem.parameters()} == {"signal_coef", "interference_coef"}


# ---- infeasible thresholds and bad input -------------------------------------------------------------

def assert_no_nan(value):
    json.dumps(value, allow_nan=False)  # raises ValueError on NaN or ±inf anywhere


def test_infeasible_threshold_and_largest_common_sinr(paper, position_designer):
    result = position_designer.solve(40.0, max_sinr=True)
    assert result.status == "infeasible" and not result.ok
    assert "40" in result.message
    for name in ("Rc", "R", "Wc", "Wr", "crb_position_bound_m2", "crb_position_extracted_m2", "crb_paper_bound",
                 "crb_paper_extracted", "sinr_extracted_db", "sinr_bound_db", "max_antenna_power"):
        assert getattr(result, name) is None, name
    assert_no_nan(result.as_dict())
    best = result.max_common_sinr_db
    assert best is not None and math.isfinite(best) and best < 40.0
    # the bisection stops within 0.01 dB: 0.1 dB below is feasible, 0.1 dB above is not
    below = position_designer.solve(best - 0.1)
    check_solution(paper, below, best - 0.1)
    assert_no_nan(below.as_dict())
    above = position_designer.solve(best + 0.1)
    assert above.status == "infeasible"
    # on a feasible point, max_sinr=True is reported alongside the design
    assert position_designer.max_common_sinr_db() == pytest.approx(best, abs=1e-9)


@pytest.mark.parametrize("kwargs, bad", [
    (dict(objective="crb"), "'crb'"), (dict(solver="mosek"), "'mosek'"), (dict(formulation="schur"), "'schur'")])
def test_bad_designer_choice_raises(paper, kwargs, bad):
    with pytest.raises(ValueError, match=bad):
        beamformer.BeamformerDesigner(paper, **kwargs)


@pytest.mark.parametrize("threshold, bad", [("abc", "'abc'"), (float("nan"), "nan"), (float("inf"), "inf"),
                                            (99.0, "99.0"), (None, "None")])
def test_bad_threshold_raises(position_designer, threshold, bad):
    with pytest.raises(ValueError, match=f"sinr_threshold_db = {bad}"):
        position_designer.solve(threshold)


def test_bad_extraction_raises(position_designer):
    with pytest.raises(ValueError, match="'svd'"):
        position_designer.solve(10.0, extraction="svd")


# ---- invariances and a single node -------------------------------------------------------------------

def test_translated_scene_gives_the_same_design(paper, position_sweep):
    shift = np.array([500.0, -250.0])
    moved = paper.replace(node_positions_m=paper.node_positions_m + shift,
                          target_positions_m=paper.target_positions_m + shift,
                          user_positions_m=paper.user_positions_m + shift)
    result = beamformer.design(moved, 20.0)
    check_solution(moved, result, 20.0)
    assert result.crb_position_bound_m2 == pytest.approx(position_sweep[20.0][0].crb_position_bound_m2,
                                                         rel=SOLVER_RTOL)


def test_single_node_design_solves():
    # P_T = 2 (β, σ², σ_c² kept): the covariances are scaled by P_T inside the solver, and back outside
    scn = scenario.load_scenario("fig5-single-m6").replace(per_antenna_power=2.0)
    designer = beamformer.BeamformerDesigner(scn, objective="paper")
    result = designer.solve(10.0)
    check_solution(scn, result, 10.0)
    assert result.Wc.shape == (1, scn.tx_antennas, scn.num_users)
    assert designer.problem.value / scn.per_antenna_power == pytest.approx(result.crb_paper_bound, rel=SOLVER_RTOL)


def test_a_solve_stopped_by_the_time_limit_says_so(paper):
    """A limit far below one interior-point iteration (~1 ms here) stops every solve: the status must
    be the time-out, not "infeasible" (the feasibility check would run under the same limit), and no
    number is reported; a bad limit is refused with its value named."""
    designer = beamformer.BeamformerDesigner(paper, time_limit_s=1e-6)
    for threshold_db in (10.0, 40.0):
        result = designer.solve(threshold_db)
        assert result.status == beamformer.TIMEOUT_STATUS, result.status
        assert result.crb_position_bound_m2 is None and result.Wc is None
        assert "time limit" in result.message
    with pytest.raises(ValueError, match="time_limit_s = -1"):
        beamformer.BeamformerDesigner(paper, time_limit_s=-1)


def test_bench_scaling_rows_keep_the_json_contract():
    """bench/bench_beamformer.py --json: a list of rows with exactly name, value, unit, anchor, anchor_value and
    ratio = value / anchor_value (the contract `disac bench --json` reads), NEW anchored to OLD where OLD ran and
    to the issue's targets at N = 8 otherwise. Built from made-up measurements: no timing is asserted."""
    import air_helpers
    bench = air_helpers.bench_module("bench_beamformer")

    def fake(scale):
        return dict(build_s=1.0 * scale, build_cpu_s=0.9 * scale, first_s=2.0 * scale, first_cpu_s=1.8 * scale,
                    warm_s=0.5 * scale, warm_cpu_s=0.4 * scale, status="optimal", bound=0.1)
    measured = {(4, "paper", bench.NEW): fake(1.0), (4, "paper", bench.OLD): fake(3.0),
                (8, "position", bench.NEW): fake(1.0)}
    rows = bench.scaling_rows(measured)
    assert json.loads(json.dumps(rows, allow_nan=False)) == rows
    assert all(set(row) == {"name", "value", "unit", "anchor", "anchor_value", "ratio"} for row in rows)
    assert all(row["ratio"] == pytest.approx(row["value"] / row["anchor_value"], rel=1e-12) for row in rows)
    against_old = [row for row in rows if "N=4" in row["name"]]
    assert len(against_old) == 4 and all(row["ratio"] == pytest.approx(1 / 3) for row in against_old)
    at_eight = {row["name"].split(",")[0]: row for row in rows if "N=8" in row["name"]}
    assert at_eight["SDR warm re-solve"]["anchor_value"] == bench.TARGET_SCALING_WARM_S["position"]
    assert at_eight["SDR build"]["anchor_value"] == bench.TARGET_SCALING_BUILD_S


def test_fim_inverse_certificate_keeps_the_eigenvalue_rule(paper, position_designer):
    """fim._inverse_or_none skips the eigenvalues when a Cholesky factorisation and the norm bound
    1/(‖F‖_∞‖F^{-1}‖_∞) > 2·SINGULAR_RCOND prove the matrix is well conditioned (the SDR's CRB reports, issue 16).
    It must give the same answer as the eigenvalue rule, bit for bit (the same np.linalg.inv), and the same None
    on singular, indefinite and borderline matrices: random ones whose conditioning spans the threshold, and the
    paper scenario's F(Θ) at a design."""
    rng = np.random.default_rng(16)
    singular = well = 0
    for _ in range(600):
        n = int(rng.integers(1, 30))
        rank = int(rng.integers(1, n + 1))
        A = rng.standard_normal((n, rank)) * 10.0 ** rng.uniform(-3, 3, rank)
        F = A @ A.T + (10.0 ** rng.uniform(-14, 0) if rng.random() < 0.7 else 0.0) * np.eye(n)
        if rng.random() < 0.1:
            F -= 1e-3 * np.trace(F) / n * np.eye(n)  # indefinite
        expected, got = fim.inverse_by_eigenvalues(F), fim._inverse_or_none(F)
        assert (expected is None) == (got is None)
        if expected is None:
            singular += 1
        else:
            well += 1
            assert np.array_equal(expected, got)
    assert singular > 50 and well > 50  # both outcomes exercised
    result = position_designer.solve(10.0)
    for cov in (result.R, result.R_extracted):
        F = position_designer.fim_map.fim_theta(cov)
        assert np.array_equal(fim._inverse_or_none(F), fim.inverse_by_eigenvalues(F))
