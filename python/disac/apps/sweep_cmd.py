# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""`disac sweep [SCENARIO] --grid KEY=V1,V2,… [--grid …] --snr-db S1,S2,… [--sinr-db G1,G2,…] --trials N --out DIR
[--scheduler auto|local|none|ADDR] [--dask-workers N] [--chunk-trials M]`: a `disac localize` Monte-Carlo at every
point of a grid of scenario keys × target SNR × Γ_c, on Dask (issue 16 item 4; docs/sweeps.md).

Every point is `disac localize SCENARIO(with the keys set) --snr-db S --sinr-db G --trials N --seed SEED
--chunk-trials M` exactly: the same precoders (designed at Γ_c on that scenario, or --precoders KIND), the same
chunks and seeds (core.sweep.plan_chunks: every point uses the same seeds) and the same statistics. The work is
two rounds of tasks on one executor (core.sweep.open_executor): the precoder design of every point, then every
chunk of every point; the numbers never depend on the scheduler or the number of workers.

Files in --out: points.csv and points.parquet (one row per grid point: the keys set, snr_db, sinr_db, the
statistics of `disac localize`), trials.csv and trials.parquet (one row per trial: point, trial, chunk, seeds,
frame, squared error, worst target error, failed, conditional CRB, the estimates as JSON), sweep.json (the
settings, the grid, the points with their chunks, software versions, load averages, times) and sweep.png (RMSE
and √CRB against the target SNR, and MSE/CRB). --json prints sweep.json's document (and the files written).
The ideal air only (no [impairments]: `disac localize --impairments` for impaired runs) and K known.
"""

import csv
import json
import math
import os
import platform
import time

from ..core import sweep
from .cli import UsageError, add_progress_option, add_scenario_argument, print_json, Progress

POINT_COLUMNS = ("trials", "mse_m2", "rmse_m", "crb_position_m2", "mse_over_crb", "crb_conditional_m2",
                 "mse_over_crb_conditional", "failures", "mse_m2_without_failures", "gate_m", "frames_skipped")
TRIAL_COLUMNS = ("point", "trial", "chunk", "seed", "channel_seed", "frame", "squared_error_m2", "max_target_error_m",
                 "failed", "crb_conditional_m2", "estimates_m")


def register(subparsers):
    from ..core.design_options import DEFAULT_OBJECTIVE, OBJECTIVES

    parser = subparsers.add_parser(
        "sweep", help="Monte-Carlo of the sensing chain over a grid of scenario keys × SNR × Γ_c, on Dask",
        description="Run `disac localize` at every point of a grid of scenario keys × target SNR × Γ_c (chunks of "
                    "trials as Dask tasks), and write tidy tables (CSV, Parquet), a JSON summary and a plot.")
    add_scenario_argument(parser)
    parser.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2,…",
                        help="a scenario key (as in the TOML file, e.g. ofdm.subcarriers or targets.positions_m) and "
                             "its values (TOML values, comma-separated); repeat for more keys")
    parser.add_argument("--snr-db", required=True, metavar="S1,S2,…",
                        help="target SNRs in the paper's definition (dB), comma-separated")
    parser.add_argument("--sinr-db", default="10", metavar="G1,G2,…",
                        help="with --precoders designed: SINR thresholds Γ_c (dB), comma-separated (default 10)")
    parser.add_argument("--precoders", default="designed", metavar="KIND",
                        help="precoders as in `disac localize` (default designed: designed at each Γ_c)")
    parser.add_argument("--objective", choices=OBJECTIVES, default=DEFAULT_OBJECTIVE,
                        help=f"with --precoders designed: the design objective (default {DEFAULT_OBJECTIVE})")
    parser.add_argument("--trials", type=int, default=200, help="trials (frames) per grid point, default 200")
    parser.add_argument("--seed", type=int, default=0, help="data seed of every point (chunk 0's; default 0)")
    parser.add_argument("--gate-m", type=float, default=None, help="failure gate per target in metres (default c/(4B))")
    parser.add_argument("--out", default="sweep", metavar="DIR", help="output folder (default sweep)")
    from .localize_cmd import add_scheduler_arguments

    add_scheduler_arguments(parser)
    parser.add_argument("--chunk-trials", type=int, default=sweep.DEFAULT_CHUNK_TRIALS, metavar="M",
                        help="trials per flowgraph run, the unit of parallel work (default %(default)s; 0: all trials "
                             "of a point in one run)")
    add_progress_option(parser)
    parser.add_argument("--json", action="store_true", help="print the summary (sweep.json and the files) as JSON")
    parser.set_defaults(func=run_command)


# ---- the tasks (run on Dask workers or in this process) ---------------------------------------------

def design_task(scenario, kind, sinr_db, seed, objective):
    """(wc, wr) of a grid point, as `disac localize` resolves them (core.precoder_sets)."""
    from ..core import precoder_sets

    return precoder_sets.resolve_precoders(scenario.without_impairments(), kind,
                                           10.0 if sinr_db is None else sinr_db, seed, objective)


def _number_list(text, option, low, high):
    try:
        values = [float(v) for v in str(text).split(",")]
    except ValueError:
        raise UsageError(f"{option} {text!r}: accepted: numbers in dB separated by commas, e.g. 0,10,20") from None
    for v in values:
        if not (math.isfinite(v) and low <= v <= high):
            raise UsageError(f"{option} {text!r}: {v!r} is outside [{low:g}, {high:g}] dB")
    if len(set(values)) != len(values):
        raise UsageError(f"{option} {text!r}: a value given twice; accepted: distinct values")
    return values


def build_points(args):
    """The grid points and each point's scenario (at its SNR); UsageError naming a bad key or value."""
    from ..core import ofdm
    from ..core.trial_stats import scenario_at_snr

    try:
        grid = sweep.parse_grid(args.grid)
        document, name = sweep.scenario_document(args.scenario)
    except sweep.SweepError as exc:
        raise UsageError(str(exc)) from None
    snrs = _number_list(args.snr_db, "--snr-db", -60.0, 80.0)
    if args.precoders == "designed":
        sinrs = _number_list(args.sinr_db, "--sinr-db", -50.0, 60.0)
    else:
        if args.sinr_db != "10":
            raise UsageError(f"--sinr-db {args.sinr_db}: applies with --precoders designed only (here {args.precoders})")
        sinrs = [None]
    points = sweep.grid_points(grid, snrs, sinrs)
    scenarios = {}
    for point in points:
        key = point.overrides
        if key not in scenarios:
            try:
                scenarios[key] = sweep.with_overrides(document, name, point.overrides)
            except sweep.SweepError as exc:
                raise UsageError(str(exc)) from None
            s = scenarios[key]
            if s.impairments_table:
                raise UsageError(f"scenario {s.name!r} has [impairments]: disac sweep runs the ideal air; accepted: a "
                                 "scenario without [impairments] (disac localize --impairments for an impaired run)")
            if not s.is_static:
                raise UsageError(f"scenario {s.name!r} moves: disac sweep scores static scenes, as disac localize")
            try:
                ofdm.layout_from_scenario(s)
            except ofdm.FrameError as exc:
                raise UsageError(f"scenario {s.name!r}: {exc}") from None
    return grid, points, [scenario_at_snr(scenarios[p.overrides], p.snr_db) for p in points]


def run_sweep(points, scenarios, args, executor, on_progress=None):
    """The statistics of every point ([dict]) and the trial rows ([dict]); two rounds of tasks on ``executor``."""
    from . import localize_cmd
    from ..core import precoder_sets

    try:
        designs = executor.map(design_task, [(s, args.precoders, p.sinr_db, args.seed, args.objective)
                                             for p, s in zip(points, scenarios)])
    except precoder_sets.PrecoderSetError as exc:
        raise UsageError(str(exc)) from None
    plans = [sweep.plan_chunks(args.trials, args.seed, args.chunk_trials) for _ in points]
    tasks, owners = [], []
    for index, (scenario, (wc, wr), chunks) in enumerate(zip(scenarios, designs, plans)):
        tasks += localize_cmd.chunk_tasks(scenario, wc, wr, chunks, args.gate_m)
        owners += [index] * len(chunks)
    sizes = [c.trials for chunks in plans for c in chunks]
    outcomes = executor.map(localize_cmd.run_trial_chunk, tasks, on_done=None if on_progress is None else (
        lambda done: on_progress(sum(sizes[:done]))))
    rows, trial_rows = [], []
    for index, (point, scenario, (wc, wr)) in enumerate(zip(points, scenarios, designs)):
        mine = [o for o, owner in zip(outcomes, owners) if owner == index]
        stats, records = localize_cmd.chunked_statistics(scenario, wc, wr, mine, args.gate_m)
        row = {"point": point.index, **{k: _cell_value(v) for k, v in point.overrides}, "snr_db": point.snr_db,
               "sinr_db": point.sinr_db, "precoders": args.precoders,
               "objective": args.objective if args.precoders == "designed" else None, "scenario": scenario.name,
               **{k: stats[k] for k in POINT_COLUMNS}, "chunks": len(mine),
               "elapsed_s": sum(info["elapsed_s"] for _, info in mine)}
        rows.append({"row": row, "chunks": stats["chunks"]})
        for i in range(len(records["trial"])):
            trial_rows.append({"point": point.index, **{c: records[c][i] for c in TRIAL_COLUMNS[1:-1]},
                               "estimates_m": json.dumps(records["estimates_m"][i])})
    return rows, trial_rows


def _cell_value(value):
    """A grid value in a table cell: numbers and strings as they are, lists as JSON text."""
    return value if isinstance(value, (int, float, str, bool)) else json.dumps(value)


# ---- files ----------------------------------------------------------------------------------------------

def write_table(path_stem, rows):
    """rows ([dict], same keys) as path_stem.csv and path_stem.parquet (pyarrow); the paths."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = list(rows[0]) if rows else []
    with open(path_stem + ".csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in rows:
            writer.writerow(["" if row[c] is None else (repr(row[c]) if isinstance(row[c], float) else row[c])
                             for c in columns])
    table = pa.table({c: [row[c] for row in rows] for c in columns})
    pq.write_table(table, path_stem + ".parquet")
    return [path_stem + ".csv", path_stem + ".parquet"]


def plot(path, rows):
    """sweep.png: RMSE (markers) and √CRB (dashed) against the target SNR per setting, and MSE/CRB."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_rmse, ax_ratio) = plt.subplots(1, 2, figsize=(11, 4.4))
    curves = {}
    for row in rows:
        label = ", ".join(f"{k}={row[k]}" for k in row if "." in k)
        if row["sinr_db"] is not None:
            label = (label + ", " if label else "") + f"Γc={row['sinr_db']:g} dB"
        curves.setdefault(label or row["scenario"], []).append(row)
    for label, points in curves.items():
        points = sorted(points, key=lambda r: r["snr_db"])
        snr = [r["snr_db"] for r in points]
        line, = ax_rmse.plot(snr, [r["rmse_m"] for r in points], "o-", label=label)
        ax_rmse.plot(snr, [math.sqrt(r["crb_position_m2"]) for r in points], "--", color=line.get_color())
        ax_ratio.plot(snr, [r["mse_over_crb"] for r in points], "o-", color=line.get_color(), label=label)
    ax_rmse.set_yscale("log")
    ax_rmse.set_xlabel("target SNR (dB)")
    ax_rmse.set_ylabel("RMSE (markers), √CRB (dashed) (m)")
    ax_ratio.set_xlabel("target SNR (dB)")
    ax_ratio.set_ylabel("MSE / CRB")
    ax_ratio.axhline(1.0, color="grey", lw=0.8)
    for ax in (ax_rmse, ax_ratio):
        ax.grid(True, which="both", alpha=0.3)
    ax_ratio.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def software_versions():
    import dask
    import numpy
    import pyarrow

    from .. import __version__

    return {"gr-disac": __version__, "python": platform.python_version(), "numpy": numpy.__version__,
            "dask": dask.__version__, "pyarrow": pyarrow.__version__}


def run_command(args):
    if args.trials < 1:
        raise UsageError(f"--trials {args.trials!r}: accepted: a positive number of trials")
    if args.chunk_trials < 0:
        raise UsageError(f"--chunk-trials {args.chunk_trials!r}: accepted: a whole number ≥ 1, or 0 for one chunk")
    if args.gate_m is not None and not (math.isfinite(args.gate_m) and args.gate_m > 0):
        raise UsageError(f"--gate-m {args.gate_m!r}: accepted: a positive distance in metres")
    try:
        sweep.check_scheduler(args.scheduler)
    except sweep.SweepError as exc:
        raise UsageError(str(exc)) from None
    out = args.out
    if os.path.exists(out) and not os.path.isdir(out):
        raise UsageError(f"--out {out!r}: exists and is not a folder; expected a folder (created if missing)")
    grid, points, scenarios = build_points(args)
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--out {out!r}: cannot create the folder ({exc.strerror or exc})") from None
    started, load_before = time.perf_counter(), os.getloadavg()
    tasks = len(points) * len(sweep.plan_chunks(args.trials, args.seed, args.chunk_trials))
    progress = Progress(len(points) * args.trials, "disac sweep", args, unit="trial")
    try:
        with sweep.open_executor(args.scheduler, args.dask_workers, tasks=tasks) as executor:
            rows, trial_rows = run_sweep(points, scenarios, args, executor, progress.callback)
            where = {"scheduler": executor.address or executor.kind, "dask_workers": executor.workers}
    except sweep.SweepError as exc:
        raise UsageError(str(exc)) from None
    finally:
        progress.close()
    point_rows = [r["row"] for r in rows]
    written = write_table(os.path.join(out, "points"), point_rows) + write_table(os.path.join(out, "trials"), trial_rows)
    written.append(plot(os.path.join(out, "sweep.png"), point_rows))
    summary = {"scenario": args.scenario, "grid": {k: v for k, v in grid}, "snr_db": sorted({p.snr_db for p in points}),
               "sinr_db": [g for g in dict.fromkeys(p.sinr_db for p in points)], "precoders": args.precoders,
               "objective": args.objective if args.precoders == "designed" else None, "trials": args.trials,
               "seed": args.seed, "chunk_trials": args.chunk_trials, **where,
               "points": [{**r["row"], "chunk_list": r["chunks"]} for r in rows], "software": software_versions(),
               "elapsed_s": time.perf_counter() - started, "load_average_before": list(load_before),
               "load_average_after": list(os.getloadavg()), "cpu_count": os.cpu_count()}
    from .cli import json_ready

    path = os.path.join(out, "sweep.json")
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(json_ready(summary), handle, indent=1, ensure_ascii=False)
        handle.write("\n")
    written.append(path)
    if args.json:
        print_json({**summary, "files": written})
        return 0
    print(f"sweep {args.scenario}: {len(points)} points × {args.trials} trials on {where['scheduler']} "
          f"({where['dask_workers']} worker(s)) in {summary['elapsed_s']:.1f} s")
    for row in point_rows:
        keys = ", ".join(f"{k}={row[k]}" for k in row if "." in k)
        sinr = "" if row["sinr_db"] is None else f", Γc {row['sinr_db']:g} dB"
        print(f"  {keys + ', ' if keys else ''}SNR {row['snr_db']:g} dB{sinr}: MSE {row['mse_m2']:.4g} m², "
              f"CRB {row['crb_position_m2']:.4g} m², MSE/CRB {row['mse_over_crb']:.3f}, failures {row['failures']}")
    print(f"wrote {len(written)} files to {out}")
    return 0
