#!/usr/bin/env python3
"""Throughput of the gr-disac PHY blocks, samples per second per antenna, on one core (issue 5 benchmark).

Each block runs alone in a flowgraph with null sources/sinks (the node receiver gets its frame tags from a
tags_strobe on input 0), pinned to one CPU core, for L = 16 (the paper) and L = 64, and the table shows the
ratio to the 10 MS/s a radio delivers at the paper's 10 MHz. Not a test: run it and read the table.

    .venv/bin/python bench/bench_phy.py [--seconds 2] [--core 0]
"""

import argparse
import os
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # DESIGN.md §7: one BLAS thread helps Python blocks

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import conftest  # noqa: E402,F401  (gnuradio.disac from this source tree)

import numpy as np  # noqa: E402
from gnuradio import blocks, gr  # noqa: E402

from gnuradio.disac import tags  # noqa: E402
from gnuradio.disac.comm_channel import comm_channel  # noqa: E402
from gnuradio.disac.core import ofdm  # noqa: E402
from gnuradio.disac.core.scenario import load_scenario  # noqa: E402
from gnuradio.disac.isac_tx import isac_tx  # noqa: E402
from gnuradio.disac.node_rx import node_rx  # noqa: E402
from gnuradio.disac.sensing_channel import sensing_channel  # noqa: E402

RADIO_RATE_S = 10e6  # samples/s per antenna of a radio at the paper's 10 MHz


def timed(tb):
    start = time.perf_counter()
    tb.run()
    return time.perf_counter() - start


def bench_tx(scenario, samples):
    layout = ofdm.layout_from_scenario(scenario)
    frames = max(1, samples // layout.frame_len)
    tb = gr.top_block()
    tx = isac_tx(scenario, 0, 0, None, None, frames)
    sinks = [blocks.null_sink(gr.sizeof_gr_complex) for _ in range(scenario.tx_antennas)]
    for i, sink in enumerate(sinks):
        tb.connect((tx, i), sink)
    return frames * layout.frame_len / timed(tb)


def bench_rx(scenario, samples):
    layout = ofdm.layout_from_scenario(scenario)
    count = (samples // layout.frame_len) * layout.frame_len
    tb = gr.top_block()
    rx = node_rx(scenario, 0)
    strobe = blocks.tags_strobe(gr.sizeof_gr_complex, tags.frame_tag_value(0, 0, 0), layout.frame_len,
                                tags.frame_tag_key())
    sources = [strobe] + [blocks.null_source(gr.sizeof_gr_complex) for _ in range(scenario.rx_antennas - 1)]
    heads = [blocks.head(gr.sizeof_gr_complex, count) for _ in sources]
    for r, (source, head) in enumerate(zip(sources, heads)):
        tb.connect(source, head, (rx, r))
    elapsed = timed(tb)
    if rx.frames_received < count // layout.frame_len - 1:
        raise RuntimeError(f"node_rx got {rx.frames_received} frames of {count // layout.frame_len}")
    return count / elapsed


def bench_channel(make, inputs, outputs, samples, symbol_len):
    count = (samples // symbol_len) * symbol_len
    tb = gr.top_block()
    block = make()
    sources = [blocks.null_source(gr.sizeof_gr_complex) for _ in range(inputs)]
    heads = [blocks.head(gr.sizeof_gr_complex, count) for _ in range(inputs)]
    sinks = [blocks.null_sink(gr.sizeof_gr_complex) for _ in range(outputs)]
    for i in range(inputs):
        tb.connect(sources[i], heads[i], (block, i))
    for o in range(outputs):
        tb.connect((block, o), sinks[o])
    return count / timed(tb)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2_000_000, help="samples per antenna per run")
    parser.add_argument("--core", type=int, default=0, help="CPU core to pin the flowgraphs to")
    args = parser.parse_args(argv)
    os.sched_setaffinity(0, {args.core})  # every thread of the flowgraph on one core
    gr.logging().set_default_level(gr.log_levels.warn)
    paper = load_scenario("paper")
    rows = []
    for subcarriers in (16, 64):
        s = paper.replace(subcarriers=subcarriers)
        lay = ofdm.layout_from_scenario(s)
        n_in = s.num_nodes * s.tx_antennas
        rows.append((f"isac_tx (Mt={s.tx_antennas})", subcarriers, bench_tx(s, args.samples)))
        rows.append((f"node_rx (Mr={s.rx_antennas})", subcarriers, bench_rx(s, args.samples)))
        rows.append((f"sensing_channel ({n_in}->{s.rx_antennas}, K={s.num_targets})", subcarriers,
                     bench_channel(lambda: sensing_channel(s, 0, 0, True), n_in, s.rx_antennas, args.samples // 4,
                                   lay.symbol_len)))
        rows.append((f"comm_channel ({n_in}->{s.num_users})", subcarriers,
                     bench_channel(lambda: comm_channel(s, 0, True), n_in, s.num_users, args.samples // 2,
                                   lay.symbol_len)))
    print(f"gr-disac PHY throughput, one core (core {args.core}), samples/s per antenna; "
          f"baseline {RADIO_RATE_S / 1e6:g} MS/s (a radio at 10 MHz)")
    print(f"{'block':40s} {'L':>4s} {'MS/s':>8s} {'x 10 MS/s':>10s}")
    for name, subcarriers, rate in rows:
        print(f"{name:40s} {subcarriers:4d} {rate / 1e6:8.2f} {rate / RADIO_RATE_S:10.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
