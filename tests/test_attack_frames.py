# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Issue 11, attacks on the frame window (multi-process, loopback) and the rules behind them (core.fusion).

* the first snapshot a fresh central unit sees claims frame 2^63 − 1: every later good snapshot was late;
* mid-run, one snapshot at last-released + 100 000: released by the timeout, every later frame late
  (≈ 2.8 h at 10 frames/s); 1000 such pairs walked the counter to 1e8 with implausible = 0;
* with --frames 100, one forged snapshot of frame 99 made `disac cu` exit 0 as if done.

Now a frame number is accepted only near the quorum or the start epoch; a jump is counted implausible and
dropped; one node's frame ahead of the others never times out while they are alive.
"""

import time

import numpy as np

from attack_harness import (NEAR_M, CentralUnit, Peer, default_set, errors_m, send_good_frames, snapshot_bytes,
                            snapshots, wait_for)
from gnuradio.disac.core import fusion

Y = np.zeros((16, 16, 1), complex)


def test_first_message_cannot_move_the_window(tmp_path):
    cu = CentralUnit(str(tmp_path))
    peer = Peer(cu.address)
    try:
        wc0, wr0 = default_set()
        y = snapshots(0, wc0, wr0)
        peer.send(snapshot_bytes(0, 2**63 - 1, y[0]))  # the very first snapshot
        send_good_frames(peer, range(20), wc0, wr0)
        status = cu.wait_status(lambda st: st["frames_localised"] >= 20, "20 good frames")
        assert status["implausible"] == 1 and status["late"] == 0
        assert all(np.all(errors_m(e["positions_m"]) <= NEAR_M) for e in cu.estimates())
    finally:
        peer.close()
        cu.kill()


def test_a_jump_mid_run_is_implausible_even_in_pairs(tmp_path):
    cu = CentralUnit(str(tmp_path))
    peer = Peer(cu.address)
    try:
        wc0, wr0 = default_set()
        send_good_frames(peer, range(10), wc0, wr0)
        cu.wait_status(lambda st: st["frames_localised"] >= 10, "10 frames before the attack")
        y = snapshots(0, wc0, wr0)
        peer.send(snapshot_bytes(0, 9 + 100_000, y[0]))
        for k in range(1000):  # pairs: both node ids, walking ahead
            for node in (0, 1):
                peer.send(snapshot_bytes(node, 10 + 100_000 * (k + 2), y[node]))
        send_good_frames(peer, range(10, 30), wc0, wr0)
        status = cu.wait_status(lambda st: st["frames_localised"] >= 30, "30 frames")
        assert status["implausible"] == 2001 and status["late"] == 0 and status["frames_skipped"] == 0
        assert status["done_upto"] == 29  # the watermark never left the real frames
    finally:
        peer.close()
        cu.kill()


def test_one_forged_snapshot_cannot_end_a_finite_run(tmp_path):
    frames = 100
    cu = CentralUnit(str(tmp_path), "--frames", str(frames), "--queue", str(frames))  # no frame skipped as busy
    peer = Peer(cu.address)
    try:
        wc0, wr0 = default_set()
        real_99 = snapshots(frames - 1, wc0, wr0)
        for frame in range(frames):  # the nodes' frame clock: 40 frames/s
            send_good_frames(peer, [frame], wc0, wr0)
            if frame == 10:
                peer.send(snapshot_bytes(0, frames - 1, real_99[0] * 0 + 1))  # forged "frame 99" of node 0
            time.sleep(0.025)
        wait_for(lambda: cu.proc.poll() is not None, 60.0, "the end of the run")
        final = cu.statuses()[-1]
        assert cu.proc.returncode == 0 and final.get("final")
        # every frame was released by the quorum, not by the forged snapshot's timeout
        assert final["frames_released"] == frames and final["frames_localised"] == frames, final
        assert final["frames_partial"] == 0
        assert final["released_timeout"] == 0 and final["duplicates"] == 1  # node 0's real frame 99
    finally:
        peer.close()
        cu.kill()


# ---- the rules (core.fusion.FrameAligner) ------------------------------------------------------------

def test_window_rule_quorum_lock_on_and_restart_lock_on():
    al = fusion.FrameAligner(2, timeout_s=0.5, max_frames_ahead=100)
    far = 10**6
    assert al.add(0, far, 0, Y, 0.0) == [] and al.counters.implausible == 1  # fresh unit, far frame: alone
    assert al.add(1, far, 0, Y, 0.0) == [] and al.counters.implausible == 2  # a first claim is never enough
    al.add(0, far + 1, 0, Y, 0.1)  # follows its own claim and node 1's: a restarted unit locks on
    out = al.add(1, far + 1, 0, Y, 0.1)
    assert [(fs.frame, fs.reason) for fs in out] == [(far + 1, "complete")]
    # locked now (running): claims of both nodes, twice, cannot move it
    for now in (0.2, 0.3):
        al.add(0, 5 * far + int(now * 10), 0, Y, now)
        al.add(1, 5 * far + int(now * 10), 0, Y, now)
    assert al.counters.implausible == 6 and al.pending_frames == []


def test_one_nodes_frame_ahead_waits_for_the_others_while_they_are_alive():
    al = fusion.FrameAligner(2, timeout_s=0.5, max_frames_ahead=100)
    for f in range(3):
        al.add(0, f, 0, Y, f * 0.1)
        al.add(1, f, 0, Y, f * 0.1)
    al.add(0, 90, 0, Y, 0.3)  # plausible (within the window) but ahead of node 1
    for step in range(1, 10):  # node 1 alive, sending frames 3…; node 0 too
        now = 0.3 + step * 0.2
        al.add(1, 2 + step, 0, Y, now)
        al.add(0, 2 + step, 0, Y, now)
        al.poll(now)
    assert 90 in al.pending_frames and al.watermark == 11
    assert al.poll(10.0) and al.watermark == 90  # node 1 silent for > liveness_s: then it goes by timeout
    assert al.counters.lost == 90 - 12  # frames 12 … 89 never released


def test_lost_frames_are_counted_between_releases_and_after_resume():
    al = fusion.FrameAligner(1, timeout_s=0.5)
    for f in (0, 1, 5):
        al.add(0, f, 0, Y, 0.0)
    assert al.counters.lost == 3 and al.counters.frames_released == 3  # 2, 3, 4
    resumed = fusion.FrameAligner(1, timeout_s=0.5)
    resumed.resume(49)
    assert resumed.add(0, 49, 0, Y, 0.0) == [] and resumed.counters.late == 1
    resumed.add(0, 55, 0, Y, 0.0)
    assert resumed.counters.lost == 5
