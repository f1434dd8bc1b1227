# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""`disac sweep [SCENARIO] --grid KEY=V1,V2,… [--grid …] --snr-db S1,S2,… [--sinr-db G1,G2,…] --trials N --out DIR
[--unknown-k [--max-targets N] [--false-alarm-rate P]] [--scheduler auto|local|none|ADDR] [--dask-workers N]
[--chunk-trials M]`: a `disac localize` Monte-Carlo at every
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
With --unknown-k the central unit detects K̂ per frame as `disac localize --unknown-k` does, and the points gain
its keys (k_detected_rate, false_targets_per_frame, missed_targets_per_frame, trials_k_correct, max_targets,
false_alarm_rate), the trials detected, k_correct, false_targets and missed_targets; the MSE keys are over the
frames with K̂ = K. The ideal air only (no [impairments]: `disac localize --impairments` for impaired runs).
"""

import json
import math
import os
import time

from ..core import sweep
from .. import sweep_runs
from ..core import trial_stats
from .cli import (UsageError, add_progress_option, add_scenario_argument, add_scheduler_arguments,
                  add_unknown_k_arguments, print_json, Progress)

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
    add_unknown_k_arguments(parser)
    add_scheduler_arguments(parser)
    parser.add_argument("--chunk-trials", type=int, default=sweep.DEFAULT_CHUNK_TRIALS, metavar="M",
                        help="trials per flowgraph run, the unit of parallel work (default %(default)s; 0: all trials "
                             "of a point in one run)")
    add_progress_option(parser)
    parser.add_argument("--json", action="store_true", help="print the summary (sweep.json and the files) as JSON")
    parser.set_defaults(func=run_command)


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


def run_command(args):
    if args.trials < 1:
        raise UsageError(f"--trials {args.trials!r}: accepted: a positive number of trials")
    if args.chunk_trials < 0:
        raise UsageError(f"--chunk-trials {args.chunk_trials!r}: accepted: a whole number ≥ 1, or 0 for one chunk")
    if args.gate_m is not None and not (math.isfinite(args.gate_m) and args.gate_m > 0):
        raise UsageError(f"--gate-m {args.gate_m!r}: accepted: a positive distance in metres")
    max_targets, false_alarm_rate = trial_stats.unknown_k_options(args.unknown_k, args.max_targets,
                                                                  args.false_alarm_rate, UsageError)
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
            rows, trial_rows = sweep_runs.run_sweep(points, scenarios, args.precoders, args.objective, args.seed,
                                                    args.trials, args.chunk_trials, args.gate_m, executor,
                                                    progress.callback, max_targets, false_alarm_rate)
            where = {"scheduler": executor.address or executor.kind, "dask_workers": executor.workers}
    except sweep.SweepError as exc:
        raise UsageError(str(exc)) from None
    finally:
        progress.close()
    point_rows = [r["row"] for r in rows]
    written = (sweep_runs.write_table(os.path.join(out, "points"), point_rows)
               + sweep_runs.write_table(os.path.join(out, "trials"), trial_rows))
    written.append(sweep_runs.plot(os.path.join(out, "sweep.png"), point_rows))
    summary = {"scenario": args.scenario, "grid": {k: v for k, v in grid}, "snr_db": sorted({p.snr_db for p in points}),
               "sinr_db": [g for g in dict.fromkeys(p.sinr_db for p in points)], "precoders": args.precoders,
               "objective": args.objective if args.precoders == "designed" else None, "trials": args.trials,
               "seed": args.seed, "chunk_trials": args.chunk_trials, "max_targets": max_targets,
               "false_alarm_rate": false_alarm_rate, **where,
               "points": [{**r["row"], "chunk_list": r["chunks"]} for r in rows], "software": sweep_runs.software_versions(),
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
              f"CRB {row['crb_position_m2']:.4g} m², MSE/CRB {row['mse_over_crb']:.3f}, failures {row['failures']}"
              + (f", K̂ = K in {row['k_detected_rate']:.3f} of frames" if max_targets else ""))
    print(f"wrote {len(written)} files to {out}")
    return 0
