# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""The FIM of P symbols with moving targets (core/fim_motion.py; docs/fim-derivation.md §9; SPEC15 §1).

Proved against a moving-scene mean written here from the noiseless model of eq. (3)/(5) (core/model.py: symbol p
of the echo tx m → k → rx n carries e^{j2π f t_p}, f = −(u_m + u_n)·v/λ), not against fim_motion itself:
- the Doppler against a finite difference in time of the bistatic range (its definition);
- the derivatives of the mean in Θ_v = [x, y, v_x, v_y, b] and Θ_f = [x, y, b, f] against central finite differences,
  and the conditional FIMs built from them;
- the expected FIM (data independent per symbol, eq. 16's expectation) against the same finite differences applied to
  frames whose sum of outer products is exactly R_m (an exact, not statistical, check of the expectation algebra),
  and against a Monte-Carlo mean of conditional FIMs at P = 4 (shared CoMP data, a phase per node and frame);
- the reductions: v = 0 gives today's FIM (core.fim) with P symbols for every P, P = 1 gives today's bound;
  the nesting of the models (velocity as a parameter ≤ Doppler as a free nuisance);
- the SDR design at P = 4 against P = 1 (the objective scales by 1/P: the same precoders, a 1/P bound), in core and
  through the beamformer service.
Times: most checks use symbols spaced 1 ms apart so that the Doppler phases are O(1) rad over the frame (with the
real 3.6 µs spacing they are ~1e-3 rad and a wrong Doppler term would hide in the tolerances); the reductions and the
design use the real layout.
"""

import copy
import dataclasses
import json

import air_helpers
from air_helpers import normalised_error, random_complex, random_covariances
import numpy as np
import pytest

from gnuradio.disac.core import beamformer, bf_service, fim, fim_motion, geometry, model, ofdm, scenario

# Central differences, as tests/test_fim.py (truncation (ωh)²/6, rounding eps·|phase|/(ωh)):
#   position 1e-4 m: ω ≤ ~1 rad/m (angles, delays) + 2π t_max |∂f/∂q| ≈ 2π·4e-3·(2·15/(λ·50)) ≈ 0.2 rad/m → ≈ 2e-9
#   velocity 1e-4 m/s: ω = 2π t_max·2/λ ≈ 2π·4e-3·23 ≈ 0.6 rad/(m/s) → ≈ 6e-10; rounding ≈ 6·1e-16/6e-5 ≈ 1e-11
#   Doppler 1e-3 Hz: ω = 2π t_max ≈ 0.025 rad/Hz → ≈ 1e-10; rounding ≈ 6·1e-16/2.5e-5 ≈ 2.4e-11
#   amplitude 1e-3·β: μ is linear in b, rounding only
STEP_POSITION_M, STEP_VELOCITY_MPS, STEP_DOPPLER_HZ, STEP_AMPLITUDE_REL = 1e-4, 1e-4, 1e-3, 1e-3
# As tests/test_fim.py: errors above ≤ ~1e-7, so 1e-5 passes with margin and fails for any wrong factor or term.
FD_RTOL = 1e-5
# Floating-point identities (the same algebra summed differently, Schur complements on the unit-diagonal scale of
# FIMs with condition numbers ≲ 1e6 after scaling): ≲ 1e-10 observed; 1e-8 has margin, an O(1) error fails.
IDENTITY_RTOL = 1e-8
# Monte-Carlo, as tests/test_fim.py: each entry within 5 of its own standard errors (seeded, deterministic).
MC_SIGMAS = 5.0
CARRIER_HZ = fim_motion.DEFAULT_CARRIER_HZ


def spread_times_s(P):
    """Symbols 1 ms apart, the first 0.5 ms after the frame start: Doppler phases of O(1) rad at 10 m/s."""
    return 0.5e-3 + 1e-3 * np.arange(P)


def velocities_for(scn, speed_mps, seed=5):
    rng = np.random.default_rng(seed)
    heading = 2 * np.pi * rng.random(scn.num_targets)
    return speed_mps * np.stack([np.cos(heading), np.sin(heading)], axis=-1)


SCENARIOS = {
    "paper": lambda: scenario.load_scenario("paper"),
    "single-node": lambda: scenario.load_scenario("fig5-single-m6"),
    "random-N3-K2": lambda: air_helpers.random_scenario(3),
}


@pytest.fixture(scope="module", params=list(SCENARIOS))
def scn(request):
    return SCENARIOS[request.param]()


def geometry_of(scn, P):
    return dataclasses.replace(fim.SensingGeometry.from_scenario(scn), symbols=P)


# ---- the moving-scene mean, written from model.sensing_mean -------------------------------------------------

def doppler_of(nodes_m, targets_m, velocities_mps):
    """f[n, m, k] = −(d/dt)(‖q_k − p_m‖ + ‖q_k − p_n‖)/λ, as the chain rule of the ranges (SPEC15 §0)."""
    diff = targets_m[None] - nodes_m[:, None]
    unit = diff / np.linalg.norm(diff, axis=-1, keepdims=True)
    rate = np.sum(unit * velocities_mps[None], axis=-1)  # (N, K)
    return -(rate[:, None] + rate[None, :]) / (geometry.SPEED_OF_LIGHT_M_S / CARRIER_HZ)


def moving_mean(geom, targets_m, amplitudes, frames, times_s, velocities_mps=None, doppler_hz=None):
    """μ (N, Mr, L, P): eq. (5) per symbol p with b_{n,m}^k e^{j2π f_{n,m}^k t_p}; f from the velocities or given."""
    nodes = geom.node_positions_m
    theta = geometry.angles_rad(nodes, targets_m)
    tau = geometry.one_way_delays_s(nodes, targets_m)
    f = doppler_of(nodes, targets_m, velocities_mps) if doppler_hz is None else doppler_hz
    return np.stack([model.sensing_mean(theta, tau, amplitudes * np.exp(2j * np.pi * f * t), frames[..., p],
                                        geom.rx_antennas, geom.bandwidth_hz)
                     for p, t in enumerate(times_s)], axis=-1)


def central_difference(function, x, step):
    out = []
    for i in range(x.size):
        e = np.zeros_like(x)
        e.flat[i] = step
        out.append((function(x + e) - function(x - e)) / (2 * step))
    return out


def fd_derivatives_velocity(geom, frames, times, v):
    """∂μ/∂Θ_v by central differences: x (K), y (K), v_x (K), v_y (K), b_R, b_I."""
    q, b = np.array(geom.target_positions_m, float), geom.amplitudes
    beta = np.max(np.abs(b))

    def of_positions(flat):  # flat = [x_1 … x_K, y_1 … y_K]
        return moving_mean(geom, flat.reshape(2, -1).T, b, frames, times, velocities_mps=v)

    def of_velocities(flat):
        return moving_mean(geom, q, b, frames, times, velocities_mps=flat.reshape(2, -1).T)

    def of_amplitudes(flat):
        half = flat.size // 2
        return moving_mean(geom, q, (flat[:half] + 1j * flat[half:]).reshape(b.shape), frames, times,
                           velocities_mps=v)

    columns = central_difference(of_positions, q.T.ravel(), STEP_POSITION_M)
    columns += central_difference(of_velocities, v.T.ravel(), STEP_VELOCITY_MPS)
    columns += central_difference(of_amplitudes, np.concatenate([b.real.ravel(), b.imag.ravel()]),
                                  STEP_AMPLITUDE_REL * beta)
    return np.stack(columns)


def fd_derivatives_doppler(geom, frames, times, v):
    """∂μ/∂Θ_f by central differences: x, y (f held at its value), b_R, b_I, f (per link and target)."""
    q, b = np.array(geom.target_positions_m, float), geom.amplitudes
    f0 = doppler_of(geom.node_positions_m, q, v)
    beta = np.max(np.abs(b))

    def of_positions(flat):
        return moving_mean(geom, flat.reshape(2, -1).T, b, frames, times, doppler_hz=f0)

    def of_amplitudes(flat):
        half = flat.size // 2
        return moving_mean(geom, q, (flat[:half] + 1j * flat[half:]).reshape(b.shape), frames, times, doppler_hz=f0)

    def of_doppler(flat):
        return moving_mean(geom, q, b, frames, times, doppler_hz=flat.reshape(f0.shape))

    columns = central_difference(of_positions, q.T.ravel(), STEP_POSITION_M)
    columns += central_difference(of_amplitudes, np.concatenate([b.real.ravel(), b.imag.ravel()]),
                                  STEP_AMPLITUDE_REL * beta)
    columns += central_difference(of_doppler, f0.ravel(), STEP_DOPPLER_HZ)
    return np.stack(columns)


def gram(D, noise_power):
    D = D.reshape(D.shape[0], -1)
    return (2.0 / noise_power) * np.real(D.conj() @ D.T)


def analytic_derivatives(motion, frames, kind):
    D = motion.mean_derivatives_psi(frames)
    flat = D.reshape(D.shape[0], -1)
    if kind == "velocity":
        J = motion.jacobian_velocity
    else:
        J_static = fim.jacobian_theta(motion.geom)
        nf = fim_motion.doppler_size(motion.geom.num_nodes, motion.geom.num_targets)
        J = np.zeros((J_static.shape[0] + nf, flat.shape[0]))
        J[:J_static.shape[0], :J_static.shape[1]] = J_static
        J[J_static.shape[0]:, J_static.shape[1]:] = np.eye(nf)
    return (J @ flat).reshape((J.shape[0],) + D.shape[1:])


# ---- the Doppler and the symbol times ---------------------------------------------------------------------

def test_bistatic_doppler_is_the_rate_of_the_bistatic_range_over_lambda(scn):
    """f = −(d/dt)(‖q − p_m‖ + ‖q − p_n‖)/λ (SPEC15 §0), by a central difference in time of the moving target's
    ranges (h = 1e-3 s: third-order error ~ v³h²/r² ≈ 1e-10 m/s here, rounding ~1e-13·r/h ≈ 2e-11 m/s)."""
    v = velocities_for(scn, 10.0)
    q = np.array(scn.target_positions_m, float)
    lam = geometry.SPEED_OF_LIGHT_M_S / CARRIER_HZ
    h = 1e-3

    def bistatic_range(t):
        d = geometry.distances_m(scn.node_positions_m, q + v * t)  # (N, K)
        return d[:, None, :] + d[None, :, :]

    expected = -(bistatic_range(h) - bistatic_range(-h)) / (2 * h) / lam
    got = fim_motion.bistatic_doppler_hz(scn.node_positions_m, q, v, CARRIER_HZ)
    assert got.shape == (scn.num_nodes, scn.num_nodes, scn.num_targets)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)  # Hz; |f| up to 2·10/λ ≈ 233 Hz
    # a target moving away from every node lowers the frequency; reciprocity f_nm = f_mn
    away = (q - np.mean(scn.node_positions_m, axis=0))
    away = 5.0 * away / np.linalg.norm(away, axis=-1, keepdims=True)
    if scn.num_nodes == 1:
        assert np.all(fim_motion.bistatic_doppler_hz(scn.node_positions_m, q, away, CARRIER_HZ) < 0)
    np.testing.assert_array_equal(got, np.swapaxes(got, 0, 1))


def test_symbol_times_follow_the_frame_layout():
    """t_p = (front symbols + p)·(L + CP)/B: the paper layout (1 preamble, 1 pilot, L = 16, CP = 20, B = 10 MHz)."""
    paper = scenario.load_scenario("paper")
    times = fim_motion.scenario_symbol_times_s(paper, symbols=4)
    np.testing.assert_allclose(times, (2 + np.arange(4)) * 36 / 10e6, rtol=1e-15)
    layout = ofdm.layout_from_scenario(paper.replace(symbols_per_frame=4))
    np.testing.assert_allclose(fim_motion.data_symbol_times_s(layout, paper.bandwidth_hz), times, rtol=1e-15)
    # the data symbols start where the layout says, in samples
    np.testing.assert_allclose(times * paper.bandwidth_hz, layout.front_len + layout.symbol_len * np.arange(4))


# ---- derivatives and conditional FIMs against finite differences ---------------------------------------------

@pytest.mark.parametrize("kind", ["velocity", "doppler"])
def test_mean_derivatives_and_conditional_fim_match_finite_differences(scn, kind):
    P = 3
    geom = geometry_of(scn, P)
    v = velocities_for(scn, 10.0)
    times = spread_times_s(P)
    frames = random_complex(np.random.default_rng(11), (scn.num_nodes, scn.tx_antennas, scn.subcarriers, P))
    motion = fim_motion.MotionFimMap(geom, v, CARRIER_HZ, times)
    # the written mean is the static model at v = 0 (and the Doppler phases are O(1) rad here)
    np.testing.assert_allclose(moving_mean(geom, np.array(scn.target_positions_m), geom.amplitudes, frames, times,
                                           velocities_mps=np.zeros_like(v)),
                               model.scenario_sensing_mean(scn, frames), rtol=1e-12, atol=0)
    assert np.max(np.abs(2 * np.pi * motion.doppler_hz * times[-1])) > 1.0
    D_fd = (fd_derivatives_velocity if kind == "velocity" else fd_derivatives_doppler)(geom, frames, times, v)
    D = analytic_derivatives(motion, frames, kind)
    assert D.shape == D_fd.shape
    norm = np.linalg.norm(D_fd.reshape(len(D), -1), axis=1)
    rel = np.linalg.norm((D - D_fd).reshape(len(D), -1), axis=1) / norm
    assert np.max(rel) < FD_RTOL, rel
    F_fd = gram(D_fd, scn.noise_power)
    if kind == "velocity":
        assert normalised_error(motion.conditional_fim_position_velocity(frames), F_fd) < FD_RTOL
    else:
        assert normalised_error(gram(D, scn.noise_power), F_fd) < FD_RTOL


@pytest.mark.parametrize("kind", ["velocity", "doppler"])
def test_expected_fim_is_the_finite_difference_fim_of_frames_that_carry_R_exactly(scn, kind):
    """The expected FIM with E[x_m x_m'^H] = R_m δ_mm' on every RE is linear in the outer products: it equals the sum,
    over the nodes m and the columns r of a factor of R_m = Σ_r r r^H, of the conditional FIM of frames in which only
    node m sends, r on every RE. Each of these is taken from finite differences of the written mean: an exact check of
    the expectation over independent symbols (no Monte-Carlo), with the Doppler phases at O(1) rad."""
    P = 3
    geom = geometry_of(scn, P)
    v = velocities_for(scn, 10.0)
    times = spread_times_s(P)
    R = random_covariances(np.random.default_rng(12), scn, rank=2)
    motion = fim_motion.MotionFimMap(geom, v, CARRIER_HZ, times)
    F_fd = 0.0
    for m in range(scn.num_nodes):
        eigenvalues, vectors = np.linalg.eigh(R[m])
        for value, vector in zip(eigenvalues, vectors.T):
            if value <= 1e-12 * eigenvalues[-1]:
                continue  # rank 2: the other directions carry nothing
            frames = np.zeros((scn.num_nodes, scn.tx_antennas, scn.subcarriers, P), complex)
            frames[m] = np.sqrt(value) * vector[:, None, None]
            derivatives = (fd_derivatives_velocity if kind == "velocity" else fd_derivatives_doppler)
            F_fd = F_fd + gram(derivatives(geom, frames, times, v), scn.noise_power)
    expected = motion.fim_position_velocity(R) if kind == "velocity" else motion.fim_theta_doppler(R)
    assert expected.shape == F_fd.shape
    assert normalised_error(expected, F_fd) < FD_RTOL


# ---- the expected FIM against Monte-Carlo at P = 4 ---------------------------------------------------------

def monte_carlo_fims(scn, v, times, Wc, Wr, frames, rng, phases=True, chunk=250):
    """Mean and standard error of the conditional F(Θ_v) over ``frames`` frames of P symbols.

    X_m = e^{jφ_m}(W_c,m S_c + W_r,m S_r,m) (eq. 1): S_c QPSK, the SAME at every node (CoMP), new on every RE (data
    independent from symbol to symbol); S_r,m unit complex Gaussian, independent between nodes; φ_m uniform, one per
    node and FRAME (the oscillator phase holds for the whole frame). ``chunk`` frames are evaluated as one long frame
    of chunk·P symbols (the derivative at symbol (b, p) depends on t_p only), then split into per-frame FIMs."""
    P = len(times)
    N, L, U = scn.num_nodes, scn.subcarriers, Wc.shape[-1]
    total = total_sq = 0.0
    done = 0
    while done < frames:
        B = min(chunk, frames - done)
        long_geom = geometry_of(scn, B * P)
        motion = fim_motion.MotionFimMap(long_geom, v, CARRIER_HZ, np.tile(times, B))
        s_c = (rng.choice([-1.0, 1.0], (U, L, B * P)) + 1j * rng.choice([-1.0, 1.0], (U, L, B * P))) / np.sqrt(2)
        s_r = random_complex(rng, (N, Wr.shape[-1], L, B * P))
        X = np.einsum("nau,ulp->nalp", Wc, s_c) + np.einsum("naj,njlp->nalp", Wr, s_r)
        if phases:
            X = X * np.repeat(np.exp(2j * np.pi * rng.random((N, 1, 1, B))), P, axis=-1)
        D = motion.mean_derivatives_psi(X)
        D = np.tensordot(motion.jacobian_velocity, D.reshape(D.shape[0], -1), axes=1)
        D = D.reshape(D.shape[0], -1, B, P).transpose(2, 0, 1, 3).reshape(B, D.shape[0], -1)  # (frame, dim, ·)
        per_frame = (2.0 / scn.noise_power) * np.real(D.conj() @ D.transpose(0, 2, 1))
        total = total + per_frame.sum(axis=0)
        total_sq = total_sq + (per_frame ** 2).sum(axis=0)
        done += B
    mean = total / frames
    std = np.sqrt(np.maximum(total_sq / frames - mean ** 2, 0.0) * frames / (frames - 1))
    return mean, std / np.sqrt(frames)


def test_expected_fim_matches_monte_carlo_of_conditional_fims_at_four_symbols():
    """F(Θ_v) (the expectation over data independent per symbol, eq. 16's block-diagonal covariances) = the mean of
    the conditional FIMs of frames of P = 4 symbols, each entry within MC_SIGMAS of its standard error. The same
    frames without the oscillator phases (CoMP data correlates the nodes), and the FIM of a model without the Doppler
    rotation (the kernel at v = 0, same Jacobian otherwise), are both rejected: the comparison has power."""
    scn = air_helpers.random_scenario(3)
    P = 4
    v = velocities_for(scn, 10.0)
    times = spread_times_s(P)
    rng = np.random.default_rng(21)
    U = scn.num_users
    Wc = random_complex(rng, (scn.num_nodes, scn.tx_antennas, U))
    Wr = 0.5 * random_complex(rng, (scn.num_nodes, scn.tx_antennas, scn.tx_antennas))
    R = np.einsum("nau,nbu->nab", Wc, Wc.conj()) + np.einsum("naj,nbj->nab", Wr, Wr.conj())
    motion = fim_motion.MotionFimMap(geometry_of(scn, P), v, CARRIER_HZ, times)
    expected = motion.fim_position_velocity(R)
    mean, se = monte_carlo_fims(scn, v, times, Wc, Wr, 2000, rng)
    scale = np.sqrt(np.outer(np.diag(expected), np.diag(expected)))
    # entries zero in every realisation (amplitudes of links with different receivers) have zero standard error;
    # 1e-12 of the diagonal scale absorbs their rounding
    z = np.abs(mean - expected) / (se + 1e-12 * scale)
    assert np.max(z) < MC_SIGMAS, np.max(z)
    assert np.max(se / scale) < 0.05  # every standard error is a small fraction of the scale of F

    coherent, se_coherent = monte_carlo_fims(scn, v, times, Wc, Wr, 1000, np.random.default_rng(22), phases=False)
    assert np.max(np.abs(coherent - expected) / (se_coherent + 1e-12 * scale)) > 4 * MC_SIGMAS
    # the Doppler rotation matters: the same J_v with the kernel of v = 0 misses the Monte-Carlo mean
    unrotated = fim_motion.MotionFimMap(geometry_of(scn, P), np.zeros_like(v), CARRIER_HZ, times)
    unrotated.jacobian_velocity = motion.jacobian_velocity
    assert np.max(np.abs(mean - unrotated.fim_position_velocity(R)) / (se + 1e-12 * scale)) > 4 * MC_SIGMAS


# ---- reductions to today's FIM -----------------------------------------------------------------------------

@pytest.mark.parametrize("P", [1, 2, 5])
def test_static_targets_give_todays_fim_with_p_symbols(scn, P):
    """v = 0: every Doppler is 0, the Θ block of F(Θ_v) is core.fim's F(Θ) with P symbols (= P × one symbol), and
    both motion bounds on the position equal today's (the velocity / Doppler direction of a static target is
    (t_p − t̄)·(the phase of b): uncorrelated with everything that does not change from symbol to symbol)."""
    geom = geometry_of(scn, P)
    times = spread_times_s(P)  # any times (the random scenario's layout needs P ≥ 2 for its radar streams)
    R = random_covariances(np.random.default_rng(31), scn)
    K, N = scn.num_targets, scn.num_nodes
    motion = fim_motion.MotionFimMap(geom, np.zeros((K, 2)), CARRIER_HZ, times)
    F_v = motion.fim_position_velocity(R)
    assert F_v.shape == (fim_motion.theta_velocity_size(N, K),) * 2
    theta_rows = np.concatenate([np.arange(2 * K), np.arange(4 * K, F_v.shape[0])])
    today = fim.FimMap(geom).fim_theta(R)
    one_symbol = fim.FimMap(dataclasses.replace(geom, symbols=1)).fim_theta(R)
    assert normalised_error(F_v[np.ix_(theta_rows, theta_rows)], today) < IDENTITY_RTOL
    assert normalised_error(today, P * one_symbol) < IDENTITY_RTOL
    F_f = motion.fim_theta_doppler(R)
    dim = fim.theta_size(N, K)
    assert normalised_error(F_f[:dim, :dim], today) < IDENTITY_RTOL
    static = fim.crb_report(geom, R).crb_position_m2
    crb = motion.position_velocity_crb(R)
    assert crb.position_m2 == pytest.approx(static, rel=IDENTITY_RTOL)
    assert fim_motion.position_crb_doppler_nuisance_m2(geom, R, np.zeros((K, 2)), CARRIER_HZ, times) == \
        pytest.approx(static, rel=IDENTITY_RTOL)
    if P == 1:  # one symbol: its Doppler phase is one more phase of b, no velocity information at all
        assert crb.velocity_m2_per_s2 is None and crb.matrix is None
    elif N == 1:  # one node sees the radial velocity only (f = −2u·v/λ): the transverse one is unbounded
        assert crb.velocity_m2_per_s2 is None
    else:
        assert crb.velocity_m2_per_s2 > 0 and crb.matrix.shape == (4 * K, 4 * K)


def test_one_symbol_gives_todays_bound_at_the_rotated_amplitudes(scn):
    """P = 1, moving targets: the mean is today's with b e^{j2π f t_0}, and a free Doppler (or velocity) adds nothing
    one symbol can tell from b's phase: the position CRB with the Doppler as nuisance is today's CRB at the rotated
    amplitudes (at t_0 = 0: exactly today's), and the velocity is not identifiable."""
    geom = geometry_of(scn, 1)
    R = random_covariances(np.random.default_rng(32), scn)
    v = velocities_for(scn, 10.0)
    t0 = np.array([2.5e-3])  # large, so that the rotation is O(1) rad
    f = fim_motion.bistatic_doppler_hz(geom.node_positions_m, geom.target_positions_m, v, CARRIER_HZ)
    rotated = dataclasses.replace(geom, amplitudes=geom.amplitudes * np.exp(2j * np.pi * f * t0[0]))
    assert np.max(np.abs(2 * np.pi * f * t0[0])) > 1.0
    nuisance = fim_motion.position_crb_doppler_nuisance_m2(geom, R, v, CARRIER_HZ, t0)
    assert nuisance == pytest.approx(fim.crb_report(rotated, R).crb_position_m2, rel=IDENTITY_RTOL)
    at_start = fim_motion.position_crb_doppler_nuisance_m2(geom, R, v, CARRIER_HZ, [0.0])
    assert at_start == pytest.approx(fim.crb_report(geom, R).crb_position_m2, rel=IDENTITY_RTOL)
    assert fim_motion.position_velocity_crb(geom, R, v, CARRIER_HZ, t0).velocity_m2_per_s2 is None


def test_velocity_as_a_parameter_bounds_below_a_free_doppler(scn):
    """f = f(q, v) is a sub-model of a free per-link Doppler, so the position CRB with the velocity unknown is ≤ the
    one with every Doppler unknown (and both ≥ the CRB with the motion known, F(Θ) of the moving mean with v fixed).
    The Schur complement of [b; f] equals the position block of the inverse of F(Θ_f) when it is regular."""
    P = 4
    geom = geometry_of(scn, P)
    R = random_covariances(np.random.default_rng(33), scn)
    v = velocities_for(scn, 10.0)
    motion = fim_motion.MotionFimMap(geom, v, CARRIER_HZ, spread_times_s(P))
    K = scn.num_targets
    with_velocity = motion.position_velocity_crb(R)
    with_doppler, per_target = motion.position_crb_doppler_nuisance_m2(R)
    F_v = motion.fim_position_velocity(R)
    rows = np.concatenate([np.arange(2 * K), np.arange(4 * K, F_v.shape[0])])
    known_motion, _ = fim.position_crb_from_fim_theta(F_v[np.ix_(rows, rows)], K)
    assert known_motion <= with_velocity.position_m2 * (1 + IDENTITY_RTOL)
    assert with_velocity.position_m2 <= with_doppler * (1 + IDENTITY_RTOL)
    inv = np.linalg.inv(motion.fim_theta_doppler(R))
    direct = np.diag(inv)[:K] + np.diag(inv)[K:2 * K]
    assert per_target == pytest.approx(direct, rel=1e-7)  # two routes through condition numbers ≲ 1e8
    if scn.num_nodes == 1:  # one Doppler per target for two velocity components: unbounded, said so
        assert with_velocity.velocity_m2_per_s2 is None and with_velocity.matrix is None
        return
    inv_v = np.linalg.inv(F_v)
    assert with_velocity.velocity_per_target_m2_per_s2 == pytest.approx(
        np.diag(inv_v)[2 * K:3 * K] + np.diag(inv_v)[3 * K:4 * K], rel=1e-7)
    np.testing.assert_allclose(with_velocity.matrix, inv_v[:4 * K, :4 * K], rtol=1e-6,
                               atol=1e-9 * np.max(np.abs(inv_v[:4 * K, :4 * K])))
    np.testing.assert_allclose(np.linalg.inv(motion.position_velocity_information(R)), with_velocity.matrix,
                               rtol=1e-6, atol=1e-9 * np.max(np.abs(with_velocity.matrix)))


def test_single_static_target_velocity_bound_has_the_closed_form():
    """One static target: after eliminating b, the velocity information is (2/σ²)(2π/λ)² Σ_p (t_p − t̄)² ·
    Σ_{n,m} |b|²·Mr·L·a_t^T R_m a_t^* · (u_m + u_n)(u_m + u_n)^T (docs/fim-derivation.md §9): the Doppler phase
    against time, the frame's spread of symbol times, the per-link SNR and the bistatic geometry."""
    scn = scenario.load_scenario("fig4")  # N = 2, K = 1
    P = 6
    geom = geometry_of(scn, P)
    times = fim_motion.scenario_symbol_times_s(scn, symbols=P)
    R = random_covariances(np.random.default_rng(34), scn)
    crb = fim_motion.position_velocity_crb(geom, R, np.zeros((1, 2)), CARRIER_HZ, times)
    lam = geometry.SPEED_OF_LIGHT_M_S / CARRIER_HZ
    q = np.array(scn.target_positions_m[0], float)
    unit = (q - scn.node_positions_m) / np.linalg.norm(q - scn.node_positions_m, axis=-1, keepdims=True)
    theta = geom.angles_rad()[:, 0]
    information = np.zeros((2, 2))
    for n in range(scn.num_nodes):
        for m in range(scn.num_nodes):
            a_t = geometry.ula_steering(theta[m], scn.tx_antennas)
            power = np.real(a_t @ R[m] @ a_t.conj())
            g = unit[m] + unit[n]
            information += np.abs(geom.amplitudes[n, m, 0]) ** 2 * scn.rx_antennas * scn.subcarriers * power * \
                np.outer(g, g)
    information *= (2 / scn.noise_power) * (2 * np.pi / lam) ** 2 * np.sum((times - times.mean()) ** 2)
    assert crb.velocity_m2_per_s2 == pytest.approx(np.trace(np.linalg.inv(information)), rel=1e-9)


def test_bad_input_is_refused_with_the_value():
    scn = scenario.load_scenario("paper")
    geom = geometry_of(scn, 2)
    R = fim.isotropic_covariances(2, 6, 1.0)
    times = fim_motion.scenario_symbol_times_s(scn, symbols=2)
    with pytest.raises(ValueError, match=r"(?s)velocities_mps = .*K × 2 = 2 × 2"):
        fim_motion.position_velocity_fim(geom, R, np.zeros((3, 2)), CARRIER_HZ, times)
    with pytest.raises(ValueError, match="velocities_mps"):
        fim_motion.position_velocity_fim(geom, R, [[0, np.nan], [0, 0]], CARRIER_HZ, times)
    with pytest.raises(ValueError, match=r"carrier_hz = -1"):
        fim_motion.position_velocity_fim(geom, R, np.zeros((2, 2)), -1, times)
    with pytest.raises(ValueError, match="3 times but the geometry has symbols = 2"):
        fim_motion.position_velocity_fim(geom, R, np.zeros((2, 2)), CARRIER_HZ, [0.0, 1e-6, 2e-6])
    with pytest.raises(ValueError, match="symbol_times_s"):
        fim_motion.position_velocity_fim(geom, R, np.zeros((2, 2)), CARRIER_HZ, [[0.0, 1.0]])


# ---- the SDR design counts P ---------------------------------------------------------------------------------

# The design at P symbols: F(Θ) = P·F₁(Θ), and the solver's data are congruence-scaled by diag(F(P_T·I))^{-1/2}
# (core.beamformer), so the scaled F is the same for every P and only the objective scales, by 1/P: the optimal
# covariances are the same and the bound is 1/P. Numerically the solver stops at a relative gap of 1e-7 on an
# objective 1/P the size, at another point of a flat optimum: the CRBs agree to ~2e-6 (observed), the covariances
# to ~4e-4 of P_T (observed: an objective error ε moves the argument of a smooth optimum by O(√ε) ≈ 3e-4).
DESIGN_CRB_RTOL = 1e-5
DESIGN_COVARIANCE_ATOL = 1e-2  # × P_T: 30 × √ε


def test_sdr_design_at_four_symbols_has_the_same_precoders_and_a_quarter_of_the_bound():
    paper = scenario.load_scenario("paper")
    results = {}
    for P in (1, 4):
        designer = beamformer.BeamformerDesigner(paper.replace(symbols_per_frame=P), objective="position")
        assert designer.geometry.symbols == P
        results[P] = (designer, designer.solve(10.0))
        assert results[P][1].status == "optimal", results[P][1].message
    (d1, r1), (d4, r4) = results[1], results[4]
    assert r4.crb_position_bound_m2 == pytest.approx(r1.crb_position_bound_m2 / 4, rel=DESIGN_CRB_RTOL)
    assert r4.crb_position_extracted_m2 == pytest.approx(r1.crb_position_extracted_m2 / 4, rel=DESIGN_CRB_RTOL)
    assert r4.crb_paper_bound < r1.crb_paper_bound / 3  # the amplitudes' part scales alike
    pt = paper.per_antenna_power
    assert np.max(np.abs(r4.R - r1.R)) < DESIGN_COVARIANCE_ATOL * pt
    assert np.max(np.abs(r4.R_extracted - r1.R_extracted)) < DESIGN_COVARIANCE_ATOL * pt
    # interchangeable: the P = 1 precoders reach the P = 4 bound, and the other way round
    crb_4_with_1 = fim.crb_report(d4.geometry, r1.R_extracted, d4.fim_map).crb_position_m2
    crb_1_with_4 = fim.crb_report(d1.geometry, r4.R_extracted, d1.fim_map).crb_position_m2
    assert crb_4_with_1 == pytest.approx(r4.crb_position_extracted_m2, rel=DESIGN_CRB_RTOL)
    assert crb_1_with_4 == pytest.approx(r1.crb_position_extracted_m2, rel=DESIGN_CRB_RTOL)
    np.testing.assert_allclose(r4.sinr_extracted_db, r1.sinr_extracted_db, atol=1e-3)  # SOLVER_DB of test_beamformer


def test_beamformer_service_designs_an_inline_scenario_with_its_symbols():
    """The service (core.bf_service) builds its designer from the request's scenario: P = 4 gives a quarter of the
    bound of the same scenario at P = 1 (and the two are different cache entries)."""
    service = bf_service.BeamformerService("paper", sinr_db=10.0)
    bounds = {}
    for P in (1, 4):
        table = copy.deepcopy(scenario.PRESETS["paper"])
        table["ofdm"]["symbols_per_frame"] = P
        reply = service.handle(json.dumps({"scenario": table, "sinr_db": 10.0, "apply": False}).encode())
        assert reply.fields["status"] == "optimal", reply.fields
        bounds[P] = reply.fields["crb_position_bound_m2"]
    assert bounds[4] == pytest.approx(bounds[1] / 4, rel=DESIGN_CRB_RTOL)
