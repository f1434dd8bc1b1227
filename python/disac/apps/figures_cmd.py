"""`disac figures`: reproduce the paper's Fig. 3(a), 3(b), 3(c), 4 and 5 (Sec. V) with plots and data.

For each figure it writes FIG.png, FIG.pdf, FIG.csv and FIG.json (the data, every curve's scenario and
the software versions) into --out, then summary.json (headline numbers, the paper's claims checked
against the data, run time) and prints a short table. The computation is core/figures.py; this module
runs its jobs in a process pool (--jobs), shows a progress bar (tqdm, on a terminal) and plots with
matplotlib's Agg backend.
"""

import concurrent.futures
import csv
import json
import math
import os
import platform
import queue as queue_mod
import sys
import time

from .cli import UsageError, json_ready

DEFAULT_OUT = "figures"
PNG_DPI = 100
FIGSIZE_IN = (6.4, 4.4)


def default_jobs():
    return max(1, min(2, os.cpu_count() or 1))


def register(subparsers):
    # solver and objective are checked in run_figures: importing core.beamformer here would load cvxpy
    # for every `disac` command
    parser = subparsers.add_parser(
        "figures", help="reproduce the paper's Fig. 3-5: plots (PNG, PDF), data (CSV, JSON) and a summary",
        description="Sweep the SINR threshold for every system of the paper's Fig. 3(a), 3(b), 4 and 5, run the "
                    "Monte-Carlo of Fig. 3(c), and write for each figure a PNG, a PDF, a CSV and a JSON file.")
    parser.add_argument("--out", default=DEFAULT_OUT, metavar="DIR", help=f"output folder (default {DEFAULT_OUT})")
    parser.add_argument("--quick", action="store_true",
                        help="coarse grid (0, 10, 20, 30 dB and each system's maximum) for tests")
    parser.add_argument("--jobs", type=int, default=default_jobs(), metavar="N",
                        help="parallel processes (default min(2, CPU count) = %(default)s)")
    parser.add_argument("--solver", default=None, help="SDP solver: clarabel or scs (default: the core's default)")
    parser.add_argument("--objective", default="paper",
                        help="design objective: the paper's tr(F^-1) (default) or the position CRB")
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="seed of the Fig. 3(c) Monte-Carlo")
    parser.set_defaults(func=run_figures)


# ---- running the jobs ---------------------------------------------------------------------------

_PROGRESS_QUEUE = None  # set in each worker process by _init_worker


def _init_worker(progress_queue):
    global _PROGRESS_QUEUE
    _PROGRESS_QUEUE = progress_queue


def _run_job_in_worker(job):
    from ..core.figures import run_job

    return run_job(job, on_progress=_PROGRESS_QUEUE.put)


def run_jobs(jobs, workers, show_progress=None):
    """{job.key: result} of core.figures.run_job for every job, in `workers` processes (1: this process)."""
    from tqdm import tqdm

    from ..core.figures import progress_steps, run_job

    total = sum(progress_steps(j) for j in jobs)
    tqdm.monitor_interval = 0  # no monitor thread (processes are forked below)
    results = {}
    if workers == 1:
        with tqdm(total=total, desc="disac figures", unit="step", disable=show_progress) as bar:
            for job in jobs:
                results[job.key] = run_job(job, on_progress=bar.update)
        return results
    import multiprocessing

    progress = multiprocessing.Queue()
    with concurrent.futures.ProcessPoolExecutor(max_workers=min(workers, len(jobs)), initializer=_init_worker,
                                                initargs=(progress,)) as pool:
        futures = {pool.submit(_run_job_in_worker, job): job.key for job in jobs}
        with tqdm(total=total, desc="disac figures", unit="step", disable=show_progress) as bar:
            pending = set(futures)
            try:
                while pending:
                    done, pending = concurrent.futures.wait(pending, timeout=0.2,
                                                            return_when=concurrent.futures.FIRST_COMPLETED)
                    _drain(progress, bar)
                    for future in done:
                        results[futures[future]] = future.result()
            except BaseException:
                for future in pending:
                    future.cancel()
                raise
            _drain(progress, bar)
    return results


def _drain(progress, bar):
    while True:
        try:
            bar.update(progress.get_nowait())
        except queue_mod.Empty:
            return


# ---- files --------------------------------------------------------------------------------------

def software_versions(solver):
    import cvxpy
    import matplotlib
    import numpy

    from .. import __version__

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


# ---- the command ----------------------------------------------------------------------------------

def _fmt(value, spec=".4g"):
    return "—" if value is None else format(value, spec)


def print_table(figures_data, claims, stream=None):
    from ..core.figures import HEADLINE_THRESHOLDS_DB, headline_rows

    rows = headline_rows(figures_data)
    print("Position CRB of the SDR bound (m²) at Γ_c; '—' where the threshold is infeasible", file=stream)
    head = f"{'figure':7s} {'curve':28s} {'max Γ_c dB':>10s}" + "".join(
        f" {f'{g:g} dB':>9s}" for g in HEADLINE_THRESHOLDS_DB)
    print(head, file=stream)
    for row in rows:
        print(f"{row['figure']:7s} {row['curve']:28s} {_fmt(row['max_common_sinr_db'], '.2f'):>10s}" + "".join(
            f" {_fmt(row['crb_position_bound_m2'][g]):>9s}" for g in HEADLINE_THRESHOLDS_DB), file=stream)
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


def run_figures(args):
    if args.jobs < 1:
        raise UsageError(f"--jobs {args.jobs}: expected a whole number of processes ≥ 1")
    if args.seed < 0:
        raise UsageError(f"--seed {args.seed}: expected a whole number ≥ 0")
    from ..core.beamformer import DEFAULT_SOLVER, OBJECTIVES, SOLVERS
    from ..core.figures import FIGURES, assemble, evaluate_claims, headline_rows, plan

    solver = args.solver or DEFAULT_SOLVER
    if solver not in SOLVERS:
        raise UsageError(f"--solver {solver!r}: expected one of {', '.join(SOLVERS)}")
    if args.objective not in OBJECTIVES:
        raise UsageError(f"--objective {args.objective!r}: expected one of {', '.join(OBJECTIVES)}")
    out = args.out
    if os.path.exists(out) and not os.path.isdir(out):
        raise UsageError(f"--out {out!r}: exists and is not a folder; expected a folder (created if missing)")
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--out {out!r}: cannot create the folder ({exc.strerror or exc})") from None

    load_before = os.getloadavg()
    start = time.perf_counter()
    jobs, curves, mc_key = plan(quick=args.quick, seed=args.seed, objective=args.objective, solver=solver)
    results = run_jobs(jobs, args.jobs)
    figures_data = assemble(curves, results, mc_key, jobs)
    compute_s = time.perf_counter() - start
    claims = evaluate_claims(figures_data)

    settings = {"quick": args.quick, "objective": args.objective, "solver": solver, "seed": args.seed,
                "jobs": args.jobs, "extraction": "paper (eq. 19)", "grid_db": list(jobs[0].grid_db),
                "max_sinr_tolerance_db": jobs[0].max_sinr_tolerance_db,
                "crb_axis": "position CRB tr([F(Θ)^-1]_xy) in m²; crb_paper_* is the paper's tr(F(Θ)^-1)"}
    versions = software_versions(solver)
    plt = _pyplot()
    written = []
    for fig in FIGURES:
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
    summary = {"settings": settings, "software": versions, "headline": headline_rows(figures_data),
               "claims": claims, "jobs": {k: {"time_s": r["time_s"], "max_common_sinr_db": r["max_common_sinr_db"],
                                              "points": len(r["points"])} for k, r in results.items()},
               "compute_time_s": compute_s, "elapsed_s": elapsed_s, "load_average_before": list(load_before),
               "load_average_after": list(os.getloadavg()), "cpu_count": os.cpu_count()}
    write_json(os.path.join(out, "summary.json"), summary)
    written.append(os.path.join(out, "summary.json"))

    print_table(figures_data, claims)
    print(f"wrote {len(written)} files to {out} in {elapsed_s:.1f} s ({len(jobs)} systems, {args.jobs} process(es); "
          f"load average {load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after)")
    return 0
