# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""The runs behind core/sweep.py (issue 16 item 4): the tasks that run a chunk of a Monte-Carlo through the GNU Radio
chain (hier.system) and design a grid point's precoders, `disac sweep`'s rounds of tasks, and its files (CSV,
Parquet through pyarrow, the plot).

core/sweep.py plans the chunks and combines their records (pure computation, no GNU Radio); this module runs
flowgraphs and writes files, which core must not and an app should not (apps/localize_cmd.py and
apps/sweep_cmd.py parse arguments and call it). Its functions are Dask tasks: picklable arguments and results,
importable by name in a worker (core.sweep.open_executor makes a worker import this gr-disac).
"""

import csv
import json
import math
import platform
import time

from .core import calibration_apply, sweep

POINT_COLUMNS = ("trials", "mse_m2", "rmse_m", "crb_position_m2", "mse_over_crb", "crb_conditional_m2",
                 "mse_over_crb_conditional", "failures", "mse_m2_without_failures", "gate_m", "frames_skipped")
TRIAL_COLUMNS = ("point", "trial", "chunk", "seed", "channel_seed", "frame", "squared_error_m2", "max_target_error_m",
                 "failed", "crb_conditional_m2", "estimates_m")
# with K unknown (--unknown-k): the detection's statistics per point and its counts per trial
UNKNOWN_K_POINT_COLUMNS = ("k_detected_rate", "false_targets_per_frame", "missed_targets_per_frame",
                           "trials_k_correct", "max_targets", "false_alarm_rate")
UNKNOWN_K_TRIAL_COLUMNS = ("detected", "k_correct", "false_targets", "missed_targets")


def run_chain(scenario, wc, wr, frames, seed=0, channel_seed=1, search="full", nodes=None, timeout_s=3600.0,
              on_progress=None, calibration=None, suppressor=None, max_targets=0, false_alarm_rate=None):
    """Run the GNU Radio chain for `frames` frames in one process; returns (estimates by frame, status).

    nodes: the receiving nodes that report (0-based; default all); with some missing, each frame goes
    after timeout_s (the central unit's timeout: the default suits complete runs, where it never fires).
    """
    from .hier import system

    estimates, status, _ = system.run_synthetic_system(scenario, wc, wr, frames, seed, channel_seed, search, nodes,
                                                       timeout_s, on_progress=on_progress,
                                                       calibration=calibration if calibration else "",
                                                       background=suppressor if suppressor is not None else "",
                                                       max_targets=max_targets or 0, false_alarm_rate=false_alarm_rate)
    return estimates, status


# GNU Radio 3.10 keeps every in-process flowgraph's buffers until its process ends (~240 System V shared-memory
# segments a system run, measured; a gc frees none), and the machine has 4 096 (kernel.shmmni): a process that ran
# ~17 chains could run no more ("shmget: No space left on device"). So a process runs its first chain itself and
# every later one in a child process of its own (run_chain_in_child): a long serial sweep or a Dask worker's
# many chunks hold one flowgraph's buffers at most.
_chains_run_here = 0
_CHILD_PROGRESS = "disac-chain-progress "


def run_chain_once_here(*args, on_progress=None, **kwargs):
    """run_chain, in this process the first time, in a child process (run_chain_in_child) every later time."""
    global _chains_run_here
    if _chains_run_here == 0:
        _chains_run_here += 1
        return run_chain(*args, on_progress=on_progress, **kwargs)
    return run_chain_in_child(*args, on_progress=on_progress, **kwargs)


def run_chain_in_child(*args, on_progress=None, **kwargs):
    """run_chain(*args, **kwargs) in a child process running this very gr-disac (the same numbers: the same code
    and seeds). Its progress comes back as lines on its standard error (``on_progress`` called here), its other
    output is passed to this process's standard error. RuntimeError with the child's last lines if it fails.
    (pickle between this process and its own child only: no outside input.)"""
    import os
    import pickle
    import subprocess
    import sys
    import tempfile

    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # gnuradio/disac's stand-in folder
    wrapper = ("import sys, gnuradio; gnuradio.__path__.insert(0, %r); from gnuradio.disac import sweep_runs; "
               "sys.exit(sweep_runs._chain_child(sys.argv[1], sys.argv[2]))") % package_parent
    with tempfile.TemporaryDirectory(prefix="disac-chain-") as folder:
        job, answer = os.path.join(folder, "job.pickle"), os.path.join(folder, "answer.pickle")
        with open(job, "wb") as handle:
            pickle.dump((args, kwargs), handle)
        child = subprocess.Popen([sys.executable, "-c", wrapper, job, answer], stdin=subprocess.DEVNULL,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        last = []
        for line in child.stdout:
            if line.startswith(_CHILD_PROGRESS):
                if on_progress is not None:
                    on_progress(int(line[len(_CHILD_PROGRESS):]))
                continue
            sys.stderr.write(line)
            last = (last + [line])[-20:]
        code = child.wait()
        if code != 0 or not os.path.exists(answer):
            raise RuntimeError(f"the chain's child process ended with exit status {code}:\n{''.join(last)}")
        with open(answer, "rb") as handle:
            return pickle.load(handle)


def _chain_child(job, answer):
    """The child of run_chain_in_child: run the chain of ``job``, write its result to ``answer``; the exit status."""
    import pickle
    import sys

    from .apps.cli import quiet_gnuradio_info

    quiet_gnuradio_info()
    with open(job, "rb") as handle:
        args, kwargs = pickle.load(handle)

    def progress(done):
        print(f"{_CHILD_PROGRESS}{int(done)}", file=sys.stderr, flush=True)

    result = run_chain(*args, on_progress=progress, **kwargs)
    with open(answer, "wb") as handle:
        pickle.dump(result, handle)
    sys.stdout.flush()
    sys.stderr.flush()
    return 0


def run_trial_chunk(scenario, wc, wr, chunk, gate_m=None, calibration=None, suppressor=None, max_targets=None,
                    false_alarm_rate=None, on_progress=None):
    """One chunk (core.sweep.Chunk) of a Monte-Carlo through the chain: (records, info), the per-trial records of
    core.sweep.trial_records and the chunk's facts (index, first_trial, trials, seeds, frames_skipped, elapsed_s,
    calibration). A Dask task (picklable arguments and result) or a call in this process."""
    from .apps.cli import quiet_gnuradio_info  # a Dask worker process has not run disac's main()

    quiet_gnuradio_info()
    started = time.perf_counter()
    estimates, status = run_chain_once_here(scenario, wc, wr, chunk.trials, chunk.seed, chunk.channel_seed,
                                            on_progress=on_progress, calibration=calibration, suppressor=suppressor,
                                            max_targets=max_targets, false_alarm_rate=false_alarm_rate)
    records = sweep.trial_records(scenario.without_impairments(), wc, wr, estimates, chunk, gate_m,
                                  unknown_k=bool(max_targets))
    info = {"index": chunk.index, "first_trial": chunk.first_trial, "trials": chunk.trials, "seed": chunk.seed,
            "channel_seed": chunk.channel_seed, "frames_skipped": status["frames_skipped"],
            "elapsed_s": time.perf_counter() - started, "calibration": calibration_apply.calibration_summary(
                calibration, status.get("calibration_jumps", 0), status.get("calibration"))}
    return records, info


def chunk_tasks(scenario, wc, wr, chunks, gate_m=None, calibration=None, suppressor=None, max_targets=None,
                false_alarm_rate=None):
    """The argument tuples of run_trial_chunk for each chunk (an executor's items)."""
    return [(scenario, wc, wr, chunk, gate_m, calibration, suppressor, max_targets, false_alarm_rate)
            for chunk in chunks]


def chunked_statistics(scenario, wc, wr, outcomes, gate_m=None, max_targets=None, false_alarm_rate=None):
    """The statistics of the module docstring from run_trial_chunk's outcomes (in chunk order), and the records."""
    records = sweep.combine_records(r for r, _ in outcomes)
    result = sweep.statistics(scenario.without_impairments(), wc, wr, records, gate_m, max_targets, false_alarm_rate)
    infos = [info for _, info in outcomes]
    result.update(frames_skipped=sum(i["frames_skipped"] for i in infos), chunks=infos,
                  calibration=infos[0]["calibration"])
    return result, records


def design_task(scenario, kind, sinr_db, seed, objective):
    """(wc, wr) of a grid point, as `disac localize` resolves them (core.precoder_sets)."""
    from .core import precoder_sets

    return precoder_sets.resolve_precoders(scenario.without_impairments(), kind,
                                           10.0 if sinr_db is None else sinr_db, seed, objective)


def run_sweep(points, scenarios, precoders, objective, seed, trials, chunk_trials, gate_m, executor, on_progress=None,
              max_targets=None, false_alarm_rate=None):
    """`disac sweep`'s work: the statistics of every point ([{"row": dict, "chunks": [dict]}]) and the trial rows
    ([dict]); two rounds of tasks on ``executor`` (the designs, then every chunk of every point). ``max_targets``
    (≥ 1): K unknown, detected at ``false_alarm_rate`` (core.detection), as `disac localize --unknown-k`."""
    from .core import precoder_sets

    try:
        designs = executor.map(design_task, [(s, precoders, p.sinr_db, seed, objective)
                                             for p, s in zip(points, scenarios)])
    except precoder_sets.PrecoderSetError as exc:
        raise sweep.SweepError(str(exc)) from None
    plans = [sweep.plan_chunks(trials, seed, chunk_trials) for _ in points]
    tasks, owners = [], []
    for index, (scenario, (wc, wr), chunks) in enumerate(zip(scenarios, designs, plans)):
        tasks += chunk_tasks(scenario, wc, wr, chunks, gate_m, max_targets=max_targets,
                             false_alarm_rate=false_alarm_rate)
        owners += [index] * len(chunks)
    sizes = [c.trials for chunks in plans for c in chunks]
    outcomes = executor.map(run_trial_chunk, tasks, on_done=None if on_progress is None else (
        lambda done: on_progress(sum(sizes[:done]))))
    rows, trial_rows = [], []
    for index, (point, scenario, (wc, wr)) in enumerate(zip(points, scenarios, designs)):
        mine = [o for o, owner in zip(outcomes, owners) if owner == index]
        stats, records = chunked_statistics(scenario, wc, wr, mine, gate_m, max_targets, false_alarm_rate)
        row = {"point": point.index, **{k: _cell_value(v) for k, v in point.overrides}, "snr_db": point.snr_db,
               "sinr_db": point.sinr_db, "precoders": precoders,
               "objective": objective if precoders == "designed" else None, "scenario": scenario.name,
               **{k: stats[k] for k in POINT_COLUMNS + (UNKNOWN_K_POINT_COLUMNS if max_targets else ())},
               "chunks": len(mine),
               "elapsed_s": sum(info["elapsed_s"] for _, info in mine)}
        rows.append({"row": row, "chunks": stats["chunks"]})
        for i in range(len(records["trial"])):
            trial_rows.append({"point": point.index, **{c: records[c][i] for c in TRIAL_COLUMNS[1:-1]},
                               **{c: records[c][i] for c in (UNKNOWN_K_TRIAL_COLUMNS if max_targets else ())},
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

    from . import __version__

    return {"gr-disac": __version__, "python": platform.python_version(), "numpy": numpy.__version__,
            "dask": dask.__version__, "pyarrow": pyarrow.__version__}
