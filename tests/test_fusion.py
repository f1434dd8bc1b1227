# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""core.fusion: frame alignment (complete, newer, timeout, overflow, flush, late, duplicate, implausible),
the precoder version table, regenerated frames, and the estimator on PHY-exact synthetic snapshots.

Times are passed explicitly (now_s), so nothing here sleeps or depends on the wall clock.
"""

import numpy as np
import pytest

from gnuradio.disac.core import channels, fusion, localizer, model, ofdm, scenario

SHAPE = (2, 4, 1)  # a small (Mr, L, P) for the aligner tests: it never looks inside


def snap(value=0.0):
    return np.full(SHAPE, value, dtype=np.complex64)


def released(frame_sets):
    return [(fs.frame, fs.nodes, fs.reason) for fs in frame_sets]


# ---- alignment ------------------------------------------------------------------------------------

def test_complete_frames_are_released_at_once_in_order():
    al = fusion.FrameAligner(3, timeout_s=1.0)
    assert al.add(0, 5, 0, snap(), 0.0) == []
    assert al.add(2, 5, 0, snap(), 0.0) == []
    assert released(al.add(1, 5, 0, snap(), 0.1)) == [(5, (0, 1, 2), "complete")]
    assert al.watermark == 5 and al.counters.frames_partial == 0


def test_timeout_releases_with_the_nodes_present_and_not_before():
    al = fusion.FrameAligner(2, timeout_s=0.5)
    al.add(0, 7, 0, snap(), 10.0)
    assert al.poll(10.49) == []  # 0.49 s < timeout
    out = al.poll(10.5)
    assert released(out) == [(7, (0,), "timeout")]
    assert al.counters.released_timeout == 1 and al.counters.frames_partial == 1


def test_missing_node_frame_released_when_every_node_sent_a_newer_one():
    al = fusion.FrameAligner(2, timeout_s=100.0)
    al.add(0, 1, 0, snap(), 0.0)  # node 1's frame 1 is lost
    al.add(0, 2, 0, snap(), 0.0)
    out = al.add(1, 2, 0, snap(), 0.0)  # node 1 is at frame 2: frame 1 will not complete
    assert released(out) == [(1, (0,), "newer"), (2, (0, 1), "complete")]


def test_late_repeated_and_out_of_order_snapshots_never_block():
    al = fusion.FrameAligner(2, timeout_s=1.0)
    al.add(0, 3, 0, snap(1), 0.0)
    assert al.add(0, 3, 0, snap(2), 0.0) == []  # repeated: the first is kept
    assert al.counters.duplicates == 1
    al.add(1, 4, 0, snap(), 0.0)  # node 1 skips ahead (out of order)
    al.add(0, 4, 0, snap(), 0.0)  # frame 4 complete: releases 3 (older) first
    assert al.watermark == 4 and al.pending_frames == []
    assert al.add(1, 3, 0, snap(), 0.1) == []  # node 1's frame 3 arrives after its release
    assert al.counters.late == 1


def test_older_pending_frames_go_first_when_a_newer_one_completes():
    al = fusion.FrameAligner(2, timeout_s=1.0)
    al.add(0, 10, 0, snap(), 0.0)
    al.add(0, 11, 0, snap(), 0.0)
    out = al.add(1, 11, 0, snap(), 0.0)
    assert released(out) == [(10, (0,), "newer"), (11, (0, 1), "complete")]


def test_overflow_bounds_the_pending_frames():
    al = fusion.FrameAligner(2, timeout_s=100.0, max_pending_frames=3)
    out = []
    for f in range(5):
        out += al.add(0, f, 0, snap(), 0.0)
    assert [fs.frame for fs in out] == [0, 1] and al.pending_frames == [2, 3, 4]
    assert al.counters.released_overflow == 2


def test_implausible_frame_number_cannot_move_the_watermark():
    al = fusion.FrameAligner(1, timeout_s=1.0, max_frames_ahead=1000)
    al.add(0, 0, 0, snap(), 0.0)
    assert al.add(0, 2**60, 0, snap(), 0.0) == []
    assert al.counters.implausible == 1
    assert released(al.add(0, 1, 0, snap(), 0.0)) == [(1, (0,), "complete")]


def test_flush_and_counter_accounting():
    al = fusion.FrameAligner(2, timeout_s=1.0)
    for f in (1, 2, 3):
        al.add(0, f, 0, snap(), 0.0)
    al.add(1, 2, 0, snap(), 0.0)  # 1 (newer) and 2 (complete) go
    out = al.flush()
    assert released(out) == [(3, (0,), "flush")]
    c = al.counters
    assert c.frames_released == 3 == (c.released_complete + c.released_newer + c.released_timeout
                                      + c.released_overflow + c.released_flush)
    assert c.snapshots_accepted == 4


@pytest.mark.parametrize("node", [-1, 2, 7])
def test_bad_node_id_is_rejected_with_its_value(node):
    al = fusion.FrameAligner(2, timeout_s=1.0)
    with pytest.raises(fusion.SnapshotRejected, match=f"node id {node}"):
        al.add(node, 0, 0, snap(), 0.0)


def test_aligner_parameters_are_checked():
    with pytest.raises(ValueError, match="timeout_s = 0"):
        fusion.FrameAligner(2, timeout_s=0)
    with pytest.raises(ValueError, match="num_nodes = 0"):
        fusion.FrameAligner(0, timeout_s=1.0)


@pytest.mark.parametrize("samples, match", [
    (np.zeros((2, 4, 2), np.complex64), r"shape \(2, 4, 2\)"),
    (np.full(SHAPE, np.nan, np.complex64), "NaN or Inf"),
    (np.zeros(SHAPE, dtype=object), "dtype object"),
])
def test_check_snapshot(samples, match):
    with pytest.raises(fusion.SnapshotRejected, match=match):
        fusion.check_snapshot(samples, *SHAPE)


# ---- precoders and frames -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def paper():
    return scenario.load_scenario("paper")


def random_precoders(scn, rng):
    n, mt, u = scn.num_nodes, scn.tx_antennas, scn.num_users
    wc = rng.standard_normal((n, mt, u)) + 1j * rng.standard_normal((n, mt, u))
    wr = rng.standard_normal((n, mt, mt)) + 1j * rng.standard_normal((n, mt, mt))
    return wc / 4, wr / 4


def test_precoder_table_versions(paper):
    layout = ofdm.layout_from_scenario(paper)
    table = fusion.PrecoderTable(layout, max_versions=2)
    wc, wr = random_precoders(paper, np.random.default_rng(0))
    table.set_node(3, 0, wc[0], wr[0])
    with pytest.raises(fusion.UnknownPrecoderVersion, match="version 3"):
        table.get(3)  # node 1's pair missing
    table.set_node(3, 1, wc[1], wr[1])
    got_wc, got_wr = table.get(3)
    np.testing.assert_array_equal(got_wc, wc)
    np.testing.assert_array_equal(got_wr, wr)
    # sets are keyed by their content's identity (issue 11): identical content is one set, so 4 and 5 differ
    table.set_all(4, wc / 2, wr)
    table.set_all(5, wc / 3, wr)  # the oldest (3) is forgotten
    assert table.versions == [4, 5]
    with pytest.raises(ValueError, match=r"W_c shape \(6, 2\)"):
        table.set_node(6, 0, wc[0][:, :2], wr[0])
    with pytest.raises(ValueError, match="precoder node 2"):
        table.set_node(6, 2, wc[0], wr[0])


def test_localiser_inputs_regenerate_every_transmitted_frame(paper):
    """X_m of the inputs is ofdm.transmitted_frames with the version each node named; a node that did not
    report uses the version of the reporting nodes."""
    layout = ofdm.layout_from_scenario(paper)
    rng = np.random.default_rng(1)
    table = fusion.PrecoderTable(layout)
    (wc0, wr0), (wc1, wr1) = random_precoders(paper, rng), random_precoders(paper, rng)
    table.set_all(0, wc0, wr0)
    table.set_all(1, wc1, wr1)
    y = np.zeros((paper.rx_antennas, paper.subcarriers, 1), complex)
    fs = fusion.FrameSet(9, {1: y}, {1: 1}, 0.0)
    inputs = fusion.localiser_inputs(fs, table, seed=5)
    assert inputs.rx_nodes == (1,) and inputs.tx_nodes == (0, 1) and inputs.precoder_version == 1
    for m in range(2):
        np.testing.assert_array_equal(inputs.frames[m], ofdm.transmitted_frames(layout, 5, [9], m, wc1[m], wr1[m])[0])
    fs = fusion.FrameSet(9, {0: y, 1: y}, {0: 0, 1: 1}, 0.0)  # mid-switch: each node its own version
    inputs = fusion.localiser_inputs(fs, table, seed=5)
    np.testing.assert_array_equal(inputs.frames[0], ofdm.transmitted_frames(layout, 5, [9], 0, wc0[0], wr0[0])[0])
    with pytest.raises(fusion.UnknownPrecoderVersion):
        fusion.localiser_inputs(fusion.FrameSet(9, {0: y}, {0: 7}, 0.0), table, seed=5)


def phy_snapshots(scn, wc, wr, frame, seed, channel_seed, noise_power, rng):
    """Snapshots of eq. (3)/(5) with the PHY's frames and oscillator phases (what node_rx delivers)."""
    layout = ofdm.layout_from_scenario(scn)
    x = np.stack([ofdm.transmitted_frames(layout, seed, [frame], m, wc[m], wr[m])[0] for m in range(scn.num_nodes)])
    amps = channels.linked_amplitudes(scn.target_amplitudes(), channels.node_phases_rad(channel_seed, [frame], scn.num_nodes))[0]
    y = model.sensing_mean(scn.target_angles_rad(), scn.target_delays_s(), amps, x, scn.rx_antennas, scn.bandwidth_hz)
    return y + np.sqrt(noise_power / 2) * (rng.standard_normal(y.shape) + 1j * rng.standard_normal(y.shape))


@pytest.mark.parametrize("search", ["full", "track"])
def test_estimator_is_exact_without_noise_and_names_the_nodes(paper, search):
    rng = np.random.default_rng(2)
    layout = ofdm.layout_from_scenario(paper)
    wc, wr = random_precoders(paper, rng)
    table = fusion.PrecoderTable(layout)
    table.set_all(0, wc, wr)
    est = fusion.FrameEstimator(paper, 3, localizer.Localizer.from_scenario(paper), search=search)
    full_searches = []
    for frame, nodes in ((0, (0, 1)), (1, (0, 1)), (2, (1,))):
        y = phy_snapshots(paper, wc, wr, frame, 3, 4, 0.0, rng)
        fs = fusion.FrameSet(frame, {n: y[n] for n in nodes}, {n: 0 for n in nodes}, 0.0)
        e = est.estimate(fs, table)
        assert e.nodes == nodes and e.frame == frame
        order = np.argsort(e.positions_m[:, 0])  # target 1 is at x = −65 m, target 2 at x = 50 m
        # noise-free: the LM converges to the truth to rounding (1e-6 m: see tests/test_localizer.py)
        np.testing.assert_allclose(e.positions_m[order], paper.target_positions_m, rtol=0, atol=1e-6)
        full_searches.append(e.full_search)
    # tracking: only the first frame needs the grid (a zero residual passes the noise test)
    assert full_searches == ([True] * 3 if search == "full" else [True, False, False])
    crb = est.crb_m2(table, 0)
    assert crb.shape == (2,) and np.all(crb > 0)


def test_tracking_falls_back_to_a_full_search_when_the_track_is_lost(paper):
    """Targets moved to other places between frames (far outside the refinement's basin): the residual test fails,
    the grid search runs and finds them."""
    rng = np.random.default_rng(3)
    layout = ofdm.layout_from_scenario(paper)
    wc, wr = random_precoders(paper, rng)
    table = fusion.PrecoderTable(layout)
    table.set_all(0, wc, wr)
    est = fusion.FrameEstimator(paper, 0, localizer.Localizer.from_scenario(paper), search="track")
    y = phy_snapshots(paper, wc, wr, 0, 0, 1, paper.noise_power, rng)
    est.estimate(fusion.FrameSet(0, {0: y[0], 1: y[1]}, {0: 0, 1: 0}, 0.0), table)
    moved = paper.replace(target_positions_m=[[10.0, 80.0], [-20.0, -60.0]])
    y = phy_snapshots(moved, wc, wr, 1, 0, 1, paper.noise_power, rng)
    e = est.estimate(fusion.FrameSet(1, {0: y[0], 1: y[1]}, {0: 0, 1: 0}, 0.0), table)
    assert e.full_search
    truth = moved.target_positions_m[np.argsort(moved.target_positions_m[:, 0])]
    # 0 dB target SNR: errors of a few tenths of a metre (√CRB); 2 m means "found, not lost"
    np.testing.assert_allclose(e.positions_m[np.argsort(e.positions_m[:, 0])], truth, rtol=0, atol=2.0)


def test_noise_residual_threshold_is_mean_plus_sigmas():
    # dof = 2·(256 − 4) = 504 complex dimensions: mean 504 σ², std √504 σ²
    assert fusion.noise_residual_threshold(2.0, 2, 256, 4, sigmas=5.0) == pytest.approx(2.0 * (504 + 5 * np.sqrt(504)))


def test_transmit_covariances():
    rng = np.random.default_rng(4)
    wc = rng.standard_normal((2, 3, 2)) + 1j * rng.standard_normal((2, 3, 2))
    wr = rng.standard_normal((2, 3, 3)) + 1j * rng.standard_normal((2, 3, 3))
    r = fusion.transmit_covariances(wc, wr)
    np.testing.assert_allclose(r[1], wc[1] @ wc[1].conj().T + wr[1] @ wr[1].conj().T, rtol=1e-12)
