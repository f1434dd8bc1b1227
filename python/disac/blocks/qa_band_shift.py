#!/usr/bin/env python3
# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""qa for band_shift: every stream multiplied by (−1)^n from its first sample (numpy reference), so a tone
at bin l of an L-point FFT moves to bin l + L/2; bad stream counts named."""

import numpy as np
from gnuradio import blocks, gr, gr_unittest

from gnuradio.disac.blocks.band_shift import band_shift


class qa_band_shift(gr_unittest.TestCase):

    def test_every_stream_times_minus_one_to_the_n(self):
        rng = np.random.default_rng(3)
        streams, count = 3, 4096
        x = (rng.standard_normal((streams, count)) + 1j * rng.standard_normal((streams, count))).astype(np.complex64)
        tb = gr.top_block()
        shift = band_shift(streams)
        sinks = [blocks.vector_sink_c() for _ in range(streams)]
        for i in range(streams):
            tb.connect(blocks.vector_source_c(x[i], False), (shift, i), sinks[i])
        tb.run()
        expected = x * ((-1.0) ** np.arange(count))
        # gr-blocks' rotator steps by the single-precision e^{jπ}, whose imaginary part is sin(float32(π))
        # ≈ −8.74e-8: a phase drift of ~8.74e-8 rad per sample (0.14 Hz at B = 10 MHz, absorbed by the
        # per-frame unknown phase). Bound: n·1e-7 rad + 1e-6 rounding, far below a wrong shift (order 1).
        bound = (np.arange(count) * 1e-7 + 1e-6) * np.abs(x)
        for i, sink in enumerate(sinks):
            error = np.abs(np.asarray(sink.data()) - expected[i])
            self.assertTrue(np.all(error <= bound[i]), float(np.max(error / bound[i])))

    def test_a_tone_moves_by_half_the_band(self):
        L, l = 16, 3
        n = np.arange(L * 8)
        tone = np.exp(2j * np.pi * l * n / L).astype(np.complex64)
        tb = gr.top_block()
        sink = blocks.vector_sink_c()
        tb.connect(blocks.vector_source_c(tone, False), band_shift(1), sink)
        tb.run()
        spectrum = np.abs(np.fft.fft(np.asarray(sink.data())[:L]))
        self.assertEqual(int(np.argmax(spectrum)), l + L // 2)

    def test_bad_stream_counts_are_named(self):
        for count in (0, -2, 1.5, True):
            with self.assertRaisesRegex(ValueError, "num_streams"):
                band_shift(count)


if __name__ == "__main__":
    gr_unittest.run(qa_band_shift)
