"""SDR beamformer timing (issue 3 benchmark): paper problem (18) with cvxpy, Clarabel and SCS.

Prints, in one run:
 1. the paper scenario at Γ_c = 0, 10, 20, 30 dB, per objective and solver: the first solve (cvxpy compiles
    the problem) and the median warm re-solve of the one compiled problem (DPP), with status and bound;
 2. the decomposed and one-LMI formulations against the literal (18b) one: build + first solve, warm solve,
    and the ratio literal / formulation;
 3. a DPP re-solve against a fresh build + solve;
 4. the larger case (preset "four-nodes": N = 4 on a 200 m circle, Mt = 8, K = 3, U = 4), both objectives;
and the ratio of each measured time to the issue's target (≤ 1 meets it; for the literal comparison the
target is a speed-up of ≥ 10, and the ratio printed is 10 / speed-up). Times are the wall time of
BeamformerDesigner.solve() (solver, cvxpy's parameter update, extraction and the CRB reports); the
solver-only time (result.solve_time_s) is printed next to it.

    .venv/bin/python bench/bench_beamformer.py [--quick] [--repeats N]

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

SWEEP_DB = (0.0, 10.0, 20.0, 30.0)
FIRST_SOLVE_DB = -10.0
TARGET_PAPER_WARM_S = 0.05
TARGET_LARGE_S = {"position": 0.5, "paper": 5.0}
TARGET_LITERAL_SPEEDUP = 10.0


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
    for objective in beamformer.OBJECTIVES:
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
    for objective in beamformer.OBJECTIVES:
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
    for objective in beamformer.OBJECTIVES:
        designer = beamformer.BeamformerDesigner(paper, objective=objective, solver="clarabel")
        designer.solve(FIRST_SOLVE_DB)
        for gamma_db in ((10.0,) if quick else SWEEP_DB):
            wall, _, result = warm_median(designer, gamma_db, repeats)
            rows.append({"figure": f"SDR warm solve, paper, {objective}, Γ_c = {gamma_db:g} dB ({result.status})",
                         "value": wall, "unit": "s", "target": TARGET_PAPER_WARM_S, "goal": "max"})
    four = scenario.load_scenario("four-nodes")
    for objective in (("position",) if quick else beamformer.OBJECTIVES):
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="one repeat per point, SCS only at 0 and 10 dB, the larger case at 20 dB only")
    parser.add_argument("--repeats", type=int, default=None, help="warm repeats per point (default 5; 1 with --quick)")
    args = parser.parse_args()
    repeats = args.repeats or (1 if args.quick else 5)
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
    sweep_table(paper, beamformer.OBJECTIVES, ("clarabel",), SWEEP_DB, lambda solver: repeats,
                lambda objective: TARGET_PAPER_WARM_S,
                f"Paper scenario, Clarabel (target ≤ {TARGET_PAPER_WARM_S} s per warm point)")
    scs_sweep = (0.0, 10.0) if args.quick else SWEEP_DB
    sweep_table(paper, beamformer.OBJECTIVES, ("scs",), scs_sweep, lambda solver: 1,
                lambda objective: TARGET_PAPER_WARM_S,
                f"Paper scenario, SCS (target ≤ {TARGET_PAPER_WARM_S} s per warm point)")
    formulation_table(paper, 20.0, max(1, min(repeats, 3)))
    dpp_table(paper, 20.0, max(1, min(repeats, 3)))
    four = scenario.load_scenario("four-nodes")
    large_sweep = (20.0,) if args.quick else SWEEP_DB
    sweep_table(four, beamformer.OBJECTIVES, ("clarabel",), large_sweep, lambda solver: max(1, min(repeats, 3)),
                lambda objective: TARGET_LARGE_S[objective],
                "Larger case 'four-nodes' (N = 4, Mt = 8, Mr = 16, K = 3, U = 4), Clarabel "
                f"(targets ≤ {TARGET_LARGE_S['position']} s position, ≤ {TARGET_LARGE_S['paper']} s paper)")


if __name__ == "__main__":
    main()
