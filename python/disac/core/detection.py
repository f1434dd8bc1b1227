# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Detection with an unknown number of targets K̂ ∈ 0 … K_max (issue 15 item 3): a GLRT stop rule on the
localiser's successive fit, with a threshold set for the user's false-alarm rate; beside it, for the
measurement that chose it, a cell-averaging CFAR on the fused range-angle map. docs/localization.md,
"Unknown number of targets", has the derivation and the figures.

The GLRT stop rule (``detect_targets``)
    After k targets are found and jointly refined (Localizer's variable-projection LM on eq. 9), the data
    left are w_n = P⊥_{A_n(q̂_1…q̂_k)} y_n. The test of "one more target at g" against "no more targets" is the
    energy that the next target's columns explain,

        E_k(g) = Σ_n w_nᴴ P_{a_n(g)} w_n     (Localizer._grid_explained_energy on the residual),

    maximised over the grid, T_k = max_g E_k(g)/σ². A target is accepted while T_k > η; then all found targets
    are refined jointly and the next step runs on the new residual. K̂ = the number accepted (≤ max_targets).

    Null distribution. Under H0 (no target left) w_n is white noise CN(0, σ²I) (projected), and at one grid
    point the explained energy is the energy of w_n's projection on T columns (one per transmitting node)
    per receiving node: E(g)/σ² ~ Γ(R·T, 1), i.e. σ²/2·χ² with 2·R·T degrees of freedom (R receiving, T
    transmitting nodes used; paper: 8). Projecting the earlier targets out first only lowers E near them
    (w_nᴴ P_a w_n ≤ w_nᴴ P_{P⊥a} w_n), so step k's statistic is stochastically below step 1's: one threshold
    serves every step, slightly conservative after the first.

    The maximum over G grid points. The points are correlated (neighbours share most of their columns), so
    P(max ≤ t) = F_Γ(t)^G (independent points) is not the law; the extreme-value model used is
    P(max ≤ t) = F_Γ(t; R·T)^{G_eff} with an effective number of independent cells G_eff ≤ G. Without a
    calibration G_eff = G (Bonferroni, the union bound: P_fa ≤ the set rate; measured 1.6–2× below it on the
    paper geometry). ``calibrate_null_model`` fits G_eff by maximum likelihood to a Monte-Carlo of noise-only
    frames through the very same statistic (with the frames X_m in force: the field's correlation depends on
    the beams): u_i = F_Γ(T_i) is Beta(G_eff, 1) under the model. G_eff is not quite constant — measured on the
    paper geometry (3000 noise-only frames, 2948 grid points) the G implied by the empirical quantile q of the
    maximum grows from 1400 at q = 0.5 to ≈ 1850 for q ≥ 0.9 (at higher levels the excursions shrink to single
    cells, which are more nearly independent) — so the fit uses the tail it is needed in: the draws below their
    80 % quantile are censored there (a peaks-over-threshold likelihood). With 500 draws: Ĝ_eff ≈ 1690 ± 12 %,
    and held-out noise-only frames exceed η at 0.058 ± 0.008 for a set 0.05, 0.0099 ± 0.0019 for 0.01 (a fit
    to all draws gave 0.068 and 0.012). The threshold is then

        η = F_Γ⁻¹((1 − P_fa)^{1/G_eff}; R·T)      (P_fa: probability of a false target in a noise-only frame).

    Far below the calibrated levels the growth goes on: the union bound (G_eff = G) is then nearly tight —
    2000 held-out noise-only frames exceeded the calibrated η of a set 1e-3 at 0.0035, the union bound's at
    0.0015 ± 0.0009 (and at a set 0.01: 0.014 and 0.007). A one-parameter fit at the bulk would extrapolate
    optimistically, so the threshold uses the calibrated G_eff only at rates the calibration resolves (at least
    RESOLVED_EXCEEDANCES = 10 expected exceedances among its draws: P_fa ≥ 0.02 with 500 draws) and the union
    bound below (the default 1e-3 among them): conservative by construction, and measured close.

    Noise power. σ² is known to the receive side (the scenario's noise_power, the radios' noise figure). On a
    real radio it is estimated from the data: ``noise_power=None`` takes, at every step, the residual energy
    outside the best cell per remaining complex dimension, σ̂² = (‖w‖² − max_g E(g)) / (R·D − R·(T·k + J) −
    R·T) (D = Mr·L_a·P samples per node, J known paths per node). It holds the energy of targets not found
    yet, so it is high (conservative) until the last one is; with R·D = 512 its own spread (~4 %) is
    negligible against the threshold's.

The CFAR (``cfar_detect``)
    The same fused map E_0(g) (no cancellation), cell-averaging over a ring of training cells around each
    grid cell, guard cells excluded: a cell is a detection when it is a local maximum (3 × 3) and
    E_0(g)/mean(training) > R·T·F⁻¹_{2RT, 2MRT}(1 − P_fa/G_eff) (the ratio of a Γ(RT) cell to the mean of M
    independent ones is R·T times an F variable). It needs no σ², but the strong targets' sidelobes are
    cells of their own to it, and a weak target beside a strong one raises its training mean. Measured on the
    paper geometry (docs/localization.md): its false targets per frame are far above the GLRT's at the same
    rate, so the GLRT is what the central unit runs.
"""

import dataclasses
import math

import numpy as np
from scipy import stats

DEFAULT_FALSE_ALARM_RATE = 1e-3
DETECTION_METHODS = ("glrt", "cfar")
DEFAULT_CALIBRATION_DRAWS = 500
# the share of the calibration draws (their largest) the tail fit uses (module docstring)
CALIBRATION_TAIL_FRACTION = 0.2
# below RESOLVED_EXCEEDANCES / draws the calibration has too few exceedances to speak for the rate: the union
# bound's threshold is used there (measured nearly tight at those levels: module docstring)
RESOLVED_EXCEEDANCES = 10
# CFAR window (grid cells, each c/(4B)): guard cells either side of the cell under test, then training cells
CFAR_GUARD_CELLS = 8
CFAR_TRAINING_CELLS = 4


@dataclasses.dataclass(frozen=True)
class NullModel:
    """The noise-only law of the max statistic: P(max_g E(g)/σ² ≤ t) = F_Γ(t; dof)^effective_cells.

    dof: complex degrees of freedom per grid point (R·T); effective_cells: G_eff; method "bonferroni" (G_eff =
    the grid's point count) or "calibrated" (fitted to ``draws`` noise-only frames, relative standard error
    1/√draws)."""

    dof: int
    effective_cells: float
    method: str = "bonferroni"
    draws: int = 0
    grid_points: int = 0

    @property
    def resolved_rate(self):
        """The smallest false-alarm rate the calibration resolves, RESOLVED_EXCEEDANCES / draws (1 without
        one): below it the threshold is the union bound's (G_eff = every grid point; module docstring)."""
        return RESOLVED_EXCEEDANCES / self.draws if self.draws else 1.0

    def cells_at(self, false_alarm_rate):
        """G_eff used at this rate: the calibrated one where the calibration resolves it, else the grid's."""
        if self.method == "calibrated" and false_alarm_rate >= self.resolved_rate:
            return self.effective_cells
        return float(max(self.grid_points, self.effective_cells))

    def threshold(self, false_alarm_rate):
        """η with P(max > η) = false_alarm_rate under H0 (units of σ²)."""
        p = check_false_alarm_rate(false_alarm_rate)
        per_cell = -math.expm1(math.log1p(-p) / self.cells_at(p))  # 1 − (1 − p)^{1/G}
        return float(stats.gamma.isf(per_cell, self.dof))

    def false_alarm_rate(self, threshold):
        """P(max > threshold) under H0 (the inverse of threshold)."""
        def rate(cells):
            return float(-math.expm1(cells * math.log1p(-stats.gamma.sf(threshold, self.dof))))
        calibrated = rate(self.effective_cells)
        resolved = calibrated >= self.resolved_rate * (1 - 1e-9)  # rounding at the boundary rate itself
        return calibrated if resolved and self.method == "calibrated" else rate(
            self.cells_at(0.0))


@dataclasses.dataclass(frozen=True)
class Detection:
    """What detect_targets found: positions_m (K̂, 2) (strongest first, jointly refined), count K̂, the
    statistic of every step run (max explained energy / σ², K̂ + 1 steps unless K̂ = max_targets), the
    threshold of each, the residual energy C(q̂) left (‖y‖² with K̂ = 0), the noise power used (given or
    estimated, per step), the localiser's result of the final joint refinement (None when K̂ = 0) and the
    method."""

    positions_m: np.ndarray
    count: int
    statistics: tuple
    thresholds: tuple
    residual: float
    noise_power: tuple
    result: object = None
    method: str = "glrt"


def check_false_alarm_rate(value):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) or not 0 < value < 1:
        raise ValueError(f"false_alarm_rate = {value!r}: accepted: a probability strictly between 0 and 1")
    return float(value)


def check_max_targets(value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"max_targets = {value!r}: accepted: a whole number ≥ 0")
    return int(value)


def bonferroni_null_model(localizer, rx_count, tx_count):
    """G_eff = every grid point (a union bound: the false-alarm rate is at most the one set)."""
    return NullModel(int(rx_count) * int(tx_count), float(len(localizer.grid_m)), "bonferroni", 0,
                     len(localizer.grid_m))


def max_statistics_noise_only(localizer, frames_list, rx_nodes, tx_nodes, draws, seed):
    """max_g E(g)/σ² of ``draws`` noise-only frames (white CN(0, 1) snapshots), the i-th with frames_list[i mod
    len]: each an (N, Mt, L, P) array or a mapping node → X_m."""
    rng = np.random.default_rng([int(seed), 0xDE7EC7])
    out = np.empty(int(draws))
    for i in range(int(draws)):
        x = frames_list[i % len(frames_list)]
        nodes = sorted(x) if isinstance(x, dict) else range(localizer.num_nodes)
        first = x[nodes[0]] if isinstance(x, dict) else np.asarray(x)[0]
        shape = (localizer.num_nodes, localizer.rx_antennas, localizer.subcarriers, np.shape(first)[-1])
        y = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) * math.sqrt(0.5)
        problem = localizer._problem(y, x, rx_nodes if rx_nodes is not None else range(localizer.num_nodes),
                                     tx_nodes)
        work = problem.y if problem.known is None else problem.project_known(problem.y)
        out[i] = float(np.max(localizer._grid_explained_energy(problem, work)))
    return out


def calibrate_null_model(localizer, frames_list, rx_nodes=None, tx_nodes=None, draws=DEFAULT_CALIBRATION_DRAWS,
                         seed=0, tail_fraction=CALIBRATION_TAIL_FRACTION):
    """The NullModel with G_eff fitted by maximum likelihood to the upper tail of ``draws`` noise-only frames'
    max statistics (module docstring): u_i = F_Γ(T_i; R·T) ~ Beta(G_eff, 1), the draws below their
    (1 − tail_fraction) quantile u_c censored there, Ĝ_eff = n_tail / (−Σ_tail log u_i − n_below·log u_c); at most
    the grid's point count (the union bound). frames_list: the frames X_m in force (the beams set the map's
    correlation), each (N, Mt, L, P) or a mapping node → X_m, used in turn."""
    if isinstance(draws, bool) or not isinstance(draws, (int, np.integer)) or draws < 20:
        raise ValueError(f"draws = {draws!r}: accepted: a whole number ≥ 20")
    if not 0 < tail_fraction <= 1:
        raise ValueError(f"tail_fraction = {tail_fraction!r}: accepted: 0 < fraction ≤ 1")
    if len(frames_list) == 0:
        raise ValueError("frames_list is empty: at least one frame X is needed")
    maxima = max_statistics_noise_only(localizer, frames_list, rx_nodes, tx_nodes, draws, seed)
    rx = localizer.num_nodes if rx_nodes is None else len(list(rx_nodes))
    first = frames_list[0]
    tx = (len(first) if isinstance(first, dict) else np.shape(first)[0]) if tx_nodes is None else len(list(tx_nodes))
    dof = rx * tx
    cut = float(np.quantile(maxima, 1.0 - tail_fraction)) if tail_fraction < 1 else -math.inf
    tail = maxima[maxima > cut]
    log_u_tail = np.log1p(-stats.gamma.sf(tail, dof))  # log F_Γ(T_i), accurate in the upper tail
    log_u_cut = float(np.log1p(-stats.gamma.sf(cut, dof))) if math.isfinite(cut) else 0.0
    effective = len(tail) / max(-float(np.sum(log_u_tail)) - (len(maxima) - len(tail)) * log_u_cut, 1e-300)
    grid_points = len(localizer.grid_m)
    return NullModel(dof, float(min(max(effective, 1.0), grid_points)), "calibrated", int(draws), grid_points)


def detect_targets(localizer, snapshots, frames, max_targets, noise_power, false_alarm_rate, rx_nodes=None,
                   tx_nodes=None, null_model=None):
    """K̂ ∈ 0 … max_targets targets by the GLRT stop rule of the module docstring, each accepted target followed
    by the joint LM refinement of all found so far. noise_power: σ² (known), or None to estimate it from the
    residual; null_model: a NullModel (calibrate_null_model), default the Bonferroni one. A Detection."""
    max_targets = check_max_targets(max_targets)
    check_false_alarm_rate(false_alarm_rate)
    if noise_power is not None and not (isinstance(noise_power, (int, float, np.floating)) and
                                        math.isfinite(noise_power) and noise_power > 0):
        raise ValueError(f"noise_power = {noise_power!r}: accepted: a finite power > 0, or None (estimated)")
    problem = localizer._problem(snapshots, frames, rx_nodes, tx_nodes)
    r_count, t_count = len(problem.rx), len(problem.tx)
    model = null_model if null_model is not None else bonferroni_null_model(localizer, r_count, t_count)
    if model.dof != r_count * t_count:
        raise ValueError(f"null model of {model.dof} degrees of freedom for {r_count} receiving × {t_count} "
                         "transmitting nodes: calibrate it for the nodes used")
    eta = model.threshold(false_alarm_rate)
    work = problem.y if problem.known is None else problem.project_known(problem.y)
    known = 0 if problem.known is None else problem.known.shape[2]
    samples = problem.y[0].size  # D per receiving node
    found = np.zeros((0, 2))
    refined = None
    statistics, thresholds, powers = [], [], []
    for k in range(max_targets):
        energy = localizer._grid_explained_energy(problem, work)
        best = int(np.argmax(energy))
        if noise_power is None:
            left = r_count * (samples - t_count * k - known - t_count)
            sigma2 = max(float(np.sum(np.abs(work) ** 2)) - float(energy[best]), 1e-300) / max(left, 1)
        else:
            sigma2 = float(noise_power)
        statistics.append(float(energy[best]) / sigma2)
        thresholds.append(eta)
        powers.append(sigma2)
        if statistics[-1] <= eta:
            break
        start = np.vstack([found, localizer.grid_m[best]])
        refined = localizer._refine(problem, start, full=True)
        found = refined[0]
        work = localizer._residual_at(problem, found)
    result = None if refined is None else localizer._result(problem, *refined)
    residual = float(np.sum(np.abs(work) ** 2))
    return Detection(found, len(found), tuple(statistics), tuple(thresholds), residual, tuple(powers), result, "glrt")


def _grid_index(localizer):
    """(ix, iy, shape) of every grid point on the region's full rectangular lattice."""
    x0, _, y0, _ = localizer.region_m
    step = localizer.grid_step_m
    ix = np.rint((localizer.grid_m[:, 0] - x0) / step).astype(int)
    iy = np.rint((localizer.grid_m[:, 1] - y0) / step).astype(int)
    return ix, iy, (int(ix.max()) + 1, int(iy.max()) + 1)


def cfar_detect(localizer, snapshots, frames, max_targets, false_alarm_rate, rx_nodes=None, tx_nodes=None,
                null_model=None, guard_cells=CFAR_GUARD_CELLS, training_cells=CFAR_TRAINING_CELLS):
    """K̂ ∈ 0 … max_targets by a cell-averaging CFAR on the fused map E_0(g) (module docstring): local maxima
    above the CFAR threshold, strongest first, then jointly refined (LM). No σ² needed. A Detection whose
    statistics are the detected cells' E_0/mean(training) (and the best rejected one's)."""
    max_targets = check_max_targets(max_targets)
    p = check_false_alarm_rate(false_alarm_rate)
    problem = localizer._problem(snapshots, frames, rx_nodes, tx_nodes)
    dof = len(problem.rx) * len(problem.tx)
    model = null_model if null_model is not None else bonferroni_null_model(localizer, len(problem.rx),
                                                                             len(problem.tx))
    work = problem.y if problem.known is None else problem.project_known(problem.y)
    energy = localizer._grid_explained_energy(problem, work)
    ix, iy, shape = _grid_index(localizer)
    field = np.full(shape, np.nan)
    field[ix, iy] = energy
    reach = guard_cells + training_cells
    padded = np.pad(field, reach, constant_values=np.nan)
    total = np.zeros(shape)
    count = np.zeros(shape)
    for dx in range(-reach, reach + 1):
        for dy in range(-reach, reach + 1):
            if max(abs(dx), abs(dy)) <= guard_cells:
                continue
            part = padded[reach + dx:reach + dx + shape[0], reach + dy:reach + dy + shape[1]]
            ok = np.isfinite(part)
            total += np.where(ok, part, 0.0)
            count += ok
    mean = total / np.maximum(count, 1)
    training = int(np.median(count[ix, iy]))
    per_cell = -math.expm1(math.log1p(-p) / model.effective_cells)
    factor = dof * float(stats.f.isf(per_cell, 2 * dof, 2 * dof * max(training, 1)))
    ratio = field / np.where(mean > 0, mean, np.inf)
    level = np.nan_to_num(field, nan=-np.inf)
    neighbours = np.pad(level, 1, constant_values=-np.inf)
    local_max = np.isfinite(level)
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            if dx or dy:
                local_max &= level >= neighbours[1 + dx:1 + dx + shape[0], 1 + dy:1 + dy + shape[1]]
    cells = np.flatnonzero((ratio[ix, iy] > factor) & local_max[ix, iy])
    cells = cells[np.argsort(-energy[cells])][:max_targets]
    found, refined = localizer.grid_m[cells], None
    if len(cells):
        refined = localizer._refine(problem, found, full=True)
        found = refined[0]
    rejected = np.flatnonzero(local_max[ix, iy] & ~np.isin(np.arange(len(energy)), cells))
    statistics = [float(ratio[ix[c], iy[c]]) for c in cells]
    if len(rejected):
        statistics.append(float(np.max(ratio[ix[rejected], iy[rejected]])))
    work_left = work if refined is None else localizer._residual_at(problem, found)
    result = None if refined is None else localizer._result(problem, *refined)
    return Detection(np.asarray(found, float).reshape(-1, 2), len(cells), tuple(statistics),
                     (factor,) * len(statistics), float(np.sum(np.abs(work_left) ** 2)), (), result, "cfar")


def assign_to_prior(positions_m, prior_m, gate_m):
    """Index of the prior target each detection is assigned to (−1: none within gate_m): the assignment of least
    total squared distance (Hungarian) among pairs closer than the gate."""
    from scipy.optimize import linear_sum_assignment

    est = np.asarray(positions_m, float).reshape(-1, 2)
    prior = np.asarray(prior_m, float).reshape(-1, 2)
    out = np.full(len(est), -1, dtype=int)
    if len(est) == 0 or len(prior) == 0:
        return out
    dist = np.linalg.norm(est[:, None, :] - prior[None, :, :], axis=2)
    cost = np.where(dist <= gate_m, dist ** 2, 1e12)
    rows, cols = linear_sum_assignment(cost)
    for r, c in zip(rows, cols):
        if dist[r, c] <= gate_m:
            out[r] = c
    return out
