#!/usr/bin/env python3
# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""qa for beamformer_server (with precoder_sub on its PUB socket), in a running flowgraph.

A real pyzmq REQ client on tcp://127.0.0.1 (ports chosen by the system, read back from the block) asks
for designs; checked: the reply (JSON + wire PrecoderMessage), that each new set appears on the
"precoders" port (one isac_tx message per node, accepted by isac_tx) and, through PUB → precoder_sub,
on the node side, with increasing versions; that set_sinr_db re-solves and publishes a new version; that
an infeasible threshold keeps the old set; that bad, multi-frame and oversized requests leave the server
answering; that DEALER clients speak REP's envelope to its ROUTER socket. Every wait is bounded (waitFor), every socket closed with linger 0.
"""

import json

import numpy as np
import pmt
import zmq
from gnuradio import blocks, gr, gr_unittest

from gnuradio.disac.blocks import tags
from gnuradio.disac.blocks.beamformer_server import MAX_FRAME_BYTES, beamformer_server
from gnuradio.disac.blocks.isac_tx import isac_tx
from gnuradio.disac.blocks.precoder_sub import precoder_sub
from gnuradio.disac.core import bf_service

TIMEOUT_S = 20.0  # a solve takes ~0.1–0.3 s here; generous for a loaded 2-core machine
MT, U, N = 6, 3, 2  # the paper scenario


def versions_by_node(debug):
    """[(version, node)] of the precoder messages a message_debug stored, in arrival order."""
    out = []
    for i in range(debug.num_messages()):
        msg = debug.get_message(i)
        out.append((pmt.to_long(pmt.dict_ref(msg, pmt.intern(tags.KEY_VERSION), pmt.PMT_NIL)),
                    pmt.to_long(pmt.dict_ref(msg, pmt.intern(tags.KEY_NODE), pmt.PMT_NIL))))
    return out


def statuses(debug):
    return [pmt.to_python(debug.get_message(i)) for i in range(debug.num_messages())]


class qa_beamformer_server(gr_unittest.TestCase):

    def setUp(self):
        self.tb = gr.top_block()
        self.server = beamformer_server("paper", 10.0, bind_address="tcp://127.0.0.1:0",
                                        pub_address="tcp://127.0.0.1:0", republish_s=0.2)
        self.sub = precoder_sub(self.server.pub_endpoint(), "paper")
        self.local, self.remote, self.status = blocks.message_debug(), blocks.message_debug(), blocks.message_debug()
        self.tb.msg_connect((self.server, "precoders"), (self.local, "store"))
        self.tb.msg_connect((self.server, "status"), (self.status, "store"))
        self.tb.msg_connect((self.sub, "precoders"), (self.remote, "store"))
        self.context = zmq.Context.instance()
        self.sockets = []

    def tearDown(self):
        for sock in self.sockets:
            sock.close(0)
        self.tb.stop()
        self.tb.wait()
        self.tb = None

    def client(self):
        sock = self.context.socket(zmq.REQ)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(self.server.bound_endpoint())
        self.sockets.append(sock)
        return sock

    def ask(self, sock, frames):
        sock.send_multipart(frames)
        self.assertTrue(sock.poll(int(TIMEOUT_S * 1000)), "no reply from the server")
        return sock.recv_multipart()

    def wait_version(self, version):
        """Both nodes' messages of ``version`` on the server's port and at the precoder_sub."""
        for debug, where in ((self.local, "server port"), (self.remote, "precoder_sub")):
            self.waitFor(lambda: {(version, 0), (version, 1)} <= set(versions_by_node(debug)), timeout=TIMEOUT_S,
                         fail_msg=f"version {version} did not reach the {where}: {versions_by_node(debug)}")

    def test_requests_slider_and_infeasible(self):
        self.assertTrue(self.server.bound_endpoint().startswith("tcp://127.0.0.1:"))
        self.tb.start()
        self.wait_version(1)  # the design at start (10 dB)

        # a request: JSON reply + the wire PrecoderMessage of the new version
        sock = self.client()
        frames = self.ask(sock, [json.dumps({"sinr_db": 15}).encode()])
        self.assertEqual(len(frames), 2)
        fields, message = bf_service.reply_from_frames(frames)
        self.assertEqual((fields["status"], fields["version"], fields["applied"]), ("optimal", 2, True))
        self.assertEqual(message.version, 2)
        self.assertGreaterEqual(min(fields["sinr_extracted_db"]), 15 - 1e-3)  # solver tolerance, see tests/test_bf_service.py
        self.wait_version(2)

        # what the port carries is isac_tx's precoder message, equal to the reply's set (complex64 on the
        # port: 1e-6 relative), and isac_tx accepts it
        tx = isac_tx("paper", 1)
        for i in range(self.local.num_messages()):
            msg = self.local.get_message(i)
            wc, wr, version, node = tags.precoder_from_pmt(msg, MT, U)
            if version == 2:
                scale = max(np.max(np.abs(message.comm_precoders)), np.max(np.abs(message.radar_precoders)))
                self.assertLess(np.max(np.abs(wc - message.comm_precoders[node])), 1e-6 * scale)
                self.assertLess(np.max(np.abs(wr - message.radar_precoders[node])), 1e-6 * scale)
            tx.handle_precoder(msg)
        self.assertEqual(tx.rejected_precoders, 0)

        # the slider: a new threshold re-solves and publishes the next version
        self.server.set_sinr_db(12.0)
        self.wait_version(3)
        self.waitFor(lambda: any(s["version"] == 3 and s["sinr_threshold_db"] == 12.0 for s in statuses(self.status)),
                     timeout=TIMEOUT_S)

        # an infeasible threshold: reported on the status port, nothing published, version 3 stays
        published = self.local.num_messages()
        self.server.set_sinr_db(40.0)
        self.waitFor(lambda: any(s["status"] == "infeasible" for s in statuses(self.status)), timeout=TIMEOUT_S)
        last = statuses(self.status)[-1]
        self.assertEqual((last["status"], last["version"]), ("infeasible", 3))
        self.assertIn("version 3 stays in force", last["message"])
        self.assertEqual(self.server.version(), 3)
        # the PUB keeps re-sending version 3 (arriving at precoder_sub as duplicates): nothing new came
        duplicates = self.sub.counters()["duplicates"]
        self.waitFor(lambda: self.sub.counters()["duplicates"] >= duplicates + 2, timeout=TIMEOUT_S)
        self.assertEqual(self.local.num_messages(), published)
        self.assertEqual(self.sub.last_version(), 3)

        # versions only increase, at both ends
        for debug in (self.local, self.remote):
            for node in range(N):
                seen = [v for v, n in versions_by_node(debug) if n == node]
                self.assertEqual(seen, sorted(set(seen)))
                self.assertEqual(seen[-1], 3)
        self.assertEqual(self.sub.counters()["rejected"], 0)

    def test_bad_requests_leave_the_server_answering(self):
        self.tb.start()
        self.wait_version(1)
        sock = self.client()
        for frames, fragment in (([b"{"], "not valid JSON"),
                                 ([b'{"objective": "crb"}'], "objective = 'crb'"),
                                 ([b'{"sinr_db": 10}', b"extra"], "request of 2 frames")):
            reply = self.ask(sock, frames)
            self.assertEqual(len(reply), 1)
            fields = json.loads(reply[0])
            self.assertEqual((fields["status"], fields["version"]), ("bad_request", 1))
            self.assertIn(fragment, fields["message"])
        # a frame beyond MAX_FRAME_BYTES: ZeroMQ drops that peer, nothing is allocated or answered
        big = self.client()
        big.send(b" " * (MAX_FRAME_BYTES + 1))
        self.assertFalse(big.poll(500))
        # and the server still answers others
        fields, message = bf_service.reply_from_frames(self.ask(sock, [b'{"sinr_db": 11}']))
        self.assertEqual((fields["status"], fields["version"], message.version), ("optimal", 2, 2))
        self.assertEqual(self.server.service.counters["bad_requests"], 3)

    def test_dealer_clients_use_reps_envelope(self):
        """The ROUTER keeps REP's envelope: a DEALER that sends the empty delimiter is answered with it; a
        message without one is dropped (as REP drops it) and counted; the server goes on."""
        self.tb.start()
        self.wait_version(1)
        dealer = self.context.socket(zmq.DEALER)
        dealer.setsockopt(zmq.LINGER, 0)
        dealer.connect(self.server.bound_endpoint())
        self.sockets.append(dealer)
        dealer.send_multipart([b"{}"])  # no delimiter: dropped
        self.waitFor(lambda: self.server.service.counters["bad_requests"] == 1, timeout=TIMEOUT_S)
        dealer.send_multipart([b"", b"{}"])
        self.assertTrue(dealer.poll(int(TIMEOUT_S * 1000)))
        frames = dealer.recv_multipart()
        self.assertEqual(frames[0], b"")  # the delimiter comes back first, then the reply as to a REQ
        fields, message = bf_service.reply_from_frames(frames[1:])
        self.assertEqual((fields["status"], fields["version"], message.version), ("optimal", 1, 1))
        self.assertTrue(fields["message"].startswith("unchanged"))

    def test_constructor_rejects_bad_values(self):
        with self.assertRaisesRegex(ValueError, "bind_address = 'localhost:5560': expected tcp://HOST:PORT"):
            beamformer_server("paper", bind_address="localhost:5560")
        with self.assertRaisesRegex(ValueError, "cannot bind"):  # the port setUp's server holds
            beamformer_server("paper", bind_address=self.server.bound_endpoint())
        with self.assertRaisesRegex(ValueError, "sinr_db = 70.0: expected a finite number of dB from -40 to 60"):
            beamformer_server("paper", 70.0, bind_address="tcp://127.0.0.1:0")
        with self.assertRaisesRegex(ValueError, "republish_s = -1.0"):
            beamformer_server("paper", bind_address="tcp://127.0.0.1:0", republish_s=-1)
        with self.assertRaisesRegex(ValueError, "time_limit_s = -1"):
            beamformer_server("paper", bind_address="tcp://127.0.0.1:0", time_limit_s=-1)
        with self.assertRaisesRegex(ValueError, "queue_size = -1: expected a whole number"):
            beamformer_server("paper", bind_address="tcp://127.0.0.1:0", queue_size=-1)
        with self.assertRaisesRegex(ValueError, "cache_mib = -1.0"):
            beamformer_server("paper", bind_address="tcp://127.0.0.1:0", cache_mib=-1)
        with self.assertRaisesRegex(ValueError, "inline_complexity_scale = 0"):
            beamformer_server("paper", bind_address="tcp://127.0.0.1:0", inline_complexity_scale=0)
        with self.assertRaisesRegex(ValueError, "secret_key_file = '': security 'curve' needs"):
            beamformer_server("paper", bind_address="tcp://127.0.0.1:0", security="curve")
        with self.assertRaisesRegex(ValueError, "secret key file 'no/such.key_secret'"):
            beamformer_server("paper", bind_address="tcp://127.0.0.1:0", security="curve",
                              secret_key_file="no/such.key_secret", allowed_keys_file="no/such")
        with self.assertRaisesRegex(ValueError, "sinr_db = inf"):
            self.server.set_sinr_db(float("inf"))
        self.server.stop()  # never started: closes its sockets
        self.sub.stop()


if __name__ == "__main__":
    gr_unittest.run(qa_beamformer_server)
