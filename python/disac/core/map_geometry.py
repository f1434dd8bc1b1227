# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""What a live map of the localisation draws and reads out, as plain numpy: per-target CRB ellipses, the
assignment of a frame's estimates to the true targets, running RMSE, and bounded per-track histories.

* Position covariance bound of target k: the 2×2 block [F(Θ)^{-1}] of (x_k, y_k) (paper eq. 11–12, the
  expected FIM of core.fim); its trace is the per-target position CRB (fim.position_crb_from_fim_theta).
* n-σ ellipse of a 2×2 covariance C = V diag(λ) Vᵀ: centre + V diag(n√λ) (cos t, sin t). For a 2-D
  Gaussian it holds a fraction 1 − exp(−n²/2) of the draws (1σ: 39.3 %, 2σ: 86.5 %, 3σ: 98.9 %).
* RMSE of target k over F frames: √(Σ_f ‖q̂_f − q_k‖² / F) in m, each frame's estimates assigned to the
  true targets by the assignment of least total squared error (the ML estimator returns targets in no
  particular order); comparable with √CRB_k.

Nothing here imports GNU Radio or reads a scenario's impairments; the true positions are the
researcher's reference (what a map shows as truth), never an input of the receive side.
"""

import collections
import math

import numpy as np
from scipy.optimize import linear_sum_assignment

from . import fim


def position_covariances_m2(geometry, covariances, fim_map=None):
    """Per-target 2×2 bounds of (x_k, y_k) in m², (K, 2, 2), from F(Θ)^{-1} (eq. 11–12) of the expected
    FIM for per-node transmit covariances R (N, Mt, Mt); NaN everywhere when F(Θ) is singular (the same
    rule as fim.crb_report). ``fim_map`` (fim.FimMap of ``geometry``) is reused when given."""
    fim_map = fim_map or fim.FimMap(geometry)
    K = geometry.num_targets
    inverse = fim._inverse_or_none(fim_map.fim_theta(covariances))  # the singularity rule of every bound
    if inverse is None:
        return np.full((K, 2, 2), np.nan)
    k = np.arange(K)
    rows = np.stack([k, K + k], axis=1)  # (K, 2): indices of x_k and y_k in Θ
    return inverse[rows[:, :, None], rows[:, None, :]]


def ellipse_axes(covariance_m2, n_sigma=1.0):
    """(semi-major m, semi-minor m, angle of the major axis from +x in rad) of the n-σ ellipse of a 2×2
    covariance; ValueError for a non-finite, non-symmetric or not positive semi-definite matrix."""
    c = _checked_covariance(covariance_m2)
    values, vectors = np.linalg.eigh(c)
    values = np.clip(values, 0.0, None)  # −1e-20-sized eigenvalues of a PSD matrix after rounding
    major = vectors[:, 1]
    return (float(n_sigma * math.sqrt(values[1])), float(n_sigma * math.sqrt(values[0])),
            float(math.atan2(major[1], major[0])))


def ellipse_points_m(centre_m, covariance_m2, n_sigma=1.0, num_points=64):
    """(num_points + 1, 2) points of the closed n-σ ellipse of a 2×2 covariance around ``centre_m``
    (the first point repeated at the end, so a line plot closes it)."""
    if not (isinstance(num_points, (int, np.integer)) and num_points >= 4):
        raise ValueError(f"num_points = {num_points!r}: accepted: a whole number ≥ 4")
    if not (np.isfinite(n_sigma) and n_sigma > 0):
        raise ValueError(f"n_sigma = {n_sigma!r}: accepted: a number > 0")
    c = _checked_covariance(covariance_m2)
    values, vectors = np.linalg.eigh(c)
    t = np.linspace(0.0, 2.0 * np.pi, int(num_points) + 1)
    unit = np.stack([np.cos(t), np.sin(t)])  # (2, T)
    points = vectors @ (n_sigma * np.sqrt(np.clip(values, 0.0, None))[:, None] * unit)
    points = np.asarray(centre_m, float).reshape(2) + points.T
    points[-1] = points[0]  # exactly closed (cos 2π, sin 2π are 1 and ~2e-16)
    return points


def containment_probability(n_sigma):
    """Share of a 2-D Gaussian inside its n-σ ellipse: 1 − exp(−n²/2)."""
    return 1.0 - math.exp(-0.5 * float(n_sigma) ** 2)


def _checked_covariance(covariance_m2):
    c = np.asarray(covariance_m2, dtype=float)
    if c.shape != (2, 2) or not np.all(np.isfinite(c)):
        raise ValueError(f"covariance {c.tolist()!r}: accepted: a finite 2×2 matrix")
    scale = max(float(np.max(np.abs(c))), np.finfo(float).tiny)
    if abs(c[0, 1] - c[1, 0]) > 1e-9 * scale:
        raise ValueError(f"covariance {c.tolist()!r} is not symmetric")
    c = 0.5 * (c + c.T)
    if np.linalg.eigvalsh(c)[0] < -1e-9 * scale:
        raise ValueError(f"covariance {c.tolist()!r} is not positive semi-definite")
    return c


def assign_min_squared_distance(points_m, references_m):
    """Index of the reference each point is assigned to, (len(points),) ints (−1: none left, or a non-finite
    point): the one-to-one assignment of least total squared distance (Hungarian method; with as many
    points as references it is the best permutation)."""
    pts = np.asarray(points_m, float).reshape(-1, 2)
    refs = np.asarray(references_m, float).reshape(-1, 2)
    out = np.full(len(pts), -1, dtype=int)
    finite = np.flatnonzero(np.all(np.isfinite(pts), axis=1))
    if len(finite) == 0 or len(refs) == 0:
        return out
    cost = np.sum((pts[finite, None, :] - refs[None, :, :]) ** 2, axis=2)
    rows, cols = linear_sum_assignment(cost)
    out[finite[rows]] = cols
    return out


def assign_to_truth(estimates_m, truth_m):
    """Index of the true target each estimate is assigned to (−1: none left, when K̂ > K): for the RMSE."""
    return assign_min_squared_distance(estimates_m, truth_m)


class RmseAccumulator:
    """Running per-target RMSE (m) against the true positions over the frames added."""

    def __init__(self, truth_m):
        self.truth_m = np.asarray(truth_m, float).reshape(-1, 2)
        K = len(self.truth_m)
        self.squared_error_sum_m2 = np.zeros(K)
        self.counts = np.zeros(K, dtype=int)  # frames with an estimate assigned to target k
        self.frames = 0

    def add(self, estimates_m):
        """One frame's estimates (K̂, 2); returns the truth index of each (assign_to_truth)."""
        est = np.asarray(estimates_m, float).reshape(-1, 2)
        assigned = assign_to_truth(est, self.truth_m)
        for i, k in enumerate(assigned):
            if k >= 0:
                self.squared_error_sum_m2[k] += float(np.sum((est[i] - self.truth_m[k]) ** 2))
                self.counts[k] += 1
        self.frames += 1
        return assigned

    @property
    def rmse_m(self):
        """(K,) RMSE in m; NaN for a target no estimate was assigned to yet."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.counts > 0, np.sqrt(self.squared_error_sum_m2 / np.maximum(self.counts, 1)),
                            np.nan)


class TrackHistory:
    """The last ``length`` estimates of each track (frame, x, y), tracks by id in first-seen order; at most
    ``max_tracks`` tracks (the one updated longest ago is forgotten first).

    Ids come with the estimates (``add``), or ``associate`` makes them: the localiser returns a frame's
    targets in no fixed order, so each estimate joins the track whose last position (of the tracks
    updated in the previous frame) it is assigned to by least total squared distance; an estimate left
    over starts a new track. Only estimates are used, never the truth.
    """

    def __init__(self, length=50, max_tracks=64):
        for name, value in (("length", length), ("max_tracks", max_tracks)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} = {value!r}: accepted: a whole number ≥ 1")
        self.length = int(length)
        self.max_tracks = int(max_tracks)
        self._tracks = collections.OrderedDict()  # id -> deque of (frame, x, y)
        self._last_update = {}  # id -> sequence number of its last update
        self._sequence = 0
        self._next_id = 0  # associate's next new track id

    def add(self, frame, track_ids, positions_m):
        """One frame: the position of each track id (len(track_ids) rows of (x, y))."""
        positions = np.asarray(positions_m, float).reshape(-1, 2)
        if len(track_ids) != len(positions):
            raise ValueError(f"{len(track_ids)} track ids for {len(positions)} positions")
        self._sequence += 1
        for track, (x, y) in zip(track_ids, positions):
            track = int(track)
            self._next_id = max(self._next_id, track + 1)
            if track not in self._tracks:
                if len(self._tracks) >= self.max_tracks:
                    oldest = min(self._last_update, key=self._last_update.get)
                    del self._tracks[oldest], self._last_update[oldest]
                self._tracks[track] = collections.deque(maxlen=self.length)
            self._tracks[track].append((int(frame), float(x), float(y)))
            self._last_update[track] = self._sequence

    def associate(self, frame, positions_m):
        """Track ids for one frame's positions (nearest-neighbour association, see the class), added."""
        positions = np.asarray(positions_m, float).reshape(-1, 2)
        alive = [t for t in self._tracks if self._last_update[t] == self._sequence]  # updated last frame
        last = np.array([self._tracks[t][-1][1:] for t in alive], float).reshape(-1, 2)
        assigned = assign_min_squared_distance(positions, last)
        ids = []
        for a in assigned:
            if a >= 0:
                ids.append(alive[a])
            else:
                ids.append(self._next_id)
                self._next_id += 1
        self.add(frame, ids, positions)
        return ids

    @property
    def track_ids(self):
        return list(self._tracks)

    def points_m(self, track):
        """(n, 2) positions of a track, oldest first."""
        rows = self._tracks.get(track, ())
        return np.array([(x, y) for _, x, y in rows], float).reshape(-1, 2)

    def frames(self, track):
        return np.array([f for f, _, _ in self._tracks.get(track, ())], dtype=np.int64)
