# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""The central unit's multi-target tracker (core/tracking.py, issue 15 item 4).

* the tracker itself on synthetic detections (truth + Gaussian noise of a known covariance + clutter + misses):
  stable ids, birth of a target that appears late, death of one that leaves, gating that keeps clutter away from
  the tracks, track RMSE ≤ 0.5 × the per-frame RMSE, and the steady-state position RMSE at its PCRB;
* the PCRB recursion J_{k+1} = (Q + F J_k^{-1} Fᵀ)^{-1} + J_z against the inverse of the batch information matrix
  of the whole trajectory, and against the Stone Soup filter's own covariance (the same linear-Gaussian model);
* the 2×2 position CRB blocks against the per-target CRB of fim.crb_report (what the central unit reports);
* the moving scene end to end through the GNU Radio chain (the done-when, on a shorter run: bench for 30 s);
* central_unit(track=True): estimates carry track ids and velocities; live_map draws confirmed tracks only;
* bad input named.
"""

import time

import numpy as np
import pytest

from gnuradio.disac.core import fim, tracking
from gnuradio.disac.core.scenario import load_scenario

FRAME_INTERVAL_S = 0.1
FRAMES = 300  # 30 s at 10 Hz, the done-when duration
# truth of the synthetic scene: 1–10 m/s, target 1 appears at 5 s, target 2 leaves at 20 s
START_M = np.array([[-60.0, 20.0], [40.0, -30.0], [0.0, 60.0]])
VELOCITY_MPS = np.array([[3.0, 0.5], [-1.0, 8.0], [6.0, -6.0]])
APPEAR_S = np.array([0.0, 5.0, 0.0])
LEAVE_S = np.array([np.inf, np.inf, 20.0])
MEASUREMENT_COVARIANCE_M2 = np.array([[0.3, 0.1], [0.1, 0.15]])  # a tilted ellipse, like a bistatic CRB
MISS_PROBABILITY = 0.05
CLUTTER_PER_FRAME = 0.5  # Poisson mean, uniform over the 200 m × 200 m scene
GATE_M = 7.5  # c/(4B) at B = 10 MHz, the scoring gate of `disac track`


def synthetic_run(seed=1, tracker=None):
    """Run the tracker over the synthetic scene; returns (records, clutter indices per frame, tracker)."""
    rng = np.random.default_rng(seed)
    # R given is the noise's exact covariance here: no inflation (the default 2 is for the localiser's estimates)
    tracker = tracker or tracking.MultiTargetTracker(measurement_covariance_scale=1.0)
    root = np.linalg.cholesky(MEASUREMENT_COVARIANCE_M2)
    information = np.linalg.inv(MEASUREMENT_COVARIANCE_M2)
    records, clutter = [], []
    for frame in range(FRAMES):
        time_s = frame * FRAME_INTERVAL_S
        truth = START_M + VELOCITY_MPS * time_s
        present = (APPEAR_S <= time_s) & (time_s < LEAVE_S)
        detections = [truth[k] + root @ rng.standard_normal(2) for k in range(3)
                      if present[k] and rng.random() > MISS_PROBABILITY]
        first_clutter = len(detections)
        detections += [rng.uniform(-100.0, 100.0, 2) for _ in range(rng.poisson(CLUTTER_PER_FRAME))]
        clutter.append(set(range(first_clutter, len(detections))))
        detections = np.array(detections).reshape(-1, 2)
        states = tracker.update(detections, np.repeat(MEASUREMENT_COVARIANCE_M2[None], len(detections), 0), time_s)
        records.append(tracking.FrameRecord(frame, time_s, detections, states, truth, VELOCITY_MPS, present,
                                            np.repeat(information[None], 3, 0)))
    return records, clutter, tracker


@pytest.fixture(scope="module")
def synthetic():
    records, clutter, tracker = synthetic_run()
    return records, clutter, tracker, tracking.score_tracks(records, GATE_M)


def test_one_stable_id_per_target_with_birth_and_death(synthetic):
    records, _, _, score = synthetic
    assert score["tracks_lost"] == 0 and score["track_swaps"] == 0
    tracks = {t["id"]: t for t in score["tracks"]}
    assert sorted(tracks) == [1, 2, 3]  # no clutter track was ever confirmed, ids count from 1
    assert sorted(t["truth_target"] for t in tracks.values()) == [0, 1, 2]
    assert all(len(t["truth_targets"]) == 1 for t in tracks.values())
    by_target = {t["truth_target"]: t for t in tracks.values()}
    # birth: confirmed after 3 hits; a miss (p = 0.05) may delay it by a frame or two
    assert by_target[0]["first_frame"] <= 5 and by_target[2]["first_frame"] <= 5
    assert 50 + 2 <= by_target[1]["first_frame"] <= 50 + 5, "the late target (5 s) is born when it appears"
    # death: target 2 leaves at 20 s (frame 200); its track goes after delete_after_misses frames unupdated
    assert 200 <= by_target[2]["last_frame"] <= 200 + tracking.DEFAULT_DELETE_AFTER_MISSES
    assert by_target[0]["last_frame"] == by_target[1]["last_frame"] == FRAMES - 1
    # matched in every frame it lived but the last few of the dead target's
    assert by_target[0]["matched_frames"] == by_target[0]["frames"]


def test_gating_keeps_clutter_out_of_the_tracks(synthetic):
    records, clutter, _, score = synthetic
    clutter_total = sum(len(c) for c in clutter)
    assert clutter_total > 100  # the test has clutter to reject (Poisson 0.5 × 300 frames)
    taken = [(r.frame, s.detection) for r in records for s in r.tracks if s.updated]
    assert taken, "tracks were updated"
    # a clutter point lies inside a track's 4.3σ gate (σ ≈ 0.5 m) with probability ≈ 2e-4 per frame: none taken
    assert not [f for f, d in taken if d in clutter[f]]
    assert score["unmatched_estimates"] >= clutter_total  # the per-frame scoring sees every clutter point unmatched


def test_track_rmse_at_most_half_the_frame_rmse(synthetic):
    _, _, _, score = synthetic
    # measured 0.39 (seed 1); the done-when line asks ≤ 0.5
    assert score["track_rmse_m"] <= 0.5 * score["frame_rmse_m"]
    # the per-frame RMSE is the noise's √tr R (0.67 m) to within the sampling error of ~800 draws (≈ 5 %)
    assert score["frame_rmse_m"] == pytest.approx(np.sqrt(np.trace(MEASUREMENT_COVARIANCE_M2)), rel=0.1)


def test_steady_state_track_error_at_its_pcrb(synthetic):
    _, _, _, score = synthetic
    for track in score["tracks"]:
        # the filter is the PCRB's own model with the true R, so it is efficient up to the sampling error of a
        # ~150–290-frame RMSE of strongly correlated errors (~30 independent draws: ±13 % 1σ; ±40 % here) and
        # the truth's zero process noise (it lowers the error below the bound of a q > 0 model)
        assert 0.6 <= track["rmse_m"] / track["crb_m"] <= 1.4, track
        # the velocity: between the bound of the scene (q = 0: a straight line fitted to every frame so far) and the
        # PCRB of the tracker's q > 0 model (above a constant-velocity truth's error); ±20 % sampling margin
        assert 0.8 * track["crb_velocity_constant_velocity_mps"] <= track["velocity_rmse_mps"], track
        assert track["velocity_rmse_mps"] <= 1.2 * track["crb_velocity_mps"], track


def _batch_filtering_bound(times_s, fims, q, velocity_prior_mps):
    """[J^{-1}] of the last state from the information matrix of the whole trajectory x_1 … x_T (brute force)."""
    T = len(times_s)
    J = np.zeros((4 * T, 4 * T))
    H = tracking.POSITION_MAP
    J[1, 1] = J[3, 3] = 1.0 / velocity_prior_mps**2
    for k in range(T):
        J[4 * k:4 * k + 4, 4 * k:4 * k + 4] += H.T @ fims[k] @ H
    for k in range(T - 1):
        F, Q = tracking.cv_transition(times_s[k + 1] - times_s[k], q)
        Qi = np.linalg.inv(Q)
        a, b = slice(4 * k, 4 * k + 4), slice(4 * k + 4, 4 * k + 8)
        J[a, a] += F.T @ Qi @ F
        J[a, b] -= F.T @ Qi
        J[b, a] -= Qi @ F
        J[b, b] += Qi
    return np.linalg.inv(J)[-4:, -4:]


def test_pcrb_recursion_equals_the_batch_information():
    rng = np.random.default_rng(3)
    T = 25
    times_s = np.cumsum(rng.uniform(0.05, 0.3, T))  # uneven frame times
    fims = []
    for k in range(T):
        A = rng.standard_normal((2, 2))
        fims.append(A @ A.T + 0.5 * np.eye(2) if k == 0 or rng.random() > 0.3 else np.zeros((2, 2)))  # misses
    fims = np.array(fims)
    q, sigma_v = 0.3, 7.0
    bounds = tracking.cv_posterior_crb(times_s, fims, q, sigma_v)
    for last in (1, 2, 7, T):
        expected = _batch_filtering_bound(times_s[:last], fims[:last], q, sigma_v)
        # both are exact: they differ by the rounding of a 100×100 inverse (1e-9 of the largest entry: ~1e6 ulp)
        np.testing.assert_allclose(bounds[last - 1], expected, rtol=1e-9, atol=1e-9 * np.abs(expected).max())


def test_tracker_covariance_is_the_pcrb_of_its_detections():
    """Stone Soup's Kalman filter with R = J_z^{-1} and the same q, σ_v carries exactly the PCRB: this pins the
    wrapper's state order, time steps, process noise and the R it uses."""
    records, _, tracker = synthetic_run(seed=5)
    for track_id in [s.id for s in records[-1].tracks]:
        history = tracker.track_history(track_id)
        assert sum(r is None for _, r, _ in history) > 0, "the track had misses (the recursion's J_z = 0 frames)"
        times = [t for t, _, _ in history]
        fims = [np.zeros((2, 2)) if r is None else np.linalg.inv(r) for _, r, _ in history]
        for _, r, _ in history:
            assert r is None or np.allclose(r, MEASUREMENT_COVARIANCE_M2)  # R is the detection's own covariance
        bounds = tracking.cv_posterior_crb(times, fims, tracker.acceleration_psd_m2_s3, tracker.velocity_prior_mps)
        # the same recursion in two forms (covariance and information): equal to rounding
        np.testing.assert_allclose(np.array([c for _, _, c in history]), bounds, rtol=1e-7, atol=1e-10)


def test_position_crb_blocks_trace_to_the_per_target_crb():
    scenario = load_scenario("paper")
    rng = np.random.default_rng(0)
    mt = scenario.tx_antennas
    covariances = np.array([np.eye(mt) * 0.5 + 0.1 * (lambda a: a @ a.conj().T)(
        rng.standard_normal((mt, mt)) + 1j * rng.standard_normal((mt, mt))) for _ in range(scenario.num_nodes)])
    geometry = fim.SensingGeometry.from_scenario(scenario)
    blocks = tracking.position_crb_blocks_m2(geometry, covariances)
    report = fim.crb_report(geometry, covariances)
    np.testing.assert_allclose(np.trace(blocks, axis1=1, axis2=2), report.crb_position_per_target_m2, rtol=1e-12)
    assert np.all(np.linalg.eigvalsh(blocks) > 0)
    # at the prior positions with the prior |b| the receive side's R is that same block (phases of b do not matter)
    again = tracking.detection_covariances_m2(geometry, covariances, scenario.target_positions_m,
                                              scenario.target_amplitude)
    np.testing.assert_allclose(again, blocks, rtol=1e-9)
    assert tracking.detection_covariances_m2(geometry, covariances, np.zeros((0, 2)), 1.0).shape == (0, 2, 2)


def test_no_detections_and_bad_input():
    tracker = tracking.MultiTargetTracker()
    assert tracker.update(np.zeros((0, 2)), np.zeros((0, 2, 2)), 0.0) == []
    with pytest.raises(ValueError, match="later than the previous"):
        tracker.update(np.zeros((0, 2)), np.zeros((0, 2, 2)), 0.0)
    with pytest.raises(ValueError, match="positive definite"):
        tracker.update([[1.0, 2.0]], [[[1.0, 0.0], [0.0, -1.0]]], 0.1)
    with pytest.raises(ValueError, match="one 2×2 covariance per position"):
        tracker.update([[1.0, 2.0]], np.zeros((0, 2, 2)), 0.2)
    with pytest.raises(ValueError, match="finite metres"):
        tracker.update([[np.nan, 2.0]], [np.eye(2)], 0.3)
    with pytest.raises(ValueError, match="confirm_hits = 0"):
        tracking.MultiTargetTracker(confirm_hits=0)
    with pytest.raises(ValueError, match="gate_probability = 1.5"):
        tracking.MultiTargetTracker(gate_probability=1.5)
    with pytest.raises(ValueError, match="strictly increasing"):
        tracking.cv_posterior_crb([0.0, 0.0], np.array([np.eye(2)] * 2))


# ---- the done-when end to end: the moving scene through the GNU Radio chain ---------------------------------------

def test_moving_scene_end_to_end_through_the_chain():
    """examples/scenarios/moving-targets.toml (1, 5 and 10 m/s) through the whole GNU Radio chain at 10 frames/s,
    tracked. To stay within the test budget: 10 s (100 frames) with target 3's presence moved to 2 s ≤ t < 7 s (its
    path shifted to match: the same entry point), K told (a detecting central unit adds a ~50 s start-up calibration).
    bench/bench_tracking.py runs the done-when's 30 s (300 frames), K told and K detected (docs/tracking.md)."""
    from gnuradio.disac.apps import cli, track_cmd

    scene = track_cmd.moving_scene(cli.load_checked_scenario("examples/scenarios/moving-targets.toml"), 0.1)
    start = scene.target_positions_m.copy()
    start[2] = [-120.0, -22.5] - 2.0 * scene.target_velocities_mps[2]  # at its entry point at t = 2 s
    scene = scene.replace(target_positions_m=start, target_appear_s=np.array([0.0, 0.0, 2.0]),
                          target_leave_s=np.array([np.inf, np.inf, 7.0]))
    wc, wr = cli.resolve_precoders(scene.without_impairments(), "designed", 10.0, 0, "paper")
    result = track_cmd.run_tracking(scene, wc, wr, 100, seed=0)
    assert result["frames"] == 100 and result["frames_skipped"] == 0
    assert result["tracks_lost"] == 0 and result["track_swaps"] == 0
    on_targets = sorted(t["truth_target"] for t in result["tracks"] if t["matched_frames"] > 10)
    assert on_targets == [0, 1, 2], result["tracks"]
    # the done-when ratio; measured 0.33 over 30 s (bench) and 0.44–0.46 over 8 s: a short run weighs the tracks'
    # start-up (a few frames at the per-frame error) more
    assert result["track_rmse_m"] <= 0.5 * result["frame_rmse_m"]
    late = next(t for t in result["tracks"] if t["truth_target"] == 2)
    assert 20 <= late["first_frame"] <= 26 and 70 <= late["last_frame"] <= 70 + 6  # born at 2 s, dies after 7 s
    for track in result["tracks"]:
        if track["matched_frames"] > 30:
            # the PCRB is a bound of the q > 0 model for an efficient per-frame estimator; the ML estimates scatter
            # ~1.1–1.6× their expected-FIM CRB (MSE/CRB of the issue): the track error lies within [0.5, 2]× it
            assert 0.5 <= track["rmse_m"] / track["crb_m"] <= 2.0, track
            assert track["velocity_rmse_mps"] <= 2.0 * track["crb_velocity_mps"], track


# ---- the central unit's tracks: estimates carry the track id and velocity; the live map draws them ---------------

def test_central_unit_with_track_puts_track_ids_and_velocities_on_its_estimates():
    """central_unit(track=True) on noise-free frames of the (static) paper scene: the first two frames' points have
    no confirmed track (−1), from the third hit on every point carries its track's id (1 and 2, stable) and a
    velocity; the estimate message has them (track_ids, velocities_mps)."""
    import zmq
    from gnuradio import blocks, gr

    from gnuradio.disac.blocks.central_unit import central_unit, estimate_from_pmt
    from gnuradio.disac.blocks.qa_central_unit import SCENARIO, SEED, WC, WR, snapshots, wire_snapshot

    cu = central_unit(scenario=SCENARIO, seed=SEED, wc=WC, wr=WR, timeout_s=5.0, queue_depth=16,
                      address="tcp://127.0.0.1:*", bind=True, status_interval_s=0.0, track=True)
    tb = gr.top_block()
    store = blocks.message_debug()
    tb.msg_connect((cu, "estimate"), (store, "store"))
    push = zmq.Context.instance().socket(zmq.PUSH)
    push.connect(cu.bound_address)
    tb.start()
    try:
        frames = range(6)
        for frame in frames:
            y = snapshots(frame)
            for node in (0, 1):
                push.send(wire_snapshot(node, frame, y[node]))
        deadline = time.monotonic() + 60.0
        while store.num_messages() < len(frames) and time.monotonic() < deadline:  # wait for the event, no guess
            time.sleep(0.02)
        assert store.num_messages() == len(frames), cu.status()
    finally:
        tb.stop()
        tb.wait()
        push.close(0)
    estimates = list(cu.estimates)
    assert [e.frame for e in estimates] == list(frames)
    assert all(np.all(e.track_ids == -1) for e in estimates[:2])  # tentative: 3 hits confirm a track
    ids_by_x = [tuple(e.track_ids[np.argsort(e.positions_m[:, 0])]) for e in estimates[2:]]
    assert len(set(ids_by_x)) == 1 and sorted(ids_by_x[0]) == [1, 2], ids_by_x  # stable ids
    assert all(np.all(np.isfinite(e.velocities_mps)) for e in estimates[2:])
    message = estimate_from_pmt(store.get_message(len(frames) - 1))
    np.testing.assert_array_equal(message["track_ids"], estimates[-1].track_ids)
    np.testing.assert_array_equal(message["velocities_mps"], estimates[-1].velocities_mps)
    with pytest.raises(ValueError, match="track = 'yes'"):
        central_unit(scenario=SCENARIO, seed=SEED, wc=WC, wr=WR, address="", track="yes")


def test_live_map_draws_confirmed_tracks_only():
    """live_map's model: points without a confirmed track (id −1) are shown as points, not as a track trail."""
    import pmt

    from gnuradio.disac.blocks.live_map import MapModel

    scenario = load_scenario("paper")
    model = MapModel(scenario)
    for frame in range(4):
        positions = scenario.target_positions_m + 0.1 * frame
        ids = [-1, -1] if frame < 2 else [7, -1]
        msg = pmt.make_dict()
        for key, value in (("frame", pmt.from_uint64(frame)), ("precoder_version", pmt.from_long(0)),
                           ("positions_m", pmt.init_f64vector(4, positions.ravel().tolist())),
                           ("track_ids", pmt.init_s64vector(2, ids))):
            msg = pmt.dict_add(msg, pmt.intern(key), value)
        model.add_estimate(msg)
    snap = model.snapshot()
    assert sorted(snap["tracks"]) == [7]
    np.testing.assert_allclose(snap["tracks"][7], scenario.target_positions_m[0] + 0.1 * np.array([[2.0], [3.0]]))
    assert len(snap["recent"]) == 4 and snap["recent"][0][2] == [-1, -1]  # the untracked points are still drawn


def test_disac_track_refuses_bad_options_by_name(capsys):
    from gnuradio.disac.apps import cli

    for args, named in ((["--duration-s", "0.01"], "--duration-s 0.01"),
                        (["--duration-s", "1", "--frame-interval-s", "0"], "--frame-interval-s 0"),
                        (["--duration-s", "1", "--frame-interval-s", "1e-9"], "--frame-interval-s 1e-09"),
                        (["--duration-s", "1", "--acceleration-psd", "0"], "--acceleration-psd 0"),
                        (["--duration-s", "1", "--false-alarm-rate", "0.01"], "--false-alarm-rate 0.01")):
        code = cli.main(["track", *args])  # refused before any flowgraph is built
        err = capsys.readouterr().err
        assert code == 2 and named in err and "Traceback" not in err, (args, code, err)
