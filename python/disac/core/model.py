# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""The noiseless sensing model, paper eq. (3)/(5): what every node receives from every node's frame.

    Y_n = Σ_m Σ_k b_{n,m}^k a_r(θ_n^k) (a_t^T(θ_m^k) X_m ⊙ d^T(τ_{n,m}^k))        (eq. 3, summed as eq. 5)

Frames are frequency-domain OFDM symbols: X[m] has shape (Mt, L, P) (P symbols of L subcarriers);
the snapshot Y[n] has shape (Mr, L, P). Noncoherence (a per-node oscillator phase φ) is carried by the
complex amplitudes: a PHY that applies phases passes b[n, m, k]·e^{j(φ_m − φ_n)}.
"""

import dataclasses

import numpy as np

from . import geometry


def sensing_mean(theta_rad, delay_s, amplitudes, frames, rx_antennas, bandwidth_hz):
    """μ = the noiseless snapshots of all nodes, eq. (3)/(5).

    theta_rad  (N, K)     angle of target k seen from node n (eq. 4b)
    delay_s    (N, K)     one-way time of flight τ_n^k (eq. 4a); links use τ_n^k + τ_m^k
    amplitudes (N, N, K)  b[n, m, k] of the link tx m → target k → rx n
    frames     (N, Mt, L, P) or (N, Mt, L) transmitted frequency-domain frames X_m
    returns    (N, Mr, L, P) (or (N, Mr, L) for 3-D frames)
    """
    frames = np.asarray(frames)
    squeeze = frames.ndim == 3
    if squeeze:
        frames = frames[..., None]
    _, mt, nsub, _ = frames.shape
    a_t = geometry.ula_steering(theta_rad, mt)  # (N, K, Mt)
    a_r = geometry.ula_steering(theta_rad, rx_antennas)  # (N, K, Mr)
    d = geometry.delay_steering(geometry.bistatic_delays_s(delay_s), nsub, bandwidth_hz)  # (N, N, K, L)
    beam = np.einsum("mki,milp->mklp", a_t, frames)  # a_t^T(θ_m^k) X_m, (N_tx, K, L, P)
    y = np.einsum("nmk,nkr,nmkl,mklp->nrlp", amplitudes, a_r, d, beam, optimize=True)
    return y[..., 0] if squeeze else y


def scenario_sensing_mean(scenario, frames, amplitudes=None):
    """eq. (3)/(5) for a Scenario's geometry; amplitudes default to scenario.target_amplitudes()."""
    if amplitudes is None:
        amplitudes = scenario.target_amplitudes()
    return sensing_mean(scenario.target_angles_rad(), scenario.target_delays_s(), amplitudes, frames,
                        scenario.rx_antennas, scenario.bandwidth_hz)


# ---- moving targets (issue 15, SPEC15 §0, docs/air-model.md §6) ------------------------------------------------

@dataclasses.dataclass(frozen=True)
class MovingLinks:
    """The targets' links at scene time t (``moving_links``): what the air uses for a frame starting at t.

    angles_rad (N, K) θ_n^k(t); one_way_delays_s (N, K) τ_n^k(t); carrier_phase (N, N, K) [n, m, k] =
    e^{−j2π(R_{n,m}^k(t) − R_{n,m}^k(0))/λ} with R = |q_k − p_m| + |q_k − p_n| (the echo's carrier phase relative
    to t = 0, where the scenario's b is the echo's); doppler_hz (N, N, K) f_D = −(dR/dt)/λ, the bistatic Doppler;
    present (K,) bool. For an array of T times every field has a leading axis T."""

    time_s: object
    positions_m: np.ndarray
    present: np.ndarray
    angles_rad: np.ndarray
    one_way_delays_s: np.ndarray
    carrier_phase: np.ndarray
    doppler_hz: np.ndarray


def moving_links(scenario, time_s):
    """The targets' links of ``scenario`` at scene time ``time_s`` (a number, or an array of T times: a leading axis
    T), a MovingLinks. Truth of the air (it reads the scene's motion)."""
    state = scenario.targets_at(time_s)
    nodes = scenario.node_positions_m
    dist, _ = geometry.ranges_and_rates(nodes, state.positions_m, state.velocities_mps)
    dist0, _ = geometry.ranges_and_rates(nodes, scenario.target_positions_m, scenario.target_velocities_mps)
    lam = geometry.SPEED_OF_LIGHT_M_S / scenario.carrier_hz
    bistatic = dist[..., :, None, :] + dist[..., None, :, :]  # [n, m, k] = R_n + R_m
    bistatic0 = dist0[:, None, :] + dist0[None, :, :]
    carrier = np.exp(-2j * np.pi * ((bistatic - bistatic0) / lam))
    doppler = geometry.bistatic_doppler_hz(nodes, state.positions_m, state.velocities_mps, scenario.carrier_hz)
    diff = state.positions_m[..., None, :, :] - nodes[:, None, :]  # (..., N, K, 2): eq. (4b)'s atan2, batched
    angles = np.arctan2(diff[..., 1], diff[..., 0])
    return MovingLinks(time_s, state.positions_m, state.present, angles, dist / geometry.SPEED_OF_LIGHT_M_S,
                       carrier, doppler)


def data_symbol_times_s(scenario):
    """t_p of the snapshot's P sensing symbols: the time of each one's first kept sample (after its prefix) from the
    frame's first sample, (front_len + p·(CP + L) + CP)/B (core.ofdm.FrameLayout)."""
    from . import ofdm

    lay = ofdm.layout_from_scenario(scenario)
    return (lay.front_len + lay.symbol_len * np.arange(lay.data_symbols) + lay.cyclic_prefix) / scenario.bandwidth_hz


def doppler_operator(doppler_hz, symbol_time_s, subcarriers, bandwidth_hz):
    """The L × L matrix the Doppler e^{j2π f_D t} over one symbol's kept samples (t = t_p + i/B, i = 0 … L − 1) is
    on its orthonormal spectrum: FFT · diag(e^{j2π f_D (t_p + i/B)}) · IFFT. For f_D = 0 the identity; otherwise the
    per-symbol phase e^{j2π f_D t_p} times a near-identity whose off-diagonal part (the inter-carrier leakage) is
    ≈ π f_D L/B (≈ 1.2·10⁻³ at 233 Hz, the paper's 10 m/s at 3.5 GHz). Any shape of doppler_hz: (..., L, L)."""
    f = np.asarray(doppler_hz, dtype=float)[..., None]
    i = np.arange(subcarriers)
    ramp = np.exp(2j * np.pi * f * (symbol_time_s + i / float(bandwidth_hz)))  # (..., L)
    eye = np.eye(subcarriers)
    inverse = np.fft.ifft(eye, axis=0, norm="ortho")  # columns: the samples of a unit bin
    return np.fft.fft(ramp[..., :, None] * inverse, axis=-2, norm="ortho")


def moving_sensing_mean(scenario, frames, frame, amplitudes=None, symbol_times_s=None, intra_symbol=True):
    """The noiseless snapshots of a moving scene's frame ``frame`` (eq. 3/5 at the targets of t_f = frame ·
    frame_interval_s, with each link's carrier phase at t_f, its bistatic Doppler over the frame and the targets'
    presence), the frequency-domain model the time-domain air (core.channels.SensingChannel) is tested equal to.

        Y_n[:, :, p] = Σ_m Σ_k present_k · b_{n,m}^k c_{n,m}^k(t_f) · a_r(θ_n^k) ⊗ D(f_{D,n,m}^k, t_p)
                       (a_t^T(θ_m^k) X_m[:, :, p] ⊙ d(τ_{n,m}^k(t_f)))

    D(f_D, t_p) = doppler_operator: e^{j2π f_D t_p} for symbol p (t_p: ``data_symbol_times_s``, from the frame's
    first sample) and, with ``intra_symbol`` (default), the rotation within the symbol exactly (its inter-carrier
    leakage; False: the per-symbol phase alone, an error ≈ π f_D L/B). frames (N, Mt, L, P) or (N, Mt, L): the
    transmitted sensing symbols of that frame; amplitudes (N, N, K) b (default scenario.target_amplitudes(); a PHY
    with oscillator phases passes b·e^{j(φ_m − φ_n)} of the frame). Returns (N, Mr, L, P) (or (N, Mr, L)). For a
    static scene it is scenario_sensing_mean. Valid while every echo is within the cyclic prefix (past it, the air
    has inter-symbol interference that this model has not)."""
    frames = np.asarray(frames)
    squeeze = frames.ndim == 3
    if squeeze:
        frames = frames[..., None]
    if amplitudes is None:
        amplitudes = scenario.target_amplitudes()
    links = moving_links(scenario, scenario.frame_time_s(frame))
    b = np.asarray(amplitudes) * links.carrier_phase * links.present[None, None, :]
    _, mt, nsub, nsym = frames.shape
    times = data_symbol_times_s(scenario) if symbol_times_s is None else np.asarray(symbol_times_s, dtype=float)
    if times.shape != (nsym,):
        raise ValueError(f"symbol_times_s of shape {times.shape}: accepted: ({nsym},), one per symbol of the frame")
    a_t = geometry.ula_steering(links.angles_rad, mt)  # (N, K, Mt)
    a_r = geometry.ula_steering(links.angles_rad, scenario.rx_antennas)  # (N, K, Mr)
    d = geometry.delay_steering(geometry.bistatic_delays_s(links.one_way_delays_s), nsub, scenario.bandwidth_hz)
    beam = np.einsum("mki,milp->mklp", a_t, frames)  # (N_tx, K, L, P)
    z = np.einsum("nmk,nmkl,mklp->nmklp", b, d, beam)  # each link's echo per bin, before its Doppler
    out = np.empty_like(z)
    for p in range(nsym):
        if intra_symbol:
            op = doppler_operator(links.doppler_hz, times[p], nsub, scenario.bandwidth_hz)  # (N, N, K, L, L)
            out[..., p] = np.einsum("nmkij,nmkj->nmki", op, z[..., p])
        else:
            out[..., p] = np.exp(2j * np.pi * links.doppler_hz * times[p])[..., None] * z[..., p]
    y = np.einsum("nkr,nmklp->nrlp", a_r, out)
    return y[..., 0] if squeeze else y
