# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""`disac bench [--quick] [--only NAME …] [--json]`: every benchmark of the project, each figure against its anchor.

Runs each bench/ script in its own process (OPENBLAS_NUM_THREADS=1, as DESIGN.md §7 measures) and prints
one row per figure: its value and unit, the anchor it is compared with and that anchor's value, and the
ratio value / anchor_value (issue 16 item 5). An anchor is measured in the same run where the script can
(a GNU Radio C++ chain doing the same work, the previous formulation of a solve), or is a fixed rate or
target (the radio's rate B in S/s, an issue's bound) otherwise; the row says which. Where a row has a
target, "meets" says whether the value meets it (a time when ≤ target, a rate or a speed-up when ≥).

    beamformer    bench/bench_beamformer.py    bench_rows(quick): SDR warm solves; full run: + `--json` scaling in N
    localizer     bench/bench_localizer.py     bench_rows(quick): full-search ms/frame against the reference search
                                               in the same run (issue 16: ≤ 10 ms paper, ≤ 40 ms four-nodes)
    central-unit  bench/bench_central_unit.py  bench_rows(quick): CU ms/frame, snapshot throughput, --workers 2
                                               against --workers 1 in the same run
    phy           bench/bench_phy.py           `--json` rows: each PHY block against its C++ chain and the
                                               radio's rate

--json prints a JSON list of rows, each with (a contract) name, value, unit, anchor, anchor_value, ratio;
besides: target, goal, meets, source, and the load averages before/after the whole run. --quick shortens
every run (fewer frames, repeats and samples) to a minute or two in all. The bench/ scripts live in a clone
of the repository, not in an installed package: the folder is found next to the package's source tree or
in the current folder, or given with --bench-dir. Exit status 0 when every script ran (whatever the
figures), 1 when one failed (its row says why), 2 for bad arguments.
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
    "phy": ("bench_phy.py", "phy"),
    "sweep": ("bench_sweep.py", "rows"),
}
CONTRACT_KEYS = ("name", "value", "unit", "anchor", "anchor_value", "ratio")  # every --json row has these
ROWS_PREFIX = "DISAC-BENCH-ROWS "
PHY_SAMPLES = {True: 100_000, False: 1_000_000}  # bench_phy.py --samples (per antenna per run)
TIMEOUT_S = {True: 900, False: 3600}


def register(subparsers):
    parser = subparsers.add_parser(
        "bench", help="run every benchmark and print each figure as a ratio to its anchor",
        description="Run the project's benchmarks (bench/*.py), each in its own process, and print one row per "
                    "figure: value, unit, its anchor (a GNU Radio C++ chain or the previous formulation measured "
                    "in the same run, or the radio's rate or a target) and the ratio value / anchor.")
    parser.add_argument("--quick", action="store_true", help="short runs: fewer frames, repeats, samples (default: full runs)")
    parser.add_argument("--only", nargs="+", choices=list(BENCHES), metavar="NAME",
                        help=f"run only these, from: {', '.join(BENCHES)} (default: all)")
    parser.add_argument("--bench-dir", default=None, help="the bench/ folder (default: found from the source tree)")
    parser.add_argument("--json", action="store_true",
                        help="print a JSON list of rows (name, value, unit, anchor, anchor_value, ratio, …) instead "
                             "of the table (default: the table)")
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


def _json_list(text):
    """The rows a script printed: its whole stdout as one JSON document (a list, or a summary holding
    "rows"), else the last stdout line that is one (a script may print progress before it), or None."""
    candidates = [text.strip()] + [line.strip() for line in reversed(text.strip().splitlines())]
    for line in candidates:
        if line.startswith(("[", "{")):
            try:
                value = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(value, dict) and isinstance(value.get("rows"), list):  # a summary holding the rows
                value = value["rows"]
            if isinstance(value, list):
                return value
    return None


def supports_json(bench_dir, script):
    """Whether a bench script has a --json option (its source mentions one)."""
    try:
        return '"--json"' in (bench_dir / script).read_text()
    except OSError:
        return False


def run_json_script(bench_dir, script, extra):
    """Rows from `script --json …`, run in a process of its own."""
    done = subprocess.run([sys.executable, str(bench_dir / script), "--json", *extra], capture_output=True, text=True,
                          env=_environment(), timeout=TIMEOUT_S[True] if "--quick" in extra else TIMEOUT_S[False],
                          cwd=str(bench_dir.parent))
    rows = _json_list(done.stdout) if done.returncode == 0 else None
    if rows is None:
        raise RuntimeError(f"exit status {done.returncode}: {_last_line(done.stderr or done.stdout)}")
    return rows


def run_rows_script(bench_dir, script, quick):
    """Rows from the script's bench_rows(quick), called in a process of its own, and, on a full run, also
    its --json rows when it has them (bench_beamformer.py's scaling in N against the previous build takes
    a minute even with --quick, so --quick keeps to bench_rows)."""
    rows = _bench_rows(bench_dir, script, quick)
    if not quick and supports_json(bench_dir, script):
        rows += run_json_script(bench_dir, script, [])
    return rows


def _bench_rows(bench_dir, script, quick):
    module = script[:-3]
    code = (f"import json, sys; sys.path.insert(0, {str(bench_dir)!r}); import {module} as b; "
            f"print({ROWS_PREFIX!r} + json.dumps(b.bench_rows(quick={bool(quick)})))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_environment(),
                          timeout=TIMEOUT_S[bool(quick)], cwd=str(bench_dir.parent))
    for line in done.stdout.splitlines():
        if line.startswith(ROWS_PREFIX):
            return json.loads(line[len(ROWS_PREFIX):])
    raise RuntimeError(f"exit status {done.returncode}: {_last_line(done.stderr or done.stdout)}")


def run_phy(bench_dir, quick):
    """bench_phy.py's --json rows: each block against its C++ chain and the radio's rate."""
    return run_json_script(bench_dir, "bench_phy.py", ["--samples", str(PHY_SAMPLES[bool(quick)])])


def finish_row(row, source):
    """The row with the --json contract's keys, from either kind of script row: new rows carry name, anchor,
    anchor_value (and ratio); old ones a figure and a target, which is then their anchor (a fixed figure, not
    measured in the run: the anchor's name says "target"). Adds meets (by the goal: 'max' a ceiling, 'min' a
    floor, against the target), figure (= name, the old key) and source."""
    value, target, goal = row.get("value"), row.get("target"), row.get("goal")
    name = row.get("name") or row.get("figure") or "?"
    anchor, anchor_value = row.get("anchor"), row.get("anchor_value")
    if anchor is None and anchor_value is None and target is not None:
        anchor = f"target ({'≤' if goal == 'max' else '≥' if goal == 'min' else ''} {target:g} {row.get('unit', '')})".replace("( ", "(")
        anchor_value = target
    ratio = row.get("ratio")
    if ratio is None and value is not None and anchor_value:
        ratio = value / anchor_value
    to_target = value / target if value is not None and target else None
    meets = None if to_target is None or goal not in ("min", "max") else (to_target <= 1 if goal == "max" else to_target >= 1)
    return dict(row, name=name, figure=name, value=value, unit=row.get("unit", ""), anchor=anchor,
                anchor_value=anchor_value, ratio=ratio, target=target, goal=goal, meets=meets, source=source)


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
            found = [{"name": f"{script} failed: {exc}", "value": None, "unit": "", "anchor": None, "anchor_value": None,
                      "ratio": None, "target": None, "goal": None}]
        if progress:
            progress(f"disac bench: {script} done in {time.monotonic() - started:.0f} s")
        rows += [finish_row(row, script) for row in found]
    return rows, failures


def _number(value):
    return "-" if value is None else f"{value:.4g}"


def format_table(rows):
    width = max([len("figure")] + [len(r["name"]) for r in rows])
    out = [f"{'figure':{width}}  {'value':>10} {'unit':9} {'anchor value':>12} {'ratio':>7} {'meets':5}  anchor; source"]
    for r in rows:
        meets = {True: "yes", False: "NO", None: "-"}[r["meets"]]
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.3g}"
        out.append(f"{r['name']:{width}}  {_number(r['value']):>10} {r['unit']:9} {_number(r['anchor_value']):>12} "
                   f"{ratio:>7} {meets:5}  {r['anchor'] or '-'}; {r['source']}")
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
    elapsed_s = time.monotonic() - started
    if args.json:  # a list of rows (the contract); the run's circumstances as extra keys of every row
        print_json([dict(row, quick=bool(args.quick), cpus=os.cpu_count(), load_average_before=load_before[0],
                         load_average_after=load_after[0]) for row in rows])
    else:
        print(f"gr-disac benchmarks{' (--quick)' if args.quick else ''}: {os.cpu_count()} CPUs, load average "
              f"{load_before[0]:.2f} before, {load_after[0]:.2f} after, {elapsed_s:.0f} s; times are wall "
              "times on a possibly shared machine; ratio = value / anchor value")
        print(format_table(rows))
    return 1 if failures else 0
