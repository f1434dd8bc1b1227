# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""SigMF recorder of a node's receive streams: Mr complex streams in, one multi-channel SigMF recording out
(core.recording: the files, why one recording for all channels, the metadata keys).

Tap it on what the radio delivers (the USRP source's outputs, or the synthetic radio's), before any band
shift or framing, so a replay (sigmf_replay) feeds the same receive chain as the radio did. Every
``rx_time`` tag (on any channel; gr-uhd tags all channels at the same sample; blocks.tags decodes it)
starts a capture segment.
"""

import numpy as np
from gnuradio import gr

from . import tags
from ..core import calibration, ofdm, recording
from ..core.scenario import scenario_to_toml

def scenario_metadata(scenario):
    """(TOML without the impairments, ground-truth table or None) of a Scenario: the receive side is never
    told the impairments (docs/air-model.md §0); the truth goes only under core.recording.GROUND_TRUTH_KEY."""
    table = scenario.impairments_table
    return scenario_to_toml(scenario.without_impairments()), ({"impairments": dict(table)} if table else None)


def read_calibration_json(path, scenario=None):
    """The calibration file's JSON object, validated by core.calibration.load_calibration (and against the
    scenario's sizes and rate), embedded in the metadata so a recording is self-contained."""
    try:
        return calibration.load_calibration(path, scenario).to_dict()
    except calibration.CalibrationError as exc:
        raise ValueError(f"calibration_file = {path!r}: {exc}") from None


class sigmf_record(gr.sync_block):
    """Mr complex streams in (no outputs): DIR/node-<node_id + 1>.sigmf-{data,meta}.

    Parameters
      scenario          preset name, TOML path or Scenario (Mr, the sample rate B; written without its
                        [impairments] table)
      node_id           this node, 0 … N−1
      directory         DIR (created if missing; an existing recording of this node there is an error)
      radio             "synthetic" | "usrp" (what made the samples)
      center_freq_hz    the carrier (0: not known / synthetic air)
      tx_gain_db, rx_gain_db   the radio's gains (written for radio "usrp")
      frequency_grid    "low-if" | "centred": how the samples map to the model's subcarriers
      epoch_s           Unix time of frame 0 (0: not known)
      calibration_file  a calibration JSON (docs/air-model.md §3) to embed, "" for none
      ground_truth      synthetic only: also write the scenario's true impairments under
                        "disac:ground_truth" (a test fixture's truth; no receiver reads it)
      rx_antennas       port count; 0 or the scenario's Mr

    Counters: samples_recorded, captures (rx_time labels written), bad_time_tags (rx_time values that
    were not a (seconds, fraction) pair: logged and skipped), samples_dropped (samples a failed write
    lost: logged as an error, the flowgraph keeps running), error (the first write error, or None).
    stop() closes the recording (final metadata).
    """

    def __init__(self, scenario="paper", node_id=0, directory="recording", radio="synthetic", center_freq_hz=0.0,
                 tx_gain_db=0.0, rx_gain_db=0.0, frequency_grid="low-if", epoch_s=0.0, calibration_file="",
                 ground_truth=False, rx_antennas=0):
        s = tags.as_scenario(scenario)
        tags.check_sizes(s, rx_antennas=rx_antennas)
        if not 0 <= int(node_id) < s.num_nodes:
            raise ValueError(f"node_id = {node_id!r}: accepted: 0 … {s.num_nodes - 1}")
        if radio not in recording.RADIOS:
            raise ValueError(f"radio = {radio!r}: accepted: {', '.join(recording.RADIOS)}")
        if frequency_grid not in ofdm.FREQUENCY_GRIDS:
            raise ValueError(f"frequency_grid = {frequency_grid!r}: accepted: {', '.join(ofdm.FREQUENCY_GRIDS)}")
        toml_text, truth = scenario_metadata(s)
        if not ground_truth or radio != "synthetic":
            truth = None
        embedded = read_calibration_json(calibration_file, s) if calibration_file else None
        epoch = None
        if epoch_s:
            whole = int(np.floor(float(epoch_s)))
            epoch = (whole, float(epoch_s) - whole)
        usrp = radio == "usrp"
        self.writer = recording.RecordingWriter(
            directory, node_id, s.rx_antennas, float(s.bandwidth_hz), toml_text, radio,
            center_freq_hz=float(center_freq_hz) if center_freq_hz else None,
            tx_gain_db=float(tx_gain_db) if usrp else None, rx_gain_db=float(rx_gain_db) if usrp else None,
            frequency_grid=frequency_grid, epoch=epoch, calibration=embedded, ground_truth=truth,
            hardware="USRP (gr-uhd)" if usrp else "gr-disac synthetic air")
        gr.sync_block.__init__(self, name="disac_sigmf_record", in_sig=[np.complex64] * s.rx_antennas, out_sig=None)
        self.scenario, self.node_id, self.rx_antennas = s, int(node_id), s.rx_antennas
        self.samples_recorded = 0
        self.captures = 0
        self.bad_time_tags = 0
        self.samples_dropped = 0
        self.error = None

    @property
    def meta_path(self):
        return self.writer.meta_path

    @property
    def data_path(self):
        return self.writer.data_path

    def _labels(self, start, count):
        """{offset: (full, frac)} of the rx_time tags in [start, start + count) on any input."""
        found = {}
        for r in range(self.rx_antennas):
            for tag in self.get_tags_in_range(r, start, start + count, tags.rx_time_key()):
                if tag.offset in found:
                    continue
                try:
                    found[tag.offset] = tags.parse_rx_time(tag.value)
                except ValueError as exc:  # a radio's tag: never trusted
                    self.bad_time_tags += 1
                    self.logger.warn(f"rx_time tag at sample {tag.offset} skipped: {exc}")
        return found

    def _write(self, samples):
        if self.error is not None:
            self.samples_dropped += samples.shape[1]
            return
        try:
            self.writer.append(samples)
            self.samples_recorded += samples.shape[1]
        except OSError as exc:  # disk full, device gone: say so loudly, keep the flowgraph running
            self.error = f"{self.writer.data_path}: {exc}"
            self.samples_dropped += samples.shape[1]
            self.logger.error(f"recording stopped, samples from {self.samples_recorded} on are lost: {self.error}")

    def work(self, input_items, output_items):
        count = min(len(x) for x in input_items)
        start = self.nitems_read(0)
        position = 0
        for offset, (full, frac) in sorted(self._labels(start, count).items()):
            at = offset - start
            if at > position:
                self._write(np.stack([x[position:at] for x in input_items]))
                position = at
            if self.error is None:
                try:
                    self.writer.label(offset, full, frac)
                    self.captures += 1
                except OSError as exc:
                    self.error = f"{self.writer.meta_path}: {exc}"
                    self.logger.error(f"recording metadata cannot be written: {self.error}")
        if count > position:
            self._write(np.stack([x[position:count] for x in input_items]))
        return count

    def stop(self):
        try:
            self.writer.close()
        except OSError as exc:
            self.error = self.error or f"{self.writer.meta_path}: {exc}"
            self.logger.error(f"recording cannot be closed: {exc}")
        return True
