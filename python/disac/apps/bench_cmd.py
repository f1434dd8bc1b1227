"""`disac bench [--quick] [--only NAME …] [--json]`: every benchmark of the project, one table.

Runs each bench/ script in its own process (OPENBLAS_NUM_THREADS=1, as DESIGN.md §7 measures) and prints
one row per figure: the figure, its value and unit, the target it is held to, the ratio value / target
and whether it meets it (a time meets a target when the ratio is ≤ 1, a rate or a speed-up when ≥ 1),
and the script it came from. The sources:

    beamformer    bench/bench_beamformer.py    bench_rows(quick): SDR warm solves (issue 3 targets)
    localizer     bench/bench_localizer.py     bench_rows(quick): ML localiser ms/frame (issue 6: ≤ 20 ms)
    central-unit  bench/bench_central_unit.py  bench_rows(quick): CU ms/frame, snapshot throughput
    phy           bench/bench_phy.py           run as a script; its table parsed (issue 5: ≥ 10 MS/s)
                                               (value = its last column, the ratio to 10 MS/s, × 10 MS/s)

--quick shortens every run (fewer frames, repeats and samples) to about a minute or two in all. The bench/
scripts live in a clone of the repository, not in an installed package: the folder is found next to the
package's source tree or in the current folder, or given with --bench-dir. Exit status 0 when every
script ran (whatever the figures), 1 when one failed (its row says why), 2 for bad arguments.
"""

import json
import os
import pathlib
import subprocess
import sys
import time

from .cli import UsageError, print_json

BENCHES = {  # name: (script, how its rows are read)
    "beamformer": ("bench_beamformer.py", "rows"),
    "localizer": ("bench_localizer.py", "rows"),
    "central-unit": ("bench_central_unit.py", "rows"),
    "phy": ("bench_phy.py", "table"),
}
ROWS_PREFIX = "DISAC-BENCH-ROWS "
PHY_SAMPLES = {True: 200_000, False: 2_000_000}  # bench_phy.py --samples (per antenna per run)
PHY_TARGET_MS_S = 10.0  # issue 5: ≥ 10 MS/s per antenna (a radio at the paper's 10 MHz)
TIMEOUT_S = {True: 900, False: 3600}


def register(subparsers):
    parser = subparsers.add_parser("bench", help="run every benchmark and print one table of figures against "
                                   "their targets")
    parser.add_argument("--quick", action="store_true", help="short runs (fewer frames, repeats, samples)")
    parser.add_argument("--only", nargs="+", choices=list(BENCHES), metavar="NAME",
                        help=f"run only these ({', '.join(BENCHES)})")
    parser.add_argument("--bench-dir", default=None, help="the bench/ folder (default: found from the source tree)")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON instead of the table")
    parser.set_defaults(func=run_command)


def find_bench_dir(given=None):
    """The folder holding the bench/ scripts, or UsageError saying where it was looked for."""
    here = pathlib.Path(__file__).resolve()
    candidates = [pathlib.Path(given)] if given else [here.parents[3] / "bench", pathlib.Path.cwd() / "bench"]
    for folder in candidates:
        if all((folder / script).is_file() for script, _ in BENCHES.values()):
            return folder
    where = ", ".join(str(c) for c in candidates)
    raise UsageError(f"--bench-dir: no bench/ scripts ({', '.join(s for s, _ in BENCHES.values())}) in {where}; "
                     "run from a clone of gr-disac or give --bench-dir PATH")


def _environment():
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    env.setdefault("GR_CONF_LOG_LOG_FILE", "stderr")
    return env


def _last_line(text):
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "no output"


def run_rows_script(bench_dir, script, quick):
    """Rows from a script's bench_rows(quick), called in a process of its own."""
    module = script[:-3]
    code = (f"import json, sys; sys.path.insert(0, {str(bench_dir)!r}); import {module} as b; "
            f"print({ROWS_PREFIX!r} + json.dumps(b.bench_rows(quick={bool(quick)})))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_environment(),
                          timeout=TIMEOUT_S[bool(quick)], cwd=str(bench_dir.parent))
    for line in done.stdout.splitlines():
        if line.startswith(ROWS_PREFIX):
            return json.loads(line[len(ROWS_PREFIX):])
    raise RuntimeError(f"exit status {done.returncode}: {_last_line(done.stderr or done.stdout)}")


def parse_phy_table(text):
    """Rows from bench_phy.py's table. Its columns are changing (it is being reworked); what every version
    prints: a header line starting `block  L`, then one line per block: the block's name, L, rates, and
    last the ratio of the block's rate to the 10 MS/s target. The row's value is that ratio × 10 MS/s,
    the figure the script itself holds to the target."""
    lines = text.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.split()[:2] == ["block", "L"])
    except StopIteration:
        raise RuntimeError("bench_phy.py printed no table (no header line 'block  L …')") from None
    l_end = lines[start].index(" L ") + 2  # L is right-aligned under its header: the name is left of it
    rows = []
    for line in lines[start + 1:]:
        left, tokens = line[:l_end].split(), line.split()
        if len(left) < 2 or not left[-1].isdigit() or len(tokens) < len(left) + 1:
            continue
        try:
            ratio = float(tokens[-1])
        except ValueError:
            continue
        name, subcarriers = " ".join(left[:-1]), int(left[-1])
        rows.append({"figure": f"{name}, L = {subcarriers}, per antenna", "value": ratio * PHY_TARGET_MS_S,
                     "unit": "MS/s", "target": PHY_TARGET_MS_S, "goal": "min"})
    if not rows:
        raise RuntimeError("bench_phy.py's table has no rows")
    return rows


def run_phy(bench_dir, quick):
    done = subprocess.run([sys.executable, str(bench_dir / "bench_phy.py"), "--samples", str(PHY_SAMPLES[bool(quick)])],
                          capture_output=True, text=True, env=_environment(), timeout=TIMEOUT_S[bool(quick)],
                          cwd=str(bench_dir.parent))
    if done.returncode != 0:
        raise RuntimeError(f"exit status {done.returncode}: {_last_line(done.stderr or done.stdout)}")
    return parse_phy_table(done.stdout)


def finish_row(row, source):
    """Add ratio (value / target), meets (by the goal: 'max' a ceiling, 'min' a floor) and source."""
    value, target, goal = row.get("value"), row.get("target"), row.get("goal")
    ratio = value / target if value is not None and target else None
    meets = None if ratio is None or goal not in ("min", "max") else (ratio <= 1 if goal == "max" else ratio >= 1)
    return dict(row, ratio=ratio, meets=meets, source=source)


def collect(names, bench_dir, quick, progress=None):
    """Every row of the named benchmarks; a script that fails gives one row saying so. (rows, failures)."""
    rows, failures = [], 0
    for name in names:
        script, kind = BENCHES[name]
        if progress:
            progress(f"disac bench: {script}{' --quick' if quick else ''} …")
        started = time.monotonic()
        try:
            found = run_rows_script(bench_dir, script, quick) if kind == "rows" else run_phy(bench_dir, quick)
        except (RuntimeError, subprocess.TimeoutExpired, json.JSONDecodeError) as exc:
            failures += 1
            found = [{"figure": f"{script} failed: {exc}", "value": None, "unit": "", "target": None, "goal": None}]
        if progress:
            progress(f"disac bench: {script} done in {time.monotonic() - started:.0f} s")
        rows += [finish_row(row, script) for row in found]
    return rows, failures


def _number(value):
    return "-" if value is None else f"{value:.4g}"


def format_table(rows):
    width = max([len("figure")] + [len(r["figure"]) for r in rows])
    out = [f"{'figure':{width}}  {'value':>10} {'unit':9} {'target':>10} {'ratio':>7} {'meets':5}  source"]
    for r in rows:
        bound = "" if r.get("target") is None else {"max": "≤ ", "min": "≥ "}.get(r.get("goal"), "") + _number(r["target"])
        meets = {True: "yes", False: "NO", None: "-"}[r["meets"]]
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.3g}"
        out.append(f"{r['figure']:{width}}  {_number(r['value']):>10} {r['unit']:9} {bound:>10} {ratio:>7} "
                   f"{meets:5}  {r['source']}")
    return "\n".join(out)


def _load():
    return os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3


def run_command(args):
    bench_dir = find_bench_dir(args.bench_dir)
    names = [name for name in BENCHES if not args.only or name in args.only]  # always in BENCHES order
    load_before = _load()
    started = time.monotonic()
    rows, failures = collect(names, bench_dir, args.quick, progress=lambda text: print(text, file=sys.stderr, flush=True))
    load_after = _load()
    summary = {"quick": bool(args.quick), "cpus": os.cpu_count(), "load_average_before": load_before[0],
               "load_average_after": load_after[0], "elapsed_s": time.monotonic() - started, "rows": rows}
    if args.json:
        print_json(summary)
    else:
        print(f"gr-disac benchmarks{' (--quick)' if args.quick else ''}: {os.cpu_count()} CPUs, load average "
              f"{load_before[0]:.2f} before, {load_after[0]:.2f} after, {summary['elapsed_s']:.0f} s; times are wall "
              "times on a possibly shared machine; ratio = value / target")
        print(format_table(rows))
    return 1 if failures else 0
