# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Synthetic channels of the D-ISAC PHY: oscillator phases, sensing echoes (eq. 3/5), CoMP comm channel (eq. 2), AWGN.

Noncoherence: node n's oscillator phase φ_n is drawn anew every frame by ONE function,
``node_phases_rad(channel_seed, frames, N)``, which both the sensing and the comm channels call, so all
channels agree. A bistatic echo tx m → target k → rx n carries e^{j(φ_m − φ_n)} (absorbed by the unknown
b_{n,m}^k of the model); user u receives Σ_n e^{jφ_n} h_{n,u}ᴴ x_n + z (eq. 2 with the phases).

Sample streams are frames of core.ofdm.FrameLayout; a channel counts samples from its first input
sample, which must be the first sample of frame 0 (the transmitters start there), so the frame of
sample t is t // frame_len. Delays are applied per OFDM symbol in the frequency domain: each received
symbol is the circular shift, by τ, of the periodic transmitted symbol, i.e. its bins are multiplied by
exp(−j2π f_l τ) with f_l on the chosen frequency grid (core.ofdm.bin_frequencies_hz). This is exact
("band-limited") for the samples the receiver keeps after dropping the cyclic prefix, for any
fractional delay up to the cyclic prefix (the scenario validates τ ≤ CP); the first τ samples of each
output prefix would, on a real channel, hold the previous symbol's tail — the receiver discards them.

``apply_time`` is the reference (float64, written as the equations); ``write_time`` is the blocks' fast
complex64 path (batched matrix products, scipy.fft single precision), tested equal to it. AWGN draws
dominate a noisy channel's cost (16 streams × 2 normals per sample for a sensing channel).

Noise source (decided in issue 16; measured on the 2-core benchmark machine): fresh i.i.d. CN(0, σ²) from
numpy's seeded Generator (PCG64), float32, drawn into a kept buffer. It costs ≈ 20 ns per complex sample
(PCG64's 64 random bits alone ≈ 5.6 ns), so on one core the noise alone caps a 16-antenna sensing channel
at ≈ 3 MS/s per receive antenna and the 3-user comm channel at ≈ 16 MS/s. The fast sources were measured
and rejected for what they do to the statistics a paper reports:
* a pre-drawn pool read in runs at random offsets (≈ 1 ns per sample): over a frame set of T output samples
  a fraction ≈ 1 − exp(−T/M) of them repeats a run elsewhere in the set (M = 2²² entries, 1000 frames of
  the paper's 16 antennas × 108 samples: 34 %), each a correlation peak of magnitude 1 between two
  snapshots (0.5 when two runs are mixed), against the 1/√n ≈ 0.06 floor of a correlation over one
  256-sample snapshot: visible, and Monte-Carlo frames stop being independent trials;
* GNU Radio's analog.fastnoise_source_c (a random index into a pool per sample): no runs repeat, but every
  value recurs T/M times and the tail stops at the pool's largest value (|n|²/σ² ≤ ln M ≈ 9.7 for its
  default M = 2¹⁴: events rarer than ≈ 6·10⁻⁵ never happen, which biases low BERs and a localiser's outlier
  rate), and it ran at 6 ns per sample (M = 2¹⁴) to 19 ns (M = 2²⁰, tails to ≈ 10⁻⁶): no faster than numpy
  at a pool size that keeps the tails.
The noise-off channels (the loopback's sensing path) are not limited by this.
"""

import numpy as np
import scipy.fft

from . import delay_line, geometry, ofdm

_STREAM_PHASE = 0x0F1A5E
_STREAM_SENSING_NOISE = 0x5E45
_STREAM_COMM_NOISE = 0xC0AA


def node_phases_rad(channel_seed, frames, num_nodes):
    """Oscillator phase φ_n of every node in each frame, (F, N), uniform on [0, 2π), from (seed, frame)."""
    return 2 * np.pi * ofdm.hash_uniform(channel_seed, _STREAM_PHASE, frames, num_nodes)


def noise_rng(channel_seed, kind, index=0):
    """The seeded generator of one channel's AWGN ("sensing" for rx node ``index``, or "comm")."""
    stream = {"sensing": _STREAM_SENSING_NOISE, "comm": _STREAM_COMM_NOISE}[kind]
    return np.random.default_rng([int(channel_seed), stream, int(index)])


def awgn(rng, samples, streams, noise_power, buffer=None):
    """CN(0, noise_power) noise (streams, samples), complex64 (a transposed view of time-major noise).

    Drawn time-major from ``rng``, so the sequence does not depend on how a stream is cut into calls.
    The (real, imaginary) float32 pairs are read as complex64 in place (no temporaries: the draw itself
    is most of a noisy channel's cost, ≈ 20 ns per complex sample on the benchmark machine). ``buffer``:
    an optional float32 array of ≥ 2·samples·streams elements drawn into (the channel blocks keep one, to
    save the page faults of a fresh multi-MB array per call); the values are the same either way.
    """
    shape = (samples, streams, 2)
    if buffer is None:
        draw = rng.standard_normal(shape, dtype=np.float32)
    else:
        draw = buffer[:samples * streams * 2].reshape(shape)
        rng.standard_normal(dtype=np.float32, out=draw)
    noise = draw.view(np.complex64)[..., 0]
    noise *= np.float32(np.sqrt(noise_power / 2))
    return noise.T


def linked_amplitudes(amplitudes, phases_rad):
    """b[n, m, k]·e^{j(φ_m − φ_n)} per frame, (F, N, N, K): the amplitudes eq. 3/5 sees with oscillator phases."""
    phases_rad = np.asarray(phases_rad)
    rel = np.exp(1j * (phases_rad[:, None, :] - phases_rad[:, :, None]))  # [f, n, m] = e^{j(φ_m − φ_n)}
    return np.asarray(amplitudes)[None] * rel[..., None]


class SensingChannel:
    """Echoes of K point targets from every node's transmit streams into the Mr antennas of rx node n (eq. 3/5).

    ``apply_frequency`` works on OFDM symbols in the frequency domain; ``apply_time`` on sample streams
    (whole symbols). Noise is added by the caller (``awgn``) so that noise-off runs are exact.
    """

    def __init__(self, scenario, rx_node, channel_seed, grid=ofdm.DEFAULT_FREQUENCY_GRID):
        if not 0 <= int(rx_node) < scenario.num_nodes:
            raise ValueError(f"rx_node = {rx_node!r}: accepted: 0 … {scenario.num_nodes - 1}")
        self.scenario = scenario
        self.layout = ofdm.layout_from_scenario(scenario)
        self.rx_node = int(rx_node)
        self.channel_seed = int(channel_seed)
        theta = scenario.target_angles_rad()  # (N, K)
        self._a_t = geometry.ula_steering(theta, scenario.tx_antennas)  # (N_tx, K, Mt)
        self._a_r = geometry.ula_steering(theta[self.rx_node], scenario.rx_antennas)  # (K, Mr)
        delays = scenario.bistatic_delays_s()[self.rx_node]  # (N_tx, K)
        self._d = ofdm.delay_phases(delays, scenario.subcarriers, scenario.bandwidth_hz, grid)  # (N_tx, K, L)
        self._b = scenario.target_amplitudes()[self.rx_node]  # (N_tx, K)
        self._tx_beams = None  # the complex64 matrices of write_time, made on first use

    def apply_frequency(self, x_freq, frames):
        """x_freq (S, N, Mt, L) symbols of every node, frames (S,) their frame numbers → (S, Mr, L)."""
        coef = self.link_coefficients(frames)  # (S, N_tx, K)
        beam = np.einsum("mki,smil->smkl", self._a_t, x_freq)  # a_t^T(θ_m^k) X_m
        echo = np.einsum("smk,mkl,smkl->skl", coef, self._d, beam)
        return np.einsum("kr,skl->srl", self._a_r, echo)

    def link_coefficients(self, frames):
        """b[n, m, k]·e^{j(φ_m − φ_n)} of rx node n per frame, (F, N_tx, K) (eq. 3/5 with the oscillator phases)."""
        phases = node_phases_rad(self.channel_seed, frames, self.scenario.num_nodes)  # (F, N)
        link = np.exp(1j * (phases - phases[:, self.rx_node:self.rx_node + 1]))  # e^{j(φ_m − φ_n)}
        return self._b[None] * link[..., None]

    def write_time(self, x_time, first_sample, outputs):
        """The fast path of apply_time, complex64, for the block: x_time (N·Mt, S·(CP+L)) complex64 →
        writes (S·(CP+L),) into each of the Mr ``outputs``. Same values as apply_time to float32 rounding.

        The echo is rank N·K (one beam per transmitting node and target), so every step but the last works
        on the N·K beams, not on the N·Mt inputs or the Mr outputs: per call, the K beams a_t^T(θ_m^k) x_m
        of every node as one matrix product on the time samples (linear per sample, so it commutes with
        the FFT); one FFT of each beam's symbols; the per-frame link coefficient times d(τ) on each bin;
        one IFFT, cyclic prefix copied from the tail; last the Mr antennas' sum over beams, a_r(θ_n^k),
        one matrix-vector product written straight into each output buffer.
        """
        lay = self.layout
        streams, count = x_time.shape
        symbols = count // lay.symbol_len
        cp, length = lay.cyclic_prefix, lay.subcarriers
        if self._tx_beams is None:
            self._prepare_fast_path()
        frames = lay.frame_of_symbols(first_sample, symbols)
        unique, inverse = np.unique(frames, return_inverse=True)
        coef = self.link_coefficients(unique).reshape(len(unique), -1).astype(np.complex64)  # (F, N·K)
        beams_time = self._tx_beams @ x_time  # (N·K, S·(CP+L))
        beams = beams_time.reshape(-1, symbols, lay.symbol_len)
        beams_freq = scipy.fft.fft(beams[..., cp:], axis=-1, norm="ortho")  # (N·K, S, L)
        beams_freq *= coef.T[:, inverse, None]
        beams_freq *= self._delay_c64[:, None, :]
        beams[..., cp:] = scipy.fft.ifft(beams_freq, axis=-1, norm="ortho", overwrite_x=True)
        end = cp  # cyclic prefix: sample t < CP equals sample t + L (periodic, also when CP > L)
        while end > 0:
            begin = max(0, end - length)
            beams[..., begin:end] = beams[..., begin + length:end + length]
            end = begin
        for r, out in enumerate(outputs):
            np.matmul(self._rx_steer[r], beams_time, out=out[:count])

    def _prepare_fast_path(self):
        lay = self.layout
        n, k, mt = lay.num_nodes, self._a_t.shape[1], lay.tx_antennas
        tx_beams = np.zeros((n, k, n, mt), dtype=np.complex128)  # row (m, k): a_t(θ_m^k)^T on node m's inputs
        for m in range(n):
            tx_beams[m, :, m, :] = self._a_t[m]
        self._tx_beams = tx_beams.reshape(n * k, n * mt).astype(np.complex64)
        self._rx_steer = np.tile(self._a_r.T, (1, n)).astype(np.complex64)  # (Mr, N·K): column (m, k) = a_r(θ_n^k)
        self._delay_c64 = self._d.reshape(n * k, -1).astype(np.complex64)  # (N·K, L)

    def apply_time(self, x_time, first_sample):
        """x_time (N·Mt, S·(CP+L)) samples starting at absolute sample ``first_sample`` (a symbol start) → (Mr, S·(CP+L))."""
        lay = self.layout
        streams, count = x_time.shape
        symbols = count // lay.symbol_len
        frames = lay.frame_of_symbols(first_sample, symbols)
        x = x_time.reshape(lay.num_nodes, lay.tx_antennas, symbols, lay.symbol_len)
        x_freq = ofdm.demodulate(np.moveaxis(x, 2, 0), lay.cyclic_prefix)  # (S, N, Mt, L)
        y_freq = self.apply_frequency(x_freq, frames)  # (S, Mr, L)
        y = ofdm.modulate(y_freq, lay.cyclic_prefix)  # (S, Mr, CP+L)
        return np.moveaxis(y, 1, 0).reshape(-1, symbols * lay.symbol_len)


class CommChannel:
    """Every node's transmit streams to each user's antenna: y_u = Σ_n e^{jφ_n} h_{n,u}ᴴ x_n (eq. 2), each node
    seen at its own delay (SPEC13 §2 "Users").

    Delays: user u sees node n's signal delayed by D_{n,u} = δ_n + (user_delays ? |p_n − q_u|/c : 0)
    (δ_n the node's clock offset, ``scenario.impairments``), applied as a true band-limited delay by
    core.delay_line (the one delay operator of the air). The user's own sample clock is its own: a user
    receiver synchronises to its first arrival, so the delays are taken relative to floor(min_n D_{n,u})
    (``delays_samples``; ``alignment_samples`` holds the integer part removed). The frame tags the block
    forwards then mark the user's frame start, the delays it sees are in [0, spread + 1) samples, and the
    combined channel is frequency-selective, g_u[l] = Σ_n e^{jφ_n} h_{n,u}ᴴ w_{c,n,u} e^{−j2π f_l D_{n,u}}:
    the per-subcarrier pilots of core.ofdm (``[ofdm] pilot_symbols ≥ U + 1``) estimate it for any spread
    up to the cyclic prefix. ``pilot_warning()`` says when a scenario's pilots cannot. With no delays
    (the ideal or absent ``[impairments]`` table) the channel is flat and ``write_time`` is today's, sample
    for sample. x_n already carries the node's tx gains and CFO (the synthetic radio's, before this channel).
    """

    def __init__(self, scenario, channel_seed, grid=ofdm.DEFAULT_FREQUENCY_GRID):
        self.scenario = scenario
        self.layout = ofdm.layout_from_scenario(scenario)
        self.channel_seed = int(channel_seed)
        self.grid = grid
        self._h_conj = np.conj(scenario.user_channels())  # (N, U, Mt): row h_{n,u}^H
        self._h_block = None  # the complex64 matrix of write_time, made on first use
        delays = self.true_delays_samples(scenario)  # (N, U)
        self.alignment_samples = np.floor(delays.min(axis=0)).astype(np.int64) if delays.size else np.zeros(0, int)
        self.delays_samples = delays - self.alignment_samples[None, :]  # (N, U), ≥ 0
        self.frequency_selective = bool(np.any(self.delays_samples != 0))
        self._delay_line = None  # core.delay_line operator over the N·U node-user streams, made on first use

    @staticmethod
    def true_delays_samples(scenario):
        """D_{n,u}·B, (N, U): node n's clock offset δ_n plus, with ``user_delays``, its propagation delay to
        user u (SPEC13 §2), in samples at the sample rate B (the air's truth: never read by a receiver)."""
        imp = scenario.impairments
        delays = np.repeat(np.asarray(imp.clock_offset_s, dtype=float)[:, None], scenario.num_users, axis=1)
        if imp.user_delays:
            distance = np.linalg.norm(scenario.node_positions_m[:, None, :] - scenario.user_positions_m[None], axis=-1)
            delays = delays + distance / geometry.SPEED_OF_LIGHT_M_S
        return delays * scenario.bandwidth_hz

    @property
    def delay_spread_samples(self):
        """Each user's delay spread max_n D_{n,u} − min_n D_{n,u} (samples), (U,)."""
        return np.ptp(self.delays_samples, axis=0)

    def pilot_warning(self):
        """None, or a sentence saying why the users' pilots cannot follow this channel (for the block's log)."""
        lay = self.layout
        worst = int(np.argmax(np.max(self.delays_samples, axis=0))) if self.frequency_selective else 0
        if self.frequency_selective and np.max(self.delays_samples) > lay.cyclic_prefix:
            return (f"user {worst} sees the nodes up to {np.max(self.delays_samples[:, worst]):.2f} samples after its "
                    f"first arrival, beyond the cyclic prefix of {lay.cyclic_prefix}: inter-symbol interference")
        if self.frequency_selective and lay.pilot_design != ofdm.PILOT_PER_SUBCARRIER:
            return (f"the users' channels are frequency-selective (delay spread up to "
                    f"{np.max(self.delay_spread_samples):.2f} samples: [impairments] user_delays / clock offsets) "
                    f"but the layout has pilot_symbols = {lay.pilot_symbols} (one flat gain per frame): "
                    f"set [ofdm] pilot_symbols ≥ U + 1 = {lay.num_users + 1} for per-subcarrier channel estimates")
        return None

    def frequency_response(self, frames):
        """The per-subcarrier combiners C[f, l, u, n·Mt + i] = e^{jφ_n} e^{−j2π f_l D_{n,u}} [h_{n,u}^H]_i,
        (F, L, U, N·Mt): y_u[l] = C[f, l, u] · x[l] on every RE of frame f (eq. 2 with the delays)."""
        lay = self.layout
        phases = self.node_phases(frames)  # (F, N)
        delay = ofdm.delay_phases(self.delays_samples / self.scenario.bandwidth_hz, lay.subcarriers,
                                  self.scenario.bandwidth_hz, self.grid)  # (N, U, L)
        c = (np.exp(1j * phases)[:, None, :, None, None] * np.moveaxis(delay, -1, 0)[None, :, :, :, None]
             * self._h_conj[None, None])  # (F, L, N, U, Mt)
        return np.moveaxis(c, 3, 2).reshape(len(phases), lay.subcarriers, self.scenario.num_users, -1)

    def apply_frequency(self, x_freq, frames):
        """The reference in the frequency domain: x_freq (S, N·Mt, L) symbols of every node, frames (S,) their
        frame numbers → (S, U, L). Exact for the FFT window of a receiver at the user's frame timing when every
        delay is within the cyclic prefix."""
        unique, inverse = np.unique(np.asarray(frames), return_inverse=True)
        comb = self.frequency_response(unique)[inverse]  # (S, L, U, N·Mt)
        return np.einsum("slui,sil->sul", comb, x_freq)

    def node_phases(self, frames):
        """φ_n of every node in each frame, (F, N): the sensing channel's phases (same channel_seed)."""
        return node_phases_rad(self.channel_seed, frames, self.scenario.num_nodes)

    def combiners(self, frames):
        """C[f, u, n·Mt + i] = e^{jφ_n} [h_{n,u}^H]_i, (F, U, N·Mt)."""
        phases = self.node_phases(frames)  # (F, N)
        c = np.exp(1j * phases)[:, :, None, None] * self._h_conj[None]  # (F, N, U, Mt)
        return np.moveaxis(c, 2, 1).reshape(len(phases), self.scenario.num_users, -1)

    def _node_user_block(self):
        """The complex64 (N·U, N·Mt) matrix whose row n·U + u is h_{n,u}ᴴ on node n's inputs."""
        if self._h_block is None:
            lay = self.layout
            n, u, mt = lay.num_nodes, lay.num_users, lay.tx_antennas
            block = np.zeros((n, u, n, mt), dtype=np.complex128)
            for m in range(n):
                block[m, :, m, :] = self._h_conj[m]
            self._h_block = block.reshape(n * u, n * mt).astype(np.complex64)
        return self._h_block

    def write_time(self, x_time, first_sample, outputs):
        """The fast path of apply_time, complex64, for the block: x_time (N·Mt, S·(CP+L)) complex64 → writes
        (S·(CP+L),) into each of the U ``outputs``. Same values as apply_time to float32 rounding.

        z_{n,u} = h_{n,u}ᴴ x_n for every node and user as one matrix product (block-diagonal in n), then
        y_u = Σ_n e^{jφ_n} z_{n,u} with the phase of each symbol's frame (N small: a loop over nodes).
        With delays, each z_{n,u} (its phase applied at transmission) goes through core.delay_line's
        DelayLine at D_{n,u} before the sum: the line keeps its history, so consecutive calls must continue
        one stream from its first sample (as the block's do).
        """
        lay = self.layout
        streams, count = x_time.shape
        symbols = count // lay.symbol_len
        n, u = self.scenario.num_nodes, self.scenario.num_users
        frames = lay.frame_of_symbols(first_sample, symbols)
        unique, inverse = np.unique(frames, return_inverse=True)
        phase = np.exp(1j * self.node_phases(unique)).astype(np.complex64)[inverse]  # (S, N)
        z = (self._node_user_block() @ x_time).reshape(n, u, symbols, lay.symbol_len)
        if self.frequency_selective:
            z = self._delayed(z, phase)
            for user, out in enumerate(outputs):
                np.sum(z[:, user], axis=0, out=out[:count])
            return
        for user, out in enumerate(outputs):
            y = out[:count].reshape(symbols, lay.symbol_len)
            np.multiply(z[0, user], phase[:, 0, None], out=y)
            for m in range(1, n):
                y += z[m, user] * phase[:, m, None]

    def _delayed(self, z, phase):
        """z (N, U, S, CP+L) node-user streams, phase (S, N) → e^{jφ_n}·z_{n,u} delayed by D_{n,u}, (N, U, S·(CP+L))."""
        lay = self.layout
        n, u, symbols, _ = z.shape
        if self._delay_line is None:
            self._delay_line = delay_line.DelayLine(lay.subcarriers, lay.cyclic_prefix, self.scenario.bandwidth_hz,
                                                    self.delays_samples.reshape(-1), self.grid)
        spectra = scipy.fft.fft(z[..., lay.cyclic_prefix:], axis=-1, norm="ortho")  # (N, U, S, L)
        spectra *= phase.T[:, None, :, None]  # the phase of the transmitting node's frame (constant per symbol)
        delayed = self._delay_line.delay_spectra(spectra.reshape(n * u, symbols, lay.subcarriers))
        return delayed.reshape(n, u, -1)

    def apply_time(self, x_time, first_sample):
        """x_time (N·Mt, S·(CP+L)) from absolute sample ``first_sample`` (a symbol start) → (U, S·(CP+L)).

        With delays, the given samples are the whole stream (nothing before them: core.delay_line's
        reference equations, sample by sample, float64)."""
        lay = self.layout
        streams, count = x_time.shape
        symbols = count // lay.symbol_len
        frames = lay.frame_of_symbols(first_sample, symbols)
        unique, inverse = np.unique(frames, return_inverse=True)
        if self.frequency_selective:
            n, u = self.scenario.num_nodes, self.scenario.num_users
            phase = np.exp(1j * self.node_phases(unique))[inverse]  # (S, N)
            x = x_time.reshape(n, lay.tx_antennas, symbols, lay.symbol_len)
            z = np.einsum("nui,nisj->nusj", self._h_conj, x) * phase.T[:, None, :, None]
            y = np.zeros((u, count), dtype=complex)
            for m in range(n):
                for user in range(u):
                    y[user] += delay_line.delay_reference(z[m, user].reshape(-1), self.delays_samples[m, user],
                                                          lay.subcarriers, lay.cyclic_prefix,
                                                          self.scenario.bandwidth_hz, self.grid)
            return y
        comb = self.combiners(unique).astype(np.complex64)[inverse]  # (S, U, N·Mt)
        x = x_time.reshape(streams, symbols, lay.symbol_len)
        y = np.matmul(comb, np.moveaxis(x, 1, 0))  # (S, U, CP+L)
        return np.moveaxis(y, 1, 0).reshape(-1, symbols * lay.symbol_len)
