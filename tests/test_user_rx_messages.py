# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""user_rx's messages after the fast path (blocks/_fast_pmt.py): the per-frame metrics dict and symbols PDU
are the very PMTs the plain dict_add construction gives (the GUI's contract), frames_per_message > 1
batches the same numbers, an unconnected port costs nothing and loses nothing that was wanted."""

import numpy as np
import pmt
import pytest
from gnuradio import blocks, gr

from gnuradio.disac.blocks import _fast_pmt, tags
from gnuradio.disac.blocks.comm_channel import comm_channel
from gnuradio.disac.blocks.isac_tx import isac_tx
from gnuradio.disac.blocks.user_rx import METRICS_ENTRIES, metrics_to_pmt, user_rx
from gnuradio.disac.core.scenario import load_scenario

SCENARIO = load_scenario("paper")
FRAMES = 50


def run(frames_per_message=1, connect=True):
    tb = gr.top_block()
    txs = [isac_tx(SCENARIO, n, 0, None, None, FRAMES) for n in range(SCENARIO.num_nodes)]
    channel = comm_channel(SCENARIO, 1)
    rx = user_rx(SCENARIO, 1, 0, frames_per_message=frames_per_message)
    for n, tx in enumerate(txs):
        for i in range(SCENARIO.tx_antennas):
            tb.connect((tx, i), (channel, SCENARIO.tx_antennas * n + i))
    tb.connect((channel, 1), rx)
    for u in (0, 2):
        tb.connect((channel, u), blocks.null_sink(gr.sizeof_gr_complex))
    metrics, symbols = blocks.message_debug(), blocks.message_debug()
    if connect:
        tb.msg_connect((rx, tags.METRICS_PORT), (metrics, "store"))
        tb.msg_connect((rx, "symbols"), (symbols, "store"))
    tb.run()
    return rx, [metrics.get_message(i) for i in range(metrics.num_messages())], \
        [symbols.get_message(i) for i in range(symbols.num_messages())]


def test_per_frame_metrics_are_the_dict_add_pmts():
    """Every message equals metrics_to_pmt of the same numbers, entry order included (serialised bytes
    equal), and carries the receiver's per-frame SINR exactly."""
    rx, metrics, symbols = run()
    assert len(metrics) == FRAMES == len(symbols) == rx.accumulator.frames
    for f, msg in enumerate(metrics):
        values = {key: pmt.to_python(pmt.dict_ref(msg, pmt.intern(key), pmt.PMT_NIL)) for key, _ in METRICS_ENTRIES}
        reference = metrics_to_pmt(values)
        assert pmt.serialize_str(msg) == pmt.serialize_str(reference)
        assert values["frame"] == f and values["user"] == 1 and values["precoder_version"] == 0
        assert values["sinr_db"] == rx.frame_sinr_db[f]
        assert values["bits"] == 2 * 16
    meta, payload = pmt.car(symbols[3]), pmt.cdr(symbols[3])
    assert pmt.to_python(meta) == {"user": 1, "frame": 3, "precoder_version": 0}
    assert pmt.is_c32vector(payload) and pmt.length(payload) == 16


def test_batched_metrics_carry_the_same_numbers():
    """frames_per_message = 8: fewer messages, and their vectors concatenate to the per-frame values."""
    single, per_frame, _ = run()
    batched_rx, batches, symbol_batches = run(frames_per_message=8)
    assert 1 < len(batches) < FRAMES
    frames = np.concatenate([pmt.u64vector_elements(pmt.dict_ref(m, pmt.intern("frames"), pmt.PMT_NIL)) for m in batches])
    sinr = np.concatenate([pmt.f64vector_elements(pmt.dict_ref(m, pmt.intern("sinr_db"), pmt.PMT_NIL)) for m in batches])
    errors = np.concatenate([pmt.s64vector_elements(pmt.dict_ref(m, pmt.intern("bit_errors"), pmt.PMT_NIL))
                             for m in batches])
    assert frames.tolist() == list(range(FRAMES))
    assert sinr.tolist() == single.frame_sinr_db == batched_rx.frame_sinr_db
    assert errors.tolist() == [pmt.to_long(pmt.dict_ref(m, pmt.intern("bit_errors"), pmt.PMT_NIL)) for m in per_frame]
    shapes = [pmt.to_python(pmt.dict_ref(pmt.car(m), pmt.intern("shape"), pmt.PMT_NIL)) for m in symbol_batches]
    assert sum(shape[0] for shape in shapes) == FRAMES and all(shape[1:] == (16, 1) for shape in shapes)


def test_unconnected_ports_still_measure():
    """Nothing connected to the message ports: no message is built, the metrics accumulate all the same."""
    connected, _, _ = run()
    alone, _, _ = run(connect=False)
    assert alone.frame_sinr_db == connected.frame_sinr_db
    assert alone.accumulator.bit_errors == connected.accumulator.bit_errors


def test_template_falls_back_outside_32_bit_longs():
    """A long that pmt would serialise in 64 bits is refused by the template (the caller builds that one
    with dict_add); within range the template's PMT equals dict_add's."""
    template = _fast_pmt.DictTemplate([("a", "long"), ("b", "uint64"), ("c", "double")])
    assert template.messages({"a": np.array([1 << 40]), "b": np.array([1]), "c": np.array([0.5])}) is None
    (msg,) = template.messages({"a": np.array([-7]), "b": np.array([1 << 63]), "c": np.array([-0.25])})
    reference = pmt.dict_add(pmt.dict_add(pmt.dict_add(pmt.make_dict(), pmt.intern("a"), pmt.from_long(-7)),
                                          pmt.intern("b"), pmt.from_uint64(1 << 63)), pmt.intern("c"), pmt.from_double(-0.25))
    assert pmt.serialize_str(msg) == pmt.serialize_str(reference)


def test_bad_frames_per_message_is_refused():
    with pytest.raises(ValueError, match="frames_per_message = 0"):
        user_rx(SCENARIO, 0, 0, frames_per_message=0)
