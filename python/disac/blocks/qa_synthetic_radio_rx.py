#!/usr/bin/env python3
# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""qa for synthetic_radio_rx (docs/air-model.md §2's receiving radio).

What it checks, against numpy from the table's values and the rx_time labels the block writes (not its own
maths): each output sample is rx_gains[n, r]·e^{−j2π ε_n t}·(the input sample with that label), t = label/fs;
the overflows lose exactly overflow_samples consecutive labels starting inside every k-th frame (frames
k − 1, 2k − 1, …), on every channel at once, and the next sample carries an rx_time with its true label
(gr-uhd style); the first sample carries epoch + label_offset_samples/fs; the output and the tags are the
same however the stream is cut into work calls; the ideal table passes the samples unchanged; bad
parameters named."""

import numpy as np
import pmt
from gnuradio import blocks, gr, gr_unittest

from gnuradio.disac.blocks import tags
from gnuradio.disac.blocks.synthetic_radio_rx import synthetic_radio_rx
from gnuradio.disac.core import ofdm
from gnuradio.disac.core.scenario import load_scenario

PAPER = load_scenario("paper")  # N = 2, Mr = 16, B = 10 MHz
FRAME_LEN = ofdm.layout_from_scenario(PAPER).frame_len
RX_GAIN_DB = [[0.0] * 16, list(np.linspace(-1.5, 1.5, 16))]
RX_PHASE_DEG = [[0.0] * 16, list(np.linspace(0.0, 345.0, 16))]
CFO_HZ = [0.0, 2345.6]
EVERY, LOST = 3, 150  # an overflow in every 3rd frame, 150 samples lost (more than a frame: runs into the next)
IMPAIRED = PAPER.with_impairments({"rx_gain_db": RX_GAIN_DB, "rx_phase_deg": RX_PHASE_DEG, "cfo_hz": CFO_HZ,
                                   "overflow_every_frames": EVERY, "overflow_samples": LOST, "seed": 7})
EPOCH = (tags.SYNTHETIC_EPOCH_S, 0.125)
OFFSET = -37  # the air's label of its sample 0 (−A)
SAMPLES = 30 * FRAME_LEN


def receive(scenario, x, chunk=0, node=1):
    tb = gr.top_block()
    radio = synthetic_radio_rx(scenario, node, EPOCH[0], EPOCH[1], OFFSET)
    if chunk:
        radio.set_max_noutput_items(chunk)
    sinks = [blocks.vector_sink_c() for _ in x]
    for r, stream in enumerate(x):
        tb.connect(blocks.vector_source_c(stream), (radio, r), sinks[r])
    tb.run()
    out = np.array([s.data() for s in sinks])
    rx_times = [[(t.offset, tags.parse_rx_time(t.value)) for t in s.tags()
                 if pmt.symbol_to_string(t.key) == tags.RX_TIME_KEY] for s in sinks]
    return out, rx_times, radio


def labels_from_rx_time(rx_times, count):
    """Every output sample's label (samples since EPOCH) from the rx_time tags, as a receiver reads them."""
    labels = np.empty(count, np.int64)
    marks = rx_times + [(count, None)]
    for (offset, label), (end, _) in zip(marks[:-1], marks[1:]):
        first, residual = tags.samples_since(EPOCH, label, PAPER.bandwidth_hz)
        assert abs(residual) < 1e-6
        labels[offset:end] = first + np.arange(end - offset)
    return labels


def streams(seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((PAPER.rx_antennas, SAMPLES))
            + 1j * rng.standard_normal((PAPER.rx_antennas, SAMPLES))).astype(np.complex64)


class qa_synthetic_radio_rx(gr_unittest.TestCase):

    def test_gains_cfo_and_overflows_as_the_table_says(self):
        x = streams()
        y, rx_times, radio = receive(IMPAIRED, x)
        self.assertTrue(all(r == rx_times[0] for r in rx_times))  # the same tags on every channel
        self.assertEqual(rx_times[0][0][0], 0)  # the first sample is labelled
        labels = labels_from_rx_time(rx_times[0], y.shape[1])
        self.assertEqual(labels[0], OFFSET)
        # what was lost: runs of LOST labels, each starting inside frame f = k − 1, 2k − 1, …
        missing = np.setdiff1d(np.arange(OFFSET, OFFSET + SAMPLES), labels)
        runs = np.split(missing, np.flatnonzero(np.diff(missing) != 1) + 1)
        last_label = OFFSET + SAMPLES - 1
        overflow_frames = [f for f in range(EVERY - 1, SAMPLES // FRAME_LEN, EVERY)
                           if (f + 1) * FRAME_LEN + LOST <= last_label]  # whose loss lies wholly in the stream
        self.assertEqual([r[0] // FRAME_LEN for r in runs][:len(overflow_frames)], overflow_frames)
        self.assertTrue(all(len(r) == LOST for r in runs[:len(overflow_frames)]))
        self.assertEqual(len(rx_times[0]) - 1, len(runs))  # one re-tag per loss
        self.assertEqual(radio.overflows, len(runs))
        self.assertEqual(radio.samples_lost, missing.size)
        positions = len({int(r[0]) % FRAME_LEN for r in runs})
        self.assertGreater(positions, 1)  # seeded positions, not one fixed place
        # each kept sample: gain · e^{−j2π ε t} · the input sample with its label
        gains = 10 ** (np.array(RX_GAIN_DB[1]) / 20) * np.exp(1j * np.deg2rad(RX_PHASE_DEG[1]))
        t = labels / PAPER.bandwidth_hz
        expected = gains[:, None] * x[:, labels - OFFSET] * np.exp(-2j * np.pi * CFO_HZ[1] * t)[None, :]
        np.testing.assert_allclose(y, expected, rtol=1e-6, atol=1e-6)  # complex64: a few float32 ulps

    def test_the_same_output_and_tags_however_the_stream_is_cut(self):
        x = streams(1)
        whole, whole_tags, _ = receive(IMPAIRED, x)
        for chunk in (17, FRAME_LEN, 1000):
            with self.subTest(chunk=chunk):
                y, rx_times, _ = receive(IMPAIRED, x, chunk)
                np.testing.assert_array_equal(y, whole)
                self.assertEqual(rx_times, whole_tags)

    def test_the_ideal_table_passes_the_samples_with_one_rx_time(self):
        x = streams(2)
        y, rx_times, radio = receive(PAPER, x)
        np.testing.assert_array_equal(y, x)
        self.assertEqual(rx_times[0], [(0, tags.label_time(EPOCH, OFFSET, PAPER.bandwidth_hz))])
        self.assertEqual((radio.overflows, radio.samples_lost), (0, 0))

    def test_bad_parameters_are_named(self):
        with self.assertRaisesRegex(ValueError, "node_id"):
            synthetic_radio_rx(PAPER, 5)
        with self.assertRaisesRegex(ValueError, "rx_antennas"):
            synthetic_radio_rx(PAPER, 0, None, 0.0, 0, 4)
        with self.assertRaisesRegex(ValueError, "label_offset_samples"):
            synthetic_radio_rx(PAPER, 0, None, 0.0, 1.5)
        with self.assertRaisesRegex(ValueError, "epoch_s"):
            synthetic_radio_rx(PAPER, 0, 0, 0.0, -10)


if __name__ == "__main__":
    gr_unittest.run(qa_synthetic_radio_rx)
