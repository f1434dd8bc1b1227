# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""The achievable position bound of a frame: the conditional CRB averaged over the data and the phases (issue 15).

The paper's CRB (eq. 10–13 with E[x_m x_m'^H] = R_m δ_mm', the block-diagonal reduction of eq. 16–17) is the
inverse of the Fisher information AVERAGED over the symbols and the oscillator phases. An estimator that
works frame by frame meets one realisation: that frame's data and radar symbols, and that frame's phases
φ_m, which are fixed for the whole frame. Its MSE is bounded by the CRB of that frame's conditional FIM
(eq. 10 without the expectation, the cross-node terms W_c,m W_c,m'^H e^{j(φ_m − φ_m')} of the shared CoMP
data included), averaged over frames. By Jensen (the inverse is matrix-convex) this is ≥ the paper's bound;
the gap does not vanish as P → ∞, because the phases stay fixed within the frame (docs/fim-derivation.md §10,
"The achievable bound"; docs/localization.md).

    achievable(P) = E_{data, radar, φ}[ tr([F_cond(Θ)^{-1}]_xy) ]               (P symbols per frame)
    floor         = lim_{P→∞} P·achievable(P) = E_φ[ tr([F̄(Θ; φ)^{-1}]_xy) ]  (F̄: one symbol, data averaged)

``achievable_crb_m2(scenario, wc, wr, symbols=None, draws=..., seed=...)`` computes either, from this module's
own sampler of the PHY's symbol distributions (core/ofdm.py, "Sensing/data symbols"): unit-power QPSK data,
the same at every node (CoMP); radar streams √(L_a·P) times N·Mt orthonormal rows of a Haar-random unitary
over the frame's L_a·P active resource elements (the PHY draws them from a 64-entry seeded codebook of such
unitaries with a random cyclic RE rotation and per-RE quarter turns, which leave the Haar law invariant); node
phases uniform and independent per frame (the ideal air, core.channels.node_phases_rad). It does not use the
PHY's frames, so comparing it with trial_stats.conditional_crbs_m2 on the PHY's frames is an independent check.

How it is fast (docs/fim-derivation.md §10): every derivative of the mean at receiver n is a sum of "atoms"
r ⊗ s, r a receive steering vector (or its θ-derivative) and s the transmit beam output a_t^T(θ_m^k) x_m (or
ȧ_t^T x_m) weighted by d_l(τ) or ḋ_l(τ) over the subcarriers. So a frame enters the FIM only through the
per-subcarrier Gram matrix of its 2NK beam outputs (instead of its N·Mt·L·P symbols), and the amplitudes of
different receivers never couple: the equivalent position FIM is a sum over receivers of per-receiver Schur
complements. Everything is vectorised over draws.
"""

import math

import numpy as np

from . import fim, fusion, geometry, ofdm

DEFAULT_DRAWS = 2000
# the P → ∞ limit for N = 2 or 3 nodes is an integral over N − 1 phase differences of a smooth periodic
# function: the periodic trapezoid rule converges exponentially, so a modest grid is exact to rounding
# (its error estimate, the change from the half grid, is reported); N ≥ 4 samples the phases instead
PHASE_GRID_POINTS = {0: 1, 1: 64, 2: 32}  # by the number of phase differences, N − 1
# working memory per chunk of draws for the per-subcarrier atom Gram matrices (bytes)
_CHUNK_BYTES = 48e6
_STREAM_PHASES, _STREAM_DATA, _STREAM_RADAR = 0xF1, 0xDA7A, 0x4ADA
# atom types at a receiver, per (transmitter m, target k): receive vector ⊗ signal vector over (l, p)
#   A: ȧ_r ⊗ d⊙z   (receive angle)      B: a_r ⊗ d⊙ż  (transmit angle)
#   C: a_r ⊗ ḋ⊙z   (delay)              D: a_r ⊗ d⊙z  (amplitude)
# with z = a_t^T(θ_m^k) x_m, ż = ȧ_t^T x_m (the beam outputs), d = d_l(τ_n^k + τ_m^k), ḋ = ∂d/∂τ


class AchievableError(ValueError):
    """A request the bound cannot serve; the message names the value and what is accepted."""


def _check_symbols(symbols):
    if symbols is None:
        return None
    if isinstance(symbols, float) and math.isinf(symbols) and symbols > 0:
        return math.inf
    if isinstance(symbols, bool) or not isinstance(symbols, (int, np.integer)) or symbols < 1:
        raise AchievableError(f"symbols = {symbols!r}: accepted: None (the scenario's symbols_per_frame), an "
                              "integer ≥ 1, or math.inf (the P → ∞ limit)")
    return int(symbols)


def _check_draws(draws):
    if isinstance(draws, bool) or not isinstance(draws, (int, np.integer)) or draws < 2:
        raise AchievableError(f"draws = {draws!r}: accepted: an integer ≥ 2 (frames sampled; the standard error "
                              "needs two)")
    return int(draws)


class AchievableBound:
    """The conditional position CRB of frames of a scenario with precoders W_c (N, Mt, U), W_r (N, Mt, Mt).

    Built once per (scenario, precoders); ``conditional_crbs_m2(beams)`` evaluates it for frames given by
    their beam outputs (``sample_beams`` or ``beams_of_frames``), ``phase_conditional_crbs_m2(phases)`` the
    one-symbol bound of the data-averaged FIM at fixed phases, ``expected_crb_m2()`` the paper's (one
    symbol), all vectorised over frames. Frequency grid: the scenario's model grid ("low-if", l·B/L).
    """

    def __init__(self, scenario, wc, wr):
        geom = fim.SensingGeometry.from_scenario(scenario)
        self.geometry = geom
        self.layout = ofdm.layout_from_scenario(scenario)
        N, K = geom.num_nodes, geom.num_targets
        mt, mr, L = geom.tx_antennas, geom.rx_antennas, geom.subcarriers
        wc, wr = np.asarray(wc, dtype=complex), np.asarray(wr, dtype=complex)
        if wc.shape != (N, mt, self.layout.num_users) or wr.shape != (N, mt, mt):
            raise AchievableError(f"precoder shapes W_c {wc.shape}, W_r {wr.shape}: accepted: W_c (N, Mt, U) = "
                                  f"({N}, {mt}, {self.layout.num_users}) and W_r (N, Mt, Mt) = ({N}, {mt}, {mt})")
        if not (np.all(np.isfinite(wc)) and np.all(np.isfinite(wr))):
            raise AchievableError("precoders with non-finite entries: accepted: finite complex numbers")
        self.wc, self.wr = wc, wr
        self.num_nodes, self.num_targets = N, K
        self.noise_power = geom.noise_power
        theta, tau = geom.angles_rad(), geom.delays_s()  # (N, K)
        dtheta, dtau = geometry.angle_delay_jacobians(geom.node_positions_m, geom.target_positions_m)  # (N, K, 2)
        # transmit beams of (m, k, ζ), index (m·K + k)·2 + ζ: rows g with z = g_c·s_c + g_r·s_r,m (a_t^T W x)
        a_t = geometry.ula_steering(theta, mt)  # (N, K, Mt)
        da_t = geometry.ula_steering_derivative(theta, mt)
        steer = np.stack([a_t, da_t], axis=2)  # (N, K, 2, Mt)
        self.beam_comm = np.einsum("mkzt,mtu->mkzu", steer, wc).reshape(2 * N * K, -1)  # (NB, U)
        self.beam_radar = np.einsum("mkzt,mts->mkzs", steer, wr).reshape(2 * N * K, mt)  # (NB, Mt)
        self.beam_node = np.repeat(np.arange(N), 2 * K)  # transmitter of each beam
        # signal vectors at receiver n, index σ = (m·K + k)·3 + type: d⊙z, d⊙ż, ḋ⊙z over the (l, p) of a frame
        self._signal_beam = np.array([(m * K + k) * 2 + z for m in range(N) for k in range(K) for z in (0, 1, 0)])
        # atoms (module docstring), index a = (m·K + k)·4 + t:
        # A (ȧ_r, d⊙z), B (a_r, d⊙ż), C (a_r, ḋ⊙z), D (a_r, d⊙z)
        atoms = [(m, k, t) for m in range(N) for k in range(K) for t in range(4)]
        atom_signal = np.array([(m * K + k) * 3 + (0, 1, 2, 0)[t] for m, k, t in atoms])
        self._atom_pair = (atom_signal[:, None], atom_signal[None, :])
        mask = geom.active_mask()
        f = ofdm.bin_frequencies_hz(L, geom.bandwidth_hz, geom.frequency_grid)  # (L,)
        a_r = geometry.ula_steering(theta, mr)  # (N, K, Mr)
        da_r = geometry.ula_steering_derivative(theta, mr)
        b = geom.amplitudes  # (N rx, N tx, K)
        n_local = 2 * K + 2 * N * K
        weights = np.zeros((N, L, len(self._signal_beam)), complex)  # Ω[n, l, σ]: d_l(τ) or ḋ_l(τ), 0 when inactive
        rx_gram = np.zeros((N, len(atoms), len(atoms)), complex)  # r_a^H r_c
        coeff = np.zeros((N, len(atoms), n_local), complex)  # C_n: atoms → (x, y, this receiver's b_R, b_I)
        for n in range(N):
            vec = np.array([(da_r if t == 0 else a_r)[n, k] for _, k, t in atoms])  # (A, Mr)
            rx_gram[n] = vec.conj() @ vec.T
            for m in range(N):
                for k in range(K):
                    d = np.exp(-2j * np.pi * f * (tau[n, k] + tau[m, k])) * mask
                    weights[n, :, (m * K + k) * 3:(m * K + k) * 3 + 3] = np.stack([d, d, -2j * np.pi * f * d], axis=1)
                    a = (m * K + k) * 4
                    c = b[n, m, k]
                    coeff[n, a, [k, K + k]] = c * dtheta[n, k]  # A: receive angle θ_n^k
                    coeff[n, a + 1, [k, K + k]] = c * dtheta[m, k]  # B: transmit angle θ_m^k
                    coeff[n, a + 2, [k, K + k]] = c * (dtau[n, k] + dtau[m, k])  # C: bistatic delay τ_n^k + τ_m^k
                    coeff[n, a + 3, 2 * K + m * K + k] = 1.0  # D: the link's amplitude b_{n,m}^k, real part
                    coeff[n, a + 3, 2 * K + N * K + m * K + k] = 1j  # and imaginary part
        self._weights = weights
        self._weights_sum = np.einsum("nls,nlt->nst", weights.conj(), weights)  # Σ_l conj(Ω_σ) Ω_σ'
        self._rx_gram = rx_gram
        self._coeff = coeff
        self._coeff_h = np.conj(np.swapaxes(coeff, -1, -2))

    # ---- frames → beam outputs ----------------------------------------------------------------------------
    def beams_of_frames(self, frames, phases_rad=None):
        """Beam outputs y (F, 2NK, L, P) of given frames X (F, N, Mt, L, P) and node phases (F, N) (default 0):
        y_(m,k,ζ) = e^{jφ_m} a^T X_m with a = a_t(θ_m^k) (ζ = 0) or ȧ_t (ζ = 1)."""
        frames = np.asarray(frames)
        N, K, mt = self.num_nodes, self.num_targets, self.geometry.tx_antennas
        theta = self.geometry.angles_rad()
        steer = np.stack([geometry.ula_steering(theta, mt), geometry.ula_steering_derivative(theta, mt)], axis=2)
        y = np.einsum("mkzt,fmtlp->fmkzlp", steer, frames)
        if phases_rad is not None:
            y = y * np.exp(1j * np.asarray(phases_rad))[:, :, None, None, None, None]
        return y.reshape(frames.shape[0], 2 * N * K, frames.shape[3], frames.shape[4])

    def sample_beams(self, symbols, draws, seed=0, phases_rad=None, shared_data=True, block=0):
        """Beam outputs (draws, 2NK, L, P) of frames drawn from the PHY's symbol distributions (module docstring),
        with uniform node phases drawn from ``seed`` (or the given (draws, N) ``phases_rad``: common random
        numbers across P). ``shared_data=False``: every node its own independent data (not the PHY's CoMP: the
        counterfactual that shows where the floor comes from, docs/fim-derivation.md §10). ``block``: a further
        key of the data and radar draws (achievable_crb_m2 samples in blocks of bounded memory)."""
        lay = self.layout
        N, mt, L, P, U = self.num_nodes, lay.tx_antennas, lay.subcarriers, int(symbols), lay.num_users
        active = lay.active_mask
        res = int(active.sum()) * P
        if res < N * mt:
            raise AchievableError(f"symbols = {P}: radar streams of N·Mt = {N * mt} rows cannot be orthogonal over "
                                  f"L_active·P = {res} resource elements; accepted: "
                                  f"P ≥ {math.ceil(N * mt / active.sum())}")
        if phases_rad is None:
            phases_rad = sample_phases_rad(draws, N, seed)
        phases_rad = np.asarray(phases_rad, dtype=float).reshape(draws, N)
        rng = np.random.default_rng([int(seed), _STREAM_DATA, P, int(block)])
        codes = rng.integers(0, 4, size=(draws, 1 if shared_data else N, U, L * P))
        s_c = ofdm.QPSK_SCALE * ((1 - 2 * (codes & 1)) + 1j * (1 - 2 * (codes >> 1)))
        s_c = s_c * np.repeat(active, P)  # (draws, 1 or N, U, L·P)
        rng = np.random.default_rng([int(seed), _STREAM_RADAR, P, int(block)])
        gauss = rng.standard_normal((draws, res, N * mt)) + 1j * rng.standard_normal((draws, res, N * mt))
        q, r = np.linalg.qr(gauss)
        diag = np.diagonal(r, axis1=-2, axis2=-1)
        q = q * (diag / np.abs(diag))[:, None, :]  # Haar: orthonormal columns with the phase fixed
        s_r = np.zeros((draws, N * mt, L * P), complex)
        s_r[:, :, np.flatnonzero(np.repeat(active, P))] = math.sqrt(res) * np.swapaxes(q, 1, 2)
        s_r = s_r.reshape(draws, N, mt, L * P)
        y = np.empty((draws, len(self.beam_node), L * P), complex)
        for m in range(N):  # node m's beams: a^T (W_c,m s_c + W_r,m s_r,m), one GEMM each over all draws
            rows = self.beam_node == m
            y[:, rows] = self.beam_comm[rows] @ s_c[:, 0 if shared_data else m] + self.beam_radar[rows] @ s_r[:, m]
        y = y * np.exp(1j * phases_rad[:, self.beam_node])[:, :, None]
        return y.reshape(draws, -1, L, P)

    # ---- the bound ----------------------------------------------------------------------------------------
    def conditional_crbs_m2(self, beams):
        """Position CRB (m², Σ over targets) of the conditional FIM of each frame (eq. 10, no expectation), from
        its beam outputs (F, 2NK, L, P); +inf where that FIM is singular."""
        beams = np.asarray(beams)
        frames, _, L, P = beams.shape
        N, S = self.num_nodes, len(self._signal_beam)
        chunk = max(1, int(_CHUNK_BYTES // (16 * N * S * L * P)))
        out = np.empty(frames)
        for start in range(0, frames, chunk):
            y = beams[start:start + chunk][:, self._signal_beam]  # (F, S, L, P)
            signals = (self._weights.transpose(0, 2, 1)[None, :, :, :, None] * y[:, None]).reshape(len(y), N, S, L * P)
            gram = np.matmul(signals.conj(), np.swapaxes(signals, -1, -2))  # (F, N, S, S): s_σ^H s_σ'
            out[start:start + chunk] = self._crbs_from_signal_gram(gram)
        return out

    def phase_conditional_crbs_m2(self, phases_rad, shared_data=True):
        """Position CRB (m²) of ONE symbol's FIM averaged over the data and radar symbols at fixed node phases
        (F, N): the P → ∞ limit of P·(conditional CRB) of a frame with these phases. ``shared_data=False``:
        independent data per node (then no cross-node term survives and this is the paper's bound)."""
        phases = np.exp(1j * np.asarray(phases_rad, dtype=float))[:, self.beam_node]  # (F, NB)
        comm = self.beam_comm.conj() @ self.beam_comm.T  # E over the shared data: Σ_u conj(g_b) g_c
        if not shared_data:
            comm = comm * (self.beam_node[:, None] == self.beam_node[None, :])
        radar = (self.beam_radar.conj() @ self.beam_radar.T) * (self.beam_node[:, None] == self.beam_node[None, :])
        per_re = (phases.conj()[:, :, None] * phases[:, None, :]) * comm + radar  # (F, NB, NB) on every active RE
        return self._crbs_from_re_covariance(per_re)

    def expected_crb_m2(self):
        """The paper's position CRB (eq. 10–13) of ONE symbol, on this module's own path: the data and phases
        averaged (cross-node terms zero). Equal to fusion.position_crb_per_target_m2(...).sum() (tested)."""
        comm = (self.beam_comm.conj() @ self.beam_comm.T + self.beam_radar.conj() @ self.beam_radar.T)
        per_re = comm * (self.beam_node[:, None] == self.beam_node[None, :])
        return float(self._crbs_from_re_covariance(per_re[None])[0])

    def _crbs_from_re_covariance(self, per_re):
        """E[conj(y_b) y_c] (F, NB, NB), the same on every active RE → one-symbol position CRBs (F,)."""
        beam = self._signal_beam
        gram = per_re[:, beam[:, None], beam[None, :]][:, None] * self._weights_sum[None]  # (F, N, S, S)
        return self._crbs_from_signal_gram(gram)

    def _crbs_from_signal_gram(self, gram):
        """Per-receiver Gram (F, N, S, S) of the signal vectors → position CRBs (F,): the atom Gram
        ⟨r⊗s, r'⊗s'⟩ = (r^H r')(s^H s'), the per-receiver FIM of (x, y, its amplitudes) (eq. 10–11), its Schur
        complement over the amplitudes, summed over the receivers."""
        atom_gram = gram[:, :, self._atom_pair[0], self._atom_pair[1]] * self._rx_gram[None]  # (F, N, A, A)
        frames, N, A = atom_gram.shape[:3]
        d = self._coeff.shape[-1]
        local = np.empty((frames, N, d, d))
        for n in range(N):  # C_n^H Γ C_n as two plain GEMMs over all frames (a broadcast matmul is slower)
            right = (atom_gram[:, n].reshape(frames * A, A) @ self._coeff[n]).reshape(frames, A, d)
            both = self._coeff_h[n] @ right.transpose(1, 0, 2).reshape(A, frames * d)  # (d, F·d)
            local[:, n] = np.real(both.reshape(d, frames, d).transpose(1, 0, 2))
        return _position_crbs((2.0 / self.noise_power) * local, 2 * self.num_targets)


def _position_crbs(local_fims, keep):
    """Σ_n Schur complements of per-receiver FIMs (F, N, d, d) over their last d − keep (amplitude) parameters,
    then tr(F_eq^{-1}) per frame; +inf where F_eq is singular (fim.SINGULAR_RCOND, after unit-diagonal scaling)."""
    local = 0.5 * (local_fims + np.swapaxes(local_fims, -1, -2))
    diag = np.diagonal(local, axis1=-2, axis2=-1)
    scale = np.where(diag > 0, 1.0 / np.sqrt(np.where(diag > 0, diag, 1.0)), 0.0)
    scaled = local * scale[..., :, None] * scale[..., None, :]
    A, B, C = scaled[..., :keep, :keep], scaled[..., :keep, keep:], scaled[..., keep:, keep:]
    eig, vec = np.linalg.eigh(C)
    big = eig > fim.SINGULAR_RCOND * np.maximum(eig[..., -1:], 0.0)  # pseudo-inverse: no information, no coupling
    inv_eig = np.where(big, 1.0 / np.where(big, eig, 1.0), 0.0)
    W = B @ vec
    equivalent = A - (W * inv_eig[..., None, :]) @ np.swapaxes(W, -1, -2)
    unscale = np.where(scale[..., :keep] > 0, 1.0 / np.where(scale[..., :keep] > 0, scale[..., :keep], 1.0), 0.0)
    equivalent = equivalent * unscale[..., :, None] * unscale[..., None, :]
    total = equivalent.sum(axis=1)  # Σ over receivers (F, keep, keep)
    total = 0.5 * (total + np.swapaxes(total, -1, -2))
    d = np.diagonal(total, axis1=-2, axis2=-1)
    ok = np.all(d > 0, axis=-1)
    s = 1.0 / np.sqrt(np.where(d > 0, d, 1.0))
    ts = total * s[:, :, None] * s[:, None, :]
    eig = np.linalg.eigvalsh(ts)
    ok &= eig[:, 0] > fim.SINGULAR_RCOND * eig[:, -1]
    crb = np.full(total.shape[0], math.inf)
    if np.any(ok):
        inv = np.linalg.inv(ts[ok]) * (s[ok][:, :, None] * s[ok][:, None, :])
        crb[ok] = np.trace(inv, axis1=-2, axis2=-1)
    return crb


def sample_phases_rad(draws, num_nodes, seed=0):
    """Uniform independent node phases (draws, N), as the ideal air's per-frame oscillators."""
    rng = np.random.default_rng([int(seed), _STREAM_PHASES])
    return 2 * np.pi * rng.random((int(draws), int(num_nodes)))


def phase_grid_rad(num_nodes, points):
    """A periodic tensor grid over the N − 1 phase differences (node 0's phase 0): (points^(N−1), N)."""
    axes = [np.zeros(1)] + [2 * np.pi * np.arange(points) / points] * (num_nodes - 1)
    return np.stack([g.ravel() for g in np.meshgrid(*axes, indexing="ij")], axis=1)


def paper_crb_m2(scenario, wc, wr, symbols=None):
    """The paper's expected-FIM position CRB (eq. 10–13; m², Σ over targets) of a frame of P symbols (default the
    scenario's), as `disac crb` and `disac localize` report it (crb_position_m2)."""
    geom = fim.SensingGeometry.from_scenario(scenario)
    if symbols is not None:
        geom = fim.SensingGeometry(**{**geom.__dict__, "symbols": int(symbols)})
    return float(np.sum(fusion.position_crb_per_target_m2(geom, wc, wr)))


def achievable_crb_m2(scenario, wc, wr, symbols=None, draws=DEFAULT_DRAWS, seed=0, bound=None):
    """The achievable position bound (m², Σ over targets) of a frame: the conditional CRB (cross-node terms
    included) averaged over the data, radar symbols and oscillator phases (module docstring), beside the paper's.

    symbols: P (default the scenario's symbols_per_frame): the Monte-Carlo mean over ``draws`` frames sampled
    from ``seed``; math.inf: the P → ∞ limit, the one-symbol CRB of the data-averaged FIM averaged over the
    phases (a phase grid for N ≤ 3, ``draws`` sampled phase sets otherwise), expressed for a frame of the
    scenario's P_s symbols (lim P·achievable(P) / P_s) so that it stands beside the scenario's paper bound.
    ``bound``: an AchievableBound of this scenario and these precoders to reuse.

    Returns a dict: achievable_m2, paper_m2 (the expected-FIM CRB of eq. 10–13 at the same P), ratio
    (achievable/paper), standard_error_m2 and relative_standard_error (the Monte-Carlo standard error; for the
    phase grid the change from the half grid, an error bound in practice), symbols (P, or "inf"), draws,
    method ("monte-carlo", "phase-grid" or "phase-monte-carlo"), seed.
    """
    symbols = _check_symbols(symbols)
    draws = _check_draws(draws)
    bound = bound or AchievableBound(scenario, wc, wr)
    scenario_symbols = int(scenario.symbols_per_frame)
    if symbols is None:
        symbols = scenario_symbols
    if symbols == math.inf:
        N = scenario.num_nodes
        points = PHASE_GRID_POINTS.get(N - 1)
        if points is not None:
            grid = phase_grid_rad(N, points)
            crbs = bound.phase_conditional_crbs_m2(grid)
            mean = float(np.mean(crbs))
            if N > 1:
                half = np.all(np.round(grid[:, 1:] / (2 * np.pi) * points).astype(int) % 2 == 0, axis=1)
                error = abs(mean - float(np.mean(crbs[half])))
            else:
                error = 0.0
            method, used = "phase-grid", len(grid)
        else:
            crbs = bound.phase_conditional_crbs_m2(sample_phases_rad(draws, N, seed))
            mean, error = float(np.mean(crbs)), float(np.std(crbs, ddof=1) / math.sqrt(draws))
            method, used = "phase-monte-carlo", draws
        mean, error = mean / scenario_symbols, error / scenario_symbols
        paper = paper_crb_m2(scenario, wc, wr, scenario_symbols)
        label = "inf"
    else:
        phases = sample_phases_rad(draws, scenario.num_nodes, seed)
        # the sampler holds ~6 complex arrays of L·P × N·Mt per draw (the Haar QR): blocks of bounded memory
        per_draw = 6 * 16 * scenario.subcarriers * symbols * scenario.num_nodes * scenario.tx_antennas
        size = max(1, int(4 * _CHUNK_BYTES // per_draw))
        crbs = np.concatenate([bound.conditional_crbs_m2(bound.sample_beams(
            symbols, len(phases[i:i + size]), seed, phases[i:i + size], block=i // size)) for i in range(0, draws, size)])
        mean, error = float(np.mean(crbs)), float(np.std(crbs, ddof=1) / math.sqrt(draws))
        paper = paper_crb_m2(scenario, wc, wr, symbols)
        method, used, label = "monte-carlo", draws, symbols
    return {"achievable_m2": mean, "paper_m2": paper, "ratio": mean / paper, "standard_error_m2": error,
            "relative_standard_error": error / mean if mean > 0 else math.nan, "symbols": label, "draws": used,
            "method": method, "seed": int(seed)}


# ---- the Monte-Carlo the bound is compared with -------------------------------------------------------------

def localisation_squared_errors_m2(scenario, wc, wr, frames, seed=0, channel_seed=1, search="track", linearised=False):
    """Σ_k ‖q̂_k − q_k‖² (m², estimates matched to the targets) per frame of the central unit's ML estimator
    (core.fusion.FrameEstimator through impairment_trials.localise_frames) on snapshots of the scenario's own
    air (impairment_trials.receive_snapshots: the PHY's frames, oscillator phases from ``channel_seed``, AWGN
    from ``seed``), the receive side given ``scenario.without_impairments()``. ``search`` "track" refines from
    the previous frame's estimate and falls back to the full search whenever the residual is implausible for
    noise alone: at high SNR the same estimates as "full" (docs/localization.md), several times faster.

    ``linearised=True``: also Σ_k ‖e_k‖² of the efficient linearised error of each frame, e = [F_cond^{-1} s]_xy
    with s the score of that frame's noise realisation (Z = noisy − noise-free snapshot, the same draw) and F_cond
    its conditional FIM (eq. 10; fim.mean_derivatives with the amplitudes b·e^{j(φ_m − φ_n)}). E[‖e‖² | frame] is
    that frame's conditional CRB exactly, and at high SNR the ML error is e plus higher-order terms, so
    mean(sq − sq_lin) + achievable is an unbiased estimate of the MSE with a far smaller variance (a control
    variate of known mean; docs/localization.md). Returns (sq, sq_lin) then."""
    from . import channels, impairment_trials, trial_stats  # the PHY and the localiser: only for this Monte-Carlo

    frames = np.asarray(frames, dtype=np.int64)
    snapshots = impairment_trials.receive_snapshots(scenario, wc, wr, frames, seed, channel_seed)
    result = impairment_trials.localise_frames(scenario.without_impairments(), snapshots, frames, wc, wr, seed,
                                               search=search)
    truth = scenario.target_positions_m
    sq = np.array([np.sum(trial_stats.matched_errors(np.asarray(p), truth) ** 2) for p in result.positions_m])
    if not linearised:
        return sq
    noise = snapshots.astype(complex) - impairment_trials.receive_snapshots(scenario, wc, wr, frames, seed,
                                                                            channel_seed, noise=False)
    layout = ofdm.layout_from_scenario(scenario)
    base = fim.SensingGeometry.from_scenario(scenario.without_impairments())
    jac = fim.jacobian_theta(base)
    x = np.stack([ofdm.transmitted_frames(layout, seed, frames, m, wc[m], wr[m]) for m in range(scenario.num_nodes)],
                 axis=1)  # (F, N, Mt, L, P)
    amps = channels.linked_amplitudes(scenario.target_amplitudes(),
                                      channels.node_phases_rad(channel_seed, frames, scenario.num_nodes))
    K, dim = scenario.num_targets, fim.psi_size(scenario.num_nodes, scenario.num_targets)
    sq_lin = np.empty(len(frames))
    for f in range(len(frames)):
        geom = fim.SensingGeometry(**{**base.__dict__, "amplitudes": amps[f]})
        D = fim.mean_derivatives(geom, x[f]).reshape(dim, -1)
        F_theta = jac @ ((2.0 / geom.noise_power) * np.real(D.conj() @ D.T)) @ jac.T
        score = jac @ ((2.0 / geom.noise_power) * np.real(D.conj() @ noise[f].reshape(-1)))
        sq_lin[f] = float(np.sum(np.linalg.solve(F_theta, score)[:2 * K] ** 2))
    return sq, sq_lin
