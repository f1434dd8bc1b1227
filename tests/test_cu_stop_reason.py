# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""`disac cu` says why it stopped: on stderr before it stops reading, and as "stopped_by" in its final status.

Found as a "stall" of tests/test_multiprocess.py under CPU load: the test ran the central unit without
--frames (default 100) beside endless nodes; when the run went past frame 99 the unit ended, as its default
says, printed a final status like any other and exited 0, while the nodes went on sending into the void.
Nothing on either side said that the run had reached its frame limit, so it read as a link that hung at
frame ~100 with no counter moving.
"""

from attack_harness import CentralUnit, Peer, default_set, send_good_frames, wait_for

DEADLINE_S = 300  # a loaded 2-core machine localising up to 64 queued frames at stop; ends at the exit


def test_the_default_frame_limit_is_announced_and_named_when_it_ends_the_run(tmp_path):
    cu = CentralUnit(str(tmp_path), "--duration-s", "600")  # no --frames: the default, 100
    peer = Peer(cu.address)
    try:
        assert "stops once frame 99 is released (--frames 100; --frames 0: no end)" in cu.stderr()
        wc0, wr0 = default_set()
        send_good_frames(peer, range(101), wc0, wr0)  # both nodes, past the limit
        wait_for(lambda: cu.proc.poll() is not None, DEADLINE_S, "the end of the run at frame 99")
        final = cu.statuses()[-1]
        assert cu.proc.returncode == 0 and final.get("final"), cu.stderr()
        assert final["stopped_by"] == "frames", final
        assert ("disac cu: stopping: frame 99 released (--frames 100; --frames 0 runs without end); "
                "snapshots sent from now on are not read") in cu.stderr()
    finally:
        peer.close()
        cu.kill()


def test_a_run_ended_by_its_duration_says_so(tmp_path):
    cu = CentralUnit(str(tmp_path), "--frames", "0", "--duration-s", "1")
    try:
        assert "no frame limit (--frames 0)" in cu.stderr()
        wait_for(lambda: cu.proc.poll() is not None, DEADLINE_S, "the end of the 1 s run")
        final = cu.statuses()[-1]
        assert cu.proc.returncode == 0 and final.get("final") and final["stopped_by"] == "duration", final
        assert "disac cu: stopping: --duration-s 1 s elapsed" in cu.stderr()
    finally:
        cu.kill()
