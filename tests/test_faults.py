# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Faults injected into running processes on loopback (issue 8, item 3): the central unit and the node
side keep running, say what happened (log lines and counters on the status message) and recover.

* A node killed and restarted: tests/test_multiprocess.py::test_two_node_processes_and_a_central_unit
  (not repeated here): the central unit localises with the remaining node, says so (partial), counts
  the restarted node's replayed frames as late, and localises with both again.
* A node that sends duplicated, out-of-order and late frames: a raw pyzmq PUSH sender of wire SNAPSHOT
  messages to a running `disac cu`; every frame is still localised, once, in frame order; the duplicate
  and the late snapshot are counted and logged; the frame the late node missed is localised with the
  other node and flagged partial.
* A beamformer server that returns infeasible, is down, is slow (its solve time limit stops the
  solver), and comes back: `disac bf-server` processes on fixed loopback ports, `disac bf-request`
  clients, and a node's precoder_sub (the real block) subscribed throughout. The subscriber keeps the
  last good set through every fault and takes the restarted server's new set.

Every wait is bounded and every process is killed in a finally, whatever happens.
"""

import json
import re
import signal

import numpy as np
import zmq

from gnuradio.disac.apps.cli import main
from gnuradio.disac.core import wire
from free_ports import free_port
from test_multiprocess import Processes, wait_for

SHAPE = (16, 16, 1)  # the paper scenario's snapshot (Mr, L, P)


def lines_of(procs, name):
    return [json.loads(line) for line in procs.read(name).splitlines() if line.startswith("{")]


def snapshot(node, frame, rng):
    samples = (rng.standard_normal(SHAPE) + 1j * rng.standard_normal(SHAPE)).astype(np.complex64)
    return wire.encode(wire.SnapshotMessage(node, frame, 0, 0, 0, samples))


def test_duplicated_out_of_order_and_late_frames(tmp_path):
    frames = 8
    rng = np.random.default_rng(3)
    procs = Processes(str(tmp_path))
    sender = zmq.Context.instance().socket(zmq.PUSH)
    sender.setsockopt(zmq.LINGER, 0)
    try:
        # the frame timeout (2 s) is far longer than the sender needs between two nodes' snapshots of a
        # frame, so only the late node's frame 5 times out
        cu = procs.start("cu", "cu", "paper", "--bind", "tcp://127.0.0.1:*", "--frames", str(frames),
                         "--duration", "90", "--timeout", "2", "--queue", "64", "--status-interval", "0")
        address = wait_for(lambda: re.search(r"snapshots on (tcp://127\.0\.0\.1:\d+)", procs.read("cu", "err")),
                           30, "the central unit's address").group(1)
        sender.connect(address)
        sequence = [(0, 0), (1, 0), (0, 1), (1, 1),
                    (0, 2), (0, 2), (1, 2),  # node 0 sends frame 2 twice: a duplicate
                    (0, 4), (0, 3), (1, 3), (1, 4)]  # frames 4 and 3 out of order
        for node, frame in sequence:
            sender.send(snapshot(node, frame, rng))
        sender.send(snapshot(0, 5, rng))  # node 1 is late for frame 5: it goes out with node 0 alone
        wait_for(lambda: any(e.get("frame") == 5 for e in lines_of(procs, "cu")), 60, "frame 5 localised")
        for node, frame in [(1, 5), (0, 6), (1, 6), (0, 7), (1, 7)]:  # node 1's frame 5 is now late
            sender.send(snapshot(node, frame, rng))
        assert cu.wait(timeout=60) == 0, procs.read("cu", "err")
    finally:
        sender.close(0)
        procs.kill_all()
    lines = lines_of(procs, "cu")
    got = [e for e in lines if e["type"] == "estimate"]
    final = [s for s in lines if s.get("final")][0]
    assert [e["frame"] for e in got] == list(range(frames))  # each frame once, in frame order
    assert [e["nodes"] for e in got] == [[0, 1]] * 5 + [[0]] + [[0, 1]] * 2 and got[5]["partial"]
    assert (final["duplicates"], final["late"], final["frames_partial"], final["released_timeout"]) == (1, 1, 1, 1)
    assert final["frames_localised"] == frames and final["frames_skipped"] == 0
    err = procs.read("cu", "err")
    assert "duplicate snapshot #1 of node 0 dropped: node 0 already sent frame 2" in err, err
    assert "late snapshot #1 of node 1 dropped: frame 5 is at or below the last released frame" in err, err


def test_beamformer_server_infeasible_down_slow_and_back(tmp_path, capsys):
    from gnuradio.disac.blocks.precoder_sub import precoder_sub

    rep, pub = f"tcp://127.0.0.1:{free_port()}", f"tcp://127.0.0.1:{free_port()}"
    procs = Processes(str(tmp_path))

    def server(name, *extra):
        return procs.start(name, "bf-server", "paper", "--bind", rep, "--pub", pub, "--republish-s", "0.2",
                           "--json", *extra)

    def events(name):
        return [e for e in lines_of(procs, name) if "status" in e]

    sub = precoder_sub(pub, "paper")  # a node's subscriber, there through every fault
    sub.start()
    try:
        first = server("bf-a", "--sinr-db", "10")
        wait_for(lambda: sub.last_version() == 1, 90, "version 1 at the node")
        # infeasible: reported, nothing new at the node (the re-publications of version 1 go on)
        assert main(["bf-request", rep, "--sinr-db", "40", "--timeout-s", "60"]) == 1
        assert capsys.readouterr().out.startswith("infeasible:")
        repeats = sub.counters()["duplicates"]
        wait_for(lambda: sub.counters()["duplicates"] >= repeats + 2, 30, "two more re-publications")
        assert (sub.last_version(), sub.counters()["forwarded"]) == (1, 1)

        # down: the requester times out with a clear error; the node keeps version 1
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        assert main(["bf-request", rep, "--sinr-db", "12", "--timeout-s", "1"]) == 1
        assert f"no reply from {rep} within 1 s" in capsys.readouterr().err

        # slow: every solve stops at the server's time limit, is reported as failed, publishes nothing
        slow = server("bf-slow", "--sinr-db", "12", "--time-limit-s", "0.001")
        wait_for(lambda: events("bf-slow"), 90, "the slow server's first solve")
        assert main(["bf-request", rep, "--sinr-db", "12", "--json", "--timeout-s", "60"]) == 1
        reply = json.loads(capsys.readouterr().out)
        assert (reply["status"], reply["version"], reply["applied"]) == ("solver_timeout", 0, False)
        assert "time limit of 0.001 s" in reply["message"]
        assert [e["status"] for e in events("bf-slow")][0] == "solver_timeout"
        assert (sub.last_version(), sub.counters()["forwarded"]) == (1, 1)
        slow.send_signal(signal.SIGTERM)
        assert slow.wait(timeout=30) == 0

        # back: a restarted server numbers from 1 again; its new set (other precoders) reaches the node
        server("bf-b", "--sinr-db", "12")
        wait_for(lambda: sub.counters()["forwarded"] == 2, 90, "the restarted server's set at the node")
        assert sub.last_version() == 1 and sub.counters()["rejected"] == 0
    finally:
        sub.stop()
        procs.kill_all()
