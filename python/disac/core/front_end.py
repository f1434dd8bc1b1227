# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""The receive front end of a synthetic radio (docs/receiver-front-end.md; SPEC14 §2): pure numpy.

The order (contract): field + thermal noise → rx gains → CFO → **RF self-interference canceller** (optional)
→ **AGC gain g** → **ADC** (clip at ±adc_full_scale per I/Q component, uniform quantisation to adc_bits)
→ **÷ g** (the node knows its own gain, as UHD reports it) → rx_time framing.

* ``adc_convert``: the ADC of one node (every antenna, I and Q each): a mid-rise uniform quantiser of
  2^b levels over [−A, A] (step Δ = 2A/2^b), inputs beyond ±A clipped to the outermost level. Its noise
  for a signal of RMS σ per component that does not clip is Δ²/12 per component, so

      SQNR = σ²/(Δ²/12) = 6.02·b + 4.77 − backoff_dB,   backoff_dB = 20·log10(A/σ)          (``sqnr_theory_db``)

  (the textbook 6.02·b + 1.76 is the same formula for a full-scale sine, whose backoff is 3.01 dB).
* ``ReceiveFrontEnd``: the AGC and the ADC of one node, streaming by sample labels (frames f cover labels
  [f·frame_len, (f + 1)·frame_len)). The AGC sets ONE gain for all antennas of the node, changes it only
  at frame boundaries, from its own ADC output of the frame just ended (RMS per component and the count
  of clipped components), never from the truth: target RMS = A·10^(−backoff/20).
* ``SelfInterferenceCanceller``: an RF (analogue) canceller ahead of the ADC, fed with the node's own
  transmit samples: it injects −Ĉ·x(t − τ̂) (a tunable true-time delay and an Mr × Mt matrix of complex
  tap weights, the vector modulators of a multi-tap RF canceller) and tunes τ̂ and Ĉ from the ADC output
  (÷ g) and its own transmit samples only — it never sees the channel's C_n (it is built without a
  scenario). Its depth is finite: the tap weights are set on a grid (the vector modulators' resolution)
  whose step makes the expected residual 10^(−depth_db/10) of the leakage (``rf_canceller_db``).

The pure functions and classes here take numbers and samples only (no Scenario), so the receive side's
rule (docs/air-model.md §0) holds by construction: the canceller cannot read the air's truth.
"""

import math

import numpy as np
import scipy.fft
import scipy.optimize
import scipy.special

from . import ofdm, synthetic_radio

# ---- ADC ---------------------------------------------------------------------------------------------
ADC_BITS_MIN, ADC_BITS_MAX = 4, 24
# The AGC's target, RMS per I/Q component this far below full scale. Decided by measurement
# (bench/front_end_floor.py --backoff, docs/receiver-front-end.md): when one strong signal dominates a node's
# input (its own leakage, a direct path) the frames are far from Gaussian: the transmitter's preamble and pilot
# symbols are the same on every antenna (W_c times the users' pilots), so a coupling matrix adds them
# coherently into impulse-like peaks up to ~19 dB above the frame's RMS per component. Clipping them costs
# 12 bits 4–25 dB of SQNDR (53 dB at 18 dB backoff, 57 dB at 20 dB, 65 dB would be the unclipped 12 dB); the
# optimum is 19–20 dB for 12–16 bits (16–18 dB for 8–10). 20 dB keeps a 1 dB margin over the peaks (and the
# AGC's ±1 dB hysteresis). On Gaussian input (thermal noise alone) the optimum would be ~12 dB, but there the
# ADC's floor is far below σ² anyway (−57 dB at 12 bits).
DEFAULT_AGC_BACKOFF_DB = 20.0
AGC_CLIP_STEP_DB = 3.0  # the step down after a frame with a few clipped components (share ≤ AGC_CLIP_SHARE)
AGC_MAX_STEP_DB = 40.0  # the most the AGC changes its gain between two frames (each way)
AGC_HYSTERESIS_DB = 1.0  # a wanted change smaller than this is not made (no gain chatter on RMS jitter)
# above this share of clipped components the frame's RMS underestimates the level: the level is taken from
# the clip share instead (a Gaussian component clips with probability 2·Q(A/σ)); at or above AGC_SATURATED
# the level is unknown and the AGC steps down by AGC_MAX_STEP_DB
AGC_CLIP_SHARE = 1e-3
AGC_SATURATED = 0.5
AGC_MIN_GAIN_DB, AGC_MAX_GAIN_DB = -300.0, 300.0  # a gain register's range (keeps the arithmetic finite)

# ---- RF canceller ------------------------------------------------------------------------------------
# Default depth of the RF canceller (the precision limit of its tap weights), dB of leakage removed. The
# literature's analogue cancellers reach 40–60 dB (Bharadia, Mcmilin, Katti, "Full duplex radios", SIGCOMM 2013:
# ~60 dB analogue over 80 MHz; the surveys of Kolodziej et al. 2019 and Sabharwal et al. 2014: 30–60 dB, more
# over narrower bands). 60 dB, the upper end, is what this system needs at 10 MHz (bench/front_end_floor.py):
# on the paper geometry the leakage of 40 dB isolation sits ~+100 dB above the thermal noise σ²; a 12-bit ADC at
# the default backoff has an SQNR of ~57 dB; the residual after 60 dB of cancellation (~+40 dB) puts the ADC's
# floor ~16 dB below σ² (measured −15.6 dB: 0.12 dB noise rise). 50 dB would leave it ~7 dB below σ² (0.8 dB rise: most of the
# issue's 1.15 × RMSE budget spent in the ADC alone), 40 dB ~4 dB above σ² (docs/receiver-front-end.md §2).
DEFAULT_RF_CANCELLER_DB = 60.0
RF_CANCELLER_DB_MAX = 120.0
# the canceller's tunable delay range (samples): the leakage's delay on the node's labels (its TX→RX latency
# plus the coupling's own delay) must be inside it (a B210's 46–165 samples at 10 MHz with ample room)
CANCELLER_MAX_DELAY_SAMPLES = 1024
# it engages only when the own-TX-correlated power exceeds everything else in the frame by this much: below
# that there is no leakage worth an RF canceller, and what correlates with the node's own transmission is
# its monostatic echoes, which must not be cancelled
CANCELLER_DETECT_DB = 30.0
CANCELLER_DELAY_REFINEMENTS = 3  # updates that re-estimate τ̂ (then it is frozen and Ĉ is averaged)
CANCELLER_TUNE_UPDATES = 5  # updates it keeps tuning once settled (its average still improving), then holds
CANCELLER_IDLE_CHECKS = 2  # usable frames without a leakage after which an idle canceller counts as settled
CANCELLER_SETTLED_MARGIN_DB = 3.0  # settled: measured cancellation within this of the depth
# a frame is used for an estimate when at most this share of its samples clipped (the leakage's OFDM peaks
# clip now and then even at the AGC's target; a few clipped samples bias the first estimate by ≲ −40 dB, which
# the next updates, made on the small residual, remove)
CANCELLER_MAX_CLIPPED_SHARE = 0.01
# nor when the ADC's input sat this far below the AGC's target (the AGC still set for a stronger signal, e.g. the
# frame after the canceller engaged): a signal of a few LSBs is not measured linearly (its quantisation error
# is a function of it, not noise), and a delay fitted to it is biased
CANCELLER_MIN_LEVEL_DB = -15.0


def check_adc_bits(value, key="adc_bits"):
    """0 (no ADC model) or an int ADC_BITS_MIN … ADC_BITS_MAX; ValueError naming the value otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer, float)) or int(value) != value or not (
            value == 0 or ADC_BITS_MIN <= value <= ADC_BITS_MAX):
        raise ValueError(f"{key} = {value!r}: accepted: 0 (no ADC model) or a whole number of bits "
                         f"{ADC_BITS_MIN} … {ADC_BITS_MAX}")
    return int(value)


def check_positive(value, key):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not (
            math.isfinite(value) and value > 0):
        raise ValueError(f"{key} = {value!r}: accepted: a finite number > 0")
    return float(value)


def check_backoff_db(value, key="agc_backoff_db"):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not (
            math.isfinite(value) and 0 <= value <= 100):
        raise ValueError(f"{key} = {value!r}: accepted: a number of dB from 0 to 100")
    return float(value)


def check_rf_canceller_db(value, key="impairments.rf_canceller_db"):
    """The RF canceller's depth: 0 (no canceller) or a number of dB in (0, RF_CANCELLER_DB_MAX]. The validation
    of the [impairments] key ``rf_canceller_db`` (ValueError naming key, value, what is accepted)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not (
            math.isfinite(value) and 0 <= value <= RF_CANCELLER_DB_MAX):
        raise ValueError(f"{key} = {value!r}: accepted: 0 (no RF canceller) or its depth in dB, up to "
                         f"{RF_CANCELLER_DB_MAX:g} (analogue cancellers reach 40–60)")
    return float(value)


def sqnr_theory_db(bits, backoff_db):
    """SQNR of the uniform quantiser (no clipping) for RMS per component backoff_db below full scale:
    6.02·b + 4.77 − backoff_dB (module docstring; 10·log10(3·4^b) − backoff exactly)."""
    return 10 * math.log10(3.0) + 20 * math.log10(2.0) * bits - backoff_db


def adc_convert(x, bits, full_scale):
    """The ADC: x (..., complex) → (y complex64 of x's shape, clipped bool of x's shape: the samples with a
    clipped I or Q component). bits = 0: no ADC (y = x as complex64, nothing clipped)."""
    y, clipped, _ = _adc(x, bits, full_scale)
    return y, clipped


def _adc(x, bits, full_scale):
    """adc_convert and the number of clipped components (I and Q counted apart)."""
    x = np.asarray(x)
    if bits == 0:
        return x.astype(np.complex64), np.zeros(x.shape, bool), 0
    step = 2.0 * full_scale / (1 << int(bits))
    top = (1 << (int(bits) - 1)) - 1  # the highest level index: levels (k + 1/2)·Δ, k = −2^(b−1) … 2^(b−1) − 1
    parts = np.stack([x.real, x.imag]).astype(np.float64)
    over = np.abs(parts) > full_scale
    k = np.clip(np.floor(parts / step), -top - 1, top)
    q = (k + 0.5) * step
    return (q[0] + 1j * q[1]).astype(np.complex64), over[0] | over[1], int(np.count_nonzero(over))


# ---- AGC + ADC ---------------------------------------------------------------------------------------
class ReceiveFrontEnd:
    """The AGC and ADC of one node (module docstring), streaming by labels.

    ``process(v, first_label)``: v (Mr, count) the node's samples ahead of the AGC (after rx gains, CFO and
    the canceller) for the labels first_label … first_label + count − 1 (each call continuing the last) →
    (Mr, count) complex64, the ADC output ÷ g. With adc_bits = 0 it returns v unchanged (the ideal air: no ADC
    model, bit for bit). Everything is a function of labels and of the samples of whole earlier frames, so
    any cut of the stream into calls gives the same output.

    Status (counters, from its own output): adc_clipped (samples, per antenna, with a clipped component),
    frames_clipped, gain_db (the gain of the current frame), gain_changes, frames, agc_settled (the last
    frame asked for no change and did not clip), first_settled_frame (None until then).
    """

    def __init__(self, rx_antennas, frame_len, adc_bits, adc_full_scale=1.0, agc=True,
                 agc_backoff_db=DEFAULT_AGC_BACKOFF_DB, initial_gain_db=0.0):
        self.rx_antennas = int(rx_antennas)
        self.frame_len = int(frame_len)
        if self.frame_len < 1 or self.rx_antennas < 1:
            raise ValueError(f"rx_antennas = {rx_antennas!r}, frame_len = {frame_len!r}: accepted: whole numbers ≥ 1")
        self.adc_bits = check_adc_bits(adc_bits)
        self.full_scale = check_positive(adc_full_scale, "adc_full_scale")
        self.agc = bool(agc)
        self.backoff_db = check_backoff_db(agc_backoff_db)
        self.gain_db = float(initial_gain_db)
        self.target_rms = self.full_scale * 10 ** (-self.backoff_db / 20)
        self.adc_clipped = 0
        self.frames_clipped = 0
        self.gain_changes = 0
        self.frames = 0
        self.agc_settled = False
        self.first_settled_frame = None
        self.last_clipped = np.zeros((self.rx_antennas, 0), bool)
        self._written = 0
        self._frame = None  # the frame being accumulated
        self._sum_sq = 0.0  # Σ component² in ADC units over the frame
        self._components = 0
        self._clipped_components = 0
        self._clipped_frame = False

    @property
    def ideal(self):
        return self.adc_bits == 0

    @property
    def gain(self):
        return 10 ** (self.gain_db / 20)

    def process(self, v, first_label):
        v = np.asarray(v)
        if self.ideal:
            return v
        count = v.shape[1]
        out = np.empty(v.shape, np.complex64)
        self.last_clipped = np.zeros(v.shape, bool)  # the samples of this call with a clipped component
        self._written = 0
        start = 0
        label = int(first_label)
        while start < count:
            frame = label // self.frame_len
            if self._frame is None:
                self._frame = frame
            elif frame != self._frame:
                self._end_frame()
                self._frame = frame
            stop = min(count, start + (frame + 1) * self.frame_len - label)
            out[:, start:stop] = self._convert(v[:, start:stop])
            label += stop - start
            start = stop
        return out

    def _convert(self, v):
        g = self.gain
        y, clipped, clipped_components = _adc(v * g, self.adc_bits, self.full_scale)
        parts = y.view(np.float32)
        self._sum_sq += float(np.sum(parts.astype(np.float64) ** 2))
        self._components += parts.size
        clipped_count = int(np.count_nonzero(clipped))
        self.adc_clipped += clipped_count
        self._clipped_components += clipped_components
        self._clipped_frame |= clipped_count > 0
        self.last_clipped[:, self._written:self._written + v.shape[1]] = clipped
        self._written += v.shape[1]
        return (y / np.float32(g)) if g != 1 else y

    def _end_frame(self):
        """The frame just ended: count it, and (AGC) set the next frame's gain from its ADC output."""
        self.frames += 1
        if self._clipped_frame:
            self.frames_clipped += 1
        step = self.wanted_step_db(self._sum_sq, self._components, self._clipped_components) if self.agc else 0.0
        if step:
            self.gain_db = float(np.clip(self.gain_db + step, AGC_MIN_GAIN_DB, AGC_MAX_GAIN_DB))
            self.gain_changes += 1
        self.agc_settled = (not step) and not self._clipped_frame
        if self.agc_settled and self.first_settled_frame is None:
            self.first_settled_frame = self._frame + 1  # the first frame converted at the settled gain
        self._sum_sq, self._components, self._clipped_components, self._clipped_frame = 0.0, 0, 0, False

    def wanted_step_db(self, sum_sq, components, clipped_components):
        """The AGC's decision from one frame of its ADC output: the gain step (dB) that brings the RMS per
        component to the target (module constants: saturation, clip-share level estimate, a step down after a
        few clipped components, hysteresis)."""
        if components == 0:
            return 0.0
        share = clipped_components / components
        if share >= AGC_SATURATED:
            step = -AGC_MAX_STEP_DB
        elif share > AGC_CLIP_SHARE:
            # Gaussian component: P(|v| > A) = 2·Q(A/σ) → σ = A / Q⁻¹(share/2)
            sigma = self.full_scale / -scipy.special.ndtri(share / 2)
            step = 20 * math.log10(self.target_rms / sigma)
        else:
            rms = math.sqrt(sum_sq / components)
            step = AGC_MAX_STEP_DB if rms <= 0 else 20 * math.log10(self.target_rms / rms)
            if clipped_components:
                step = min(step, -AGC_CLIP_STEP_DB)  # a few peaks clipped: down until they do not
        step = float(np.clip(step, -AGC_MAX_STEP_DB, AGC_MAX_STEP_DB))
        return 0.0 if abs(step) < AGC_HYSTERESIS_DB else step

    def status(self):
        return {"adc_bits": self.adc_bits, "adc_clipped": self.adc_clipped, "frames_clipped": self.frames_clipped,
                "agc": self.agc, "agc_gain_db": self.gain_db, "agc_gain_changes": self.gain_changes,
                "agc_settled": self.agc_settled, "agc_first_settled_frame": self.first_settled_frame}


# ---- RF self-interference canceller ------------------------------------------------------------------
class DelayedReference:
    """The node's own transmit samples (labels 0, 1, …, whole OFDM symbols) and their true band-limited delay by
    any τ ≥ 0 (core.delay_line's operator: each symbol the trigonometric polynomial of its core; the previous
    symbol's where the delayed time falls before a symbol's start), for any label range already covered.

    ``push(x)`` appends transmit samples (Mt, count) (any count; whole symbols are kept as spectra);
    ``delayed(first_label, count, tau)`` → (Mt, count) complex128: x(t − τ) for t = first_label …; zero before
    the stream's start and after ``end_symbols`` (a finite transmission's silent tail). ``forget_before(label)``
    drops the symbols no later label can need with delays ≤ max_delay."""

    def __init__(self, tx_antennas, subcarriers, cyclic_prefix, bandwidth_hz, grid, max_delay_samples,
                 end_symbols=None, cfo_hz=0.0):
        self.tx_antennas, self.subcarriers, self.cyclic_prefix = int(tx_antennas), int(subcarriers), int(cyclic_prefix)
        # the carrier rotation e^{j2π ρ·label/fs} the pushed samples carry (a transmitter's own CFO pre-compensation,
        # ρ = −ε̂): de-rotated on push, the delay taken on OFDM symbols, re-rotated by e^{j2π ρ (t − τ)/fs}, so the
        # delay is exact for it (core.channels.SensingChannel does the same on the air); 0: nothing runs
        self.cfo_hz = float(cfo_hz)
        self.bandwidth_hz = float(bandwidth_hz)
        self._pushed = 0  # labels pushed so far (the next pushed sample's label)
        self.symbol_len = self.subcarriers + self.cyclic_prefix
        self.cycles = ofdm.bin_frequencies_hz(self.subcarriers, bandwidth_hz, grid) / float(bandwidth_hz)
        self.max_delay = float(max_delay_samples)
        self.end_symbols = end_symbols
        self._spectra = np.zeros((self.tx_antennas, 0, self.subcarriers), np.complex128)
        self._first_symbol = 0  # symbol index of _spectra[:, 0]
        self._partial = np.zeros((self.tx_antennas, 0), np.complex128)
        self._cores = None  # (μ, cores) cache

    @property
    def samples(self):
        """Labels covered so far (pushed whole symbols)."""
        return (self._first_symbol + self._spectra.shape[1]) * self.symbol_len

    def covers(self, end_label):
        """True when every label < end_label can be delayed (its symbol is in; or past the transmission's end)."""
        if self.end_symbols is not None and self.samples >= self.end_symbols * self.symbol_len:
            return True
        return end_label <= self.samples

    def push(self, x):
        x = np.asarray(x, np.complex128)
        if self.cfo_hz:
            x = x * synthetic_radio.cfo_phasor(self.cfo_hz, self._pushed, x.shape[1], self.bandwidth_hz, -1)[None]
        self._pushed += x.shape[1]
        x = np.concatenate([self._partial, x], axis=1)
        whole = x.shape[1] // self.symbol_len
        if self.end_symbols is not None:
            whole = min(whole, max(self.end_symbols - (self._first_symbol + self._spectra.shape[1]), 0))
        if whole:
            cores = x[:, :whole * self.symbol_len].reshape(self.tx_antennas, whole, self.symbol_len)[..., self.cyclic_prefix:]
            spectra = scipy.fft.fft(cores, axis=-1, norm="ortho")
            self._spectra = np.concatenate([self._spectra, spectra], axis=1)
            if self._cores is not None:  # extend the delayed cores of the current fraction (no recomputation)
                mu = self._cores[0]
                self._cores = (mu, np.concatenate([self._cores[1], self._delayed_cores(spectra, mu)], axis=1))
        self._partial = x[:, whole * self.symbol_len:] if self.end_symbols is None or whole else x[:, :0]
        if self.end_symbols is not None and self.samples >= self.end_symbols * self.symbol_len:
            self._partial = self._partial[:, :0]

    def forget_before(self, label):
        keep_from = int(math.floor((label - self.max_delay - 1) / self.symbol_len)) - 1
        drop = min(max(keep_from - self._first_symbol, 0), self._spectra.shape[1])
        if drop:
            self._spectra = self._spectra[:, drop:]
            self._first_symbol += drop
            if self._cores is not None:
                self._cores = (self._cores[0], self._cores[1][:, drop:])

    def delayed(self, first_label, count, tau):
        tau = float(tau)
        whole = math.floor(tau)
        mu = tau - whole
        if self._cores is None or self._cores[0] != mu:
            self._cores = (mu, self._delayed_cores(self._spectra, mu))
        cores = self._cores[1]
        t = np.arange(int(first_label), int(first_label) + int(count), dtype=np.int64) - whole  # t − D
        # the delayed time t − D − μ lies in symbol s = ⌊(t − D − μ)/S⌋; at local integer k = t − D − s·S − CP
        s = np.floor((t - mu) / self.symbol_len).astype(np.int64)
        k = (t - s * self.symbol_len - self.cyclic_prefix) % self.subcarriers
        index = s - self._first_symbol
        have = (index >= 0) & (index < cores.shape[1])
        missing = s >= self._first_symbol + cores.shape[1]
        if self.end_symbols is not None:
            missing &= s < self.end_symbols  # after the transmission's end: silence, zeros
        if np.any(missing):
            raise ValueError(f"labels up to {first_label + count - 1} delayed by {tau:g}: the transmit samples "
                             f"reach label {self.samples - 1} only")
        if np.any((s >= 0) & (s < self._first_symbol)):
            raise ValueError(f"labels from {first_label} delayed by {tau:g}: symbols before {self._first_symbol} "
                             "were forgotten")
        out = np.zeros((self.tx_antennas, int(count)), np.complex128)
        out[:, have] = cores[:, index[have], k[have]]
        if self.cfo_hz:  # e^{j2π ρ (t − τ)/fs}: the rotation at the delayed time (cycles reduced mod 1)
            cycles = (np.arange(int(first_label), int(first_label) + int(count)) - tau) * (self.cfo_hz / self.bandwidth_hz)
            out *= np.exp(2j * np.pi * (cycles - np.floor(cycles)))[None]
        return out

    def _delayed_cores(self, spectra, mu):
        """c_s[i] = x_s(CP + i − μ) of these symbols' spectra (core.delay_line's fractional step)."""
        return scipy.fft.ifft(spectra * np.exp(-2j * np.pi * mu * self.cycles), axis=-1, norm="ortho")

    def raw(self, first_label, count):
        """The transmit samples themselves (integer delay 0) for labels first_label … (zeros outside)."""
        return self.delayed(first_label, count, 0.0)


class SelfInterferenceCanceller:
    """An RF self-interference canceller of one node (module docstring), adapted from samples only.

    Parameters: tx_antennas Mt, rx_antennas Mr, subcarriers L, cyclic_prefix, frame_len, bandwidth_hz, grid
    (the OFDM layout: the node's own transmit samples are OFDM symbols), depth_db (the precision limit: its
    tap weights' grid), max_delay_samples (its delay range), end_symbols (a finite transmission's length in
    symbols, None: endless). No scenario: it sees only the samples it is given.

    Use per call, in label order: ``push_tx(x)`` (the node's own transmit samples as they come),
    ``injection(first_label, count)`` (what it subtracts ahead of the AGC: Ĉ·x(t − τ̂), zero until engaged),
    then ``observe(y, first_label)`` with the ADC output ÷ g of the same labels: at every frame end it updates
    its estimate (between frames only, like the AGC) from that frame.

    The estimate. It knows what it injected, so the leakage ahead of it is y + injection (to the ADC's noise):
    the first usable frame (not clipped) gives τ̂ (the integer lag maximising the own-TX-correlated power, then
    the fraction maximising the least-squares fit) and, if the leakage exceeds everything else by
    CANCELLER_DETECT_DB, it engages. Ĉ is then the least-squares fit Σ Y U^H (Σ U U^H)⁻¹ over the frames since τ̂
    last changed (τ̂ re-estimated at the first CANCELLER_DELAY_REFINEMENTS updates, then frozen); settled for
    CANCELLER_TUNE_UPDATES updates it holds its weights (what it leaves is then one fixed matrix of the node's transmit samples) and retunes only if
    its measured cancellation falls below depth − CANCELLER_SETTLED_MARGIN_DB (``retunes`` counts it); the weights
    applied are Ĉ rounded to the grid of step δ = sqrt(6·10^(−depth/10)·mean|Ĉ₀|²) per component (set at
    engagement from the first estimate Ĉ₀: auto-ranging; a uniform error of ±δ/2 per component has mean
    power δ²/6 = 10^(−depth/10)·mean|C|²: the residual is the depth, not better).

    Status: engaged, settled (measured cancellation ≥ depth − CANCELLER_SETTLED_MARGIN_DB; or idle after
    CANCELLER_IDLE_CHECKS usable frames without a leakage), cancellation_db
    (measured: the leakage's power over the power of what is left of it, tr(Ĉ G Ĉ^H) over tr(E G E^H) + Ĉ's
    expected error, E = Ĉ − applied, G = Σ U U^H: from its own estimate),
    delay_samples (τ̂), updates, frames, frames_unsettled (frames that reached the ADC before it settled),
    first_settled_frame.
    """

    def __init__(self, tx_antennas, rx_antennas, subcarriers, cyclic_prefix, frame_len, bandwidth_hz,
                 grid=ofdm.DEFAULT_FREQUENCY_GRID, depth_db=DEFAULT_RF_CANCELLER_DB,
                 max_delay_samples=CANCELLER_MAX_DELAY_SAMPLES, end_symbols=None, reference_cfo_hz=0.0):
        self.depth_db = check_rf_canceller_db(depth_db, "depth_db")
        if self.depth_db <= 0:
            raise ValueError(f"depth_db = {depth_db!r}: accepted: a depth > 0 (0 means no canceller: do not build one)")
        self.tx_antennas, self.rx_antennas = int(tx_antennas), int(rx_antennas)
        self.frame_len = int(frame_len)
        self.reference = DelayedReference(tx_antennas, subcarriers, cyclic_prefix, bandwidth_hz, grid,
                                          max_delay_samples, end_symbols, cfo_hz=reference_cfo_hz)
        self.max_delay = int(max_delay_samples)
        self.engaged = False
        self.settled = False
        self.delay_samples = None
        self.weights = np.zeros((self.rx_antennas, self.tx_antennas), np.complex128)  # applied (on the grid)
        self.estimate = None  # Ĉ, the least-squares estimate of the whole leakage
        self.grid_step = None
        self.cancellation_db = 0.0
        self.leakage_to_rest_db = None  # at the last detection: own-TX power over the rest
        self.updates = 0
        self.frames = 0
        self.frames_unsettled = 0
        self.first_settled_frame = None
        self._refinements = 0
        self._idle_checks = 0
        self._tuned = False  # settled for CANCELLER_TUNE_UPDATES updates: from then on the weights are held
        self._settled_updates = 0
        self.retunes = 0  # weight changes after it first settled (a drift made it retune)
        self._frame = None
        self._frame_start = None
        self._frame_y = []  # the current frame's leakage-ahead samples (Mr, ·) pieces
        self._frame_clipped = 0
        self._frame_weight = 1.0
        self._frame_level = 0.0
        self.min_adc_power = None  # the ADC input's least mean power per sample for an estimate (None: any)
        self._energy = 0.0  # Σ w·‖Y‖² since τ̂ froze (for the estimate's own error)
        self._count = 0  # samples per antenna in the average
        self.estimate_error_db = None  # the estimate's expected error ‖Ĉ − C‖² over ‖Ĉ‖², dB (from the fit)
        self._gram = np.zeros((self.tx_antennas, self.tx_antennas), np.complex128)  # Σ U U^H since τ̂ froze
        self._cross = np.zeros((self.rx_antennas, self.tx_antennas), np.complex128)  # Σ Y U^H

    # -- streaming --
    def push_tx(self, x):
        self.reference.push(x)

    def covers(self, end_label):
        """True when the transmit samples needed for labels < end_label are in (incl. the coarse search's span)."""
        return self.reference.covers(end_label)

    def advance_to(self, label):
        """Labels from ``label`` on are next: a frame that ended before it is closed (its update made) now, so
        the next frame's injection uses it whatever the cut of the stream."""
        frame = int(label) // self.frame_len
        if self._frame is not None and frame != self._frame:
            self._end_frame()
            self._begin(frame, int(label))

    def injection(self, first_label, count):
        """What it subtracts ahead of the AGC for these labels, (Mr, count) complex128 (None until engaged). Call
        ``advance_to(first_label)`` first (NodeFrontEnd does), so that a frame just ended has been used."""
        if not self.engaged:
            return None
        return self.weights @ self.reference.delayed(first_label, count, self.delay_samples)

    def observe(self, y, first_label, injected=None, clipped=None, weight=1.0, adc_input=None):
        """The ADC output ÷ g for these labels (y (Mr, count)), the injection that was subtracted ahead of it (or
        None), which samples clipped (bool (Mr, count) or None) and the weight of these samples in the estimate
        (the ADC's noise ÷ g is ∝ 1/g²: the node's front end gives g², so the frames converted at a low gain, with
        the whole leakage ahead of the ADC, count little once the residual is converted finely): accumulates; at
        each frame end, updates (between frames only). A frame with more than CANCELLER_MAX_CLIPPED_SHARE of its
        samples clipped is not used (clipping is not linear), nor one whose ADC input (``adc_input``: these
        samples ahead of the ADC, in its units, or None) had a mean power per sample below ``min_adc_power`` (set by
        the node's front end: not a linear measurement) — decided on the whole frame, so that any cut of the
        stream into calls gives the same decision."""
        count = y.shape[1]
        start, label = 0, int(first_label)
        total = np.asarray(y, np.complex128) if injected is None else np.asarray(y, np.complex128) + injected
        while start < count:
            frame = label // self.frame_len
            if self._frame is None:
                self._begin(frame, label)
            elif frame != self._frame:
                self._end_frame()
                self._begin(frame, label)
            stop = min(count, start + (frame + 1) * self.frame_len - label)
            self._frame_y.append(total[:, start:stop])
            self._frame_weight = min(self._frame_weight, float(weight))
            if adc_input is not None:
                part = adc_input[:, start:stop]
                self._frame_level += float(np.sum(part.real.astype(np.float64) ** 2 + part.imag.astype(np.float64) ** 2))
            if clipped is not None:
                self._frame_clipped += int(np.count_nonzero(clipped[start:stop]))
            label += stop - start
            start = stop

    def _begin(self, frame, label):
        self._frame, self._frame_start, self._frame_y, self._frame_clipped = frame, label, [], 0
        self._frame_weight = math.inf
        self._frame_level = 0.0

    def _end_frame(self):
        self.frames += 1
        if not self.settled:
            self.frames_unsettled += 1
        y = np.concatenate(self._frame_y, axis=1) if self._frame_y else np.zeros((self.rx_antennas, 0))
        first = self._frame_start
        usable = self._frame_clipped <= CANCELLER_MAX_CLIPPED_SHARE * y.shape[1] and 0 < self._frame_weight < math.inf
        if self.min_adc_power is not None and y.size:
            usable &= self._frame_level / y.size > self.min_adc_power
        if usable and y.shape[1] >= 2 * self.tx_antennas:
            self._update(y, first)
        self.reference.forget_before(first + y.shape[1])
        if self.settled and self.first_settled_frame is None:
            self.first_settled_frame = self._frame + 1

    # -- the estimate --
    def _fit_power(self, y, first, tau):
        u = self.reference.delayed(first, y.shape[1], tau)
        gram = u @ u.conj().T
        cross = y @ u.conj().T
        if not np.all(np.isfinite(gram)) or np.linalg.cond(gram) > 1e10:
            return 0.0, None, None, None  # (nearly) no transmit samples under these labels
        try:
            solved = np.linalg.solve(gram, cross.conj().T)  # (Mt, Mr) = gram⁻¹ (Y U^H)^H
        except np.linalg.LinAlgError:
            return 0.0, None, None, None
        power = float(np.real(np.sum(cross * solved.T)))  # tr(Y U^H gram⁻¹ U Y^H)
        return power, gram, cross, u

    def _coarse_delay(self, y, first):
        """The integer lag 0 … max_delay with the largest own-TX-correlated power Σ_r,i |Σ_t y_r(t) x_i*(t − d)|²."""
        count = y.shape[1]
        x = self.reference.raw(first - self.max_delay, count + self.max_delay)  # x at labels first − maxd …
        size = scipy.fft.next_fast_len(count + x.shape[1])
        fy = scipy.fft.fft(y, size, axis=-1)
        fx = scipy.fft.fft(x, size, axis=-1)
        # corr[r, i, j] = Σ_t y_r(t) conj(x_i(t + j)) over the x window: lag d = max_delay − j
        corr = scipy.fft.ifft(fy[:, None, :].conj() * fx[None, :, :], axis=-1)[..., :self.max_delay + 1]
        power = np.sum(np.abs(corr) ** 2, axis=(0, 1))  # over j = 0 … max_delay
        j = int(np.argmax(power))
        return self.max_delay - j

    def _fine_delay(self, y, first, coarse):
        low, high = max(coarse - 1.0, 0.0), coarse + 1.0
        result = scipy.optimize.minimize_scalar(lambda tau: -self._fit_power(y, first, tau)[0], bounds=(low, high),
                                                method="bounded", options={"xatol": 1e-7})
        return float(result.x)

    def _update(self, y, first):
        self.updates += 1
        if self._refinements < CANCELLER_DELAY_REFINEMENTS:
            coarse = self._coarse_delay(y, first) if self.delay_samples is None else int(round(self.delay_samples))
            tau = self._fine_delay(y, first, coarse)
            power, gram, cross, _ = self._fit_power(y, first, tau)
            if gram is None:
                return  # no transmit samples under this frame (before the transmission)
            rest = float(np.sum(np.abs(y) ** 2)) - power
            self.leakage_to_rest_db = 10 * math.log10(max(power, 1e-300) / max(rest, 1e-300))
            if not self.engaged and self.leakage_to_rest_db < CANCELLER_DETECT_DB:
                # nothing worth cancelling: idle; after CANCELLER_IDLE_CHECKS such frames it counts as settled (a
                # front end without leakage is fine as it is), until a leakage appears
                self._idle_checks += 1
                self.settled = self._idle_checks >= CANCELLER_IDLE_CHECKS
                return
            self._refinements += 1
            self.delay_samples = tau
            w = self._frame_weight
            # τ̂ changed: the average starts again
            self._gram, self._cross = w * gram, w * cross
            self._energy, self._count = w * float(np.sum(np.abs(y) ** 2)), y.shape[1]
        else:
            _, gram, cross, _ = self._fit_power(y, first, self.delay_samples)
            if gram is None:
                return
            w = self._frame_weight
            self._gram += w * gram
            self._cross += w * cross
            self._energy += w * float(np.sum(np.abs(y) ** 2))
            self._count += y.shape[1]
        # Ĉ = Σ w Y U^H (Σ w U U^H)⁻¹, and its expected error from the fit's residual: cov(row r) = c_r·gram⁻¹
        self.estimate = self._cross @ np.linalg.inv(self._gram)
        residual = max(self._energy - float(np.real(np.sum(self.estimate * self._cross.conj()))), 0.0)
        # weighted LS with w ∝ 1/noise: cov(row r of Ĉ) = κ_r·G⁻¹, Σ_r κ_r = the weighted residual / (n − Mt), so
        # the expected power of (Ĉ − C)·u, in the units of tr(Ĉ G Ĉ^H), is Σ_r κ_r·tr(G⁻¹G) = Σ_r κ_r·Mt
        estimate_error_power = residual / max(self._count - self.tx_antennas, 1) * self.tx_antennas
        if not self.engaged:
            self.engaged = True
            self.grid_step = math.sqrt(6 * 10 ** (-self.depth_db / 10) * float(np.mean(np.abs(self.estimate) ** 2)))
        step = self.grid_step
        candidate = step * (np.floor(self.estimate.real / step) + 0.5) + 1j * step * (
            np.floor(self.estimate.imag / step) + 0.5)
        whole = float(np.real(np.sum((self.estimate @ self._gram) * self.estimate.conj())))
        self.estimate_error_db = 10 * math.log10(max(estimate_error_power, 1e-300) / whole)
        if self._tuned and self.weights.any():
            # settled: the weights are held (a real canceller, tuned, stays put), so what it leaves is one fixed
            # matrix of the node's transmit samples, which the digital chain can estimate over many frames;
            # retuned only if what is left grows past the settled margin (a drift)
            held = self._cancellation_db(self.weights, whole, estimate_error_power)
            if held >= self.depth_db - CANCELLER_SETTLED_MARGIN_DB:
                self.cancellation_db = held
                return
        if self._tuned and not np.array_equal(candidate, self.weights):
            self.retunes += 1
        self.weights = candidate
        self.cancellation_db = self._cancellation_db(candidate, whole, estimate_error_power)
        self.settled = self.cancellation_db >= self.depth_db - CANCELLER_SETTLED_MARGIN_DB
        self._settled_updates = self._settled_updates + 1 if self.settled else 0
        self._tuned |= self._settled_updates >= CANCELLER_TUNE_UPDATES

    def _cancellation_db(self, weights, whole, estimate_error_power):
        """What is left of the leakage with these weights, as signal power (the transmit samples' own covariance
        weighs the taps: tr(E·G·E^H), E = Ĉ − weights, G = Σ w U U^H), plus Ĉ's expected error Σ_r κ_r·Mt; the
        leakage tr(Ĉ G Ĉ^H) over it, dB."""
        off = self.estimate - weights
        left = float(np.real(np.sum((off @ self._gram) * off.conj()))) + estimate_error_power
        return 10 * math.log10(whole / max(left, 1e-300))

    def status(self):
        return {"rf_canceller_db": self.depth_db, "canceller_engaged": self.engaged,
                "canceller_settled": self.settled, "canceller_cancellation_db": round(self.cancellation_db, 2),
                "canceller_delay_samples": self.delay_samples, "canceller_updates": self.updates,
                "canceller_frames_unsettled": self.frames_unsettled, "canceller_retunes": self.retunes,
                "canceller_first_settled_frame": self.first_settled_frame}


class NodeFrontEnd:
    """The whole receive front end of one node ahead of its rx_time framing (module docstring's order): the RF
    canceller (or None), the AGC and the ADC, frame by frame, so that each frame is converted with the gain and
    the canceller weights set at its start. ``push_tx(x)`` the node's own transmit samples (labels 0, …) as they
    come; ``process(v, first_label)`` v (Mr, count) after the rx gains and CFO → the ADC output ÷ g (Mr, count)
    complex64; ``covers(end_label)`` whether the transmit samples for labels < end_label are in. Ideal
    (adc_bits = 0, no canceller): v unchanged, bit for bit."""

    def __init__(self, receive_front_end, canceller=None):
        self.adc = receive_front_end
        self.canceller = canceller
        self.last_injected = None
        if canceller is not None and not receive_front_end.ideal:
            # the canceller's estimates take g² as weight (the ADC's noise ÷ g is ∝ 1/g²) and skip a frame whose ADC
            # input sat CANCELLER_MIN_LEVEL_DB or more below the AGC's target (not a linear measurement)
            canceller.min_adc_power = 2 * (receive_front_end.target_rms * 10 ** (CANCELLER_MIN_LEVEL_DB / 20)) ** 2

    @property
    def ideal(self):
        return self.adc.ideal and self.canceller is None

    def push_tx(self, x):
        if self.canceller is not None:
            self.canceller.push_tx(x)

    def covers(self, end_label):
        return self.canceller is None or self.canceller.covers(end_label)

    def process(self, v, first_label):
        if self.ideal:
            return v
        v = np.asarray(v)
        count = v.shape[1]
        out = np.empty(v.shape, np.complex64)
        self.last_injected = None  # what the canceller subtracted in this call (Mr, count), or None
        frame_len = self.adc.frame_len
        start, label = 0, int(first_label)
        while start < count:
            stop = min(count, start + (label // frame_len + 1) * frame_len - label)
            seg = v[:, start:stop]
            injected = None
            if self.canceller is not None:
                self.canceller.advance_to(label)  # the frame before, if it just ended, updates the weights first
                injected = self.canceller.injection(label, stop - start)
            if injected is not None:
                seg = seg - injected
                if self.last_injected is None:
                    self.last_injected = np.zeros(v.shape, np.complex128)
                self.last_injected[:, start:stop] = injected
            out[:, start:stop] = self.adc.process(seg, label)
            if self.canceller is not None:
                g = 1.0 if self.adc.ideal else self.adc.gain
                self.canceller.observe(out[:, start:stop], label, injected, self.adc.last_clipped, g * g,
                                       None if self.adc.ideal else seg * g)
            label += stop - start
            start = stop
        return out

    @property
    def first_settled_frame(self):
        """The first frame converted with the AGC settled and (when there is one) the canceller settled; None
        until both: the frames before it are the ones a receiver should not trust (counted, not hidden)."""
        frames = [self.adc.first_settled_frame] + ([] if self.canceller is None else [self.canceller.first_settled_frame])
        return None if any(f is None for f in frames) else max(frames)

    def status(self):
        status = self.adc.status()
        if self.canceller is not None:
            status.update(self.canceller.status())
        status["first_settled_frame"] = None if self.ideal else self.first_settled_frame
        return status


def front_end_settings(scenario):
    """The receive front end's hardware settings of the scenario's radios (the air's side reads its table):
    {adc_bits, adc_full_scale, agc, agc_backoff_db, rf_canceller_db}. From the drawn Impairments' fields where
    it has them, else the resolved [impairments] table, else the ideal (no ADC model, no canceller). The synthetic
    radio (blocks/synthetic_radio_rx), the calibration capture and core.impairment_trials all read it here."""
    from . import impairments  # (impairments validates rf_canceller_db with this module)

    table = impairments.resolve_impairments_table(scenario.impairments_table)
    drawn = scenario.impairments

    def value(key, default):
        got = getattr(drawn, key, None)
        if got is None:
            got = table.get(key)
        return default if got is None else got

    backoff = value("agc_backoff_db", DEFAULT_AGC_BACKOFF_DB)
    return {"adc_bits": check_adc_bits(value("adc_bits", 0), "impairments.adc_bits"),
            "adc_full_scale": check_positive(value("adc_full_scale", 1.0), "impairments.adc_full_scale"),
            "agc": bool(value("agc", True)),
            "agc_backoff_db": check_backoff_db(backoff, "impairments.agc_backoff_db"),
            "rf_canceller_db": check_rf_canceller_db(value("rf_canceller_db", 0.0))}
