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

Other signals than exact OFDM symbols are delayed as the polynomial of their cores: their prefix samples
are not used. A CFO-rotated symbol is not such a polynomial: the polynomial misses the rotation's wrap over one
core by 2π·ε·L/B (5 Hz, L/B = 1.6 µs: 5·10⁻⁵ rad), a path error ≈ −80…−90 dB of the path — negligible for a
user or an echo, but +10…+20 dB over σ² on a node's +100 dB self-coupling. So the callers that know a rotation
take it off first and put it back after the delay (core.channels.SensingChannel, core.front_end's canceller
reference): a delay of e^{j2π ε t}·x(t) is e^{j2π ε (t − d)}·x(t − d), exactly as on air. PathBank.add_to takes
the per-stream-group factor for that (``group_phasors``).
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


class PathBank:
    """Many rank-one paths from a few input streams into a few outputs, delayed as ``DelayLine`` does (the same
    waveform, the same equations: tested equal to ``delay_reference``), for the static interference of issue 14
    (clutter scatterers, self-coupling: docs/air-model.md §5) where the paths far outnumber the streams.

    Path p reads the input streams through ``tx_rows[p]`` (its amplitude folded in), is delayed by
    ``delays_samples[p]`` and reaches the outputs through ``rx_matrix[:, p]``:
    y = Σ_p rx_matrix[:, p] · delay_{d_p}[tx_rows[p] · x]. Per call, from the inputs' core spectra X (streams,
    symbols, L) (the caller's FFT, with its per-symbol coefficients applied), chunk by chunk of ``chunk_symbols``
    symbols (so that the P × chunk arrays stay in the cache):
    1. per bin l, one matrix product per group of paths reading the same streams (``stream_groups``: a
       transmitter's antennas): B[l] = X[l] · (tx_rows ⊙ ramp[:, l])ᵀ, the beam, the amplitude and the fractional
       delay's phase ramp exp(−j2π f_l μ_p/B) at once (the streams are few, the paths many);
    2. the IFFT over the bins as one matrix product (L = 16 or so: cheaper than P small FFTs, and it writes
       straight into the kept history): c_{p,s}[i] = x_{p,s}(CP + i − μ_p) (DelayLine's step 1);
    3. one gather with a precomputed index per output sample: the integer shift D_p, the prefix (the core's
       periodic extension) and, where μ_p > 0, the previous symbol's c_{s−1}[0] at a symbol's first sample
       (DelayLine's steps 1–2), reading the last symbols of the previous call from the history;
    4. one matrix product with rx_matrix, added to the outputs.
    """

    def __init__(self, subcarriers, cyclic_prefix, bandwidth_hz, delays_samples, tx_rows, rx_matrix,
                 grid=ofdm.DEFAULT_FREQUENCY_GRID, chunk_symbols=32, stream_groups=None):
        self.subcarriers, self.cyclic_prefix = int(subcarriers), int(cyclic_prefix)
        self.symbol_len = self.subcarriers + self.cyclic_prefix
        delays = _check_delays(delays_samples, allow_negative=False)
        tx_rows = np.asarray(tx_rows, dtype=complex)
        rx_matrix = np.asarray(rx_matrix, dtype=complex)
        paths = delays.size
        if tx_rows.ndim != 2 or tx_rows.shape[0] != paths or rx_matrix.ndim != 2 or rx_matrix.shape[1] != paths:
            raise ValueError(f"tx_rows {tx_rows.shape}, rx_matrix {rx_matrix.shape}: accepted: ({paths}, streams) "
                             f"and (outputs, {paths}) for {paths} delays")
        self.streams = tx_rows.shape[1]
        groups = [(0, self.streams)] if stream_groups is None else [(int(a), int(b)) for a, b in stream_groups]
        # each path reads one group of streams (its transmitter's): paths sorted by group, rows cut to it
        group_of = np.full(paths, -1)
        for g, (a, b) in enumerate(groups):
            outside = np.ones(self.streams, dtype=bool)
            outside[a:b] = False
            reads_only_here = ~np.any(tx_rows[:, outside], axis=1) & (group_of < 0)
            group_of[reads_only_here] = g
        if np.any(group_of < 0):
            raise ValueError(f"stream_groups = {stream_groups!r}: a path reads streams of two groups")
        order = np.argsort(group_of, kind="stable")
        self.delays_samples = delays[order]
        self.delays_samples.setflags(write=False)
        whole = np.floor(self.delays_samples)
        self._shift = whole.astype(np.int64)
        fraction = self.delays_samples - whole
        cycles = _frequency_per_sample(self.subcarriers, bandwidth_hz, grid)
        ramp = np.exp(-2j * np.pi * np.multiply.outer(fraction, cycles))  # (P, L)
        rows = ramp[:, :, None] * tx_rows[order][:, None, :]  # (P, L, streams)
        self._groups = []  # (stream slice, path slice, (L, streams of the group, paths of the group) complex64)
        bounds = np.searchsorted(group_of[order], np.arange(len(groups) + 1))
        for g, (a, b) in enumerate(groups):
            lo, hi = int(bounds[g]), int(bounds[g + 1])
            if hi > lo:
                block = np.ascontiguousarray(np.transpose(rows[lo:hi, :, a:b], (1, 2, 0))).astype(np.complex64)
                self._groups.append((slice(a, b), slice(lo, hi), block, g))
        self._rx = np.ascontiguousarray(rx_matrix[:, order].astype(np.complex64))
        self._inverse_dft = np.fft.ifft(np.eye(self.subcarriers), axis=0, norm="ortho").astype(np.complex64)
        self._chunk = max(1, int(chunk_symbols))
        self._fractional = fraction > 0
        # symbols of history: the oldest symbol a chunk's first output sample can read (fractional: one more)
        self._history_symbols = int((self._shift.max() + 1) // self.symbol_len) + 2 if paths else 0
        self._index = {}  # chunk symbols → flat gather index (P, chunk·S)
        # c_{p,s}[i] of the history and the chunk: (L, history + chunk, P)
        self._cores = np.zeros((self.subcarriers, self._history_symbols + self._chunk, paths), dtype=np.complex64)
        self._beams = np.empty((self.subcarriers, self._chunk, paths), dtype=np.complex64)
        # kept working arrays (a fresh MB-sized array per chunk costs its page faults every time)
        self._delayed = np.empty(paths * self._chunk * self.symbol_len, dtype=np.complex64)
        self._mixed = np.empty(rx_matrix.shape[0] * self._chunk * self.symbol_len, dtype=np.complex64)
        self.reset()

    @property
    def paths(self):
        return self.delays_samples.size

    def reset(self):
        """Forget the stream: the next call is a stream start (nothing before it)."""
        self._cores[:, :self._history_symbols] = 0

    def _gather_index(self, symbols):
        """Flat indices into the cores (L, H + chunk, P) for a chunk's P × symbols·S delayed samples."""
        index = self._index.get(symbols)
        if index is None:
            s_len, cp, length, hist = self.symbol_len, self.cyclic_prefix, self.subcarriers, self._history_symbols
            u = np.arange(symbols * s_len)[None, :] - self._shift[:, None]  # (P, count): time before the fraction
            sym = np.floor_divide(u, s_len)
            t = u - sym * s_len
            first = (t == 0) & self._fractional[:, None]  # at time −μ: the previous symbol's c[0]
            i = np.where(first, 0, (t - cp) % length)
            sym = np.where(first, sym - 1, sym) + hist
            p = np.arange(self.paths)[:, None]
            index = (i * (hist + self._chunk) + sym) * self.paths + p
            if len(self._index) > 4:  # a block calls with one size or two (full chunks, a remainder): keep a few
                self._index.clear()
            self._index[symbols] = index
        return index

    def add_to(self, spectra, outputs, group_phasors=None):
        """spectra (streams, symbols, L) complex64: the input streams' core spectra (orthonormal FFT of the samples
        after each prefix, per-symbol coefficients applied) → adds the delayed paths into ``outputs`` (a list of
        arrays of ≥ symbols·S samples, one per rx_matrix row). Each call continues the last one. ``group_phasors``:
        None, or (groups, symbols·S) complex64, a factor per output sample on every path of a stream group after its
        delay (the channel's re-rotation of a transmitter's CFO, core.channels.SensingChannel)."""
        streams, symbols, length = spectra.shape
        if length != self.subcarriers or streams != self.streams:
            raise ValueError(f"spectra of shape {spectra.shape}: accepted: ({self.streams}, symbols, {self.subcarriers})")
        s_len, hist, paths = self.symbol_len, self._history_symbols, self.paths
        by_bin = np.ascontiguousarray(np.transpose(spectra, (2, 1, 0)))  # (L, symbols, streams)
        cores = self._cores
        for start in range(0, symbols, self._chunk):
            stop = min(symbols, start + self._chunk)
            count = stop - start
            beams = self._beams[:, :count]
            for stream_slice, path_slice, rows, _ in self._groups:
                np.matmul(by_bin[:, start:stop, stream_slice], rows, out=beams[:, :, path_slice])
            new = cores[:, hist:hist + count].reshape(length, count * paths)
            np.matmul(self._inverse_dft, beams.reshape(length, count * paths), out=new)
            delayed = self._delayed[:paths * count * s_len].reshape(paths, count * s_len)
            np.take(cores, self._gather_index(count), out=delayed, mode="clip")  # (P, count·S); indices are in range
            cores[:, :hist] = cores[:, count:count + hist]  # the last `hist` symbols: the next chunk's history
            if group_phasors is not None:
                for _, path_slice, _, g in self._groups:
                    delayed[path_slice] *= group_phasors[g, start * s_len:stop * s_len]
            mixed = self._mixed[:self._rx.shape[0] * count * s_len].reshape(self._rx.shape[0], count * s_len)
            np.matmul(self._rx, delayed, out=mixed)
            for r, out in enumerate(outputs):
                out[start * s_len:stop * s_len] += mixed[r]
