#!/usr/bin/env python3
# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""qa for synthetic_radio_tx: each TX chain's gain and phase and the node's CFO e^{+j2π ε t} (t = j/fs since the
epoch) applied as docs/air-model.md §2 says, against numpy from the table's values (not the block's maths); the same
output however the stream is cut into work calls; the ideal table passes the samples unchanged; frame tags
go on one to one and a tx_time (the epoch) marks sample 0; told its transmitter's frame count, it sends
silence after them for the links' delays (none on the ideal air); bad parameters named."""

import numpy as np
import pmt
from gnuradio import blocks, gr, gr_unittest

from gnuradio.disac.blocks import tags
from gnuradio.disac.blocks.synthetic_radio_tx import synthetic_radio_tx
from gnuradio.disac.core import ofdm
from gnuradio.disac.core.scenario import load_scenario

PAPER = load_scenario("paper")  # N = 2, Mt = 6, B = 10 MHz
TX_GAIN_DB = [[0.5, -1.0, 0.0, 2.0, -0.3, 1.1], [0.0] * 6]
TX_PHASE_DEG = [[10.0, -170.0, 33.0, 90.0, 0.0, 271.0], [0.0] * 6]
CFO_HZ = [4.77, -1234.5]  # node 1's is large, so that its phase turns visibly within the test
IMPAIRED = PAPER.with_impairments({"tx_gain_db": TX_GAIN_DB, "tx_phase_deg": TX_PHASE_DEG, "cfo_hz": CFO_HZ})
SAMPLES = 20000


def transmit(scenario, node, x, chunk=0, epoch_s=None, frame_tags=(), transmit_frames=0):
    tb = gr.top_block()
    radio = synthetic_radio_tx(scenario, node, epoch_s, 0.0, 0, transmit_frames)
    if chunk:
        radio.set_max_noutput_items(chunk)
    sinks = [blocks.vector_sink_c() for _ in x]
    for i, stream in enumerate(x):
        tb.connect(blocks.vector_source_c(stream, False, 1, list(frame_tags) if i == 0 else []), (radio, i), sinks[i])
    tb.run()
    return np.array([s.data() for s in sinks]), sinks


def streams(seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((PAPER.tx_antennas, SAMPLES))
            + 1j * rng.standard_normal((PAPER.tx_antennas, SAMPLES))).astype(np.complex64)


class qa_synthetic_radio_tx(gr_unittest.TestCase):

    def test_gains_and_cfo_as_the_table_says(self):
        x = streams()
        t = np.arange(SAMPLES) / PAPER.bandwidth_hz  # local time since the epoch
        for node in (0, 1):
            with self.subTest(node=node):
                y, _ = transmit(IMPAIRED, node, x)
                gains = 10 ** (np.array(TX_GAIN_DB[node]) / 20) * np.exp(1j * np.deg2rad(TX_PHASE_DEG[node]))
                expected = gains[:, None] * x * np.exp(2j * np.pi * CFO_HZ[node] * t)[None, :]
                # complex64 output: a relative error of a few float32 ulps (6e-8 each)
                np.testing.assert_allclose(y, expected, rtol=1e-6, atol=1e-6)

    def test_the_same_output_however_the_stream_is_cut(self):
        x = streams(1)
        whole, _ = transmit(IMPAIRED, 1, x)
        for chunk in (13, 107, 4096):
            with self.subTest(chunk=chunk):
                np.testing.assert_array_equal(transmit(IMPAIRED, 1, x, chunk)[0], whole)

    def test_the_ideal_table_passes_the_samples_unchanged(self):
        x = streams(2)
        np.testing.assert_array_equal(transmit(PAPER, 0, x)[0], x)

    def test_frame_tags_pass_and_tx_time_marks_the_epoch(self):
        x = streams(3)
        frame_tag = gr.tag_utils.python_to_tag((108, tags.frame_tag_key(), tags.frame_tag_value(1, 0, 0)))
        _, sinks = transmit(IMPAIRED, 0, x, epoch_s=1767225600.5, frame_tags=[frame_tag])
        found = [(t.offset, pmt.symbol_to_string(t.key)) for t in sinks[0].tags()]
        self.assertEqual(sorted(found), [(0, "tx_time"), (108, tags.FRAME_TAG_KEY)])
        for sink in sinks:
            tx_time = [t for t in sink.tags() if pmt.symbol_to_string(t.key) == "tx_time"]
            self.assertEqual([tags.parse_rx_time(t.value) for t in tx_time], [(1767225600, 0.5)])

    def test_silence_after_the_last_frame_for_the_links_delays(self):
        """Latencies of 46–165 samples: after 3 frames, zeros for whole frames covering the longest link delay
        (so every receiver's last frame arrives whole), then the end; the ideal air adds nothing."""
        frame_len = ofdm.layout_from_scenario(PAPER).frame_len
        delayed = PAPER.with_impairments({"latency_samples": [46.0, 165.5]})
        x = streams(4)[:, :3 * frame_len]
        y, _ = transmit(delayed, 0, x, transmit_frames=3)
        tail = y.shape[1] - 3 * frame_len
        np.testing.assert_array_equal(y[:, :3 * frame_len], x)
        self.assertTrue(tail % frame_len == 0 and tail >= 165.5 and not np.any(y[:, 3 * frame_len:]))
        self.assertEqual(transmit(PAPER, 0, x, transmit_frames=3)[0].shape, x.shape)

    def test_bad_parameters_are_named(self):
        with self.assertRaisesRegex(ValueError, "node_id"):
            synthetic_radio_tx(PAPER, 2)
        with self.assertRaisesRegex(ValueError, "tx_antennas"):
            synthetic_radio_tx(PAPER, 0, None, 0.0, 4)
        with self.assertRaisesRegex(ValueError, "epoch_s"):
            synthetic_radio_tx(PAPER, 0, -5)
        with self.assertRaisesRegex(ValueError, "transmit_frames"):
            synthetic_radio_tx(PAPER, 0, None, 0.0, 0, -1)


if __name__ == "__main__":
    gr_unittest.run(qa_synthetic_radio_tx)
