#!/usr/bin/env python3
# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Cost of issue 14's air in the sensing channel (docs/air-model.md §5): samples per second of the sensing channel
block's work body (core SensingChannel.write_time + the block's AWGN, as blocks/_channel.run_channel does), on one
core, for airs side by side in the same run:

  ideal            the paper scenario, no [impairments] (today's air: 4 target paths)
  issue13          "lab-sync": clock offsets, latencies, direct paths at direct_path_snr_db (issue 13's lab air, 5 paths)
  clutter50        issue13 + 50 clutter scatterers, a tenth beyond the CP (100 more point paths into each node)
  lab              the whole "lab" preset (issue 13 + 14: free-space direct path, 50 clutter, 40 dB isolation)

Each air runs ``--calls`` calls of ``--call-samples`` (the block's 64k-sample output buffer), interleaved round by
round so that a change of the machine's load hits every air alike; the figure is the median over rounds. The
ratio is each air's rate over the ideal's: what issue 14 costs a live synthetic node.

Not a test (no speed assertions in tests): run it and read the table.

    .venv/bin/python bench/bench_air_interference.py [--rounds 5] [--calls 4] [--call-samples 65520] [--no-noise]
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

AIRS = {
    "ideal": None,
    "issue13": {"preset": "lab-sync"},
    "clutter50": {"preset": "lab-sync", "clutter_scatterers": 50, "clutter_beyond_cp_fraction": 0.1},
    "lab": {"preset": "lab"},
}


def argument_parser(description):
    """The options of this benchmark and of bench_moving_air.py (which measures its airs with compare_airs)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=4)
    parser.add_argument("--call-samples", type=int, default=65520, help="rounded down to whole symbols")
    parser.add_argument("--no-noise", action="store_true", help="the model alone (the loopback's noiseless channels)")
    return parser


def compare_airs(scenarios, args, reference):
    """Print each air's sensing-channel rate (module docstring) and its ratio to the ``reference`` air's; scenarios:
    {name: Scenario} of one node and antenna count (the inputs are drawn once for all of them)."""
    first = next(iter(scenarios.values()))
    lay = ofdm.layout_from_scenario(first)
    count = (args.call_samples // lay.symbol_len) * lay.symbol_len
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((first.num_nodes * first.tx_antennas, count))
         + 1j * rng.standard_normal((first.num_nodes * first.tx_antennas, count))).astype(np.complex64)
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
    base = np.median(runs[reference][5])
    width = max(len(name) for name in runs) + 1
    print(f"sensing channel into node 0 of the {first.name} scenario, {count}-sample calls, noise "
          f"{'off' if args.no_noise else 'on'}, {args.rounds} rounds; load average {' '.join(load)}")
    print(f"{'air':<{width}} {'paths':>5} {'MS/s per antenna':>17} {'ratio to ' + reference:>{10 + len(reference)}}")
    for name, (s, channel, *_rest) in runs.items():
        rate = np.median(_rest[3])
        print(f"{name:<{width}} {channel.paths.count:>5} {rate / 1e6:>17.3f} {rate / base:>{10 + len(reference)}.3f}")
    print("(MS/s per antenna: output samples of each of the Mr streams per CPU-second of the work body)")


def main():
    args = argument_parser(__doc__.split("\n\n")[0]).parse_args()
    paper = load_scenario("paper")
    compare_airs({name: paper if table is None else paper.with_impairments(table) for name, table in AIRS.items()},
                 args, "ideal")


if __name__ == "__main__":
    main()
