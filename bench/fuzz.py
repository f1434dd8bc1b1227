#!/usr/bin/env python3
# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fuzzing benchmark (issue 8): at least 100 000 hostile inputs to the wire decoder and every message
handler, with allocation tracing; prints one row per target and the totals.

    .venv/bin/python bench/fuzz.py [--per-target 12500] [--seed 1] [--no-trace]
"""

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, ".."), os.path.join(HERE, "..", "tests")]
import conftest  # noqa: E402,F401  (gnuradio.disac from this source tree)
import fuzz_harness  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-target", type=int, default=12_500, help="inputs per target (8 targets)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-trace", action="store_true", help="skip tracemalloc (3x faster)")
    args = parser.parse_args()
    started = time.perf_counter()
    results = fuzz_harness.run(args.per_target, seed=args.seed, trace_allocations=not args.no_trace)
    print(f"{'target':32s} {'inputs':>8s} {'crashes':>8s} {'>bound':>7s} {'largest alloc':>14s} {'inputs/s':>9s}")
    for name, stats in results.items():
        print(f"{name:32s} {stats.inputs:8d} {stats.crashes:8d} {stats.big_allocations:7d} "
              f"{stats.largest_allocation_bytes / 1024:11.1f} KiB {stats.inputs / stats.seconds:9.0f}")
        if stats.first_crash:
            print(f"    first crash: {stats.first_crash}")
    total = sum(s.inputs for s in results.values())
    crashes = sum(s.crashes for s in results.values())
    big = sum(s.big_allocations for s in results.values())
    print(f"{'total':32s} {total:8d} {crashes:8d} {big:7d}   ({time.perf_counter() - started:.0f} s, seed {args.seed})")
    return 1 if crashes or big else 0


if __name__ == "__main__":
    sys.exit(main())
