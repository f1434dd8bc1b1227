# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""`disac design [SCENARIO] --sinr-db G`: SDR transmit beamforming, paper problem (18) and eq. (19).

JSON keys (a contract other tools read): status, objective, solver, sinr_threshold_db, solve_time_s,
crb_position_bound_m2, crb_position_extracted_m2, crb_paper_bound, crb_paper_extracted,
sinr_extracted_db (one per user), max_antenna_power, scenario; with --max-sinr also max_common_sinr_db; with
--objective achievable also crb_achievable_bound_m2, crb_achievable_extracted_m2, crb_achievable_stderr_m2 (the P → ∞
floor of the achievable bound, docs/beamforming.md §8) and phase_sets.
Exit status 0 when a design was found, 1 when the threshold is infeasible or the solver failed (the
JSON still says which), 2 for bad arguments.
"""

import numpy as np

from ..core.design_options import (DEFAULT_OBJECTIVE, DEFAULT_SOLVER, EXTRACTIONS, FORMULATIONS, MAX_SINR_DB,
                                   MIN_SINR_DB, OBJECTIVES, SOLVERS)
from ..core.scenario import load_scenario
from .cli import (add_progress_option, add_scenario_argument, finite_float, print_json, progress_bar,
                  solver_accuracy_warnings_quieted)

OBJECTIVE_HELP = {"paper": "tr(F(Θ)^-1), the paper's eq. (18a)", "position": "tr of the x,y block of F(Θ)^-1",
                  "achievable": "the position CRB of the phase-conditional FIM of CoMP data, averaged over oscillator "
                                "phase sets (docs/beamforming.md §8)"}


def register(subparsers):
    parser = subparsers.add_parser(
        "design", help="design per-node precoders by SDR (minimum CRB subject to every user's SINR)",
        description="Solve the paper's SDR problem (18) at SINR threshold Γ_c and extract beamformers (eq. 19).")
    add_scenario_argument(parser)
    parser.add_argument("--sinr-db", required=True, type=finite_float("--sinr-db", MIN_SINR_DB, MAX_SINR_DB),
                        help=f"SINR threshold Γ_c in dB ({MIN_SINR_DB:g} to {MAX_SINR_DB:g})")
    parser.add_argument("--objective", choices=OBJECTIVES, default=DEFAULT_OBJECTIVE,
                        help="; ".join(f"{k}: {v}" for k, v in OBJECTIVE_HELP.items()) + f" (default {DEFAULT_OBJECTIVE})")
    parser.add_argument("--solver", choices=SOLVERS, default=DEFAULT_SOLVER,
                        help=f"SDP solver, {' or '.join(SOLVERS)} (default {DEFAULT_SOLVER})")
    parser.add_argument("--formulation", choices=FORMULATIONS, default=None,
                        help="decomposed (default, fastest), one_lmi, or the paper's literal Schur LMIs; the objective "
                             "achievable has a formulation of its own (the joint-covariance SDR) and takes none of these")
    parser.add_argument("--extraction", choices=EXTRACTIONS, default="paper",
                        help="radar beamformer from R_r,n (paper, default) or from R_n − Σ ŵŵ^H (keep_covariance, "
                             "ref. [11])")
    parser.add_argument("--max-sinr", action="store_true", help="also find the largest SINR all users can share")
    parser.add_argument("--save", metavar="FILE.npz",
                        help="write Wc (N, Mt, U), Wr (N, Mt, Mt), R and Rc to a numpy .npz file")
    add_progress_option(parser)
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=run)


def run(args):
    scenario = load_scenario(args.scenario)
    bar = progress_bar(3 if args.max_sinr else 2, "disac design", enabled=not args.no_progress)
    with bar, solver_accuracy_warnings_quieted():  # the status says "optimal_inaccurate" when it applies
        bar.set_postfix_str("loading the solver")
        from ..core.beamformer import BeamformerDesigner  # loads cvxpy (~1 s): only when a command needs it
        bar.update()
        bar.set_postfix_str(f"SDR at {args.sinr_db:g} dB")
        designer = BeamformerDesigner(scenario, objective=args.objective, solver=args.solver,
                                      formulation=args.formulation)
        result = designer.solve(args.sinr_db, extraction=args.extraction)
        bar.update()
        if args.max_sinr:  # what solve(..., max_sinr=True) does, as a step of its own for the bar
            bar.set_postfix_str("largest common SINR")
            result.max_common_sinr_db = designer.max_common_sinr_db()
            bar.update()
    out = {**result.as_dict(), "scenario": scenario.name}
    if not args.max_sinr:
        out.pop("max_common_sinr_db")
    if args.save and result.ok:
        np.savez(args.save, Wc=result.Wc, Wr=result.Wr, R=result.R, Rc=result.Rc,
                 sinr_threshold_db=result.sinr_threshold_db)
    if args.json:
        print_json(out)
        return 0 if result.ok else 1
    print(f"scenario {scenario.name}: Γ_c = {args.sinr_db:g} dB, objective {args.objective}, solver {args.solver}")
    print(f"  status {result.status} in {result.solve_time_s:.3f} s{': ' + result.message if result.message else ''}")
    if result.ok:
        print(f"  position CRB  bound {result.crb_position_bound_m2:.6g} m², extracted {result.crb_position_extracted_m2:.6g} m²")
        print(f"  paper CRB     bound {result.crb_paper_bound:.6g}, extracted {result.crb_paper_extracted:.6g}")
        print("  user SINR (extracted beamformers): "
              + ", ".join(f"{v:.2f} dB" for v in result.sinr_extracted_db))
        limit = (f"P_T = {scenario.per_antenna_power:g}" if designer.per_re_power == scenario.per_antenna_power else
                 f"P_T·L/L_a = {designer.per_re_power:g} per active RE, P_T = {scenario.per_antenna_power:g} per sample")
        print(f"  largest per-antenna power {result.max_antenna_power:.6g} (limit {limit})")
        if args.save:
            print(f"  precoders written to {args.save}")
    if args.max_sinr:
        value = result.max_common_sinr_db
        print("  largest common SINR: " + ("none even at the lowest threshold" if value is None else f"{value:.2f} dB"))
    return 0 if result.ok else 1
