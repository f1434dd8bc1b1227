# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Geometry, array and delay steering of the paper's signal model (eq. 3, 4a, 4b).

Conventions (docs/conventions.md, DESIGN.md §3):

* positions are metres in a 2-D plane, arrays of shape (..., 2);
* the angle of a point seen from a node is atan2(dy, dx) (eq. 4b);
* every array is a half-wavelength ULA: [a(θ)]_i = exp(jπ i sin θ), i = 0 … M-1;
* delay steering [d(τ)]_l = exp(-j2π (B/L) l τ), l = 0 … L-1 (the vector d(τ) under eq. 3);
* link indices are always ordered (receiving node n, transmitting node m, target k), and a bistatic
  time of flight is τ_{n,m}^k = τ_n^k + τ_m^k.

Pure numpy; nothing here knows about GNU Radio.
"""

import numpy as np

SPEED_OF_LIGHT_M_S = 299_792_458.0


def distances_m(from_m, to_m):
    """Distances (len(from_m), len(to_m)) between two sets of 2-D points."""
    from_m = np.asarray(from_m, dtype=float).reshape(-1, 2)
    to_m = np.asarray(to_m, dtype=float).reshape(-1, 2)
    return np.linalg.norm(to_m[None, :, :] - from_m[:, None, :], axis=-1)


def angles_rad(from_m, to_m):
    """Angle θ[n, k] of point k seen from point n, atan2(y_k - y_n, x_k - x_n) (eq. 4b)."""
    from_m = np.asarray(from_m, dtype=float).reshape(-1, 2)
    to_m = np.asarray(to_m, dtype=float).reshape(-1, 2)
    diff = to_m[None, :, :] - from_m[:, None, :]
    return np.arctan2(diff[..., 1], diff[..., 0])


def one_way_delays_s(node_positions_m, target_positions_m):
    """One-way time of flight τ[n, k] = ‖q_k - p_n‖ / c (eq. 4a)."""
    return distances_m(node_positions_m, target_positions_m) / SPEED_OF_LIGHT_M_S


def ranges_and_rates(node_positions_m, target_positions_m, velocities_mps):
    """|q_k − p_n| (..., N, K) in m and its rate (q_k − p_n)·v_k/|q_k − p_n| in m/s (0 where a target is on a node),
    for target positions and velocities (..., K, 2) (leading axes, e.g. scene times, broadcast)."""
    nodes = np.asarray(node_positions_m, dtype=float).reshape(-1, 2)
    positions = np.asarray(target_positions_m, dtype=float)
    velocities = np.asarray(velocities_mps, dtype=float)
    diff = positions[..., None, :, :] - nodes[:, None, :]  # (..., N, K, 2)
    dist = np.hypot(diff[..., 0], diff[..., 1])
    safe = np.where(dist > 0, dist, 1.0)
    rate = np.where(dist > 0, np.sum(diff * velocities[..., None, :, :], axis=-1) / safe, 0.0)
    return dist, rate


def bistatic_doppler_hz(node_positions_m, target_positions_m, velocities_mps, carrier_hz):
    """f[..., n, m, k] = −(d/dt)(|q_k − p_m| + |q_k − p_n|)/λ (Hz), λ = c / carrier_hz: the Doppler of the echo
    tx m → target k → rx n (a target moving away lowers the frequency); positions and velocities (..., K, 2)."""
    _, rate = ranges_and_rates(node_positions_m, target_positions_m, velocities_mps)
    wavelength_m = SPEED_OF_LIGHT_M_S / float(carrier_hz)
    return -(rate[..., :, None, :] + rate[..., None, :, :]) / wavelength_m


def bistatic_delays_s(one_way_s):
    """Bistatic time of flight τ[n, m, k] = τ_n^k + τ_m^k (tx m → target k → rx n), under eq. 3."""
    one_way_s = np.asarray(one_way_s, dtype=float)
    return one_way_s[:, None, :] + one_way_s[None, :, :]


def ula_steering(theta_rad, antennas):
    """Half-wavelength ULA response a(θ), shape theta.shape + (antennas,) (under eq. 3)."""
    i = np.arange(antennas)
    return np.exp(1j * np.pi * np.multiply.outer(np.sin(theta_rad), i))


def ula_steering_derivative(theta_rad, antennas):
    """∂a(θ)/∂θ = jπ i cos θ · a(θ), same shape as ula_steering."""
    i = np.arange(antennas)
    phase_rate = np.pi * np.multiply.outer(np.cos(theta_rad), i)
    return 1j * phase_rate * ula_steering(theta_rad, antennas)


def subcarrier_frequencies_hz(subcarriers, bandwidth_hz):
    """Frequency offsets f_l = l·B/L, l = 0 … L-1, of the delay steering vector d(τ)."""
    return np.arange(subcarriers) * (bandwidth_hz / subcarriers)


def delay_steering(delay_s, subcarriers, bandwidth_hz):
    """Delay steering d(τ), [d]_l = exp(-j2π (B/L) l τ), shape delay.shape + (L,) (under eq. 3)."""
    f = subcarrier_frequencies_hz(subcarriers, bandwidth_hz)
    return np.exp(-2j * np.pi * np.multiply.outer(delay_s, f))


def delay_steering_derivative(delay_s, subcarriers, bandwidth_hz):
    """∂d(τ)/∂τ = -j2π f_l · d(τ)."""
    f = subcarrier_frequencies_hz(subcarriers, bandwidth_hz)
    return -2j * np.pi * f * delay_steering(delay_s, subcarriers, bandwidth_hz)


def angle_delay_jacobians(node_positions_m, target_positions_m):
    """Derivatives of θ_n^k and τ_n^k with respect to the target position (x_k, y_k).

    Returns (dtheta_dxy, dtau_dxy), each of shape (N, K, 2): the last axis is (∂/∂x_k, ∂/∂y_k).
    These are the non-zero blocks of the paper's Jacobian J_nc (eq. 13).
    """
    p = np.asarray(node_positions_m, dtype=float).reshape(-1, 2)
    q = np.asarray(target_positions_m, dtype=float).reshape(-1, 2)
    diff = q[None, :, :] - p[:, None, :]
    dist2 = np.sum(diff**2, axis=-1)
    dist = np.sqrt(dist2)
    dtheta = np.stack([-diff[..., 1] / dist2, diff[..., 0] / dist2], axis=-1)
    dtau = diff / (dist[..., None] * SPEED_OF_LIGHT_M_S)
    return dtheta, dtau
