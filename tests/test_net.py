# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""ZeroMQ links (python/disac/net.py): address checks and CURVE authentication on loopback.

A server with an allowed-keys file must deliver messages from a listed client and nothing from a
client whose key is not listed (or from a plain, unauthenticated one); every wait is bounded.
"""

import zmq
import pytest

from gnuradio.disac import net

WAIT_MS = 2000  # generous for a loaded 2-core machine; a refused client is never delivered at all


@pytest.mark.parametrize("address, bind, fragment", [
    ("tcp://127.0.0.1", True, "expected tcp://HOST:PORT"),
    ("udp://127.0.0.1:5555", False, "expected tcp://HOST:PORT, ipc://PATH or inproc://NAME"),
    ("tcp://127.0.0.1:*", False, "needs a port number"),
    ("tcp://*:5555", False, "needs a host"),
    ("tcp://127.0.0.1:70000", True, "port must be from 1 to 65535"),
    (None, True, "expected tcp://"),
])
def test_bad_addresses_are_named(address, bind, fragment):
    with pytest.raises(net.LinkError) as info:
        net.check_address(address, bind)
    assert fragment in str(info.value) and repr(address) in str(info.value)


def test_good_addresses_pass():
    for address, bind in [("tcp://127.0.0.1:5555", False), ("tcp://*:*", True), ("ipc:///tmp/x", True),
                          ("inproc://snapshots", False), ("tcp://[::1]:5555", False)]:
        assert net.check_address(address, bind) == address


def _pair(tmp_path, name):
    public, secret = net.create_keys(tmp_path, name)
    return net.read_key(public, "key"), secret


def test_curve_lets_allowed_clients_in_and_keeps_others_out(tmp_path):
    server_public, server_secret = _pair(tmp_path, "cu")
    good_public, good_secret = _pair(tmp_path, "node1")
    _, bad_secret = _pair(tmp_path, "intruder")
    allowed = tmp_path / "allowed.txt"
    allowed.write_text(f"# clients of the central unit\n{good_public.decode()}  # node1\n")
    context = zmq.Context()
    try:
        server, endpoint = net.make_socket(context, zmq.PULL, "tcp://127.0.0.1:*", bind=True,
                                           security=net.LinkSecurity.curve(server_secret, allowed_keys_file=allowed),
                                           name="snapshots")
        clients = {}
        for label, secret in [("good", good_secret), ("bad", bad_secret)]:
            clients[label], _ = net.make_socket(
                context, zmq.PUSH, endpoint, bind=False,
                security=net.LinkSecurity.curve(secret, server_public_key=server_public.decode()), name=label)
        clients["plain"], _ = net.make_socket(context, zmq.PUSH, endpoint, bind=False, name="plain")
        for label, sock in clients.items():
            sock.send(label.encode(), zmq.NOBLOCK) if label == "good" else None
        # the refused clients queue their message while the handshake fails: it is never delivered
        for label in ("bad", "plain"):
            try:
                clients[label].send(label.encode(), zmq.NOBLOCK)
            except zmq.Again:
                pass
        received = []
        poller = zmq.Poller()
        poller.register(server, zmq.POLLIN)
        while dict(poller.poll(WAIT_MS)).get(server):
            received.append(server.recv())
        assert received == [b"good"]
        for sock in list(clients.values()) + [server]:
            sock.close(0)
    finally:
        net.release(context)
        context.term()


def test_curve_server_without_allowed_file_is_refused(tmp_path):
    _, secret = _pair(tmp_path, "cu")
    context = zmq.Context()
    try:
        with pytest.raises(net.LinkError, match="allowed keys file"):
            net.make_socket(context, zmq.PULL, "tcp://127.0.0.1:*", True, net.LinkSecurity.curve(secret))
    finally:
        net.release(context)
        context.term()


def test_allowed_keys_file_errors_name_the_line(tmp_path):
    bad = tmp_path / "allowed.txt"
    bad.write_text("# ok\nnot-a-key\n")
    with pytest.raises(net.LinkError, match="line 2: 'not-a-key' is not a 40-character Z85 key"):
        net.read_allowed_keys(bad)
    with pytest.raises(net.LinkError, match="cannot be read"):
        net.read_allowed_keys(tmp_path / "missing.txt")


def test_keys_command_writes_a_usable_pair(tmp_path, capsys):
    from gnuradio.disac.apps.cli import main
    allow = tmp_path / "allowed.txt"
    assert main(["keys", "node7", "--dir", str(tmp_path / "k"), "--allow-file", str(allow)]) == 0
    out = capsys.readouterr().out
    public = out.split()[2]
    assert len(public) == 40 and net.read_allowed_keys(allow) == {public.encode()}
    assert net.read_secret(tmp_path / "k" / "node7.key_secret", "secret")[0] == public.encode()
    assert main(["keys", "bad name!", "--dir", str(tmp_path)]) == 2
    assert "key name 'bad name!'" in capsys.readouterr().err
