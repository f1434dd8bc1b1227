# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Issue 11, attacks on precoder sets (multi-process, loopback): a `disac cu` process, a hostile peer here.

* a PRECODERS message with version 2^64−1, then a snapshot pair of that version: the localiser thread
  died and 0 of the next 40 good frames were localised;
* the beamformer server restarted: its first set is again version 1, with other precoders, while frames
  made with the old version 1 are still in flight: 69 of 109 frames were localised 5–264 m off;
* one PRECODERS message on the snapshot port overwrote version 0: every later frame 143 m off.

Now: integers beyond 2^63 − 1 do not decode (counted), a frame is localised with exactly the set that made
it (its identity, core.precoder_identity), sets come only from the beamformer server's link, and the
worker loop survives any exception (counted, logged once).
"""

import errno
import struct
import time
import zlib

import numpy as np
import zmq

from attack_harness import (NEAR_M, CentralUnit, Peer, default_set, errors_m, free_port, precoder_set_id,
                            random_set, send_good_frames, snapshot_bytes, snapshots, wait_for)
from gnuradio.disac.core import wire


def reseal(data):
    data = bytearray(data)
    data[12:16] = b"\0\0\0\0"
    data[12:16] = struct.pack("<I", zlib.crc32(bytes(data)))
    return bytes(data)


def with_u64(data, offset, value):
    """A message with the uint64 at byte ``offset`` replaced and the CRC resealed (a forged field)."""
    data = bytearray(data)
    data[offset:offset + 8] = struct.pack("<Q", value)
    return reseal(data)


def assert_all_near(estimates, count):
    assert len(estimates) == count, [e["frame"] for e in estimates]
    for estimate in estimates:
        assert np.all(errors_m(estimate["positions_m"]) <= NEAR_M), estimate


def test_version_beyond_a_pmt_long_is_counted_and_the_unit_keeps_localising(tmp_path):
    cu = CentralUnit(str(tmp_path))
    peer = Peer(cu.address)
    try:
        wc, wr = random_set(5)
        precoders = wire.encode(wire.PrecoderMessage(5, wc, wr))
        peer.send(with_u64(precoders, 16, 2**64 - 1))  # PRECODERS type header: version at byte 16
        y = snapshots(0, *default_set())
        for node in (0, 1):  # SNAPSHOT type header: node, reserved, frame (24), version (32), id (40)
            peer.send(with_u64(snapshot_bytes(node, 0, y[node]), 32, 2**64 - 1))
        wc0, wr0 = default_set()
        send_good_frames(peer, range(1, 41), wc0, wr0)
        status = cu.wait_status(lambda st: st["frames_localised"] + st["frames_skipped"] >= 40, "40 good frames")
        assert status["frames_localised"] == 40 and status["frames_skipped"] == 0
        assert status["decode_errors"] == 3 and status["precoder_updates"] == 0
        assert status["worker_errors"] == 0 and status["service_errors"] == 0
        assert_all_near(cu.estimates(), 40)
        assert "2^63" in cu.stderr()  # the rejection is logged with its reason
    finally:
        peer.close()
        cu.kill()


def test_precoders_on_the_snapshot_port_are_rejected(tmp_path):
    cu = CentralUnit(str(tmp_path))
    peer = Peer(cu.address)
    try:
        wc0, wr0 = default_set()
        send_good_frames(peer, range(10), wc0, wr0)
        cu.wait_status(lambda st: st["frames_localised"] >= 10, "10 frames before the attack")
        other_wc, other_wr = random_set(9)
        peer.send(wire.encode(wire.PrecoderMessage(0, other_wc, other_wr)))  # "version 0", other precoders
        send_good_frames(peer, range(10, 30), wc0, wr0)
        status = cu.wait_status(lambda st: st["frames_localised"] >= 30, "30 frames")
        assert status["rejected_precoders"] == 1 and status["precoder_updates"] == 0
        assert_all_near(cu.estimates(), 30)
        assert "on the snapshot socket dropped" in cu.stderr()
    finally:
        peer.close()
        cu.kill()


class FakeServer:
    """The beamformer server's PUB socket (what `disac bf-server --pub` sends), here to restart it at will."""

    def __init__(self, port):
        self.port = port
        self.sock = None

    def start(self):
        self.sock = zmq.Context.instance().socket(zmq.PUB)
        self.sock.setsockopt(zmq.LINGER, 0)

        def bound():  # a restart: ZeroMQ closes the old socket (and frees its port) on its I/O thread, later
            try:
                self.sock.bind(f"tcp://127.0.0.1:{self.port}")
                return True
            except zmq.ZMQError as exc:
                if exc.errno != errno.EADDRINUSE:
                    raise
                return False
        wait_for(bound, 30.0, f"port {self.port} free again for the restarted server")

    def publish_until(self, message, condition, what):
        data = wire.encode(message)

        def sent_and_seen():
            self.sock.send(data)  # the server re-publishes its set periodically (PUB slow joiner)
            time.sleep(0.05)
            return condition()
        wait_for(sent_and_seen, 60.0, what)

    def kill(self):
        self.sock.close()


def test_restarted_beamformer_server_reusing_version_1_cannot_swap_the_precoders_of_frames_in_flight(tmp_path):
    pub_port = free_port()
    server = FakeServer(pub_port)
    server.start()
    cu = CentralUnit(str(tmp_path), "--precoders-from", f"tcp://127.0.0.1:{pub_port}")
    peer = Peer(cu.address)
    try:
        set_a, set_b = random_set(1), random_set(2)
        id_a, id_b = precoder_set_id(*set_a), precoder_set_id(*set_b)
        assert id_a != id_b
        server.publish_until(wire.PrecoderMessage(1, *set_a), lambda: cu.status().get("precoder_updates", 0) >= 2,
                             "the first server's version 1 at the central unit")
        send_good_frames(peer, range(0, 20), *set_a, version=1, precoder_id=id_a)
        cu.wait_status(lambda st: st["frames_localised"] >= 20, "20 frames of the first version 1")
        server.kill()  # kill -9 of the server, restarted: its first set is version 1 again, other precoders
        server.start()
        server.publish_until(wire.PrecoderMessage(1, *set_b), lambda: cu.status().get("precoder_updates", 0) >= 4,
                             "the restarted server's version 1 at the central unit")
        send_good_frames(peer, range(20, 40), *set_a, version=1, precoder_id=id_a)  # still in flight
        send_good_frames(peer, range(40, 60), *set_b, version=1, precoder_id=id_b)
        status = cu.wait_status(lambda st: st["frames_localised"] + st["frames_skipped"] >= 60, "60 frames")
        assert status["frames_localised"] == 60 and status["unknown_precoders"] == 0
        estimates = cu.estimates()
        assert_all_near(estimates, 60)
        ids = {e["frame"]: e["precoder_id"] for e in estimates}
        assert all(ids[f] == id_a for f in range(40)) and all(ids[f] == id_b for f in range(40, 60))
        # a frame naming a set nobody published is skipped and counted, never localised with another set
        send_good_frames(peer, [60], *set_a, version=1, precoder_id=id_a ^ 1)
        cu.wait_status(lambda st: st["unknown_precoders"] == 1 and st["skipped_unknown_version"] == 1,
                       "the frame of an unknown set counted")
    finally:
        peer.close()
        cu.kill()
        server.kill()


def test_a_forged_set_identity_is_rejected_on_the_server_link(tmp_path):
    """A PRECODERS message whose identity is not its content's hash does not reach the table."""
    pub_port = free_port()
    server = FakeServer(pub_port)
    server.start()
    cu = CentralUnit(str(tmp_path), "--precoders-from", f"tcp://127.0.0.1:{pub_port}")
    try:
        set_a, set_b = random_set(1), random_set(2)
        lying = wire.encode(wire.PrecoderMessage(1, *set_b, precoder_id=precoder_set_id(*set_b)))
        lying = with_u64(lying, 24, precoder_set_id(*set_a))  # claims to be set A, carries set B
        good = wire.encode(wire.PrecoderMessage(2, *set_a))

        def sent():
            server.sock.send(lying)
            server.sock.send(good)
            time.sleep(0.05)
            return cu.status().get("precoder_updates", 0) >= 2
        wait_for(sent, 60.0, "the good set at the central unit")
        cu.stop()
        final = cu.statuses()[-1]
        assert final["precoder_sub_rejected"] >= 1 and "does not match" in cu.stderr()
    finally:
        cu.kill()
        server.kill()


def test_worker_loop_survives_any_exception(monkeypatch):
    """An exception in the worker past the localiser (here injected into estimate_to_pmt, where 2^64 − 1
    raised OverflowError and killed the thread) is counted (worker_errors, and the frame as a localisation
    error) and logged once per cause with its traceback; the next frames are localised."""
    from gnuradio.disac.blocks import central_unit as module
    from gnuradio.disac.blocks.precoder_sub import precoder_pmts

    cu = module.central_unit("paper", 0, status_interval_s=0)
    original = module.estimate_to_pmt
    calls = {"n": 0}

    def flaky(*args):
        calls["n"] += 1
        if calls["n"] <= 2:
            raise OverflowError("injected: Python int too large to convert to C long")
        return original(*args)
    monkeypatch.setattr(module, "estimate_to_pmt", flaky)
    cu.start()
    try:
        wc0, wr0 = default_set()
        for frame in range(5):
            y = snapshots(frame, wc0, wr0)
            for node in (0, 1):
                cu.handle_wire(snapshot_bytes(node, frame, y[node]))
        wait_for(lambda: cu.status()["frames_localised"] + cu.status()["frames_skipped"] >= 5, 60.0, "5 frames")
        status = cu.status()
        assert status["localisation_errors"] == 2 and status["frames_localised"] == 3
        assert status["worker_errors"] == 2
        assert len(cu._causes_logged) == 1  # one cause (same type, text, place), logged once
        # the worker path reaches estimate_to_pmt for the largest version a PMT long holds
        big = random_set(4)
        for msg in precoder_pmts(wire.PrecoderMessage(2**63 - 1, *big)):  # what precoder_sub posts, per node
            cu.handle_precoders(msg)
        y = snapshots(5, *big)
        for node in (0, 1):
            cu.handle_wire(snapshot_bytes(node, 5, y[node], 2**63 - 1, precoder_set_id(*big)))
        wait_for(lambda: cu.status()["frames_localised"] >= 4, 60.0, "the frame of version 2^63 − 1")
        assert cu.estimates[-1].precoder_version == 2**63 - 1
    finally:
        cu.stop()
