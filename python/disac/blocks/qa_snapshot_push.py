#!/usr/bin/env python3
# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""qa for snapshot_push: node_rx PDUs arrive at a real pyzmq peer (tcp://127.0.0.1, a port the system
chose) as core.wire SNAPSHOT messages with the same node id, frame, precoder version and samples, bit
for bit; PUSH and PUB, bind and connect; a malformed PDU is counted and never raised; bad parameters
are named."""

import time

import numpy as np
import pmt
import zmq
from gnuradio import gr_unittest

from gnuradio.disac.blocks import tags
from gnuradio.disac.blocks.snapshot_push import snapshot_push
from gnuradio.disac.core import wire

SHAPE = (16, 16, 1)


def pdu(node, frame, version, rng):
    samples = (rng.standard_normal(SHAPE) + 1j * rng.standard_normal(SHAPE)).astype(np.complex64)
    return tags.snapshot_to_pmt(tags.snapshot_meta(node, SHAPE), frame, version, samples), samples


def receive(sock, count, timeout_ms=5000):
    out = []
    poller = zmq.Poller()
    poller.register(sock, zmq.POLLIN)
    while len(out) < count and poller.poll(timeout_ms):
        out.append(wire.decode(sock.recv()))
    return out


class qa_snapshot_push(gr_unittest.TestCase):

    def setUp(self):
        self.context = zmq.Context.instance()
        self.rng = np.random.default_rng(0)

    def check_round_trip(self, push, peer, count=5):
        already = push.counters()["sent"]
        sent = []
        for frame in range(count):
            msg, samples = pdu(1, 100 + frame, 7, self.rng)
            before = time.time_ns()
            push.handle_snapshot(msg)
            sent.append((samples, before))
        got = receive(peer, count)
        self.assertEqual(len(got), count)
        for frame, (message, (samples, before)) in enumerate(zip(got, sent)):
            self.assertIsInstance(message, wire.SnapshotMessage)
            self.assertEqual((message.node_id, message.frame_number, message.precoder_version), (1, 100 + frame, 7))
            np.testing.assert_array_equal(message.snapshot, samples)  # complex64 both ways: exact
            self.assertTrue(before <= message.rx_time_ns <= message.tx_time_ns <= time.time_ns())
        self.assertEqual(push.counters()["sent"] - already, count)

    def test_push_connects_to_a_pull_peer(self):
        peer = self.context.socket(zmq.PULL)
        port = peer.bind_to_random_port("tcp://127.0.0.1")
        push = snapshot_push(f"tcp://127.0.0.1:{port}", False, "push")
        try:
            self.check_round_trip(push, peer)
        finally:
            push.stop()
            peer.close(0)

    def test_bound_pub_reaches_a_subscriber(self):
        push = snapshot_push("tcp://127.0.0.1:*", True, "pub")
        peer = self.context.socket(zmq.SUB)
        peer.setsockopt(zmq.SUBSCRIBE, b"")
        peer.connect(push.endpoint)
        try:
            # PUB drops until the subscription has propagated: probe until one message gets through
            for _ in range(100):
                push.handle_snapshot(pdu(1, 0, 0, self.rng)[0])
                if peer.poll(20):
                    break
            while peer.poll(50):
                peer.recv()
            self.check_round_trip(push, peer)
        finally:
            push.stop()
            peer.close(0)

    def test_malformed_pdu_is_counted_not_raised(self):
        push = snapshot_push("inproc://qa-snapshot-push-bad", True, "push")
        try:
            for bad in (pmt.intern("nonsense"), pmt.cons(pmt.make_dict(), pmt.init_f32vector(2, [1.0, 2.0])),
                        pmt.PMT_NIL):
                push.handle_snapshot(bad)
            samples = np.full(SHAPE, np.nan, np.complex64)  # wire refuses non-finite snapshots
            push.handle_snapshot(tags.snapshot_to_pmt(tags.snapshot_meta(0, SHAPE), 0, 0, samples))
            self.assertEqual(push.counters()["rejected"], 4)
            self.assertEqual(push.counters()["sent"], 0)
        finally:
            push.stop()

    def test_send_after_stop_is_dropped(self):
        push = snapshot_push("inproc://qa-snapshot-push-stopped", True, "push")
        push.stop()
        push.handle_snapshot(pdu(0, 0, 0, self.rng)[0])
        self.assertEqual(push.counters()["dropped"], 1)

    def key_file(self):
        import tempfile

        from gnuradio.disac import net

        return net.create_keys(tempfile.mkdtemp(prefix="qa-snapshot-push-"), "node")[1]

    def test_bad_parameters_are_named(self):
        with self.assertRaisesRegex(ValueError, "address = 'localhost:5555'"):
            snapshot_push("localhost:5555")
        with self.assertRaisesRegex(ValueError, "pattern = 'req'"):
            snapshot_push("inproc://x", True, "req")
        with self.assertRaisesRegex(ValueError, "hwm = 0"):
            snapshot_push("inproc://x", True, "push", 0)
        with self.assertRaisesRegex(ValueError, "cannot bind"):
            snapshot_push("tcp://256.1.1.1:5", True)
        with self.assertRaisesRegex(ValueError, "security = 'CURVE'"):
            snapshot_push("inproc://x", True, "push", 10, "CURVE")
        with self.assertRaisesRegex(ValueError, "a CURVE server .* needs an allowed keys file"):
            snapshot_push("tcp://127.0.0.1:*", True, "push", 10, "curve", self.key_file())


if __name__ == "__main__":
    gr_unittest.run(qa_snapshot_push)
