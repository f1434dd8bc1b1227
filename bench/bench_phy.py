#!/usr/bin/env python3
# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Throughput of the gr-disac PHY blocks, samples per second per antenna on one core, each against a GNU Radio
C++ chain doing comparable work measured in the same run (issue 16 benchmark; issue 5 before it).

Each block runs alone in a flowgraph with null sources and sinks (64k-sample buffers), every thread pinned to
one CPU core, for L = 16 (the paper) and L = 64. Three rates per block:
  block      samples per antenna per CPU-second of the block's own work() (what the block costs; held to the
             radio's rate: 20 MS/s for the node-side blocks isac_tx and node_rx — a radio at 20 MHz — and
             10 MS/s for user_rx and the synthetic channels, issue 16 item 2);
  flowgraph  per CPU-second of the whole pinned flowgraph (block, sources, sinks, scheduler, GNU Radio's
             Python gateway);
  C++        the anchor: per CPU-second of a pinned flowgraph of GNU Radio C++ blocks that does the block's
             work in the same structure, with the same null sources and sinks, measured in the same run;
             ratio = flowgraph / C++ (like for like: both include their sources and sinks).
The anchors (what "comparable work" means here; per antenna, same L and CP):
  isac_tx         U + Mt null sources → multiply_matrix_cc (Mt × (U+Mt) precoder) → per antenna
                  stream_to_vector(L) → fft_vcc(L, inverse) → ofdm_cyclic_prefixer(L, CP+L) → sink
  node_rx         per antenna: keep_m_in_n (L of every CP+L: CP removal) → stream_to_vector(L) → fft_vcc(L) → sink
  sensing_channel multiply_matrix_cc (N·K beams × N·Mt) → per beam s2v → fft_vcc → multiply_const_vcc (d(τ)) →
                  inverse fft_vcc → v2s → multiply_matrix_cc (Mr × N·K) → per antenna add_cc of an
                  analog.noise_source_c (fresh Gaussian noise, as the block draws) → sink
  comm_channel    multiply_matrix_cc (U × N·Mt) → per user add_cc of an analog.noise_source_c → sink
  user_rx         keep_m_in_n (CP removal) → s2v → fft_vcc → multiply_const_vcc (equaliser) → v2s →
                  constellation_decoder_cb (QPSK decisions) → sink
The anchors omit what the blocks do besides (tags, per-frame oscillator phases, messages, metrics): they are
a floor on the cost of the same arithmetic in C++, not a bit-exact reimplementation.

The loopback (``--loopback-s S``): the chain of `disac loopback` (every isac_tx → sensing channels, noise
off → node_rx with batched snapshots; → comm channel, noise on → user_rx) runs free, not pinned (all cores,
as a deployment would), for S wall seconds; its rate is the frames the slowest receiver completed × frame
length / S, against the 10 MS/s frame clock of a radio at the paper's 10 MHz.

Frame tags (isac_tx writes one per frame, node_rx and user_rx read them): in C++ when the extension
gnuradio.disac._native is built (blocks/_native_tags.py; DISAC_NATIVE=0 in the environment: the Python path).
``--native both`` measures isac_tx, node_rx and user_rx both ways in the same run, side by side (rows
"[C++ tags]" and "[Python tags]"), and the tags alone (µs to add / read one, both paths interleaved);
``on``/``off`` one way (default: the path in use).

Not a test: run it and read the table (or --json: rows name, value, unit, anchor, anchor_value, ratio).

    .venv/bin/python bench/bench_phy.py [--samples 1000000] [--core 0] [--subcarriers 16 64]
        [--blocks tx rx sensing comm user] [--frames-per-message 1 64] [--no-anchors] [--loopback-s 60]
        [--native default|on|off|both] [--json]
"""

import argparse
import json
import os
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # DESIGN.md §7: one BLAS thread helps Python blocks

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import conftest  # noqa: E402,F401  (gnuradio.disac from this source tree)

import numpy as np  # noqa: E402
import pmt  # noqa: E402
from gnuradio import analog, blocks, digital, fft, gr  # noqa: E402

from gnuradio.disac.blocks import _native_tags, tags  # noqa: E402
from gnuradio.disac.blocks.comm_channel import comm_channel  # noqa: E402
from gnuradio.disac.blocks.isac_tx import isac_tx  # noqa: E402
from gnuradio.disac.blocks.node_rx import node_rx  # noqa: E402
from gnuradio.disac.blocks.sensing_channel import sensing_channel  # noqa: E402
from gnuradio.disac.blocks.user_rx import user_rx  # noqa: E402
from gnuradio.disac.core import ofdm  # noqa: E402
from gnuradio.disac.core.scenario import load_scenario  # noqa: E402

NODE_RATE_S = 20e6  # issue 16: node-side blocks real time at 20 MHz
LINK_RATE_S = 10e6  # user_rx and the synthetic channels; the loopback's frame clock (the paper's 10 MHz)
BATCH = 64  # the batched node_rx setting measured besides one frame per message
BUFFER_SAMPLES = 65536  # output buffers of the benchmark's sources (DESIGN.md §7: large buffers)
C = gr.sizeof_gr_complex
BLOCKS = ("tx", "rx", "sensing", "comm", "user")


def timed_work(block):
    """Make ``block.work`` add its thread CPU time to ``block.work_seconds`` (the block's own cost)."""
    block.work_seconds = 0.0
    inner = block.work

    def work(input_items, output_items):
        begin = time.thread_time()
        produced = inner(input_items, output_items)
        block.work_seconds += time.thread_time() - begin
        return produced

    block.work = work
    return block


def run_timed(tb):
    """Run a finite flowgraph; (wall seconds, CPU seconds of this process: the pinned core's time on it)."""
    wall, cpu = time.perf_counter(), time.process_time()
    tb.run()
    return time.perf_counter() - wall, time.process_time() - cpu


def big(block, ports=1):
    for port in range(ports):
        block.set_min_output_buffer(port, BUFFER_SAMPLES)
    return block


def finite_sources(tb, count, n, frame_len=None):
    """n null sources of ``count`` samples each (a head per source), large buffers. With ``frame_len``, source 0
    carries a frame tag every frame_len samples (GNU Radio's C++ tags_strobe, zeros), as isac_tx's antenna 0 does:
    the channels read and pass on those tags, part of their cost in a chain."""
    heads = []
    for i in range(n):
        if i == 0 and frame_len:
            src = blocks.tags_strobe(C, tags.frame_tag_value(0, 0, 0), int(frame_len), tags.frame_tag_key())
        else:
            src = blocks.null_source(C)
        src, head = big(src), big(blocks.head(C, count))
        tb.connect(src, head)
        heads.append(head)
    return heads


def sinks(tb, outputs, itemsize=C):
    for block, port in outputs:
        tb.connect((block, port), blocks.null_sink(itemsize))


class MessageCounter(gr.basic_block):
    """Counts messages on its ``in`` port (a sink that keeps nothing, for long runs)."""

    def __init__(self):
        gr.basic_block.__init__(self, name="message_counter", in_sig=None, out_sig=None)
        self.count = 0
        self.message_port_register_in(pmt.intern("in"))
        self.set_msg_handler(pmt.intern("in"), self._count)

    def _count(self, msg):
        self.count += 1


# ---- the Python blocks -----------------------------------------------------------------------------

def bench_tx(s, samples):
    lay = ofdm.layout_from_scenario(s)
    frames = max(1, samples // lay.frame_len)
    tb = gr.top_block()
    tx = timed_work(isac_tx(s, 0, 0, None, None, frames))
    sinks(tb, [(tx, i) for i in range(s.tx_antennas)])
    wall, cpu = run_timed(tb)
    return frames * lay.frame_len, wall, cpu, tx.work_seconds


def bench_rx(s, samples, frames_per_message=1):
    lay = ofdm.layout_from_scenario(s)
    frames = max(1, samples // lay.frame_len)
    tb = gr.top_block()
    options = {"frames_per_message": frames_per_message} if frames_per_message != 1 else {}  # (runs on older
    rx = timed_work(node_rx(s, 0, **options))  # blocks too, for before/after tables)
    strobe = big(blocks.tags_strobe(C, tags.frame_tag_value(0, 0, 0), lay.frame_len, tags.frame_tag_key()))
    head = big(blocks.head(C, frames * lay.frame_len))
    tb.connect(strobe, head, (rx, 0))
    for r, source in enumerate(finite_sources(tb, frames * lay.frame_len, s.rx_antennas - 1), start=1):
        tb.connect(source, (rx, r))
    counter = MessageCounter()
    tb.msg_connect((rx, tags.SNAPSHOT_PORT), (counter, "in"))
    wall, cpu = run_timed(tb)
    if rx.frames_received < frames - 1:  # the last frame may stay pending at the end of a finite stream
        raise RuntimeError(f"node_rx got {rx.frames_received} frames of {frames}")
    return rx.frames_received * lay.frame_len, wall, cpu, rx.work_seconds


def bench_channel(make, inputs, outputs, samples, symbol_len):
    count = max(1, samples // symbol_len) * symbol_len
    tb = gr.top_block()
    block = timed_work(make())
    for i, source in enumerate(finite_sources(tb, count, inputs, block.layout.frame_len)):
        tb.connect(source, (block, i))
    sinks(tb, [(block, o) for o in range(outputs)])
    wall, cpu = run_timed(tb)
    return count, wall, cpu, block.work_seconds


USER_FRAMES_RECORDED = 256  # frames of a real comm-channel output, replayed for user_rx


def recorded_user_stream(s, frames=USER_FRAMES_RECORDED):
    """User 0's comm-channel output of both default transmitters, with its frame tags: (samples, tags)."""
    tb = gr.top_block()
    txs = [isac_tx(s, n, 0, None, None, frames) for n in range(s.num_nodes)]
    channel = comm_channel(s, 1, True)
    for n, tx in enumerate(txs):
        for i in range(s.tx_antennas):
            tb.connect((tx, i), (channel, n * s.tx_antennas + i))
    sink = blocks.vector_sink_c()
    tb.connect((channel, 0), sink)
    sinks(tb, [(channel, u) for u in range(1, s.num_users)])
    tb.run()
    return sink.data(), sink.tags()


def bench_user(s, samples, frames_per_message=1):
    """One user receiver fed a recorded comm-channel output (replayed: the frame numbers repeat, the data
    match them), both message ports connected to counting sinks (so every message is built)."""
    lay = ofdm.layout_from_scenario(s)
    frames = max(1, samples // lay.frame_len)
    data, frame_tags = recorded_user_stream(s)
    tb = gr.top_block()
    options = {"frames_per_message": frames_per_message} if frames_per_message != 1 else {}
    rx = timed_work(user_rx(s, 0, 0, **options))
    source = big(blocks.vector_source_c(data, True, 1, frame_tags))
    head = big(blocks.head(C, frames * lay.frame_len))
    tb.connect(source, head, rx)
    counters = [MessageCounter(), MessageCounter()]
    tb.msg_connect((rx, tags.METRICS_PORT), (counters[0], "in"))
    tb.msg_connect((rx, "symbols"), (counters[1], "in"))
    wall, cpu = run_timed(tb)
    if rx.accumulator.frames < frames - 1:
        raise RuntimeError(f"user_rx measured {rx.accumulator.frames} frames of {frames}")
    return rx.accumulator.frames * lay.frame_len, wall, cpu, rx.work_seconds


# ---- the frame tags alone, per tag (--native both) -----------------------------------------------------

class _TagWriter(gr.sync_block):
    """A source adding one frame tag per ``frame_len`` samples through _native_tags, timing only that."""

    def __init__(self, frame_len, calls):
        gr.sync_block.__init__(self, name="tag_writer", in_sig=None, out_sig=[np.complex64])
        self.frame_len, self.calls, self.seconds, self.tags = frame_len, calls, 0.0, 0

    def work(self, input_items, output_items):
        if self.calls == 0:
            return -1  # WORK_DONE
        self.calls -= 1
        count = len(output_items[0]) // self.frame_len
        begin = time.thread_time()
        _native_tags.add_frame_tags(self.gateway, self.nitems_written(0), self.frame_len, self.tags, count, 0, 1, 2)
        self.seconds += time.thread_time() - begin
        self.tags += count
        return count * self.frame_len


class _TagReader(gr.sync_block):
    """A sink reading each call's frame tags through _native_tags, timing only that."""

    def __init__(self):
        gr.sync_block.__init__(self, name="tag_reader", in_sig=[np.complex64], out_sig=None)
        self.seconds, self.tags = 0.0, 0

    def work(self, input_items, output_items):
        begin = time.thread_time()
        offsets = _native_tags.frame_tags(self.gateway, len(input_items[0]))[0]
        self.seconds += time.thread_time() - begin
        self.tags += offsets.size
        return len(input_items[0])


def bench_tag_costs(frame_len, calls=60):
    """(µs to add one frame tag, µs to read one back) on the path in use: 108-sample frames (L = 16), ``calls``
    work() calls of a 64k-sample buffer."""
    tb = gr.top_block()
    writer, reader = big(_TagWriter(frame_len, calls)), _TagReader()
    tb.connect(writer, reader)
    tb.run()
    return writer.seconds / writer.tags * 1e6, reader.seconds / reader.tags * 1e6


# ---- the C++ anchors (see the module docstring) -------------------------------------------------------

def _ifft_cp_chain(tb, upstream, lay):
    s2v = blocks.stream_to_vector(C, lay.subcarriers)
    inverse = fft.fft_vcc(lay.subcarriers, False, [], False, 1)
    prefixer = digital.ofdm_cyclic_prefixer(lay.subcarriers, lay.symbol_len)
    tb.connect(upstream, s2v, inverse, prefixer, blocks.null_sink(C))


def _cp_fft_chain(tb, upstream, lay, extra=()):
    keep = blocks.keep_m_in_n(C, lay.subcarriers, lay.symbol_len, lay.cyclic_prefix)
    s2v = blocks.stream_to_vector(C, lay.subcarriers)
    forward = fft.fft_vcc(lay.subcarriers, True, [], False, 1)
    tb.connect(upstream, keep, s2v, forward, *extra)
    return forward


def anchor_tx(s, samples):
    lay = ofdm.layout_from_scenario(s)
    count = max(1, samples // lay.frame_len) * lay.frame_len
    streams = s.num_users + s.tx_antennas
    tb = gr.top_block()
    rng = np.random.default_rng(0)
    weights = (rng.standard_normal((s.tx_antennas, streams)) + 1j * rng.standard_normal((s.tx_antennas, streams))) / 4
    precoder = big(blocks.multiply_matrix_cc(weights.tolist()), s.tx_antennas)
    # the sources make IFFT-input-rate samples: L of every CP+L output samples
    for i, source in enumerate(finite_sources(tb, count * lay.subcarriers // lay.symbol_len, streams)):
        tb.connect(source, (precoder, i))
    for antenna in range(s.tx_antennas):
        _ifft_cp_chain(tb, (precoder, antenna), lay)
    wall, cpu = run_timed(tb)
    return count, wall, cpu


def anchor_rx(s, samples):
    lay = ofdm.layout_from_scenario(s)
    count = max(1, samples // lay.frame_len) * lay.frame_len
    tb = gr.top_block()
    for source in finite_sources(tb, count, s.rx_antennas):
        tb.connect(_cp_fft_chain(tb, source, lay), blocks.null_sink(C * lay.subcarriers))
    wall, cpu = run_timed(tb)
    return count, wall, cpu


def anchor_sensing(s, samples, noise=True):
    lay = ofdm.layout_from_scenario(s)
    count = max(1, samples // lay.symbol_len) * lay.symbol_len
    n_in, beams, mr = s.num_nodes * s.tx_antennas, s.num_nodes * s.num_targets, s.rx_antennas
    rng = np.random.default_rng(0)
    tb = gr.top_block()
    tx_beams = big(blocks.multiply_matrix_cc((rng.standard_normal((beams, n_in)) + 0j).tolist()), beams)
    rx_steer = big(blocks.multiply_matrix_cc((rng.standard_normal((mr, beams)) + 0j).tolist()), mr)
    for i, source in enumerate(finite_sources(tb, count * lay.subcarriers // lay.symbol_len, n_in)):
        tb.connect(source, (tx_beams, i))
    for b in range(beams):
        delay = np.exp(-2j * np.pi * rng.random(lay.subcarriers)).tolist()
        s2v = blocks.stream_to_vector(C, lay.subcarriers)
        forward = fft.fft_vcc(lay.subcarriers, True, [], False, 1)
        inverse = fft.fft_vcc(lay.subcarriers, False, [], False, 1)
        prefixer = digital.ofdm_cyclic_prefixer(lay.subcarriers, lay.symbol_len)
        tb.connect((tx_beams, b), s2v, forward, blocks.multiply_const_vcc(delay), inverse, prefixer, (rx_steer, b))
    for r in range(mr):
        if noise:
            add = blocks.add_cc()
            tb.connect((rx_steer, r), (add, 0))
            tb.connect(analog.noise_source_c(analog.GR_GAUSSIAN, 1.0, r), (add, 1))
            tb.connect(add, blocks.null_sink(C))
        else:
            tb.connect((rx_steer, r), blocks.null_sink(C))
    wall, cpu = run_timed(tb)
    return count, wall, cpu


def anchor_comm(s, samples, noise=True):
    lay = ofdm.layout_from_scenario(s)
    count = max(1, samples // lay.symbol_len) * lay.symbol_len
    n_in, users = s.num_nodes * s.tx_antennas, s.num_users
    tb = gr.top_block()
    combiner = big(blocks.multiply_matrix_cc((np.conj(s.user_channels()).transpose(1, 0, 2).reshape(users, -1)).tolist()),
                   users)
    for i, source in enumerate(finite_sources(tb, count, n_in)):
        tb.connect(source, (combiner, i))
    for u in range(users):
        if noise:
            add = blocks.add_cc()
            tb.connect((combiner, u), (add, 0))
            tb.connect(analog.noise_source_c(analog.GR_GAUSSIAN, 0.1, u), (add, 1))
            tb.connect(add, blocks.null_sink(C))
        else:
            tb.connect((combiner, u), blocks.null_sink(C))
    wall, cpu = run_timed(tb)
    return count, wall, cpu


def anchor_user(s, samples):
    lay = ofdm.layout_from_scenario(s)
    count = max(1, samples // lay.frame_len) * lay.frame_len
    tb = gr.top_block()
    (source,) = finite_sources(tb, count, 1)
    equaliser = blocks.multiply_const_vcc([0.5 + 0.5j] * lay.subcarriers)
    v2s = blocks.vector_to_stream(C, lay.subcarriers)
    decoder = digital.constellation_decoder_cb(digital.constellation_qpsk().base())
    _cp_fft_chain(tb, source, lay, (equaliser, v2s, decoder, blocks.null_sink(1)))
    wall, cpu = run_timed(tb)
    return count, wall, cpu


# ---- the loopback ----------------------------------------------------------------------------------

def bench_loopback(s, seconds, frames_per_message=BATCH):
    """The `disac loopback` chain running free for ``seconds``; (samples per antenna per wall second, frames)."""
    lay = ofdm.layout_from_scenario(s)
    mt = s.tx_antennas
    tb = gr.top_block()
    txs = [timed_work(isac_tx(s, n, 0)) for n in range(s.num_nodes)]  # endless
    sensing = [timed_work(sensing_channel(s, n, 1, noise=False)) for n in range(s.num_nodes)]
    comm = timed_work(comm_channel(s, 1, noise=True))
    nodes = [timed_work(node_rx(s, n, frames_per_message=frames_per_message)) for n in range(s.num_nodes)]
    counters = [MessageCounter() for _ in nodes]
    users = [timed_work(user_rx(s, u, 0)) for u in range(s.num_users)]  # message ports unconnected, as in `disac loopback`
    for n, tx in enumerate(txs):
        for i in range(mt):
            for channel in sensing + [comm]:
                tb.connect((tx, i), (channel, n * mt + i))
    for n in range(s.num_nodes):
        for r in range(s.rx_antennas):
            tb.connect((sensing[n], r), (nodes[n], r))
        tb.msg_connect((nodes[n], tags.SNAPSHOT_PORT), (counters[n], "in"))
    for u, user in enumerate(users):
        tb.connect((comm, u), (user, 0))
    tb.start()
    began = time.perf_counter()
    start_frames = None
    warm_up_s = min(5.0, seconds / 6)  # scheduler start-up and first allocations out of the figure
    time.sleep(warm_up_s)
    start_frames = _slowest(nodes, users)
    kinds = {"isac_tx": txs, "sensing_channel": sensing, "comm_channel": [comm], "node_rx": nodes, "user_rx": users}
    start_work = {kind: sum(b.work_seconds for b in group) for kind, group in kinds.items()}
    began, cpu = time.perf_counter(), time.process_time()
    deadline = began + seconds
    while time.perf_counter() < deadline:
        time.sleep(0.2)
    done_frames = _slowest(nodes, users)
    elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
    work = {kind: sum(b.work_seconds for b in group) - start_work[kind] for kind, group in kinds.items()}
    tb.stop()
    tb.wait()
    frames = done_frames - start_frames
    # CPU seconds per second of 10 MS/s frame clock each kind of block would need (its work() time scaled)
    need = {kind: seconds_used / (frames * lay.frame_len / LINK_RATE_S) for kind, seconds_used in work.items()} if frames else {}
    return frames * lay.frame_len / elapsed, frames, elapsed, cpu, need, {kind: len(group) for kind, group in kinds.items()}


# issue 16's per-block targets (MS/s per antenna on one core) and the noise setting of each kind in the loopback
TARGET_RATE_S = {"isac_tx": NODE_RATE_S, "node_rx": NODE_RATE_S, "sensing_channel": LINK_RATE_S,
                 "comm_channel": LINK_RATE_S, "user_rx": LINK_RATE_S}


def loopback_budget(need, counts, cores):
    """The per-block CPU budget of the loopback at the 10 MS/s frame clock: for each kind of block, the
    CPU-seconds per second of air it took (measured) and would take if each block met its issue-16 target
    (count × 10 MS/s / target), against the machine's cores. Rows (kind, blocks, measured, at target)."""
    rows = [(kind, counts[kind], need.get(kind, float("nan")), counts[kind] * LINK_RATE_S / TARGET_RATE_S[kind])
            for kind in TARGET_RATE_S]
    return rows, sum(r[2] for r in rows), sum(r[3] for r in rows), cores


def _slowest(nodes, users):
    return min([node.frames_received for node in nodes] + [user.accumulator.frames for user in users])


# ---- main --------------------------------------------------------------------------------------------

def load():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def measure(args):
    """The table's rows: (name, L, samples, wall, cpu, work, anchor (name, samples, wall, cpu) or None, target)."""
    paper = load_scenario("paper")
    rows = []
    for subcarriers in args.subcarriers:
        s = paper.replace(subcarriers=subcarriers)
        lay = ofdm.layout_from_scenario(s)
        n_in = s.num_nodes * s.tx_antennas

        def anchor(name, fn, *extra):
            return None if args.no_anchors else (name, *fn(s, args.samples, *extra))

        tag_paths = tag_paths_of(getattr(args, "native", "default"))
        if "tx" in args.blocks:
            tx_anchor = anchor("C++ precoder+IFFT+CP chain", anchor_tx)
            for path, suffix in tag_paths:
                with frame_tags_path(path):
                    rows.append((f"isac_tx (Mt={s.tx_antennas}){suffix}", subcarriers, *bench_tx(s, args.samples),
                                 tx_anchor, NODE_RATE_S))
        if "rx" in args.blocks:
            rx_anchor = anchor("C++ CP-removal+FFT chain", anchor_rx)
            for fpm in args.frames_per_message:
                for path, suffix in tag_paths:
                    with frame_tags_path(path):
                        rows.append((f"node_rx (Mr={s.rx_antennas}, {fpm} frame/msg){suffix}", subcarriers,
                                     *bench_rx(s, args.samples, fpm), rx_anchor, NODE_RATE_S))
        if "sensing" in args.blocks:
            samples = args.samples
            for noise in (True, False):
                anchor_row = None if args.no_anchors else ("C++ beams+FFT+IFFT+steer" + (" + noise_source_c" if noise else ""),
                                                           *anchor_sensing(s, samples, noise))
                rows.append((f"sensing_channel ({n_in}->{s.rx_antennas}, K={s.num_targets}, noise {'on' if noise else 'off'})",
                             subcarriers, *bench_channel(lambda: sensing_channel(s, 0, 0, noise), n_in, s.rx_antennas,
                                                         samples, lay.symbol_len), anchor_row, LINK_RATE_S))
        if "comm" in args.blocks:
            samples = args.samples
            anchor_row = None if args.no_anchors else ("C++ matrix + noise_source_c", *anchor_comm(s, samples))
            rows.append((f"comm_channel ({n_in}->{s.num_users}, noise on)", subcarriers,
                         *bench_channel(lambda: comm_channel(s, 0, True), n_in, s.num_users, samples, lay.symbol_len),
                         anchor_row, LINK_RATE_S))
        if "user" in args.blocks:
            user_anchor = anchor("C++ CP-removal+FFT+equaliser+QPSK decisions", anchor_user)
            for fpm in args.user_frames_per_message:
                for path, suffix in tag_paths:
                    with frame_tags_path(path):
                        rows.append((f"user_rx ({fpm} frame/msg){suffix}", subcarriers,
                                     *bench_user(s, args.samples, fpm), user_anchor, LINK_RATE_S))
    return rows


NATIVE_CHOICES = ("default", "on", "off", "both")


def tag_paths_of(choice):
    """[(use the C++ extension: True/False, or None: the path in use; row name suffix)] for --native."""
    if choice in ("on", "both") and _native_tags.native_module is None:
        raise SystemExit(f"--native {choice}: the C++ extension is not available: {_native_tags.native_error}")
    return {"default": [(None, "")], "on": [(True, " [C++ tags]")], "off": [(False, " [Python tags]")],
            "both": [(True, " [C++ tags]"), (False, " [Python tags]")]}[choice]


class frame_tags_path:
    """Within the block: the frame tags take the C++ path (True), the Python path (False) or the one in use."""

    def __init__(self, native):
        self.native = native

    def __enter__(self):
        self.saved = _native_tags.use_native
        if self.native is not None:
            _native_tags.use_native = self.native

    def __exit__(self, *exc):
        _native_tags.use_native = self.saved


def to_json_rows(rows, loopback):
    """Rows of the `disac bench --json` contract: name, value, unit, anchor, anchor_value, ratio (+ extras)."""
    out = []
    for name, subcarriers, count, wall, cpu, work, anchor, target in rows:
        label = f"{name}, L = {subcarriers}, per antenna"
        block_ms = count / work / 1e6
        out.append({"name": f"{label}: block work()", "value": block_ms, "unit": "MS/s",
                    "anchor": f"radio rate (B = {target / 1e6:g} MHz)", "anchor_value": target / 1e6,
                    "ratio": block_ms * 1e6 / target, "goal": "min", "target": target / 1e6})
        if anchor is not None:
            a_name, a_count, _, a_cpu = anchor
            flow_ms, anchor_ms = count / cpu / 1e6, a_count / a_cpu / 1e6
            out.append({"name": f"{label}: flowgraph vs C++", "value": flow_ms, "unit": "MS/s",
                        "anchor": f"{a_name} (same run)", "anchor_value": anchor_ms, "ratio": flow_ms / anchor_ms})
    if loopback is not None:
        rate, frames, elapsed, _, need, counts = loopback
        out.append({"name": f"loopback (paper, free-running, {elapsed:.0f} s), per antenna", "value": rate / 1e6,
                    "unit": "MS/s", "anchor": "10 MS/s frame clock (paper's 10 MHz)", "anchor_value": LINK_RATE_S / 1e6,
                    "ratio": rate / LINK_RATE_S, "goal": "min", "target": LINK_RATE_S / 1e6, "frames": frames})
        budget, total, at_target, cores = loopback_budget(need, counts, os.cpu_count())
        for kind, blocks_of_kind, measured, target_need in budget:
            out.append({"name": f"loopback CPU budget at 10 MS/s: {blocks_of_kind} x {kind}", "value": measured,
                        "unit": "CPU-s per s of air", "anchor": "the same blocks at issue 16's targets",
                        "anchor_value": target_need, "ratio": measured / target_need})
        out.append({"name": "loopback CPU budget at 10 MS/s: all blocks", "value": total, "unit": "CPU-s per s of air",
                    "anchor": "cores of this machine", "anchor_value": cores, "ratio": total / cores, "goal": "max",
                    "target": cores, "at_targets": at_target})
    return out


def bench_rows(quick=False):
    """Rows for `disac bench` (the --json rows of a run without the loopback): every block against its C++
    chain and the radio's rate, L = 16 and 64; quick: 100 000 samples per antenna per run instead of 10⁶."""
    gr.logging().set_default_level(gr.log_levels.warn)
    args = argparse.Namespace(samples=100_000 if quick else 1_000_000, subcarriers=[16, 64], blocks=list(BLOCKS),
                              frames_per_message=[1, BATCH], user_frames_per_message=[1, BATCH], no_anchors=False)
    affinity = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(affinity)})  # one core, as main() does
    try:
        return to_json_rows(measure(args), None)
    finally:
        os.sched_setaffinity(0, affinity)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1_000_000, help="samples per antenna per run (default 1e6)")
    parser.add_argument("--core", type=int, default=0, help="CPU core to pin the flowgraphs to (default 0)")
    parser.add_argument("--subcarriers", type=int, nargs="+", default=[16, 64], help="values of L (default 16 64)")
    parser.add_argument("--blocks", nargs="+", default=list(BLOCKS), choices=BLOCKS, help="blocks (default all)")
    parser.add_argument("--frames-per-message", type=int, nargs="+", default=[1, BATCH],
                        help="node_rx frames_per_message values to measure (default 1 64)")
    parser.add_argument("--user-frames-per-message", type=int, nargs="+", default=[1, BATCH],
                        help="user_rx frames_per_message values to measure (default 1 64)")
    parser.add_argument("--no-anchors", action="store_true", help="skip the C++ anchor chains")
    parser.add_argument("--loopback-s", type=float, default=0.0,
                        help="also run the loopback free for this many wall seconds (default 0: not run)")
    parser.add_argument("--native", choices=NATIVE_CHOICES, default="default",
                        help="frame tags of isac_tx/node_rx/user_rx: the path in use (default), the C++ extension "
                             "(on), the Python path (off), or both side by side")
    parser.add_argument("--json", action="store_true", help="print the rows as a JSON list instead of the table")
    args = parser.parse_args(argv)
    gr.logging().set_default_level(gr.log_levels.warn)
    load_before = load()
    loopback = None
    loopback_load = None
    if args.loopback_s > 0:  # first, unpinned: it uses every core, as a deployment would
        loopback = bench_loopback(load_scenario("paper"), args.loopback_s)
        loopback_load = load()
    os.sched_setaffinity(0, {args.core})  # every thread of the flowgraphs below on one core
    rows = measure(args)
    tag_costs = None
    if args.native == "both":  # the tags alone, per tag, both paths (interleaved: C++, Python, C++, Python)
        lay = ofdm.layout_from_scenario(load_scenario("paper").replace(subcarriers=16))
        runs = {True: [], False: []}
        for path in (True, False, True, False):
            with frame_tags_path(path):
                runs[path].append(bench_tag_costs(lay.frame_len))
        tag_costs = {path: tuple(min(r[k] for r in found) for k in range(2)) for path, found in runs.items()}
    if args.json:
        out = to_json_rows(rows, loopback)
        if tag_costs is not None:
            for k, what in enumerate(("add", "read")):
                out.append({"name": f"frame tags: {what} one (L = 16 frames), C++ extension", "value": tag_costs[True][k],
                            "unit": "µs per tag", "anchor": "the Python path (same run)",
                            "anchor_value": tag_costs[False][k], "ratio": tag_costs[True][k] / tag_costs[False][k]})
        print(json.dumps(out))
        return 0
    print(f"gr-disac PHY throughput on one core (core {args.core}), samples/s per antenna. Load average "
          f"before/after: {load_before} / {load()} on {os.cpu_count()} cores.")
    print(f"  frame tags: {_native_tags.status()}" + (" (and the other path, --native both)"
                                                       if args.native == "both" else ""))
    print("  block: per CPU-second of the block's work() alone; flowgraph: per CPU-second of the whole pinned\n"
          "  flowgraph; C++: the same for the block's C++ anchor chain, same run; ratio = block / target (MS/s)")
    print(f"{'block':52s} {'L':>4s} {'block':>8s} {'flowgraph':>10s} {'wall':>8s} {'C++':>8s} {'vs C++':>7s} "
          f"{'target':>6s} {'ratio':>6s}")
    for name, subcarriers, count, wall, cpu, work, anchor, target in rows:
        cpp = anchor[1] / anchor[3] / 1e6 if anchor else float("nan")
        print(f"{name:52s} {subcarriers:4d} {count / work / 1e6:8.2f} {count / cpu / 1e6:10.2f} "
              f"{count / wall / 1e6:8.2f} {cpp:8.2f} {count / cpu / 1e6 / cpp:7.2f} {target / 1e6:6.0f} "
              f"{count / work / target:6.2f}")
    if tag_costs is not None:
        print(f"frame tags alone, µs per tag (best of 2, thread time inside work(), 108-sample frames): add "
              f"{tag_costs[True][0]:.2f} in C++ against {tag_costs[False][0]:.2f} in Python "
              f"({tag_costs[False][0] / tag_costs[True][0]:.1f} x); read {tag_costs[True][1]:.2f} against "
              f"{tag_costs[False][1]:.2f} ({tag_costs[False][1] / tag_costs[True][1]:.1f} x)")
    if loopback is not None:
        rate, frames, elapsed, cpu, need, counts = loopback
        print(f"loopback (paper, free-running on all cores, {elapsed:.0f} s; load after it {loopback_load}): "
              f"{rate / 1e6:.2f} MS/s per antenna, {frames} frames by the slowest receiver; {rate / LINK_RATE_S:.2f} x "
              f"the 10 MS/s frame clock; process CPU {cpu / elapsed:.2f} cores")
        budget, total, at_target, cores = loopback_budget(need, counts, os.cpu_count())
        print("  per-block CPU budget: CPU-seconds per second of air that the 10 MS/s frame clock takes (each kind's "
              "work() thread time over the run, scaled to real time), measured and if every block met its target")
        print(f"  {'blocks':26s} {'measured':>9s} {'at target':>10s}")
        for kind, blocks_of_kind, measured, target_need in budget:
            print(f"  {blocks_of_kind} x {kind:22s} {measured:9.2f} {target_need:10.2f}")
        print(f"  {'all (work() only)':26s} {total:9.2f} {at_target:10.2f}   against {cores} cores: "
              f"{total / cores:.1f} x / {at_target / cores:.1f} x what the machine has")
    return 0


if __name__ == "__main__":
    sys.exit(main())
