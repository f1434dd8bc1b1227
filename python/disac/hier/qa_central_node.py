#!/usr/bin/env python3
# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""qa for central_node: snapshots from two synthetic nodes over ZeroMQ (inproc) come out as one estimate per
frame near the targets; a precoder set published by a real pyzmq PUB peer reaches the central unit through
the node's own precoder_sub (version in its table, subscriber counters in status()); bad parameters named."""

import time

import numpy as np
import zmq
from gnuradio import blocks, gr, gr_unittest

from gnuradio.disac.core import ofdm, wire
from gnuradio.disac.core.scenario import load_scenario
from gnuradio.disac.hier import system
from gnuradio.disac.hier.central_node import central_node

SCENARIO = load_scenario("paper")


class qa_central_node(gr_unittest.TestCase):

    def test_every_frame_is_localised_near_the_targets(self):
        frames = 10
        estimates, status, _ = system.run_synthetic_system(SCENARIO, *self.placeholder(), frames)
        self.assertEqual(sorted(estimates), list(range(frames)))
        self.assertEqual(status["frames_localised"], frames)
        truth = np.asarray(SCENARIO.target_positions_m)
        for estimate in estimates.values():
            errors = np.linalg.norm(np.asarray(estimate.positions_m)[:, None] - truth[None], axis=2).min(axis=0)
            # the ML estimator is at the CRB here (test_demo); 10·√CRB flags a lost or wrong frame, not noise
            self.assertTrue(np.all(errors <= 10 * np.sqrt(np.asarray(estimate.crb_m2, float))), estimate)

    def placeholder(self):
        wc, wr = ofdm.default_precoders(ofdm.layout_from_scenario(SCENARIO), SCENARIO.per_antenna_power)
        return np.stack([wc, wc]), np.stack([wr, wr])

    def test_precoder_sets_from_a_server_reach_the_table(self):
        pub = zmq.Context.instance().socket(zmq.PUB)
        pub.setsockopt(zmq.LINGER, 0)
        port = pub.bind_to_random_port("tcp://127.0.0.1")
        try:
            central = central_node(SCENARIO, address="", precoders_address=f"tcp://127.0.0.1:{port}",
                                   status_interval_s=0)
            tb = gr.top_block()
            sink = blocks.message_debug()
            tb.msg_connect((central, "status"), (sink, "store"))
            tb.start()
            wc, wr = self.placeholder()
            data = wire.encode(wire.PrecoderMessage(version=7, comm_precoders=wc, radar_precoders=wr))
            deadline = time.monotonic() + 20.0  # a SUB joins a little after it connects: publish until it is in
            while 7 not in central.cu.precoders.versions and time.monotonic() < deadline:
                pub.send(data)
                time.sleep(0.05)
            tb.stop()
            tb.wait()
        finally:
            pub.close(0)
        self.assertIn(7, central.cu.precoders.versions)
        status = central.status()
        self.assertGreaterEqual(status["precoder_sub_forwarded"], 1)

    def test_bad_parameters_are_named(self):
        with self.assertRaisesRegex(ValueError, "queue_depth"):
            central_node(SCENARIO, address="", queue_depth=0)
        with self.assertRaisesRegex(ValueError, "address"):
            central_node(SCENARIO, address="", precoders_address="localhost:5561")


if __name__ == "__main__":
    gr_unittest.run(qa_central_node)
