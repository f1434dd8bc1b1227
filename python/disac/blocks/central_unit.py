# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Central unit: fuses every node's snapshots by frame number and localises the targets (ML, paper eq. 9).

The maths is core's: core.fusion (alignment, precoder table, regenerated frames X_m, estimator) and
core.localizer. This block moves snapshots in (message port and/or ZeroMQ), runs the estimator on a
worker thread, and publishes estimates and counters.
"""

import collections
import os
import threading
import time
import traceback

import numpy as np
import pmt
from gnuradio import gr

from . import tags
from .. import net
from ..core import calibration_apply, fusion, interference, localizer, ofdm, wire

SNAPSHOT_PORT = tags.SNAPSHOT_PORT  # PDUs of node_rx
PRECODERS_PORT = "precoders"  # the isac_tx precoder dict (tags.precoder_to_pmt)
ESTIMATE_PORT = "estimate"
STATUS_PORT = "status"
SOCKET_PATTERNS = ("pull", "sub")
# How long the service thread waits for a ZeroMQ message before it polls the timeouts (seconds)
_POLL_S = 0.02
# Rejections logged one by one; after that, one line every _LOG_EVERY rejections (a flood stays readable)
_LOG_FIRST, _LOG_EVERY = 10, 1000
# Room for extras beside Y in a SNAPSHOT (snapshot_push sends none): the largest message read at all is
# one frame's snapshot of the scenario plus this (ZeroMQ drops a peer that sends more, before allocating)
SNAPSHOT_EXTRA_BYTES = 1024
# How often the service thread writes the state file (seconds), when it has changed
_STATE_EVERY_S = 0.2
_MAX_WIRE_INT = wire.MAX_COUNTER
KNOWN_PATHS = calibration_apply.KNOWN_PATHS
# At stop, at most this many waiting ZeroMQ messages are still read (the socket's receive high-water mark,
# 1000, plus what the kernel may hold): what reached the unit is counted, and an endless sender ends too
_DRAIN_MAX_MESSAGES = 4096
# Worker processes (issue 16 item 3): how long a frame's task may go unanswered before it is issued again
# (a full search is 0.04–0.2 s here; a loaded machine may be 10× slower), and how many times it is issued
DEFAULT_WORKER_DEADLINE_S = 10.0
DEFAULT_WORKER_ATTEMPTS = 3
MAX_WORKERS = 64


def estimate_to_pmt(estimate, num_nodes):
    """The estimate message: a PMT dict {frame: uint64, precoder_version: long, precoder_id: long (the
    identity of the frame's precoder set), positions_m: f64vector (x_1, y_1, x_2, y_2, …), crb_m2:
    f64vector (K), residual: double, nodes: s32vector (contributing receiving nodes), partial: bool
    (fewer than N nodes), full_search: bool}. With an unknown K (max_targets) K̂ positions, possibly none
    (empty vectors), and num_targets: long (K̂). With track=True also track_ids: s64vector (K̂: the confirmed
    track of each position, −1 none) and velocities_mps: f64vector (vx_1, vy_1, …; NaN none). An integer outside 0 … 2^63 − 1 is a ValueError naming
    it (never an OverflowError from PMT)."""
    frame, version = _pmt_int("frame", estimate.frame), _pmt_int("precoder_version", estimate.precoder_version)
    identity = _pmt_int("precoder_id", getattr(estimate, "precoder_id", 0))
    items = (
        ("frame", pmt.from_uint64(frame)),
        ("precoder_version", pmt.from_long(version)),
        ("precoder_id", pmt.from_long(identity)),
        ("positions_m", pmt.init_f64vector(np.size(estimate.positions_m),
                                           np.asarray(estimate.positions_m, float).reshape(-1).tolist())),
        ("crb_m2", pmt.init_f64vector(len(estimate.crb_m2), [float(v) for v in estimate.crb_m2])),
        ("residual", pmt.from_double(float(estimate.residual))),
        ("nodes", pmt.init_s32vector(len(estimate.nodes), [int(n) for n in estimate.nodes])),
        ("partial", pmt.from_bool(len(estimate.nodes) < num_nodes)),
        ("full_search", pmt.from_bool(bool(estimate.full_search))),
    )
    if getattr(estimate, "detection", None) is not None:
        items += (("num_targets", pmt.from_long(int(len(estimate.positions_m)))),)
    if getattr(estimate, "track_ids", None) is not None:  # track=True (issue 15): live_map draws the tracks by id
        ids = [int(i) for i in np.asarray(estimate.track_ids).reshape(-1)]
        velocities = np.asarray(estimate.velocities_mps, float).reshape(-1).tolist()
        items += (("track_ids", pmt.init_s64vector(len(ids), ids)),
                  ("velocities_mps", pmt.init_f64vector(len(velocities), velocities)))
    msg = pmt.make_dict()
    for key, value in items:
        msg = pmt.dict_add(msg, pmt.intern(key), value)
    return msg


def _max_targets(value):
    """The max_targets parameter: 0 → None (K known), N ≥ 1 → N; ValueError naming a bad value."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"max_targets = {value!r}: accepted: 0 (the number of targets is known) or a whole "
                         "number ≥ 1 (the most targets to detect)")
    return int(value) or None


def _pmt_int(name, value):
    """value as an int a PMT long holds (0 … 2^63 − 1), else ValueError naming it (never OverflowError)."""
    value = int(value)
    if not 0 <= value <= _MAX_WIRE_INT:
        raise ValueError(f"estimate {name} = {value}: outside 0 … 2^63 − 1")
    return value


def estimate_from_pmt(msg):
    """A plain dict from an estimate message (positions_m as a (K, 2) array)."""
    get = lambda key: pmt.dict_ref(msg, pmt.intern(key), pmt.PMT_NIL)  # noqa: E731
    positions = np.array(pmt.f64vector_elements(get("positions_m"))).reshape(-1, 2)
    identity = get("precoder_id")
    count = get("num_targets")
    extra = {} if pmt.is_null(count) else {"num_targets": pmt.to_long(count)}
    if not pmt.is_null(get("track_ids")):
        extra["track_ids"] = np.array(pmt.s64vector_elements(get("track_ids")), dtype=np.int64)
        extra["velocities_mps"] = np.array(pmt.f64vector_elements(get("velocities_mps"))).reshape(-1, 2)
    return {**extra, "frame": pmt.to_uint64(get("frame")), "precoder_version": pmt.to_long(get("precoder_version")),
            "precoder_id": 0 if pmt.is_null(identity) else pmt.to_long(identity),
            "positions_m": positions, "crb_m2": np.array(pmt.f64vector_elements(get("crb_m2"))),
            "residual": pmt.to_double(get("residual")), "nodes": tuple(pmt.s32vector_elements(get("nodes"))),
            "partial": pmt.to_bool(get("partial")), "full_search": pmt.to_bool(get("full_search"))}


def _suppressor(background, scenario):
    """A core.interference.Suppressor from the ``background`` parameter (a Background, a file path, or ""/None:
    none), checked against the scenario's sizes (ValueError naming the value)."""
    if background is None or (isinstance(background, str) and background == ""):
        return None
    if isinstance(background, interference.Suppressor):  # a caller that reads its figures afterwards
        background, suppressor = background.background, background
    else:
        suppressor = None
    if isinstance(background, (str, bytes)) or hasattr(background, "__fspath__"):
        background = interference.load_background(background)
    if not isinstance(background, interference.Background):
        raise ValueError(f"background = {background!r}: accepted: a core.interference.Background, a background "
                         "file path, or \"\" (none)")
    s = scenario
    want = (s.num_nodes, s.subcarriers, s.rx_antennas, s.num_nodes * (s.tx_antennas + 1))
    if tuple(background.coefficients.shape) != want or background.tx_antennas != s.tx_antennas:
        raise ValueError(f"background of shape {tuple(background.coefficients.shape)}: scenario {s.name!r} needs "
                         f"{want} (N, L, Mr, N·(Mt + 1)); learn it again for this scenario")
    return suppressor if suppressor is not None else interference.Suppressor(background)


def status_to_dict(msg):
    """A plain dict from a status message: ints, and the ``calibration`` field as a string."""
    out = {}
    items = pmt.dict_items(msg)
    for i in range(pmt.length(items)):
        pair = pmt.nth(i, items)
        value = pmt.cdr(pair)
        out[pmt.symbol_to_string(pmt.car(pair))] = (pmt.symbol_to_string(value) if pmt.is_symbol(value)
                                                    else pmt.to_long(value))
    return out


class central_unit(gr.basic_block):
    """Fusion of N nodes' snapshots and ML localisation; no stream ports.

    Inputs (messages)
      snapshot   node_rx PDUs (tags.snapshot_from_pmt), from nodes in the same flowgraph
      precoders  the isac_tx precoder dict {wc, wr, version, node, precoder_id} of a beamformer_server or
                 precoder_sub block (the link from the beamformer server): sets node's pair of the set
                 ``precoder_id`` (without "node": every node's); a set is used once every node's pair is
                 known and its identity matches its content (else counted rejected_precoders)
    ZeroMQ input (optional, ``address``): core.wire SNAPSHOT messages from snapshot_push blocks, on a
      PULL or SUB socket that binds or connects. Everything that arrives is untrusted: a message that
      does not decode or does not fit the scenario is counted, logged and dropped, never raised. A
      PRECODERS message on this socket is counted (rejected_precoders) and dropped: precoder sets come
      only from the beamformer server's link or the start-up parameters. The largest message read is
      one frame's snapshot of the scenario (+1 KiB, ``max_message_bytes``); ZeroMQ drops a larger one.
      With CURVE and node bindings in the allowed keys file (``KEY node=N``, net.read_key_bindings), a
      snapshot whose node id is not the one its sender's key is bound to is counted (identity_mismatch)
      and dropped.
    Outputs (messages)
      estimate   one per localised frame (estimate_to_pmt); also core.wire ESTIMATE messages on a
                 ZeroMQ PUB socket when ``estimate_address`` is set
      status     the counters (status_to_dict) every ``status_interval_s`` and at stop

    Behaviour (the rules are core.fusion's): frames are aligned by frame number and released when
    complete, when every node sent a newer one, or ``timeout_s`` after their first snapshot; a frame
    is localised with the nodes it has and the estimate lists them. Localisation runs on a worker
    thread behind a queue of ``queue_depth`` frames: when it cannot keep up, the oldest queued frame is
    skipped and counted (skipped_busy); a frame whose precoder set (by identity) is unknown is skipped
    and counted (unknown_precoders; skipped_unknown_version is the same count under its old name). Every
    released frame ends localised or counted as skipped; frame numbers never released are counted lost
    (core.fusion: the frame window, the quorum and lost frames). The worker and service loops are
    supervised: an exception is counted (worker_errors, service_errors), logged once per cause with its
    traceback, and the loop goes on.

    Parameters
      scenario        preset name, TOML path or Scenario (geometry, arrays, OFDM, σ², search region)
      seed            the nodes' data seed (X_m is regenerated from it, core.ofdm)
      wc, wr          precoders of version 0 for every node, (N, Mt, U) and (N, Mt, Mt); None:
                      core.ofdm.default_precoders at every node (isac_tx's default)
      timeout_s       how long a frame waits for missing nodes after its first snapshot
      queue_depth     frames waiting for the worker before the oldest is skipped
      search          "full" (grid + refinement every frame) or "track" (core.fusion.FrameEstimator)
      address         ZeroMQ endpoint for snapshots (tcp://…, ipc://…, inproc://…); "" for none
      bind            bind (True) or connect (False) that socket
      pattern         "pull" (from PUSH) or "sub" (from PUB)
      estimate_address  ZeroMQ PUB endpoint for estimates; "" for none; ``estimate_bind`` likewise
      status_interval_s  period of the status message (0: only at stop)
      num_targets     K to look for (0: the scenario's)
      max_targets     issue 15: 0 (default) = K known (num_targets), as before; N ≥ 1 = K unknown, K̂ ∈ 0 … N
                      detected on every frame (core.detection: GLRT stop rule, threshold calibrated on
                      noise-only frames once per precoder set; estimates then carry K̂ positions, K̂ = 0 too)
      false_alarm_rate  with max_targets: the probability of a false target in a frame without one
                      (default core.detection.DEFAULT_FALSE_ALARM_RATE = 1e-3)
      track           issue 15: False (default) as before; True = the estimates are tracked (core.tracking,
                      docs/tracking.md): every estimate carries track_ids (the confirmed track of each position,
                      −1 none) and velocities_mps, which live_map draws as tracks with their ids and trails
      drain_on_stop   at stop, release the pending frames and localise what is queued (a finite run
                      gets every frame); False drops the queue (counted as skipped_busy)
      keep_estimates  the last estimates kept in ``self.estimates`` (a deque) for Python callers;
                      ``self.listeners`` (callables) get each estimate as it is made
      security        "open" (default; logged at start-up as open) or "curve" (python/disac/net.py) with
                      secret_key_file (this unit's NAME.key_secret), allowed_keys_file (binding sockets:
                      the nodes' and estimate consumers' public keys) and server_public_key
                      (connecting sockets: the peer's public key); the same for both sockets
      frame_window    frames a node may be ahead of the quorum (core.fusion.FrameAligner max_frames_ahead)
      state_file      "" (none) or a path: the accounting is written there every 0.2 s, and a unit
                      started with an existing file carries on from it (frames that no unit finished in
                      between are counted lost, so sent = localised + skipped + lost over the whole run)
      start_frame     the first frame number of the run (the nodes' start epoch; default 0)
      calibration     a core.calibration.Calibration, a calibration file path, or "" (none): its transmit
                      delays and chain magnitudes go on the model's X_m (X_m[i, l, :] · |ĝ_tx[m, i]| ·
                      e^{−j2π f_l t_m/fs}: isac_tx undoes the chains' phases only, docs/air-model.md §3), and the
                      on-the-fly tracker (core.calibration) re-estimates the links from the direct paths of
                      every localised frame: status counter ``calibration_jumps`` and field ``calibration``
                      ("ok", "jump" while the last frames disagree with the file, "none" without one)
      known_paths     echoes of known geometry projected out before the targets are searched (their
                      amplitudes are unknown per frame): "auto" (default: the direct paths between the
                      nodes when a calibration is given, the scenario's reference reflector when it has
                      one), "none", "direct_path", "reflector", "direct_path+reflector"
      background      issue 14: a core.interference.Background (or a Suppressor of one, whose figures the
                      caller reads), a background file (Background.save), or ""
                      (none): the static background of every link (direct paths, self-coupling, clutter),
                      learned from a clear-scene capture, is subtracted from every frame before the
                      targets are searched (core.interference.Suppressor; docs/interference.md); with it,
                      known_paths "auto" projects nothing (the known paths are in the background)

      workers         issue 16 item 3: 1 (default) = one worker thread, as before; N ≥ 2 = the searches run in
                      N local `disac cu-worker` processes (ipc:// in a private directory unless worker_address);
                      0 = only remote workers at worker_address. Everything sequential stays here (alignment,
                      precoder table, prepare, trackers, state, publishing); estimates are released in frame
                      order; a frame's task unanswered within worker_deadline_s is issued again, at most
                      worker_attempts times, then counted worker_lost. Needs search "full".
      worker_address  "" or the task endpoint the unit binds (tcp://HOST:P; results at P + 1, ipc://PATH and
                      PATH.results): where `disac cu-worker --connect ADDR` processes connect (CURVE: security)
      worker_deadline_s, worker_attempts  see workers (defaults 10 s, 3); the deadline stretches to 4× the
                      median answer time of the last 32 tasks when that is longer (a loaded machine)

    The unit reads nothing of the scenario's [impairments] (docs/air-model.md §0).
    """

    def __init__(self, scenario="paper", seed=0, wc=None, wr=None, timeout_s=0.5, queue_depth=4,
                 search="full", address="", bind=True, pattern="pull", estimate_address="",
                 estimate_bind=True, status_interval_s=1.0, num_targets=0, drain_on_stop=True,
                 keep_estimates=1000, security="open", secret_key_file="", server_public_key="",
                 allowed_keys_file="", frame_window=fusion.DEFAULT_FRAME_WINDOW, state_file="", start_frame=0,
                 calibration="", known_paths="auto", background="", max_targets=0,
                 false_alarm_rate=fusion.DEFAULT_FALSE_ALARM_RATE, track=False, workers=1, worker_address="",
                 worker_deadline_s=DEFAULT_WORKER_DEADLINE_S, worker_attempts=DEFAULT_WORKER_ATTEMPTS):
        gr.basic_block.__init__(self, name="disac_central_unit", in_sig=None, out_sig=None)
        self.scenario = tags.as_scenario(scenario)
        s = self.scenario
        self.layout = ofdm.layout_from_scenario(s)
        if pattern not in SOCKET_PATTERNS:
            raise ValueError(f"pattern = {pattern!r}: accepted: {', '.join(SOCKET_PATTERNS)}")
        if isinstance(queue_depth, bool) or not isinstance(queue_depth, (int, np.integer)) or queue_depth < 1:
            raise ValueError(f"queue_depth = {queue_depth!r}: accepted: a whole number ≥ 1")
        if not (isinstance(status_interval_s, (int, float)) and 0 <= status_interval_s < float("inf")):
            raise ValueError(f"status_interval_s = {status_interval_s!r}: accepted: seconds ≥ 0")
        self.security = net.LinkSecurity.from_parameters(security, secret_key_file, server_public_key,
                                                         allowed_keys_file)
        self.aligner = fusion.FrameAligner(s.num_nodes, timeout_s, max_pending_frames=max(64, 4 * queue_depth),
                                           max_frames_ahead=frame_window, start_frame=start_frame)
        self.precoders = fusion.PrecoderTable(self.layout)
        if wc is None or wr is None:
            wc0, wr0 = ofdm.default_precoders(self.layout, s.per_antenna_power)
            wc = np.broadcast_to(wc0, (s.num_nodes,) + wc0.shape) if wc is None else wc
            wr = np.broadcast_to(wr0, (s.num_nodes,) + wr0.shape) if wr is None else wr
        self.precoders.set_start(0, wc, wr)  # identity 0: the set every process is given at start
        self.max_message_bytes = wire.snapshot_message_bytes(s.rx_antennas, self.layout.subcarriers,
                                                             self.layout.data_symbols, SNAPSHOT_EXTRA_BYTES)
        self.state_file = str(state_file or "")
        self._state = fusion.load_state(self.state_file, s.name) if self.state_file else None
        self._bindings = {}
        if self.security.mode == "curve" and self.security.allowed_keys_file and address and bind:
            self._bindings = net.read_key_bindings(self.security.allowed_keys_file)
            if not self._bindings:
                self.logger.warn(f"central unit: no key of {self.security.allowed_keys_file} is bound to a node id "
                                 "(KEY node=N): any allowed key may send snapshots of any node")
        self.calibration = calibration_apply.as_calibration(calibration, s)
        self.suppressor = _suppressor(background, s)
        direct_paths, reflector = calibration_apply.known_path_flags(
            "none" if self.suppressor is not None and known_paths == "auto" else known_paths, self.calibration, s)
        self.known_paths = known_paths
        # the model's X_m: the calibration's tx delays and the transmit chains' magnitudes (docs/air-model.md §3 as applied)
        tx_factors = None if self.calibration is None else calibration_apply.model_tx_factors(
            self.calibration, s.subcarriers, s.bandwidth_hz)
        self.estimator = fusion.FrameEstimator(s, seed, localizer.Localizer.from_scenario(
            s, direct_paths=direct_paths, reflector=reflector), num_targets=int(num_targets) or None, search=search,
            tx_model_factors=tx_factors, suppressor=self.suppressor,
            max_targets=_max_targets(max_targets), false_alarm_rate=false_alarm_rate)
        self.tracker = calibration_apply.make_tracker(self.calibration, s)
        if not isinstance(track, (bool, np.bool_)):
            raise ValueError(f"track = {track!r}: accepted: True (track the estimates) or False")
        # issue 15 item 4: the targets' tracker (core.tracking), not the calibration's above
        self.target_tracker = None
        if track:
            from ..core import tracking  # Stone Soup loads only for a tracking unit

            self.target_tracker = tracking.EstimateTracker.from_scenario(s)
        self.estimator.crb_m2(self.precoders, 0)  # the bound of version 0, before the first frame
        if self.estimator.max_targets is not None:  # the detector's threshold for the start set, every node
            self.estimator.calibrate_start(self.precoders)
        self.queue_depth = int(queue_depth)
        self._pool_options = _worker_options(workers, worker_address, worker_deadline_s, worker_attempts, search)
        self.workers = int(workers)
        self.address, self.bind, self.pattern = address, bool(bind), pattern
        self.estimate_address, self.estimate_bind = estimate_address, bool(estimate_bind)
        self.status_interval_s = float(status_interval_s)
        self.drain_on_stop = bool(drain_on_stop)
        self.estimates = collections.deque(maxlen=max(1, int(keep_estimates)))
        self.listeners = []  # Python callables called with each core.fusion.Estimate, on the worker thread
        self.counters = collections.Counter(
            {key: 0 for key in ("decode_errors", "rejected_snapshots", "rejected_precoders", "precoder_updates",
                                "frames_localised", "skipped_busy", "skipped_unknown_version", "unknown_precoders",
                                "localisation_errors", "estimates_published", "worker_errors", "service_errors",
                                "identity_mismatch", "restored", "calibration_jumps", "worker_lost",
                                "worker_reissued", "worker_bad_results", "worker_unexpected_results",
                                "worker_duplicate_results")})
        self._done_upto = self.aligner.start_frame - 1  # every frame up to this one is finished
        self._restored_lost = 0
        if self._state is not None:  # a restart: carry on the accounting of the unit before
            self.aligner.resume(self._state["done_upto"])
            self._done_upto = self._state["done_upto"]
            for key in ("frames_localised", "skipped_busy", "unknown_precoders", "localisation_errors", "worker_lost"):
                self.counters[key] = self._state[key]
            self.counters["skipped_unknown_version"] = self._state["unknown_precoders"]
            self._restored_lost = self._state["lost"]
            self.counters["restored"] = 1
            for identity, version, set_wc, set_wr in self._state["precoder_sets"]:
                try:  # each set checked against its identity: a bad file is a start-up error naming it
                    self.precoders.add_set(version, set_wc, set_wr, identity)
                except ValueError as exc:
                    raise ValueError(f"state file {self.state_file!r}: precoder set {identity}: {exc}") from None
        self._saved = None
        self._next_state_s = 0.0
        self._causes_logged = set()
        self._refused_closed = 0  # auth_refused of sockets closed since
        self.bound_address = ""  # the endpoint actually bound (tcp://…:0 resolves to a port at start)
        self._lock = threading.Lock()  # aligner, precoder table, counters
        self._work = collections.deque()
        self._work_ready = threading.Condition(threading.Lock())
        self._stop = threading.Event()
        self._threads = []
        self._context = None
        self._busy = False
        self._answer_times_s = collections.deque(maxlen=32)  # workers' recent answer times (adaptive deadline)
        self._answer_median_s = None  # their median, updated with each answer (read at every send)
        self._config = None  # the localiser's configuration as the tasks carry it (core.localise_tasks)
        self.worker_endpoint = ""  # the task address bound for the workers (results: the next port / .results)
        self._in_flight = 0
        self._abandon = False
        for port in (SNAPSHOT_PORT, PRECODERS_PORT):
            self.message_port_register_in(pmt.intern(port))
        self.set_msg_handler(pmt.intern(SNAPSHOT_PORT), self.handle_snapshot)
        self.set_msg_handler(pmt.intern(PRECODERS_PORT), self.handle_precoders)
        for port in (ESTIMATE_PORT, STATUS_PORT):
            self.message_port_register_out(pmt.intern(port))
        # sockets open here, so that a caller can read the bound endpoints before the flowgraph starts;
        # each is then used by one thread only (the service thread reads, the worker publishes)
        self.estimate_endpoint = ""
        self._pool = None  # _localise_pool.WorkerPool (worker processes), from here until stop
        self._socket_in = self._open_input() if self.address else None
        self._socket_out = None
        try:
            self._socket_out = self._open_output() if self.estimate_address else None
            # the worker sockets too (a bad or busy worker address is an error here, not at start)
            self._pool = self._open_pool() if self._pool_options is not None else None
        except ValueError:
            self._close(self._socket_in)
            self._close(self._socket_out)
            raise

    def _open_pool(self):
        from . import _localise_pool

        self._context = self._context or zmq_context()
        options = self._pool_options
        pool = _localise_pool.WorkerPool(self._context, options["workers"], options["address"], self.security,
                                         self.logger)
        self.worker_endpoint = pool.task_endpoint
        return pool

    # ---- counters and logging ------------------------------------------------------------------
    def status(self):
        """All counters as a dict of ints (aligner counters included, and the queue's length)."""
        with self._lock:
            out = dict(self.counters)
            out.update(self.aligner.counters.as_dict())
            out["lost"] += self._restored_lost
            out["pending_frames"] = len(self.aligner.pending_frames)
            out["done_upto"] = self._done_upto
        out["queued_frames"] = len(self._work)
        # CURVE clients refused by the ZAP handler (keys not allowed), closed sockets included
        out["auth_refused"] = self._refused_closed + net.refused(self._socket_in) + net.refused(self._socket_out)
        out["frames_skipped"] = (out["skipped_busy"] + out["unknown_precoders"] + out["localisation_errors"]
                                 + out["worker_lost"])
        pool = self._pool  # read once: stop() may close it meanwhile
        if pool is not None:
            out["workers_seen"] = pool.workers_seen()
            out["workers_local_alive"] = pool.local_alive()
            out["in_flight_frames"] = self._in_flight
            out["auth_refused"] += net.refused(pool.tasks) + net.refused(pool.results)
        out["calibration"] = self.calibration_state()
        return out

    def interference_summary(self):
        """The JSON ``interference`` object: the suppressor's background and figures, or None without one."""
        if self.suppressor is None:
            return None
        with self._lock:
            return self.suppressor.summary()

    def calibration_state(self):
        """"none" without a calibration, else the tracker's "ok" or "jump"."""
        if self.calibration is None:
            return "none"
        return "ok" if self.tracker is None else self.tracker.state

    def _supervised(self, loop, exc):
        """Count an exception of a worker loop and log it once per cause (type, text, place)."""
        key = f"{loop}_errors"
        with self._lock:
            self.counters[key] += 1
        where = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
        cause = (loop, type(exc).__name__, str(exc)[:200], tuple((f.filename, f.lineno) for f in where))
        if cause not in self._causes_logged and len(self._causes_logged) < 100:
            self._causes_logged.add(cause)
            self.logger.error(f"central unit: {loop} loop caught {type(exc).__name__}: {exc} (the loop goes on; "
                              f"logged once per cause, counted {key}):\n"
                              + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)[-4:]))

    def _count(self, key, reason="", done=None, also=()):
        """Count ``key`` (and the keys ``also``); with ``done`` (a frame number) the frame is finished in the
        same step, so that the state file never sees a frame counted and not finished or the reverse."""
        with self._lock:
            self.counters[key] += 1
            for other in also:
                self.counters[other] += 1
            count = self.counters[key]
            if done is not None:
                self._done_upto = max(self._done_upto, int(done))
        if reason and (count <= _LOG_FIRST or count % _LOG_EVERY == 0):
            self.logger.warn(f"central unit: {key.replace('_', ' ')} #{count}: {reason}")

    # ---- inputs --------------------------------------------------------------------------------
    def handle_snapshot(self, msg):
        """A node_rx snapshot PDU (one frame or a batch): checked, aligned; bad ones counted and logged."""
        try:
            snaps = tags.snapshots_from_pmt(msg)  # one frame, or node_rx's batch of frames
        except Exception as exc:  # noqa: BLE001 — any malformed PMT is counted, the scheduler never sees it
            self._count("rejected_snapshots", f"malformed snapshot message: {exc}")
            return
        for snap in snaps:
            self._accept(snap.node_id, snap.frame, snap.precoder_version, snap.samples, snap.precoder_id)

    def handle_precoders(self, msg):
        """An isac_tx precoder dict: recorded in the version table; a bad one counted and logged."""
        try:
            wc, wr, version, node = tags.precoder_from_pmt(msg, self.layout.tx_antennas, self.layout.num_users)
            if not 0 <= version <= _MAX_WIRE_INT:
                raise ValueError(f"precoder version {version}: accepted: 0 … 2^63 − 1")
            given = pmt.dict_ref(msg, pmt.intern(tags.KEY_PRECODER_ID), pmt.PMT_NIL)
            n = self.layout.num_nodes
            with self._lock:
                if node is None or pmt.is_null(given):
                    # a pair without the set's identity is the set in which every node uses it (as isac_tx)
                    self.precoders.set_all(version, np.broadcast_to(wc, (n,) + wc.shape),
                                           np.broadcast_to(wr, (n,) + wr.shape),
                                           None if pmt.is_null(given) else tags.precoder_id_from_pmt(msg, wc, wr, n))
                else:
                    self.precoders.set_node(version, node, wc, wr, tags.precoder_id_from_pmt(msg, wc, wr, n))
        except Exception as exc:  # noqa: BLE001
            self._count("rejected_precoders", f"precoder message ignored: {exc}")
            return
        self._count("precoder_updates")

    def handle_wire(self, data, sender=None):
        """One ZeroMQ message (bytes) of the snapshot socket: a wire SNAPSHOT; anything else counted and
        dropped (a PRECODERS message as rejected_precoders). ``sender``: the CURVE key it came from."""
        try:
            message = wire.decode(data)
        except wire.WireError as exc:
            self._count("decode_errors", str(exc))
            return
        if isinstance(message, wire.SnapshotMessage):
            self._accept(message.node_id, message.frame_number, message.precoder_version, message.snapshot,
                         message.precoder_id, sender)
        elif isinstance(message, wire.PrecoderMessage):
            self._count("rejected_precoders", f"PRECODERS message (version {message.version}) on the snapshot socket "
                        "dropped: precoder sets are accepted only from the beamformer server's link "
                        "(--precoders-from, the precoders port) or at start")
        else:
            self._count("decode_errors", f"unexpected {type(message).__name__} on the snapshot socket")

    def _accept(self, node_id, frame, version, samples, precoder_id=0, sender=None):
        lay = self.layout
        for name, value, high in (("node id", node_id, self.scenario.num_nodes - 1), ("frame", frame, _MAX_WIRE_INT),
                                  ("precoder version", version, _MAX_WIRE_INT),
                                  ("precoder id", precoder_id, _MAX_WIRE_INT)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value <= high:
                self._count("rejected_snapshots", f"snapshot of node {node_id!r}, frame {frame!r} dropped: "
                            f"{name} {value!r} outside 0 … {high}")
                return
        if self._bindings:
            bound = self._bindings.get(sender)
            if bound != node_id:
                who = "a key bound to no node" if bound is None else f"the key of node {bound}"
                self._count("identity_mismatch", f"snapshot claiming node {node_id} (frame {frame}) from {who} dropped")
                return
        try:
            samples = fusion.check_snapshot(samples, self.scenario.rx_antennas, lay.subcarriers, lay.data_symbols)
            with self._lock:
                counts = self.aligner.counters
                before = (counts.late, counts.duplicates, counts.implausible)
                released = self.aligner.add(int(node_id), int(frame), int(version), samples, time.monotonic(),
                                            int(precoder_id))
                after = (counts.late, counts.duplicates, counts.implausible)
                watermark = self.aligner.watermark
        except (fusion.SnapshotRejected, ValueError, TypeError) as exc:
            self._count("rejected_snapshots", f"snapshot of node {node_id!r}, frame {frame!r} dropped: {exc}")
            return
        for kind, old, new, why in zip(("late", "duplicate", "implausible"), before, after,
                                       (f"frame {frame} is at or below the last released frame {watermark}",
                                        f"node {node_id} already sent frame {frame}",
                                        f"frame {frame} is outside the frame window (last released {watermark}, "
                                        f"{self.aligner.max_frames_ahead} frames, no other node near it)")):
            if new > old and (new <= _LOG_FIRST or new % _LOG_EVERY == 0):
                self.logger.warn(f"central unit: {kind} snapshot #{new} of node {node_id} dropped: {why}")
        self._enqueue(released)

    def _enqueue(self, frame_sets):
        if not frame_sets:
            return
        with self._work_ready:
            for frame_set in frame_sets:
                if len(self._work) >= self.queue_depth:
                    dropped = self._work.popleft()
                    self._count("skipped_busy", done=dropped.frame)
                self._work.append(frame_set)
            self._work_ready.notify()

    # ---- threads -------------------------------------------------------------------------------
    def _open_input(self):
        import zmq

        self._context = self._context or zmq.Context.instance()
        # a message larger than this scenario's snapshot never reaches us (ZeroMQ drops the peer instead)
        options = {zmq.MAXMSGSIZE: self.max_message_bytes, zmq.RCVHWM: 1000}
        if self.pattern == "sub":
            options[zmq.SUBSCRIBE] = b""
        sock, endpoint = net.make_socket(self._context, zmq.PULL if self.pattern == "pull" else zmq.SUB,
                                         self.address, self.bind, self.security, name="address", options=options)
        if self.bind:
            self.bound_address = endpoint
        return sock

    def _open_output(self):
        import zmq

        self._context = self._context or zmq.Context.instance()
        pub, self.estimate_endpoint = net.make_socket(self._context, zmq.PUB, self.estimate_address,
                                                      self.estimate_bind, self.security, name="estimate_address",
                                                      options={zmq.LINGER: 200})
        return pub

    def start(self):
        if self._socket_in is None and self.address:  # restarted after a stop
            self._socket_in = self._open_input()
        if self._socket_out is None and self.estimate_address:
            self._socket_out = self._open_output()
        self._stop.clear()
        self._abandon = False
        worker = self._worker
        if self._pool_options is not None:  # localisation in worker processes (issue 16 item 3)
            if self._pool is None:  # restarted after a stop
                self._pool = self._open_pool()
            self._pool.start_local()
            worker = self._dispatch
        self._threads = [threading.Thread(target=self._service, name="disac-cu-service", daemon=True),
                         threading.Thread(target=worker, name="disac-cu-worker", daemon=True)]
        for thread in self._threads:
            thread.start()
        return True

    def stop(self):
        if not self._threads:
            return True
        self._stop.set()
        self._threads[0].join()  # the service thread: no more input
        self._drain_input()
        with self._lock:
            remaining = self.aligner.flush()
        if self.drain_on_stop:
            self._enqueue(remaining)
        else:
            with self._work_ready:
                dropped = len(self._work) + len(remaining)
                self._work.clear()
                self._abandon = True  # the frames in worker processes too (counted skipped_busy as they go)
            with self._lock:
                self.counters["skipped_busy"] += dropped
                frames = [fs.frame for fs in remaining] + [self._done_upto]
                self._done_upto = max(frames)
        with self._work_ready:
            self._work.append(None)  # the worker's end marker, after what is queued
            self._work_ready.notify()
        self._threads[1].join()
        self._threads = []
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        self._save_state(force=True)
        self._publish_status()
        self._close(self._socket_in)
        self._socket_in = None
        return True

    def _drain_input(self):
        """At stop, after the service thread: the snapshots already waiting in the ZeroMQ socket are handled
        (accepted, or counted late/duplicate/...) rather than discarded uncounted when the socket closes.
        Bounded by _DRAIN_MAX_MESSAGES, so that a peer that never stops sending cannot hold the stop."""
        import zmq

        if self._socket_in is None:
            return
        for _ in range(_DRAIN_MAX_MESSAGES):
            try:
                data = self._socket_in.recv(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return
            except zmq.ZMQError as exc:  # a socket in a bad state: nothing more to read, say so
                self._supervised("service", exc)
                return
            self.handle_wire(data.buffer, net.sender_key(data) if self._bindings else None)

    def _close(self, sock):
        if sock is not None:
            self._refused_closed += net.refused(sock)
            net.close(sock)

    def _service(self):
        """Receives ZeroMQ snapshots, releases timed-out frames, publishes the status periodically."""
        import zmq

        poller = None
        if self._socket_in is not None:
            poller = zmq.Poller()
            poller.register(self._socket_in, zmq.POLLIN)
        next_status = time.monotonic() + self.status_interval_s
        while not self._stop.is_set():
            try:
                next_status = self._service_once(poller, next_status)
            except Exception as exc:  # noqa: BLE001 — supervised: counted, logged once per cause, go on
                self._supervised("service", exc)
                self._stop.wait(_POLL_S)

    def _service_once(self, poller, next_status):
        import zmq

        if poller is not None:
            if poller.poll(int(_POLL_S * 1000)):
                for _ in range(256):  # what is waiting, then a timeout check
                    try:
                        data = self._socket_in.recv(zmq.NOBLOCK, copy=False)
                    except zmq.Again:
                        break
                    self.handle_wire(data.buffer, net.sender_key(data) if self._bindings else None)
        else:
            self._stop.wait(_POLL_S)
        with self._lock:
            released = self.aligner.poll(time.monotonic())
        self._enqueue(released)
        self._save_state()
        if self.status_interval_s and time.monotonic() >= next_status:
            next_status += self.status_interval_s
            self._publish_status()
        return next_status

    def _save_state(self, force=False):
        if not self.state_file or (not force and time.monotonic() < self._next_state_s):
            return
        self._next_state_s = time.monotonic() + _STATE_EVERY_S
        status = self.status()
        done = status["done_upto"]
        # the frames released but not finished yet are not in the counters: a unit that carries on from
        # this state counts them lost, so the accounting stays exact whatever happens after the write
        with self._lock:
            sets = self.precoders.known_sets()
        snapshot = ((done,) + tuple(status[key] for key in fusion.STATE_COUNTERS + fusion.LATER_STATE_COUNTERS)
                    + tuple(s[0] for s in sets))
        if snapshot == self._saved:
            return
        counters = dict(status)
        # lost up to ``done``: every frame from start_frame to it is finished (in the counters) or was never
        # released; gaps beyond it are counted again by a unit that resumes from ``done``
        counters["lost"] = done + 1 - self.aligner.start_frame - status["frames_localised"] - status["frames_skipped"]
        try:
            fusion.save_state(self.state_file, self.scenario.name, done, counters, sets)
        except OSError as exc:
            self._count("service_errors", f"state file {self.state_file!r} not written: {exc}")
            return
        self._saved = snapshot


    def _worker(self):
        pub = self._socket_out
        try:
            while True:
                with self._work_ready:
                    while not self._work:
                        self._work_ready.wait()
                    frame_set = self._work.popleft()
                if frame_set is None:
                    return
                self.process_frame(frame_set, pub)
        finally:
            if pub is not None:
                self._close(pub)
                self._socket_out = None

    def process_frame(self, frame_set, pub):
        """The worker's supervised step for one released frame: localised (and published) or counted;
        never raises (an exception is counted worker_errors, the frame localisation_errors)."""
        try:
            self._localise(frame_set, pub)
        except Exception as exc:  # noqa: BLE001 — supervised: the frame is counted, the loop goes on
            with self._lock:
                if self._done_upto < frame_set.frame:  # not counted yet (else: failed after it was localised)
                    self.counters["localisation_errors"] += 1
                    self._done_upto = frame_set.frame
            self._supervised("worker", exc)

    def _localise(self, frame_set, pub):
        try:
            with self._lock:  # the precoder table may change under a message handler
                prepared = self.estimator.prepare(frame_set, self.precoders)
            estimate = self.estimator.localise(*prepared)
        except fusion.UnknownPrecoderVersion as exc:
            self._count("unknown_precoders", f"frame {frame_set.frame} skipped: {exc.args[0]}", done=frame_set.frame,
                        also=("skipped_unknown_version",))
            return
        except Exception as exc:  # noqa: BLE001 — a frame that cannot be localised must not stop the unit
            self._count("localisation_errors", f"frame {frame_set.frame}: {exc}", done=frame_set.frame)
            return
        self._finish(frame_set, prepared, estimate, pub)

    def _finish(self, frame_set, prepared, estimate, pub):
        """What follows the search of a frame, in frame order: trackers, counters, listeners, publishing."""
        if self.target_tracker is not None:  # track ids and velocities on the estimate (never stops the unit)
            try:
                with self._lock:
                    _, set_wc, set_wr = self.precoders.get_set(estimate.precoder_id, estimate.precoder_version)
                estimate, _ = self.target_tracker.annotate(estimate, fusion.transmit_covariances(set_wc, set_wr))
            except Exception as exc:  # noqa: BLE001
                self._supervised("worker", exc)
        message_pmt = estimate_to_pmt(estimate, self.layout.num_nodes)  # may raise: supervised, counted
        if self.tracker is not None:  # on-the-fly re-estimation from the direct paths (never stops the unit)
            try:
                inputs = prepared[0]
                jumps = self.tracker.jumps
                received = inputs.snapshots if inputs.unsuppressed_snapshots is None else inputs.unsuppressed_snapshots
                self.tracker.update(inputs.frame, received, inputs.frames)  # X_m with the tx delays
                if self.tracker.jumps > jumps:
                    self._count("calibration_jumps", f"frame {frame_set.frame}: the links' delays or phases "
                                "moved away from the calibration (recalibrate: disac calibrate)")
            except Exception as exc:  # noqa: BLE001
                self._supervised("worker", exc)
        self._count("frames_localised", done=frame_set.frame)
        self.estimates.append(estimate)
        for listener in list(self.listeners):
            try:
                listener(estimate)
            except Exception as exc:  # noqa: BLE001 — a caller's bug must not stop the unit
                self.logger.error(f"central unit: estimate listener failed: {exc}")
        self.message_port_pub(pmt.intern(ESTIMATE_PORT), message_pmt)
        if pub is not None:
            message = wire.EstimateMessage(int(estimate.frame), int(estimate.precoder_version), estimate.positions_m,
                                           np.asarray(estimate.crb_m2, float), estimate.residual,
                                           np.asarray(estimate.nodes, np.int32), precoder_id=int(estimate.precoder_id))
            try:
                pub.send(wire.encode(message), copy=False)
            except Exception as exc:  # noqa: BLE001
                self.logger.warn(f"central unit: estimate of frame {estimate.frame} not published: {exc}")
                return
        self._count("estimates_published")

    def _publish_status(self):
        msg = pmt.make_dict()
        for key, value in sorted(self.status().items()):
            msg = pmt.dict_add(msg, pmt.intern(key),
                               pmt.intern(value) if isinstance(value, str) else pmt.from_long(int(value)))
        self.message_port_pub(pmt.intern(STATUS_PORT), msg)

    # ---- localisation in worker processes (issue 16 item 3; _localise_pool, core.localise_tasks) -------------
    def _dispatch(self):
        """The worker thread with worker processes: prepares each released frame here (the precoder table,
        the suppressor), ships its search as a TASK, and finishes the frames in frame order as their results
        come back (a reorder buffer). A frame whose task is not answered within worker_deadline_s is issued
        again, up to worker_attempts times, then counted worker_lost. Never raises (supervised)."""
        pub, pool = self._socket_out, self._pool
        slots = collections.OrderedDict()  # frame -> _Slot, in frame (= release) order
        by_task = {}  # task id -> _Slot
        finished_tasks = collections.deque(maxlen=4096)
        next_task = int.from_bytes(os.urandom(4), "little") << 24
        ending = False
        try:
            while True:
                try:
                    while not ending and len(slots) < self.queue_depth + pool.capacity():
                        with self._work_ready:
                            if not self._work:
                                break
                            frame_set = self._work.popleft()
                        if frame_set is None:
                            ending = True
                            break
                        next_task += 1
                        slot = slots[frame_set.frame] = self._issue(frame_set, next_task)
                        if slot.data is not None:
                            by_task[slot.task_id] = slot
                    self._in_flight = len(slots)
                    if ending and not slots:
                        return
                    now = time.monotonic()
                    # at most pool.capacity() tasks out at once (two per worker: one searched, one waiting), so
                    # that a task's deadline measures a worker's answer, not a queue behind other tasks
                    # (the capacity once per pass, and a slot that can only wait costs one assignment: this pass
                    # runs on every result, over every frame in the buffer, in the unit's serial share)
                    out = sum(1 for slot in slots.values() if slot.outcome is None and slot.sent)
                    anyone = pool.workers_seen(self._pool_options["deadline_s"]) or pool.local_alive()
                    capacity = pool.capacity()
                    for slot in slots.values():
                        if slot.outcome is not None:
                            continue
                        if slot.sent or out < capacity or not anyone:
                            out += self._drive(slot, pool, now, out < capacity, anyone)
                        else:  # what _drive does with a task that may not go out while a worker is seen
                            slot.waiting_since = now
                    # results and HELLOs (the workers' count); a new frame waits at most _POLL_S
                    for data in pool.receive(0 if self._work and len(slots) < self.queue_depth + pool.capacity()
                                             else int(_POLL_S * 1000)):
                        self._take_result(data, by_task, finished_tasks, pool)
                    while slots:
                        frame, slot = next(iter(slots.items()))
                        if slot.outcome is None and self._abandon:
                            slot.outcome = ("skip", "skipped_busy", "stopped without draining")
                        if slot.outcome is None:
                            break
                        del slots[frame]
                        if by_task.pop(slot.task_id, None) is not None:
                            finished_tasks.append(slot.task_id)
                        self._release_slot(slot, pub)
                except Exception as exc:  # noqa: BLE001 — supervised: counted, logged once per cause, go on
                    self._supervised("worker", exc)
                    time.sleep(_POLL_S)
        finally:
            self._in_flight = 0
            if pub is not None:
                self._close(pub)
                self._socket_out = None

    def _issue(self, frame_set, task_id):
        """A _Slot for a released frame: prepared and encoded, or already finished (skipped with its reason)."""
        from ..core import localise_tasks

        slot = _Slot(frame_set, task_id)
        try:
            with self._lock:  # the precoder table may change under a message handler
                slot.prepared = self.estimator.prepare(frame_set, self.precoders)
                inputs = slot.prepared[0]
                detect, count, noise, rate, null = self.estimator.search_parameters(inputs)
            if self._config is None:
                self._config = localise_tasks.localiser_config(self.estimator.localizer)
            slot.data = localise_tasks.encode_task(localise_tasks.Task(
                task_id, int(inputs.frame), int(inputs.precoder_version),
                0 if inputs.precoder_id is None else int(inputs.precoder_id), 0, self._config,
                tuple(inputs.rx_nodes), tuple(inputs.tx_nodes),
                np.stack([inputs.snapshots[n] for n in inputs.rx_nodes]),
                np.stack([inputs.frames[m] for m in inputs.tx_nodes]), count, detect, noise, rate, null))
        except fusion.UnknownPrecoderVersion as exc:
            slot.outcome = ("skip", "unknown_precoders", f"frame {frame_set.frame} skipped: {exc.args[0]}")
        except Exception as exc:  # noqa: BLE001 — a frame that cannot be localised must not stop the unit
            slot.outcome = ("skip", "localisation_errors", f"frame {frame_set.frame}: {exc}")
        return slot

    def _drive(self, slot, pool, now, may_send, anyone):
        """A slot's task: past its deadline (sent) issued again, or given up after worker_attempts (worker_lost);
        sent when ``may_send``. A task no worker could take (none seen within the deadline, ``anyone`` false)
        for worker_attempts deadlines is given up too. Returns the change of the number of tasks out (0, ±1)."""
        options = self._pool_options
        change = 0
        if slot.sent and now >= slot.deadline:
            slot.sent, change = False, -1
            if slot.attempts >= options["attempts"]:
                slot.outcome = ("skip", "worker_lost", f"frame {slot.frame_set.frame}: no worker answered "
                                f"{slot.attempts} task(s) within their deadlines (the last {slot.deadline - slot.sent_at:.3g} s)")
                return change
            self._count("worker_reissued", f"frame {slot.frame_set.frame}: no answer within "
                        f"{slot.deadline - slot.sent_at:.3g} s: issued again")
        if not slot.sent:
            if may_send and change == 0 and pool.send(slot.data):
                slot.sent = True
                slot.attempts += 1
                slot.sent_at = now
                slot.deadline = now + self._task_deadline_s()
                return change + 1
            if anyone:
                slot.waiting_since = now
            elif now - slot.waiting_since >= options["deadline_s"] * options["attempts"]:
                slot.outcome = ("skip", "worker_lost", f"frame {slot.frame_set.frame}: no worker connected for "
                                f"{options['deadline_s'] * options['attempts']:g} s")
        return change

    def _task_deadline_s(self):
        """A task's deadline: worker_deadline_s, or longer when the workers answer slowly — 4× the median answer
        time (send → result) of the last 32 tasks — so that a loaded machine does not re-issue healthy tasks."""
        floor = self._pool_options["deadline_s"]
        if self._answer_median_s is None:
            return floor
        return max(floor, 4.0 * self._answer_median_s)

    def _answered(self, seconds):
        """Record a task's answer time (send → result) and the median of the last 32 (as np.median: the mean of
        the middle two for an even count). Once per result, so that the deadline at every send is a look-up (a
        numpy median per send cost ~10 % of the unit's dispatch thread)."""
        self._answer_times_s.append(seconds)
        times = sorted(self._answer_times_s)
        middle = len(times) // 2
        self._answer_median_s = times[middle] if len(times) % 2 else 0.5 * (times[middle - 1] + times[middle])

    def _take_result(self, data, by_task, finished_tasks, pool):
        """One message of the result socket: a HELLO, or the result of a task in flight (checked); anything else
        counted (worker_bad_results, worker_unexpected_results, worker_duplicate_results) and ignored."""
        from ..core import localise_tasks

        try:
            result = localise_tasks.decode_result(data)
        except localise_tasks.TaskError as exc:
            self._count("worker_bad_results", f"result dropped: {exc}")
            return
        pool.seen(result.worker_id)
        if result.status == localise_tasks.STATUS_HELLO:
            return
        slot = by_task.get(result.task_id)
        if slot is None or slot.outcome is not None:
            if result.task_id in finished_tasks or (slot is not None and slot.outcome is not None):
                self._count("worker_duplicate_results", f"result of frame {result.frame} (task {result.task_id}) "
                            "after the frame was finished: ignored")
            else:
                self._count("worker_unexpected_results", f"result for task {result.task_id} (frame {result.frame}), "
                            "which this unit did not give: ignored")
            return
        if slot.sent:
            self._answered(time.monotonic() - slot.sent_at)
        if result.frame != slot.frame_set.frame:
            self._count("worker_unexpected_results", f"result of task {result.task_id} names frame {result.frame}, "
                        f"the task was frame {slot.frame_set.frame}: ignored")
            return
        if result.status == localise_tasks.STATUS_FAILED:
            slot.outcome = ("skip", "localisation_errors", f"frame {result.frame} (worker {result.worker_id:x}): "
                            f"{result.reason}")
            return
        estimator = self.estimator
        positions = result.positions_m
        detect = estimator.max_targets is not None
        bad = (len(positions) > estimator.max_targets) if detect else (len(positions) != estimator.num_targets)
        if bad or detect != (result.statistics is not None):
            self._count("worker_bad_results", f"result of frame {result.frame}: {len(positions)} positions "
                        f"{'with' if result.statistics is not None else 'without'} a detection does not fit this "
                        "unit's search: ignored")
            return
        inputs, crb = slot.prepared
        found = localise_tasks.detection_from_result(result) if detect else None
        slot.outcome = ("estimate", estimator.estimate_from_search(inputs, crb, positions, result.residual,
                                                                   result.converged, found))

    def _release_slot(self, slot, pub):
        kind, *rest = slot.outcome
        frame = slot.frame_set.frame
        if kind == "estimate":
            try:
                self._finish(slot.frame_set, slot.prepared, rest[0], pub)
            except Exception as exc:  # noqa: BLE001 — as process_frame: counted, the loop goes on
                with self._lock:
                    if self._done_upto < frame:
                        self.counters["localisation_errors"] += 1
                        self._done_upto = frame
                self._supervised("worker", exc)
            return
        key, reason = rest
        self._count(key, reason, done=frame, also=("skipped_unknown_version",) if key == "unknown_precoders" else ())


class _Slot:
    """A released frame in the reorder buffer: its task, where it is, and its outcome once known."""

    __slots__ = ("frame_set", "task_id", "prepared", "data", "deadline", "attempts", "sent", "outcome",
                 "waiting_since", "sent_at")

    def __init__(self, frame_set, task_id):
        self.frame_set, self.task_id = frame_set, task_id
        self.prepared = self.data = self.outcome = None
        self.deadline, self.attempts, self.sent, self.sent_at = 0.0, 0, False, 0.0
        self.waiting_since = time.monotonic()


def zmq_context():
    import zmq

    return zmq.Context.instance()


def _worker_options(workers, address, deadline_s, attempts, search):
    """None for today's single worker thread (workers 1, no worker address), else the pool's options; ValueError
    naming a bad value."""
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or not 0 <= workers <= MAX_WORKERS:
        raise ValueError(f"workers = {workers!r}: accepted: 1 (one worker thread, the default), 2 … {MAX_WORKERS} "
                         "worker processes, or 0 with a worker address (remote workers only)")
    if not isinstance(address, str):
        raise ValueError(f"worker_address = {address!r}: accepted: \"\" or a ZeroMQ endpoint")
    if workers == 1 and not address:
        return None
    if workers == 0 and not address:
        raise ValueError("workers = 0 needs a worker address (disac cu --worker-bind ADDR) for remote workers")
    if address:
        net.check_address(address, True, "worker_address")
    if search != "full":
        raise ValueError(f"search = {search!r} with worker processes (workers = {workers}"
                         f"{', worker address ' + address if address else ''}): the track search starts each frame "
                         "from the previous frame's estimate, so it runs in frame order on one worker; accepted: "
                         "search \"full\", or workers 1")
    if isinstance(deadline_s, bool) or not isinstance(deadline_s, (int, float)) or not 0 < deadline_s < 3600:
        raise ValueError(f"worker_deadline_s = {deadline_s!r}: accepted: seconds > 0 and < 3600")
    if isinstance(attempts, bool) or not isinstance(attempts, (int, np.integer)) or not 1 <= attempts <= 100:
        raise ValueError(f"worker_attempts = {attempts!r}: accepted: a whole number 1 … 100")
    return {"workers": int(workers), "address": address, "deadline_s": float(deadline_s), "attempts": int(attempts)}
