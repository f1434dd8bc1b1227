# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""ZeroMQ CURVE on every link of gr-disac (issue 8, item 4), with the blocks' and apps' own socket code.

For each kind of link — snapshots (snapshot_push → central_unit), estimates (central_unit PUB →
consumers), requests (bf-request REQ → beamformer_server REP), precoder sets (beamformer_server PUB →
precoder_sub at the nodes, and → `disac cu --precoders-from`) — a peer whose key is in the server's
allowed keys file gets its messages through, and a peer with another key, or a plain (open) peer, gets
nothing through within a bounded wait. Last, `disac node` and `disac cu` processes with keys made by
`disac keys`: the central unit localises with the node whose key it allows and never sees the other.

No wall-clock assertions: each wait is bounded (generous for a loaded 2-core machine) and what is
asserted is what arrived. A refused peer is never delivered at all (ZeroMQ's ZAP handler refuses the
handshake), so "nothing within the wait" is the outcome, not a race.
"""

import json
import os
import re
import time

import numpy as np
import pytest
import zmq

from gnuradio.disac import net
from gnuradio.disac.apps.cli import main
from gnuradio.disac.blocks import tags
from gnuradio.disac.core import wire
from test_multiprocess import Processes, wait_for

SHAPE = (16, 16, 1)  # the paper scenario's snapshot (Mr, L, P)
WAIT_S = 20.0  # longest wait for something that must arrive
QUIET_S = 1.5  # how long a refused peer is watched after the allowed one got through


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """Key pairs of a server, an allowed client and an intruder (net.create_keys, as `disac keys`)."""
    directory = tmp_path_factory.mktemp("keys")
    pairs = {name: net.create_keys(directory, name) for name in ("server", "client", "intruder")}
    allowed = directory / "allowed"
    allowed.write_text(f"# allowed clients\n{net.read_key(pairs['client'][0], 'key').decode()}  # client\n")
    return {"server_public": str(pairs["server"][0]), "server_secret": str(pairs["server"][1]),
            "client_secret": str(pairs["client"][1]), "intruder_secret": str(pairs["intruder"][1]),
            "allowed": str(allowed)}


def server_parameters(keys):
    return dict(security="curve", secret_key_file=keys["server_secret"], allowed_keys_file=keys["allowed"])


def client_parameters(keys, who):
    """(security, secret_key_file, server_public_key, allowed_keys_file) of a client; who="plain": open."""
    if who == "plain":
        return ("open", "", "", "")
    return ("curve", keys[f"{who}_secret"], keys["server_public"], "")


def snapshot_pdu(node, frame, rng):
    samples = (rng.standard_normal(SHAPE) + 1j * rng.standard_normal(SHAPE)).astype(np.complex64)
    return tags.snapshot_to_pmt(tags.snapshot_meta(node, SHAPE), frame, 0, samples)


def test_snapshot_link_lets_only_the_allowed_node_in(keys):
    from gnuradio.disac.blocks.central_unit import central_unit
    from gnuradio.disac.blocks.snapshot_push import snapshot_push

    rng = np.random.default_rng(1)
    # a long frame timeout: whatever arrives stays pending, so the pending frames say who got through
    cu = central_unit("paper", timeout_s=600.0, address="tcp://127.0.0.1:*", status_interval_s=0,
                      drain_on_stop=False, **server_parameters(keys))
    frames = {"client": 10, "intruder": 20, "plain": 30}
    pushes = {who: snapshot_push(cu.bound_address, False, "push", 100, *client_parameters(keys, who))
              for who in frames}
    cu.start()
    try:
        for who, push in pushes.items():
            push.handle_snapshot(snapshot_pdu(0, frames[who], rng))
        wait_for(lambda: cu.status()["snapshots_accepted"] >= 1, WAIT_S, "the allowed node's snapshot")
        wait_for(lambda: cu.status()["auth_refused"] >= 1, WAIT_S, "the intruder's handshake refused")
        time.sleep(QUIET_S)  # the refused peers keep retrying: still nothing may arrive
        status = cu.status()
        assert cu.aligner.pending_frames == [frames["client"]]
        assert status["snapshots_accepted"] == 1 and status["decode_errors"] == 0
    finally:
        cu.stop()
        for push in pushes.values():
            push.stop()


def test_estimate_link_reaches_only_the_allowed_consumer(keys):
    from gnuradio.disac.blocks.central_unit import central_unit

    rng = np.random.default_rng(2)
    cu = central_unit("paper", timeout_s=600.0, estimate_address="tcp://127.0.0.1:*", address="",
                      status_interval_s=0, queue_depth=1, drain_on_stop=False, **server_parameters(keys))
    context = zmq.Context.instance()
    subs = {}
    for who in ("client", "intruder", "plain"):
        security = net.LinkSecurity.from_parameters(*client_parameters(keys, who))
        subs[who], _ = net.make_socket(context, zmq.SUB, cu.estimate_endpoint, False, security,
                                       name=f"{who} estimates", options={zmq.SUBSCRIBE: b""})
    cu.start()
    received = {who: [] for who in subs}
    try:
        # PUB drops until a subscription has arrived: localise frame after frame until the client has one
        frame = 0
        deadline = time.monotonic() + WAIT_S
        while not received["client"] and time.monotonic() < deadline:
            for node in (0, 1):
                cu.handle_snapshot(snapshot_pdu(node, frame, rng))
            frame += 1
            if subs["client"].poll(200):
                received["client"].append(wire.decode(subs["client"].recv()))
        quiet_until = time.monotonic() + QUIET_S
        for _ in range(3):  # more estimates while the others listen
            for node in (0, 1):
                cu.handle_snapshot(snapshot_pdu(node, frame, rng))
            frame += 1
        while time.monotonic() < quiet_until:
            for who in ("intruder", "plain"):
                if subs[who].poll(50):
                    received[who].append(subs[who].recv())
    finally:
        cu.stop()
        for sock in subs.values():
            net.close(sock)
    assert received["client"] and isinstance(received["client"][0], wire.EstimateMessage)
    assert received["intruder"] == [] and received["plain"] == []


@pytest.fixture(scope="module")
def curve_server(keys):
    """A beamformer_server block with CURVE on both sockets, its first design (version 1) made."""
    from gnuradio.disac.blocks.beamformer_server import beamformer_server

    server = beamformer_server("paper", 10.0, bind_address="tcp://127.0.0.1:0", pub_address="tcp://127.0.0.1:0",
                               republish_s=0.2, **server_parameters(keys))
    server.start()
    try:
        wait_for(lambda: server.version() == 1, 60, "the server's first design")
        yield server
    finally:
        server.stop()


def test_request_link_answers_only_the_allowed_requester(keys, curve_server, capsys):
    requests = curve_server.service.counters["requests"]
    code = main(["bf-request", curve_server.bound_endpoint(), "--json", "--timeout-s", str(WAIT_S),
                 "--curve-secret", keys["client_secret"], "--curve-server-key", keys["server_public"]])
    reply = json.loads(capsys.readouterr().out)
    assert code == 0 and reply["status"] == "optimal" and reply["version"] == 1
    for extra in (["--curve-secret", keys["intruder_secret"], "--curve-server-key", keys["server_public"]], []):
        code = main(["bf-request", curve_server.bound_endpoint(), "--sinr-db", "5", "--timeout-s", str(QUIET_S),
                     *extra])
        assert code == 1 and "no reply from" in capsys.readouterr().err
    # only the allowed request reached the service: the others never changed the design in force
    assert curve_server.service.counters["requests"] == requests + 1 and curve_server.version() == 1


def test_precoder_link_reaches_only_the_allowed_subscriber(keys, curve_server):
    from gnuradio.disac.blocks.precoder_sub import precoder_sub

    subs = {who: precoder_sub(curve_server.pub_endpoint(), "paper", -1, *client_parameters(keys, who))
            for who in ("client", "intruder", "plain")}
    for sub in subs.values():
        sub.start()
    try:
        wait_for(lambda: subs["client"].last_version() == 1, WAIT_S, "the allowed subscriber's precoder set")
        # the server re-publishes every 0.2 s: the allowed subscriber sees repeats, the others nothing
        wait_for(lambda: subs["client"].counters()["duplicates"] >= 3, WAIT_S, "three re-publications")
    finally:
        for sub in subs.values():
            sub.stop()
    assert subs["intruder"].counters()["received"] == 0 and subs["plain"].counters()["received"] == 0


@pytest.mark.parametrize("who", ["client", "intruder"])
def test_cu_learns_precoders_from_the_server_only_with_an_allowed_key(keys, curve_server, capsys, who):
    """`disac cu --precoders-from`: the app's precoder_sub feeds the central unit's precoder table."""
    code = main(["cu", "paper", "--bind", "tcp://127.0.0.1:*", "--duration", "3", "--status-interval", "0",
                 "--precoders-from", curve_server.pub_endpoint(), "--curve-secret", keys[f"{who}_secret"],
                 "--curve-server-key", keys["server_public"], "--curve-allow", keys["allowed"]])
    final = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"final": true' in line][0]
    assert code == 0
    if who == "client":  # version 1 of both nodes (one message per node), re-publications counted as duplicates
        assert final["precoder_sub_forwarded"] == 1 and final["precoder_updates"] == 2
    else:
        assert final["precoder_sub_received"] == 0 and final["precoder_updates"] == 0


def test_node_and_cu_processes_with_keys_from_disac_keys(tmp_path, capsys):
    """cu allows node0's key only; node 1 runs with a key of its own that is not listed."""
    key_dir, allowed = tmp_path / "keys", tmp_path / "keys" / "allowed"
    for name, extra in (("cu", []), ("node0", ["--allow-file", str(allowed)]), ("node1", [])):
        assert main(["keys", name, "--dir", str(key_dir), *extra]) == 0
    capsys.readouterr()
    frames = 10
    procs = Processes(str(tmp_path))
    try:
        cu = procs.start("cu", "cu", "paper", "--bind", "tcp://127.0.0.1:*", "--frames", str(frames),
                         "--duration", "60", "--timeout", "0.3", "--queue", "64", "--status-interval", "0",
                         "--curve-secret", str(key_dir / "cu.key_secret"), "--curve-allow", str(allowed))
        address = wait_for(lambda: re.search(r"snapshots on (tcp://127\.0\.0\.1:\d+) \(pull, curve\)",
                                             procs.read("cu", "err")), 30, "the central unit's address").group(1)
        epoch = time.time() + 3.0
        for node in (0, 1):
            procs.start(f"node{node}", "node", "paper", "--node", str(node), "--connect", address, "--frames",
                        str(frames), "--frame-rate", "10", "--epoch-s", repr(epoch),
                        "--curve-secret", str(key_dir / f"node{node}.key_secret"),
                        "--curve-server-key", str(key_dir / "cu.key"))
        assert cu.wait(timeout=90) == 0, procs.read("cu", "err")
    finally:
        procs.kill_all()
    lines = [json.loads(line) for line in procs.read("cu").splitlines() if line.startswith("{")]
    got = [e for e in lines if e["type"] == "estimate"]
    final = [s for s in lines if s.get("final")][0]
    # every frame localised with node 0 alone: node 1's snapshots never reached the central unit
    assert [e["frame"] for e in got] == list(range(frames)) and all(e["nodes"] == [0] for e in got)
    assert final["snapshots_accepted"] == frames and final["auth_refused"] >= 1
    assert "is OPEN" not in procs.read("cu", "err")  # nothing of this process runs in the clear


def test_open_links_say_so_at_start_up(tmp_path):
    procs = Processes(str(tmp_path))
    try:
        procs.start("cu", "cu", "paper", "--bind", "tcp://127.0.0.1:*", "--duration", "0.5", "--status-interval", "0")
        assert procs.procs[0].wait(timeout=60) == 0
    finally:
        procs.kill_all()
    err = procs.read("cu", "err")
    assert re.search(r"address tcp://127\.0\.0\.1:\* is OPEN: no authentication or encryption", err), err
    assert os.path.getsize(os.path.join(str(tmp_path), "cu.out")) > 0
