# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Compositions of the hier blocks that the `disac` apps run: every node's transmitter on one synthetic air,
the receiving nodes' chains, the comm side, and a run that ends when a number of frames are through.

add_synthetic_nodes is the `disac node` / `disac localize` / `disac demo` / `disac loopback` air: node m is a
synthetic_node when it receives (its transmitter and TX radio, echo channel, RX radio, rx framing, receiver
and link) and a bare isac_tx into its synthetic_radio_tx otherwise (its echoes are not received here, but it
still transmits: the other nodes see its echoes and the users its data, both through its TX radio). The frames, oscillator phases and noise are functions of the seeds and frame numbers
only, so any split of the nodes over processes gives the same snapshots.
"""

import threading
import time

from ..blocks import tags
from ..core import ofdm
from ..blocks.isac_tx import isac_tx
from ..blocks.precoder_sub import PRECODERS_PORT, precoder_sub
from ..blocks.synthetic_radio_tx import synthetic_radio_tx
from .synthetic_node import synthetic_node
from .user_side import user_side

OPEN_LINK = ("open", "", "", "")  # the four security parameters of an open link


def keep(tb, *blocks):
    """Python blocks must outlive the flowgraph run: keep every one referenced from the top block."""
    tb.__dict__.setdefault("disac_blocks", []).extend(b for b in blocks if b is not None)


def add_synthetic_nodes(tb, scenario, receiving_nodes, wc, wr, frames, seed, channel_seed, precoders_address="",
                        precoder_security=OPEN_LINK, **node_parameters):
    """Add every node's transmitter to top block ``tb``, a synthetic_node for each of ``receiving_nodes``
    (0-based) with ``node_parameters`` (synthetic_node's: address, bind, noise, frame_rate_hz, …), wired as
    one air; with ``precoders_address`` one precoder_sub feeding every transmitter.

    wc, wr: every node's initial precoders, (N, Mt, U) and (N, Mt, Mt). Returns (sources, nodes, sub):
    sources[m] is the block whose outputs 0 … Mt−1 are node m's transmit streams on the air (its TX radio's:
    what the other nodes' sensing channels and the users' comm channel take), nodes {m: synthetic_node}.
    ``node_parameters`` may hold epoch_s (it labels the TX radios too).
    """
    s = scenario
    n, mt = s.num_nodes, s.tx_antennas
    receiving = sorted(set(int(m) for m in receiving_nodes))
    if any(not 0 <= m < n for m in receiving):
        raise ValueError(f"receiving nodes {receiving}: accepted: node ids 0 … {n - 1}")
    nodes = {m: synthetic_node(s, m, seed, channel_seed, wc[m], wr[m], frames, **node_parameters) for m in receiving}
    transmitters, sources = [], []  # the block with node m's precoder port; the one with its air streams
    epoch_s = node_parameters.get("epoch_s")
    for m in range(n):
        if m in nodes:
            transmitters.append(nodes[m])
            sources.append(nodes[m])
            continue
        transmitter = isac_tx(s.without_impairments(), m, seed, wc[m], wr[m], frames,
                              calibration=node_parameters.get("calibration", ""))
        radio = synthetic_radio_tx(s, m, tags.SYNTHETIC_EPOCH_S if epoch_s is None else epoch_s, 0.0, 0, frames)
        for i in range(mt):
            tb.connect((transmitter, i), (radio, i))
        transmitters.append(transmitter)
        sources.append(radio)
        keep(tb, transmitter)
    for m, node in nodes.items():
        for j, other in enumerate(k for k in range(n) if k != m):
            for i in range(mt):
                tb.connect((sources[other], i), (node, j * mt + i))
    if not nodes:  # transmitters only (e.g. for the comm side alone): every stream must go somewhere
        for source in sources:
            for i in range(mt):
                tb.connect((source, i), _null(tb))
    sub = None
    if precoders_address:
        sub = precoder_sub(precoders_address, s, -1, *precoder_security)
        for transmitter in transmitters:
            tb.msg_connect((sub, PRECODERS_PORT), (transmitter, tags.PRECODER_PORT))
    keep(tb, *sources, sub)
    return sources, nodes, sub


def _null(tb):
    from gnuradio import blocks, gr

    sink = blocks.null_sink(gr.sizeof_gr_complex)
    keep(tb, sink)
    return sink


def add_user_side(tb, scenario, sources, seed, channel_seed, noise=True):
    """The comm channel and every user's receiver on the transmit streams of ``sources`` (see above)."""
    users = user_side(scenario, seed, channel_seed, noise)
    for m, source in enumerate(sources):
        for i in range(scenario.tx_antennas):
            tb.connect((source, i), (users, m * scenario.tx_antennas + i))
    keep(tb, users)
    return users


def run_until_released(tb, central, frames, seconds_per_frame_limit=2.0, on_progress=None, poll_s=0.02):
    """Start ``tb``, wait until the central_node ``central`` has released frame ``frames`` − 1 (or a deadline
    of 10 s + seconds_per_frame_limit per frame passes), stop; the number of frames released.
    on_progress(released) is called whenever that number grows."""
    tb.start()
    deadline = time.monotonic() + 10.0 + seconds_per_frame_limit * frames
    released = 0
    try:
        while time.monotonic() < deadline:
            now_released = central.frames_released()
            if now_released > released:
                released = now_released
                if on_progress is not None:
                    on_progress(released)
            if released >= frames:
                break
            time.sleep(poll_s)
    finally:
        tb.stop()
        tb.wait()
    return released


def run_synthetic_system(scenario, wc, wr, frames, seed=0, channel_seed=1, search="full", nodes=None,
                         timeout_s=3600.0, with_users=False, on_progress=None, seconds_per_frame_limit=2.0,
                         require_all=True, calibration="", background="", max_targets=0, false_alarm_rate=None):
    """The whole system in one flowgraph for ``frames`` frames: every node's transmitter, the receiving
    ``nodes`` (default all; 0-based) with AWGN, their snapshot links over ZeroMQ inproc to a central_node
    (full ML search per frame), and with ``with_users`` the comm side. With some nodes missing each frame
    goes after ``timeout_s`` (the default suits complete runs, where it never fires).

    ``scenario`` is the air's (its [impairments] too); the central unit gets it without them (docs/air-model.md §0);
    ``calibration`` (a Calibration, a file or "") goes to every node and the central unit; ``background`` (a
    core.interference Background or Suppressor, a file or "") to the central unit (issue 14); ``max_targets`` (≥ 1:
    K unknown, detected up to it) and ``false_alarm_rate`` to the central unit (issue 15; 0 / None: K known).
    Returns (estimates {frame: core.fusion.Estimate}, central unit status dict, user_side or None);
    with ``require_all``, RuntimeError when fewer than ``frames`` frames were released before the deadline."""
    from gnuradio import blocks, gr

    from .central_node import central_node

    from ..core import calibration_apply

    address = f"inproc://disac-system-{id(object())}-{time.monotonic_ns()}"
    tb = gr.top_block("disac_system")
    calibration = calibration_apply.as_calibration(calibration, scenario.without_impairments())
    # a calibrated receiver frames later by its window offset (the link latencies): the transmitters run
    # that many frames more, so that frames 0 … frames − 1 arrive whole; only those are returned
    lead = 0 if calibration is None else 1 + max(
        0, -(-max(calibration.window_offset_samples(n) for n in range(scenario.num_nodes))
             // ofdm.layout_from_scenario(scenario).frame_len))
    central = central_node(scenario.without_impairments(), seed, wc, wr, timeout_s=timeout_s,
                           queue_depth=frames + lead + 1, search=search, address=address, bind=True,
                           status_interval_s=0, keep_estimates=frames + lead, calibration=calibration or "",
                           background=background if background is not None else "", max_targets=max_targets,
                           **({} if false_alarm_rate is None else {"false_alarm_rate": false_alarm_rate}))
    sources, _, _ = add_synthetic_nodes(tb, scenario, range(scenario.num_nodes) if nodes is None else nodes, wc, wr,
                                        frames + lead, seed, channel_seed, address=address, hwm=frames + lead + 16,
                                        calibration=calibration)
    users = add_user_side(tb, scenario, sources, seed, channel_seed) if with_users else None
    sink = blocks.message_debug()  # the estimates are read from the central unit; this puts it in the flowgraph
    tb.msg_connect((central, "estimate"), (sink, "store"))
    keep(tb, central, sink)
    run_until_released(tb, central, frames, seconds_per_frame_limit, on_progress)
    status = central.status()
    if require_all and status["frames_released"] < frames:
        raise RuntimeError(f"the chain released {status['frames_released']} of {frames} frames in time: {status}")
    return {e.frame: e for e in central.estimates if e.frame < frames}, status, users


def run_to_end(tb, frames_done=None, on_progress=None, finished=None, poll_s=0.1, settle_s=0.2):
    """Start ``tb`` and wait until it ends by itself, ``finished()`` turns true (then settle_s more, for the
    last frame to leave the receiver and the link), or Ctrl-C; then stop it. on_progress(frames_done())
    is called whenever that count grows."""
    ended = threading.Event()
    tb.start()
    threading.Thread(target=lambda: (tb.wait(), ended.set()), daemon=True).start()
    shown = 0
    try:
        while not ended.wait(poll_s):
            if on_progress is not None and frames_done() > shown:
                shown = frames_done()
                on_progress(shown)
            if finished is not None and finished():
                time.sleep(settle_s)
                break
    except KeyboardInterrupt:
        pass
    tb.stop()
    tb.wait()
    if on_progress is not None and frames_done() > shown:
        on_progress(frames_done())
