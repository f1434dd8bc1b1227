# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""The localisation FIM and CRBs (core/fim.py, paper eq. 7–13; derivation in docs/fim-derivation.md).

Proved here against the noiseless model of eq. (3)/(5) (core/model.py), not against fim.py itself:
- the derivatives of the mean and the conditional FIM (one symbol realisation) against central finite
  differences of model.sensing_mean, in Ψ = [θ, τ, b_R, b_I] and through the chain rule in Θ = [x, y, b_R, b_I];
- the expected FIM (FimMap, linear in the per-node covariances) against the average of the conditional FIM
  over random symbols: shared CoMP data, independent radar streams, an independent phase per node;
- the CRB report against straightforward inversions, the single-node case, unbounded cases, and the
  invariances (translation of the scene, σ², number of symbols).
Scenarios: the paper's (N = 2, K = 2, Mt = 6, Mr = 16, L = 16), its single-node variant (N = 1), and a
random one with N = 3, K = 2, Mt ≠ Mr and random amplitude phases.
"""

import air_helpers
from air_helpers import normalised_error, random_complex, random_covariances
import numpy as np
import pytest

from gnuradio.disac.core import fim, geometry, model, scenario

# Central differences: the truncation error is ~(ω h)²/6 relative, with ω the fastest phase rate in the
# parameter; rounding adds ~eps·|phase|/(ω h). Steps per parameter type:
#   angle 1e-5 rad: ω ≤ π(M−1) ≈ 47 rad/rad → (ωh)²/6 ≈ 4e-8; rounding ≈ 1e-16/5e-4 ≈ 2e-13
#   delay 1e-12 s:  ω ≤ 2πB ≈ 6e7 rad/s (B ≤ 10 MHz here, 20 MHz random) → ≤ (1.3e-4)²/6 ≈ 3e-9; the
#                   phase itself is ≤ ~300 rad, so rounding ≈ 300·1e-16/1e-4 ≈ 3e-10
#   amplitude 1e-3·β: μ is linear in b, so only rounding (~1e-13) remains
#   position 1e-4 m: ω ≤ ~1 rad/m (angle: π(M−1)/r with r ≥ 50 m; delay: 2πB/c ≈ 0.4 rad/m) → ≈ 2e-9
STEP_ANGLE_RAD, STEP_DELAY_S, STEP_AMPLITUDE_REL, STEP_POSITION_M = 1e-5, 1e-12, 1e-3, 1e-4
# The requirement for analytic vs finite-difference FIM; the errors above are ≤ ~1e-7, so this
# passes with two orders of margin and fails for any wrong factor, sign or missing term.
FD_RTOL = 1e-5
# Monte-Carlo: an entry of the averaged FIM may differ from the expected one by at most this many of
# its own standard errors (sample std / sqrt(draws)). With ~10³ entries, a 5σ excursion has a chance of
# ~1e-3 for Gaussian errors; the draws are seeded, so the test is deterministic anyway.
MC_SIGMAS = 5.0
# Pure floating-point identities (scaling by σ² or P, translation, a second implementation of the same
# algebra): the unit-diagonal FIMs here have condition numbers ≤ ~100, so a few ulps stay ≤ 1e-12;
# 1e-8 has margin and still fails for any real change (a missing factor is O(1)).
IDENTITY_RTOL = 1e-8


random_scenario = air_helpers.random_scenario  # Mt = 3 ≠ Mr = 5


SCENARIOS = {
    "paper": lambda: scenario.load_scenario("paper"),
    "single-node": lambda: scenario.load_scenario("fig5-single-m6"),
    "random-N3-K2": lambda: random_scenario(3),
}


@pytest.fixture(scope="module", params=list(SCENARIOS))
def scn(request):
    return SCENARIOS[request.param]()


# ---- the model as a function of Ψ and of Θ ----------------------------------------------------

def split_psi(psi, N, K):
    kn, kn2 = K * N, K * N * N
    theta = psi[:kn].reshape(N, K)
    tau = psi[kn:2 * kn].reshape(N, K)
    b = (psi[2 * kn:2 * kn + kn2] + 1j * psi[2 * kn + kn2:]).reshape(N, N, K)
    return theta, tau, b


def psi_of(geom):
    b = geom.amplitudes.ravel()
    return np.concatenate([geom.angles_rad().ravel(), geom.delays_s().ravel(), b.real, b.imag])


def psi_steps(geom):
    N, K = geom.num_nodes, geom.num_targets
    beta = np.max(np.abs(geom.amplitudes))
    return np.concatenate([np.full(K * N, STEP_ANGLE_RAD), np.full(K * N, STEP_DELAY_S),
                           np.full(2 * K * N * N, STEP_AMPLITUDE_REL * beta)])


def mean_of_psi(geom, psi, frames):
    theta, tau, b = split_psi(psi, geom.num_nodes, geom.num_targets)
    return model.sensing_mean(theta, tau, b, frames, geom.rx_antennas, geom.bandwidth_hz)


def mean_of_theta(geom, targets_m, b, frames):
    theta = geometry.angles_rad(geom.node_positions_m, targets_m)
    tau = geometry.one_way_delays_s(geom.node_positions_m, targets_m)
    return model.sensing_mean(theta, tau, b, frames, geom.rx_antennas, geom.bandwidth_hz)


def finite_difference_derivatives(geom, frames):
    """∂μ/∂ψ_i by central differences of model.sensing_mean, shape (dim Ψ, N, Mr, L, P)."""
    psi, steps = psi_of(geom), psi_steps(geom)
    out = []
    for i, h in enumerate(steps):
        e = np.zeros_like(psi)
        e[i] = h
        out.append((mean_of_psi(geom, psi + e, frames) - mean_of_psi(geom, psi - e, frames)) / (2 * h))
    return np.stack(out)


def fim_from_derivatives(D, noise_power):
    D = D.reshape(D.shape[0], -1)
    return (2.0 / noise_power) * np.real(D.conj() @ D.T)


# ---- analytic vs finite differences (fixed symbols) ----------------------------------------------

def test_mean_derivatives_and_conditional_fim_match_finite_differences(scn):
    geom = fim.SensingGeometry.from_scenario(scn)
    rng = np.random.default_rng(11)
    frames = random_complex(rng, (scn.num_nodes, scn.tx_antennas, scn.subcarriers, 2))
    # the parameterisation itself reproduces the model
    np.testing.assert_allclose(mean_of_psi(geom, psi_of(geom), frames),
                               model.scenario_sensing_mean(scn, frames), rtol=1e-12, atol=0)
    D_fd = finite_difference_derivatives(geom, frames)
    D = fim.mean_derivatives(geom, frames)
    assert D.shape == D_fd.shape == (fim.psi_size(scn.num_nodes, scn.num_targets),) + D_fd.shape[1:]
    rel = np.linalg.norm((D - D_fd).reshape(len(D), -1), axis=1) / np.linalg.norm(D_fd.reshape(len(D), -1), axis=1)
    assert np.max(rel) < FD_RTOL, rel
    F = fim.conditional_fim_psi(geom, frames)
    assert normalised_error(F, fim_from_derivatives(D_fd, scn.noise_power)) < FD_RTOL


def test_chain_rule_matches_finite_differences_in_position(scn):
    """F(Θ) = J F(Ψ) J^T (eq. 11/13) against finite differences of μ in the target coordinates."""
    geom = fim.SensingGeometry.from_scenario(scn)
    rng = np.random.default_rng(12)
    frames = random_complex(rng, (scn.num_nodes, scn.tx_antennas, scn.subcarriers, 1))
    q = np.array(scn.target_positions_m, float)
    b = geom.amplitudes
    K = scn.num_targets
    columns = []
    for axis in range(2):  # x_1 … x_K, then y_1 … y_K (eq. 8)
        for k in range(K):
            e = np.zeros_like(q)
            e[k, axis] = STEP_POSITION_M
            columns.append((mean_of_theta(geom, q + e, b, frames) - mean_of_theta(geom, q - e, b, frames))
                           / (2 * STEP_POSITION_M))
    D_pos = np.stack(columns)
    D_amp = fim.mean_derivatives(geom, frames)[2 * K * scn.num_nodes:]  # b_R, b_I: identical in Ψ and Θ
    F_theta_fd = fim_from_derivatives(np.concatenate([D_pos, D_amp]), scn.noise_power)
    J = fim.jacobian_theta(geom)
    assert J.shape == (fim.theta_size(scn.num_nodes, K), fim.psi_size(scn.num_nodes, K))
    F_theta = J @ fim.conditional_fim_psi(geom, frames) @ J.T
    assert normalised_error(F_theta, F_theta_fd) < FD_RTOL


# ---- expected FIM vs Monte-Carlo over the symbols ------------------------------------------------

def monte_carlo_fim(geom, scn, Wc, Wr, draws, rng, phases=True, chunk=200):
    """Mean and standard error of the per-symbol conditional FIM over `draws` OFDM symbols.

    X_m = e^{jφ_m} (W_{c,m} S_c + W_{r,m} S_{r,m}) (eq. 1): S_c QPSK, the SAME at every node (CoMP);
    S_{r,m} unit complex Gaussian, independent between nodes; φ_m uniform, new for every symbol and node.
    """
    N, L, U = scn.num_nodes, scn.subcarriers, Wc.shape[-1]
    total = total_sq = 0.0
    done = 0
    while done < draws:
        P = min(chunk, draws - done)
        s_c = (rng.choice([-1.0, 1.0], (U, L, P)) + 1j * rng.choice([-1.0, 1.0], (U, L, P))) / np.sqrt(2)
        s_r = random_complex(rng, (N, Wr.shape[-1], L, P))
        X = np.einsum("nau,ulp->nalp", Wc, s_c) + np.einsum("naj,njlp->nalp", Wr, s_r)
        if phases:
            X = X * np.exp(2j * np.pi * rng.random((N, 1, 1, P)))
        D = fim.mean_derivatives(geom, X)  # (dim, N, Mr, L, P)
        D = D.reshape(D.shape[0], -1, P)
        per_symbol = (2.0 / geom.noise_power) * np.real(np.einsum("izp,jzp->pij", D.conj(), D, optimize=True))
        total = total + per_symbol.sum(axis=0)
        total_sq = total_sq + (per_symbol ** 2).sum(axis=0)
        done += P
    mean = total / draws
    std = np.sqrt(np.maximum(total_sq / draws - mean ** 2, 0.0) * draws / (draws - 1))
    return mean, std / np.sqrt(draws)


@pytest.mark.parametrize("name, draws", [("paper", 1000), ("random-N3-K2", 2000)])
def test_expected_fim_matches_monte_carlo_average(name, draws):
    scn = SCENARIOS[name]()
    geom = fim.SensingGeometry.from_scenario(scn)
    rng = np.random.default_rng(21)
    U = scn.num_users
    Wc = random_complex(rng, (scn.num_nodes, scn.tx_antennas, U))
    Wr = 0.5 * random_complex(rng, (scn.num_nodes, scn.tx_antennas, scn.tx_antennas))
    R = np.einsum("nau,nbu->nab", Wc, Wc.conj()) + np.einsum("naj,nbj->nab", Wr, Wr.conj())
    expected = fim.FimMap(geom).fim_psi(R)  # one symbol per snapshot: symbols_per_frame = 1 in both
    assert geom.symbols == 1
    mean, se = monte_carlo_fim(geom, scn, Wc, Wr, draws, rng)
    scale = np.sqrt(np.outer(np.diag(expected), np.diag(expected)))
    # Entries that are zero in every realisation (amplitudes of links with different receivers) have a
    # zero standard error; 1e-12 of the diagonal scale absorbs their rounding.
    z = np.abs(mean - expected) / (se + 1e-12 * scale)
    assert np.max(z) < MC_SIGMAS, np.max(z)
    # the comparison has power: every standard error is a small fraction of the scale of F
    assert np.max(se / scale) < 0.05

    # Without the independent phases the shared CoMP data correlates the nodes (E[x_m x_m'^H] =
    # W_{c,m} W_{c,m'}^H ≠ 0) and the block-diagonal map no longer holds: the same test must fail.
    mean_coherent, se_coherent = monte_carlo_fim(geom, scn, Wc, Wr, draws // 2, np.random.default_rng(22),
                                                 phases=False)
    z_coherent = np.abs(mean_coherent - expected) / (se_coherent + 1e-12 * scale)
    assert np.max(z_coherent) > 4 * MC_SIGMAS


def test_theta_map_reproduces_the_fim_on_real_and_imaginary_parts(scn):
    """The real coefficient tensors that the SDP uses give J F(Ψ) J^T for any Hermitian R."""
    geom = fim.SensingGeometry.from_scenario(scn)
    fmap = fim.FimMap(geom)
    rng = np.random.default_rng(31)
    A = random_complex(rng, (scn.num_nodes, scn.tx_antennas, scn.tx_antennas))
    R = A + np.conj(np.swapaxes(A, 1, 2))  # Hermitian, indefinite
    A_re, A_im = fmap.theta_map()
    via_map = np.einsum("mpqac,mac->pq", A_re, R.real) + np.einsum("mpqac,mac->pq", A_im, R.imag)
    reference = fmap.fim_theta(random_covariances(rng, scn))  # a PSD reference for the scale only
    d = np.sqrt(np.diag(reference))
    assert np.max(np.abs(via_map - fmap.fim_theta(R)) / np.outer(d, d)) < IDENTITY_RTOL
    # the map is linear: F(R1 + 2 R2) = F(R1) + 2 F(R2)
    R1, R2 = random_covariances(rng, scn), random_covariances(rng, scn)
    assert normalised_error(fmap.fim_psi(R1 + 2 * R2), fmap.fim_psi(R1) + 2 * fmap.fim_psi(R2)) < IDENTITY_RTOL


# The structured map (issue 16) against the dense reference: the same products of the same numbers, only
# summed in another order and without the exact zeros, so the difference is rounding: ≤ a few ulps of the
# entries on the unit-diagonal scale (observed ≤ 1e-15). 1e-12 leaves three orders of margin and fails for
# any misplaced block (an O(1) error on this scale).
STRUCTURED_RTOL = 1e-12


def test_structured_theta_map_equals_the_dense_einsum(scn):
    """theta_map() built from the arrow blocks (J's identity on the amplitudes) = the dense J·C·J^T, entry by
    entry on the unit-diagonal scale of F(Θ; R = I); and fim_psi link by link = the dense coefficient tensor."""
    geom = fim.SensingGeometry.from_scenario(scn)
    fmap = fim.FimMap(geom)
    structured = fmap.theta_map()
    dense = fmap.theta_map(method="einsum")
    d = 1.0 / np.sqrt(np.diag(fmap.fim_theta(fim.isotropic_covariances(scn.num_nodes, scn.tx_antennas, 1.0))))
    scale = np.outer(d, d)[None, :, :, None, None]
    for part_s, part_d in zip(structured, dense):
        assert part_s.shape == part_d.shape
        assert np.max(np.abs(part_s - part_d) * scale) < STRUCTURED_RTOL
        # the arrow: no coefficient between the amplitudes of two different links
        K, links = scn.num_targets, scn.num_nodes ** 2
        blocks = fmap.theta_blocks()
        for l1 in range(links):
            for l2 in range(links):
                if l1 != l2:
                    idx1, idx2 = blocks.amplitude_indices(l1), blocks.amplitude_indices(l2)
                    assert not np.any(part_d[:, idx1][:, :, idx2])
        assert K * links * 2 + 2 * K == part_s.shape[1]
    rng = np.random.default_rng(32)
    R = random_covariances(rng, scn)
    dense_psi = np.real(np.einsum("mijac,mca->ij", fmap.coefficients, R))
    assert normalised_error(fmap.fim_psi(R), dense_psi) < STRUCTURED_RTOL
    with pytest.raises(ValueError, match="'dense'"):
        fmap.theta_map(method="dense")


def test_structured_fim_theta_and_one_inverse_bounds_equal_the_dense_ones(scn):
    """fim_theta() through J's structure (eq. 13: identity on the amplitudes) = the dense J F(Ψ) J^T, and
    crbs_from_fim_theta (one inverse) = position_crb_from_fim_theta and paper_crb_from_fim_theta (issue 16: the
    design's warm path evaluates these twice per solve). Same products, other summation order: rounding only."""
    geom = fim.SensingGeometry.from_scenario(scn)
    fmap = fim.FimMap(geom)
    rng = np.random.default_rng(33)
    R = random_covariances(rng, scn)
    J = fmap.jacobian
    dense = J @ fmap.fim_psi(R) @ J.T
    structured = fmap.fim_theta(R)
    d = np.sqrt(np.diag(dense))
    assert np.max(np.abs(structured - dense) / np.outer(d, d)) < STRUCTURED_RTOL
    position, per_target, paper = fim.crbs_from_fim_theta(structured, scn.num_targets)
    expected_position, expected_per_target = fim.position_crb_from_fim_theta(dense, scn.num_targets)
    # inverses of the two matrices: their 1e-15 difference times the condition number (≲ 1e6 here)
    assert position == pytest.approx(expected_position, rel=1e-9)
    assert per_target == pytest.approx(expected_per_target, rel=1e-9)
    assert paper == pytest.approx(fim.paper_crb_from_fim_theta(dense), rel=1e-9)
    singular = np.zeros_like(dense)  # no information: every bound None, as from the two functions
    assert fim.crbs_from_fim_theta(singular, scn.num_targets) == (None, None, None)


# ---- the CRB report ------------------------------------------------------------------------------

def reparametrised_position_crb(F_psi, geom, keep):
    """Position CRB when only the `keep` parameters (angles or delays) are tied to the positions and every
    other parameter is a free nuisance: invert the FIM of [x, y, other parameters] and read its x,y block.
    (An independent route to the Schur-complement form used by fim.py.)"""
    dim = F_psi.shape[0]
    K = geom.num_targets
    J_full = fim.jacobian_theta(geom)
    rest = np.setdiff1d(np.arange(dim), keep)
    J = np.zeros((2 * K + len(rest), dim))
    J[:2 * K, keep] = J_full[:2 * K, keep]
    J[2 * K + np.arange(len(rest)), rest] = 1.0
    inv = np.linalg.inv(J @ F_psi @ J.T)
    return float(np.trace(inv[:2 * K, :2 * K]))


def test_crb_report_matches_direct_inversion():
    for scn in (SCENARIOS["paper"](), SCENARIOS["random-N3-K2"]()):
        geom = fim.SensingGeometry.from_scenario(scn)
        fmap = fim.FimMap(geom)
        R = random_covariances(np.random.default_rng(41), scn)
        report = fim.crb_report(geom, R, fmap)
        N, K = scn.num_nodes, scn.num_targets
        F_psi = fmap.fim_psi(R)
        inv = np.linalg.inv(fmap.fim_theta(R))
        per_target = np.diag(inv)[:K] + np.diag(inv)[K:2 * K]  # x_k and y_k variances (eq. 8 order)
        assert report.crb_position_per_target_m2 == pytest.approx(per_target, rel=IDENTITY_RTOL)
        assert report.crb_position_m2 == pytest.approx(per_target.sum(), rel=IDENTITY_RTOL)
        assert report.crb_paper == pytest.approx(np.trace(inv), rel=IDENTITY_RTOL)  # eq. (12)
        aoa = reparametrised_position_crb(F_psi, geom, np.arange(K * N))
        tof = reparametrised_position_crb(F_psi, geom, np.arange(K * N, 2 * K * N))
        assert report.crb_position_aoa_only_m2 == pytest.approx(aoa, rel=IDENTITY_RTOL)
        assert report.crb_position_tof_only_m2 == pytest.approx(tof, rel=IDENTITY_RTOL)
        # joint information is at least either kind alone, so its bound is the smallest
        assert report.crb_position_m2 < min(aoa, tof)
        assert report.notes == ()


def test_paper_isotropic_bounds_are_finite_and_ordered():
    scn = SCENARIOS["paper"]()
    geom = fim.SensingGeometry.from_scenario(scn)
    R = fim.isotropic_covariances(scn.num_nodes, scn.tx_antennas, scn.per_antenna_power)
    np.testing.assert_array_equal(R[1], scn.per_antenna_power * np.eye(scn.tx_antennas))
    report = fim.crb_report(geom, R)
    values = [report.crb_position_m2, report.crb_paper, report.crb_position_aoa_only_m2,
              report.crb_position_tof_only_m2, *report.crb_position_per_target_m2]
    assert all(np.isfinite(v) and v > 0 for v in values)
    # the paper objective adds the amplitude variances to the position ones
    assert report.crb_paper > report.crb_position_m2


def test_single_node_has_only_the_monostatic_link():
    scn = SCENARIOS["single-node"]()
    geom = fim.SensingGeometry.from_scenario(scn)
    K = scn.num_targets
    assert fim.psi_size(1, K) == 4 * K and fim.theta_size(1, K) == 4 * K  # θ, τ, b_R, b_I of one link
    fmap = fim.FimMap(geom)
    assert fmap.coefficients.shape[:3] == (1, 4 * K, 4 * K)
    report = fim.crb_report(geom, fim.isotropic_covariances(1, scn.tx_antennas, scn.per_antenna_power), fmap)
    assert np.isfinite(report.crb_position_m2) and np.isfinite(report.crb_paper)
    # one node: an angle gives a bearing line, a range a circle; neither alone fixes a position
    assert report.crb_position_aoa_only_m2 is None and report.crb_position_tof_only_m2 is None
    assert any("AOA-only" in note and "one node" in note for note in report.notes)
    assert any("TOF-only" in note and "one node" in note for note in report.notes)


def test_unbounded_cases_give_none_not_errors():
    scn = SCENARIOS["paper"]()
    geom = fim.SensingGeometry.from_scenario(scn)
    silent = fim.crb_report(geom, np.zeros((scn.num_nodes, scn.tx_antennas, scn.tx_antennas)))
    assert silent.crb_position_m2 is None and silent.crb_position_per_target_m2 is None
    assert silent.crb_paper is None and silent.crb_position_aoa_only_m2 is None
    assert silent.crb_position_tof_only_m2 is None
    assert any("joint bound unbounded" in note for note in silent.notes)

    # Two nodes on the x axis and a target between them: both bearings lie along the axis (angles say
    # nothing about x) and both range circles are tangent to it there (ranges say nothing about y), so
    # each kind alone leaves a direction unfixed, while together they fix the position.
    inline = scn.replace(node_positions_m=[[-100.0, 0.0], [100.0, 0.0]], target_positions_m=[[20.0, 0.0]])
    inline_geom = fim.SensingGeometry.from_scenario(inline)
    report = fim.crb_report(inline_geom, fim.isotropic_covariances(2, inline.tx_antennas, 1.0))
    assert report.crb_position_aoa_only_m2 is None and report.crb_position_tof_only_m2 is None
    assert report.crb_position_m2 is not None and np.isfinite(report.crb_position_m2)
    assert any("bearing lines do not fix" in note for note in report.notes)
    assert any("ellipses do not fix" in note for note in report.notes)


def test_singular_to_working_precision_is_unbounded():
    """A rank-deficient F(Θ) whose null eigenvalue comes out as +1e-13 of the largest through rounding is
    reported as unbounded (None), not as a huge number; a merely ill-conditioned one (1e-6) is finite."""
    rng = np.random.default_rng(61)
    K = 2
    basis = np.linalg.qr(rng.standard_normal((4 * K, 4 * K)))[0]
    for smallest, bounded in ((1e-13, False), (1e-6, True)):
        eigenvalues = np.linspace(1.0, 2.0, 4 * K)
        eigenvalues[0] = smallest
        F = (basis * eigenvalues) @ basis.T
        total, per_target = fim.position_crb_from_fim_theta(F, K)
        assert (total is not None) == bounded
        assert (fim.paper_crb_from_fim_theta(F) is not None) == bounded
        if bounded:
            assert total == pytest.approx(np.trace(np.linalg.inv(F)[:2 * K, :2 * K]), rel=IDENTITY_RTOL)


# ---- invariances ---------------------------------------------------------------------------------

def all_bounds(scn, R):
    report = fim.crb_report(fim.SensingGeometry.from_scenario(scn), R)
    return np.array([report.crb_position_m2, report.crb_paper, report.crb_position_aoa_only_m2,
                     report.crb_position_tof_only_m2, *report.crb_position_per_target_m2], float)


@pytest.mark.parametrize("name", ["paper", "random-N3-K2"])
def test_translation_noise_and_symbol_invariances(name):
    scn = SCENARIOS[name]()
    R = random_covariances(np.random.default_rng(51), scn, rank=2)
    base = all_bounds(scn, R)
    assert np.all(np.isfinite(base))

    shift = np.array([1234.5, -678.25])  # the whole scene: nodes, targets and users
    moved = scn.replace(node_positions_m=scn.node_positions_m + shift,
                        target_positions_m=scn.target_positions_m + shift,
                        user_positions_m=scn.user_positions_m + shift)
    np.testing.assert_allclose(all_bounds(moved, R), base, rtol=IDENTITY_RTOL)

    # Scenario.replace keeps the resolved amplitude β, so only σ² changes: every bound scales as σ²
    # (the paper objective too: the whole F(Θ) scales as 1/σ²)
    noisier = scn.replace(noise_power=3.0 * scn.noise_power)
    np.testing.assert_allclose(all_bounds(noisier, R), 3.0 * base, rtol=IDENTITY_RTOL)

    # P independent symbols per snapshot: P times the information
    longer = scn.replace(symbols_per_frame=4)
    np.testing.assert_allclose(all_bounds(longer, R), base / 4.0, rtol=IDENTITY_RTOL)
