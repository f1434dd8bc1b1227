# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared by tests/test_attack_*.py (issue 11): a `disac cu` process under attack, and a hostile peer.

The central unit runs as its own process (as in the attacks of the issue), started through the same
wrapper as tests/test_multiprocess.py; its JSON lines (estimates, status every 0.2 s) are read from its
stdout file, and the tests wait for the counters they need with a deadline (never a sleep guess). The
peer in the test process makes real snapshots of the paper scenario (eq. 3/5: the same model node_rx
delivers, noise included) for any precoder set, and forges whatever the attack needs.
"""

import json
import os
import signal
import struct
import subprocess
import sys
import zlib

import numpy as np
import zmq

from gnuradio.disac.core import channels, model, ofdm, wire
from gnuradio.disac.core.scenario import load_scenario
from free_ports import free_port  # noqa: F401  (used here and by the attack tests: outside the ephemeral range)
from waiting import wait_for  # used here and by the attack tests

try:
    from gnuradio.disac.core.precoder_identity import precoder_set_id
except ImportError:  # the code of before issue 11, to show these tests fail there (not for use otherwise)
    def precoder_set_id(wc, wr):
        return 0

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WRAPPER = ("import runpy, sys, gnuradio; "
           f"gnuradio.__path__.insert(0, {os.path.join(ROOT, 'python')!r}); "
           f"sys.argv[0] = 'disac'; runpy.run_path({os.path.join(ROOT, 'apps', 'disac')!r}, run_name='__main__')")
SCENARIO = load_scenario("paper")
LAYOUT = ofdm.layout_from_scenario(SCENARIO)
SEED = 0
CHANNEL_SEED = 1
DEADLINE_S = float(os.environ.get("DISAC_ATTACK_DEADLINE_S", "60"))  # a bound for a hung process only
# An estimate within this of each target: ~10√CRB at the paper's 0 dB target SNR (√CRB ≈ 0.6 m,
# tests/test_grc.py); the failures of the issue were 5–264 m off
NEAR_M = 6.0


def default_set():
    wc0, wr0 = ofdm.default_precoders(LAYOUT, SCENARIO.per_antenna_power)
    n = SCENARIO.num_nodes
    return np.broadcast_to(wc0, (n,) + wc0.shape).copy(), np.broadcast_to(wr0, (n,) + wr0.shape).copy()


def random_set(seed):
    rng = np.random.default_rng(seed)
    n, mt, u = SCENARIO.num_nodes, SCENARIO.tx_antennas, SCENARIO.num_users
    wc = 0.3 * (rng.standard_normal((n, mt, u)) + 1j * rng.standard_normal((n, mt, u)))
    wr = 0.3 * (rng.standard_normal((n, mt, mt)) + 1j * rng.standard_normal((n, mt, mt)))
    return wc.astype(np.complex64).astype(complex), wr.astype(np.complex64).astype(complex)


def snapshots(frame, wc, wr, noise_seed=None):
    """Every node's Y_s,n (Mr, L, P) of a frame made with (wc, wr): eq. (3)/(5) with the PHY's frames,
    oscillator phases and CN(0, σ²) noise."""
    x = np.stack([ofdm.transmitted_frames(LAYOUT, SEED, [frame], m, wc[m], wr[m])[0] for m in range(SCENARIO.num_nodes)])
    amps = channels.linked_amplitudes(SCENARIO.target_amplitudes(),
                                      channels.node_phases_rad(CHANNEL_SEED, [frame], SCENARIO.num_nodes))[0]
    y = model.sensing_mean(SCENARIO.target_angles_rad(), SCENARIO.target_delays_s(), amps, x, SCENARIO.rx_antennas,
                           SCENARIO.bandwidth_hz)
    rng = np.random.default_rng(frame if noise_seed is None else noise_seed)
    noise = np.sqrt(SCENARIO.noise_power / 2) * (rng.standard_normal(y.shape) + 1j * rng.standard_normal(y.shape))
    return (y + noise).astype(np.complex64)


def snapshot_bytes(node, frame, y, version=0, precoder_id=0):
    if "precoder_id" not in wire.SnapshotMessage.__dataclass_fields__:  # before issue 11 (see the import)
        return wire.encode(wire.SnapshotMessage(node, frame, version, 0, 0, y))
    return wire.encode(wire.SnapshotMessage(node, frame, version, 0, 0, y, precoder_id=precoder_id))


def forged(mtype, type_header, arrays=b"", count=0):
    """A correctly framed and checksummed message with any type header (what no encoder would write)."""
    body = type_header + arrays
    total = 16 + len(body)
    header = struct.pack("<4sBBBBII", b"DSAC", wire.FORMAT_VERSION, mtype, count, 0, total, 0)
    crc = zlib.crc32(body, zlib.crc32(header))
    return struct.pack("<4sBBBBII", b"DSAC", wire.FORMAT_VERSION, mtype, count, 0, total, crc) + body


def y_array(y):
    arr = np.ascontiguousarray(y, "<c8")
    return struct.pack("<BBBB", 1, 1, 3, 0) + struct.pack("<3I", *arr.shape) + b"Y" + arr.tobytes()


def errors_m(positions):
    truth = np.asarray(SCENARIO.target_positions_m)
    return np.linalg.norm(np.asarray(positions)[:, None, :] - truth[None, :, :], axis=2).min(axis=0)


class CentralUnit:
    """`disac cu paper` in its own process, bound to a free port; status lines every 0.2 s."""

    def __init__(self, directory, *extra, name="cu", port=None):
        self.directory, self.name = directory, name
        self.port = port or free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.argv = ["cu", "paper", "--bind", self.address, "--seed", str(SEED), "--precoders", "default",
                     "--status-interval", "0.2", "--timeout", "0.5", "--queue", "64", *extra]
        self.runs = 0
        self.start()

    def start(self):
        self.runs += 1
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", PYTHONUNBUFFERED="1")
        self.out_path = os.path.join(self.directory, f"{self.name}.{self.runs}.out")
        self.err_path = os.path.join(self.directory, f"{self.name}.{self.runs}.err")
        self.files = (open(self.out_path, "w"), open(self.err_path, "w"))
        self.proc = subprocess.Popen([sys.executable, "-c", WRAPPER, *self.argv], stdout=self.files[0],
                                     stderr=self.files[1], env=env, cwd=ROOT)
        wait_for(lambda: self.statuses() or self.proc.poll() is not None, DEADLINE_S, "the central unit's first status")
        assert self.proc.poll() is None, self.stderr()

    def lines(self):
        with open(self.out_path) as handle:
            text = handle.read()
        out = []
        for line in text.splitlines():
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except ValueError:  # a line being written
                    pass
        return out

    def statuses(self):
        return [obj for obj in self.lines() if obj.get("type") == "status"]

    def status(self):
        found = self.statuses()
        return found[-1] if found else {}

    def estimates(self):
        return [obj for obj in self.lines() if obj.get("type") == "estimate"]

    def stderr(self):
        with open(self.err_path) as handle:
            return handle.read()

    def wait_status(self, condition, what, timeout_s=DEADLINE_S):
        return wait_for(lambda: (lambda st: st if st and condition(st) else None)(self.status()), timeout_s,
                        f"{what} (last status {self.status()}; stderr {self.stderr()[-1500:]})")

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as handle:
            return next(int(line.split()[1]) for line in handle if line.startswith("VmRSS:"))

    def kill(self, sig=signal.SIGKILL):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        self.proc.wait(timeout=30)
        for handle in self.files:
            handle.close()

    def stop(self):
        self.kill(signal.SIGINT)


class Peer:
    """A PUSH socket connected to the central unit (optionally with CURVE keys)."""

    def __init__(self, address, curve=None):
        self.context = zmq.Context.instance()
        self.sock = self.context.socket(zmq.PUSH)
        self.sock.setsockopt(zmq.LINGER, 2000)
        if curve is not None:
            public, secret, server_public = curve
            self.sock.curve_publickey, self.sock.curve_secretkey, self.sock.curve_serverkey = public, secret, server_public
        self.sock.connect(address)

    def send(self, data):
        self.sock.send(data)

    def close(self):
        self.sock.close()




def send_good_frames(peer, frames, wc, wr, version=0, precoder_id=0, nodes=None):
    for frame in frames:
        y = snapshots(frame, wc, wr)
        for node in (range(SCENARIO.num_nodes) if nodes is None else nodes):
            peer.send(snapshot_bytes(node, frame, y[node], version, precoder_id))


__all__ = ["CentralUnit", "Peer", "SCENARIO", "NEAR_M", "default_set", "random_set", "snapshots", "snapshot_bytes",
           "forged", "y_array", "errors_m", "send_good_frames", "wait_for", "free_port", "precoder_set_id"]
