# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Localisation latency per frame (issue 6, issue 16 item 3): the ML localiser's full search on one core, the fast
search against the reference (the search before issue 16) on the same frames in the same run.

For the paper scenario (N = 2, Mt = 6, Mr = 16, L = 16, P = 1, K = 2) and the four-nodes preset (N = 4, Mt = 8,
P = 2, K = 3): random unit-power frames, the targets' echoes with random phases (eq. 3) and noise at the scenario's
target SNR (0 dB unless --snr-db). Every frame is localised by Localizer.localize with search_method "reference"
(the anchor), "full" (the same grid points, faster code) and "fast" (the default: coarse-to-fine start), in an
order that rotates from frame to frame so that the machine's load falls on all alike. Printed per method:
milliseconds per frame (wall: median, 90th percentile, minimum; CPU: median), MSE over the conditional CRB
(the frame's own FIM, eq. 10–13, given its X and b; summed over targets, averaged over frames), frames with an
error above 5 m, and the largest difference of each method's estimates from the reference's. Construction of the
Localizer (the grid's steering vectors, once per deployment) is timed separately. Run single-threaded for a
one-core figure, and read the load average printed beside it:

    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/bench_localizer.py [--frames 50] [--snr-db 0]
"""

import argparse
import dataclasses
import itertools
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

import numpy as np  # noqa: E402

from disac.core import fim, localizer, model, scenario, trial_stats  # noqa: E402

METHODS = ("reference", "full", "fast")
ANCHOR = "reference search (search_method 'reference', before issue 16): same frames, same run"
TARGET_MS_PER_FRAME = {"paper": 10.0, "four-nodes": 40.0}  # issue 16 item 3 (issue 6 asked ≤ 20 ms)
ERROR_GATE_M = 5.0


def scenarios(snr_db=None):
    out = []
    for name in ("paper", "four-nodes"):
        scn = scenario.load_scenario(name)
        if snr_db is not None:
            scn = trial_stats.scenario_at_snr(scn, snr_db)
        out.append((name, scn))
    return out


def _frames(scn, rng):
    n, mt, nsub, nsym = scn.num_nodes, scn.tx_antennas, scn.subcarriers, scn.symbols_per_frame
    x = (rng.standard_normal((n, mt, nsub, nsym)) + 1j * rng.standard_normal((n, mt, nsub, nsym))) / np.sqrt(2)
    b = scn.target_amplitude * np.exp(2j * np.pi * rng.random((n, n, scn.num_targets)))
    y = model.sensing_mean(scn.target_angles_rad(), scn.target_delays_s(), b, x, scn.rx_antennas, scn.bandwidth_hz)
    y = y + np.sqrt(scn.noise_power / 2) * (rng.standard_normal(y.shape) + 1j * rng.standard_normal(y.shape))
    return x, b, y


def conditional_crb_m2(scn, x, b):
    """Σ_k tr([F(Θ)⁻¹]_{xy,k}) of one frame: the FIM given its frames X and amplitudes b (eq. 10–13)."""
    geom = dataclasses.replace(fim.SensingGeometry.from_scenario(scn), amplitudes=b)
    f_theta = fim.theta_from_psi(fim.conditional_fim_psi(geom, x), fim.jacobian_theta(geom), scn.num_nodes,
                                 scn.num_targets)
    total, _ = fim.position_crb_from_fim_theta(f_theta, scn.num_targets)
    return np.nan if total is None else total


def squared_error_m2(estimate_m, truth_m):
    """Σ_k ‖q̂_k − q_k‖² with the estimates matched to the targets by the best permutation."""
    return min(float(np.sum((estimate_m[list(p)] - truth_m) ** 2)) for p in itertools.permutations(range(len(truth_m))))


def run(scn, frames, seed, grid_step_m=None, methods=METHODS, warmup=2):
    """Per method: build ms, grid points, wall and CPU ms per frame, squared errors, estimates; and the CRBs."""
    rng = np.random.default_rng(seed)
    out = {}
    for method in methods:
        t0 = time.perf_counter()
        loc = localizer.Localizer.from_scenario(scn, grid_step_m=grid_step_m, search_method=method)
        out[method] = {"loc": loc, "build_ms": 1e3 * (time.perf_counter() - t0), "wall": [], "cpu": [], "sq": [],
                       "positions": []}
    for _ in range(warmup):  # the first frames also pay for first-touch allocations
        x, _, y = _frames(scn, rng)
        for method in methods:
            out[method]["loc"].localize(y, x, scn.num_targets)
    crbs = []
    for f in range(frames):
        x, b, y = _frames(scn, rng)
        crbs.append(conditional_crb_m2(scn, x, b))
        order = methods[f % len(methods):] + methods[:f % len(methods)]
        for method in order:
            r = out[method]
            c0, t0 = time.process_time(), time.perf_counter()
            result = r["loc"].localize(y, x, scn.num_targets)
            r["wall"].append(1e3 * (time.perf_counter() - t0))
            r["cpu"].append(1e3 * (time.process_time() - c0))
            r["positions"].append(result.positions_m)
            r["sq"].append(squared_error_m2(result.positions_m, scn.target_positions_m))
    for r in out.values():
        for key in ("wall", "cpu", "sq"):
            r[key] = np.array(r[key])
        r["positions"] = np.array(r["positions"])
        r["grid_points"] = len(r.pop("loc").grid_m)
    return out, np.array(crbs)


def summary(out, crbs, reference="reference"):
    """Per method: median/p90/min wall ms, median CPU ms, MSE/CRB_cond, frames over the gate, largest |Δ| from the
    reference's estimates (m) and how many frames differ by more than 1e-6 m."""
    rows = {}
    ref = out[reference]["positions"]
    for method, r in out.items():
        gap = np.max(np.abs(r["positions"] - ref), axis=(1, 2))
        rows[method] = {"grid_points": r["grid_points"], "build_ms": r["build_ms"],
                        "median_ms": float(np.median(r["wall"])), "p90_ms": float(np.percentile(r["wall"], 90)),
                        "min_ms": float(np.min(r["wall"])), "cpu_median_ms": float(np.median(r["cpu"])),
                        "mse_over_crb": float(np.mean(r["sq"]) / np.nanmean(crbs)),
                        "over_gate": int(np.sum(np.sqrt(r["sq"]) > ERROR_GATE_M)),
                        "max_gap_m": float(np.max(gap)), "frames_differ": int(np.sum(gap > 1e-6))}
    return rows


def bench_rows(quick=False, seed=1):
    """Rows for `disac bench` (name, value, unit, anchor, anchor_value, ratio, target, goal): per scenario the fast
    full search's median ms/frame against the reference search's on the same frames in the same run (the ratio),
    with issue 16's target. The MSE/CRB of both is in the script's table (main)."""
    frames = 10 if quick else 50
    labels = {"paper": "paper (N=2, K=2)", "four-nodes": "N=4, K=3 (four-nodes preset)"}
    rows = []
    for name, scn in scenarios():
        out, crbs = run(scn, frames, seed, methods=("reference", "fast"))
        s = summary(out, crbs)
        fast, ref = s["fast"], s["reference"]
        rows.append({"name": f"ML localiser full search, {labels[name]}, median of {frames} frames",
                     "value": fast["median_ms"], "unit": "ms/frame", "anchor": ANCHOR, "anchor_value": ref["median_ms"],
                     "ratio": fast["median_ms"] / ref["median_ms"], "target": TARGET_MS_PER_FRAME[name], "goal": "max"})
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--snr-db", type=float, default=None,
                        help="target SNR (paper's definition; default the scenario's)")
    parser.add_argument("--grid-step-m", type=float, default=None, help="default: the Localizer's c/(4B)")
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS),
                        help="search methods to run (default: all); the first is the anchor of '× ref' and 'max |Δ|'")
    args = parser.parse_args()
    methods = tuple(args.methods)
    print(f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}, {args.frames} frames each, "
          f"target SNR {'the scenario' if args.snr_db is None else format(args.snr_db, 'g')} dB (paper definition), "
          f"random unit-power frames; load average before: {open('/proc/loadavg').read().split()[:3]}")
    print(f"{'scenario':11} {'search':9} {'grid pts':>8} {'build ms':>8} {'median ms':>9} {'p90':>6} {'min':>6} "
          f"{'CPU med':>7} {'× ref':>6} {'MSE/CRB_c':>9} {'err>5m':>6} {'max |Δ| m':>9} {'Δ>1e-6':>6}")
    for name, scn in scenarios(args.snr_db):
        out, crbs = run(scn, args.frames, args.seed, args.grid_step_m, methods=methods)
        s = summary(out, crbs, reference=methods[0])
        for method, r in s.items():
            speedup = s[methods[0]]["median_ms"] / r["median_ms"]
            print(f"{name:11} {method:9} {r['grid_points']:8d} {r['build_ms']:8.1f} {r['median_ms']:9.2f} "
                  f"{r['p90_ms']:6.1f} {r['min_ms']:6.1f} {r['cpu_median_ms']:7.2f} {speedup:6.2f} "
                  f"{r['mse_over_crb']:9.3f} {r['over_gate']:6d} {r['max_gap_m']:9.1e} {r['frames_differ']:6d}",
                  flush=True)
    print(f"load average after: {open('/proc/loadavg').read().split()[:3]}")


if __name__ == "__main__":
    main()
