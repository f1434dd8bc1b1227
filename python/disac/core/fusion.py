# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fusion at the central unit: align the nodes' snapshots by frame number, know every node's frame X_m,
and build the ML localiser's inputs (paper eq. 9). Pure Python (no GNU Radio); the central_unit block
wraps it.

Frame alignment (FrameAligner)
    Every node sends one snapshot per frame, tagged with the frame number of a clock shared by the nodes
    (time-synchronised radios: DESIGN.md §4/§5). The aligner keeps a pending set per frame number and
    releases a frame, with the nodes it has, when

      * "complete": every node contributed;
      * "newer":    every node has already sent a newer frame (what is missing will not come: each node
                    sends in order), or a newer frame was released (releases are in frame order, so an
                    older pending frame goes out first);
      * "timeout":  timeout_s passed since its first snapshot arrived (a slow, dead or lost node);
      * "overflow": more than max_pending_frames frames are pending (the oldest goes);
      * "flush":    the caller flushes (end of a run).

    Releases are always in increasing frame order; the highest released frame is the watermark. A
    snapshot of a frame at or below the watermark is *late* (counted, dropped); a second snapshot of
    one node for a pending frame is a *duplicate* (counted, the first kept). Frames that were never
    released between two releases (no node delivered them, or a central unit before a restart took
    them down with it) are counted *lost*, so released + lost covers every frame number from
    start_frame to the watermark.

    The frame window (issue 11): one node, or the first message a fresh unit sees, can never move the
    watermark. The nodes run on one frame clock, so their frame numbers agree within the skew of their
    latencies and batches; a frame number f from node n is *plausible* when

      * f ≤ anchor + max_frames_ahead, the anchor being the highest of start_frame − 1, the watermark
        and the highest frame that two nodes have both sent ("near the start epoch or the quorum"); or
      * the unit is not locked (no frame was released or sent by two nodes for liveness_s: fresh, or
        cut off from the nodes for a while), f follows node n's own previous claim (within
        1 … max_frames_ahead) and another node's last claimed frame is within max_frames_ahead of f (a
        quorum of two agrees, twice: how a restarted central unit locks on to nodes that are far into
        their run, from their second frame on). A unit that is running is never moved by claims,
        whoever sends them; a burst of jumps never agrees with itself.

    Anything else is *implausible* (counted, dropped). A plausible frame that only one node sent is
    not released by the timeout while another node is alive (sent a plausible snapshot within
    liveness_s = max(2 timeout_s, 1 s)) and has not reached that frame: a forged frame ahead of the
    others waits for them instead of moving the watermark; when the pending set overflows, such a frame
    (one node, beyond every other node's last frame, another node alive) is evicted first (counted
    implausible) rather than released. A node never seen is not alive: a unit whose other nodes have
    not started yet localises the first node's frames after the timeout, as before. A node that restarts replays from frame 0: its frames are late until it catches up.
    Nothing here blocks or waits: the caller passes the time (``now_s``) and polls for timeouts.

Transmitted frames (PrecoderTable, localiser_inputs)
    The central unit regenerates node m's frame from (seed, m, frame number, W_c,m, W_r,m) with
    core.ofdm.transmitted_frames, as the transmitter made it (eq. 1). The precoders come from a table
    keyed by the precoder set's identity (core.precoder_identity: a content hash, 0 for the start-up
    set), never by the version counter; the identity of a frame is the one its snapshots name (node_rx
    copies it from its own transmitter's frame tag). A transmitter that did not report in this frame is
    assumed to have used the set most reporting nodes name (nodes switch precoder sets together) and to
    have transmitted: every node's echoes are modelled (docs/localization.md: an unmodelled echo misleads
    the search far more than a modelled one of a silent node costs). A frame whose set is not in the
    table cannot be modelled: UnknownPrecoders (an UnknownPrecoderVersion), which the caller counts as a
    skipped frame. A set enters the table only with its identity checked against its content.
"""

import collections
import copy
import dataclasses
from collections import Counter

import numpy as np

from . import detection, fim, geometry, ofdm
from .precoder_identity import START_SET_ID, PrecoderIdentityError, check_precoder_id, precoder_set_id

RELEASE_REASONS = ("complete", "newer", "timeout", "overflow", "flush")
# The default frame window (max_frames_ahead): frames a node may be ahead of the quorum. It covers the
# skew of nodes on one frame clock (latency and batching: a few hundred frames at the paper's L = 16 and
# 92 600 frames/s, a handful at 10 frames/s) with a wide margin, and is small against the jump that would
# stall a unit (docs/reliability.md).
DEFAULT_FRAME_WINDOW = 4096


class SnapshotRejected(ValueError):
    """A snapshot that cannot be fused (bad node id, shape or values); the message names the value."""


class UnknownPrecoderVersion(KeyError):
    """A frame names a precoder version the table does not (fully) hold."""


class UnknownPrecoders(UnknownPrecoderVersion):
    """A frame names a precoder set identity the table does not hold."""


@dataclasses.dataclass
class FrameSet:
    """The snapshots of one frame number, as released: node → Y (Mr, L, P) and node → precoder version."""

    frame: int
    snapshots: dict
    versions: dict
    first_arrival_s: float
    reason: str = ""
    precoder_ids: dict = dataclasses.field(default_factory=dict)  # node → precoder set identity

    @property
    def nodes(self):
        """The contributing (receiving) nodes, ascending."""
        return tuple(sorted(self.snapshots))


@dataclasses.dataclass
class AlignerCounters:
    """What happened to every snapshot offered to the aligner and every frame it released."""

    snapshots_accepted: int = 0
    duplicates: int = 0
    late: int = 0
    implausible: int = 0
    lost: int = 0  # frame numbers from start_frame to the watermark never released
    frames_released: int = 0
    frames_partial: int = 0  # released with fewer than every node
    released_complete: int = 0
    released_newer: int = 0
    released_timeout: int = 0
    released_overflow: int = 0
    released_flush: int = 0

    def as_dict(self):
        return dataclasses.asdict(self)


class FrameAligner:
    """Frame alignment by frame number with a timeout; see the module docstring for the rules.

    num_nodes: N (node ids 0 … N−1); timeout_s > 0; max_pending_frames ≥ 1; max_frames_ahead ≥ 1 (the
    frame window); start_frame ≥ 0: the first frame number of the run (the start epoch).
    """

    def __init__(self, num_nodes, timeout_s, max_pending_frames=64, max_frames_ahead=DEFAULT_FRAME_WINDOW,
                 start_frame=0):
        _check_whole("num_nodes", num_nodes, 1)
        _check_whole("max_pending_frames", max_pending_frames, 1)
        _check_whole("max_frames_ahead", max_frames_ahead, 1)
        _check_whole("start_frame", start_frame, 0)
        if isinstance(timeout_s, bool) or not isinstance(timeout_s, (int, float)) or not 0 < timeout_s < float("inf"):
            raise ValueError(f"timeout_s = {timeout_s!r}: accepted: a finite number of seconds > 0")
        self.num_nodes = int(num_nodes)
        self.timeout_s = float(timeout_s)
        self.max_pending_frames = int(max_pending_frames)
        self.max_frames_ahead = int(max_frames_ahead)
        self.liveness_s = max(2.0 * self.timeout_s, 1.0)
        self.start_frame = int(start_frame)
        self.counters = AlignerCounters()
        self.watermark = self.start_frame - 1  # highest frame number released (or start_frame − 1)
        self.corroborated = self.start_frame - 1  # highest frame two nodes have both sent
        self.latest = [-1] * self.num_nodes  # highest plausible frame number each node has sent
        self.claimed = [None] * self.num_nodes  # the last frame number each node claimed, plausible or not
        self._last_seen_s = [None] * self.num_nodes  # when each node last sent a plausible snapshot
        self._last_progress_s = None  # when a frame was last released or corroborated (then "locked")
        self._now_s = None
        self._pending = {}  # frame -> FrameSet (insertion order is arrival order, not frame order)

    @property
    def pending_frames(self):
        return sorted(self._pending)

    def resume(self, watermark):
        """Continue after a previous unit that released every frame up to ``watermark`` (a central unit
        restarted from its state file): older frames are late, a gap after it is lost."""
        _check_whole("watermark", watermark + 1, 0)
        self.watermark = max(self.watermark, int(watermark))
        self.corroborated = max(self.corroborated, self.watermark)

    def is_plausible(self, node_id, frame, now_s):
        """The frame window rule of the module docstring (frame > watermark assumed)."""
        window = self.max_frames_ahead
        if frame <= max(self.watermark, self.corroborated) + window:
            return True
        if self._last_progress_s is not None and now_s - self._last_progress_s < self.liveness_s:
            return False  # locked: running, no claim can move the window
        previous = self.claimed[node_id]
        if previous is None or not 0 < frame - previous <= window:
            return False
        return any(claim is not None and abs(frame - claim) <= window
                   for m, claim in enumerate(self.claimed) if m != node_id)

    def add(self, node_id, frame, precoder_version, snapshot, now_s, precoder_id=START_SET_ID):
        """Offer one snapshot; returns the frames this releases (a list of FrameSet, frame order)."""
        if isinstance(node_id, bool) or not isinstance(node_id, (int, np.integer)) or not 0 <= node_id < self.num_nodes:
            raise SnapshotRejected(f"node id {node_id!r}: accepted: 0 … {self.num_nodes - 1}")
        if isinstance(frame, bool) or not isinstance(frame, (int, np.integer)) or frame < 0:
            raise SnapshotRejected(f"frame number {frame!r}: accepted: a whole number ≥ 0")
        node_id, frame = int(node_id), int(frame)
        if frame <= self.watermark:
            self.counters.late += 1
            return []
        plausible = self.is_plausible(node_id, frame, now_s)
        self.claimed[node_id] = frame
        if not plausible:
            self.counters.implausible += 1
            return []
        pending = self._pending.get(frame)
        if pending is None:
            pending = self._pending[frame] = FrameSet(frame, {}, {}, float(now_s))
        elif node_id in pending.snapshots:
            self.counters.duplicates += 1
            return []
        pending.snapshots[node_id] = snapshot
        pending.versions[node_id] = int(precoder_version)
        pending.precoder_ids[node_id] = int(precoder_id)
        self.counters.snapshots_accepted += 1
        self.latest[node_id] = max(self.latest[node_id], frame)
        self._last_seen_s[node_id] = float(now_s)
        if len(pending.snapshots) >= 2:
            self.corroborated = max(self.corroborated, frame)
            self._last_progress_s = float(now_s)
        return self._release_ready(now_s)

    def _alive(self, node, now_s):
        """A node that sent a plausible snapshot within liveness_s (one never seen is not alive)."""
        seen = self._last_seen_s[node]
        return seen is not None and now_s - seen < self.liveness_s

    def _uncorroborated_ahead(self, frame_set):
        """One node's frame beyond every other node's latest frame (what a forged frame number looks like)."""
        if len(frame_set.snapshots) != 1 or self.num_nodes == 1:
            return False
        (sender,) = frame_set.snapshots
        return all(self.latest[m] < frame_set.frame for m in range(self.num_nodes) if m != sender)

    def _may_time_out(self, frame_set, now_s):
        if not self._uncorroborated_ahead(frame_set):
            return True
        (sender,) = frame_set.snapshots
        return not any(self._alive(m, now_s) for m in range(self.num_nodes) if m != sender)

    def poll(self, now_s):
        """Release the frames whose timeout has passed (and every older pending frame)."""
        return self._release_ready(now_s)

    def flush(self):
        """Release every pending frame (end of a run)."""
        return self._release_upto(max(self._pending), "flush") if self._pending else []

    def _release_ready(self, now_s):
        self._now_s = float(now_s)
        released = []
        oldest_newest = min(self.latest)
        for frame in sorted(self._pending):
            pending = self._pending.get(frame)
            if pending is None:  # released as an older frame of a previous one in this loop
                continue
            if len(pending.snapshots) == self.num_nodes:
                released += self._release_upto(frame, "complete")
            elif oldest_newest > frame:
                released += self._release_upto(frame, "newer")
            elif now_s - pending.first_arrival_s >= self.timeout_s and self._may_time_out(pending, now_s):
                released += self._release_upto(frame, "timeout")
        while len(self._pending) > self.max_pending_frames:
            ahead = [f for f, fs in self._pending.items()
                     if self._uncorroborated_ahead(fs) and not self._may_time_out(fs, now_s)]
            if ahead:  # one node's frame beyond every other node's: evict it rather than move the watermark
                self._pending.pop(max(ahead))
                self.counters.snapshots_accepted -= 1
                self.counters.implausible += 1
                continue
            released += self._release_upto(min(self._pending), "overflow")
        return released

    def _release_upto(self, frame, reason):
        """Release `frame` for `reason` and, before it, every older pending frame ("newer")."""
        out = []
        for older in sorted(f for f in self._pending if f <= frame):
            frame_set = self._pending.pop(older)
            frame_set.reason = reason if older == frame else "newer"
            self.counters.frames_released += 1
            setattr(self.counters, f"released_{frame_set.reason}",
                    getattr(self.counters, f"released_{frame_set.reason}") + 1)
            if len(frame_set.snapshots) < self.num_nodes:
                self.counters.frames_partial += 1
            if older > self.watermark + 1:
                self.counters.lost += older - self.watermark - 1
            if reason != "flush":
                self._last_progress_s = self._now_s
            self.watermark = max(self.watermark, older)
            out.append(frame_set)
        return out


def check_snapshot(samples, rx_antennas, subcarriers, symbols):
    """The snapshot as a complex (Mr, L, P) array, or SnapshotRejected naming the shape or values."""
    arr = np.asarray(samples)
    expected = (rx_antennas, subcarriers, symbols)
    if arr.shape != expected:
        raise SnapshotRejected(f"snapshot shape {arr.shape}: accepted: (Mr, L, P) = {expected}")
    if arr.dtype.kind not in "fc":
        raise SnapshotRejected(f"snapshot dtype {arr.dtype}: accepted: complex samples")
    if not np.all(np.isfinite(arr)):
        raise SnapshotRejected("snapshot contains NaN or Inf: accepted: finite samples")
    return arr


class PrecoderTable:
    """Precoder sets known to the central unit, keyed by their identity (core.precoder_identity):
    identity → (version, W_c (N, Mt, U), W_r (N, Mt, Mt)).

    A set enters whole (add_set / set_all) or node by node (set_node: complete once every node's pair of
    the same (version, identity) is known); its identity is checked against its content
    (PrecoderIdentityError, a ValueError, on a mismatch), except for the start-up set, which set_start
    records under START_SET_ID (0) and under its content hash. At most max_versions sets are kept (the
    oldest is forgotten first, the start-up set never). ``get(version)`` (the newest set of a version) is
    for callers of before issue 11; the central unit looks sets up by identity only (get_set).
    """

    def __init__(self, layout, max_versions=16):
        _check_whole("max_versions", max_versions, 1)
        self.layout = layout
        self.max_versions = int(max_versions)
        self._sets = collections.OrderedDict()  # identity -> (version, wc, wr)
        self._start = None  # (version, wc, wr) of the start-up set (identity 0)
        self._partial = collections.OrderedDict()  # (version, identity or None) -> {node: (wc, wr)}

    @property
    def versions(self):
        """The versions of the complete sets, ascending (without repeats)."""
        found = {v for v, _, _ in self._sets.values()}
        if self._start is not None:
            found.add(self._start[0])
        return sorted(found)

    @property
    def precoder_ids(self):
        """The identities of the complete sets (START_SET_ID first when a start-up set is known)."""
        return ([START_SET_ID] if self._start is not None else []) + list(self._sets)

    def _checked_set(self, wc, wr):
        wc, wr = np.asarray(wc), np.asarray(wr)
        n = self.layout.num_nodes
        if wc.ndim != 3 or wr.ndim != 3 or len(wc) != n or len(wr) != n:
            raise ValueError(f"precoders of shapes {wc.shape} and {wr.shape}: accepted: (N, Mt, U) and "
                             f"(N, Mt, Mt) with N = {n}")
        checked = [ofdm.check_precoders(self.layout, wc[m], wr[m]) for m in range(n)]  # all or nothing
        return np.stack([c for c, _ in checked]), np.stack([r for _, r in checked])

    def add_set(self, version, wc, wr, precoder_id=None):
        """Record a whole set (wc (N, Mt, U), wr (N, Mt, Mt)) of a version under its identity (None: its
        content hash; otherwise checked against it). Returns the identity."""
        _check_whole("precoder version", version, 0)
        wc, wr = self._checked_set(wc, wr)
        computed = precoder_set_id(wc, wr)
        if precoder_id is not None and check_precoder_id(precoder_id) != computed:
            raise PrecoderIdentityError(f"precoder_id {precoder_id} does not match the set's content (its identity "
                                        f"is {computed}): a forged or corrupted set")
        self._sets[computed] = (int(version), wc, wr)
        self._sets.move_to_end(computed)
        while len(self._sets) > self.max_versions:
            self._sets.popitem(last=False)
        return computed

    def set_start(self, version, wc, wr):
        """Record the start-up set (identity START_SET_ID, and its content hash); returns the hash."""
        _check_whole("precoder version", version, 0)
        wc, wr = self._checked_set(wc, wr)
        self._start = (int(version), wc, wr)
        return self.add_set(version, wc, wr)

    def set_all(self, version, wc, wr, precoder_id=None):
        """Record every node's precoders of a version: wc (N, Mt, U), wr (N, Mt, Mt) (add_set)."""
        return self.add_set(version, wc, wr, precoder_id)

    def set_node(self, version, node, wc, wr, precoder_id=None):
        """Record node's (W_c, W_r) of a set (version, identity); ValueError naming a bad version, node,
        shape or identity. Returns the identity once the set is complete, else None."""
        _check_whole("precoder version", version, 0)
        if isinstance(node, bool) or not isinstance(node, (int, np.integer)) or not 0 <= node < self.layout.num_nodes:
            raise ValueError(f"precoder node {node!r}: accepted: 0 … {self.layout.num_nodes - 1}")
        if precoder_id is not None:
            precoder_id = check_precoder_id(precoder_id)
        wc, wr = ofdm.check_precoders(self.layout, wc, wr)
        key = (int(version), precoder_id)
        entry = self._partial.setdefault(key, {})
        entry[int(node)] = (wc, wr)
        self._partial.move_to_end(key)
        while len(self._partial) > self.max_versions:
            self._partial.popitem(last=False)
        if len(entry) < self.layout.num_nodes:
            return None
        del self._partial[key]
        nodes = range(self.layout.num_nodes)
        return self.add_set(version, np.stack([entry[m][0] for m in nodes]), np.stack([entry[m][1] for m in nodes]),
                            precoder_id)

    def known_sets(self):
        """[(identity, version, W_c, W_r)] of the sets learned (the start-up set excluded), oldest first."""
        return [(identity, version, wc, wr) for identity, (version, wc, wr) in self._sets.items()]

    def get_set(self, precoder_id, version=None):
        """(version, W_c (N, Mt, U), W_r (N, Mt, Mt)) of a set by identity; UnknownPrecoders otherwise.
        The start-up set (identity 0) is found only under its own version (when ``version`` is given): a
        frame naming identity 0 with another version is not the start-up set's."""
        if precoder_id == START_SET_ID and self._start is not None:
            if version is not None and version != self._start[0]:
                raise UnknownPrecoders(f"precoder set 0 (the start-up set, version {self._start[0]}) named with "
                                       f"version {version!r}: not the start-up set, and no identity given")
            return self._start
        found = self._sets.get(precoder_id)
        if found is None:
            raise UnknownPrecoders(f"precoder set {precoder_id!r} is not known (known sets: "
                                   f"{len(self.precoder_ids)}, versions {self.versions})")
        return found

    def get(self, version):
        """(W_c (N, Mt, U), W_r (N, Mt, Mt)) of the newest complete set of a version; UnknownPrecoderVersion
        otherwise."""
        for known, wc, wr in reversed(list(self._sets.values())):
            if known == version:
                return wc, wr
        if self._start is not None and self._start[0] == version:
            return self._start[1], self._start[2]
        raise UnknownPrecoderVersion(f"precoder version {version!r} is not known for every node; "
                                     f"known versions: {self.versions}")


def transmit_covariances(wc, wr):
    """R_n = W_c,n W_c,nᴴ + W_r,n W_r,nᴴ (N, Mt, Mt): the per-RE transmit covariance of eq. (1) frames."""
    wc, wr = np.asarray(wc), np.asarray(wr)
    return wc @ np.conj(np.swapaxes(wc, -1, -2)) + wr @ np.conj(np.swapaxes(wr, -1, -2))


def position_crb_per_target_m2(geometry, wc, wr, fim_map=None):
    """Per-target position CRB (K,) in m² of the expected FIM (eq. 10–13) for these precoders' covariances
    at the geometry's target positions; +inf for every target when the FIM is singular."""
    report = fim.crb_report(geometry, transmit_covariances(wc, wr), fim_map)
    if report.crb_position_per_target_m2 is None:
        return np.full(geometry.num_targets, np.inf)
    return np.asarray(report.crb_position_per_target_m2, dtype=float)


@dataclasses.dataclass(frozen=True)
class LocaliserInputs:
    """What Localizer.localize needs for one frame, with the bookkeeping the estimate reports."""

    frame: int
    precoder_version: int  # the version most contributing nodes named
    snapshots: dict  # rx node -> Y (Mr, L, P)
    frames: dict  # tx node -> X_m (Mt, L, P)
    rx_nodes: tuple
    tx_nodes: tuple
    precoder_id: object = None  # the set identity most contributing nodes named (None: looked up by version)
    # the snapshots as received, before an interference suppressor cleaned ``snapshots`` (None: not cleaned);
    # the calibration tracker reads the direct paths there
    unsuppressed_snapshots: object = None


def frame_version(frame_set):
    """The precoder version most contributing nodes name (ties: the highest)."""
    counts = Counter(frame_set.versions.values())
    return max(counts, key=lambda v: (counts[v], v))


def frame_precoder_id(frame_set):
    """The precoder set identity most contributing nodes name (ties: the highest)."""
    counts = Counter(frame_set.precoder_ids.values())
    return max(counts, key=lambda v: (counts[v], v))


def localiser_inputs(frame_set, table, seed, tx_delay_phases=None, tx_model_factors=None):
    """Snapshots of the contributing nodes and every node's regenerated X_m (eq. 1) for one frame.

    Node m's frame uses the precoder set m named when it reported (by identity), else the frame's
    majority set. Raises UnknownPrecoders when a needed set is not in the table. A FrameSet without
    identities (callers of before issue 11) is looked up by version (UnknownPrecoderVersion).
    tx_model_factors (N, Mt, L) or None: the calibration's factor on the model, X_m[i, l, :] ×
    |ĝ_tx[m, i]|·e^{−j2π f_l t_m/fs} (the transmit chains' magnitudes, which the transmitter leaves in the
    radiated field, and the transmit delays: docs/air-model.md §3, core.calibration_apply.model_tx_factors).
    tx_delay_phases (N, L) or None: the delays alone, X_m[:, l, :] × e^{−j2π f_l t_m/fs}
    (core.calibration_apply.model_tx_delay_phases; the earlier spelling, applied when no tx_model_factors).
    None of them: X_m as regenerated, bit for bit.
    """
    inputs = _localiser_inputs(frame_set, table, seed)
    factors = None
    if tx_model_factors is not None:
        factors = np.asarray(tx_model_factors)  # (N, Mt, L)
    elif tx_delay_phases is not None:
        factors = np.asarray(tx_delay_phases)[:, None, :]  # (N, 1, L)
    if factors is not None:
        frames = {m: x * factors[m][:, :, None] for m, x in inputs.frames.items()}
        inputs = dataclasses.replace(inputs, frames=frames)
    return inputs


def _localiser_inputs(frame_set, table, seed):
    if not frame_set.snapshots:
        raise ValueError(f"frame {frame_set.frame}: no snapshot to localise from")
    layout = table.layout
    if frame_set.precoder_ids:
        majority = frame_precoder_id(frame_set)
        sets = {}
        frames = {}
        for m in range(layout.num_nodes):
            identity = frame_set.precoder_ids.get(m, majority)
            if identity not in sets:
                named = [frame_set.versions[n] for n, i in frame_set.precoder_ids.items() if i == identity]
                sets[identity] = table.get_set(identity, named[0] if named else None)
            _, wc, wr = sets[identity]
            frames[m] = ofdm.transmitted_frames(layout, seed, [frame_set.frame], m, wc[m], wr[m])[0]
        rx = frame_set.nodes
        return LocaliserInputs(frame_set.frame, sets[majority][0], {n: frame_set.snapshots[n] for n in rx}, frames,
                               rx, tuple(range(layout.num_nodes)), majority)
    majority = frame_version(frame_set)
    precoders = {}
    frames = {}
    for m in range(layout.num_nodes):
        version = frame_set.versions.get(m, majority)
        if version not in precoders:
            precoders[version] = table.get(version)
        wc, wr = precoders[version]
        frames[m] = ofdm.transmitted_frames(layout, seed, [frame_set.frame], m, wc[m], wr[m])[0]
    rx = frame_set.nodes
    return LocaliserInputs(frame_set.frame, majority, {n: frame_set.snapshots[n] for n in rx}, frames,
                           rx, tuple(range(layout.num_nodes)))


def noise_residual_threshold(noise_power, rx_count, snapshot_size, unknowns_per_node, sigmas=5.0):
    """Largest plausible C(q̂) of eq. (9) when the model fits: residual energy / σ² is a sum of
    dof = rx_count·(Mr·L·P − N·K) unit complex Gaussians' energies (mean dof, std √dof), so a residual
    above σ²·(dof + sigmas·√dof) says the estimate missed a target (tracking lost)."""
    dof = rx_count * (snapshot_size - unknowns_per_node)
    return noise_power * (dof + sigmas * np.sqrt(max(dof, 1)))


def _check_whole(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} = {value!r}: accepted: a whole number ≥ {minimum}")


SEARCH_MODES = ("full", "track")
DEFAULT_FALSE_ALARM_RATE = detection.DEFAULT_FALSE_ALARM_RATE
# frame numbers of the frames X_m the noise-only calibration of the detector regenerates (far from any run's)
_CALIBRATION_FRAME_BASE = 1 << 40


@dataclasses.dataclass(frozen=True)
class Estimate:
    """One localised frame: positions (K, 2) m, per-target position CRB (K,) m² of the frame's precoder
    version, C(q̂) of eq. (9), the contributing receiving nodes, and whether a full search ran."""

    frame: int
    precoder_version: int
    positions_m: np.ndarray
    crb_m2: np.ndarray
    residual: float
    nodes: tuple
    full_search: bool
    converged: bool
    precoder_id: int = START_SET_ID  # the identity of the frame's (majority) precoder set
    # unknown K (FrameEstimator max_targets): the core.detection.Detection of the frame (statistics and
    # thresholds per step), None with a known K
    detection: object = None
    # issue 15 item 4, a central unit with track=True (core.tracking.EstimateTracker): per position the id of the
    # confirmed track that took it (−1: none) (K̂,) and that track's velocity (K̂, 2) m/s (NaN: none); else None
    track_ids: object = None
    velocities_mps: object = None

    @property
    def num_targets(self):
        """K̂ (= K with a known K)."""
        return len(self.positions_m)


class FrameEstimator:
    """Frames → estimates: builds the localiser's inputs, runs the ML localiser (eq. 9), attaches the CRB.

    search "full": grid search + joint refinement on every frame (Localizer.localize), each frame on
    its own. search "track": the joint refinement alone (at most track_iterations LM iterations: from a
    start within ~√CRB of the optimum, Gauss–Newton is then far below the noise), started from the
    previous frame's estimate;
    a full search runs on the first frame, after a failure, and whenever the refined residual is above
    noise_residual_threshold (the track was lost: a target moved by more than the refinement's basin,
    or appeared). "track" is 6–8× faster here (the grid passes dominate) and suits slowly moving targets; at
    low SNR it keeps the previous frame's basin, so it is not the frame-by-frame ML estimate there.

    The CRB is the expected-FIM position CRB (fim.crb_report) of the precoder version's covariances
    W_c W_cᴴ + W_r W_rᴴ at the scenario's target positions and amplitude (the prior the precoders were
    designed for), with every node receiving; computed once per version.

    Unknown K (issue 15): ``max_targets`` given (an int ≥ 0) — core.detection.detect_targets finds K̂ ∈ 0 …
    max_targets on every frame (the GLRT stop rule on the successive fit, joint LM after each accepted target)
    at ``false_alarm_rate`` (probability of a false target in a frame without one), with σ² the scenario's
    noise_power (``estimate_noise`` True: from the residual, as a radio without a noise figure would). The
    threshold's null model is calibrated once per precoder set and set of nodes used, on
    ``calibration_draws`` noise-only frames with that set's frames X_m (core.detection.calibrate_null_model),
    unless a ``null_model`` (detection.NullModel) is given for every frame.
    positions_m is then (K̂, 2), K̂ possibly 0, and crb_m2 (K̂,): the prior's per-target CRB of the prior target
    each detection is assigned to within c/(4B) (detection.assign_to_prior), NaN where none is. The search is
    then always "full" (a track search needs a known K). max_targets None: K known, exactly as before.
    """

    def __init__(self, scenario, seed, localizer, num_targets=None, search="full", residual_sigmas=5.0,
                 track_iterations=3, tx_delay_phases=None, tx_model_factors=None, suppressor=None,
                 max_targets=None, false_alarm_rate=DEFAULT_FALSE_ALARM_RATE, estimate_noise=False,
                 calibration_draws=detection.DEFAULT_CALIBRATION_DRAWS, null_model=None):
        if search not in SEARCH_MODES:
            raise ValueError(f"search = {search!r}: accepted: {', '.join(SEARCH_MODES)}")
        self.max_targets = None if max_targets is None else detection.check_max_targets(max_targets)
        self.false_alarm_rate = detection.check_false_alarm_rate(false_alarm_rate)
        if self.max_targets is not None and search != "full":
            raise ValueError(f"search = {search!r} with max_targets = {max_targets}: an unknown number of targets "
                             "is detected by the full search; accepted: search \"full\"")
        _check_whole("calibration_draws", calibration_draws, 20)
        self.estimate_noise = bool(estimate_noise)
        self.calibration_draws = int(calibration_draws)
        self._null_models = {}  # (precoder set key, rx nodes, tx nodes) -> detection.NullModel
        # a detection.NullModel used for every frame (its dof must match the nodes used), or None: calibrated
        self.fixed_null_model = null_model
        self._calibration_frames = {}  # precoder set key -> list of {m: X_m} for the calibration
        self.scenario = scenario
        self.seed = int(seed)
        self.localizer = localizer
        self.num_targets = scenario.num_targets if num_targets is None else int(num_targets)
        _check_whole("num_targets", self.num_targets, 1)
        self.search = search
        self.residual_sigmas = float(residual_sigmas)
        self.tx_delay_phases = None if tx_delay_phases is None else np.asarray(tx_delay_phases)
        self.tx_model_factors = None if tx_model_factors is None else np.asarray(tx_model_factors)
        # issue 14: a core.interference.Suppressor (the static background of every link — direct paths,
        # self-coupling, clutter — subtracted from each frame's snapshots before the localiser), or None
        self.suppressor = suppressor
        _check_whole("track_iterations", track_iterations, 1)
        # the tracker: the same localiser (grid arrays shared) with fewer LM iterations
        self._tracker = copy.copy(localizer)
        self._tracker.max_iterations = int(track_iterations)
        self._geometry = fim.SensingGeometry.from_scenario(scenario)
        self._fim_map = None
        self._crb = {}  # precoder version -> per-target CRB
        self._previous = None
        self.full_searches = 0

    def crb_m2(self, table, version, precoder_id=None):
        """Per-target position CRB (K,) of a precoder version, or of a set by identity (cached)."""
        key = ("version", version) if precoder_id is None else ("id", precoder_id)
        if key not in self._crb:
            if self._fim_map is None:
                self._fim_map = fim.FimMap(self._geometry)
            if precoder_id is None:
                wc, wr = table.get(version)
            else:
                _, wc, wr = table.get_set(precoder_id)
            if self.num_targets == self.scenario.num_targets:
                crb = position_crb_per_target_m2(self._geometry, wc, wr, self._fim_map)
            else:  # the scenario's targets are not the ones sought: no prior to evaluate a bound at
                crb = np.full(self.num_targets, np.nan)
            if len(self._crb) >= table.max_versions + 1:
                self._crb.pop(next(iter(self._crb)))
            self._crb[key] = crb
        return self._crb[key]

    def prepare(self, frame_set, table):
        """(LocaliserInputs, per-target CRB) of one frame: the part that reads the precoder table (a
        caller that updates the table from another thread holds its lock around this call only)."""
        inputs = localiser_inputs(frame_set, table, self.seed, self.tx_delay_phases, self.tx_model_factors)
        if self.max_targets is not None:
            self._remember_calibration_frames(inputs, table)
        if self.suppressor is not None:
            inputs = dataclasses.replace(inputs, snapshots=self.suppressor.apply(inputs.snapshots, inputs.frames),
                                         unsuppressed_snapshots=inputs.snapshots)
        return inputs, self.crb_m2(table, inputs.precoder_version, inputs.precoder_id)

    def _set_key(self, inputs):
        return ("id", inputs.precoder_id) if inputs.precoder_id is not None else ("version", inputs.precoder_version)

    def _remember_calibration_frames(self, inputs, table):
        """The frames X_m of the frame's precoder set that the detector's noise-only calibration uses: every
        node's frame for calibration_draws // 4 frame numbers (cheap; under the caller's table lock)."""
        key = self._set_key(inputs)
        if key in self._calibration_frames:
            return
        if inputs.precoder_id is not None:
            _, wc, wr = table.get_set(inputs.precoder_id)
        else:
            wc, wr = table.get(inputs.precoder_version)
        numbers = _CALIBRATION_FRAME_BASE + np.arange(max(1, self.calibration_draws // 4))
        per_node = [ofdm.transmitted_frames(table.layout, self.seed, numbers, m, wc[m], wr[m])
                    for m in range(table.layout.num_nodes)]
        factors = None
        if self.tx_model_factors is not None:
            factors = self.tx_model_factors
        elif self.tx_delay_phases is not None:
            factors = self.tx_delay_phases[:, None, :]
        frames = []
        for i in range(len(numbers)):
            frame = {m: per_node[m][i] for m in range(table.layout.num_nodes)}
            if factors is not None:
                frame = {m: x * factors[m][:, :, None] for m, x in frame.items()}
            frames.append(frame)
        if len(self._calibration_frames) >= table.max_versions + 1:
            self._calibration_frames.pop(next(iter(self._calibration_frames)))
        self._calibration_frames[key] = frames

    def calibrate_start(self, table, precoder_id=START_SET_ID):
        """Calibrate the detector's null model for a precoder set with every node receiving and transmitting
        (what the first complete frame needs), before the first frame arrives."""
        n = table.layout.num_nodes
        inputs = LocaliserInputs(-1, 0, {}, {}, tuple(range(n)), tuple(range(n)), precoder_id)
        self._remember_calibration_frames(inputs, table)
        return self.null_model(inputs)

    def null_model(self, inputs):
        """The detector's calibrated null model for the frame's precoder set and nodes used (cached)."""
        if self.fixed_null_model is not None:
            return self.fixed_null_model
        if self.false_alarm_rate < detection.RESOLVED_EXCEEDANCES / self.calibration_draws:
            # below the rates the calibration resolves its fit is not used (NullModel.cells_at: the union bound
            # is): the noise-only draws (seconds per precoder set and node set) would be spent for nothing
            return detection.bonferroni_null_model(self.localizer, len(inputs.rx_nodes), len(inputs.tx_nodes))
        key = (self._set_key(inputs), tuple(inputs.rx_nodes), tuple(inputs.tx_nodes))
        if key not in self._null_models:
            frames = [{m: f[m] for m in inputs.tx_nodes} for f in self._calibration_frames[key[0]]]
            if len(self._null_models) >= 64:
                self._null_models.pop(next(iter(self._null_models)))
            self._null_models[key] = detection.calibrate_null_model(
                self.localizer, frames, inputs.rx_nodes, inputs.tx_nodes, self.calibration_draws, self.seed)
        return self._null_models[key]

    def _detect(self, inputs, crb_m2):
        """The Estimate of a frame with an unknown number of targets (class docstring)."""
        noise = None if self.estimate_noise else float(self.scenario.noise_power)
        found = detection.detect_targets(self.localizer, inputs.snapshots, inputs.frames, self.max_targets, noise,
                                         self.false_alarm_rate, inputs.rx_nodes, inputs.tx_nodes,
                                         self.null_model(inputs))
        return self._detect_estimate(inputs, crb_m2, found)

    def _detect_estimate(self, inputs, crb_m2, found):
        positions = np.asarray(found.positions_m, dtype=float).reshape(-1, 2)
        prior = np.asarray(crb_m2, float)
        crb = np.full(len(positions), np.nan)
        if len(prior) == self.scenario.num_targets:
            gate = geometry.SPEED_OF_LIGHT_M_S / (4 * self.scenario.bandwidth_hz)
            assigned = detection.assign_to_prior(positions, self.scenario.target_positions_m, gate)
            crb[assigned >= 0] = prior[assigned[assigned >= 0]]
        converged = True if found.result is None else bool(found.result.converged)
        self.full_searches += 1
        return Estimate(inputs.frame, inputs.precoder_version, positions, crb, float(found.residual),
                        inputs.rx_nodes, True, converged,
                        START_SET_ID if inputs.precoder_id is None else int(inputs.precoder_id), found)

    # ---- the cut for worker processes (issue 16 item 3, core.localise_tasks): the search of a frame runs
    # elsewhere, its outcome is turned into the Estimate here, exactly as localise() does --------------------
    def search_parameters(self, inputs):
        """What a worker needs beside the prepared inputs: (detect, num_targets or max_targets, σ² or NaN,
        false-alarm rate, null model or None). Calibrates the detector's null model here (cached)."""
        if self.search != "full":
            raise ValueError(f"search = {self.search!r}: a search elsewhere needs search \"full\" (\"track\" "
                             "starts from the previous frame's estimate, in frame order)")
        if self.max_targets is None:
            return False, self.num_targets, float("nan"), self.false_alarm_rate, None
        noise = float("nan") if self.estimate_noise else float(self.scenario.noise_power)
        return True, self.max_targets, noise, self.false_alarm_rate, self.null_model(inputs)

    def estimate_from_search(self, inputs, crb_m2, positions_m, residual, converged, found=None):
        """The Estimate of a frame searched elsewhere: positions (K, 2) of Localizer.localize (found None), or
        the core.detection.Detection ``found`` of detect_targets (its CRB assigned as _detect does)."""
        if found is not None:
            estimate = self._detect_estimate(inputs, crb_m2, found)
            return dataclasses.replace(estimate, converged=bool(converged))
        self.full_searches += 1
        return Estimate(inputs.frame, inputs.precoder_version, np.asarray(positions_m, dtype=float),
                        np.asarray(crb_m2, float), float(residual), inputs.rx_nodes, True, bool(converged),
                        START_SET_ID if inputs.precoder_id is None else int(inputs.precoder_id))

    def localise(self, inputs, crb_m2):
        """The Estimate from prepared inputs (ML of eq. 9, full or tracking search; detection with an
        unknown K)."""
        if self.max_targets is not None:
            return self._detect(inputs, crb_m2)
        loc = self.localizer
        result, full = None, False
        if self.search == "track" and self._previous is not None:
            try:
                result = self._tracker.refine(inputs.snapshots, inputs.frames, self._previous, inputs.rx_nodes,
                                              inputs.tx_nodes)
            except ValueError:  # e.g. the previous estimate on a node: start afresh
                result = None
        if result is not None:
            s = self.scenario
            limit = noise_residual_threshold(s.noise_power, len(inputs.rx_nodes),
                                             s.rx_antennas * s.subcarriers * s.symbols_per_frame,
                                             len(inputs.tx_nodes) * self.num_targets + self._known_per_node(inputs),
                                             self.residual_sigmas)
            if not (np.isfinite(result.residual) and result.residual <= limit):
                result = None
        if result is None:
            self._previous = None
            result = loc.localize(inputs.snapshots, inputs.frames, self.num_targets, inputs.rx_nodes,
                                  inputs.tx_nodes)
            full = True
            self.full_searches += 1
        positions = np.asarray(result.positions_m, dtype=float)
        if self.search == "track":
            self._previous = positions if np.all(np.isfinite(positions)) else None
        return Estimate(inputs.frame, inputs.precoder_version, positions, np.asarray(crb_m2, float),
                        float(result.residual), inputs.rx_nodes, full, bool(result.converged),
                        START_SET_ID if inputs.precoder_id is None else int(inputs.precoder_id))

    def _known_per_node(self, inputs):
        """Unknown amplitudes per rx node of the localiser's known paths (direct paths, reflector)."""
        rx, tx = set(inputs.rx_nodes), set(inputs.tx_nodes)
        paths = [p for p in getattr(self.localizer, "paths", ()) if p.rx in rx and p.tx in tx]
        fitted = len(tx) if self.suppressor is not None else 0  # the suppressor's link amplitudes per rx node
        return len(paths) / max(len(rx), 1) + fitted

    def estimate(self, frame_set, table):
        """The Estimate of one released frame; UnknownPrecoderVersion or ValueError if it cannot be made."""
        return self.localise(*self.prepare(frame_set, table))


# ---- the central unit's state file (frames accounted for across a restart, issue 11 item 5) ---------

STATE_FORMAT = 1
# the accounting a restarted unit carries on: frames localised, skipped (per cause) and lost before it
STATE_COUNTERS = ("frames_localised", "skipped_busy", "unknown_precoders", "localisation_errors", "lost")
# counters added since STATE_FORMAT 1 was fixed: written always, read as 0 from a file written before them
# (worker_lost: frames no localisation worker answered, issue 16; without it a restart dropped them from the sums)
LATER_STATE_COUNTERS = ("worker_lost",)


def save_state(path, scenario_name, done_upto, counters, precoder_sets=()):
    """Write the state atomically (a temporary file renamed over ``path``): the highest frame up to
    which every frame is finished (localised, skipped or lost), the accounting counters, and the
    precoder sets learned (PrecoderTable.known_sets: a restarted unit localises the frames in flight
    made with them instead of skipping them; each is checked against its identity when read)."""
    import json
    import os

    state = {"format": STATE_FORMAT, "scenario": str(scenario_name), "done_upto": int(done_upto)}
    state.update({key: int(counters.get(key, 0)) for key in STATE_COUNTERS + LATER_STATE_COUNTERS})
    state["precoder_sets"] = [
        {"precoder_id": int(identity), "version": int(version),
         "wc": [np.real(wc).ravel().tolist(), np.imag(wc).ravel().tolist(), list(np.shape(wc))],
         "wr": [np.real(wr).ravel().tolist(), np.imag(wr).ravel().tolist(), list(np.shape(wr))]}
        for identity, version, wc, wr in precoder_sets]
    temporary = f"{path}.tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(state))
    os.replace(temporary, path)


def load_state(path, scenario_name):
    """The state of save_state, checked (ValueError naming the file and field), or None if there is no file."""
    import json
    import os

    if not os.path.exists(path):
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read(1 << 16)
        state = json.loads(text)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"state file {path!r}: cannot be read ({exc}); delete it to start afresh") from None
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise ValueError(f"state file {path!r}: not a central unit state of format {STATE_FORMAT}")
    if state.get("scenario") != scenario_name:
        raise ValueError(f"state file {path!r}: written for scenario {state.get('scenario')!r}, this unit runs "
                         f"{scenario_name!r}; delete it to start afresh")
    for key in LATER_STATE_COUNTERS:
        state.setdefault(key, 0)
    for key in ("done_upto",) + STATE_COUNTERS + LATER_STATE_COUNTERS:
        value = state.get(key)
        low = -1 if key == "done_upto" else 0
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= (1 << 63) - 1:
            raise ValueError(f"state file {path!r}: {key} = {value!r}: expected a whole number ≥ {low}")
    sets = []
    for index, entry in enumerate(state.get("precoder_sets", [])):
        try:
            arrays = []
            for name in ("wc", "wr"):
                real, imag, shape = entry[name]
                values = np.empty(len(real), complex)  # parts set one by one: r + 1j·i would turn −0 into +0
                values.real, values.imag = np.asarray(real, float), np.asarray(imag, float)
                arrays.append(values.reshape([int(n) for n in shape]))
            sets.append((check_precoder_id(entry["precoder_id"]), int(entry["version"]), arrays[0], arrays[1]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"state file {path!r}: precoder set #{index}: {exc}") from None
    state["precoder_sets"] = sets
    return state
