# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""The identity of a precoder set: one 63-bit integer computed from the set's content.

A precoder set is every node's (W_c,n, W_r,n) of eq. (1). Frames carry the identity of the set that made
them (isac_tx's frame tags → node_rx's snapshots → the wire), and the central unit regenerates a frame's
X_m with exactly the set of that identity, or skips the frame (DESIGN.md §8). The human-readable
``version`` counter of the beamformer server stays alongside for display, but it is not an identity: a
restarted server numbers its sets from 1 again.

The identity is the first 63 bits of SHA-256 over a canonical encoding of the whole set:

    b"gr-disac precoder set 1\\0", then for W_c and then W_r: its rank and shape (uint32 little-endian
    each), then its values as complex64 little-endian in C order, a negative zero written as +0 (it
    makes the same frames, and a round trip through text or arithmetic may flip its sign)

so that it fits a PMT long, an int64 and a uint64 wire field alike. Two sets with the same identity
have the same complex64 values (the precision the transmitters use), hence make the same frames: no
restart, version counter or peer can make the central unit localise a frame with other precoders than
the ones that made it. A chance collision needs ~2^31 distinct sets.

Identity 0 is never a content hash: it names the *start-up set*, the precoders every process of a system
is given at start (``--precoders``, a file or the blocks' ``wc``/``wr`` parameters), which the transmitters
use before any set arrives. The central unit knows that set from its own start-up parameters.
"""

import hashlib
import struct

import numpy as np

START_SET_ID = 0  # the precoders given at start (not a content hash)
MAX_PRECODER_ID = (1 << 63) - 1  # fits a PMT long / int64
_DOMAIN = b"gr-disac precoder set 1\0"


class PrecoderIdentityError(ValueError):
    """A precoder set whose stated identity does not match its content (or is out of range)."""


def _canonical(array, name):
    arr = np.asarray(array)
    if arr.dtype.kind not in "biufc":
        raise PrecoderIdentityError(f"{name} of dtype {arr.dtype}: expected complex numbers")
    arr = np.ascontiguousarray(arr, dtype="<c8") + np.complex64(0)  # −0 written as +0: the same frames
    return struct.pack(f"<I{arr.ndim}I", arr.ndim, *arr.shape) + arr.tobytes()


def precoder_set_id(comm_precoders, radar_precoders):
    """The identity (1 … 2^63 − 1) of a set W_c (N, Mt, U), W_r (N, Mt, R): see the module docstring."""
    digest = hashlib.sha256(_DOMAIN + _canonical(comm_precoders, "W_c") + _canonical(radar_precoders, "W_r"))
    value = int.from_bytes(digest.digest()[:8], "little") & MAX_PRECODER_ID
    return value or 1  # 0 is START_SET_ID


def broadcast_set_id(node_comm, node_radar, num_nodes):
    """The identity of the set in which every one of num_nodes nodes uses this (W_c (Mt, U), W_r (Mt, R))."""
    wc, wr = np.asarray(node_comm), np.asarray(node_radar)
    return precoder_set_id(np.broadcast_to(wc, (int(num_nodes),) + wc.shape),
                           np.broadcast_to(wr, (int(num_nodes),) + wr.shape))


def check_precoder_id(value, name="precoder_id"):
    """value as an int in 0 … 2^63 − 1, or PrecoderIdentityError naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= int(value) <= MAX_PRECODER_ID:
        raise PrecoderIdentityError(f"{name} = {value!r}: expected a whole number from 0 to {MAX_PRECODER_ID}")
    return int(value)


def verify_precoder_id(precoder_id, comm_precoders, radar_precoders):
    """The identity, checked: PrecoderIdentityError unless precoder_id is the set's content hash."""
    precoder_id = check_precoder_id(precoder_id)
    computed = precoder_set_id(comm_precoders, radar_precoders)
    if precoder_id != computed:
        raise PrecoderIdentityError(f"precoder_id {precoder_id} does not match the set's content (its identity "
                                    f"is {computed}): a forged or corrupted set")
    return precoder_id
