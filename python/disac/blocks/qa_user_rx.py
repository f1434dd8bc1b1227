#!/usr/bin/env python3
# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""qa for user_rx: over 1000 frames the measured SINR matches eq. (6) within 0.5 dB at three operating
points (strong radar interference included); BER is that of QPSK at the per-frame SINR; preamble sync at an
unknown delay gives the very metrics of tag sync; deterministic with seeds."""

import numpy as np
from gnuradio import blocks, gr, gr_unittest

from gnuradio.disac.blocks.user_rx import user_rx
from gnuradio.disac.blocks.comm_channel import comm_channel
from gnuradio.disac.core import channels, sinr, user_metrics
from gnuradio.disac.core.scenario import load_scenario
from gnuradio.disac.blocks.isac_tx import isac_tx

SCENARIO = load_scenario("paper")
FRAMES = 1000  # ≥ 200 (issue); 1000 frames put the phase-averaging error of the SINR near 0.1 dB


def zero_forcing(comm_fraction):
    """Per node W_c = pinv(H_nᴴ) (no multi-user interference from that node), scaled so the busiest
    antenna spends comm_fraction·P_T on the users; W_r = √((1 − comm_fraction)·P_T)·I."""
    h = SCENARIO.user_channels()
    pt = SCENARIO.per_antenna_power
    wc = np.stack([np.linalg.pinv(h[n].conj()) for n in range(2)])
    wc *= np.sqrt(comm_fraction * pt / np.max(np.sum(np.abs(wc) ** 2, axis=-1)))
    wr = np.sqrt((1 - comm_fraction) * pt) * np.stack([np.eye(6)] * 2).astype(complex)
    return wc, wr


def random_beams(comm_fraction, seed):
    rng = np.random.default_rng(seed)
    pt = SCENARIO.per_antenna_power

    def scaled(shape, power):
        w = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
        return w * np.sqrt(power / np.sum(np.abs(w) ** 2, axis=-1, keepdims=True))
    return scaled((2, 6, 3), comm_fraction * pt), scaled((2, 6, 6), (1 - comm_fraction) * pt)


def run_users(wc, wr, frames, seed=0, channel_seed=1, delay=None):
    """Both transmitters → comm_channel → one user_rx per user (tag sync); with ``delay``, also a
    preamble-sync receiver of user 0 behind that many extra samples. Returns the receivers."""
    tb = gr.top_block()
    txs = [isac_tx(SCENARIO, n, seed, wc[n], wr[n], frames) for n in range(2)]
    channel = comm_channel(SCENARIO, channel_seed)
    receivers = [user_rx(SCENARIO, u, seed) for u in range(3)]
    for n, tx in enumerate(txs):
        for i in range(6):
            tb.connect((tx, i), (channel, 6 * n + i))
    for u, rx in enumerate(receivers):
        tb.connect((channel, u), rx)
    keep = []
    if delay is not None:
        late = blocks.delay(gr.sizeof_gr_complex, delay)
        blind = user_rx(SCENARIO, 0, seed, sync="preamble")
        tb.connect((channel, 0), late, blind)
        receivers.append(blind)
        keep.append(late)
    tb.run()
    return receivers


class qa_user_rx(gr_unittest.TestCase):

    def check_operating_point(self, wc, wr, label, channel_seed):
        """Measured SINR vs eq. (6) within 0.5 dB (the issue's bound; with 1000 frames the sampling error of
        the phase average is ≈ 0.1 dB and the pilot estimate adds < 0.05 dB); BER vs the mean over frames of
        Q(√γ_f), γ_f the SINR of frame f for its oscillator phases (the phases make the SINR vary per frame,
        so the BER is not Q(√mean SINR)), within 4 binomial standard deviations plus 25% (QPSK and radar
        interference are only approximately Gaussian over 16 REs)."""
        designed = sinr.to_db(sinr.sinr_from_beamformers(SCENARIO.user_channels(), wc, wr, SCENARIO.user_noise_power))
        receivers = run_users(wc, wr, FRAMES, channel_seed=channel_seed)
        phases = channels.node_phases_rad(channel_seed, np.arange(FRAMES), 2)
        for u, rx in enumerate(receivers):
            self.assertEqual(rx.accumulator.frames, FRAMES)
            self.assertLess(abs(rx.measured_sinr_db() - designed[u]), 0.5,
                            f"{label}, user {u}: measured {rx.measured_sinr_db():.2f} dB, eq. (6) {designed[u]:.2f} dB")
            inst = user_metrics.instantaneous_sinr(SCENARIO.user_channels(), wc, wr, phases, SCENARIO.user_noise_power, u)
            predicted = float(np.mean(user_metrics.qpsk_ber(inst)))
            bits = rx.accumulator.bits
            tolerance = 4 * np.sqrt(predicted * (1 - predicted) / bits) + 0.25 * predicted + 1 / bits
            self.assertLess(abs(rx.ber() - predicted), tolerance,
                            f"{label}, user {u}: BER {rx.ber():.3g}, QPSK at the per-frame SINR {predicted:.3g}")
        return designed

    def test_sinr_and_ber_comm_dominated(self):
        """Zero-forcing with 99% of the power to the users: high SINR (14.3 dB), few errors."""
        designed = self.check_operating_point(*zero_forcing(0.99), "comm-dominated", channel_seed=1)
        self.assertGreater(min(designed), 10)

    def test_sinr_and_ber_multiuser_interference(self):
        """Random beams, half the power to the users: multi-user and radar interference, SINR below 0 dB."""
        designed = self.check_operating_point(*random_beams(0.5, 3), "multi-user", channel_seed=2)
        self.assertLess(max(designed), 0)

    def test_sinr_and_ber_strong_radar_interference(self):
        """Zero-forcing with 5% to the users, 95% to an isotropic radar: radar interference dominates (−18 dB)."""
        wc, wr = zero_forcing(0.05)
        h = SCENARIO.user_channels()
        radar = np.sum(np.abs(np.einsum("nui,nij->nuj", h.conj(), wr)) ** 2, axis=(0, 2))
        self.assertTrue(np.all(radar > 10 * SCENARIO.user_noise_power * 100))  # radar ≫ noise
        self.check_operating_point(wc, wr, "radar-dominated", channel_seed=3)

    def test_preamble_sync_at_unknown_delay_matches_tag_sync(self):
        """User 0 behind 61 extra samples, no use of tags: the preamble finds the frame start at sample 61
        and every frame's SINR equals the tag-synchronised receiver's to 1e-9 dB (same samples)."""
        receivers = run_users(*zero_forcing(0.5), frames=60, delay=61)
        tagged, blind = receivers[0], receivers[3]
        self.assertEqual(blind.frame_start_found, 61)
        common = len(blind.frame_sinr_db)
        self.assertGreaterEqual(common, 59)
        np.testing.assert_allclose(blind.frame_sinr_db, tagged.frame_sinr_db[:common], atol=1e-9)
        self.assertEqual(blind.frame_numbers, tagged.frame_numbers[:common])

    def test_deterministic(self):
        a = run_users(*random_beams(0.5, 4), frames=30)
        b = run_users(*random_beams(0.5, 4), frames=30)
        for x, y in zip(a, b):
            self.assertEqual(x.frame_sinr_db, y.frame_sinr_db)
            self.assertEqual(x.accumulator.bit_errors, y.accumulator.bit_errors)


if __name__ == "__main__":
    gr_unittest.run(qa_user_rx)
