# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""core.front_end (docs/receiver-front-end.md): the ADC, the AGC and the RF self-interference canceller of a
synthetic radio's receive side, checked against numpy and the textbook, not against the module's own maths:

* the quantiser's SQNR is 6.02·b + 4.77 − backoff (the uniform quantiser's Δ²/12) for a Gaussian input that does
  not clip; its output lies on the 2^b mid-rise levels; clipping is counted sample by sample;
* the AGC sets one gain per frame for all antennas (every output sample of frame f is exactly
  ADC(g_f·v)/g_f with the one logged g_f), reaches its target after a level step within a few frames, steps
  down when saturated, and gives the same output however the stream is cut into calls;
* the canceller learns the leakage (delay and matrix) from the ADC output and the node's own transmit samples
  only (it is built without a scenario), converges over a few frames, leaves what its depth says (not less,
  not much more), reports the cancellation it achieved to within a dB of the truth, counts the frames before it
  settled, does not engage without leakage, and leaves the node's monostatic echoes alone;
* adc_bits = 0 (the ideal air) passes the samples unchanged, bit for bit;
* bad values are named.
"""

import inspect
import math

import numpy as np
import pytest

from gnuradio.disac.core import delay_line, front_end, ofdm
from gnuradio.disac.core.scenario import load_scenario

PAPER = load_scenario("paper")  # Mt = 6, Mr = 16, L = 16, CP = 20, B = 10 MHz, σ² = 1
LAYOUT = ofdm.layout_from_scenario(PAPER)
FRAME = LAYOUT.frame_len
MT, MR = PAPER.tx_antennas, PAPER.rx_antennas
FS = PAPER.bandwidth_hz


def gaussian(shape, power, seed):
    rng = np.random.default_rng(seed)
    return np.sqrt(power / 2) * (rng.standard_normal(shape) + 1j * rng.standard_normal(shape))


def transmission(frames, seed=0, node=0):
    """A node's own transmit samples: the transmitter's frames (default precoders, P_T per antenna)."""
    wc, wr = ofdm.default_precoders(LAYOUT, PAPER.per_antenna_power)
    return ofdm.NodeModulator(ofdm.frame_generator(LAYOUT, seed), node, wc, wr).samples(np.arange(frames)).astype(complex)


def delayed(x, delay_samples):
    """The air's true band-limited delay (core.delay_line, the sensing channel's operator) of every row."""
    line = delay_line.DelayLine(LAYOUT.subcarriers, LAYOUT.cyclic_prefix, FS, [delay_samples] * x.shape[0])
    return line.process(x.astype(np.complex64)).astype(complex)


def canceller(depth_db=front_end.DEFAULT_RF_CANCELLER_DB, end_symbols=None):
    return front_end.SelfInterferenceCanceller(MT, MR, LAYOUT.subcarriers, LAYOUT.cyclic_prefix, FRAME, FS,
                                               depth_db=depth_db, end_symbols=end_symbols)


def run_chain(chain, v, chunks):
    """The chain over v (labels 0 …) cut into calls of the given sizes (cycled); also what was injected."""
    out = np.empty(v.shape, np.complex64)
    injected = np.zeros(v.shape, complex)
    start, i = 0, 0
    while start < v.shape[1]:
        stop = min(v.shape[1], start + chunks[i % len(chunks)])
        out[:, start:stop] = chain.process(v[:, start:stop], start)
        if chain.last_injected is not None:
            injected[:, start:stop] = chain.last_injected
        start, i = stop, i + 1
    return out, injected


# ---- ADC -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("bits", [6, 8, 10, 12, 14, 16])
def test_sqnr_matches_the_uniform_quantiser_theory(bits):
    backoff_db = 20.0  # A = 10 σ per component: P(clip) = 2·Q(10) ~ 1e-23, so only quantisation noise
    sigma = 10 ** (-backoff_db / 20)  # per component, full scale A = 1
    x = gaussian(200_000, 2 * sigma ** 2, bits)
    y, clipped = front_end.adc_convert(x, bits, 1.0)
    assert not clipped.any()
    measured = 10 * math.log10(np.mean(np.abs(x) ** 2) / np.mean(np.abs(y - x) ** 2))
    # Bennett's Δ²/12 holds when σ ≫ Δ (here σ/Δ ≥ 3.2 at 6 bits); the noise power estimate over 4e5 components
    # has a relative std of sqrt(0.8/4e5) = 0.14 % (0.006 dB); complex64 output adds < 1e-7 relative: 0.1 dB covers
    # both with margin, and a wrong step (a bit off: 6 dB) or a missing half-step offset (a DC error) fails it
    assert abs(measured - front_end.sqnr_theory_db(bits, backoff_db)) < 0.1
    # the textbook 6.02·b + 1.76 is the full-scale sine (backoff 3.01 dB); 6.02 and 1.76 are rounded to 0.01
    assert front_end.sqnr_theory_db(bits, 10 * math.log10(2)) == pytest.approx(6.0206 * bits + 1.7609, abs=1e-3)


def test_output_on_the_midrise_levels_and_clipping_counted():
    bits, full_scale = 8, 0.5
    x = gaussian((4, 5000), 0.5, 1)  # RMS per component 0.5 = full scale: many clip
    y, clipped = front_end.adc_convert(x, bits, full_scale)
    step = 2 * full_scale / 2 ** bits
    for part in (y.real, y.imag):
        k = part / step - 0.5
        np.testing.assert_allclose(k, np.round(k), atol=1e-4)  # on the levels (k + ½)Δ (complex64 rounding)
        assert np.max(np.abs(part)) == pytest.approx(full_scale - step / 2, rel=1e-6)  # the outermost level
    expected = (np.abs(x.real) > full_scale) | (np.abs(x.imag) > full_scale)
    np.testing.assert_array_equal(clipped, expected)
    assert 0 < expected.sum() < expected.size
    fe = front_end.ReceiveFrontEnd(4, 1000, bits, full_scale, agc=False)
    fe.process(x, 0)
    assert fe.adc_clipped == int(expected.sum())


def test_ideal_air_is_unchanged_bit_for_bit():
    v = gaussian((MR, 3 * FRAME), 1e6, 2).astype(np.complex64)
    fe = front_end.ReceiveFrontEnd(MR, FRAME, 0)
    assert fe.process(v, -37) is v
    chain = front_end.NodeFrontEnd(front_end.ReceiveFrontEnd(MR, FRAME, 0))
    assert chain.ideal and chain.process(v, -37) is v
    assert fe.adc_clipped == 0


# ---- AGC -------------------------------------------------------------------------------------------
def agc_input(seed=3):
    """30 frames: noise-like at −30 dB FS per component for 10 frames, then +60 dB (a strong signal arrives),
    then −20 dB from frame 20."""
    v = gaussian((MR, 30 * FRAME), 1.0, seed)
    level = np.repeat([10 ** (-30 / 20)] * 10 + [10 ** (30 / 20)] * 10 + [10 ** (10 / 20)] * 10, FRAME)
    return v * level  # RMS per component: level/√2


def test_agc_one_gain_per_frame_and_converges():
    v = agc_input()
    bits = 12
    fe = front_end.ReceiveFrontEnd(MR, FRAME, bits, 1.0, True, 20.0)
    gains = []
    out = np.empty(v.shape, np.complex64)
    start = 0
    for size in [37, 500, 1, 108, 2000] * 100:  # cuts across frames
        if start >= v.shape[1]:
            break
        stop = min(v.shape[1], start + size)
        out[:, start:stop] = fe.process(v[:, start:stop], start)
        start = stop
    # the gain of every frame, recovered from the output itself: every sample of frame f (every antenna) must be
    # exactly ADC(g_f·v)/g_f for ONE g_f; the candidates are the gains the AGC can have (initial ± its steps),
    # found from the frame's first sample and then checked on all of them
    target = 10 ** (-20.0 / 20)
    gain_db = 0.0
    for f in range(30):
        seg = v[:, f * FRAME:(f + 1) * FRAME]
        g = 10 ** (gain_db / 20)
        y, _ = front_end.adc_convert(seg * g, bits, 1.0)
        np.testing.assert_array_equal(out[:, f * FRAME:(f + 1) * FRAME], y / np.float32(g))
        gains.append(gain_db)
        # what the AGC must do next, from its own output of frame f (RMS per component; clipping; hysteresis)
        parts = y.view(np.float32).astype(np.float64)
        over = np.count_nonzero(np.abs(np.stack([seg.real, seg.imag]) * g) > 1.0)
        gain_db += fe.wanted_step_db(float(np.sum(parts ** 2)), parts.size, over)
    assert fe.gain_db == pytest.approx(gain_db)
    # converged: within 4 frames after each level step, the RMS per component at the ADC is within 1.5 dB of the
    # target (hysteresis 1 dB + the RMS estimate's jitter over 3456 components, ~0.1 dB) and nothing clips
    for f in (4, 9, 14, 19, 24, 29):
        g = 10 ** (gains[f] / 20)
        seg = v[:, f * FRAME:(f + 1) * FRAME] * g
        rms = math.sqrt(np.mean(seg.real ** 2 + seg.imag ** 2) / 2)
        assert abs(20 * math.log10(rms / target)) < 1.5, (f, gains[f])
        assert np.max(np.abs(np.stack([seg.real, seg.imag]))) < 1.0
    assert gains[10] - gains[11] == pytest.approx(front_end.AGC_MAX_STEP_DB)  # +60 dB saturates: full step down
    assert fe.frames_clipped >= 1 and fe.agc_settled and fe.first_settled_frame is not None


def test_agc_same_output_however_cut():
    v = agc_input(4)
    outs = []
    for chunk in (FRAME, 17, 10_000):
        fe = front_end.ReceiveFrontEnd(MR, FRAME, 10)
        outs.append(np.concatenate([fe.process(v[:, a:a + chunk], a) for a in range(0, v.shape[1], chunk)], axis=1))
    np.testing.assert_array_equal(outs[0], outs[1])
    np.testing.assert_array_equal(outs[0], outs[2])


def test_agc_decisions_from_its_output():
    fe = front_end.ReceiveFrontEnd(MR, FRAME, 12, 1.0, True, 20.0)
    n = 1000
    assert fe.wanted_step_db(0.5 * n, n, n) == -front_end.AGC_MAX_STEP_DB  # saturated: level unknown
    assert fe.wanted_step_db(1e-30 * n, n, 0) == front_end.AGC_MAX_STEP_DB  # nothing there: up, at most 40 dB
    assert fe.wanted_step_db(0.01 * n, n, 0) == 0.0  # RMS 0.1 = −20 dB FS: on target
    assert fe.wanted_step_db(0.01 * 10 ** 0.08 * n, n, 0) == 0.0  # +0.8 dB: inside the hysteresis
    assert fe.wanted_step_db(0.01 * n, n, 1) == -front_end.AGC_CLIP_STEP_DB  # on target but a peak clipped
    # 2 % clipped: the level from the clip share (Gaussian 2·Q(A/σ) = 0.02 → A/σ = 2.326, 7.3 dB; target 20 dB)
    assert fe.wanted_step_db(0.3 * n, n, 20) == pytest.approx(-(20 - 20 * math.log10(2.3263)), abs=0.01)


# ---- the RF canceller --------------------------------------------------------------------------------
ISOLATION_LEAKAGE_DB = 95.0  # |C|²/σ² per element: 40 dB isolation on the paper geometry (bench/front_end_floor.py)


def leaky_node(frames, delay_samples=100.37, coupling_db=ISOLATION_LEAKAGE_DB, seed=5, echo=True, direct=True):
    """A node's input ahead of its front end: leakage C·x(t − τ) + a direct path from another node (+50 dB) + a
    monostatic echo of its own transmission (at τ + 9.29 samples, ~σ² per antenna) + CN(0, 1) noise."""
    rng = np.random.default_rng(seed)
    x = transmission(frames)
    c = math.sqrt(10 ** (coupling_db / 10) / 2) * (rng.standard_normal((MR, MT)) + 1j * rng.standard_normal((MR, MT)))
    leak = c @ delayed(x, delay_samples)
    v = leak + gaussian(leak.shape, 1.0, seed + 1)
    echo_part = np.zeros_like(leak)
    if direct:
        other = transmission(frames, seed=0, node=1)
        steer = np.exp(1j * np.pi * np.arange(MR) * math.sin(0.3))
        v += math.sqrt(10 ** (50 / 10) / MT) * np.outer(steer, np.ones(MT) @ delayed(other, 37.5)) / math.sqrt(MT)
    if echo:
        a_t = np.exp(1j * np.pi * np.arange(MT) * math.sin(-0.4))
        a_r = np.exp(1j * np.pi * np.arange(MR) * math.sin(-0.4))
        echo_part = math.sqrt(1 / 8) * np.outer(a_r, a_t @ delayed(x, delay_samples + 9.29))
        v += echo_part
    return x, v, leak, c, echo_part


@pytest.mark.parametrize("depth_db", [40.0, 60.0])
def test_canceller_learns_from_samples_and_meets_its_depth(depth_db):
    frames = 30
    x, v, leak, c, echo = leaky_node(frames)
    canc = canceller(depth_db)
    chain = front_end.NodeFrontEnd(front_end.ReceiveFrontEnd(MR, FRAME, 12), canc)
    chain.push_tx(x)  # the node's own transmission (ahead of its receiver)
    out, injected = run_chain(chain, v, [997, 108, 5])
    assert canc.engaged and canc.settled
    assert canc.delay_samples == pytest.approx(100.37, abs=1e-4)
    # converged over a few frames: a handful for the AGC to leave saturation (+95 dB from 0 dB gain: 3 × 40 dB)
    # and for the canceller's three delay refinements
    assert canc.first_settled_frame <= 12
    assert canc.frames_unsettled == canc.first_settled_frame  # every frame before it is counted (frame 0 …)
    # the truth after settling: leakage over what the canceller left of it
    half = (frames // 2) * FRAME
    left = leak[:, half:] - injected[:, half:]
    achieved_db = 10 * math.log10(np.sum(np.abs(leak[:, half:]) ** 2) / np.sum(np.abs(left) ** 2))
    # its depth, and not much better: the grid's rounding of 96 taps (uniform error per component: the mean of 96
    # |e|² has a relative std of 0.63/√96 = 6.5 %, 0.3 dB) plus the estimate's own error (≪ at these levels) —
    # but as signal power, weighted by the transmit samples' covariance, which is far from white (the preamble and
    # pilots are the same on every antenna: one strong direction), so the ratio for one C spreads by ~±1 dB around
    # the depth: at least depth − 1.5 dB (it meets its depth), at most depth + 3 dB (the precision limit holds)
    assert depth_db - 1.5 < achieved_db < depth_db + 3.0
    # and it says so from its own samples: within 1 dB of the truth
    assert abs(canc.cancellation_db - achieved_db) < 1.0


def test_canceller_same_output_however_cut():
    """The weights change between frames only, so any cut of the stream into calls gives the same samples (a
    frame's update is made before the next frame's first sample, however that sample arrives)."""
    x, v, leak, c, echo = leaky_node(14)
    outs = []
    for chunks in ([FRAME], [10_000], [17, 500, 1]):
        chain = front_end.NodeFrontEnd(front_end.ReceiveFrontEnd(MR, FRAME, 12), canceller())
        chain.push_tx(x)
        outs.append(run_chain(chain, v, chunks)[0])
        assert chain.canceller.engaged
    np.testing.assert_array_equal(outs[0], outs[1])
    np.testing.assert_array_equal(outs[0], outs[2])


def test_canceller_leaves_the_monostatic_echo():
    frames = 30
    x, v, leak, c, echo = leaky_node(frames, direct=False)  # (the direct path's preamble would bias the fit below)
    canc = canceller(60.0)
    chain = front_end.NodeFrontEnd(front_end.ReceiveFrontEnd(MR, FRAME, 16), canc)
    chain.push_tx(x)
    out, injected = run_chain(chain, v, [FRAME])
    half = (frames // 2) * FRAME
    # the echo's component in the output: least-squares fit of the output on the echo's own waveform, after the
    # leakage's residual (also fitted: it is a regressor too, at the leakage delay) — the echo's amplitude must be
    # unchanged: the canceller subtracts Ĉ·x(t − τ̂) only, a different delay; tolerance: the echo's fit error
    # over 15 frames (1620 samples) at ~σ² per antenna against the noise σ² and the ADC's floor: ~3 % relative
    u_echo = (np.exp(1j * np.pi * np.arange(MT) * math.sin(-0.4)) @ delayed(x, 100.37 + 9.29))[half:]
    regress = np.vstack([u_echo[None, :], delayed(x, 100.37)[:, half:]])
    for r in (0, 7, 15):
        coef, *_ = np.linalg.lstsq(regress.T, out[r, half:].astype(complex), rcond=None)
        expected = math.sqrt(1 / 8) * np.exp(1j * np.pi * r * math.sin(-0.4))
        assert abs(coef[0] - expected) < 0.15 * abs(expected)  # 5 σ


def test_canceller_stays_idle_without_leakage():
    frames = 15
    x, v, leak, c, echo = leaky_node(frames, coupling_db=-300.0)  # no leakage: direct path, echo, noise
    canc = canceller()
    chain = front_end.NodeFrontEnd(front_end.ReceiveFrontEnd(MR, FRAME, 12), canc)
    chain.push_tx(x)
    out, injected = run_chain(chain, v, [FRAME])
    assert not canc.engaged and not injected.any()  # the echo correlates with its own TX: below the detection
    assert canc.leakage_to_rest_db < front_end.CANCELLER_DETECT_DB
    # idle counts as settled after two usable frames without leakage (the AGC's first frames clip or sit far
    # from its target: not usable), and every frame before is counted
    assert canc.settled and canc.frames_unsettled == canc.first_settled_frame <= 6


def test_canceller_needs_no_scenario():
    """The receive side's rule (docs/air-model.md §0): the canceller sees samples only — its constructor takes
    sizes and its depth, no Scenario (so it cannot read scenario.impairments' C_n), and core.front_end imports
    neither core.scenario nor core.impairments."""
    params = inspect.signature(front_end.SelfInterferenceCanceller).parameters
    assert not any("scenario" in p or "impairment" in p or "coupling" in p for p in params)
    imported = {getattr(value, "__name__", "") for value in vars(front_end).values() if inspect.ismodule(value)}
    assert not any(name.endswith((".scenario", ".impairments", ".channels")) for name in imported)
    # it learns whatever leakage there is: two different C at two delays, each found from samples
    for seed, delay in ((11, 46.8), (12, 163.05)):
        x, v, leak, c, echo = leaky_node(20, delay_samples=delay, seed=seed, echo=False)
        canc = canceller()
        chain = front_end.NodeFrontEnd(front_end.ReceiveFrontEnd(MR, FRAME, 14), canc)
        chain.push_tx(x)
        run_chain(chain, v, [FRAME])
        assert canc.delay_samples == pytest.approx(delay, abs=1e-4)
        # its estimate of C (what it would set with an infinitely fine grid) is good to better than its depth: the
        # limit here is the other node's direct path (+50 dB; its preamble is the same as this node's), ~−66 dB
        assert 10 * math.log10(np.sum(np.abs(c) ** 2) / np.sum(np.abs(c - canc.estimate) ** 2)) > 60


def test_canceller_streams_like_the_air_and_honours_a_finite_transmission():
    x = transmission(4)
    ref = front_end.DelayedReference(MT, LAYOUT.subcarriers, LAYOUT.cyclic_prefix, FS, ofdm.DEFAULT_FREQUENCY_GRID,
                                     256, end_symbols=4 * LAYOUT.frame_symbols)
    for part in np.array_split(x, 7, axis=1):
        ref.push(part)
    for tau in (0.0, 0.5, 19.99, 100.37):
        # the same as core.delay_line's reference (the air's delay operator), complex128
        expected = np.array([delay_line.delay_reference(row, tau, LAYOUT.subcarriers, LAYOUT.cyclic_prefix, FS)
                             for row in x])
        np.testing.assert_allclose(ref.delayed(0, x.shape[1], tau), expected, atol=1e-12)
        # after the transmission's end: its silent tail
        assert not ref.delayed(x.shape[1] + int(tau) + 1, 200, tau).any()
    assert ref.covers(10 ** 9)
    open_ended = front_end.DelayedReference(MT, LAYOUT.subcarriers, LAYOUT.cyclic_prefix, FS,
                                            ofdm.DEFAULT_FREQUENCY_GRID, 256)
    open_ended.push(x[:, :FRAME])
    assert open_ended.covers(FRAME) and not open_ended.covers(FRAME + 1)
    with pytest.raises(ValueError, match="reach label"):
        open_ended.delayed(0, FRAME + 1, 0.0)



def test_canceller_reference_of_a_cfo_precompensated_transmitter_is_delayed_as_on_air():
    """A transmitter that pre-compensates its CFO sends x·e^{j2π ρ t} (ρ = −ε̂); the leakage it meets is that signal's
    true delay, e^{j2π ρ (t − τ)}·x(t − τ) (core.channels.SensingChannel does the same on the air). The reference
    built with cfo_hz = ρ gives exactly that (1e-10 of the peak, float64) however the pushes are cut; without it, the
    per-symbol delay of the rotated samples is off by ~1e-4 of the peak at 5 Hz — −80 dB, more than a 60 dB
    canceller's depth leaves of a +100 dB leakage — and fails here."""
    from gnuradio.disac.core import synthetic_radio
    x = transmission(3)
    rho = -5.0
    rotated = x * synthetic_radio.cfo_phasor(rho, 0, x.shape[1], FS, +1)[None]
    plain = front_end.DelayedReference(MT, LAYOUT.subcarriers, LAYOUT.cyclic_prefix, FS, ofdm.DEFAULT_FREQUENCY_GRID, 256)
    plain.push(x)
    for cfo_hz, bound in ((rho, 1e-10), (0.0, None)):
        ref = front_end.DelayedReference(MT, LAYOUT.subcarriers, LAYOUT.cyclic_prefix, FS, ofdm.DEFAULT_FREQUENCY_GRID,
                                         256, cfo_hz=cfo_hz)
        for part in np.array_split(rotated, 5, axis=1):
            ref.push(part)
        for tau in (0.0, 0.37, 100.4):
            t = np.arange(x.shape[1])
            exact = plain.delayed(0, x.shape[1], tau) * np.exp(2j * np.pi * rho * (t - tau) / FS)[None]
            keep = slice(int(tau) + LAYOUT.symbol_len, None)  # past the stream's start (nothing before it)
            error = np.max(np.abs(ref.delayed(0, x.shape[1], tau) - exact)[:, keep]) / np.max(np.abs(exact))
            if bound is not None:
                assert error < bound, (tau, error)
            elif tau:
                assert error > 1e-5, (tau, error)  # the artefact the rotation-aware reference removes

# ---- validation ------------------------------------------------------------------------------------
@pytest.mark.parametrize("bits", [3, 25, 1.5, True, "12", -1])
def test_bad_adc_bits_named(bits):
    with pytest.raises(ValueError, match="adc_bits"):
        front_end.check_adc_bits(bits)


@pytest.mark.parametrize("depth", [-1.0, 121.0, math.nan, "60", True])
def test_bad_canceller_depth_named(depth):
    with pytest.raises(ValueError, match="rf_canceller_db"):
        front_end.check_rf_canceller_db(depth)


def test_bad_front_end_values_named():
    with pytest.raises(ValueError, match="adc_full_scale"):
        front_end.ReceiveFrontEnd(MR, FRAME, 12, 0.0)
    with pytest.raises(ValueError, match="agc_backoff_db"):
        front_end.ReceiveFrontEnd(MR, FRAME, 12, 1.0, True, -3.0)
    with pytest.raises(ValueError, match="depth_db"):
        canceller(0.0)


# ---- the whole node (hier.synthetic_node: transmitter → air with its self-coupling → radio rx) ----------------
def node_radio_output(table, frames=30, channel_seed=3):
    """Node 0's radio rx output (Mr, ·) in the synthetic node chain of the paper scenario with this table, and
    the block. Node 1 transmits (its direct path reaches node 0) but does not receive."""
    from gnuradio import blocks, gr
    from gnuradio.disac.hier import system

    scenario = PAPER.with_impairments(table)
    wc, wr = zip(*[ofdm.default_precoders(LAYOUT, PAPER.per_antenna_power) for _ in range(PAPER.num_nodes)])
    tb = gr.top_block()
    _, nodes, _ = system.add_synthetic_nodes(tb, scenario, [0], np.array(wc), np.array(wr), frames, 0, channel_seed)
    radio = nodes[0].radio_rx
    sinks = [blocks.vector_sink_c() for _ in range(MR)]
    for r, sink in enumerate(sinks):
        tb.connect((radio, r), sink)
    tb.run()
    data = [sink.data() for sink in sinks]
    # (the sinks' lengths may differ in the silent tail after the last frame, where the flowgraph winds down)
    count = min(len(d) for d in data)
    assert count >= frames * FRAME
    return np.array([d[:count] for d in data]), radio, scenario


def test_node_chain_cancels_its_own_leakage_ahead_of_the_adc():
    """Issue 14's hard case on the real air: the direct path at free-space level, 40 dB isolation, a 12-bit ADC.
    With the RF canceller (fed with the node's own transmit samples by hier.synthetic_node) the ADC's floor is
    below the thermal noise; without it the floor sits ~+44 dB above σ² (the echoes are lost in it)."""
    base = {"direct_path": True, "direct_path_db": "free_space", "latency_samples": 100.4, "seed": 2}
    frames = 30
    clean, _, _ = node_radio_output(dict(base, adc_bits=0), frames)  # no leakage, no ADC: the reference
    with_canceller, radio, scenario = node_radio_output(dict(base, isolation_db=40.0, adc_bits=12,
                                                             rf_canceller_db=60.0), frames)
    without, plain, _ = node_radio_output(dict(base, isolation_db=40.0, adc_bits=12), frames)
    status = radio.front_end_status()
    assert status["canceller_settled"] and status["first_settled_frame"] <= 10
    assert status["canceller_delay_samples"] == pytest.approx(100.4, abs=1e-3)  # found from samples
    assert plain.front.canceller is None
    half = slice(frames // 2 * FRAME, frames * FRAME)
    own = transmission(frames)  # node 0's own transmit samples (the same seeds as the chain's transmitter)
    # what the leakage left + the ADC's noise: the output minus the clean one; the leakage's residual is a
    # fixed matrix of the node's own transmit samples at the leakage's delay: fit it out, the rest is the ADC's
    regress = delayed(own, 100.4)[:, half]

    def adc_floor_db(y):
        diff = (y[:, half] - clean[:, half]).astype(complex)
        fit, *_ = np.linalg.lstsq(regress.T, diff.T, rcond=None)
        rest = diff - (regress.T @ fit).T
        leak_left = 10 * math.log10(np.mean(np.abs(diff - rest) ** 2) / PAPER.noise_power)
        return 10 * math.log10(np.mean(np.abs(rest) ** 2) / PAPER.noise_power), leak_left

    floor, leak_left = adc_floor_db(with_canceller)
    # measured −10.9 dB at 12 bits (the direct path, +43 dB, and the residual, +41 dB, set the AGC: 45 − 57 dB SQNR;
    # without leakage −14.4 dB); the bound leaves 2 dB and still means ≤ 0.7 dB of noise rise. The residual is ONE
    # matrix of the node's own transmit samples over the 15 frames fitted (the canceller holds its weights once
    # settled): a canceller retuning every frame left +33 dB here
    assert floor < -8.0, floor
    assert 35.0 < leak_left < 46.0, leak_left  # ~+41 dB: what the central unit must still remove
    floor_without, _ = adc_floor_db(without)
    assert floor_without > 35.0, floor_without  # the ADC's noise +44 dB above σ² (measured): no digital recovery
    assert status["canceller_retunes"] == 0


def test_disac_node_reports_the_front_end(tmp_path, capsys):
    """`disac node` prints adc_clipped and the front end's state (SPEC14 §2's counter, the canceller's state)."""
    import json
    import pathlib

    from gnuradio.disac.apps.cli import main

    root = pathlib.Path(__file__).resolve().parents[1]
    path = tmp_path / "leaky.toml"
    path.write_text((root / "examples" / "scenarios" / "paper.toml").read_text(encoding="utf-8")
                    + '\n[impairments]\nisolation_db = 40.0\nlatency_samples = 100.4\nadc_bits = 12\n'
                      'rf_canceller_db = 60.0\n', encoding="utf-8")
    # nothing listens on the snapshot link: push drops nothing within the 20 frames (hwm 1000)
    assert main(["node", str(path), "--node-number", "1", "--connect", "tcp://127.0.0.1:5",
                 "--frames", "20", "--frame-rate-hz", "0"]) == 0
    report = json.loads(capsys.readouterr().out)
    front = report["front_end"]
    assert report["adc_clipped"] == front["adc_clipped"] > 0  # the first frames saturate: counted
    assert front["canceller_engaged"] and front["canceller_settled"]
    assert front["canceller_delay_samples"] == pytest.approx(100.4, abs=1e-3)
    assert front["first_settled_frame"] <= 10 and front["canceller_frames_unsettled"] >= 1
    assert front["canceller_cancellation_db"] > 57.0  # the 60 dB depth − the settled margin
