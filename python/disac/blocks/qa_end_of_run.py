#!/usr/bin/env python3
# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""qa for end_of_run: the run ends (done set, top block stopped) on the estimate of the last frame, on a
status that shows every frame through, or on the last frame's snapshot PDU (single or batched) — and not
before; frames = 0 never ends; other messages are ignored, never raised; bad parameters named."""

import numpy as np
import pmt
from gnuradio import gr_unittest

from gnuradio.disac.blocks import tags
from gnuradio.disac.blocks.end_of_run import end_of_run


class recording_top:
    """A stand-in top block: counts stop() calls."""

    def __init__(self):
        self.stops = 0

    def stop(self):
        self.stops += 1


def as_dict(**items):
    d = pmt.make_dict()
    for key, value in items.items():
        d = pmt.dict_add(d, pmt.intern(key), pmt.from_long(value))
    return d


class qa_end_of_run(gr_unittest.TestCase):

    def ended(self, messages, frames=10):
        top = recording_top()
        block = end_of_run(top, frames, grace_s=0.0)
        for msg in messages:
            block.handle(msg)
        if block.done.is_set():
            block._timer.join(5.0)  # the stop is made from a helper thread after the grace time
        return block.done.is_set(), top.stops

    def test_the_estimate_of_the_last_frame_ends_the_run(self):
        self.assertEqual(self.ended([as_dict(frame=f) for f in range(9)]), (False, 0))
        self.assertEqual(self.ended([as_dict(frame=f) for f in range(10)]), (True, 1))

    def test_a_status_with_every_frame_through_ends_the_run(self):
        short = as_dict(frames_released=10, frames_localised=8, frames_skipped=1, queued_frames=1)
        through = as_dict(frames_released=10, frames_localised=8, frames_skipped=2, queued_frames=0)
        self.assertEqual(self.ended([short]), (False, 0))
        self.assertEqual(self.ended([short, through]), (True, 1))

    def test_the_last_snapshot_ends_the_run(self):
        samples = np.zeros((2, 16, 1), np.complex64)
        single = tags.snapshot_to_pmt(tags.snapshot_meta(0, samples.shape[1:]), 9, 0, samples[0])
        self.assertEqual(self.ended([single]), (True, 1))
        meta = pmt.dict_add(pmt.make_dict(), pmt.intern("frames"), pmt.init_u64vector(2, [8, 9]))
        self.assertEqual(self.ended([pmt.cons(meta, pmt.init_c32vector(1, [0j]))]), (True, 1))

    def test_endless_runs_and_other_messages_never_end(self):
        self.assertEqual(self.ended([as_dict(frame=99)], frames=0), (False, 0))
        self.assertEqual(self.ended([pmt.intern("x"), pmt.from_long(3), as_dict(other=1)]), (False, 0))

    def test_bad_parameters_are_named(self):
        with self.assertRaisesRegex(ValueError, "frames"):
            end_of_run(None, -1)
        with self.assertRaisesRegex(ValueError, "grace_s"):
            end_of_run(None, 1, -0.5)


if __name__ == "__main__":
    gr_unittest.run(qa_end_of_run)
