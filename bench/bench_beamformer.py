# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""SDR beamformer timing (issue 3 benchmark): paper problem (18) with cvxpy, Clarabel and SCS.

Prints, in one run:
 1. the paper scenario at Γ_c = 0, 10, 20, 30 dB, per objective and solver: the first solve (cvxpy compiles
    the problem) and the median warm re-solve of the one compiled problem (DPP), with status and bound;
 2. the decomposed and one-LMI formulations against the literal (18b) one: build + first solve, warm solve,
    and the ratio literal / formulation;
 3. a DPP re-solve against a fresh build + solve;
 4. the larger case (preset "four-nodes": N = 4 on a 200 m circle, Mt = 8, K = 3, U = 4), both objectives;
 5. scaling in N (issue 16): a circle of N = 2, 4, 6, 8 nodes, Mt = Mr = 8, K = 2, U = 3, build time, first solve
    and warm re-solve for both objectives, the decomposed formulation (NEW) against the same formulation as
    built before issue 16 (OLD, formulation "decomposed_dense": dense einsum F(Θ) map, the full Σ_l S_l in every
    amplitude LMI), side by side in the same run, with the ratios OLD / NEW;
 6. (--warm-path only) the warm re-solve of the decomposed formulation against the same formulation before the
    transmit frame (PREV, formulation "decomposed_free_psd": R_n ⪰ 0 through a free PSD variable, Y_m an auxiliary
    variable, cvxpy's dual recovery, the CRBs from the dense J F J^T), taken in turn in one run, with the CPU time of
    Clarabel's setup, of its iterations and of the rest;
 7. (--kkt-fill only) an estimate of the fill of Clarabel's KKT factor (no timing), with and without the R_n ⪰ 0
    cones, NEW and PREV, at N = 8;
 8. (--solver-study only) at 20 dB on the circle N = 8 and four-nodes, both objectives: Clarabel called directly on
    cvxpy's data, the default path timed part by part (cvxpy's share), a reference solve to 1e-9, looser
    tolerances and a normalised objective, and R_n confined to span(transmit, users), each with its deviation from
    the recorded optimum (tests/test_sdr_optima.py) and from the reference;
 9. (--crb-reports only) the extraction and CRB reports of a warm solve at N = 8 with fim's inverse against the
    eigenvalue rule it replaced, alternated in one run;
and the ratio of each measured time to the issue's target (≤ 1 meets it; for the literal comparison the
target is a speed-up of ≥ 10, and the ratio printed is 10 / speed-up). Times are the wall time of
BeamformerDesigner.solve() (solver, cvxpy's parameter update, extraction and the CRB reports); the
solver-only time (result.solve_time_s) is printed next to it.

    .venv/bin/python bench/bench_beamformer.py [--quick] [--repeats N]
    .venv/bin/python bench/bench_beamformer.py --scaling [--nodes 2 4 6 8] [--old-up-to 8] [--quick]
    .venv/bin/python bench/bench_beamformer.py --json [--quick]
    .venv/bin/python bench/bench_beamformer.py --warm-path [--nodes 8] [--repeats 7]
    .venv/bin/python bench/bench_beamformer.py --kkt-fill
    .venv/bin/python bench/bench_beamformer.py --solver-study [--quick | --all-points] [--repeats 3]
    .venv/bin/python bench/bench_beamformer.py --crb-reports [--repeats 15]

--scaling prints only table 5. --json prints only a JSON list of rows, each {"name", "value", "unit", "anchor",
"anchor_value", "ratio"} with ratio = value / anchor_value (the anchor is the OLD formulation measured in the
same run, or the issue's target where OLD is not run): the contract `disac bench --json` reads. Progress goes
to stderr. --quick: N = 2, 4, 8, OLD only up to N = 4 (its N = 8 build alone takes ~12–70 s and ~2 GB), one
warm repeat.

The machine this runs on may be shared: the load average is printed first; compare runs on a quiet machine.
"""

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

import cvxpy as cp  # noqa: E402

from disac.core import beamformer, scenario  # noqa: E402

# the objectives of problem (18) this benchmark times (issue 15's "achievable" is a sequence of larger SDRs with a
# benchmark of its own, bench/bench_design_achievable.py)
PROBLEM_18_OBJECTIVES = tuple(o for o in beamformer.OBJECTIVES if o != "achievable")

SWEEP_DB = (0.0, 10.0, 20.0, 30.0)
FIRST_SOLVE_DB = -10.0
TARGET_PAPER_WARM_S = 0.05
TARGET_LARGE_S = {"position": 0.5, "paper": 5.0}
TARGET_LITERAL_SPEEDUP = 10.0
# Issue 16 targets at N = 8, K = 2, U = 3 (benchmarks, not test assertions)
SCALING_NODES = (2, 4, 6, 8)
SCALING_QUICK_NODES = (2, 4, 8)
TARGET_SCALING_WARM_S = {"position": 0.3, "paper": 1.0}
TARGET_SCALING_BUILD_S = 5.0
SCALING_GAMMA_DB = 20.0
NEW, OLD = "decomposed", "decomposed_dense"


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def bound_of(result, objective):
    value = result.crb_position_bound_m2 if objective == "position" else result.crb_paper_bound
    return "-" if value is None else f"{value:.6g}"


def warm_median(designer, gamma_db, repeats):
    """Median wall time of solve(), median solver-only time, and the last result."""
    walls, solver_times = [], []
    for _ in range(repeats):
        result, wall = timed(designer.solve, gamma_db)
        walls.append(wall)
        solver_times.append(result.solve_time_s)
    return statistics.median(walls), statistics.median(solver_times), result


def sweep_table(scn, objectives, solvers, sweep_db, repeats_for, target_for, title):
    print(f"\n## {title}")
    print(f"{'objective':9} {'solver':8} {'build s':>8} {'first s':>8} {'Γ_c dB':>6} {'warm s':>8} "
          f"{'solver s':>8} {'status':>18} {'bound':>10} {'/target':>8}")
    for objective in objectives:
        for solver in solvers:
            designer, build = timed(beamformer.BeamformerDesigner, scn, objective=objective, solver=solver)
            # the first solve (cvxpy compiles the problem) at a threshold outside the sweep, so that no
            # warm point re-solves the very problem just solved (SCS would start at its solution)
            _, first = timed(designer.solve, FIRST_SOLVE_DB)
            for gamma_db in sweep_db:
                wall, solver_s, result = warm_median(designer, gamma_db, repeats_for(solver))
                target = target_for(objective)
                print(f"{objective:9} {solver:8} {build:8.3f} {first:8.3f} {gamma_db:6.1f} {wall:8.3f} "
                      f"{solver_s:8.3f} {result.status:>18} {bound_of(result, objective):>10} "
                      f"{wall / target:8.2f}", flush=True)


def formulation_table(scn, gamma_db, repeats):
    print(f"\n## Formulations, paper scenario, Clarabel, Γ_c = {gamma_db:g} dB (literal = the 2K+2KN² Schur LMIs of 18b)")
    print(f"{'objective':9} {'formulation':11} {'build+first s':>13} {'warm s':>8} {'bound':>10} "
          f"{'literal/this (first)':>20} {'literal/this (warm)':>19} {'/target':>8}")
    for objective in PROBLEM_18_OBJECTIVES:
        rows = {}
        for formulation in ("literal", "one_lmi", "decomposed"):
            def build_and_solve():
                designer = beamformer.BeamformerDesigner(scn, objective=objective, formulation=formulation)
                return designer, designer.solve(gamma_db)
            (designer, _), first = timed(build_and_solve)
            wall, _, result = warm_median(designer, gamma_db, repeats)
            rows[formulation] = (first, wall, result)
        literal_first, literal_warm, _ = rows["literal"]
        for formulation, (first, wall, result) in rows.items():
            speedup = literal_warm / wall
            print(f"{objective:9} {formulation:11} {first:13.3f} {wall:8.3f} {bound_of(result, objective):>10} "
                  f"{literal_first / first:20.2f} {speedup:19.2f} {TARGET_LITERAL_SPEEDUP / speedup:8.2f}",
                  flush=True)


def dpp_table(scn, gamma_db, repeats):
    print(f"\n## DPP: re-solve of the compiled problem vs a fresh build + solve, paper scenario, Clarabel, "
          f"Γ_c = {gamma_db:g} dB")
    print(f"{'objective':9} {'fresh build+solve s':>19} {'re-solve s':>10} {'ratio':>6}")
    for objective in PROBLEM_18_OBJECTIVES:
        fresh = []
        for _ in range(repeats):
            _, wall = timed(beamformer.design, scn, gamma_db, objective=objective)
            fresh.append(wall)
        designer = beamformer.BeamformerDesigner(scn, objective=objective)
        designer.solve(gamma_db)
        warm, _, _ = warm_median(designer, gamma_db, repeats)
        fresh_s = statistics.median(fresh)
        print(f"{objective:9} {fresh_s:19.3f} {warm:10.3f} {fresh_s / warm:6.2f}", flush=True)


def bench_rows(quick=False):
    """The headline figures as rows for `disac bench` (dicts: figure, value, unit, target, goal): warm solves
    of the paper scenario (Clarabel), the larger case, and (not with quick) the literal formulation's speed-up."""
    repeats = 1 if quick else 3
    rows = []
    paper = scenario.load_scenario("paper")
    for objective in PROBLEM_18_OBJECTIVES:
        designer = beamformer.BeamformerDesigner(paper, objective=objective, solver="clarabel")
        designer.solve(FIRST_SOLVE_DB)
        for gamma_db in ((10.0,) if quick else SWEEP_DB):
            wall, _, result = warm_median(designer, gamma_db, repeats)
            rows.append({"figure": f"SDR warm solve, paper, {objective}, Γ_c = {gamma_db:g} dB ({result.status})",
                         "value": wall, "unit": "s", "target": TARGET_PAPER_WARM_S, "goal": "max"})
    four = scenario.load_scenario("four-nodes")
    for objective in (("position",) if quick else PROBLEM_18_OBJECTIVES):
        designer = beamformer.BeamformerDesigner(four, objective=objective, solver="clarabel")
        designer.solve(FIRST_SOLVE_DB)
        wall, _, result = warm_median(designer, 20.0, repeats)
        rows.append({"figure": f"SDR warm solve, four-nodes, {objective}, Γ_c = 20 dB ({result.status})",
                     "value": wall, "unit": "s", "target": TARGET_LARGE_S[objective], "goal": "max"})
    if not quick:
        warm = {}
        for formulation in ("literal", "one_lmi"):
            designer = beamformer.BeamformerDesigner(paper, objective="paper", formulation=formulation)
            designer.solve(20.0)
            warm[formulation] = warm_median(designer, 20.0, repeats)[0]
        rows.append({"figure": "one-LMI speed-up over the literal (18b), paper objective, 20 dB",
                     "value": warm["literal"] / warm["one_lmi"], "unit": "×", "target": TARGET_LITERAL_SPEEDUP,
                     "goal": "min"})
    return rows


# ---- 5. scaling in N (issue 16) -------------------------------------------------------------------------------

def circle_scenario(num_nodes, tx_antennas=8, rx_antennas=8, num_targets=2, num_users=3, radius_m=200.0):
    """N nodes on a circle of 200 m (the four-nodes preset's layout for N = 4), targets and users of the paper.

    Enough OFDM symbols that the N·Mt radar streams can be orthogonal over L·P resource elements."""
    import math
    nodes = [[radius_m * math.cos(math.pi / 4 + 2 * math.pi * n / num_nodes),
              radius_m * math.sin(math.pi / 4 + 2 * math.pi * n / num_nodes)] for n in range(num_nodes)]
    targets = [[-65.0, 25.0], [50.0, 5.0], [10.0, -70.0], [-30.0, -40.0]][:num_targets]
    users = [[-160.0, -40.0], [150.0, -25.0], [0.0, -150.0], [60.0, 170.0]][:num_users]
    subcarriers = 16
    return scenario.scenario_from_dict({
        "name": f"circle-{num_nodes}",
        "nodes": {"positions_m": nodes, "tx_antennas": tx_antennas, "rx_antennas": rx_antennas,
                  "per_antenna_power": 1.0},
        "ofdm": {"bandwidth_hz": 10e6, "subcarriers": subcarriers, "cyclic_prefix": 24,
                 "symbols_per_frame": max(1, math.ceil(num_nodes * tx_antennas / subcarriers))},
        "targets": {"positions_m": targets, "snr_db": 0.0, "noise_power": 1.0},
        "users": {"positions_m": users, "snr_db": 20.0}})


def _timed_cpu(fn, *args, **kwargs):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - wall, time.process_time() - cpu


def measure_scaling(num_nodes, objective, formulation, repeats):
    """build s, first solve s (cvxpy compiles), median warm re-solve s (wall and CPU), status, bound."""
    scn = circle_scenario(num_nodes)
    designer, build, build_cpu = _timed_cpu(beamformer.BeamformerDesigner, scn, objective=objective,
                                            formulation=formulation)
    _, first, first_cpu = _timed_cpu(designer.solve, FIRST_SOLVE_DB)
    walls, cpus = [], []
    for _ in range(repeats):
        result, wall, cpu = _timed_cpu(designer.solve, SCALING_GAMMA_DB)
        walls.append(wall), cpus.append(cpu)
    bound = result.crb_position_bound_m2 if objective == "position" else result.crb_paper_bound
    return {"build_s": build, "build_cpu_s": build_cpu, "first_s": first, "first_cpu_s": first_cpu,
            "warm_s": statistics.median(walls), "warm_cpu_s": statistics.median(cpus), "status": result.status,
            "bound": bound}


def scaling_measurements(nodes, old_up_to, repeats, log=print):
    """{(N, objective, formulation): measurement}; OLD only for N ≤ old_up_to, each NEW and OLD pair in turn."""
    out = {}
    for num_nodes in nodes:
        for objective in PROBLEM_18_OBJECTIVES:
            for formulation in ((NEW, OLD) if num_nodes <= old_up_to else (NEW,)):
                m = measure_scaling(num_nodes, objective, formulation, repeats)
                out[(num_nodes, objective, formulation)] = m
                log(f"  measured N = {num_nodes} {objective:8} {formulation:16} build {m['build_s']:7.2f} s  first "
                    f"{m['first_s']:7.2f} s  warm {m['warm_s']:7.3f} s  {m['status']}")
    return out


def scaling_rows(measured):
    """The --json rows: NEW's figures, anchored to OLD measured in the same run where there is one, else to
    the issue's target (N = 8 only). ratio = value / anchor_value."""
    rows = []
    for (num_nodes, objective, formulation), m in sorted(measured.items()):
        if formulation != NEW:
            continue
        old = measured.get((num_nodes, objective, OLD))
        for key, label, unit in (("build_s", "build", "s"), ("first_s", "first solve", "s"),
                                 ("warm_s", "warm re-solve", "s"), ("warm_cpu_s", "warm re-solve CPU time", "s CPU")):
            name = f"SDR {label}, circle N={num_nodes} Mt=8 K=2 U=3, {objective} objective ({m['status']})"
            if old is not None:
                anchor, anchor_value = f"{OLD} (pre-issue-16 build), same run", old[key]
            elif num_nodes == 8 and key in ("warm_s", "warm_cpu_s"):
                anchor, anchor_value = "issue 16 target", TARGET_SCALING_WARM_S[objective]
            elif num_nodes == 8 and key == "build_s":
                anchor, anchor_value = "issue 16 target", TARGET_SCALING_BUILD_S
            else:
                continue
            rows.append({"name": name, "value": m[key], "unit": unit, "anchor": anchor,
                         "anchor_value": anchor_value, "ratio": m[key] / anchor_value})
    return rows


def scaling_table(measured):
    print("\n## Scaling in N: circle of N nodes, Mt = Mr = 8, K = 2, U = 3, Clarabel, warm at "
          f"Γ_c = {SCALING_GAMMA_DB:g} dB; NEW = {NEW}, OLD = {OLD} (the build before issue 16), same run")
    print("build s = BeamformerDesigner(); first s = first solve (cvxpy compiles); warm s = median re-solve; "
          "cpu = process time; OLD/NEW = speed-up")
    print(f"{'N':>2} {'objective':9} {'NEW build':>9} {'OLD build':>9} {'OLD/NEW':>7} {'NEW first':>9} {'OLD first':>9} "
          f"{'OLD/NEW':>7} {'NEW warm':>8} {'(cpu)':>7} {'OLD warm':>8} {'(cpu)':>7} {'OLD/NEW':>7} {'warm/target':>11} "
          f"{'bound NEW':>10} {'rel. diff':>9}")
    for (num_nodes, objective, formulation), m in sorted(measured.items()):
        if formulation != NEW:
            continue
        old = measured.get((num_nodes, objective, OLD))

        def cell(key, width=9, fmt="9.2f"):
            return format(old[key], fmt) if old else "-".rjust(width)

        def ratio(key):
            return f"{old[key] / m[key]:7.2f}" if old else "-".rjust(7)
        diff = (f"{abs(m['bound'] / old['bound'] - 1):9.1e}" if old and old["bound"] and m["bound"] else "-".rjust(9))
        target = TARGET_SCALING_WARM_S[objective]
        print(f"{num_nodes:2d} {objective:9} {m['build_s']:9.2f} {cell('build_s')} {ratio('build_s')} "
              f"{m['first_s']:9.2f} {cell('first_s')} {ratio('first_s')} {m['warm_s']:8.3f} {m['warm_cpu_s']:7.3f} "
              f"{cell('warm_s', 8, '8.3f')} {cell('warm_cpu_s', 7, '7.3f')} {ratio('warm_s')} "
              f"{m['warm_s'] / target:11.2f} {m['bound'] if m['bound'] is not None else float('nan'):10.6g} {diff}",
              flush=True)
    print("CPU seconds (process time: less sensitive to a shared machine's load than wall time)")
    print(f"{'N':>2} {'objective':9} {'NEW build':>9} {'OLD build':>9} {'NEW first':>9} {'OLD first':>9} "
          f"{'NEW warm':>8} {'OLD warm':>8} {'OLD/NEW':>7}")
    for (num_nodes, objective, formulation), m in sorted(measured.items()):
        if formulation != NEW:
            continue
        old = measured.get((num_nodes, objective, OLD))
        cells = [format(old[k], "9.2f") if old else "-".rjust(9) for k in ("build_cpu_s", "first_cpu_s")]
        warm_old = format(old["warm_cpu_s"], "8.3f") if old else "-".rjust(8)
        speedup = f"{old['warm_cpu_s'] / m['warm_cpu_s']:7.2f}" if old else "-".rjust(7)
        print(f"{num_nodes:2d} {objective:9} {m['build_cpu_s']:9.2f} {cells[0]} {m['first_cpu_s']:9.2f} {cells[1]} "
              f"{m['warm_cpu_s']:8.3f} {warm_old} {speedup}")
    print(f"targets at N = 8: warm ≤ {TARGET_SCALING_WARM_S['position']} s (position), ≤ "
          f"{TARGET_SCALING_WARM_S['paper']} s (paper), build ≤ {TARGET_SCALING_BUILD_S} s")


# ---- 6. the warm path, side by side (issue 16: position objective ≤ 0.3 s at N = 8) -------------------------

PREV = "decomposed_free_psd"  # the decomposed build and warm path before the transmit frame (same run)


class _ClarabelTimer:
    """Wraps clarabel.DefaultSolver to add up the CPU time of its constructor (setup: presolve, chordal
    decomposition, KKT ordering and symbolic factorisation) and of solve() (the interior-point iterations)."""

    def __init__(self):
        import clarabel
        self.module, self.original = clarabel, clarabel.DefaultSolver
        self.setup_cpu_s = self.solve_cpu_s = 0.0
        self.iterations = 0
        timer = self

        class Timed:
            def __init__(self, *args, **kwargs):
                start = time.process_time()
                self._solver = timer.original(*args, **kwargs)
                timer.setup_cpu_s += time.process_time() - start

            def solve(self):
                start = time.process_time()
                solution = self._solver.solve()
                timer.solve_cpu_s += time.process_time() - start
                timer.iterations = solution.iterations
                return solution

            def __getattr__(self, name):
                return getattr(self._solver, name)
        self.timed = Timed

    def __enter__(self):
        self.module.DefaultSolver = self.timed
        return self

    def __exit__(self, *exc):
        self.module.DefaultSolver = self.original


def warm_path_measurements(nodes, repeats, objectives=PROBLEM_18_OBJECTIVES, log=print):
    """Per (N, objective): NEW and PREV built on the same circle, then `repeats` warm re-solves at 20 dB taken in
    turn (NEW, PREV, NEW, ...) so that both see the same load. Each: median wall and CPU of solve(), and the CPU of
    its parts (Clarabel setup, Clarabel iterations, the rest: cvxpy's parameter update and unpacking, extraction
    and the CRB reports)."""
    out = {}
    for num_nodes in nodes:
        scn = circle_scenario(num_nodes)
        for objective in objectives:
            designers = {}
            for formulation in (NEW, PREV):
                designers[formulation] = beamformer.BeamformerDesigner(scn, objective=objective, formulation=formulation)
                designers[formulation].solve(FIRST_SOLVE_DB)
            samples = {formulation: [] for formulation in designers}
            for _ in range(repeats):
                for formulation, designer in designers.items():
                    with _ClarabelTimer() as timer:
                        result, wall, cpu = _timed_cpu(designer.solve, SCALING_GAMMA_DB)
                    samples[formulation].append((wall, cpu, timer.setup_cpu_s, timer.solve_cpu_s, timer.iterations,
                                                 result))
            for formulation, rows in samples.items():
                result = rows[-1][5]
                bound = result.crb_position_bound_m2 if objective == "position" else result.crb_paper_bound
                m = {key: statistics.median(row[i] for row in rows)
                     for i, key in enumerate(("warm_s", "warm_cpu_s", "setup_cpu_s", "iterations_cpu_s"))}
                m.update(iterations=rows[-1][4], status=result.status, bound=bound,
                         rest_cpu_s=m["warm_cpu_s"] - m["setup_cpu_s"] - m["iterations_cpu_s"])
                out[(num_nodes, objective, formulation)] = m
                log(f"  measured N = {num_nodes} {objective:8} {formulation:19} warm {m['warm_s']:6.3f} s "
                    f"cpu {m['warm_cpu_s']:6.3f} s  {m['status']}")
    return out


def warm_path_table(measured):
    print(f"\n## Warm re-solve side by side: circle of N nodes, Mt = Mr = 8, K = 2, U = 3, Clarabel, Γ_c = "
          f"{SCALING_GAMMA_DB:g} dB; NEW = {NEW}, PREV = {PREV} (before the transmit frame), taken in turn")
    print("wall/cpu = median of solve(); CPU parts: Clarabel setup, its iterations, the rest (cvxpy, extraction, "
          "CRBs); PREV/NEW = CPU speed-up; /target = NEW CPU / issue target")
    print(f"{'N':>2} {'objective':9} {'form':4} {'wall s':>7} {'cpu s':>7} {'setup':>6} {'iters s':>7} {'#it':>3} "
          f"{'rest':>6} {'PREV/NEW':>8} {'/target':>7} {'bound':>11} {'rel. diff':>9}")
    for (num_nodes, objective, formulation), m in sorted(measured.items()):
        prev = measured[(num_nodes, objective, PREV)]
        new = formulation == NEW
        ratio = f"{prev['warm_cpu_s'] / m['warm_cpu_s']:8.2f}" if new else "-".rjust(8)
        target = f"{m['warm_cpu_s'] / TARGET_SCALING_WARM_S[objective]:7.2f}" if new else "-".rjust(7)
        diff = (f"{abs(m['bound'] / prev['bound'] - 1):9.1e}" if new and m["bound"] and prev["bound"]
                else "-".rjust(9))
        print(f"{num_nodes:2d} {objective:9} {'NEW' if new else 'PREV':4} {m['warm_s']:7.3f} {m['warm_cpu_s']:7.3f} "
              f"{m['setup_cpu_s']:6.3f} {m['iterations_cpu_s']:7.3f} {m['iterations']:3d} {m['rest_cpu_s']:6.3f} "
              f"{ratio} {target} {m['bound'] if m['bound'] is not None else float('nan'):11.6g} {diff}", flush=True)


# ---- 7. where the interior-point iterations go: fill of the KKT factor (no timing) -----------------------------

def kkt_fill(problem, drop_psd_size=None):
    """An estimate of the work of one factorisation of Clarabel's KKT system for this problem, independent of the
    machine's load: the pattern [[I, A^T], [A, H]] with H dense on each PSD cone (Clarabel's Hessian blocks in
    svec form) and diagonal elsewhere, factored by SuperLU with a minimum-degree ordering (Clarabel uses AMD and
    QDLDL: other orderings, comparable fill). Returns (variables, rows, nnz(L), Σ_j nnz(L_j)² ≈ flops).
    drop_psd_size: leave out every PSD cone of this size (to see what those cones cost)."""
    import numpy as np
    from scipy import sparse
    from scipy.sparse import linalg as sparse_linalg
    data = problem.get_problem_data(cp.CLARABEL)[0]
    A = sparse.csr_matrix(data["A"])
    dims = data["dims"]
    keep, blocks, row = [np.arange(dims.zero + dims.nonneg)], [sparse.identity(dims.zero + dims.nonneg)], dims.zero + dims.nonneg
    for size in dims.psd:
        count = size * (size + 1) // 2
        if size != drop_psd_size:
            keep.append(np.arange(row, row + count))
            blocks.append(sparse.csr_matrix(np.ones((count, count))))
        row += count
    A = A[np.concatenate(keep)]
    m, n = A.shape
    K = sparse.bmat([[sparse.identity(n), A.T], [A, sparse.block_diag(blocks)]]).tocsc()
    K.data = np.random.default_rng(0).uniform(0.1, 1.0, K.nnz) * 1e-3  # the pattern, diagonally dominant values
    K = (K + K.T + sparse.identity(K.shape[0]) * 1e3).tocsc()
    lu = sparse_linalg.splu(K, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0, options=dict(SymmetricMode=True))
    counts = np.diff(lu.L.tocsc().indptr).astype(float)
    return n, m, int(lu.L.nnz), float(np.sum(counts ** 2))


def kkt_fill_table(num_nodes=8):
    scn = circle_scenario(num_nodes)
    print(f"\n## KKT factor fill, circle N = {num_nodes}, Mt = Mr = 8, K = 2, U = 3 (an estimate of the work per "
          "interior-point iteration; no timing)")
    print(f"{'objective':9} {'formulation':19} {'variables':>9} {'rows':>6} {'nnz(L)':>8} {'flops':>8} "
          f"{'flops w/o R_n cones':>19} {'share of R_n cones':>18}")
    for objective in PROBLEM_18_OBJECTIVES:
        for formulation in (NEW, PREV):
            designer = beamformer.BeamformerDesigner(scn, objective=objective, formulation=formulation)
            designer._set_threshold(SCALING_GAMMA_DB)
            n, m, nnz, flops = kkt_fill(designer.problem)
            _, _, _, without = kkt_fill(designer.problem, drop_psd_size=2 * scn.tx_antennas)
            print(f"{objective:9} {formulation:19} {n:9d} {m:6d} {nnz:8d} {flops / 1e6:7.2f}M {without / 1e6:18.2f}M "
                  f"{1 - without / flops:18.0%}", flush=True)


# ---- 8. the solver's path: cvxpy's share, tolerances, objective scale, a restricted R_n (issue 16, third pass) ---

STUDY_GAMMA_DB = 20.0
# Clarabel's settings for the reference optimum: gap and feasibility to 1e-9 with iterative refinement (the default
# path stops at 1e-7 / 1e-8 without refinement). On four-nodes, position, 20 dB, three formulations solved so agree
# to 2e-7 (decomposed, decomposed_free_psd, one_lmi: bounds 0.12107028–0.12107030 m²).
REFERENCE_SETTINGS = dict(tol_gap_abs=1e-9, tol_gap_rel=1e-9, tol_feas=1e-9, iterative_refinement_enable=True)


def _optima_module():
    """tests/test_sdr_optima.py: RECORDED and CIRCLE_RECORDED (the optima the issue pins to 1e-6), PRESET_POINTS."""
    tests = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    import test_sdr_optima
    return test_sdr_optima


def _recorded_optima():
    module = _optima_module()
    return {**module.RECORDED, **module.CIRCLE_RECORDED}


class _DirectClarabel:
    """One compiled problem of a BeamformerDesigner solved by Clarabel directly on cvxpy's problem data, each part
    timed (CPU): cvxpy's parameter → data step, Clarabel's setup and iterations, cvxpy's unpacking, and the rest of
    solve() (extraction, the CRB reports). Settings and the objective's scale can be changed per call; with the
    defaults it is exactly what BeamformerDesigner.solve() runs."""

    def __init__(self, designer, gamma_db):
        from cvxpy.reductions.solvers.conic_solvers.clarabel_conif import CLARABEL as conif
        from cvxpy.reductions.solvers.conic_solvers.clarabel_conif import dims_to_solver_cones
        from scipy import sparse
        self.designer, self.gamma_db, self.conif = designer, gamma_db, conif
        designer._set_threshold(gamma_db)
        (self.data, self.chain, self.inverse), self.apply_cpu_s = self._cpu(
            designer.problem.get_problem_data, beamformer._CLARABEL_PRIMAL)
        self.cones = dims_to_solver_cones(self.data["dims"])
        self.P = sparse.csc_matrix((self.data["c"].size,) * 2)
        base = {k: v for k, v in beamformer._SOLVER_OPTIONS["clarabel"].items() if k != "solver"}
        self.base = base

    @staticmethod
    def _cpu(fn, *args):
        start = time.process_time()
        out = fn(*args)
        return out, time.process_time() - start

    def solve(self, objective_scale=1.0, **settings):
        """Clarabel on (scale·c, A, b); returns a dict of CPU times, iterations, status, value (unscaled, /P_T) and
        the bound of the objective's metric (the CRB at the solver's R), as BeamformerDesigner.solve() reports."""
        import clarabel
        options = clarabel.DefaultSettings()
        for key, value in {**self.base, **settings, "verbose": False}.items():
            setattr(options, key, value)
        q = self.data["c"] * objective_scale
        solver, setup = self._cpu(clarabel.DefaultSolver, self.P, q, self.data["A"], self.data["b"], self.cones,
                                  options)
        solution, iterations = self._cpu(solver.solve)
        designer = self.designer
        out = {"setup_cpu_s": setup, "solve_cpu_s": iterations, "iterations": solution.iterations,
               "status": str(solution.status), "apply_cpu_s": self.apply_cpu_s}
        if out["status"] not in ("Solved", "AlmostSolved"):
            return out
        _, out["unpack_cpu_s"] = self._cpu(designer.problem.unpack_results, solution, self.chain, self.inverse)
        result = beamformer.DesignResult(status="optimal", objective=designer.objective, solver="clarabel",
                                         sinr_threshold_db=self.gamma_db, solve_time_s=0.0)
        _, out["rest_cpu_s"] = self._cpu(designer._fill_solution, result, "paper")
        scale = designer.scenario.per_antenna_power
        out["value"] = (solution.obj_val / objective_scale + self.data.get("offset", 0.0)) / scale
        out["bound"] = result.crb_position_bound_m2 if designer.objective == "position" else result.crb_paper_bound
        return out


def _isotropic_objective(designer):
    """The objective's value at R_n = P_T·I (every antenna at full power) in the solver's units (covariances in units
    of P_T: the CRB of R_n = I): a scale known at build time, of the order of the optimum."""
    from disac.core import fim
    s = designer.scenario
    cov = fim.isotropic_covariances(s.num_nodes, s.tx_antennas, 1.0)
    position, _, paper = fim.crbs_from_fim_theta(designer.fim_map.fim_theta(cov), s.num_targets)
    value = position if designer.objective == "position" else paper
    return float(value) if value is not None and value > 0 else 1.0  # singular: no rescale


def _restricted_value(designer, gamma_db):
    """The optimum with every R_n confined to span(transmit basis, users' channels) (idea (c) of SPEC16), solved with
    cvxpy as extra equalities tr(P_⊥ R_n) = 0 (with R_n ⪰ 0: R_n P_⊥ = 0); (status, value / P_T)."""
    import numpy as np
    s = designer.scenario
    extra = []
    for n in range(s.num_nodes):
        parts = [designer._transmit_basis(n), beamformer._orthonormal_basis(designer.channels[n].T)]
        basis = beamformer._orthonormal_basis(np.hstack([p for p in parts if p is not None]))
        if basis.shape[1] == s.tx_antennas:
            continue
        perp = np.eye(s.tx_antennas) - basis @ basis.conj().T
        re, im = designer.R[n]
        extra.append(cp.sum(cp.multiply(perp.real, re)) + cp.sum(cp.multiply(perp.imag, im)) == 0)
    designer._set_threshold(gamma_db)
    problem = cp.Problem(designer.problem.objective, designer.problem.constraints + extra)
    options = {k: v for k, v in beamformer._SOLVER_OPTIONS["clarabel"].items()}
    problem.solve(**options)
    return problem.status, problem.value / s.per_antenna_power


def solver_study(cases, repeats, all_variants=True, log=print):
    """Per case (label, scenario, objective, Γ_c dB): the default path timed part by part, the reference optimum,
    and (all_variants) the variants of idea (b) (tolerances), then the objective's scale, each `repeats` times
    (median CPU), with the deviation of bound and value from the recorded optimum and from the reference; then
    (all_variants) idea (c)'s restricted R_n."""
    recorded = _recorded_optima()
    rows = []
    for label, scn, objective, gamma_db in cases:
        designer = beamformer.BeamformerDesigner(scn, objective=objective)
        designer.solve(FIRST_SOLVE_DB)
        direct = _DirectClarabel(designer, gamma_db)
        iso = _isotropic_objective(designer)  # the solver minimises CRB(R / P_T): same units
        tolerances = [("(b) gap 1e-6", 1.0, dict(tol_gap_abs=1e-6, tol_gap_rel=1e-6)),
                      ("(b) feasibility 1e-7", 1.0, dict(tol_feas=1e-7)),
                      ("(b) gap 1e-6, feasibility 1e-7", 1.0, dict(tol_gap_abs=1e-6, tol_gap_rel=1e-6, tol_feas=1e-7))]
        variants = ([("today (default settings)", 1.0, {}), ("reference: 1e-9, refinement", 1.0, REFERENCE_SETTINGS)]
                    + (tolerances if all_variants else [])
                    + [("objective / its value at R = P_T·I", 1.0 / iso, {})]
                    + ([("objective / value at P_T·I, gap 1e-8", 1.0 / iso, dict(tol_gap_abs=1e-8, tol_gap_rel=1e-8))]
                       if all_variants else []))
        measured = {}
        for _ in range(repeats):
            for name, scale, settings in variants:
                measured.setdefault(name, []).append(direct.solve(scale, **settings))
        key = f"{label}/{objective}/{gamma_db:g}"
        rec = recorded.get(key)
        reference = measured[variants[1][0]][-1]
        for name, _, _ in variants:
            runs = measured[name]
            m = {k: statistics.median(r[k] for r in runs) for k in
                 ("apply_cpu_s", "setup_cpu_s", "solve_cpu_s", "unpack_cpu_s", "rest_cpu_s") if k in runs[-1]}
            m.update({k: runs[-1].get(k) for k in ("iterations", "status", "value", "bound")})
            m.update(case=label, objective=objective, variant=name, gamma_db=gamma_db,
                     recorded_bound=rec and rec["bound"], recorded_value=rec and rec["value"],
                     reference_bound=reference.get("bound"), reference_value=reference.get("value"))
            rows.append(m)
            log(f"  {label} {objective} {name}: {m['status']} {m['iterations']} it, {m['solve_cpu_s']:.3f} s")
        if all_variants:
            status, value = _restricted_value(designer, gamma_db)
            rows.append(dict(case=label, objective=objective, variant="(c) R_n in span(transmit, users)",
                             gamma_db=gamma_db, status=status, value=value, recorded_value=rec and rec["value"],
                             reference_value=reference.get("value")))
    return rows


def solver_study_table(rows):
    print("\n## The solver's path: Clarabel called directly on cvxpy's data (CPU seconds, median); x/y-1 = relative "
          "deviation of the bound (CRB at the solver's R) and of the value")
    print("apply = cvxpy's parameter → data, unpack = cvxpy's solution → variables, rest = extraction and CRBs; "
          "'rec.' = tests/test_sdr_optima.py's recorded optimum (pinned to 1e-6), 'ref.' = the reference solve")
    print(f"{'case':11} {'objective':9} {'Γ_c':>3} {'variant':38} {'status':12} {'#it':>3} {'apply':>6} {'setup':>6} "
          f"{'iters s':>7} {'ms/it':>5} {'unpack':>6} {'rest':>6} {'bound/rec-1':>11} {'value/rec-1':>11} "
          f"{'bound/ref-1':>11} {'value/ref-1':>11}")

    def rel(a, b):
        return f"{a / b - 1:+11.1e}" if a is not None and b else "-".rjust(11)

    def cell(m, key, width=6, fmt="6.3f"):
        return format(m[key], fmt) if m.get(key) is not None else "-".rjust(width)
    for m in rows:
        per_it = (f"{1e3 * m['solve_cpu_s'] / m['iterations']:5.1f}" if m.get("iterations") else "-".rjust(5))
        print(f"{m['case']:11} {m['objective']:9} {m['gamma_db']:3g} {m['variant']:38} {m['status'][:12]:12} "
              f"{m['iterations'] if m.get('iterations') else '-':>3} {cell(m, 'apply_cpu_s')} {cell(m, 'setup_cpu_s')} "
              f"{cell(m, 'solve_cpu_s', 7, '7.3f')} {per_it} {cell(m, 'unpack_cpu_s')} {cell(m, 'rest_cpu_s')} "
              f"{rel(m.get('bound'), m.get('recorded_bound'))} {rel(m.get('value'), m.get('recorded_value'))} "
              f"{rel(m.get('bound'), m.get('reference_bound'))} {rel(m.get('value'), m.get('reference_value'))}",
              flush=True)


def crb_reports_table(num_nodes=8, repeats=15):
    """The extraction and CRB reports of a warm solve (BeamformerDesigner._fill_solution) with fim._inverse_or_none
    as it is (Cholesky + norm-bound certificate) and as it was (eigenvalues), alternated in one process: CPU medians
    and the bounds of both (bit for bit equal)."""
    from disac.core import fim
    current = fim._inverse_or_none
    print(f"\n## Extraction and CRB reports of one warm solve, circle N = {num_nodes}, Γ_c = {SCALING_GAMMA_DB:g} dB "
          f"(CPU s, median of {repeats}, alternated)")
    print(f"{'objective':9} {'eigenvalue rule':>15} {'certificate':>11} {'saved s':>8} {'ratio':>6}  bounds equal")
    try:
        for objective in PROBLEM_18_OBJECTIVES:
            designer = beamformer.BeamformerDesigner(circle_scenario(num_nodes), objective=objective)
            designer.solve(SCALING_GAMMA_DB)
            times, bounds = {"rule": [], "certificate": []}, {}
            for _ in range(repeats):
                for label, inverse in (("rule", fim.inverse_by_eigenvalues), ("certificate", current)):
                    fim._inverse_or_none = inverse
                    result = beamformer.DesignResult(status="optimal", objective=objective, solver="clarabel",
                                                     sinr_threshold_db=SCALING_GAMMA_DB, solve_time_s=0.0)
                    _, _, cpu = _timed_cpu(designer._fill_solution, result, "paper")
                    times[label].append(cpu)
                    bounds[label] = (result.crb_position_bound_m2, result.crb_paper_bound,
                                     result.crb_position_extracted_m2, result.crb_paper_extracted)
            rule, cert = statistics.median(times["rule"]), statistics.median(times["certificate"])
            print(f"{objective:9} {rule:15.4f} {cert:11.4f} {rule - cert:8.4f} {rule / cert:6.2f}  "
                  f"{bounds['rule'] == bounds['certificate']}", flush=True)
    finally:
        fim._inverse_or_none = current


def _load_line():
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="one repeat per point, SCS only at 0 and 10 dB, the larger case at 20 dB only")
    parser.add_argument("--repeats", type=int, default=None, help="warm repeats per point (default 5; 1 with --quick)")
    parser.add_argument("--scaling", action="store_true", help="only the scaling-in-N table (5)")
    parser.add_argument("--json", action="store_true",
                        help="only the scaling figures, as a JSON list of rows (name, value, unit, anchor, "
                             "anchor_value, ratio) on stdout")
    parser.add_argument("--warm-path", action="store_true",
                        help=f"only the warm re-solve side by side, {NEW} against {PREV} (table 6; default N = 8)")
    parser.add_argument("--kkt-fill", action="store_true",
                        help="only the estimated fill of Clarabel's KKT factor at N = 8 (table 7, no timing)")
    parser.add_argument("--solver-study", action="store_true",
                        help="only the solver-path study at 20 dB (table 8): circle N = 8 and four-nodes, both "
                             "objectives (--quick: circle N = 8 position only)")
    parser.add_argument("--crb-reports", action="store_true",
                        help="only the extraction and CRB reports of a warm solve at N = 8, fim's inverse against "
                             "the eigenvalue rule it replaced (table 9)")
    parser.add_argument("--all-points", action="store_true",
                        help="with --solver-study: every point tests/test_sdr_optima.py pins (paper 0–30 dB, "
                             "four-nodes 0/20/30 dB, circle N = 8 at 20 dB), default path, reference and normalised "
                             "objective only")
    parser.add_argument("--nodes", type=int, nargs="+", default=None,
                        help=f"N of the scaling table (default {' '.join(map(str, SCALING_NODES))}; "
                             f"{' '.join(map(str, SCALING_QUICK_NODES))} with --quick)")
    parser.add_argument("--old-up-to", type=int, default=None,
                        help="run the OLD formulation up to this N (default all; 4 with --quick)")
    args = parser.parse_args()
    repeats = args.repeats or (1 if args.quick else 5)
    if args.kkt_fill:
        kkt_fill_table()
        return
    if args.crb_reports:
        print(f"{_load_line()} at start; OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}")
        crb_reports_table(repeats=args.repeats or 15)
        print(f"{_load_line()} at end")
        return
    if args.solver_study:
        print(f"{_load_line()} at start; OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}")
        circle, four = circle_scenario(8), scenario.load_scenario("four-nodes")
        if args.all_points:  # every point tests/test_sdr_optima.py pins, default path against a normalised objective
            points = _optima_module().PRESET_POINTS
            cases = [(preset, scenario.load_scenario(preset), o, g) for preset, gs in points.items()
                     for o in PROBLEM_18_OBJECTIVES for g in gs]
            cases += [("circle-8", circle, o, STUDY_GAMMA_DB) for o in PROBLEM_18_OBJECTIVES]
        else:
            cases = ([("circle-8", circle, "position", STUDY_GAMMA_DB)] if args.quick else
                     [("circle-8", circle, o, STUDY_GAMMA_DB) for o in PROBLEM_18_OBJECTIVES]
                     + [("four-nodes", four, o, STUDY_GAMMA_DB) for o in PROBLEM_18_OBJECTIVES])
        solver_study_table(solver_study(cases, args.repeats or (1 if args.quick or args.all_points else 3),
                                        all_variants=not args.all_points))
        print(f"{_load_line()} at end")
        return
    if args.warm_path:
        print(f"{_load_line()} at start; OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}")
        warm_path_table(warm_path_measurements(args.nodes or (8,), args.repeats or 7))
        print(f"{_load_line()} at end")
        return
    if args.scaling or args.json:
        nodes = args.nodes or (SCALING_QUICK_NODES if args.quick else SCALING_NODES)
        old_up_to = args.old_up_to if args.old_up_to is not None else (4 if args.quick else max(nodes))
        scaling_repeats = args.repeats or (1 if args.quick else 3)
        log = (lambda text: print(text, file=sys.stderr, flush=True)) if args.json else print
        log(f"{_load_line()} at start; OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}")
        measured = scaling_measurements(nodes, old_up_to, scaling_repeats, log=log)
        log(f"{_load_line()} at end")
        if args.json:
            import json
            print(json.dumps(scaling_rows(measured), indent=1))
        else:
            scaling_table(measured)
        return
    import clarabel
    import scs
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(f"cvxpy {cp.__version__}, clarabel {clarabel.__version__}, scs {scs.__version__}; "
          f"{os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}; warm repeats {repeats} "
          f"(SCS: 1){'; --quick' if args.quick else ''}")
    print("warm s = median wall time of solve() on the compiled problem; solver s = problem.solve() alone; "
          "/target = time / target (≤ 1 meets it)")
    print(f"first s = build's first solve, at {FIRST_SOLVE_DB:g} dB (compiles the problem); Clarabel has no warm "
          "start, SCS starts from the previous point's solution (cvxpy's default)")

    paper = scenario.load_scenario("paper")
    # Clarabel over the sweep; SCS (thousands of first-order iterations) once per point
    sweep_table(paper, PROBLEM_18_OBJECTIVES, ("clarabel",), SWEEP_DB, lambda solver: repeats,
                lambda objective: TARGET_PAPER_WARM_S,
                f"Paper scenario, Clarabel (target ≤ {TARGET_PAPER_WARM_S} s per warm point)")
    scs_sweep = (0.0, 10.0) if args.quick else SWEEP_DB
    sweep_table(paper, PROBLEM_18_OBJECTIVES, ("scs",), scs_sweep, lambda solver: 1,
                lambda objective: TARGET_PAPER_WARM_S,
                f"Paper scenario, SCS (target ≤ {TARGET_PAPER_WARM_S} s per warm point)")
    formulation_table(paper, 20.0, max(1, min(repeats, 3)))
    dpp_table(paper, 20.0, max(1, min(repeats, 3)))
    four = scenario.load_scenario("four-nodes")
    large_sweep = (20.0,) if args.quick else SWEEP_DB
    sweep_table(four, PROBLEM_18_OBJECTIVES, ("clarabel",), large_sweep, lambda solver: max(1, min(repeats, 3)),
                lambda objective: TARGET_LARGE_S[objective],
                "Larger case 'four-nodes' (N = 4, Mt = 8, Mr = 16, K = 3, U = 4), Clarabel "
                f"(targets ≤ {TARGET_LARGE_S['position']} s position, ≤ {TARGET_LARGE_S['paper']} s paper)")
    nodes = args.nodes or (SCALING_QUICK_NODES if args.quick else SCALING_NODES)
    old_up_to = args.old_up_to if args.old_up_to is not None else (4 if args.quick else max(nodes))
    scaling_table(scaling_measurements(nodes, old_up_to, max(1, min(repeats, 3))))
    print(f"{_load_line()} at end")


if __name__ == "__main__":
    main()
