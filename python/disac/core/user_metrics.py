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

Per-subcarrier channels (the layout's "per-subcarrier" pilot design, core.ofdm: K ≥ U + 1 pilot symbols
with an orthogonal cover): when user u sees node n at its own delay D_{n,u} (``[impairments]
user_delays``, clock offsets), its channel is frequency-selective, g_u[l] = Σ_n e^{jφ_n} h_{n,u}ᴴ w_{c,n,u}
e^{−j2π f_l D_{n,u}}. It is estimated on every subcarrier from the cover (ĝ_u[l] = g_u[l] + e[l],
E|e|² = σ_c²/K), the data are equalised per subcarrier, and σ_c² is estimated from the K − U unused codes
(noise only). Which average (decided): eq. (6) holds on every subcarrier with the SAME value, because a
per-node delay is a per-node unit-modulus factor e^{−j2π f_l D_{n,u}} that the noncoherent phase average
absorbs: E_φ|g_u[l]|² = Σ_n |h_{n,u}ᴴ w_{c,n,u}|² for every l, and likewise every interference term and the
radar term (the nodes' radar streams are orthogonal). So eq. (6) per subcarrier, averaged over the
subcarriers, IS eq. (6), and the measured SINR is the same ratio of mean powers, now over frames and
subcarriers: Σ_{f,l} (|ĝ_f[l]|² − σ̂_c²/K) / Σ_{f,l,p} (|y − ĝ_f[l] s_u|² − σ̂_c²/K) (per RE). The σ̂_c²/K
terms remove the channel estimate's own noise, which adds σ_c²/K to both powers (the estimate's error is
independent of the data REs' noise): the measured SINR is then an unbiased ratio estimate of the link's
SINR (eq. 6), not of one receiver's post-equalisation SINR with its estimation loss (uncorrected, the ratio
is low by up to 10·log10(1 + 1/K), 0.97 dB for K = 4, where noise dominates the interference; 0.02–0.08 dB
at tests/test_user_delays.py's operating points, which interference dominates). A mean of per-subcarrier SINRs (or an "effective" SINR) would
be a different quantity, larger than eq. (6) by Jensen's inequality. The "flat" design keeps today's
metrics exactly (one ĝ per frame over L·K pilot REs, no correction: its estimate's noise is σ_c²/(L·K)).
"""

import dataclasses

import numpy as np
from scipy.special import erfc

from . import ofdm


def estimate_gains(pilot_freq, pilots, user):
    """ĝ_u per frame, (F,): pilot_freq (F, n_pilot, L) received pilot symbols, pilots (U, n_pilot, L)
    ("flat" pilot design: one gain for the whole band)."""
    ref = np.conj(pilots[user])
    return np.mean(pilot_freq * ref[None], axis=(-2, -1))


def estimate_channels(pilot_freq, pilots, user):
    """Per-subcarrier channel of user u and the noise power, "per-subcarrier" pilot design (core.ofdm).

    pilot_freq (F, K, L) received pilot symbols, pilots (U, K, L) with user i's pilot c_{k,l}·e^{j2π i k/K}.
    Returns (ĝ_u (F, L), σ̂_c² (F,)): ĝ_u[l] = (1/K) Σ_k y_k[l]·conj(pilot_u[k, l]), exact for any channel
    that holds still over the frame, error CN(0, σ_c²/K); σ̂_c² = K·mean |code_j|² over the K − U unused
    cover codes j = U … K−1 (noise only), an unbiased estimate from (K − U)·L values per frame.
    """
    users, k = pilots.shape[0], pilots.shape[1]
    if k <= users:
        raise ValueError(f"per-subcarrier channel estimation needs K > U pilot symbols, got K = {k}, U = {users}")
    descrambled = pilot_freq * np.conj(pilots[0])[None]  # user 0's code is all ones: pilots[0] is the cover
    codes = np.fft.fft(descrambled, axis=-2) / k  # (F, K, L): code j = (1/K) Σ_k · e^{−j2π j k/K}
    noise_power = k * np.mean(np.abs(codes[:, users:]) ** 2, axis=(-2, -1))
    return codes[:, user], noise_power


def equalise(data, gain):
    """Data REs (F, L, P) divided by the channel estimate: ĝ (F,) ("flat") or ĝ[l] (F, L) ("per-subcarrier")."""
    gain = np.asarray(gain)
    return data / (gain[:, None, None] if gain.ndim == 1 else gain[:, :, None])


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

    gain: np.ndarray  # ĝ_u, complex: (F,) "flat", (F, L) "per-subcarrier"
    signal_power: np.ndarray  # |ĝ_u|² ("per-subcarrier": mean_l |ĝ_u[l]|² − σ̂_c²/K)
    interference_noise_power: np.ndarray  # mean_RE |y − ĝ s|² ("per-subcarrier": − σ̂_c²/K)
    evm_rms: np.ndarray  # sqrt(mean |y/ĝ − s|²) (s has unit power)
    bit_errors: np.ndarray  # int
    bits: int  # bits per frame

    @property
    def sinr_db(self):
        # a bias-corrected signal power can be ≤ 0 in a single frame at very low SNR: −inf dB, not NaN
        with np.errstate(divide="ignore"):
            return 10 * np.log10(np.maximum(self.signal_power, 0.0) / self.interference_noise_power)


def frame_metrics(frame_freq, layout, pilots, user, tx_symbols, tx_bits):
    """Metrics of F received frames of one user.

    frame_freq (F, frame_symbols, L): demodulated symbols of whole frames (front included);
    tx_symbols (F, L, P) and tx_bits (F, L, P, 2): the user's known data (core.ofdm.FrameGenerator).
    """
    front = layout.preamble_symbols
    pilot_freq = frame_freq[:, front:front + layout.pilot_symbols]
    data = np.swapaxes(frame_freq[:, layout.front_symbols:], -1, -2)  # (F, L, P)
    if layout.pilot_design == ofdm.PILOT_PER_SUBCARRIER:
        gain, noise_power = estimate_channels(pilot_freq, pilots, user)  # (F, L), (F,)
        estimate_noise = noise_power / layout.pilot_symbols  # E|ĝ − g|², in both powers (module docstring)
        residual = data - gain[:, :, None] * tx_symbols
        signal_power = np.mean(np.abs(gain) ** 2, axis=-1) - estimate_noise
        interference_noise_power = np.mean(np.abs(residual) ** 2, axis=(-2, -1)) - estimate_noise
    else:
        gain = estimate_gains(pilot_freq, pilots, user)
        residual = data - gain[:, None, None] * tx_symbols
        signal_power = np.abs(gain) ** 2
        interference_noise_power = np.mean(np.abs(residual) ** 2, axis=(-2, -1))
    equalised = equalise(data, gain)
    decided = ofdm.qpsk_bits(equalised)
    return FrameMetrics(
        gain=gain,
        signal_power=signal_power,
        interference_noise_power=interference_noise_power,
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


def instantaneous_sinr(h, wc, wr, phases_rad, user_noise_power, user, delay_phases=None):
    """Per-frame SINR of user u given the oscillator phases (F, N): |g_uu|² / (Σ_{i≠u} |g_ui|² + Σ_n ‖h^H W_r,n‖² + σ_c²).

    g_ui = Σ_n e^{jφ_n} h_{n,u}ᴴ w_{c,n,i}. The radar term has no cross-node part because the radar
    streams of different nodes are orthogonal over a frame; its mean over phases gives eq. (6) term by term.
    ``delay_phases`` (N, L), e^{−j2π f_l D_{n,u}} of this user's per-node delays: the channels are then per
    subcarrier, g_ui[l] = Σ_n e^{jφ_n} e^{−j2π f_l D_{n,u}} h_{n,u}ᴴ w_{c,n,i}, and a frame's SINR is the
    ratio of the subcarrier means of the powers (the measured SINR's definition, module docstring); its
    mean over phases is again eq. (6), whatever the delays.
    """
    h, wc, wr = np.asarray(h), np.asarray(wc), np.asarray(wr)
    hw = np.einsum("ni,nij->nj", h[:, user].conj(), wc)  # (N, U)
    rotation = np.exp(1j * np.asarray(phases_rad))  # (F, N)
    radar = np.sum(np.abs(np.einsum("ni,nij->nj", h[:, user].conj(), wr)) ** 2)
    if delay_phases is None:
        power = np.abs(rotation @ hw) ** 2  # (F, U)
    else:
        g = np.einsum("fn,nl,ni->fli", rotation, np.asarray(delay_phases), hw)  # (F, L, U)
        power = np.mean(np.abs(g) ** 2, axis=1)
    return power[:, user] / (power.sum(axis=1) - power[:, user] + radar + user_noise_power)
