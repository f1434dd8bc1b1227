# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""User receiver maths: frame sync from the preamble, gain estimation from pilots, equalisation, SINR/EVM/BER.

A user's channel is flat (eq. 2) and its oscillator phases are constant over a frame, so within a frame
it receives, on every RE of the data part, y = g_u s_u + (other users + radar + noise) with the scalar
effective gain g_u = Σ_n e^{jφ_n} h_{n,u}ᴴ w_{c,n,u}. The pilots (core.ofdm) are orthogonal between
users and the radar is off in the front symbols, so ĝ_u = (1/(L·n_pilot)) Σ y·conj(pilot_u) is g_u plus
noise of variance σ_c²/(L·n_pilot).

Measured SINR (what eq. 6 is): the ratio of the mean signal power to the mean interference-plus-noise
power over frames, Σ_f |ĝ_f|² / Σ_f mean_RE |y − ĝ_f s_u|², with s_u the known data. Eq. (6) is a ratio
of expectations over the noncoherent phases (E|Σ_n e^{jφ_n} a_n|² = Σ_n |a_n|²), not the mean of
per-frame SINRs, which is larger and depends on N.
"""

import dataclasses

import numpy as np
from scipy.special import erfc

from . import ofdm


def estimate_gains(pilot_freq, pilots, user):
    """ĝ_u per frame, (F,): pilot_freq (F, n_pilot, L) received pilot symbols, pilots (U, n_pilot, L)."""
    ref = np.conj(pilots[user])
    return np.mean(pilot_freq * ref[None], axis=(-2, -1))


def preamble_metric(samples, layout, preamble):
    """Σ_u |Σ_i r[t + i] conj(p_u[i])|² for every start t of a preamble symbol (len(samples) − (CP+L) + 1,).

    ``preamble`` (U, 1+, L) frequency domain; the template is the first preamble symbol with its cyclic
    prefix (CP + L samples: with CP ≥ L the prefix holds a whole copy of the core, so a template of the
    core alone would also peak one period early). The metric peaks at the frame start whatever the
    users' gains, since every user stream's preamble is correlated separately.
    """
    templates = ofdm.modulate(preamble[:, 0, :], layout.cyclic_prefix)  # (U, CP + L)
    metric = np.zeros(len(samples) - layout.symbol_len + 1)
    for template in templates:  # U correlations over one search window (acquisition only, not per sample)
        metric += np.abs(np.correlate(samples, template, mode="valid")) ** 2
    return metric


def find_frame_start(samples, layout, preamble):
    """Index of the first frame start in ``samples`` (at least one frame + one symbol long), from the preamble.

    The strongest correlation peak among the first frame_len candidate starts is the preamble.
    """
    if layout.preamble_symbols < 1:
        raise ofdm.FrameError("frame layout has no preamble symbol: a receiver without tags needs one")
    need = layout.frame_len + layout.symbol_len
    if len(samples) < need:
        raise ofdm.FrameError(f"preamble search needs {need} samples, got {len(samples)}")
    metric = preamble_metric(np.asarray(samples[:need]), layout, preamble)
    return int(np.argmax(metric[:layout.frame_len]))


@dataclasses.dataclass
class FrameMetrics:
    """Per-frame user metrics, each an array over the frames of one batch."""

    gain: np.ndarray  # ĝ_u, complex
    signal_power: np.ndarray  # |ĝ_u|²
    interference_noise_power: np.ndarray  # mean_RE |y − ĝ s|²
    evm_rms: np.ndarray  # sqrt(mean |y/ĝ − s|²) (s has unit power)
    bit_errors: np.ndarray  # int
    bits: int  # bits per frame

    @property
    def sinr_db(self):
        with np.errstate(divide="ignore"):
            return 10 * np.log10(self.signal_power / self.interference_noise_power)


def frame_metrics(frame_freq, layout, pilots, user, tx_symbols, tx_bits):
    """Metrics of F received frames of one user.

    frame_freq (F, frame_symbols, L): demodulated symbols of whole frames (front included);
    tx_symbols (F, L, P) and tx_bits (F, L, P, 2): the user's known data (core.ofdm.FrameGenerator).
    """
    front = layout.preamble_symbols
    pilot_freq = frame_freq[:, front:front + layout.pilot_symbols]
    gain = estimate_gains(pilot_freq, pilots, user)
    data = np.swapaxes(frame_freq[:, layout.front_symbols:], -1, -2)  # (F, L, P)
    residual = data - gain[:, None, None] * tx_symbols
    equalised = data / gain[:, None, None]
    decided = ofdm.qpsk_bits(equalised)
    return FrameMetrics(
        gain=gain,
        signal_power=np.abs(gain) ** 2,
        interference_noise_power=np.mean(np.abs(residual) ** 2, axis=(-2, -1)),
        evm_rms=np.sqrt(np.mean(np.abs(equalised - tx_symbols) ** 2, axis=(-2, -1))),
        bit_errors=np.sum(decided != tx_bits, axis=(-3, -2, -1)),
        bits=2 * layout.data_res,
    )


class SinrAccumulator:
    """Running measured SINR (ratio of mean powers over frames) and BER of one user."""

    def __init__(self):
        self.frames = 0
        self.signal = 0.0
        self.interference_noise = 0.0
        self.bit_errors = 0
        self.bits = 0

    def add(self, metrics):
        self.frames += len(metrics.signal_power)
        self.signal += float(np.sum(metrics.signal_power))
        self.interference_noise += float(np.sum(metrics.interference_noise_power))
        self.bit_errors += int(np.sum(metrics.bit_errors))
        self.bits += metrics.bits * len(metrics.signal_power)

    @property
    def sinr_db(self):
        if self.interference_noise <= 0:
            return float("nan")
        return 10 * np.log10(self.signal / self.interference_noise)

    @property
    def ber(self):
        return self.bit_errors / self.bits if self.bits else float("nan")


def qpsk_ber(sinr_linear):
    """Bit error rate of Gray-mapped QPSK in Gaussian noise at symbol SINR γ: Q(√γ) = ½ erfc(√(γ/2))."""
    return 0.5 * erfc(np.sqrt(np.asarray(sinr_linear, dtype=float) / 2))


def instantaneous_sinr(h, wc, wr, phases_rad, user_noise_power, user):
    """Per-frame SINR of user u given the oscillator phases (F, N): |g_uu|² / (Σ_{i≠u} |g_ui|² + Σ_n ‖h^H W_r,n‖² + σ_c²).

    g_ui = Σ_n e^{jφ_n} h_{n,u}ᴴ w_{c,n,i}. The radar term has no cross-node part because the radar
    streams of different nodes are orthogonal over a frame; its mean over phases gives eq. (6) term by term.
    """
    h, wc, wr = np.asarray(h), np.asarray(wc), np.asarray(wr)
    hw = np.einsum("ni,nij->nj", h[:, user].conj(), wc)  # (N, U)
    g = np.exp(1j * np.asarray(phases_rad)) @ hw  # (F, U)
    radar = np.sum(np.abs(np.einsum("ni,nij->nj", h[:, user].conj(), wr)) ** 2)
    power = np.abs(g) ** 2
    return power[:, user] / (power.sum(axis=1) - power[:, user] + radar + user_noise_power)
