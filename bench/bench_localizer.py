# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Localisation latency per frame (issue 6 benchmark): the ML localiser on one core.

Prints milliseconds per frame (median and minimum over the frames) for the paper scenario (N = 2, Mr = 16,
L = 16, K = 2) and for a 4-node, 3-target variant, with noise at the scenario's target SNR and random
unit-power frames. Construction of the Localizer (the grid's steering vectors, done once per deployment)
is timed separately. Run single-threaded for a one-core figure:

    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/bench_localizer.py [--frames 50]
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

import numpy as np  # noqa: E402

from disac.core import localizer, model, scenario  # noqa: E402

FOUR_NODES_M = [[-141.4, 141.4], [-141.4, -141.4], [141.4, 141.4], [141.4, -141.4]]
THREE_TARGETS_M = [[-65.0, 25.0], [50.0, 5.0], [10.0, -80.0]]


def scenarios():
    paper = scenario.load_scenario("paper")
    four = paper.replace(node_positions_m=FOUR_NODES_M, target_positions_m=THREE_TARGETS_M)
    return [("paper (N=2, K=2)", paper), ("N=4, K=3", four)]


def run(scn, frames, seed, grid_step_m=None):
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    loc = localizer.Localizer.from_scenario(scn, grid_step_m=grid_step_m)
    build_ms = 1e3 * (time.perf_counter() - t0)
    n, mt, nsub, nsym = scn.num_nodes, scn.tx_antennas, scn.subcarriers, scn.symbols_per_frame
    times, errors = [], []
    for _ in range(frames):
        x = (rng.standard_normal((n, mt, nsub, nsym)) + 1j * rng.standard_normal((n, mt, nsub, nsym))) / np.sqrt(2)
        b = scn.target_amplitude * np.exp(2j * np.pi * rng.random((n, n, scn.num_targets)))
        y = model.sensing_mean(scn.target_angles_rad(), scn.target_delays_s(), b, x, scn.rx_antennas,
                               scn.bandwidth_hz)
        y = y + np.sqrt(scn.noise_power / 2) * (rng.standard_normal(y.shape) + 1j * rng.standard_normal(y.shape))
        t0 = time.perf_counter()
        result = loc.localize(y, x, scn.num_targets)
        times.append(1e3 * (time.perf_counter() - t0))
        # match estimates to targets (the localiser orders them by discovery)
        d = np.linalg.norm(result.positions_m[:, None] - scn.target_positions_m[None], axis=-1)
        errors.append(np.max(np.min(d, axis=0)))
    return build_ms, len(loc.grid_m), np.array(times), np.array(errors)


TARGET_MS_PER_FRAME = 20.0  # issue 6: ≤ 20 ms per frame on one core


def bench_rows(quick=False, seed=1):
    """The figures of this benchmark as rows for `disac bench` (dicts: figure, value, unit, target, goal)."""
    frames = 10 if quick else 50
    rows = []
    for name, scn in scenarios():
        _, _, times, _ = run(scn, frames, seed)
        rows.append({"figure": f"ML localiser latency, {name}, median of {frames} frames", "value": float(np.median(times)),
                     "unit": "ms/frame", "target": TARGET_MS_PER_FRAME, "goal": "max"})
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--grid-step-m", type=float, default=None, help="default: the Localizer's c/(4B)")
    args = parser.parse_args()
    print(f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}, {args.frames} frames each, "
          "target SNR 0 dB (paper definition), random unit-power frames")
    print(f"{'scenario':18} {'grid pts':>8} {'build ms':>9} {'median ms':>10} {'min ms':>8} {'max ms':>8} "
          f"{'worst err m (median)':>21} {'frames err > 5 m':>17}")
    for name, scn in scenarios():
        build_ms, points, times, errors = run(scn, args.frames, args.seed, args.grid_step_m)
        print(f"{name:18} {points:8d} {build_ms:9.1f} {np.median(times):10.2f} {times.min():8.2f} "
              f"{times.max():8.2f} {np.median(errors):21.3f} {np.sum(errors > 5):17d}")


if __name__ == "__main__":
    main()
