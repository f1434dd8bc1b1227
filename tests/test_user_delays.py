# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Users seeing every node at its own delay (issue 13 item 4, docs/air-model.md §2 "Users"): the comm channel delays each
node's signal by δ_n + |p_n − q_u|/c through the air's delay operator, the per-subcarrier pilots (an orthogonal
cover over K ≥ U + 1 pilot symbols) let user_rx estimate the frequency-selective channel, and the measured
SINR matches eq. (6) within 0.5 dB over ≥ 200 frames at three operating points. The user receivers are given
``scenario.without_impairments()`` (they read no impairments, docs/air-model.md §0) and give the same metrics."""

import functools
import re

import numpy as np
import pytest
from gnuradio import blocks, gr

from gnuradio.disac.blocks.comm_channel import comm_channel
from gnuradio.disac.blocks.isac_tx import isac_tx
from gnuradio.disac.blocks.user_rx import user_rx
from gnuradio.disac.core import channels, ofdm, precoder_sets, sinr, user_metrics
from gnuradio.disac.core.scenario import load_scenario

PAPER = load_scenario("paper")
PILOTS = PAPER.num_users + 1  # the per-subcarrier design's minimum, K = U + 1
FRAMES = 200  # the minimum
DATA_SEED, CHANNEL_SEED = 4, 7
# the paper's users with their own propagation delays and GPSDO-class clock offsets (50 ns = 0.5 sample std)
DELAYS = {"user_delays": True, "timing_offset_ns": 50.0, "seed": 3}
# (user SNR P_T/σ_c² dB, Γ_c dB of the designed precoders): noise-limited to interference-limited
OPERATING_POINTS = ((10.0, 5.0), (20.0, 15.0), (30.0, 25.0))


def delayed_scenario(snr_db=20.0, pilot_symbols=PILOTS, table=DELAYS):
    return PAPER.replace(pilot_symbols=pilot_symbols, user_noise_power=PAPER.per_antenna_power / 10 ** (snr_db / 10),
                         impairments_table=table)


@functools.lru_cache(maxsize=None)
def designed(snr_db, gamma_db):
    """The SDR design at Γ_c (eq. 6 = Γ_c for its beamformers): W_c (N, Mt, U), W_r (N, Mt, Mt)."""
    wc, wr = precoder_sets.designed_precoders(delayed_scenario(snr_db), gamma_db)[:2]
    return wc, wr


def run_users(scenario, wc, wr, frames, receiver_scenario=None, late_samples=None):
    """Every isac_tx → comm_channel (scenario: the air's truth) → one user_rx per user (tags) built from
    ``receiver_scenario`` (default: the scenario without its impairments). With ``late_samples``, the users'
    streams arrive that many samples late and the receivers find the frames from the preamble (no tags).
    Returns the receivers."""
    tb = gr.top_block()
    n_nodes, mt = scenario.num_nodes, scenario.tx_antennas
    txs = [isac_tx(scenario, n, DATA_SEED, wc[n], wr[n], frames) for n in range(n_nodes)]
    channel = comm_channel(scenario, CHANNEL_SEED)
    rx_scenario = scenario.without_impairments() if receiver_scenario is None else receiver_scenario
    sync = "tags" if late_samples is None else "preamble"
    receivers = [user_rx(rx_scenario, u, DATA_SEED, sync) for u in range(scenario.num_users)]
    for n, tx in enumerate(txs):
        for i in range(mt):
            tb.connect((tx, i), (channel, mt * n + i))
    for u, rx in enumerate(receivers):
        if late_samples is None:
            tb.connect((channel, u), rx)
        else:
            tb.connect((channel, u), blocks.delay(gr.sizeof_gr_complex, late_samples), rx)
    tb.run()
    return receivers


def conditional_sinr_db(scenario, wc, wr, frames, user):
    """The SINR these very frames should show: eq. (6)'s powers with the realised oscillator phases and the
    channel's true per-subcarrier delays (ratio of the sums over frames and subcarriers, like the measurement)."""
    model = channels.CommChannel(scenario, CHANNEL_SEED)
    h = scenario.user_channels()
    hw = np.einsum("ni,nij->nj", h[:, user].conj(), wc)  # (N, U)
    d = ofdm.delay_phases(model.delays_samples[:, user] / scenario.bandwidth_hz, scenario.subcarriers,
                          scenario.bandwidth_hz)  # (N, L)
    g = np.einsum("fn,nl,ni->fli", np.exp(1j * model.node_phases(np.arange(frames))), d, hw)
    power = np.abs(g) ** 2
    radar = np.sum(np.abs(np.einsum("ni,nij->nj", h[:, user].conj(), wr)) ** 2)
    signal = power[..., user].sum()
    interference = power.sum() - signal + power[..., 0].size * (radar + scenario.user_noise_power)
    return 10 * np.log10(signal / interference)


def test_ideal_table_keeps_todays_layout_and_flat_channel():
    """Absent/ideal [impairments] and no pilot_symbols key: the frame layout is today's (one pilot symbol,
    frame_len 108 for the paper) with today's pilots c_l·e^{j2πul/L}, and the comm channel has no delays."""
    layout = ofdm.layout_from_scenario(PAPER)
    assert (layout.pilot_symbols, layout.frame_len, layout.pilot_design) == (1, 108, ofdm.PILOT_FLAT)
    gen = ofdm.FrameGenerator(layout, 0)
    cover = gen.pilots[0]  # user 0: e^0 = 1
    ramp = np.exp(2j * np.pi * np.outer(np.arange(3), np.arange(16)) / 16)
    np.testing.assert_allclose(gen.pilots, cover[None] * ramp[:, None, :], atol=1e-12)
    for scenario in (PAPER, PAPER.with_impairments("ideal")):
        model = channels.CommChannel(scenario, 1)
        assert not model.frequency_selective and not np.any(model.delays_samples)
        assert model.pilot_warning() is None
    assert ofdm.layout_from_scenario(delayed_scenario()).frame_len == 108 + (PILOTS - 1) * 36


def test_layout_is_the_same_without_impairments():
    """The pilot count is a layout key ([ofdm] pilot_symbols), not an impairment: a receiver given the scenario
    without its [impairments] frames exactly as the transmitter; and it survives the TOML round trip."""
    from gnuradio.disac.core import scenario as scenario_module
    import tomllib
    s = delayed_scenario()
    assert ofdm.layout_from_scenario(s) == ofdm.layout_from_scenario(s.without_impairments())
    again = scenario_module.scenario_from_dict(tomllib.loads(scenario_module.scenario_to_toml(s)))
    assert ofdm.layout_from_scenario(again) == ofdm.layout_from_scenario(s)
    with pytest.raises(scenario_module.ScenarioError, match="ofdm.pilot_symbols"):
        PAPER.replace(pilot_symbols=0)


def test_cover_pilots_are_orthogonal_on_every_subcarrier():
    """Per-subcarrier design: Σ_k p_u[k, l]·conj(p_i[k, l]) = K·δ_ui on each subcarrier l, |p| = 1."""
    layout = ofdm.layout_from_scenario(delayed_scenario())
    assert layout.pilot_design == ofdm.PILOT_PER_SUBCARRIER
    p = ofdm.FrameGenerator(layout, 0).pilots  # (U, K, L)
    np.testing.assert_allclose(np.abs(p), 1.0)
    gram = np.einsum("ukl,ikl->lui", p, p.conj())
    np.testing.assert_allclose(gram, PILOTS * np.broadcast_to(np.eye(3), gram.shape), atol=1e-12)


def test_delays_are_the_geometry_plus_clock_offsets():
    """D_{n,u} = δ_n + |p_n − q_u|/c in samples, taken relative to the user's first arrival (integer part)."""
    s = delayed_scenario()
    model = channels.CommChannel(s, 1)
    distance = np.linalg.norm(s.node_positions_m[:, None] - s.user_positions_m[None], axis=-1)
    truth = (s.impairments.clock_offset_s[:, None] + distance / 299_792_458.0) * s.bandwidth_hz
    np.testing.assert_allclose(model.true_delays_samples(s), truth, rtol=1e-12)
    np.testing.assert_allclose(model.delays_samples + model.alignment_samples[None], truth, rtol=1e-12)
    assert np.all(model.delays_samples >= 0) and np.all(np.min(model.delays_samples, axis=0) < 1)
    # the paper's users see the two nodes 0.7 … 6.1 samples apart (issue 13), clock offsets move that a little
    assert np.all(model.delay_spread_samples > 0.1) and np.max(model.delay_spread_samples) > 5.5


@pytest.mark.parametrize("first_symbol", [0, 7])
def test_time_path_is_the_delay_operator_and_the_frequency_model(first_symbol):
    """Cut into calls, write_time (complex64, the block's path, DelayLine with history) equals apply_time
    (core.delay_line's sample-by-sample equations, float64) to 1e-6 of the largest sample (float32 rounding),
    and after CP removal + FFT every symbol equals the frequency-domain model y_u[l] = Σ_n e^{jφ_n}
    e^{−j2π f_l D_{n,u}} h_{n,u}ᴴ x_n[l] (1e-10: the same float64 maths two ways)."""
    s = delayed_scenario()
    layout = ofdm.layout_from_scenario(s)
    sym = layout.symbol_len
    rng = np.random.default_rng(5)
    count = 3 * layout.frame_len
    x = (rng.standard_normal((12, count)) + 1j * rng.standard_normal((12, count))).astype(np.complex64)
    first = first_symbol * sym
    reference = channels.CommChannel(s, 5).apply_time(x.astype(complex), first)
    fast, out = channels.CommChannel(s, 5), np.zeros((3, count), np.complex64)
    for a, b in zip((0, 2 * sym, 3 * sym, 9 * sym), (2 * sym, 3 * sym, 9 * sym, count)):
        part = np.zeros((3, b - a), np.complex64)
        fast.write_time(np.ascontiguousarray(x[:, a:b]), first + a, list(part))
        out[:, a:b] = part
    assert np.max(np.abs(out - reference)) < 1e-6 * np.max(np.abs(reference))
    symbols = count // sym
    x_freq = ofdm.demodulate(x.astype(complex).reshape(12, symbols, sym), layout.cyclic_prefix)
    model = fast.apply_frequency(np.moveaxis(x_freq, 0, 1), layout.frame_of_symbols(first, symbols))
    received = ofdm.demodulate(reference.reshape(3, symbols, sym), layout.cyclic_prefix)
    np.testing.assert_allclose(np.moveaxis(received, 0, 1), model, atol=1e-10 * np.max(np.abs(model)))


def test_per_subcarrier_estimate_is_exact_for_any_spread_up_to_the_prefix():
    """Noise off, delays spread over the whole cyclic prefix (0 … 19.7 samples, CP 20): ĝ_u[l] from the
    cover equals the true g_u[l] = Σ_n e^{jφ_n} e^{−j2π f_l D_n,u} h_{n,u}ᴴ w_{c,n,u} to 1e-5 (complex64
    samples), the unused codes hold nothing (σ̂² ≈ 0) and the equalised data are the QPSK points."""
    s = delayed_scenario()
    layout = ofdm.layout_from_scenario(s)
    wc, wr = designed(20.0, 15.0)
    frames = np.arange(6)
    model = channels.CommChannel(s, 2)
    model.delays_samples = np.array([[0.0, 7.3, 19.7], [12.45, 0.0, 3.5]])  # any spread up to the prefix
    gen = ofdm.frame_generator(layout, DATA_SEED)
    x = np.concatenate([ofdm.NodeModulator(gen, n, wc[n], wr[n]).samples(frames) for n in range(2)])
    y = model.apply_time(x.astype(complex), 0).reshape(3, len(frames), layout.frame_symbols, layout.symbol_len)
    h = s.user_channels()
    phases = model.node_phases(frames)
    for u in range(3):
        freq = ofdm.demodulate(y[u], layout.cyclic_prefix)
        pilot = freq[:, layout.preamble_symbols:layout.front_symbols]
        gain, noise = user_metrics.estimate_channels(pilot, gen.pilots, u)
        d = ofdm.delay_phases(model.delays_samples[:, u] / s.bandwidth_hz, 16, s.bandwidth_hz)
        truth = np.einsum("fn,nl,n->fl", np.exp(1j * phases), d, np.einsum("ni,ni->n", h[:, u].conj(), wc[:, :, u]))
        assert np.max(np.abs(gain - truth)) < 1e-5 * np.max(np.abs(truth))
        assert np.all(noise < 1e-10 * np.max(np.abs(truth)) ** 2)


def test_noise_estimate_is_unbiased():
    """The K − U unused cover codes carry noise only: over 500 frames of pure noise (L·(K − U) = 16 values per
    frame, 8000 in all, relative standard error 1.1%) σ̂² is σ_c² within 5%, and ĝ's error variance is σ_c²/K."""
    layout = ofdm.layout_from_scenario(delayed_scenario())
    pilots = ofdm.FrameGenerator(layout, 0).pilots
    rng = np.random.default_rng(8)
    shape = (500, PILOTS, 16)
    noise = 0.3 * (rng.standard_normal(shape) + 1j * rng.standard_normal(shape))  # σ² = 0.18
    gain, estimate = user_metrics.estimate_channels(noise, pilots, 1)
    assert abs(np.mean(estimate) / 0.18 - 1) < 0.05
    assert abs(np.mean(np.abs(gain) ** 2) / (0.18 / PILOTS) - 1) < 0.05


def zero_forcing(scenario, comm_fraction=0.5):
    """Per node W_c = pinv(H_nᴴ) scaled to comm_fraction·P_T on the busiest antenna, W_r = √((1 − f)·P_T)·I:
    every user gets equal power from both nodes, so its channel is the noncoherent sum of two equal paths at
    different delays (deep notches across the band, moving with the per-frame phases)."""
    h = scenario.user_channels()
    pt = scenario.per_antenna_power
    wc = np.stack([np.linalg.pinv(h[n].conj()) for n in range(scenario.num_nodes)])
    wc *= np.sqrt(comm_fraction * pt / np.max(np.sum(np.abs(wc) ** 2, axis=-1)))
    wr = np.sqrt((1 - comm_fraction) * pt) * np.stack([np.eye(scenario.tx_antennas)] * scenario.num_nodes)
    return wc, wr.astype(complex)


@pytest.mark.parametrize("snr_db,gamma_db", OPERATING_POINTS + ((20.0, None),))
def test_measured_sinr_matches_eq6_with_user_delays(snr_db, gamma_db):
    """200 frames, per-node delays on (user delays + 50 ns clock offsets; spreads 0.4–5.8 samples): every
    user's measured SINR is eq. (6) within 0.5 dB (the issue's bound), at the three designed operating points
    (SINR 5/15/25 dB: noise-limited to interference-limited) and with zero-forcing beams (−5.3 dB, radar-limited,
    both nodes equally strong at every user). Measured here (seeds as in this file): within 0.05 dB of eq. (6).
    Tighter: within 0.25 dB of the SINR these very frames should show given their phases and delays (what is
    left is the data, radar and noise randomness over 200 × 16 REs, ≈ 0.1 dB rms at 5 dB SINR, after the pilot
    estimate's noise is corrected); the rest of the 0.5 dB is the phase average over 200 frames (0.01 dB for
    the designed beams, which serve users 0 and 2 from one node; ≈ 0.1 dB rms for zero forcing). Receivers
    are built from the scenario without its impairments."""
    s = delayed_scenario(snr_db)
    if gamma_db is None:
        wc, wr = zero_forcing(s)
    else:
        wc, wr = designed(snr_db, gamma_db)
    eq6 = sinr.to_db(sinr.sinr_from_beamformers(s.user_channels(), wc, wr, s.user_noise_power))
    if gamma_db is not None:
        np.testing.assert_allclose(eq6, gamma_db, atol=0.01)  # the design meets Γ_c with equality
    receivers = run_users(s, wc, wr, FRAMES)
    for u, rx in enumerate(receivers):
        assert rx.accumulator.frames == FRAMES
        measured = rx.measured_sinr_db()
        assert abs(measured - eq6[u]) < 0.5, f"user {u}: measured {measured:.3f} dB, eq. (6) {eq6[u]:.3f} dB"
        assert abs(measured - conditional_sinr_db(s, wc, wr, FRAMES, u)) < 0.25


def test_receiver_reads_no_impairments():
    """user_rx given the full scenario or scenario.without_impairments() gives the same metrics, bit for bit:
    it learns the channel from the pilots only (docs/air-model.md §0)."""
    s = delayed_scenario(20.0)
    wc, wr = designed(20.0, 15.0)
    blind = run_users(s, wc, wr, 20)
    told = run_users(s, wc, wr, 20, receiver_scenario=s)
    for a, b in zip(blind, told):
        assert a.frame_sinr_db == b.frame_sinr_db and a.accumulator.bit_errors == b.accumulator.bit_errors


def test_flat_pilots_cannot_follow_user_delays():
    """Why the per-subcarrier pilots exist: the same delayed channel with today's single flat pilot symbol
    measures an SINR far from eq. (6) (the gain averaged over the band and the users' pilots leaking into each
    other), and the comm channel says so in its warning."""
    s = delayed_scenario(20.0, pilot_symbols=1)
    assert "pilot_symbols" in channels.CommChannel(s, CHANNEL_SEED).pilot_warning()
    wc, wr = designed(20.0, 15.0)
    errors = [abs(rx.measured_sinr_db() - 15.0) for rx in run_users(s, wc, wr, FRAMES)]
    assert max(errors) > 3.0, errors


def test_phases_are_the_sensing_channels_in_both_oscillator_models():
    """The comm channel's φ_n are the sensing channel's (one function, same seed), per_frame and per_run."""
    frames = np.arange(50)
    for table in ({}, {"node_phase": "per_run", "phase_drift_deg_per_s": [10.0, -3.0]}):
        s = PAPER.with_impairments(table) if table else PAPER
        np.testing.assert_array_equal(channels.CommChannel(s, 3).node_phases(frames),
                                      channels.SensingChannel(s, 0, 3).oscillator_phases(frames))


@pytest.mark.parametrize("late_samples", [0, 61])
def test_preamble_sync_with_user_delays(late_samples):
    """No tags, the stream late by an unknown number of samples, zero-forcing beams (two equal paths per user,
    the hardest case for a search: the first preamble symbol alone lost the peak to the pilots' fixed
    pattern here): correlating with the whole front and collecting CP/2 + 1 samples of delay spread, the
    search places every user's frames at (or up to CP/2 before) its first path, never after it, so every path
    stays inside the prefix; the measured SINR is eq. (6) within 0.5 dB over 200 frames, like tag sync."""
    s = delayed_scenario(20.0)
    wc, wr = zero_forcing(s)
    eq6 = sinr.to_db(sinr.sinr_from_beamformers(s.user_channels(), wc, wr, s.user_noise_power))
    model = channels.CommChannel(s, CHANNEL_SEED)
    for u, rx in enumerate(run_users(s, wc, wr, FRAMES, late_samples=late_samples)):
        assert rx.accumulator.frames >= FRAMES - 1  # the last frame may be cut short by the delay block
        first_path = late_samples + np.min(model.delays_samples[:, u])  # ≥ late_samples, < late_samples + 1
        assert first_path - layout_half_prefix(s) - 1 <= rx.frame_start_found <= first_path
        assert abs(rx.measured_sinr_db() - eq6[u]) < 0.5, (u, rx.measured_sinr_db(), eq6[u])


def layout_half_prefix(scenario):
    return ofdm.layout_from_scenario(scenario).cyclic_prefix // 2


def test_sensing_snapshots_do_not_depend_on_the_pilot_count():
    """isac_tx → sensing_channel → node_rx with the per-subcarrier layout (K = 4 pilot symbols: a longer
    frame): every snapshot is still eq. (3)/(5)'s model to 1e-4 (the issue's bound) and equals the default
    layout's snapshot of the same frame to 1e-6 (float32 streams): the front symbols are users only, and the
    data and radar draws are functions of (seed, frame) alone."""
    from gnuradio.disac.blocks import qa_node_rx
    wc, wr = qa_node_rx.precoders(1)
    frames = 8
    longer = qa_node_rx.run_chain(PAPER.replace(pilot_symbols=PILOTS), frames, wc, wr, seed=2, channel_seed=3)
    today = qa_node_rx.run_chain(PAPER, frames, wc, wr, seed=2, channel_seed=3)
    mu = qa_node_rx.model_snapshots(PAPER, np.arange(frames), wc, wr, 2, 3)
    for n in range(PAPER.num_nodes):
        assert [snap.frame for snap in longer[n]] == list(range(frames))
        for f, (a, b) in enumerate(zip(longer[n], today[n])):
            assert np.linalg.norm(a.samples - mu[f, n]) / np.linalg.norm(mu[f, n]) < 1e-4
            assert np.linalg.norm(a.samples - b.samples) / np.linalg.norm(b.samples) < 1e-6


def print_figures(frames=FRAMES):
    """The issue's figures: measured SINR against eq. (6) at the operating points, with the conditional SINR of
    the same frames and the BER. From the repository root::

        OPENBLAS_NUM_THREADS=1 python -c "import conftest, sys; sys.path.insert(0, 'tests');
            import test_user_delays as t; t.print_figures(200)"
    """
    s = delayed_scenario()
    model = channels.CommChannel(s, CHANNEL_SEED)
    print(f"paper scenario, {DELAYS}, [ofdm] pilot_symbols = {PILOTS}, {frames} frames, data seed {DATA_SEED}, "
          f"channel seed {CHANNEL_SEED}")
    print("delays seen (samples after each user's first arrival) [node][user]:", model.delays_samples.round(3).tolist())
    for snr_db, gamma_db in OPERATING_POINTS + ((20.0, None),):
        s = delayed_scenario(snr_db)
        wc, wr = zero_forcing(s) if gamma_db is None else designed(snr_db, gamma_db)
        eq6 = sinr.to_db(sinr.sinr_from_beamformers(s.user_channels(), wc, wr, s.user_noise_power))
        label = "zero forcing" if gamma_db is None else f"designed, Γc {gamma_db:g} dB"
        for u, rx in enumerate(run_users(s, wc, wr, frames)):
            print(f"user SNR {snr_db:4.0f} dB, {label:20s} user {u}: measured {rx.measured_sinr_db():7.3f} dB, "
                  f"eq. (6) {eq6[u]:7.3f} dB, difference {rx.measured_sinr_db() - eq6[u]:+.3f} dB "
                  f"(these frames' own SINR {conditional_sinr_db(s, wc, wr, frames, u):7.3f} dB), BER {rx.ber():.2e}")



def test_a_spread_past_the_prefix_is_named():
    """Node 1's clock 2.5 µs late (25 samples of spread > CP = 20; the paper's node spacing alone cannot
    exceed 283 m = 9.4 samples): the comm channel names a user and the inter-symbol interference; the paper's
    own users with GPSDO-class offsets are well inside."""
    far = PAPER.replace(pilot_symbols=PILOTS, impairments_table={"user_delays": True, "timing_offset_ns": [0.0, 2500.0]})
    warning = channels.CommChannel(far, 1).pilot_warning()
    assert warning is not None and re.search(r"user \d sees the nodes up to 2\d\.\d\d samples", warning)
    assert "inter-symbol interference" in warning
    assert channels.CommChannel(delayed_scenario(), 1).pilot_warning() is None
