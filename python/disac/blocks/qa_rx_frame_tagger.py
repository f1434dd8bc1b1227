#!/usr/bin/env python3
# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""qa for rx_frame_tagger: a frame tag at offset + f·frame_len for every frame f with the version from the
transmit log (or 0 without one), other tags dropped, samples unchanged on every stream, the stream ended
after max_frames; bad parameters named."""

import numpy as np
import pmt
from gnuradio import blocks, gr, gr_unittest

from gnuradio.disac.blocks import tags
from gnuradio.disac.blocks.rx_frame_tagger import rx_frame_tagger
from gnuradio.disac.core import ofdm
from gnuradio.disac.core.scenario import load_scenario

SCENARIO = load_scenario("paper")  # Mr = 16
FRAME_LEN = ofdm.layout_from_scenario(SCENARIO).frame_len


class fixed_log:
    """A transmit log stand-in: version = frame // 3 (as if a new set every 3 frames)."""

    def version_of(self, frame):
        return frame // 3

    def last_version(self):
        return 0


def run(tx_log, offset, max_frames, total_frames=10):
    mr = SCENARIO.rx_antennas
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((mr, total_frames * FRAME_LEN)) + 0j).astype(np.complex64)
    stray = gr.tag_utils.python_to_tag((5, pmt.intern("rx_time"), pmt.from_double(1.0)))
    tb = gr.top_block()
    tagger = rx_frame_tagger(SCENARIO, 1, mr, tx_log, max_frames, offset)
    sinks = [blocks.vector_sink_c() for _ in range(mr)]
    for r in range(mr):
        tb.connect(blocks.vector_source_c(x[r], False, 1, [stray] if r == 0 else []), (tagger, r), sinks[r])
    tb.run()
    return x, sinks, tagger


class qa_rx_frame_tagger(gr_unittest.TestCase):

    def test_tags_at_the_frame_starts_with_the_logged_versions(self):
        offset, frames = 7, 5
        x, sinks, tagger = run(fixed_log(), offset, frames)
        found = [(t.offset, tags.parse_frame_tag(t.value)) for t in sinks[0].tags()]
        self.assertEqual(found, [(offset + f * FRAME_LEN, (f, 1, f // 3)) for f in range(frames)])  # rx_time dropped
        self.assertEqual(tagger.frames_tagged, frames)
        for r, sink in enumerate(sinks):  # samples unchanged, up to the end of the last frame
            np.testing.assert_array_equal(np.asarray(sink.data()), x[r][:offset + frames * FRAME_LEN])

    def test_without_a_log_every_frame_is_version_0(self):
        _, sinks, _ = run(None, 0, 3)
        self.assertEqual([tags.parse_frame_tag(t.value)[2] for t in sinks[0].tags()], [0, 0, 0])

    def test_bad_parameters_are_named(self):
        with self.assertRaisesRegex(ValueError, "node_id"):
            rx_frame_tagger(SCENARIO, 2)
        with self.assertRaisesRegex(ValueError, "rx_antennas"):
            rx_frame_tagger(SCENARIO, 0, 4)
        with self.assertRaisesRegex(ValueError, "max_frames"):
            rx_frame_tagger(SCENARIO, 0, 0, None, -1)
        with self.assertRaisesRegex(ValueError, "offset_samples"):
            rx_frame_tagger(SCENARIO, 0, 0, None, 0, -1)


if __name__ == "__main__":
    gr_unittest.run(qa_rx_frame_tagger)
