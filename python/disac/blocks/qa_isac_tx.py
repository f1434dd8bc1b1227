#!/usr/bin/env python3
# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""qa for isac_tx: frame tags, eq. (1) samples, precoder switching at frame boundaries, bad precoders, determinism."""

import numpy as np
import pmt
from gnuradio import blocks, gr, gr_unittest

from gnuradio.disac.blocks.isac_tx import isac_tx
from gnuradio.disac.blocks import tags
from gnuradio.disac.core import ofdm
from gnuradio.disac.core.scenario import load_scenario

SCENARIO = load_scenario("paper")
LAYOUT = ofdm.layout_from_scenario(SCENARIO)


class message_at_sample(gr.sync_block):
    """Pass-through that posts each (sample index, PMT) message on ``out`` when that sample goes through."""

    def __init__(self, schedule):
        gr.sync_block.__init__(self, name="message_at_sample", in_sig=[np.complex64], out_sig=[np.complex64])
        self.schedule = sorted(schedule, key=lambda item: item[0])
        self.message_port_register_out(pmt.intern("out"))

    def work(self, input_items, output_items):
        n = len(input_items[0])
        output_items[0][:] = input_items[0]
        end = self.nitems_read(0) + n
        while self.schedule and self.schedule[0][0] < end:
            self.message_port_pub(pmt.intern("out"), self.schedule.pop(0)[1])
        return n


def run_tx(frames, node=0, seed=0, wc=None, wr=None, schedule=()):
    """Run one transmitter for ``frames`` frames; (samples (Mt, n), frame tags [(offset, frame, node, version)], tx)."""
    tb = gr.top_block()
    tx = isac_tx(SCENARIO, node, seed, wc, wr, frames)
    sinks = [blocks.vector_sink_c() for _ in range(SCENARIO.tx_antennas)]
    trigger = message_at_sample(list(schedule))
    tb.connect((tx, 0), trigger, sinks[0])
    for i in range(1, SCENARIO.tx_antennas):
        tb.connect((tx, i), sinks[i])
    tb.msg_connect((trigger, "out"), (tx, tags.PRECODER_PORT))
    tb.run()
    samples = np.array([sink.data() for sink in sinks])
    found = [(t.offset, *tags.parse_frame_tag(t.value)) for t in sinks[0].tags() if pmt.symbol_to_string(t.key) == tags.FRAME_TAG_KEY]
    return samples, found, tx


def expected_samples(frames, node, seed, wc, wr):
    """x = [W_c W_r] @ the frame's streams (eq. 1 on every RE), (Mt, F·frame_len)."""
    streams = ofdm.FrameGenerator(LAYOUT, seed).stream_time(frames, node)
    x = np.concatenate([wc, wr], axis=1) @ streams
    return np.moveaxis(x, 1, 0).reshape(SCENARIO.tx_antennas, -1)


def random_precoders(seed):
    rng = np.random.default_rng(seed)
    wc = 0.3 * (rng.standard_normal((6, 3)) + 1j * rng.standard_normal((6, 3)))
    wr = 0.3 * (rng.standard_normal((6, 6)) + 1j * rng.standard_normal((6, 6)))
    return wc, wr


class qa_isac_tx(gr_unittest.TestCase):

    def test_frames_tags_and_eq1_samples(self):
        """Every frame start carries (frame, node, version 0) on stream 0; the samples are [W_c W_r] times the
        core's streams (complex64 output: 1e-6 relative)."""
        wc, wr = random_precoders(1)
        samples, found, _ = run_tx(7, node=1, seed=4, wc=wc, wr=wr)
        self.assertEqual(samples.shape, (6, 7 * LAYOUT.frame_len))
        self.assertEqual(found, [(f * LAYOUT.frame_len, f, 1, 0) for f in range(7)])
        expected = expected_samples(np.arange(7), 1, 4, wc, wr)
        self.assertLess(np.max(np.abs(samples - expected)), 1e-6 * np.max(np.abs(expected)))

    def test_precoder_message_applies_at_next_frame_boundary(self):
        """A precoder posted mid-frame (sample 40·frame_len + 37) shows in the first frame the transmitter
        generates after it: versions switch 0 → 7 exactly at a frame start, never before the message, and
        every frame's samples are entirely those of its tagged precoder (no frame mixes two)."""
        frames = 1500
        old, new = random_precoders(2), random_precoders(3)
        post_at = 40 * LAYOUT.frame_len + 37
        schedule = [(post_at, tags.precoder_to_pmt(new[0], new[1], 7))]
        samples, found, tx = run_tx(frames, wc=old[0], wr=old[1], schedule=schedule)
        versions = np.array([v for _, _, _, v in found])
        self.assertEqual(len(versions), frames)
        switch = int(np.argmax(versions == 7))
        self.assertTrue(np.all(versions[:switch] == 0) and np.all(versions[switch:] == 7), versions)
        self.assertGreater(switch * LAYOUT.frame_len, post_at)  # never applied before it was sent
        self.assertEqual(found[switch][0], switch * LAYOUT.frame_len)  # the tag sits on a frame start
        self.assertEqual(tx.precoder_version(), 7)
        before = expected_samples(np.arange(switch), 0, 0, *old)
        after = expected_samples(np.arange(switch, frames), 0, 0, *new)
        scale = np.max(np.abs(after))
        self.assertLess(np.max(np.abs(samples[:, :switch * LAYOUT.frame_len] - before)), 1e-6 * scale)
        self.assertLess(np.max(np.abs(samples[:, switch * LAYOUT.frame_len:] - after)), 1e-6 * scale)

    def test_bad_precoder_messages_are_logged_and_ignored(self):
        """Wrong shape, NaN, a missing key and a non-dict are each rejected (counted, reason kept, warning
        logged); the old precoder stays; a message for another node is ignored; the handler never raises."""
        wc, wr = random_precoders(4)
        nan_wr = wr.copy()
        nan_wr[2, 3] = np.nan
        no_version = pmt.dict_add(pmt.make_dict(), pmt.intern("wc"), tags.c32vector_from_array(wc))
        schedule = [
            (100, tags.precoder_to_pmt(wc[:, :2], wr, 1)),
            (200, tags.precoder_to_pmt(wc, nan_wr, 2)),
            (300, no_version),
            (400, pmt.intern("not a precoder")),
            (500, tags.precoder_to_pmt(wc, wr, 5, node=1)),  # for node 1: not ours
        ]
        samples, found, tx = run_tx(600, schedule=schedule)
        self.assertEqual(tx.rejected_precoders, 4)
        self.assertIn("not a PMT dict", tx.last_rejection)
        self.assertEqual({v for _, _, _, v in found}, {0})
        default = ofdm.default_precoders(LAYOUT, SCENARIO.per_antenna_power)
        expected = expected_samples(np.arange(600), 0, 0, *default)
        self.assertLess(np.max(np.abs(samples - expected)), 1e-6 * np.max(np.abs(expected)))

    def test_deterministic(self):
        """Same seed → identical samples; another seed → different data."""
        a, _, _ = run_tx(20, seed=9)
        b, _, _ = run_tx(20, seed=9)
        c, _, _ = run_tx(20, seed=10)
        np.testing.assert_array_equal(a, b)
        self.assertFalse(np.allclose(a, c))

    def test_constructor_rejects_bad_values(self):
        with self.assertRaisesRegex(ValueError, "node_id = 2: accepted: 0 … 1"):
            isac_tx(SCENARIO, 2)
        with self.assertRaisesRegex(ValueError, r"W_r shape \(6, 5\)"):
            isac_tx(SCENARIO, 0, wr=np.eye(6, 5))


if __name__ == "__main__":
    gr_unittest.run(qa_isac_tx)
