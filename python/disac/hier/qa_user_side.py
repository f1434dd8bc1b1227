#!/usr/bin/env python3
# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""qa for user_side: the hier block gives every user exactly the metrics of a hand-wired comm_channel →
user_rx chain on the same streams and seeds (the same blocks inside), on its merged ports and per user;
port counts checked against the scenario."""

import numpy as np
import pmt
from gnuradio import blocks, gr, gr_unittest

from gnuradio.disac.blocks.comm_channel import comm_channel
from gnuradio.disac.blocks.isac_tx import isac_tx
from gnuradio.disac.blocks.user_rx import user_rx
from gnuradio.disac.core.scenario import load_scenario
from gnuradio.disac.hier.user_side import user_side

SCENARIO = load_scenario("paper")  # N = 2, Mt = 6, U = 3
FRAMES, SEED, CHANNEL_SEED = 15, 2, 3


def transmitters(tb):
    txs = [isac_tx(SCENARIO, n, SEED, None, None, FRAMES) for n in range(SCENARIO.num_nodes)]
    tb.disac_keep = txs
    return txs


class qa_user_side(gr_unittest.TestCase):

    def test_the_same_metrics_as_the_blocks_wired_by_hand(self):
        mt = SCENARIO.tx_antennas
        tb = gr.top_block()
        side = user_side(SCENARIO, SEED, CHANNEL_SEED)
        merged = blocks.message_debug()
        tb.msg_connect((side, "metrics"), (merged, "store"))
        for n, tx in enumerate(transmitters(tb)):
            for i in range(mt):
                tb.connect((tx, i), (side, n * mt + i))
        tb.run()

        reference = gr.top_block()
        channel = comm_channel(SCENARIO, CHANNEL_SEED)
        users = [user_rx(SCENARIO, u, SEED) for u in range(SCENARIO.num_users)]
        for n, tx in enumerate(transmitters(reference)):
            for i in range(mt):
                reference.connect((tx, i), (channel, n * mt + i))
        for u, user in enumerate(users):
            reference.connect((channel, u), user)
        reference.run()

        for u, (inside, alone) in enumerate(zip(side.users, users)):
            self.assertEqual(inside.frame_numbers, list(range(FRAMES)))
            # the same blocks, streams and seeds: the same metrics per frame (to float rounding)
            np.testing.assert_allclose(inside.frame_sinr_db, alone.frame_sinr_db, rtol=1e-9)
            self.assertEqual(side.ber()[u], alone.ber())
        # the means over frames are sums whose float order follows the scheduler's batching: equal to ~1e-12
        np.testing.assert_allclose(side.measured_sinr_db(), [user.measured_sinr_db() for user in users], rtol=1e-9)
        seen = {(int(pmt.to_python(merged.get_message(i))["user"]), int(pmt.to_python(merged.get_message(i))["frame"]))
                for i in range(merged.num_messages())}
        self.assertTrue(seen <= {(u, f) for u in range(3) for f in range(FRAMES)} and len(seen) >= FRAMES)

    def test_port_counts_are_checked(self):
        with self.assertRaisesRegex(ValueError, "num_users"):
            user_side(SCENARIO, num_users=2)


if __name__ == "__main__":
    gr_unittest.run(qa_user_side)
