# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""core.ofdm's fast regeneration of X_m (issue 16 item 3: the central unit's serial share) is the same function,
bit for bit: X_m is the contract between the transmitters and the unit.

The hashes are pinned by a digest of their integer values (platform independent: wrapping uint64 arithmetic),
taken from the implementation before the fast path. The floating-point arrays are compared, with
assert_array_equal and the signs of zeros, against the plain formulas of that implementation written out here
(qpsk() on the bits, radar_symbols() of all nodes sliced, eq. (1) by einsum): the same float operations on the
same values, so any difference is a bug, not rounding."""

import hashlib

import numpy as np
import pytest

from gnuradio.disac.core import ofdm
from gnuradio.disac.core.scenario import load_scenario

# sha256 of the hashes below, computed with the vectorised-only hash_uint64 of before the fast path (git
# bd24a71); the per-frame keys are now hashed as Python integers for a few frames, as uint64 arrays for more
HASH_DIGEST = "8a912488e64fa11de9b82e9b32dc22ad0fa5948cb25540a646413d310d1434d6"


def test_hash_values_are_those_of_the_vectorised_implementation():
    digest = hashlib.sha256()
    for seed in (0, 7, (1 << 63) + 5, -3):
        for stream in (ofdm._STREAM_DATA, ofdm._STREAM_RADAR_PHASE, 0):
            for frames in ([0], [12345, 1 << 40, 2**63 - 1], list(range(40))):  # 40 > _SCALAR_FRAMES: both paths
                digest.update(ofdm.hash_uint64(seed, stream, frames, 33).tobytes())
    assert digest.hexdigest() == HASH_DIGEST


def test_scalar_and_vector_per_frame_keys_agree():
    """The Python-integer path (≤ _SCALAR_FRAMES frames) and the numpy path give the same hashes, frame by frame."""
    frames = np.array([0, 1, 5, 1 << 40, 2**63 - 1] + list(range(100, 100 + ofdm._SCALAR_FRAMES)))
    together = ofdm.hash_uint64(11, ofdm._STREAM_DATA, frames, 9)  # > _SCALAR_FRAMES: numpy
    for i, frame in enumerate(frames):
        np.testing.assert_array_equal(ofdm.hash_uint64(11, ofdm._STREAM_DATA, [frame], 9)[0], together[i])


def _layouts():
    paper = ofdm.layout_from_scenario(load_scenario("paper"))
    four = ofdm.layout_from_scenario(load_scenario("four-nodes"))
    guard = ofdm.FrameLayout(subcarriers=16, cyclic_prefix=4, data_symbols=2, num_users=2, tx_antennas=4,
                             num_nodes=3, active_subcarriers=ofdm.active_subcarrier_mask(16, 3, dc_null=True))
    return {"paper": paper, "four-nodes": four, "guards": guard}


def _reference_x(layout, seed, frames, node, wc, wr):
    """transmitted_frames as it was written before the fast path (a fresh generator: no cached draws)."""
    gen = ofdm.FrameGenerator(layout, seed)
    s_c = ofdm.qpsk(gen.data_bits(frames))
    if layout.active_subcarriers is not None:
        s_c = s_c * layout.active_mask[:, None]
    mt = layout.tx_antennas
    s_r = gen.radar_symbols(frames)[:, node * mt:(node + 1) * mt]
    wc, wr = ofdm.check_precoders(layout, wc, wr)
    return np.einsum("iu,fulp->filp", wc, s_c) + np.einsum("ij,fjlp->filp", wr, s_r)


def _assert_identical(actual, expected):
    np.testing.assert_array_equal(actual, expected)
    np.testing.assert_array_equal(np.signbit(actual.real), np.signbit(expected.real))  # signed zeros too
    np.testing.assert_array_equal(np.signbit(actual.imag), np.signbit(expected.imag))


@pytest.mark.parametrize("name", ["paper", "four-nodes", "guards"])
def test_transmitted_frames_bit_for_bit(name):
    """Every node's X_m of single frames (the central unit's case, cached draws shared by the nodes) and of
    several frames at once, for random precoders, equals the reference exactly."""
    layout = _layouts()[name]
    rng = np.random.default_rng(3)
    mt, u = layout.tx_antennas, layout.num_users
    for seed in (0, 9, (1 << 40) + 1):
        for frames in ([0], [77], [1 << 40], [3, 4, 5], list(range(20))):
            for node in range(layout.num_nodes):
                wc = rng.standard_normal((mt, u)) + 1j * rng.standard_normal((mt, u))
                wr = rng.standard_normal((mt, mt)) + 1j * rng.standard_normal((mt, mt))
                _assert_identical(ofdm.transmitted_frames(layout, seed, frames, node, wc, wr),
                                  _reference_x(layout, seed, frames, node, wc, wr))


@pytest.mark.parametrize("name", ["paper", "guards"])
def test_streams_bit_for_bit(name):
    """data_symbols (table look-up) is qpsk() of data_bits; node_radar_symbols (one node's gather) is its rows of
    radar_symbols; the cached frame_draws are those values and cannot be written to."""
    layout = _layouts()[name]
    gen = ofdm.FrameGenerator(layout, 5)
    frames = [0, 8, 1 << 33]
    reference = ofdm.qpsk(gen.data_bits(frames))
    if layout.active_subcarriers is not None:
        reference = reference * layout.active_mask[:, None]
    _assert_identical(gen.data_symbols(frames), reference)
    mt = layout.tx_antennas
    everyone = gen.radar_symbols(frames)
    for node in range(layout.num_nodes):
        _assert_identical(gen.node_radar_symbols(frames, node), everyone[:, node * mt:(node + 1) * mt])
    s_c, index, shift, quarter = gen.frame_draws(frames)
    _assert_identical(s_c, reference)
    for drawn, fresh in zip((index, shift, quarter), gen.radar_draws(frames)):
        np.testing.assert_array_equal(drawn, fresh)
    with pytest.raises(ValueError):
        s_c[0, 0, 0, 0] = 0
    assert gen.frame_draws(frames)[0] is s_c  # the same frames again: kept
    assert gen.frame_draws([1])[0] is not s_c  # another frame: drawn anew
    many = np.arange(ofdm._CACHED_DRAWS_BYTES // (16 * layout.num_users * layout.data_res) + 1)
    big = gen.frame_draws(many)[0]  # S_c above the size kept: returned, not kept alive
    assert big.shape[0] == many.size and gen.frame_draws(many)[0] is not big
    with pytest.raises(ofdm.FrameError, match=f"node id {layout.num_nodes}"):
        gen.node_radar_symbols(frames, layout.num_nodes)
