# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""core.channels and core.user_metrics: phases, exact fractional-delay echoes (eq. 3/5), comm channel (eq. 2),
AWGN, eq. (6) as the phase average of the per-frame SINR, preamble synchronisation."""

import tomllib

import air_helpers
import numpy as np
import pytest

from gnuradio.disac.core import channels, geometry, model, ofdm, sinr, user_metrics
from gnuradio.disac.core.scenario import load_scenario, scenario_from_dict, scenario_to_toml


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


# ---- the air's impairments in the sensing channel (issue 13, docs/air-model.md §2) ---------------------------------

_ofdm_streams = air_helpers.ofdm_streams


_fast = air_helpers.write_time_stream


def _snapshots(y, layout, window_start):
    """The data symbols' spectra (F, Mr, L, P) of frames placed from sample ``window_start`` (as a receiver
    framing from its labels would), CP dropped."""
    frames = (y.shape[1] - window_start) // layout.frame_len
    y = y[:, window_start:window_start + frames * layout.frame_len].reshape(y.shape[0], frames, layout.frame_len)
    data = y[..., layout.front_len:].reshape(y.shape[0], frames, layout.data_symbols, layout.symbol_len)
    return np.moveaxis(np.swapaxes(ofdm.demodulate(data, layout.cyclic_prefix), -1, -2), 0, 1)


def _eq3_with_extra_delay(scenario, n, x_freq, phases, extra_samples):
    """Eq. (3)/(5) into rx node n with each link's delay τ_{n,m}^k + extra_samples[m]/B, (F, Mr, L, P)."""
    theta = scenario.target_angles_rad()
    a_t = geometry.ula_steering(theta, scenario.tx_antennas)  # (N, K, Mt)
    a_r = geometry.ula_steering(theta[n], scenario.rx_antennas)  # (K, Mr)
    tau = scenario.bistatic_delays_s()[n] + np.asarray(extra_samples)[:, None] / scenario.bandwidth_hz  # (N, K)
    d = geometry.delay_steering(tau, scenario.subcarriers, scenario.bandwidth_hz)  # (N, K, L)
    b = scenario.target_amplitudes()[n] * np.exp(1j * (phases[:, :, None] - phases[:, n, None, None]))  # (F, N, K)
    beam = np.einsum("mki,fmilp->fmklp", a_t, x_freq)
    return np.einsum("fmk,kr,mkl,fmklp->frlp", b, a_r, d, beam)


def test_integer_clock_offset_is_the_ideal_echo_delayed(paper):
    """δ_1 = 2.9 µs (29 samples, the B200 start offsets of the issue), δ_0 = 0: the echoes of node 1's signal
    at node 0 are today's echoes delayed by D = (δ_1 − δ_0)·B = 29 samples plus the air's latency A = 29 (it
    realises D[1, 0] = −29 causally; label_offset −29): a sample shift of the ideal output, to float32
    rounding (an integer delay adds nothing fractional). Noise off, node 0 silent."""
    s = paper.with_impairments({"timing_offset_ns": [0.0, 2900.0]})
    assert channels.sensing_air_latency_samples(s) == 29
    x, _ = _ofdm_streams(s, np.arange(6), silent_nodes=(0,))
    impaired = channels.SensingChannel(s, 0, channel_seed=3)
    assert impaired.label_offset_samples == -29
    y = _fast(impaired, x)
    ideal = _fast(channels.SensingChannel(paper, 0, channel_seed=3), x)
    shift = 29 + 29
    peak = np.max(np.abs(ideal))
    assert np.max(np.abs(y[:, shift:] - ideal[:, :-shift])) < 1e-5 * peak
    assert np.max(np.abs(y[:, :shift])) < 1e-5 * peak  # nothing arrives before the first delayed sample


def test_fractional_offsets_and_latency_are_link_delays_in_the_snapshot(paper):
    """δ = [0, 30 ns] and λ = [46, 100.25] samples: on node n's labels (the window placed from its rx_time,
    i.e. output sample A + label) the link m → n is eq. (3) with τ + D[n, m], D = (δ_m − δ_n)·B + λ_n. With
    the receiver's integer window offset ⌊min_m D[n, m]⌋ (docs/air-model.md §3) the residual delays stay inside the
    prefix, so the kept samples are exactly eq. (3) with the residual delays: 1e-5 relative (float32)."""
    s = paper.with_impairments({"timing_offset_ns": [0.0, 30.0], "latency_samples": [46.0, 100.25]})
    layout = ofdm.layout_from_scenario(s)
    frames = np.arange(8)
    x, x_freq = _ofdm_streams(s, frames)
    D = s.impairments.link_delay_samples(s.bandwidth_hz)
    np.testing.assert_allclose(D, [[46.0, 46.3], [99.95, 100.25]], atol=1e-9)
    for n in range(2):
        channel = channels.SensingChannel(s, n, channel_seed=4)
        y = _fast(channel, x)
        window = int(np.floor(D[n].min()))
        start = channel.air_latency_samples + window  # output index of label epoch + window
        got = _snapshots(y, layout, start)
        phases = channels.node_phases_rad(4, frames[:got.shape[0]], 2)
        expected = _eq3_with_extra_delay(s, n, x_freq[:got.shape[0]], phases, D[n] - window)
        assert np.linalg.norm(got - expected) / np.linalg.norm(expected) < 1e-5


def test_fast_path_equals_the_reference_with_every_impairment(paper):
    """Issue 13's "lab" air ("lab-sync": clock offsets, 46–165 samples of latency, direct paths; issue 14's
    interference, whose leakage would dominate the peak, is tested alone in tests/test_air_interference.py) plus a
    reference reflector and per_run phases with drift, on a 3-node scenario of ours: write_time in calls cut
    anywhere on symbol boundaries equals apply_time (float64, the delayed trigonometric polynomials sample by
    sample) to 1e-5 of the peak (float32 rounding). Delays reach ≈ 190 samples, far past the prefix: ISI on every
    path."""
    s = load_scenario("paper").replace(
        node_positions_m=[[-141.4, 141.4], [-141.4, -141.4], [160.0, 0.0]], tx_antennas=4, rx_antennas=5)
    data = tomllib.loads(scenario_to_toml(s))
    data["calibration"] = {"reflector_m": [20.0, 30.0]}
    s = scenario_from_dict(data).with_impairments(
        {"preset": "lab-sync", "seed": 5, "node_phase": "per_run", "phase_drift_deg_per_s": 2000.0,
         "timing_offset_ns": [0.0, 150.0, -80.0]})
    layout = ofdm.layout_from_scenario(s)
    x, _ = _ofdm_streams(s, np.arange(7))
    L = layout.symbol_len
    for n in range(3):
        channel = channels.SensingChannel(s, n, channel_seed=2)
        assert channel.paths.kind.count("direct") == 2 and channel.paths.kind.count("reflector") == 3
        assert np.max(channel.path_delays_samples) > 2 * layout.symbol_len
        expected = channel.apply_time(x.astype(complex), 0)
        got = _fast(channel, x, cuts=[0, 3 * L, 4 * L, 11 * L, x.shape[1]])
        assert np.max(np.abs(got - expected)) < 1e-5 * np.max(np.abs(expected))


def test_direct_path_geometry_and_amplitude(paper):
    """Targets off (β = 0), direct_path on: node 0 receives node 1's signal from the angle of p_1, sent toward
    p_0, delayed |p_1 − p_0|/c (9.8 samples, inside the prefix), with β_dp² = 10^(30/10)·σ²/P_T and the
    phase e^{j(φ_1 − φ_0)} of an echo: the kept samples are that one-path eq. (3), 1e-5 relative; node 0's
    own transmitter has no direct path into itself."""
    # nodes not on one vertical: the paper's pair sees each other at ±90°, where a(θ) = a(−θ) for a
    # half-wavelength ULA, which would hide a swapped departure/arrival angle
    s = paper.replace(target_amplitude=0.0, node_positions_m=[[-141.4, 141.4], [-60.0, -141.4]]).with_impairments(
        {"direct_path": True})
    layout = ofdm.layout_from_scenario(s)
    frames = np.arange(5)
    x, x_freq = _ofdm_streams(s, frames)
    channel = channels.SensingChannel(s, 0, channel_seed=8)
    assert channel.paths.kind.count("direct") == 1 and channels.direct_path_amplitude(s) == pytest.approx(np.sqrt(1000))
    got = _snapshots(_fast(channel, x), layout, 0)
    p0, p1 = s.node_positions_m
    toward_0 = np.arctan2(*(p0 - p1)[::-1])  # departure from node 1 toward node 0
    from_1 = np.arctan2(*(p1 - p0)[::-1])  # arrival at node 0 from node 1
    tau = np.linalg.norm(p1 - p0) / geometry.SPEED_OF_LIGHT_M_S
    phases = channels.node_phases_rad(8, frames, 2)
    beam = np.einsum("i,filp->flp", geometry.ula_steering(toward_0, 6), x_freq[:, 1])
    d = geometry.delay_steering(tau, 16, s.bandwidth_hz)
    expected = np.sqrt(1000) * np.exp(1j * (phases[:, 1] - phases[:, 0]))[:, None, None, None] * \
        geometry.ula_steering(from_1, 16)[None, :, None, None] * (d[:, None] * beam)[:, None]
    assert np.linalg.norm(got - expected) / np.linalg.norm(expected) < 1e-5


def test_reference_reflector_is_an_extra_point_target(paper):
    """The [calibration] reflector at q_ref with β_ref is, on every link, the echo of a target at q_ref with
    amplitude β_ref: with the scenario's targets off, the channel's output equals that of a scenario whose only
    target is the reflector (float32 rounding)."""
    data = tomllib.loads(scenario_to_toml(paper.replace(target_amplitude=0.0)))
    data["calibration"] = {"reflector_m": [10.0, 40.0], "reflector_snr_db": 10.0}
    s = scenario_from_dict(data)
    as_target = paper.replace(target_positions_m=[[10.0, 40.0]], target_amplitude=s.reflector_amplitude)
    x, _ = _ofdm_streams(s, np.arange(4))
    for n in range(2):
        got = _fast(channels.SensingChannel(s, n, channel_seed=1), x)
        expected = _fast(channels.SensingChannel(as_target, n, channel_seed=1), x)
        assert np.max(np.abs(got - expected)) < 1e-5 * np.max(np.abs(expected))


def test_per_run_phases_are_continuous_with_their_drift():
    """per_run: φ_n(f) = φ_n,0 + 2π·drift_n/360·f·frame_len/fs, φ_n,0 = the per-frame draw of frame 0; without a
    drift the phase never changes (one oscillator for the run); per_frame is node_phases_rad unchanged."""
    from gnuradio.disac.core import impairments
    frames = np.arange(50)
    per_frame = impairments.draw_impairments({}, 3, 2, 2)
    np.testing.assert_array_equal(channels.oscillator_phases_rad(7, frames, per_frame, 108, 10e6),
                                  channels.node_phases_rad(7, frames, 3))
    run = impairments.draw_impairments({"node_phase": "per_run", "phase_drift_deg_per_s": [0.0, 360.0, -1800.0]},
                                       3, 2, 2)
    phi = channels.oscillator_phases_rad(7, frames, run, 108, 10e6)
    np.testing.assert_array_equal(phi[0], channels.node_phases_rad(7, [0], 3)[0])
    np.testing.assert_array_equal(phi[:, 0], phi[0, 0])  # no drift: constant
    seconds = frames * 108 / 10e6
    np.testing.assert_allclose(phi[:, 1] - phi[0, 1], 2 * np.pi * seconds, rtol=0, atol=1e-12)
    np.testing.assert_allclose(phi[:, 2] - phi[0, 2], -5 * 2 * np.pi * seconds, rtol=0, atol=1e-12)
    # the channel's link coefficients follow it: a monostatic echo has none, a bistatic one the difference
    s = load_scenario("paper").with_impairments({"node_phase": "per_run"})
    coef = channels.SensingChannel(s, 0, channel_seed=7).link_coefficients(frames)
    np.testing.assert_allclose(coef, coef[:1].repeat(50, axis=0), rtol=0, atol=1e-15)


# ---- issue 14: the path bank of the static interference (docs/air-model.md §5) -----------------------------------

@pytest.mark.parametrize("chunk_symbols", [1, 3, 32])
def test_path_bank_is_the_delay_operator(chunk_symbols):
    """core.delay_line.PathBank (many rank-one paths from a few streams: clutter, self-coupling) gives, for any
    chunking and any cut of the stream into calls, Σ_p rx[:, p]·delay_reference(tx_rows[p]·x, d_p): delays 0,
    integer, fractional, past the prefix and past a whole symbol, on both grids; to float32 rounding (1e-5 of
    the peak, float32 ≈ 1e-7 per operation)."""
    from gnuradio.disac.core import delay_line
    rng = np.random.default_rng(11)
    subcarriers, cp, fs = 16, 20, 10e6
    sym = subcarriers + cp
    delays = np.array([0.0, 3.0, 7.25, 19.999, 20.5, 36.0, 47.3, 88.8, 0.5, 12.0])
    streams, outputs = 6, 4
    rows = rng.standard_normal((delays.size, streams)) + 1j * rng.standard_normal((delays.size, streams))
    rows[:5, 3:] = 0  # two groups of streams (two transmitters): paths 0–4 read streams 0–2, the rest 3–5
    rows[5:, :3] = 0
    rx = rng.standard_normal((outputs, delays.size)) + 1j * rng.standard_normal((outputs, delays.size))
    x = rng.standard_normal((streams, 13 * sym)) + 1j * rng.standard_normal((streams, 13 * sym))
    for grid in ("low-if", "centred"):
        expected = sum(np.outer(rx[:, p], delay_line.delay_reference(rows[p] @ x, delays[p], subcarriers, cp, fs, grid))
                       for p in range(delays.size))
        bank = delay_line.PathBank(subcarriers, cp, fs, delays, rows, rx, grid, chunk_symbols=chunk_symbols,
                                   stream_groups=[(0, 3), (3, 6)])
        got = np.zeros((outputs, x.shape[1]), dtype=np.complex64)
        for a, b in ((0, 2), (2, 3), (3, 11), (11, 13)):
            spectra = np.fft.fft(x[:, a * sym:(b) * sym].reshape(streams, b - a, sym)[..., cp:], axis=-1,
                                 norm="ortho").astype(np.complex64)
            bank.add_to(spectra, [row[a * sym:b * sym] for row in got])
        assert np.max(np.abs(got - expected)) < 1e-5 * np.max(np.abs(expected)), grid
        # reset: a new stream (nothing before it), the same as a fresh bank
        bank.reset()
        again = np.zeros_like(got)
        bank.add_to(np.fft.fft(x.reshape(streams, 13, sym)[..., cp:], axis=-1, norm="ortho").astype(np.complex64),
                    list(again))
        assert np.max(np.abs(again - expected)) < 1e-5 * np.max(np.abs(expected))
    with pytest.raises(ValueError, match="a path reads streams of two groups"):
        delay_line.PathBank(subcarriers, cp, fs, delays, np.ones((delays.size, streams)), rx,
                            stream_groups=[(0, 3), (3, 6)])


def test_layout_keys_and_absent_interference_leave_the_channel_bit_for_bit(paper):
    """Guard/DC bins (the transmitter's layout), link-budget constants, a zero clutter count and an infinite
    isolation change nothing in the air: write_time's output is bit-identical to the plain scenario's."""
    layout = ofdm.layout_from_scenario(paper)
    rng = np.random.default_rng(4)
    x = (rng.standard_normal((12, 6 * layout.symbol_len)) + 1j * rng.standard_normal((12, 6 * layout.symbol_len))
         ).astype(np.complex64)
    table = {"guard_subcarriers": 3, "dc_null": True, "carrier_hz": 28e9, "rcs_m2": 10.0, "clutter_scatterers": 0,
             "isolation_db": float("inf"), "adc_full_scale": 2.0, "agc": False}
    for n in range(2):
        plain = _fast(channels.SensingChannel(paper, n, 3), x)
        same = channels.SensingChannel(paper.with_impairments(table), n, 3)
        assert same.paths.count == paper.num_nodes * paper.num_targets
        np.testing.assert_array_equal(_fast(same, x), plain)
