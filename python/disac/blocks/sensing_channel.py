# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Synthetic sensing channel: every node's transmit streams → the Mr receive streams of one node (eq. 3/5 + the air + AWGN).

All the maths is core.channels.SensingChannel (see its docstring for the paths, the true band-limited delays
of core.delay_line and the oscillator phases); this block moves whole OFDM symbols through it and adds seeded
AWGN (thermal noise at the antennas: before the receiving radio's gains, which synthetic_radio_rx applies).
"""

import numpy as np
from gnuradio import gr

from . import tags
from ._channel import run_channel
from ..core import channels

OUTPUT_BUFFER_SAMPLES = 65536


class sensing_channel(gr.sync_block):
    """Echoes of the scenario's K targets from all N nodes into rx node n, time domain in and out.

    Inputs: N·Mt complex streams, node m's antenna i on input m·Mt + i (each starting at frame 0, sample j
    of node m's stream being its local time epoch + j/B).
    Outputs: Mr complex streams. The frame tags of the receiving node's own transmitter (input
    rx_node·Mt) are forwarded to output 0, at their offset + ``air_latency_samples`` (the same label);
    other tags are dropped.

    Impairments (the scenario's [impairments] table; the ideal air without it): every path (target echoes,
    direct paths m → n when ``direct_path`` at their level (direct_path_snr_db, direct_path_db or the
    "free_space" link budget), the [calibration] reflector, the clutter scatterers, node n's own TX→RX leakage
    C_n: docs/air-model.md §5) is delayed by its geometric delay plus D[n, m] = (δ_m − δ_n)·B + λ_n (clock
    offsets and the receiver's latency) as a true band-limited delay (past the prefix: inter-symbol
    interference, as on air); oscillator phases per frame or per run. Gains, CFO, the ADC/AGC, overflows and
    ``rx_time`` are the radio blocks'.

    Time labels (for the receiving radio, synthetic_radio_rx): output sample j is what node n's antennas hold
    at its label time epoch + (j + ``label_offset_samples``)/B. ``label_offset_samples`` = −A, with A =
    ``air_latency_samples`` ≥ 0 the constant latency the air adds so that negative D (a receiver whose clock
    runs ahead of a transmitter) can be realised by a causal channel: the first rx_time label is
    epoch − A/B. A = 0 with the ideal table, and whenever every D ≥ 0 (the same A on every rx node of a
    scenario: core.channels.sensing_air_latency_samples).

    Parameters
      scenario         preset name, TOML path or Scenario (geometry, β, σ², L, CP, P)
      rx_node          the receiving node n
      channel_seed     seed of the oscillator phases (shared with comm_channel) and of the noise
      noise            add CN(0, σ²) per sample (False: the noiseless mean of eq. 3/5)
      frequency_grid   "low-if" (bins at l·B/L, the model's d(τ)) or "centred" (a radio's band)
      num_nodes, tx_antennas, rx_antennas   port counts GRC draws; 0 or the scenario's (checked)
      transmit_cfo_hz  the carrier rotation ε_m (Hz, one per node) each transmitter's input streams carry, which
                       the air delays exactly (docs/air-model.md §5.4); None: the table's cfo_hz (what
                       synthetic_radio_tx applies to an uncompensated transmitter). A transmitter that
                       pre-compensates its CFO (a calibration's ε̂_m) sends ε_m − ε̂_m: hier.synthetic_node passes that
    """

    def __init__(self, scenario="paper", rx_node=0, channel_seed=0, noise=True, frequency_grid="low-if",
                 num_nodes=0, tx_antennas=0, rx_antennas=0, transmit_cfo_hz=None):
        self.scenario = tags.as_scenario(scenario)
        tags.check_sizes(self.scenario, num_nodes=num_nodes, tx_antennas=tx_antennas, rx_antennas=rx_antennas)
        self.model = channels.SensingChannel(self.scenario, rx_node, channel_seed, frequency_grid,
                                             transmit_cfo_hz=transmit_cfo_hz)
        self.layout = self.model.layout
        lay = self.layout
        gr.sync_block.__init__(self, name="disac_sensing_channel",
                               in_sig=[np.complex64] * (lay.num_nodes * lay.tx_antennas),
                               out_sig=[np.complex64] * self.scenario.rx_antennas)
        self.rx_node = int(rx_node)
        self.noise = bool(noise)
        self.air_latency_samples = self.model.air_latency_samples  # A
        self.label_offset_samples = self.model.label_offset_samples  # −A: label of output sample 0 − epoch
        self._pending_tags = []  # forwarded tags whose (shifted) offset is past the output written so far
        self._rng = channels.noise_rng(channel_seed, "sensing", self.rx_node)
        self.set_output_multiple(lay.symbol_len)
        self.set_min_output_buffer(max(2, OUTPUT_BUFFER_SAMPLES // lay.symbol_len) * lay.symbol_len)
        self.set_tag_propagation_policy(gr.TPP_DONT)

    def work(self, input_items, output_items):
        count = run_channel(self, input_items, output_items, self.scenario.noise_power)
        if count == 0:
            return 0
        tag_input = self.rx_node * self.layout.tx_antennas
        shift = self.air_latency_samples
        pending = self._pending_tags
        pending.extend((tag.offset + shift, tag.key, tag.value)
                       for tag in self.get_tags_in_window(tag_input, 0, count, tags.frame_tag_key()))
        end = self.nitems_written(0) + count
        ready = 0
        while ready < len(pending) and pending[ready][0] < end:
            self.add_item_tag(0, *pending[ready])
            ready += 1
        del pending[:ready]
        return count
