# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""`disac figures`: reproduce the paper's Fig. 3(a), 3(b), 3(c), 4 and 5 (Sec. V) with plots and data.

For each figure it writes FIG.png, FIG.pdf, FIG.csv and FIG.json (the data, every curve's scenario and
the software versions) into --out, then summary.json (headline numbers, the paper's claims checked
against the data, run time) and prints a short table (with --json: the summary instead). The
computation is core/figures.py; the process pool, the plots and the files are figures_output.py; this
module parses the arguments and shows a progress bar (on a terminal).

JSON keys of --json (those of summary.json, a contract): settings, software, headline, claims, jobs,
compute_time_s, elapsed_s, load_average_before, load_average_after, cpu_count; and files (the paths written).

Issue 16, ``--scheduler auto|local|none|ADDR [--dask-workers N]`` (docs/sweeps.md): the systems run as Dask tasks.
``auto`` (the default): a Dask local cluster of --jobs worker processes when --jobs > 1 (and there is more than
one system), this process with --jobs 1; ``local``: a local cluster of --dask-workers (default --jobs) workers;
``ADDR``: an existing Dask scheduler; ``none``: this process. Each system's sweep is deterministic, so the data do
not depend on where it ran; settings.scheduler says where (settings.jobs: how many workers).
"""

import os

from ..core.design_options import DEFAULT_OBJECTIVE, DEFAULT_SOLVER, OBJECTIVES, SOLVERS
from .cli import UsageError, add_progress_option, add_scheduler_arguments, print_json, progress_bar

DEFAULT_OUT = "figures"
OBJECTIVE_HELP = {"paper": "the paper's tr(F(Θ)^-1), eq. (18a)", "position": "the position CRB tr([F(Θ)^-1]_xy)"}


def default_jobs():
    return max(1, min(2, os.cpu_count() or 1))


def register(subparsers):
    # the choices come from core/design_options.py, which loads no solver: `disac --help` stays fast
    parser = subparsers.add_parser(
        "figures", help="reproduce the paper's Fig. 3-5: plots (PNG, PDF), data (CSV, JSON) and a summary",
        description="Sweep the SINR threshold for every system of the paper's Fig. 3(a), 3(b), 4 and 5, run the "
                    "Monte-Carlo of Fig. 3(c), and write for each figure a PNG, a PDF, a CSV and a JSON file.")
    parser.add_argument("--out", default=DEFAULT_OUT, metavar="DIR", help=f"output folder (default {DEFAULT_OUT})")
    parser.add_argument("--quick", action="store_true",
                        help="coarse grid (0, 10, 20, 30 dB and each system's maximum) for tests")
    parser.add_argument("--jobs", type=int, default=default_jobs(), metavar="N",
                        help="parallel processes (default min(2, CPU count) = %(default)s)")
    parser.add_argument("--solver", choices=SOLVERS, default=DEFAULT_SOLVER,
                        help=f"SDP solver, {' or '.join(SOLVERS)} (default {DEFAULT_SOLVER})")
    parser.add_argument("--objective", choices=OBJECTIVES, default=DEFAULT_OBJECTIVE,
                        help="design objective: " + "; ".join(f"{k}: {v}" for k, v in OBJECTIVE_HELP.items())
                             + f" (default {DEFAULT_OBJECTIVE})")
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="seed of the Fig. 3(c) Monte-Carlo (default 0)")
    add_scheduler_arguments(parser)
    add_progress_option(parser)
    parser.add_argument("--json", action="store_true",
                        help="print the summary (summary.json, plus the files written) as JSON instead of the table")
    parser.set_defaults(func=run_figures)


def run_figures(args):
    if args.jobs < 1:
        raise UsageError(f"--jobs {args.jobs}: expected a whole number of processes ≥ 1")
    if args.seed < 0:
        raise UsageError(f"--seed {args.seed}: expected a whole number ≥ 0")
    out = args.out
    if os.path.exists(out) and not os.path.isdir(out):
        raise UsageError(f"--out {out!r}: exists and is not a folder; expected a folder (created if missing)")
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--out {out!r}: cannot create the folder ({exc.strerror or exc})") from None
    from ..core import figures as core_figures, sweep

    try:
        scheduler = sweep.check_scheduler(args.scheduler)
    except sweep.SweepError as exc:
        raise UsageError(str(exc)) from None
    if scheduler == sweep.SCHEDULER_AUTO:  # --jobs processes, as before issue 16, now a Dask local cluster
        scheduler = sweep.SCHEDULER_LOCAL if args.jobs > 1 else sweep.SCHEDULER_NONE
    workers = args.dask_workers if args.dask_workers is not None else (args.jobs if scheduler == "local" else None)
    systems = len(core_figures.plan(quick=args.quick, seed=args.seed)[0])
    from .. import figures_output  # loads cvxpy and matplotlib: only when the command runs

    try:
        with sweep.open_executor(scheduler, workers if scheduler == "local" else args.dask_workers,
                                 tasks=systems) as executor:
            summary, figures_data, claims, written = figures_output.reproduce(
                out, quick=args.quick, seed=args.seed, objective=args.objective, solver=args.solver,
                workers=executor.workers, executor=None if executor.kind == sweep.SCHEDULER_NONE else executor,
                progress_bar=lambda total: progress_bar(total, "disac figures", enabled=not args.no_progress))
    except sweep.SweepError as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        print_json({**summary, "files": written})
        return 0
    figures_output.print_table(figures_data, claims)
    load = summary["load_average_before"][0], summary["load_average_after"][0]
    print(f"wrote {len(written)} files to {out} in {summary['elapsed_s']:.1f} s ({len(summary['jobs'])} systems, "
          f"{summary['settings']['jobs']} process(es), scheduler {summary['settings']['scheduler'] or 'none'}; load average {load[0]:.2f} before, {load[1]:.2f} after)")
    return 0
