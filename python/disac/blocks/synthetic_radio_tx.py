# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Synthetic radio, transmit side of node m: what its TX chains do to the Mt streams before the air
(docs/air-model.md §2): per-channel gains tx_gains[m, i] (amplitude and phase of each TX chain) and the node's carrier
offset e^{+j2π ε_m t}, t = the sample's local time since the epoch (sample j: t = j/fs). The values are the
scenario's drawn ``impairments`` (the ideal table: unit gains, no CFO, the streams pass unchanged). The maths
is core.synthetic_radio (a function of each sample's label, so any cut of the stream gives the same output).

It transmits once per node, before every path: the sensing channels of all receivers and the users' comm
channel all take its outputs, so every path sees the same TX impairments, as on air. Given the number of
frames its transmitter sends, it keeps the air going after the last one, silent (zeros, no tags), for
core.synthetic_radio.transmit_tail_samples (the links' delays: every receiver then gets its last frame
whole; none on the ideal air).
"""

import numpy as np
from gnuradio import gr

from . import tags
from ..core import channels, ofdm, synthetic_radio

OUTPUT_BUFFER_SAMPLES = 65536


class synthetic_radio_tx(gr.basic_block):
    """Mt complex streams in (a node's isac_tx) and out (to the air), x_i ← tx_gains[m, i]·e^{j2π ε_m t}·x_i.

    Tags pass one to one (the transmitter's frame tags on stream 0 go on to the air); a gr-uhd ``tx_time``
    tag (the epoch: when a timed USRP sink would send sample 0) is added at every stream's first sample.

    Parameters
      scenario      preset name, TOML path or Scenario (its ``impairments``: tx_gains, cfo_hz; B = fs)
      node_id       the transmitting node m, 0 … N−1
      epoch_s       the common epoch (whole Unix seconds, a float or a (whole, fraction) pair); None:
                    tags.SYNTHETIC_EPOCH_S (a run without a wall-clock epoch)
      epoch_frac_s  the epoch's fractional second
      tx_antennas   port count GRC draws; 0 or the scenario's Mt (checked)
      transmit_frames  the frames the transmitter sends (0: endless): after them, ``tail_samples`` zeros
    """

    def __init__(self, scenario="paper", node_id=0, epoch_s=None, epoch_frac_s=0.0, tx_antennas=0,
                 transmit_frames=0):
        self.scenario = tags.as_scenario(scenario)
        tags.check_sizes(self.scenario, tx_antennas=tx_antennas)
        n = self.scenario.num_nodes
        if isinstance(node_id, bool) or int(node_id) != node_id or not 0 <= int(node_id) < n:
            raise ValueError(f"node_id = {node_id!r}: accepted: 0 … {n - 1}")
        self.node_id = int(node_id)
        self.epoch = tags.split_seconds(tags.SYNTHETIC_EPOCH_S if epoch_s is None else epoch_s, epoch_frac_s)
        if self.epoch[0] < 0:
            raise ValueError(f"epoch_s = {epoch_s!r}: accepted: Unix seconds ≥ 0, or None")
        impairments = self.scenario.impairments
        self.gains = np.asarray(impairments.tx_gains[self.node_id], np.complex128)  # (Mt,)
        self.cfo_hz = float(impairments.cfo_hz[self.node_id])
        self.sample_rate_hz = float(self.scenario.bandwidth_hz)
        self.identity = bool(np.all(self.gains == 1) and self.cfo_hz == 0)
        if isinstance(transmit_frames, bool) or int(transmit_frames) != transmit_frames or transmit_frames < 0:
            raise ValueError(f"transmit_frames = {transmit_frames!r}: accepted: 0 (endless) or a number of frames")
        frame_len = ofdm.layout_from_scenario(self.scenario).frame_len
        self.transmit_samples = int(transmit_frames) * frame_len  # 0: endless
        self.tail_samples = 0 if not transmit_frames else synthetic_radio.transmit_tail_samples(
            impairments.link_delay_samples(self.sample_rate_hz), channels.sensing_air_latency_samples(self.scenario),
            frame_len)
        self._tail_sent = 0
        mt = self.scenario.tx_antennas
        gr.basic_block.__init__(self, name="disac_synthetic_radio_tx", in_sig=[np.complex64] * mt,
                                out_sig=[np.complex64] * mt)
        self.set_tag_propagation_policy(gr.TPP_ONE_TO_ONE)
        self.set_min_output_buffer(OUTPUT_BUFFER_SAMPLES)

    def _in_tail(self):
        return bool(self.transmit_samples) and self.nitems_read(0) >= self.transmit_samples

    def forecast(self, noutput_items, ninputs):
        """One input sample per output sample; none in the silent tail."""
        return [0 if self._in_tail() else noutput_items] * ninputs

    def general_work(self, input_items, output_items):
        if self._in_tail():
            count = min(len(output_items[0]), self.tail_samples - self._tail_sent)
            if count <= 0:
                return -1  # WORK_DONE: the transmitter's frames and the silence after them are out
            for out in output_items:
                out[:count] = 0
            self._tail_sent += count
            return count
        count = min(len(output_items[0]), min(len(x) for x in input_items))
        if self.transmit_samples:
            count = min(count, self.transmit_samples - self.nitems_read(0))
        if count <= 0:
            return 0
        first = self.nitems_read(0)
        if first == 0 and count:
            value = tags.rx_time_value(self.epoch)
            for i in range(len(output_items)):
                self.add_item_tag(i, 0, tags.tx_time_key(), value)
        if self.identity:
            for x, out in zip(input_items, output_items):
                out[:count] = x[:count]
        else:
            phasor = synthetic_radio.cfo_phasor(self.cfo_hz, first, count, self.sample_rate_hz, +1)
            for gain, x, out in zip(self.gains, input_items, output_items):
                out[:count] = x[:count] * (gain * phasor)
        self.consume_each(count)
        return count
