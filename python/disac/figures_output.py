# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""The files of `disac figures`: the paper's Fig. 3(a), 3(b), 3(c), 4 and 5 (Sec. V) as plots and data.

core/figures.py computes (sweeps, Monte-Carlo, the claims checked against the data) and returns dicts;
this module does the rest of a run, which core must not (it runs processes, writes files, plots with
matplotlib and reads GNU Radio's version) and an app should not (apps parse arguments):

- run_jobs: core.figures.run_job for every system, in a process pool, reporting progress ticks;
- reproduce: a whole run into a folder: for each figure FIG.png, FIG.pdf, FIG.csv and FIG.json (the
  data, every curve's scenario, the settings and the software versions), then summary.json
  (headline numbers, the claims, run times, load average); returns the summary;
- print_table: the headline table and the claims, as `disac figures` prints them.
"""

import concurrent.futures
import csv
import json
import math
import os
import platform
import queue as queue_mod
import time

from .core import figures as core_figures
from .core.design_options import DEFAULT_OBJECTIVE, DEFAULT_SOLVER
from .core.json_values import json_ready

PNG_DPI = 100
FIGSIZE_IN = (6.4, 4.4)


# ---- running the jobs ---------------------------------------------------------------------------

_PROGRESS_QUEUE = None  # set in each worker process by _init_worker


def _init_worker(progress_queue):
    global _PROGRESS_QUEUE
    _PROGRESS_QUEUE = progress_queue


def _run_job_in_worker(job):
    return core_figures.run_job(job, on_progress=_PROGRESS_QUEUE.put)


def run_jobs(jobs, workers, on_progress=None, executor=None):
    """{job.key: result} of core.figures.run_job for every job, in `workers` processes (1: this process), or as
    tasks of ``executor`` (core.sweep.open_executor's: a Dask cluster, `disac figures --scheduler`).

    on_progress(n) is called in this process with the ticks done (core.figures.progress_steps(job) per job; on
    an executor a job's ticks all come when it finishes). The results do not depend on where the jobs ran.
    """
    tick = on_progress or (lambda n: None)
    results = {}
    if executor is not None:
        steps = [core_figures.progress_steps(job) for job in jobs]
        reported = [0]

        def done(count):
            tick(sum(steps[:count]) - reported[0])
            reported[0] = sum(steps[:count])

        outcomes = executor.map(core_figures.run_job, [(job,) for job in jobs], on_done=done)
        return {job.key: result for job, result in zip(jobs, outcomes)}
    if workers == 1:
        for job in jobs:
            results[job.key] = core_figures.run_job(job, on_progress=tick)
        return results
    import multiprocessing

    progress = multiprocessing.Queue()
    with concurrent.futures.ProcessPoolExecutor(max_workers=min(workers, len(jobs)), initializer=_init_worker,
                                                initargs=(progress,)) as pool:
        futures = {pool.submit(_run_job_in_worker, job): job.key for job in jobs}
        pending = set(futures)
        try:
            while pending:
                done, pending = concurrent.futures.wait(pending, timeout=0.2,
                                                        return_when=concurrent.futures.FIRST_COMPLETED)
                _drain(progress, tick)
                for future in done:
                    results[futures[future]] = future.result()
        except BaseException:
            for future in pending:
                future.cancel()
            raise
        _drain(progress, tick)
    return results


def _drain(progress, tick):
    while True:
        try:
            tick(progress.get_nowait())
        except queue_mod.Empty:
            return


# ---- files --------------------------------------------------------------------------------------

def software_versions(solver):
    import cvxpy
    import matplotlib
    import numpy

    from . import __version__

    versions = {"gr-disac": __version__, "python": platform.python_version(), "numpy": numpy.__version__,
                "cvxpy": cvxpy.__version__, "matplotlib": matplotlib.__version__, "solver": solver}
    try:
        module = __import__(solver)
        versions[solver] = getattr(module, "__version__", None)
    except Exception:  # noqa: BLE001 - a version string is informative only
        versions[solver] = None
    try:
        from gnuradio import gr

        versions["gnuradio"] = gr.version()
    except Exception:  # noqa: BLE001 - GNU Radio is optional here: the figures need only the core
        versions["gnuradio"] = None
    return versions


_SWEEP_COLUMNS = ("sinr_threshold_db", "is_max", "status", "crb_position_bound_m2", "crb_position_extracted_m2",
                  "crb_paper_bound", "crb_paper_extracted", "crb_position_aoa_only_bound_m2",
                  "crb_position_tof_only_bound_m2", "crb_position_aoa_only_extracted_m2",
                  "crb_position_tof_only_extracted_m2", "min_sinr_bound_db", "min_sinr_extracted_db",
                  "max_antenna_power", "solve_time_s", "backoff_db")


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def write_sweep_csv(path, fig_data):
    """One row per solved point: curve, system, the point's numbers, then each user's extracted SINR."""
    users = max(c["scenario"]["users"]["positions_m"].__len__() for c in fig_data["curves"])
    header = ["curve", "system", "max_common_sinr_db", *_SWEEP_COLUMNS,
              *(f"sinr_extracted_db_user{u + 1}" for u in range(users))]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for curve in fig_data["curves"]:
            for p in curve["points"]:
                sinrs = list(p["sinr_extracted_db"] or [])
                sinrs += [None] * (users - len(sinrs))
                writer.writerow([curve["label"], curve["system"], _cell(curve["max_common_sinr_db"]),
                                 *(_cell(p.get(c)) for c in _SWEEP_COLUMNS), *(_cell(v) for v in sinrs)])


def write_monte_carlo_csv(path, mc):
    """One row per trial and user: signal power, interference+noise power and their ratio in dB."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["trial", "user", "signal_power", "interference_noise_power", "sinr_db"])
        if mc.get("sinr_db") is None:
            return
        for t in range(mc["sinr_db"].shape[0]):
            for u in range(mc["sinr_db"].shape[1]):
                writer.writerow([t, u + 1, repr(float(mc["signal_power"][t, u])),
                                 repr(float(mc["interference_noise_power"][t, u])), repr(float(mc["sinr_db"][t, u]))])


_PER_TRIAL = ("signal_power", "interference_noise_power", "sinr_db")  # in the CSV, not the JSON


def write_json(path, value):
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(json_ready(value), handle, indent=1, ensure_ascii=False)
        handle.write("\n")


# ---- plots --------------------------------------------------------------------------------------

def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _series(points, key):
    xs = [p["sinr_threshold_db"] for p in points if p[key] is not None]
    ys = [p[key] for p in points if p[key] is not None]
    return xs, ys


def _sweep_axes(plt, title):
    fig, ax = plt.subplots(figsize=FIGSIZE_IN)
    ax.set_yscale("log")
    ax.set_xlabel("SINR threshold Γ$_c$ (dB)")
    ax.set_ylabel("position CRB (m²)")
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    return fig, ax


def _plain_log_labels(ax):
    """Tick labels as plain numbers (0.2, not 2×10⁻¹); minor ticks 2, 3, 5 labelled on a short axis."""
    from matplotlib import ticker

    lo, hi = ax.get_ylim()
    ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))

    def minor(v, _):
        mantissa = v / 10 ** math.floor(math.log10(v) + 1e-9)
        return f"{v:g}" if any(abs(mantissa - m) < 1e-6 for m in (2, 3, 5)) else ""

    ax.yaxis.set_minor_formatter(ticker.FuncFormatter(minor) if hi / lo < 100 else ticker.NullFormatter())


def _style_legend(ax, labels):
    """One legend entry per colour (curve) plus one per line style: solid = SDR bound, dashed = extracted."""
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=f"C{i}", marker="o", markersize=3.5, label=label) for i, label in enumerate(labels)]
    handles += [Line2D([], [], color="0.3", linestyle="-", label="SDR bound (eq. 18)"),
                Line2D([], [], color="0.3", linestyle="--", marker="x", markersize=4, label="extracted (eq. 19)"),
                Line2D([], [], color="0.3", marker="*", markersize=10, linestyle="none",
                       label="largest common SINR")]
    ax.legend(handles=handles, fontsize=8, loc="best")


def _mark_max(ax, points, key, color):
    last = [p for p in points if p["is_max"] and p[key] is not None]
    if last:
        ax.plot([last[0]["sinr_threshold_db"]], [last[0][key]], marker="*", markersize=11, color=color,
                linestyle="none")


def _finish(fig, ax, out_base, note):
    if ax.get_legend() is None:
        ax.legend(fontsize=8, loc="best")
    fig.text(0.01, 0.01, note, fontsize=7, color="0.35")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(out_base + ".png", dpi=PNG_DPI)
    fig.savefig(out_base + ".pdf")


def plot_sweep(plt, fig_data, out_base):
    """Fig. 3(a), 3(b), 5: the bound (solid) and the extracted solution (dashed) of every curve."""
    fig, ax = _sweep_axes(plt, fig_data["title"])
    for i, curve in enumerate(fig_data["curves"]):
        color = f"C{i}"
        ax.plot(*_series(curve["points"], "crb_position_bound_m2"), "-o", color=color, markersize=3.5)
        ax.plot(*_series(curve["points"], "crb_position_extracted_m2"), "--x", color=color, markersize=4, alpha=0.8)
        _mark_max(ax, curve["points"], "crb_position_bound_m2", color)
    _plain_log_labels(ax)
    _style_legend(ax, [c["label"] for c in fig_data["curves"]])
    _finish(fig, ax, out_base, "thresholds above a system's largest common SINR are infeasible: no point")
    plt.close(fig)


def plot_fig4(plt, fig_data, out_base):
    """Fig. 4: joint, TOF-only and AOA-only position CRB of the designed covariances (bound and extracted)."""
    fig, ax = _sweep_axes(plt, fig_data["title"])
    points = fig_data["curves"][0]["points"]
    kinds = (("", "joint TOF-AOA"), ("tof_only_", "TOF-only"), ("aoa_only_", "AOA-only"))
    for i, (kind, _) in enumerate(kinds):
        color = f"C{i}"
        ax.plot(*_series(points, f"crb_position_{kind}bound_m2"), "-o", color=color, markersize=3.5)
        ax.plot(*_series(points, f"crb_position_{kind}extracted_m2"), "--x", color=color, markersize=4, alpha=0.8)
        _mark_max(ax, points, f"crb_position_{kind}bound_m2", color)
    _plain_log_labels(ax)
    _style_legend(ax, [label for _, label in kinds])
    _finish(fig, ax, out_base, "one user at [-50, 0] m, one target at [50, 0] m; the same designed covariances")
    plt.close(fig)


def plot_fig3c(plt, mc, out_base):
    """Fig. 3(c): density of each user's per-frame SINR, with the designed (eq. 6) SINR and the threshold."""
    import numpy as np

    fig, ax = plt.subplots(figsize=FIGSIZE_IN)
    ax.set_xlabel("instantaneous SINR (dB)")
    ax.set_ylabel("probability density")
    used = mc.get("threshold_used_db")
    title = mc["title"] if used is None else f"{mc['title']}, Γ$_c$ = {used:.2f} dB"
    ax.set_title(title, fontsize=10)
    ax.grid(True, alpha=0.3)
    if mc.get("sinr_db") is not None:
        sinr = mc["sinr_db"]
        bins = np.linspace(np.min(sinr), np.max(sinr), 60)
        for u in range(sinr.shape[1]):
            color = f"C{u}"
            ax.hist(sinr[:, u], bins=bins, density=True, histtype="step", color=color, linewidth=1.4,
                    label=f"user {u + 1} (median {mc['median_sinr_db'][u]:.1f} dB)")
            ax.axvline(mc["designed_sinr_db"][u], color=color, linestyle="--", linewidth=1,
                       label=f"user {u + 1}: designed average (eq. 6) {mc['designed_sinr_db'][u]:.2f} dB")
        ax.axvline(used, color="k", linestyle=":", linewidth=1, label=f"threshold {used:.2f} dB")
    note = f"{mc['trials']} frames of L = {mc['subcarriers']} subcarriers, random node phases, seed {mc['seed']}"
    if mc.get("note"):
        note = mc["note"] + "; " + note
        ax.text(0.02, 0.95, mc["note"], transform=ax.transAxes, fontsize=8, color="C3", va="top")
    _finish(fig, ax, out_base, note)
    plt.close(fig)


# ---- a whole run ----------------------------------------------------------------------------------

class _NoBar:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n=1):
        pass


def reproduce(out, *, quick=False, seed=0, objective=DEFAULT_OBJECTIVE, solver=DEFAULT_SOLVER, workers=1,
              progress_bar=None, executor=None):
    """Compute every figure and write its files into the folder ``out`` (which must exist).

    progress_bar(total) returns a context manager with .update(n) (e.g. a tqdm bar), or None for none.
    Returns (summary, figures_data, claims, written): the dict written to summary.json, the figures'
    data, the claims checked, and the paths written.
    """
    load_before = os.getloadavg()
    start = time.perf_counter()
    jobs, curves, mc_key = core_figures.plan(quick=quick, seed=seed, objective=objective, solver=solver)
    total = sum(core_figures.progress_steps(j) for j in jobs)
    with (progress_bar(total) if progress_bar else _NoBar()) as bar:
        results = run_jobs(jobs, workers, on_progress=bar.update, executor=executor)
    figures_data = core_figures.assemble(curves, results, mc_key, jobs)
    compute_s = time.perf_counter() - start
    claims = core_figures.evaluate_claims(figures_data)

    settings = {"quick": quick, "objective": objective, "solver": solver, "seed": seed,
                "jobs": workers if executor is None else executor.workers,
                "scheduler": None if executor is None else (executor.address or executor.kind),
                "extraction": "paper (eq. 19)", "grid_db": list(jobs[0].grid_db),
                "max_sinr_tolerance_db": jobs[0].max_sinr_tolerance_db,
                "crb_axis": "position CRB tr([F(Θ)^-1]_xy) in m²; crb_paper_* is the paper's tr(F(Θ)^-1)"}
    versions = software_versions(solver)
    plt = _pyplot()
    written = []
    for fig in core_figures.FIGURES:
        data = figures_data[fig]
        base = os.path.join(out, fig)
        if fig == "fig3c":
            plot_fig3c(plt, data, base)
            write_monte_carlo_csv(base + ".csv", data)
            data = {k: v for k, v in data.items() if k not in _PER_TRIAL}
        else:
            (plot_fig4 if fig == "fig4" else plot_sweep)(plt, data, base)
            write_sweep_csv(base + ".csv", data)
        write_json(base + ".json", {**data, "settings": settings, "software": versions})
        written += [base + ext for ext in (".png", ".pdf", ".csv", ".json")]
    elapsed_s = time.perf_counter() - start
    summary = {"settings": settings, "software": versions, "headline": core_figures.headline_rows(figures_data),
               "claims": claims, "jobs": {k: {"time_s": r["time_s"], "max_common_sinr_db": r["max_common_sinr_db"],
                                              "points": len(r["points"])} for k, r in results.items()},
               "compute_time_s": compute_s, "elapsed_s": elapsed_s, "load_average_before": list(load_before),
               "load_average_after": list(os.getloadavg()), "cpu_count": os.cpu_count()}
    write_json(os.path.join(out, "summary.json"), summary)
    written.append(os.path.join(out, "summary.json"))
    return summary, figures_data, claims, written


# ---- the table ------------------------------------------------------------------------------------

def _fmt(value, spec=".4g"):
    return "—" if value is None else format(value, spec)


def print_table(figures_data, claims, stream=None):
    """The headline table (position CRB of the bound at core.figures.HEADLINE_THRESHOLDS_DB), Fig. 3(c)'s
    per-user SINR and the claims, on ``stream`` (default stdout)."""
    thresholds = core_figures.HEADLINE_THRESHOLDS_DB
    rows = core_figures.headline_rows(figures_data)
    print("Position CRB of the SDR bound (m²) at Γ_c; '—' where the threshold is infeasible", file=stream)
    head = f"{'figure':7s} {'curve':28s} {'max Γ_c dB':>10s}" + "".join(
        f" {f'{g:g} dB':>9s}" for g in thresholds)
    print(head, file=stream)
    for row in rows:
        print(f"{row['figure']:7s} {row['curve']:28s} {_fmt(row['max_common_sinr_db'], '.2f'):>10s}" + "".join(
            f" {_fmt(row['crb_position_bound_m2'][g]):>9s}" for g in thresholds), file=stream)
    mc = figures_data["fig3c"]
    if mc.get("sinr_db") is not None:
        for u in range(len(mc["designed_sinr_db"])):
            print(f"fig3c   user {u + 1}: designed {mc['designed_sinr_db'][u]:.2f} dB, per-frame median "
                  f"{mc['median_sinr_db'][u]:.1f} dB, 5-95 % {mc['p5_sinr_db'][u]:.1f}-{mc['p95_sinr_db'][u]:.1f} dB, "
                  f"below Γ_c in {mc['fraction_below_threshold'][u]:.0%} of frames", file=stream)
    if mc.get("note"):
        print(f"fig3c   note: {mc['note']}", file=stream)
    print("Claims of the paper's Sec. V:", file=stream)
    for claim in claims:
        print(f"  [{claim['verdict']}] {claim['claim']}\n      {claim['detail']}", file=stream)
