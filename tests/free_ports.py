# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""A free TCP port on 127.0.0.1 for a test that must name its port before the process that binds it runs
(a central unit restarted on the same port, a peer told the address in advance).

Binding port 0 and closing again hands out a port of the kernel's ephemeral range, the range that every
connect() and every bind to port 0 draws from: between the probe and the real bind, another pytest worker
(tools/test.sh runs two) or any process on the machine could be given that very port. This picks one below
that range instead, where the kernel never hands out a port by itself; only another pick like this one
could choose it, and it is checked free when picked."""
import random
import socket

_RANGE_FILE = "/proc/sys/net/ipv4/ip_local_port_range"
_LOWEST = 20000  # below the usual service and ephemeral ports of this machine's kind


def _ephemeral_low():
    try:
        with open(_RANGE_FILE) as handle:
            return int(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def free_port(host="127.0.0.1"):
    """A port that nothing on ``host`` listens on now, outside the kernel's ephemeral range when that range
    leaves room below it (else any free port the system chooses)."""
    high = _ephemeral_low() - 1
    picker = random.SystemRandom()
    for _ in range(200 if high > _LOWEST else 0):
        port = picker.randint(_LOWEST, high)
        with socket.socket() as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue  # in use (or lingering): another one
            return port
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]
