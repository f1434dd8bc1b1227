# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Many PMT dicts of one fixed layout, fast: a serialised template patched with numpy, then one
pmt.deserialize_str per message.

Building a 9-entry dict with pmt.dict_add costs ≈ 16–22 µs of Python (two pybind calls per entry) on the
benchmark machine, more than a whole 108-sample frame lasts at 10 MS/s; patching the values of every frame
of a call into copies of the serialised template (numpy, all frames at once) and deserialising each costs
≈ 2–5 µs per message. The result is the very PMT dict_add builds (pmt.equal, same order; qa_user_rx).

Values are encoded as pmt.serialize_str encodes them: "long" as a 32-bit integer (what from_long gives
for |v| < 2³¹; a value outside that range makes ``messages`` return None, and the caller builds those
messages the slow way), "uint64" as 64 bits, "double" as an IEEE double, all big-endian.
"""

import numpy as np
import pmt

_KINDS = {  # kind: (placeholder PMT, big-endian dtype of the serialised value)
    "long": (pmt.from_long(0), np.dtype(">i4")),
    "uint64": (pmt.from_uint64(0), np.dtype(">u8")),
    "double": (pmt.from_double(0.0), np.dtype(">f8")),
}
_INT32 = (-(1 << 31), (1 << 31) - 1)


class DictTemplate:
    """A PMT dict with the given (key, kind) entries, added in that order (as a dict_add chain would) to
    ``base`` (a constant PMT dict, default empty: its entries are the same in every message); with
    ``payload_c32`` = n > 0, a PDU instead: (that dict . c32vector of n elements), the payload given per
    message to ``messages``."""

    def __init__(self, entries, payload_c32=0, base=None):
        self.entries = [(str(key), kind) for key, kind in entries]
        self.payload_c32 = int(payload_c32)
        msg = pmt.make_dict() if base is None else base
        for key, kind in self.entries:
            if kind not in _KINDS:
                raise ValueError(f"kind {kind!r} of {key!r}: accepted: {', '.join(_KINDS)}")
            msg = pmt.dict_add(msg, pmt.intern(key), _KINDS[kind][0])
        if self.payload_c32:  # a uniform vector serialises last, its elements big-endian at the very end
            msg = pmt.cons(msg, pmt.make_c32vector(self.payload_c32, 0))
        self.template = np.frombuffer(pmt.serialize_str(msg), dtype=np.uint8)
        raw = self.template.tobytes()
        self._offsets = []
        for key, kind in self.entries:
            name = key.encode()
            # a symbol serialises as 0x02, a 16-bit length, the name; then the value's type byte, the value
            marker = b"\x02" + len(name).to_bytes(2, "big") + name
            at = raw.find(marker)
            if at < 0 or raw.find(marker, at + 1) >= 0:
                raise ValueError(f"key {key!r} not found once in the serialised template")
            self._offsets.append(at + len(marker) + 1)

    def messages(self, values, payloads=None):
        """One PMT dict (or PDU) per row: ``values`` maps each key to an array (F,); ``payloads`` (F, n)
        complex for a PDU template. None if a "long" does not fit in 32 bits (then the caller falls back
        to dict_add)."""
        columns = []
        rows = None
        for (key, kind), offset in zip(self.entries, self._offsets):
            column = np.asarray(values[key])
            rows = column.size if rows is None else rows
            if kind == "long" and column.size and (column.min() < _INT32[0] or column.max() > _INT32[1]):
                return None
            columns.append((offset, column.astype(_KINDS[kind][1]).reshape(-1, 1).view(np.uint8)))
        patched = np.tile(self.template, (rows, 1))
        for offset, column in columns:
            patched[:, offset:offset + column.shape[1]] = column
        if self.payload_c32:
            payloads = np.asarray(payloads).reshape(rows, self.payload_c32).astype(">c8")
            patched[:, patched.shape[1] - 8 * self.payload_c32:] = payloads.view(np.uint8)
        deserialize = pmt.deserialize_str
        return [deserialize(row.tobytes()) for row in patched]


def has_subscribers(block, port):
    """Whether anything is connected to message output ``port`` (a PMT symbol) of ``block`` now."""
    return pmt.length(block.message_subscribers(port)) > 0


# ---- frame tags in bulk ----------------------------------------------------------------------------
# Reading a frame tag's fields with pmt.tuple_ref / to_uint64 / to_long costs 7 pybind calls per tag (≈ 6.6 µs
# on the benchmark machine, longer than a 108-sample frame lasts at 20 MS/s); one pmt.serialize_str per tag and
# numpy over the joined bytes of all of a call's tags cost ≈ 2 µs per tag. pmt.serialize_str writes a tuple as
# 0x0c, its 32-bit length, then each element: a type byte and the value big-endian; integers are one of these.
_TUPLE = 0x0C
_INTEGERS = {0x03: np.dtype(">i4"), 0x0B: np.dtype(">u8"), 0x0D: np.dtype(">i8")}  # int32, uint64, int64


def tuple_integer_columns(values):
    """The integer fields of many PMT tuples of one layout, read in bulk: one array per field, np.uint64 for a
    uint64 field, np.int64 for the others; None when they do not share one serialised layout (tuples of
    integers only, the same length and types: the caller reads those the slow way)."""
    serialize = pmt.serialize_str
    strings = [serialize(value) for value in values]
    if not strings:
        return None
    first = strings[0]
    size = len(first)
    if size < 5 or first[0] != _TUPLE or any(len(s) != size for s in strings):
        return None
    count = int.from_bytes(first[1:5], "big")
    layout, at = [], 5
    for _ in range(count):  # the first tuple's element types and positions
        if at >= size or first[at] not in _INTEGERS:
            return None
        dtype = _INTEGERS[first[at]]
        layout.append((at, dtype))
        at += 1 + dtype.itemsize
    if at != size:
        return None
    raw = np.frombuffer(b"".join(strings), dtype=np.uint8).reshape(len(strings), size)
    if np.any(raw[:, :5] != raw[0, :5]):
        return None
    columns = []
    for at, dtype in layout:  # every tuple must hold the same types at the same places
        if np.any(raw[:, at] != raw[0, at]):
            return None
        column = np.ascontiguousarray(raw[:, at + 1:at + 1 + dtype.itemsize]).view(dtype).reshape(-1)
        columns.append(column.astype(np.uint64 if dtype == _INTEGERS[0x0B] else np.int64))
    return columns


def frame_tag_fields(values):
    """(frames: np.uint64, node ids, precoder versions, precoder set ids: np.int64) arrays of frame tag values
    (the tuples tags.frame_tag_value makes; a 3-element tag of before issue 11 has the start-up set's id), read
    in bulk when they share its layout, else one by one with tags.parse_frame_tag (the same numbers either way)."""
    from . import tags  # (tags does not import this module; imported here to keep the module's imports light)
    columns = tuple_integer_columns(values) if values else None
    if columns is not None and len(columns) in (3, 4) and columns[0].dtype == np.uint64 and \
            all(column.dtype == np.int64 for column in columns[1:]):
        ids = columns[3] if len(columns) == 4 else np.full(len(values), tags.START_SET_ID, dtype=np.int64)
        return columns[0], columns[1], columns[2], ids
    parsed = [tags.parse_frame_tag(value) + (tags.frame_tag_precoder_id(value),) for value in values]
    if not parsed:
        empty = np.zeros(0, dtype=np.int64)
        return np.zeros(0, dtype=np.uint64), empty, empty, empty
    frames, nodes, versions, ids = zip(*parsed)
    return (np.array(frames, dtype=np.uint64), np.array(nodes, dtype=np.int64), np.array(versions, dtype=np.int64),
            np.array(ids, dtype=np.int64))
