#!/usr/bin/env python3
# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""qa for precoder_sub: a raw pyzmq PUB on tcp://127.0.0.1 (random port) feeds the block in a running
flowgraph. Good PrecoderMessages become isac_tx precoder messages (one per node, or one node's), once per
version; garbage, wrong message types, wrong shapes, NaN, truncated and multi-frame messages are counted
and dropped, never raised; the block keeps forwarding afterwards."""

import struct
import zlib

import numpy as np
import pmt
import zmq
from gnuradio import blocks, gr, gr_unittest

from gnuradio.disac.blocks import tags
from gnuradio.disac.blocks.precoder_sub import precoder_sub
from gnuradio.disac.core import wire

TIMEOUT_S = 10.0
N, MT, U = 2, 6, 3  # the paper scenario


def precoder_set(version, seed, nodes=N):
    rng = np.random.default_rng(seed)
    wc = rng.standard_normal((nodes, MT, U)) + 1j * rng.standard_normal((nodes, MT, U))
    wr = rng.standard_normal((nodes, MT, MT)) + 1j * rng.standard_normal((nodes, MT, MT))
    return wire.PrecoderMessage(version, wc, wr)


def with_nan(message):
    """A correctly framed and checksummed message whose last W_r entry is NaN (the encoder refuses NaN)."""
    data = bytearray(wire.encode(message))
    data[-16:] = np.array([complex(np.nan, 0)], "<c16").tobytes()  # W_r is the last array, complex128
    data[12:16] = b"\0\0\0\0"
    data[12:16] = struct.pack("<I", zlib.crc32(bytes(data)))
    return bytes(data)


class qa_precoder_sub(gr_unittest.TestCase):

    def setUp(self):
        self.context = zmq.Context.instance()
        self.pub = self.context.socket(zmq.PUB)
        self.pub.setsockopt(zmq.LINGER, 0)
        port = self.pub.bind_to_random_port("tcp://127.0.0.1")
        self.address = f"tcp://127.0.0.1:{port}"
        self.tb = gr.top_block()

    def tearDown(self):
        self.tb.stop()
        self.tb.wait()
        self.pub.close(0)

    def start(self, node_id=-1):
        sub = precoder_sub(self.address, "paper", node_id)
        debug = blocks.message_debug()
        self.tb.msg_connect((sub, "precoders"), (debug, "store"))
        self.tb.start()
        return sub, debug

    def send_until_forwarded(self, sub, message):
        """Publish ``message`` until the block has forwarded it (the SUB connects in the background)."""
        def forwarded():
            if sub.last_version() == message.version:
                return True
            self.pub.send(wire.encode(message))
            return False
        self.waitFor(forwarded, timeout=TIMEOUT_S, poll_interval=0.05)

    def test_good_sets_forwarded_once_bad_ones_counted(self):
        sub, debug = self.start()
        first, second = precoder_set(1, 1), precoder_set(2, 2)
        self.send_until_forwarded(sub, first)
        good = wire.encode(first)
        bad = [
            b"not a wire message",
            good[:-3],  # truncated
            wire.encode(wire.SnapshotMessage(0, 5, 1, 0, 0, np.ones((16, 16, 1), np.complex64))),  # wrong type
            wire.encode(precoder_set(3, 3, nodes=1)),  # N = 1, the scenario has 2
            wire.encode(wire.PrecoderMessage(4, first.comm_precoders[:, :, :2], first.radar_precoders)),  # U = 2
            with_nan(precoder_set(5, 5)),
        ]
        for data in bad:
            self.pub.send(data)
        self.pub.send_multipart([good, b"second frame"])
        self.pub.send(good)  # a repeat of version 1: a duplicate, not forwarded again
        self.pub.send(wire.encode(second))  # TCP keeps the order: everything above has arrived before this
        self.waitFor(lambda: sub.last_version() == 2, timeout=TIMEOUT_S)

        counts = sub.counters()
        self.assertEqual(counts["rejected"], len(bad) + 1)
        self.assertGreaterEqual(counts["duplicates"], 1)
        self.assertEqual(counts["forwarded"], 2)
        self.assertIn("2 frames", sub.last_rejection)
        # one isac_tx message per node and version, in order, equal to what was sent (complex64: 1e-6 relative)
        self.assertEqual(debug.num_messages(), 2 * N)
        for i, sent in enumerate([first, first, second, second]):
            wc, wr, version, node = tags.precoder_from_pmt(debug.get_message(i), MT, U)
            self.assertEqual((version, node), (sent.version, i % N))
            scale = np.max(np.abs(sent.radar_precoders))
            self.assertLess(np.max(np.abs(wc - sent.comm_precoders[node])), 1e-6 * scale)
            self.assertLess(np.max(np.abs(wr - sent.radar_precoders[node])), 1e-6 * scale)

    def test_one_node(self):
        sub, debug = self.start(node_id=1)
        self.send_until_forwarded(sub, precoder_set(7, 7))
        self.assertEqual(debug.num_messages(), 1)
        msg = debug.get_message(0)
        self.assertEqual(pmt.to_long(pmt.dict_ref(msg, pmt.intern(tags.KEY_NODE), pmt.PMT_NIL)), 1)

    def test_handle_frames_never_raises(self):
        """Direct calls with hostile inputs (the receive thread's path without the socket)."""
        sub = precoder_sub(self.address, "paper")
        self.assertFalse(sub.handle_frames([]))
        self.assertFalse(sub.handle_frames([b"\0" * (sub.max_message_bytes + 1)]))
        self.assertFalse(sub.handle_frames([b"DSAC" + b"\xff" * 40]))
        self.assertEqual(sub.counters()["rejected"], 3)
        sub.stop()

    def key_pair(self):
        import tempfile

        from gnuradio.disac import net

        directory = tempfile.mkdtemp(prefix="qa-precoder-sub-")
        return net.create_keys(directory, "node")

    def test_constructor_rejects_bad_values(self):
        with self.assertRaisesRegex(ValueError, "address = 'localhost:5561': expected tcp://HOST:PORT"):
            precoder_sub("localhost:5561")
        with self.assertRaisesRegex(ValueError, "address = 'tcp://no port here': expected tcp://HOST:PORT"):
            precoder_sub("tcp://no port here")
        with self.assertRaisesRegex(ValueError, "a connecting socket needs a port number"):
            precoder_sub("tcp://127.0.0.1:*")
        with self.assertRaisesRegex(ValueError, "security = 'tls': accepted: 'open' or 'curve'"):
            precoder_sub(self.address, "paper", -1, "tls")
        with self.assertRaisesRegex(ValueError, "a CURVE client .* needs the server's public key"):
            precoder_sub(self.address, "paper", -1, "curve", self.key_pair()[1])
        with self.assertRaisesRegex(ValueError, "node_id = 2: accepted: −1 \\(every node\\) or 0 … 1"):
            precoder_sub(self.address, "paper", 2)


if __name__ == "__main__":
    gr_unittest.run(qa_precoder_sub)
