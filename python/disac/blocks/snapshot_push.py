# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Node side of the fusion link: node_rx snapshot PDUs → core.wire SNAPSHOT messages on a ZeroMQ socket."""

import threading
import time

import pmt
from gnuradio import gr

from . import tags
from .. import net
from ..core import wire

SOCKET_PATTERNS = ("push", "pub")


class snapshot_push(gr.basic_block):
    """Sends every snapshot of the ``snapshot`` message port as one core.wire SNAPSHOT message (one ZeroMQ
    frame): node id, frame number, precoder version and precoder set identity from the PDU, rx_time_ns = when this block got
    the snapshot, tx_time_ns = when it sent it (wall clock, ns), Y (Mr × L × P, complex64).

    Never blocks the flowgraph: a send that would block (no peer yet on PUB, or the high-water mark
    reached because the central unit is slow or gone) drops the snapshot and counts it (``dropped``);
    a malformed PDU is counted (``rejected``) and logged. PUSH queues up to ``hwm`` messages for a
    peer that connects later (or reconnects: ZeroMQ reconnects by itself); PUB drops while no one
    listens.

    Parameters
      address   ZeroMQ endpoint (tcp://host:port, ipc://path, inproc://name); a node usually connects
                to the central unit, which binds
      bind      bind (True) or connect (False, default)
      pattern   "push" (to a PULL central unit; default) or "pub" (to SUB central units)
      hwm       ZeroMQ send high-water mark, in messages
      security  "open" (default: logged at start-up as open) or "curve" (python/disac/net.py: ZeroMQ
                CURVE, keys from `disac keys`) with
        secret_key_file    this node's NAME.key_secret
        server_public_key  connecting: the central unit's public key (40 Z85 characters or its .key file)
        allowed_keys_file  binding: the file of allowed client public keys
    """

    def __init__(self, address="tcp://127.0.0.1:5555", bind=False, pattern="push", hwm=1000, security="open",
                 secret_key_file="", server_public_key="", allowed_keys_file=""):
        gr.basic_block.__init__(self, name="disac_snapshot_push", in_sig=None, out_sig=None)
        import zmq

        self.security = net.LinkSecurity.from_parameters(security, secret_key_file, server_public_key,
                                                         allowed_keys_file)
        if pattern not in SOCKET_PATTERNS:
            raise ValueError(f"pattern = {pattern!r}: accepted: {', '.join(SOCKET_PATTERNS)}")
        if isinstance(hwm, bool) or not isinstance(hwm, int) or hwm < 1:
            raise ValueError(f"hwm = {hwm!r}: accepted: a whole number of messages ≥ 1")
        self.address, self.bind, self.pattern = address, bool(bind), pattern
        self.sent = 0
        self.dropped = 0
        self.rejected = 0
        self.bytes_sent = 0
        self._lock = threading.Lock()
        self._context = zmq.Context.instance()
        # at close, up to 1 s to deliver what is queued; the endpoint in use (a bound tcp://…:0 resolves
        # to the port the system chose)
        self._socket, self.endpoint = net.make_socket(
            self._context, zmq.PUSH if pattern == "push" else zmq.PUB, address, self.bind, self.security,
            name="address", options={zmq.SNDHWM: int(hwm), zmq.LINGER: 1000})
        self.message_port_register_in(pmt.intern(tags.SNAPSHOT_PORT))
        self.set_msg_handler(pmt.intern(tags.SNAPSHOT_PORT), self.handle_snapshot)

    def handle_snapshot(self, msg):
        """Encode and send a snapshot PDU (one frame, or node_rx's batch of frames: one wire message each);
        drops (counted) what cannot be sent now. Never raises."""
        import zmq

        received_ns = time.time_ns()
        try:
            encoded = [wire.encode(wire.SnapshotMessage(snap.node_id, snap.frame, snap.precoder_version,
                                                        time.time_ns(), received_ns, snap.samples,
                                                        precoder_id=snap.precoder_id))
                       for snap in tags.snapshots_from_pmt(msg)]
        except Exception as exc:  # noqa: BLE001 — a malformed PDU must not reach the scheduler
            with self._lock:
                self.rejected += 1
                count = self.rejected
            if count <= 10 or count % 1000 == 0:
                self.logger.warn(f"snapshot_push: snapshot #{count} not sent: {exc}")
            return
        with self._lock:
            for data in encoded:
                if self._socket is None:
                    self.dropped += 1
                    continue
                try:
                    self._socket.send(data, zmq.NOBLOCK, copy=False)
                except zmq.Again:
                    self.dropped += 1
                    continue
                self.sent += 1
                self.bytes_sent += len(data)

    def counters(self):
        with self._lock:
            return {"sent": self.sent, "dropped": self.dropped, "rejected": self.rejected,
                    "bytes_sent": self.bytes_sent}

    def stop(self):
        with self._lock:
            if self._socket is not None:
                net.close(self._socket)  # LINGER lets queued messages go out
                self._socket = None
        return True
