# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Wire format between nodes, central unit and beamformer server: a versioned header plus raw arrays.

One message is one byte string (one ZeroMQ frame). Layout (all integers little-endian; docs/wire-format.md
has the byte tables):

    common header (16 bytes)   magic b"DSAC", format version, message type, array count, flags (0),
                               total length in bytes, CRC-32 of the whole message (computed with this
                               field taken as zero)
    type header (fixed size)   SNAPSHOT:  node id, frame number, precoder version, precoder id, tx/rx time (ns)
                               PRECODERS: precoder version, precoder id
                               ESTIMATE:  frame number, precoder version, precoder id, residual energy
    arrays, one after another  entry header (name length, dtype code, rank, 0), shape (uint32 × rank),
                               name (ASCII), then the raw little-endian data in C order

Every count, length, rank, dimension, element count and byte size is checked against the limits below
BEFORE any array is made, and the decoder only ever copies bytes that are present in the message, so a
forged header cannot make it allocate more than the message's own size. Decoding returns a message
object or raises WireError (a ValueError) with the reason; nothing else leaves ``decode``.

Precoder identity (format version 2): every message names the precoder set by its identity
(core.precoder_identity: a 63-bit content hash, 0 for the start-up set) beside the human-readable version;
a PRECODERS message whose id is not the hash of its W_c and W_r does not decode. Frame numbers, versions
and ids are limited to 0 … 2^63 − 1 (what a PMT long / int64 holds), at encode and at decode, so that no
integer from the wire can overflow a PMT or numpy conversion downstream.

Non-finite values (NaN, ±Inf): SNAPSHOT and PRECODERS messages feed the localiser and the transmitters,
so the codec refuses them there (at encode and at decode); an ESTIMATE may carry them (an unidentifiable
target has an infinite CRB; a failed estimate a NaN position), and its reader decides.

No pickle, no eval, nothing executable: the only types that come out are ints, floats, str names and
numpy arrays of six whitelisted dtypes.
"""

import dataclasses
import re
import struct
import zlib

import numpy as np

from .precoder_identity import PrecoderIdentityError, precoder_set_id, verify_precoder_id

MAGIC = b"DSAC"
FORMAT_VERSION = 2  # 2: precoder identity in SNAPSHOT, PRECODERS and ESTIMATE (docs/wire-format.md)

# message types
SNAPSHOT = 1
PRECODERS = 2
ESTIMATE = 3

# ---- limits (checked before anything is allocated) -----------------------------------------------
MAX_MESSAGE_BYTES = 64 * 1024 * 1024  # a 16 × 1024 × 256 complex64 snapshot is 32 MiB
MAX_ARRAYS = 16
MAX_RANK = 4
MAX_DIMENSION = 1 << 24
MAX_ELEMENTS = 1 << 24
MAX_NAME_BYTES = 32
_NAME_PATTERN = re.compile(rb"[A-Za-z_][A-Za-z0-9_]*\Z")

# dtype whitelist: wire code <-> little-endian numpy dtype
DTYPE_CODES = {
    1: np.dtype("<c8"),  # complex64
    2: np.dtype("<c16"),  # complex128
    3: np.dtype("<f4"),  # float32
    4: np.dtype("<f8"),  # float64
    5: np.dtype("<i4"),  # int32
    6: np.dtype("<i8"),  # int64
}
_CODE_OF_DTYPE = {dtype: code for code, dtype in DTYPE_CODES.items()}

_COMMON = struct.Struct("<4sBBBBII")  # magic, version, type, array count, flags, total length, crc32
_CRC_OFFSET = 12  # byte offset of the CRC-32 field inside the common header
_ENTRY = struct.Struct("<BBBB")  # name length, dtype code, rank, reserved (0)
_TYPE_HEADERS = {
    # node id, reserved (0), frame number, precoder version, precoder id, tx ns, rx ns
    SNAPSHOT: struct.Struct("<IIQQQqq"),
    PRECODERS: struct.Struct("<QQ"),  # precoder version, precoder id
    ESTIMATE: struct.Struct("<QQQd"),  # frame number, precoder version, precoder id, residual energy
}
_TYPE_NAMES = {SNAPSHOT: "SNAPSHOT", PRECODERS: "PRECODERS", ESTIMATE: "ESTIMATE"}
_UINT32_MAX = (1 << 32) - 1
_UINT64_MAX = (1 << 64) - 1
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
MAX_COUNTER = _INT64_MAX  # frame numbers, versions and precoder ids: what a PMT long / int64 holds


class WireError(ValueError):
    """A message that cannot be encoded or decoded; the message says which field and why."""


# ---- message types ---------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class SnapshotMessage:
    """One node's received frequency-domain snapshot of one frame (node → central unit).

    snapshot: Y_{s,n} of shape (Mr, L, P), complex64 on the wire. extras: other named arrays.
    precoder_id: the identity of the precoder set that made the frame (core.precoder_identity; 0: the
    start-up set).
    """

    node_id: int
    frame_number: int
    precoder_version: int
    tx_time_ns: int
    rx_time_ns: int
    snapshot: np.ndarray
    extras: dict = dataclasses.field(default_factory=dict)
    precoder_id: int = 0


@dataclasses.dataclass(frozen=True)
class PrecoderMessage:
    """A precoder set for every node (beamformer server → nodes), eq. (1)'s W_{c,n} and W_{r,n}.

    comm_precoders (N, Mt, U) and radar_precoders (N, Mt, R) complex; version increases with each set
    (display only: a restarted server counts from 1 again); precoder_id is the set's identity, the
    content hash core.precoder_identity.precoder_set_id (computed when None; checked at decode).
    """

    version: int
    comm_precoders: np.ndarray
    radar_precoders: np.ndarray
    extras: dict = dataclasses.field(default_factory=dict)
    precoder_id: int = None

    def __post_init__(self):
        if self.precoder_id is None:
            try:
                object.__setattr__(self, "precoder_id", precoder_set_id(self.comm_precoders, self.radar_precoders))
            except (TypeError, ValueError):  # not arrays: encode names the problem
                pass


@dataclasses.dataclass(frozen=True)
class EstimateMessage:
    """One localised frame (central unit → consumers).

    positions_m (K, 2), crb_m2 (K,) position CRB per target, contributing_nodes (the receiving node ids
    whose snapshots were used), residual = concentrated-likelihood residual energy.
    """

    frame_number: int
    precoder_version: int
    positions_m: np.ndarray
    crb_m2: np.ndarray
    residual: float
    contributing_nodes: np.ndarray
    extras: dict = dataclasses.field(default_factory=dict)
    precoder_id: int = 0


# Each type's reserved array names: name -> (accepted dtypes, rank, encode dtype)
_COMPLEX = (np.dtype("<c8"), np.dtype("<c16"))
_FLOAT64 = (np.dtype("<f8"),)
_REQUIRED = {
    SNAPSHOT: {"Y": ((np.dtype("<c8"),), 3, np.dtype("<c8"))},
    PRECODERS: {"W_c": (_COMPLEX, 3, None), "W_r": (_COMPLEX, 3, None)},
    ESTIMATE: {"positions_m": (_FLOAT64, 2, np.dtype("<f8")), "crb_m2": (_FLOAT64, 1, np.dtype("<f8")),
               "nodes": ((np.dtype("<i4"),), 1, np.dtype("<i4"))},
}
_MUST_BE_FINITE = {SNAPSHOT: True, PRECODERS: True, ESTIMATE: False}


# ---- encoding --------------------------------------------------------------------------------------

def _check_int(field, value, low, high):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise WireError(f"{field} = {value!r}: expected a whole number from {low} to {high}")
    if not low <= int(value) <= high:
        raise WireError(f"{field} = {value!r}: expected a whole number from {low} to {high}")
    return int(value)


def _wire_array(name, value, dtype=None):
    """value as a C-ordered little-endian array of a whitelisted dtype (cast to dtype when given)."""
    arr = np.asarray(value)
    if dtype is not None:
        if arr.dtype.kind not in "biufc" or (arr.dtype.kind == "c" and dtype.kind != "c"):
            raise WireError(f"array {name!r} of dtype {arr.dtype}: cannot be sent as {dtype}")
        arr = arr.astype(dtype, copy=False)
    else:
        arr = arr.astype(arr.dtype.newbyteorder("<"), copy=False)
    if arr.dtype not in _CODE_OF_DTYPE:
        accepted = ", ".join(str(d) for d in DTYPE_CODES.values())
        raise WireError(f"array {name!r} of dtype {np.asarray(value).dtype}: accepted dtypes are {accepted}")
    return np.ascontiguousarray(arr)


def _check_array_limits(name, arr):
    if arr.ndim > MAX_RANK:
        raise WireError(f"array {name!r}: rank {arr.ndim} exceeds the limit {MAX_RANK}")
    if any(dim > MAX_DIMENSION for dim in arr.shape):
        raise WireError(f"array {name!r}: shape {arr.shape} has a dimension above {MAX_DIMENSION}")
    if arr.size > MAX_ELEMENTS:
        raise WireError(f"array {name!r}: {arr.size} elements exceed the limit {MAX_ELEMENTS}")


def _message_fields(message):
    """(type, type-header values, ordered dict of arrays) of a message object."""
    if isinstance(message, SnapshotMessage):
        mtype = SNAPSHOT
        values = (_check_int("node_id", message.node_id, 0, _UINT32_MAX), 0,
                  _check_int("frame_number", message.frame_number, 0, MAX_COUNTER),
                  _check_int("precoder_version", message.precoder_version, 0, MAX_COUNTER),
                  _check_int("precoder_id", message.precoder_id, 0, MAX_COUNTER),
                  _check_int("tx_time_ns", message.tx_time_ns, _INT64_MIN, _INT64_MAX),
                  _check_int("rx_time_ns", message.rx_time_ns, _INT64_MIN, _INT64_MAX))
        arrays = {"Y": message.snapshot}
    elif isinstance(message, PrecoderMessage):
        mtype = PRECODERS
        values = (_check_int("version", message.version, 0, MAX_COUNTER),
                  _check_int("precoder_id", message.precoder_id, 0, MAX_COUNTER))
        arrays = {"W_c": message.comm_precoders, "W_r": message.radar_precoders}
    elif isinstance(message, EstimateMessage):
        mtype = ESTIMATE
        try:
            residual = float(message.residual)
        except (TypeError, ValueError):
            raise WireError(f"residual = {message.residual!r}: expected a number") from None
        values = (_check_int("frame_number", message.frame_number, 0, MAX_COUNTER),
                  _check_int("precoder_version", message.precoder_version, 0, MAX_COUNTER),
                  _check_int("precoder_id", message.precoder_id, 0, MAX_COUNTER), residual)
        arrays = {"positions_m": message.positions_m, "crb_m2": message.crb_m2,
                  "nodes": message.contributing_nodes}
    else:
        raise WireError(f"cannot encode {type(message).__name__}: expected SnapshotMessage, "
                        "PrecoderMessage or EstimateMessage")
    if not isinstance(message.extras, dict):
        raise WireError(f"extras = {message.extras!r}: expected a dict of name -> array")
    for name, value in message.extras.items():
        if name in arrays:
            raise WireError(f"extras[{name!r}]: the name is reserved for this message type")
        arrays[name] = value
    return mtype, values, arrays


def encode(message):
    """The bytes of one message (SnapshotMessage, PrecoderMessage or EstimateMessage); WireError if invalid."""
    mtype, values, arrays = _message_fields(message)
    if len(arrays) > MAX_ARRAYS:
        raise WireError(f"{len(arrays)} arrays: the limit is {MAX_ARRAYS}")
    parts = [b"", _TYPE_HEADERS[mtype].pack(*values)]
    checked = {}
    for name, value in arrays.items():
        name_bytes = name.encode("ascii", "replace") if isinstance(name, str) else b""
        if not (isinstance(name, str) and len(name_bytes) <= MAX_NAME_BYTES and _NAME_PATTERN.match(name_bytes)):
            raise WireError(f"array name {name!r}: expected an identifier of at most {MAX_NAME_BYTES} ASCII characters")
        required = _REQUIRED[mtype].get(name)
        arr = _wire_array(name, value, required[2] if required else None)
        _check_array_limits(name, arr)
        parts.append(_ENTRY.pack(len(name_bytes), _CODE_OF_DTYPE[arr.dtype], arr.ndim, 0))
        parts.append(struct.pack(f"<{arr.ndim}I", *arr.shape))
        parts.append(name_bytes)
        parts.append(arr.tobytes())
        checked[name] = arr
    _validate(mtype, checked)
    if mtype == PRECODERS:
        _check_identity(values[1], checked)
    return frame_message(mtype, len(arrays), parts)


def frame_message(mtype, array_count, parts, magic=MAGIC, version=FORMAT_VERSION, max_bytes=MAX_MESSAGE_BYTES,
                  error=WireError):
    """The bytes of a message in this module's framing: the common header (magic, version, type, array count,
    flags 0, total length, CRC-32 over the whole message with its own field as zero) before the body ``parts``
    (bytes); ``error`` when the whole exceeds max_bytes. open_message reads it back."""
    total = _COMMON.size + sum(len(p) for p in parts)
    if total > max_bytes:
        raise error(f"message of {total} bytes: the limit is {max_bytes}")
    header = _COMMON.pack(magic, version, mtype, array_count, 0, total, 0)
    body = b"".join(parts)
    crc = zlib.crc32(body, zlib.crc32(header))
    return _COMMON.pack(magic, version, mtype, array_count, 0, total, crc) + body


# ---- decoding --------------------------------------------------------------------------------------

def _as_bytes_view(data):
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise WireError(f"message of type {type(data).__name__}: expected bytes")
    view = memoryview(data)
    if view.ndim != 1 or view.itemsize != 1 or not view.c_contiguous:
        raise WireError("message: expected a contiguous buffer of bytes")
    return view.cast("B") if view.format != "B" else view


def open_message(data, magic=MAGIC, version=FORMAT_VERSION, types=None, max_bytes=MAX_MESSAGE_BYTES,
                 what="a gr-disac message", error=WireError):
    """(view, type, array count) of a message in this module's framing (the common header: magic, version, type,
    array count, flags, total length, CRC-32 over the whole message with its own field as zero), every header
    field checked before anything is read; ``error`` (WireError, or a codec's own class: core.localise_tasks uses
    this framing for its own magic) with the reason for anything malformed. types: the accepted type codes
    (a dict code → name is shown in the message)."""
    try:
        view = _as_bytes_view(data)
    except WireError as exc:
        raise error(str(exc)) from None
    size = len(view)
    if size > max_bytes:
        raise error(f"message of {size} bytes: the limit is {max_bytes}")
    if size < _COMMON.size:
        raise error(f"message of {size} bytes: shorter than the {_COMMON.size}-byte header")
    got_magic, got_version, mtype, count, flags, total, crc = _COMMON.unpack_from(view, 0)
    if got_magic != magic:
        raise error(f"magic {bytes(got_magic)!r}: expected {magic!r} (not {what})")
    if got_version != version:
        raise error(f"format version {got_version}: this decoder reads version {version}")
    if mtype not in types:
        shown = sorted(types.items()) if isinstance(types, dict) else sorted(types)
        raise error(f"message type {mtype}: expected one of {shown}")
    if flags != 0:
        raise error(f"flags {flags:#x}: expected 0 in format version {version}")
    if total != size:
        raise error(f"declared length {total} bytes but {size} bytes received (truncated or padded)")
    computed = zlib.crc32(view[_COMMON.size:], zlib.crc32(bytes(view[:_CRC_OFFSET]) + b"\0\0\0\0"))
    if computed != crc:
        raise error(f"CRC-32 {crc:#010x} does not match the content ({computed:#010x}): corrupted message")
    if count > MAX_ARRAYS:
        raise error(f"{count} arrays declared: the limit is {MAX_ARRAYS}")
    return view, mtype, count


def decode(data):
    """A message object from bytes; raises WireError (with the reason) for anything malformed."""
    view, mtype, count = open_message(data, types=_TYPE_NAMES)
    size = len(view)
    type_header = _TYPE_HEADERS[mtype]
    offset = _COMMON.size
    if size - offset < type_header.size:
        raise WireError(f"{_TYPE_NAMES[mtype]} message: {size} bytes, too short for its header")
    values = type_header.unpack_from(view, offset)
    offset += type_header.size
    arrays = {}
    for index in range(count):
        name, arr, offset = _decode_array(view, offset, index)
        if name in arrays:
            raise WireError(f"array {name!r} appears twice")
        arrays[name] = arr
    if offset != size:
        raise WireError(f"{size - offset} unexpected bytes after the last array")
    _validate(mtype, arrays)
    return _build(mtype, values, arrays)


def _decode_array(view, offset, index):
    size = len(view)
    if size - offset < _ENTRY.size:
        raise WireError(f"array #{index}: message ends inside its entry header")
    name_len, code, rank, reserved = _ENTRY.unpack_from(view, offset)
    offset += _ENTRY.size
    if reserved != 0:
        raise WireError(f"array #{index}: reserved byte {reserved}, expected 0")
    if code not in DTYPE_CODES:
        raise WireError(f"array #{index}: dtype code {code}, accepted codes {sorted(DTYPE_CODES)}")
    if rank > MAX_RANK:
        raise WireError(f"array #{index}: rank {rank} exceeds the limit {MAX_RANK}")
    if not 1 <= name_len <= MAX_NAME_BYTES:
        raise WireError(f"array #{index}: name length {name_len}, expected 1 to {MAX_NAME_BYTES}")
    if size - offset < 4 * rank + name_len:
        raise WireError(f"array #{index}: message ends inside its shape or name")
    shape = struct.unpack_from(f"<{rank}I", view, offset)
    offset += 4 * rank
    name_bytes = bytes(view[offset:offset + name_len])
    offset += name_len
    if not _NAME_PATTERN.match(name_bytes):
        raise WireError(f"array #{index}: name {name_bytes!r} is not an ASCII identifier")
    name = name_bytes.decode("ascii")
    if any(dim > MAX_DIMENSION for dim in shape):
        raise WireError(f"array {name!r}: shape {shape} has a dimension above {MAX_DIMENSION}")
    elements = 1
    for dim in shape:
        elements *= dim  # Python ints: no overflow; every factor is bounded by MAX_DIMENSION
    if elements > MAX_ELEMENTS:
        raise WireError(f"array {name!r}: shape {shape} has {elements} elements, the limit is {MAX_ELEMENTS}")
    dtype = DTYPE_CODES[code]
    nbytes = elements * dtype.itemsize
    if nbytes > size - offset:
        raise WireError(f"array {name!r}: shape {shape} of {dtype} needs {nbytes} bytes, "
                        f"only {size - offset} remain in the message")
    arr = np.frombuffer(view, dtype=dtype, count=elements, offset=offset).reshape(shape).copy()
    return name, arr, offset + nbytes


def _validate(mtype, arrays):
    """Required arrays present with their dtype and rank; shapes consistent; finiteness policy."""
    for name, (dtypes, rank, _) in _REQUIRED[mtype].items():
        if name not in arrays:
            raise WireError(f"{_TYPE_NAMES[mtype]} message: required array {name!r} is missing")
        arr = arrays[name]
        if arr.dtype not in dtypes:
            raise WireError(f"array {name!r}: dtype {arr.dtype}, expected {' or '.join(map(str, dtypes))}")
        if arr.ndim != rank:
            raise WireError(f"array {name!r}: shape {arr.shape}, expected rank {rank}")
    if mtype == SNAPSHOT and 0 in arrays["Y"].shape:
        raise WireError(f"array 'Y': shape {arrays['Y'].shape}, expected (Mr, L, P) all ≥ 1")
    if mtype == PRECODERS:
        wc, wr = arrays["W_c"], arrays["W_r"]
        if wc.shape[:2] != wr.shape[:2] or 0 in wc.shape[:2]:
            raise WireError(f"W_c {wc.shape} and W_r {wr.shape}: expected (N, Mt, U) and (N, Mt, R) "
                            "with the same N ≥ 1 and Mt ≥ 1")
    if mtype == ESTIMATE:
        pos, crb = arrays["positions_m"], arrays["crb_m2"]
        if pos.shape[1] != 2 or crb.shape[0] != pos.shape[0]:
            raise WireError(f"positions_m {pos.shape} and crb_m2 {crb.shape}: expected (K, 2) and (K,)")
    if _MUST_BE_FINITE[mtype]:
        for name, arr in arrays.items():
            if arr.dtype.kind in "fc" and not np.all(np.isfinite(arr)):
                raise WireError(f"array {name!r}: contains NaN or Inf; "
                                f"{_TYPE_NAMES[mtype]} messages must be finite")


def _check_identity(precoder_id, arrays):
    try:
        verify_precoder_id(precoder_id, arrays["W_c"], arrays["W_r"])
    except PrecoderIdentityError as exc:
        raise WireError(f"PRECODERS message: {exc}") from None


def _check_counters(mtype, **fields):
    for name, value in fields.items():
        if value > MAX_COUNTER:
            raise WireError(f"{_TYPE_NAMES[mtype]} {name} = {value}: expected at most {MAX_COUNTER} (2^63 − 1)")


def _build(mtype, values, arrays):
    required = _REQUIRED[mtype]
    extras = {name: arr for name, arr in arrays.items() if name not in required}
    if mtype == SNAPSHOT:
        node_id, _reserved, frame, version, precoder_id, tx_ns, rx_ns = values
        if _reserved != 0:
            raise WireError(f"SNAPSHOT reserved field {_reserved}, expected 0")
        _check_counters(mtype, frame_number=frame, precoder_version=version, precoder_id=precoder_id)
        return SnapshotMessage(node_id, frame, version, tx_ns, rx_ns, arrays["Y"], extras, precoder_id)
    if mtype == PRECODERS:
        version, precoder_id = values
        _check_counters(mtype, version=version, precoder_id=precoder_id)
        _check_identity(precoder_id, arrays)
        return PrecoderMessage(version, arrays["W_c"], arrays["W_r"], extras, precoder_id)
    frame, version, precoder_id, residual = values
    _check_counters(mtype, frame_number=frame, precoder_version=version, precoder_id=precoder_id)
    return EstimateMessage(frame, version, arrays["positions_m"], arrays["crb_m2"], residual,
                           arrays["nodes"], extras, precoder_id)


def snapshot_message_bytes(rx_antennas, subcarriers, symbols, extra_bytes=0):
    """The size in bytes of a SNAPSHOT message of one (Mr, L, P) frame without extras (what snapshot_push
    sends), plus ``extra_bytes``: the largest message a central unit of that scenario needs to accept."""
    shape = (int(rx_antennas), int(subcarriers), int(symbols))
    data = shape[0] * shape[1] * shape[2] * DTYPE_CODES[1].itemsize
    return (_COMMON.size + _TYPE_HEADERS[SNAPSHOT].size + _ENTRY.size + 4 * len(shape) + len("Y") + data
            + int(extra_bytes))
