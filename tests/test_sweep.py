# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Monte-Carlo sweeps on Dask (issue 16 item 4; core/sweep.py, apps/sweep_cmd.py, `disac localize --scheduler`).

What must hold: chunks of trials carry the seeds of core.sweep.plan_chunks (chunk 0 is today's single run); the
statistics combined from per-trial records equal trial_stats' own numbers; the grid keys are validated with
errors naming the key and the accepted ones; and a sweep / a localize Monte-Carlo on a Dask LocalCluster of two
worker processes gives the serial (in-process) result.

"The serial result", precisely: the same chunks, seeds and frames, the same failure flags, and every number within
the chain's own run-to-run spread. The GNU Radio chain is not bit-reproducible between two runs in one process
(measured here, three runs of 12 paper frames at 10 dB: estimates differ by up to 4.4e-7 m in a few frames,
MSE by 2.6e-7 relative): the float32 blocks round differently when the scheduler cuts the stream into other
work() calls. So positions are compared to 1e-5 m (20× that spread, 4 orders below the 0.07-0.2 m RMSE of
these runs) and the statistics to 1e-5 relative; a wrong seed or a lost/duplicated chunk changes estimates by
~0.1 m and the MSE by tens of percent, far outside.
"""

import json
import math
import os
import subprocess
import sys
import types

import numpy as np
import pytest

from gnuradio.disac.apps import localize_cmd, node_cmd
from gnuradio.disac.core import scenario as scenario_mod
from gnuradio.disac.core import sweep, trial_stats

from test_cli import RUN_MODULE, ROOT, assert_one_line_error, disac

POSITION_TOLERANCE_M = 1e-5  # see the module docstring: 20× the chain's run-to-run spread
RELATIVE_TOLERANCE = 1e-5


# ---- chunks and seeds --------------------------------------------------------------------------------

def test_chunk_zero_is_todays_run_and_the_others_have_their_own_seeds():
    chunks = sweep.plan_chunks(600, 7, 250)
    assert [(c.first_trial, c.trials) for c in chunks] == [(0, 250), (250, 250), (500, 100)]
    assert (chunks[0].seed, chunks[0].channel_seed) == (7, 8)  # `disac localize --seed 7`: data 7, channel 8
    seeds = [c.seed for c in chunks[1:]]
    assert all(c.channel_seed == c.seed + 1 for c in chunks)
    assert len(set(seeds)) == 2 and all(s > 1000 for s in seeds)  # not a small seed someone types
    assert sweep.plan_chunks(600, 7, 250) == chunks  # a function of (seed, trials, chunk size) only
    assert [c.seed for c in sweep.plan_chunks(600, 8, 250)][1:] != seeds
    assert sweep.plan_chunks(600, 7, 0) == [sweep.Chunk(0, 0, 600, 7, 8)]  # 0: one run, as before issue 16
    assert sweep.plan_chunks(10, 3, 250, channel_seed=9)[0].channel_seed == 9
    with pytest.raises(sweep.SweepError, match="trials 0"):
        sweep.plan_chunks(0, 0)


# ---- records and statistics -------------------------------------------------------------------------------

def _fake_estimates(scn, frames, rng, counts=None):
    truth = np.asarray(scn.target_positions_m, float)
    out = {}
    for f in frames:
        k = len(truth) if counts is None else counts[f]
        positions = (truth[::-1][:k] if k <= len(truth) else np.vstack([truth, [[0.0, 0.0]] * (k - len(truth))]))
        positions = positions + rng.normal(0.0, 0.3, positions.shape)
        if f == frames[1]:
            positions = positions + 20.0  # a failure (beyond the 7.5 m gate)
        out[f] = types.SimpleNamespace(frame=f, positions_m=positions)
    return out


@pytest.fixture(scope="module")
def paper_at_20db():
    scn = trial_stats.scenario_at_snr(scenario_mod.load_scenario("paper"), 20.0)
    wc, wr = node_cmd.resolve_precoders(scn, "random", 10.0)
    return scn, wc, wr


def test_statistics_of_one_chunk_equal_trial_statistics_exactly(paper_at_20db):
    scn, wc, wr = paper_at_20db
    estimates = _fake_estimates(scn, range(6), np.random.default_rng(1))
    chunk = sweep.plan_chunks(6, 3, channel_seed=4)[0]
    records = sweep.trial_records(scn, wc, wr, estimates, chunk)
    assert sweep.statistics(scn, wc, wr, records) == trial_stats.trial_statistics(scn, wc, wr, estimates, 3, 4)
    assert records["failed"] == [False, True, False, False, False, False]


def test_unknown_k_statistics_of_one_chunk_equal_trial_stats(paper_at_20db):
    scn, wc, wr = paper_at_20db
    counts = {0: 2, 1: 2, 2: 1, 3: 3, 4: 2, 5: 0}
    estimates = _fake_estimates(scn, range(6), np.random.default_rng(2), counts)
    chunk = sweep.plan_chunks(6, 3, channel_seed=4)[0]
    records = sweep.trial_records(scn, wc, wr, estimates, chunk, unknown_k=True)
    mine = sweep.statistics(scn, wc, wr, records, max_targets=4, false_alarm_rate=1e-3)
    theirs = trial_stats.unknown_k_statistics(scn, wc, wr, estimates, 3, 4, max_targets=4, false_alarm_rate=1e-3)
    assert mine == theirs


def test_chunks_combine_to_the_statistics_of_all_their_trials(paper_at_20db):
    scn, wc, wr = paper_at_20db
    chunks = sweep.plan_chunks(8, 0, 4)
    rng = np.random.default_rng(3)
    records = [sweep.trial_records(scn, wc, wr, _fake_estimates(scn, range(4), rng), c) for c in chunks]
    combined = sweep.combine_records(records)
    assert combined["trial"] == list(range(8)) and combined["seed"] == [0] * 4 + [chunks[1].seed] * 4
    stats = sweep.statistics(scn, wc, wr, combined)
    assert stats["mse_m2"] == pytest.approx(np.mean(combined["squared_error_m2"]), rel=1e-15)
    # each chunk's conditional CRB is that of its own seeds' frames
    expected = np.concatenate([trial_stats.conditional_crbs_m2(scn, wc, wr, range(4), c.seed, c.channel_seed)
                               for c in chunks])
    assert stats["crb_conditional_m2"] == pytest.approx(float(np.mean(expected)), rel=1e-15)
    assert stats["failures"] == 2 and stats["trials"] == 8


# ---- the grid ------------------------------------------------------------------------------------------------

def test_grid_values_are_toml_values():
    grid = sweep.parse_grid(["ofdm.subcarriers=16,32", "targets.positions_m=[[50.0, 0.0]],[[60.0, 0.0], [0, 9]]",
                             "users.channel=los,rayleigh"])
    assert grid == [("ofdm.subcarriers", [16, 32]),
                    ("targets.positions_m", [[[50.0, 0.0]], [[60.0, 0.0], [0, 9]]]),
                    ("users.channel", ["los", "rayleigh"])]
    points = sweep.grid_points(grid[:1], [0.0, 10.0], [5.0])
    assert [(p.overrides, p.snr_db, p.sinr_db) for p in points] == [
        ((("ofdm.subcarriers", 16),), 0.0, 5.0), ((("ofdm.subcarriers", 16),), 10.0, 5.0),
        ((("ofdm.subcarriers", 32),), 0.0, 5.0), ((("ofdm.subcarriers", 32),), 10.0, 5.0)]


@pytest.mark.parametrize("spec, fragments", [
    (["ofdm.subcarrier=16"], ["'ofdm.subcarrier'", "unknown scenario key", "ofdm.subcarriers"]),
    (["targets.snr_db=0,10"], ["--snr-db axis"]),
    (["ofdm.subcarriers"], ["KEY=V1,V2"]),
    (["ofdm.subcarriers=16", "ofdm.subcarriers=32"], ["given twice"]),
    (["ofdm.subcarriers="], ["no values"]),
])
def test_bad_grid_keys_are_named_with_the_accepted_ones(spec, fragments):
    with pytest.raises(sweep.SweepError) as info:
        sweep.parse_grid(spec)
    for fragment in fragments:
        assert fragment in str(info.value)


def test_overrides_replace_the_scenario_keys():
    document, name = sweep.scenario_document("paper")
    s = sweep.with_overrides(document, name, [("ofdm.subcarriers", 32), ("users.noise_power", 0.5)])
    assert s.subcarriers == 32 and s.user_noise_power == 0.5  # the preset's users.snr_db gave way
    assert s.name == 'paper[ofdm.subcarriers=32][users.noise_power=0.5]'
    assert document["ofdm"]["subcarriers"] == 16  # the document is not changed
    with pytest.raises(sweep.SweepError, match="ofdm.subcarriers = 0"):
        sweep.with_overrides(document, name, [("ofdm.subcarriers", 0)])


def test_scheduler_values():
    assert sweep.check_scheduler("tcp://127.0.0.1:8786") == "tcp://127.0.0.1:8786"
    assert sweep.check_scheduler("local") == "local"
    with pytest.raises(sweep.SweepError, match="accepted: auto, local"):
        sweep.check_scheduler("cluster")
    with pytest.raises(sweep.SweepError, match="--dask-workers"):
        with sweep.open_executor("none", 2):
            pass


def test_sweep_cli_rejects_bad_values(tmp_path):
    out = str(tmp_path / "out")
    assert_one_line_error(disac("sweep", "--grid", "ofdm.subcarrier=16", "--snr-db", "10", "--out", out),
                          "'ofdm.subcarrier'", "accepted")
    assert_one_line_error(disac("sweep", "--snr-db", "10,x", "--out", out), "--snr-db", "accepted")
    assert_one_line_error(disac("sweep", "--snr-db", "10", "--scheduler", "nowhere", "--out", out),
                          "--scheduler", "accepted")
    assert_one_line_error(disac("sweep", "--snr-db", "10", "--precoders", "random", "--sinr-db", "0,5", "--out", out),
                          "--sinr-db", "--precoders designed")
    assert not os.path.exists(out)  # nothing written before the settings are checked


# ---- on a Dask local cluster: the serial result ------------------------------------------------------------

def _run_sweep(out, scheduler, *extra):
    command = [sys.executable, "-c", RUN_MODULE, "sweep", "paper", "--grid", "ofdm.subcarriers=16,32", "--snr-db", "20",
               "--precoders", "random", "--trials", "8", "--chunk-trials", "4", "--scheduler", scheduler, "--out", out,
               "--json", *extra]
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def _table(path):
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pydict()


@pytest.mark.gnuradio_system  # one at a time (conftest.py)
def test_sweep_on_a_local_cluster_gives_the_serial_result(tmp_path):
    serial = _run_sweep(str(tmp_path / "serial"), "none")
    cluster = _run_sweep(str(tmp_path / "cluster"), "local", "--dask-workers", "2")
    assert serial["scheduler"] == "none" and cluster["scheduler"].startswith("tcp://127.0.0.1:")
    assert cluster["dask_workers"] == 2
    for name in ("points", "trials"):
        a, b = _table(tmp_path / "serial" / f"{name}.parquet"), _table(tmp_path / "cluster" / f"{name}.parquet")
        assert list(a) == list(b)
        for column in a:
            if column == "elapsed_s":
                continue
            if column == "estimates_m":
                np.testing.assert_allclose(np.array([json.loads(v) for v in a[column]]),
                                           np.array([json.loads(v) for v in b[column]]), rtol=0,
                                           atol=POSITION_TOLERANCE_M)
            elif column in ("squared_error_m2", "max_target_error_m"):  # per trial: as distances, not relatively
                # |√Σ‖e‖² − √Σ‖e'‖²| ≤ ‖Δe‖ ≤ 2·max|Δ coordinate| for K = 2 targets (a tiny error has a large
                # relative change for the same Δ position)
                power = 0.5 if column == "squared_error_m2" else 1.0
                np.testing.assert_allclose(np.power(a[column], power), np.power(b[column], power), rtol=0,
                                           atol=2 * POSITION_TOLERANCE_M, err_msg=column)
            elif isinstance(a[column][0], float):
                np.testing.assert_allclose(a[column], b[column], rtol=RELATIVE_TOLERANCE, atol=0, err_msg=column)
            else:  # the grid, seeds, chunks, frames, failure flags, counts: exactly
                assert a[column] == b[column], column
    points = _table(tmp_path / "serial" / "points.parquet")
    assert points["ofdm.subcarriers"] == [16, 32] and points["trials"] == [8, 8] and points["chunks"] == [2, 2]
    trials = _table(tmp_path / "serial" / "trials.parquet")
    assert trials["trial"] == list(range(8)) * 2 and trials["frame"] == [0, 1, 2, 3] * 4
    # the CSV holds the same table
    with open(tmp_path / "serial" / "points.csv", encoding="utf-8") as handle:
        header = handle.readline().strip().split(",")
    assert header == list(points)
    assert (tmp_path / "serial" / "sweep.png").stat().st_size > 10_000
    # every point is `disac localize` of that point: its first chunk is the plain run of --seed 0
    scn = trial_stats.scenario_at_snr(scenario_mod.load_scenario("paper"), 20.0)
    wc, wr = node_cmd.resolve_precoders(scn, "random", 10.0)
    alone = localize_cmd.monte_carlo(scn, wc, wr, 4, seed=0, channel_seed=1)
    first_chunk = [v for v, c, p in zip(trials["squared_error_m2"], trials["chunk"], trials["point"]) if c == 0 and p == 0]
    assert alone["mse_m2"] == pytest.approx(float(np.mean(first_chunk)), rel=RELATIVE_TOLERANCE)


@pytest.mark.gnuradio_system  # one at a time (conftest.py)
def test_sweep_with_unknown_k_is_localize_with_unknown_k(tmp_path):
    """`disac sweep --unknown-k` runs each point as `disac localize --unknown-k`: the detection's keys on the
    point, its counts on the trials, and the numbers of the localize Monte-Carlo of the same seeds (in this
    process: scheduler none). 4 frames of paper at 20 dB, random precoders, K̂ ≤ 3 at P_fa 1e-3."""
    out = str(tmp_path / "unknown")
    command = [sys.executable, "-c", RUN_MODULE, "sweep", "paper", "--snr-db", "20", "--precoders", "random",
               "--trials", "4", "--scheduler", "none", "--unknown-k", "--max-targets", "3", "--out", out, "--json"]
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT,
                            env=dict(os.environ, OPENBLAS_NUM_THREADS="1"), timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    assert summary["max_targets"] == 3 and summary["false_alarm_rate"] == 1e-3
    points, trials = _table(os.path.join(out, "points.parquet")), _table(os.path.join(out, "trials.parquet"))
    scn = trial_stats.scenario_at_snr(scenario_mod.load_scenario("paper"), 20.0)
    wc, wr = node_cmd.resolve_precoders(scn, "random", 10.0)
    alone = localize_cmd.monte_carlo(scn, wc, wr, 4, seed=0, channel_seed=1, max_targets=3, false_alarm_rate=1e-3)
    for key in ("k_detected_rate", "false_targets_per_frame", "missed_targets_per_frame", "trials_k_correct",
                "max_targets"):
        assert points[key] == [alone[key]], key
    assert points["mse_m2"][0] == pytest.approx(alone["mse_m2"], rel=RELATIVE_TOLERANCE)
    assert sum(trials["k_correct"]) == alone["trials_k_correct"]
    assert [d - f + m for d, f, m in zip(trials["detected"], trials["false_targets"], trials["missed_targets"])] == \
        [2] * 4  # detected − false + missed = the K = 2 true targets, per trial
    # and without --unknown-k the options are refused, naming them
    assert_one_line_error(disac("sweep", "--snr-db", "20", "--max-targets", "3", "--out", out + "x"),
                          "--max-targets", "--unknown-k")


@pytest.mark.gnuradio_system  # one at a time (conftest.py)
def test_localize_monte_carlo_on_a_local_cluster_gives_the_serial_result(paper_at_20db):
    scn, wc, wr = paper_at_20db
    serial = localize_cmd.monte_carlo(scn, wc, wr, 8, seed=5, channel_seed=6, chunk_trials=4)
    with sweep.open_executor("local", 2) as executor:
        assert executor.workers == 2
        cluster = localize_cmd.monte_carlo(scn, wc, wr, 8, seed=5, channel_seed=6, chunk_trials=4, executor=executor)
    assert [(c["seed"], c["channel_seed"], c["trials"]) for c in cluster["chunks"]] == [
        (c["seed"], c["channel_seed"], c["trials"]) for c in serial["chunks"]]
    assert cluster["chunks"][0]["seed"] == 5 and cluster["chunks"][0]["channel_seed"] == 6
    assert cluster["failures"] == serial["failures"] and cluster["trials"] == serial["trials"] == 8
    assert cluster["crb_conditional_m2"] == serial["crb_conditional_m2"]  # from the seeds alone: exact
    for key in ("mse_m2", "mse_over_crb", "mse_over_crb_conditional"):
        assert cluster[key] == pytest.approx(serial[key], rel=RELATIVE_TOLERANCE), key
    assert math.isfinite(serial["mse_m2"]) and serial["scheduler"] == "none"


def test_figures_jobs_on_a_local_cluster_equal_the_serial_ones():
    """`disac figures --scheduler local`: core.figures.run_job as Dask tasks gives the data of a run in this process
    (each system's sweep is deterministic: the same solver on the same data)."""
    import dataclasses

    from gnuradio.disac import figures_output
    from gnuradio.disac.core import figures

    jobs, _, _ = figures.plan(quick=True)
    small = [dataclasses.replace(j, grid_db=(0.0,), max_sinr_tolerance_db=0.5) for j in jobs
             if j.scenario.num_nodes == 1 and j.monte_carlo is None][:2]  # the single-node systems: the cheapest
    assert len(small) == 2
    ticks = []
    serial = figures_output.run_jobs(small, 1)
    with sweep.open_executor("local", 2) as executor:
        cluster = figures_output.run_jobs(small, 2, on_progress=ticks.append, executor=executor)
    assert sum(ticks) == sum(figures.progress_steps(j) for j in small)  # every tick, none twice
    for key in serial:
        a, b = dict(serial[key]), dict(cluster[key])
        a.pop("time_s"), b.pop("time_s")
        for p in a["points"] + b["points"]:
            p.pop("solve_time_s")
        assert a == b, key


def test_an_existing_scheduler_is_used_by_address_after_its_workers_are_checked():
    """--scheduler ADDR: the client connects to a running scheduler (here a local cluster's, started by the test),
    checks that its workers import this gr-disac version, and runs the tasks there, results in the order given."""
    with sweep.open_executor("local", 1) as cluster:
        with sweep.open_executor(cluster.address) as remote:
            assert remote.kind == remote.address == cluster.address and remote.workers == 1
            done = []
            assert remote.map(pow, [(2, 10), (3, 3), (5, 2)], on_done=done.append) == [1024, 27, 25]
            assert done == [1, 2, 3]
        with pytest.raises(sweep.SweepError, match="applies to --scheduler local"):
            with sweep.open_executor(cluster.address, dask_workers=2):
                pass


# ---- one flowgraph's buffers per process (sweep_runs.run_chain_once_here) ----------------------------------

def test_a_process_runs_its_first_chain_itself_and_the_later_ones_in_children(monkeypatch):
    from gnuradio.disac import sweep_runs

    calls = []
    monkeypatch.setattr(sweep_runs, "run_chain", lambda *a, **k: calls.append("here") or ("here",))
    monkeypatch.setattr(sweep_runs, "run_chain_in_child", lambda *a, **k: calls.append("child") or ("child",))
    monkeypatch.setattr(sweep_runs, "_chains_run_here", 0)
    for _ in range(3):
        sweep_runs.run_chain_once_here("scenario", "wc", "wr", 4)
    assert calls == ["here", "child", "child"]


def test_a_chain_in_a_child_process_gives_the_chain_here(paper_at_20db):
    """The same chain (4 frames) here and in a child process of this gr-disac: the same frames, estimates to the
    chain's run-to-run spread (POSITION_TOLERANCE_M, as cluster against serial), the progress of every frame."""
    from gnuradio.disac import sweep_runs

    scn, wc, wr = paper_at_20db
    here, here_status = sweep_runs.run_chain(scn, wc, wr, 4, seed=3, channel_seed=4)
    progress = []
    child, child_status = sweep_runs.run_chain_in_child(scn, wc, wr, 4, seed=3, channel_seed=4,
                                                        on_progress=progress.append)
    assert sorted(child) == sorted(here) == [0, 1, 2, 3]
    for frame in here:
        np.testing.assert_allclose(child[frame].positions_m, here[frame].positions_m, atol=POSITION_TOLERANCE_M)
    assert child_status["frames_localised"] == here_status["frames_localised"] >= 4
    assert progress and progress[-1] == 4 and progress == sorted(progress)


def test_a_failed_child_chain_raises_with_its_last_lines(paper_at_20db):
    from gnuradio.disac import sweep_runs

    scn, wc, wr = paper_at_20db
    with pytest.raises(RuntimeError, match="exit status 1"):
        sweep_runs.run_chain_in_child(scn, wc, wr, 4, nodes=[7])  # node 7 of a 2-node scenario: the chain refuses
