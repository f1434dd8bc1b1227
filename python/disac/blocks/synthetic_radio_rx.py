# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Synthetic radio, receive side of node n: what its RX chains and its streamer do to the Mr streams the air
delivers (docs/air-model.md §2), as gr-uhd's usrp_source hands them on:

* per-channel gains rx_gains[n, r] (the thermal noise was added by the air before them, at the LNA);
* the node's carrier offset e^{−j2π ε_n t}, t = the sample's label (its local time since the epoch);
* overflows: in every overflow_every_frames-th frame the radio loses overflow_samples samples from a seeded
  position inside that frame, on every channel at once (core.synthetic_radio.OverflowSchedule);
* ``rx_time`` tags (gr-uhd's format, tags.RX_TIME_KEY) on every channel at the first sample and at the first
  sample after every loss, carrying that sample's label: epoch + label/fs.

Labels: input sample k is labelled label_offset_samples + k samples after the epoch: the air's documented
label of its output sample 0 (sensing_channel.label_offset_samples, −A: the air's hidden latency). The
values are the scenario's drawn ``impairments`` (the ideal table: unit gains, no CFO, no overflow: the
samples pass unchanged, with an rx_time at the first). Everything is a function of each sample's label, so
any cut of the stream into work calls gives the same output and tags.
"""

import numpy as np
from gnuradio import gr

from . import tags
from ..core import ofdm, synthetic_radio

OUTPUT_BUFFER_SAMPLES = 65536


class synthetic_radio_rx(gr.basic_block):
    """Mr complex streams in (the air: a sensing_channel) and out (to rx framing), fewer out after overflows.

    Input tags are dropped (a radio forwards none); rx_time tags are added on every output (module docstring).
    Counters: ``overflows`` (losses so far), ``samples_lost`` (per channel), ``rx_time_tags`` (per channel).

    Parameters
      scenario              preset name, TOML path or Scenario (its ``impairments``: rx_gains, cfo_hz,
                            overflow_every_frames, overflow_samples, seed; frame length; B = fs)
      node_id               the receiving node n, 0 … N−1
      epoch_s               the common epoch (whole Unix seconds, a float or a (whole, fraction) pair); None:
                            tags.SYNTHETIC_EPOCH_S (a run without a wall-clock epoch)
      epoch_frac_s          the epoch's fractional second
      label_offset_samples  the label of input sample 0, in samples after the epoch (an integer, may be
                            negative): the sensing channel's label_offset_samples
      rx_antennas           port count GRC draws; 0 or the scenario's Mr (checked)
    """

    def __init__(self, scenario="paper", node_id=0, epoch_s=None, epoch_frac_s=0.0, label_offset_samples=0,
                 rx_antennas=0):
        self.scenario = tags.as_scenario(scenario)
        tags.check_sizes(self.scenario, rx_antennas=rx_antennas)
        n = self.scenario.num_nodes
        if isinstance(node_id, bool) or int(node_id) != node_id or not 0 <= int(node_id) < n:
            raise ValueError(f"node_id = {node_id!r}: accepted: 0 … {n - 1}")
        if isinstance(label_offset_samples, bool) or int(label_offset_samples) != label_offset_samples:
            raise ValueError(f"label_offset_samples = {label_offset_samples!r}: accepted: a whole number of samples")
        self.node_id = int(node_id)
        self.label_offset_samples = int(label_offset_samples)
        self.epoch = tags.split_seconds(tags.SYNTHETIC_EPOCH_S if epoch_s is None else epoch_s, epoch_frac_s)
        self.sample_rate_hz = float(self.scenario.bandwidth_hz)
        first = tags.label_time(self.epoch, self.label_offset_samples, self.sample_rate_hz)
        if first[0] < 0:
            raise ValueError(f"epoch_s = {epoch_s!r} with label_offset_samples = {label_offset_samples}: the first "
                             "label is before Unix time 0; accepted: a later epoch")
        impairments = self.scenario.impairments
        self.gains = np.asarray(impairments.rx_gains[self.node_id], np.complex128)  # (Mr,)
        self.cfo_hz = float(impairments.cfo_hz[self.node_id])
        self.schedule = synthetic_radio.OverflowSchedule(
            impairments.overflow_every_frames, impairments.overflow_samples,
            ofdm.layout_from_scenario(self.scenario).frame_len, impairments.seed, self.node_id)
        self.identity = bool(np.all(self.gains == 1) and self.cfo_hz == 0)
        mr = self.scenario.rx_antennas
        gr.basic_block.__init__(self, name="disac_synthetic_radio_rx", in_sig=[np.complex64] * mr,
                                out_sig=[np.complex64] * mr)
        self.set_tag_propagation_policy(gr.TPP_DONT)
        self.set_min_output_buffer(OUTPUT_BUFFER_SAMPLES)
        self.overflows = 0
        self.samples_lost = 0
        self.rx_time_tags = 0

    def general_work(self, input_items, output_items):
        available = min(len(x) for x in input_items)
        space = len(output_items[0])
        if available == 0 or space == 0:
            return 0
        first_label = self.label_offset_samples + self.nitems_read(0)
        keep, after_loss = self.schedule.kept(first_label, available)
        kept_so_far = np.cumsum(keep)
        consumed = min(int(np.searchsorted(kept_so_far, space, side="right")), available)
        keep, after_loss = keep[:consumed], after_loss[:consumed]
        produced = int(kept_so_far[consumed - 1]) if consumed else 0
        if produced:
            self._write(input_items, output_items, first_label, consumed, keep, produced)
            self._tag(first_label, keep, after_loss)
        lost = consumed - produced
        self.samples_lost += lost
        self.consume_each(consumed)
        return produced

    def _write(self, input_items, output_items, first_label, consumed, keep, produced):
        whole = produced == consumed
        if self.identity:
            for x, out in zip(input_items, output_items):
                out[:produced] = x[:consumed] if whole else x[:consumed][keep]
            return
        phasor = synthetic_radio.cfo_phasor(self.cfo_hz, first_label, consumed, self.sample_rate_hz, -1)
        if not whole:
            phasor = phasor[keep]
        for gain, x, out in zip(self.gains, input_items, output_items):
            out[:produced] = (x[:consumed] if whole else x[:consumed][keep]) * (gain * phasor)

    def _tag(self, first_label, keep, after_loss):
        """rx_time at the first sample ever and at each kept sample right after a loss, on every channel."""
        written = self.nitems_written(0)
        out_index = np.cumsum(keep) - 1  # output position (in this call) of each kept input sample
        marks = np.flatnonzero(after_loss).tolist()
        self.overflows += len(marks)
        if written == 0:
            first_kept = int(np.argmax(keep))
            if first_kept not in marks:
                marks.insert(0, first_kept)
        for k in marks:
            value = tags.rx_time_value(tags.label_time(self.epoch, first_label + k, self.sample_rate_hz))
            for r in range(len(self.gains)):
                self.add_item_tag(r, written + int(out_index[k]), tags.rx_time_key(), value)
            self.rx_time_tags += 1
