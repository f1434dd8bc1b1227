# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""core.map_geometry: per-target CRB covariances agree with the per-target CRB of core.fim/core.fusion;
n-σ ellipses lie on the n-σ contour and hold 1 − exp(−n²/2) of Gaussian draws; estimates are assigned to
the true targets as the best permutation does; RMSE equals numpy's over the assigned errors; track
histories stay bounded."""

import itertools
import math

import numpy as np
import pytest

from gnuradio.disac.core import fim, fusion, map_geometry, ofdm, scenario


@pytest.fixture(scope="module")
def paper():
    return scenario.load_scenario("paper")


def default_covariances(s):
    wc, wr = ofdm.default_precoders(ofdm.layout_from_scenario(s), s.per_antenna_power)
    wc = np.broadcast_to(wc, (s.num_nodes,) + wc.shape)
    wr = np.broadcast_to(wr, (s.num_nodes,) + wr.shape)
    return wc, wr


def test_position_covariances_trace_is_the_per_target_crb(paper):
    geometry = fim.SensingGeometry.from_scenario(paper)
    wc, wr = default_covariances(paper)
    cov = map_geometry.position_covariances_m2(geometry, fusion.transmit_covariances(wc, wr))
    assert cov.shape == (paper.num_targets, 2, 2)
    crb = fusion.position_crb_per_target_m2(geometry, wc, wr)
    # the same inverse read two ways: equal to rounding (1e-9 relative is far above double rounding)
    np.testing.assert_allclose(np.trace(cov, axis1=1, axis2=2), crb, rtol=1e-9)
    np.testing.assert_allclose(cov, np.swapaxes(cov, 1, 2), rtol=1e-9, atol=0)
    assert np.all(np.linalg.eigvalsh(cov) > 0)


def test_position_covariances_of_a_singular_fim_are_nan(paper):
    geometry = fim.SensingGeometry.from_scenario(paper)
    zero = np.zeros((paper.num_nodes, paper.tx_antennas, paper.tx_antennas), complex)  # no power: no information
    cov = map_geometry.position_covariances_m2(geometry, zero)
    assert cov.shape == (paper.num_targets, 2, 2) and np.all(np.isnan(cov))


def rotated(major_m, minor_m, angle_rad):
    v = np.array([[math.cos(angle_rad), -math.sin(angle_rad)], [math.sin(angle_rad), math.cos(angle_rad)]])
    return v @ np.diag([major_m ** 2, minor_m ** 2]) @ v.T


def test_ellipse_axes_of_a_rotated_covariance():
    major, minor, angle = map_geometry.ellipse_axes(rotated(3.0, 0.5, 0.4), n_sigma=2.0)
    assert major == pytest.approx(6.0, rel=1e-12) and minor == pytest.approx(1.0, rel=1e-12)
    # the major axis is a direction: angle and angle ± π are the same axis
    assert math.remainder(angle - 0.4, math.pi) == pytest.approx(0.0, abs=1e-12)


def test_ellipse_points_lie_on_the_n_sigma_contour():
    cov = rotated(2.0, 0.3, -1.1)
    centre = np.array([10.0, -4.0])
    points = map_geometry.ellipse_points_m(centre, cov, n_sigma=3.0, num_points=50)
    assert points.shape == (51, 2)
    np.testing.assert_array_equal(points[0], points[-1])  # closed
    d = points - centre
    mahalanobis2 = np.einsum("ti,ij,tj->t", d, np.linalg.inv(cov), d)
    np.testing.assert_allclose(mahalanobis2, 9.0, rtol=1e-10)


def test_n_sigma_ellipse_holds_its_share_of_gaussian_draws():
    rng = np.random.default_rng(7)
    cov = rotated(1.5, 0.2, 0.7)
    draws = rng.multivariate_normal([0.0, 0.0], cov, size=40_000)
    inside = np.einsum("ti,ij,tj->t", draws, np.linalg.inv(cov), draws) <= 2.0 ** 2
    p = map_geometry.containment_probability(2.0)
    assert p == pytest.approx(1 - math.exp(-2.0), rel=1e-12)
    # binomial std √(p(1−p)/N) ≈ 0.0017: 0.01 is ~6 std, so this fails only if the formula is wrong
    assert abs(inside.mean() - p) < 0.01


@pytest.mark.parametrize("bad", [[[1.0, 0.0], [0.0, np.nan]], [[1.0, 0.5], [0.0, 1.0]], [[1.0, 0.0], [0.0, -1.0]],
                                 [1.0, 2.0, 3.0]])
def test_bad_covariances_are_refused_naming_the_value(bad):
    with pytest.raises(ValueError, match="covariance"):
        map_geometry.ellipse_points_m([0, 0], bad)


def test_assignment_is_the_best_permutation():
    rng = np.random.default_rng(3)
    for _ in range(50):
        truth = rng.uniform(-50, 50, (4, 2))
        est = truth[rng.permutation(4)] + rng.normal(0, 20, (4, 2))
        assigned = map_geometry.assign_to_truth(est, truth)
        best = min(itertools.permutations(range(4)), key=lambda p: float(np.sum((est - truth[list(p)]) ** 2)))
        np.testing.assert_array_equal(assigned, best)


def test_assignment_with_more_estimates_than_targets_and_a_nan():
    truth = np.array([[0.0, 0.0], [10.0, 0.0]])
    est = np.array([[10.2, 0.1], [np.nan, 1.0], [50.0, 50.0], [0.1, -0.1]])
    np.testing.assert_array_equal(map_geometry.assign_to_truth(est, truth), [1, -1, -1, 0])


def test_rmse_against_numpy():
    rng = np.random.default_rng(11)
    truth = np.array([[0.0, 0.0], [30.0, 5.0], [-20.0, 40.0]])
    acc = map_geometry.RmseAccumulator(truth)
    frames = []
    for _ in range(200):
        errors = rng.normal(0, [[0.1], [0.5], [2.0]], (3, 2))
        frames.append(errors)
        acc.add((truth + errors)[::-1])  # reversed order: the assignment must undo it
    errors = np.array(frames)  # (F, K, 2), truth order
    expected = np.sqrt(np.mean(np.sum(errors ** 2, axis=2), axis=0))
    np.testing.assert_allclose(acc.rmse_m, expected, rtol=1e-12)
    assert acc.frames == 200 and list(acc.counts) == [200, 200, 200]


def test_rmse_is_nan_before_any_estimate():
    acc = map_geometry.RmseAccumulator([[0.0, 0.0]])
    assert np.isnan(acc.rmse_m[0])


def test_track_history_is_bounded_and_forgets_the_stalest_track():
    tracks = map_geometry.TrackHistory(length=3, max_tracks=2)
    for f in range(5):
        tracks.add(f, [0, 1], [[f, 0.0], [0.0, f]])
    np.testing.assert_array_equal(tracks.points_m(0), [[2, 0], [3, 0], [4, 0]])
    np.testing.assert_array_equal(tracks.frames(1), [2, 3, 4])
    tracks.add(5, [1], [[0.0, 5.0]])
    tracks.add(6, [7], [[1.0, 1.0]])  # a third track: track 0 (updated longest ago) goes
    assert tracks.track_ids == [1, 7]
    with pytest.raises(ValueError, match="track ids"):
        tracks.add(7, [1, 2], [[0.0, 0.0]])
    with pytest.raises(ValueError, match="length"):
        map_geometry.TrackHistory(length=0)


def test_association_keeps_each_track_on_its_target_when_the_order_swaps():
    rng = np.random.default_rng(4)
    truth = np.array([[-65.0, 25.0], [50.0, 5.0], [0.0, -80.0]])
    tracks = map_geometry.TrackHistory(length=100)
    for f in range(40):
        est = truth + rng.normal(0, 0.5, truth.shape)
        order = rng.permutation(3)  # the localiser's order changes from frame to frame
        ids = tracks.associate(f, est[order])
        assert sorted(ids) == [0, 1, 2]
    for t in tracks.track_ids:  # every point of a track near one target (0.5 m noise, targets ≥ 80 m apart)
        pts = tracks.points_m(t)
        k = np.argmin(np.linalg.norm(truth - pts[0], axis=1))
        assert np.all(np.linalg.norm(pts - truth[k], axis=1) < 5.0)
    # a fourth estimate starts a new track; a missing one leaves its track (not updated) alone
    ids = tracks.associate(40, np.vstack([truth, [[100.0, 100.0]]]))
    assert sorted(ids) == [0, 1, 2, 3]
    ids = tracks.associate(41, truth[:1])
    assert len(ids) == 1 and ids[0] in (0, 1, 2)
