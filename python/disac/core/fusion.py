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
    one node for a pending frame is a *duplicate* (counted, the first kept); a frame more than
    max_frames_ahead beyond the watermark is *implausible* (counted, dropped: one corrupt frame number
    would otherwise move the watermark past every good frame). Nothing here blocks or waits: the
    caller passes the time (``now_s``) and polls for timeouts.

Transmitted frames (PrecoderTable, localiser_inputs)
    The central unit regenerates node m's frame from (seed, m, frame number, W_c,m, W_r,m) with
    core.ofdm.transmitted_frames, as the transmitter made it (eq. 1). The precoders come from a table
    version -> per-node (W_c, W_r); the version of a frame is the one its snapshots name (node_rx copies
    it from its own transmitter's frame tag). A transmitter that did not report in this frame is assumed
    to have used the version most reporting nodes name (nodes switch precoder sets together) and to have
    transmitted: every node's echoes are modelled (docs/localization.md: an unmodelled echo misleads
    the search far more than a modelled one of a silent node costs). A frame whose version is not in
    the table cannot be modelled: UnknownPrecoderVersion, which the caller counts as a skipped frame.
"""

import collections
import copy
import dataclasses
from collections import Counter

import numpy as np

from . import fim, ofdm

RELEASE_REASONS = ("complete", "newer", "timeout", "overflow", "flush")


class SnapshotRejected(ValueError):
    """A snapshot that cannot be fused (bad node id, shape or values); the message names the value."""


class UnknownPrecoderVersion(KeyError):
    """A frame names a precoder version the table does not (fully) hold."""


@dataclasses.dataclass
class FrameSet:
    """The snapshots of one frame number, as released: node → Y (Mr, L, P) and node → precoder version."""

    frame: int
    snapshots: dict
    versions: dict
    first_arrival_s: float
    reason: str = ""

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

    num_nodes: N (node ids 0 … N−1); timeout_s > 0; max_pending_frames ≥ 1; max_frames_ahead ≥ 1.
    """

    def __init__(self, num_nodes, timeout_s, max_pending_frames=64, max_frames_ahead=100_000):
        _check_whole("num_nodes", num_nodes, 1)
        _check_whole("max_pending_frames", max_pending_frames, 1)
        _check_whole("max_frames_ahead", max_frames_ahead, 1)
        if isinstance(timeout_s, bool) or not isinstance(timeout_s, (int, float)) or not 0 < timeout_s < float("inf"):
            raise ValueError(f"timeout_s = {timeout_s!r}: accepted: a finite number of seconds > 0")
        self.num_nodes = int(num_nodes)
        self.timeout_s = float(timeout_s)
        self.max_pending_frames = int(max_pending_frames)
        self.max_frames_ahead = int(max_frames_ahead)
        self.counters = AlignerCounters()
        self.watermark = -1  # highest frame number released
        self.latest = [-1] * self.num_nodes  # highest frame number each node has sent
        self._pending = {}  # frame -> FrameSet (insertion order is arrival order, not frame order)

    @property
    def pending_frames(self):
        return sorted(self._pending)

    def add(self, node_id, frame, precoder_version, snapshot, now_s):
        """Offer one snapshot; returns the frames this releases (a list of FrameSet, frame order)."""
        if not 0 <= node_id < self.num_nodes:
            raise SnapshotRejected(f"node id {node_id!r}: accepted: 0 … {self.num_nodes - 1}")
        if frame <= self.watermark:
            self.counters.late += 1
            return []
        if self.watermark >= 0 and frame > self.watermark + self.max_frames_ahead:
            self.counters.implausible += 1
            return []
        pending = self._pending.get(frame)
        if pending is None:
            pending = self._pending[frame] = FrameSet(int(frame), {}, {}, float(now_s))
        elif node_id in pending.snapshots:
            self.counters.duplicates += 1
            return []
        pending.snapshots[node_id] = snapshot
        pending.versions[node_id] = int(precoder_version)
        self.counters.snapshots_accepted += 1
        self.latest[node_id] = max(self.latest[node_id], int(frame))
        return self._release_ready(now_s)

    def poll(self, now_s):
        """Release the frames whose timeout has passed (and every older pending frame)."""
        return self._release_ready(now_s)

    def flush(self):
        """Release every pending frame (end of a run)."""
        return self._release_upto(max(self._pending), "flush") if self._pending else []

    def _release_ready(self, now_s):
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
            elif now_s - pending.first_arrival_s >= self.timeout_s:
                released += self._release_upto(frame, "timeout")
        while len(self._pending) > self.max_pending_frames:
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
            out.append(frame_set)
        self.watermark = max(self.watermark, frame)
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
    """Precoder versions known to the central unit: version → per-node (W_c (Mt × U), W_r (Mt × Mt)).

    A version is usable once every node's pair is known. At most max_versions versions are kept (the
    oldest set is forgotten first); re-setting a version's node replaces it.
    """

    def __init__(self, layout, max_versions=16):
        _check_whole("max_versions", max_versions, 1)
        self.layout = layout
        self.max_versions = int(max_versions)
        self._table = collections.OrderedDict()  # version -> {node: (wc, wr)}

    @property
    def versions(self):
        """The complete (usable) versions, ascending."""
        return sorted(v for v, nodes in self._table.items() if len(nodes) == self.layout.num_nodes)

    def set_node(self, version, node, wc, wr):
        """Record node's (W_c, W_r) of a version; ValueError naming a bad version, node or shape."""
        _check_whole("precoder version", version, 0)
        if isinstance(node, bool) or not isinstance(node, (int, np.integer)) or not 0 <= node < self.layout.num_nodes:
            raise ValueError(f"precoder node {node!r}: accepted: 0 … {self.layout.num_nodes - 1}")
        wc, wr = ofdm.check_precoders(self.layout, wc, wr)
        entry = self._table.setdefault(int(version), {})
        entry[int(node)] = (wc, wr)
        self._table.move_to_end(int(version))
        while len(self._table) > self.max_versions:
            self._table.popitem(last=False)

    def set_all(self, version, wc, wr):
        """Record every node's precoders of a version: wc (N, Mt, U), wr (N, Mt, Mt)."""
        wc, wr = np.asarray(wc), np.asarray(wr)
        n = self.layout.num_nodes
        if wc.ndim != 3 or wr.ndim != 3 or len(wc) != n or len(wr) != n:
            raise ValueError(f"precoders of shapes {wc.shape} and {wr.shape}: accepted: (N, Mt, U) and "
                             f"(N, Mt, Mt) with N = {n}")
        checked = [ofdm.check_precoders(self.layout, wc[m], wr[m]) for m in range(n)]  # all or nothing
        for m, (wc_m, wr_m) in enumerate(checked):
            self.set_node(version, m, wc_m, wr_m)

    def get(self, version):
        """(W_c (N, Mt, U), W_r (N, Mt, Mt)) of a complete version; UnknownPrecoderVersion otherwise."""
        entry = self._table.get(version)
        if entry is None or len(entry) != self.layout.num_nodes:
            raise UnknownPrecoderVersion(f"precoder version {version!r} is not known for every node; "
                                         f"known versions: {self.versions}")
        nodes = range(self.layout.num_nodes)
        return np.stack([entry[m][0] for m in nodes]), np.stack([entry[m][1] for m in nodes])


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


def frame_version(frame_set):
    """The precoder version most contributing nodes name (ties: the highest)."""
    counts = Counter(frame_set.versions.values())
    return max(counts, key=lambda v: (counts[v], v))


def localiser_inputs(frame_set, table, seed):
    """Snapshots of the contributing nodes and every node's regenerated X_m (eq. 1) for one frame.

    Node m's frame uses the version m named when it reported, else the frame's majority version.
    Raises UnknownPrecoderVersion when a needed version is not in the table.
    """
    if not frame_set.snapshots:
        raise ValueError(f"frame {frame_set.frame}: no snapshot to localise from")
    layout = table.layout
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
    """

    def __init__(self, scenario, seed, localizer, num_targets=None, search="full", residual_sigmas=5.0,
                 track_iterations=3):
        if search not in SEARCH_MODES:
            raise ValueError(f"search = {search!r}: accepted: {', '.join(SEARCH_MODES)}")
        self.scenario = scenario
        self.seed = int(seed)
        self.localizer = localizer
        self.num_targets = scenario.num_targets if num_targets is None else int(num_targets)
        _check_whole("num_targets", self.num_targets, 1)
        self.search = search
        self.residual_sigmas = float(residual_sigmas)
        _check_whole("track_iterations", track_iterations, 1)
        # the tracker: the same localiser (grid arrays shared) with fewer LM iterations
        self._tracker = copy.copy(localizer)
        self._tracker.max_iterations = int(track_iterations)
        self._geometry = fim.SensingGeometry.from_scenario(scenario)
        self._fim_map = None
        self._crb = {}  # precoder version -> per-target CRB
        self._previous = None
        self.full_searches = 0

    def crb_m2(self, table, version):
        """Per-target position CRB (K,) of a precoder version (cached)."""
        if version not in self._crb:
            if self._fim_map is None:
                self._fim_map = fim.FimMap(self._geometry)
            wc, wr = table.get(version)
            if self.num_targets == self.scenario.num_targets:
                crb = position_crb_per_target_m2(self._geometry, wc, wr, self._fim_map)
            else:  # the scenario's targets are not the ones sought: no prior to evaluate a bound at
                crb = np.full(self.num_targets, np.nan)
            if len(self._crb) >= table.max_versions:
                self._crb.pop(next(iter(self._crb)))
            self._crb[version] = crb
        return self._crb[version]

    def prepare(self, frame_set, table):
        """(LocaliserInputs, per-target CRB) of one frame: the part that reads the precoder table (a
        caller that updates the table from another thread holds its lock around this call only)."""
        inputs = localiser_inputs(frame_set, table, self.seed)
        return inputs, self.crb_m2(table, inputs.precoder_version)

    def localise(self, inputs, crb_m2):
        """The Estimate from prepared inputs (ML of eq. 9, full or tracking search)."""
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
                                             len(inputs.tx_nodes) * self.num_targets, self.residual_sigmas)
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
                        float(result.residual), inputs.rx_nodes, full, bool(result.converged))

    def estimate(self, frame_set, table):
        """The Estimate of one released frame; UnknownPrecoderVersion or ValueError if it cannot be made."""
        return self.localise(*self.prepare(frame_set, table))
