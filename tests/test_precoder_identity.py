# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Precoder set identity (issue 11, item 1): core.precoder_identity, and its path frame tag → snapshot → wire.

A set's identity is a 63-bit content hash (0 is the start-up set); isac_tx fixes it in each frame's tag
when it makes the frame, node_rx copies it into the snapshot (single and batched), snapshot_push into the
wire SNAPSHOT, and the central unit's table is keyed by it.
"""

import numpy as np
import pmt
import pytest
from gnuradio import blocks, gr

from gnuradio.disac.blocks import tags
from gnuradio.disac.blocks.isac_tx import isac_tx
from gnuradio.disac.blocks.node_rx import node_rx
from gnuradio.disac.core import fusion, ofdm, wire
from gnuradio.disac.core.precoder_identity import (MAX_PRECODER_ID, PrecoderIdentityError, START_SET_ID,
                                                   broadcast_set_id, precoder_set_id, verify_precoder_id)
from gnuradio.disac.core.scenario import load_scenario

SCENARIO = load_scenario("paper")
LAYOUT = ofdm.layout_from_scenario(SCENARIO)


def a_set(seed):
    rng = np.random.default_rng(seed)
    n, mt, u = SCENARIO.num_nodes, SCENARIO.tx_antennas, SCENARIO.num_users
    return (rng.standard_normal((n, mt, u)) + 1j * rng.standard_normal((n, mt, u)),
            rng.standard_normal((n, mt, mt)) + 1j * rng.standard_normal((n, mt, mt)))


def test_identity_is_a_63_bit_hash_of_the_whole_set():
    wc, wr = a_set(0)
    identity = precoder_set_id(wc, wr)
    assert 1 <= identity <= MAX_PRECODER_ID and identity != START_SET_ID
    assert precoder_set_id(wc.astype(np.complex64), wr) == identity  # the transmitters' precision
    changed = wr.copy()
    changed[1, 5, 5] += 1e-3  # one entry of one node
    assert precoder_set_id(wc, changed) != identity
    assert precoder_set_id(wc[:, :, :2], wr) != precoder_set_id(wc, wr)  # shapes are part of it
    assert broadcast_set_id(wc[0], wr[0], 2) == precoder_set_id(np.stack([wc[0]] * 2), np.stack([wr[0]] * 2))
    assert verify_precoder_id(identity, wc, wr) == identity
    with pytest.raises(PrecoderIdentityError, match="does not match"):
        verify_precoder_id(identity ^ 1, wc, wr)


def test_tags_and_snapshots_carry_the_identity():
    value = tags.frame_tag_value(7, 1, 3, 2**62 + 5)
    assert tags.parse_frame_tag(value) == (7, 1, 3) and tags.frame_tag_precoder_id(value) == 2**62 + 5
    legacy = pmt.make_tuple(pmt.from_uint64(7), pmt.from_long(1), pmt.from_long(3))
    assert tags.frame_tag_precoder_id(legacy) == START_SET_ID
    y = np.ones((2, 16, 16, 1), np.complex64)
    meta = tags.snapshot_meta(1, y.shape[1:])
    (single,) = tags.snapshots_from_pmt(tags.snapshot_to_pmt(meta, 4, 2, y[0], 99))
    assert (single.frame, single.precoder_version, single.precoder_id) == (4, 2, 99)
    batch = tags.snapshots_from_pmt(tags.snapshot_batch_to_pmt(meta, [4, 5], [2, 3], y, [99, 100]))
    assert [(s.frame, s.precoder_version, s.precoder_id) for s in batch] == [(4, 2, 99), (5, 3, 100)]
    decoded = wire.decode(wire.encode(wire.SnapshotMessage(1, 4, 2, 0, 0, y[0], precoder_id=99)))
    assert decoded.precoder_id == 99


def test_frames_carry_the_identity_of_the_set_that_made_them():
    """isac_tx → node_rx in one flowgraph: frames before the new set name the start-up set (0), frames after
    it the set's identity, each snapshot the identity of its own frame."""
    frames = 12
    wc, wr = a_set(1)
    identity = precoder_set_id(wc, wr)
    tb = gr.top_block()
    tx = isac_tx(SCENARIO, 0, 0, max_frames=frames)
    rx = node_rx(SCENARIO, 0, frames_per_message=3)
    store = blocks.message_debug()
    # the transmitter's antenna streams as the receiver's first Mt inputs, zeros on the others
    for r in range(SCENARIO.rx_antennas):
        if r < SCENARIO.tx_antennas:
            tb.connect((tx, r), (rx, r))
        else:
            tb.connect(blocks.null_source(gr.sizeof_gr_complex), blocks.head(gr.sizeof_gr_complex, frames * LAYOUT.frame_len),
                       (rx, r))
    tb.msg_connect((rx, "snapshot"), (store, "store"))
    tx.handle_precoder(tags.precoder_to_pmt(wc[0], wr[0], 5, node=0, precoder_id=identity))  # before the first frame
    tb.run()
    snaps = [s for i in range(store.num_messages()) for s in tags.snapshots_from_pmt(store.get_message(i))]
    assert [s.frame for s in snaps] == list(range(frames))
    assert {(s.precoder_version, s.precoder_id) for s in snaps} == {(5, identity)}
    assert tx.precoder_id() == identity


def test_a_pair_without_identity_is_the_set_where_every_node_uses_it():
    """isac_tx and the central unit agree on the identity of an id-less (hand-made) precoder message."""
    from gnuradio.disac.blocks.central_unit import central_unit

    wc, wr = a_set(2)
    tx = isac_tx(SCENARIO, 1, 0)
    tx.handle_precoder(tags.precoder_to_pmt(wc[1], wr[1], 3, node=1))
    cu = central_unit(SCENARIO, 0, status_interval_s=0)
    cu.handle_precoders(tags.precoder_to_pmt(wc[1], wr[1], 3, node=1))
    expected = broadcast_set_id(wc[1].astype(np.complex64), wr[1].astype(np.complex64), SCENARIO.num_nodes)
    assert tx._pending[2] == expected and expected in cu.precoders.precoder_ids


def test_table_refuses_a_set_whose_identity_is_not_its_content():
    table = fusion.PrecoderTable(LAYOUT)
    wc, wr = a_set(3)
    with pytest.raises(PrecoderIdentityError, match="does not match"):
        table.add_set(1, wc, wr, precoder_id=precoder_set_id(*a_set(4)))
    identity = table.add_set(1, wc, wr)
    assert table.get_set(identity)[0] == 1
    with pytest.raises(fusion.UnknownPrecoders):
        table.get_set(identity ^ 1)


def test_the_sign_of_a_zero_is_not_part_of_the_identity():
    """−0 and +0 make the same frames; a text round trip (the state file) or 0 + 1j·x may flip the sign
    (the soak's restarted central unit refused its own state file before this)."""
    wc, wr = a_set(5)
    wc[:, :, 0] = 0.0
    flipped = wc.copy()
    flipped[:, :, 0] = complex(-0.0, -0.0)
    assert precoder_set_id(wc, wr) == precoder_set_id(flipped, wr)
