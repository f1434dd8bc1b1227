# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Noncoherent CoMP SINR of every user: paper eq. (6) from beamformers, eq. (17) from covariances.

Shapes (N nodes, U users, Mt transmit antennas):
    h   (N, U, Mt)   user u receives h[n, u]^H x_n from node n (eq. 2)
    Wc  (N, Mt, U)   column u is w_{c,n,u}
    Wr  (N, Mt, Mr') radar beamformer W_{r,n} (any number of columns)
    Rc  (N, U, Mt, Mt) R_{c,n,u} = w w^H (or its SDR relaxation)
    R   (N, Mt, Mt)  R_nn = R_{r,n} + Σ_u R_{c,n,u}
"""

import numpy as np


def sinr_from_beamformers(h, Wc, Wr, user_noise_power):
    """γ_u^nc, eq. (6): Σ_n |h^H w_u|² / (Σ_n [Σ_{i≠u} |h^H w_i|² + ‖h^H W_r‖²] + σ_c²), linear."""
    h, Wc, Wr = np.asarray(h), np.asarray(Wc), np.asarray(Wr)
    gains = np.abs(np.einsum("nui,nij->nuj", h.conj(), Wc)) ** 2  # |h_{n,u}^H w_{c,n,j}|², (N, U, U)
    radar = np.sum(np.abs(np.einsum("nui,nij->nuj", h.conj(), Wr)) ** 2, axis=-1)  # (N, U)
    users = np.arange(gains.shape[1])
    signal = gains[:, users, users].sum(axis=0)
    interference = gains.sum(axis=(0, 2)) - signal + radar.sum(axis=0)
    return signal / (interference + user_noise_power)


def sinr_from_covariances(h, Rc, R, user_noise_power):
    """γ_u^nc, eq. (17): Σ_n h^H R_{c,n,u} h / (Σ_n h^H R_nn h − Σ_n h^H R_{c,n,u} h + σ_c²), linear."""
    h, Rc, R = np.asarray(h), np.asarray(Rc), np.asarray(R)
    signal = np.einsum("nui,nuij,nuj->u", h.conj(), Rc, h).real
    total = np.einsum("nui,nij,nuj->u", h.conj(), R, h).real
    return signal / (total - signal + user_noise_power)


def to_db(linear):
    """10·log10 of a power ratio; -inf for 0 and nan for negative values are left to the caller."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return 10 * np.log10(np.asarray(linear, dtype=float))
