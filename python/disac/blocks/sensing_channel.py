# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Synthetic sensing channel: every node's transmit streams → the Mr receive streams of one node (eq. 3/5 + AWGN).

All the maths is core.channels.SensingChannel (see its docstring for the exact fractional delays and the
per-frame oscillator phases); this block moves whole OFDM symbols through it and adds seeded AWGN.
"""

import numpy as np
from gnuradio import gr

from . import tags
from ._channel import run_channel
from ..core import channels

OUTPUT_BUFFER_SAMPLES = 65536


class sensing_channel(gr.sync_block):
    """Echoes of the scenario's K targets from all N nodes into rx node n, time domain in and out.

    Inputs: N·Mt complex streams, node m's antenna i on input m·Mt + i (each starting at frame 0).
    Outputs: Mr complex streams. The frame tags of the receiving node's own transmitter (input
    rx_node·Mt) are forwarded to output 0 (time-synchronised nodes: a node knows its own frame timing);
    other tags are dropped.

    Parameters
      scenario         preset name, TOML path or Scenario (geometry, β, σ², L, CP, P)
      rx_node          the receiving node n
      channel_seed     seed of the oscillator phases (shared with comm_channel) and of the noise
      noise            add CN(0, σ²) per sample (False: the noiseless mean of eq. 3/5)
      frequency_grid   "low-if" (bins at l·B/L, the model's d(τ)) or "centred" (a radio's band)
      num_nodes, tx_antennas, rx_antennas   port counts GRC draws; 0 or the scenario's (checked)
    """

    def __init__(self, scenario="paper", rx_node=0, channel_seed=0, noise=True, frequency_grid="low-if",
                 num_nodes=0, tx_antennas=0, rx_antennas=0):
        self.scenario = tags.as_scenario(scenario)
        tags.check_sizes(self.scenario, num_nodes=num_nodes, tx_antennas=tx_antennas, rx_antennas=rx_antennas)
        self.model = channels.SensingChannel(self.scenario, rx_node, channel_seed, frequency_grid)
        self.layout = self.model.layout
        lay = self.layout
        gr.sync_block.__init__(self, name="disac_sensing_channel",
                               in_sig=[np.complex64] * (lay.num_nodes * lay.tx_antennas),
                               out_sig=[np.complex64] * self.scenario.rx_antennas)
        self.rx_node = int(rx_node)
        self.noise = bool(noise)
        self._rng = channels.noise_rng(channel_seed, "sensing", self.rx_node)
        self.set_output_multiple(lay.symbol_len)
        self.set_min_output_buffer(max(2, OUTPUT_BUFFER_SAMPLES // lay.symbol_len) * lay.symbol_len)
        self.set_tag_propagation_policy(gr.TPP_DONT)

    def work(self, input_items, output_items):
        count = run_channel(self, input_items, output_items, self.scenario.noise_power)
        if count == 0:
            return 0
        tag_input = self.rx_node * self.layout.tx_antennas
        for tag in self.get_tags_in_window(tag_input, 0, count, tags.frame_tag_key()):
            self.add_item_tag(0, tag.offset, tag.key, tag.value)
        return count
