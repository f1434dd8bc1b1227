"""Stream tag keys, message ports and message keys of the gr-disac PHY blocks, and their PMT codecs.

Frame tags: every frame's first sample carries one tag ``FRAME_TAG_KEY`` on stream 0 whose value is the
PMT tuple (frame number: uint64, node id: long, precoder version: long) — one tag per frame keeps the
per-frame cost low. Synthetic channels forward the tags of one input (see each block).

Messages:
* precoder (into isac_tx, port ``PRECODER_PORT``): a PMT dict {"wc": c32vector Mt·U (row-major Mt × U),
  "wr": c32vector Mt·Mt (row-major), "version": int, optional "node": int (then only that node applies it)}.
* snapshot (out of node_rx, port ``SNAPSHOT_PORT``): a PDU (meta dict . c32vector): meta
  {"node_id", "frame", "precoder_version", "shape": (Mr, L, P)}, payload Y_s,n in C order of (Mr, L, P).
  ``snapshot_from_pmt`` turns it back into a core Snapshot for serialising (e.g. over ZeroMQ).
* user metrics (out of user_rx, port ``METRICS_PORT``): a dict per frame (see user_rx).
"""

import dataclasses
import functools

import numpy as np
import pmt

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
KEY_USER = "user"

_FRAME_TAG_PMT = pmt.intern(FRAME_TAG_KEY)


def frame_tag_key():
    return _FRAME_TAG_PMT


def as_scenario(value):
    """A Scenario from a Scenario, a preset name or a TOML path (what a GRC string parameter gives)."""
    return value if isinstance(value, Scenario) else load_scenario(value)


# ---- frame tags --------------------------------------------------------------------------------

def frame_tag_value(frame, node_id, precoder_version):
    return pmt.make_tuple(pmt.from_uint64(int(frame)), pmt.from_long(int(node_id)), pmt.from_long(int(precoder_version)))


def parse_frame_tag(value):
    """(frame, node id, precoder version) from a frame tag value."""
    return (pmt.to_uint64(pmt.tuple_ref(value, 0)), pmt.to_long(pmt.tuple_ref(value, 1)),
            pmt.to_long(pmt.tuple_ref(value, 2)))


# ---- fast c32vector <-> numpy ------------------------------------------------------------------
# pmt.init_c32vector converts element by element (~75 ns each); building the serialised form with numpy
# and deserialising it is ~3x faster for a snapshot, which matters at one message per frame.

@functools.lru_cache(maxsize=64)
def _c32_header(length):
    ser = pmt.serialize_str(pmt.init_c32vector(length, np.zeros(length, np.complex64)))
    return ser[:len(ser) - 8 * length]


def c32vector_from_array(array):
    """A PMT c32vector holding ``array`` (flattened in C order)."""
    flat = np.ascontiguousarray(array, dtype=">c8").reshape(-1)
    return pmt.deserialize_str(_c32_header(flat.size) + flat.tobytes())


def array_from_c32vector(vector):
    """A complex64 numpy array from a PMT c32vector."""
    if not pmt.is_c32vector(vector):
        raise ValueError(f"expected a c32vector PMT, got {pmt.write_string(vector)[:60]!r}")
    length = pmt.length(vector)
    ser = pmt.serialize_str(vector)
    return np.frombuffer(ser[len(_c32_header(length)):], dtype=">c8").astype(np.complex64)


# ---- precoder messages -------------------------------------------------------------------------

def precoder_to_pmt(wc, wr, version, node=None):
    """The precoder message of isac_tx: W_c (Mt × U), W_r (Mt × Mt), integer version, optional node id."""
    msg = pmt.make_dict()
    msg = pmt.dict_add(msg, pmt.intern(KEY_WC), c32vector_from_array(np.asarray(wc)))
    msg = pmt.dict_add(msg, pmt.intern(KEY_WR), c32vector_from_array(np.asarray(wr)))
    msg = pmt.dict_add(msg, pmt.intern(KEY_VERSION), pmt.from_long(int(version)))
    if node is not None:
        msg = pmt.dict_add(msg, pmt.intern(KEY_NODE), pmt.from_long(int(node)))
    return msg


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


def snapshot_meta(node_id, shape):
    """The constant part of a node's snapshot metadata (frame and version are added per frame)."""
    meta = pmt.make_dict()
    meta = pmt.dict_add(meta, pmt.intern(KEY_NODE_ID), pmt.from_long(int(node_id)))
    return pmt.dict_add(meta, pmt.intern(KEY_SHAPE), pmt.make_tuple(*[pmt.from_long(int(s)) for s in shape]))


_KEY_FRAME_PMT = pmt.intern(KEY_FRAME)
_KEY_VERSION_PMT = pmt.intern(KEY_PRECODER_VERSION)


def snapshot_to_pmt(base_meta, frame, precoder_version, samples):
    """The snapshot PDU: (meta dict . c32vector of samples in C order)."""
    meta = pmt.dict_add(base_meta, _KEY_FRAME_PMT, pmt.from_uint64(int(frame)))
    meta = pmt.dict_add(meta, _KEY_VERSION_PMT, pmt.from_long(int(precoder_version)))
    return pmt.cons(meta, c32vector_from_array(samples))


def snapshot_from_pmt(msg):
    """A Snapshot from a node_rx snapshot PDU; ValueError if the PDU is malformed."""
    if not pmt.is_pair(msg) or not pmt.is_dict(pmt.car(msg)):
        raise ValueError("snapshot message is not a PDU (meta dict . c32vector)")
    meta = pmt.car(msg)
    shape_pmt = pmt.dict_ref(meta, pmt.intern(KEY_SHAPE), pmt.PMT_NIL)
    shape = tuple(pmt.to_long(pmt.tuple_ref(shape_pmt, i)) for i in range(pmt.length(shape_pmt)))
    samples = array_from_c32vector(pmt.cdr(msg))
    if samples.size != int(np.prod(shape)):
        raise ValueError(f"snapshot payload has {samples.size} samples, shape {shape} needs {int(np.prod(shape))}")
    return Snapshot(
        node_id=pmt.to_long(pmt.dict_ref(meta, pmt.intern(KEY_NODE_ID), pmt.PMT_NIL)),
        frame=pmt.to_uint64(pmt.dict_ref(meta, _KEY_FRAME_PMT, pmt.PMT_NIL)),
        precoder_version=pmt.to_long(pmt.dict_ref(meta, _KEY_VERSION_PMT, pmt.PMT_NIL)),
        samples=samples.reshape(shape))


def check_sizes(scenario, **given):
    """GRC needs port counts before a block exists, so GRC passes them too: each non-zero given size
    (num_nodes, tx_antennas, rx_antennas, num_users) must equal the scenario's, else a ValueError."""
    for name, value in given.items():
        actual = getattr(scenario, name)
        if value and int(value) != actual:
            raise ValueError(f"{name} = {value!r} does not match scenario {scenario.name!r} ({name} = {actual}); "
                             f"accepted: {actual} or 0 (take it from the scenario)")
