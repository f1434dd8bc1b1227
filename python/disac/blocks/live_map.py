# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Live map (QT GUI): the scene in metres (nodes with their arrays, users, true targets), the central unit's
recent estimates and a track per target, the CRB ellipse of every target, and live readouts of the
per-target RMSE against √CRB, every user's measured SINR against the designed one (eq. 6) and BER.

The maths is core's (core.map_geometry: CRB covariances, ellipses, assignment, RMSE, tracks; core.sinr
eq. 6; core.user_metrics' accumulator). This module holds three thin parts:

* ``MapModel``: the state, fed by the message handlers on GNU Radio's threads, guarded by one lock;
  every message is checked, and a bad one is logged, counted and dropped (never raised).
* ``MapWidget``: a QWidget (matplotlib canvas + a readout label) that redraws from a copy of the model
  on the Qt thread, on a QTimer, at most once per ``update_period_s`` and only when something changed.
* ``live_map``: the GNU Radio block (message ports only) that owns both; ``widget()`` is what a QT GUI
  flowgraph places with its gui_hint (``self.top_layout.addWidget(...)``), as GNU Radio's Python QT GUI
  blocks do.
"""

import collections
import math
import threading

import numpy as np
import pmt
from gnuradio import gr

from . import tags
from ..core import fim, fusion, map_geometry, ofdm, sinr, user_metrics

ESTIMATE_PORT = "estimate"
METRICS_PORT = tags.METRICS_PORT
PRECODERS_PORT = "precoders"
# optional keys of the estimate message this block understands beyond central_unit.estimate_to_pmt's:
KEY_TRACK_IDS = "track_ids"  # integer vector (K̂): the track of each estimated position
KEY_COVARIANCES = "position_covariances_m2"  # f64vector (4·K): per true target the 2×2 bound, row-major
MAX_TARGETS = 64  # an estimate with more positions than this is refused (bounded memory per message)
# Bad messages logged one by one; after that, one line every _LOG_EVERY (a flood stays readable)
_LOG_FIRST, _LOG_EVERY = 10, 1000


class BadMessage(ValueError):
    """A message this block cannot use; the text says what is wrong and what is accepted."""


def _dict_get(msg, key, required=True):
    value = pmt.dict_ref(msg, pmt.intern(key), pmt.PMT_NIL)
    if required and pmt.is_null(value):
        raise BadMessage(f"no {key!r} entry")
    return None if pmt.is_null(value) else value


def _number(msg, key, integer=False):
    value = _dict_get(msg, key)
    if integer:
        if not pmt.is_integer(value) and not pmt.is_uint64(value):
            raise BadMessage(f"{key!r} = {pmt.write_string(value)[:40]}: accepted: an integer")
        return pmt.to_uint64(value) if pmt.is_uint64(value) else pmt.to_long(value)
    if not pmt.is_number(value):
        raise BadMessage(f"{key!r} = {pmt.write_string(value)[:40]}: accepted: a number")
    out = pmt.to_double(value) if pmt.is_real(value) else float(pmt.to_long(value))
    if not math.isfinite(out):
        raise BadMessage(f"{key!r} = {out}: accepted: a finite number")
    return out


_VECTOR_KINDS = tuple((getattr(pmt, f"is_{kind}vector"), getattr(pmt, f"{kind}vector_elements"), dtype)
                      for kind, dtype in (("f64", float), ("f32", float), ("s64", np.int64), ("s32", np.int64),
                                          ("s16", np.int64), ("u64", np.int64), ("u32", np.int64), ("u16", np.int64)))


def _vector(value, key):
    """A numpy array from a real or integer PMT uniform vector; BadMessage for anything else."""
    for is_kind, elements, dtype in _VECTOR_KINDS:
        if is_kind(value):
            return np.asarray(elements(value), dtype=dtype)
    raise BadMessage(f"{key!r} = {pmt.write_string(value)[:40]}: accepted: a real or integer uniform vector")


class MapModel:
    """Everything the map shows, updated from messages; thread-safe (one lock); no Qt.

    Estimates: the last ``history_frames`` frames' positions, a TrackHistory per track id (the message's
    ``track_ids`` when present — a tracking central unit's, where −1 marks a point no confirmed track took: drawn
    as a point, in no trail — else nearest-neighbour association with the previous frame's estimates:
    the central unit's positions come in no fixed order), and per true target a running
    RMSE (core.map_geometry.RmseAccumulator) over the frames of the current precoder version (reset when
    the estimates' precoder version changes, so that RMSE and √CRB are of the same precoders).
    √CRB per true target: the message's crb_m2 (the central unit's, of the frame's precoder version);
    where it is not finite, the trace of this block's own bound. The 2×2 bound of each target (the
    ellipse): the message's ``position_covariances_m2`` when present; else core.map_geometry's bound of
    the frame's precoders when this block knows them (``wc``/``wr`` version 0, or the ``precoders``
    port); else the last known set's bound scaled so that its trace is the message's CRB.
    Users: per user a core.user_metrics.SinrAccumulator over the frames of its current precoder version,
    and the designed SINR (eq. 6) of that version when the block knows its precoders.
    """

    def __init__(self, scenario, wc=None, wr=None, history_frames=50, max_tracks=32):
        if isinstance(history_frames, bool) or not isinstance(history_frames, (int, np.integer)) or history_frames < 1:
            raise ValueError(f"history_frames = {history_frames!r}: accepted: a whole number ≥ 1")
        s = self.scenario = tags.as_scenario(scenario)
        self.layout = ofdm.layout_from_scenario(s)
        self.truth_m = np.asarray(s.target_positions_m, float)
        self.history_frames = int(history_frames)
        self._lock = threading.Lock()
        self._geometry = fim.SensingGeometry.from_scenario(s)
        self._fim_map = fim.FimMap(self._geometry)
        self._precoders = fusion.PrecoderTable(self.layout)
        self._bounds = collections.OrderedDict()  # version -> (covariances (K, 2, 2), designed SINR dB (U,))
        if wc is None or wr is None:
            wc0, wr0 = ofdm.default_precoders(self.layout, s.per_antenna_power)
            wc = np.broadcast_to(wc0, (s.num_nodes,) + wc0.shape) if wc is None else wc
            wr = np.broadcast_to(wr0, (s.num_nodes,) + wr0.shape) if wr is None else wr
        self._precoders.set_all(0, wc, wr)
        self._bound_of(0)
        self.recent = collections.deque(maxlen=self.history_frames)  # (frame, positions (K̂, 2), track ids)
        self.tracks = map_geometry.TrackHistory(self.history_frames, max_tracks)
        self.rmse = map_geometry.RmseAccumulator(self.truth_m)
        self.rmse_version = None
        self.crb_m2 = np.trace(self._bounds[0][0], axis1=1, axis2=2)
        self.covariances_m2 = self._bounds[0][0]
        self.covariance_source = "precoders"
        self.last_frame = None
        self.estimate_version = None
        self.frames_localised = 0
        self.frames_partial = 0
        self.users = {}  # user -> {"version", "accumulator" (SinrAccumulator), "designed_db", "last_sinr_db"}
        self.counters = collections.Counter({"bad_estimates": 0, "bad_metrics": 0, "bad_precoders": 0,
                                             "precoder_updates": 0, "metrics_frames": 0})
        self.revision = 0  # incremented on every accepted change (the widget redraws when it moves)

    # ---- bounds of a precoder version ---------------------------------------------------------
    def _bound_of(self, version):
        """(covariances (K, 2, 2), designed SINR dB (U,)) of a complete version, or None (caller holds the lock
        or is the constructor)."""
        if version in self._bounds:
            return self._bounds[version]
        try:
            wc, wr = self._precoders.get(version)
        except fusion.UnknownPrecoderVersion:
            return None
        cov = map_geometry.position_covariances_m2(self._geometry, fusion.transmit_covariances(wc, wr), self._fim_map)
        s = self.scenario
        designed = sinr.to_db(sinr.sinr_from_beamformers(s.user_channels(), wc, wr, s.user_noise_power))
        self._bounds[version] = (cov, np.asarray(designed, float))
        while len(self._bounds) > self._precoders.max_versions:
            self._bounds.popitem(last=False)
        return self._bounds[version]

    def _newest_bound(self):
        """The bound of the highest complete precoder version (caller holds the lock)."""
        versions = self._precoders.versions
        return self._bound_of(versions[-1]) if versions else None

    # ---- messages (any thread) ------------------------------------------------------------------
    def add_estimate(self, msg):
        """A central unit estimate message; BadMessage saying what is wrong."""
        frame = _number(msg, "frame", integer=True)
        version = _number(msg, "precoder_version", integer=True)
        positions = _vector(_dict_get(msg, "positions_m"), "positions_m").astype(float)
        if positions.size % 2 or positions.size > 2 * MAX_TARGETS:  # K̂ = 0: a frame without a detection
            raise BadMessage(f"'positions_m' has {positions.size} values: accepted: 2·K̂ (x, y pairs), "
                             f"0 ≤ K̂ ≤ {MAX_TARGETS}")
        positions = positions.reshape(-1, 2)
        K = len(self.truth_m)
        crb = _dict_get(msg, "crb_m2", required=False)
        crb = np.full(K, np.nan) if crb is None else _vector(crb, "crb_m2").astype(float)
        if crb.size != K:  # the central unit sends K values, NaN when it has no bound (num_targets ≠ K)
            crb = np.full(K, np.nan)
        if np.any(crb < 0):  # NaN (no bound) and +inf (unbounded) are meaningful; a negative bound is not
            raise BadMessage(f"'crb_m2' = {crb.tolist()}: accepted: bounds ≥ 0 (NaN: none, inf: unbounded)")
        ids = _dict_get(msg, KEY_TRACK_IDS, required=False)
        track_ids = None  # without ids: associated to the tracks below (core.map_geometry.TrackHistory)
        if ids is not None:
            ids = _vector(ids, KEY_TRACK_IDS)
            if ids.size != len(positions) or not np.issubdtype(ids.dtype, np.integer):
                raise BadMessage(f"{KEY_TRACK_IDS!r}: {ids.size} values of {ids.dtype} for {len(positions)} "
                                 f"positions: accepted: one integer per position")
            track_ids = [int(i) for i in ids]
        cov = _dict_get(msg, KEY_COVARIANCES, required=False)
        if cov is not None:
            cov = _vector(cov, KEY_COVARIANCES).astype(float)
            if cov.size != 4 * K:
                raise BadMessage(f"{KEY_COVARIANCES!r} has {cov.size} values: accepted: 4·K = {4 * K}")
            cov = cov.reshape(K, 2, 2)
            for k in range(K):
                if np.all(np.isfinite(cov[k])):
                    map_geometry.ellipse_axes(cov[k])  # ValueError (not PSD, not symmetric) refuses the message
        partial = _dict_get(msg, "partial", required=False)
        partial = bool(partial is not None and pmt.is_bool(partial) and pmt.to_bool(partial))
        finite = np.all(np.isfinite(positions), axis=1)
        with self._lock:
            if version != self.rmse_version:
                self.rmse = map_geometry.RmseAccumulator(self.truth_m)
                self.rmse_version = version
            self.rmse.add(positions)
            own = self._bound_of(version)
            if cov is not None:
                covariances, source = cov, "message"
            elif own is not None:
                covariances, source = own[0], "precoders"
            else:  # the shape of the last known set, scaled to this version's CRB
                last = next(reversed(self._bounds.values()))[0]
                traces = np.trace(last, axis1=1, axis2=2)
                with np.errstate(invalid="ignore", divide="ignore"):
                    covariances = last * (crb / traces)[:, None, None]
                source = "scaled"
            fallback = np.trace(covariances, axis1=1, axis2=2)
            self.crb_m2 = np.where(np.isfinite(crb), crb, fallback)
            self.covariances_m2, self.covariance_source = covariances, source
            if track_ids is None:
                kept = self.tracks.associate(frame, positions[finite]) if np.any(finite) else []
            else:
                kept = [t for t, ok in zip(track_ids, finite) if ok]
                tracked = np.array([t >= 0 for t in kept], dtype=bool)  # −1: no confirmed track took it (a point)
                if np.any(tracked):
                    self.tracks.add(frame, [t for t in kept if t >= 0], positions[finite][tracked])
            self.recent.append((int(frame), positions[finite], list(kept)))
            self.last_frame, self.estimate_version = int(frame), int(version)
            self.frames_localised += 1
            self.frames_partial += partial
            self.revision += 1

    def add_metrics(self, msg):
        """A user_rx metrics dict; BadMessage saying what is wrong."""
        if not pmt.is_dict(msg):
            raise BadMessage("not a PMT dict (user_rx metrics)")
        user = _number(msg, "user", integer=True)
        if not 0 <= user < self.scenario.num_users:
            raise BadMessage(f"user = {user}: accepted: 0 … {self.scenario.num_users - 1}")
        version = _number(msg, "precoder_version", integer=True)
        signal = _number(msg, "signal_power")
        noise = _number(msg, "interference_noise_power")
        bit_errors = _number(msg, "bit_errors", integer=True)
        bits = _number(msg, "bits", integer=True)
        sinr_db = _number(msg, "sinr_db") if _dict_get(msg, "sinr_db", required=False) is not None else math.nan
        if signal < 0 or noise < 0 or bits < 0 or not 0 <= bit_errors <= bits:
            raise BadMessage(f"signal_power {signal}, interference_noise_power {noise}, bit_errors {bit_errors}, "
                             f"bits {bits}: accepted: powers ≥ 0 and 0 ≤ bit_errors ≤ bits")
        frame_metrics = user_metrics_frame(signal, noise, bit_errors, bits)
        with self._lock:
            entry = self.users.get(user)
            if entry is None or entry["version"] != version:
                entry = self.users[user] = {"version": version, "accumulator": user_metrics.SinrAccumulator()}
            entry["accumulator"].add(frame_metrics)
            # version −1: a receiver without frame tags (preamble sync) cannot tell: the newest known set
            bound = self._bound_of(version) if version >= 0 else self._newest_bound()
            entry["designed_db"] = float(bound[1][user]) if bound is not None else math.nan
            entry["last_sinr_db"] = sinr_db
            self.counters["metrics_frames"] += 1
            self.revision += 1

    def add_precoders(self, msg):
        """An isac_tx precoder dict (with "node": that node's pair; without: every node's)."""
        try:
            wc, wr, version, node = tags.precoder_from_pmt(msg, self.layout.tx_antennas, self.layout.num_users)
        except ValueError as exc:
            raise BadMessage(str(exc)) from None
        n = self.scenario.num_nodes
        with self._lock:
            try:
                if node is None:
                    self._precoders.set_all(version, np.broadcast_to(wc, (n,) + wc.shape),
                                            np.broadcast_to(wr, (n,) + wr.shape))
                else:
                    self._precoders.set_node(version, node, wc, wr)
            except ValueError as exc:
                raise BadMessage(str(exc)) from None
            self._bounds.pop(version, None)  # a re-set version is recomputed
            self._bound_of(version)
            for user, entry in self.users.items():  # a user waiting for its version's design gets it now
                bound = self._bound_of(entry["version"]) if entry["version"] >= 0 else self._newest_bound()
                if bound is not None:
                    entry["designed_db"] = float(bound[1][user])
            self.counters["precoder_updates"] += 1
            self.revision += 1

    def count_bad(self, key):
        with self._lock:
            self.counters[key] += 1
            self.revision += 1
            return self.counters[key]

    # ---- what the widget draws (any thread) -------------------------------------------------------
    def snapshot(self):
        """A consistent copy of what the map shows (plain numpy and Python values)."""
        with self._lock:
            rmse = self.rmse.rmse_m
            users = []
            for u in range(self.scenario.num_users):
                entry = self.users.get(u)
                if entry is None:
                    users.append(None)
                    continue
                acc = entry["accumulator"]
                users.append({"version": entry["version"], "frames": acc.frames, "sinr_measured_db": acc.sinr_db,
                              "sinr_designed_db": entry.get("designed_db", math.nan), "ber": acc.ber,
                              "bit_errors": acc.bit_errors, "bits": acc.bits})
            return {
                "revision": self.revision,
                "recent": [(f, p.copy(), list(t)) for f, p, t in self.recent],
                "tracks": {t: self.tracks.points_m(t) for t in self.tracks.track_ids},
                "rmse_m": rmse, "rmse_frames": self.rmse.counts.copy(), "rmse_version": self.rmse_version,
                "crb_m2": np.array(self.crb_m2, float), "covariances_m2": np.array(self.covariances_m2, float),
                "covariance_source": self.covariance_source,
                "last_frame": self.last_frame, "estimate_version": self.estimate_version,
                "frames_localised": self.frames_localised, "frames_partial": self.frames_partial,
                "users": users, "counters": dict(self.counters),
            }


def user_metrics_frame(signal_power, interference_noise_power, bit_errors, bits):
    """One frame's numbers in the shape core.user_metrics.SinrAccumulator.add reads."""
    return _FrameNumbers(np.array([signal_power]), np.array([interference_noise_power]), np.array([bit_errors]),
                         int(bits))


_FrameNumbers = collections.namedtuple("_FrameNumbers", "signal_power interference_noise_power bit_errors bits")


# ---- the widget (Qt thread only) ------------------------------------------------------------------

# track colours: not the nodes' blue, the users' green or the ellipses' red
TRACK_COLOURS = ("tab:orange", "tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan", "tab:gray", "gold")
UNTRACKED_COLOUR = "darkgray"  # an estimate no confirmed track took (track id −1 of a tracking central unit)
MAX_ZOOMS = 3  # per-target zoom panels beside the scene (the first targets' when K is larger)
OLDEST_ALPHA = 0.12  # opacity of the oldest estimate drawn; the newest is opaque


def _fmt(value, spec):
    return "–" if value is None or not np.isfinite(value) else format(value, spec)


def _check_positive(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) \
            or not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} = {value!r}: accepted: a finite number > 0")
    return float(value)


def _qt():
    from PyQt5 import QtCore, QtGui, QtWidgets  # noqa: F401 — the Qt of GNU Radio's QT GUI (python3-pyqt5)

    return QtCore, QtGui, QtWidgets


class MapWidget:
    """Builds the QWidget (``self.qwidget``): a matplotlib canvas (the scene and a zoom on each of the first
    targets) over a readout label; ``refresh()`` redraws from ``model.snapshot()`` when it changed.
    A QTimer calls refresh every ``update_period_s`` on the Qt thread."""

    def __init__(self, model, n_sigma=3.0, update_period_s=0.2, title="", parent=None):
        QtCore, QtGui, QtWidgets = _qt()
        from matplotlib.backends.backend_qt5agg import FigureCanvasQTAgg
        from matplotlib.figure import Figure

        self.model = model
        self.n_sigma = _check_positive("n_sigma", n_sigma)
        self.title = str(title)
        s = model.scenario
        self.qwidget = QtWidgets.QWidget(parent)
        self.qwidget.setObjectName("disac_live_map")
        layout = QtWidgets.QVBoxLayout(self.qwidget)
        layout.setContentsMargins(2, 2, 2, 2)
        self.figure = Figure(figsize=(10.0, 5.6), dpi=100, layout="constrained")
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.canvas.setSizePolicy(QtWidgets.QSizePolicy.Expanding, QtWidgets.QSizePolicy.Expanding)
        self.canvas.setMinimumSize(480, 320)
        layout.addWidget(self.canvas, stretch=1)
        self.readout = QtWidgets.QLabel()
        self.readout.setTextFormat(QtCore.Qt.RichText)
        self.readout.setTextInteractionFlags(QtCore.Qt.TextSelectableByMouse)
        font = QtGui.QFontDatabase.systemFont(QtGui.QFontDatabase.FixedFont)
        font.setPointSize(10)
        self.readout.setFont(font)
        self.readout.setStyleSheet("QLabel { background: white; padding: 4px; }")
        layout.addWidget(self.readout)

        zooms = min(MAX_ZOOMS, s.num_targets)
        grid = self.figure.add_gridspec(zooms, 2, width_ratios=(2.1, 1.0))
        self.scene = self.figure.add_subplot(grid[:, 0])
        self.zooms = [self.figure.add_subplot(grid[k, 1]) for k in range(zooms)]
        self._artists = [self._static(self.scene, scene=True)] + [self._static(ax, scene=False) for ax in self.zooms]
        self._scene_limits()
        self._legend()
        for ax, artist in self._live_artists():
            artist.set_animated(True)  # drawn by _draw_live over the cached background
        self._zoom_half = [None] * len(self.zooms)
        self._background = self._background_size = None
        self.canvas.mpl_connect("draw_event", self._on_draw)
        self._drawn_revision = None
        self._pending = {}  # setter values waiting for the Qt thread (a setter may run on any thread)
        self._pending_lock = threading.Lock()
        self.refresh(force=True)
        self.update_period_s = _check_positive("update_period_s", update_period_s)
        self.timer = QtCore.QTimer(self.qwidget)
        self.timer.timeout.connect(self.refresh)
        self.timer.start(self._period_ms())

    def _period_ms(self):
        return max(1, int(round(1000 * self.update_period_s)))

    # Setters validate at once (a bad value raises to the caller) and take effect at the next timer tick,
    # on the Qt thread: GRC callbacks may come from any thread, and Qt timers and matplotlib may not.
    def set_update_period_s(self, update_period_s):
        with self._pending_lock:
            self._pending["update_period_s"] = _check_positive("update_period_s", update_period_s)

    def set_n_sigma(self, n_sigma):
        with self._pending_lock:
            self._pending["n_sigma"] = _check_positive("n_sigma", n_sigma)

    def _apply_pending(self):
        """Setter values, applied on the Qt thread; True when the picture must be redrawn in full."""
        with self._pending_lock:
            pending, self._pending = self._pending, {}
        if "update_period_s" in pending:
            self.update_period_s = pending["update_period_s"]
            self.timer.start(self._period_ms())
        if "n_sigma" in pending:
            self.n_sigma = pending["n_sigma"]
            self._zoom_half = [None] * len(self.zooms)  # the zooms fit the new ellipses
            self._legend()
            return True
        return False

    # ---- static parts ----------------------------------------------------------------------------
    def _static(self, ax, scene):
        s = self.model.scenario
        nodes, users, truth = (np.asarray(a, float) for a in (s.node_positions_m, s.user_positions_m,
                                                            s.target_positions_m))
        ax.set_aspect("equal", adjustable="box")  # fixed limits; the box takes the shape
        ax.grid(True, alpha=0.3)
        ax.ticklabel_format(useOffset=False)
        ax.set_xlabel("x (m)")
        ax.set_ylabel("y (m)")
        size = 1.0 if scene else 0.8
        ax.tick_params(labelsize=9 if scene else 7)
        artists = {}
        if scene:
            ax.plot(nodes[:, 0], nodes[:, 1], "^", ms=10, color="tab:blue", zorder=6, label="ISAC node")
            span = self._span_m()
            half = 0.025 * span  # the ULA drawn along y (its elements' axis; broadside ±x), docs/conventions.md
            for n, p in enumerate(nodes):
                ax.plot([p[0], p[0]], [p[1] - half, p[1] + half], "-", lw=3, color="tab:blue", zorder=6,
                        label="node array (ULA along y)" if n == 0 else None)
                ax.annotate(f"node {n + 1}", p, textcoords="offset points", xytext=(7, 4), fontsize=9,
                            color="tab:blue")
            ax.plot(users[:, 0], users[:, 1], "s", ms=8, color="tab:green", zorder=6, label="user")
            for u, p in enumerate(users):
                ax.annotate(f"user {u + 1}", p, textcoords="offset points", xytext=(7, -12), fontsize=9,
                            color="tab:green")
            for k, p in enumerate(truth):
                ax.annotate(f"T{k + 1}", p, textcoords="offset points", xytext=(-16, 6), fontsize=9)
        # truth under everything the receive side produced: hollow, so the estimates show through
        ax.plot(truth[:, 0], truth[:, 1], "o", ms=12 * size, mfc="none", mec="black", mew=1.4, zorder=2,
                label="target (true)")
        # the legend's marker is neutral grey; each point then takes its track's colour, fading with age
        artists["points"] = ax.scatter(np.zeros(0), np.zeros(0), s=9 if scene else 14, zorder=4, linewidths=0,
                                       color="0.35", label="estimates (recent frames, fading)")
        artists["tracks"] = {}
        artists["labels"] = {}  # track id → its text at the trail's newest point (the scene only)
        artists["ellipses"] = [ax.plot([], [], "-", lw=1.4, color="crimson", zorder=5,
                                       label="CRB ellipse" if k == 0 else None)[0] for k in range(len(truth))]
        return artists

    def _span_m(self):
        s = self.model.scenario
        allpts = np.concatenate([s.node_positions_m, s.user_positions_m, s.target_positions_m])
        return float(max(np.ptp(allpts[:, 0]), np.ptp(allpts[:, 1]), 1.0))

    def _scene_limits(self):
        s = self.model.scenario
        allpts = np.concatenate([s.node_positions_m, s.user_positions_m, s.target_positions_m])
        margin = 0.12 * self._span_m()
        self.scene.set_xlim(allpts[:, 0].min() - margin, allpts[:, 0].max() + margin)
        self.scene.set_ylim(allpts[:, 1].min() - margin, allpts[:, 1].max() + margin)

    def _legend(self):
        p = 100 * map_geometry.containment_probability(self.n_sigma)
        self._artists[0]["ellipses"][0].set_label(f"{self.n_sigma:g}σ CRB ellipse ({p:.1f} %)")
        from matplotlib.lines import Line2D

        handles, labels = self.scene.get_legend_handles_labels()
        handles.append(Line2D([], [], color=TRACK_COLOURS[0], lw=1.2))
        labels.append("track (line through recent estimates)")
        self.scene.legend(handles, labels, loc="best", fontsize=8, framealpha=0.85)

    # ---- live parts ------------------------------------------------------------------------------
    # Drawing: a full draw (axes, ticks, text, layout: ~10× the cost) happens only when the axes change
    # (first draw, resize, a zoom's limits, n_sigma); it caches the background without the live artists
    # (matplotlib's blitting: they are "animated"). Every other refresh restores that background, draws
    # the live artists (estimates, tracks, ellipses, titles) and blits.
    def refresh(self, force=False):
        """Redraw from the model if it changed (or ``force``); True when it redrew. Qt thread only."""
        force = self._apply_pending() or force
        snap = self.model.snapshot()
        if not force and snap["revision"] == self._drawn_revision:
            return False
        limits_changed = self._draw(snap)
        self.readout.setText(self._readout_html(snap))
        if force or limits_changed or self._background is None \
                or self._background_size != self.canvas.get_width_height():
            self.canvas.draw()  # _on_draw caches the background and draws the live artists on it
        else:
            self.canvas.restore_region(self._background)
            self._draw_live()
            self.canvas.blit(self.figure.bbox)
        self._drawn_revision = snap["revision"]
        return True

    def _live_artists(self):
        for ax, artists in zip([self.scene] + self.zooms, self._artists):
            yield ax, artists["points"]
            for line in list(artists["tracks"].values()) + artists["ellipses"] + list(artists["labels"].values()):
                yield ax, line
            yield ax, ax.title

    def _on_draw(self, _event):
        self._background = self.canvas.copy_from_bbox(self.figure.bbox)
        self._background_size = self.canvas.get_width_height()
        self._draw_live()

    def _draw_live(self):
        for ax, artist in self._live_artists():
            ax.draw_artist(artist)

    def _colour_of(self, track):
        return UNTRACKED_COLOUR if int(track) < 0 else TRACK_COLOURS[int(track) % len(TRACK_COLOURS)]

    def _draw(self, snap):
        from matplotlib.colors import to_rgba

        recent = snap["recent"]
        rows = [(p, t, age) for age, (_, pts, ids) in enumerate(reversed(recent)) for p, t in zip(pts, ids)]
        n = max(len(recent), 1)
        if rows:
            offsets = np.array([r[0] for r in rows], float)
            colours = np.array([to_rgba(self._colour_of(r[1]),
                                        1.0 - (1.0 - OLDEST_ALPHA) * (r[2] / max(n - 1, 1))) for r in rows])
        else:
            offsets, colours = np.zeros((0, 2)), np.zeros((0, 4))
        truth = self.model.truth_m
        for a, (ax, artists) in enumerate(zip([self.scene] + self.zooms, self._artists)):
            artists["points"].set_offsets(offsets)
            artists["points"].set_facecolors(colours)
            for track, pts in snap["tracks"].items():
                line = artists["tracks"].get(track)
                if line is None:
                    line = artists["tracks"][track] = ax.plot([], [], "-", lw=1.0 if a == 0 else 0.7, animated=True,
                                                              color=self._colour_of(track), alpha=0.55, zorder=3)[0]
                line.set_data(pts[:, 0], pts[:, 1])
                if a == 0 and len(pts):
                    label = artists["labels"].get(track)
                    if label is None:
                        label = artists["labels"][track] = ax.text(0.0, 0.0, f" {track}", fontsize=8, animated=True,
                                                                   color=self._colour_of(track), zorder=6)
                    label.set_position((float(pts[-1, 0]), float(pts[-1, 1])))
                    label.set_visible(True)
            for track, line in artists["tracks"].items():
                if track not in snap["tracks"]:
                    line.set_data([], [])
            for track, label in artists["labels"].items():
                if track not in snap["tracks"]:
                    label.set_visible(False)
            for k, line in enumerate(artists["ellipses"]):
                cov = snap["covariances_m2"][k]
                try:
                    pts = map_geometry.ellipse_points_m(truth[k], cov, self.n_sigma)
                except ValueError:  # no bound (singular FIM, no CRB known): no ellipse
                    pts = np.zeros((0, 2))
                line.set_data(pts[:, 0], pts[:, 1])
        limits_changed = False
        for k, ax in enumerate(self.zooms):
            limits_changed |= self._zoom(ax, k, snap, offsets)
        frame = snap["last_frame"]
        head = self.title or f"D-ISAC live map · scenario {self.model.scenario.name}"
        self.scene.set_title(f"{head} · frame {frame if frame is not None else '–'} · precoder version "
                             f"{snap['estimate_version'] if snap['estimate_version'] is not None else '–'}", fontsize=10)
        return limits_changed

    def _zoom(self, ax, k, snap, offsets):
        """Title and limits of target k's zoom; True when the limits changed. The half-width covers the
        ellipse and 90 % of the recent estimates nearest this target; it changes only when that need
        leaves [0.6, 1] of the current one (a steady picture, and few full redraws)."""
        truth = self.model.truth_m[k]
        need = 0.0
        cov = snap["covariances_m2"][k]
        try:
            need = 1.3 * map_geometry.ellipse_axes(cov, self.n_sigma)[0]
        except ValueError:  # no bound: the estimates alone
            need = 0.0
        if len(offsets):
            distances = np.linalg.norm(offsets[:, None, :] - self.model.truth_m[None, :, :], axis=2)
            own = offsets[np.argmin(distances, axis=1) == k]
            if len(own):
                need = max(need, 1.15 * float(np.percentile(np.linalg.norm(own - truth, axis=1), 90)))
        need = need if need > 0 else 1.0
        half = self._zoom_half[k]
        changed = half is None or not 0.6 * half <= need <= half
        if changed:
            half = self._zoom_half[k] = 1.15 * need
            ax.set_xlim(truth[0] - half, truth[0] + half)
            ax.set_ylim(truth[1] - half, truth[1] + half)
        rmse, crb = snap["rmse_m"][k], snap["crb_m2"][k]
        ax.set_title(f"T{k + 1}: RMSE {_fmt(rmse, '.3f')} m, √CRB {_fmt(math.sqrt(crb) if crb >= 0 else math.nan, '.3f')} m",
                     fontsize=9)
        return changed

    def _readout_html(self, snap):
        c = snap["counters"]
        truth = self.model.truth_m
        cells = "style='padding:0 8px'"
        rows = [f"<tr><th {cells}>target</th><th {cells}>true (x, y) m</th><th {cells}>RMSE m</th>"
                f"<th {cells}>√CRB m</th><th {cells}>RMSE/√CRB</th><th {cells}>frames</th></tr>"]
        for k, p in enumerate(truth):
            rmse, crb = snap["rmse_m"][k], snap["crb_m2"][k]
            root = math.sqrt(crb) if np.isfinite(crb) and crb >= 0 else math.nan
            rows.append(f"<tr><td {cells}>T{k + 1}</td><td {cells}>({p[0]:.1f}, {p[1]:.1f})</td>"
                        f"<td {cells} align=right>{_fmt(rmse, '.4f')}</td><td {cells} align=right>{_fmt(root, '.4f')}</td>"
                        f"<td {cells} align=right>{_fmt(rmse / root if root > 0 else math.nan, '.2f')}</td>"
                        f"<td {cells} align=right>{int(snap['rmse_frames'][k])}</td></tr>")
        users = [f"<tr><th {cells}>user</th><th {cells}>SINR measured dB</th><th {cells}>designed dB</th>"
                 f"<th {cells}>BER</th><th {cells}>frames</th></tr>"]
        for u, entry in enumerate(snap["users"]):
            if entry is None:
                users.append(f"<tr><td {cells}>user {u + 1}</td><td {cells} colspan=4>no frames yet</td></tr>")
                continue
            users.append(f"<tr><td {cells}>user {u + 1}</td>"
                         f"<td {cells} align=right>{_fmt(entry['sinr_measured_db'], '.2f')}</td>"
                         f"<td {cells} align=right>{_fmt(entry['sinr_designed_db'], '.2f')}</td>"
                         f"<td {cells} align=right>{_fmt(entry['ber'], '.2e')} ({entry['bit_errors']}/{entry['bits']})</td>"
                         f"<td {cells} align=right>{entry['frames']}</td></tr>")
        bad = c["bad_estimates"] + c["bad_metrics"] + c["bad_precoders"]
        source = {"message": "the estimate message", "precoders": "the frame's precoders (expected FIM)",
                  "scaled": "the last known precoders, scaled to the message's CRB"}[snap["covariance_source"]]
        summary = (f"frames localised <b>{snap['frames_localised']}</b> (partial {snap['frames_partial']}) · "
                   f"RMSE over precoder version {snap['rmse_version'] if snap['rmse_version'] is not None else '–'} · "
                   f"ellipses from {source} · bad messages dropped: {bad}"
                   + (f" (estimate {c['bad_estimates']}, metrics {c['bad_metrics']}, precoders {c['bad_precoders']})"
                      if bad else ""))
        return (f"<div>{summary}</div><table><tr><td valign=top><table>{''.join(rows)}</table></td>"
                f"<td width=24></td><td valign=top><table>{''.join(users)}</table></td></tr></table>")


# ---- the block -------------------------------------------------------------------------------------

class live_map(gr.basic_block):
    """QT GUI live map and readouts of the D-ISAC system; message ports only.

    Inputs (messages, all optional)
      estimate   the central unit's estimates (central_unit.estimate_to_pmt); optional extra keys
                 ``track_ids`` (integer vector, one per position: the track each belongs to; without it each
                 position joins the nearest track of the previous frame, core.map_geometry.TrackHistory) and ``position_covariances_m2`` (f64vector,
                 4·K: each true target's 2×2 bound, row-major)
      metrics    user_rx's per-frame metrics dicts (any number of users on one port)
      precoders  isac_tx precoder dicts (tags.precoder_to_pmt: with "node", that node's pair; without,
                 every node's), e.g. the beamformer server's: the designed SINR (eq. 6) and the CRB
                 ellipses of each version
    Widget: ``widget()`` is the QWidget to place (GRC: the gui_hint). Needs a QApplication before the
    block is made (a QT GUI flowgraph has one).

    Parameters
      scenario         preset name, TOML path or Scenario (geometry and truth drawn; bounds evaluated at
                       the scenario's targets, the prior the central unit uses)
      wc, wr           precoders of version 0, (N, Mt, U) and (N, Mt, Mt); None: isac_tx's default
      history_frames   frames whose estimates are drawn (fading with age) and the length of each track
      n_sigma          the CRB ellipses' scale (n-σ contour: 1 − exp(−n²/2) of a Gaussian inside)
      update_period_s  the widget redraws at most this often (only when something changed); 0.2 s: a live
                       redraw costs ~40–80 ms of the Qt thread (bench/bench_live_map.py), so 5 Hz leaves a
                       2-core machine to the flowgraph; readouts faster than that are not read anyway
      title            the map's title ("" for the default)
    The block keeps handling messages after an upstream block ends (GNU Radio would end a message-only
    block with its first finished upstream and drop what the central unit sends later): it runs until
    the flowgraph is stopped, as a QT GUI flowgraph does on window close (a flowgraph with a live_map
    is ended by tb.stop(), not by its sources ending).
    Bad messages are logged (the first 10, then one in 1000), counted (model.counters bad_estimates,
    bad_metrics, bad_precoders, shown in the readout) and dropped; nothing raises into the scheduler.
    """

    def __init__(self, scenario="paper", wc=None, wr=None, history_frames=50, n_sigma=3.0, update_period_s=0.2,
                 title="", parent=None):
        gr.basic_block.__init__(self, name="disac_live_map", in_sig=None, out_sig=None)
        _check_positive("n_sigma", n_sigma)
        _check_positive("update_period_s", update_period_s)
        self.model = MapModel(scenario, wc, wr, history_frames)
        for port, handler in ((ESTIMATE_PORT, self.handle_estimate), (METRICS_PORT, self.handle_metrics),
                              (PRECODERS_PORT, self.handle_precoders)):
            self.message_port_register_in(pmt.intern(port))
            self.set_msg_handler(pmt.intern(port), handler)
        # GNU Radio ends a message-only block when its FIRST upstream block ends (the "done" system message):
        # the map would then drop the estimates still to come from the central unit once a user receiver's
        # finite stream ends. The map keeps showing until the flowgraph is stopped (a QT GUI flowgraph
        # stops on window close); upstream "done" messages are only counted.
        self.upstream_done = 0
        self.set_msg_handler(pmt.intern("system"), self.handle_system)
        _, _, QtWidgets = _qt()
        if QtWidgets.QApplication.instance() is None:
            raise RuntimeError("live_map is a QT GUI block: make a QApplication before it (a QT GUI flowgraph "
                               "does; headless, set QT_QPA_PLATFORM=offscreen)")
        self._view = MapWidget(self.model, n_sigma, update_period_s, title, parent)

    def widget(self):
        """The QWidget to place in a window or layout."""
        return self._view.qwidget

    def refresh(self, force=False):
        """Redraw now (Qt thread only); True when something was drawn."""
        return self._view.refresh(force)

    def set_n_sigma(self, n_sigma):
        self._view.set_n_sigma(n_sigma)

    def set_update_period_s(self, update_period_s):
        self._view.set_update_period_s(update_period_s)

    def handle_system(self, msg):
        """GNU Radio's system port: an upstream block's "done" is counted, not obeyed (see __init__)."""
        try:
            if pmt.is_pair(msg) and pmt.eqv(pmt.car(msg), pmt.intern("done")):
                self.upstream_done += 1
        except Exception:  # noqa: BLE001 — nothing raises into the scheduler
            pass

    def _handle(self, what, key, method, msg):
        try:
            method(msg)
        except Exception as exc:  # noqa: BLE001 — whatever a message holds, the scheduler never sees a raise
            count = self.model.count_bad(key)
            if count <= _LOG_FIRST or count % _LOG_EVERY == 0:
                self.logger.warn(f"live map: {what} message #{count} dropped: {exc}")

    def handle_estimate(self, msg):
        self._handle("estimate", "bad_estimates", self.model.add_estimate, msg)

    def handle_metrics(self, msg):
        self._handle("metrics", "bad_metrics", self.model.add_metrics, msg)

    def handle_precoders(self, msg):
        self._handle("precoders", "bad_precoders", self.model.add_precoders, msg)
