# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Noncoherent CoMP SINR (core/sinr.py): paper eq. (6) from beamformers, eq. (17) from covariances.

Checks: a hand-computed single-node value; eq. (6) = eq. (17) for rank-1 communication covariances built
from random beamformers (eq. 17 is eq. 6 rewritten with R_{c,n,u} = w w^H and R_nn = W_c W_c^H + W_r W_r^H);
and eq. (6) against a Monte-Carlo simulation of the received signal of eq. (2) with an independent random
oscillator phase per node, which is what "noncoherent" means: powers from different nodes add.
"""

import numpy as np
import pytest

from gnuradio.disac.core import sinr

# Both sides are the same sums of products of O(1) numbers evaluated in float64 in a different order;
# the difference is a few ulps (~1e-15 observed), so 1e-12 relative has a wide margin and still fails
# for any misplaced term (which changes the SINR by O(1)).
EXACT_RTOL = 1e-12


def random_complex(rng, shape):
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) / np.sqrt(2)


def test_single_node_single_user_by_hand():
    h = np.array([[[1.0, 1j]]])  # (N=1, U=1, Mt=2)
    wc = np.array([[[2.0], [0.0]]])  # h^H w = 2
    wr = np.array([[[0.0, 0.0], [1.0, 0.0]]])  # h^H W_r = [-j, 0]: radar interference power 1
    expected = 4.0 / (1.0 + 0.5)
    assert sinr.sinr_from_beamformers(h, wc, wr, 0.5) == pytest.approx([expected], rel=EXACT_RTOL)
    rc = np.einsum("nau,nbu->nuab", wc, wc.conj())
    r = rc.sum(axis=1) + np.einsum("naj,nbj->nab", wr, wr.conj())
    assert sinr.sinr_from_covariances(h, rc, r, 0.5) == pytest.approx([expected], rel=EXACT_RTOL)


@pytest.mark.parametrize("nodes, users, mt, radar_cols", [(1, 1, 1, 1), (2, 3, 6, 6), (3, 4, 5, 2)])
def test_eq6_equals_eq17_for_rank1_covariances(nodes, users, mt, radar_cols):
    rng = np.random.default_rng(100 * nodes + users)
    h = random_complex(rng, (nodes, users, mt))
    wc = random_complex(rng, (nodes, mt, users))
    wr = random_complex(rng, (nodes, mt, radar_cols))
    noise = 0.3
    rc = np.einsum("nau,nbu->nuab", wc, wc.conj())  # R_{c,n,u} = w w^H (rank 1)
    r = rc.sum(axis=1) + np.einsum("naj,nbj->nab", wr, wr.conj())  # R_nn, eq. (18c)
    eq6 = sinr.sinr_from_beamformers(h, wc, wr, noise)
    eq17 = sinr.sinr_from_covariances(h, rc, r, noise)
    assert eq6.shape == (users,)
    np.testing.assert_allclose(eq17, eq6, rtol=EXACT_RTOL)
    # each user's SINR depends on its own beamformer: changing user 0's changes only user 0's signal term
    if users > 1:
        wc2 = wc.copy()
        wc2[:, :, 0] *= 2.0
        changed = sinr.sinr_from_beamformers(h, wc2, wr, noise)
        assert changed[0] > eq6[0] and np.all(changed[1:] < eq6[1:])


def test_eq6_is_the_power_ratio_with_independent_node_phases():
    """Simulate eq. (2): the same QPSK data at every node (CoMP), a uniform random phase per node and
    realisation, Gaussian radar streams; the ratio of the mean signal power to the mean interference-
    plus-noise power is eq. (6)."""
    rng = np.random.default_rng(7)
    nodes, users, mt, draws = 3, 2, 4, 200_000
    h = random_complex(rng, (nodes, users, mt))
    wc = random_complex(rng, (nodes, mt, users))
    wr = random_complex(rng, (nodes, mt, mt)) * 0.5
    noise = 0.2
    qpsk = (rng.choice([-1.0, 1.0], (users, draws)) + 1j * rng.choice([-1.0, 1.0], (users, draws))) / np.sqrt(2)
    phase = np.exp(2j * np.pi * rng.random((nodes, draws)))
    gain = np.einsum("nua,nai->nui", h.conj(), wc)  # h_{n,u}^H w_{c,n,i}
    radar_gain = np.einsum("nua,naj->nuj", h.conj(), wr)
    radar = np.einsum("nuj,njd->nud", radar_gain, random_complex(rng, (nodes, mt, draws)))
    for u in range(users):
        wanted = np.sum(phase * gain[:, u, u][:, None] * qpsk[u][None, :], axis=0)
        others = sum(np.sum(phase * gain[:, u, i][:, None] * qpsk[i][None, :], axis=0)
                     for i in range(users) if i != u)
        unwanted = others + np.sum(phase * radar[:, u], axis=0)
        signal_power = np.abs(wanted) ** 2
        interference_power = np.abs(unwanted) ** 2 + noise
        estimate = signal_power.mean() / interference_power.mean()
        # relative Monte-Carlo error of a ratio of means ≈ sqrt(var_a/mean_a² + var_b/mean_b²)/sqrt(draws);
        # 5 standard errors: a seeded draw that fails only if eq. (6) is wrong (coherent addition of the
        # node terms would change the SINR by a factor of order N, i.e. hundreds of standard errors).
        rel_se = np.sqrt(signal_power.var() / signal_power.mean() ** 2
                         + interference_power.var() / interference_power.mean() ** 2) / np.sqrt(draws)
        expected = sinr.sinr_from_beamformers(h, wc, wr, noise)[u]
        assert abs(estimate / expected - 1) < 5 * rel_se, (u, estimate, expected, rel_se)
        assert rel_se < 0.02  # the check has power: the MC error is far below the effects it guards


def test_to_db():
    np.testing.assert_allclose(sinr.to_db([1.0, 10.0, 1000.0]), [0.0, 10.0, 30.0], atol=1e-12)
    assert sinr.to_db(0.0) == -np.inf
