# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Guard and DC bins (issue 14, SPEC14 §2 last bullet): the transmitter puts nothing on inactive bins, its radar
streams stay orthogonal over the active REs with E[s sᴴ] = I there, the FIM/CRB (eq. 10–12) and so the SDR
design sum over active bins only, the localiser and the user receiver use active bins only.

Scenarios: the paper's with 3 guard bins and DC nulled (L_a = 12 of 16: exactly N·Mt = 12 active REs per frame,
the tightest case the radar streams allow) and the lab preset's layout (guard_fraction 0.2, dc_null).
"""

from air_helpers import random_covariances
import numpy as np
import pytest
from gnuradio import blocks, gr

from gnuradio.disac.blocks.comm_channel import comm_channel
from gnuradio.disac.blocks.isac_tx import isac_tx
from gnuradio.disac.blocks.user_rx import user_rx
from gnuradio.disac.core import fim, localizer, model, ofdm, precoder_sets, scenario, sinr

PAPER = scenario.load_scenario("paper")
GUARDED = PAPER.with_impairments({"guard_subcarriers": 3, "dc_null": True})
MASK = GUARDED.active_subcarriers
# complex64 output: an IFFT/FFT round trip leaves rounding of ~1e-7 of the amplitude on a bin that should be
# empty, i.e. ~1e-14 of the power; 1e-12 has margin and is 10 orders below any real leakage (a bin carrying a
# stream has the same power as an active bin, ratio ~1/L_a).
EMPTY_BIN_POWER_RATIO = 1e-12
# float64 identities (sums over the same numbers in another order, an exact algebraic identity): 1e-10 relative
EXACT_RTOL = 1e-10


def test_the_scenario_mask_is_the_one_definition_and_the_layout_carries_it():
    assert list(np.flatnonzero(~MASK)) == [0, 7, 8, 9]  # DC, and the band edges around L/2 (ceil 2 low, floor 1 high)
    layout = ofdm.layout_from_scenario(GUARDED)
    assert np.array_equal(layout.active_mask, MASK)
    assert layout.active_res == 12 and layout.re_power_scale == pytest.approx(16 / 12)
    assert ofdm.layout_from_scenario(PAPER).active_subcarriers is None  # all bins: the old layout exactly
    assert ofdm.layout_from_scenario(PAPER) == ofdm.FrameLayout(16, 20, 1, 3, 6, 2)
    # the receive side's copy keeps the transmitter's layout (SPEC14 §0)
    assert np.array_equal(GUARDED.without_impairments().active_subcarriers, MASK)


def run_isac_tx(scn, node, frames, wc=None, wr=None):
    tb = gr.top_block()
    tx = isac_tx(scn, node, 5, wc, wr, frames)
    sinks = [blocks.vector_sink_c() for _ in range(scn.tx_antennas)]
    for i, sink in enumerate(sinks):
        tb.connect((tx, i), sink)
    tb.run()
    return np.array([sink.data() for sink in sinks])  # (Mt, frames·frame_len)


def bin_powers(samples, layout):
    """Power per FFT bin of every OFDM symbol of the output: (Mt, symbols, L)."""
    symbols = samples.reshape(samples.shape[0], -1, layout.symbol_len)[..., layout.cyclic_prefix:]
    return np.abs(np.fft.fft(symbols, axis=-1, norm="ortho")) ** 2


@pytest.mark.parametrize("node", [0, 1])
def test_isac_tx_output_has_no_energy_on_inactive_bins(node):
    """Every OFDM symbol (preamble, pilots, sensing/data) of the block's output: no energy on guard/DC bins."""
    layout = ofdm.layout_from_scenario(GUARDED)
    power = bin_powers(run_isac_tx(GUARDED, node, 6), layout)
    assert power[..., MASK].mean() > 0.1
    assert power[..., ~MASK].max() < EMPTY_BIN_POWER_RATIO * power[..., MASK].mean()
    # the old code put its streams on every bin: the same block without guards does (so the test can fail)
    full = bin_powers(run_isac_tx(PAPER, node, 6), ofdm.layout_from_scenario(PAPER))
    assert full[..., ~MASK].mean() > 0.1 * full[..., MASK].mean()


def test_frequency_domain_frames_are_exactly_zero_on_inactive_bins():
    layout = ofdm.layout_from_scenario(GUARDED)
    gen = ofdm.FrameGenerator(layout, 9)
    wc, wr = ofdm.default_precoders(layout, GUARDED.per_antenna_power)
    frames = np.arange(3, 11)
    for node in range(layout.num_nodes):
        X = ofdm.transmitted_frames(layout, 9, frames, node, wc, wr)  # what the central unit regenerates
        assert np.all(X[:, :, ~MASK] == 0) and np.all(X[:, :, MASK] != 0)
        fast = ofdm.NodeModulator(gen, node, wc, wr)
        np.testing.assert_allclose(fast.frequency_frames(frames).transpose(1, 0, 2, 3), X, rtol=0, atol=1e-5)
        assert np.all(fast.frequency_frames(frames)[:, :, ~MASK] == 0)
        # the fast path equals the reference to float32 rounding (as tests/test_ofdm.py for the full band)
        reference = np.einsum("ij,fjt->ift", np.concatenate([wc, wr], axis=1), gen.stream_time(frames, node))
        np.testing.assert_allclose(fast.samples(frames), reference.reshape(layout.tx_antennas, -1), rtol=0, atol=2e-6)
    assert np.all(gen.preamble[..., ~MASK] == 0) and np.all(gen.pilots[..., ~MASK] == 0)


def test_radar_streams_are_orthogonal_over_the_active_res_and_white_on_each():
    layout = ofdm.layout_from_scenario(GUARDED)
    gen = ofdm.FrameGenerator(layout, 2)
    frames = np.arange(4000)
    s_r = gen.radar_symbols(frames)  # (F, N·Mt, L, P)
    assert np.all(s_r[:, :, ~MASK] == 0)
    flat = s_r.reshape(len(frames), layout.num_nodes * layout.tx_antennas, -1)
    gram = flat @ np.conj(np.swapaxes(flat, 1, 2))  # exact per frame: rows orthogonal, norm² L_a·P
    np.testing.assert_allclose(gram, np.broadcast_to(layout.active_res * np.eye(12), gram.shape), rtol=0, atol=1e-9)
    # E[s sᴴ] = I on every active RE, estimated over the frames: each entry is a mean of 4000 unit-power terms,
    # standard error 1/√4000 ≈ 0.016; 6 standard errors over the 12·12·12 entries (seeded, deterministic)
    per_re = s_r[..., 0][:, :, MASK]  # (F, 12, L_a)
    covariance = np.einsum("fil,fjl->lij", per_re, per_re.conj()) / len(frames)
    assert np.max(np.abs(covariance - np.eye(12))) < 6 / np.sqrt(len(frames))


def test_too_few_active_res_for_orthogonal_radar_streams_is_a_clear_error():
    with pytest.raises(ofdm.FrameError, match=r"L_active·P = 11·1 = 11 active resource elements"):
        ofdm.layout_from_scenario(PAPER.with_impairments({"guard_subcarriers": 4, "dc_null": True}))
    with pytest.raises(ofdm.FrameError, match="active_subcarriers"):
        ofdm.FrameLayout(16, 20, 1, 3, 6, 2, active_subcarriers=np.zeros(16, bool))


def test_per_sample_power_stays_p_t_with_guards():
    """Decided (core.ofdm docstring): the DAC's per-sample power per antenna is P_T with or without guards; the
    active REs get P_T·L/L_a. Radar only (W_r = √(P_T·L/L_a)·I): each antenna's data symbols carry exactly
    |w|²·L_a·P over the frame (orthogonal rows of norm² L_a·P), so the mean sample power is P_T to rounding."""
    layout = ofdm.layout_from_scenario(GUARDED)
    p_re = ofdm.per_re_power(GUARDED.per_antenna_power, layout)
    assert p_re == pytest.approx(GUARDED.per_antenna_power * 16 / 12)
    wc = np.zeros((6, 3), complex)
    wr = np.sqrt(p_re) * np.eye(6, dtype=complex)
    samples = run_isac_tx(GUARDED, 0, 4, wc, wr)
    data = samples.reshape(6, 4, layout.frame_symbols, layout.symbol_len)[:, :, layout.front_symbols:, layout.cyclic_prefix:]
    np.testing.assert_allclose(np.mean(np.abs(data) ** 2, axis=(1, 2, 3)), GUARDED.per_antenna_power, rtol=1e-5)
    # and the placeholder precoders spend P_T·L/L_a per active RE: [R]_ii = P_T·L/L_a
    wc0, wr0 = ofdm.default_precoders(layout, GUARDED.per_antenna_power)
    np.testing.assert_allclose(np.real(np.diag(wc0 @ wc0.conj().T + wr0 @ wr0.conj().T)), p_re, rtol=EXACT_RTOL)


def test_random_precoders_spend_the_per_re_power_with_guards():
    """`--precoders random` gives every antenna [R_n]_ii = P_T·L/L_a per active RE, as the placeholder and the design
    do (it gave P_T, i.e. L_a/L of the DAC's power: 25 % under-driven with the lab's 1/5 guard bins and DC); without
    guards exactly P_T as before."""
    for scn, expected in ((GUARDED, GUARDED.per_antenna_power * 16 / 12), (PAPER, PAPER.per_antenna_power)):
        wc, wr = precoder_sets.random_precoders(scn, comm_fraction=0.3, seed=2)
        power = np.real(np.einsum("nij,nij->ni", wc, wc.conj()) + np.einsum("nij,nij->ni", wr, wr.conj()))
        np.testing.assert_allclose(power, expected, rtol=EXACT_RTOL)


# ---- FIM, CRB, SDR ----------------------------------------------------------------------------------

def test_fim_with_a_mask_equals_the_fim_built_from_the_active_bins_only():
    """F(Ψ) with the mask = (2P/σ²) Re Σ_m tr(Q_m R_m) with Q summed over the ACTIVE l only, built here from the
    unmasked G (one G per bin, fim._link_derivatives); and the conditional FIM of frames that are empty on the
    inactive bins is the same with and without the mask (nothing there, nothing to learn)."""
    full = fim.SensingGeometry.from_scenario(PAPER)
    masked = fim.SensingGeometry.from_scenario(GUARDED)
    assert np.array_equal(masked.active_mask(), MASK) and full.active_subcarriers is None
    R = random_covariances(np.random.default_rng(1), PAPER)
    dim = fim.psi_size(PAPER.num_nodes, PAPER.num_targets)
    expected = np.zeros((dim, dim))
    for n in range(PAPER.num_nodes):
        for m in range(PAPER.num_nodes):
            idx, G = fim._link_derivatives(full, n, m)
            G = G[:, MASK].reshape(len(idx), -1, PAPER.tx_antennas)  # the active bins only
            Q = np.einsum("iza,jzc->ijac", G.conj(), G)
            expected[np.ix_(idx, idx)] += (2 * full.symbols / full.noise_power) * np.real(np.einsum("ijac,ca->ij", Q, R[m]))
    F = fim.FimMap(masked).fim_psi(R)
    np.testing.assert_allclose(F, expected, rtol=EXACT_RTOL, atol=EXACT_RTOL * np.abs(expected).max())
    assert not np.allclose(F, fim.FimMap(full).fim_psi(R), rtol=1e-3)  # the mask changes it (the test can fail)
    rng = np.random.default_rng(2)
    frames = (rng.standard_normal((2, 6, 16, 3)) + 1j * rng.standard_normal((2, 6, 16, 3))) * MASK[None, None, :, None]
    np.testing.assert_allclose(fim.conditional_fim_psi(masked, frames), fim.conditional_fim_psi(full, frames),
                               rtol=EXACT_RTOL, atol=EXACT_RTOL * np.abs(expected).max())


def test_crb_with_fewer_bins_is_larger_at_the_same_per_re_power():
    full = fim.SensingGeometry.from_scenario(PAPER)
    masked = fim.SensingGeometry.from_scenario(GUARDED)
    R = fim.isotropic_covariances(2, 6, 1.0)
    bound_full = fim.crb_report(full, R).crb_position_m2
    bound_masked = fim.crb_report(masked, R).crb_position_m2
    assert bound_masked > bound_full
    # the nuisance bound honours the mask too (SPEC14 §2: the FIM knows the guards)
    assert fim.position_crb_with_nuisance_m2(full, R, active_subcarriers=MASK) == pytest.approx(
        fim.position_crb_with_nuisance_m2(masked, R), rel=EXACT_RTOL)


def test_sdr_design_uses_the_masked_fim_and_the_per_re_power():
    from gnuradio.disac.core.beamformer import BeamformerDesigner
    designer = BeamformerDesigner(GUARDED, objective="position")
    assert np.array_equal(designer.geometry.active_mask(), MASK)
    assert designer.per_re_power == pytest.approx(GUARDED.per_antenna_power * 16 / 12)
    result = designer.solve(10.0)
    assert result.ok
    masked = fim.SensingGeometry.from_scenario(GUARDED)
    # the design's reported bound is the masked FIM's CRB of its covariances (solver tolerance 1e-7 relative)
    assert result.crb_position_bound_m2 == pytest.approx(fim.crb_report(masked, result.R).crb_position_m2, rel=1e-9)
    # eq. (18d) per active RE: up to P_T·L/L_a (1e-4: the extraction's tolerance, tests/test_cli_design.py)
    assert result.max_antenna_power <= designer.per_re_power * (1 + 1e-4)
    assert result.max_antenna_power > GUARDED.per_antenna_power  # the guards' share is used
    assert min(result.sinr_extracted_db) >= 10 - 0.1


# ---- localiser ----------------------------------------------------------------------------------

def test_localiser_uses_the_active_bins_only():
    """Echoes on the active bins and a strong interferer on the inactive ones (nothing was sent there, so it is
    not an echo): the masked localiser finds the targets and gives exactly the result it gives with the inactive
    bins zeroed; its cost does not see the interferer."""
    rng = np.random.default_rng(4)
    layout = ofdm.layout_from_scenario(GUARDED)
    wc, wr = ofdm.default_precoders(layout, GUARDED.per_antenna_power)
    X = np.stack([ofdm.transmitted_frames(layout, 3, [0], m, wc, wr)[0] for m in range(2)])  # (N, Mt, L, P)
    Y = model.scenario_sensing_mean(GUARDED, X)
    noise = np.sqrt(GUARDED.noise_power / 2) * (rng.standard_normal(Y.shape) + 1j * rng.standard_normal(Y.shape))
    Y = Y + 1e-2 * noise  # high SNR: the estimate sits at the truth to centimetres
    interferer = 1e3 * np.abs(Y).max() * (rng.standard_normal(Y.shape) + 1j * rng.standard_normal(Y.shape))
    Y_bad = Y + interferer * (~MASK)[None, None, :, None]
    masked = localizer.Localizer.from_scenario(GUARDED)
    assert np.array_equal(masked.active_subcarriers, MASK)
    result = masked.localize(Y_bad, X, GUARDED.num_targets)
    clean = masked.localize(Y * MASK[None, None, :, None], X, GUARDED.num_targets)
    np.testing.assert_array_equal(result.positions_m, clean.positions_m)
    truth = np.asarray(GUARDED.target_positions_m)
    error = np.sort(np.linalg.norm(result.positions_m[:, None] - truth[None], axis=-1).min(axis=1))
    assert error.max() < 0.05, error  # metres; the noise is 40 dB below the scenario's
    # the cost is the active bins' residual energy: the interferer is not in it
    assert masked.concentrated_cost(Y_bad, X, result.positions_m) == pytest.approx(
        masked.concentrated_cost(Y, X, result.positions_m), rel=EXACT_RTOL)
    # the localiser without the mask (the old one exactly: active_subcarriers None) counts the inactive bins' energy
    # as unexplained; its estimate is the same here only because the frames are empty there (docstring)
    unmasked = localizer.Localizer.from_scenario(PAPER)
    assert unmasked.active_subcarriers is None
    assert unmasked.concentrated_cost(Y_bad, X, result.positions_m) > 1e3 * masked.concentrated_cost(
        Y_bad, X, result.positions_m)


def test_localiser_rejects_a_bad_mask():
    with pytest.raises(ValueError, match="active_subcarriers"):
        localizer.Localizer(PAPER.node_positions_m, 6, 16, 16, 1e7, (-100, 100, -100, 100),
                            active_subcarriers=np.ones(15, bool))


# ---- user receiver ----------------------------------------------------------------------------------

FRAMES = 300  # the SINR's phase-average sampling error is ≈ 0.1 dB at 1000 frames (qa_user_rx), ≈ 0.2 dB here


def test_user_sinr_matches_eq6_with_the_mask():
    """Random beams at the per-RE power P_T·L/L_a, half to the users (multi-user and radar interference): each
    user's measured SINR over the active REs matches eq. (6) within 0.5 dB (qa_user_rx's bound), and it decodes
    2·L_a·P bits per frame."""
    scn = GUARDED
    p_re = ofdm.per_re_power(scn.per_antenna_power, scn.active_subcarriers)
    rng = np.random.default_rng(3)

    def scaled(shape, power):
        w = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
        return w * np.sqrt(power / np.sum(np.abs(w) ** 2, axis=-1, keepdims=True))
    wc, wr = scaled((2, 6, 3), 0.5 * p_re), scaled((2, 6, 6), 0.5 * p_re)
    designed = sinr.to_db(sinr.sinr_from_beamformers(scn.user_channels(), wc, wr, scn.user_noise_power))
    tb = gr.top_block()
    txs = [isac_tx(scn, n, 0, wc[n], wr[n], FRAMES) for n in range(2)]
    channel = comm_channel(scn, 2)
    receivers = [user_rx(scn, u, 0) for u in range(3)]
    for n, tx in enumerate(txs):
        for i in range(6):
            tb.connect((tx, i), (channel, 6 * n + i))
    for u, rx in enumerate(receivers):
        tb.connect((channel, u), rx)
    tb.run()
    for u, rx in enumerate(receivers):
        assert rx.accumulator.frames == FRAMES
        assert rx.accumulator.bits == FRAMES * 2 * 12
        assert abs(rx.measured_sinr_db() - designed[u]) < 0.5, (u, rx.measured_sinr_db(), designed[u])
    assert max(designed) < 3  # an interference-limited point, where a wrong bin set would show


def test_user_metrics_on_the_active_bins_ignore_what_is_on_the_inactive_ones():
    """frame_metrics with the mask reads only active bins: garbage on the inactive ones changes nothing."""
    from gnuradio.disac.core import user_metrics
    layout = ofdm.layout_from_scenario(GUARDED)
    gen = ofdm.FrameGenerator(layout, 0)
    rng = np.random.default_rng(6)
    frames = np.arange(4)
    bits = gen.data_bits(frames)[:, 0]
    symbols = ofdm.qpsk(bits)
    front = np.concatenate([gen.preamble, gen.pilots], axis=1)[0]  # user 0's front (1 + 1, L)
    clean = np.concatenate([np.broadcast_to(front, (4,) + front.shape), np.swapaxes(symbols, 1, 2) * MASK], axis=1)
    clean = 0.7 * clean + 0.01 * (rng.standard_normal(clean.shape) + 1j * rng.standard_normal(clean.shape))
    dirty = clean + 100 * (~MASK) * (rng.standard_normal(clean.shape) + 1j * rng.standard_normal(clean.shape))
    a = user_metrics.frame_metrics(clean, layout, gen.pilots, 0, symbols, bits)
    b = user_metrics.frame_metrics(dirty, layout, gen.pilots, 0, symbols, bits)
    np.testing.assert_array_equal(a.sinr_db, b.sinr_db)
    assert a.bits == 2 * 12 and np.all(a.bit_errors == 0)
    np.testing.assert_allclose(a.gain, 0.7, atol=0.02)  # the flat gain over the L_a pilot REs


def test_frequency_grid_matters_only_with_guards():
    """Without guards the low-IF and centred grids give the same bound (a common frequency offset is a per-link
    phase, which the free amplitudes absorb: equal to ~1e-6, the coupling through the shared angles); with the
    band-edge guards the centred grid (a radio's) loses RMS bandwidth and the bound rises, while on the low-IF
    grid the same bins are mid-band and it falls (docs/fim-derivation.md §7)."""
    import dataclasses
    R_full = fim.isotropic_covariances(2, 6, PAPER.per_antenna_power)
    R_mask = fim.isotropic_covariances(2, 6, ofdm.per_re_power(GUARDED.per_antenna_power, MASK))
    bounds = {}
    for scn, R in ((PAPER, R_full), (GUARDED, R_mask)):
        for grid in ("low-if", "centred"):
            geom = dataclasses.replace(fim.SensingGeometry.from_scenario(scn), frequency_grid=grid)
            bounds[scn is GUARDED, grid] = fim.crb_report(geom, R).crb_position_m2
    assert bounds[False, "centred"] == pytest.approx(bounds[False, "low-if"], rel=1e-5)
    assert bounds[True, "centred"] > 1.1 * bounds[False, "low-if"]
    assert bounds[True, "low-if"] < bounds[False, "low-if"]
    with pytest.raises(ValueError, match="frequency_grid = 'ifft'"):
        fim.SensingGeometry.from_scenario(PAPER).__class__(**{**fim.SensingGeometry.from_scenario(PAPER).__dict__,
                                                              "frequency_grid": "ifft"})


def test_user_rx_symbols_pdu_holds_the_active_res_only():
    """The symbols PDU carries the L_a·P equalised active REs (not the 0/ĝ of the empty bins), the metrics dict
    2·L_a·P bits. (A first version's PDU of a fancy-indexed, non-contiguous array stopped the receiver's thread:
    this test hung the flowgraph until user_rx made it contiguous.)"""
    import pmt
    from gnuradio.disac.blocks import tags
    tb = gr.top_block()
    frames = 20
    txs = [isac_tx(GUARDED, n, 0, None, None, frames) for n in range(2)]
    channel = comm_channel(GUARDED, 1)
    rx = user_rx(GUARDED, 1, 0)
    for n, tx in enumerate(txs):
        for i in range(6):
            tb.connect((tx, i), (channel, 6 * n + i))
    tb.connect((channel, 1), rx)
    for u in (0, 2):
        tb.connect((channel, u), blocks.null_sink(gr.sizeof_gr_complex))
    metrics, symbols = blocks.message_debug(), blocks.message_debug()
    tb.msg_connect((rx, tags.METRICS_PORT), (metrics, "store"))
    tb.msg_connect((rx, "symbols"), (symbols, "store"))
    tb.run()
    assert symbols.num_messages() == frames == metrics.num_messages()
    payload = np.array(pmt.c32vector_elements(pmt.cdr(symbols.get_message(3))))
    assert payload.size == 12 and np.all(np.isfinite(payload))
    assert pmt.to_long(pmt.dict_ref(metrics.get_message(3), pmt.intern("bits"), pmt.PMT_NIL)) == 2 * 12
