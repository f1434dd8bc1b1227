# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Maximum-likelihood localisation of K targets from all nodes' snapshots, paper eq. (9).

The log-likelihood (eq. 9) is, up to a constant, minus the residual energy

    C(q, b) = Σ_n ‖ Y_{s,n} − Σ_m Σ_k b_{n,m}^k a_r(θ_n^k) (a_t^T(θ_m^k) X_m ⊙ d^T(τ_{n,m}^k)) ‖_F²

with θ, τ functions of the target positions q_k (eq. 4a/4b). The amplitudes enter linearly and, the nodes
being noncoherent, every receiving node n has its own K·N unknowns b_{n,m}^k: for fixed positions they are
the least-squares solution per node, and what remains is the concentrated cost

    C(q) = Σ_n ‖ P⊥_{A_n(q)} y_n ‖²,   A_n(q) = [ a_r(θ_n^k) ⊗ (a_t^T(θ_m^k) X_m ⊙ d^T(τ_n^k + τ_m^k)) ]_{m,k}

(a projection residual per receiving node). The estimate minimises C(q): a coarse grid search for one
target at a time (successive, earlier targets' fitted echoes subtracted), then Levenberg–Marquardt on
the variable-projection residual in all 2K coordinates (Kaufman's Jacobian). docs/localization.md
explains the choices; the baselines (AOA-only, TOF-only) are the two-step estimators matching the
DESIGN's AOA-only / TOF-only CRBs.

Missing data: only the receiving nodes listed in ``rx_nodes`` contribute terms to C (the rows of the other
nodes' snapshots are never read); only the transmitting nodes in ``tx_nodes`` (whose frames X_m are
known) contribute columns to A_n. An echo of a transmitter whose frame is unknown is left in the data as
unmodelled interference (small when the radar streams are orthogonal between nodes, as they are in the
PHY): localising with fewer frames works but is biased by that residue.

Known paths (issue 13): echoes whose geometry is known but whose amplitude is not — the direct (line-of-
sight) paths between the nodes and a reference reflector at a known position (docs/air-model.md §2/§3) — are extra
known columns of A_n, a_r(θ_rx) ⊗ (a_t^T(θ_tx) X_m ⊙ d^T(τ)), with their own unknown amplitudes per frame:
the concentrated cost projects them out with the targets' columns (the variable projection takes any
number of columns), and the grid search runs on y_n with them projected out. Without known paths every
result is exactly what it was.

Guard and DC bins (issue 14, ``active_subcarriers``: core.ofdm.active_subcarrier_mask, the transmitters' own
layout): the transmitters send nothing there, so those bins hold noise only and carry no information on q; the
localiser keeps the active bins of the snapshots and frames (inputs stay full (…, L, P) arrays) and evaluates
every d(τ) at the active frequencies only. The ML estimate is the same as with all bins (the inactive ones add a
constant to C), the reported cost is the active bins' residual energy. All True (the default): exactly today.

Delays past the unambiguous L/B need no special care: every delay here is the geometric one and d(τ) is
evaluated at it, so its periodicity is a property of the cost surface, which the other links and the
angles disambiguate.
"""

import dataclasses
import math
from collections.abc import Mapping

import numpy as np

from . import geometry

C_M_S = geometry.SPEED_OF_LIGHT_M_S

# Diagonal loading of the per-grid-point Gram matrices, relative to their mean diagonal: keeps batched
# solves defined at degenerate points (e.g. a zero frame) while changing regular ones by ~1e-12.
_GRAM_LOADING = 1e-12
# Largest number of (grid point × transmitter × subcarrier × symbol) complex values processed at once.
_CHUNK_ELEMENTS = 1 << 15
# The same for the fast grid pass (larger: fewer numpy calls; 4 MB of complex128 per array at most).
_FAST_CHUNK_ELEMENTS = 1 << 18
# A frame's grid signals (fast grid pass: ē and the Cholesky factors) are kept for its later passes when they hold
# at most this many complex values (64 MB); larger problems recompute them on every pass.
_FAST_CACHE_ELEMENTS = 1 << 22
# How the coarse search and the refinement are computed (Localizer's search_method; docs/localization.md,
# "Speed"): "reference", the implementation before issue 16, kept for the equality tests and the before/after
# benchmark; "full", the same grid pass over every point and the same LM, computed faster (equal to rounding);
# "fast" (default), as "full" but localize's grid start is found coarse to fine.
SEARCH_METHODS = ("fast", "full", "reference")
# Coarse-to-fine start of search_method "fast": the grid pass on every COARSE_FACTOR-th lattice point in x and y,
# then every grid point within one step of the COARSE_CANDIDATES best coarse points (docs/localization.md, "Speed").
COARSE_FACTOR = 2
COARSE_CANDIDATES = 4
# The "fast" search's single-target fits between grid passes (localize): they only subtract a found target's echoes
# before the next pass and start the joint LM, which then runs to the full tolerances (docs/localization.md, "Speed").
INTERMEDIATE_TOLERANCES = {"step_tol": 1e-4, "cost_rtol": 1e-9}
# The structured (normal-equation) evaluation of the fast refinement (_structured_projection) hands over to the QR
# (_position_projection) when a column of some A_n keeps less than this fraction of its energy outside the span of the
# other columns (1/(G_ii (G⁻¹)_ii): sin² of its angle to that span), i.e. when cond(A_nᴴA_n) could pass ~1e8 and b̂
# from the normal equations would lose more than ~1e-8 relative.
_NORMAL_PIVOT_MIN = 1e-8
# The fast refinement's normal equations form ∂μ explicitly (R, 2K, D) when a node's data has at most this many values
# D = Mr·L·P, else only its Kronecker factors (_structured_projection). Measured (one core, per call): the paper's D = 256,
# explicit 247 µs against 280; four nodes' D = 512, 685 against 441.
_EXPLICIT_NORMAL_MAX_D = 256
_ROTATE = np.array([-1.0, 1.0])  # (Δy, Δx) → (−Δy, Δx)
_NEIGHBOURS = np.array([(dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1)])  # a lattice point's 3 × 3 cells


@dataclasses.dataclass(frozen=True)
class LocalizationResult:
    """ML estimate of one frame.

    positions_m (K, 2); residual = C(q̂), the residual energy of eq. (9) (≈ σ²·(dimension − unknowns) at
    the truth); amplitudes (N, N, K) = b̂[n, m, k], NaN for links that were not estimated; rx_nodes /
    tx_nodes = the receiving nodes whose snapshots and the transmitting nodes whose frames were used;
    iterations / converged of the joint refinement.
    """

    positions_m: np.ndarray
    residual: float
    amplitudes: np.ndarray
    rx_nodes: tuple
    tx_nodes: tuple
    iterations: int
    converged: bool


@dataclasses.dataclass(frozen=True)
class BaselineResult:
    """Two-step estimate: per-node angles and delays first (Ψ of eq. 7), then positions.

    method "aoa" (triangulation from θ̂) or "tof" (multilateration from τ̂); angles_rad, delays_s (N, K)
    from step 1 (NaN for nodes not used); iterations / converged of step 1.
    """

    method: str
    positions_m: np.ndarray
    angles_rad: np.ndarray
    delays_s: np.ndarray
    residual: float
    iterations: int
    converged: bool


def default_search_region(scenario, margin_fraction=0.25):
    """(x_min, x_max, y_min, y_max) in metres: the box around the scenario's nodes, users and targets,
    widened by margin_fraction of its span on every side (the area a deployment would watch), and
    starting at the arrays' front.

    Every array is a ULA along y whose steering depends on sin θ only (DESIGN.md §3), so it cannot tell a
    point from its mirror image across its own axis: for nodes on one line x = x0 (the paper's scenario)
    a target in front and its mirror behind give exactly the same snapshots and likelihood, whatever the
    precoders. A region holding both lets noise pick either (issue 11: the loopback's frame 95 at
    [−216.8, 25.1], the mirror of the target at [−65, 25] across x = −141.4); the region therefore starts
    at the westmost node: every array's broadside is +x (θ = 0), so the half-plane behind all of them is
    not watched. The rule uses the arrays' geometry only, never where the targets are."""
    points = np.vstack([scenario.node_positions_m, scenario.user_positions_m, scenario.target_positions_m])
    low, high = points.min(axis=0), points.max(axis=0)
    pad = margin_fraction * np.maximum(high - low, 1.0)
    x_min = float(low[0] - pad[0])
    front = float(np.min(np.asarray(scenario.node_positions_m)[:, 0]))  # behind every array: x < front
    x_min = max(x_min, front)
    return (x_min, float(high[0] + pad[0]), float(low[1] - pad[1]), float(high[1] + pad[1]))


@dataclasses.dataclass(frozen=True)
class KnownPath:
    """A path of known geometry and unknown complex amplitude: tx node → rx node, departing the transmitter
    at theta_tx_rad, arriving at theta_rx_rad, delay_s (a direct path or a reference reflector's echo)."""

    rx: int
    tx: int
    theta_rx_rad: float
    theta_tx_rad: float
    delay_s: float
    kind: str = ""


def known_paths(node_positions_m, direct_paths=False, reflector_m=None):
    """The KnownPath list of a deployment: with ``direct_paths`` the line of sight m → n for every m ≠ n
    (delay |p_m − p_n|/c, leaving m at the angle of p_n, arriving at n from the angle of p_m: docs/air-model.md §2);
    with ``reflector_m`` (x, y) its echo on every link n, m (as a target's). Geometry only."""
    nodes = np.asarray(node_positions_m, dtype=float)
    out = []
    if direct_paths:
        between = geometry.angles_rad(nodes, nodes)  # [n, m]: angle of p_m seen from p_n
        distance = geometry.distances_m(nodes, nodes)
        for n in range(len(nodes)):
            for m in range(len(nodes)):
                if m != n:
                    out.append(KnownPath(n, m, float(between[n, m]), float(between[m, n]),
                                         float(distance[n, m] / C_M_S), "direct_path"))
    if reflector_m is not None:
        point = np.asarray(reflector_m, dtype=float).reshape(1, 2)
        theta = geometry.angles_rad(nodes, point)[:, 0]
        tau = geometry.one_way_delays_s(nodes, point)[:, 0]
        for n in range(len(nodes)):
            for m in range(len(nodes)):
                out.append(KnownPath(n, m, float(theta[n]), float(theta[m]), float(tau[n] + tau[m]), "reflector"))
    return tuple(out)


class Localizer:
    """ML localiser for a fixed deployment (nodes, arrays, OFDM numerology) and search region.

    The grid's steering vectors are computed once here; ``localize`` then costs a few matrix products per
    frame. region_m = (x_min, x_max, y_min, y_max); grid_step_m defaults to c/(4B), half the monostatic
    range resolution, fine enough that the best grid point lies in the basin of the true minimum.
    paths: KnownPath echoes projected out of every frame (module docstring; default none).
    search_method (SEARCH_METHODS): "reference" is the implementation before issue 16, kept for the equality
    tests and as the benchmark's anchor; "full" evaluates the same explained energies on every grid point and
    the same Kaufman Jacobian, computed faster (equal to rounding, ~1e-15 relative), so the same grid point
    starts the same LM iterations; "fast" (default) is "full" with localize's grid start found coarse to fine
    (_coarse_to_fine_start). Detection (core.detection) always gets the energy of every grid point.
    """

    def __init__(self, node_positions_m, tx_antennas, rx_antennas, subcarriers, bandwidth_hz, region_m,
                 grid_step_m=None, max_iterations=50, paths=(), active_subcarriers=None, search_method="fast"):
        if search_method not in SEARCH_METHODS:
            raise ValueError(f"search_method = {search_method!r}: accepted: {', '.join(map(repr, SEARCH_METHODS))}")
        self.search_method = search_method
        nodes = np.asarray(node_positions_m, dtype=float)
        if nodes.ndim != 2 or nodes.shape[1] != 2 or len(nodes) < 1 or not np.all(np.isfinite(nodes)):
            raise ValueError(f"node_positions_m = {node_positions_m!r}: expected finite (N, 2) positions, N ≥ 1")
        for name, value in (("tx_antennas", tx_antennas), ("rx_antennas", rx_antennas),
                            ("subcarriers", subcarriers), ("max_iterations", max_iterations)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} = {value!r}: expected a whole number ≥ 1")
        if not (isinstance(bandwidth_hz, (int, float, np.number)) and math.isfinite(bandwidth_hz)
                and bandwidth_hz > 0):
            raise ValueError(f"bandwidth_hz = {bandwidth_hz!r}: expected a finite number > 0")
        region = np.asarray(region_m, dtype=float)
        if region.shape != (4,) or not np.all(np.isfinite(region)) or region[0] >= region[1] or region[2] >= region[3]:
            raise ValueError(f"region_m = {region_m!r}: expected (x_min, x_max, y_min, y_max) with min < max")
        step = C_M_S / (4 * bandwidth_hz) if grid_step_m is None else grid_step_m
        if not (isinstance(step, (int, float, np.number)) and math.isfinite(step) and step > 0):
            raise ValueError(f"grid_step_m = {grid_step_m!r}: expected a finite number > 0")
        xs = np.arange(region[0], region[1] + step / 2, step)
        ys = np.arange(region[2], region[3] + step / 2, step)
        if xs.size * ys.size > 4_000_000:
            raise ValueError(f"grid_step_m = {step}: {xs.size * ys.size} grid points over region {region_m}; "
                             "expected at most 4 000 000 (use a larger step or a smaller region)")
        grid = np.stack(np.meshgrid(xs, ys, indexing="ij"), axis=-1).reshape(-1, 2)
        # angles are undefined on a node: drop grid points closer than half a step to any node
        grid = grid[geometry.distances_m(nodes, grid).min(axis=0) >= step / 2]
        if len(grid) == 0:
            raise ValueError(f"region_m = {region_m!r}: no grid point away from the nodes")

        self.node_positions_m = nodes
        self.tx_antennas, self.rx_antennas = int(tx_antennas), int(rx_antennas)
        self.subcarriers, self.bandwidth_hz = int(subcarriers), float(bandwidth_hz)
        self.region_m, self.grid_step_m = tuple(region.tolist()), float(step)
        self.max_iterations = int(max_iterations)
        self.paths = tuple(paths)
        for path in self.paths:
            if not (isinstance(path, KnownPath) and 0 <= path.rx < len(nodes) and 0 <= path.tx < len(nodes)):
                raise ValueError(f"known path {path!r}: expected a KnownPath between nodes 0 … {len(nodes) - 1}")
        self.active_subcarriers = None  # (L,) bool, or None when every bin is used
        if active_subcarriers is not None:
            mask = np.asarray(active_subcarriers)
            if mask.shape != (self.subcarriers,) or mask.dtype != bool or not mask.any():
                raise ValueError(f"active_subcarriers = {active_subcarriers!r}: expected None or ({self.subcarriers},) "
                                 "bools with at least one True (core.ofdm.active_subcarrier_mask)")
            if not mask.all():
                self.active_subcarriers = mask.copy()
                self.active_subcarriers.setflags(write=False)
        self._active_bins = None if self.active_subcarriers is None else np.flatnonzero(self.active_subcarriers)
        self.grid_m = grid
        theta = geometry.angles_rad(nodes, grid)  # (N, G)
        tau = geometry.one_way_delays_s(nodes, grid)  # (N, G)
        self._grid_ar_conj = np.conj(geometry.ula_steering(theta, self.rx_antennas))  # (N, G, Mr)
        self._grid_at = geometry.ula_steering(theta, self.tx_antennas)  # (N, G, Mt)
        self._grid_at_conj = np.conj(self._grid_at)
        self._grid_d = self._delay_steering(tau)  # (N, G, L_active)
        self._grid_d_conj = np.conj(self._grid_d)
        # constants of the fast refinement: jπ·i of the ULAs' phase (a(θ) = exp(jπ i sin θ)), −j2π f_l of d(τ)
        self._rx_phase = 1j * np.pi * np.arange(self.rx_antennas)
        self._tx_phase = 1j * np.pi * np.arange(self.tx_antennas)
        self._delay_ramp = -2j * np.pi * self._frequencies_hz()
        self._intermediate_tolerances = INTERMEDIATE_TOLERANCES if search_method == "fast" else {}
        self._full_tables = _GridTables("full", None, self._grid_at_conj, self._grid_d_conj, self._grid_ar_conj)
        # the grid's lattice (x index, y index) → grid index (−1: dropped near a node), and the coarse lattice
        ix = np.rint((grid[:, 0] - region[0]) / step).astype(int)
        iy = np.rint((grid[:, 1] - region[2]) / step).astype(int)
        self._lattice = np.full((int(ix.max()) + 1, int(iy.max()) + 1), -1)
        self._lattice[ix, iy] = np.arange(len(grid))
        self._lattice_xy = np.stack([ix, iy], axis=1)
        coarse = np.flatnonzero((ix % COARSE_FACTOR == 0) & (iy % COARSE_FACTOR == 0))
        # (a region so small or so close to the nodes that no coarse point is left: every point is searched)
        self._coarse_tables = self._tables("coarse", coarse) if search_method == "fast" and coarse.size else None

    @classmethod
    def from_scenario(cls, scenario, region_m=None, grid_step_m=None, max_iterations=50, direct_paths=False,
                      reflector=False, search_method="fast"):
        """A Localizer for a Scenario's nodes and numerology; region defaults to default_search_region.
        direct_paths / reflector: project out the direct paths between the nodes / the echoes of the
        scenario's [calibration] reference reflector (known_paths; geometry only, docs/air-model.md §3).
        The scenario's active subcarriers (``scenario.active_subcarriers``: the transmitters' layout) are used.
        search_method: as the constructor's."""
        region = default_search_region(scenario) if region_m is None else region_m
        point = getattr(scenario, "reflector_m", None) if reflector else None
        active = getattr(scenario, "active_subcarriers", None)
        return cls(scenario.node_positions_m, scenario.tx_antennas, scenario.rx_antennas,
                   scenario.subcarriers, scenario.bandwidth_hz, region, grid_step_m, max_iterations,
                   known_paths(scenario.node_positions_m, direct_paths, point),
                   active_subcarriers=None if active is None else np.asarray(active, dtype=bool),
                   search_method=search_method)

    def _delay_steering(self, delay_s):
        """d(τ) at the active subcarriers, shape delay.shape + (L_active,) (geometry.delay_steering when all are)."""
        d = geometry.delay_steering(delay_s, self.subcarriers, self.bandwidth_hz)
        return d if self._active_bins is None else d[..., self._active_bins]

    def _frequencies_hz(self):
        f = geometry.subcarrier_frequencies_hz(self.subcarriers, self.bandwidth_hz)
        return f if self._active_bins is None else f[self._active_bins]

    @property
    def num_nodes(self):
        return len(self.node_positions_m)

    # ---- public API -----------------------------------------------------------------------------

    def localize(self, snapshots, frames, num_targets, rx_nodes=None, tx_nodes=None):
        """ML positions of num_targets targets (eq. 9): grid + successive search, then joint refinement.

        snapshots: (N, Mr, L, P) or (N, Mr, L) array, or a mapping node → (Mr, L[, P]) for the nodes that
        reported; frames likewise with Mt. rx_nodes / tx_nodes select the nodes used (default: all, or the
        mapping's keys).
        """
        if isinstance(num_targets, bool) or not isinstance(num_targets, (int, np.integer)) or num_targets < 1:
            raise ValueError(f"num_targets = {num_targets!r}: expected a whole number ≥ 1")
        problem = self._problem(snapshots, frames, rx_nodes, tx_nodes)
        found = np.zeros((0, 2))
        work = problem.y if problem.known is None else problem.project_known(problem.y)
        for k in range(num_targets):
            start = self.grid_m[self._grid_start(problem, work)]
            if k == num_targets - 1:
                found = np.vstack([found, start])  # the joint refinement below takes it from here
                break
            # refine this target alone so that its echoes subtract cleanly, re-fit every found target's
            # amplitudes jointly, subtract their echoes and search the rest
            alone = self._refine(problem.with_y(work), start[None, :], **self._intermediate_tolerances)
            found = np.vstack([found, alone])
            work = self._residual_at(problem, found)
        return self._result(problem, *self._refine(problem, found, full=True))

    def refine(self, snapshots, frames, initial_positions_m, rx_nodes=None, tx_nodes=None):
        """Joint Levenberg–Marquardt refinement of C(q) (eq. 9) from given starting positions (K, 2)."""
        problem = self._problem(snapshots, frames, rx_nodes, tx_nodes)
        start = self._positions(initial_positions_m)
        return self._result(problem, *self._refine(problem, start, full=True))

    def concentrated_cost(self, snapshots, frames, positions_m, rx_nodes=None, tx_nodes=None):
        """C(q) = Σ_n ‖P⊥ y_n‖², the residual energy of eq. (9) with the amplitudes at their LS values."""
        problem = self._problem(snapshots, frames, rx_nodes, tx_nodes)
        residual = self._residual_at(problem, self._positions(positions_m))
        return float(np.sum(np.abs(residual) ** 2))

    def aoa_only(self, snapshots, frames, initial_positions_m, rx_nodes=None, tx_nodes=None):
        """Two-step AOA-only baseline: Ψ = (θ, τ, b) by ML without the geometric link between θ, τ and q
        (eq. 7), then each target's position by triangulation from its angles θ̂_n^k alone, weighted by
        the step-1 covariance of θ̂ (τ and b are nuisance parameters)."""
        return self._two_step("aoa", snapshots, frames, initial_positions_m, rx_nodes, tx_nodes)

    def tof_only(self, snapshots, frames, initial_positions_m, rx_nodes=None, tx_nodes=None):
        """Two-step TOF-only baseline: Ψ by ML as in aoa_only, then each target's position by
        multilateration from its one-way delays τ̂_n^k (identified from the bistatic sums τ_n + τ_m)."""
        return self._two_step("tof", snapshots, frames, initial_positions_m, rx_nodes, tx_nodes)

    # ---- input handling -------------------------------------------------------------------------

    def _positions(self, positions_m):
        pos = np.asarray(positions_m, dtype=float)
        if pos.ndim != 2 or pos.shape[1] != 2 or len(pos) < 1 or not np.all(np.isfinite(pos)):
            raise ValueError(f"positions_m = {positions_m!r}: expected finite (K, 2) positions, K ≥ 1")
        return pos

    def _stack(self, name, data, nodes, antennas):
        """(selected nodes, array (len(nodes), antennas, L, P) complex) from an array or a mapping."""
        n_all = self.num_nodes
        if isinstance(data, Mapping):
            keys = sorted(data)
            nodes = keys if nodes is None else list(nodes)
            missing = [j for j in nodes if j not in data]
            if missing:
                raise ValueError(f"{name}: node(s) {missing} selected but not given; given: {keys}")
            rows = [np.asarray(data[j]) for j in nodes]
        else:
            arr = np.asarray(data)
            if arr.ndim not in (3, 4) or arr.shape[0] != n_all:
                raise ValueError(f"{name} of shape {arr.shape}: expected ({n_all}, {antennas}, L, P) or "
                                 f"({n_all}, {antennas}, L), or a mapping node → array")
            nodes = list(range(n_all)) if nodes is None else list(nodes)
            rows = None
        if not nodes:
            raise ValueError(f"{name}: no node selected; at least one is needed")
        bad = [j for j in nodes if isinstance(j, bool) or not isinstance(j, (int, np.integer)) or not 0 <= j < n_all]
        if bad or len(set(nodes)) != len(nodes):
            raise ValueError(f"{name}: nodes {nodes}: expected distinct node indices from 0 to {n_all - 1}")
        if rows is None:
            rows = [arr[j] for j in nodes]
        out = []
        for j, row in zip(nodes, rows):
            row = row[..., None] if row.ndim == 2 else row
            if row.shape[:2] != (antennas, self.subcarriers) or row.ndim != 3:
                raise ValueError(f"{name} of node {j}: shape {row.shape}, expected "
                                 f"({antennas}, {self.subcarriers}, P) or ({antennas}, {self.subcarriers})")
            if not np.all(np.isfinite(row)):
                raise ValueError(f"{name} of node {j}: contains NaN or Inf")
            out.append(row.astype(complex))
        symbols = {row.shape[2] for row in out}
        if len(symbols) != 1:
            raise ValueError(f"{name}: nodes have different numbers of OFDM symbols {sorted(symbols)}")
        return tuple(int(j) for j in nodes), np.stack(out)

    def _problem(self, snapshots, frames, rx_nodes, tx_nodes):
        rx, y = self._stack("snapshots", snapshots, rx_nodes, self.rx_antennas)
        tx, x = self._stack("frames", frames, tx_nodes, self.tx_antennas)
        if y.shape[3] != x.shape[3]:
            raise ValueError(f"snapshots have {y.shape[3]} OFDM symbols but frames {x.shape[3]}")
        if self._active_bins is not None:  # the guard/DC bins carry no echo: only the active ones are used
            y, x = y[:, :, self._active_bins], x[:, :, self._active_bins]
        return _Problem(rx, tx, y, x, self._known_columns(rx, tx, x))

    def _known_columns(self, rx, tx, x):
        """(R, D, J) columns of the known paths between the used nodes (zero columns pad the rx nodes with
        fewer paths), or None without known paths."""
        columns = [[] for _ in rx]
        slot = {j: i for i, j in enumerate(rx)}
        frame = {j: i for i, j in enumerate(tx)}
        for path in self.paths:
            if path.rx not in slot or path.tx not in frame:
                continue
            ar = geometry.ula_steering(np.array(path.theta_rx_rad), self.rx_antennas)  # (Mr,)
            at = geometry.ula_steering(np.array(path.theta_tx_rad), self.tx_antennas)  # (Mt,)
            d = self._delay_steering(np.array(path.delay_s))  # (L_active,)
            signal = np.einsum("i,ilp->lp", at, x[frame[path.tx]]) * d[:, None]
            columns[slot[path.rx]].append((ar[:, None, None] * signal[None]).reshape(-1))
        width = max(len(c) for c in columns)
        if width == 0:
            return None
        dim = self.rx_antennas * x.shape[2] * x.shape[3]
        known = np.zeros((len(rx), dim, width), dtype=complex)
        for i, cols in enumerate(columns):
            if cols:
                known[i, :, :len(cols)] = np.stack(cols, axis=1)
        return known

    # ---- coarse search (one target) -------------------------------------------------------------

    def _grid_explained_energy(self, problem, y):
        """Σ_n y_n^H P_{A_n(g)} y_n for one target at every grid point g (vectorised; eq. 9 concentrated).

        For a single target the Gram matrix of node n's N columns does not depend on n (|d| = 1 and
        a_r^H a_r = Mr), so one (T × T) solve per grid point serves every receiving node. search_method picks
        the implementation (_grid_explained_energy_fast or _reference); both compute this same quantity.
        """
        if self.search_method == "reference":
            return self._grid_explained_energy_reference(problem, y)
        return self._grid_explained_energy_fast(problem, y)

    def _grid_start(self, problem, y):
        """Index of the grid point where localize's LM starts for the next target: the best of every point
        ("full", "reference"), or of the coarse-to-fine search ("fast")."""
        if self._coarse_tables is not None:
            return self._coarse_to_fine_start(problem, y)
        return int(np.argmax(self._grid_explained_energy(problem, y)))

    def _coarse_to_fine_start(self, problem, y):
        """The grid pass on the coarse lattice (every COARSE_FACTOR-th point in x and y: a quarter of the points, at
        c/(2B), the monostatic range resolution), then on every grid point within one step (3 × 3) of the
        COARSE_CANDIDATES best coarse points; the best of those. Where the best grid point is among them (it is
        next to a coarse point by construction; measured: docs/localization.md, "Speed") this is the very start
        of "full"; elsewhere a neighbouring start in the same basin gives the same LM minimum."""
        coarse = self._grid_explained_energy_fast(problem, y, self._coarse_tables)
        candidates = min(COARSE_CANDIDATES, coarse.size)
        best = self._coarse_tables.index[np.argpartition(coarse, -candidates)[-candidates:]]
        cells = (self._lattice_xy[best][:, None, :] + _NEIGHBOURS).reshape(-1, 2)
        inside = np.all((cells >= 0) & (cells < self._lattice.shape), axis=1)
        points = self._lattice[cells[inside, 0], cells[inside, 1]]
        points = np.unique(points[points >= 0])
        fine = self._grid_explained_energy_fast(problem, y, self._tables("fine", points), cache=False)
        return int(points[np.argmax(fine)])

    def _tables(self, name, index):
        """_GridTables of the grid points ``index`` (gathered copies)."""
        return _GridTables(name, index, self._grid_at_conj[:, index], self._grid_d_conj[:, index],
                           self._grid_ar_conj[:, index])

    def _grid_explained_energy_fast(self, problem, y, tables=None, cache=True):
        """The grid pass without per-frame fancy indexing or per-point tiny solves (issue 16 item 3), on the
        points of ``tables`` (default: every grid point).

        Per grid point g the transmitters' conjugate signals ē_m(g) = conj(a_t^T(θ_m) X_m ⊙ d(τ_m)) do not depend
        on the data, so they and the Cholesky factor C(g) of their Gram matrix G(g) = Mr·Eᴴ E (loaded as the
        reference's), G = C Cᴴ, are computed once per frame (_grid_signals, cached in the problem for the frame's
        later passes). A pass then needs w_n(g) = a_r^H(θ_n) Y_n ⊙ d̄(τ_n) (one matrix product (g × Mr)(Mr × LP) per
        receiving node on the node's own steering table: a view, no copy), rhs = Eᴴ w (one batched product) and
        rhs_nᴴ G⁻¹ rhs_n = ‖C⁻¹ rhs_n‖² by forward substitution on (g, R) vectors.
        """
        tables = self._full_tables if tables is None else tables
        rx = list(problem.rx)
        n_rx, mr = len(rx), self.rx_antennas
        nsub, nsym = problem.x.shape[2], problem.x.shape[3]
        explained = np.zeros(tables.ar_conj.shape[1])
        for sl, e_conj, chol in self._grid_signals(problem, tables, cache):
            g, n_tx = e_conj.shape[0], e_conj.shape[1]
            w = np.empty((g, nsub, nsym, n_rx), dtype=complex)
            for i, n in enumerate(rx):
                z = tables.ar_conj[n, sl] @ y[i].reshape(mr, nsub * nsym)  # a_r^H(θ_n) Y_n, (g, LP)
                np.multiply(z.reshape(g, nsub, nsym), tables.d_conj[n, sl, :, None], out=w[..., i])
            rhs = e_conj @ w.reshape(g, nsub * nsym, n_rx)  # (g, T, R)
            solved = []
            for j in range(n_tx):  # C⁻¹ rhs, row by row
                row = rhs[:, j]
                for a in range(j):
                    row = row - chol[j][a][:, None] * solved[a]
                solved.append(row / chol[j][j][:, None])
                explained[sl] += np.sum(solved[j].real ** 2 + solved[j].imag ** 2, axis=1)
        return explained

    def _grid_signals(self, problem, tables, cache=True):
        """[(slice, ē, C)] over chunks of the points of ``tables`` for the fast grid pass (its docstring): ē (g, T,
        LP) the conjugate transmit signals, C the lower Cholesky factor of their loaded Gram matrix as nested lists
        C[i][j] (i ≥ j) of (g,) arrays. Depends on the frames only: kept in the problem's cache when small enough."""
        key = ("grid_signals", tables.name)
        cached = problem.cache.get(key) if cache else None
        if cached is not None:
            return cached
        tx = list(problem.tx)
        n_tx, mr, mt = len(tx), self.rx_antennas, self.tx_antennas
        nsub, nsym = problem.x.shape[2], problem.x.shape[3]
        count = tables.ar_conj.shape[1]
        chunk = max(1, _FAST_CHUNK_ELEMENTS // (n_tx * nsub * nsym))
        x_conj = np.conj(problem.x).reshape(n_tx, mt, nsub * nsym)
        out = []
        for start in range(0, count, chunk):
            sl = slice(start, min(start + chunk, count))
            g = sl.stop - sl.start
            e_conj = np.empty((g, n_tx, nsub, nsym), dtype=complex)
            for t, m in enumerate(tx):  # ē_m = conj(a_t^T(θ_m) X_m ⊙ d(τ_m))
                beam_conj = tables.at_conj[m, sl] @ x_conj[t]
                np.multiply(beam_conj.reshape(g, nsub, nsym), tables.d_conj[m, sl, :, None], out=e_conj[:, t])
            e_conj = e_conj.reshape(g, n_tx, nsub * nsym)
            gram = mr * (e_conj @ np.conj(e_conj).transpose(0, 2, 1))  # (g, T, T): Mr Σ ē_a e_b
            load = _GRAM_LOADING * np.trace(gram, axis1=1, axis2=2).real / n_tx + 1e-300
            chol = [[None] * n_tx for _ in range(n_tx)]  # a loop over T, vectorised over the points
            for j in range(n_tx):
                diagonal = gram[:, j, j].real + load
                for a in range(j):
                    diagonal = diagonal - (chol[j][a].real ** 2 + chol[j][a].imag ** 2)
                chol[j][j] = np.sqrt(np.maximum(diagonal, 1e-300))
                for i in range(j + 1, n_tx):
                    value = gram[:, i, j]
                    for a in range(j):
                        value = value - chol[i][a] * np.conj(chol[j][a])
                    chol[i][j] = value / chol[j][j]
            out.append((sl, e_conj, chol))
        if cache and n_tx * count * nsub * nsym <= _FAST_CACHE_ELEMENTS:
            problem.cache[key] = out
        return out

    def _grid_explained_energy_reference(self, problem, y):
        """The grid pass as before issue 16 (search_method "reference"; _grid_explained_energy's docstring)."""
        rx, tx = list(problem.rx), list(problem.tx)
        n_rx, n_tx, mr = len(rx), len(tx), self.rx_antennas
        nsub, nsym = problem.x.shape[2], problem.x.shape[3]  # active subcarriers, symbols
        x = problem.x.reshape(n_tx, self.tx_antennas, nsub * nsym)
        yy = y.reshape(n_rx, mr, nsub * nsym)
        at, d_tx = self._grid_at[tx], self._grid_d[tx]
        ar_conj, d_rx_conj = self._grid_ar_conj[rx], self._grid_d_conj[rx]
        count = len(self.grid_m)
        chunk = max(1, _CHUNK_ELEMENTS // (max(n_tx, n_rx) * nsub * nsym))
        explained = np.empty(count)
        for start in range(0, count, chunk):
            sl = slice(start, start + chunk)
            beam = (at[:, sl] @ x).reshape(n_tx, -1, nsub, nsym)  # a_t^T(θ_m) X_m, (T, g, L, P)
            e = (beam * d_tx[:, sl, :, None]).reshape(n_tx, -1, nsub * nsym).transpose(1, 0, 2)  # (g, T, LP)
            gram = mr * (np.conj(e) @ e.transpose(0, 2, 1))  # (g, T, T)
            z = (ar_conj[:, sl] @ yy).reshape(n_rx, -1, nsub, nsym)  # a_r^H(θ_n) Y_n, (R, g, L, P)
            w = (z * d_rx_conj[:, sl, :, None]).reshape(n_rx, -1, nsub * nsym).transpose(1, 2, 0)  # (g, LP, R)
            rhs = np.conj(e) @ w  # (g, T, R)
            load = _GRAM_LOADING * np.trace(gram, axis1=1, axis2=2).real / n_tx + 1e-300
            gram = gram + load[:, None, None] * np.eye(n_tx)
            explained[sl] = _hermitian_quadratic(gram, rhs)
        return explained

    # ---- model, projection residual and its Jacobian ---------------------------------------------

    def _factors(self, problem, theta, tau):
        """Steering factors of the columns of A_n: a_r (R,K,Mr), beam (T,K,L,P), d (R,T,K,L)."""
        rx, tx = list(problem.rx), list(problem.tx)
        ar = geometry.ula_steering(theta[rx], self.rx_antennas)
        at = geometry.ula_steering(theta[tx], self.tx_antennas)
        beam = np.einsum("mki,milp->mklp", at, problem.x)
        d = self._delay_steering(tau[rx][:, None, :] + tau[tx][None, :, :])
        return ar, at, beam, d

    def _projection(self, problem, theta, tau, want_jacobian, y=None):
        """Variable projection at (θ, τ) of all N nodes (N, K).

        Returns residual r (R, D) = P⊥ y_n per node, amplitudes b̂ (R, T, K) and, when asked, Kaufman's
        Jacobian of r with respect to θ[j, k] and τ[j, k]: two arrays (N, K, R, D), J = −P⊥ (∂A/∂ψ) b̂.
        """
        y = problem.y if y is None else y
        n_rx, n_tx = len(problem.rx), len(problem.tx)
        k_count = theta.shape[1]
        ar, _, beam, d = self._factors(problem, theta, tau)
        # column (m, k) of A_n: a_r(θ_n^k) ⊗ (a_t^T(θ_m^k) X_m ⊙ d^T(τ_n^k + τ_m^k)), eq. (3)
        signal = beam[None] * d[..., None]  # (R, T, K, L, P)
        atoms = ar[:, None, :, :, None, None] * signal[:, :, :, None]  # (R, T, K, Mr, L, P)
        dim = atoms[0, 0, 0].size
        atoms = atoms.reshape(n_rx, n_tx * k_count, dim).transpose(0, 2, 1)
        if problem.known is not None:  # the known paths' columns, amplitudes fitted with the targets'
            atoms = np.concatenate([atoms, problem.known_loaded], axis=2)
        yv = y.reshape(n_rx, dim)
        q, r_tri = np.linalg.qr(atoms)  # (R, D, TK), (R, TK, TK)
        coef = (np.conj(q).transpose(0, 2, 1) @ yv[..., None])[..., 0]
        residual = yv - (q @ coef[..., None])[..., 0]
        b = np.linalg.solve(r_tri, coef[..., None])[..., 0][:, :n_tx * k_count].reshape(n_rx, n_tx, k_count)
        if not want_jacobian:
            return residual, b, None
        rx, tx = list(problem.rx), list(problem.tx)
        dar = geometry.ula_steering_derivative(theta[rx], self.rx_antennas)  # (R, K, Mr)
        dat = geometry.ula_steering_derivative(theta[tx], self.tx_antennas)
        dbeam = np.einsum("mki,milp->mklp", dat, problem.x)
        freq = self._frequencies_hz()
        shape = (n_rx, dim)
        bs = b[..., None, None] * signal  # b_{n,m}^k (a_t^T X_m ⊙ d^T), (R, T, K, L, P)
        # ∂/∂θ_n^k through a_r of the receiver, summed over transmitters
        d_rx_theta = (dar[:, :, :, None, None] * bs.sum(axis=1)[:, :, None]).transpose(1, 0, 2, 3, 4)
        d_rx_theta = d_rx_theta.reshape(k_count, *shape)
        # ∂/∂θ_m^k through a_t of the transmitter; ∂/∂τ of every link through d
        tx_part = b[..., None, None] * dbeam[None] * d[..., None]  # (R, T, K, L, P)
        tau_part = bs * (-2j * np.pi * freq)[:, None]
        d_tx_theta = (ar[:, None, :, :, None, None] * tx_part[:, :, :, None]).transpose(1, 2, 0, 3, 4, 5)
        d_tx_theta = d_tx_theta.reshape(n_tx, k_count, *shape)
        d_link_tau = (ar[:, None, :, :, None, None] * tau_part[:, :, :, None]).transpose(1, 2, 0, 3, 4, 5)
        d_link_tau = d_link_tau.reshape(n_tx, k_count, *shape)
        n_all = self.num_nodes
        jac_theta = np.zeros((n_all, k_count) + shape, dtype=complex)
        jac_tau = np.zeros((n_all, k_count) + shape, dtype=complex)
        link_tau_sum = d_link_tau.sum(axis=0)  # τ of the receiver enters every link it receives
        for i, j in enumerate(rx):
            jac_theta[j, :, i] += d_rx_theta[:, i]
            jac_tau[j, :, i] += link_tau_sum[:, i]
        for t, j in enumerate(tx):
            jac_theta[j] += d_tx_theta[t]
            jac_tau[j] += d_link_tau[t]
        # Kaufman: J = −P⊥ (∂μ/∂ψ) with μ the model at fixed b̂
        q_conj = np.conj(q)
        for jac in (jac_theta, jac_tau):
            proj = jac[..., None, :] @ q_conj  # (N, K, R, 1, TK)
            jac -= (proj @ q.transpose(0, 2, 1))[..., 0, :]
            jac *= -1
        return residual, b, (jac_theta, jac_tau)

    def _residual_at(self, problem, positions_m, y=None):
        if self.search_method != "reference" and problem.known is None:
            out = self._structured_projection(problem if y is None else problem.with_y(y), positions_m)
            if not isinstance(out, str) and out is not None:
                return out[3].reshape(problem.y.shape)
        theta = geometry.angles_rad(self.node_positions_m, positions_m)
        tau = geometry.one_way_delays_s(self.node_positions_m, positions_m)
        residual, _, _ = self._projection(problem, theta, tau, False, y)
        return residual.reshape(problem.y.shape)

    def _position_projection(self, problem, positions_m):
        """Variable projection at target positions (K, 2) with Kaufman's Jacobian in the positions directly
        (search_method "fast", "full"; None on a node): residual r (R, D) = P⊥ y_n, amplitudes b̂ (R, T, K) and a
        function giving J (R·D, 2K) = −P⊥ ∂μ/∂(x_1, y_1, x_2, …) at fixed b̂ (computed only when the LM needs it:
        not for a rejected or final step), μ the model of eq. (3). The same quantities as _projection and the chain
        rule through ∂θ/∂q, ∂τ/∂q (eq. 13's blocks), without the (N, K, R, D) intermediates: per rx node n, target k,

            ∂μ_n/∂q_k,c = ∂θ_n^k/∂c · a_r'(θ_n^k) ⊗ U_nk + a_r(θ_n^k) ⊗ V_nk,c,
            U_nk = Σ_m b̂_nm^k s_nm^k,   s_nm^k = a_t^T(θ_m^k) X_m ⊙ d(τ_n^k + τ_m^k),
            V_nk,c = Σ_m b̂_nm^k d(τ_n^k + τ_m^k) ⊙ (∂θ_m^k/∂c · a_t'^T(θ_m^k) X_m
                                                  − j2πf (∂τ_n^k/∂c + ∂τ_m^k/∂c) a_t^T(θ_m^k) X_m).

        The residual and b̂ come from the same QR of the same columns as the reference's."""
        rx, tx = list(problem.rx), list(problem.tx)
        n_rx, n_tx = len(rx), len(tx)
        mt = self.tx_antennas
        nsub, nsym = problem.x.shape[2], problem.x.shape[3]
        # geometry of eq. (4a)/(4b) and its Jacobian (geometry.angles_rad, one_way_delays_s, angle_delay_jacobians)
        diff = positions_m[None, :, :] - self.node_positions_m[:, None, :]  # (N, K, 2)
        dist2 = diff[..., 0] ** 2 + diff[..., 1] ** 2
        dist = np.sqrt(dist2)
        if dist.min() < 1e-6:
            return None  # angles undefined on a node
        theta = np.arctan2(diff[..., 1], diff[..., 0])
        tau = dist / C_M_S
        k_count = theta.shape[1]
        sin_theta = np.sin(theta)
        ar = np.exp(sin_theta[rx][..., None] * self._rx_phase)  # a_r(θ), (R, K, Mr)
        at = np.exp(sin_theta[tx][..., None] * self._tx_phase)  # (T, K, Mt)
        x_flat = problem.x.reshape(n_tx, mt, nsub * nsym)
        beam = (at @ x_flat).reshape(n_tx, k_count, nsub, nsym)
        d = np.exp((tau[rx][:, None, :] + tau[tx][None, :, :])[..., None] * self._delay_ramp)  # d(τ_n + τ_m)
        signal = beam[None] * d[..., None]  # (R, T, K, L, P), as _projection
        atoms = ar[:, None, :, :, None, None] * signal[:, :, :, None]  # (R, T, K, Mr, L, P)
        dim = atoms[0, 0, 0].size
        atoms = atoms.reshape(n_rx, n_tx * k_count, dim).transpose(0, 2, 1)
        if problem.known is not None:
            atoms = np.concatenate([atoms, problem.known_loaded], axis=2)
        yv = problem.y.reshape(n_rx, dim)
        q, r_tri = np.linalg.qr(atoms)
        coef = (np.conj(q).transpose(0, 2, 1) @ yv[..., None])[..., 0]
        residual = yv - (q @ coef[..., None])[..., 0]
        b = np.linalg.solve(r_tri, coef[..., None])[..., 0][:, :n_tx * k_count].reshape(n_rx, n_tx, k_count)

        def jacobian():
            cos_theta = np.cos(theta)
            dtheta = np.stack([-diff[..., 1] / dist2, diff[..., 0] / dist2], axis=-1)  # (N, K, 2)
            dtau = diff / (dist[..., None] * C_M_S)
            dar = (cos_theta[rx][..., None] * self._rx_phase) * ar  # a_r'(θ) = jπ i cos θ a_r(θ), (R, K, Mr)
            dat = (cos_theta[tx][..., None] * self._tx_phase) * at
            dbeam = (dat @ x_flat).reshape(n_tx, k_count, nsub, nsym)
            bs = b[..., None, None] * signal  # (R, T, K, L, P)
            u = bs.sum(axis=1)  # U_nk, (R, K, L, P)
            bd_dbeam = b[..., None, None] * dbeam[None] * d[..., None]  # (R, T, K, L, P)
            ramp = self._delay_ramp[:, None]  # −j2π f_l, (L, 1)
            v = (np.einsum("tkc,ntklp->nkclp", dtheta[tx], bd_dbeam)
                 + ramp * (dtau[rx][..., None, None] * u[:, :, None] + np.einsum("tkc,ntklp->nkclp", dtau[tx], bs)))
            dmu = (dtheta[rx][:, :, :, None, None, None] * (dar[:, :, None, :, None, None] * u[:, :, None, None])
                   + ar[:, :, None, :, None, None] * v[:, :, :, None])  # (R, K, 2, Mr, L, P)
            dmu = dmu.reshape(n_rx, 2 * k_count, dim).transpose(0, 2, 1)  # (R, D, 2K)
            # Kaufman: J = −P⊥ ∂μ = Q (Qᴴ ∂μ) − ∂μ
            jac = q @ (np.conj(q).transpose(0, 2, 1) @ dmu) - dmu
            return jac.reshape(n_rx * dim, 2 * k_count)

        return residual, b, jacobian

    def _structured_projection(self, problem, positions_m):
        """The variable projection of _position_projection computed on the Kronecker structure of A_n's columns
        (search_method "fast", "full" without known paths). Returns (C(q), a function giving the LM's normal equations
        (Jᵀr, JᵀJ) of Kaufman's Jacobian J = −P⊥ ∂μ at fixed b̂ (real-stacked, columns x_1, y_1, x_2, …), b̂ (R, T, K),
        the residual r (R, Mr, LP)); None on a node; "qr" where some column is too close to the span of the others
        for the normal equations (_NORMAL_PIVOT_MIN: then _position_projection's QR is used).

        Every column of A_n is a_k ⊗ s_nm^k (a_k = a_r(θ_n^k), s_nm^k = a_t^T(θ_m^k) X_m ⊙ d(τ_n^k + τ_m^k)) and every
        column of ∂μ_n is α_kc a_k' ⊗ U_nk + a_k ⊗ V_nk,c (α_kc = ∂θ_n^k/∂c; U, V as in _position_projection), so every
        inner product the LM needs splits into an Mr-long and an LP-long one: (a ⊗ u)ᴴ(a' ⊗ u') = (aᴴa')(uᴴu') and
        (a ⊗ u)ᴴ y_n = uᴴ (aᴴ Y_n). With G_n = A_nᴴA_n and c_n = A_nᴴ y_n: b̂ = G⁻¹c; the residual r_n = y_n − Σ_k a_k ⊗ U_nk
        is formed explicitly, so C(q) = ‖r‖² has no cancellation (an error δb in b̂ changes it at second order only,
        r ⟂ A); Jᵀr = −Re Σ_n ∂μᴴ P⊥ r_n and JᵀJ = Re Σ_n (∂μᴴ∂μ − ∂μᴴA G⁻¹ Aᴴ∂μ). No column of A is formed: a few
        products of (R, ≤ TK + 3K, LP) arrays replace the Householder QR of the R (D × TK) blocks; ∂μ is formed
        (R, 2K + 1, D with r) only where D ≤ _EXPLICIT_NORMAL_MAX_D, where that is faster. The same quantities as the QR's to rounding (measured ≤ 6e-15 relative; cond(G) = cond(A)², and the
        columns of distinct targets are far from collinear)."""
        rx, tx = problem.index
        n_rx, n_tx = len(rx), len(tx)
        y_flat, x_flat, ramp = self._flat(problem)
        lp = y_flat.shape[2]
        diff = positions_m[None, :, :] - self.node_positions_m[:, None, :]  # (N, K, 2), eq. (4a)/(4b)
        dist2 = (diff * diff).sum(axis=2)
        dist = np.sqrt(dist2)
        if dist.min() < 1e-6:
            return None  # angles undefined on a node
        k_count = dist.shape[1]
        tk = n_tx * k_count
        sin_theta = diff[..., 1] / dist  # sin θ_n^k (the ULAs' phase, θ = atan2(Δy, Δx))
        tau = dist / C_M_S
        ar = np.exp(sin_theta[rx][..., None] * self._rx_phase)  # a_r(θ_n^k), (R, K, Mr)
        shared = problem.rx == problem.tx and self.tx_antennas <= self.rx_antennas  # a_t(θ) = a_r(θ)[:Mt]
        at = ar[..., :self.tx_antennas] if shared else np.exp(sin_theta[tx][..., None] * self._tx_phase)
        beam = at @ x_flat  # a_t^T(θ_m^k) X_m, (T, K, LP)
        d = np.exp((tau[rx][:, None, :] + tau[tx][None, :, :])[..., None] * self._delay_ramp)  # (R, T, K, L)
        if lp != d.shape[3]:
            d = np.repeat(d, lp // d.shape[3], axis=3)  # over the symbols (l major, p minor, as Y's LP)
        signal = beam * d  # s_nm^k, (R, T, K, LP)
        ar_conj = np.conj(ar)
        z = ar_conj @ y_flat  # a_kᴴ Y_n, (R, K, LP)
        s_flat = signal.reshape(n_rx, tk, lp)
        s_conj = np.conj(s_flat)
        # c_n = A_nᴴ y_n = [s_nm^kᴴ (a_kᴴ Y_n)]_(m,k), and G_n = A_nᴴ A_n = [(a_kᴴ a_k')(s_nm^kᴴ s_nm'^k')]
        coef = (s_conj.reshape(n_rx, n_tx, k_count, 1, lp) @ z[:, None, :, :, None]).reshape(n_rx, tk, 1)
        a_gram = ar_conj @ ar.transpose(0, 2, 1)  # a_kᴴ a_k', (R, K, K)
        gram = ((s_conj @ s_flat.transpose(0, 2, 1)).reshape(n_rx, n_tx, k_count, n_tx, k_count)
                * a_gram[:, None, :, None, :]).reshape(n_rx, tk, tk)
        try:
            gram_inv = np.linalg.inv(gram)
        except np.linalg.LinAlgError:
            return "qr"
        # 1/(G_ii (G⁻¹)_ii): the fraction of column i's energy outside the span of the others (sin² of the angle)
        if (gram.diagonal(axis1=1, axis2=2).real * gram_inv.diagonal(axis1=1, axis2=2).real).max() \
                >= 1 / _NORMAL_PIVOT_MIN:
            return "qr"
        b = gram_inv @ coef  # b̂ = G⁻¹ c, (R, TK, 1)
        b4 = b.reshape(n_rx, n_tx, k_count, 1)
        bs = b4 * signal  # b̂_nm^k s_nm^k
        u = bs.sum(axis=1)  # U_nk, (R, K, LP)
        residual = y_flat - ar.transpose(0, 2, 1) @ u  # r_n = y_n − Σ_k a_k ⊗ U_nk, (R, Mr, LP)
        flat = residual.reshape(-1)
        cost = float(np.vdot(flat, flat).real)

        def derivative_waves():
            """(a_r', V, α) of the Jacobian: a_r'(θ) (R, K, Mr), V_nk,c (R, K, 2, LP), α = ∂θ_n^k/∂c (R, K, 2)."""
            cos_theta = diff[..., 0] / dist
            dtheta = diff[..., ::-1] * (_ROTATE / dist2[..., None])  # ∂θ/∂(x, y) = (−Δy, Δx)/ρ², (N, K, 2)
            dtau = diff * (1 / (C_M_S * dist))[..., None]  # ∂τ/∂(x, y) = (Δx, Δy)/(cρ)
            dar = (cos_theta[rx][..., None] * self._rx_phase) * ar  # a_r'(θ) = jπ i cos θ a_r(θ), (R, K, Mr)
            dat = dar[..., :self.tx_antennas] if shared else (cos_theta[tx][..., None] * self._tx_phase) * at
            e = b4 * ((dat @ x_flat) * d)  # b̂ d ⊙ a_t'^T X_m, (R, T, K, LP)
            # V_nk,c = Σ_m ∂θ_m^k/∂c e_nm^k − j2πf ⊙ (∂τ_n^k/∂c U_nk + Σ_m ∂τ_m^k/∂c b̂ s_nm^k): one product over m
            weights = np.concatenate([dtheta[tx], dtau[tx]]).transpose(1, 2, 0)  # (K, 2, 2T)
            terms = np.concatenate([e, bs * ramp], axis=1).transpose(0, 2, 1, 3)  # (R, K, 2T, LP)
            v = weights @ terms + dtau[rx][..., None] * (ramp * u)[:, :, None]  # (R, K, 2, LP)
            return dar, v, dtheta[rx]

        def normal_equations():
            dar, v, alpha = derivative_waves()
            steer = np.concatenate([ar, dar], axis=1)  # [a_k; a_k'], (R, 2K, Mr)
            steer_conj = np.conj(steer)
            sg = steer_conj @ steer.transpose(0, 2, 1)  # (R, 2K, 2K)
            aa, ad, da, dd = (sg[:, :k_count, :k_count], sg[:, :k_count, k_count:], sg[:, k_count:, :k_count],
                              sg[:, k_count:, k_count:])
            zr = steer_conj @ residual  # [a_kᴴ R_n; a_k'ᴴ R_n], (R, 2K, LP)
            waves = np.concatenate([s_flat, u, v.reshape(n_rx, 2 * k_count, lp)], axis=1)  # [s; U; V]
            waves_conj = np.conj(waves)
            ww = waves_conj @ waves[:, tk:].transpose(0, 2, 1)  # [s; U; V]ᴴ [U, V], (R, TK + 3K, 3K)
            wz = waves_conj @ zr.transpose(0, 2, 1)  # [s; U; V]ᴴ [a_kᴴR, a_k'ᴴR], (R, TK + 3K, 2K)
            su, sv = ww[:, :tk, :k_count], ww[:, :tk, k_count:]
            uu, uv = ww[:, tk:tk + k_count, :k_count], ww[:, tk:tk + k_count, k_count:]
            vu, vv = ww[:, tk + k_count:, :k_count], ww[:, tk + k_count:, k_count:]
            # A_nᴴ r_n (≈ 0: r ⟂ A to rounding) and ∂μᴴ r_n, each column with its own target's a_k only
            a_r = wz[:, :tk, :k_count].reshape(n_rx, n_tx, k_count, k_count).diagonal(axis1=2, axis2=3)
            u_z = wz[:, tk:tk + k_count, k_count:].diagonal(axis1=1, axis2=2)  # U_kᴴ (a_k'ᴴR), (R, K)
            v_z = wz[:, tk + k_count:, :k_count].reshape(n_rx, k_count, 2, k_count).diagonal(axis1=1, axis2=3)
            dmu_r = alpha * u_z[..., None] + v_z.transpose(0, 2, 1)  # ∂μᴴ r_n, (R, K, 2)
            # A_nᴴ ∂μ: rows (m, k''), columns (k, c)
            a_dmu = ((ad[:, None] * su.reshape(n_rx, n_tx, k_count, k_count))[..., None] * alpha[:, None, None]
                     + aa[:, None, :, :, None] * sv.reshape(n_rx, n_tx, k_count, k_count, 2)).reshape(n_rx, tk, -1)
            # ∂μᴴ ∂μ: rows (k, c), columns (k', c')
            a_i, a_j = alpha[:, :, :, None, None], alpha[:, None, None, :, :]
            dmu_dmu = ((dd * uu)[:, :, None, :, None] * a_i * a_j
                       + a_i * (da[:, :, :, None] * uv.reshape(n_rx, k_count, k_count, 2))[:, :, None]
                       + a_j * (ad[:, :, None, :] * vu.reshape(n_rx, k_count, 2, k_count))[..., None]
                       + aa[:, :, None, :, None] * vv.reshape(n_rx, k_count, 2, k_count, 2))
            # ∂μᴴ A G⁻¹ Aᴴ [∂μ, r]: the parts of ∂μ and r in the span of A_n's columns
            rhs = np.concatenate([a_dmu, a_r.reshape(n_rx, tk, 1)], axis=2)
            inside = (np.conj(a_dmu).transpose(0, 2, 1) @ (gram_inv @ rhs)).sum(axis=0)
            hess = dmu_dmu.reshape(n_rx, 2 * k_count, 2 * k_count).sum(axis=0) - inside[:, :-1]
            grad = inside[:, -1] - dmu_r.reshape(n_rx, 2 * k_count).sum(axis=0)
            return grad.real, hess.real  # Jᵀr = −Re ∂μᴴ P⊥ r, JᵀJ = Re ∂μᴴ P⊥ ∂μ

        def normal_equations_explicit():
            dar, v, alpha = derivative_waves()
            mr = ar.shape[2]
            stacked = np.empty((n_rx, 2 * k_count + 1, mr, lp), dtype=complex)
            dmu = stacked[:, :-1].reshape(n_rx, k_count, 2, mr, lp)
            np.multiply(dar[:, :, None, :, None], (alpha[..., None] * u[:, :, None])[:, :, :, None, :], out=dmu)
            dmu += ar[:, :, None, :, None] * v[:, :, :, None, :]
            stacked[:, -1] = residual
            flat_cols = stacked.reshape(n_rx, 2 * k_count + 1, -1)
            own = (np.conj(flat_cols) @ flat_cols.transpose(0, 2, 1))  # [∂μ, r]ᴴ [∂μ, r]
            # A_nᴴ [∂μ, r]: s_nm^kᴴ (a_kᴴ X)
            proj = ar_conj[:, None] @ stacked  # (R, 2K+1, K, LP)
            cross = (s_conj.reshape(n_rx, n_tx, k_count, 1, 1, lp) @ proj.transpose(0, 2, 1, 3)[:, None, :, :, :, None]
                     ).reshape(n_rx, tk, 2 * k_count + 1)
            inside = np.conj(cross).transpose(0, 2, 1) @ (gram_inv @ cross)
            schur = (own - inside).sum(axis=0)
            return -schur[:-1, -1].real, schur[:-1, :-1].real

        normal = normal_equations_explicit if residual[0].size <= _EXPLICIT_NORMAL_MAX_D else normal_equations
        return cost, normal, b.reshape(n_rx, n_tx, k_count), residual

    def _flat(self, problem):
        """(y (R, Mr, LP), x (T, Mt, LP), −j2πf repeated over the symbols (LP,)) of a problem: views of its arrays,
        the frames' part cached (it does not change with with_y)."""
        cached = problem.cache.get("flat")
        if cached is None:
            n_tx, mt, nsub, nsym = problem.x.shape
            cached = (problem.x.reshape(n_tx, mt, nsub * nsym), np.repeat(self._delay_ramp, nsym))
            problem.cache["flat"] = cached
        y = problem.y
        return (y.reshape(y.shape[0], y.shape[1], -1),) + cached

    def _fast_evaluation(self, problem, positions_m):
        """The fast refinement's evaluation at positions (K, 2) for _levenberg_marquardt_normal: (C(q), a function
        giving (Jᵀr, JᵀJ), b̂), or None on a node. The structured evaluation where it applies (no known paths, columns
        not near collinear), else the QR of _position_projection (the same quantities to rounding)."""
        if problem.known is None:
            out = self._structured_projection(problem, positions_m)
            if not isinstance(out, str):
                return None if out is None else out[:3]
        projected = self._position_projection(problem, positions_m)
        if projected is None:
            return None
        residual, b, jacobian = projected
        r = _real(residual.reshape(-1))

        def normal_equations():
            jac = _real(jacobian())
            return jac.T @ r, jac.T @ jac

        return float(r @ r), normal_equations, b

    def _refine(self, problem, start_m, full=False, step_tol=1e-9, cost_rtol=1e-13):
        """LM on C(q) over all 2K coordinates from start_m; returns positions (and b̂, cost, its, conv).
        step_tol, cost_rtol: _levenberg_marquardt's (the defaults everywhere but the "fast" search's intermediate
        single-target fits, localize)."""
        nodes = self.node_positions_m

        if self.search_method != "reference":
            params, cost, b, iterations, converged = _levenberg_marquardt_normal(
                lambda params: self._fast_evaluation(problem, params.reshape(-1, 2)), start_m.reshape(-1),
                self.max_iterations, step_tol=step_tol, cost_rtol=cost_rtol)
            positions = params.reshape(-1, 2)
            return positions if not full else (positions, cost, b, iterations, converged)

        def evaluate(params):
            pos = params.reshape(-1, 2)
            if geometry.distances_m(nodes, pos).min() < 1e-6:
                return None  # angles undefined on a node: reject the step
            theta = geometry.angles_rad(nodes, pos)
            tau = geometry.one_way_delays_s(nodes, pos)
            residual, b, (j_theta, j_tau) = self._projection(problem, theta, tau, True)
            dtheta, dtau = geometry.angle_delay_jacobians(nodes, pos)  # (N, K, 2)
            jac = (np.einsum("jkc,jknd->kcnd", dtheta, j_theta) + np.einsum("jkc,jknd->kcnd", dtau, j_tau))
            jac = jac.reshape(pos.size, -1).T  # (R·D, 2K), columns x_1, y_1, x_2, …
            return _real(residual.reshape(-1)), _real(jac), b

        params, cost, b, iterations, converged = _levenberg_marquardt(
            evaluate, start_m.reshape(-1), self.max_iterations, step_tol=step_tol, cost_rtol=cost_rtol)
        positions = params.reshape(-1, 2)
        if not full:
            return positions
        return positions, cost, b, iterations, converged

    def _result(self, problem, positions, cost, b, iterations, converged):
        n_all, k_count = self.num_nodes, len(positions)
        amplitudes = np.full((n_all, n_all, k_count), np.nan + 0j)
        amplitudes[np.ix_(problem.rx, problem.tx)] = b
        return LocalizationResult(positions, float(cost), amplitudes, problem.rx, problem.tx,
                                  int(iterations), bool(converged))

    # ---- two-step baselines ---------------------------------------------------------------------

    def _two_step(self, method, snapshots, frames, initial_positions_m, rx_nodes, tx_nodes):
        problem = self._problem(snapshots, frames, rx_nodes, tx_nodes)
        used = sorted(set(problem.rx) | set(problem.tx))
        if len(used) < 2:
            raise ValueError(f"{method.upper()}-only localisation needs the angles or delays of at least 2 "
                             f"nodes; nodes used: {used}")
        start = self._positions(initial_positions_m)
        k_count, nodes = len(start), self.node_positions_m
        theta0 = geometry.angles_rad(nodes, start)
        tau0 = geometry.one_way_delays_s(nodes, start)
        u = len(used)

        def unpack(params):
            theta, tau = theta0.copy(), tau0.copy()
            theta[used] = params[:u * k_count].reshape(u, k_count)
            tau[used] = params[u * k_count:].reshape(u, k_count) / C_M_S  # delays as ranges c·τ (metres)
            return theta, tau

        def evaluate(params):
            theta, tau = unpack(params)
            residual, b, (j_theta, j_tau) = self._projection(problem, theta, tau, True)
            jac = np.concatenate([j_theta[used].reshape(u * k_count, -1),
                                  j_tau[used].reshape(u * k_count, -1) / C_M_S]).T
            return _real(residual.reshape(-1)), _real(jac), b

        p0 = np.concatenate([theta0[used].reshape(-1), C_M_S * tau0[used].reshape(-1)])
        params, cost, _, iterations, converged, hessian = _levenberg_marquardt(
            evaluate, p0, self.max_iterations, return_hessian=True)
        theta, tau = unpack(params)
        covariance = np.linalg.pinv(hessian)
        positions = np.empty((k_count, 2))
        for k in range(k_count):
            if method == "aoa":
                idx = [i * k_count + k for i in range(u)]
            else:
                idx = [u * k_count + i * k_count + k for i in range(u)]
            weight = np.linalg.pinv(covariance[np.ix_(idx, idx)])
            positions[k] = _fit_position(method, nodes[used], theta[used, k], C_M_S * tau[used, k], weight, start[k])
        angles = np.full_like(theta, np.nan)
        delays = np.full_like(tau, np.nan)
        angles[used], delays[used] = theta[used], tau[used]
        return BaselineResult(method, positions, angles, delays, float(cost), int(iterations), bool(converged))


@dataclasses.dataclass(frozen=True)
class _GridTables:
    """Steering tables of a set of grid points for the fast grid pass: name (its cache key), index (into grid_m;
    None = every point), at_conj (N, g, Mt), d_conj (N, g, L_active), ar_conj (N, g, Mr)."""

    name: str
    index: object
    at_conj: np.ndarray
    d_conj: np.ndarray
    ar_conj: np.ndarray


@dataclasses.dataclass(frozen=True)
class _Problem:
    rx: tuple  # receiving nodes used
    tx: tuple  # transmitting nodes whose frames are known
    y: np.ndarray  # (R, Mr, L, P) snapshots of the rx nodes
    x: np.ndarray  # (T, Mt, L, P) frames of the tx nodes
    known: object = None  # (R, D, J) columns of the known paths (zero-padded), or None
    # what depends on the frames only (the fast grid pass's whitened signals), shared by with_y's copies
    cache: dict = dataclasses.field(default_factory=dict, compare=False, repr=False)

    def with_y(self, y):
        return dataclasses.replace(self, y=y)

    @property
    def index(self):
        """(rx, tx) as index arrays (cached)."""
        cached = self.cache.get("index")
        if cached is None:
            cached = self.cache["index"] = (np.array(self.rx), np.array(self.tx))
        return cached

    @property
    def known_loaded(self):
        """The known columns with the zero padding (an rx node with fewer known paths, when some transmitters'
        frames are not used) replaced by a tiny unit vector, which keeps the QR's triangle invertible; each
        padding column removes one coordinate (one sample) of that node's data from the fit."""
        known = self.known
        empty = np.all(known == 0, axis=1)  # (R, J)
        if not np.any(empty):
            return known
        known = known.copy()
        for i, j in zip(*np.nonzero(empty)):
            known[i, j, j] = 1e-150
        return known

    def project_known(self, y):
        """y (R, Mr, L, P) with the known columns projected out per rx node (P⊥_K y)."""
        q, _ = np.linalg.qr(self.known_loaded)
        yv = y.reshape(len(self.rx), -1)
        yv = yv - (q @ (np.conj(q).transpose(0, 2, 1) @ yv[..., None]))[..., 0]
        return yv.reshape(y.shape)


def _hermitian_quadratic(gram, rhs):
    """Σ_r rhs_r^H G^{-1} rhs_r for a batch of small Hermitian positive definite G (g, T, T), rhs (g, T, R).

    Gaussian elimination (LDLᴴ) with a Python loop over T and numpy over the batch: for T ≤ ~8 far
    faster than np.linalg.solve on thousands of tiny systems.
    """
    a, v = gram.copy(), rhs.copy()
    total = np.zeros(len(a))
    size = a.shape[1]
    for i in range(size):
        pivot = a[:, i, i].real
        total += np.sum(np.abs(v[:, i, :]) ** 2, axis=-1) / pivot
        if i + 1 < size:
            factor = a[:, i + 1:, i] / pivot[:, None]
            a[:, i + 1:, i + 1:] -= factor[:, :, None] * a[:, i, None, i + 1:]
            v[:, i + 1:, :] -= factor[:, :, None] * v[:, i, None, :]
    return total


def _real(z):
    """Complex residual (D,) or Jacobian (D, p) as a real one (2D,) / (2D, p): [Re; Im]."""
    return np.concatenate([z.real, z.imag])


def _levenberg_marquardt(evaluate, params, max_iterations, return_hessian=False,
                         step_tol=1e-9, cost_rtol=1e-13):
    """Minimise ‖r(p)‖² with Marquardt-scaled damping; evaluate(p) → (r, J, aux) or None (invalid p). J may be
    a function returning J: it is then called only for a step the iterations go on from (not for a rejected
    trial or the final point), with the same iterates. _levenberg_marquardt_normal on cost ‖r‖², Jᵀr and JᵀJ.
    """

    def normal_form(p):
        state = evaluate(p)
        if state is None:
            return None
        r, jac, aux = state

        def normal_equations():
            j = jac() if callable(jac) else jac
            return j.T @ r, j.T @ j

        return float(r @ r), normal_equations, aux

    return _levenberg_marquardt_normal(normal_form, params, max_iterations, return_hessian, step_tol, cost_rtol)


def _levenberg_marquardt_normal(evaluate, params, max_iterations, return_hessian=False,
                                step_tol=1e-9, cost_rtol=1e-13):
    """Minimise a least-squares cost ‖r(p)‖² with Marquardt-scaled damping from its normal equations:
    evaluate(p) → (cost, normal, aux) or None (invalid p), normal() → (Jᵀr, JᵀJ), called only for a step the
    iterations go on from (not for a rejected trial or the final point).

    Converged when a step moves every parameter by less than step_tol (metres or radians) or lowers the
    cost by less than cost_rtol relative, or when no damped step lowers the cost (a local minimum).
    """
    state = evaluate(params)
    if state is None:
        raise ValueError(f"starting point {params.tolist()} is on a node; angles are undefined there")
    cost, normal, aux = state
    lam, converged, iterations = 1e-3, False, 0
    while iterations < max_iterations and not converged:
        iterations += 1
        grad, hess = normal()
        scale = hess.diagonal().copy()
        scale[scale <= 0] = 1.0
        while True:
            damped = hess.copy()
            damped.flat[::len(scale) + 1] += lam * scale  # hess + λ diag(scale)
            step = np.linalg.solve(damped, -grad)
            trial = evaluate(params + step)
            trial_cost = math.inf if trial is None else trial[0]
            if trial_cost <= cost:
                decrease = cost - trial_cost
                params, (_, normal, aux), cost = params + step, trial, trial_cost
                lam = max(lam / 10, 1e-15)
                converged = np.abs(step).max() < step_tol or decrease <= cost_rtol * max(cost, 1e-300)
                break
            lam *= 10
            if lam > 1e15:
                converged = True  # no damped step lowers the cost: at a (numerical) minimum
                break
    if return_hessian:
        return params, cost, aux, iterations, converged, normal()[1]
    return params, cost, aux, iterations, converged


def _fit_position(method, nodes_m, angles_rad, ranges_m, weight, start_m, iterations=30):
    """Step 2 of a baseline: Gauss–Newton on the weighted misfit of one target's angles (triangulation)
    or one-way ranges (multilateration), from start_m (which also picks the right mirror image)."""
    q = np.array(start_m, dtype=float)
    for _ in range(iterations):
        dtheta, dtau = geometry.angle_delay_jacobians(nodes_m, q[None, :])
        if method == "aoa":
            err = np.angle(np.exp(1j * (angles_rad - geometry.angles_rad(nodes_m, q[None, :])[:, 0])))
            jac = dtheta[:, 0, :]
        else:
            err = ranges_m - geometry.distances_m(nodes_m, q[None, :])[:, 0]
            jac = C_M_S * dtau[:, 0, :]
        step = np.linalg.lstsq(jac.T @ weight @ jac, jac.T @ weight @ err, rcond=None)[0]
        q = q + step
        if np.max(np.abs(step)) < 1e-9:
            break
    return q
