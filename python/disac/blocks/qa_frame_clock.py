#!/usr/bin/env python3
# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""qa for frame_clock: samples and tags pass unchanged in whole frames; frames whose time has passed go at
once; a frame is never released before epoch + f/rate (checked against the host clock at arrival); bad
parameters are named."""

import time

import numpy as np
import pmt
from gnuradio import blocks, gr, gr_unittest

from gnuradio.disac.blocks import tags
from gnuradio.disac.blocks.frame_clock import frame_clock
from gnuradio.disac.core import ofdm
from gnuradio.disac.core.scenario import load_scenario

SCENARIO = load_scenario("paper")
FRAME_LEN = ofdm.layout_from_scenario(SCENARIO).frame_len


class arrival_log(gr.sync_block):
    """Records the host time at which each frame's first sample arrives."""

    def __init__(self):
        gr.sync_block.__init__(self, name="arrival_log", in_sig=[np.complex64], out_sig=None)
        self.arrivals = {}

    def work(self, input_items, output_items):
        start, count = self.nitems_read(0), len(input_items[0])
        now = time.time()
        for frame in range(-(-start // FRAME_LEN), (start + count - 1) // FRAME_LEN + 1):
            self.arrivals[frame] = now
        return count


class qa_frame_clock(gr_unittest.TestCase):

    def test_passes_samples_and_tags_unchanged(self):
        frames = 6
        x = (np.arange(frames * FRAME_LEN) * (1 + 1j)).astype(np.complex64)
        tag = gr.tag_utils.python_to_tag((FRAME_LEN, pmt.intern(tags.FRAME_TAG_KEY), tags.frame_tag_value(1, 0, 3)))
        tb = gr.top_block()
        source, sink = blocks.vector_source_c(x, False, 1, [tag]), blocks.vector_sink_c()
        clock = frame_clock(SCENARIO, 1e6, epoch_s=0.0)  # every frame long due: flat out
        tb.connect(source, clock, sink)
        tb.run()
        np.testing.assert_array_equal(np.asarray(sink.data()), x)
        out_tags = sink.tags()
        self.assertEqual([t.offset for t in out_tags], [FRAME_LEN])
        self.assertEqual(tags.parse_frame_tag(out_tags[0].value), (1, 0, 3))

    def test_frames_are_released_no_earlier_than_their_time(self):
        frames, rate = 8, 20.0  # 0.4 s of frames
        epoch = time.time() + 0.1
        tb = gr.top_block()
        source = blocks.vector_source_c(np.zeros(frames * FRAME_LEN, np.complex64), False)
        clock, log = frame_clock(SCENARIO, rate, epoch), arrival_log()
        tb.connect(source, clock, log)
        tb.run()
        self.assertEqual(sorted(log.arrivals), list(range(frames)))
        for frame, arrived in log.arrivals.items():
            # never early (the clock sleeps until the due time; 1 ms for time.time() granularity)
            self.assertGreaterEqual(arrived, epoch + frame / rate - 1e-3, frame)

    def test_a_held_schedule_starts_when_its_epoch_is_set(self):
        """A clock made with its epoch an hour ahead holds every frame; set_epoch_s at run time starts the
        schedule there (how a driver starts the frames on an event, e.g. the first design at the transmitters)."""
        frames, rate = 6, 20.0
        tb = gr.top_block()
        source = blocks.vector_source_c(np.zeros(frames * FRAME_LEN, np.complex64), False)
        clock, log = frame_clock(SCENARIO, rate, time.time() + 3600.0), arrival_log()
        tb.connect(source, clock, log)
        tb.start()
        try:
            released_at = time.time() + 0.1
            clock.set_epoch_s(released_at)
            deadline = time.monotonic() + 60.0  # a bound for a stuck run only: the frames take 0.4 s
            while len(log.arrivals) < frames and time.monotonic() < deadline:
                time.sleep(0.02)
        finally:
            tb.stop()
            tb.wait()
        self.assertEqual(sorted(log.arrivals), list(range(frames)))  # without the new epoch: none for an hour
        for frame, arrived in log.arrivals.items():
            self.assertGreaterEqual(arrived, released_at + frame / rate - 1e-3, frame)
        with self.assertRaisesRegex(ValueError, "epoch_s"):
            clock.set_epoch_s(float("nan"))

    def test_bad_parameters_are_named(self):
        for rate in (0.0, -1.0, float("nan")):
            with self.assertRaisesRegex(ValueError, "frame_rate_hz"):
                frame_clock(SCENARIO, rate)
        with self.assertRaisesRegex(ValueError, "epoch_s"):
            frame_clock(SCENARIO, 10.0, float("inf"))


if __name__ == "__main__":
    gr_unittest.run(qa_frame_clock)
