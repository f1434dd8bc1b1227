#!/usr/bin/env python3
# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""qa for sigmf_replay: a recording played back gives exactly the recorded samples on every channel and an
rx_time tag, with the recorded value, at every recorded label on every channel (what gr-uhd hands the
receive chain); the stream ends after the last sample; a trailing partial sample is left out; a missing
recording and one that does not fit the scenario (channels, rate) are named."""

import os
import tempfile

import numpy as np
import pmt
from gnuradio import blocks, gr, gr_unittest

from gnuradio.disac.blocks import tags
from gnuradio.disac.blocks.sigmf_record import sigmf_record
from gnuradio.disac.blocks.sigmf_replay import sigmf_replay
from gnuradio.disac.core import recording
from gnuradio.disac.core.scenario import load_scenario

SCENARIO = load_scenario("paper")
MR, FS = SCENARIO.rx_antennas, SCENARIO.bandwidth_hz


def tagged_streams(count, labels, seed=3):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((MR, count)) + 1j * rng.standard_normal((MR, count))).astype(np.complex64)
    tag_lists = [[gr.tag_utils.python_to_tag((offset, pmt.intern("rx_time"), tags.rx_time_value(label)))
                  for offset, label in labels] for _ in range(MR)]
    return x, tag_lists


class qa_sigmf_replay(gr_unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def test_round_trip_gives_the_samples_and_the_rx_time_tags_back(self):
        labels = [(0, (1_800_000_000, 0.123456789012)), (30_000, (1_800_000_000, 0.5)), (65_000, (1_800_000_001, 0.0))]
        x, tag_lists = tagged_streams(90_000, labels)
        tb = gr.top_block()
        recorder = sigmf_record(SCENARIO, 0, self.dir)
        for r in range(MR):
            tb.connect(blocks.vector_source_c(x[r], False, 1, tag_lists[r]), (recorder, r))
        tb.run()

        tb = gr.top_block()
        replay = sigmf_replay(SCENARIO, 0, self.dir, MR)
        sinks = [blocks.vector_sink_c() for _ in range(MR)]
        for r in range(MR):
            tb.connect((replay, r), sinks[r])
        tb.run()  # ends by itself: WORK_DONE after the last sample
        self.assertTrue(replay.done)
        for r, sink in enumerate(sinks):
            np.testing.assert_array_equal(np.asarray(sink.data(), np.complex64), x[r])
            found = [(t.offset, pmt.symbol_to_string(t.key), tags.parse_rx_time(t.value)) for t in sink.tags()]
            self.assertEqual(found, [(offset, "rx_time", label) for offset, label in labels])  # exact values

    def test_a_missing_or_mismatched_recording_is_named(self):
        with self.assertRaisesRegex(ValueError, "no SigMF recording .*node-1.sigmf-meta"):
            sigmf_replay(SCENARIO, 0, self.dir)
        writer = recording.RecordingWriter(self.dir, 0, MR - 1, FS, "")
        writer.append(np.zeros((MR - 1, 10)))
        writer.close()
        with self.assertRaisesRegex(ValueError, "15 channels.*Mr = 16"):
            sigmf_replay(SCENARIO, 0, self.dir)
        writer = recording.RecordingWriter(self.dir, 1, MR, FS / 2, "")
        writer.close()
        with self.assertRaisesRegex(ValueError, "recorded at 5000000 S/s"):
            sigmf_replay(SCENARIO, 1, self.dir)
        torn = recording.RecordingWriter(os.path.join(self.dir, "torn"), 0, MR, FS, "")
        torn.append(np.ones((MR, 3)))
        torn.close()
        with open(torn.data_path, "ab") as handle:
            handle.write(b"\0" * 4)  # a run killed in the middle of a sample
        replay = sigmf_replay(SCENARIO, 0, os.path.join(self.dir, "torn"))
        self.assertEqual((replay.reader.num_samples, replay.reader.partial_bytes), (3, 4))  # whole samples only


if __name__ == "__main__":
    gr_unittest.run(qa_sigmf_replay)
