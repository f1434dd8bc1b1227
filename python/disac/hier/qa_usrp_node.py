#!/usr/bin/env python3
# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""qa for usrp_node without a radio (a stand-in radio object, as tests/test_node_usrp.py does in depth):
the hier block opens the sink and source on the scenario's channels, wires transmitter → band shift →
sink and source → band shift → rx frame tagger → node_rx, and gives one snapshot per frame on its message
port with this node's id; configure() applies the settings through the radio; frames are placed from the
radio's rx_time (an overflow that gr-uhd re-tags drops the frames it cut, counted, and the later ones are
placed exactly); bad settings are named."""

import math

import numpy as np
from gnuradio import analog, blocks, gr, gr_unittest

from gnuradio.disac.blocks import tags
from gnuradio.disac.core import ofdm
from gnuradio.disac.core.scenario import load_scenario
from gnuradio.disac.hier.usrp_node import RadioSetupError, usrp_node

SCENARIO = load_scenario("paper")  # Mt = 6, Mr = 16
FRAME_LEN = ofdm.layout_from_scenario(SCENARIO).frame_len


class stand_in_air(gr.hier_block2):
    """Mt inputs swallowed, Mr outputs of noise for ``frames`` frames; records the setting calls."""

    def __init__(self, frames):
        mt, mr = SCENARIO.tx_antennas, SCENARIO.rx_antennas
        gr.hier_block2.__init__(self, "stand_in_air", gr.io_signature(mt, mt, gr.sizeof_gr_complex),
                                gr.io_signature(mr, mr, gr.sizeof_gr_complex))
        self.calls, self.rate = [], None
        for i in range(mt):
            self.connect((self, i), blocks.null_sink(gr.sizeof_gr_complex))
        head = blocks.head(gr.sizeof_gr_complex, frames * FRAME_LEN)
        self.connect(analog.noise_source_c(analog.GR_GAUSSIAN, 1.0, 3), head)
        for r in range(mr):
            self.connect(head, (self, r))

    def _record(name):
        def method(self, *args):
            self.calls.append((name,) + args)
        return method

    set_clock_source = _record("set_clock_source")
    set_time_source = _record("set_time_source")
    set_center_freq = _record("set_center_freq")
    set_gain = _record("set_gain")
    set_time_now = _record("set_time_now")
    set_start_time = _record("set_start_time")
    set_recv_timeout = _record("set_recv_timeout")

    def set_samp_rate(self, rate):
        self.rate = rate

    def get_samp_rate(self):
        return self.rate


class overflowing_air(stand_in_air):
    """Mt inputs swallowed, Mr outputs of ``samples`` known samples labelled by gr-uhd rx_time tags: the device
    start time at sample 0, and after ``lost`` samples lost at sample ``at`` a re-tag with the true label."""

    def __init__(self, samples, epoch_s, at, lost):
        mt, mr = SCENARIO.tx_antennas, SCENARIO.rx_antennas
        gr.hier_block2.__init__(self, "overflowing_air", gr.io_signature(mt, mt, gr.sizeof_gr_complex),
                                gr.io_signature(mr, mr, gr.sizeof_gr_complex))
        self.calls, self.rate = [], None
        for i in range(mt):
            self.connect((self, i), blocks.null_sink(gr.sizeof_gr_complex))
        epoch, rate = tags.split_seconds(epoch_s), SCENARIO.bandwidth_hz
        rx_time = [gr.tag_utils.python_to_tag((k, tags.rx_time_key(),
                                               tags.rx_time_value(tags.label_time(epoch, label, rate))))
                   for k, label in ((0, 0), (at, at + lost))]
        self.samples = (np.arange(samples) % 977 + 1j).astype(np.complex64)
        for r in range(mr):
            self.connect(blocks.vector_source_c(self.samples, False, 1, rx_time), (self, r))


class stand_in_radio:
    all_mboards = "ALL"

    def __init__(self, air):
        self.air, self.opened = air, []

    def sink(self, device_args, channels):
        self.opened.append(("sink", tuple(channels)))
        return self.air

    def source(self, device_args, channels):
        self.opened.append(("source", tuple(channels)))
        return self.air

    def time_spec(self, seconds):
        return float(seconds)


class qa_usrp_node(gr_unittest.TestCase):

    def test_one_snapshot_per_frame_through_the_stand_in_radio(self):
        frames, epoch = 5, 1010.0
        air = stand_in_air(frames)
        radio = stand_in_radio(air)
        node = usrp_node(SCENARIO, 1, max_frames=frames, address="", center_freq_hz=2.4e9, time_source="internal",
                         epoch_s=epoch, radio=radio)
        self.assertEqual(radio.opened, [("sink", tuple(range(6))), ("source", tuple(range(16)))])
        clock = [1000.0]
        report = node.configure(now=lambda: clock[0], sleep=lambda s: clock.__setitem__(0, clock[0] + s))
        self.assertEqual(report["time"], "host time (internal time source: no PPS)")
        self.assertIn(("set_start_time", epoch), air.calls)
        tb = gr.top_block()
        store = blocks.message_debug()
        tb.msg_connect((node, tags.SNAPSHOT_PORT), (store, "store"))
        tb.run()
        snaps = [s for i in range(store.num_messages()) for s in tags.snapshots_from_pmt(store.get_message(i))]
        self.assertEqual([s.frame for s in snaps], list(range(frames)))
        self.assertTrue(node.frames_done() and node.tagger.versions_guessed == 0)
        self.assertTrue(all(math.isfinite(abs(s.samples).sum()) and s.samples.shape == (16, 16, 1) for s in snaps))

    def test_frames_from_rx_time_across_an_overflow(self):
        """rx_time at the start time, then 300 samples lost 50 samples into frame 2: frames 2 and 5 are cut
        (partial), 3 and 4 lie inside the loss (lost), 0, 1, 6, 7 are received, each exactly at its label."""
        frames, epoch, at, lost = 8, 1010.25, 2 * FRAME_LEN + 50, 300
        air = overflowing_air(7 * FRAME_LEN, epoch, at, lost)
        node = usrp_node(SCENARIO, 0, max_frames=frames, address="", center_freq_hz=2.4e9, time_source="internal",
                         epoch_s=epoch, radio=stand_in_radio(air))
        node.configure(now=lambda: 1000.0, sleep=lambda s: None)
        tb = gr.top_block()
        store = blocks.message_debug()
        tb.msg_connect((node, tags.SNAPSHOT_PORT), (store, "store"))
        tb.run()
        snaps = [s for i in range(store.num_messages()) for s in tags.snapshots_from_pmt(store.get_message(i))]
        self.assertEqual([s.frame for s in snaps], [0, 1, 6, 7])
        self.assertEqual((node.tagger.overflow_partial, node.tagger.overflow_lost), (2, 2))
        self.assertTrue(node.frames_done())
        lay = ofdm.layout_from_scenario(SCENARIO)
        for snap in snaps:  # the snapshot holds the samples labelled from frame f's start (band shift undone)
            label = snap.frame * FRAME_LEN + lay.front_len + lay.cyclic_prefix
            k = label if label < at else label - lost  # the stream sample with that label
            shift = (-1.0) ** np.arange(k, k + lay.subcarriers)  # the rx band shift of the low-IF grid
            expected = np.fft.fft(air.samples[k:k + lay.subcarriers] * shift, norm="ortho")
            np.testing.assert_allclose(snap.samples[0, :, 0], expected, rtol=1e-4, atol=1e-3)  # complex64 FFT

    def test_bad_settings_are_named(self):
        air = stand_in_air(1)
        with self.assertRaisesRegex(RadioSetupError, "--tx-channels 0,1: 2 channel"):
            usrp_node(SCENARIO, 0, address="", tx_channels=(0, 1), epoch_s=1e9, radio=stand_in_radio(air))
        with self.assertRaisesRegex(RadioSetupError, "--epoch-s"):
            usrp_node(SCENARIO, 0, address="", epoch_s=None, radio=stand_in_radio(air))


if __name__ == "__main__":
    gr_unittest.run(qa_usrp_node)
