# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""core.delay_line: the air's one true band-limited delay (docs/air-model.md §2 "True delays").

The fast complex64 DelayLine equals the equations evaluated sample by sample (delay_reference) for delays
inside and beyond the cyclic prefix and beyond a symbol, on both frequency grids; its result does not depend
on how the stream is cut into calls; within the prefix it is today's per-symbol circular delay on the samples
a receiver keeps; beyond it, inter-symbol interference."""

import numpy as np
import pytest

from gnuradio.disac.core import delay_line, ofdm

L, CP, B = 16, 20, 10e6  # the paper's numerology: CP > L, so the prefix wraps the core more than once
S = L + CP
# float32 streams: ≈ 6e-8 rounding per value, a 16-point FFT/IFFT pair adds a few ulps; 2e-6 of the signal's
# peak (≈ 4 for these unit-power symbols) bounds it with margin and is far below any effect tested here
TOLERANCE = 2e-6


def ofdm_stream(paths=3, symbols=9, seed=0):
    """Exact OFDM symbols (random QPSK-like spectra, unit power per sample): (paths, symbols·S) and the spectra."""
    rng = np.random.default_rng(seed)
    spectra = (rng.standard_normal((paths, symbols, L)) + 1j * rng.standard_normal((paths, symbols, L))) / np.sqrt(2)
    return ofdm.modulate(spectra, CP).reshape(paths, -1), spectra


DELAYS = [0.0, 1.0, 0.37, 16.08, 19.999, 20.0, 23.5, 36.0, 61.25, 183.7]


@pytest.mark.parametrize("grid", ofdm.FREQUENCY_GRIDS)
def test_fast_path_equals_the_equations(grid):
    """DelayLine (scipy.fft, complex64, history) equals delay_reference (float64, one sum per sample) for
    delays of 0, integer, fractional, up to and past the prefix and past a whole symbol."""
    x, _ = ofdm_stream(paths=len(DELAYS))
    y = delay_line.DelayLine(L, CP, B, DELAYS, grid).process(x.astype(np.complex64))
    peak = np.max(np.abs(x))
    for p, d in enumerate(DELAYS):
        expected = delay_line.delay_reference(x[p], d, L, CP, B, grid)
        assert np.max(np.abs(y[p] - expected)) < TOLERANCE * peak, d


def test_result_does_not_depend_on_how_the_stream_is_cut():
    """One call, or calls of 1, 3 and 5 symbols: the same samples (state carried across calls: the integer
    shift's history and the previous symbol's waveform at each symbol start)."""
    x, _ = ofdm_stream(paths=len(DELAYS))
    x = x.astype(np.complex64)
    whole = delay_line.DelayLine(L, CP, B, DELAYS).process(x)
    line = delay_line.DelayLine(L, CP, B, DELAYS)
    for cuts in ([0, 1, 4, 9], [0, 3, 6, 9], [0, 5, 6, 9]):  # growing, equal and shrinking calls
        line.reset()
        parts = np.concatenate([line.process(x[:, a * S:b * S]) for a, b in zip(cuts, cuts[1:])], axis=1)
        np.testing.assert_allclose(parts, whole, rtol=0, atol=1e-6)
    line.reset()  # a new stream: nothing before it
    np.testing.assert_allclose(line.process(x), whole, rtol=0, atol=1e-6)


@pytest.mark.parametrize("grid", ofdm.FREQUENCY_GRIDS)
@pytest.mark.parametrize("delay", [0.0, 0.5, 3.25, 16.08, 20.0])
def test_within_the_prefix_it_is_todays_circular_delay(grid, delay):
    """0 ≤ d ≤ CP: the samples after each prefix are the symbol with its bins times exp(−j2π f_l d/B) (today's
    model, eq. 3's d(τ)), to float32 rounding: the ideal air is unchanged where the receiver looks."""
    x, spectra = ofdm_stream(paths=1)
    y = delay_line.DelayLine(L, CP, B, [delay], grid).process(x.astype(np.complex64))
    circular = ofdm.modulate(spectra * ofdm.delay_phases(delay / B, L, B, grid), CP).reshape(1, -1)
    kept = (np.arange(x.shape[1]) % S) >= CP
    assert np.max(np.abs(y[:, kept] - circular[:, kept])) < TOLERANCE * np.max(np.abs(x))


def test_beyond_the_prefix_is_intersymbol_interference():
    """d = CP + 3.5: the first ⌈d⌉ − CP = 4 kept samples of every symbol hold the previous symbol (they differ
    from the circular delay by the order of the signal), the later ones are still the circular delay."""
    delay = CP + 3.5
    x, spectra = ofdm_stream(paths=1, symbols=40)
    y = delay_line.DelayLine(L, CP, B, [delay]).process(x.astype(np.complex64))[0].reshape(40, S)
    circular = ofdm.modulate(spectra * ofdm.delay_phases(delay / B, L, B), CP).reshape(40, S)
    leak = np.abs(y[:, CP:CP + 4] - circular[:, CP:CP + 4])
    rms = np.sqrt(np.mean(np.abs(x) ** 2))
    assert np.mean(leak) > 0.5 * rms  # two independent symbols' samples differ by ≈ √2·rms on average
    assert np.max(np.abs(y[:, CP + 4:] - circular[:, CP + 4:])) < TOLERANCE * np.max(np.abs(x))


def test_integer_delay_is_a_sample_shift_with_nothing_before_the_start():
    x, _ = ofdm_stream(paths=2)
    y = delay_line.DelayLine(L, CP, B, [7.0, 100.0]).process(x.astype(np.complex64))
    np.testing.assert_array_equal(y[0, :7], 0)
    np.testing.assert_allclose(y[0, 7:], x[0, :-7], rtol=0, atol=TOLERANCE * 4)
    np.testing.assert_array_equal(y[1, :100], 0)
    np.testing.assert_allclose(y[1, 100:], x[1, :-100], rtol=0, atol=TOLERANCE * 4)


def test_negative_delays_need_a_latency():
    """A causal line cannot advance: a negative delay is refused with the remedy named; air_latency_samples
    gives the smallest integer latency A with every delay + A ≥ 0, and the reference evaluates negative
    delays as the equations say (it reads later samples): −3 is x[j + 3]."""
    with pytest.raises(ValueError, match=r"delay of path 1 = -0.5 samples: accepted: a finite number ≥ 0.*air_latency_samples"):
        delay_line.DelayLine(L, CP, B, [1.0, -0.5])
    with pytest.raises(ValueError, match="nan"):
        delay_line.DelayLine(L, CP, B, [np.nan])
    assert delay_line.air_latency_samples([-2.3, 5.0]) == 3
    assert delay_line.air_latency_samples([-2.0, 0.0]) == 2
    assert delay_line.air_latency_samples([0.0, 1.5]) == 0
    assert delay_line.air_latency_samples([]) == 0
    x, _ = ofdm_stream(paths=1)
    np.testing.assert_allclose(delay_line.delay_reference(x[0], -3.0, L, CP, B)[:-3], x[0, 3:], atol=1e-12)


def test_bad_shapes_are_named():
    line = delay_line.DelayLine(L, CP, B, [1.0, 2.0])
    with pytest.raises(ValueError, match=r"input of shape \(2, 35\): accepted: \(2, whole symbols of 36\)"):
        line.process(np.zeros((2, 35), dtype=np.complex64))
    with pytest.raises(ValueError, match="accepted: whole symbols of 36"):
        delay_line.delay_reference(np.zeros(35), 1.0, L, CP, B)
