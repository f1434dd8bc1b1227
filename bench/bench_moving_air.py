#!/usr/bin/env python3
# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Cost of issue 15's moving targets in the sensing channel (docs/air-model.md §6): samples per second of the sensing
channel block's work body (core SensingChannel.write_time, + the block's AWGN unless --no-noise), on one core, for
airs side by side in the same run:

  static           the paper scenario (today's air: 4 target paths through the constant-delay DelayLine)
  moving           the same with its targets at 1 and 10 m/s, 0.1 s between frames (every frame its own geometry)
  moving-lab       moving on "lab-sync" (clock offsets, latencies of 46–165 samples, direct paths, CFOs)

Each air runs ``--calls`` calls of ``--call-samples`` (the block's 64k-sample output buffer), interleaved round by
round so that a change of the machine's load hits every air alike; the figure is the median over rounds, the ratio
each air's rate over the static one's. Not a test (no speed assertions in tests): run it and read the table.

    .venv/bin/python bench/bench_moving_air.py [--rounds 5] [--calls 4] [--call-samples 65520] [--no-noise]
"""

import os
import sys

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # DESIGN.md §7

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import conftest  # noqa: E402,F401  (gnuradio.disac from this source tree)

from bench_air_interference import argument_parser, compare_airs  # noqa: E402  (this folder: sys.path[0])
from gnuradio.disac.core.scenario import load_scenario  # noqa: E402

VELOCITIES = [[0.6, -0.8], [-8.0, 6.0]]


def airs():
    paper = load_scenario("paper")
    moving = paper.replace(target_velocities_mps=VELOCITIES, frame_interval_setting_s=0.1)
    return {"static": paper, "moving": moving,
            "moving-lab": moving.with_impairments({"preset": "lab-sync", "cfo_hz": 5.0})}


def main():
    compare_airs(airs(), argument_parser(__doc__.split("\n\n")[0]).parse_args(), "static")


if __name__ == "__main__":
    main()
