# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Synthetic CoMP comm channel: every node's transmit streams → each user's antenna (eq. 2 + AWGN).

y_u = Σ_n e^{jφ_n} h_{n,u}ᴴ x_n + z_u: the maths is core.channels.CommChannel; the oscillator phases are
core.channels.node_phases_rad, the very ones the sensing channel applies (same channel_seed). With the
scenario's [impairments] (user_delays, clock offsets) each node reaches each user at its own delay, through
core.delay_line (docs/air-model.md §2 "Users"): the users' channels are then frequency-selective.
"""

import numpy as np
from gnuradio import gr

from . import _native_tags, tags
from ._channel import run_channel
from ..core import channels

OUTPUT_BUFFER_SAMPLES = 65536


class comm_channel(gr.sync_block):
    """N·Mt transmit streams in (node m's antenna i on input m·Mt + i), U user streams out.

    Channels h_{n,u} are the scenario's (line of sight or seeded Rayleigh); noise CN(0, σ_c²) per sample.
    Frame tags of input 0 (node 0) are forwarded to every output, so user receivers can align from tags;
    without them (over the air) user_rx finds frames from the preamble.

    Per-node delays (core.channels.CommChannel): user u sees node n at δ_n + (user_delays ? |p_n − q_u|/c : 0),
    relative to its first arrival (the forwarded tags mark the user's own frame timing). The block logs a
    warning when the scenario's pilots cannot follow the resulting frequency-selective channel
    ([ofdm] pilot_symbols < U + 1) or a delay spread passes the cyclic prefix.

    Parameters
      scenario      preset name, TOML path or Scenario
      channel_seed  seed of the oscillator phases (shared with sensing_channel) and of the noise
      noise         add CN(0, σ_c²) per sample
      frequency_grid   "low-if" or "centred": the grid of the band-limited delays (as sensing_channel)
      num_nodes, tx_antennas, num_users   port counts GRC draws; 0 or the scenario's (checked)
    """

    def __init__(self, scenario="paper", channel_seed=0, noise=True, num_nodes=0, tx_antennas=0, num_users=0,
                 frequency_grid="low-if"):
        self.scenario = tags.as_scenario(scenario)
        tags.check_sizes(self.scenario, num_nodes=num_nodes, tx_antennas=tx_antennas, num_users=num_users)
        self.model = channels.CommChannel(self.scenario, channel_seed, frequency_grid)
        lay = self.layout = self.model.layout
        gr.sync_block.__init__(self, name="disac_comm_channel",
                               in_sig=[np.complex64] * (lay.num_nodes * lay.tx_antennas),
                               out_sig=[np.complex64] * self.scenario.num_users)
        self.noise = bool(noise)
        self._rng = channels.noise_rng(channel_seed, "comm")
        self.set_output_multiple(lay.symbol_len)
        self.set_min_output_buffer(max(2, OUTPUT_BUFFER_SAMPLES // lay.symbol_len) * lay.symbol_len)
        self.set_tag_propagation_policy(gr.TPP_DONT)
        warning = self.model.pilot_warning()
        if warning:
            self.logger.warn(warning)

    def work(self, input_items, output_items):
        count = run_channel(self, input_items, output_items, self.scenario.user_noise_power)
        if count == 0:
            return 0
        # each frame tag of input 0 (node 0's antenna 0) on every user's output, in one call (_native_tags: C++ when
        # the extension is built, else ≈ 2 + 2.5·U µs of pybind calls a frame)
        _native_tags.copy_frame_tags(self.gateway, range(len(output_items)), count)
        return count
