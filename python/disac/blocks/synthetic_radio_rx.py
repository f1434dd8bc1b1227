# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Synthetic radio, receive side of node n: what its RX chains and its streamer do to the Mr streams the air
delivers (docs/air-model.md §2), as gr-uhd's usrp_source hands them on:

* per-channel gains rx_gains[n, r] (the thermal noise was added by the air before them, at the LNA);
* the node's carrier offset e^{−j2π ε_n t}, t = the sample's label (its local time since the epoch);
* overflows: in every overflow_every_frames-th frame the radio loses overflow_samples samples from a seeded
  position inside that frame, on every channel at once (core.synthetic_radio.OverflowSchedule);
* ``rx_time`` tags (gr-uhd's format, tags.RX_TIME_KEY) on every channel at the first sample and at the first
  sample after every loss, carrying that sample's label: epoch + label/fs;
* the receive front end (issue 14, core.front_end, docs/receiver-front-end.md), after the gains and the CFO:
  an optional RF self-interference canceller (``rf_canceller_db`` > 0 and the node's own transmit samples on
  the extra inputs: ``tx_reference``), the AGC (one gain per node, changed between frames, from its own ADC
  output) and the ADC (adc_bits, adc_full_scale: clip and quantise each I/Q component), ÷ g. It runs on every
  sample before the overflows drop some (the streamer loses converted samples). adc_bits = 0 (the ideal air):
  none of it, the samples pass bit for bit as before.

Labels: input sample k is labelled label_offset_samples + k samples after the epoch: the air's documented
label of its output sample 0 (sensing_channel.label_offset_samples, −A: the air's hidden latency). The
values are the scenario's drawn ``impairments`` (the ideal table: unit gains, no CFO, no overflow: the
samples pass unchanged, with an rx_time at the first). Everything is a function of each sample's label, so
any cut of the stream into work calls gives the same output and tags.
"""

import numpy as np
from gnuradio import gr

from . import tags
from ..core import front_end, ofdm, synthetic_radio
from ..core.front_end import front_end_settings  # noqa: F401 (hier.synthetic_node and calibration_capture import it from here)

OUTPUT_BUFFER_SAMPLES = 65536


class synthetic_radio_rx(gr.basic_block):
    """Mr complex streams in (the air: a sensing_channel) and out (to rx framing), fewer out after overflows.

    Input tags are dropped (a radio forwards none); rx_time tags are added on every output (module docstring).
    Counters: ``overflows`` (losses so far), ``samples_lost`` (per channel), ``rx_time_tags`` (per channel),
    ``adc_clipped`` (samples, per antenna, with a clipped I or Q component); ``front_end_status()`` the AGC's
    and the canceller's state (gain, settled, cancellation achieved, frames before settling).

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
      tx_reference          True: Mt more inputs (after the Mr), the node's own transmit samples (its isac_tx's
                            outputs, labels 0, 1, … from the epoch), the RF canceller's reference; it is built
                            when the table's rf_canceller_db > 0 (without the reference: no canceller, a warning)
      transmit_frames       the frames the node transmits (0: endless): after them its reference is silence
      tx_antennas           port count GRC draws; 0 or the scenario's Mt (checked)
      reference_cfo_hz      the carrier rotation (Hz) the transmit reference carries: −ε̂_n when the node's
                            transmitter pre-compensates a calibration's CFO (hier.synthetic_node passes it; the
                            canceller delays its reference exactly for it, as the air does: docs/air-model.md §5.4)
    """

    def __init__(self, scenario="paper", node_id=0, epoch_s=None, epoch_frac_s=0.0, label_offset_samples=0,
                 rx_antennas=0, tx_reference=False, transmit_frames=0, tx_antennas=0, reference_cfo_hz=0.0):
        self.scenario = tags.as_scenario(scenario)
        tags.check_sizes(self.scenario, rx_antennas=rx_antennas, tx_antennas=tx_antennas)
        n = self.scenario.num_nodes
        if isinstance(node_id, bool) or int(node_id) != node_id or not 0 <= int(node_id) < n:
            raise ValueError(f"node_id = {node_id!r}: accepted: 0 … {n - 1}")
        if isinstance(label_offset_samples, bool) or int(label_offset_samples) != label_offset_samples:
            raise ValueError(f"label_offset_samples = {label_offset_samples!r}: accepted: a whole number of samples")
        if isinstance(reference_cfo_hz, bool) or not np.isfinite(np.asarray(reference_cfo_hz, dtype=float)).all() \
                or np.ndim(reference_cfo_hz) != 0:
            raise ValueError(f"reference_cfo_hz = {reference_cfo_hz!r}: accepted: a finite number of Hz")
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
        layout = ofdm.layout_from_scenario(self.scenario)
        self.schedule = synthetic_radio.OverflowSchedule(
            impairments.overflow_every_frames, impairments.overflow_samples,
            layout.frame_len, impairments.seed, self.node_id)
        self.identity = bool(np.all(self.gains == 1) and self.cfo_hz == 0)
        if isinstance(transmit_frames, bool) or int(transmit_frames) != transmit_frames or transmit_frames < 0:
            raise ValueError(f"transmit_frames = {transmit_frames!r}: accepted: 0 (endless) or a number of frames")
        mr, mt = self.scenario.rx_antennas, self.scenario.tx_antennas
        self.front_end_settings = settings = front_end_settings(self.scenario)
        adc = front_end.ReceiveFrontEnd(mr, layout.frame_len, settings["adc_bits"], settings["adc_full_scale"],
                                        settings["agc"], settings["agc_backoff_db"])
        self.tx_reference = bool(tx_reference)
        canceller = None
        self._canceller_warning = None
        if settings["rf_canceller_db"] > 0:
            if self.tx_reference:
                # built from sizes and its depth only: it learns the leakage from samples (docs/air-model.md §0)
                canceller = front_end.SelfInterferenceCanceller(
                    mt, mr, layout.subcarriers, layout.cyclic_prefix, layout.frame_len, self.sample_rate_hz,
                    ofdm.DEFAULT_FREQUENCY_GRID, settings["rf_canceller_db"],
                    end_symbols=int(transmit_frames) * layout.frame_symbols if transmit_frames else None,
                    reference_cfo_hz=float(reference_cfo_hz))
            else:
                self._canceller_warning = (f"impairments.rf_canceller_db = {settings['rf_canceller_db']:g} but no "
                                           "transmit reference (tx_reference=False): no RF canceller")
        self.front = front_end.NodeFrontEnd(adc, canceller)
        self._ports = mr + (mt if self.tx_reference else 0)
        gr.basic_block.__init__(self, name="disac_synthetic_radio_rx", in_sig=[np.complex64] * self._ports,
                                out_sig=[np.complex64] * mr)
        self.set_tag_propagation_policy(gr.TPP_DONT)
        self.set_min_output_buffer(OUTPUT_BUFFER_SAMPLES)
        self.overflows = 0
        self.samples_lost = 0
        self.rx_time_tags = 0
        if self._canceller_warning:
            self.logger.warn(self._canceller_warning)

    @property
    def adc_clipped(self):
        return self.front.adc.adc_clipped

    def front_end_status(self):
        """The front end's state: ADC and AGC counters, and the canceller's (when there is one)."""
        return self.front.status()

    def forecast(self, noutput_items, ninputs):
        """The air's samples one to one; the transmit reference (when connected) is taken as it comes."""
        mr = self.scenario.rx_antennas
        return [noutput_items] * mr + [0] * (ninputs - mr)

    def general_work(self, input_items, output_items):
        mr = self.scenario.rx_antennas
        if self._ports > mr:  # the node's own transmit samples: all that came, into the canceller's reference
            taken = min(len(x) for x in input_items[mr:])
            if taken:
                self.front.push_tx(np.array([x[:taken] for x in input_items[mr:]]))
                for port in range(mr, self._ports):
                    self.consume(port, taken)
        air = input_items[:mr]
        available = min(len(x) for x in air)
        space = len(output_items[0])
        if available == 0 or space == 0:
            return 0
        first_label = self.label_offset_samples + self.nitems_read(0)
        if not self.front.covers(first_label + available):  # the reference is behind: take what it covers
            available = max(0, min(available, self.front.canceller.reference.samples - first_label))
            if available == 0:
                return 0
        keep, after_loss = self.schedule.kept(first_label, available)
        kept_so_far = np.cumsum(keep)
        consumed = min(int(np.searchsorted(kept_so_far, space, side="right")), available)
        keep, after_loss = keep[:consumed], after_loss[:consumed]
        produced = int(kept_so_far[consumed - 1]) if consumed else 0
        if not self.front.ideal and consumed:
            self._write_front_end(air, output_items, first_label, consumed, keep, produced)
            if produced:
                self._tag(first_label, keep, after_loss)
        elif produced:
            self._write(air, output_items, first_label, consumed, keep, produced)
            self._tag(first_label, keep, after_loss)
        lost = consumed - produced
        self.samples_lost += lost
        for port in range(mr):
            self.consume(port, consumed)
        return produced

    def _write_front_end(self, input_items, output_items, first_label, consumed, keep, produced):
        """Gains and CFO, then the front end on every consumed sample (labels in a row), then the losses."""
        phasor = synthetic_radio.cfo_phasor(self.cfo_hz, first_label, consumed, self.sample_rate_hz, -1)
        v = np.array([x[:consumed] for x in input_items], dtype=np.complex128)
        if not self.identity:
            v *= self.gains[:, None] * phasor[None, :]
        y = self.front.process(v, first_label)
        whole = produced == consumed
        for r, out in enumerate(output_items):
            out[:produced] = y[r] if whole else y[r][keep]

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
