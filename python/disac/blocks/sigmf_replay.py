# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""SigMF replay of a node recording: DIR/node-<node_id + 1> back as Mr complex streams with its ``rx_time``
tags at their samples (core.recording), so it feeds the same receive chain (band shift, rx framing,
node receiver) as the radio that made it.
"""

import numpy as np
from gnuradio import gr

from . import tags
from ..core import recording

SAMPLE_RATE_TOLERANCE = 1e-9  # relative: the recording's rate must be the scenario's bandwidth


class sigmf_replay(gr.sync_block):
    """Mr complex streams out (no inputs), the stream ended (WORK_DONE) after the last recorded sample.

    Parameters
      scenario       preset name, TOML path or Scenario: its Mr and bandwidth must be the recording's
      node_id        the node whose recording is read, 0 … N−1 (DIR/node-<node_id + 1>)
      directory      DIR (as given to sigmf_record / `disac node --record DIR`)
      rx_antennas    port count; 0 or the scenario's Mr

    Every capture segment with a time (disac:rx_time, or core:datetime for a foreign recording) becomes
    an rx_time tag on every output at its sample. Attributes: reader (core.recording.RecordingReader),
    samples_replayed, done (True once the last sample went out).
    """

    def __init__(self, scenario="paper", node_id=0, directory="recording", rx_antennas=0):
        s = tags.as_scenario(scenario)
        tags.check_sizes(s, rx_antennas=rx_antennas)
        if not 0 <= int(node_id) < s.num_nodes:
            raise ValueError(f"node_id = {node_id!r}: accepted: 0 … {s.num_nodes - 1}")
        self.reader = reader = recording.RecordingReader(directory, int(node_id))
        if reader.num_channels != s.rx_antennas:
            raise ValueError(f"{str(reader.meta_path)!r} has {reader.num_channels} channels, scenario {s.name!r} "
                             f"has Mr = {s.rx_antennas}: replay it with the scenario it was recorded with")
        if abs(reader.sample_rate_hz - s.bandwidth_hz) > SAMPLE_RATE_TOLERANCE * s.bandwidth_hz:
            raise ValueError(f"{str(reader.meta_path)!r} was recorded at {reader.sample_rate_hz:.9g} S/s, scenario "
                             f"{s.name!r} runs at its bandwidth {s.bandwidth_hz:.9g} Hz: replay it with the "
                             "scenario it was recorded with")
        gr.sync_block.__init__(self, name="disac_sigmf_replay", in_sig=None, out_sig=[np.complex64] * s.rx_antennas)
        self.rx_antennas = s.rx_antennas
        self._labels = [(start, tags.rx_time_value(label)) for start, label in reader.labels]
        self._next_label = 0
        self.samples_replayed = 0
        self.done = False

    def work(self, input_items, output_items):
        start = self.samples_replayed
        count = min(len(output_items[0]), self.reader.num_samples - start)
        if count <= 0:
            self.done = True
            return -1  # WORK_DONE: the recording has been replayed
        block = self.reader.read(start, count)
        for r in range(self.rx_antennas):
            output_items[r][:count] = block[r]
        while self._next_label < len(self._labels) and self._labels[self._next_label][0] < start + count:
            offset, value = self._labels[self._next_label]
            for r in range(self.rx_antennas):
                self.add_item_tag(r, offset, tags.rx_time_key(), value)
            self._next_label += 1
        self.samples_replayed += count
        return count
