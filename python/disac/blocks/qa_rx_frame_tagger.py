#!/usr/bin/env python3
# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""qa for rx_frame_tagger.

Without rx_time (sample counting, the behaviour before issue 13): a frame tag at offset + f·frame_len for
every frame f with the version from the transmit log (or 0 without one), other tags dropped (a malformed
rx_time too, counted), samples unchanged on every stream, the stream ended after max_frames.

From rx_time (issue 13 item 3): on a stream with the labels a radio gives (a first label and overflows that
lose samples, re-tagged gr-uhd style), frame f is tagged exactly at the sample labelled epoch + (f·frame_len +
offset)/fs, every frame cut by an overflow is dropped and counted (partial, lost), the result is the same
however the stream is cut into work calls, a negative offset (a calibrated frame start) counts the frames
before the stream's start, a jump of hours is skipped at once, and the set identity comes from the log.
Bad parameters are named."""

import numpy as np
import pmt
from gnuradio import blocks, gr, gr_unittest

from gnuradio.disac.blocks import tags
from gnuradio.disac.blocks.rx_frame_tagger import rx_frame_tagger
from gnuradio.disac.core import ofdm
from gnuradio.disac.core.scenario import load_scenario

SCENARIO = load_scenario("paper")  # Mr = 16
FRAME_LEN = ofdm.layout_from_scenario(SCENARIO).frame_len


RATE = SCENARIO.bandwidth_hz
EPOCH = (tags.SYNTHETIC_EPOCH_S, 0.25)  # a fraction on purpose: the (seconds, fraction) arithmetic


class fixed_log:
    """A transmit log stand-in: version = frame // 3 (as if a new set every 3 frames), identity 1000 + version."""

    def version_of(self, frame):
        return frame // 3

    def precoder_id_of(self, frame):
        return 1000 + frame // 3

    def last_version(self):
        return 0


def rx_time_tag(offset, label_samples, epoch=EPOCH):
    return gr.tag_utils.python_to_tag((offset, tags.rx_time_key(),
                                       tags.rx_time_value(tags.label_time(epoch, label_samples, RATE))))


def radio_stream(total_samples, first_label, gaps, seed=1):
    """What a radio's receiver hands on: samples labelled first_label, first_label + 1, … except the label
    ranges ``gaps`` [(first lost label, samples lost)], with an rx_time tag at the first sample and at the
    sample after every gap. Returns (samples (Mr, S), labels (S,), tags)."""
    labels = np.arange(first_label, first_label + total_samples)
    keep = np.ones(total_samples, bool)
    for lost, length in gaps:
        keep &= ~((labels >= lost) & (labels < lost + length))
    labels = labels[keep]
    jumps = [0] + [int(i) + 1 for i in np.flatnonzero(np.diff(labels) != 1)]
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((SCENARIO.rx_antennas, labels.size)) + 1j).astype(np.complex64)
    return x, labels, [rx_time_tag(k, labels[k]) for k in jumps]


def expected_frames(labels, offset, frames):
    """{frame: stream offset} of the frames wholly received (consecutive labels), and the count of the others
    split as (partial: some samples received, lost: none), from the labels alone."""
    where = {int(label): k for k, label in enumerate(labels)}
    placed, partial, lost = {}, 0, 0
    for f in range(frames):
        first = f * FRAME_LEN + offset
        got = [where.get(first + j) for j in range(FRAME_LEN)]
        if all(g is not None for g in got) and got[-1] - got[0] == FRAME_LEN - 1:
            placed[f] = got[0]
        elif any(g is not None for g in got):
            partial += 1
        else:
            lost += 1
    return placed, partial, lost


def run_radio(x, stream_tags, offset=0, max_frames=0, chunk=0, epoch=EPOCH, tx_log=None):
    mr = SCENARIO.rx_antennas
    tb = gr.top_block()
    tagger = rx_frame_tagger(SCENARIO, 1, mr, tx_log, max_frames, offset, epoch)
    if chunk:
        tagger.set_max_noutput_items(chunk)  # the tagger's work calls see at most ``chunk`` samples
    sinks = [blocks.vector_sink_c() for _ in range(mr)]
    for r in range(mr):
        tb.connect(blocks.vector_source_c(x[r], False, 1, stream_tags), (tagger, r), sinks[r])
    tb.run()
    found = {tags.parse_frame_tag(t.value)[0]: t.offset for t in sinks[0].tags()}
    return found, sinks, tagger


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
            rx_frame_tagger(SCENARIO, 0, 0, None, 0, 1.5)
        with self.assertRaisesRegex(ValueError, "time"):
            rx_frame_tagger(SCENARIO, 0, 0, None, 0, 0, float("nan"))

    def test_a_malformed_rx_time_is_counted_and_ignored(self):
        _, _, tagger = run(None, 0, 3)  # the stray rx_time of run() is a bare double
        self.assertEqual((tagger.rx_time_rejected, tagger.rx_time_jumps), (1, 0))

    def test_frames_from_rx_time_after_overflows_whatever_the_work_calls(self):
        """Overflows every 7 frames, losing 250 samples (more than two frames) at uneven places: every frame
        received whole is tagged at the sample labelled f·frame_len + offset, each other one is counted,
        partial or lost, and the tags do not depend on how the stream is cut into work calls."""
        frames, offset, first_label = 60, 3, 0
        gaps = [(f * FRAME_LEN + (37 * f) % FRAME_LEN, 250) for f in range(6, frames, 7)]
        x, labels, stream_tags = radio_stream(frames * FRAME_LEN, first_label, gaps)
        placed, partial, lost = expected_frames(labels, offset, frames - 1)
        self.assertGreater(partial, 0)
        self.assertGreater(lost, 0)
        for chunk in (0, FRAME_LEN, 2 * FRAME_LEN + 1, 1000):
            with self.subTest(chunk=chunk):
                found, sinks, tagger = run_radio(x, stream_tags, offset, frames - 1, chunk)
                self.assertEqual(found, placed)
                self.assertEqual((tagger.overflow_partial, tagger.overflow_lost, tagger.frames_before_start),
                                 (partial, lost, 0))
                self.assertEqual(tagger.rx_time_jumps, len(gaps))
                self.assertEqual(tagger.frames_accounted, frames - 1)
                for r in (0, SCENARIO.rx_antennas - 1):  # samples unchanged, at least to the last frame's end
                    out = np.asarray(sinks[r].data())
                    self.assertGreaterEqual(out.size, max(placed.values()) + FRAME_LEN)
                    np.testing.assert_array_equal(out, x[r][:out.size])

    def test_the_first_label_places_frame_0_and_a_negative_offset_counts_frames_before_the_start(self):
        """A radio whose first sample is labelled epoch + 40 samples: frame 1 (offset −5) starts at the sample
        labelled frame_len − 5, i.e. stream sample frame_len − 45; frame 0 started before the stream."""
        x, labels, stream_tags = radio_stream(8 * FRAME_LEN, 40, [])
        found, _, tagger = run_radio(x, stream_tags, -5)
        self.assertEqual(found, {f: f * FRAME_LEN - 45 for f in range(1, 8)})
        self.assertEqual(tagger.frames_before_start, 1)

    def test_without_an_epoch_the_first_label_continues_the_count(self):
        """epoch None: only a later jump moves frames (here 30 samples lost across the end of frame 2: frames 2
        and 3 cut, the later ones placed from the new label); a last frame that ends the stream goes out whole
        (node_rx needs all of it)."""
        x, labels, stream_tags = radio_stream(8 * FRAME_LEN, 12345, [(12345 + 2 * FRAME_LEN + 90, 30)])
        found, sinks, tagger = run_radio(x, stream_tags, 0, epoch=None)
        self.assertEqual(len(sinks[0].data()), x.shape[1])  # the last frame ends the stream: passed on whole
        self.assertEqual(found, {0: 0, 1: FRAME_LEN, 4: 4 * FRAME_LEN - 30, 5: 5 * FRAME_LEN - 30,
                                 6: 6 * FRAME_LEN - 30, 7: 7 * FRAME_LEN - 30})
        self.assertEqual((tagger.overflow_partial, tagger.overflow_lost), (2, 0))

    def test_a_jump_of_an_hour_is_counted_at_once(self):
        """A radio's clock jumping an hour ahead 10 samples into frame 2: frame 2 cut, the ~3·10⁸ frames of the
        hour counted in one step (not one loop turn each), the frames after it placed from the new label."""
        hour = int(3600 * RATE)
        x, _, _ = radio_stream(8 * FRAME_LEN, 0, [])
        after = 2 * FRAME_LEN + 10 + hour  # the label of stream sample 2·frame_len + 10
        found, _, tagger = run_radio(x, [rx_time_tag(0, 0), rx_time_tag(2 * FRAME_LEN + 10, after)], 0)
        first_after = -(-after // FRAME_LEN)  # the first frame starting after the jump
        self.assertEqual(sorted(found)[:2], [0, 1])
        self.assertEqual(sorted(found)[2], first_after)
        self.assertEqual(found[first_after], 2 * FRAME_LEN + 10 + first_after * FRAME_LEN - after)
        self.assertEqual(tagger.overflow_lost + tagger.overflow_partial, first_after - 2)
        self.assertEqual(tagger.overflow_partial, 2)  # frame 2 (head received) and the one the jump lands in

    def test_versions_and_set_identities_from_the_log(self):
        x, labels, stream_tags = radio_stream(7 * FRAME_LEN, 0, [])
        tb = gr.top_block()
        tagger = rx_frame_tagger(SCENARIO, 1, SCENARIO.rx_antennas, fixed_log(), 6, 0, EPOCH)
        sink = blocks.vector_sink_c()
        for r in range(SCENARIO.rx_antennas):
            tb.connect(blocks.vector_source_c(x[r], False, 1, stream_tags), (tagger, r))
        tb.connect((tagger, 0), sink)
        for r in range(1, SCENARIO.rx_antennas):
            tb.connect((tagger, r), blocks.null_sink(gr.sizeof_gr_complex))
        tb.run()
        self.assertEqual([(tags.parse_frame_tag(t.value), tags.frame_tag_precoder_id(t.value)) for t in sink.tags()],
                         [((f, 1, f // 3), 1000 + f // 3) for f in range(6)])


if __name__ == "__main__":
    gr_unittest.run(qa_rx_frame_tagger)
