# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""The noiseless sensing model, paper eq. (3)/(5): what every node receives from every node's frame.

    Y_n = Σ_m Σ_k b_{n,m}^k a_r(θ_n^k) (a_t^T(θ_m^k) X_m ⊙ d^T(τ_{n,m}^k))        (eq. 3, summed as eq. 5)

Frames are frequency-domain OFDM symbols: X[m] has shape (Mt, L, P) (P symbols of L subcarriers);
the snapshot Y[n] has shape (Mr, L, P). Noncoherence (a per-node oscillator phase φ) is carried by the
complex amplitudes: a PHY that applies phases passes b[n, m, k]·e^{j(φ_m − φ_n)}.
"""

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
