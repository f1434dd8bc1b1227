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

Guard and DC bins (issue 14, ``layout.active_subcarriers``): nothing is sent there, so every estimate, power and
decision is taken over the ACTIVE bins only (L_a of them): the "flat" gain over the L_a·K pilot REs (the pilots'
DFT cover runs over the active bins, core.ofdm), the per-subcarrier channels on the active bins, the powers as
means over the L_a·P active data REs, bits = 2·L_a·P. Eq. (6) is a per-RE ratio, so it is the same statement on
the active REs; the transmitter's per-RE power there is P_T·L/L_a (core.ofdm.per_re_power), which the designed
precoders already carry.
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
    """Σ_u |Σ_i r[t + i] conj(p_u[i])|² / Σ_i |r[t + i]|² for every start t of the template
    (len(samples) − T + 1,), T the template's length.

    ``preamble`` (U, S, L) frequency domain: the template of user u is its first S front symbols with their
    cyclic prefixes, (CP + L)·S samples: with CP ≥ L the prefix holds a whole copy of the core, so a template
    of the core alone would also peak one period early. Give ``FrameGenerator.preamble`` (S = 1, today's
    template) or the whole front, preamble and pilots (``sync_front``). The metric peaks at the frame start
    whatever the users' gains, since every user stream's template is correlated separately. It is normalised
    by the window's energy (decided in issue 13): unnormalised, the strong radar streams of the sensing
    symbols (e.g. half of P_T against a user's zero-forced beam) outweighed the preamble's peak; normalised,
    a window of the right template reaches the Cauchy–Schwarz bound and random data stay far below it.
    """
    samples = np.asarray(samples)
    templates = ofdm.modulate(np.asarray(preamble), layout.cyclic_prefix).reshape(len(preamble), -1)  # (U, T)
    length = templates.shape[1]
    metric = np.zeros(len(samples) - length + 1)
    for template in templates:  # U correlations over one search window (acquisition only, not per sample)
        metric += np.abs(np.correlate(samples, template, mode="valid")) ** 2
    power = np.abs(samples) ** 2
    energy = np.convolve(power, np.ones(length), mode="valid")  # Σ_i |r[t + i]|² per start t
    return metric / np.maximum(energy, np.finfo(float).tiny)


def sync_front(layout, generator):
    """The known front a preamble-synchronised receiver correlates with, (U, S, L), and how many samples of
    delay spread it collects (``find_frame_start``'s ``spread_samples``).

    "flat" pilots: the first preamble symbol and 1 (today's search). "per-subcarrier": the whole front
    (preamble and the K pilot symbols: K + 1 symbols of processing gain, and no fixed pattern of the pilots
    left to mimic the preamble) and CP // 2 + 1 samples: the energy of every path of a delay spread up to
    CP // 2 is collected, so the frame is placed at (or just before) the first path and every path stays
    inside the prefix; the per-subcarrier estimate absorbs the phase ramp of an early window. Measured on the
    paper with user delays: the first preamble symbol alone lost the peak to cross-correlations with the
    pilots when two equal paths shared a user's energy (zero-forcing beams).
    """
    if layout.pilot_design == ofdm.PILOT_PER_SUBCARRIER:
        return np.concatenate([generator.preamble, generator.pilots], axis=1), layout.cyclic_prefix // 2 + 1
    return generator.preamble[:, :1], 1


def find_frame_start(samples, layout, preamble, spread_samples=1):
    """Index of the first frame start in ``samples`` (at least one frame + the template + spread_samples − 1
    long), from the preamble (or the whole front, ``sync_front``).

    The strongest correlation among the first frame_len candidate starts is the preamble; with
    ``spread_samples`` = W > 1 the metric is first summed over W consecutive starts (the energy of a
    multipath channel's paths, collected) and the earliest start of the best window is returned: candidates
    t = −(W − 1) … frame_len − W (one per position in the frame; samples before ``samples`` count as
    nothing), a negative best start clamped to 0 (the first path is then within W − 1 samples after 0).
    """
    if layout.preamble_symbols < 1:
        raise ofdm.FrameError("frame layout has no preamble symbol: a receiver without tags needs one")
    template_len = np.asarray(preamble).shape[1] * layout.symbol_len
    need = layout.frame_len + template_len + spread_samples - 1
    if len(samples) < need:
        raise ofdm.FrameError(f"preamble search needs {need} samples, got {len(samples)}")
    metric = preamble_metric(np.asarray(samples[:need]), layout, preamble)
    if spread_samples == 1:
        return int(np.argmax(metric[:layout.frame_len]))
    padded = np.concatenate([np.zeros(spread_samples - 1), metric])
    collected = np.convolve(padded, np.ones(spread_samples), mode="valid")  # [i] = Σ_{d<W} metric[i − (W−1) + d]
    return max(0, int(np.argmax(collected[:layout.frame_len])) - (spread_samples - 1))


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
    With guard/DC bins (layout.active_subcarriers) only the active bins are used (module docstring); ``gain``
    is then per active bin in the "per-subcarrier" design, (F, L_a).
    """
    if layout.active_subcarriers is not None:
        active = np.flatnonzero(layout.active_mask)
        frame_freq, pilots = frame_freq[..., active], np.asarray(pilots)[..., active]
        tx_symbols, tx_bits = tx_symbols[:, active], tx_bits[:, active]
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
        bits=2 * layout.active_res,
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
