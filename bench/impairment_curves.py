# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Localisation RMSE and user SINR against the size of each impairment, with and without calibration
(issue 13, last "done when" bullet; the paper's future work: "the effects of synchronization on overall
system performance", measured).

Each impairment alone on top of the ideal air (the `[impairments]` table of docs/scenarios.md), swept:

    timing     timing_offset_ns std 0 … 100 ns (each node's clock offset)
    phase      rx_phase_deg = tx_phase_deg std 0 … 180° (per channel)
    cfo        cfo_hz std 0 … 1 kHz (per node)
    overflow   overflow_every_frames: an overflow (overflow_samples lost, rx_time re-tagged) every k frames

and each point run twice on the same seeds: uncalibrated (identity calibration: the receive chain as
before issue 13) and calibrated (`disac calibrate`'s estimate applied where SPEC13 §3 says). The direct
paths are on in every run (calibration is estimated from them; the localiser projects them out in both
runs, so the comparison is calibration alone). Per point: localisation RMSE over frames (m) against √CRB
(the achievable bound of the same seeds), failed frames, and the users' measured SINR against eq. (6).

Writes docs/figures/impairment-<name>.png (left: RMSE and √CRB, log scale; right: SINR) and the table
between the markers `<!-- impairment-table -->` … `<!-- /impairment-table -->` of docs/calibration.md,
and the raw numbers as JSON (--json-out, default docs/figures/impairment-curves.json; --plot-only
re-plots from it).

    .venv/bin/python bench/impairment_curves.py --quick          # 3 points per sweep, few frames
    .venv/bin/python bench/impairment_curves.py [--trials N] [--scenario paper] [--only timing phase]

The trials themselves are engineer "apply"'s reusable function (core.calibrated_trials.run_trials,
"SPEC13 trials function in"); this script only sweeps, plots and tabulates. The load average is printed
first: the machine may be shared (the numbers are statistics of seeded runs, not timings, so load does not
change them; it only changes how long the sweep takes).
"""

import argparse
import json
import math
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIGURES = os.path.join(ROOT, "docs", "figures")
DOC = os.path.join(ROOT, "docs", "calibration.md")
TABLE_START, TABLE_END = "<!-- impairment-table -->", "<!-- /impairment-table -->"

# name -> (impairment keys set to the swept value, full sweep, quick sweep, x-axis label, x of a value)
SWEEPS = {
    "timing": (("timing_offset_ns",), [0.0, 10.0, 25.0, 50.0, 100.0], [0.0, 50.0, 100.0],
               "clock offset std (ns)", lambda v: v),
    "phase": (("rx_phase_deg", "tx_phase_deg"), [0.0, 10.0, 30.0, 90.0, 180.0], [0.0, 90.0, 180.0],
              "channel phase std (°)", lambda v: v),
    "cfo": (("cfo_hz",), [0.0, 10.0, 100.0, 300.0, 1000.0], [0.0, 100.0, 1000.0], "CFO std (Hz)", lambda v: v),
    "overflow": (("overflow_every_frames",), [0, 100, 50, 20, 10], [0, 50, 10], "overflows per 100 frames",
                 lambda k: 0.0 if k == 0 else 100.0 / k),
}
BASE_TABLE = {"preset": "ideal", "direct_path": True}  # the direct paths in every run (module docstring)


def impairment_table(name, value, seed):
    keys = SWEEPS[name][0]
    table = dict(BASE_TABLE, seed=int(seed))
    for key in keys:
        table[key] = int(value) if key == "overflow_every_frames" else float(value)
    return table


def trials_function():
    """Engineer "apply"'s trials function (merged from issue13-apply), or a clear error."""
    try:
        from gnuradio.disac.core.calibrated_trials import run_trials
    except ImportError as exc:
        raise SystemExit(f"impairment_curves: the trials function is not in this tree ({exc}); merge "
                         "issue13-apply (\"SPEC13 trials function in\")") from None
    return run_trials


def measure(run_trials, scenario, name, value, calibrated, trials, seed):
    """One point: a dict of rmse_m, sqrt_crb_m, failed_frames, frames, sinr_measured_db, sinr_eq6_db."""
    table = impairment_table(name, value, seed)
    result = run_trials(scenario.with_impairments(table), trials, seed=seed, calibrate=calibrated)
    return {key: result.get(key) for key in ("rmse_m", "sqrt_crb_m", "failed_frames", "frames",
                                             "sinr_measured_db", "sinr_eq6_db", "calibration")}


def mean_db(values):
    """The mean of per-user dB values in power (None when absent)."""
    if values is None:
        return None
    values = [values] if isinstance(values, (int, float)) else list(values)
    return 10 * math.log10(sum(10 ** (v / 10) for v in values) / len(values)) if values else None


def sweep(names, quick, trials, seed, scenario_name, log=print):
    from gnuradio.disac.core.scenario import load_scenario

    run_trials = trials_function()
    scenario = load_scenario(scenario_name)
    results = {"scenario": scenario_name, "trials": trials, "seed": seed, "quick": quick, "sweeps": {}}
    for name in names:
        values = SWEEPS[name][2] if quick else SWEEPS[name][1]
        points = []
        for value in values:
            point = {"value": value}
            for calibrated in (False, True):
                started = time.monotonic()
                point["calibrated" if calibrated else "uncalibrated"] = measure(
                    run_trials, scenario, name, value, calibrated, trials, seed)
                log(f"  {name} = {value:g}, {'calibrated' if calibrated else 'uncalibrated'}: "
                    f"{_summary(point['calibrated' if calibrated else 'uncalibrated'])} "
                    f"({time.monotonic() - started:.0f} s)")
            points.append(point)
        results["sweeps"][name] = points
    return results


def _summary(row):
    return (f"RMSE {_fmt(row.get('rmse_m'))} m, √CRB {_fmt(row.get('sqrt_crb_m'))} m, failed "
            f"{row.get('failed_frames')}/{row.get('frames')}, SINR {_fmt(mean_db(row.get('sinr_measured_db')))} dB")


def _fmt(value, digits=3):
    return "—" if value is None else f"{value:.{digits}g}"


def plot(results, out_dir):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(out_dir, exist_ok=True)
    written = []
    for name, points in results["sweeps"].items():
        label, x_of = SWEEPS[name][3], SWEEPS[name][4]
        x = [x_of(p["value"]) for p in points]
        fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
        for kind, style in (("uncalibrated", "o--"), ("calibrated", "s-")):
            left.plot(x, [p[kind]["rmse_m"] for p in points], style, label=f"RMSE, {kind}")
            right.plot(x, [mean_db(p[kind]["sinr_measured_db"]) for p in points], style, label=f"measured, {kind}")
        left.plot(x, [p["calibrated"]["sqrt_crb_m"] for p in points], "k:", label="√CRB (achievable)")
        right.plot(x, [mean_db(p["calibrated"]["sinr_eq6_db"]) for p in points], "k:", label="eq. (6)")
        left.set_yscale("log")
        left.set_xlabel(label)
        left.set_ylabel("localisation RMSE (m)")
        right.set_xlabel(label)
        right.set_ylabel("user SINR, mean over users (dB)")
        for axis in (left, right):
            axis.grid(True, which="both", alpha=0.3)
            axis.legend(fontsize=8)
        fig.suptitle(f"{results['scenario']}: {name} impairment alone, {results['trials']} frames per point"
                     f"{' (quick)' if results['quick'] else ''}, seed {results['seed']}")
        fig.tight_layout()
        path = os.path.join(out_dir, f"impairment-{name}.png")
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written


def table(results, command):
    lines = [f"Command: `{command}` ({results['trials']} frames per point, scenario {results['scenario']}, seed "
             f"{results['seed']}). RMSE over frames, √CRB the achievable bound of the same seeds, SINR the mean over "
             "users of the measured SINR (eq. (6) alongside).", "",
             "| impairment | size | RMSE uncal. (m) | RMSE cal. (m) | √CRB (m) | cal./√CRB | failed uncal. | failed cal. "
             "| SINR uncal. (dB) | SINR cal. (dB) | eq. (6) (dB) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, points in results["sweeps"].items():
        for p in points:
            u, c = p["uncalibrated"], p["calibrated"]
            ratio = (c["rmse_m"] / c["sqrt_crb_m"]) if c.get("rmse_m") is not None and c.get("sqrt_crb_m") else None
            lines.append(f"| {name} | {p['value']:g} | {_fmt(u['rmse_m'])} | {_fmt(c['rmse_m'])} | {_fmt(c['sqrt_crb_m'])} "
                         f"| {_fmt(ratio)} | {u['failed_frames']}/{u['frames']} | {c['failed_frames']}/{c['frames']} "
                         f"| {_fmt(mean_db(u['sinr_measured_db']))} | {_fmt(mean_db(c['sinr_measured_db']))} "
                         f"| {_fmt(mean_db(c['sinr_eq6_db']))} |")
    return "\n".join(lines)


def write_table(text, doc=DOC):
    with open(doc, encoding="utf-8") as handle:
        content = handle.read()
    pattern = re.compile(re.escape(TABLE_START) + ".*?" + re.escape(TABLE_END), re.S)
    if not pattern.search(content):
        raise SystemExit(f"{doc}: no {TABLE_START} … {TABLE_END} markers to put the table between")
    content = pattern.sub(lambda _: f"{TABLE_START}\n{text}\n{TABLE_END}", content)
    with open(doc, "w", encoding="utf-8") as handle:
        handle.write(content)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3 points per sweep and --trials 20 unless given")
    parser.add_argument("--trials", type=int, default=None, help="frames per point (default 200; --quick 20)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scenario", default="paper")
    parser.add_argument("--only", nargs="+", choices=list(SWEEPS), default=list(SWEEPS), help="sweeps to run")
    parser.add_argument("--json-out", default=os.path.join(FIGURES, "impairment-curves.json"))
    parser.add_argument("--plot-only", action="store_true", help="re-plot and re-tabulate from --json-out")
    parser.add_argument("--no-doc", action="store_true", help="do not write the table into docs/calibration.md")
    args = parser.parse_args(argv)
    trials = args.trials or (20 if args.quick else 200)
    if trials < 1:
        parser.error(f"--trials {trials}: accepted: a positive number of frames")
    print(f"load average: {open('/proc/loadavg').read().split()[:3]}", file=sys.stderr, flush=True)
    command = "python bench/impairment_curves.py " + " ".join(argv if argv is not None else sys.argv[1:])
    if args.plot_only:
        with open(args.json_out, encoding="utf-8") as handle:
            results = json.load(handle)
        command = results.get("command", command)
    else:
        results = sweep(args.only, args.quick, trials, args.seed, args.scenario,
                        log=lambda text: print(text, file=sys.stderr, flush=True))
        results["command"] = command.strip()
        os.makedirs(os.path.dirname(args.json_out), exist_ok=True)
        with open(args.json_out, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=1)
    for path in plot(results, os.path.dirname(args.json_out) or FIGURES):
        print(f"wrote {path}", file=sys.stderr)
    text = table(results, results.get("command", command).strip())
    print(text)
    if not args.no_doc:
        write_table(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
