#!/usr/bin/env python3
# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""isac_tx / node_rx work() rate with and without a calibration (issue 13), side by side in one process, on
bench/bench_phy.py's harness (null sources, 64k buffers, the block's own CPU time): MS/s per antenna, best of
``--repeat`` runs, for L = 16 (the paper) and 64. The calibration gives the benchmarked node 0 a non-zero CFO
(outside the estimator's gauge cfo_hz[0] = 0, on purpose: the worst case, the CFO corrections being the only
per-sample work a calibration adds; gains and delays are folded into the precoders and the snapshot factor). Not a test: run it and read the figures (and the load).

    .venv/bin/python bench/bench_calibration.py [--samples 2000000] [--repeat 3] [--root DIR]

``--root`` runs another checkout's blocks (e.g. the tree before the change: git archive … | tar -x -C DIR)
without the calibration, for a before/after comparison.
"""

import argparse
import functools
import json
import os
import sys

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--root", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    args = parser.parse_args(argv)
    sys.path.insert(0, os.path.join(args.root, "bench"))
    sys.path.insert(0, args.root)
    import bench_phy as b
    import numpy as np
    from gnuradio.disac.core.scenario import load_scenario

    plain_rx, plain_tx = b.node_rx, b.isac_tx
    out = {"load_average": open("/proc/loadavg").read().split()[:3]}
    for L, cp in ((16, 20), (64, 24)):
        s = load_scenario("paper").replace(subcarriers=L, cyclic_prefix=cp)
        modes = [("plain", None)]
        try:
            from gnuradio.disac.core.calibration import Calibration

            rng = np.random.default_rng(0)
            n = s.num_nodes
            cal = Calibration(rx_gains=np.exp(1j * rng.uniform(0, 6, (n, s.rx_antennas))),
                              tx_gains=np.exp(1j * rng.uniform(0, 6, (n, s.tx_antennas))),
                              rx_delay_samples=np.array([100.3, 60.7]), tx_delay_samples=np.array([0.0, 0.4]),
                              cfo_hz=np.array([3.0, -5.0]), sample_rate_hz=s.bandwidth_hz)
            modes.append(("calibrated", cal))
        except ImportError:  # a checkout before issue 13
            pass
        for mode, cal in modes:
            b.node_rx = plain_rx if cal is None else functools.partial(plain_rx, calibration=cal)
            b.isac_tx = plain_tx if cal is None else functools.partial(plain_tx, calibration=cal)
            for name, run in (("isac_tx", lambda: b.bench_tx(s, args.samples)),
                              ("node_rx_1", lambda: b.bench_rx(s, args.samples)),
                              ("node_rx_64", lambda: b.bench_rx(s, args.samples, 64))):
                best = 0.0
                for _ in range(args.repeat):
                    count, _, _, work = run()
                    best = max(best, count / work / 1e6)
                out[f"{name}_L{L}_{mode}_MSps"] = round(best, 2)
    out["load_average_after"] = open("/proc/loadavg").read().split()[:3]
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
