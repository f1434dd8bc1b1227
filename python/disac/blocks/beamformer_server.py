# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Beamformer server block: core.bf_service behind a ZeroMQ ROUTER socket, solving off the scheduler thread.

Two threads of the block's own: the socket thread owns both sockets, answers every request that needs no
solve (bad requests, the limits, "what is in force?", "busy") at once, republishes on PUB, and hands the
others to the solver thread (bf_service.SolveQueue, one bounded queue). Neither GNU Radio's scheduler,
a GUI thread (a GRC slider calling set_sinr_db) nor another client ever waits for a solve.
docs/beamformer-server.md is the protocol reference (request and reply fields, limits, errors, versions).

The request socket is a ROUTER that speaks REP's envelope (routing id, the REQ peer's empty delimiter,
then the request), so REQ clients and DEALER clients that send the empty delimiter talk to it as to REP,
while replies go out in the order the solves finish.
"""

import collections
import os
import threading
import time

import pmt
import zmq
from gnuradio import gr

from .. import net
from .tags import as_scenario
from .precoder_sub import PRECODERS_PORT, precoder_pmts
from ..core import bf_service, wire

STATUS_PORT = "status"
POLL_MS = 50  # the server thread looks for a new slider value and for stop this often
# Frames larger than this are refused by ZeroMQ itself (the peer is disconnected, nothing allocated);
# between bf_service.MAX_REQUEST_BYTES and this, the peer gets a "bad_request" reply.
MAX_FRAME_BYTES = 1 << 20
STOP_TIMEOUT_S = 60.0  # stop() waits this long for a solve in progress
MAX_ENVELOPE_FRAMES = 8  # routing frames before the empty delimiter (a REQ behind proxies); more: dropped
COUNTERS = ("requests", "bad_requests", "busy", "solves", "designs", "infeasible", "failed", "published",
            "republished")


class beamformer_server(gr.basic_block):
    """Answers precoder requests on a REP socket; publishes every new precoder set with its version.

    Parameters
      scenario      the deployed system: preset name, TOML path or Scenario
      sinr_db       SINR threshold Γ_c in dB of the first design (callback set_sinr_db re-solves)
      objective     "position" or "paper" (core.beamformer.OBJECTIVES)
      solver        "clarabel" or "scs"
      bind_address  REP endpoint for requests, e.g. tcp://*:5560 (tcp://127.0.0.1:0 picks a free port:
                    bound_endpoint() says which)
      pub_address   PUB endpoint for the nodes (wire PrecoderMessage, one frame), "" for none
      republish_s   re-send the set in force on PUB every this many seconds (for late subscribers), 0: never
      solve_at_start  design at sinr_db as soon as the flowgraph starts
      time_limit_s  a solve (building and compiling its problem included) that takes longer stops and is
                    reported as failed ("solver_timeout"), the set in force stays; default
                    bf_service.DEFAULT_TIME_LIMIT_S (30 s), 0: no limit
      queue_size    requests that may wait for the solver while one is solved; one more is answered "busy"
      cache_mib     compiled designers kept, at most this many MiB by their estimated size (and at most 4)
      inline_complexity_scale  multiplies the complexity limits of inline scenarios (1: the defaults)
      security      "open" (default; logged at start-up as open) or "curve" (python/disac/net.py) with
                    secret_key_file (the server's NAME.key_secret) and allowed_keys_file (the public keys
                    of the requesters and subscribers allowed on both sockets); server_public_key unused
                    (both sockets bind), kept for the same four parameters on every networked block

    Message outputs
      precoders  for each new set, one isac_tx precoder dict per node (tags.precoder_to_pmt, with "node")
      status     after every request and re-solve: a dict of the reply fields (bf_service.REPLY_FIELDS)
                 plus the counters requests, bad_requests, busy, solves, designs, infeasible, failed,
                 published, republished
    """

    def __init__(self, scenario="paper", sinr_db=10.0, objective="position", solver="clarabel",
                 bind_address="tcp://127.0.0.1:5560", pub_address="", republish_s=1.0, solve_at_start=True,
                 time_limit_s=bf_service.DEFAULT_TIME_LIMIT_S, security="open", secret_key_file="",
                 server_public_key="", allowed_keys_file="", queue_size=bf_service.DEFAULT_QUEUE_SIZE,
                 cache_mib=bf_service.DESIGNER_CACHE_BYTES / 2**20, inline_complexity_scale=1.0):
        gr.basic_block.__init__(self, name="disac_beamformer_server", in_sig=None, out_sig=None)
        cache_mib = float(cache_mib)
        if not 0 <= cache_mib < float("inf"):
            raise ValueError(f"cache_mib = {cache_mib!r}: expected a finite number of MiB ≥ 0")
        self.service = bf_service.BeamformerService(as_scenario(scenario), sinr_db, objective, solver or None,
                                                    time_limit_s=time_limit_s or None,
                                                    cache_bytes=int(cache_mib * 2**20),
                                                    inline_complexity_scale=inline_complexity_scale)
        if not isinstance(queue_size, int) or isinstance(queue_size, bool) or queue_size < 0:
            raise ValueError(f"queue_size = {queue_size!r}: expected a whole number ≥ 0 of waiting requests")
        self.queue_size = queue_size
        self._sinr_db = float(sinr_db)
        self.security = net.LinkSecurity.from_parameters(security, secret_key_file, server_public_key,
                                                         allowed_keys_file)
        self.bind_address = net.check_address(bind_address, True, "bind_address")
        self.pub_address = net.check_address(pub_address, True, "pub_address") if pub_address else ""
        republish_s = float(republish_s)
        if not republish_s >= 0 or republish_s == float("inf"):
            raise ValueError(f"republish_s = {republish_s!r}: expected a finite number of seconds ≥ 0 (0: never)")
        self.republish_s = republish_s
        self.solve_at_start = bool(solve_at_start)
        self._precoders_port = pmt.intern(PRECODERS_PORT)
        self._status_port = pmt.intern(STATUS_PORT)
        self.message_port_register_out(self._precoders_port)
        self.message_port_register_out(self._status_port)
        self._pending_sinr_db = None
        self._pending_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None
        self._rep = self._pub = None
        self._solver = None
        self._done = collections.deque()  # (envelope or None, reply, origin) finished by the solver thread
        self._wake_read = self._wake_write = None  # a pipe: the solver thread wakes the socket thread
        self._slider_queued = False
        self._unenveloped = 0  # messages dropped for want of REP's envelope
        self._open()  # bad or busy addresses fail here, at construction

    # ---- sockets -----------------------------------------------------------------------------
    def _bind(self, kind, name, address):
        options = {zmq.MAXMSGSIZE: MAX_FRAME_BYTES} if kind == zmq.ROUTER else {}
        sock, _ = net.make_socket(zmq.Context.instance(), kind, address, True, self.security, name=name,
                                  options=options)
        return sock

    def _open(self):
        self._rep = self._bind(zmq.ROUTER, "bind_address", self.bind_address)
        # once bound, a restart re-binds the same endpoint (the port a ":0" address picked stays)
        self.bind_address = self._rep.getsockopt_string(zmq.LAST_ENDPOINT)
        if self.pub_address:
            try:
                self._pub = self._bind(zmq.PUB, "pub_address", self.pub_address)
            except ValueError:
                self._close()
                raise
            self.pub_address = self._pub.getsockopt_string(zmq.LAST_ENDPOINT)

    def _close(self):
        for sock in (self._rep, self._pub):
            net.close(sock)
        self._rep = self._pub = None

    def bound_endpoint(self):
        """The REP endpoint actually bound (the port chosen for a ":0" address)."""
        return self.bind_address

    def pub_endpoint(self):
        """The PUB endpoint actually bound, or ""."""
        return self.pub_address

    # ---- run-time control ------------------------------------------------------------------------
    def set_sinr_db(self, sinr_db):
        """Ask for a re-solve at Γ_c = sinr_db (dB); returns at once, the server thread solves.

        Values arriving faster than the solver keeps up are coalesced: the latest wins.
        """
        try:
            value = bf_service.check_sinr_db(sinr_db)
        except bf_service.RequestError as exc:
            raise ValueError(str(exc)) from None
        with self._pending_lock:
            self._pending_sinr_db = value
            self._sinr_db = value

    def sinr_db(self):
        return self._sinr_db

    def version(self):
        """The version of the precoder set in force (0: none yet)."""
        return self.service.version

    # ---- thread ------------------------------------------------------------------------------
    def start(self):
        if self._rep is None:
            self._open()
        self._stop.clear()
        self._done.clear()
        self._slider_queued = False
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_read, False)
        os.set_blocking(self._wake_write, False)
        self._solver = bf_service.SolveQueue(self.service, self._solved, self.queue_size)
        self._thread = threading.Thread(target=self._run, name="disac_beamformer_server", daemon=True)
        self._thread.start()
        return True

    def stop(self):
        self._stop.set()
        if self._solver is not None and not self._solver.stop(STOP_TIMEOUT_S):
            self.logger.warn(f"solver thread still solving after {STOP_TIMEOUT_S:g} s; sockets left open")
            return True
        if self._thread is not None:
            self._thread.join(timeout=STOP_TIMEOUT_S)
            if self._thread.is_alive():
                self.logger.warn(f"server thread still running after {STOP_TIMEOUT_S:g} s; sockets left open")
                return True
            self._thread = None
        self._solver = None
        self._close()
        for fd in (self._wake_read, self._wake_write):
            if fd is not None:
                os.close(fd)
        self._wake_read = self._wake_write = None
        return True

    def _take_pending(self):
        with self._pending_lock:
            value, self._pending_sinr_db = self._pending_sinr_db, None
        return value

    def _solved(self, token, reply):
        """On the solver thread: hand a finished solve to the socket thread and wake it."""
        self._done.append((token, reply))
        try:
            os.write(self._wake_write, b"x")
        except (BlockingIOError, OSError):  # the pipe is full (already woken) or closed (stopping)
            pass

    def _run(self):
        first = self._take_pending()
        if first is not None:
            self._submit_slider(first)
        elif self.solve_at_start:
            self._solver.submit(bf_service.Request(), ("start",), force=True)
        poller = zmq.Poller()
        poller.register(self._rep, zmq.POLLIN)
        poller.register(self._wake_read, zmq.POLLIN)
        next_republish = time.monotonic() + self.republish_s
        while not self._stop.is_set():
            if not self._slider_queued:
                value = self._take_pending()
                if value is not None:
                    self._submit_slider(value)
            try:
                timeout_ms = POLL_MS
                if self._pub is not None and self.republish_s:
                    timeout_ms = max(0, min(POLL_MS, int((next_republish - time.monotonic()) * 1000) + 1))
                events = dict(poller.poll(timeout_ms))
                if self._wake_read in events:
                    try:
                        os.read(self._wake_read, 4096)
                    except BlockingIOError:
                        pass
                self._finish_solved()
                if self._rep in events:
                    for _ in range(64):  # a burst of requests, without starving the PUB
                        self._serve_one()
                        if not self._rep.poll(0, zmq.POLLIN):
                            break
            except zmq.ZMQError as exc:
                if self._stop.is_set():
                    break
                self.logger.error(f"request socket {self.bind_address}: {exc}")
                time.sleep(POLL_MS / 1000)
            except Exception as exc:  # noqa: BLE001 - a bug must not stop the server: count, log, go on
                self.service.count("server_errors")
                if self.service.counters["server_errors"] <= 10:
                    self.logger.error(f"server thread: {type(exc).__name__}: {exc} (the server goes on)")
            if self._pub is not None and self.republish_s and time.monotonic() >= next_republish:
                next_republish = time.monotonic() + self.republish_s
                current = self.service.precoders_in_force()
                if current is not None and self._send_pub(current):
                    self.service.count("republished")

    def _submit_slider(self, value):
        self._slider_queued = True
        self._solver.submit(self.service.sinr_request(value), ("set_sinr_db",), force=True)

    def _finish_solved(self):
        """Publish and reply for every solve the solver thread finished."""
        while self._done:
            token, reply = self._done.popleft()
            if token[0] == "request":
                self._deliver(reply, "request")  # first: a requester that has its reply knows the set was published
                self._reply(token[1], self._frames_of(reply))
            else:
                if token[0] == "set_sinr_db":
                    self._slider_queued = False
                self._deliver(reply, token[0])

    def _frames_of(self, reply):
        try:
            return reply.frames()
        except Exception as exc:  # noqa: BLE001 - a bug must not kill the server: answer and log it
            self.logger.error(f"reply failed inside the server: {type(exc).__name__}: {exc}")
            return self.service.bad_request(f"server error: {type(exc).__name__}: {exc}",
                                            status="server_error").frames()

    def _reply(self, envelope, frames):
        try:
            self._rep.send_multipart(envelope + frames, flags=zmq.NOBLOCK)
        except zmq.Again:
            self.logger.warn("reply dropped: the requester is gone or not reading")

    def _serve_one(self):
        """Receive one request; answer it at once, or queue its solve (or answer "busy"). Never raises on input."""
        frames = self._rep.recv_multipart(copy=True)
        # REP's envelope: the routing id(s), an empty delimiter, then the body; without a delimiter
        # (a DEALER that sent none) REP would drop the message, and so does this server
        try:
            split = frames.index(b"", 1)
        except ValueError:
            split = -1
        if not 1 <= split <= MAX_ENVELOPE_FRAMES:
            self.service.count("bad_requests")
            self._unenveloped += 1
            if self._unenveloped <= 10 or self._unenveloped % 1000 == 0:
                self.logger.warn(f"message of {len(frames)} frames without REP's envelope dropped "
                                 f"(#{self._unenveloped}; a DEALER must send an empty frame first)")
            return
        envelope, body = frames[:split + 1], frames[split + 1:]
        try:
            if len(body) != 1:
                reply = self.service.bad_request(f"request of {len(body)} frames: expected one frame of JSON")
            else:
                reply, request = self.service.triage(body[0])
                if reply is None:
                    if self._solver.submit(request, ("request", envelope)):
                        return  # answered when solved (_finish_solved)
                    reply = self.service.busy(self._solver.capacity)
        except Exception as exc:  # noqa: BLE001 - a bug must not kill the server: answer and log it
            self.logger.error(f"request failed inside the server: {type(exc).__name__}: {exc}")
            reply = self.service.bad_request(f"server error: {type(exc).__name__}: {exc}", status="server_error")
        self._deliver(reply, "request")
        self._reply(envelope, self._frames_of(reply))

    def _send_pub(self, message):
        try:
            self._pub.send(wire.encode(message), flags=zmq.NOBLOCK)
            return True
        except zmq.Again:
            self.logger.warn("PUB queue full: precoder set not sent")
            return False

    def _deliver(self, reply, origin):
        """Publish a new precoder set (message port, PUB) and post the status; log the outcome."""
        fields = reply.fields
        if reply.published:
            for msg in precoder_pmts(reply.precoders):
                self.message_port_pub(self._precoders_port, msg)
            if self._pub is not None:
                self._send_pub(reply.precoders)
            self.logger.info(f"precoder set version {reply.version} in force ({origin}): Γ_c = "
                             f"{fields['sinr_threshold_db']:g} dB, position CRB {fields['crb_position_bound_m2']:.4g} m²")
        elif fields["status"] not in bf_service.GOOD_STATUSES:
            self.logger.warn(f"{origin}: {fields['status']}: {fields['message']}")
        self.message_port_pub(self._status_port, status_pmt(fields, self.service.counters))


def status_pmt(fields, counters):
    """The status message: a PMT dict of the reply fields (None → nil, lists → PMT vectors) and counters."""
    values = dict(bf_service.json_safe(fields))
    for name in COUNTERS:
        values[name] = int(counters.get(name, 0))
    msg = pmt.make_dict()
    for key, value in values.items():
        msg = pmt.dict_add(msg, pmt.intern(key), pmt.to_pmt(value))
    return msg
