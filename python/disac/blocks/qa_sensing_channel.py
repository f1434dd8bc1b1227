#!/usr/bin/env python3
# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""qa for sensing_channel: echoes equal core.channels on whole streams, tags forwarded from the receiving
node's own transmitter, AWGN of variance σ², deterministic with seeds."""

import numpy as np
import pmt
from gnuradio import blocks, gr, gr_unittest

from gnuradio.disac.blocks.sensing_channel import sensing_channel
from gnuradio.disac.blocks import tags
from gnuradio.disac.core import channels, ofdm
from gnuradio.disac.core.scenario import load_scenario

SCENARIO = load_scenario("paper")
LAYOUT = ofdm.layout_from_scenario(SCENARIO)
FRAMES = 40


def run(rx_node, noise, channel_seed=0, amplitude_scale=1.0, impairments=None):
    """Random input streams (tagged like two transmitters) through one sensing channel; (input, output, tags out)."""
    scenario = SCENARIO.replace(target_amplitude=SCENARIO.target_amplitude * amplitude_scale)
    if impairments is not None:
        scenario = scenario.with_impairments(impairments)
    rng = np.random.default_rng(1)
    count = FRAMES * LAYOUT.frame_len
    x = (rng.standard_normal((12, count)) + 1j * rng.standard_normal((12, count))).astype(np.complex64)
    tb = gr.top_block()
    channel = sensing_channel(scenario, rx_node, channel_seed, noise)
    sources = []
    for i in range(12):
        node = i // 6
        frame_tags = [gr.tag_utils.python_to_tag((f * LAYOUT.frame_len, pmt.intern(tags.FRAME_TAG_KEY),
                                                  tags.frame_tag_value(f, node, 0))) for f in range(FRAMES)] if i % 6 == 0 else []
        sources.append(blocks.vector_source_c(x[i].tolist(), False, 1, frame_tags))
        tb.connect(sources[-1], (channel, i))
    sinks = [blocks.vector_sink_c() for _ in range(16)]
    for r, sink in enumerate(sinks):
        tb.connect((channel, r), sink)
    tb.run()
    out = np.array([sink.data() for sink in sinks])
    found = [(t.offset, tags.parse_frame_tag(t.value)) for t in sinks[0].tags()]
    others = sum(len(sink.tags()) for sink in sinks[1:])
    return scenario, x, out, found, others


class qa_sensing_channel(gr_unittest.TestCase):

    def test_streams_equal_core_channel_and_tags_come_from_own_transmitter(self):
        """Noise off: the block's output is core.channels.SensingChannel.apply_time of the whole input
        (1e-5 relative: complex64 streams); output 0 carries rx node 1's transmitter's tags, others none."""
        scenario, x, out, found, others = run(rx_node=1, noise=False)
        expected = channels.SensingChannel(scenario, 1, 0).apply_time(x.astype(complex), 0)
        self.assertLess(np.max(np.abs(out - expected)), 1e-5 * np.max(np.abs(expected)))
        self.assertEqual(found, [(f * LAYOUT.frame_len, (f, 1, 0)) for f in range(FRAMES)])
        self.assertEqual(others, 0)

    def test_impaired_air_streams_and_labels(self):
        """"lab" with node 1's clock 400 ns early and 2 samples of latency (D[0, 1] = −4 + 2 < 0: the air adds
        A = 2 samples of latency, on every rx node):
        the block's output (GNU Radio's arbitrary call sizes, history across calls) is apply_time of the whole
        input (1e-5 relative), label_offset_samples = −A, and the forwarded frame tags sit at f·frame_len + A
        (the same label as the transmitter's frame start)."""
        table = {"preset": "lab", "seed": 2, "timing_offset_ns": [0.0, -400.0], "latency_samples": 2.0}
        scenario, x, out, found, others = run(rx_node=1, noise=False, impairments=table)
        block = sensing_channel(scenario, 1, 0, False)
        shift = block.air_latency_samples
        self.assertEqual(shift, channels.sensing_air_latency_samples(scenario))
        self.assertEqual(shift, 2)
        self.assertEqual(block.label_offset_samples, -shift)
        expected = channels.SensingChannel(scenario, 1, 0).apply_time(x.astype(complex), 0)
        self.assertLess(np.max(np.abs(out - expected)), 1e-5 * np.max(np.abs(expected)))
        frames_seen = [f for f in range(FRAMES) if f * LAYOUT.frame_len + shift < out.shape[1]]
        self.assertEqual(found, [(f * LAYOUT.frame_len + shift, (f, 1, 0)) for f in frames_seen])
        self.assertEqual(others, 0)

    def test_noise_variance_and_determinism(self):
        """Targets removed (β = 0): the output is the AWGN alone, variance σ² within 5% (16·4320 samples:
        standard error ≈ 0.4%); the same seed repeats it exactly, another seed does not."""
        _, _, a, _, _ = run(rx_node=0, noise=True, channel_seed=4, amplitude_scale=0.0)
        _, _, b, _, _ = run(rx_node=0, noise=True, channel_seed=4, amplitude_scale=0.0)
        _, _, c, _, _ = run(rx_node=0, noise=True, channel_seed=5, amplitude_scale=0.0)
        self.assertLess(abs(np.mean(np.abs(a) ** 2) / SCENARIO.noise_power - 1), 0.05)
        np.testing.assert_array_equal(a, b)
        self.assertFalse(np.allclose(a, c))

    def test_noise_is_white_circular_gaussian_per_antenna(self):
        """The block's noise (β = 0) against CN(0, σ²) i.i.d. per antenna and sample (issue 16: what any change
        of the noise source must keep). 16 antennas × 4320 samples, n = 69120: per-antenna power
        within 6 % (std error 1/√4320 = 1.5 %: 4σ), real and imaginary parts each σ²/2 within 4 % (std error
        √2/√69120 = 0.54 % of σ²/2: 7σ, a wrong split would be off by ≥ 100 %); correlations between antennas,
        between re and im and at lag 1 below 0.03 (std error 1/√4320 = 0.015 for one pair: 2σ is too tight for
        the max over 120 antenna pairs, whose expected max ≈ 3.2σ: bound 5σ ≈ 0.076 for those); P(|z|²/σ² > 3)
        = e⁻³ = 0.0498 within 0.006 (std error 0.00083: 7σ) and P(|z|²/σ² > 6) = e⁻⁶ = 0.00248 within 0.0008
        (std error 0.00019: 4σ): the exponential tail of a complex Gaussian, not a pool's or a clipped one."""
        _, _, z, _, _ = run(rx_node=0, noise=True, channel_seed=7, amplitude_scale=0.0)
        z = np.asarray(z, dtype=complex) / np.sqrt(SCENARIO.noise_power)  # (Mr, samples), unit variance
        self.assertEqual(z.shape[0], SCENARIO.rx_antennas)
        power = np.mean(np.abs(z) ** 2, axis=1)
        self.assertLess(np.max(np.abs(power - 1)), 0.06)
        self.assertLess(abs(np.mean(z.real ** 2) / 0.5 - 1), 0.04)
        self.assertLess(abs(np.mean(z.imag ** 2) / 0.5 - 1), 0.04)
        self.assertLess(abs(np.mean(z.real * z.imag)) / 0.5, 0.03)
        lag1 = np.abs(np.mean(z[:, 1:] * np.conj(z[:, :-1]), axis=1))
        self.assertLess(np.max(lag1), 0.076)
        cross = np.abs(z @ z.conj().T) / z.shape[1]
        self.assertLess(np.max(cross[~np.eye(len(cross), dtype=bool)]), 0.076)
        energy = np.abs(z) ** 2
        self.assertLess(abs(np.mean(energy > 3) - np.exp(-3)), 0.006)
        self.assertLess(abs(np.mean(energy > 6) - np.exp(-6)), 0.0008)


if __name__ == "__main__":
    gr_unittest.run(qa_sensing_channel)
