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

import argparse
import os
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # DESIGN.md §7

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import conftest  # noqa: E402,F401  (gnuradio.disac from this source tree)

import numpy as np  # noqa: E402

from gnuradio.disac.core import channels, ofdm  # noqa: E402
from gnuradio.disac.core.scenario import load_scenario  # noqa: E402

VELOCITIES = [[0.6, -0.8], [-8.0, 6.0]]


def airs():
    paper = load_scenario("paper")
    moving = paper.replace(target_velocities_mps=VELOCITIES, frame_interval_setting_s=0.1)
    return {"static": paper, "moving": moving,
            "moving-lab": moving.with_impairments({"preset": "lab-sync", "cfo_hz": 5.0})}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=4)
    parser.add_argument("--call-samples", type=int, default=65520, help="rounded down to whole symbols")
    parser.add_argument("--no-noise", action="store_true", help="the model alone (the loopback's noiseless channels)")
    args = parser.parse_args()
    scenarios = airs()
    paper = scenarios["static"]
    lay = ofdm.layout_from_scenario(paper)
    count = (args.call_samples // lay.symbol_len) * lay.symbol_len
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((paper.num_nodes * paper.tx_antennas, count))
         + 1j * rng.standard_normal((paper.num_nodes * paper.tx_antennas, count))).astype(np.complex64)
    runs = {}
    for name, s in scenarios.items():
        channel = channels.SensingChannel(s, 0, 1)
        outputs = list(np.zeros((s.rx_antennas, count), dtype=np.complex64))
        runs[name] = (s, channel, outputs, channels.noise_rng(1, "sensing", 0),
                      np.empty(2 * count * s.rx_antennas, np.float32), [], [0])
    for _ in range(args.rounds):
        for name, (s, channel, outputs, noise_rng, buffer, rates, position) in runs.items():
            start = time.process_time()
            for _ in range(args.calls):
                channel.write_time(x, position[0], outputs)
                position[0] += count
                if not args.no_noise:
                    noise = channels.awgn(noise_rng, count, len(outputs), s.noise_power, buffer)
                    for index, out in enumerate(outputs):
                        out += noise[index]
            rates.append(args.calls * count / (time.process_time() - start))
    with open("/proc/loadavg", encoding="ascii") as handle:
        load = handle.read().split()[:3]
    static = np.median(runs["static"][5])
    print(f"sensing channel into node 0 of the paper scenario, {count}-sample calls, noise "
          f"{'off' if args.no_noise else 'on'}, {args.rounds} rounds; load average {' '.join(load)}")
    print(f"{'air':<11} {'paths':>5} {'MS/s per antenna':>17} {'ratio to static':>16}")
    for name, (s, channel, *_rest) in runs.items():
        rate = np.median(_rest[3])
        print(f"{name:<11} {channel.paths.count:>5} {rate / 1e6:>17.3f} {rate / static:>16.3f}")
    print("(MS/s per antenna: output samples of each of the Mr streams per CPU-second of the work body)")


if __name__ == "__main__":
    main()
