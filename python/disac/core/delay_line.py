# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""The true band-limited delay of OFDM symbol streams: the one delay operator of the synthetic air (docs/air-model.md §2).

Both the sensing channel (core.channels.SensingChannel) and the comm channel delay their paths with it, so
a clock offset, a latency or a propagation delay is the same operation everywhere.

The waveform. A stream is a sequence of OFDM symbols of S = CP + L samples (symbol s on samples
[s·S, (s+1)·S) from the stream's first sample, which is a symbol start). Symbol s is the trigonometric
polynomial of its core (the L samples after the prefix) on the scenario's frequency grid
(core.ofdm.bin_frequencies_hz, f_l):

    x_s(u) = (1/√L) Σ_l X_s[l] · exp(j2π f_l (u − CP)/B),   X_s = FFT_ortho(core of symbol s),

u the time in samples since the symbol's start, continuous. At the integer u of the symbol it gives back its
samples (the prefix too, for an exact OFDM symbol: f_l·L/B is an integer on both grids, so x_s is periodic
with period L). The transmitted waveform is x(t) = x_s(t − s·S) with s = ⌊t/S⌋: each symbol's polynomial
on its own interval, nothing before the stream's start.

The delay. A path of delay d samples (any real d ≥ 0, beyond the prefix and beyond a symbol included)
delivers y[j] = x(j − d): the sample j takes the symbol whose interval holds the delayed time j − d, at its
local time. Where j − d falls before a symbol's start, the previous symbol's waveform is taken: inter-symbol
interference wherever d exceeds the cyclic prefix, as on air. For 0 ≤ d ≤ CP the samples a receiver keeps
(after the prefix) are exactly today's per-symbol circular delay: the bins multiplied by exp(−j2π f_l d/B).

How (the fast path, ``DelayLine``): d = D + μ, D = ⌊d⌋ an integer, 0 ≤ μ < 1.
1. fractional part per symbol: the core's spectrum times exp(−j2π f_l μ/B), one IFFT: c_s[i] = x_s(CP + i − μ);
   the symbol's S delayed samples are c_s[(t − CP) mod L] for t = 1 … S − 1, and for t = 0 (time −μ,
   before the symbol's start when μ > 0) the previous symbol's c_{s−1}[0] = x_{s−1}(S − μ), kept across calls;
2. integer part: a D-sample shift, with the last D samples of each path kept across calls (zeros before the
   stream's start).
So the result does not depend on how a stream is cut into calls (each call holds whole symbols and
continues the last one). ``delay_reference`` evaluates the equations above sample by sample (float64, any
real delay, also negative: it reads later samples of the given stream) and is what the tests compare with.

A causal delay line cannot advance a signal: negative delays (a receiver whose clock runs ahead of a
transmitter, docs/air-model.md §2) are realised by a constant latency A added to every path of a channel and hidden in
the receiver's ``rx_time`` labels; ``air_latency_samples`` gives the smallest integer A that makes every
delay ≥ 0.

Other signals than exact OFDM symbols (e.g. after a transmitter's CFO rotation) are delayed as the
polynomial of their cores: their prefix samples are not used. For a CFO of ε the polynomial misses the
rotation's wrap over one core by 2π·ε·L/B (5 Hz, L/B = 1.6 µs: 5·10⁻⁵ rad), which is far below any figure
here.
"""

import math

import numpy as np
import scipy.fft

from . import ofdm


def air_latency_samples(delays_samples):
    """The smallest integer A ≥ 0 with every delay + A ≥ 0: the constant latency that realises negative delays."""
    d = np.asarray(delays_samples, dtype=float)
    if d.size == 0:
        return 0
    return max(0, int(math.ceil(-float(np.min(d)) - 1e-9)))


def _check_delays(delays_samples, allow_negative):
    d = np.asarray(delays_samples, dtype=float).reshape(-1)
    bad = ~np.isfinite(d) | ((d < 0) & (not allow_negative))
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"delay of path {i} = {d[i]!r} samples: accepted: a finite number ≥ 0 (a causal delay line cannot "
            "advance a signal; add a constant latency to every path, core.delay_line.air_latency_samples)")
    return d


def _frequency_per_sample(subcarriers, bandwidth_hz, grid):
    """f_l / B: cycles per sample of bin l on the grid."""
    return ofdm.bin_frequencies_hz(subcarriers, bandwidth_hz, grid) / float(bandwidth_hz)


def delay_reference(x, delay_samples, subcarriers, cyclic_prefix, bandwidth_hz, grid=ofdm.DEFAULT_FREQUENCY_GRID):
    """The equations, sample by sample (float64): y[j] = x_s(j − d − s·S), s = ⌊(j − d)/S⌋, for one stream
    x (count,) of whole symbols starting at a symbol start, nothing before or after it. Any real d."""
    x = np.asarray(x, dtype=complex).reshape(-1)
    sym_len = cyclic_prefix + subcarriers
    if x.size % sym_len:
        raise ValueError(f"stream of {x.size} samples: accepted: whole symbols of {sym_len} samples")
    d = float(_check_delays([delay_samples], allow_negative=True)[0])
    symbols = x.size // sym_len
    spectra = np.fft.fft(x.reshape(symbols, sym_len)[:, cyclic_prefix:], axis=-1, norm="ortho")  # X_s (S, L)
    u = np.arange(x.size) - d  # the delayed time of every output sample
    s = np.floor(u / sym_len).astype(int)
    local = u - s * sym_len
    inside = (s >= 0) & (s < symbols)
    cycles = _frequency_per_sample(subcarriers, bandwidth_hz, grid)
    phase = np.exp(2j * np.pi * np.multiply.outer(local[inside] - cyclic_prefix, cycles))  # (count, L)
    y = np.zeros(x.size, dtype=complex)
    y[inside] = np.sum(spectra[s[inside]] * phase, axis=-1) / np.sqrt(subcarriers)
    return y


class DelayLine:
    """Streaming true band-limited delays of P paths, one delay each (samples, ≥ 0, constant), complex64.

    ``process(x)`` delays the P rows of x (P, count), count whole symbols, each call continuing the last.
    ``delay_spectra(spectra)`` is the same from the symbols' core spectra (P, symbols, L) (orthonormal FFT of
    the samples after each prefix), for a caller that works on the spectra anyway (per-symbol coefficients).
    """

    def __init__(self, subcarriers, cyclic_prefix, bandwidth_hz, delays_samples, grid=ofdm.DEFAULT_FREQUENCY_GRID):
        self.subcarriers, self.cyclic_prefix = int(subcarriers), int(cyclic_prefix)
        self.symbol_len = self.subcarriers + self.cyclic_prefix
        self.delays_samples = _check_delays(delays_samples, allow_negative=False)
        self.delays_samples.setflags(write=False)
        whole = np.floor(self.delays_samples)
        self._shift = whole.astype(np.int64)  # D per path
        fraction = self.delays_samples - whole  # μ per path
        cycles = _frequency_per_sample(self.subcarriers, bandwidth_hz, grid)
        self._ramp = np.exp(-2j * np.pi * np.multiply.outer(fraction, cycles)).astype(np.complex64)  # (P, L)
        self._fractional_mask = fraction > 0  # paths whose sample t = 0 is the previous symbol's
        self._history_len = int(self._shift.max()) if self._shift.size else 0
        self._buffer = np.zeros((self.paths, 0), dtype=np.complex64)
        self.reset()

    @property
    def paths(self):
        return self.delays_samples.size

    def reset(self):
        """Forget the stream: the next call is a stream start (nothing before it)."""
        self._history = np.zeros((self.paths, self._history_len), dtype=np.complex64)
        self._last_first_sample = np.zeros(self.paths, dtype=np.complex64)  # c_{s−1}[0] of the last symbol

    def process(self, x, out=None):
        """x (P, count) whole symbols → the delayed (P, count) complex64 (into ``out`` when given)."""
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[0] != self.paths or x.shape[1] % self.symbol_len:
            raise ValueError(f"input of shape {x.shape}: accepted: ({self.paths}, whole symbols of {self.symbol_len})")
        symbols = x.shape[1] // self.symbol_len
        cores = x.reshape(self.paths, symbols, self.symbol_len)[..., self.cyclic_prefix:]
        spectra = scipy.fft.fft(cores.astype(np.complex64, copy=False), axis=-1, norm="ortho")
        if out is None:
            out = np.empty((self.paths, x.shape[1]), dtype=np.complex64)  # a new array: the caller keeps it
        return self.delay_spectra(spectra, out)

    def delay_spectra(self, spectra, out=None):
        """spectra (P, symbols, L) complex64 (overwritten) → the delayed samples (P, symbols·S) complex64: into
        ``out`` when given, else a view of a working array, valid until the next call (a matrix product can read
        it as it is: rows of one stride)."""
        paths, symbols, length = spectra.shape
        if paths != self.paths or length != self.subcarriers:
            raise ValueError(f"spectra of shape {spectra.shape}: accepted: ({self.paths}, symbols, {self.subcarriers})")
        count = symbols * self.symbol_len
        spectra *= self._ramp[:, None, :]
        cores = scipy.fft.ifft(spectra, axis=-1, norm="ortho", overwrite_x=True)  # c_s[i] = x_s(CP + i − μ)
        hist = self._history_len
        if self._buffer.shape[1] < count + hist:
            self._buffer = np.empty((self.paths, count + hist), dtype=np.complex64)
        z = self._buffer
        cp, sym_len = self.cyclic_prefix, self.symbol_len
        fractional = self._fractional_mask
        # path p's output sample j is its fractionally delayed sample j − D_p: written at column D_p + j' for
        # the new samples j', its history (the last D_p samples of the previous call) in columns 0 … D_p − 1, so
        # that the output is z[:, :count] for every path at once
        for p in range(paths):
            shift = self._shift[p]
            row = z[p]
            if shift:
                row[:shift] = self._history[p, hist - shift:]
            delayed = row[shift:shift + count].reshape(symbols, sym_len)
            delayed[:, cp:] = cores[p]
            end = cp  # the prefix: the core's periodic extension, copied from the tail (also when CP > L)
            while end > 0:
                begin = max(0, end - length)
                delayed[:, begin:end] = delayed[:, begin + length:end + length]
                end = begin
            if fractional[p] and symbols:
                # t = 0 is at time −μ: the previous symbol's waveform (ISI of the fractional part), across calls
                delayed[0, 0] = self._last_first_sample[p]
                delayed[1:, 0] = cores[p, :-1, 0]
                self._last_first_sample[p] = cores[p, -1, 0]
            if shift:
                self._history[p, hist - shift:] = row[count:count + shift]
        result = z[:, :count]
        if out is None:
            return result
        out[...] = result
        return out
