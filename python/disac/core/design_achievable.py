# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""The phase-conditional FIM of CoMP transmission, for the design that minimises its bound (issue 15 item 2).

With CoMP every node sends the SAME user data, each through its own beamformer and its own oscillator phase φ_m,
fixed for the frame. Within a frame the nodes' signals are therefore correlated:

    E_s[x_m' x_m^H | φ] = e^{j(φ_m' − φ_m)} W_c,m' W_c,m^H        (m' ≠ m; radar streams independent per node)
    E_s[x_m x_m^H]      = R_m = W_c,m W_c,m^H + W_r,m W_r,m^H       (m' = m: the paper's covariance)

Eq. (10) with this joint covariance (expectation over the data, NOT over the phases) is

    F(Ψ; φ)_ij = (2P/σ²) Re Σ_n Σ_{m,m'} Σ_l tr(G_{i,n,m,l}^H G_{j,n,m',l} E[x_m',l x_m,l^H | φ])

(docs/fim-derivation.md §3 without the step E[x_m x_m'^H] = 0): the paper's F(Ψ) (m = m' terms, core.fim.FimMap)
plus cross-node terms that carry e^{j(φ_m' − φ_m)}. The paper's expected FIM is its average over φ. As P → ∞ the
conditional CRB of a frame tends to CRB(F(φ)), so the bound an estimator can reach tends to the **floor**
E_φ[CRB(F(φ))] ≥ CRB(E_φ F(φ)) (Jensen): for beamformers core.achievable.achievable_crb_m2(..., symbols=math.inf)
(branch `bound`'s implementation, by beam-output Gram matrices); here `mean_position_crb_m2` for what it does not take
(relaxed joint covariances of rank > 1, data layouts), tested equal to it on beamformers.

`JointFimMap` holds every term as a coefficient tensor over Θ (J F(Ψ) J^T, eq. 11/13), so F(Θ; φ) is one linear map
of the blocks of the joint covariance, evaluated for beamformers (numpy) or used as an affine expression in the
SDR (core.beamformer, objective "achievable"). An optional per-node, per-subcarrier transmit phase ψ[m, l]
(a known data layout: ψ = 2π·m·l·Δ/L is a cyclic delay of Δ samples per node) multiplies node m's signal on bin l
by e^{jψ[m, l]}: the diagonal terms and every user's (noncoherent, eq. 17) SINR are unchanged, the cross terms are
weighted by e^{j(ψ[m', l] − ψ[m, l])} inside the sum over l.
"""

import math

import numpy as np

from . import achievable
from . import fim as fim_mod

# Phase sets S of the design's sampled average (docs/beamforming.md §8): default_phase_sets(N) = max(4, N), the
# smallest lattice this module builds for N nodes. The relaxation's optimum does not depend on S at all (any lattice
# with distinct nonzero generators averages every e^{j(φ_m' − φ_m)} to exactly 0: the sampled mean of F(Θ; φ_s) is the
# paper's expected FIM, and by Jensen the optimum is the position problem's). The rank-one steps do depend on it, but
# on the paper scenario S = 4, 8 and 16 gave the same design (floor 0.1406212–0.1406213 m² on 8192 fresh draws),
# while the solve time grows with S (one LMI per set: 11 s at 4, 39 s at 16 under load 5); and the iterates are
# compared on an independent lattice (SELECTION_PHASE_SETS), so S only steers the steps.
MIN_PHASE_SETS = 4
# The lattice on which the sequential rank-one solves' iterates are compared (BeamformerDesigner._solve_rank_one):
# independent of the design's S sets (another shift); on the paper design its mean equals core.achievable's exact
# phase grid to 2e-16 (paper scenario) and 5e-11 (three-node) relative: the integrand is smooth and periodic.
SELECTION_PHASE_SETS = 256


# The coefficient tensors hold N²·dim Ψ²·Mt² complex numbers; above this many bytes the map is refused with the sizes
# (the four-nodes preset needs ~0.24 GB, N = 8 with K = 3 and Mt = 8 would need ~12 GB).
MAX_MAP_BYTES = 2e9


class JointFimMap:
    """F(Θ; φ) as Σ over blocks (m', m) of Re Σ_ac e^{j(φ_m' − φ_m)} K[m', m][:, :, a, c] Y_{m'm}[c, a].

    Y_{mm} = R_m (the per-node covariance), Y_{m'm} = W_c,m' W_c,m^H (m' ≠ m: the cross-covariance of the shared
    data). K[m, m] are the paper's coefficients (core.fim.FimMap, so the diagonal part is today's F(Θ) exactly);
    K[m', m] for m' ≠ m the cross-node ones. ``subcarrier_phases_rad`` (N, L) or None: the data layout's known
    per-node phase ψ[m, l] (see the module docstring).
    """

    def __init__(self, geom, subcarrier_phases_rad=None):
        self.geom = geom
        N, K, mt = geom.num_nodes, geom.num_targets, geom.tx_antennas
        L = geom.subcarriers
        if subcarrier_phases_rad is not None:
            psi = np.asarray(subcarrier_phases_rad, dtype=float)
            if psi.shape != (N, L) or not np.all(np.isfinite(psi)):
                raise ValueError(f"subcarrier_phases_rad of shape {psi.shape}: expected finite radians of shape "
                                 f"(N, L) = ({N}, {L})")
        else:
            psi = None
        self.subcarrier_phases_rad = psi
        needed = 16.0 * N * N * fim_mod.psi_size(N, K) ** 2 * mt * mt
        if needed > MAX_MAP_BYTES:
            raise ValueError(f"the phase-conditional FIM of N = {N} nodes, K = {K} targets, Mt = {mt} antennas needs "
                             f"{needed / 1e9:.1f} GB of coefficients: accepted up to {MAX_MAP_BYTES / 1e9:g} GB "
                             "(fewer nodes, targets or antennas)")
        self.jacobian = fim_mod.jacobian_theta(geom)
        dpsi, dtheta = fim_mod.psi_size(N, K), fim_mod.theta_size(N, K)
        self.theta_dim = dtheta
        scale = 2.0 * geom.symbols / geom.noise_power
        links = {(n, m): fim_mod._link_derivatives(geom, n, m) for n in range(N) for m in range(N)}
        mr = geom.rx_antennas
        coeff = np.zeros((N, N, dpsi, dpsi, mt, mt), complex)  # [m', m] over Ψ, summed over receivers
        for n in range(N):
            for m in range(N):  # the conjugated derivative (transmitter m)
                idx_i, G_i = links[(n, m)]
                for mp in range(N):  # transmitter m'
                    idx_j, G_j = links[(n, mp)]
                    Gj = G_j
                    if psi is not None and mp != m:
                        weight = np.exp(1j * (psi[mp] - psi[m]))  # (L,)
                        Gj = G_j * weight[None, :, None, None]
                    Gi = G_i.reshape(len(idx_i), L * mr, mt)
                    Gj = Gj.reshape(len(idx_j), L * mr, mt)
                    # Q[i, j, a, c] = Σ_z conj(G_i[z, a]) G_j[z, c]: multiplies E[x_m'[c] conj(x_m[a])] = Y_{m'm}[c, a]
                    Q = np.einsum("iza,jzc->ijac", Gi.conj(), Gj, optimize=True)
                    coeff[mp, m][np.ix_(idx_i, idx_j)] += scale * Q
        J = self.jacobian
        self.coefficients = np.einsum("pi,xyijac,qj->xypqac", J, coeff, J, optimize=True)  # (N, N, dΘ, dΘ, Mt, Mt)

    # ---- evaluation for beamformers ---------------------------------------------------------------------------
    def blocks(self, wc, wr):
        """Y (N, N, Mt, Mt): Y[m', m] = E[x_m' x_m^H] at φ = 0 (W_c,m' W_c,m^H off the diagonal, R_m on it)."""
        wc, wr = np.asarray(wc, complex), np.asarray(wr, complex)
        Y = np.einsum("xau,ybu->xyab", wc, wc.conj())
        N = wc.shape[0]
        for m in range(N):
            Y[m, m] = Y[m, m] + wr[m] @ wr[m].conj().T
        return Y

    def fim_theta(self, Y, phases_rad):
        """F(Θ; φ) (S, dΘ, dΘ) for blocks Y (N, N, Mt, Mt) and phase sets φ (S, N)."""
        phases = np.atleast_2d(np.asarray(phases_rad, float))
        # per block: the real matrix Re Σ_ac K[..., a, c] Y[c, a] times e^{jα}, α = φ_m' − φ_m
        contraction = np.einsum("xypqac,xyca->xypq", self.coefficients, Y, optimize=True)  # (N, N, dΘ, dΘ) complex
        rotation = np.exp(1j * (phases[:, :, None] - phases[:, None, :]))  # (S, m', m)
        F = np.real(np.einsum("sxy,xypq->spq", rotation, contraction, optimize=True))
        return 0.5 * (F + np.swapaxes(F, -1, -2))

    def affine_matrices(self, phases_rad):
        """Per phase set (a generator: one dense matrix at a time), the real matrix that maps the real vector of the
        blocks to vec F(Θ; φ) (row-major).

        The vector is, for every ordered block (m', m) in row-major order, [vec(Re Y_{m'm}), vec(Im Y_{m'm})], each
        vec row-major; rows (p, q) and (q, p) are averaged so that the expression is exactly symmetric.
        Yields S matrices (dΘ², 2·N²·Mt²)."""
        phases = np.atleast_2d(np.asarray(phases_rad, float))
        N = self.geom.num_nodes
        d = self.theta_dim
        mt = self.geom.tx_antennas
        for phase in phases:
            rot = np.exp(1j * (phase[:, None] - phase[None, :]))  # [m', m]
            K = self.coefficients * rot[:, :, None, None, None, None]
            K = 0.5 * (K + np.swapaxes(K, 2, 3))  # symmetric in (p, q) (the total is; each block's average is exact)
            # Re(K[a, c] (Yr[c, a] + j Yi[c, a])) = Re K[a, c]·Yr[c, a] − Im K[a, c]·Yi[c, a]; index Y row-major [c, a]
            real = np.real(K).transpose(2, 3, 0, 1, 5, 4).reshape(d * d, N * N, mt * mt)
            imag = -np.imag(K).transpose(2, 3, 0, 1, 5, 4).reshape(d * d, N * N, mt * mt)
            yield np.concatenate([real, imag], axis=2).reshape(d * d, N * N * 2 * mt * mt)


def default_phase_sets(num_nodes):
    """S = max(MIN_PHASE_SETS, N): the smallest count lattice_phase_sets accepts for N nodes, at least 4."""
    return max(MIN_PHASE_SETS, int(num_nodes))


def lattice_phase_sets(num_nodes, count, seed=0):
    """``count`` phase sets (count, N) for the sampled average over independent uniform oscillator phases.

    Only phase differences matter, so φ_1 = 0 and the other N − 1 phases follow a randomly shifted rank-1 lattice
    on the torus: φ_m = 2π·frac(s·g_m/S + Δ_m), g = (1, a, a², …) mod S with a the integer coprime to S nearest
    S·(√5 − 1)/2 (the Fibonacci lattice for N = 3; equally spaced phases for N = 2, which integrate every
    trigonometric polynomial of degree < S exactly). The CRB is a smooth (rational) function of the e^{jφ_m}, where
    lattice rules converge much faster than independent draws. ``seed`` fixes the shift Δ."""
    if not isinstance(count, (int, np.integer)) or isinstance(count, bool) or count < 1:
        raise ValueError(f"phase_sets = {count!r}: expected a positive integer")
    rng = np.random.default_rng(seed)
    N, S = int(num_nodes), int(count)
    a = max(1, int(round(S * (math.sqrt(5.0) - 1.0) / 2.0)))
    while math.gcd(a, S) != 1 and a > 1:
        a -= 1
    generators = [pow(a, i, S) if S > 1 else 0 for i in range(max(N - 1, 0))]
    if len(set(generators)) < len(generators) and S >= N:
        generators = list(range(1, N))  # Korobov powers collide: the plain lattice g_m = m is still exact
    if S > 1 and len(set(generators)) < len(generators):
        # two nodes would keep a fixed phase difference over the whole rule: the average of e^{j(φ_m' − φ_m)} over
        # the sets would not vanish (the rule would not reproduce the paper's expected FIM); say so
        raise ValueError(f"phase_sets = {count!r}: too few for a lattice over {N} nodes with distinct phase "
                         "differences; use a prime number ≥ N or a larger count")
    g = np.array(generators, dtype=float)
    shift = rng.random(max(N - 1, 0))
    s = np.arange(S)[:, None]
    phases = np.zeros((S, N))
    phases[:, 1:] = 2 * np.pi * np.mod(s * g[None, :] / S + shift[None, :], 1.0)
    return phases


def cyclic_delay_phases(geom, delay_samples=None):
    """ψ[m, l] = 2π·m·l·Δ/L: node m delays its OFDM symbol cyclically by m·Δ samples (cyclic delay diversity),
    Δ = L / N by default (spreads the nodes' delays over the symbol). A known transmit layout: it changes no
    per-node covariance and no user's noncoherent SINR (eq. 17)."""
    N, L = geom.num_nodes, geom.subcarriers
    delta = L / N if delay_samples is None else float(delay_samples)
    return 2 * np.pi * np.outer(np.arange(N), np.arange(L)) * delta / L


def evaluation_phase_sets(num_nodes):
    """The phase sets the floor is averaged over for anything core.achievable cannot evaluate (a relaxed joint
    covariance of rank > 1, a data layout): core.achievable's own periodic grid for N ≤ 3 (exact to rounding,
    PHASE_GRID_POINTS), else a lattice of 1024 sets."""
    points = achievable.PHASE_GRID_POINTS.get(int(num_nodes) - 1)
    if points is not None:
        return achievable.phase_grid_rad(int(num_nodes), points)
    return lattice_phase_sets(num_nodes, 1024, seed=2)


def mean_position_crb_m2(joint_map, blocks, phases_rad, symbol_phases_rad=None):
    """The mean over the phase sets (S, N) of tr([F(Θ; φ_s)^{-1}]_xy) (m²) for the blocks Y (N, N, Mt, Mt) of a joint
    covariance at φ = 0 (JointFimMap.blocks, or Σ_u C_u[m', m] of a relaxed solution); +inf when a set fixes no
    position. ``symbol_phases_rad`` (P, N) or None: a per-symbol phase pattern of the shared data within the frame
    (symbol p of node m multiplied by e^{jψ[p, m]}); the frame's FIM is then the mean of F(Θ; φ + ψ_p).

    For beamformers this is core.achievable.achievable_crb_m2(..., symbols=math.inf) on the same phases (tested
    equal to rounding); that function is the one to use for them."""
    Y = np.asarray(blocks, complex)
    phases = np.atleast_2d(np.asarray(phases_rad, float))
    if symbol_phases_rad is None:
        F = joint_map.fim_theta(Y, phases)
    else:
        pattern = np.atleast_2d(np.asarray(symbol_phases_rad, float))
        F = np.mean([joint_map.fim_theta(Y, phases + p[None, :]) for p in pattern], axis=0)
    K = joint_map.geom.num_targets
    total = 0.0
    for Fs in F:
        value, _ = fim_mod.position_crb_from_fim_theta(Fs, K)
        if value is None:
            return math.inf
        total += value
    return total / len(F)
