# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Half-band shift: every sample n of each stream multiplied by (−1)^n (a B/2 frequency shift).

The core's delay steering d(τ) puts subcarrier l at l·B/L ("low-if"); a radio's baseband at rate B spans
[−B/2, B/2). (−1)^n on the transmit and receive samples puts subcarrier l on the air at
f_c + (l − L/2)·B/L (exact for an even L), so a delay τ gives d_l(τ)·e^{jπBτ}: the model's d(τ) times one
phase per echo, which the unknown amplitude absorbs (docs/deployment.md).
"""

import math

from gnuradio import blocks, gr


class band_shift(gr.hier_block2):
    """num_streams complex streams in and out, each through a rotator of π rad per sample (starts at +1).

    Parameters
      num_streams   streams (antennas), ≥ 1
    """

    def __init__(self, num_streams=1):
        if isinstance(num_streams, bool) or int(num_streams) != num_streams or num_streams < 1:
            raise ValueError(f"num_streams = {num_streams!r}: accepted: a whole number of streams ≥ 1")
        count = int(num_streams)
        signature = gr.io_signature(count, count, gr.sizeof_gr_complex)
        gr.hier_block2.__init__(self, "disac_band_shift", signature, signature)
        self.rotators = [blocks.rotator_cc(math.pi) for _ in range(count)]
        for i, rotator in enumerate(self.rotators):
            self.connect((self, i), rotator, (self, i))
