#!/usr/bin/env python3
# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Redraw cost of the live map (disac_live_map), headless: a full draw (axes, ticks, layout: what every
refresh cost before blitting) against a live refresh (blit of the estimates, tracks, ellipses and titles
over the cached background), side by side in one run, after each of --frames synthetic estimates.

    OPENBLAS_NUM_THREADS=1 /work/main/.venv/bin/python bench/bench_live_map.py [--frames 60] [--scenario paper]

Prints the median and 90th percentile of each (ms), their ratio and the load average. Timings on a shared
machine are noisy: compare the ratio, not the absolute figures.
"""

import argparse
import os
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--scenario", default="paper")
    parser.add_argument("--history-frames", type=int, default=50)
    args = parser.parse_args()
    import gnuradio

    gnuradio.__path__.insert(0, os.path.join(ROOT, "python"))
    from PyQt5 import QtWidgets

    app = QtWidgets.QApplication(["bench_live_map"])
    import numpy as np

    from gnuradio.disac.blocks.central_unit import estimate_to_pmt
    from gnuradio.disac.blocks.live_map import live_map
    from gnuradio.disac.core import fusion

    block = live_map(args.scenario, history_frames=args.history_frames)
    s = block.model.scenario
    widget = block.widget()
    widget.resize(1500, 950)
    widget.show()
    app.processEvents()
    block.refresh(force=True)
    rng = np.random.default_rng(0)
    cov = block.model.snapshot()["covariances_m2"]
    full, live = [], []
    for f in range(args.frames):
        positions = np.array([rng.multivariate_normal(s.target_positions_m[k], cov[k]) for k in range(s.num_targets)])
        block.handle_estimate(estimate_to_pmt(fusion.Estimate(f, 0, positions, np.trace(cov, axis1=1, axis2=2), 1.0,
                                                              tuple(range(s.num_nodes)), True, True), s.num_nodes))
        started = time.perf_counter()
        block.refresh()  # the live path (a full draw only if a zoom's limits moved)
        live.append(time.perf_counter() - started)
        started = time.perf_counter()
        block.refresh(force=True)  # the full draw, same picture
        full.append(time.perf_counter() - started)
        app.processEvents()
    full_ms, live_ms = 1e3 * np.array(full[5:]), 1e3 * np.array(live[5:])  # the first frames move the zoom limits
    print(f"live map redraw, {args.scenario}, {s.num_targets} targets, {args.history_frames} frames drawn, 1500x950, "
          f"{len(full_ms)} refreshes each:")
    print(f"  full draw     median {np.median(full_ms):7.1f} ms   p90 {np.percentile(full_ms, 90):7.1f} ms")
    print(f"  live (blit)   median {np.median(live_ms):7.1f} ms   p90 {np.percentile(live_ms, 90):7.1f} ms")
    print(f"  ratio full/live (medians) {np.median(full_ms) / np.median(live_ms):.1f}")
    with open("/proc/loadavg") as handle:
        print(f"  load average {handle.read().split()[:3]}")


if __name__ == "__main__":
    main()
