# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""node_rx's batched snapshot messages reach the central unit frame by frame (blocks.central_unit).

The node receiver may pack the frames it finishes in one call into one PDU (frames_per_message); the
central unit must align each frame of a batch exactly as if it had come alone. Checked on the block's
handler directly (no flowgraph): two nodes' batches of the same three frames release three complete
frames, and a malformed batch is counted, not raised.
"""

import numpy as np
import pmt

from gnuradio.disac.blocks import tags
from gnuradio.disac.blocks.central_unit import central_unit
from gnuradio.disac.core.scenario import load_scenario


def test_a_batch_is_aligned_frame_by_frame():
    scenario = load_scenario("paper")
    cu = central_unit(scenario, 0, status_interval_s=0, queue_depth=8)
    shape = (3, scenario.rx_antennas, scenario.subcarriers, scenario.symbols_per_frame)
    rng = np.random.default_rng(0)
    for node in range(2):
        samples = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)
        cu.handle_snapshot(tags.snapshot_batch_to_pmt(tags.snapshot_meta(node, shape[1:]), [5, 6, 7], [0, 0, 0],
                                                      samples))
    status = cu.status()
    assert status["snapshots_accepted"] == 6
    assert status["released_complete"] == 3 and status["rejected_snapshots"] == 0


def test_a_malformed_batch_is_counted_not_raised():
    cu = central_unit("paper", 0, status_interval_s=0)
    meta = pmt.dict_add(tags.snapshot_meta(0, (16, 16, 1)), pmt.intern("frames"), pmt.init_u64vector(2, [1, 2]))
    cu.handle_snapshot(pmt.cons(meta, pmt.init_c32vector(3, [0j, 0j, 0j])))  # two frames declared, 3 samples
    assert cu.status()["rejected_snapshots"] == 1
