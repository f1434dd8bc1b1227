#!/usr/bin/env python3
# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""qa for sigmf_record: the data file holds every input sample, channels interleaved (nothing lost, nothing
changed); every rx_time tag is a capture segment with its exact time and global index, an overflow an
annotation with the samples lost; the metadata carries the rate, the centre frequency, the gains, the
scenario (as TOML, without impairments) and the calibration file; a bad directory, an existing recording
and a bad rx_time value are named."""

import json
import os
import tempfile

import numpy as np
import pmt
from gnuradio import blocks, gr, gr_unittest

from gnuradio.disac.blocks.sigmf_record import sigmf_record
from gnuradio.disac.blocks import tags
from gnuradio.disac.core import recording
from gnuradio.disac.core.calibration import identity_calibration, load_calibration
from gnuradio.disac.core.scenario import load_scenario, scenario_from_dict, scenario_to_toml

SCENARIO = load_scenario("paper")  # Mr = 16, B = 10 MHz
MR, FS = SCENARIO.rx_antennas, SCENARIO.bandwidth_hz
EPOCH = (1_800_000_000, 0.25)  # a Unix time: its integer and fraction must both survive exactly


def rx_time_tag(offset, full, frac):
    return gr.tag_utils.python_to_tag((offset, pmt.intern("rx_time"), tags.rx_time_value((full, frac))))


def streams(count, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((MR, count)) + 1j * rng.standard_normal((MR, count))).astype(np.complex64)


def record(directory, x, tag_lists, **kw):
    tb = gr.top_block()
    recorder = sigmf_record(SCENARIO, 1, directory, rx_antennas=MR, **kw)
    for r in range(MR):
        tb.connect(blocks.vector_source_c(x[r], False, 1, tag_lists[r]), (recorder, r))
    tb.run()
    return recorder


class qa_sigmf_record(gr_unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = os.path.join(self.tmp.name, "captures", "run1")  # created by the recorder

    def tearDown(self):
        self.tmp.cleanup()

    def test_samples_interleaved_and_rx_time_as_captures_with_the_overflow_annotated(self):
        x = streams(70_000)  # more than one scheduler call
        lost, resume = 1000, 40_000  # an overflow: 1000 samples dropped before sample 40 000
        later = recording.split_time(EPOCH[0], EPOCH[1] + (resume + lost) / FS)
        tag_lists = [[rx_time_tag(0, *EPOCH), rx_time_tag(resume, *later)] for _ in range(MR)]  # gr-uhd: all channels
        recorder = record(self.dir, x, tag_lists, radio="usrp", center_freq_hz=3.5e9, tx_gain_db=10.0,
                          rx_gain_db=20.0, epoch_s=EPOCH[0] + EPOCH[1])
        self.assertEqual(recorder.meta_path.name, "node-2.sigmf-meta")  # node_id 1 = --node-number 2
        data = np.fromfile(recorder.data_path, np.complex64).reshape(-1, MR).T
        np.testing.assert_array_equal(data, x)  # bit-exact: complex64 in, cf32_le out
        meta = json.loads(recorder.meta_path.read_text())
        info, captures = meta["global"], meta["captures"]
        self.assertEqual((info["core:datatype"], info["core:num_channels"], info["core:sample_rate"]), ("cf32_le", MR, FS))
        self.assertEqual((info["disac:tx_gain_db"], info["disac:rx_gain_db"], info["disac:radio"]), (10.0, 20.0, "usrp"))
        self.assertEqual(info["disac:epoch_s"], [EPOCH[0], EPOCH[1]])
        self.assertEqual([c["core:sample_start"] for c in captures], [0, resume])
        self.assertEqual([c["core:global_index"] for c in captures], [0, resume + lost])  # the lost samples counted
        self.assertEqual([c["disac:rx_time"] for c in captures], [list(EPOCH), list(later)])  # exact, not one float
        self.assertEqual({c["core:frequency"] for c in captures}, {3.5e9})
        self.assertTrue(captures[0]["core:datetime"].startswith("2027-01-15T08:00:00.25"), captures[0]["core:datetime"])
        self.assertEqual([(a["core:sample_start"], a["core:label"], a["disac:samples_lost"]) for a in meta["annotations"]],
                         [(resume, "overflow", lost)])
        self.assertEqual(recorder.captures, 2)
        self.assertIsNone(recorder.error)

    def test_the_scenario_is_written_without_impairments_and_the_calibration_embedded(self):
        path = identity_calibration(SCENARIO).save(os.path.join(self.tmp.name, "cal.json"))
        recorder = record(self.dir, streams(100), [[] for _ in range(MR)], calibration_file=path)
        info = json.loads(recorder.meta_path.read_text())["global"]
        self.assertEqual(info["disac:calibration"], json.loads(open(path).read()))
        self.assertEqual(recording.RecordingReader(self.dir, 1).calibration_object().to_dict(),
                         load_calibration(path).to_dict())
        import tomllib
        table = tomllib.loads(info["disac:scenario"])
        self.assertNotIn("impairments", table)
        self.assertEqual(scenario_to_toml(scenario_from_dict(table, SCENARIO.name)), info["disac:scenario"])
        self.assertNotIn(recording.GROUND_TRUTH_KEY, info)  # not asked for

    def test_impairments_never_reach_the_scenario_text_only_the_separate_ground_truth(self):
        lab = SCENARIO.with_impairments("lab")
        tb = gr.top_block()
        recorder = sigmf_record(lab, 0, self.dir, ground_truth=True)
        for r in range(MR):
            tb.connect(blocks.vector_source_c(np.zeros(10, np.complex64)), (recorder, r))
        tb.run()
        info = json.loads(recorder.meta_path.read_text())["global"]
        self.assertEqual(info["disac:scenario"], scenario_to_toml(lab.without_impairments()))
        import tomllib  # issue 14: only the transmitter's bin layout (guard/DC bins) is kept, no truth
        self.assertLessEqual(set(tomllib.loads(info["disac:scenario"]).get("impairments", {})),
                             {"guard_subcarriers", "guard_fraction", "dc_null"})
        self.assertEqual(info[recording.GROUND_TRUTH_KEY], {"impairments": json.loads(json.dumps(
            lab.impairments_table))})
        usrp = sigmf_record(lab, 1, self.dir, radio="usrp", ground_truth=True)  # a real radio has no truth to give
        usrp.stop()
        self.assertNotIn(recording.GROUND_TRUTH_KEY, json.loads(usrp.meta_path.read_text())["global"])

    def test_samples_without_any_rx_time_are_one_capture_without_a_time(self):
        recorder = record(self.dir, streams(500), [[] for _ in range(MR)])
        captures = json.loads(recorder.meta_path.read_text())["captures"]
        self.assertEqual(captures, [{"core:sample_start": 0, "core:global_index": 0}])
        self.assertEqual(recorder.samples_recorded, 500)

    def test_a_bad_rx_time_value_is_counted_and_skipped(self):
        bad = gr.tag_utils.python_to_tag((10, pmt.intern("rx_time"), pmt.from_double(1.5)))
        recorder = record(self.dir, streams(100), [[rx_time_tag(0, *EPOCH), bad]] + [[] for _ in range(MR - 1)])
        self.assertEqual((recorder.bad_time_tags, recorder.captures), (1, 1))

    def test_a_running_recording_is_on_disk_and_readable_before_the_end(self):
        """Flushed as it goes: mid-run, the files hold at least every sample counted so far and read back as a
        valid recording (what a killed run leaves)."""
        import time
        from gnuradio import analog
        tb = gr.top_block()
        recorder = sigmf_record(SCENARIO, 0, self.dir)
        noise = analog.fastnoise_source_c(analog.GR_GAUSSIAN, 1.0, 0, 8192)  # endless
        for r in range(MR):
            tb.connect(noise, (recorder, r))
        tb.start()
        try:
            deadline = time.monotonic() + 60  # generous on a loaded machine; the event is what is waited for
            while recorder.samples_recorded < 200_000 and time.monotonic() < deadline:
                time.sleep(0.01)
            counted = recorder.samples_recorded
            self.assertGreaterEqual(counted, 200_000)
            reader = recording.RecordingReader(self.dir, 0)
            self.assertGreaterEqual(reader.num_samples, counted)  # on disk already, not in a buffer
            block = reader.read(counted - 10, 10)
            np.testing.assert_array_equal(block[0], block[MR - 1])  # one source fanned out: channels equal
        finally:
            tb.stop()
            tb.wait()
        self.assertEqual(recording.RecordingReader(self.dir, 0).num_samples, recorder.samples_recorded)

    def test_a_failed_write_is_counted_and_logged_and_the_flowgraph_runs_on(self):
        x = streams(5000)
        tb = gr.top_block()
        recorder = sigmf_record(SCENARIO, 0, self.dir)

        def disk_full(samples):
            raise OSError(28, "No space left on device")
        recorder.writer.append = disk_full
        for r in range(MR):
            tb.connect(blocks.vector_source_c(x[r]), (recorder, r))
        tb.run()  # ends by itself: nothing raised in work()
        self.assertIn("No space left", recorder.error)
        self.assertEqual((recorder.samples_recorded, recorder.samples_dropped), (0, 5000))

    def test_bad_directories_and_an_existing_recording_are_named(self):
        a_file = os.path.join(self.tmp.name, "file")
        open(a_file, "w").close()
        with self.assertRaisesRegex(ValueError, "is a file"):
            sigmf_record(SCENARIO, 0, a_file)
        with self.assertRaisesRegex(ValueError, "cannot be created"):
            sigmf_record(SCENARIO, 0, os.path.join(a_file, "below"))
        with self.assertRaisesRegex(ValueError, "give a directory"):
            sigmf_record(SCENARIO, 0, "")
        record(self.dir, streams(10), [[] for _ in range(MR)])
        with self.assertRaisesRegex(ValueError, "never overwritten"):
            sigmf_record(SCENARIO, 1, self.dir)
        sigmf_record(SCENARIO, 0, self.dir).stop()  # another node's recording in the same directory is fine
        with self.assertRaisesRegex(ValueError, "node_id"):
            sigmf_record(SCENARIO, 5, self.dir)
        with self.assertRaisesRegex(ValueError, "frequency_grid = 'centered'"):
            sigmf_record(SCENARIO, 0, self.dir, frequency_grid="centered")
        with self.assertRaisesRegex(ValueError, "radio"):
            sigmf_record(SCENARIO, 0, self.dir, radio="b210")
        with self.assertRaisesRegex(ValueError, "calibration_file"):
            sigmf_record(SCENARIO, 0, os.path.join(self.tmp.name, "x"), calibration_file=a_file)
        with open(a_file, "w") as handle:
            json.dump({"format": "something else"}, handle)
        with self.assertRaisesRegex(ValueError, "format"):
            sigmf_record(SCENARIO, 0, os.path.join(self.tmp.name, "x"), calibration_file=a_file)
        self.assertFalse(os.path.exists(os.path.join(self.tmp.name, "x")))  # refused before anything was made


if __name__ == "__main__":
    gr_unittest.run(qa_sigmf_record)
