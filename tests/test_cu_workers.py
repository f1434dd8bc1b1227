# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Localisation in worker processes (issue 16 item 3): the TASK/RESULT codec, a worker's search against the
in-process one, and the central unit with worker processes — frames released in order and every one accounted
for when a worker is killed (SIGKILL) mid-run, garbage and forged results counted and ignored.

Frames: paper-scenario snapshots as node_rx makes them (bench/bench_central_unit.phy_snapshot: the PHY's
frames, oscillator phases and noise), start-up precoders. Timing between processes is waited for by counters
(tests/waiting.py), never by sleeping a guess.
"""

import os
import signal
import sys
import tempfile
import threading

import numpy as np
import pytest

from gnuradio.disac.blocks import _localise_pool
from gnuradio.disac.blocks.central_unit import central_unit
from gnuradio.disac.core import fusion, localise_tasks, localizer, ofdm, scenario, wire
from waiting import wait_for

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import bench_central_unit  # noqa: E402

SEED = 0
FRAMES = 10
# generous bounds for a loaded 2-core machine (each worker imports numpy/zmq and builds its localiser grid);
# every wait ends at its event
START_WAIT_S = 120
RUN_WAIT_S = 300
# "Same estimate": the worker runs the same code on the same bytes (X_m and Y travel as their own dtypes, the
# configuration's floats as repr), so positions agree bit for bit in one process; across processes the BLAS
# build is the same library in the same mode (OPENBLAS_NUM_THREADS=1), still 1e-9 m leaves room for a
# different summation order only, 1e8 below the paper scenario's sqrt(CRB) of 0.27 m.
SAME_M = 1e-9


@pytest.fixture(scope="module")
def paper():
    scn = scenario.load_scenario("paper")
    layout = ofdm.layout_from_scenario(scn)
    wc0, wr0 = ofdm.default_precoders(layout, scn.per_antenna_power)
    wc = np.broadcast_to(wc0, (scn.num_nodes,) + wc0.shape)
    wr = np.broadcast_to(wr0, (scn.num_nodes,) + wr0.shape)
    rng = np.random.default_rng(SEED)
    snapshots = [bench_central_unit.phy_snapshot(scn, wc, wr, f, SEED, SEED + 1, rng) for f in range(FRAMES)]
    table = fusion.PrecoderTable(layout)
    table.set_start(0, wc, wr)
    estimator = fusion.FrameEstimator(scn, SEED, localizer.Localizer.from_scenario(scn))
    expected = []
    for f, y in enumerate(snapshots):
        fs = fusion.FrameSet(f, {n: y[n] for n in range(scn.num_nodes)}, {n: 0 for n in range(scn.num_nodes)}, 0.0,
                             precoder_ids={n: 0 for n in range(scn.num_nodes)})
        expected.append(estimator.estimate(fs, table).positions_m)
    return scn, snapshots, table, estimator, expected


def _task(estimator, table, frame_set, task_id=7):
    inputs, _ = estimator.prepare(frame_set, table)
    detect, count, noise, rate, null = estimator.search_parameters(inputs)
    return localise_tasks.Task(task_id, inputs.frame, inputs.precoder_version, 0, 1,
                               localise_tasks.localiser_config(estimator.localizer), inputs.rx_nodes, inputs.tx_nodes,
                               np.stack([inputs.snapshots[n] for n in inputs.rx_nodes]),
                               np.stack([inputs.frames[m] for m in inputs.tx_nodes]), count, detect, noise, rate, null)


def _frame_set(scn, snapshots, f):
    return fusion.FrameSet(f, {n: snapshots[f][n] for n in range(scn.num_nodes)}, {n: 0 for n in range(scn.num_nodes)},
                           0.0, precoder_ids={n: 0 for n in range(scn.num_nodes)})


# ---- the codec and the worker's step -----------------------------------------------------------------

def test_task_round_trip_and_worker_search_equal_the_in_process_estimate(paper):
    scn, snapshots, table, estimator, expected = paper
    task = _task(estimator, table, _frame_set(scn, snapshots, 3))
    decoded = localise_tasks.decode_task(localise_tasks.encode_task(task))
    assert decoded.config == task.config and decoded.rx_nodes == task.rx_nodes and decoded.frame == 3
    assert decoded.snapshots.dtype == task.snapshots.dtype and np.array_equal(decoded.snapshots, task.snapshots)
    assert np.array_equal(decoded.frames, task.frames)
    result = localise_tasks.TaskRunner(5).run(decoded)
    assert result.status == localise_tasks.STATUS_LOCALISED, result.reason
    back = localise_tasks.decode_result(localise_tasks.encode_result(result))
    assert (back.task_id, back.frame, back.worker_id) == (7, 3, 5)
    # the worker's localiser is rebuilt from the configuration: the same grid and the same estimate
    np.testing.assert_allclose(back.positions_m, expected[3], rtol=0, atol=SAME_M)


@pytest.mark.parametrize("method", localizer.SEARCH_METHODS)
def test_the_worker_rebuilds_the_units_search_method(paper, method):
    """The configuration carries the Localizer's search_method, so a worker runs the unit's search, not the default
    (a unit asked for the reference search must not get the coarse-to-fine start on its workers)."""
    scn = paper[0]
    loc = localizer.Localizer.from_scenario(scn, search_method=method)
    rebuilt = localise_tasks.localizer_from_config(localise_tasks.localiser_config(loc))
    assert rebuilt.search_method == method
    assert localise_tasks.localiser_config(rebuilt) == localise_tasks.localiser_config(loc)


def test_malformed_tasks_and_results_raise_task_error_only(paper):
    scn, snapshots, table, estimator, _ = paper
    good = localise_tasks.encode_task(_task(estimator, table, _frame_set(scn, snapshots, 0)))
    result = localise_tasks.encode_result(localise_tasks.Result(1, 2, 3, 0, np.zeros((2, 2))))
    rng = np.random.default_rng(1)
    bad = [b"", b"DSLT", good[:-1], good + b"\0", b"XXXX" + good[4:], pickle_like := b"\x80\x04\x95" + good[3:]]
    for data in (good, result):
        for _ in range(60):  # random byte flips: the CRC or a length check refuses each one
            mutated = bytearray(data)
            mutated[int(rng.integers(len(mutated)))] ^= int(rng.integers(1, 256))
            bad.append(bytes(mutated))
    assert pickle_like  # a pickle header is just bytes with a wrong magic here
    for data in bad:
        with pytest.raises(localise_tasks.TaskError):
            localise_tasks.decode_task(data)
        with pytest.raises(localise_tasks.TaskError):
            localise_tasks.decode_result(data)
    with pytest.raises(localise_tasks.TaskError, match="message type"):
        localise_tasks.decode_result(good)  # a TASK is not a RESULT


def test_a_failing_search_is_answered_with_its_reason(paper):
    scn, snapshots, table, estimator, _ = paper
    task = _task(estimator, table, _frame_set(scn, snapshots, 0))
    broken = localise_tasks.Task(**{**task.__dict__, "config": b'{"format": 1}'})
    result = localise_tasks.TaskRunner(1).run(broken)
    assert result.status == localise_tasks.STATUS_FAILED and "configuration" in result.reason


def test_adaptive_deadline_is_four_times_the_median_of_the_last_answers():
    """The task deadline (worker_deadline_s, or 4× the median answer time of the last 32 tasks if longer) kept
    up to date at each answer equals np.median's, odd and even counts, before and after the window is full (it
    was a numpy median per send; now one sorted() per result)."""
    import collections
    import types

    unit = types.SimpleNamespace(_answer_times_s=collections.deque(maxlen=32), _answer_median_s=None,
                                 _pool_options={"deadline_s": 0.5})
    assert central_unit._task_deadline_s(unit) == 0.5  # no answer yet: the floor
    for seconds in np.random.default_rng(1).exponential(0.2, 80):
        central_unit._answered(unit, float(seconds))
        # exact: both take the middle value, or (a + b)/2 of the middle two (a halving is exact)
        assert central_unit._task_deadline_s(unit) == max(0.5, 4.0 * float(np.median(unit._answer_times_s)))
    assert len(unit._answer_times_s) == 32


def test_refusals_name_the_value(paper):
    scn = paper[0]
    with pytest.raises(ValueError, match="search = 'track' with worker processes"):
        central_unit(scn, SEED, workers=2, search="track")
    with pytest.raises(ValueError, match="workers = 0 needs a worker address"):
        central_unit(scn, SEED, workers=0)
    with pytest.raises(ValueError, match="workers = -1"):
        central_unit(scn, SEED, workers=-1)


# ---- the central unit with worker processes -----------------------------------------------------------

def _send_frames(cu, scn, snapshots, frames):
    for f in frames:
        for n in range(scn.num_nodes):
            cu.handle_wire(wire.encode(wire.SnapshotMessage(n, f, 0, 0, 0, snapshots[f][n])))


def _accounted(status):
    return status["frames_localised"] + status["frames_skipped"]


def test_two_worker_processes_one_killed_every_frame_accounted_for_in_order(paper):
    scn, snapshots, _, _, expected = paper
    # deadline 5 s: far above one search (0.01–0.5 s under load), short enough for the re-issue to show
    cu = central_unit(scn, SEED, workers=2, queue_depth=FRAMES, status_interval_s=0, worker_deadline_s=5.0,
                      worker_attempts=3)
    cu.start()
    try:
        pool = cu._pool
        wait_for(lambda: cu.status()["workers_seen"] >= 2, START_WAIT_S, "both worker processes' HELLO")
        # The victim is stopped (SIGSTOP) before the first frames, so it holds the tasks PUSH's round robin gives it
        # and never answers them, however fast the search: the kill below then always takes frames with it (with
        # the fast search, a kill timed on "frames still in flight" could find every frame already answered).
        # Both HELLOs came over the result sockets, which each worker connects after its task socket, so both
        # task pipes are attached and the victim gets some of the first tasks.
        victim = pool.processes[0]
        victim.send_signal(signal.SIGSTOP)
        _send_frames(cu, scn, snapshots, range(FRAMES // 2))
        wait_for(lambda: cu.status()["worker_reissued"] >= 1, RUN_WAIT_S,
                 "the stopped worker's first task issued again after its deadline")
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
        _send_frames(cu, scn, snapshots, range(FRAMES // 2, FRAMES))
        wait_for(lambda: _accounted(cu.status()) >= FRAMES - 1, RUN_WAIT_S, "every frame but the last accounted for")
    finally:
        cu.stop()  # releases the last frame (flush) and drains
    status = cu.status()
    print("after the kill:", {k: status[k] for k in ("frames_localised", "worker_reissued", "worker_lost",
                                                      "worker_duplicate_results")})
    assert pool.processes[1].returncode is not None  # the surviving worker was stopped with the unit
    assert _accounted(status) == FRAMES, status
    assert status["frames_localised"] == FRAMES, status  # the killed worker's frames went to the other one
    assert status["worker_reissued"] >= 1, status
    frames = [e.frame for e in cu.estimates]
    assert frames == list(range(FRAMES))  # released in frame order
    for estimate in cu.estimates:
        np.testing.assert_allclose(estimate.positions_m, expected[estimate.frame], rtol=0, atol=SAME_M)


def test_remote_worker_garbage_and_forged_results_are_counted_and_ignored(paper):
    import zmq

    scn, snapshots, _, _, expected = paper
    directory = tempfile.mkdtemp(prefix="disac-test-workers-")
    address = f"ipc://{directory}/tasks"
    cu = central_unit(scn, SEED, workers=0, worker_address=address, queue_depth=FRAMES, status_interval_s=0)
    cu.start()
    stop = threading.Event()
    worker = threading.Thread(target=_localise_pool.serve, args=(address, None, stop), daemon=True)
    context = zmq.Context()
    liar = context.socket(zmq.PUSH)
    try:
        worker.start()  # `disac cu-worker --connect ADDR`'s loop, in this process
        liar.setsockopt(zmq.LINGER, 0)
        liar.connect(_localise_pool.results_address(address))
        liar.send(b"not a result")
        liar.send(localise_tasks.encode_result(localise_tasks.Result(12345, 0, 9, 0, np.zeros((2, 2)))))
        wait_for(lambda: cu.status()["worker_bad_results"] >= 1 and cu.status()["worker_unexpected_results"] >= 1,
                 RUN_WAIT_S, "the garbage and the forged result counted")
        _send_frames(cu, scn, snapshots, range(3))
        wait_for(lambda: _accounted(cu.status()) >= 2, RUN_WAIT_S, "frames 0 and 1 accounted for")
    finally:
        cu.stop()
        stop.set()
        worker.join(timeout=30)
        liar.close()
        context.term()
    status = cu.status()
    assert status["frames_localised"] == 3 and _accounted(status) == 3, status
    assert [e.frame for e in cu.estimates] == [0, 1, 2]
    np.testing.assert_allclose(cu.estimates[2].positions_m, expected[2], rtol=0, atol=SAME_M)


def test_curve_remote_worker_over_tcp_and_a_worker_with_another_key_refused(paper, tmp_path):
    from free_ports import free_port

    from gnuradio.disac import net

    scn, snapshots, _, _, expected = paper
    cu_public, cu_secret = net.create_keys(str(tmp_path), "cu")
    _, worker_secret = net.create_keys(str(tmp_path), "worker")
    _, intruder_secret = net.create_keys(str(tmp_path), "intruder")  # a key pair the unit does not allow
    worker_public = net.read_secret(worker_secret, "worker")[0].decode()
    allowed = tmp_path / "allowed"
    allowed.write_text(worker_public + "\n")
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    cu = central_unit(scn, SEED, workers=0, worker_address=address, queue_depth=FRAMES, status_interval_s=0,
                      security="curve", secret_key_file=cu_secret, allowed_keys_file=str(allowed))
    cu.start()
    stops = [threading.Event(), threading.Event()]
    good = threading.Thread(target=_localise_pool.serve, daemon=True,
                            args=(address, net.LinkSecurity.curve(worker_secret, cu_public), stops[0]))
    intruder = threading.Thread(target=_localise_pool.serve, daemon=True,
                                args=(address, net.LinkSecurity.curve(intruder_secret, cu_public), stops[1]))
    try:
        intruder.start()
        good.start()
        wait_for(lambda: cu.status()["auth_refused"] >= 1, RUN_WAIT_S, "the intruder's key refused by the unit's CURVE server")
        _send_frames(cu, scn, snapshots, range(2))
        wait_for(lambda: cu.status()["frames_localised"] >= 2, RUN_WAIT_S, "two frames localised over CURVE")
        assert cu.status()["workers_seen"] == 1  # only the worker with the key was heard
    finally:
        cu.stop()
        for stop in stops:
            stop.set()
        good.join(timeout=30)
        intruder.join(timeout=30)
    for estimate in cu.estimates:
        np.testing.assert_allclose(estimate.positions_m, expected[estimate.frame], rtol=0, atol=SAME_M)


def test_a_curve_units_local_workers_localise_over_their_private_ipc(paper, tmp_path):
    """--workers N with the unit on CURVE: the local workers (subprocesses without a key) connect over the unit's
    private ipc directory, which needs no CURVE. Before, the unit bound those sockets as a CURVE server and its
    keyless workers were never heard (workers_seen stayed 0: measured, 60 s)."""
    from gnuradio.disac import net

    scn, snapshots, _, _, expected = paper
    _, cu_secret = net.create_keys(str(tmp_path), "cu")
    allowed = tmp_path / "allowed"
    allowed.write_text(net.read_secret(cu_secret, "cu")[0].decode() + "\n")
    cu = central_unit(scn, SEED, workers=2, queue_depth=FRAMES, status_interval_s=0, security="curve",
                      secret_key_file=cu_secret, allowed_keys_file=str(allowed))
    cu.start()
    try:
        wait_for(lambda: cu.status()["workers_seen"] >= 2, START_WAIT_S, "both local workers' HELLO")
        _send_frames(cu, scn, snapshots, range(3))
        wait_for(lambda: cu.status()["frames_localised"] >= 2, RUN_WAIT_S, "frames 0 and 1 localised")
    finally:
        cu.stop()
    status = cu.status()
    assert status["frames_localised"] == 3 and _accounted(status) == 3, status
    for estimate in cu.estimates:
        np.testing.assert_allclose(estimate.positions_m, expected[estimate.frame], rtol=0, atol=SAME_M)


def test_private_ipc_links_are_said_once_not_logged_open(tmp_path, caplog):
    """The unit's private worker directory (0700): its links are not logged OPEN (by the unit nor by a worker), one
    line says the local workers are private; an ipc address in a directory others can enter is still OPEN."""
    import logging

    import zmq

    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)  # whatever the umask
    assert _localise_pool.is_private_ipc(f"ipc://{private}/tasks")
    assert not _localise_pool.is_private_ipc(f"ipc://{shared}/tasks")
    assert not _localise_pool.is_private_ipc("tcp://127.0.0.1:5555")
    assert not _localise_pool.is_private_ipc(f"ipc://{tmp_path}/missing/tasks")
    context = zmq.Context()
    try:
        with caplog.at_level(logging.INFO):
            pool = _localise_pool.WorkerPool(context, 0)  # its own private directory, no worker started
            try:
                stop = threading.Event()
                stop.set()  # serve connects its sockets, then returns at once
                _localise_pool.serve(pool.task_endpoint, None, stop)
            finally:
                pool.close()
        opened = [r.getMessage() for r in caplog.records if "is OPEN" in r.getMessage()]
        assert opened == [], opened
        said = [r.getMessage() for r in caplog.records if "private directory" in r.getMessage()]
        assert len(said) == 1, said
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            stop = threading.Event()
            stop.set()
            _localise_pool.serve(f"ipc://{shared}/tasks", None, stop)
        assert any("is OPEN" in r.getMessage() for r in caplog.records)
    finally:
        context.term()


@pytest.mark.parametrize("argv, fragment", [
    (["cu", "paper", "--bind", "tcp://127.0.0.1:9", "--workers", "2", "--search", "track"],
     "search = 'track' with worker processes"),
    (["cu", "paper", "--bind", "tcp://127.0.0.1:9", "--workers", "0"], "workers = 0 needs a worker address"),
    (["cu-worker", "--connect", "localhost:5"], "--connect = 'localhost:5'"),
    (["cu-worker", "--connect", "tcp://127.0.0.1:65535"], "port 1 … 65534 (the results use the next port)"),
])
def test_cli_refusals_are_one_line_errors(argv, fragment):
    from test_cli import assert_one_line_error, disac

    assert_one_line_error(disac(*argv), fragment)


def test_detection_searched_by_a_worker_gives_the_in_process_estimate(paper):
    """Unknown K (--max-targets): the worker runs core.detection.detect_targets with the unit's null model and
    noise power; the unit assigns the CRB as FrameEstimator._detect does. Same K̂, positions, residual."""
    scn, snapshots, table, _, _ = paper
    estimator = fusion.FrameEstimator(scn, SEED, localizer.Localizer.from_scenario(scn), max_targets=3)
    estimator.calibrate_start(table)
    runner = localise_tasks.TaskRunner(2)
    for f in range(2):
        frame_set = _frame_set(scn, snapshots, f)
        inputs, crb = estimator.prepare(frame_set, table)
        want = estimator.localise(inputs, crb)
        task = localise_tasks.decode_task(localise_tasks.encode_task(_task(estimator, table, frame_set)))
        assert task.detect and task.num_targets == 3 and task.null_model == estimator.null_model(inputs)
        result = localise_tasks.decode_result(localise_tasks.encode_result(runner.run(task)))
        got = estimator.estimate_from_search(inputs, crb, result.positions_m, result.residual, result.converged,
                                             localise_tasks.detection_from_result(result))
        assert got.num_targets == want.num_targets
        np.testing.assert_allclose(got.positions_m, want.positions_m, rtol=0, atol=SAME_M)
        np.testing.assert_array_equal(got.crb_m2, want.crb_m2)
        assert got.residual == pytest.approx(want.residual, rel=1e-12)
        assert got.detection.statistics == pytest.approx(want.detection.statistics, rel=1e-12)
        assert got.converged == want.converged
