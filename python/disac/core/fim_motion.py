# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""The FIM and CRBs of eq. (10)–(12) for a frame of P OFDM symbols with moving targets (issue 15, SPEC15 §1).

Derivation: docs/fim-derivation.md §9. Target k moves with velocity v_k; within one frame, symbol p (starting at
t_p after the frame start: ``data_symbol_times_s``) of the echo tx m → k → rx n carries the bistatic Doppler
phase e^{j2π f t_p},

    f_{n,m}^k = −(d/dt)(‖q_k − p_m‖ + ‖q_k − p_n‖)/λ = −(u_{m,k} + u_{n,k})·v_k / λ,   λ = c / carrier_hz,

u_{n,k} the unit vector from node n to target k (``bistatic_doppler_hz``). The mean of eq. (5) becomes

    μ_{n,l,p} = Σ_m Σ_k b_{n,m}^k e^{j2π f_{n,m}^k t_p} d_l(τ_n^k + τ_m^k) a_r(θ_n^k) a_t^T(θ_m^k) x_{m,l,p},

b_{n,m}^k the amplitude at the frame start (the carrier phase of the frame, which it absorbs as it absorbs the
oscillator phases). Positions, angles and delays are those of the frame start: the target moves by v·P·(L+CP)/B
within a frame (0.6 mm at 10 m/s, P = 16, paper layout), 2·10⁻⁵ of the range resolution c/B.

Every derivative of this mean is the static one of core.fim (per link and target, a matrix G times x_{m,l,p}) times
a per-symbol weight w(p) = e^{j2π f t_p} (and j2π t_p for the Doppler itself), so with the data independent from
symbol to symbol and E[x_m x_m'^H] = R_m δ_mm' (eq. 16) the expected FIM is core.fim's per-link Q, extended by one
Doppler row per link and target, multiplied entry by entry by the time kernel T_ij = Σ_p conj(w_i(p)) w_j(p):

    F(Ψ_f)_ij = (2/σ²) Σ_m Re tr((T ⊙ Q_m)_ij R_m),      Ψ_f = [θ; τ; b_R; b_I; f]   (f: one per link and target)

still a linear map of the per-node covariances. With v = 0 every T_ij of Ψ is P: today's FIM with P symbols.
Chain rule (eq. 11/13) to
  Θ_v = [x; y; v_x; v_y; b_R; b_I]  (velocity as a parameter: the position-velocity CRB), f = f(q, v), or
  Θ_f = [x; y; b_R; b_I; f]          (per-link Doppler an unknown nuisance, eliminated by a Schur complement).
Index of f_{n,m}^k: (n·N + m)·K + k (the order of the amplitudes).
"""

import dataclasses

import numpy as np

from . import fim, geometry, ofdm

# SPEC15 §0's default carrier ([ofdm] carrier_hz, the same default as [impairments] carrier_hz): λ = c / carrier_hz.
DEFAULT_CARRIER_HZ = 3.5e9


# ---- Doppler and symbol times ----------------------------------------------------------------------------------

# f[n, m, k] of the echo tx m → target k → rx n (one definition, shared with the moving air's core.model.moving_links)
bistatic_doppler_hz = geometry.bistatic_doppler_hz


def doppler_jacobians(node_positions_m, target_positions_m, velocities_mps, carrier_hz):
    """(∂f/∂q_k, ∂f/∂v_k), each (N, N, K, 2): the derivatives of bistatic_doppler_hz in target k's own position
    and velocity. ∂u/∂q = (I − u u^T)/r, so ∂f/∂q_k = −[(I − u_m u_m^T)/r_m + (I − u_n u_n^T)/r_n] v_k / λ and
    ∂f/∂v_k = −(u_m + u_n)/λ."""
    p = np.asarray(node_positions_m, float).reshape(-1, 2)
    q = np.asarray(target_positions_m, float).reshape(-1, 2)
    v = np.asarray(velocities_mps, float).reshape(-1, 2)
    diff = q[None, :, :] - p[:, None, :]
    r = np.linalg.norm(diff, axis=-1)  # (N, K)
    unit = diff / r[..., None]
    # (I − u u^T) v / r, per node and target
    transverse = (v[None, :, :] - unit * np.einsum("nkd,kd->nk", unit, v)[..., None]) / r[..., None]
    wavelength_m = geometry.SPEED_OF_LIGHT_M_S / carrier_hz
    d_position = -(transverse[:, None] + transverse[None, :]) / wavelength_m
    d_velocity = -(unit[:, None] + unit[None, :]) / wavelength_m
    return d_position, d_velocity


def data_symbol_times_s(layout, bandwidth_hz):
    """t_p (P,): the start of sensing/data symbol p after the frame start, (front symbols + p)·(L + CP)/B
    (core.ofdm.FrameLayout: preamble and pilot symbols come first)."""
    if not isinstance(layout, ofdm.FrameLayout):
        raise ValueError(f"layout = {layout!r}: accepted: a core.ofdm.FrameLayout")
    _check_positive("bandwidth_hz", bandwidth_hz)
    return (layout.front_symbols + np.arange(layout.data_symbols)) * layout.symbol_len / float(bandwidth_hz)


def scenario_symbol_times_s(scenario, symbols=None):
    """data_symbol_times_s of a Scenario's frame layout, with ``symbols`` (P) overriding its symbols_per_frame."""
    layout = ofdm.layout_from_scenario(scenario)
    if symbols is not None:
        layout = dataclasses.replace(layout, data_symbols=symbols)
    return data_symbol_times_s(layout, scenario.bandwidth_hz)


# ---- parameter bookkeeping -------------------------------------------------------------------------------------

def doppler_size(num_nodes, num_targets):
    """KN²: one Doppler per link (rx n ← tx m) and target."""
    return num_targets * num_nodes ** 2


def theta_velocity_size(num_nodes, num_targets):
    """dim Θ_v = 4K + 2KN²: x, y, v_x, v_y, b_R, b_I."""
    return 4 * num_targets + 2 * num_targets * num_nodes ** 2


def theta_doppler_size(num_nodes, num_targets):
    """dim Θ_f = 2K + 3KN²: x, y, b_R, b_I, f."""
    return fim.theta_size(num_nodes, num_targets) + doppler_size(num_nodes, num_targets)


def _check_positive(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not np.isfinite(value) \
            or value <= 0:
        raise ValueError(f"{name} = {value!r}: accepted: a finite number > 0")
    return float(value)


def _checked_velocities(geom, velocities_mps):
    K = geom.num_targets
    try:
        v = np.asarray(velocities_mps)
    except (TypeError, ValueError):
        v = np.zeros(0)
    if v.shape != (K, 2) or v.dtype == bool or not np.issubdtype(v.dtype, np.number) or np.iscomplexobj(v) \
            or not np.all(np.isfinite(v)):
        raise ValueError(f"velocities_mps = {velocities_mps!r}: accepted: K × 2 = {K} × 2 finite real numbers (m/s)")
    return v.astype(float)


def _checked_times(geom, symbol_times_s):
    t = np.asarray(symbol_times_s, dtype=float)
    if t.ndim != 1 or t.size < 1 or not np.all(np.isfinite(t)):
        raise ValueError(f"symbol_times_s = {symbol_times_s!r}: accepted: a 1-D list of P ≥ 1 finite times (s)")
    if t.size != geom.symbols:
        raise ValueError(f"symbol_times_s has {t.size} times but the geometry has symbols = {geom.symbols}: accepted: "
                         "one time per symbol (dataclasses.replace(geometry, symbols=P) for another P)")
    return t


class MotionFimMap:
    """The linear map (R_1 … R_N) ↦ F(Ψ_f) for a frame of P symbols with moving targets (module docstring), built
    once per geometry, velocities and symbol times; ``fim_position_velocity(R)`` and ``fim_theta_doppler(R)`` are
    its images over Θ_v and Θ_f.

    ``links[l] = (n, m, indices, Q)`` as core.fim.FimMap's, indices into Ψ_f = [Ψ; f] and Q = (2/σ²)·(T ⊙ Q_m) with
    the time kernel T of this link (P included: FimMap's factor P is T's value at v = 0).
    """

    def __init__(self, geom, velocities_mps, carrier_hz, symbol_times_s):
        self.geom = geom
        self.velocities_mps = _checked_velocities(geom, velocities_mps)
        self.carrier_hz = _check_positive("carrier_hz", carrier_hz)
        self.symbol_times_s = _checked_times(geom, symbol_times_s)
        N, K, mt = geom.num_nodes, geom.num_targets, geom.tx_antennas
        self.psi_dim = fim.psi_size(N, K)
        self.doppler_hz = bistatic_doppler_hz(geom.node_positions_m, geom.target_positions_m, self.velocities_mps,
                                              self.carrier_hz)
        scale = 2.0 / geom.noise_power
        self.links = []
        for n in range(N):
            for m in range(N):
                idx, G, w = self._extended_link(n, m)
                Gm = G.reshape(len(idx), -1, mt)
                Q = np.einsum("iza,jzc->ijac", Gm.conj(), Gm, optimize=True)
                T = w.conj() @ w.T  # T_ij = Σ_p conj(w_i(p)) w_j(p)
                self.links.append((n, m, idx, scale * T[:, :, None, None] * Q))  # G is not kept (L·Mr·Mt per row)
        self.jacobian_velocity = self._jacobian_velocity()

    def _extended_link(self, n, m):
        """The link's Ψ indices and G of core.fim, plus one Doppler row per target (G = b·∂μ/∂b_R: the Doppler
        multiplies the echo by e^{j2π f t_p}, whose f-derivative is j2π t_p times the echo), and the per-symbol
        weights w (I, P): e^{j2π f t_p} for every parameter of target k, times j2π t_p for its Doppler."""
        N, K = self.geom.num_nodes, self.geom.num_targets
        idx, G = fim._link_derivatives(self.geom, n, m)
        _, _, bre, _ = fim._psi_index(N, K)
        position_in_link = {int(i): row for row, i in enumerate(idx)}
        b = self.geom.amplitudes[n, m]
        G_doppler = np.stack([b[k] * G[position_in_link[bre(n, m, k)]] for k in range(K)])
        target = np.concatenate([idx % K, np.arange(K)])  # every Ψ index belongs to one target: k = index mod K
        doppler_rows = self.psi_dim + (n * N + m) * K + np.arange(K)
        t = self.symbol_times_s
        rotation = np.exp(2j * np.pi * np.multiply.outer(self.doppler_hz[n, m], t))  # (K, P)
        w = rotation[target]
        w[len(idx):] *= 2j * np.pi * t
        return np.concatenate([idx, doppler_rows]), np.concatenate([G, G_doppler]), w

    def _jacobian_velocity(self):
        """∂Ψ_f/∂Θ_v (dim Θ_v × dim Ψ_f): eq. (13)'s angle/delay rows, f(q, v) through doppler_jacobians, and the
        identity on the amplitudes."""
        geom = self.geom
        N, K = geom.num_nodes, geom.num_targets
        J_static = fim.jacobian_theta(geom)  # (2K + 2KN², dim Ψ)
        dq, dv = doppler_jacobians(geom.node_positions_m, geom.target_positions_m, self.velocities_mps,
                                   self.carrier_hz)
        J = np.zeros((theta_velocity_size(N, K), self.psi_dim + doppler_size(N, K)))
        J[:2 * K, :self.psi_dim] = J_static[:2 * K]
        J[4 * K:, :self.psi_dim] = J_static[2 * K:]
        for n in range(N):
            for m in range(N):
                for k in range(K):
                    col = self.psi_dim + (n * N + m) * K + k
                    for axis in range(2):  # rows: x_k = axis·K + k, v_{x,k} = 2K + axis·K + k
                        J[axis * K + k, col] = dq[n, m, k, axis]
                        J[2 * K + axis * K + k, col] = dv[n, m, k, axis]
        return J

    def fim_psi(self, covariances):
        """F(Ψ_f) for per-node covariances R (N, Mt, Mt)."""
        R = np.asarray(covariances)
        dim = self.psi_dim + doppler_size(self.geom.num_nodes, self.geom.num_targets)
        F = np.zeros((dim, dim))
        for _, m, idx, Q in self.links:
            F[np.ix_(idx, idx)] += np.real(np.einsum("ijac,ca->ij", Q, R[m]))
        return F

    def fim_position_velocity(self, covariances):
        """F(Θ_v) = J_v F(Ψ_f) J_v^T, Θ_v = [x, y, v_x, v_y, b_R, b_I] (eq. 11 with f = f(q, v))."""
        J = self.jacobian_velocity
        return J @ self.fim_psi(covariances) @ J.T

    def fim_theta_doppler(self, covariances):
        """F(Θ_f), Θ_f = [x, y, b_R, b_I, f]: eq. (11)/(13) on Ψ, f not re-parameterised."""
        return fim.theta_from_psi(self.fim_psi(covariances), fim.jacobian_theta(self.geom), self.geom.num_nodes,
                                  self.geom.num_targets)

    # ---- one realisation of the symbols (for the tests: finite differences, Monte-Carlo) -----------------------

    def mean_derivatives_psi(self, frames):
        """∂μ/∂ψ_f for given frames X (N, Mt, L, P): shape (dim Ψ_f, N, Mr, L, P)."""
        frames = np.asarray(frames)
        N = self.geom.num_nodes
        if frames.ndim != 4 or frames.shape[0] != N or frames.shape[-1] != len(self.symbol_times_s):
            raise ValueError(f"frames of shape {frames.shape}: accepted: (N, Mt, L, P) = ({N}, "
                             f"{self.geom.tx_antennas}, {self.geom.subcarriers}, {len(self.symbol_times_s)})")
        dim = self.psi_dim + doppler_size(N, self.geom.num_targets)
        out = np.zeros((dim, N, self.geom.rx_antennas) + frames.shape[2:], complex)
        for n in range(N):
            for m in range(N):
                idx, G, w = self._extended_link(n, m)
                out[idx, n] += np.einsum("ilrt,tlp->irlp", G, frames[m]) * w[:, None, None, :]
        return out

    def conditional_fim_position_velocity(self, frames):
        """F(Θ_v) for one realisation of the frames (eq. 10, no expectation over the symbols)."""
        D = self.mean_derivatives_psi(frames)
        D = np.tensordot(self.jacobian_velocity, D.reshape(D.shape[0], -1), axes=1)
        return (2.0 / self.geom.noise_power) * np.real(D.conj() @ D.T)

    # ---- bounds ------------------------------------------------------------------------------------------------

    def position_velocity_information(self, covariances):
        """The equivalent FIM of [x, y, v_x, v_y] (4K × 4K) with the amplitudes eliminated (Schur complement): the
        information one frame adds to a track's position-velocity state (SPEC15 §5's information recursion)."""
        return fim.schur_complement(self.fim_position_velocity(covariances), 4 * self.geom.num_targets)

    def position_velocity_crb(self, covariances):
        """PositionVelocityCrb of F(Θ_v) (amplitudes unknown)."""
        return _position_velocity_crb(self.fim_position_velocity(covariances), self.geom.num_targets)

    def position_crb_doppler_nuisance_m2(self, covariances):
        """(total, per-target) position CRB in m² with b and every per-link Doppler unknown, or (None, None)."""
        K = self.geom.num_targets
        return fim.position_crb_from_fim_theta(fim.schur_complement(self.fim_theta_doppler(covariances), 2 * K), K)


@dataclasses.dataclass(frozen=True)
class PositionVelocityCrb:
    """CRBs from F(Θ_v) with the amplitudes as nuisance; None where the information does not fix the quantity
    (one symbol gives no velocity information at all: its Doppler phase is one more phase of b)."""

    position_m2: object  # Σ_k tr of target k's position block (m²), velocity unknown
    position_per_target_m2: object
    velocity_m2_per_s2: object  # Σ_k tr of target k's velocity block ((m/s)²), position unknown
    velocity_per_target_m2_per_s2: object
    matrix: object  # (4K, 4K) CRB of [x, y, v_x, v_y], or None when it is singular

    def as_dict(self):
        return {f.name: (getattr(self, f.name).tolist() if isinstance(getattr(self, f.name), np.ndarray)
                         else getattr(self, f.name)) for f in dataclasses.fields(self)}


def _position_velocity_crb(F_velocity, num_targets):
    K = num_targets
    position, per_position = fim.position_crb_from_fim_theta(fim.schur_complement(F_velocity, 2 * K), K)
    order = np.concatenate([np.arange(2 * K, 4 * K), np.arange(2 * K), np.arange(4 * K, F_velocity.shape[0])])
    velocity, per_velocity = fim.position_crb_from_fim_theta(
        fim.schur_complement(F_velocity[np.ix_(order, order)], 2 * K), K)
    inv = fim._inverse_or_none(fim.schur_complement(F_velocity, 4 * K))
    return PositionVelocityCrb(position, per_position, velocity, per_velocity, inv)


# ---- the contract of SPEC15 §1 -----------------------------------------------------------------------------------

def position_velocity_fim(geometry, covariances, velocities_mps, carrier_hz, symbol_times_s):
    """F(Θ_v), Θ_v = [x (K), y (K), v_x (K), v_y (K), b_R (KN²), b_I (KN²)]: the expected FIM (eq. 10–11, data
    independent from symbol to symbol, E[x_m x_m'^H] = R_m δ_mm' as eq. 16) of a frame of P = len(symbol_times_s) =
    geometry.symbols symbols at times t_p after the frame start (data_symbol_times_s), targets moving at
    ``velocities_mps`` (K, 2), Doppler at ``carrier_hz``."""
    return MotionFimMap(geometry, velocities_mps, carrier_hz, symbol_times_s).fim_position_velocity(covariances)


def position_velocity_crb(geometry, covariances, velocities_mps, carrier_hz, symbol_times_s):
    """The position-velocity CRB of one frame (PositionVelocityCrb): positions and velocities unknown together,
    amplitudes as nuisance. Arguments as position_velocity_fim."""
    return MotionFimMap(geometry, velocities_mps, carrier_hz, symbol_times_s).position_velocity_crb(covariances)


def position_crb_doppler_nuisance_m2(geometry, covariances, velocities_mps, carrier_hz, symbol_times_s):
    """The position CRB (m², Σ_k) of one frame with every link's Doppler f_{n,m}^k an unknown nuisance beside the
    amplitudes (the Schur complement of [b; f] in F(Θ_f)); None when unbounded. Arguments as position_velocity_fim
    (the velocities give the true Dopplers at which the FIM is evaluated)."""
    total, _ = MotionFimMap(geometry, velocities_mps, carrier_hz,
                            symbol_times_s).position_crb_doppler_nuisance_m2(covariances)
    return total
