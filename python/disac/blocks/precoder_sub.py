# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Node side of the beamformer server: ZeroMQ SUB of wire PrecoderMessages → isac_tx's precoder messages.

The peer is untrusted: a frame that does not decode (core.wire), is not a PrecoderMessage, has shapes
other than the scenario's, or a version a PMT long cannot hold is counted, logged (at most one warning a
second) and dropped; nothing raises. docs/beamformer-server.md describes the protocol.
"""

import threading
import time

import pmt
import zmq
from gnuradio import gr

from . import tags
from .. import net
from ..core import wire

PRECODERS_PORT = "precoders"  # message output of beamformer_server and precoder_sub: isac_tx's precoder dicts
POLL_MS = 50  # the receive thread checks for stop this often
MAX_VERSION = (1 << 63) - 1  # isac_tx's version is a PMT long (and a frame tag long)
ALL_NODES = -1


def precoder_pmts(message, node_id=ALL_NODES):
    """isac_tx's precoder messages (tags.precoder_to_pmt, each with "node" and the set's "precoder_id")
    from a wire PrecoderMessage: one per node, or only node ``node_id``'s."""
    nodes = range(message.comm_precoders.shape[0]) if node_id == ALL_NODES else [node_id]
    return [tags.precoder_to_pmt(message.comm_precoders[n], message.radar_precoders[n], message.version, node=n,
                                 precoder_id=message.precoder_id)
            for n in nodes]


def check_precoder_message(message, num_nodes, tx_antennas, num_users):
    """ValueError unless ``message`` is a PrecoderMessage with W_c (N, Mt, U), W_r (N, Mt, Mt) and a version
    isac_tx can carry (finiteness is the wire decoder's check)."""
    if not isinstance(message, wire.PrecoderMessage):
        raise ValueError(f"a {type(message).__name__}, expected a PrecoderMessage")
    expected_c, expected_r = (num_nodes, tx_antennas, num_users), (num_nodes, tx_antennas, tx_antennas)
    if message.comm_precoders.shape != expected_c or message.radar_precoders.shape != expected_r:
        raise ValueError(f"W_c {message.comm_precoders.shape} and W_r {message.radar_precoders.shape}: "
                         f"expected {expected_c} and {expected_r} (N, Mt, U) and (N, Mt, Mt)")
    if message.version > MAX_VERSION:
        raise ValueError(f"version {message.version}: expected at most {MAX_VERSION}")


class precoder_sub(gr.basic_block):
    """Subscribes to a beamformer server's PUB socket; each new precoder set goes out on ``precoders``.

    Parameters
      address   the server's PUB endpoint to connect to (e.g. tcp://10.0.0.1:5561)
      scenario  preset name, TOML path or Scenario: the shapes accepted, (N, Mt, U)
      node_id   −1: one message per node (each with "node"; every isac_tx picks its own); n: only node n's
      security  "open" (default; logged at start-up as open) or "curve" (python/disac/net.py) with
                secret_key_file (this node's NAME.key_secret) and server_public_key (the beamformer
                server's public key, 40 Z85 characters or its .key file); allowed_keys_file unused (the
                socket connects), kept for the same four parameters on every networked block

    A set is forwarded once: the server re-publishes the set in force periodically (for subscribers that
    join late), and a repeat of the last set forwarded (same version, same bytes) is counted as a
    duplicate. A restarted server numbers its sets from 1 again: a set with the last version but other
    precoders is a new set (another precoder identity, core.precoder_identity) and is forwarded; a set
    whose stated identity is not the hash of its content does not decode (counted as rejected). While the server is down nothing arrives and the
    transmitters keep the last set.
    Counters: received, forwarded, rejected, duplicates (``counters()``), last_rejection.
    """

    def __init__(self, address="tcp://127.0.0.1:5561", scenario="paper", node_id=ALL_NODES, security="open",
                 secret_key_file="", server_public_key="", allowed_keys_file=""):
        gr.basic_block.__init__(self, name="disac_precoder_sub", in_sig=None, out_sig=None)
        self.scenario = tags.as_scenario(scenario)
        s = self.scenario
        self._shape = (s.num_nodes, s.tx_antennas, s.num_users)
        node_id = int(node_id)
        if not (node_id == ALL_NODES or 0 <= node_id < s.num_nodes):
            raise ValueError(f"node_id = {node_id}: accepted: −1 (every node) or 0 … {s.num_nodes - 1}")
        self.node_id = node_id
        self.security = net.LinkSecurity.from_parameters(security, secret_key_file, server_public_key,
                                                         allowed_keys_file)
        self.address = net.check_address(address, False, "address")
        # the largest frame read at all: a valid set of this scenario is far smaller (ZeroMQ drops a peer
        # that sends more, so a forged length cannot make it allocate)
        self.max_message_bytes = 65536 + 2 * 16 * s.num_nodes * s.tx_antennas * (s.num_users + s.tx_antennas)
        self._port = pmt.intern(PRECODERS_PORT)
        self.message_port_register_out(self._port)
        self._counts = {"received": 0, "forwarded": 0, "rejected": 0, "duplicates": 0}
        self.last_rejection = ""
        self._last_version = None
        self._last_data = None  # the bytes of the last set forwarded (a repeat is a duplicate)
        self._last_warning = -1e9
        self._suppressed = 0
        self._stop = threading.Event()
        self._thread = None
        self._socket = self._open()  # a bad address fails here, at construction

    # ---- state -------------------------------------------------------------------------------
    def counters(self):
        return dict(self._counts)

    def last_version(self):
        """The version of the last set forwarded (None before the first)."""
        return self._last_version

    # ---- message handling (the receive thread; also callable directly) ---------------------------
    def handle_frames(self, frames):
        """Check one received ZeroMQ message and forward it; returns True when forwarded. Never raises."""
        self._counts["received"] += 1
        try:
            if len(frames) != 1:
                raise ValueError(f"{len(frames)} frames, expected 1 (one wire PrecoderMessage)")
            data = frames[0]
            if len(data) > self.max_message_bytes:
                raise ValueError(f"{len(data)} bytes, more than the {self.max_message_bytes} accepted")
            message = wire.decode(data)
            check_precoder_message(message, *self._shape)
        except ValueError as exc:  # WireError is a ValueError
            self._reject(str(exc))
            return False
        if message.version == self._last_version and bytes(data) == self._last_data:
            self._counts["duplicates"] += 1
            return False
        for msg in precoder_pmts(message, self.node_id):
            self.message_port_pub(self._port, msg)
        self._last_version, self._last_data = message.version, bytes(data)
        self._counts["forwarded"] += 1
        return True

    def _reject(self, reason):
        self._counts["rejected"] += 1
        self.last_rejection = reason
        now = time.monotonic()
        if now - self._last_warning >= 1.0:
            more = f" ({self._suppressed} more rejected since the last warning)" if self._suppressed else ""
            self.logger.warn(f"precoder message from {self.address} dropped: {reason}{more}")
            self._last_warning, self._suppressed = now, 0
        else:
            self._suppressed += 1

    # ---- thread ------------------------------------------------------------------------------
    def _open(self):
        """The SUB socket, connected (ZeroMQ connects in the background: the server may come later)."""
        sock, _ = net.make_socket(zmq.Context.instance(), zmq.SUB, self.address, False, self.security,
                                  name="address",
                                  options={zmq.MAXMSGSIZE: self.max_message_bytes, zmq.SUBSCRIBE: b""})
        return sock

    def start(self):
        if self._socket is None:
            self._socket = self._open()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="disac_precoder_sub", daemon=True)
        self._thread.start()
        return True

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None
        net.close(self._socket)
        self._socket = None
        return True

    def _run(self):
        sock = self._socket
        while not self._stop.is_set():
            try:
                if not sock.poll(POLL_MS, zmq.POLLIN):
                    continue
                frames = sock.recv_multipart(copy=True)
            except zmq.ZMQError as exc:
                if self._stop.is_set():
                    break
                self.logger.error(f"SUB socket {self.address}: {exc}")
                time.sleep(POLL_MS / 1000)
                continue
            self.handle_frames(frames)
