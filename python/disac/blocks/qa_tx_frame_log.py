#!/usr/bin/env python3
# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""qa for tx_frame_log: the precoder version of every frame from isac_tx-style frame tags (change points
only), and the identity of its precoder set (a change of identity alone is a change point), None for a frame
not reached while running, the last version after the end; bad capacity named."""

import numpy as np
import pmt
from gnuradio import blocks, gr, gr_unittest

from gnuradio.disac.blocks import tags
from gnuradio.disac.blocks.tx_frame_log import tx_frame_log

FRAME_LEN = 10


def tagged_source(versions, identities=None):
    identities = [0] * len(versions) if identities is None else identities
    frame_tags = [gr.tag_utils.python_to_tag((f * FRAME_LEN, pmt.intern(tags.FRAME_TAG_KEY),
                                              tags.frame_tag_value(f, 0, v, i)))
                  for f, (v, i) in enumerate(zip(versions, identities))]
    return blocks.vector_source_c(np.zeros(len(versions) * FRAME_LEN, np.complex64), False, 1, frame_tags)


class qa_tx_frame_log(gr_unittest.TestCase):

    def test_versions_by_frame(self):
        versions = [0, 0, 1, 1, 1, 4, 4]
        log = tx_frame_log()
        self.assertIsNone(log.version_of(0))  # nothing logged yet, stream not ended
        self.assertEqual(log.last_version(), 0)
        tb = gr.top_block()
        tb.connect(tagged_source(versions), log)
        tb.run()
        self.assertEqual(log.first_frames, [0, 2, 5])  # change points only
        self.assertEqual([log.version_of(f) for f in range(len(versions))], versions)
        self.assertEqual(log.version_of(100), 4)  # after the end: the last version
        self.assertEqual(log.latest_frame, len(versions) - 1)

    def test_precoder_set_identity_by_frame(self):
        """The rx framing gives node_rx each frame's set identity from here (the central unit localises a frame
        with the set that made it): a new identity with the same version is a change point too."""
        versions, identities = [0, 0, 1, 1, 1], [0, 0, 77, 78, 78]
        log = tx_frame_log()
        self.assertIsNone(log.precoder_id_of(0))
        self.assertEqual(log.last_precoder_id(), 0)
        tb = gr.top_block()
        tb.connect(tagged_source(versions, identities), log)
        tb.run()
        self.assertEqual(log.first_frames, [0, 2, 3])
        self.assertEqual([log.precoder_id_of(f) for f in range(5)], identities)
        self.assertEqual([log.version_of(f) for f in range(5)], versions)
        self.assertEqual(log.last_precoder_id(), 78)

    def test_capacity_forgets_the_oldest_change(self):
        log = tx_frame_log(capacity=2)
        tb = gr.top_block()
        tb.connect(tagged_source([1, 2, 3]), log)
        tb.run()
        self.assertEqual(log.versions, [2, 3])
        self.assertEqual(log.version_of(0), 2)  # forgotten: the oldest kept

    def test_bad_capacity_is_named(self):
        for capacity in (0, -1, 1.5, True):
            with self.assertRaisesRegex(ValueError, "capacity"):
                tx_frame_log(capacity)


if __name__ == "__main__":
    gr_unittest.run(qa_tx_frame_log)
