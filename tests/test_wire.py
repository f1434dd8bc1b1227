# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""The wire codec (core/wire.py): round trips, and every malformed input rejected with WireError only.

Malformed inputs are checked two ways: as they arrive (the CRC-32 rejects most corruption early) and
"resealed" (length and CRC-32 recomputed after the damage), so that the parser's deeper checks — shapes,
dtypes, names, limits, finiteness — are reached too.
"""

import struct
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gnuradio.disac.core import wire

HEADER = struct.Struct("<4sBBBBII")  # the documented common header (docs/wire-format.md)
FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def reseal(data):
    """The same bytes with the length field and the CRC-32 made consistent again."""
    data = bytearray(data)
    if len(data) < HEADER.size:
        return bytes(data)
    struct.pack_into("<I", data, 8, len(data))
    struct.pack_into("<I", data, 12, 0)
    struct.pack_into("<I", data, 12, zlib.crc32(bytes(data)))
    return bytes(data)


def decode_or_reject(data):
    """decode() must either return a message or raise WireError; anything else fails the test."""
    try:
        return wire.decode(data)
    except wire.WireError as exc:
        assert str(exc), "a rejection must say why"
        return None


def snapshot(shape=(4, 3, 2), seed=0, **extras):
    rng = np.random.default_rng(seed)
    y = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)
    return wire.SnapshotMessage(node_id=3, frame_number=2**40 + 7, precoder_version=12,
                                tx_time_ns=-5, rx_time_ns=2**62, snapshot=y, extras=extras)


def test_snapshot_round_trip_is_bit_exact():
    msg = snapshot((16, 16, 1), seed=1, timing=np.arange(3, dtype=np.int64))
    out = wire.decode(wire.encode(msg))
    assert isinstance(out, wire.SnapshotMessage)
    assert (out.node_id, out.frame_number, out.precoder_version, out.tx_time_ns, out.rx_time_ns) == (
        3, 2**40 + 7, 12, -5, 2**62)
    assert out.snapshot.dtype == np.complex64 and out.snapshot.shape == (16, 16, 1)
    assert np.array_equal(out.snapshot, msg.snapshot)
    assert list(out.extras) == ["timing"] and np.array_equal(out.extras["timing"], [0, 1, 2])
    assert out.snapshot.flags.writeable  # decoded arrays are owned copies, not views of the message


def test_snapshot_encoder_casts_complex128_to_complex64():
    y = np.full((2, 2, 1), 1 / 3 + 1j, dtype=np.complex128)
    out = wire.decode(wire.encode(wire.SnapshotMessage(0, 0, 0, 0, 0, y)))
    assert out.snapshot.dtype == np.complex64
    assert np.array_equal(out.snapshot, y.astype(np.complex64))


def test_precoder_and_estimate_round_trip():
    rng = np.random.default_rng(2)
    wc = rng.standard_normal((2, 6, 3)) + 1j * rng.standard_normal((2, 6, 3))
    wr = (rng.standard_normal((2, 6, 6)) + 0j).astype(np.complex64)
    out = wire.decode(wire.encode(wire.PrecoderMessage(9, wc, wr)))
    assert out.version == 9 and out.comm_precoders.dtype == np.complex128
    assert np.array_equal(out.comm_precoders, wc) and np.array_equal(out.radar_precoders, wr)

    est = wire.EstimateMessage(frame_number=5, precoder_version=9, positions_m=[[-65.0, 25.0], [np.nan, 5.0]],
                               crb_m2=[0.01, np.inf], residual=512.5, contributing_nodes=[0, 1])
    out = wire.decode(wire.encode(est))
    assert (out.frame_number, out.precoder_version, out.residual) == (5, 9, 512.5)
    # estimates carry non-finite values (a failed or unidentifiable target), bit for bit
    np.testing.assert_array_equal(out.positions_m, [[-65.0, 25.0], [np.nan, 5.0]])
    np.testing.assert_array_equal(out.crb_m2, [0.01, np.inf])
    assert out.contributing_nodes.dtype == np.int32 and out.contributing_nodes.tolist() == [0, 1]


@pytest.mark.parametrize("bad, match", [
    (dict(snapshot=np.full((2, 2, 1), np.nan + 0j)), "NaN or Inf"),
    (dict(snapshot=np.ones((2, 2))), "rank 3"),
    (dict(snapshot=np.ones((0, 2, 1))), "all ≥ 1"),
    (dict(node_id=-1), "node_id"),
    (dict(frame_number=2**64), "frame_number"),
    (dict(tx_time_ns=1.5), "tx_time_ns"),
    (dict(extras={"Y": np.ones(2)}), "reserved"),
    (dict(extras={"bad name": np.ones(2)}), "array name"),
    (dict(extras={"b": np.ones(2, dtype=bool)}), "accepted dtypes"),
    (dict(extras={"o": np.array([object()])}), "accepted dtypes"),
    (dict(extras={f"a{i}": np.ones(1) for i in range(wire.MAX_ARRAYS)}), "limit"),
    (dict(extras={"big": np.ones((1, 1, 1, 1, 1))}), "rank 5"),
])
def test_encoder_rejects_invalid_messages(bad, match):
    fields = dict(node_id=0, frame_number=0, precoder_version=0, tx_time_ns=0, rx_time_ns=0,
                  snapshot=np.ones((2, 2, 1), np.complex64), extras={})
    fields.update(bad)
    with pytest.raises(wire.WireError, match=match):
        wire.encode(wire.SnapshotMessage(**fields))
    assert issubclass(wire.WireError, ValueError)


def test_encoder_rejects_non_finite_precoders_and_unknown_objects():
    with pytest.raises(wire.WireError, match="NaN or Inf"):
        wire.encode(wire.PrecoderMessage(1, np.full((1, 2, 1), np.inf + 0j), np.ones((1, 2, 2), complex)))
    with pytest.raises(wire.WireError, match="same N"):
        wire.encode(wire.PrecoderMessage(1, np.ones((1, 2, 1), complex), np.ones((2, 2, 2), complex)))
    with pytest.raises(wire.WireError, match="cannot encode dict"):
        wire.encode({"Y": 1})


def test_header_fields_are_checked_with_reasons():
    good = wire.encode(snapshot())
    cases = {
        "magic": (0, b"XSAC"),
        "format version 1": (4, bytes([1])),  # format 2 since the precoder identity (issue 11)
        "message type 9": (5, bytes([9])),
        "flags": (7, bytes([1])),
    }
    for reason, (offset, patch) in cases.items():
        damaged = reseal(good[:offset] + patch + good[offset + len(patch):])
        with pytest.raises(wire.WireError, match=reason):
            wire.decode(damaged)
    with pytest.raises(wire.WireError, match="expected bytes"):
        wire.decode("DSAC")
    with pytest.raises(wire.WireError, match="CRC-32"):
        wire.decode(good[:-1] + bytes([good[-1] ^ 1]))
    with pytest.raises(wire.WireError, match="declared length"):
        wire.decode(good + b"\0")


def test_every_truncation_and_every_single_bit_flip_is_rejected():
    """Deterministic and exhaustive on a small message: each prefix, each bit of each byte."""
    good = wire.encode(snapshot((2, 3, 1)))
    for length in range(len(good)):
        with pytest.raises(wire.WireError):
            wire.decode(good[:length])
    for position in range(len(good)):
        for bit in range(8):
            damaged = bytearray(good)
            damaged[position] ^= 1 << bit
            # CRC-32 detects every single-bit error, so no flip may decode to a (wrong) message
            with pytest.raises(wire.WireError):
                wire.decode(bytes(damaged))


def forged_array(shape, code=1, name=b"Y"):
    """A SNAPSHOT whose one array declares `shape` (without the data it implies), resealed."""
    body = struct.pack("<IIQQQqq", 0, 0, 1, 1, 0, 0, 0)  # format version 2: the precoder id after the version
    body += struct.pack("<BBBB", len(name), code, len(shape), 0) + struct.pack(f"<{len(shape)}I", *shape) + name
    return reseal(HEADER.pack(b"DSAC", wire.FORMAT_VERSION, wire.SNAPSHOT, 1, 0, 0, 0) + body + b"\0" * 64)


@pytest.mark.parametrize("shape, match", [
    ((2**20, 2**20, 1), "elements"),  # 2^40 elements declared
    ((2**32 - 1, 1, 1), "dimension"),
    ((4, 4, 4), "needs 512 bytes"),  # plausible shape, but the data is not there
])
def test_oversized_declared_shapes_are_rejected_before_allocation(shape, match):
    with pytest.raises(wire.WireError, match=match):
        wire.decode(forged_array(shape))


def test_unknown_dtype_and_bad_names_are_rejected():
    with pytest.raises(wire.WireError, match="dtype code 7"):
        wire.decode(forged_array((1, 1, 1), code=7))
    with pytest.raises(wire.WireError, match="not an ASCII identifier"):
        wire.decode(forged_array((1, 1, 1), name=b"\xff\xfe"))


def test_nan_in_a_snapshot_is_rejected_at_decode():
    good = bytearray(wire.encode(snapshot((1, 1, 1))))
    struct.pack_into("<ff", good, len(good) - 8, np.nan, 0.0)
    with pytest.raises(wire.WireError, match="NaN or Inf"):
        wire.decode(reseal(good))


@FAST
@given(st.binary(max_size=400))
def test_arbitrary_bytes_never_escape(data):
    assert decode_or_reject(data) is None or data[:4] == b"DSAC"


@FAST
@given(st.binary(max_size=300), st.sampled_from([wire.SNAPSHOT, wire.PRECODERS, wire.ESTIMATE]),
       st.integers(0, 20))
def test_random_bodies_behind_a_valid_header_never_escape(body, mtype, count):
    """Valid header and CRC: the parser runs over arbitrary content and must still only reject."""
    decode_or_reject(reseal(HEADER.pack(b"DSAC", 1, mtype, count, 0, 0, 0) + body))


@FAST
@given(st.data())
def test_mutated_valid_messages_never_escape(data):
    """Byte changes, insertions and deletions in valid messages, resealed so they pass the CRC."""
    messages = [wire.encode(snapshot((2, 2, 1), extra=np.arange(4, dtype=np.int32))),
                wire.encode(wire.PrecoderMessage(1, np.ones((1, 2, 1), complex), np.ones((1, 2, 2), complex))),
                wire.encode(wire.EstimateMessage(1, 1, np.zeros((2, 2)), np.ones(2), 0.0, [0]))]
    msg = bytearray(data.draw(st.sampled_from(messages)))
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(msg)))
        action = data.draw(st.sampled_from(["set", "insert", "delete"]))
        value = data.draw(st.integers(0, 255))
        if action == "set" and pos < len(msg):
            msg[pos] = value
        elif action == "insert":
            msg.insert(pos, value)
        elif pos < len(msg):
            del msg[pos]
    decode_or_reject(reseal(bytes(msg)))
