#!/usr/bin/env python3
# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""qa for synthetic_node: two nodes wired as a mesh give, noise off, the snapshots of core.model (eq. 3/5)
for the frames regenerated from the seeds; their outputs are their transmitters' streams (frame tags on
stream 0); the snapshots also leave over ZeroMQ to a real pyzmq peer, frame by frame; a clocked node runs
in step with its clock (the transmitter never more than a few frames ahead); bad parameters named."""

import time

import numpy as np
import pmt
import zmq
from gnuradio import blocks, gr, gr_unittest

from gnuradio.disac.blocks import tags
from gnuradio.disac.core import channels, model, ofdm, wire
from gnuradio.disac.core.scenario import load_scenario
from gnuradio.disac.hier.synthetic_node import CLOCKED_BUFFER_FRAMES, synthetic_node

SCENARIO = load_scenario("paper")  # N = 2, Mt = 6, Mr = 16
LAYOUT = ofdm.layout_from_scenario(SCENARIO)
SEED, CHANNEL_SEED = 4, 5


def mesh(frames, **parameters):
    """Two nodes wired to each other; (top block, nodes, snapshot stores, tag probes of each output 0)."""
    tb = gr.top_block()
    nodes = [synthetic_node(SCENARIO, n, SEED, CHANNEL_SEED, max_frames=frames, **parameters) for n in range(2)]
    mt = SCENARIO.tx_antennas
    for i in range(mt):
        tb.connect((nodes[0], i), (nodes[1], i))
        tb.connect((nodes[1], i), (nodes[0], i))
    stores = [blocks.message_debug() for _ in nodes]
    # a vector sink keeps every tag (a tag_debug's current_tags holds only its last work call's)
    probes = [blocks.vector_sink_c() for _ in nodes]
    for node, store, probe in zip(nodes, stores, probes):
        tb.msg_connect((node, tags.SNAPSHOT_PORT), (store, "store"))
        tb.connect((node, 0), probe)
        for i in range(1, mt):
            tb.connect((node, i), blocks.null_sink(gr.sizeof_gr_complex))
    return tb, nodes, stores, probes


def snapshots(store):
    return [s for i in range(store.num_messages()) for s in tags.snapshots_from_pmt(store.get_message(i))]


class qa_synthetic_node(gr_unittest.TestCase):

    def test_noise_off_snapshots_are_the_model(self):
        frames = 12
        tb, nodes, stores, probes = mesh(frames, noise=False, address="")
        tb.run()
        numbers = np.arange(frames)
        wc, wr = ofdm.default_precoders(LAYOUT, SCENARIO.per_antenna_power)  # None: the placeholder
        x = np.stack([ofdm.transmitted_frames(LAYOUT, SEED, numbers, m, wc, wr) for m in range(2)], axis=1)
        amps = channels.linked_amplitudes(SCENARIO.target_amplitudes(), channels.node_phases_rad(CHANNEL_SEED, numbers, 2))
        for n, store in enumerate(stores):
            got = snapshots(store)
            self.assertEqual([s.frame for s in got], list(range(frames)))
            for f, snap in enumerate(got):
                mu = model.sensing_mean(SCENARIO.target_angles_rad(), SCENARIO.target_delays_s(), amps[f], x[f],
                                        SCENARIO.rx_antennas, SCENARIO.bandwidth_hz)[n]
                # complex64 through IFFT/FFT and the fractional-delay channel: ~1e-6 relative; 1e-4 is far
                # below a wrong node, frame or phase (order 1)
                self.assertLess(np.linalg.norm(snap.samples - mu) / np.linalg.norm(mu), 1e-4, (n, f))
        for n, probe in enumerate(probes):  # each output 0 is the node's own transmitter
            self.assertEqual([tags.parse_frame_tag(t.value)[:2] for t in probe.tags()
                              if pmt.symbol_to_string(t.key) == tags.FRAME_TAG_KEY],
                             [(f, n) for f in range(frames)])

    def test_snapshots_leave_over_zeromq(self):
        frames = 6
        sock = zmq.Context.instance().socket(zmq.PULL)
        sock.setsockopt(zmq.LINGER, 0)
        port = sock.bind_to_random_port("tcp://127.0.0.1")
        try:
            tb, nodes, _, _ = mesh(frames, address=f"tcp://127.0.0.1:{port}")
            tb.run()
            got = set()
            while len(got) < 2 * frames and sock.poll(5000):  # bounded wait, generous for a loaded machine
                message = wire.decode(sock.recv())
                got.add((message.node_id, message.frame_number))
        finally:
            sock.close(0)
        self.assertEqual(got, {(n, f) for n in range(2) for f in range(frames)})

    def test_a_clocked_node_runs_in_step_with_its_clock(self):
        rate = 40.0
        tb, nodes, _, _ = mesh(0, address="", frame_rate_hz=rate)  # endless: only the clock paces it
        started = time.time()
        tb.start()
        try:
            while nodes[0].receiver.frames_received < 10:
                self.assertLess(time.time() - started, 30.0, "the clock never released 10 frames")
                time.sleep(0.01)
            elapsed = time.time() - started
            ahead = nodes[0].transmitter._next_frame - nodes[0].receiver.frames_received
        finally:
            tb.stop()
            tb.wait()
        self.assertGreaterEqual(elapsed, 9 / rate - 0.05)  # frame 9 is not due before 9/rate
        # the transmitter buffers at most CLOCKED_BUFFER_FRAMES (rounded up to a page) in each of its and the
        # channel's buffers, plus the frames inside one work call: never the ~600 frames of a free run
        self.assertLess(ahead, 4 * CLOCKED_BUFFER_FRAMES + 8)

    def test_a_calibrated_node_delays_the_net_cfo_as_the_trials_chain(self):
        """With a calibration that pre-compensates the CFO (the lab's 5 Hz, the drawn values as a calibration),
        the node's air delays each transmitter's net rotation ε_m − ε̂_m exactly and its RF canceller's reference
        carries −ε̂_n: what core.impairment_trials' chain does (its _air_streams and node_front_ends), so a
        flowgraph and the trials see the same leakage (docs/air-model.md §5.4). Before: the table's ε_m in the
        air (a rotation the transmitter had already removed) and no reference rotation."""
        from gnuradio.disac.core import impairment_trials

        air = SCENARIO.with_impairments({"preset": "lab", "seed": 3})
        calibration = impairment_trials.truth_calibration(air)
        eps, eps_hat = np.asarray(air.impairments.cfo_hz), np.asarray(calibration.cfo_hz)
        self.assertGreater(float(np.max(np.abs(eps - eps_hat))), 1.0)  # the gauge: ε̂ ≠ ε, or the test proves nothing
        trials_ends = impairment_trials.node_front_ends(air, calibration)
        for n in range(2):
            node = synthetic_node(air, n, SEED, CHANNEL_SEED, max_frames=2, calibration=calibration)
            np.testing.assert_allclose(node.channel.model.transmit_cfo_hz, eps - eps_hat, rtol=0, atol=1e-12)
            self.assertEqual(node.radio_rx.front.canceller.reference.cfo_hz,
                             trials_ends[n].canceller.reference.cfo_hz)
            self.assertAlmostEqual(node.radio_rx.front.canceller.reference.cfo_hz, -float(eps_hat[n]), places=12)
        # without a calibration: the table's rotation into the air, none on the reference (as before)
        node = synthetic_node(air, 1, SEED, CHANNEL_SEED, max_frames=2)
        np.testing.assert_array_equal(node.channel.model.transmit_cfo_hz, eps)
        self.assertEqual(node.radio_rx.front.canceller.reference.cfo_hz, 0.0)

    def test_bad_parameters_are_named(self):
        with self.assertRaisesRegex(ValueError, "node_id"):
            synthetic_node(SCENARIO, 2)
        with self.assertRaisesRegex(ValueError, "tx_antennas"):
            synthetic_node(SCENARIO, 0, tx_antennas=4)


if __name__ == "__main__":
    gr_unittest.run(qa_synthetic_node)
