#!/usr/bin/env python3
# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""qa for usrp_node without a radio (a stand-in radio object, as tests/test_node_usrp.py does in depth):
the hier block opens the sink and source on the scenario's channels, wires transmitter → band shift →
sink and source → band shift → rx frame tagger → node_rx, and gives one snapshot per frame on its message
port with this node's id; configure() applies the settings through the radio; bad settings are named."""

import math

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

    def test_bad_settings_are_named(self):
        air = stand_in_air(1)
        with self.assertRaisesRegex(RadioSetupError, "--tx-channels 0,1: 2 channel"):
            usrp_node(SCENARIO, 0, address="", tx_channels=(0, 1), epoch_s=1e9, radio=stand_in_radio(air))
        with self.assertRaisesRegex(RadioSetupError, "--epoch-s"):
            usrp_node(SCENARIO, 0, address="", epoch_s=None, radio=stand_in_radio(air))


if __name__ == "__main__":
    gr_unittest.run(qa_usrp_node)
