#!/usr/bin/env python3
# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""qa for central_unit, fed by a real pyzmq PUSH peer on tcp://127.0.0.1 (a port the system chose):

* noise-free, PHY-exact snapshots (eq. 3/5 with the regenerated frames and the channels' oscillator
  phases) are localised to the truth, with the CRB of the precoders, on the message port (PMT) and on
  the ZeroMQ PUB (core.wire ESTIMATE);
* a missing node: after the timeout the frame is localised with the other and the estimate says so;
* untrusted input (garbage, truncated, wrong shape, bad node id, unexpected message type) is counted,
  never raised, and the unit keeps localising;
* an unknown precoder version is skipped and counted; the precoders port adds a version;
* when the worker cannot keep up, frames are skipped and counted, and every released frame is either
  localised or counted as skipped.
"""

import time

import numpy as np
import pmt
import zmq
from gnuradio import blocks, gr, gr_unittest

from gnuradio.disac.blocks import tags
from gnuradio.disac.blocks.central_unit import central_unit, estimate_from_pmt, status_to_dict
from gnuradio.disac.core import channels, fim, fusion, model, ofdm, wire
from gnuradio.disac.core.scenario import load_scenario
from gnuradio.disac.core.precoder_identity import precoder_set_id

SCENARIO = load_scenario("paper")
LAYOUT = ofdm.layout_from_scenario(SCENARIO)
SEED, CHANNEL_SEED = 3, 4
# Noise-free data: LM converges to the truth to rounding (tests/test_localizer.py: 1e-6 m margin)
EXACT_M = 1e-6


def precoders(seed):
    rng = np.random.default_rng(seed)
    n, mt, u = SCENARIO.num_nodes, SCENARIO.tx_antennas, SCENARIO.num_users
    wc = 0.3 * (rng.standard_normal((n, mt, u)) + 1j * rng.standard_normal((n, mt, u)))
    wr = 0.3 * (rng.standard_normal((n, mt, mt)) + 1j * rng.standard_normal((n, mt, mt)))
    return wc, wr


WC, WR = precoders(0)


def snapshots(frame, wc=WC, wr=WR):
    """Every node's noise-free snapshot (N, Mr, L, P) of one frame, as node_rx would deliver it."""
    x = np.stack([ofdm.transmitted_frames(LAYOUT, SEED, [frame], m, wc[m], wr[m])[0] for m in range(2)])
    phases = channels.node_phases_rad(CHANNEL_SEED, [frame], 2)
    amps = channels.linked_amplitudes(SCENARIO.target_amplitudes(), phases)[0]
    return model.sensing_mean(SCENARIO.target_angles_rad(), SCENARIO.target_delays_s(), amps, x,
                              SCENARIO.rx_antennas, SCENARIO.bandwidth_hz).astype(np.complex64)


def wire_snapshot(node, frame, y, version=0, precoder_id=0):
    return wire.encode(wire.SnapshotMessage(node, frame, version, 0, 0, y, precoder_id=precoder_id))


def sorted_by_x(positions):
    return positions[np.argsort(positions[:, 0])]  # target 1 at x = −65 m, target 2 at x = 50 m


class qa_central_unit(gr_unittest.TestCase):

    def setUp(self):
        self.context = zmq.Context.instance()

    def start(self, **kwargs):
        params = dict(scenario=SCENARIO, seed=SEED, wc=WC, wr=WR, timeout_s=5.0, queue_depth=16,
                      address="tcp://127.0.0.1:*", bind=True, status_interval_s=0.0)
        params.update(kwargs)
        self.cu = central_unit(**params)
        self.tb = gr.top_block()
        self.estimates, self.statuses = blocks.message_debug(), blocks.message_debug()
        self.tb.msg_connect((self.cu, "estimate"), (self.estimates, "store"))
        self.tb.msg_connect((self.cu, "status"), (self.statuses, "store"))
        self.push = self.context.socket(zmq.PUSH)
        self.push.connect(self.cu.bound_address)
        self.tb.start()

    def tearDown(self):
        if getattr(self, "tb", None) is not None:
            self.tb.stop()
            self.tb.wait()
            self.push.close(0)

    def wait_localised(self, count, timeout=20.0):
        self.waitFor(lambda: len(self.cu.estimates) >= count, timeout=timeout, poll_interval=0.02,
                     fail_msg=f"{count} estimates expected; status {self.cu.status()}")

    def test_frames_are_localised_exactly_with_the_crb_on_port_and_pub(self):
        self.start(estimate_address="tcp://127.0.0.1:*")
        sub = self.context.socket(zmq.SUB)
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        sub.connect(self.cu.estimate_endpoint)
        try:
            time.sleep(0.3)  # the subscription reaches the PUB (ZeroMQ slow joiner) before the first estimate
            for frame in (10, 11, 12):
                y = snapshots(frame)
                for node in (1, 0):
                    self.push.send(wire_snapshot(node, frame, y[node]))
            self.wait_localised(3)
            crb = fusion.position_crb_per_target_m2(fim.SensingGeometry.from_scenario(SCENARIO), WC, WR)
            for frame, estimate in zip((10, 11, 12), list(self.cu.estimates)):
                self.assertEqual((estimate.frame, estimate.nodes), (frame, (0, 1)))
                np.testing.assert_allclose(sorted_by_x(estimate.positions_m), SCENARIO.target_positions_m,
                                           rtol=0, atol=EXACT_M)
                np.testing.assert_allclose(estimate.crb_m2[np.argsort(estimate.positions_m[:, 0])], crb, rtol=1e-12)
            self.waitFor(lambda: self.estimates.num_messages() == 3, timeout=5.0, poll_interval=0.02)
            as_pmt = estimate_from_pmt(self.estimates.get_message(0))
            self.assertEqual((as_pmt["frame"], as_pmt["nodes"], as_pmt["partial"]), (10, (0, 1), False))
            np.testing.assert_array_equal(as_pmt["positions_m"], self.cu.estimates[0].positions_m)
            published = []
            while sub.poll(2000) and len(published) < 3:
                published.append(wire.decode(sub.recv()))
            self.assertEqual([m.frame_number for m in published], [10, 11, 12])
            np.testing.assert_array_equal(published[2].positions_m, self.cu.estimates[2].positions_m)
            self.assertEqual(published[2].contributing_nodes.tolist(), [0, 1])
        finally:
            sub.close(0)

    def test_snapshots_waiting_in_the_socket_at_stop_are_handled_not_discarded(self):
        # A snapshot that reached the unit's socket after the service thread's last read (the window between
        # `disac cu` deciding to stop and the stop) was closed away uncounted. The service loop is kept out
        # (it returns at once) so that the snapshot surely waits in the socket when stop() comes.
        cu = central_unit(SCENARIO, SEED, WC, WR, timeout_s=5.0, queue_depth=16, address="tcp://127.0.0.1:*",
                          bind=True, status_interval_s=0.0)
        cu._service = lambda: None
        push = self.context.socket(zmq.PUSH)
        try:
            cu.start()
            push.connect(cu.bound_address)
            push.send(wire_snapshot(0, 7, snapshots(7)[0]))
            # the event: the message is in the unit's socket (poll only looks; the read is stop()'s)
            self.assertTrue(cu._socket_in.poll(30_000, zmq.POLLIN), "the snapshot never reached the socket")
            cu.stop()
        finally:
            push.close(0)
        status = cu.status()
        self.assertEqual((status["snapshots_accepted"], status["frames_released"], status["frames_localised"]),
                         (1, 1, 1), status)
        self.assertEqual([e.frame for e in cu.estimates], [7])

    def test_missing_node_times_out_and_the_estimate_says_so(self):
        self.start(timeout_s=0.2)
        self.push.send(wire_snapshot(0, 5, snapshots(5)[0]))
        self.wait_localised(1)
        estimate = self.cu.estimates[0]
        self.assertEqual(estimate.nodes, (0,))
        # node 1's snapshot is missing but its transmitted frame is known: still exact without noise
        np.testing.assert_allclose(sorted_by_x(estimate.positions_m), SCENARIO.target_positions_m, rtol=0, atol=EXACT_M)
        status = self.cu.status()
        self.assertEqual((status["released_timeout"], status["frames_partial"]), (1, 1))
        self.push.send(wire_snapshot(1, 5, snapshots(5)[1]))  # arrives after the release: late
        self.waitFor(lambda: self.cu.status()["late"] == 1, timeout=5.0, poll_interval=0.02)

    def test_untrusted_input_is_counted_and_the_unit_keeps_working(self):
        self.start()
        good = wire_snapshot(0, 1, snapshots(1)[0])
        for data in (b"", b"garbage" * 10, good[:-3], good[:20] + bytes([good[20] ^ 1]) + good[21:],
                     wire.encode(wire.EstimateMessage(1, 0, np.zeros((2, 2)), np.ones(2), 0.0, np.zeros(1, np.int32)))):
            self.push.send(data)
        self.push.send(wire_snapshot(0, 1, np.zeros((16, 8, 1), np.complex64)))  # wrong shape
        self.push.send(wire_snapshot(9, 1, snapshots(1)[0]))  # no node 9 in the scenario
        self.cu.handle_snapshot(pmt.intern("not a PDU"))
        self.cu.handle_precoders(pmt.to_pmt({"wc": 1}))
        self.waitFor(lambda: self.cu.status()["decode_errors"] == 5, timeout=5.0, poll_interval=0.02,
                     fail_msg=str(self.cu.status()))
        self.waitFor(lambda: self.cu.status()["rejected_snapshots"] == 3, timeout=5.0, poll_interval=0.02)
        self.assertEqual(self.cu.status()["rejected_precoders"], 1)
        y = snapshots(2)
        for node in (0, 1):
            self.push.send(wire_snapshot(node, 2, y[node]))
        self.wait_localised(1)
        self.assertEqual(self.cu.estimates[0].frame, 2)

    def test_unknown_version_is_skipped_until_the_precoders_port_brings_it(self):
        self.start()
        wc1, wr1 = precoders(1)
        # frames name their set by identity (issue 11); the set comes per node with that identity
        id1 = precoder_set_id(wc1, wr1)
        y = snapshots(3, wc1, wr1)
        for node in (0, 1):
            self.push.send(wire_snapshot(node, 3, y[node], version=1, precoder_id=id1))
        self.waitFor(lambda: self.cu.status()["skipped_unknown_version"] == 1, timeout=5.0, poll_interval=0.02)
        self.assertEqual(self.cu.status()["unknown_precoders"], 1)
        for node in (0, 1):
            self.cu.handle_precoders(tags.precoder_to_pmt(wc1[node], wr1[node], 1, node, precoder_id=id1))
        self.assertEqual(self.cu.status()["precoder_updates"], 2)
        y = snapshots(4, wc1, wr1)
        for node in (0, 1):
            self.push.send(wire_snapshot(node, 4, y[node], version=1, precoder_id=id1))
        self.wait_localised(1)
        self.assertEqual(self.cu.estimates[0].precoder_version, 1)
        np.testing.assert_allclose(sorted_by_x(self.cu.estimates[0].positions_m), SCENARIO.target_positions_m,
                                   rtol=0, atol=EXACT_M)

    def test_a_busy_worker_skips_frames_and_every_frame_is_accounted_for(self):
        self.start(queue_depth=1, status_interval_s=0.05)
        frames = 8
        for frame in range(frames):  # a burst: 8 frames in well under one localisation (~30 ms)
            y = snapshots(frame)
            for node in (0, 1):
                self.push.send(wire_snapshot(node, frame, y[node]))
        self.waitFor(lambda: self.cu.status()["frames_released"] == frames, timeout=10.0, poll_interval=0.02)
        self.waitFor(lambda: self.statuses.num_messages() > 0, timeout=5.0, poll_interval=0.02)
        periodic = status_to_dict(self.statuses.get_message(0))
        self.tb.stop()
        self.tb.wait()
        self.push.close(0)
        self.tb = None
        status = self.cu.status()
        self.assertGreater(status["skipped_busy"], 0)
        self.assertEqual(status["frames_localised"] + status["frames_skipped"], frames)
        self.assertEqual(set(periodic), set(status))  # the status message carries every counter

    def test_bad_parameters_are_named(self):
        with self.assertRaisesRegex(ValueError, "pattern = 'push'"):
            central_unit(SCENARIO, pattern="push")
        with self.assertRaisesRegex(ValueError, "queue_depth = 0"):
            central_unit(SCENARIO, queue_depth=0)
        with self.assertRaisesRegex(ValueError, "address = 'localhost'"):
            central_unit(SCENARIO, address="localhost")
        with self.assertRaisesRegex(ValueError, "estimate_address = 'tcp://127.0.0.1:\\*': a connecting socket"):
            central_unit(SCENARIO, estimate_address="tcp://127.0.0.1:*", estimate_bind=False)
        with self.assertRaisesRegex(ValueError, "security = 'on'"):
            central_unit(SCENARIO, security="on")
        with self.assertRaisesRegex(ValueError, "timeout_s = -1"):
            central_unit(SCENARIO, timeout_s=-1)
        with self.assertRaisesRegex(ValueError, "search = 'fast'"):
            central_unit(SCENARIO, search="fast")
        with self.assertRaisesRegex(ValueError, r"W_c shape \(6, 2\)"):
            central_unit(SCENARIO, wc=WC[:, :, :2], wr=WR)


if __name__ == "__main__":
    gr_unittest.run(qa_central_unit)
