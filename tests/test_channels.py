# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""core.channels and core.user_metrics: phases, exact fractional-delay echoes (eq. 3/5), comm channel (eq. 2),
AWGN, eq. (6) as the phase average of the per-frame SINR, preamble synchronisation."""

import numpy as np
import pytest

from gnuradio.disac.core import channels, geometry, model, ofdm, sinr, user_metrics
from gnuradio.disac.core.scenario import load_scenario


@pytest.fixture(scope="module")
def paper():
    return load_scenario("paper")


def test_phases_deterministic_per_frame_and_uniform():
    """One function of (seed, frame): batch and single calls agree; 20000 draws have mean e^{jφ} ≈ 0
    (standard error 1/√20000 ≈ 0.007, bound 0.03)."""
    batch = channels.node_phases_rad(4, np.arange(100), 3)
    np.testing.assert_array_equal(batch[42], channels.node_phases_rad(4, [42], 3)[0])
    assert not np.allclose(batch, channels.node_phases_rad(5, np.arange(100), 3))
    many = channels.node_phases_rad(1, np.arange(10000), 2)
    assert np.all((many >= 0) & (many < 2 * np.pi))
    assert abs(np.mean(np.exp(1j * many))) < 0.03


def test_sensing_channel_matches_model_at_fractional_delays(paper):
    """Time-domain echoes (CP removal + FFT) equal eq. (3)/(5) with the per-link phases to 1e-6 relative
    (the transmit streams are complex64: ~6e-8 rounding per sample; the channel is float64), for the
    paper's delays, all non-integer in samples (up to 16.08 > L)."""
    delays = paper.bistatic_delays_s() * paper.bandwidth_hz
    assert np.all(np.abs(delays - np.round(delays)) > 0.05)
    layout = ofdm.layout_from_scenario(paper)
    gen = ofdm.FrameGenerator(layout, seed=1)
    rng = np.random.default_rng(2)
    wc = rng.standard_normal((2, 6, 3)) + 1j * rng.standard_normal((2, 6, 3))
    wr = rng.standard_normal((2, 6, 6)) + 1j * rng.standard_normal((2, 6, 6))
    frames = np.arange(4)
    x_time = np.concatenate([np.concatenate([wc[m], wr[m]], axis=1) @ gen.stream_time(frames, m).astype(complex)
                             for m in range(2)], axis=1)  # (F, N·Mt, frame_len)
    x_time = np.moveaxis(x_time, 0, 1).reshape(12, -1)
    x_model = np.stack([ofdm.transmitted_frames(layout, 1, frames, m, wc[m], wr[m]) for m in range(2)], axis=1)
    amps = channels.linked_amplitudes(paper.target_amplitudes(), channels.node_phases_rad(9, frames, 2))
    for n in range(2):
        y = channels.SensingChannel(paper, n, channel_seed=9).apply_time(x_time, 0)  # (Mr, F·frame_len)
        y = y.reshape(paper.rx_antennas, len(frames), layout.frame_len)[..., layout.front_len:]
        y = np.swapaxes(ofdm.demodulate(y.reshape(16, len(frames), 1, layout.symbol_len), 20), -1, -2)
        for f in frames:
            mu = model.sensing_mean(paper.target_angles_rad(), paper.target_delays_s(), amps[f], x_model[f], 16,
                                    paper.bandwidth_hz)[n]
            assert np.linalg.norm(y[:, f] - mu) / np.linalg.norm(mu) < 1e-6


def test_integer_delay_is_a_sample_shift():
    """For an integer delay of D samples the circular per-symbol delay is a plain D-sample shift of the
    kept samples: the exact band-limited delay reduces to the obvious one."""
    rng = np.random.default_rng(0)
    core = rng.standard_normal(16) + 1j * rng.standard_normal(16)
    sym = ofdm.modulate(np.fft.fft(core, norm="ortho"), 8)
    delayed = ofdm.modulate(np.fft.fft(core, norm="ortho") * ofdm.delay_phases(5 / 10e6, 16, 10e6), 8)
    np.testing.assert_allclose(delayed[8:], sym[8 - 5:8 - 5 + 16], atol=1e-12)


def test_comm_channel_is_eq2_with_phases(paper):
    """y_u = Σ_n e^{jφ_n} h_{n,u}ᴴ x_n sample by sample, the phase of each sample's frame."""
    layout = ofdm.layout_from_scenario(paper)
    rng = np.random.default_rng(3)
    count = 3 * layout.frame_len
    x = (rng.standard_normal((12, count)) + 1j * rng.standard_normal((12, count))).astype(np.complex64)
    y = channels.CommChannel(paper, channel_seed=6).apply_time(x, layout.frame_len)  # frames 1, 2, 3
    h = paper.user_channels()
    phases = channels.node_phases_rad(6, [1, 2, 3], 2)
    for f in range(3):
        seg = slice(f * layout.frame_len, (f + 1) * layout.frame_len)
        expected = sum(np.exp(1j * phases[f, n]) * h[n].conj() @ x[n * 6:(n + 1) * 6, seg] for n in range(2))
        np.testing.assert_allclose(y[:, seg], expected, rtol=1e-5, atol=1e-5)


def test_awgn_does_not_depend_on_call_sizes_and_has_its_variance():
    """Drawn time-major: one call of 3000 equals calls of 1000 + 2000; variance within 5% (std error ≈ 1.3%)."""
    whole = channels.awgn(channels.noise_rng(1, "comm"), 3000, 2, 0.5)
    rng = channels.noise_rng(1, "comm")
    parts = np.concatenate([channels.awgn(rng, 1000, 2, 0.5), channels.awgn(rng, 2000, 2, 0.5)], axis=1)
    np.testing.assert_array_equal(whole, parts)
    assert abs(np.mean(np.abs(whole) ** 2) / 0.5 - 1) < 0.05


def test_eq6_is_the_ratio_of_phase_averaged_powers(paper):
    """Mean signal / mean interference over uniform phases equals eq. (6) (exactly, in expectation): with
    20000 frames of phases the ratio of sample means is within 0.1 dB (relative standard error of the
    signal mean ≈ 0.7/√20000 ≈ 0.5%, i.e. 0.02 dB)."""
    rng = np.random.default_rng(5)
    h = paper.user_channels()
    wc = rng.standard_normal((2, 6, 3)) + 1j * rng.standard_normal((2, 6, 3))
    wr = 0.5 * (rng.standard_normal((2, 6, 6)) + 1j * rng.standard_normal((2, 6, 6)))
    phases = channels.node_phases_rad(0, np.arange(20000), 2)
    designed = sinr.to_db(sinr.sinr_from_beamformers(h, wc, wr, paper.user_noise_power))
    for u in range(3):
        hw = np.einsum("ni,nij->nj", h[:, u].conj(), wc)
        g = np.abs(np.exp(1j * phases) @ hw) ** 2
        radar = np.sum(np.abs(np.einsum("ni,nij->nj", h[:, u].conj(), wr)) ** 2)
        ratio = np.mean(g[:, u]) / np.mean(g.sum(axis=1) - g[:, u] + radar + paper.user_noise_power)
        assert abs(10 * np.log10(ratio) - designed[u]) < 0.1
        inst = user_metrics.instantaneous_sinr(h, wc, wr, phases[:5], paper.user_noise_power, u)
        np.testing.assert_allclose(inst, g[:5, u] / (g[:5].sum(axis=1) - g[:5, u] + radar + paper.user_noise_power))


@pytest.mark.parametrize("delay", [0, 1, 37, 107])
def test_preamble_finds_frame_start_at_unknown_delay(paper, delay):
    """A user stream (precoded, two nodes' phases, noise at 20 dB SNR) delayed by an unknown number of
    samples: the preamble search returns that delay exactly."""
    layout = ofdm.layout_from_scenario(paper)
    gen = ofdm.FrameGenerator(layout, seed=0)
    rng = np.random.default_rng(delay)
    gains = rng.standard_normal(3) + 1j * rng.standard_normal(3)
    stream = (gains @ gen.stream_time(np.arange(3), 0)[:, :3]).reshape(-1)
    noise = 0.1 * (rng.standard_normal(delay + stream.size) + 1j * rng.standard_normal(delay + stream.size))
    rx = np.concatenate([np.zeros(delay), stream]) + noise
    assert user_metrics.find_frame_start(rx, layout, gen.preamble) == delay


def test_frame_metrics_on_a_clean_frame(paper):
    """No noise, no interference: ĝ exact, no bit errors, zero EVM and residual."""
    layout = ofdm.layout_from_scenario(paper)
    gen = ofdm.FrameGenerator(layout, seed=0)
    frames = np.arange(2)
    g = 0.7 - 0.2j
    time = g * gen.stream_time(frames, 0)[:, 1]  # user 1's stream only
    freq = ofdm.demodulate(time.reshape(2, layout.frame_symbols, layout.symbol_len), layout.cyclic_prefix)
    bits = gen.data_bits(frames)[:, 1]
    metrics = user_metrics.frame_metrics(freq, layout, gen.pilots, 1, ofdm.qpsk(bits), bits)
    np.testing.assert_allclose(metrics.gain, g, rtol=1e-6)
    assert np.all(metrics.bit_errors == 0)
    assert np.all(metrics.interference_noise_power < 1e-10)


def test_qpsk_ber_formula():
    """Q(√γ): 0.5 at γ = 0, ≈ 7.8e-4 at γ = 10 (Q(3.162))."""
    assert user_metrics.qpsk_ber(0.0) == pytest.approx(0.5)
    assert user_metrics.qpsk_ber(10.0) == pytest.approx(7.827e-4, rel=1e-3)


def test_delay_steering_matches_geometry_on_low_if_grid():
    """The channel's delay phases and the model's d(τ) are one convention on the low-IF grid."""
    np.testing.assert_allclose(ofdm.delay_phases(1.234e-6, 16, 10e6), geometry.delay_steering(1.234e-6, 16, 10e6))


@pytest.mark.parametrize("first_frame_symbol", [0, 4])
def test_fast_channel_paths_equal_apply_time(paper, first_frame_symbol):
    """The blocks' complex64 paths (write_time) equal the float64 reference apply_time to 1e-5 of the
    largest sample (float32: ≈ 1e-7), also for a call starting mid-frame (symbol 4 = frame 1, symbol 1)."""
    layout = ofdm.layout_from_scenario(paper)
    rng = np.random.default_rng(3)
    count = 7 * layout.symbol_len
    x = (rng.standard_normal((12, count)) + 1j * rng.standard_normal((12, count))).astype(np.complex64)
    first = first_frame_symbol * layout.symbol_len
    for model, outputs in ((channels.SensingChannel(paper, 1, 5), paper.rx_antennas),
                           (channels.CommChannel(paper, 5), paper.num_users)):
        out = np.zeros((outputs, count), dtype=np.complex64)
        model.write_time(x, first, list(out))
        expected = model.apply_time(x.astype(complex), first)
        assert np.max(np.abs(out - expected)) < 1e-5 * np.max(np.abs(expected))
