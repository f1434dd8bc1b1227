#!/usr/bin/env python3
"""Throughput of the gr-disac PHY blocks, samples per second per antenna, on one core (issue 5 benchmark).

Each block runs alone in a flowgraph with null sources/sinks (the node receiver gets its frame tags from a
tags_strobe on input 0 and its other inputs from one null source, all with 64k-sample buffers), pinned to
one CPU core, for L = 16 (the paper) and L = 64; node_rx with one frame per message (its default) and with
batched messages. The table gives three rates: the block's own work() CPU time (what the block costs; the
target column), the whole pinned flowgraph's CPU time (adds the scheduler, GNU Radio's Python gateway —
~10 µs per port per call — and the benchmark's sources/sinks), and wall-clock time (adds other processes
on a shared machine); the load average is printed. Not a test: run it and read the table.

    .venv/bin/python bench/bench_phy.py [--samples 2000000] [--core 0] [--subcarriers 16 64]
                                        [--blocks tx rx sensing comm] [--frames-per-message 1 64]
"""

import argparse
import os
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # DESIGN.md §7: one BLAS thread helps Python blocks

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import conftest  # noqa: E402,F401  (gnuradio.disac from this source tree)

from gnuradio import blocks, gr  # noqa: E402

from gnuradio.disac.blocks import tags  # noqa: E402
from gnuradio.disac.blocks.comm_channel import comm_channel  # noqa: E402
from gnuradio.disac.core import ofdm  # noqa: E402
from gnuradio.disac.core.scenario import load_scenario  # noqa: E402
from gnuradio.disac.blocks.isac_tx import isac_tx  # noqa: E402
from gnuradio.disac.blocks.node_rx import node_rx  # noqa: E402
from gnuradio.disac.blocks.sensing_channel import sensing_channel  # noqa: E402

RADIO_RATE_S = 10e6  # samples/s per antenna of a radio at the paper's 10 MHz
BATCH = 64  # the batched node_rx setting measured besides one frame per message
SOURCE_BUFFER_SAMPLES = 65536  # output buffers of the benchmark's sources (DESIGN.md §7: large buffers)


def timed_work(block):
    """Make ``block.work`` add its thread CPU time to ``block.work_seconds`` (the block's own cost, without
    the sources and sinks that feed it here)."""
    block.work_seconds = 0.0
    inner = block.work

    def work(input_items, output_items):
        begin = time.thread_time()
        produced = inner(input_items, output_items)
        block.work_seconds += time.thread_time() - begin
        return produced

    block.work = work
    return block


def timed(tb, block):
    """Run the flowgraph; (wall seconds, CPU seconds of this process, CPU seconds in the block's work).

    The flowgraph is pinned to one core, so process CPU seconds are the time that core spent on the whole
    flowgraph (block, sources, sinks, scheduler): samples per CPU second is the rate on a free core. On a
    shared, loaded machine wall time also counts the time other processes held the core.
    """
    wall, cpu = time.perf_counter(), time.process_time()
    tb.run()
    return time.perf_counter() - wall, time.process_time() - cpu, block.work_seconds


def bench_tx(scenario, samples):
    layout = ofdm.layout_from_scenario(scenario)
    frames = max(1, samples // layout.frame_len)
    tb = gr.top_block()
    tx = timed_work(isac_tx(scenario, 0, 0, None, None, frames))
    sinks = [blocks.null_sink(gr.sizeof_gr_complex) for _ in range(scenario.tx_antennas)]
    for i, sink in enumerate(sinks):
        tb.connect((tx, i), sink)
    return frames * layout.frame_len, timed(tb, tx)


def bench_rx(scenario, samples, frames_per_message=1):
    layout = ofdm.layout_from_scenario(scenario)
    count = (samples // layout.frame_len) * layout.frame_len
    tb = gr.top_block()
    options = {"frames_per_message": frames_per_message} if frames_per_message != 1 else {}  # (runs on older
    rx = timed_work(node_rx(scenario, 0, **options))  # node_rx too, for before/after tables)
    strobe = blocks.tags_strobe(gr.sizeof_gr_complex, tags.frame_tag_value(0, 0, 0), layout.frame_len,
                                tags.frame_tag_key())
    others = blocks.null_source(gr.sizeof_gr_complex)  # one source thread for inputs 1 … Mr−1
    # large buffers, as a sensing channel or a radio source has; a many-port null_source needs them per
    # port (set_min_output_buffer(size) reached port 0 only: node_rx then got 8192 samples per call)
    strobe.set_min_output_buffer(SOURCE_BUFFER_SAMPLES)
    for port in range(scenario.rx_antennas - 1):
        others.set_min_output_buffer(port, SOURCE_BUFFER_SAMPLES)
    tb.connect(strobe, (rx, 0))
    for r in range(1, scenario.rx_antennas):
        tb.connect((others, r - 1), (rx, r))
    frames = count // layout.frame_len
    wall, cpu = time.perf_counter(), time.process_time()
    tb.start()  # endless sources: run until node_rx has seen the frames
    deadline = wall + 120
    while rx.frames_received < frames and time.perf_counter() < deadline:
        time.sleep(0.005)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    tb.stop()
    tb.wait()
    if rx.frames_received < frames:
        raise RuntimeError(f"node_rx got {rx.frames_received} frames of {frames} in 120 s")
    count = rx.frames_received * layout.frame_len  # up to the moment the clocks were read (± one call)
    elapsed = (wall, cpu, rx.work_seconds)
    return count, elapsed


def bench_channel(make, inputs, outputs, samples, symbol_len):
    count = (samples // symbol_len) * symbol_len
    tb = gr.top_block()
    block = timed_work(make())
    sources = [blocks.null_source(gr.sizeof_gr_complex) for _ in range(inputs)]
    heads = [blocks.head(gr.sizeof_gr_complex, count) for _ in range(inputs)]
    sinks = [blocks.null_sink(gr.sizeof_gr_complex) for _ in range(outputs)]
    for i in range(inputs):
        tb.connect(sources[i], heads[i], (block, i))
    for o in range(outputs):
        tb.connect((block, o), sinks[o])
    for upstream in sources + heads:
        upstream.set_min_output_buffer(SOURCE_BUFFER_SAMPLES)
    return count, timed(tb, block)


def load():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2_000_000, help="samples per antenna per run")
    parser.add_argument("--core", type=int, default=0, help="CPU core to pin the flowgraphs to")
    parser.add_argument("--subcarriers", type=int, nargs="+", default=[16, 64], help="values of L")
    parser.add_argument("--blocks", nargs="+", default=["tx", "rx", "sensing", "comm"],
                        choices=["tx", "rx", "sensing", "comm"])
    parser.add_argument("--frames-per-message", type=int, nargs="+", default=[1, BATCH],
                        help="node_rx frames_per_message values to measure")
    args = parser.parse_args(argv)
    os.sched_setaffinity(0, {args.core})  # every thread of the flowgraph on one core
    gr.logging().set_default_level(gr.log_levels.warn)
    paper = load_scenario("paper")
    load_before = load()
    rows = []
    for subcarriers in args.subcarriers:
        s = paper.replace(subcarriers=subcarriers)
        lay = ofdm.layout_from_scenario(s)
        n_in = s.num_nodes * s.tx_antennas
        if "tx" in args.blocks:
            rows.append((f"isac_tx (Mt={s.tx_antennas})", subcarriers, *bench_tx(s, args.samples)))
        if "rx" in args.blocks:
            for fpm in args.frames_per_message:
                rows.append((f"node_rx (Mr={s.rx_antennas}, {fpm} frame/msg)", subcarriers,
                             *bench_rx(s, args.samples, fpm)))
        if "sensing" in args.blocks:
            rows.append((f"sensing_channel ({n_in}->{s.rx_antennas}, K={s.num_targets})", subcarriers,
                         *bench_channel(lambda: sensing_channel(s, 0, 0, True), n_in, s.rx_antennas,
                                        args.samples // 4, lay.symbol_len)))
        if "comm" in args.blocks:
            rows.append((f"comm_channel ({n_in}->{s.num_users})", subcarriers,
                         *bench_channel(lambda: comm_channel(s, 0, True), n_in, s.num_users, args.samples // 2,
                                        lay.symbol_len)))
    print(f"gr-disac PHY throughput on one core (core {args.core}), samples/s per antenna; target "
          f"{RADIO_RATE_S / 1e6:g} MS/s (a radio at the paper's 10 MHz). Load average before/after: {load_before} / "
          f"{load()} on {os.cpu_count()} cores.")
    print("  block: samples per CPU-second of the block's work() alone; flowgraph: per CPU-second of the whole\n"
          "  pinned flowgraph (with the benchmark's sources/sinks); wall: per wall-clock second (lower when\n"
          "  other processes share the core); ratio = block / 10 MS/s.")
    print(f"{'block':40s} {'L':>4s} {'block':>8s} {'flowgraph':>10s} {'wall':>8s} {'ratio':>6s}")
    for name, subcarriers, count, (wall, cpu, work) in rows:
        print(f"{name:40s} {subcarriers:4d} {count / work / 1e6:8.2f} {count / cpu / 1e6:10.2f} "
              f"{count / wall / 1e6:8.2f} {count / work / RADIO_RATE_S:6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
