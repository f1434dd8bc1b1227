# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Synthetic channels of the D-ISAC PHY: oscillator phases, sensing echoes (eq. 3/5), CoMP comm channel (eq. 2), AWGN.

Noncoherence: node n's oscillator phase φ_n is drawn by ONE function, ``oscillator_phases_rad`` (per frame:
``node_phases_rad(channel_seed, frames, N)``, a fresh phase every frame; or per run with a drift, from the
scenario's [impairments] node_phase), which both the sensing and the comm channels call, so all channels
agree. A bistatic echo tx m → target k → rx n carries e^{j(φ_m − φ_n)} (absorbed by the unknown b_{n,m}^k of
the model); user u receives Σ_n e^{jφ_n} h_{n,u}ᴴ x_n + z (eq. 2 with the phases).

Sample streams are frames of core.ofdm.FrameLayout; a channel counts samples from its first input
sample, which must be the first sample of frame 0 (the transmitters start there), so the frame of
input sample t is t // frame_len. The sensing channel delays every path (target echoes; with the
[impairments] table also the clock offsets and latencies of every link, D = Impairments.link_delay_samples,
the direct paths between nodes, the [calibration] reference reflector, and issue 14's clutter scatterers and
self-coupling: docs/air-model.md §5) by core.delay_line's true
band-limited delay: each symbol's trigonometric polynomial on the chosen frequency grid
(core.ofdm.bin_frequencies_hz), delayed, with the previous symbol's waveform where a delayed time falls
before a symbol's start. For delays within the cyclic prefix (the ideal air: the scenario validates τ ≤ CP)
the samples the receiver keeps after dropping the prefix are exactly the per-symbol circular shift of
eq. (3)/(5), bins multiplied by exp(−j2π f_l τ); the first τ samples of each prefix hold the previous
symbol's tail, as on a real channel. Past the prefix: inter-symbol interference, as on air.

``apply_time`` is the reference (float64, written as the equations); ``write_time`` is the blocks' fast
complex64 path (batched matrix products, scipy.fft single precision), tested equal to it. AWGN draws
dominate a noisy channel's cost (16 streams × 2 normals per sample for a sensing channel).

Noise source (decided in issue 16; measured on the 2-core benchmark machine): fresh i.i.d. CN(0, σ²) from
numpy's seeded Generator (PCG64), float32, drawn into a kept buffer. It costs ≈ 20 ns per complex sample
(PCG64's 64 random bits alone ≈ 5.6 ns), so on one core the noise alone caps a 16-antenna sensing channel
at ≈ 3 MS/s per receive antenna and the 3-user comm channel at ≈ 16 MS/s. Measured and rejected at issue 16's second
stop: one SFC64 generator per output stream, drawn contiguously and added in place (31 ns per complex sample
drawn and added, against 36–40 ns: the sensing channel with noise 1.12× faster, within this machine's run-to-run
noise), because it changes every seeded noisy result (tests/test_tracking.py's end-to-end track/frame RMSE ratio,
within its 0.5 bound with this source, came out at 0.505 with that one on the same seed); Marsaglia's polar method and Box–Muller in
float32 numpy (float32 log, sin and cos cost 4–5 ns a value here, the complex-by-real multiply 2.6 ns: ≥ 18 ns
per complex sample before the rejection step, no faster). The fast sources were measured
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

import dataclasses
import math

import numpy as np
import scipy.fft

from . import delay_line, geometry, model, ofdm, synthetic_radio

_STREAM_PHASE = 0x0F1A5E
_STREAM_SENSING_NOISE = 0x5E45
_STREAM_COMM_NOISE = 0xC0AA
# path kinds of the static interference (docs/air-model.md §5), delayed by core.delay_line.PathBank in write_time
_BANK_KINDS = ("clutter", "self_coupling")


def node_phases_rad(channel_seed, frames, num_nodes):
    """Oscillator phase φ_n of every node in each frame, (F, N), uniform on [0, 2π), from (seed, frame)."""
    return 2 * np.pi * ofdm.hash_uniform(channel_seed, _STREAM_PHASE, frames, num_nodes)


def oscillator_phases_rad(channel_seed, frames, impairments, frame_len, sample_rate_hz):
    """φ_n of every node in each frame, (F, N), under the impairments' oscillator model (docs/air-model.md §2); the one
    function the sensing and the comm channels call.

    "per_frame" (today, and the ideal air): ``node_phases_rad``, a fresh uniform φ_n every frame. "per_run":
    φ_n(f) = φ_n,0 + 2π·(drift_n/360)·(f·frame_len/fs), constant within a frame, with φ_n,0 = the per-frame
    draw of frame 0 (uniform; so frame 0 is the same in both models) and drift_n = phase_drift_deg_per_s.
    """
    num_nodes = impairments.num_nodes
    if impairments.node_phase != "per_run":
        return node_phases_rad(channel_seed, frames, num_nodes)
    start = node_phases_rad(channel_seed, [0], num_nodes)[0]  # φ_n,0
    seconds = np.asarray(frames, dtype=float).reshape(-1, 1) * (frame_len / float(sample_rate_hz))
    return start[None, :] + 2 * np.pi * (impairments.phase_drift_deg_per_s[None, :] / 360.0) * seconds


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
    """Every node's transmit streams into the Mr antennas of rx node n: the sum of point paths (eq. 3/5 + the air).

    A path p leaves transmitter m_p's array at angle θ_dep, arrives at node n from θ_arr, with a total delay
    d_p = τ_p·B + D[n, m_p] + A samples and the per-frame coefficient β_p·e^{j(φ_m(f) − φ_n(f))}:

        y_n(t) = Σ_p a_r(θ_arr,p) · delay_{d_p}[ β_p e^{j(φ_m − φ_n)} · a_t^T(θ_dep,p) x_{m_p} ](t)

    The paths (``self.paths``, core.channels.sensing_paths): every target k from every transmitter m (τ_{n,m}^k,
    b_{n,m}^k: eq. 3/5); with ``direct_path`` the line of sight m → n for m ≠ n (|p_m − p_n|/c, departing toward p_n,
    arriving from p_m) at Impairments.direct_path_amplitudes[n, m] (issue 13's direct_path_snr_db, or issue 14's
    direct_path_db / "free_space" link budget: docs/air-model.md §5); with a [calibration] reflector, one more point
    target at reflector_m on every link (β = reflector_amplitude); the clutter scatterers c from every m (static
    point paths β_c e^{jψ_c}, the oscillator phases like an echo; beyond the prefix for some); and node n's
    self-coupling y_n += C_n·delay_{λ_n + A + self_coupling_delay}[x_n] as Mt rank-one paths (tx vector e_i, rx
    vector C_n[:, i]; its coefficient e^{j(φ_n − φ_n)} = 1: the same oscillator). D = Impairments.link_delay_samples
    (clock offsets and latencies) and A = ``air_latency_samples`` (the smallest integer making every d_p ≥ 0; 0 unless
    some D < 0) are from the scenario's impairments; the delay is core.delay_line's true band-limited delay, so
    a delay past the cyclic prefix gives inter-symbol interference as on air. The coefficient of a path goes with
    the transmitted symbol (the frame of the input sample), so one frame's echo carries one phase whatever its
    delay. Noise, rx gains, CFO, the ADC and overflows are not here (the caller's ``awgn``; the radio blocks).

    Output sample j of this channel is what node n's antennas hold at label time epoch + (j − A)/B on node n's
    ``rx_time`` labels: ``label_offset_samples`` = −A is the label of output sample 0 relative to the epoch (in
    samples), what the receiving radio puts in its first ``rx_time``. With the ideal (or absent) table, A = 0,
    D = 0, no extra paths: the kept samples (after each prefix) are eq. (3)/(5) exactly, as before.

    A moving scene (issue 15: ``scenario.is_static`` False; docs/air-model.md §6) takes the target paths (rows m·K + k)
    frame by frame from ``moving_target_paths``: frame f's delays, angles and presence at t_f = f·frame_interval_s,
    the echo's carrier phase at t_f (relative to t = 0) and its bistatic Doppler e^{j2π f_D (j − f·frame_len)/B} at
    the output samples j; each transmitted symbol is echoed with its own frame's state (its tail into the next frame
    too). A static scene never enters that code: its air is as before, bit for bit.

    ``apply_frequency`` is eq. (3)/(5) itself for the targets (the ideal air, frequency domain, for tests);
    ``apply_time`` the time-domain reference (float64, the delay operator's equations sample by sample);
    ``write_time`` the blocks' fast complex64 path, streaming (history across calls), tested equal to it.
    """

    def __init__(self, scenario, rx_node, channel_seed, grid=ofdm.DEFAULT_FREQUENCY_GRID, transmit_cfo_hz=None):
        if not 0 <= int(rx_node) < scenario.num_nodes:
            raise ValueError(f"rx_node = {rx_node!r}: accepted: 0 … {scenario.num_nodes - 1}")
        self.scenario = scenario
        self.layout = ofdm.layout_from_scenario(scenario)
        self.rx_node = int(rx_node)
        self.channel_seed = int(channel_seed)
        self.grid = grid
        n = self.rx_node
        theta = scenario.target_angles_rad()  # (N, K)
        self._a_t = geometry.ula_steering(theta, scenario.tx_antennas)  # (N_tx, K, Mt)
        self._a_r = geometry.ula_steering(theta[n], scenario.rx_antennas)  # (K, Mr)
        delays = scenario.bistatic_delays_s()[n]  # (N_tx, K)
        self._d = ofdm.delay_phases(delays, scenario.subcarriers, scenario.bandwidth_hz, grid)  # (N_tx, K, L)
        self._b = scenario.target_amplitudes()[n]  # (N_tx, K)
        self.impairments = impairments = scenario.impairments  # the air's truth (docs/air-model.md §0: never the receiver's)
        self.paths = sensing_paths(scenario, n)
        fs = scenario.bandwidth_hz
        self.air_latency_samples = sensing_air_latency_samples(scenario)
        link = impairments.link_delay_samples(fs)[n]  # D[n, m] per transmitter m
        self.path_delays_samples = self.paths.delay_s * fs + link[self.paths.tx_node] + self.air_latency_samples
        self.label_offset_samples = -self.air_latency_samples
        # the carrier rotation e^{j2π ε_m t} (t = input sample / fs) each transmitter's input streams carry: by default the
        # table's cfo_hz (what blocks/synthetic_radio_tx applies); a caller that pre-rotates (a transmitter's CFO
        # pre-compensation) gives the net ε_m. The delay is exact for it (docs/air-model.md §5.4: de-rotate, delay,
        # re-rotate by e^{j2π ε_m (t − d_p)} per path), so a CFO never distorts a path; 0 everywhere: nothing runs
        cfo = impairments.cfo_hz if transmit_cfo_hz is None else transmit_cfo_hz
        cfo = np.asarray(cfo, dtype=float).reshape(-1)
        if cfo.size != scenario.num_nodes or not np.all(np.isfinite(cfo)):
            raise ValueError(f"transmit_cfo_hz = {transmit_cfo_hz!r}: accepted: {scenario.num_nodes} finite numbers (Hz)")
        self.transmit_cfo_hz = cfo
        self._rotated = bool(np.any(cfo != 0))
        # e^{−j2π ε_{m_p} d_p / fs}: each path's constant part of its re-rotation
        self._path_delay_phase = np.exp(-2j * np.pi * cfo[self.paths.tx_node] * self.path_delays_samples / fs)
        self._delay_line = None  # the fast path's DelayLine (state across write_time calls), made on first use
        self._next_sample = None
        # a moving scene (issue 15, docs/air-model.md §6): the target paths (rows m·K + k, the first N·K) take their
        # frame's geometry, presence, carrier phase and Doppler; a static scene keeps the code path above, bit for bit
        self.moving = not scenario.is_static
        self.moving_path_count = scenario.num_nodes * scenario.num_targets if self.moving else 0
        self._moving_carry = np.zeros((scenario.rx_antennas, 0), dtype=np.complex64)

    # ---- the model ---------------------------------------------------------------------------------
    def apply_frequency(self, x_freq, frames, symbol_times_s=None):
        """Eq. (3)/(5) for the targets: x_freq (S, N, Mt, L) symbols of every node, frames (S,) → (S, Mr, L).
        The ideal air's snapshot model (no impairments, no direct path, no reflector). A moving scene needs
        ``symbol_times_s`` (S,), each symbol's first kept sample from its frame's start (core.model.data_symbol_times_s):
        the targets of the frame's t_f with their Doppler over the symbol (core.model.moving_sensing_mean)."""
        if self.moving:
            if symbol_times_s is None:
                raise ValueError("symbol_times_s = None: a moving scene's model needs each symbol's time in its frame")
            n = self.rx_node
            b = self.scenario.target_amplitudes()
            out = []
            for x, f, t in zip(x_freq, np.asarray(frames).reshape(-1), np.asarray(symbol_times_s, float).reshape(-1)):
                phases = self.oscillator_phases([f])[0]
                amp = b * np.exp(1j * (phases[None, :] - phases[:, None]))[..., None]
                out.append(model.moving_sensing_mean(self.scenario, x[..., None], int(f), amp, [float(t)])[n, :, :, 0])
            return np.array(out)
        coef = self.link_coefficients(frames)  # (S, N_tx, K)
        beam = np.einsum("mki,smil->smkl", self._a_t, x_freq)  # a_t^T(θ_m^k) X_m
        echo = np.einsum("smk,mkl,smkl->skl", coef, self._d, beam)
        return np.einsum("kr,skl->srl", self._a_r, echo)

    def oscillator_phases(self, frames):
        """φ (F, N) of every node in these frames (per_frame or per_run, core.channels.oscillator_phases_rad)."""
        return oscillator_phases_rad(self.channel_seed, frames, self.impairments, self.layout.frame_len,
                                     self.scenario.bandwidth_hz)

    def link_coefficients(self, frames):
        """b[n, m, k]·e^{j(φ_m − φ_n)} of rx node n per frame, (F, N_tx, K) (eq. 3/5 with the oscillator phases)."""
        phases = self.oscillator_phases(frames)  # (F, N)
        link = np.exp(1j * (phases - phases[:, self.rx_node:self.rx_node + 1]))  # e^{j(φ_m − φ_n)}
        return self._b[None] * link[..., None]

    def path_coefficients(self, frames, paths=slice(None)):
        """β_p·e^{j(φ_{m_p} − φ_n)} of every path (or of ``paths``, a slice) per frame, (F, P)."""
        phases = self.oscillator_phases(frames)  # (F, N)
        link = np.exp(1j * (phases[:, self.paths.tx_node[paths]] - phases[:, self.rx_node:self.rx_node + 1]))
        return self.paths.amplitude[paths][None] * link

    # ---- time domain ----------------------------------------------------------------------------------
    def _transmit_rotations(self, first_sample, count):
        """e^{j2π ε_m j/fs} of every transmitter m at input (and output) samples j = first_sample …, (N, count)."""
        fs = self.scenario.bandwidth_hz
        return np.stack([synthetic_radio.cfo_phasor(eps, first_sample, count, fs, +1) for eps in self.transmit_cfo_hz])

    def _derotated(self, x_time, rotations, dtype):
        """The input streams with their transmitter's rotation removed (OFDM symbols again), (N·Mt, count)."""
        mt = self.scenario.tx_antennas
        undo = np.repeat(np.conj(rotations), mt, axis=0).astype(dtype)
        return np.asarray(x_time, dtype=dtype) * undo

    def write_time(self, x_time, first_sample, outputs):
        """The fast path of apply_time, complex64, for the block: x_time (N·Mt, S·(CP+L)) complex64 from input
        sample ``first_sample`` (a symbol start) → writes (S·(CP+L),) into each of the Mr ``outputs``. Same values
        as apply_time to float32 rounding. Streaming: a call continuing the last one (first_sample = the last
        call's end) continues its delayed paths; any other first_sample starts a new stream (nothing before it).

        Every step but the last works on the P paths (rank P: one beam per transmitter and target, plus the
        direct paths and the reflector), not on the N·Mt inputs or the Mr outputs: per call, the P beams
        a_t^T(θ_dep,p) x_{m_p} as one matrix product on the time samples (linear per sample, so it commutes with
        the FFT); one FFT of each beam's symbol cores; the per-frame path coefficient on each symbol; the delay
        line (fractional part as a phase ramp, one IFFT, integer part a shift with history); last the Mr
        antennas' sum over paths, a_r(θ_arr,p), one matrix-vector product written straight into each output.
        The static interference (clutter, self-coupling: many paths, few streams) is then added by
        core.delay_line.PathBank from one FFT of each of the N·Mt inputs (with its transmitter's e^{j(φ_m − φ_n)}
        per symbol); without it (the ideal air, issue 13's) nothing of this runs and the output is as before, bit
        for bit.
        """
        lay = self.layout
        streams, count = x_time.shape
        symbols = count // lay.symbol_len
        if self._delay_line is None:
            self._prepare_fast_path()
        if first_sample != self._next_sample:
            self._delay_line.reset()
            if self._bank is not None:
                self._bank.reset()
            self._moving_carry = self._moving_carry[:, :0]
        self._next_sample = first_sample + count
        frames = lay.frame_of_symbols(first_sample, symbols)
        unique, inverse = np.unique(frames, return_inverse=True)
        rotations = None
        if self._rotated:  # a transmitter's CFO: delay the de-rotated symbols, re-rotate each path after its delay
            rotations = self._transmit_rotations(first_sample, count)
            x_time = self._derotated(x_time, rotations, np.complex64)
        first, point = self.moving_path_count, self.point_path_count  # the static point paths: [first, point)
        if point > first:
            coef = self.path_coefficients(unique, slice(first, point)).astype(np.complex64)  # (F, P1)
            beams = (self._tx_beams @ x_time).reshape(-1, symbols, lay.symbol_len)  # (P, S, CP+L)
            spectra = scipy.fft.fft(beams[..., lay.cyclic_prefix:], axis=-1, norm="ortho")  # (P, S, L)
            spectra *= coef.T[:, inverse, None]
            delayed = self._delay_line.delay_spectra(spectra)  # (P, count), a view of the delay line's buffer
            if rotations is not None:
                delayed *= (rotations[self.paths.tx_node[first:point]]
                            * self._path_delay_phase[first:point, None]).astype(np.complex64)
            for r, out in enumerate(outputs):
                np.matmul(self._rx_steer[r], delayed, out=out[:count])
        else:
            for out in outputs:
                out[:count] = 0
        if self.moving:
            echoes = self._moving_echoes(x_time, first_sample, frames)  # (Mr, count)
            for r, out in enumerate(outputs):
                out[:count] += echoes[r]
        if self._bank is not None:
            # the static interference (clutter, self-coupling): many paths from the N·Mt inputs, so the inputs' spectra
            # go in (one FFT per input, not per path) with each transmitter's e^{j(φ_m − φ_n)} per symbol
            link = self._link_phases(unique).astype(np.complex64)[inverse]  # (S, N)
            inputs = scipy.fft.fft(x_time.reshape(streams, symbols, lay.symbol_len)[..., lay.cyclic_prefix:],
                                   axis=-1, norm="ortho")  # (N·Mt, S, L)
            inputs.reshape(self.scenario.num_nodes, -1, symbols, lay.subcarriers)[...] *= link.T[:, None, :, None]
            self._bank.add_to(inputs, [out[:count] for out in outputs],
                              None if rotations is None else rotations.astype(np.complex64))

    def _link_phases(self, frames):
        """e^{j(φ_m − φ_n)} of every transmitter m into this rx node per frame, (F, N)."""
        phases = self.oscillator_phases(frames)  # (F, N)
        return np.exp(1j * (phases - phases[:, self.rx_node:self.rx_node + 1]))

    @property
    def point_path_count(self):
        """The paths of the per-path delay line (targets, direct paths, reflector: eq. 3/5 and issue 13); the
        rest (clutter, self-coupling: docs/air-model.md §5) go through core.delay_line.PathBank in write_time."""
        kinds = self.paths.kind
        return sum(1 for k in kinds if k not in _BANK_KINDS)

    def _prepare_fast_path(self):
        point = self.point_path_count
        if any(k not in _BANK_KINDS for k in self.paths.kind[point:]):  # sensing_paths puts them last
            raise AssertionError(f"path kinds {self.paths.kind}: the static interference must come after the point paths")
        lay = self.layout
        first = self.moving_path_count  # a moving scene's target paths go through _moving_echoes instead
        self._tx_beams = self._tx_rows(slice(first, point)).astype(np.complex64)  # (P1, N·Mt)
        self._rx_steer = np.ascontiguousarray(self.paths.rx_vectors[first:point].T.astype(np.complex64))  # (Mr, P1): column p = a_r(θ_arr,p)
        self._delay_line = delay_line.DelayLine(lay.subcarriers, lay.cyclic_prefix, self.scenario.bandwidth_hz,
                                                self.path_delays_samples[first:point], self.grid)
        self._bank = None
        if point < self.paths.count:
            rows = self._tx_rows(slice(point, None)) * self.paths.amplitude[point:, None]  # β_p folded in
            if self._rotated:  # and e^{−j2π ε_m d_p/fs}, the constant of each path's re-rotation
                rows = rows * self._path_delay_phase[point:, None]
            self._bank = delay_line.PathBank(lay.subcarriers, lay.cyclic_prefix, self.scenario.bandwidth_hz,
                                             self.path_delays_samples[point:], rows, self.paths.rx_vectors[point:].T,
                                             self.grid, stream_groups=[(m * self.scenario.tx_antennas,
                                                                        (m + 1) * self.scenario.tx_antennas)
                                                                       for m in range(self.scenario.num_nodes)])

    def _tx_rows(self, paths=None):
        """(P, N·Mt): row p = the path's tx vector (a_t^T(θ_dep,p) for a point path) on transmitter m_p's inputs,
        zero elsewhere (``paths``: a slice or index array of the paths, default all)."""
        mt, n = self.scenario.tx_antennas, self.scenario.num_nodes
        index = np.arange(self.paths.count)[slice(None) if paths is None else paths]
        rows = np.zeros((index.size, n, mt), dtype=np.complex128)
        rows[np.arange(index.size), self.paths.tx_node[index]] = self.paths.tx_vectors[index]
        return rows.reshape(index.size, n * mt)

    # ---- moving targets (issue 15, SPEC15 §0, docs/air-model.md §6) ------------------------------------------------
    def moving_target_paths(self, frames):
        """The target paths (rows m·K + k) of a moving scene in each of ``frames`` (F,): a dict of arrays
        "tx_vectors" (F, P, Mt) a_t(θ_m^k(t_f)), "rx_vectors" (F, P, Mr) a_r(θ_n^k(t_f)), "delays_samples" (F, P)
        τ_{n,m}^k(t_f)·B + D[n, m] + A, "amplitudes" (F, P) b_{n,m}^k·c_{n,m}^k(t_f)·present_k (core.model.moving_links:
        the carrier phase relative to t = 0; 0 for an absent target), "doppler_hz" (F, P) f_{D,n,m}^k(t_f). The
        oscillator phases are not in it (path coefficient = amplitude·e^{j(φ_m − φ_n)}). Truth of the air."""
        frames = np.asarray(frames, dtype=np.int64).reshape(-1)
        s, n = self.scenario, self.rx_node
        num, k, count = s.num_nodes, s.num_targets, len(frames)
        fs = s.bandwidth_hz
        links = model.moving_links(s, s.frame_time_s(frames))  # every field with a leading frame axis
        theta, tau = links.angles_rad, links.one_way_delays_s  # (F, N, K)
        link = self.impairments.link_delay_samples(fs)[n]  # D[n, m]
        b = s.target_amplitudes()[n]  # (N_tx, K)
        rx = geometry.ula_steering(theta[:, n], s.rx_antennas)  # (F, K, Mr)
        return {
            "tx_vectors": geometry.ula_steering(theta, s.tx_antennas).reshape(count, num * k, s.tx_antennas),
            "rx_vectors": np.broadcast_to(rx[:, None], (count, num, k, s.rx_antennas)).reshape(count, num * k, -1),
            "delays_samples": ((tau + tau[:, n, None, :]) * fs + link[None, :, None]
                               + self.air_latency_samples).reshape(count, -1),
            "amplitudes": (b[None] * links.carrier_phase[:, n] * links.present[:, None, :]).reshape(count, -1),
            "doppler_hz": links.doppler_hz[:, n].reshape(count, -1),
        }

    def _moving_coefficients(self, paths, frames):
        """amplitude·e^{j(φ_m − φ_n)} of the moving target paths per frame, (F, P)."""
        phases = self.oscillator_phases(frames)  # (F, N)
        tx = self.paths.tx_node[:self.moving_path_count]
        link = np.exp(1j * (phases[:, tx] - phases[:, self.rx_node:self.rx_node + 1]))
        return paths["amplitudes"] * link

    def _moving_reference(self, x_time, first_sample, frames, rotations, y):
        """apply_time's moving target paths (float64, added into y (Mr, count)): per frame f and path p, the frame's
        symbols alone (zero elsewhere) through the path's tx vector and coefficient at t_f, delayed by
        core.delay_line.delay_reference at d_{p,f} (its tail past the frame kept), times the Doppler
        e^{j2π f_D (j − j_f)/B} at every output sample j (j_f = f·frame_len, the frame's first sample), through a_r."""
        lay = self.layout
        sym_len, count = lay.symbol_len, x_time.shape[1]
        mt, fs = self.scenario.tx_antennas, self.scenario.bandwidth_hz
        unique = np.unique(frames)
        paths = self.moving_target_paths(unique)
        coef = self._moving_coefficients(paths, unique)
        tx_node = self.paths.tx_node[:self.moving_path_count]
        for i, f in enumerate(unique):
            symbols = np.flatnonzero(frames == f)
            a, b = symbols[0] * sym_len, (symbols[-1] + 1) * sym_len  # the frame's samples in this call
            for p in range(self.moving_path_count):
                d = paths["delays_samples"][i, p]
                m = tx_node[p]
                beam = coef[i, p] * (paths["tx_vectors"][i, p] @ x_time[m * mt:(m + 1) * mt, a:b])
                tail = int(math.ceil((d + 1) / sym_len))  # whole zero symbols after the frame hold its delayed tail
                stop = min(count, b + tail * sym_len)
                padded = np.zeros(b - a + tail * sym_len, dtype=complex)
                padded[:b - a] = beam
                delayed = delay_line.delay_reference(padded, d, lay.subcarriers, lay.cyclic_prefix, fs,
                                                     self.grid)[:stop - a]
                j = first_sample + np.arange(a, stop)
                delayed = delayed * np.exp(2j * np.pi * paths["doppler_hz"][i, p] * ((j - int(f) * lay.frame_len) / fs))
                if rotations is not None:
                    delayed = delayed * rotations[m, a:stop] * np.exp(-2j * np.pi * self.transmit_cfo_hz[m] * d / fs)
                y[:, a:stop] += np.outer(paths["rx_vectors"][i, p], delayed)

    def _moving_echoes(self, x_time, first_sample, frames):
        """write_time's moving target paths: (Mr, count) complex64 to add to the outputs, streaming (what falls past
        the call's end is kept and added at the next call's start). x_time (N·Mt, count) complex64 (de-rotated
        when the transmitters have a CFO), frames (S,) the frame of each input symbol (consecutive).

        Frame-aligned (every path's geometry, delay and coefficient are constant over a frame): the call's samples
        are laid into whole frames (zeros outside the call: they echo nothing), then per frame f and path p
        (d = D + μ at t_f):
        1. the beams a_t^T x, one batched matrix product per frame with its rows; each symbol's core spectrum times the
           coefficient and the fractional ramp e^{−j2π f_l μ/B}, one IFFT: c_{s,p};
        2. symbol s's S delayed samples are c_{s,p}[(t − CP) mod L] for t = [μ > 0] … S − 1 + [μ > 0], at output sample
           s·S + D + [μ > 0] (core.delay_line's equations: each symbol's polynomial on its own interval, delayed;
           for a constant d, summed over symbols, it is the DelayLine): a frame's symbols make one run of frame_len
           samples starting at f·frame_len + D + [μ > 0];
        3. the run times its frame's Doppler e^{j2π f_D (j − f·frame_len)/B} (and the transmitter's CFO re-rotation)
           at its output samples j;
        4. the runs of the paths m → k → n of one target k (one rx vector) summed into a window per frame (each run at
           its offset), mixed into the Mr antennas by the frame's a_r(θ_n^k) (one batched product), and the windows
           overlap-added at the frame stride."""
        lay = self.layout
        s_len, length, cp, frame_len = lay.symbol_len, lay.subcarriers, lay.cyclic_prefix, lay.frame_len
        streams, count = x_time.shape
        s = self.scenario
        fs, mr, num, k, mt = s.bandwidth_hz, s.rx_antennas, s.num_nodes, s.num_targets, s.tx_antennas
        npath = self.moving_path_count
        if count == 0:
            return np.zeros((mr, 0), dtype=np.complex64)
        f0 = int(frames[0])
        nframes = int(frames[-1]) - f0 + 1
        offset = first_sample - f0 * frame_len  # the call's first sample in its frame (a symbol start)
        paths = self.moving_target_paths(f0 + np.arange(nframes))
        tx_node = self.paths.tx_node[:npath]
        aligned = np.zeros((streams, nframes * frame_len), dtype=np.complex64)
        aligned[:, offset:offset + count] = x_time
        rows = np.zeros((nframes, npath, num, mt), dtype=np.complex64)
        rows[:, np.arange(npath), tx_node] = paths["tx_vectors"]
        beams = np.matmul(rows.reshape(nframes, npath, num * mt),
                          aligned.reshape(streams, nframes, frame_len).transpose(1, 0, 2))  # (F, P, frame_len)
        beams = beams.reshape(nframes, npath, lay.frame_symbols, s_len)
        spectra = scipy.fft.fft(beams[..., cp:], axis=-1, norm="ortho")  # (F, P, symbols, L)
        delays = paths["delays_samples"]  # (F, P)
        whole = np.floor(delays)
        fraction = delays - whole
        cycles = delay_line._frequency_per_sample(length, fs, self.grid)
        coef = self._moving_coefficients(paths, f0 + np.arange(nframes))  # (F, P)
        spectra *= (coef[..., None] * np.exp(-2j * np.pi * fraction[..., None] * cycles)).astype(np.complex64)[:, :, None]
        cores = scipy.fft.ifft(spectra, axis=-1, norm="ortho", overwrite_x=True)  # c_{s,p}[i] = x(CP + i − μ)
        late = (fraction > 0).astype(np.int64)
        t = np.arange(s_len)
        index = (t + late[..., None] - cp) % length  # (F, P, S)
        runs = np.take_along_axis(cores, index[:, :, None, :], axis=-1).reshape(nframes, npath, frame_len)
        start = whole.astype(np.int64) + late  # run (f, p) begins at output sample f·frame_len + start[f, p]
        doppler = paths["doppler_hz"] / fs  # cycles per sample
        if self._rotated or np.any(doppler):
            u = np.arange(frame_len)
            base, step = doppler * start, doppler  # the Doppler's time from the frame's first sample
            if self._rotated:
                eps = self.transmit_cfo_hz[tx_node] / fs
                first_out = (f0 + np.arange(nframes))[:, None] * frame_len + start
                base = base + np.mod(eps[None, :] * first_out, 1.0) - eps[None, :] * delays
                step = step + eps[None, :]
            # in cycles, float32 after the wrap (< 1 + 10⁻² cycles: 4·10⁻⁷ rad at worst, inside complex64's rounding)
            phase = (np.mod(base, 1.0)[..., None] + step[..., None] * u).astype(np.float32)
            phase *= np.float32(2 * np.pi)
            rotation = np.empty(phase.shape, dtype=np.complex64)
            np.cos(phase, out=rotation.real)
            np.sin(phase, out=rotation.imag)
            runs *= rotation
        low, high = int(start.min()), int(start.max())
        chunks = -(-(frame_len + high - low) // frame_len)
        # windows[f, k]: the runs of the paths m → k → n of frame f, each at its offset start − low (Σ over m: one rx
        # vector); the offsets take a few values per call (the delays move by ≪ 1 sample a frame): one masked add each
        windows = np.zeros((nframes, k, chunks * frame_len), dtype=np.complex64)
        for m in range(num):
            rows_m = slice(m * k, (m + 1) * k)
            shift_m, runs_m = start[:, rows_m] - low, runs[:, rows_m]
            for value in np.unique(shift_m):
                chosen = shift_m == value
                windows[:, :, value:value + frame_len][chosen] += runs_m[chosen]
        # output block b (frame_len samples from f0·frame_len + low + b·frame_len) holds chunk c of frame b − c's
        # window: z[c, k, b] = windows[b − c, k, chunk c], mixed with frame b − c's a_r(θ_n^k)
        blocks = nframes + chunks - 1
        z = np.zeros((blocks, chunks, k, frame_len), dtype=np.complex64)
        gains = np.zeros((blocks, mr, chunks, k), dtype=np.complex64)
        rx = np.swapaxes(paths["rx_vectors"][:, :k], 1, 2).astype(np.complex64)  # (F, Mr, K): a_r(θ_n^k(t_f))
        for c in range(chunks):
            z[c:c + nframes, c] = windows[:, :, c * frame_len:(c + 1) * frame_len]
            gains[c:c + nframes, :, c] = rx
        # block 0's first sample is the call's local sample `begin` (< 0: nothing of this call's echo is there)
        begin = low - offset
        span = blocks * frame_len
        carry = self._moving_carry
        front = max(0, -begin)
        total = front + max(count, carry.shape[1], begin + span)
        acc = np.zeros((mr, total), dtype=np.complex64)
        # one batched product per block, written straight into the (antenna, time) rows (a strided view)
        view = acc[:, front + begin:front + begin + span].reshape(mr, blocks, frame_len).transpose(1, 0, 2)
        np.matmul(gains.reshape(blocks, mr, chunks * k), z.reshape(blocks, chunks * k, frame_len), out=view)
        acc[:, front:front + carry.shape[1]] += carry
        acc = acc[:, front:]
        self._moving_carry = acc[:, count:].copy()
        return acc[:, :count]

    def apply_time(self, x_time, first_sample):
        """The reference, float64: x_time (N·Mt, S·(CP+L)) from input sample ``first_sample`` (a symbol start;
        nothing before it) → (Mr, S·(CP+L)), every path's beam scaled per symbol by its frame's coefficient
        and delayed by core.delay_line.delay_reference (the delayed trigonometric polynomial, sample by sample)."""
        lay = self.layout
        streams, count = x_time.shape
        symbols = count // lay.symbol_len
        frames = lay.frame_of_symbols(first_sample, symbols)
        coef = self.path_coefficients(frames)  # (S, P): each input symbol's frame
        rotations = None
        if self._rotated:  # the transmitters' CFO: de-rotate, delay, re-rotate by e^{j2π ε_m (j − d_p)/fs} per path
            rotations = self._transmit_rotations(first_sample, count)
            x_time = self._derotated(x_time, rotations, complex)
        beams = self._tx_rows() @ np.asarray(x_time, dtype=complex)  # (P, count)
        beams = (beams.reshape(-1, symbols, lay.symbol_len) * coef.T[:, :, None]).reshape(-1, count)
        a_r = self.paths.rx_vectors  # (P, Mr): a_r(θ_arr,p) for a point path
        y = np.zeros((self.scenario.rx_antennas, count), dtype=complex)
        if self.moving:  # the target paths frame by frame (docs/air-model.md §6); the static paths below
            self._moving_reference(np.asarray(x_time, dtype=complex), first_sample, frames, rotations, y)
        for p in range(self.moving_path_count, self.paths.count):
            delayed = delay_line.delay_reference(beams[p], self.path_delays_samples[p], lay.subcarriers,
                                                 lay.cyclic_prefix, self.scenario.bandwidth_hz, self.grid)
            if rotations is not None:
                delayed = delayed * rotations[self.paths.tx_node[p]] * self._path_delay_phase[p]
            y += np.outer(a_r[p], delayed)
        return y


@dataclasses.dataclass(frozen=True)
class SensingPaths:
    """The paths into one rx node (arrays of length P; see SensingChannel).

    A path is rank one: it leaves transmitter m_p through ``tx_vectors[p]`` (the row applied to node m_p's Mt
    inputs) and arrives through ``rx_vectors[p]`` (the column on the Mr outputs). For a point path (targets,
    direct paths, the reflector, clutter) they are the steering vectors a_t(θ_dep), a_r(θ_arr); a node's
    self-coupling C_n (Mr × Mt, no point path) is Mt paths "self_coupling", one per tx antenna i: tx vector e_i,
    rx vector C_n[:, i], angles NaN, amplitude 1 (the leakage's level is in C_n)."""

    kind: tuple  # "target" | "direct" | "reflector" | "clutter" | "self_coupling" per path
    tx_node: np.ndarray  # m_p
    departure_rad: np.ndarray  # θ at the transmitter's array (NaN for self-coupling)
    arrival_rad: np.ndarray  # θ at the receiver's array (NaN for self-coupling)
    delay_s: np.ndarray  # geometric delay τ_p (self-coupling: self_coupling_delay_samples / B)
    amplitude: np.ndarray  # complex β_p (without the oscillator phases)
    tx_vectors: np.ndarray = None  # (P, Mt) complex
    rx_vectors: np.ndarray = None  # (P, Mr) complex

    @property
    def count(self):
        return len(self.kind)


def direct_path_amplitude(scenario):
    """β_dp with P_T·β_dp²/σ² = direct_path_snr_db (per RE, per antenna): issue 13's level (used when the table has
    no direct_path_db; docs/air-model.md §5 gives the others: Impairments.direct_path_amplitudes per link)."""
    snr = 10 ** (scenario.impairments.direct_path_snr_db / 10)
    return float(np.sqrt(snr * scenario.noise_power / scenario.per_antenna_power))


def sensing_paths(scenario, rx_node):
    """The air's paths into rx node n, in this order: targets (m, k) row m·K + k (as eq. 3/5), then the direct
    paths from every m ≠ n (when impairments.direct_path, at Impairments.direct_path_amplitudes[n, m]), then the
    reflector from every m (when [calibration] has one), then the clutter scatterers c from every m (row
    m·C + c after the others: static point paths, amplitude β_c e^{jψ_c}), then node n's self-coupling (Mt paths,
    SensingPaths). Truth of the air (it reads the impairments and the targets): a receiver takes the geometry it
    may know from Scenario.node_angles_rad / direct_path_delays_s / reflector_angles_rad / reflector_delays_s."""
    n = int(rx_node)
    num = scenario.num_nodes
    imp = scenario.impairments
    theta = scenario.target_angles_rad()  # (N, K)
    k = scenario.num_targets
    tx = [np.repeat(np.arange(num), k)]
    dep = [theta.reshape(-1)]
    arr = [np.tile(theta[n], num)]
    delay = [scenario.bistatic_delays_s()[n].reshape(-1)]
    amp = [scenario.target_amplitudes()[n].reshape(-1).astype(complex)]
    kind = ["target"] * (num * k)
    if imp.direct_path and num > 1:
        others = np.array([m for m in range(num) if m != n])
        node_angles = scenario.node_angles_rad()  # [a, b]: node b seen from node a
        tx.append(others)
        dep.append(node_angles[others, n])  # from m toward p_n
        arr.append(node_angles[n, others])  # at n from p_m
        delay.append(scenario.direct_path_delays_s()[n, others])
        amp.append(imp.direct_path_amplitudes[n, others].astype(complex))
        kind += ["direct"] * others.size
    if scenario.reflector_m is not None:
        ref = scenario.reflector_angles_rad()  # (N,)
        tx.append(np.arange(num))
        dep.append(ref)
        arr.append(np.full(num, ref[n]))
        delay.append(scenario.reflector_delays_s()[n])
        amp.append(np.full(num, scenario.reflector_amplitude, dtype=complex))
        kind += ["reflector"] * num
    if imp.clutter_scatterers:
        clutter = imp.clutter_positions_m  # (C, 2)
        c = clutter.shape[0]
        angles = geometry.angles_rad(scenario.node_positions_m, clutter)  # (N, C): scatterer c seen from node m
        one_way = geometry.one_way_delays_s(scenario.node_positions_m, clutter)  # (N, C)
        tx.append(np.repeat(np.arange(num), c))
        dep.append(angles.reshape(-1))
        arr.append(np.tile(angles[n], num))
        delay.append((one_way + one_way[n][None, :]).reshape(-1))
        amp.append(np.tile(imp.clutter_amplitudes, num))
        kind += ["clutter"] * (num * c)
    tx_vectors = [geometry.ula_steering(np.concatenate(dep), scenario.tx_antennas)]
    rx_vectors = [geometry.ula_steering(np.concatenate(arr), scenario.rx_antennas)]
    if imp.self_coupling is not None:
        mt = scenario.tx_antennas
        tx.append(np.full(mt, n))
        dep.append(np.full(mt, np.nan))
        arr.append(np.full(mt, np.nan))
        delay.append(np.full(mt, imp.self_coupling_delay_samples / scenario.bandwidth_hz))
        amp.append(np.ones(mt, dtype=complex))
        tx_vectors.append(np.eye(mt, dtype=complex))
        rx_vectors.append(imp.self_coupling[n].T)  # row i = C_n[:, i]
        kind += ["self_coupling"] * mt
    arrays = [np.concatenate(a) for a in (tx, dep, arr, delay, amp, tx_vectors, rx_vectors)]
    for a in arrays:
        a.setflags(write=False)
    return SensingPaths(tuple(kind), *arrays)


def sensing_air_latency_samples(scenario):
    """A: the constant latency (integer samples ≥ 0) every sensing channel of the scenario adds so that every
    link's delay is ≥ 0 (core.delay_line.air_latency_samples of all link delays D; geometric delays are ≥ 0).
    The same for every rx node; 0 unless some clock offset makes a D negative."""
    return delay_line.air_latency_samples(scenario.impairments.link_delay_samples(scenario.bandwidth_hz))


class CommChannel:
    """Every node's transmit streams to each user's antenna: y_u = Σ_n e^{jφ_n} h_{n,u}ᴴ x_n (eq. 2), each node
    seen at its own delay (docs/air-model.md §2 "Users").

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
        user u (docs/air-model.md §2), in samples at the sample rate B (the air's truth: never read by a receiver)."""
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
        """φ_n of every node in each frame, (F, N): the sensing channel's phases (same channel_seed and
        oscillator model, ``oscillator_phases_rad``)."""
        return oscillator_phases_rad(self.channel_seed, frames, self.scenario.impairments, self.layout.frame_len,
                                     self.scenario.bandwidth_hz)

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
            for user, out in enumerate(outputs):  # Σ_n (N small: plain adds, cheaper than a reduction)
                y = out[:count]
                y[:] = z[0, user]
                for m in range(1, n):
                    y += z[m, user]
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
