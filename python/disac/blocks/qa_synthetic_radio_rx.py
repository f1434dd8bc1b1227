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
parameters named.

The receive front end (issue 14): with adc_bits > 0 every output sample is core.front_end's (AGC + ADC, ÷ g) of
the gained and CFO-rotated input with its label, before the overflow losses, whatever the cut; clipping is
counted (adc_clipped); with rf_canceller_db > 0 and the node's own transmit samples on the extra inputs the RF
canceller learns a leakage from samples (its state in front_end_status), and the block holds no reference
to the scenario's truth in it; without the transmit inputs there is no canceller (a warning)."""

import numpy as np
import pmt
from gnuradio import blocks, gr, gr_unittest

from gnuradio.disac.blocks import tags
from gnuradio.disac.blocks.synthetic_radio_rx import synthetic_radio_rx
from gnuradio.disac.core import delay_line, front_end, ofdm
from gnuradio.disac.core.scenario import Scenario, load_scenario

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


def receive(scenario, x, chunk=0, node=1, tx=None, transmit_frames=0, offset=OFFSET):
    tb = gr.top_block()
    radio = synthetic_radio_rx(scenario, node, EPOCH[0], EPOCH[1], offset, tx_reference=tx is not None,
                               transmit_frames=transmit_frames)
    if chunk:
        radio.set_max_noutput_items(chunk)
    sinks = [blocks.vector_sink_c() for _ in x]
    for r, stream in enumerate(x):
        tb.connect(blocks.vector_source_c(stream), (radio, r), sinks[r])
    for i, stream in enumerate([] if tx is None else tx):
        tb.connect(blocks.vector_source_c(stream), (radio, len(x) + i))
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


    # ---- the receive front end (issue 14) ----------------------------------------------------------
    def test_front_end_after_gains_and_cfo_before_the_losses(self):
        scenario = IMPAIRED.with_impairments(dict(IMPAIRED.impairments_table, adc_bits=10, adc_full_scale=0.5))
        x = streams(3) * np.float32(30.0)  # far above full scale: the AGC must step down first
        y, rx_times, radio = receive(scenario, x)
        labels = labels_from_rx_time(rx_times[0], y.shape[1])
        # numpy: gains, CFO, then core.front_end on every label in a row (the losses come after it)
        gains = 10 ** (np.array(RX_GAIN_DB[1]) / 20) * np.exp(1j * np.deg2rad(RX_PHASE_DEG[1]))
        all_labels = OFFSET + np.arange(SAMPLES)
        t = all_labels / PAPER.bandwidth_hz
        v = gains[:, None] * x.astype(complex) * np.exp(-2j * np.pi * CFO_HZ[1] * t)[None, :]
        fe = front_end.ReceiveFrontEnd(PAPER.rx_antennas, FRAME_LEN, 10, 0.5, True, front_end.DEFAULT_AGC_BACKOFF_DB)
        expected = fe.process(v, OFFSET)[:, labels - OFFSET]
        # the block computes the gains·CFO product in float64 from complex64 input as numpy does here; the
        # quantiser then maps both to the same level except where a value lies within rounding of a level's edge
        # (a few in 1e5): compare with a tolerance of one step ÷ g on a tiny share of samples
        step = 2 * 0.5 / 2 ** 10 / fe.gain
        off = np.abs(y - expected) > 1e-6 * np.abs(expected).max()
        self.assertLess(off.mean(), 1e-3)
        self.assertLess(np.abs(y - expected)[off].max(initial=0), 1.5 * step * 10 ** (front_end.AGC_MAX_STEP_DB / 20))
        self.assertEqual(radio.adc_clipped, fe.adc_clipped)
        self.assertGreater(radio.adc_clipped, 0)  # the first frames clipped: counted
        status = radio.front_end_status()
        self.assertEqual(status["adc_clipped"], radio.adc_clipped)
        self.assertTrue(status["agc_settled"])
        self.assertNotIn("canceller_settled", status)  # no canceller asked for

    def test_front_end_same_output_however_cut(self):
        scenario = IMPAIRED.with_impairments(dict(IMPAIRED.impairments_table, adc_bits=8))
        x = streams(4) * np.float32(10.0)
        whole, whole_tags, _ = receive(scenario, x)
        for chunk in (17, FRAME_LEN):
            with self.subTest(chunk=chunk):
                y, rx_times, _ = receive(scenario, x, chunk)
                np.testing.assert_array_equal(y, whole)
                self.assertEqual(rx_times, whole_tags)

    def test_canceller_learns_the_leakage_from_the_nodes_transmit_samples(self):
        frames = 24
        table = {"adc_bits": 12, "rf_canceller_db": 50.0}
        scenario = PAPER.with_impairments(table)
        wc, wr = ofdm.default_precoders(ofdm.layout_from_scenario(PAPER), PAPER.per_antenna_power)
        tx = ofdm.NodeModulator(ofdm.frame_generator(ofdm.layout_from_scenario(PAPER), 0), 0, wc, wr).samples(
            np.arange(frames))
        rng = np.random.default_rng(9)
        leak_matrix = 3e4 * np.exp(2j * np.pi * rng.random((PAPER.rx_antennas, PAPER.tx_antennas)))  # +90 dB
        line = delay_line.DelayLine(PAPER.subcarriers, PAPER.cyclic_prefix, PAPER.bandwidth_hz, [63.4] * 6)
        leak = leak_matrix @ line.process(tx).astype(complex)
        air = (leak + (rng.standard_normal(leak.shape) + 1j * rng.standard_normal(leak.shape)) / np.sqrt(2))
        y, _, radio = receive(scenario, air.astype(np.complex64), node=0, tx=tx, transmit_frames=frames, offset=0)
        status = radio.front_end_status()
        self.assertTrue(status["canceller_settled"])
        self.assertAlmostEqual(status["canceller_delay_samples"], 63.4, delta=1e-4)
        half = frames // 2 * FRAME_LEN
        # what is left of the leakage in the output (÷ g): at least the depth (50 dB) − 1.5 dB, and not far better
        # than its grid allows (+3 dB): tests/test_front_end.py says why
        residual = y[:, half:] - (air[:, half:] - leak[:, half:])  # output minus what is not leakage
        left_db = 10 * np.log10(np.sum(np.abs(leak[:, half:]) ** 2) / np.sum(np.abs(residual) ** 2))
        self.assertTrue(50.0 - 1.5 < left_db < 50.0 + 3.0, left_db)
        self.assertAlmostEqual(status["canceller_cancellation_db"], left_db, delta=1.0)
        self.assertEqual(status["canceller_frames_unsettled"], status["canceller_first_settled_frame"])
        # the canceller holds nothing of the scenario (it cannot read the air's truth): sizes, samples, its state
        held = [v for v in vars(radio.front.canceller).values()] + list(vars(radio.front.canceller.reference).values())
        self.assertFalse(any(isinstance(v, Scenario) or type(v).__name__ == "Impairments" for v in held))
        # without the node's transmit samples: no canceller (nothing to cancel with), the ADC alone
        _, _, plain = receive(scenario, air.astype(np.complex64)[:, :4 * FRAME_LEN], node=0, offset=0)
        self.assertIsNone(plain.front.canceller)


if __name__ == "__main__":
    gr_unittest.run(qa_synthetic_radio_rx)
