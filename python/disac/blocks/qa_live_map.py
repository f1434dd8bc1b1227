#!/usr/bin/env python3
# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""qa for live_map, headless (QT_QPA_PLATFORM=offscreen, set here): messages posted through a running
flowgraph reach the model; the per-target RMSE equals numpy's over the assigned errors (estimates in any
order); tracks follow the message's track ids (or the position index without them); a precoder set gives
eq. (6)'s designed SINR and its own CRB ellipses; RMSE restarts with a new precoder version; every kind of
bad message is counted and dropped without raising, leaving the state as it was; the widget renders the
map (pixels of the ellipse colour, the estimates' colours) and redraws only when something changed."""

import os
import tempfile
import time

import numpy as np
import pmt
from gnuradio import gr, gr_unittest
from PyQt5 import QtGui, QtWidgets

from gnuradio.disac.blocks import tags
from gnuradio.disac.blocks.central_unit import estimate_to_pmt
from gnuradio.disac.blocks.live_map import live_map
from gnuradio.disac.core import fusion, sinr
from gnuradio.disac.core.scenario import load_scenario

APP = None  # the QApplication, made by the first test (offscreen: no X server needed)
SCENARIO = load_scenario("paper")
TRUTH = np.asarray(SCENARIO.target_positions_m, float)


def estimate_msg(frame, positions, version=0, crb=None, track_ids=None, covariances=None, nodes=(0, 1)):
    crb = np.full(len(TRUTH), 0.25) if crb is None else crb
    msg = estimate_to_pmt(fusion.Estimate(frame, version, np.asarray(positions, float), np.asarray(crb, float), 1.0,
                                          tuple(nodes), True, True), SCENARIO.num_nodes)
    if track_ids is not None:
        msg = pmt.dict_add(msg, pmt.intern("track_ids"), pmt.init_s64vector(len(track_ids), list(track_ids)))
    if covariances is not None:
        flat = np.asarray(covariances, float).reshape(-1)
        msg = pmt.dict_add(msg, pmt.intern("position_covariances_m2"), pmt.init_f64vector(flat.size, flat.tolist()))
    return msg


def metrics_msg(user, frame, signal, noise, bit_errors, bits=1000, version=0):
    msg = pmt.make_dict()
    for key, value in (("user", pmt.from_long(user)), ("frame", pmt.from_uint64(frame)),
                       ("precoder_version", pmt.from_long(version)), ("sinr_db", pmt.from_double(10 * np.log10(signal / noise))),
                       ("signal_power", pmt.from_double(signal)), ("interference_noise_power", pmt.from_double(noise)),
                       ("evm_rms", pmt.from_double(0.1)), ("bit_errors", pmt.from_long(bit_errors)),
                       ("bits", pmt.from_long(bits))):
        msg = pmt.dict_add(msg, pmt.intern(key), value)
    return msg


class feeder(gr.basic_block):
    """Publishes given messages on its out ports (the test's stand-in for central unit and user_rx)."""

    def __init__(self):
        gr.basic_block.__init__(self, name="qa_feeder", in_sig=None, out_sig=None)
        for port in ("estimate", "metrics", "precoders"):
            self.message_port_register_out(pmt.intern(port))


def offscreen_application():
    """The process's QApplication on Qt's offscreen platform. The platform is read when the application is
    made, so the environment is set for that moment only (other tests' child processes do not inherit it)."""
    global APP
    if APP is None:
        APP = QtWidgets.QApplication.instance()
    if APP is None:
        saved = {key: os.environ.get(key) for key in ("QT_QPA_PLATFORM", "XDG_RUNTIME_DIR")}
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        os.environ.setdefault("XDG_RUNTIME_DIR", tempfile.gettempdir())
        try:
            APP = QtWidgets.QApplication(["qa_live_map"])
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    return APP


class qa_live_map(gr_unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        offscreen_application()

    def setUp(self):
        self.block = live_map(SCENARIO, history_frames=20)

    def test_001_messages_through_a_running_flowgraph(self):
        tb = gr.top_block()
        src = feeder()
        for port in ("estimate", "metrics", "precoders"):
            tb.msg_connect((src, port), (self.block, port))
        tb.start()
        try:
            for f in range(30):
                src.message_port_pub(pmt.intern("estimate"), estimate_msg(f, TRUTH + 0.1))
                src.message_port_pub(pmt.intern("metrics"), metrics_msg(f % 3, f, 1.0, 0.1, 2))
            src.message_port_pub(pmt.intern("estimate"), pmt.from_long(7))  # bad
            deadline = time.monotonic() + 30.0  # the scheduler's message thread: wait for the event, generous bound
            model = self.block.model
            while time.monotonic() < deadline and (model.frames_localised < 30 or model.counters["bad_estimates"] < 1
                                                   or model.counters["metrics_frames"] < 30):
                time.sleep(0.01)
        finally:
            tb.stop()
            tb.wait()
        snap = model.snapshot()
        self.assertEqual(snap["frames_localised"], 30)
        self.assertEqual(snap["counters"]["bad_estimates"], 1)
        self.assertEqual(snap["counters"]["metrics_frames"], 30)
        self.assertEqual(len(snap["recent"]), 20)  # history_frames
        self.assertEqual(snap["last_frame"], 29)
        # every estimate 0.1 m off in x and y: RMSE √(0.02) exactly (to rounding)
        np.testing.assert_allclose(snap["rmse_m"], np.sqrt(0.02), rtol=1e-9)

    def test_001b_messages_keep_coming_after_an_upstream_block_ends(self):
        """A user receiver's finite stream ends before the central unit's last estimates: GNU Radio would end
        the map with it (the "done" system message); the map must keep handling what arrives after."""
        from gnuradio import blocks, pdu

        tb = gr.top_block()
        finite = blocks.vector_source_b([0] * 4)  # ends at once: its PDU block then sends "done" downstream
        tagger = blocks.stream_to_tagged_stream(gr.sizeof_char, 1, 4, "len")
        to_pdu = pdu.tagged_stream_to_pdu(gr.types.byte_t, "len")
        src = feeder()
        tb.connect(finite, tagger, to_pdu)
        tb.msg_connect((to_pdu, "pdus"), (self.block, "metrics"))  # one bad metrics message (a PDU), then done
        tb.msg_connect((src, "estimate"), (self.block, "estimate"))
        tb.start()
        try:
            deadline = time.monotonic() + 30.0
            while time.monotonic() < deadline and self.block.upstream_done < 1:
                time.sleep(0.01)
            self.assertGreaterEqual(self.block.upstream_done, 1)
            for f in range(10):  # all after the upstream's end
                src.message_port_pub(pmt.intern("estimate"), estimate_msg(f, TRUTH))
            while time.monotonic() < deadline and self.block.model.frames_localised < 10:
                time.sleep(0.01)
        finally:
            tb.stop()
            tb.wait()
        self.assertEqual(self.block.model.frames_localised, 10)
        self.assertEqual(self.block.model.counters["bad_metrics"], 1)

    def test_002_rmse_against_numpy_with_estimates_in_any_order(self):
        rng = np.random.default_rng(5)
        errors = rng.normal(0.0, [[0.3], [1.2]], (100, len(TRUTH), 2))  # (F, K, 2), truth order
        for f in range(100):
            self.block.handle_estimate(estimate_msg(f, (TRUTH + errors[f])[::-1] if f % 2 else TRUTH + errors[f]))
        expected = np.sqrt(np.mean(np.sum(errors ** 2, axis=2), axis=0))
        snap = self.block.model.snapshot()
        np.testing.assert_allclose(snap["rmse_m"], expected, rtol=1e-12)
        np.testing.assert_array_equal(snap["rmse_frames"], [100, 100])
        np.testing.assert_allclose(snap["crb_m2"], 0.25)  # the message's CRB is what the readout compares with

    def test_003_tracks_follow_track_ids_or_the_position_index(self):
        b = self.block
        for f in range(5):
            b.handle_estimate(estimate_msg(f, TRUTH + f, track_ids=[11, 4]))
        snap = b.model.snapshot()
        self.assertEqual(sorted(snap["tracks"]), [4, 11])
        np.testing.assert_allclose(snap["tracks"][11], TRUTH[0] + np.arange(5)[:, None])
        np.testing.assert_allclose(snap["tracks"][4], TRUTH[1] + np.arange(5)[:, None])
        other = live_map(SCENARIO, history_frames=3)
        for f in range(6):  # no ids, and the order swaps every frame (as the central unit's does)
            other.handle_estimate(estimate_msg(f, TRUTH[::-1] if f % 2 else TRUTH))
        snap = other.model.snapshot()
        self.assertEqual(sorted(snap["tracks"]), [0, 1])
        # each track stays on its target (the first frame's order names them); 3 = history_frames
        np.testing.assert_allclose(snap["tracks"][0], np.repeat(TRUTH[0:1], 3, axis=0))
        np.testing.assert_allclose(snap["tracks"][1], np.repeat(TRUTH[1:2], 3, axis=0))

    def test_004_precoders_give_the_designed_sinr_and_their_own_ellipses(self):
        b = self.block
        rng = np.random.default_rng(2)
        n, mt, u = SCENARIO.num_nodes, SCENARIO.tx_antennas, SCENARIO.num_users
        wc = (rng.standard_normal((n, mt, u)) + 1j * rng.standard_normal((n, mt, u))) * 0.3
        wr = (rng.standard_normal((n, mt, mt)) + 1j * rng.standard_normal((n, mt, mt))) * 0.3
        for node in range(n):
            b.handle_precoders(tags.precoder_to_pmt(wc[node], wr[node], 3, node))
        b.handle_metrics(metrics_msg(1, 0, 2.0, 0.5, 0, version=3))
        b.handle_estimate(estimate_msg(0, TRUTH, version=3, crb=[np.nan, np.nan]))
        snap = b.model.snapshot()
        # c32 on the wire: the SINR of the rounded precoders agrees to ~1e-6 relative, 1e-4 dB is ample
        wc32, wr32 = wc.astype(np.complex64), wr.astype(np.complex64)
        designed = sinr.to_db(sinr.sinr_from_beamformers(SCENARIO.user_channels(), wc32, wr32, SCENARIO.user_noise_power))
        self.assertAlmostEqual(snap["users"][1]["sinr_designed_db"], designed[1], delta=1e-4)
        self.assertAlmostEqual(snap["users"][1]["sinr_measured_db"], 10 * np.log10(4.0), places=9)
        self.assertEqual(snap["covariance_source"], "precoders")
        crb = fusion.position_crb_per_target_m2(b.model._geometry, wc32, wr32)
        # no CRB in the message: the readout's √CRB is the trace of the block's own bound
        np.testing.assert_allclose(snap["crb_m2"], crb, rtol=1e-6)
        np.testing.assert_allclose(np.trace(snap["covariances_m2"], axis1=1, axis2=2), crb, rtol=1e-6)

    def test_004b_metrics_without_a_version_get_the_newest_design(self):
        """user_rx in preamble sync reports precoder_version −1: the designed SINR is the newest set's."""
        b = self.block
        rng = np.random.default_rng(8)
        n, mt, u = SCENARIO.num_nodes, SCENARIO.tx_antennas, SCENARIO.num_users
        wc = ((rng.standard_normal((mt, u)) + 1j * rng.standard_normal((mt, u))) * 0.3).astype(np.complex64)
        wr = ((rng.standard_normal((mt, mt)) + 1j * rng.standard_normal((mt, mt))) * 0.3).astype(np.complex64)
        b.handle_precoders(tags.precoder_to_pmt(wc, wr, 5))  # no "node": every node's
        b.handle_metrics(metrics_msg(2, 0, 1.0, 1.0, 0, version=-1))
        designed = sinr.to_db(sinr.sinr_from_beamformers(SCENARIO.user_channels(), np.stack([wc] * n),
                                                         np.stack([wr] * n), SCENARIO.user_noise_power))
        # the same c32 precoders on both sides: equal to rounding
        self.assertAlmostEqual(b.model.snapshot()["users"][2]["sinr_designed_db"], designed[2], places=9)

    def test_005_unknown_version_scales_the_known_shape_and_message_covariance_wins(self):
        b = self.block
        shape = b.model.snapshot()["covariances_m2"]
        b.handle_estimate(estimate_msg(0, TRUTH, version=9, crb=[2.0, 8.0]))
        snap = b.model.snapshot()
        self.assertEqual(snap["covariance_source"], "scaled")
        np.testing.assert_allclose(np.trace(snap["covariances_m2"], axis1=1, axis2=2), [2.0, 8.0], rtol=1e-12)
        np.testing.assert_allclose(snap["covariances_m2"][0] / 2.0, shape[0] / np.trace(shape[0]), rtol=1e-12)
        given = np.array([[[1.0, 0.2], [0.2, 0.5]], [[3.0, 0.0], [0.0, 1.0]]])
        b.handle_estimate(estimate_msg(1, TRUTH, version=9, covariances=given))
        snap = b.model.snapshot()
        self.assertEqual(snap["covariance_source"], "message")
        np.testing.assert_allclose(snap["covariances_m2"], given)

    def test_006_rmse_restarts_with_a_new_precoder_version(self):
        b = self.block
        for f in range(10):
            b.handle_estimate(estimate_msg(f, TRUTH + 5.0, version=0))
        b.handle_estimate(estimate_msg(10, TRUTH + 1.0, version=1))
        snap = b.model.snapshot()
        self.assertEqual(snap["rmse_version"], 1)
        np.testing.assert_allclose(snap["rmse_m"], np.sqrt(2.0), rtol=1e-12)
        np.testing.assert_array_equal(snap["rmse_frames"], [1, 1])
        self.assertEqual(snap["frames_localised"], 11)

    def test_007_bad_messages_are_counted_and_dropped(self):
        b = self.block
        b.handle_estimate(estimate_msg(0, TRUTH))
        before = b.model.snapshot()
        odd = pmt.dict_add(estimate_msg(1, TRUTH), pmt.intern("positions_m"), pmt.init_f64vector(3, [1.0, 2.0, 3.0]))
        bad_estimates = [pmt.PMT_NIL, pmt.from_long(1), pmt.make_dict(), odd,
                         pmt.dict_add(estimate_msg(1, TRUTH), pmt.intern("frame"), pmt.intern("x")),
                         estimate_msg(1, TRUTH, track_ids=[1]),  # one id for two positions
                         estimate_msg(1, TRUTH, covariances=np.ones(4)),  # 4 values for K = 2
                         estimate_msg(1, TRUTH, covariances=[[[1, 0], [0, -1]], [[1, 0], [0, 1]]]),  # not PSD
                         estimate_msg(1, np.zeros((65, 2))),  # more than MAX_TARGETS
                         estimate_msg(1, TRUTH, crb=[0.1, -0.1])]  # a negative bound
        for msg in bad_estimates:
            b.handle_estimate(msg)
        bad_metrics = [pmt.from_double(1.0), metrics_msg(7, 0, 1.0, 0.1, 0), metrics_msg(0, 0, 1.0, 0.1, 2000),
                       pmt.dict_add(metrics_msg(0, 0, 1.0, 0.1, 0), pmt.intern("signal_power"), pmt.from_double(np.nan))]
        for msg in bad_metrics:
            b.handle_metrics(msg)
        bad_precoders = [pmt.PMT_T, tags.precoder_to_pmt(np.ones((2, 2)), np.eye(6), 1),
                         tags.precoder_to_pmt(np.ones((6, 3)), np.eye(6), 1, node=5)]
        for msg in bad_precoders:
            b.handle_precoders(msg)
        after = b.model.snapshot()
        self.assertEqual(after["counters"]["bad_estimates"], len(bad_estimates))
        self.assertEqual(after["counters"]["bad_metrics"], len(bad_metrics))
        self.assertEqual(after["counters"]["bad_precoders"], len(bad_precoders))
        self.assertEqual(after["frames_localised"], before["frames_localised"])
        self.assertEqual(after["users"], before["users"])
        np.testing.assert_array_equal(after["rmse_frames"], before["rmse_frames"])

    def test_008_the_widget_renders_the_map_and_redraws_only_on_change(self):
        b = self.block
        rng = np.random.default_rng(1)
        cov = b.model.snapshot()["covariances_m2"]
        for f in range(20):
            b.handle_estimate(estimate_msg(f, [rng.multivariate_normal(TRUTH[k], cov[k]) for k in range(len(TRUTH))]))
            b.handle_metrics(metrics_msg(0, f, 1.0, 0.1, 1))
        widget = b.widget()
        widget.resize(1100, 750)
        self.assertTrue(b.refresh())
        self.assertFalse(b.refresh())  # nothing new: no redraw
        image = widget.grab().toImage().convertToFormat(QtGui.QImage.Format_RGB32)
        self.assertFalse(image.isNull())
        raw = np.frombuffer(image.constBits().asstring(image.sizeInBytes()), dtype=np.uint32)
        pixels = raw.reshape(image.height(), image.bytesPerLine() // 4)[:, :image.width()] & 0xFFFFFF
        background = np.bincount(pixels.reshape(-1) >> 12).argmax()  # most common colour class (white)
        self.assertGreater(np.mean((pixels >> 12) != background), 0.03)  # axes, markers and text drawn
        # exact colours (antialiased edges blend, the line and marker cores do not)
        crimson = 0xDC143C  # the CRB ellipses
        self.assertGreater(int(np.sum(pixels == crimson)), 50)
        orange = 0xFF7F0E  # track 0 (tab:orange): its newest estimates are opaque
        self.assertGreater(int(np.sum(pixels == orange)), 5)
        text = b._view.readout.text()
        self.assertIn("frames localised <b>20</b>", text)
        self.assertIn("user 1", text)

    def test_008b_live_refreshes_blit_over_the_cached_background(self):
        """After the first (full) draw, new estimates inside the zooms' limits are drawn without a full
        redraw (matplotlib blitting), and they are in the picture."""
        b = self.block
        widget = b.widget()
        widget.resize(1100, 750)
        widget.show()  # sizes settle (offscreen platform), so nothing asks for a full draw later
        APP.processEvents()
        b.refresh(force=True)
        APP.processEvents()
        full_draws = []
        b._view.canvas.mpl_connect("draw_event", lambda event: full_draws.append(event))
        for f in range(10):  # track 1 only (tab:purple), at the true position of target 2
            b.handle_estimate(estimate_msg(f, TRUTH[1:2], track_ids=[1], crb=[0.25, 0.25]))
        self.assertTrue(b.refresh())
        self.assertEqual(full_draws, [])  # the blit path
        rgba = np.asarray(b._view.canvas.buffer_rgba())  # what the canvas paints from
        rgb = (rgba[..., 0].astype(np.uint32) << 16) | (rgba[..., 1].astype(np.uint32) << 8) | rgba[..., 2]
        purple = 0x9467BD  # tab:purple, the newest (opaque) estimates of track 1
        self.assertGreater(int(np.sum(rgb == purple)), 5)
        widget.hide()

    def test_009_truth_is_drawn_under_the_estimates(self):
        view = self.block._view
        for ax, artists in zip([view.scene] + view.zooms, view._artists):
            truth = [line for line in ax.get_lines() if line.get_label() == "target (true)"]
            self.assertEqual(len(truth), 1)
            self.assertEqual(truth[0].get_markerfacecolor(), "none")  # hollow
            self.assertLess(truth[0].get_zorder(), artists["points"].get_zorder())

    def test_009b_setters_from_another_thread_apply_on_the_next_refresh(self):
        """GRC callbacks may run on any thread: the setters only validate and store; the Qt thread applies."""
        import threading

        b = self.block
        b.refresh(force=True)
        label = lambda: [t.get_text() for t in b._view.scene.get_legend().get_texts() if "CRB" in t.get_text()]  # noqa: E731
        self.assertEqual(label(), ["3σ CRB ellipse (98.9 %)"])
        worker = threading.Thread(target=lambda: (b.set_n_sigma(2.0), b.set_update_period_s(0.5)))
        worker.start()
        worker.join()
        self.assertEqual(b._view.n_sigma, 3.0)  # not yet: the Qt thread applies it
        self.assertTrue(b.refresh())  # redraws although no message came
        self.assertEqual(b._view.n_sigma, 2.0)
        self.assertEqual(b._view.timer.interval(), 500)
        self.assertEqual(label(), ["2σ CRB ellipse (86.5 %)"])
        with self.assertRaisesRegex(ValueError, "n_sigma"):
            b.set_n_sigma(-1)

    def test_010_bad_parameters_name_the_value(self):
        for kwargs, word in (({"n_sigma": 0}, "n_sigma"), ({"update_period_s": float("nan")}, "update_period_s"),
                             ({"history_frames": 0}, "history_frames")):
            with self.assertRaisesRegex(ValueError, word):
                live_map(SCENARIO, **kwargs)


if __name__ == "__main__":
    gr_unittest.run(qa_live_map)
