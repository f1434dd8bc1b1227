# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""core.ofdm: frame layout, radar-stream orthogonality, the S_c S_rᴴ bound, OFDM modulation, determinism, eq. (1)."""

import numpy as np
import pytest

from gnuradio.disac.core import ofdm
from gnuradio.disac.core.scenario import load_scenario


@pytest.fixture(scope="module")
def paper():
    return load_scenario("paper")


@pytest.fixture(scope="module")
def layout(paper):
    return ofdm.layout_from_scenario(paper)


def test_paper_layout_sizes(layout):
    """Preamble + pilot + P = 1 data symbol of CP 20 + L 16 samples."""
    assert layout.symbol_len == 36
    assert layout.frame_symbols == 3
    assert layout.frame_len == 108
    assert layout.front_len == 72
    assert layout.data_res == 16


def test_layout_rejects_too_few_resource_elements():
    """Orthogonal radar streams need L·P ≥ N·Mt; the message names the numbers."""
    with pytest.raises(ofdm.FrameError, match=r"N·Mt = 2·6 = 12.*L·P = 8·1 = 8"):
        ofdm.FrameLayout(subcarriers=8, cyclic_prefix=4, data_symbols=1, num_users=3, tx_antennas=6, num_nodes=2)


def test_layout_rejects_more_users_than_subcarriers():
    with pytest.raises(ofdm.FrameError, match="U = 5 users need U ≤ L = 4"):
        ofdm.FrameLayout(subcarriers=4, cyclic_prefix=2, data_symbols=4, num_users=5, tx_antennas=1, num_nodes=1)


def test_radar_streams_exactly_orthogonal_between_nodes(layout):
    """S_r,n S_r,mᴴ = 0 (n ≠ m) and L·P·I (n = m) in every frame, to float64 rounding (1e-12 relative)."""
    gen = ofdm.FrameGenerator(layout, seed=11)
    frames = np.arange(500)
    s_r = gen.radar_symbols(frames).reshape(len(frames), layout.num_nodes * layout.tx_antennas, -1)
    gram = np.einsum("fil,fjl->fij", s_r, s_r.conj())
    expected = layout.data_res * np.eye(layout.num_nodes * layout.tx_antennas)
    assert np.max(np.abs(gram - expected)) < 1e-12 * layout.data_res


def test_data_radar_correlation_matches_stated_bound(layout):
    """E‖S_c S_r,nᴴ‖_F² = U·Mt·L·P (independent unit-power streams): the mean over 2000 frames is within
    10% of it (the per-frame value is a sum of U·Mt squared moduli; its relative spread over 2000 frames
    is ≈ 1/√(2000·U·Mt) ≈ 0.5%, so 10% is loose yet fails if the streams were correlated)."""
    gen = ofdm.FrameGenerator(layout, seed=5)
    frames = np.arange(2000)
    s_c = gen.data_symbols(frames).reshape(len(frames), layout.num_users, -1)
    s_r = gen.node_radar_symbols(frames, 1).reshape(len(frames), layout.tx_antennas, -1)
    cross = np.einsum("ful,fil->fui", s_c, s_r.conj())
    ratio = np.mean(np.sum(np.abs(cross) ** 2, axis=(1, 2))) / (layout.num_users * layout.tx_antennas * layout.data_res)
    assert abs(ratio - 1) < 0.1


def test_streams_have_unit_power_per_resource_element(layout):
    """E[s sᴴ] = I per RE: over 4000 frames the sample covariance of [s_c; s_r,n] at each RE is I within 0.1
    (entries are averages of 4000 products of unit mean power: standard error ≈ 1/√4000 ≈ 0.016, so the
    largest of 16·81 entries stays near 4σ ≈ 0.07; without the per-frame RE rotation the codebook alone
    leaves errors ≈ 0.3)."""
    gen = ofdm.FrameGenerator(layout, seed=2)
    frames = np.arange(4000)
    s = np.concatenate([gen.data_symbols(frames), gen.node_radar_symbols(frames, 0)], axis=1)  # (F, U+Mt, L, P)
    cov = np.einsum("filp,fjlp->lpij", s, s.conj()) / len(frames)
    assert np.max(np.abs(cov - np.eye(s.shape[1]))) < 0.1


def test_generation_is_a_function_of_seed_node_and_frame(layout):
    """The same frame regenerates identically alone or in a batch; other seeds or frames differ."""
    gen = ofdm.FrameGenerator(layout, seed=7)
    batch = gen.stream_time(np.arange(10, 20), node=1)
    single = ofdm.FrameGenerator(layout, seed=7).stream_time([15], node=1)
    np.testing.assert_array_equal(batch[5], single[0])
    other_seed = ofdm.FrameGenerator(layout, seed=8).stream_time([15], node=1)
    assert not np.allclose(other_seed[0, layout.num_users:], single[0, layout.num_users:])
    assert not np.allclose(batch[4], batch[5])


def test_modulate_demodulate_round_trip_and_power(layout):
    """IFFT + CP then CP removal + FFT is the identity; the orthonormal FFT keeps power per sample = per RE."""
    rng = np.random.default_rng(0)
    freq = rng.standard_normal((5, 4, 16)) + 1j * rng.standard_normal((5, 4, 16))
    time = ofdm.modulate(freq, 20)
    assert time.shape == (5, 4, 36)
    np.testing.assert_allclose(time[..., :20], time[..., 16:], atol=1e-12)  # prefix longer than L: periodic
    np.testing.assert_allclose(ofdm.demodulate(time, 20), freq, atol=1e-12)
    np.testing.assert_allclose(np.sum(np.abs(time[..., 20:]) ** 2), np.sum(np.abs(freq) ** 2))


def test_qpsk_bits_round_trip():
    bits = np.random.default_rng(1).integers(0, 2, (100, 2))
    symbols = ofdm.qpsk(bits)
    np.testing.assert_allclose(np.abs(symbols), 1.0)
    np.testing.assert_array_equal(ofdm.qpsk_bits(symbols), bits)


def test_pilots_orthogonal_between_users(layout):
    gen = ofdm.FrameGenerator(layout, seed=0)
    p = gen.pilots.reshape(layout.num_users, -1)
    np.testing.assert_allclose(p @ p.conj().T, layout.subcarriers * layout.pilot_symbols * np.eye(layout.num_users),
                               atol=1e-12)


def test_transmitted_frames_is_eq1_on_the_streams(layout):
    """The transmitter's samples (precoded time streams) demodulate to X = W_c S_c + W_r S_r,n (eq. 1)."""
    gen = ofdm.FrameGenerator(layout, seed=3)
    rng = np.random.default_rng(4)
    wc = rng.standard_normal((6, 3)) + 1j * rng.standard_normal((6, 3))
    wr = rng.standard_normal((6, 6)) + 1j * rng.standard_normal((6, 6))
    frames = np.arange(3, 6)
    samples = np.concatenate([wc, wr], axis=1) @ gen.stream_time(frames, 1)  # (F, Mt, frame_len)
    data = samples[..., layout.front_len:].reshape(3, 6, layout.data_symbols, layout.symbol_len)
    x = np.swapaxes(ofdm.demodulate(data, layout.cyclic_prefix), -1, -2)  # (F, Mt, L, P)
    expected = ofdm.transmitted_frames(layout, 3, frames, 1, wc, wr)
    np.testing.assert_allclose(x, expected, atol=1e-5 * np.max(np.abs(expected)))  # complex64 streams


def test_check_precoders_names_bad_shape_and_nan(layout):
    wc, wr = ofdm.default_precoders(layout, 1.0)
    with pytest.raises(ofdm.FrameError, match=r"W_c shape \(6, 2\)"):
        ofdm.check_precoders(layout, wc[:, :2], wr)
    bad = wr.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ofdm.FrameError, match="non-finite"):
        ofdm.check_precoders(layout, wc, bad)


def test_default_precoders_meet_per_antenna_power(layout):
    wc, wr = ofdm.default_precoders(layout, 2.0)
    np.testing.assert_allclose(np.diag(wc @ wc.conj().T + wr @ wr.conj().T).real, 2.0)


def test_centred_grid_puts_upper_bins_at_negative_frequency():
    np.testing.assert_allclose(ofdm.bin_frequencies_hz(4, 4.0, "low-if"), [0, 1, 2, 3])
    np.testing.assert_allclose(ofdm.bin_frequencies_hz(4, 4.0, "centred"), [0, 1, -2, -1])
    with pytest.raises(ofdm.FrameError, match="'zero-if'"):
        ofdm.bin_frequencies_hz(4, 4.0, "zero-if")


@pytest.mark.parametrize("subcarriers, cyclic_prefix, data_symbols", [(16, 20, 1), (8, 3, 3), (64, 0, 2)])
def test_node_modulator_equals_the_reference_streams(paper, subcarriers, cyclic_prefix, data_symbols):
    """The transmitter's fast path (complex64, frequency-domain precoding, one IFFT) gives the samples of
    [W_c W_r] @ stream_time (the reference, float64 precoding) to 1e-6 of the largest sample (float32
    rounding is ≈ 1e-7), for a prefix longer than L, shorter, and none, P = 1 … 3, frames not from 0; and
    its frequency-domain frames are transmitted_frames (eq. 1), which the central unit regenerates."""
    layout = ofdm.FrameLayout(subcarriers=subcarriers, cyclic_prefix=cyclic_prefix, data_symbols=data_symbols,
                              num_users=3, tx_antennas=6, num_nodes=2)
    rng = np.random.default_rng(subcarriers)
    wc = rng.standard_normal((6, 3)) + 1j * rng.standard_normal((6, 3))
    wr = rng.standard_normal((6, 6)) + 1j * rng.standard_normal((6, 6))
    gen = ofdm.FrameGenerator(layout, seed=12)
    frames = np.arange(40, 47)
    modulator = ofdm.NodeModulator(gen, 1, wc, wr)
    fast = modulator.samples(frames)
    reference = np.concatenate([wc, wr], axis=1) @ gen.stream_time(frames, 1)  # (F, Mt, frame_len)
    reference = np.moveaxis(reference, 1, 0).reshape(6, -1)
    assert np.max(np.abs(fast - reference)) < 1e-6 * np.max(np.abs(reference))
    x = np.moveaxis(modulator.frequency_frames(frames), 0, 1)  # (F, Mt, L, P)
    expected = ofdm.transmitted_frames(layout, 12, frames, 1, wc, wr)
    assert np.max(np.abs(x - expected)) < 1e-6 * np.max(np.abs(expected))
    with pytest.raises(ofdm.FrameError, match=r"W_r shape \(6, 5\)"):
        ofdm.NodeModulator(gen, 1, wc, wr[:, :5])


def test_hash_is_splitmix64_on_known_values():
    """splitmix64 of 0 is 0xE220A8397B1DCDAF (the published first output of the generator seeded 0), so
    the vectorised in-place version computes the standard function."""
    assert int(ofdm._splitmix64(np.array([0], dtype=np.uint64))[0]) == 0xE220A8397B1DCDAF


def test_active_subcarrier_mask_leaves_the_band_edges_and_dc():
    """Issue 14: guards at the band edges of the centred (radio) spectrum, DC at bin 0, by FFT index."""
    mask = ofdm.active_subcarrier_mask(16, 3, dc_null=True)
    freqs = ofdm.bin_frequencies_hz(16, 16.0, "centred")
    assert sorted(freqs[~mask]) == [-8.0, -7.0, 0.0, 7.0]  # ceil(3/2) at the low edge, 1 at the high edge, DC
    assert mask.sum() == 12
    odd = ofdm.active_subcarrier_mask(15, 4)
    assert sorted(ofdm.bin_frequencies_hz(15, 15.0, "centred")[~odd]) == [-7.0, -6.0, 6.0, 7.0]
    assert ofdm.active_subcarrier_mask(8).all()
    with pytest.raises(ofdm.FrameError, match="guard_subcarriers = 8"):
        ofdm.active_subcarrier_mask(8, 8)
    with pytest.raises(ofdm.FrameError, match="no subcarrier"):
        ofdm.active_subcarrier_mask(2, 1, dc_null=True)
