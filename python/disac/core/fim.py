# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fisher information and Cramér–Rao bounds of TOF/AOA target localisation (paper eq. 7–13).

The derivation is in docs/fim-derivation.md. In short: the snapshots of eq. (5) are a deterministic
mean μ(Ψ) in circular white Gaussian noise of variance σ², so (Slepian–Bangs)

    F(Ψ)_ij = (2/σ²) Re Σ_{n,l,p} (∂μ_{n,l,p}/∂ψ_i)^H (∂μ_{n,l,p}/∂ψ_j).                       (eq. 10)

Every derivative at receiver n and subcarrier l is Σ_m G_{i,n,m,l} x_{m,l,p} with an Mr×Mt matrix G
that depends on the geometry only. Taking the expectation over the symbols with E[x_m x_m'^H] = R_m
for m = m' and 0 otherwise (orthogonal radar streams, independent node phases: eq. 16–17) gives

    F(Ψ)_ij = (2P/σ²) Σ_m Re tr(Q_{m,ij} R_m),   Q_{m,ij} = Σ_{n,l} G_{i,n,m,l}^H G_{j,n,m,l},

a LINEAR map of the per-node covariances (R_1 … R_N), P symbols per snapshot. The chain rule of
eq. (11)/(13) maps it to Θ = [x, y, b_R, b_I]: F(Θ) = J F(Ψ) J^T.

Parameter order (paper eq. 7/8): θ[n·K + k], τ[n·K + k], then b_R and b_I, each [(n·N + m)·K + k] for
the link tx m → target k → rx n. Θ: x (K), y (K), b_R, b_I.
"""

import dataclasses

import numpy as np

from . import geometry, ofdm

# A bound whose Fisher matrix is this close to singular (smallest/largest eigenvalue after diagonal
# scaling) is reported as unbounded: double precision leaves ~1e-16 relative, and everything below
# 1e-10 is numerically indistinguishable from a direction with no information.
SINGULAR_RCOND = 1e-10


@dataclasses.dataclass(frozen=True)
class SensingGeometry:
    """What the FIM depends on: node and target positions, amplitudes b[n, m, k], arrays and OFDM."""

    node_positions_m: np.ndarray  # (N, 2)
    target_positions_m: np.ndarray  # (K, 2)
    amplitudes: np.ndarray  # (N, N, K) complex
    tx_antennas: int
    rx_antennas: int
    subcarriers: int
    bandwidth_hz: float
    noise_power: float  # σ²
    symbols: int = 1  # P: OFDM symbols per snapshot (information scales with P)
    # (L,) bool: the subcarriers the transmitters use (core.ofdm.active_subcarrier_mask, issue 14); None = all.
    # Eq. (10) sums over the active bins only: an empty bin carries no signal, hence no information.
    active_subcarriers: object = None
    # the bins' frequencies f_l of d_l(τ) (core.ofdm.bin_frequencies_hz): "low-if" l·B/L (the model's, the synthetic
    # air's and the localiser's), or "centred" (a radio's band; matters only with guard bins, docs/fim-derivation.md §7)
    frequency_grid: str = "low-if"

    def __post_init__(self):
        if self.frequency_grid not in ofdm.FREQUENCY_GRIDS:
            raise ValueError(f"frequency_grid = {self.frequency_grid!r}: accepted: {', '.join(ofdm.FREQUENCY_GRIDS)}")
        mask = self.active_subcarriers
        if mask is None:
            return
        mask = np.asarray(mask)
        if mask.shape != (self.subcarriers,) or mask.dtype != bool or not mask.any():
            raise ValueError(f"active_subcarriers = {self.active_subcarriers!r}: accepted: None or an (L,) = "
                             f"({self.subcarriers},) bool mask with at least one True (core.ofdm.active_subcarrier_mask)")
        mask = mask.copy()
        mask.setflags(write=False)
        object.__setattr__(self, "active_subcarriers", None if mask.all() else mask)

    @classmethod
    def from_scenario(cls, scenario):
        return cls(node_positions_m=np.asarray(scenario.node_positions_m, float),
                   target_positions_m=np.asarray(scenario.target_positions_m, float),
                   amplitudes=scenario.target_amplitudes(), tx_antennas=scenario.tx_antennas,
                   rx_antennas=scenario.rx_antennas, subcarriers=scenario.subcarriers,
                   bandwidth_hz=scenario.bandwidth_hz, noise_power=scenario.noise_power,
                   symbols=scenario.symbols_per_frame,
                   active_subcarriers=scenario_active_subcarriers(scenario))

    def active_mask(self):
        """(L,) bool: the active subcarriers (all True when every bin is used)."""
        if self.active_subcarriers is None:
            return np.ones(self.subcarriers, dtype=bool)
        return np.asarray(self.active_subcarriers)

    @property
    def num_nodes(self):
        return self.node_positions_m.shape[0]

    @property
    def num_targets(self):
        return self.target_positions_m.shape[0]

    def angles_rad(self):
        return geometry.angles_rad(self.node_positions_m, self.target_positions_m)

    def delays_s(self):
        return geometry.one_way_delays_s(self.node_positions_m, self.target_positions_m)


def scenario_active_subcarriers(scenario):
    """The scenario's (L,) active-subcarrier mask (``scenario.active_subcarriers``, SPEC14 §0: the transmitter's
    own layout, which the FIM and the localiser may know), or None when every bin is used or the scenario has
    no such attribute."""
    mask = getattr(scenario, "active_subcarriers", None)
    if mask is None:
        return None
    mask = np.asarray(mask, dtype=bool)
    return None if mask.all() else mask


def _masked_delay_steering(geom, delays_s):
    """d_l(τ) and ∂d_l/∂τ (…, L) with the inactive bins set to zero: every G of eq. (10) carries one of them, so an
    inactive bin then adds exactly nothing to any sum over l (docs/fim-derivation.md §7)."""
    if geom.frequency_grid == "low-if":
        d = geometry.delay_steering(delays_s, geom.subcarriers, geom.bandwidth_hz)
        dd = geometry.delay_steering_derivative(delays_s, geom.subcarriers, geom.bandwidth_hz)
    else:
        f = ofdm.bin_frequencies_hz(geom.subcarriers, geom.bandwidth_hz, geom.frequency_grid)
        d = np.exp(-2j * np.pi * np.multiply.outer(delays_s, f))
        dd = -2j * np.pi * f * d
    if geom.active_subcarriers is not None:
        d = d * geom.active_subcarriers
        dd = dd * geom.active_subcarriers
    return d, dd


# ---- parameter bookkeeping -------------------------------------------------------------------

def psi_size(num_nodes, num_targets):
    """dim Ψ = 2KN + 2KN² (eq. 7)."""
    return 2 * num_targets * num_nodes + 2 * num_targets * num_nodes**2


def theta_size(num_nodes, num_targets):
    """dim Θ = 2K + 2KN² (eq. 8)."""
    return 2 * num_targets + 2 * num_targets * num_nodes**2


def _psi_index(num_nodes, num_targets):
    """Index helpers into Ψ: angle(n, k), delay(n, k), b_real(n, m, k), b_imag(n, m, k)."""
    N, K = num_nodes, num_targets
    kn, kn2 = K * N, K * N * N
    return (lambda n, k: n * K + k,
            lambda n, k: kn + n * K + k,
            lambda n, m, k: 2 * kn + (n * N + m) * K + k,
            lambda n, m, k: 2 * kn + kn2 + (n * N + m) * K + k)


def jacobian_theta(geom):
    """J = ∂Ψ/∂Θ of eq. (13), shape (dim Θ, dim Ψ), so that F(Θ) = J F(Ψ) J^T (eq. 11)."""
    N, K = geom.num_nodes, geom.num_targets
    dtheta, dtau = geometry.angle_delay_jacobians(geom.node_positions_m, geom.target_positions_m)
    J = np.zeros((theta_size(N, K), psi_size(N, K)))
    ang, dly, _, _ = _psi_index(N, K)
    for n in range(N):
        for k in range(K):
            for axis in range(2):  # x_k is row k, y_k is row K + k
                J[axis * K + k, ang(n, k)] = dtheta[n, k, axis]
                J[axis * K + k, dly(n, k)] = dtau[n, k, axis]
    amp = 2 * K * N * N
    J[2 * K:, 2 * K * N:] = np.eye(amp)
    return J


# ---- derivatives of the mean -------------------------------------------------------------------

def _link_derivatives(geom, n, m):
    """For the link tx m → rx n: the parameters it depends on and their G matrices.

    Returns (indices, G) with G of shape (len(indices), L, Mr, Mt): ∂μ_{n,l} = Σ_i G[i, l] x_{m,l} dψ_i
    restricted to this link's contribution.
    """
    N, K = geom.num_nodes, geom.num_targets
    mt, mr = geom.tx_antennas, geom.rx_antennas
    theta, tau = geom.angles_rad(), geom.delays_s()
    ang, dly, bre, bim = _psi_index(N, K)
    a_r = geometry.ula_steering(theta[n], mr)  # (K, Mr)
    da_r = geometry.ula_steering_derivative(theta[n], mr)
    a_t = geometry.ula_steering(theta[m], mt)  # (K, Mt)
    da_t = geometry.ula_steering_derivative(theta[m], mt)
    link_tau = tau[n] + tau[m]
    d, dd = _masked_delay_steering(geom, link_tau)  # (K, L), zero on inactive bins
    b = geom.amplitudes[n, m]  # (K,)

    rows = {}  # Ψ index -> G (L, Mr, Mt); several terms may add into one index (n == m)

    def add(index, term):
        rows[index] = rows[index] + term if index in rows else term

    for k in range(K):
        outer = np.outer(a_r[k], a_t[k])  # a_r a_t^T
        add(ang(n, k), b[k] * d[k][:, None, None] * np.outer(da_r[k], a_t[k]))  # θ_n^k at the receiver
        add(ang(m, k), b[k] * d[k][:, None, None] * np.outer(a_r[k], da_t[k]))  # θ_m^k at the transmitter
        add(dly(n, k), b[k] * dd[k][:, None, None] * outer)  # τ_{n,m} = τ_n + τ_m
        add(dly(m, k), b[k] * dd[k][:, None, None] * outer)
        add(bre(n, m, k), d[k][:, None, None] * outer)
        add(bim(n, m, k), 1j * d[k][:, None, None] * outer)
    indices = np.array(sorted(rows))
    return indices, np.stack([rows[i] for i in indices])


def mean_derivatives(geom, frames):
    """∂μ/∂ψ for given frames X (N, Mt, L, P): shape (dim Ψ, N, Mr, L, P)."""
    frames = np.asarray(frames)
    N = geom.num_nodes
    _, mt, L, P = frames.shape
    out = np.zeros((psi_size(N, geom.num_targets), N, geom.rx_antennas, L, P), complex)
    for n in range(N):
        for m in range(N):
            idx, G = _link_derivatives(geom, n, m)
            out[idx, n] += np.einsum("ilrt,tlp->irlp", G, frames[m])
    return out


def conditional_fim_psi(geom, frames):
    """F(Ψ) for one realisation of the frames (no expectation over the symbols), eq. (10)."""
    D = mean_derivatives(geom, frames).reshape(psi_size(geom.num_nodes, geom.num_targets), -1)
    return (2.0 / geom.noise_power) * np.real(D.conj() @ D.T)


@dataclasses.dataclass(frozen=True)
class ThetaBlocks:
    """F(Θ) along its arrow structure (docs/fim-derivation.md §3–4), as complex coefficient tensors.

    Every block X has shape (rows, cols, Mt, Mt) and acts on one node's covariance as Re Σ_ac X[.., a, c] R[c, a]
    (the convention of FimMap.coefficients). Θ is ordered [x, y, b_R, b_I] (eq. 8), so with link l = n·N + m
    (tx m → rx n), its amplitudes are Θ indices 2K + l·K + k (real) and 2K + K·N² + l·K + k (imaginary).

    position[m]   (2K, 2K, Mt, Mt): node m's covariance in F(Θ)_pp, summed over every receiver;
    cross[l]      (2K, 2K, Mt, Mt): F(Θ)_{p, b_l}, a function of R_m only (m = transmitter of l);
    amplitude[l]  (2K, 2K, Mt, Mt): F(Θ)_{b_l, b_l}, likewise.
    Blocks between the amplitudes of two different links are zero.
    """

    position: np.ndarray  # (N, 2K, 2K, Mt, Mt)
    cross: np.ndarray  # (N², 2K, 2K, Mt, Mt)
    amplitude: np.ndarray  # (N², 2K, 2K, Mt, Mt)

    def amplitude_indices(self, link):
        """Θ indices of link l's amplitudes (real parts, then imaginary parts)."""
        links, two_k = self.cross.shape[0], self.cross.shape[1]
        K = two_k // 2
        return np.concatenate([2 * K + link * K + np.arange(K), 2 * K + K * links + link * K + np.arange(K)])


class FimMap:
    """The linear map (R_1 … R_N) ↦ F(Ψ) (eq. 10 with the expectation over the symbols).

    It is held link by link: for the link tx m → rx n, ``links[l] = (n, m, indices, Q)`` with
    F(Ψ)[indices, indices] += Re Σ_ac Q[:, :, a, c] R_m[c, a] (Q = (2P/σ²) Q_{m,ij} of the derivation, ≤ 6K
    parameters per link). ``coefficients`` is the same map as one dense tensor (N, dim Ψ, dim Ψ, Mt, Mt) with
    F(Ψ)_ij = Σ_m Re Σ_ac C_m[i, j, a, c] R_m[c, a]; it is built on first use (N²·dim Ψ²·Mt² complex numbers:
    1.5 GB at N = 8, K = 3, Mt = 8), and nothing in the package needs it any more.
    """

    def __init__(self, geom):
        self.geom = geom
        N = geom.num_nodes
        mt = geom.tx_antennas
        scale = 2.0 * geom.symbols / geom.noise_power
        self.links = []
        for n in range(N):
            for m in range(N):
                idx, G = _link_derivatives(geom, n, m)
                Gm = G.reshape(len(idx), -1, mt)  # (i, L·Mr, Mt)
                # Q[i, j, a, c] = Σ_{l,r} conj(G[i, lr, a]) G[j, lr, c]
                Q = np.einsum("iza,jzc->ijac", Gm.conj(), Gm, optimize=True)
                self.links.append((n, m, idx, scale * Q))
        self.jacobian = jacobian_theta(geom)
        self._coefficients = None
        self._theta_blocks = None
        self._psi_stacks = None  # per transmitter: (flat indices into F(Ψ), stacked flattened Q), built on first use

    @property
    def coefficients(self):
        """The dense map (N, dim Ψ, dim Ψ, Mt, Mt), complex (see the class docstring)."""
        if self._coefficients is None:
            N, K, mt = self.geom.num_nodes, self.geom.num_targets, self.geom.tx_antennas
            dim = psi_size(N, K)
            coefficients = np.zeros((N, dim, dim, mt, mt), complex)
            for _, m, idx, Q in self.links:
                coefficients[m][np.ix_(idx, idx)] += Q
            self._coefficients = coefficients
        return self._coefficients

    def fim_psi(self, covariances):
        """F(Ψ) for per-node covariances R (N, Mt, Mt).

        Evaluated per transmitter m as one matrix-vector product of all its links' Q (stacked, flattened) with
        vec(R_m^T), scattered into F by precomputed flat indices (the sum of the link-by-link einsum, in one
        pass: the design's warm path evaluates it twice per solve)."""
        R = np.asarray(covariances)
        N, K = self.geom.num_nodes, self.geom.num_targets
        dim = psi_size(N, K)
        if self._psi_stacks is None:
            stacks = []
            for m in range(N):
                mine = [(idx, Q) for _, tx, idx, Q in self.links if tx == m]
                flat = np.concatenate([(idx[:, None] * dim + idx[None, :]).ravel() for idx, _ in mine])
                coeff = np.concatenate([Q.reshape(len(idx) ** 2, -1) for idx, Q in mine])  # [(i, j), a·Mt + c]
                stacks.append((flat, coeff))
            self._psi_stacks = stacks
        F = np.zeros(dim * dim)
        for m, (flat, coeff) in enumerate(self._psi_stacks):
            # Σ_ac Q[i, j, a, c] R_m[c, a] = Q[(i, j), a·Mt + c] · (R_m^T)[a, c]
            F += np.bincount(flat, weights=np.real(coeff @ R[m].T.ravel()), minlength=dim * dim)
        return F.reshape(dim, dim)

    def fim_theta(self, covariances):
        """F(Θ) = J F(Ψ) J^T (eq. 11), using J's structure (eq. 13): the identity on the amplitudes, so only the
        angle/delay rows are multiplied (the same numbers as the dense product, to rounding)."""
        return theta_from_psi(self.fim_psi(covariances), self.jacobian, self.geom.num_nodes, self.geom.num_targets)

    def theta_blocks(self):
        """F(Θ) = J F(Ψ) J^T as the blocks of its arrow structure (ThetaBlocks), built link by link.

        J (eq. 13) is [[∂(θ, τ)/∂(x, y), 0], [0, I]]: it mixes only the angles and delays, so each link's
        amplitude rows pass through unchanged and only its ≤ 4K angle/delay rows meet the 2K × 2KN position
        Jacobian. No tensor of size dim Θ² is formed.
        """
        if self._theta_blocks is None:
            N, K, mt = self.geom.num_nodes, self.geom.num_targets, self.geom.tx_antennas
            geometric = 2 * K * N  # θ and τ come first in Ψ
            Jg = self.jacobian[:2 * K, :geometric]
            position = np.zeros((N, 2 * K, 2 * K, mt, mt), complex)
            cross = np.zeros((N * N, 2 * K, 2 * K, mt, mt), complex)
            amplitude = np.zeros((N * N, 2 * K, 2 * K, mt, mt), complex)
            for link, (_, m, idx, Q) in enumerate(self.links):
                geo = np.flatnonzero(idx < geometric)
                amp = np.flatnonzero(idx >= geometric)  # this link's b_R then b_I, in Θ order
                Jl = Jg[:, idx[geo]]
                Q_gg, Q_ga = Q[np.ix_(geo, geo)], Q[np.ix_(geo, amp)]
                position[m] += np.einsum("pi,ijac,qj->pqac", Jl, Q_gg, Jl, optimize=True)
                cross[link] = np.einsum("pi,ijac->pjac", Jl, Q_ga, optimize=True)
                amplitude[link] = Q[np.ix_(amp, amp)]
            self._theta_blocks = ThetaBlocks(position, cross, amplitude)
        return self._theta_blocks

    def theta_map(self, method="structured"):
        """F(Θ) as real matrices acting on (Re R_m, Im R_m): returns (A_re, A_im), each (N, dΘ, dΘ, Mt, Mt),
        with F(Θ) = Σ_m Σ_ac A_re[m, :, :, a, c]·Re R_m[a, c] + A_im[m, :, :, a, c]·Im R_m[a, c].

        method "structured" (default) assembles it from theta_blocks(); "einsum" is the dense
        J·C_m·J^T of the whole tensor (the reference: O(dim Θ² · dim Ψ · Mt²) work and memory).
        """
        if method == "einsum":
            J = self.jacobian
            C = np.einsum("pi,mijac,qj->mpqac", J, self.coefficients, J, optimize=True)
        elif method == "structured":
            N, K, mt = self.geom.num_nodes, self.geom.num_targets, self.geom.tx_antennas
            dim = theta_size(N, K)
            blocks = self.theta_blocks()
            C = np.zeros((N, dim, dim, mt, mt), complex)
            position = np.arange(2 * K)
            C[:, :2 * K, :2 * K] = blocks.position
            for link in range(N * N):
                m = link % N
                amp = blocks.amplitude_indices(link)
                C[m][np.ix_(position, amp)] = blocks.cross[link]
                C[m][np.ix_(amp, position)] = blocks.cross[link].transpose(1, 0, 3, 2).conj()
                C[m][np.ix_(amp, amp)] = blocks.amplitude[link]
        else:
            raise ValueError(f"method = {method!r}: expected 'structured' or 'einsum'")
        # Re Σ_ac C[a, c] R[c, a] with R[c, a] = Re R[a, c] − j Im R[a, c]:
        # coefficient of Re R[a, c] is Re C[a, c], of Im R[a, c] is Im C[a, c].
        return np.real(C), np.imag(C)


def theta_from_psi(F_psi, jacobian, num_nodes, num_targets):
    """J F(Ψ) J^T (eq. 11) for J of eq. (13): [[J_g, 0], [0, I]] with J_g = ∂(θ, τ)/∂(x, y) (2K × 2KN), so
    F(Θ) = [[J_g F_gg J_g^T, J_g F_ga], [F_ag J_g^T, F_aa]]: O(K·N·dim Ψ) work instead of O(dim Θ · dim Ψ²)."""
    K = num_targets
    g = 2 * K * num_nodes  # angles and delays come first in Ψ
    Jg = jacobian[:2 * K, :g]
    top = Jg @ F_psi[:g]  # (2K, dim Ψ)
    dim = 2 * K + F_psi.shape[0] - g
    F = np.empty((dim, dim))
    F[:2 * K, :2 * K] = top[:, :g] @ Jg.T
    F[:2 * K, 2 * K:] = top[:, g:]
    F[2 * K:, :2 * K] = (F_psi[g:, :g] @ Jg.T)
    F[2 * K:, 2 * K:] = F_psi[g:, g:]
    return F


# ---- bounds -------------------------------------------------------------------------------------

def _inverse_or_none(F):
    """F^{-1} of a symmetric FIM, or None when it is singular to working precision: when, after unit-diagonal
    scaling, λ_min ≤ SINGULAR_RCOND · λ_max.

    The eigenvalues are computed only when a cheaper certificate cannot decide (issue 16: eigvalsh was a third of the
    SDR's extraction and CRB reports at N = 8, 6 ms of a 260 × 260 F(Θ)): if the scaled F is positive definite
    (a Cholesky factorisation succeeds), λ_max ≤ ‖F‖_∞ and λ_min = 1/λ_max(F^{-1}) ≥ 1/‖F^{-1}‖_∞ (a spectral
    radius is at most any induced norm), so 1/(‖F‖_∞ ‖F^{-1}‖_∞) > 2·SINGULAR_RCOND proves the test passes (the
    factor 2 covers the rounding of both sides). Otherwise the eigenvalues decide, as before; the inverse is the
    same np.linalg.inv either way, so the result is bit for bit the previous one."""
    scaled = _unit_diagonal(F)
    if scaled is None:
        return None
    s, Fs = scaled
    inv = None
    if _cholesky_succeeds(Fs):
        try:
            inv = np.linalg.inv(Fs)
        except np.linalg.LinAlgError:  # singular to LU after all: the eigenvalues decide below
            inv = None
        if inv is not None and np.all(np.isfinite(inv)) and (
                np.abs(Fs).sum(axis=1).max() * np.abs(inv).sum(axis=1).max() < 0.5 / SINGULAR_RCOND):
            return inv * s[:, None] * s[None, :]
    return _eigenvalue_rule(s, Fs, inv)


def inverse_by_eigenvalues(F):
    """F^{-1} of a symmetric FIM, or None when, after unit-diagonal scaling, λ_min ≤ SINGULAR_RCOND · λ_max: the
    eigenvalue rule itself (what _inverse_or_none falls back to, and the rule it was before issue 16, which the
    benchmark and the tests compare it with)."""
    scaled = _unit_diagonal(F)
    return None if scaled is None else _eigenvalue_rule(*scaled)


def _unit_diagonal(F):
    """(s, F_s) with s = diag(F)^{-1/2} and F_s = diag(s) F diag(s) of the symmetrised F (unit diagonal: its
    eigenvalues are comparable), or None when F has a non-finite entry or a diagonal entry ≤ 0."""
    F = 0.5 * (F + F.T)
    diag = np.diag(F)
    if np.any(~np.isfinite(F)) or np.any(diag <= 0):
        return None
    s = 1.0 / np.sqrt(diag)
    return s, F * s[:, None] * s[None, :]


def _eigenvalue_rule(s, Fs, scaled_inverse=None):
    """The eigenvalue rule on a unit-diagonal F_s (of _unit_diagonal); scaled_inverse: F_s^{-1} if already computed."""
    eig = np.linalg.eigvalsh(Fs)
    if eig[0] <= SINGULAR_RCOND * eig[-1]:
        return None
    return (np.linalg.inv(Fs) if scaled_inverse is None else scaled_inverse) * s[:, None] * s[None, :]


def _cholesky_succeeds(matrix):
    """Whether LAPACK's Cholesky factorisation of a symmetric matrix succeeds (it is positive definite to working
    precision); the factor itself is not needed."""
    from scipy.linalg import lapack
    _, info = lapack.dpotrf(matrix, lower=True, clean=False, overwrite_a=False)
    return info == 0


@dataclasses.dataclass(frozen=True)
class CrbReport:
    """Bounds for one design (None where the information does not fix the position)."""

    crb_position_m2: object  # tr([F(Θ)^-1]_xy), m²
    crb_position_per_target_m2: object  # list, one per target
    crb_paper: object  # tr(F(Θ)^-1), the paper's objective (eq. 12/14a)
    crb_position_aoa_only_m2: object
    crb_position_tof_only_m2: object
    notes: tuple = ()

    def as_dict(self):
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "notes"} | {
            "notes": list(self.notes)}


def position_crb_from_fim_theta(F_theta, num_targets):
    """(total, per-target) position CRB in m² from F(Θ), or (None, None) if singular."""
    inv = _inverse_or_none(F_theta)
    if inv is None:
        return None, None
    K = num_targets
    per_target = np.diag(inv)[:K] + np.diag(inv)[K:2 * K]
    return float(per_target.sum()), [float(v) for v in per_target]


def paper_crb_from_fim_theta(F_theta):
    """tr(F(Θ)^{-1}), eq. (12)."""
    inv = _inverse_or_none(F_theta)
    return None if inv is None else float(np.trace(inv))


def crbs_from_fim_theta(F_theta, num_targets):
    """(position CRB m², per-target list, tr F(Θ)^{-1} of eq. 12) from ONE inverse of F(Θ): the same numbers as
    position_crb_from_fim_theta and paper_crb_from_fim_theta, each None where F(Θ) is singular."""
    inv = _inverse_or_none(F_theta)
    if inv is None:
        return None, None, None
    K = num_targets
    diag = np.diag(inv)
    per_target = diag[:K] + diag[K:2 * K]
    return float(per_target.sum()), [float(v) for v in per_target], float(np.trace(inv))


def _single_parameter_position_crb(F_psi, J, keep, num_targets):
    """Position CRB from one kind of information (angles or delays) only.

    The equivalent FIM of the kept parameters (the others, amplitudes included, as nuisance) is
    mapped to (x, y) through the corresponding rows of ∂Ψ/∂Θ.
    """
    rest = np.setdiff1d(np.arange(F_psi.shape[0]), keep)
    A = F_psi[np.ix_(keep, keep)]
    B = F_psi[np.ix_(keep, rest)]
    C_inv = _inverse_or_none(F_psi[np.ix_(rest, rest)])
    if C_inv is None:
        return None
    equivalent = A - B @ C_inv @ B.T
    Jk = J[:2 * num_targets, keep]  # ∂(kept)/∂(x, y)
    total, _ = position_crb_from_fim_theta(Jk @ equivalent @ Jk.T, num_targets)
    return total


def crb_report(geom, covariances, fim_map=None):
    """All bounds of issue 3 for per-node covariances R (N, Mt, Mt)."""
    fim_map = fim_map or FimMap(geom)
    F_psi = fim_map.fim_psi(covariances)
    J = fim_map.jacobian
    F_theta = J @ F_psi @ J.T
    N, K = geom.num_nodes, geom.num_targets
    total, per_target = position_crb_from_fim_theta(F_theta, K)
    paper = paper_crb_from_fim_theta(F_theta)
    aoa = _single_parameter_position_crb(F_psi, J, np.arange(K * N), K)
    tof = _single_parameter_position_crb(F_psi, J, np.arange(K * N, 2 * K * N), K)
    notes = []
    if total is None:
        notes.append("joint bound unbounded: the received signal does not fix every target position "
                     "(no power towards a target, or a degenerate geometry)")
    if aoa is None:
        notes.append("AOA-only bound unbounded: with "
                     + ("one node, an angle alone gives a bearing line, not a position"
                        if N == 1 else "these angles the bearing lines do not fix every position"))
    if tof is None:
        notes.append("TOF-only bound unbounded: with "
                     + ("one node, a range alone gives a circle, not a position"
                        if N == 1 else "these ranges the ellipses do not fix every position"))
    return CrbReport(total, per_target, paper, aoa, tof, tuple(notes))


# ---- the bound with nuisance parameters (issue 14) ------------------------------------------------------------
#
# Over the air every node also receives, beside the target echoes of eq. (5), the direct path of every other node
# (known geometry, unknown complex amplitude per frame: docs/air-model.md §2) and its own transmitter's leakage
# C_n (Mr × Mt complex, unknown, at a known delay: SPEC14 §2). A receiver that suppresses them (as nuisance terms
# in the likelihood, or by projection) cannot know them better than the data says, so the bound it can reach is
# the position CRB of the model with these parameters unknown: the Schur complement of the FIM of [Θ; η]
# (docs/fim-derivation.md §8). μ is linear in η and η appears in no target term, so this FIM does not depend on
# the values of η: the bound needs the geometry only, not the interference levels.

def direct_path_links(num_nodes):
    """The links (n, m), m ≠ n (rx n ← tx m), in core.localizer.known_paths order: the direct-path nuisances."""
    return tuple((n, m) for n in range(num_nodes) for m in range(num_nodes) if m != n)


def nuisance_size(geom, direct_paths=True, self_coupling=True):
    """dim η: 2·N(N−1) real direct-path amplitudes (β_R then β_I) and 2·N·Mr·Mt self-coupling entries (C_R then
    C_I, [n, r, i] row-major), in that order after Ψ (or Θ)."""
    N = geom.num_nodes
    return ((2 * N * (N - 1) if direct_paths else 0)
            + (2 * N * geom.rx_antennas * geom.tx_antennas if self_coupling else 0))


def _nuisance_link_derivatives(geom, n, m, direct_paths, self_coupling, self_coupling_delay_s):
    """The nuisance parameters of the link tx m → rx n and their G (L, Mr, Mt), indices counted from 0 in η.

    Direct path (m ≠ n): μ_{n,l} += β_nm d_l(τ_nm) a_r(θ_n←m) a_t^T(θ_m→n) x_{m,l} with the geometry of
    core.localizer.known_paths, so G(Re β) = d_l a_r a_t^T, G(Im β) = j·G(Re β). Self-coupling (m = n):
    μ_{n,l} += d_l(τ_sc) C_n x_{n,l}, so G(Re C[r, i]) = d_l(τ_sc) e_r e_i^T, G(Im C[r, i]) = j·G(Re C[r, i])."""
    from .localizer import known_paths  # localizer is pure numpy + geometry; imported here to keep fim light

    N, mt, mr = geom.num_nodes, geom.tx_antennas, geom.rx_antennas
    links = direct_path_links(N)
    dp = len(links) if direct_paths else 0
    index, terms = [], []
    if direct_paths and m != n:
        p = links.index((n, m))
        path = known_paths(geom.node_positions_m, direct_paths=True)[p]
        assert (path.rx, path.tx) == (n, m)
        d, _ = _masked_delay_steering(geom, np.array(path.delay_s))  # (L,)
        g = d[:, None, None] * np.outer(geometry.ula_steering(np.array(path.theta_rx_rad), mr),
                                        geometry.ula_steering(np.array(path.theta_tx_rad), mt))
        index += [p, dp + p]
        terms += [g, 1j * g]
    if self_coupling and m == n:
        d, _ = _masked_delay_steering(geom, np.array(float(self_coupling_delay_s)))
        entries = mr * mt
        base = 2 * dp + n * entries
        unit = np.zeros((entries, mr, mt))
        unit.reshape(entries, -1)[np.arange(entries), np.arange(entries)] = 1.0  # e_r e_i^T, [r·Mt + i]
        g = d[None, :, None, None] * unit[:, None]  # (Mr·Mt, L, Mr, Mt)
        index += list(base + np.arange(entries)) + list(base + N * entries + np.arange(entries))
        terms += list(g) + list(1j * g)
    if not index:
        return np.zeros(0, dtype=int), np.zeros((0, geom.subcarriers, mr, mt), complex)
    return np.array(index), np.stack(terms)


def _check_self_coupling_delay(value):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not np.isfinite(value) or value < 0:
        raise ValueError(f"self_coupling_delay_s = {value!r}: accepted: a finite number ≥ 0 (seconds)")
    return float(value)


class NuisanceFimMap:
    """The linear map (R_1 … R_N) ↦ F([Ψ; η]) of the model with the nuisances η (direct-path amplitudes, self-
    coupling matrices) beside the paper's Ψ; built once per geometry like FimMap, evaluated per design.

    ``links[l] = (n, m, indices, Q)`` as FimMap's, indices into [Ψ; η] (η after Ψ, order of nuisance_size). The
    expectation over the symbols is the paper's (E[x_m x_m'^H] = R_m δ_mm'): the direct path and the leakage
    multiply the same x_m as the echoes, so the argument of docs/fim-derivation.md §3 holds unchanged.
    """

    def __init__(self, geom, direct_paths=True, self_coupling=True, self_coupling_delay_s=0.0):
        self.geom = geom
        self.direct_paths = bool(direct_paths)
        self.self_coupling = bool(self_coupling)
        self.self_coupling_delay_s = _check_self_coupling_delay(self_coupling_delay_s)
        N, K, mt = geom.num_nodes, geom.num_targets, geom.tx_antennas
        self.psi_dim = psi_size(N, K)
        self.theta_dim = theta_size(N, K)
        self.nuisance_dim = nuisance_size(geom, self.direct_paths, self.self_coupling)
        scale = 2.0 * geom.symbols / geom.noise_power
        self.links = []
        for n in range(N):
            for m in range(N):
                idx, G = _link_derivatives(geom, n, m)
                nidx, nG = _nuisance_link_derivatives(geom, n, m, self.direct_paths, self.self_coupling,
                                                      self.self_coupling_delay_s)
                idx = np.concatenate([idx, self.psi_dim + nidx])
                Gm = np.concatenate([G, nG]).reshape(len(idx), -1, mt)
                Q = np.einsum("iza,jzc->ijac", Gm.conj(), Gm, optimize=True)
                self.links.append((n, m, idx, scale * Q))
        self.jacobian = jacobian_theta(geom)

    def fim_psi(self, covariances):
        """F([Ψ; η]) for per-node covariances R (N, Mt, Mt)."""
        R = np.asarray(covariances)
        dim = self.psi_dim + self.nuisance_dim
        F = np.zeros((dim, dim))
        for _, m, idx, Q in self.links:
            F[np.ix_(idx, idx)] += np.real(np.einsum("ijac,ca->ij", Q, R[m]))
        return F

    def fim_theta(self, covariances):
        """F([Θ; η]) = diag(J, I) F([Ψ; η]) diag(J, I)^T (eq. 11; η is not mapped)."""
        return theta_from_psi(self.fim_psi(covariances), self.jacobian, self.geom.num_nodes, self.geom.num_targets)

    def equivalent_fim_theta(self, covariances, self_coupling_frames=1):
        """The equivalent FIM of Θ with η unknown: F_ΘΘ − F_Θη F_ηη^+ F_ηΘ (Schur complement).

        A pseudo-inverse on F_ηη: with a rank-deficient R_n (a designed beam) only C_n·R_n^{1/2} is identifiable,
        and a direction of η with no information has no coupling to Θ either (F is PSD), so it drops out.

        ``self_coupling_frames`` = F ≥ 1: the leakage C_n is the SAME over F frames and estimated jointly from them
        (it has no oscillator phase: a static nuisance), while Θ and the direct paths are new every frame. The
        other F − 1 frames, their own Θ and β eliminated, add (F − 1)·S to C's information, S = the per-frame
        equivalent FIM of C; then Θ of one frame is what is left after eliminating β and C
        (docs/fim-derivation.md §8). F = 1: C unknown per frame; F → ∞: C known."""
        frames = _check_frames(self_coupling_frames)
        F = self.fim_theta(covariances)
        if frames > 1 and self.self_coupling:
            N, mr, mt = self.geom.num_nodes, self.geom.rx_antennas, self.geom.tx_antennas
            static = np.arange(F.shape[0] - 2 * N * mr * mt, F.shape[0])  # C_R, C_I come last
            order = np.concatenate([static, np.setdiff1d(np.arange(F.shape[0]), static)])
            per_frame_info = schur_complement(F[np.ix_(order, order)], len(static))  # C's, Θ and β eliminated
            F = F.copy()
            F[np.ix_(static, static)] += (frames - 1) * per_frame_info
        return schur_complement(F, self.theta_dim)

    def position_crb_m2(self, covariances, self_coupling_frames=1):
        """(total, per-target) position CRB in m² with η unknown, or (None, None) if unbounded."""
        return position_crb_from_fim_theta(self.equivalent_fim_theta(covariances, self_coupling_frames),
                                           self.geom.num_targets)


def _check_frames(value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer, float)) or not value >= 1 \
            or not np.isfinite(value):
        raise ValueError(f"self_coupling_frames = {value!r}: accepted: a finite number ≥ 1 (frames over which the "
                         "self-coupling matrix is the same)")
    return float(value)


def schur_complement(F, keep):
    """F_kk − F_kr F_rr^+ F_rk of a symmetric PSD F, k = the first ``keep`` parameters, r = the rest.

    Computed on the unit-diagonal scale (entries in m⁻², s⁻² and amplitude⁻² differ by many decades); the
    pseudo-inverse drops directions of F_rr below SINGULAR_RCOND of its largest eigenvalue (no information)."""
    F = 0.5 * (F + F.T)
    if F.shape[0] == keep:
        return F
    diag = np.diag(F)
    live = diag > 0
    s = np.zeros_like(diag)
    s[live] = 1.0 / np.sqrt(diag[live])
    Fs = F * s[:, None] * s[None, :]
    rest = np.flatnonzero(live[keep:]) + keep  # a nuisance with zero information has zero coupling (PSD)
    A, B, C = Fs[:keep, :keep], Fs[np.ix_(np.arange(keep), rest)], Fs[np.ix_(rest, rest)]
    if len(rest):
        eig, vec = np.linalg.eigh(C)
        big = eig > SINGULAR_RCOND * max(eig[-1], 0.0)
        W = B @ vec[:, big]
        equivalent = A - (W / eig[big]) @ W.T
    else:
        equivalent = A
    unscale = np.zeros(keep)
    unscale[live[:keep]] = 1.0 / s[:keep][live[:keep]]
    out = equivalent * unscale[:, None] * unscale[None, :]
    out[~live[:keep], :] = 0.0  # parameters without information stay without (the bound reports them unbounded)
    out[:, ~live[:keep]] = 0.0
    return 0.5 * (out + out.T)


def position_crb_with_nuisance_m2(geometry, covariances, direct_paths=True, self_coupling=True,
                                  active_subcarriers=None, self_coupling_delay_s=0.0, nuisance_map=None,
                                  self_coupling_frames=1):
    """The position CRB (m², Σ_k over targets, as crb_position_m2) that a receiver suppressing the interference
    can reach: the direct-path amplitude of every link m ≠ n (``direct_paths``) and every node's self-coupling
    matrix C_n (``self_coupling``, at the known delay ``self_coupling_delay_s`` after calibration) unknown per
    frame beside the paper's Θ. None when unbounded. ≥ the paper's crb_position_m2, equal without nuisances.

    ``active_subcarriers`` ((L,) bool) overrides the geometry's mask; ``nuisance_map`` (a NuisanceFimMap of this
    geometry and these options) is reused when given (building it costs more than evaluating it).
    ``self_coupling_frames`` (default 1, C_n new every frame): C_n the same over that many frames and estimated
    from all of them (NuisanceFimMap.equivalent_fim_theta); the bound falls towards the direct-path-only one."""
    if nuisance_map is None:
        if active_subcarriers is not None:
            geometry = dataclasses.replace(geometry, active_subcarriers=np.asarray(active_subcarriers, dtype=bool))
        nuisance_map = NuisanceFimMap(geometry, direct_paths, self_coupling, self_coupling_delay_s)
    total, _ = nuisance_map.position_crb_m2(covariances, self_coupling_frames)
    return total


def isotropic_covariances(num_nodes, tx_antennas, per_antenna_power):
    """R_n = P_T·I at every node (all power to radar)."""
    return np.broadcast_to(per_antenna_power * np.eye(tx_antennas), (num_nodes, tx_antennas, tx_antennas)).copy()
