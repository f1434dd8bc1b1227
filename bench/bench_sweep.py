# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark of `disac sweep` on Dask (issue 16 item 4): a Monte-Carlo of N trials serial and on a local cluster.

Issue 16's done-when: "A `disac sweep` of 1000 Monte-Carlo trials runs on a Dask local cluster and gives the
serial result". This runs, side by side in one invocation,

    disac sweep paper --snr-db 20 --precoders random --trials N --chunk-trials M --scheduler none --out A --json
    disac sweep paper --snr-db 20 --precoders random --trials N --chunk-trials M --scheduler local
                      --dask-workers W --out B --json

(each a process of its own, OPENBLAS_NUM_THREADS=1), and prints the wall times, their ratio, the load average
and how far the two results are apart: the per-trial estimates (max |Δ| in m), the squared errors and the
point statistics (max relative Δ), and whether seeds, chunks, frames and failure flags are identical. "The serial
result" means: identical seeds/chunks/frames/failures, and numbers within the chain's own run-to-run spread
(tests/test_sweep.py: ~1e-7 m, the float32 PHY cut into other work() calls).

    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/bench_sweep.py [--trials 1000] [--chunk-trials 125] [--workers 2]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RUN = ("import runpy, sys, gnuradio; "
       f"gnuradio.__path__.insert(0, {os.path.join(ROOT, 'python')!r}); "
       "runpy.run_module('gnuradio.disac.apps.cli', run_name='__main__', alter_sys=True)")


def run_sweep(out, trials, chunk_trials, scheduler, workers=None):
    command = [sys.executable, "-c", RUN, "sweep", "paper", "--snr-db", "20", "--precoders", "random",
               "--trials", str(trials), "--chunk-trials", str(chunk_trials), "--scheduler", scheduler,
               "--out", out, "--json", "--no-progress"] + (["--dask-workers", str(workers)] if workers else [])
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    started, cpu_before = time.perf_counter(), _children_cpu_s()
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env, timeout=7200)
    wall_s = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"disac sweep --scheduler {scheduler} failed: {done.stderr[-2000:]}")
    result = json.loads(done.stdout)
    result["cpu_s"] = _children_cpu_s() - cpu_before  # the command and the processes it waited for (its workers)
    return result, wall_s


def _children_cpu_s():
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def compare(serial_dir, cluster_dir):
    """(identical: bool for the integer/flag columns, max |Δ| in m of the estimates and the per-trial errors,
    max relative Δ of the points' statistics)."""
    import numpy as np
    import pyarrow.parquet as pq

    identical, worst_m, worst_rel = True, 0.0, 0.0
    for name in ("points", "trials"):
        a = pq.read_table(os.path.join(serial_dir, f"{name}.parquet")).to_pydict()
        b = pq.read_table(os.path.join(cluster_dir, f"{name}.parquet")).to_pydict()
        for column in a:
            if column == "elapsed_s":
                continue
            if column == "estimates_m":
                x = np.array([json.loads(v) for v in a[column]])
                y = np.array([json.loads(v) for v in b[column]])
                worst_m = max(worst_m, float(np.max(np.abs(x - y))))
            elif column in ("squared_error_m2", "max_target_error_m"):  # per trial: as a distance (m)
                power = 0.5 if column == "squared_error_m2" else 1.0
                x, y = np.power(np.array(a[column], float), power), np.power(np.array(b[column], float), power)
                worst_m = max(worst_m, float(np.nanmax(np.abs(x - y))))
            elif a[column] and isinstance(a[column][0], float):
                x, y = np.array(a[column], float), np.array(b[column], float)
                scale = np.maximum(np.abs(x), 1e-300)
                worst_rel = max(worst_rel, float(np.nanmax(np.abs(x - y) / scale)))
            else:
                identical = identical and a[column] == b[column]
    return identical, worst_m, worst_rel


def measure(trials, chunk_trials, workers):
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
        load_before = os.getloadavg()
        serial, serial_s = run_sweep(os.path.join(tmp, "serial"), trials, chunk_trials, "none")
        cluster, cluster_s = run_sweep(os.path.join(tmp, "cluster"), trials, chunk_trials, "local", workers)
        identical, worst_m, worst_rel = compare(os.path.join(tmp, "serial"), os.path.join(tmp, "cluster"))
        return {"trials": trials, "chunk_trials": chunk_trials, "workers": cluster["dask_workers"],
                "serial_s": serial_s, "cluster_s": cluster_s, "speedup": serial_s / cluster_s,
                "serial_cpu_s": serial["cpu_s"], "cluster_cpu_s": cluster["cpu_s"],
                "identical_seeds_chunks_flags": identical, "max_estimate_difference_m": worst_m,
                "max_relative_difference": worst_rel, "mse_m2_serial": serial["points"][0]["mse_m2"],
                "mse_m2_cluster": cluster["points"][0]["mse_m2"], "load_average_before": list(load_before),
                "load_average_after": list(os.getloadavg())}


def bench_rows(quick=False):
    """Rows for `disac bench`: the cluster's wall time against the serial run's (the anchor), same trials."""
    trials, chunk = (200, 50) if quick else (1000, 125)
    r = measure(trials, chunk, 2)
    return [{"name": f"disac sweep wall time, {trials} trials on a Dask local cluster of {r['workers']} workers",
             "value": r["cluster_s"], "unit": "s", "anchor": "the same sweep with --scheduler none",
             "anchor_value": r["serial_s"], "ratio": r["cluster_s"] / r["serial_s"]}]  # value / anchor, as disac bench


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--chunk-trials", type=int, default=125)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()
    r = measure(args.trials, args.chunk_trials, args.workers)
    if args.json:
        print(json.dumps(r))
        return
    print(f"disac sweep paper --snr-db 20 --precoders random --trials {r['trials']} --chunk-trials {r['chunk_trials']}")
    print(f"  serial (--scheduler none)             {r['serial_s']:8.1f} s wall, {r['serial_cpu_s']:8.1f} s CPU   "
          f"MSE {r['mse_m2_serial']:.9g} m²")
    print(f"  local cluster ({r['workers']} worker processes)   {r['cluster_s']:8.1f} s wall, {r['cluster_cpu_s']:8.1f} s CPU   "
          f"MSE {r['mse_m2_cluster']:.9g} m²")
    print(f"  speed-up {r['speedup']:.2f}×; seeds, chunks, frames, failures identical: "
          f"{r['identical_seeds_chunks_flags']}; max |Δ estimate| {r['max_estimate_difference_m']:.2e} m, "
          f"max relative Δ {r['max_relative_difference']:.2e}")
    print(f"  load average before {r['load_average_before']}, after {r['load_average_after']}")


if __name__ == "__main__":
    main()
