# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""SDR transmit beamforming for noncoherent D-ISAC: paper problem (18), rank-1 extraction (19).

    minimise    tr(E^T F(Θ)^{-1} E)                            (18a/18b; E = I: the paper's objective,
                                                                 E = x,y selector: the position CRB)
    subject to  R_n = R_{r,n} + Σ_u R_{c,n,u},  R_{c,n,u} ⪰ 0,  R_{r,n} ⪰ 0     (18c, 18e)
                [R_n]_{ii} ≤ P_T                                                 (18d)
                Σ_n (1 + 1/Γ_c) h^H R_{c,n,u} h − h^H R_n h ≥ σ_c²   for every user  (18f)

The 2K + 2KN² Schur LMIs of (18b) are replaced by ONE LMI [[F, E], [E^T, T]] ⪰ 0 with objective
tr(T) (the same optimum: T ⪰ E^T F^{-1} E); the literal form is kept as ``formulation="literal"``
to test and benchmark against. Problem data are scaled for the solver, exactly: covariances in units
of P_T, and F congruence-scaled by D = diag(F(P_T·I))^{-1/2} (F ↦ D F D, E ↦ D E), which leaves the
optimum unchanged and brings every entry of F to order one (delays are in seconds, positions in
metres). 1/Γ_c is a cvxpy Parameter, so a sweep over the threshold re-uses one compiled problem (DPP).

Guard and DC bins (issue 14): F(Θ) is the FIM over the active subcarriers only (core.fim, SensingGeometry
.active_subcarriers), and P_T in (18d) is the power per active RE, ``self.per_re_power`` = P_T·L/L_a
(core.ofdm.per_re_power: the per-sample power per antenna stays the scenario's P_T). Without guards both are
exactly today's.
"""

import dataclasses
import math
import time

import cvxpy as cp
import cvxpy.settings as cvxpy_settings
import numpy as np
from cvxpy.reductions.solution import Solution, failure_solution
from cvxpy.reductions.solvers.conic_solvers.clarabel_conif import CLARABEL as _ClarabelConif
from scipy import sparse

from . import achievable, design_achievable
from . import fim as fim_mod
from . import geometry, ofdm
from .design_options import (DEFAULT_SOLVER, EXTRACTIONS, FORMULATIONS, MAX_SINR_DB, MIN_SINR_DB,  # noqa: F401
                             OBJECTIVES, SOLVERS, TIMEOUT_STATUS)
from .fusion import transmit_covariances
from .sinr import sinr_from_beamformers, sinr_from_covariances, to_db

# Solver settings, chosen on the paper scenario and the larger bench case (docs/beamforming.md).
_SOLVER_OPTIONS = {
    # Equilibration off: with it, Clarabel stopped with NumericalError on these problems; the data
    # are scaled here instead (covariances in units of P_T, F congruence-scaled). Iterative refinement
    # off: it cost ~35% of the time and changed no answer beyond 1e-7 on the paper scenario from 0 dB
    # to the largest feasible threshold. One thread: on 2 cores the multi-threaded path was slower.
    # Feasibility to 1e-8 (issue 16; was 1e-7): at 1e-7 the equality (18c) in the users' subspace was met
    # only to ~6e-7 of P_T on generated 3-node cases, which moved an extracted SINR by up to 1.5e-3 dB at
    # 20 dB; 1e-8 costs 0–1 interior-point iteration and moved the paper/four-nodes optima by ≤ 3e-7.
    "clarabel": dict(solver=cp.CLARABEL, max_iter=200, tol_gap_abs=1e-7, tol_gap_rel=1e-7, tol_feas=1e-8,
                     equilibrate_enable=False, iterative_refinement_enable=False, max_threads=1),
    "scs": dict(solver=cp.SCS, max_iters=50_000, eps_abs=1e-7, eps_rel=1e-7),
}
_OK = ("optimal", "optimal_inaccurate")


class _ClarabelPrimalOnly(_ClarabelConif):
    """cvxpy's Clarabel interface without the recovery of dual values, which nothing here reads: it rebuilt a
    full matrix from every PSD cone's dual after each solve (~5 % of a warm solve at N = 8). Same solver, same
    settings, same primal solution. (cvxpy accepts a solver instance whose name is not one of its own.)"""

    def name(self):
        return "CLARABEL_PRIMAL_ONLY"

    def invert(self, solution, inverse_data):
        status = self.STATUS_MAP[str(solution.status)]
        attr = {cvxpy_settings.SOLVE_TIME: solution.solve_time, cvxpy_settings.NUM_ITERS: solution.iterations}
        if status in cvxpy_settings.SOLUTION_PRESENT:
            primal_vars = {inverse_data[_ClarabelConif.VAR_ID]: solution.x}
            # dual_vars None: cvxpy's own matrix-stuffing step then passes on an empty dict of duals
            return Solution(status, solution.obj_val + inverse_data[cvxpy_settings.OFFSET], primal_vars, None, attr)
        return failure_solution(status, attr)


_CLARABEL_PRIMAL = _ClarabelPrimalOnly()
# Accepted by BeamformerDesigner besides the public FORMULATIONS, so that bench/bench_beamformer.py can measure
# old against new in one run and the tests can compare their optima:
# "decomposed_dense": the decomposed formulation exactly as it was built before issue 16 (dense einsum F(Θ) map;
#   the full Σ_l S_l in every amplitude LMI; and the warm path below);
# "decomposed_free_psd": the decomposed formulation and warm path as they were before the position objective's
#   warm solve was sped up (issue 16): R_n ⪰ 0 through a free 2Mt × 2Mt PSD variable tied to R_n by Mt²
#   equalities, cvxpy's recovery of every dual value, and the two bounds from two inverses of the dense
#   J F(Ψ) J^T each.
REFERENCE_FORMULATIONS = ("decomposed_dense", "decomposed_free_psd")
# Objective "achievable" only: "joint", the SDR over the joint covariance of all nodes' communication beams averaged
# over the phase sets (BeamformerDesigner._build_achievable), then sequential rank-one solves (_solve_rank_one): the
# relaxation alone has the position problem's optimum, with rank > 1 (docs/beamforming.md §8).
ACHIEVABLE_FORMULATIONS = ("joint",)
# The sequential rank-one solves of the joint formulation (BeamformerDesigner._solve_rank_one): first weight relative
# to the relaxed objective, the largest number of steps, and the λ2/λ1 at which a joint covariance counts as rank one.
RANK_WEIGHT_START = 1e-2
RANK_STEPS = 20
RANK_TOLERANCE = 1e-4
# Steps without a better iterate after which the sequence stops: on the three-node scenario the floor of the iterates
# only grew after the relaxation's (0.543 → 0.544 → 0.562 → 0.67 → 0.79 m² over seven steps).
RANK_PATIENCE = 2


@dataclasses.dataclass
class DesignResult:
    """Outcome of one SDR solve. Arrays are None when there is no solution to report (never NaN)."""

    status: str  # "optimal", "optimal_inaccurate", "infeasible", "infeasible_inaccurate", "solver_timeout", "solver_error…"
    objective: str
    solver: str
    sinr_threshold_db: float
    solve_time_s: float
    Rc: object = None  # (N, U, Mt, Mt) relaxed communication covariances
    R: object = None  # (N, Mt, Mt) R_nn
    Wc: object = None  # (N, Mt, U) extracted communication beamformers, eq. (19)
    Wr: object = None  # (N, Mt, Mt) radar beamformers
    R_extracted: object = None  # (N, Mt, Mt) W_c W_c^H + W_r W_r^H of the extracted beamformers
    crb_position_bound_m2: object = None
    crb_position_extracted_m2: object = None
    crb_paper_bound: object = None
    crb_paper_extracted: object = None
    sinr_extracted_db: object = None  # list, one per user
    sinr_bound_db: object = None  # eq. (17) at the relaxed optimum
    max_antenna_power: object = None  # largest [W W^H]_ii of the extracted beamformers
    max_common_sinr_db: object = None  # filled on request (max_sinr=True)
    extraction: str = "paper"
    message: str = ""
    # objective "achievable" only (issue 15): the P → ∞ floor E_φ[CRB(F(Θ; φ))] of the relaxed covariances
    # (design_achievable.mean_position_crb_m2) and of the extracted beamformers (core.achievable.achievable_crb_m2,
    # symbols=inf), the latter's error estimate, the number of phase sets S of the design's average, and the joint
    # covariances (U, N·Mt, N·Mt) of the users' beams
    crb_achievable_bound_m2: object = None
    crb_achievable_extracted_m2: object = None
    crb_achievable_stderr_m2: object = None
    phase_sets: object = None
    Rc_joint: object = None

    @property
    def ok(self):
        return self.status in _OK

    def as_dict(self):
        """The JSON contract of `disac design` (issue 3)."""
        return {
            "status": self.status, "objective": self.objective, "solver": self.solver,
            "sinr_threshold_db": self.sinr_threshold_db, "solve_time_s": self.solve_time_s,
            "crb_position_bound_m2": self.crb_position_bound_m2,
            "crb_position_extracted_m2": self.crb_position_extracted_m2,
            "crb_paper_bound": self.crb_paper_bound, "crb_paper_extracted": self.crb_paper_extracted,
            "sinr_extracted_db": self.sinr_extracted_db, "sinr_bound_db": self.sinr_bound_db,
            "max_antenna_power": self.max_antenna_power, "max_common_sinr_db": self.max_common_sinr_db,
            "extraction": self.extraction, "message": self.message,
        } | ({"crb_achievable_bound_m2": self.crb_achievable_bound_m2,
              "crb_achievable_extracted_m2": self.crb_achievable_extracted_m2,
              "crb_achievable_stderr_m2": self.crb_achievable_stderr_m2,
              "phase_sets": self.phase_sets} if self.objective == "achievable" else {})


def _check_choice(name, value, accepted):
    if value not in accepted:
        raise ValueError(f"{name} = {value!r}: expected one of {', '.join(map(repr, accepted))}")


class BeamformerDesigner:
    """Problem (18) for one scenario, compiled once; ``solve(Γ_c)`` re-solves for any threshold."""

    def __init__(self, scenario, objective="position", solver=None, formulation=None, user_subspace=True,
                 channels=None, time_limit_s=None, transmit_subspace=True, phase_sets=None):
        """channels: the users' channels h (N, U, Mt) to design for (measured CSI), default the scenario's;
        time_limit_s: a solve that takes longer stops with status "solver_error" (None: no limit);
        user_subspace / transmit_subspace: the exact reductions of docs/beamforming.md §3 (the second one
        only in the decomposed formulation); False keeps the unreduced problem, for comparison.
        formulation None: "joint" for the objective "achievable" (its only formulation), "decomposed" otherwise.
        phase_sets: objective "achievable" only, the number S of oscillator phase sets its average runs over
        (default core.design_achievable.default_phase_sets(N)); that objective ignores user_subspace and
        transmit_subspace (docs/beamforming.md §8)."""
        solver = solver or DEFAULT_SOLVER
        if formulation is None:
            formulation = "joint" if objective == "achievable" else "decomposed"
        _check_choice("objective", objective, OBJECTIVES)
        _check_choice("solver", solver, SOLVERS)
        _check_choice("formulation", formulation, FORMULATIONS + REFERENCE_FORMULATIONS + ACHIEVABLE_FORMULATIONS)
        if (formulation in ACHIEVABLE_FORMULATIONS) != (objective == "achievable"):
            raise ValueError(f"formulation = {formulation!r} with objective = {objective!r}: the objective 'achievable' "
                             f"has the formulation {ACHIEVABLE_FORMULATIONS[0]!r} only, and that formulation no other "
                             "objective")
        self.scenario, self.objective, self.solver, self.formulation = scenario, objective, solver, formulation
        self.user_subspace = bool(user_subspace)
        self.transmit_subspace = bool(transmit_subspace)
        # the reference builds keep the warm path they had (free PSD variable for R_n ⪰ 0, duals, dense CRBs)
        self._legacy_warm_path = formulation in REFERENCE_FORMULATIONS
        self.geometry = fim_mod.SensingGeometry.from_scenario(scenario)  # FIM over the active bins only
        self.fim_map = fim_mod.FimMap(self.geometry)
        # the power limit of eq. (18d) per active RE: P_T, or P_T·L/L_a with guard/DC bins (core.ofdm docstring)
        self.per_re_power = ofdm.per_re_power(scenario.per_antenna_power, getattr(scenario, "active_subcarriers", None))
        self.channels = _checked_channels(scenario, channels)  # (N, U, Mt)
        if time_limit_s is not None and not (isinstance(time_limit_s, (int, float)) and time_limit_s > 0
                                             and math.isfinite(time_limit_s)):
            raise ValueError(f"time_limit_s = {time_limit_s!r}: expected a positive number of seconds or None")
        self.time_limit_s = time_limit_s
        if phase_sets is not None and objective != "achievable":
            raise ValueError(f"phase_sets = {phase_sets!r}: only the objective 'achievable' averages over phase sets")
        if phase_sets is None:
            phase_sets = design_achievable.default_phase_sets(scenario.num_nodes)
        if isinstance(phase_sets, bool) or not isinstance(phase_sets, (int, np.integer)) or phase_sets < 1:
            raise ValueError(f"phase_sets = {phase_sets!r}: expected a positive integer")
        self.phase_sets = int(phase_sets)
        self._build()
        self._comm_only = None

    # ---- the compiled problem -----------------------------------------------------------------
    def _build(self):
        if self.formulation == "joint":
            self._build_achievable()
            return
        s = self.scenario
        N, mt, K = s.num_nodes, s.tx_antennas, s.num_targets
        # congruence scaling at the isotropic reference R = I (covariances are in units of P_T)
        F_ref = self.fim_map.fim_theta(fim_mod.isotropic_covariances(N, mt, 1.0))
        diag = np.diag(F_ref).copy()
        diag[diag <= 0] = 1.0
        self._D = 1.0 / np.sqrt(diag)

        # R_n as variables of their own (real and imaginary parts): F(Θ) then reads N·Mt² numbers, keeping its
        # rows sparse in the solver's matrix. In the decomposed formulation with the transmit subspace, the
        # variables are R'_n = B_n^H R_n B_n in a unitary frame B_n whose first r_n columns are the transmit basis
        # Q_n (see _transmit_reduction), so that Y_n = Q_n^H R_n Q_n is R'_n's leading block: no auxiliary Y_n,
        # no equality, and R_n = B_n R'_n B_n^H an expression (every constraint on R_n reads it unchanged).
        self._frames = [None] * N  # B_n, or None where R'_n = R_n
        if self.formulation == "decomposed" and self.transmit_subspace and not self._legacy_warm_path:
            for n in range(N):
                basis = self._transmit_basis(n)
                if basis is not None:
                    self._frames[n] = _unitary_completion(basis)
        self._R_frame = [(cp.Variable((mt, mt), symmetric=True, name=f"ReR_{n}"),
                          _antisymmetric_variable(mt, f"ImR_{n}")) for n in range(N)]
        self.R = [pair if frame is None else _congruence(frame.conj().T, pair)
                  for pair, frame in zip(self._R_frame, self._frames)]
        # (18f) is held as a·signal − b·(interference + σ_c²) ≥ 0 with a = c/Γ_c, b = c, c = min(1, Γ_c):
        # the same constraint for every Γ_c, with coefficients of order one at both ends of a sweep.
        self._signal_coef = cp.Parameter(nonneg=True, value=1.0, name="signal_coef")
        self._interference_coef = cp.Parameter(nonneg=True, value=1.0, name="interference_coef")

        position = np.arange(2 * K)
        fim_constraints = []  # equalities that tie auxiliary variables to the covariances
        if self.formulation in ("decomposed", "decomposed_free_psd"):
            sensing, objective = self._decomposed_lmis(fim_constraints)
        else:
            block = self._dense_blocks()
            dim = fim_mod.theta_size(N, K)
            if self.formulation == "decomposed_dense":
                sensing, objective = self._decomposed_lmis_dense(block, position)
            else:
                F = block(np.arange(dim), np.arange(dim))
                F = (F + F.T) / 2
                select = np.eye(dim)[:, position] if self.objective == "position" else np.eye(dim)
                E = self._D[:, None] * select  # D E
                sensing = []  # the epigraph LMIs that carry F(Θ)
                if self.formulation == "one_lmi":
                    T = cp.Variable((select.shape[1], select.shape[1]), symmetric=True, name="T")
                    sensing.append(cp.bmat([[F, E], [E.T, T]]) >> 0)
                    objective = cp.trace(T)
                else:  # literal (18b): one Schur LMI per selected parameter
                    t = cp.Variable(select.shape[1], name="t")
                    for i in range(select.shape[1]):
                        e = E[:, i:i + 1]
                        sensing.append(cp.bmat([[F, e], [e.T, cp.reshape(t[i], (1, 1), order="C")]]) >> 0)
                    objective = cp.sum(t)
        constraints = self._communication_constraints()  # (18c)-(18f)
        self.problem = cp.Problem(cp.Minimize(objective), sensing + fim_constraints + constraints)
        self._comm_constraints = constraints

    def _build_achievable(self):
        """The SDR over the joint covariance of all nodes' communication beams (objective "achievable", issue 15).

        Variables (units of P_T): per user u the joint covariance C_u (N·Mt square, ⪰ 0) of the stacked beams
        [w_{c,1,u}; …; w_{c,N,u}], whose diagonal blocks are the paper's R_{c,n,u}; per node R_{r,n} ⪰ 0;
        R_n = R_{r,n} + Σ_u C_u[n, n]. Constraints: the paper's (18c)–(18f) on these (the SINR of eq. 17 reads the
        diagonal blocks only: the noncoherent user averages the cross terms away). Objective: the average over S
        phase sets φ_s of the position CRB surrogate tr(T_s), [[F(Θ; φ_s), E_p], [E_p^T, T_s]] ⪰ 0, with F(Θ; φ)
        the phase-conditional FIM of core.design_achievable (the paper's F(Θ) plus the cross-node terms
        Re e^{j(φ_m' − φ_m)}·(Σ_u C_u[m', m])): affine in the variables for each φ_s, so the problem stays convex.
        Same congruence scaling D as (18). The users' subspace reduction is not used: the cross blocks are needed
        in full.
        """
        s = self.scenario
        N, U, mt, K = s.num_nodes, s.num_users, s.tx_antennas, s.num_targets
        F_ref = self.fim_map.fim_theta(fim_mod.isotropic_covariances(N, mt, 1.0))
        diag = np.diag(F_ref).copy()
        diag[diag <= 0] = 1.0
        self._D = 1.0 / np.sqrt(diag)
        self._signal_coef = cp.Parameter(nonneg=True, value=1.0, name="signal_coef")
        self._interference_coef = cp.Parameter(nonneg=True, value=1.0, name="interference_coef")
        self.joint_map = design_achievable.JointFimMap(self.geometry)
        self.design_phases_rad = design_achievable.lattice_phase_sets(N, self.phase_sets)
        size = N * mt
        Zc = [cp.Variable((2 * size, 2 * size), PSD=True, name=f"Zjoint_{u}") for u in range(U)]
        Zr = [cp.Variable((2 * mt, 2 * mt), PSD=True, name=f"Zr_{n}") for n in range(N)]
        joint = [_complexify(Z, size) for Z in Zc]
        radar = [_complexify(Z, mt) for Z in Zr]

        def block(pair, a, b):
            rows, cols = slice(a * mt, (a + 1) * mt), slice(b * mt, (b + 1) * mt)
            return pair[0][rows, cols], pair[1][rows, cols]

        self.R = []
        for n in range(N):
            parts = [block(c, n, n) for c in joint]
            self.R.append((radar[n][0] + sum(p[0] for p in parts), radar[n][1] + sum(p[1] for p in parts)))
        self._R_frame, self._frames = self.R, [None] * N  # R_n are expressions here (read by _R_value)
        constraints = [cp.diag(self.R[n][0]) <= 1.0 for n in range(N)]  # (18d)
        h = self.channels
        noise = s.user_noise_power / self.per_re_power
        for u in range(U):  # (18f) on the diagonal blocks, as in _communication_constraints
            signal = sum(_quadratic(h[n, u], block(joint[u], n, n)) for n in range(N))
            interference = sum(_quadratic(h[n, u], radar[n]) + sum(_quadratic(h[n, u], block(joint[i], n, n))
                                                                   for i in range(U) if i != u) for n in range(N))
            constraints.append(self._signal_coef * signal - self._interference_coef * (interference + noise) >= 0)
        # the real vector the FIM reads: per ordered block (m', m), row-major, [vec Re Y, vec Im Y] (JointFimMap)
        pieces = []
        for a in range(N):
            for b in range(N):
                if a == b:
                    Y = self.R[a]
                else:
                    parts = [block(c, a, b) for c in joint]
                    Y = (sum(p[0] for p in parts), sum(p[1] for p in parts))
                pieces += [cp.vec(Y[0], order="C"), cp.vec(Y[1], order="C")]
        vector = cp.hstack(pieces)
        dim = self.joint_map.theta_dim
        D = self._D
        scale = np.outer(D, D).ravel()[:, None]
        E = D[:, None] * np.eye(dim)[:, :2 * K]  # D E, E = the x, y selector
        sensing, objective = [], 0
        for index, matrix in enumerate(self.joint_map.affine_matrices(self.design_phases_rad)):
            matrix = sparse.csr_matrix(scale * matrix)
            matrix.eliminate_zeros()
            F = cp.reshape(matrix @ vector, (dim, dim), order="C")
            T = cp.Variable((2 * K, 2 * K), symmetric=True, name=f"T_{index}")
            sensing.append(cp.bmat([[F, E], [E.T, T]]) >> 0)
            objective = objective + cp.trace(T) / self.phase_sets
        self._joint_variables, self._radar_variables = Zc, Zr
        self.selection_phases_rad = design_achievable.lattice_phase_sets(N, design_achievable.SELECTION_PHASE_SETS,
                                                                         seed=1)
        self._comm_constraints = constraints
        # the rank-one penalty of the sequential solves (_solve_rank_one): ρ·Σ_u (tr C_u − v_u^H C_u v_u) with v_u the
        # previous solve's principal eigenvector, ρ·v v^H held as parameters (DPP: one compiled problem for all steps)
        self._rank_weight = cp.Parameter(nonneg=True, value=0.0, name="rank_weight")
        self._rank_directions = []
        penalty = 0
        for u, (re, im) in enumerate(joint):
            Pr = cp.Parameter((size, size), symmetric=True, value=np.zeros((size, size)), name=f"rank_re_{u}")
            Pi = cp.Parameter((size, size), value=np.zeros((size, size)), name=f"rank_im_{u}")
            self._rank_directions.append((Pr, Pi))
            # v^H C v = Σ Re C ∘ Re(v v^H) + Σ Im C ∘ Im(v v^H) for C = Re C + j Im C Hermitian
            penalty = penalty + self._rank_weight * cp.trace(re) - cp.sum(cp.multiply(Pr, re)) - cp.sum(cp.multiply(Pi, im))
        self.problem = cp.Problem(cp.Minimize(objective + penalty), sensing + constraints)
        self._sensing_objective = objective

    def _dense_blocks(self):
        """block(rows, cols) -> the scaled F(Θ)[rows, cols] from the dense coefficient tensor (the reference
        formulations; O(dim Θ² · N·Mt²) memory). "decomposed_dense" uses the dense einsum map, as the
        decomposed formulation did before issue 16, so that the benchmark measures that build."""
        N, mt = self.scenario.num_nodes, self.scenario.tx_antennas
        method = "einsum" if self.formulation == "decomposed_dense" else "structured"
        A_re, A_im = self.fim_map.theta_map(method=method)  # (N, dΘ, dΘ, Mt, Mt)
        dim = A_re.shape[1]
        DD = np.outer(self._D, self._D)
        A_re = A_re * DD[None, :, :, None, None]
        A_im = A_im * DD[None, :, :, None, None]
        # columns ordered as Fortran vec(Re R_m), then vec(Im R_m), node by node
        cols = []
        for m in range(N):
            cols.append(A_re[m].transpose(0, 1, 3, 2).reshape(dim * dim, mt * mt))
            cols.append(A_im[m].transpose(0, 1, 3, 2).reshape(dim * dim, mt * mt))
        coeff = np.hstack(cols)
        stacked = cp.hstack([cp.vec(part, order="F") for n in range(N) for part in self.R[n]])

        def block(rows, cols_):
            """The scaled F(Θ) block [rows, cols_] as a cvxpy expression (one sparse matrix product)."""
            flat = (np.asarray(rows)[:, None] * dim + np.asarray(cols_)[None, :]).ravel()
            sub = sparse.csr_matrix(coeff[flat])
            sub.eliminate_zeros()
            return cp.reshape(sub @ stacked, (len(rows), len(cols_)), order="C")
        return block

    def _communication_constraints(self):
        """Constraints (18c)-(18f) on the covariances self.R; fills self._recover_rc.

        Every Hermitian PSD matrix is held as a real PSD variable Z of twice the size whose
        complexification ((Z11 + Z22)/2, (Z21 − Z12)/2) is the matrix (exact: Z ⪰ 0 gives a PSD
        Hermitian matrix, and the real embedding [[A, −B], [B, A]] of a PSD Hermitian A + jB is a valid
        Z). The solver then sees plain real PSD cones: cvxpy's own complex-to-real translation put the
        variables in a degenerate subspace of each cone, where Clarabel stopped with NumericalError.

        user_subspace=True (default) is an exact reduction of (18c)/(18e). The SINRs see R_{c,n,u} only
        through h_{n,v}^H R_{c,n,u} h_{n,v}, i.e. through M_{n,u} = Q_n^H R_{c,n,u} Q_n with Q_n an
        orthonormal basis of the users' channels at node n (r_n ≤ U columns). Matrices M_{n,u} ⪰ 0
        are achievable with Σ_u R_{c,n,u} ≼ R_n exactly when Σ_u M_{n,u} ≼ Q_n^H R_n Q_n: necessity is
        the congruence by Q_n; sufficiency by R_{c,n,u} = R_n Q_n A^+ M_{n,u} A^+ Q_n^H R_n,
        A = Q_n^H R_n Q_n (then Σ_u R_{c,n,u} ≼ R_n^{1/2} Π R_n^{1/2} ≼ R_n with Π a projector). The
        Mt×Mt cones of R_{c,n,u} become r_n×r_n cones, which is where the solver spends its time.
        """
        s = self.scenario
        N, U, mt = s.num_nodes, s.num_users, s.tx_antennas
        h = self.channels
        noise = s.user_noise_power / self.per_re_power
        constraints = []
        signal = [0] * U
        interference = [0] * U
        recover = []
        for n in range(N):
            if self.user_subspace:
                basis = _orthonormal_basis(h[n].T)  # Q_n, (Mt, r)
                vectors = basis.conj().T @ h[n].T  # t_{n,u} = Q_n^H h_{n,u}, columns
                size = basis.shape[1]
                if self._legacy_warm_path:
                    Z_R = cp.Variable((2 * mt, 2 * mt), PSD=True, name=f"ZR_{n}")
                    constraints += _hermitian_equal(self.R[n], _complexify(Z_R, mt))  # R_n ⪰ 0
                else:  # R_n ⪰ 0 as the LMI on the real embedding of R'_n = B_n^H R_n B_n (B_n unitary):
                    constraints.append(_real_embedding(self._R_frame[n]) >> 0)  # no auxiliary variable, no equality
                reduced_R = _congruence(basis, self.R[n])  # Q_n^H R_n Q_n
            else:
                basis, vectors, size = None, h[n].T, mt
                reduced_R = self.R[n]
            Zc = [cp.Variable((2 * size, 2 * size), PSD=True, name=f"Zc_{n}_{u}") for u in range(U)]
            Zr = cp.Variable((2 * size, 2 * size), PSD=True, name=f"Zr_{n}")
            comm = [_complexify(Z, size) for Z in Zc]  # R_{c,n,u} (or M_{n,u})
            radar = _complexify(Zr, size)  # R_{r,n} (or its part in the users' subspace)
            total = (radar[0] + sum(c[0] for c in comm), radar[1] + sum(c[1] for c in comm))
            constraints += _hermitian_equal(reduced_R, total)  # (18c) (with R_{r,n} ⪰ 0: (18e))
            constraints.append(cp.diag(self.R[n][0]) <= 1.0)  # (18d)
            for u in range(U):
                v = vectors[:, u]
                signal[u] += _quadratic(v, comm[u])
                interference[u] += _quadratic(v, radar) + sum(_quadratic(v, comm[i]) for i in range(U) if i != u)
            recover.append((basis, Zc))
        for u in range(U):  # (18f), as signal/Γ_c ≥ interference + σ_c²
            constraints.append(self._signal_coef * signal[u] - self._interference_coef * (interference[u] + noise) >= 0)
        self._recover = recover
        return constraints

    def _communication_covariances(self, R):
        """(R_c, R⁺): R_{c,n,u} (N, U, Mt, Mt) and the R_n (N, Mt, Mt) they are consistent with, in units of P_T,
        after a solve (see _communication_constraints).

        The solver meets R_n ⪰ 0, M_{n,u} ⪰ 0 and Σ_u M_{n,u} ⪯ A_n = Q_n^H R_n Q_n only to its tolerance
        (~1e-7), and the rebuild R_{c,n,u} = R_n Q_n A_n^+ M_{n,u} A_n^+ Q_n^H R_n divides by the eigenvalues of
        A_n: where A_n is nearly singular it turned that round-off into R_c with eigenvalues to −1e-5 and a
        Σ_u R_c above R_n by 4 % of P_T (a generated 3-node case). So the inputs are first made exactly
        consistent, with changes of the size of the solver's residuals: R_n and every M_{n,u} are replaced by
        their PSD parts (eigen-clip), and R_n⁺ = R_n + Q_n Δ_n Q_n^H with Δ_n the PSD part of the excess
        Σ_u M_{n,u} − A_n (≤ ~1e-7 of P_T). Then Q_n^H R_n⁺ Q_n ⪰ Σ_u M_{n,u} exactly, the rebuild from R_n⁺
        gives R_c ⪰ 0 with Σ_u R_c ⪯ R_n⁺ (to rounding) and Q_n^H R_c Q_n = M_{n,u}: every signal is the
        solver's own, and the interference grows by h^H Q_n Δ_n Q_n^H h only. (Taking the excess out of the
        signals instead changes them through the cross terms of M between the strong directions and the
        nearly empty one, by ~1e-4 where A_n has an eigenvalue of 1e-6: far worse.) Without the users'
        subspace (Q_n = I) the solver's R_c are used, clipped, with the same R_n⁺.
        """
        out, consistent = [], []
        for n, (basis, Zc) in enumerate(self._recover):
            values = list(psd_part(np.array([_complexify_value(Z.value) for Z in Zc])))
            R_n = psd_part(R[n])
            if basis is None:
                consistent.append(R_n + psd_part(sum(values) - R_n))
                out.append(values)
                continue
            excess = psd_part(sum(values) - basis.conj().T @ R_n @ basis)
            R_n = R_n + basis @ excess @ basis.conj().T
            left = R_n @ basis  # R_n Q_n
            pinv = np.linalg.pinv(basis.conj().T @ left, hermitian=True, rcond=1e-12)
            out.append([left @ pinv @ M @ pinv @ left.conj().T for M in values])
            consistent.append(R_n)
        return np.array(out), np.array(consistent)

    def _decomposed_lmis(self, equalities):
        """The one LMI [[F, E], [E^T, T]] ⪰ 0 split along the arrow of F(Θ) (exact, docs/beamforming.md §2).

        F(Θ) is an arrow: the amplitudes b_l of link l = (n, m) couple with the positions p but not with the
        amplitudes of another link (other receivers see other noise; other transmitters' symbols are
        uncorrelated). With C_l = F_{p,b_l}, B_l = F_{b_l,b_l} and S_l ⪰ C_l B_l^{-1} C_l^T, written as
        [[S_l, C_l], [C_l^T, B_l]] ⪰ 0, the position block of F^{-1} is Σ^{-1} with Σ = F_pp − Σ_l S_l, and the
        amplitude block of link l is the b_l block of [[Σ + S_l, C_l], [C_l^T, B_l]]^{-1}.

        Σ is ONE auxiliary variable tied to F_pp − Σ_l S_l by one (matrix) equality, so each of the N² amplitude
        LMIs holds Σ + S_l instead of the whole sum (its data no longer grow as N⁴). The blocks are read from
        fim.FimMap.theta_blocks(): C_l and B_l depend on the transmitter's covariance only, and only through
        Y_m = V_m^H R_m V_m (the transmit-steering subspace, see _transmit_reduction), so every LMI is small
        and sparse. Appends the equalities to `equalities`; returns (sensing LMIs, objective).
        """
        s = self.scenario
        N, K = s.num_nodes, s.num_targets
        blocks = self.fim_map.theta_blocks()
        D = self._D
        position = np.arange(2 * K)
        D_p = D[position]
        node_vectors, node_bases = self._transmit_reduction(equalities)

        def affine(X, d_rows, d_cols, m, symmetric=False):
            """Σ_ac X[..., a, c] R_m[c, a] (real part), scaled by d_rows d_cols^T, as a (rows, cols) expression."""
            X = X * (d_rows[:, None] * d_cols[None, :])[:, :, None, None]
            return cp.reshape(_coefficient_matrix(X, node_bases[m], symmetric) @ node_vectors[m], X.shape[:2],
                              order="C")

        # F_pp reads every node: one sparse product over the stacked node vectors
        F_pp = 0
        for m in range(N):
            F_pp = F_pp + affine(blocks.position[m], D_p, D_p, m, symmetric=True)
        S, C, B, E_amp = [], [], [], []
        sensing = []
        for link in range(N * N):
            m = link % N  # the transmitter: C_l and B_l are functions of R_m alone
            d_amp = D[blocks.amplitude_indices(link)]
            C_l = affine(blocks.cross[link], D_p, d_amp, m)
            B_l = affine(blocks.amplitude[link], d_amp, d_amp, m, symmetric=True)
            S_l = cp.Variable((2 * K, 2 * K), symmetric=True, name=f"S_{link}")
            sensing.append(cp.bmat([[S_l, C_l], [C_l.T, B_l]]) >> 0)
            S.append(S_l), C.append(C_l), B.append(B_l), E_amp.append(np.diag(d_amp))
        schur = cp.Variable((2 * K, 2 * K), symmetric=True, name="position_schur")  # Σ = F_pp − Σ_l S_l
        residual = schur - (F_pp - cp.sum(S) if len(S) > 1 else F_pp - S[0])
        equalities += [cp.upper_tri(residual) == 0, cp.diag(residual) == 0] if 2 * K > 1 else [residual == 0]
        T_p = cp.Variable((2 * K, 2 * K), symmetric=True, name="T_position")
        E_p = np.diag(D_p)
        sensing.append(cp.bmat([[schur, E_p], [E_p.T, T_p]]) >> 0)
        objective = cp.trace(T_p)
        if self.objective == "paper":
            zero = np.zeros((2 * K, 2 * K))
            for link in range(N * N):
                T_l = cp.Variable((2 * K, 2 * K), symmetric=True, name=f"T_{link}")
                sensing.append(cp.bmat([[schur + S[link], C[link], zero],
                                        [C[link].T, B[link], E_amp[link]],
                                        [zero, E_amp[link].T, T_l]]) >> 0)
                objective = objective + cp.trace(T_l)
        return sensing, objective

    def _transmit_basis(self, m):
        """Q_m: an orthonormal basis of conj([a_t(θ_m^k), ȧ_t(θ_m^k)]_k) (see _transmit_reduction), or None when it
        spans every antenna (or the reduction is off)."""
        if not self.transmit_subspace:
            return None
        mt = self.scenario.tx_antennas
        theta = self.geometry.angles_rad()[m]
        steering = np.concatenate([geometry.ula_steering(theta, mt),
                                   geometry.ula_steering_derivative(theta, mt)]).conj().T  # (Mt, 2K)
        basis = _orthonormal_basis(steering)
        return basis if basis.shape[1] < mt else None

    def _transmit_reduction(self, equalities):
        """Per node m: the variable vector the FIM blocks read, and the basis they are expressed in.

        Every derivative of the sensing mean with respect to Θ multiplies node m's symbols by a_t^T(θ_m^k) or
        ȧ_t^T(θ_m^k) (docs/fim-derivation.md §2), so each coefficient matrix of F(Θ) for R_m has the form
        conj(V_m) X V_m^T with V_m = [a_t(θ_m^k), ȧ_t(θ_m^k)]_k: F(Θ) depends on R_m only through
        Y_m = Q_m^H R_m Q_m, Q_m an orthonormal basis of conj(V_m) (r_m ≤ 2K columns). When r_m < Mt, Y_m is an
        auxiliary Hermitian variable tied to R_m by its r_m² real equalities (exact), and the FIM reads r_m²
        numbers per node instead of Mt²; otherwise it reads R_m directly (basis None).
        Returns ([vector of Fortran vec(Re), vec(Im)] per node, [basis or None] per node).
        """
        vectors, bases = [], []
        for m in range(self.scenario.num_nodes):
            basis = self._transmit_basis(m)
            if basis is None:
                vectors.append(cp.hstack([cp.vec(part, order="F") for part in self.R[m]]))
            elif self._frames[m] is not None:  # Y_m is the leading r_m × r_m block of the variable R'_m
                r = basis.shape[1]
                vectors.append(cp.hstack([cp.vec(part[:r, :r], order="F") for part in self._R_frame[m]]))
            else:
                r = basis.shape[1]
                Y = (cp.Variable((r, r), symmetric=True, name=f"ReY_{m}"), _antisymmetric_variable(r, f"ImY_{m}"))
                equalities += _hermitian_equal(Y, _congruence(basis, self.R[m]))
                vectors.append(cp.hstack([cp.vec(part, order="F") for part in Y]))
            bases.append(basis)
        return vectors, bases

    def _decomposed_lmis_dense(self, block, position):
        """The decomposed formulation as it was before issue 16 ("decomposed_dense", the benchmark's reference):
        the same LMIs as _decomposed_lmis, but every amplitude LMI holds F_pp − Σ_{l'≠l} S_l' in full (so the
        paper objective's data grow as N⁴), and the blocks come from the dense coefficient tensor.

        The one LMI [[F, E], [E^T, T]] ⪰ 0 split along the sparsity of F(Θ) (exact, docs/beamforming.md).

        F(Θ) is an arrow: the amplitudes b_l of link l = (n, m) couple with the positions p but not with
        the amplitudes of another link (other receivers see other noise; other transmitters' symbols are
        uncorrelated). With C_l = F_{p,b_l}, B_l = F_{b_l,b_l} and S_l ⪰ C_l B_l^{-1} C_l^T, written as
        [[S_l, C_l], [C_l^T, B_l]] ⪰ 0, the position block of F^{-1} is (F_pp − Σ_l S_l)^{-1}, and the
        amplitude block of link l is the b_l block of [[F_pp − Σ_{l'≠l} S_l', C_l], [C_l^T, B_l]]^{-1}.
        Every LMI has size ≤ 6K instead of dim F(Θ) + |E|.
        """
        s = self.scenario
        N, K = s.num_nodes, s.num_targets
        links = N * N
        kn2 = K * links
        F_pp = block(position, position)
        F_pp = (F_pp + F_pp.T) / 2
        S, C, B, amp_idx = [], [], [], []
        sensing = []
        for link in range(links):
            idx = np.concatenate([2 * K + link * K + np.arange(K), 2 * K + kn2 + link * K + np.arange(K)])
            amp_idx.append(idx)
            C_l = block(position, idx)
            B_l = block(idx, idx)
            B_l = (B_l + B_l.T) / 2
            S_l = cp.Variable((2 * K, 2 * K), symmetric=True, name=f"S_{link}")
            sensing.append(cp.bmat([[S_l, C_l], [C_l.T, B_l]]) >> 0)
            S.append(S_l), C.append(C_l), B.append(B_l)
        schur = F_pp - sum(S)
        D = self._D
        T_p = cp.Variable((2 * K, 2 * K), symmetric=True, name="T_position")
        E_p = np.diag(D[position])
        sensing.append(cp.bmat([[schur, E_p], [E_p.T, T_p]]) >> 0)
        objective = cp.trace(T_p)
        if self.objective == "paper":
            zero = np.zeros((2 * K, 2 * K))
            for link in range(links):
                T_l = cp.Variable((2 * K, 2 * K), symmetric=True, name=f"T_{link}")
                E_l = np.diag(D[amp_idx[link]])
                sensing.append(cp.bmat([[schur + S[link], C[link], zero],
                                        [C[link].T, B[link], E_l],
                                        [zero, E_l.T, T_l]]) >> 0)
                objective = objective + cp.trace(T_l)
        return sensing, objective

    def _solve_problem(self, problem):
        options = dict(_SOLVER_OPTIONS[self.solver])
        if self.time_limit_s is not None:
            options["time_limit" if self.solver == "clarabel" else "time_limit_secs"] = float(self.time_limit_s)
        if self.solver == "clarabel" and not self._legacy_warm_path:
            options["solver"] = _CLARABEL_PRIMAL
        start = time.perf_counter()
        try:
            problem.solve(**options)
            status = problem.status
        except cp.error.SolverError as exc:
            status = f"solver_error: {exc}"
        elapsed = time.perf_counter() - start
        if status not in _OK and self.time_limit_s is not None and elapsed >= self.time_limit_s:
            status = TIMEOUT_STATUS  # stopped by the limit: neither a solution nor a certificate
        return status, elapsed

    # ---- public API -------------------------------------------------------------------------
    def solve(self, sinr_threshold_db, extraction="paper", max_sinr=False):
        """Solve (18) at Γ_c (dB) and extract beamformers; never raises for a hard threshold."""
        _check_choice("extraction", extraction, EXTRACTIONS)
        try:
            gamma_db = float(sinr_threshold_db)
        except (TypeError, ValueError):
            raise ValueError(f"sinr_threshold_db = {sinr_threshold_db!r}: expected a finite number of dB") from None
        if not math.isfinite(gamma_db) or not MIN_SINR_DB <= gamma_db <= MAX_SINR_DB:
            raise ValueError(f"sinr_threshold_db = {sinr_threshold_db!r}: expected a finite number of dB "
                             f"from {MIN_SINR_DB:g} to {MAX_SINR_DB:g}")
        self._set_threshold(gamma_db)
        if self.formulation == "joint":
            status, elapsed = self._solve_rank_one(extraction)
        else:
            status, elapsed = self._solve_problem(self.problem)
        if status not in _OK and not status.startswith("infeasible") and status != TIMEOUT_STATUS:
            # Clarabel can stop with a numerical error on an infeasible SDP instead of a certificate;
            # the SINR/power problem alone (small, well posed) then says whether the threshold is the cause
            self._set_threshold(gamma_db)
            if not self._feasible(gamma_db):
                status = "infeasible"
        result = DesignResult(status=status, objective=self.objective, solver=self.solver,
                              sinr_threshold_db=gamma_db, solve_time_s=elapsed, extraction=extraction)
        if status in _OK:
            self._fill_solution(result, extraction)
        elif status.startswith("infeasible"):
            result.message = f"no beamformer gives every user an SINR of {gamma_db:g} dB under the power limit"
        elif status == TIMEOUT_STATUS:
            result.message = f"the solve stopped at the time limit of {self.time_limit_s:g} s"
        else:
            result.message = f"the solver did not return a solution (status {status})"
        if max_sinr:
            result.max_common_sinr_db = self.max_common_sinr_db()
        return result

    def _fill_solution(self, result, extraction):
        s, N = self.scenario, self.scenario.num_nodes
        pt = self.per_re_power
        R_units = np.array([self._R_value(n) for n in range(N)])
        if not np.all(np.isfinite(R_units)):
            result.status, result.message = "solver_error", "the solver returned non-finite values"
            return
        if self.formulation == "joint":
            Rc, R_consistent, joint, Wc, Wr = self._joint_beamformers(R_units, extraction)
            R = R_units * pt
        else:
            Rc, R_consistent = self._communication_covariances(R_units)
            Rc, R_consistent, R = Rc * pt, R_consistent * pt, R_units * pt
        if not (np.all(np.isfinite(Rc)) and np.all(np.isfinite(R_consistent))):
            result.status, result.message = "solver_error", "the solver returned non-finite values"
            return
        if self.formulation != "joint":
            # the beamformers come from the R_c and the R_n they are consistent with (R_n⁺ differs from the solver's
            # R_n by its residuals); the bound stays the CRB of the solver's R_n, the optimum of (18)
            Wc, Wr = extract_beamformers(self.channels, Rc, R_consistent, extraction, per_antenna_power=pt)
        extracted_R = transmit_covariances(Wc, Wr)
        result.Rc, result.R, result.Wc, result.Wr, result.R_extracted = Rc, R, Wc, Wr, extracted_R
        J = self.fim_map.jacobian
        for label, cov in (("bound", R), ("extracted", extracted_R)):
            if self._legacy_warm_path:  # as before: the dense J F(Ψ) J^T, one inverse per bound
                F_theta = J @ self.fim_map.fim_psi(cov) @ J.T
                position = fim_mod.position_crb_from_fim_theta(F_theta, s.num_targets)[0]
                paper = fim_mod.paper_crb_from_fim_theta(F_theta)
            else:  # F(Θ) through J's structure and both bounds from one inverse: the same numbers to rounding
                position, _, paper = fim_mod.crbs_from_fim_theta(self.fim_map.fim_theta(cov), s.num_targets)
            setattr(result, f"crb_position_{label}_m2", position)
            setattr(result, f"crb_paper_{label}", paper)
        sinr = sinr_from_beamformers(self.channels, Wc, Wr, s.user_noise_power)
        result.sinr_extracted_db = [float(v) for v in to_db(sinr)]
        result.sinr_bound_db = [float(v) for v in to_db(sinr_from_covariances(self.channels, Rc, R, s.user_noise_power))]
        result.max_antenna_power = float(np.max(np.real(np.einsum("nii->ni", extracted_R))))
        if self.objective == "achievable":
            mt = s.tx_antennas
            relaxed = joint.sum(axis=0).reshape(N, mt, N, mt).transpose(0, 2, 1, 3)  # Y[m', m] = Σ_u C_u[m', m]
            relaxed[np.arange(N), np.arange(N)] = R
            result.crb_achievable_bound_m2 = design_achievable.mean_position_crb_m2(
                self.joint_map, relaxed, design_achievable.evaluation_phase_sets(N))
            extracted = achievable.achievable_crb_m2(s, Wc, Wr, symbols=math.inf)  # branch bound's floor (P → ∞)
            result.crb_achievable_extracted_m2 = extracted["achievable_m2"]
            result.crb_achievable_stderr_m2 = extracted["standard_error_m2"]
            result.phase_sets = self.phase_sets
            result.Rc_joint = joint

    def _solve_rank_one(self, extraction):
        """The joint SDR, then sequential convex solves that drive every C_u towards rank one (formulation "joint").

        The relaxation alone returns the position problem's optimum with C_u of rank > 1 (docs/beamforming.md §8): a
        rank-2 C_u is two independent data streams, which decorrelates the nodes and is not CoMP. Rank one is the
        difference-of-convex constraint tr C_u − λ_max(C_u) = 0; each step minimises the sampled objective plus
        ρ_k·Σ_u (tr C_u − v_u^H C_u v_u), the convex majorant at the previous principal eigenvectors v_u (a
        majorise-minimise step), with ρ doubling from RANK_WEIGHT_START × the relaxed objective, until
        λ2/λ1 ≤ RANK_TOLERANCE for every user or RANK_STEPS steps. Every iterate (the relaxation's included) is
        extracted (eq. 19 and _align_joint_phases) and its floor evaluated on an independent lattice of
        SELECTION_PHASE_SETS phase sets; the solver variables of the best one are restored at the end (the
        penalty can run into a decorrelated point whose expected bound is far worse: the three-node scenario)."""
        self._rank_weight.value = 0.0
        for Pr, Pi in self._rank_directions:
            Pr.value, Pi.value = np.zeros(Pr.shape), np.zeros(Pi.shape)
        status, elapsed = self._solve_problem(self.problem)
        self.rank_steps, self.selected_step, self.step_floors_m2, self.relaxed_objective_m2 = 0, None, [], None
        if status not in _OK:
            return status, elapsed
        # the relaxation's optimum in m² (covariances are in units of P_T, and F is linear in them)
        self.relaxed_objective_m2 = float(self._sensing_objective.value) / self.per_re_power
        best_status, best_floor, best_values = status, math.inf, None
        weight = RANK_WEIGHT_START * max(float(self._sensing_objective.value), 1e-300)
        variables = self._joint_variables + self._radar_variables
        for step in range(RANK_STEPS + 1):
            floor = self._iterate_floor_m2(extraction)
            self.step_floors_m2.append(floor)
            if floor < best_floor:
                best_status, best_floor, self.selected_step = status, floor, step
                best_values = [np.array(v.value) for v in variables]
            joint = np.array([_complexify_value(Z.value) for Z in self._joint_variables])
            eig, vec = np.linalg.eigh(0.5 * (joint + np.swapaxes(joint, -1, -2).conj()))
            if step == RANK_STEPS or np.all(eig[:, -2] <= RANK_TOLERANCE * np.maximum(eig[:, -1], 1e-300)):
                break
            if step - self.selected_step >= RANK_PATIENCE:  # the penalty has moved away from the best for a while
                break
            self._rank_weight.value = weight
            for (Pr, Pi), v in zip(self._rank_directions, vec[:, :, -1]):
                outer = weight * np.outer(v, v.conj())
                Pr.value, Pi.value = 0.5 * (outer.real + outer.real.T), 0.5 * (outer.imag - outer.imag.T)
            status, more = self._solve_problem(self.problem)
            elapsed += more
            self.rank_steps = step + 1
            if status not in _OK:
                break
            weight *= 2.0
        if best_values is None:
            return status, elapsed
        for variable, value in zip(variables, best_values):
            variable.value = value
        return best_status, elapsed

    def _iterate_floor_m2(self, extraction):
        """The floor (mean position CRB over the selection lattice) of the current iterate's extracted beams; +inf
        where the values are not finite or a phase set fixes no position."""
        N = self.scenario.num_nodes
        R_units = np.array([self._R_value(n) for n in range(N)])
        if not np.all(np.isfinite(R_units)):
            return math.inf
        Wc, Wr = self._joint_beamformers(R_units, extraction)[3:]
        if not (np.all(np.isfinite(Wc)) and np.all(np.isfinite(Wr))):
            return math.inf
        return design_achievable.mean_position_crb_m2(self.joint_map, self.joint_map.blocks(Wc, Wr),
                                                      self.selection_phases_rad)

    def _joint_beamformers(self, R_units, extraction):
        """(R_c, R⁺, C, W_c, W_r) of the current joint solution, scaled to P_T: eq. (19) per node from the diagonal
        blocks, then the beams' phases aligned to C (_align_joint_phases)."""
        pt = self.per_re_power
        Rc, R_consistent, joint = self._joint_communication_covariances(R_units)
        Rc, R_consistent, joint = Rc * pt, R_consistent * pt, joint * pt
        Wc, Wr = extract_beamformers(self.channels, Rc, R_consistent, extraction, per_antenna_power=pt)
        return Rc, R_consistent, joint, _align_joint_phases(Wc, joint), Wr

    def _joint_communication_covariances(self, R):
        """(R_c (N, U, Mt, Mt), R⁺ (N, Mt, Mt), C (U, N·Mt, N·Mt)) after an "achievable" solve, units of P_T.

        Every C_u is replaced by its PSD part (eigen-clip, a change of the solver's tolerance) and R_c,n,u are its
        diagonal blocks; R⁺_n = R_n + the PSD part of Σ_u R_c,n,u − R_n, as in _communication_covariances, so that
        the paper's radar part R⁺_n − Σ_u R_c,n,u is PSD to rounding."""
        N, mt = self.scenario.num_nodes, self.scenario.tx_antennas
        joint = psd_part(np.array([_complexify_value(Z.value) for Z in self._joint_variables]))
        Rc = np.array([[joint[u, n * mt:(n + 1) * mt, n * mt:(n + 1) * mt] for u in range(joint.shape[0])]
                       for n in range(N)])
        consistent = []
        for n in range(N):
            R_n = psd_part(R[n])
            consistent.append(R_n + psd_part(Rc[n].sum(axis=0) - R_n))
        return Rc, np.array(consistent), joint

    def _R_value(self, n):
        """R_n (units of P_T) after a solve, from the variables R'_n (numpy: cvxpy's evaluation is slower)."""
        value = _value(self._R_frame[n])
        frame = self._frames[n]
        return value if frame is None else frame @ value @ frame.conj().T

    def max_common_sinr_db(self, tolerance_db=0.01):
        """The largest Γ_c that every user can share (bisection on the SINR/power feasibility problem).

        The sensing objective plays no part in feasibility, so the bisection runs on the small problem
        without the FIM LMI; every point re-uses one compiled problem (DPP).
        """
        lo, hi = MIN_SINR_DB, MAX_SINR_DB
        if not self._feasible(lo):
            return None
        if self._feasible(hi):
            return hi
        while hi - lo > tolerance_db:
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if self._feasible(mid) else (lo, mid)
        return lo

    def _set_threshold(self, gamma_db):
        gamma = 10 ** (gamma_db / 10)
        scale = min(1.0, gamma)
        self._signal_coef.value = scale / gamma
        self._interference_coef.value = scale

    def _feasible(self, gamma_db):
        """Whether every user can get Γ_c under the power limit (the SINR/power problem alone)."""
        if self._comm_only is None:
            # minimum total power: a well-posed problem whose status is the feasibility answer
            power = sum(cp.trace(re) for re, _ in self.R)
            self._comm_only = cp.Problem(cp.Minimize(power), self._comm_constraints)
        self._set_threshold(gamma_db)
        status, _ = self._solve_problem(self._comm_only)
        return status in _OK


def _align_joint_phases(Wc, joint):
    """The per-node beams of eq. (19) rotated to the phases of the joint covariances' principal eigenvectors.

    Eq. (19) at node n gives ŵ_{n,u} up to a unit phase (it reads only the diagonal block C_u[n, n]), and the
    cross-node blocks ŵ_{m',u} ŵ_{m,u}^H of the FIM depend on the relative phases of different users' beams at
    a node (one node's oscillator phase rotates all of them together, so these do not average away). Each
    ŵ_{n,u} is multiplied by e^{jβ}, β = arg(ŵ_{n,u}^H v_{n,u}), v_u the principal eigenvector of C_u (its block
    n): a rank-1 C_u = v v^H is then reproduced exactly; per-node covariances and every SINR are unchanged."""
    N, mt, U = Wc.shape
    out = Wc.copy()
    for u in range(U):
        _, vectors = np.linalg.eigh(0.5 * (joint[u] + joint[u].conj().T))
        v = vectors[:, -1].reshape(N, mt)
        for n in range(N):
            overlap = np.vdot(Wc[n, :, u], v[n])
            if abs(overlap) > 0:
                out[n, :, u] = Wc[n, :, u] * (overlap / abs(overlap))
    return out


def _orthonormal_basis(matrix, rcond=1e-10):
    """Orthonormal basis (columns) of the column space of a complex matrix."""
    left, sing, _ = np.linalg.svd(matrix, full_matrices=False)
    rank = int(np.sum(sing > rcond * max(sing[0], 1e-300))) if sing.size else 0
    return left[:, :max(rank, 1)]


def _unitary_completion(basis):
    """A unitary matrix whose first columns are the given orthonormal ones (the rest: an orthonormal basis of
    their orthogonal complement, from the full SVD)."""
    left = np.linalg.svd(basis, full_matrices=True)[0]
    return np.hstack([basis, left[:, basis.shape[1]:]])


def _congruence(C, pair):
    """(Re, Im) of C^H X C for a complex constant C and X = (A, B) = (Re X, Im X) expressions."""
    A, B = pair
    Cr, Ci = C.real, C.imag
    Pr, Pi = A @ Cr - B @ Ci, A @ Ci + B @ Cr  # X C
    return Cr.T @ Pr + Ci.T @ Pi, Cr.T @ Pi - Ci.T @ Pr


def _coefficient_matrix(X, basis, symmetric):
    """The sparse matrix that maps [Fortran vec(Re Y); vec(Im Y)] to Re Σ_ac X[p, q, a, c] R[c, a], row p·cols + q.

    X: (rows, cols, Mt, Mt) complex coefficients acting on R (fim.ThetaBlocks' convention); with an orthonormal
    basis Q (Mt, r), Y = Q^H R Q and the coefficients become Q^H X Q (exact when every X[p, q] is Q·(.)·Q^H,
    which _transmit_reduction guarantees); basis None: Y = R. symmetric: the block is symmetric in (p, q), and
    the rows below the diagonal are copies of those above, so the expression is exactly symmetric.
    """
    if basis is not None:
        X = np.einsum("ai,pqab,bj->pqij", basis.conj(), X, basis, optimize=True)
    rows, cols, r, _ = X.shape
    # Re Σ_ac X[a, c] R[c, a] with R[c, a] = Re R[a, c] − j Im R[a, c]: Re X[a, c] multiplies Re R[a, c], Im X[a, c]
    # multiplies Im R[a, c]; [a, c] → Fortran index a + c·r after swapping the last two axes
    real = np.real(X).transpose(0, 1, 3, 2).reshape(rows, cols, r * r)
    imag = np.imag(X).transpose(0, 1, 3, 2).reshape(rows, cols, r * r)
    dense = np.concatenate([real, imag], axis=2)
    if symmetric:
        lower = np.tril_indices(rows, -1)
        dense[lower] = dense[(lower[1], lower[0])]
    matrix = sparse.csr_matrix(dense.reshape(rows * cols, 2 * r * r))
    matrix.eliminate_zeros()
    return matrix


def _quadratic(v, pair):
    """v^H X v (real) for a complex constant vector v and X = (A, B): x'Ax + y'Ay − 2x'By, v = x + jy."""
    x, y = v.real, v.imag
    return x @ pair[0] @ x + y @ pair[0] @ y - 2 * (x @ pair[1] @ y)


def _hermitian_equal(left, right):
    """left == right for Hermitian (Re, Im) pairs, on the upper triangle only: the lower one repeats
    it, and repeated equality rows make the interior-point KKT system singular."""
    re, im = left[0] - right[0], left[1] - right[1]
    if re.shape[0] == 1:  # a 1×1 Hermitian matrix is one real number
        return [cp.diag(re) == 0]
    return [cp.upper_tri(re) == 0, cp.diag(re) == 0, cp.upper_tri(im) == 0]


def _complexify(Z, size):
    """(Re, Im) of the Hermitian matrix whose real embedding is the PSD variable Z (2·size square)."""
    top, bottom = Z[:size, :size], Z[size:, size:]
    return (top + bottom) / 2, (Z[size:, :size] - Z[:size, size:]) / 2


def _complexify_value(Z):
    """The complex value of _complexify(Z) from Z's value (numpy; cvxpy's expression evaluation is slower)."""
    size = Z.shape[0] // 2
    return (Z[:size, :size] + Z[size:, size:]) / 2 + 1j * ((Z[size:, :size] - Z[:size, size:]) / 2)


def _real_embedding(pair):
    """[[A, −B], [B, A]] for a Hermitian matrix A + jB (A symmetric, B antisymmetric): PSD exactly when A + jB is,
    since v^H (A + jB) v = [a; b]^T [[A, −B], [B, A]] [a; b] for v = a + jb."""
    A, B = pair
    return cp.bmat([[A, -B], [B, A]])


def _antisymmetric_variable(size, name):
    """A size×size antisymmetric matrix expression with size(size−1)/2 free entries."""
    rows, cols = np.triu_indices(size, 1)
    count = len(rows)
    if count == 0:
        return cp.Constant(np.zeros((size, size)))
    upper = cp.Variable(count, name=name)
    place = np.zeros((size * size, count))
    place[rows + cols * size, np.arange(count)] = 1.0  # Fortran vec index of (row, col)
    place[cols + rows * size, np.arange(count)] = -1.0
    return cp.reshape(sparse.csr_matrix(place) @ upper, (size, size), order="F")


def _value(pair):
    """The complex value of a (Re, Im) expression pair after a solve."""
    return np.asarray(pair[0].value) + 1j * np.asarray(pair[1].value)


def _checked_channels(scenario, channels):
    if channels is None:
        return scenario.user_channels()
    h = np.asarray(channels)
    shape = (scenario.num_nodes, scenario.num_users, scenario.tx_antennas)
    if h.shape != shape or not np.issubdtype(h.dtype, np.number):
        raise ValueError(f"channels of shape {h.shape}: expected complex numbers of shape (N, U, Mt) = {shape}")
    if not np.all(np.isfinite(h)):
        raise ValueError("channels: every entry must be finite")
    return h.astype(complex)


def extract_beamformers(h, Rc, R, extraction="paper", per_antenna_power=None):
    """Beamformers from the relaxed covariances.

    Each R_{c,n,u} is first projected onto the PSD cone (eigen-clip: U diag(max(λ, 0)) U^H, the nearest PSD
    matrix in Frobenius norm), since a solver's answer is PSD only to its tolerance and eq. (19) on an
    indefinite matrix can give |ŵ|² far above tr R_c (the denominator h^H R_c h nearly cancels).
    Communication, eq. (19): ŵ_{c,n,u} = (h^H R_{c,n,u} h)^{-1/2} R_{c,n,u} h (zero where node n gives
    user u nothing); on a PSD R_c, ŵŵ^H ⪯ R_c and |h^H ŵ|² = h^H R_c h. Radar: "paper" factors the PSD part of
    R_{r,n} = R_n − Σ_u R_{c,n,u} (the relaxed radar part); "keep_covariance" (ref. [11]) factors the PSD part
    of R_n − Σ_u ŵŵ^H, so that W_c W_c^H + W_r W_r^H = R_n and the bound and every SINR of the relaxation are
    kept. per_antenna_power (P_T): if given, a node whose extracted per-antenna power exceeds P_T (by the
    solver's tolerance: (18d) holds to ~1e-7 relative) has all its beamformers scaled by √(P_T / max power), so
    that max_i [W W^H]_ii ≤ P_T holds to rounding; its SINRs move by the same ~1e-7 relative.
    """
    _check_choice("extraction", extraction, EXTRACTIONS)
    N, U, mt, _ = Rc.shape
    Rc = psd_part(Rc)
    Wc = np.zeros((N, mt, U), complex)
    for n in range(N):
        for u in range(U):
            v = Rc[n, u] @ h[n, u]
            gain = np.real(h[n, u].conj() @ v)
            scale = np.real(np.trace(Rc[n, u]))
            if gain > 1e-12 * max(scale, 1e-300) * np.real(h[n, u].conj() @ h[n, u]):
                Wc[n, :, u] = v / np.sqrt(gain)
    if extraction == "paper":
        radar = R - Rc.sum(axis=1)
    else:
        radar = R - np.einsum("niu,nju->nij", Wc, Wc.conj())
    Wr = psd_factor(radar)
    if per_antenna_power is not None:
        power = np.real(np.einsum("niu,niu->ni", Wc, Wc.conj()) + np.einsum("nij,nij->ni", Wr, Wr.conj()))
        peak = power.max(axis=1)
        factor = np.where(peak > per_antenna_power, np.sqrt(per_antenna_power / np.maximum(peak, 1e-300)), 1.0)
        Wc = Wc * factor[:, None, None]
        Wr = Wr * factor[:, None, None]
    return Wc, Wr


def psd_part(matrix):
    """The projection of a Hermitian matrix onto the PSD cone: U diag(max(λ, 0)) U^H (eigen-clip). A stack
    (..., n, n) is projected matrix by matrix (one numpy call)."""
    matrix = np.asarray(matrix)
    herm = 0.5 * (matrix + np.swapaxes(matrix, -1, -2).conj())
    eigval, eigvec = np.linalg.eigh(herm)
    return (eigvec * np.clip(eigval, 0.0, None)[..., None, :]) @ np.swapaxes(eigvec, -1, -2).conj()


def psd_factor(matrix):
    """W with W W^H = the PSD part of a Hermitian matrix (negative eigenvalues, from solver round-off,
    are set to zero): the Cholesky factor of the paper, made to survive singular and slightly
    indefinite R_{r,n}. A stack (..., n, n) is factored matrix by matrix (one numpy call)."""
    matrix = np.asarray(matrix)
    herm = 0.5 * (matrix + np.swapaxes(matrix, -1, -2).conj())
    eigval, eigvec = np.linalg.eigh(herm)
    return eigvec * np.sqrt(np.clip(eigval, 0.0, None))[..., None, :]


def design(scenario, sinr_threshold_db, objective="position", solver=None, extraction="paper",
           max_sinr=False, formulation=None):
    """One-shot convenience: build problem (18) for the scenario and solve it at Γ_c (dB)."""
    designer = BeamformerDesigner(scenario, objective=objective, solver=solver, formulation=formulation)
    return designer.solve(sinr_threshold_db, extraction=extraction, max_sinr=max_sinr)
