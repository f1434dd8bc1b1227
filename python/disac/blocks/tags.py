# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Stream tag keys, message ports and message keys of the gr-disac PHY blocks, and their PMT codecs.

Frame tags: every frame's first sample carries one tag ``FRAME_TAG_KEY`` on stream 0 whose value is the
PMT tuple (frame number: uint64, node id: long, precoder version: long, precoder id: long) — one tag per
frame keeps the per-frame cost low. The precoder id is the identity of the precoder set that made the frame
(core.precoder_identity: a content hash; 0 for the start-up set); a 3-element tuple (before issue 11)
reads as id 0. Synthetic channels forward the tags of one input (see each block).

Messages:
* precoder (into isac_tx, port ``PRECODER_PORT``): a PMT dict {"wc": c32vector Mt·U (row-major Mt × U),
  "wr": c32vector Mt·Mt (row-major), "version": int, optional "node": int (then only that node applies it),
  optional "precoder_id": int (the identity of the whole set the pair belongs to; without it, the identity
  of the set in which every node uses this pair, core.precoder_identity.broadcast_set_id)}.
* snapshot (out of node_rx, port ``SNAPSHOT_PORT``): a PDU (meta dict . c32vector): meta
  {"node_id", "frame", "precoder_version", "precoder_id", "shape": (Mr, L, P)}, payload Y_s,n in C order of
  (Mr, L, P).
  ``snapshot_from_pmt`` turns it back into a core Snapshot for serialising (e.g. over ZeroMQ).
  Batched (node_rx frames_per_message > 1): meta {"node_id", "frames": u64vector (F),
  "precoder_versions": s64vector (F), "precoder_ids": s64vector (F), "shape": (F, Mr, L, P)}, payload
  (F, Mr, L, P) in C order. A snapshot without "precoder_id(s)" reads as id 0 (the start-up set).
  ``snapshots_from_pmt`` decodes either kind into a list of Snapshots.
* user metrics (out of user_rx, port ``METRICS_PORT``): a dict per frame (see user_rx).

Radio time tags (gr-uhd's format): ``RX_TIME_KEY`` ("rx_time") on a receive stream's sample gives that
sample's time label as the PMT tuple (full seconds: uint64, fractional seconds: double in [0, 1)); a USRP
source puts one on every channel at the first sample and after every overflow, and so does the synthetic
radio (synthetic_radio_rx). ``TX_TIME_KEY`` ("tx_time", same value format) on a transmit stream's sample
asks a USRP sink to send it at that time (synthetic_radio_tx puts one at its first sample). Times are kept
as (whole seconds, fraction) pairs: a Unix time in one float64 resolves only ~0.2 µs, two samples at 10
MHz. A run with no wall-clock epoch labels its synthetic radios from ``SYNTHETIC_EPOCH_S``.
"""

import ctypes
import dataclasses
import math

import numpy as np
import pmt

from ..core.precoder_identity import MAX_PRECODER_ID, START_SET_ID, broadcast_set_id, check_precoder_id
from ..core.scenario import Scenario, load_scenario

FRAME_TAG_KEY = "disac_frame"
PRECODER_PORT = "precoder"
SNAPSHOT_PORT = "snapshot"
METRICS_PORT = "metrics"

KEY_WC = "wc"
KEY_WR = "wr"
KEY_VERSION = "version"
KEY_NODE = "node"
KEY_NODE_ID = "node_id"
KEY_FRAME = "frame"
KEY_PRECODER_VERSION = "precoder_version"
KEY_SHAPE = "shape"
KEY_FRAMES = "frames"  # batched snapshots: frame numbers (u64vector)
KEY_PRECODER_VERSIONS = "precoder_versions"  # batched snapshots: precoder versions (s64vector)
KEY_PRECODER_ID = "precoder_id"  # precoder messages and snapshots: the set's identity (long)
KEY_PRECODER_IDS = "precoder_ids"  # batched snapshots: precoder ids (s64vector)
KEY_USER = "user"

RX_TIME_KEY = "rx_time"  # gr-uhd's receive time tag
TX_TIME_KEY = "tx_time"  # gr-uhd's transmit time tag
# The virtual epoch (whole Unix seconds: 2026-01-01T00:00:00Z) of a synthetic run that has no wall-clock
# epoch: its radios label sample j of frame-schedule time epoch + j/fs from here. Large on purpose, so that
# the labels exercise the (seconds, fraction) arithmetic as a real Unix time does.
SYNTHETIC_EPOCH_S = 1767225600

_FRAME_TAG_PMT = pmt.intern(FRAME_TAG_KEY)
_RX_TIME_PMT = pmt.intern(RX_TIME_KEY)
_TX_TIME_PMT = pmt.intern(TX_TIME_KEY)


def frame_tag_key():
    return _FRAME_TAG_PMT


def as_scenario(value):
    """A Scenario from a Scenario, a preset name or a TOML path (what a GRC string parameter gives)."""
    return value if isinstance(value, Scenario) else load_scenario(value)


# ---- frame tags --------------------------------------------------------------------------------

def frame_tag_value(frame, node_id, precoder_version, precoder_id=START_SET_ID):
    return pmt.make_tuple(pmt.from_uint64(int(frame)), pmt.from_long(int(node_id)), pmt.from_long(int(precoder_version)),
                          pmt.from_long(int(precoder_id)))


def frame_tag_values(frames, node_id, precoder_version, precoder_id=START_SET_ID):
    """The frame tag values of consecutive frames of one node and precoder set (a list of PMTs).

    Same values as frame_tag_value; the node id, version and id PMTs are made once (a tag costs ≈ 1.2 µs
    instead of 2.2 µs, which matters at one tag per 108-sample frame).
    """
    node, version = pmt.from_long(int(node_id)), pmt.from_long(int(precoder_version))
    identity = pmt.from_long(int(precoder_id))
    make_tuple, from_uint64 = pmt.make_tuple, pmt.from_uint64
    return [make_tuple(from_uint64(frame), node, version, identity) for frame in np.asarray(frames).tolist()]


def parse_frame_tag(value):
    """(frame, node id, precoder version) from a frame tag value (frame_tag_precoder_id: its set's id)."""
    return (pmt.to_uint64(pmt.tuple_ref(value, 0)), pmt.to_long(pmt.tuple_ref(value, 1)),
            pmt.to_long(pmt.tuple_ref(value, 2)))


def frame_tag_precoder_id(value):
    """The precoder set identity of a frame tag value (START_SET_ID for a 3-element tag of before issue 11)."""
    return pmt.to_long(pmt.tuple_ref(value, 3)) if pmt.length(value) > 3 else START_SET_ID


# ---- radio time tags (gr-uhd format) -------------------------------------------------------------

def rx_time_key():
    return _RX_TIME_PMT


def tx_time_key():
    return _TX_TIME_PMT


def split_seconds(seconds, frac_s=0.0):
    """(whole seconds: int, fraction: float in [0, 1)) of ``seconds`` + ``frac_s``.

    ``seconds`` may be an int (kept exact), a float (split at its floor, as UHD's time_spec does) or a
    (whole, fraction) pair. ValueError for a value that is not finite."""
    if isinstance(seconds, (tuple, list)) and len(seconds) == 2:
        seconds, frac_s = seconds[0], float(seconds[1]) + float(frac_s)
    if isinstance(seconds, (bool, np.bool_)) or not np.isfinite(float(seconds)) or not np.isfinite(float(frac_s)):
        raise ValueError(f"time {seconds!r} + {frac_s!r} s: accepted: finite seconds (an int, a float or a "
                         "(whole, fraction) pair)")
    if isinstance(seconds, (int, np.integer)):
        whole, frac = int(seconds), 0.0
    else:
        whole = math.floor(float(seconds))
        frac = float(seconds) - whole
    extra = math.floor(float(frac_s))
    whole, frac = whole + extra, frac + (float(frac_s) - extra)
    if frac >= 1.0:
        whole, frac = whole + 1, frac - 1.0
    return whole, frac


def label_time(epoch, samples, sample_rate_hz):
    """The time label (whole s, fraction) of the sample ``samples`` (an integer, may be negative) after
    ``epoch`` (a (whole, fraction) pair) at ``sample_rate_hz``: epoch + samples/fs, seconds kept apart from
    the fraction (exact for an integer rate: the whole seconds come from an integer division)."""
    whole, frac = epoch
    samples = int(samples)
    rate = float(sample_rate_hz)
    if rate.is_integer():
        seconds, rest = divmod(samples, int(rate))
        return split_seconds(int(whole) + seconds, float(frac) + rest / rate)
    offset = samples / rate
    seconds = math.floor(offset)
    return split_seconds(int(whole) + seconds, float(frac) + (offset - seconds))


def samples_since(epoch, label, sample_rate_hz):
    """(n, residual): the sample index n (an int) whose label is ``label`` after ``epoch`` (both (whole,
    fraction) pairs) at ``sample_rate_hz`` — the nearest one — and how far from n the label is (samples).
    The inverse of label_time: samples_since(e, label_time(e, n, fs), fs) = (n, ~0)."""
    rate = float(sample_rate_hz)
    whole = int(label[0]) - int(epoch[0])
    frac = (float(label[1]) - float(epoch[1])) * rate
    if rate.is_integer():  # whole seconds × rate exactly in integers, the rounding only on the fraction
        nearest = round(frac)
        return whole * int(rate) + int(nearest), frac - nearest
    exact = whole * rate + frac
    nearest = round(exact)
    return int(nearest), exact - nearest


def rx_time_value(label):
    """The gr-uhd time tag value of a (whole s, fraction) label: PMT tuple (uint64, double)."""
    whole, frac = label
    if int(whole) < 0 or not 0.0 <= float(frac) < 1.0:
        raise ValueError(f"time label ({whole!r}, {frac!r}): accepted: whole seconds ≥ 0 and a fraction in [0, 1)")
    return pmt.make_tuple(pmt.from_uint64(int(whole)), pmt.from_double(float(frac)))


def parse_rx_time(value):
    """(whole s: int, fraction: float) from a gr-uhd rx_time/tx_time tag value; ValueError naming it when it
    is not a PMT tuple (integer ≥ 0, real in [0, 1)). Tags come from radios: never trusted."""
    if pmt.is_tuple(value) and pmt.length(value) == 2:
        whole, frac = pmt.tuple_ref(value, 0), pmt.tuple_ref(value, 1)
        try:
            seconds = pmt.to_uint64(whole) if pmt.is_uint64(whole) else pmt.to_long(whole)
            fraction = pmt.to_double(frac)
        except (RuntimeError, TypeError, ValueError):
            seconds, fraction = -1, math.nan
        if seconds >= 0 and np.isfinite(fraction) and 0.0 <= fraction < 1.0:
            return int(seconds), float(fraction)
    raise ValueError(f"rx_time {pmt.write_string(value)[:60]!r}: accepted: a PMT tuple (uint64 full seconds, "
                     "double fractional seconds in [0, 1)), gr-uhd's format")


# ---- fast uniform vectors <-> numpy -------------------------------------------------------------
# pmt.init_c32vector converts element by element (~90 ns each), a serialised round trip ~19 ns each. The
# PMT's own storage is reachable through the capsule of pmt.uniform_vector_(writable_)elements, as GNU
# Radio's gr/gateway.py reaches its buffers: copying through it costs ~1 ns per element (measured here:
# 16384 samples 474 µs → 19 µs), which is what makes batched snapshot messages cheap.

_capsule_pointer = ctypes.pythonapi.PyCapsule_GetPointer
_capsule_pointer.restype = ctypes.c_void_p
_capsule_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]

_UNIFORM = {  # dtype -> (make_…vector, is_…vector)
    np.dtype(np.complex64): (pmt.make_c32vector, pmt.is_c32vector),
    np.dtype(np.uint64): (pmt.make_u64vector, pmt.is_u64vector),
    np.dtype(np.int64): (pmt.make_s64vector, pmt.is_s64vector),
}


def _view(vector, nbytes, dtype, writable):
    """A numpy view of a uniform vector's storage (valid while ``vector`` lives)."""
    elements = pmt.uniform_vector_writable_elements if writable else pmt.uniform_vector_elements
    address = _capsule_pointer(elements(vector, 0), None)
    return np.frombuffer((ctypes.c_char * nbytes).from_address(address), dtype=dtype)


def uniform_vector_from_array(array, dtype):
    """A PMT uniform vector (c32, u64 or s64 by ``dtype``) holding ``array`` flattened in C order."""
    dtype = np.dtype(dtype)
    flat = np.asarray(array).reshape(-1)
    vector = _UNIFORM[dtype][0](flat.size, 0)
    if flat.size:
        _view(vector, flat.size * dtype.itemsize, dtype, writable=True)[:] = flat
    return vector


def array_from_uniform_vector(vector, dtype):
    """A numpy array (a copy) of a PMT uniform vector of ``dtype``; ValueError if it is another kind."""
    dtype = np.dtype(dtype)
    if not _UNIFORM[dtype][1](vector):
        raise ValueError(f"expected a PMT vector of {dtype}, got {pmt.write_string(vector)[:60]!r}")
    length = pmt.length(vector)
    if length == 0:
        return np.zeros(0, dtype)
    return _view(vector, length * dtype.itemsize, dtype, writable=False).copy()


def c32vector_from_array(array):
    """A PMT c32vector holding ``array`` (flattened in C order)."""
    return uniform_vector_from_array(array, np.complex64)


def array_from_c32vector(vector):
    """A complex64 numpy array from a PMT c32vector."""
    if not pmt.is_c32vector(vector):
        raise ValueError(f"expected a c32vector PMT, got {pmt.write_string(vector)[:60]!r}")
    return array_from_uniform_vector(vector, np.complex64)


# ---- precoder messages -------------------------------------------------------------------------

def precoder_to_pmt(wc, wr, version, node=None, precoder_id=None):
    """The precoder message of isac_tx: W_c (Mt × U), W_r (Mt × Mt), integer version, optional node id and
    optional precoder_id (the identity of the whole set this pair belongs to, core.precoder_identity)."""
    msg = pmt.make_dict()
    msg = pmt.dict_add(msg, pmt.intern(KEY_WC), c32vector_from_array(np.asarray(wc)))
    msg = pmt.dict_add(msg, pmt.intern(KEY_WR), c32vector_from_array(np.asarray(wr)))
    msg = pmt.dict_add(msg, pmt.intern(KEY_VERSION), pmt.from_long(int(version)))
    if node is not None:
        msg = pmt.dict_add(msg, pmt.intern(KEY_NODE), pmt.from_long(int(node)))
    if precoder_id is not None:
        msg = pmt.dict_add(msg, pmt.intern(KEY_PRECODER_ID), pmt.from_long(check_precoder_id(precoder_id)))
    return msg


def precoder_id_from_pmt(msg, wc, wr, num_nodes):
    """The identity of the set a checked precoder message (precoder_from_pmt's wc, wr) belongs to: its
    "precoder_id" entry (0 … 2^63 − 1), else the identity of the set in which every node uses this pair.
    ValueError naming a bad entry."""
    value = pmt.dict_ref(msg, pmt.intern(KEY_PRECODER_ID), pmt.PMT_NIL)
    if pmt.is_null(value):
        return broadcast_set_id(wc, wr, num_nodes)
    if not pmt.is_integer(value):
        raise ValueError(f"precoder_id {pmt.write_string(value)[:60]!r}: accepted: an integer 0 … {MAX_PRECODER_ID}")
    return check_precoder_id(pmt.to_long(value))


def precoder_from_pmt(msg, tx_antennas, num_users):
    """(W_c, W_r, version, node or None) from a precoder message; ValueError saying what is wrong."""
    if not pmt.is_dict(msg):
        raise ValueError(f"precoder message is not a PMT dict: {pmt.write_string(msg)[:80]!r}")
    fields = {}
    for key in (KEY_WC, KEY_WR, KEY_VERSION):
        value = pmt.dict_ref(msg, pmt.intern(key), pmt.PMT_NIL)
        if pmt.is_null(value):
            raise ValueError(f"precoder message has no {key!r} entry; accepted keys: wc, wr, version, node")
        fields[key] = value
    if not pmt.is_integer(fields[KEY_VERSION]):
        raise ValueError(f"precoder version {pmt.write_string(fields[KEY_VERSION])!r}: accepted: an integer")
    shapes = {KEY_WC: (tx_antennas, num_users), KEY_WR: (tx_antennas, tx_antennas)}
    arrays = {}
    for key, shape in shapes.items():
        if not pmt.is_c32vector(fields[key]):
            raise ValueError(f"precoder {key!r} is not a c32vector")
        flat = array_from_c32vector(fields[key])
        if flat.size != shape[0] * shape[1]:
            raise ValueError(f"precoder {key!r} has {flat.size} entries: accepted: {shape[0]}×{shape[1]} = "
                             f"{shape[0] * shape[1]} (row-major)")
        arrays[key] = flat.reshape(shape).astype(np.complex128)
    node = pmt.dict_ref(msg, pmt.intern(KEY_NODE), pmt.PMT_NIL)
    if not pmt.is_null(node) and not pmt.is_integer(node):
        raise ValueError(f"precoder node {pmt.write_string(node)[:60]!r}: accepted: an integer node id")
    node = None if pmt.is_null(node) else pmt.to_long(node)
    return arrays[KEY_WC], arrays[KEY_WR], pmt.to_long(fields[KEY_VERSION]), node


# ---- snapshots ---------------------------------------------------------------------------------

@dataclasses.dataclass
class Snapshot:
    """One node's frequency-domain snapshot Y_s,n (Mr, L, P) of one frame, with its identifiers."""

    node_id: int
    frame: int
    precoder_version: int
    samples: np.ndarray  # complex64 (Mr, L, P)
    precoder_id: int = START_SET_ID  # the identity of the set that made the frame


def snapshot_meta(node_id, shape):
    """The constant part of a node's snapshot metadata (frame and version are added per frame)."""
    meta = pmt.make_dict()
    meta = pmt.dict_add(meta, pmt.intern(KEY_NODE_ID), pmt.from_long(int(node_id)))
    return pmt.dict_add(meta, pmt.intern(KEY_SHAPE), pmt.make_tuple(*[pmt.from_long(int(s)) for s in shape]))


_KEY_FRAME_PMT = pmt.intern(KEY_FRAME)
_KEY_VERSION_PMT = pmt.intern(KEY_PRECODER_VERSION)
_KEY_FRAMES_PMT = pmt.intern(KEY_FRAMES)
_KEY_VERSIONS_PMT = pmt.intern(KEY_PRECODER_VERSIONS)
_KEY_SHAPE_PMT = pmt.intern(KEY_SHAPE)
_KEY_NODE_ID_PMT = pmt.intern(KEY_NODE_ID)
_KEY_ID_PMT = pmt.intern(KEY_PRECODER_ID)
_KEY_IDS_PMT = pmt.intern(KEY_PRECODER_IDS)


def snapshot_to_pmt(base_meta, frame, precoder_version, samples, precoder_id=START_SET_ID):
    """The snapshot PDU: (meta dict . c32vector of samples in C order)."""
    meta = pmt.dict_add(base_meta, _KEY_FRAME_PMT, pmt.from_uint64(int(frame)))
    meta = pmt.dict_add(meta, _KEY_VERSION_PMT, pmt.from_long(int(precoder_version)))
    meta = pmt.dict_add(meta, _KEY_ID_PMT, pmt.from_long(int(precoder_id)))
    return pmt.cons(meta, c32vector_from_array(samples))


def snapshot_batch_to_pmt(base_meta, frames, precoder_versions, samples, precoder_ids=None):
    """The batched snapshot PDU of F consecutive frames of one node: (meta dict . c32vector).

    meta = base_meta (node_id; its "shape" is replaced by (F, Mr, L, P)) plus "frames" (u64vector, F) and
    "precoder_versions" (s64vector, F) and "precoder_ids" (s64vector, F; None: every frame START_SET_ID);
    payload: samples (F, Mr, L, P) in C order. One message instead of F costs ~30 µs instead of F·10 µs
    (node_rx frames_per_message).
    """
    samples = np.asarray(samples)
    meta = pmt.dict_add(base_meta, _KEY_SHAPE_PMT, pmt.make_tuple(*[pmt.from_long(int(n)) for n in samples.shape]))
    frames = np.asarray(frames, dtype=np.uint64)
    meta = pmt.dict_add(meta, _KEY_FRAMES_PMT, uniform_vector_from_array(frames, np.uint64))
    meta = pmt.dict_add(meta, _KEY_VERSIONS_PMT,
                        uniform_vector_from_array(np.asarray(precoder_versions, dtype=np.int64), np.int64))
    ids = np.zeros(frames.size, np.int64) if precoder_ids is None else np.asarray(precoder_ids, dtype=np.int64)
    meta = pmt.dict_add(meta, _KEY_IDS_PMT, uniform_vector_from_array(ids, np.int64))
    return pmt.cons(meta, c32vector_from_array(samples))


def _shape_and_samples(msg):
    if not pmt.is_pair(msg) or not pmt.is_dict(pmt.car(msg)):
        raise ValueError("snapshot message is not a PDU (meta dict . c32vector)")
    meta = pmt.car(msg)
    shape_pmt = pmt.dict_ref(meta, _KEY_SHAPE_PMT, pmt.PMT_NIL)
    if not pmt.is_tuple(shape_pmt):
        raise ValueError(f"snapshot meta 'shape' is {pmt.write_string(shape_pmt)[:60]!r}: accepted: a tuple of sizes")
    shape = tuple(pmt.to_long(pmt.tuple_ref(shape_pmt, i)) for i in range(pmt.length(shape_pmt)))
    samples = array_from_c32vector(pmt.cdr(msg))
    if samples.size != int(np.prod(shape)):
        raise ValueError(f"snapshot payload has {samples.size} samples, shape {shape} needs {int(np.prod(shape))}")
    return meta, samples.reshape(shape)


def is_snapshot_batch(msg):
    """True for a batched snapshot PDU (snapshot_batch_to_pmt), False otherwise."""
    return pmt.is_pair(msg) and pmt.is_dict(pmt.car(msg)) and pmt.dict_has_key(pmt.car(msg), _KEY_FRAMES_PMT)


def snapshot_from_pmt(msg):
    """A Snapshot from a node_rx single-frame snapshot PDU; ValueError if the PDU is malformed or a batch
    (decode those with snapshots_from_pmt)."""
    if is_snapshot_batch(msg):
        raise ValueError("snapshot message is a batch of frames (node_rx frames_per_message > 1): "
                         "decode it with tags.snapshots_from_pmt")
    meta, samples = _shape_and_samples(msg)
    identity = pmt.dict_ref(meta, _KEY_ID_PMT, pmt.PMT_NIL)
    return Snapshot(
        node_id=pmt.to_long(pmt.dict_ref(meta, _KEY_NODE_ID_PMT, pmt.PMT_NIL)),
        frame=pmt.to_uint64(pmt.dict_ref(meta, _KEY_FRAME_PMT, pmt.PMT_NIL)),
        precoder_version=pmt.to_long(pmt.dict_ref(meta, _KEY_VERSION_PMT, pmt.PMT_NIL)),
        samples=samples, precoder_id=START_SET_ID if pmt.is_null(identity) else pmt.to_long(identity))


def snapshots_from_pmt(msg):
    """The Snapshots of a node_rx snapshot PDU, single-frame or batched, in frame order (a list).

    For a batch, each Snapshot's samples are a (Mr, L, P) view of the batch's one array.
    ValueError if the PDU is malformed.
    """
    if not is_snapshot_batch(msg):
        return [snapshot_from_pmt(msg)]
    meta, samples = _shape_and_samples(msg)
    frames = array_from_uniform_vector(pmt.dict_ref(meta, _KEY_FRAMES_PMT, pmt.PMT_NIL), np.uint64)
    versions = array_from_uniform_vector(pmt.dict_ref(meta, _KEY_VERSIONS_PMT, pmt.PMT_NIL), np.int64)
    ids_pmt = pmt.dict_ref(meta, _KEY_IDS_PMT, pmt.PMT_NIL)
    ids = np.zeros(versions.size, np.int64) if pmt.is_null(ids_pmt) else array_from_uniform_vector(ids_pmt, np.int64)
    if samples.ndim != 4 or not samples.shape[0] == frames.size == versions.size == ids.size:
        raise ValueError(f"snapshot batch of shape {samples.shape} with {frames.size} frame numbers, "
                         f"{versions.size} precoder versions and {ids.size} precoder ids: accepted: (F, Mr, L, P) "
                         "with F of each")
    node_id = pmt.to_long(pmt.dict_ref(meta, _KEY_NODE_ID_PMT, pmt.PMT_NIL))
    return [Snapshot(node_id=node_id, frame=int(frame), precoder_version=int(version), samples=block,
                     precoder_id=int(identity))
            for frame, version, identity, block in zip(frames.tolist(), versions.tolist(), ids.tolist(), samples)]


def check_sizes(scenario, **given):
    """GRC needs port counts before a block exists, so GRC passes them too: each non-zero given size
    (num_nodes, tx_antennas, rx_antennas, num_users) must equal the scenario's, else a ValueError."""
    for name, value in given.items():
        actual = getattr(scenario, name)
        if value and int(value) != actual:
            raise ValueError(f"{name} = {value!r} does not match scenario {scenario.name!r} ({name} = {actual}); "
                             f"accepted: {actual} or 0 (take it from the scenario)")
