# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Receive frame timing of a USRP node: frame tags put on the received streams by sample count.

Both USRP streams start at the same device time (the common epoch), so frame f starts at received
sample offset_samples + f·frame_len. This block marks it with the tag node_rx expects (frame, node id,
precoder version), the version taken from the node's transmit frame log. Other tags (e.g. the USRP's
rx_time) are dropped.
"""

import time

import numpy as np
from gnuradio import gr

from . import tags
from ..core import ofdm

LOG_WAIT_LIMIT_S = 0.5  # how long the tagger waits for a lagging transmit log before it guesses the version


class rx_frame_tagger(gr.sync_block):
    """Mr complex streams in and out; a frame tag on stream 0 at offset_samples + f·frame_len for frame f.

    Parameters
      scenario        preset name, TOML path or Scenario (frame length)
      node_id         this node (written in the tags), 0 … N−1
      rx_antennas     port count; 0 or the scenario's Mr
      tx_log          a tx_frame_log on this node's transmitter (the version of each frame); a callable
                      returning one, called at the first frame (GRC: the log block may be made after this
                      one); or None: every frame is tagged with version 0
      max_frames      stop (WORK_DONE) once this many frames were passed on; 0: never
      offset_samples  received samples before frame 0 (the radios' measured tx → rx latency), ≥ 0

    When the log lags the receiver by a frame it waits for it up to LOG_WAIT_LIMIT_S, then tags the frame
    with the last version logged and counts it in ``versions_guessed``. ``frames_tagged`` counts the tags.
    """

    def __init__(self, scenario="paper", node_id=0, rx_antennas=0, tx_log=None, max_frames=0, offset_samples=0):
        self.scenario = tags.as_scenario(scenario)
        tags.check_sizes(self.scenario, rx_antennas=rx_antennas)
        self.layout = ofdm.layout_from_scenario(self.scenario)
        if not 0 <= int(node_id) < self.layout.num_nodes:
            raise ValueError(f"node_id = {node_id!r}: accepted: 0 … {self.layout.num_nodes - 1}")
        if int(max_frames) < 0:
            raise ValueError(f"max_frames = {max_frames!r}: accepted: 0 (never stop) or a number of frames")
        if int(offset_samples) < 0:
            raise ValueError(f"offset_samples = {offset_samples!r}: accepted: a whole number of samples ≥ 0")
        self.rx_antennas = self.scenario.rx_antennas
        gr.sync_block.__init__(self, name="disac_rx_frame_tagger", in_sig=[np.complex64] * self.rx_antennas,
                               out_sig=[np.complex64] * self.rx_antennas)
        self.set_tag_propagation_policy(gr.TPP_DONT)
        self.node_id, self._tx_log = int(node_id), tx_log
        self.max_frames, self.offset_samples = int(max_frames), int(offset_samples)
        self.frames_tagged = 0
        self.versions_guessed = 0
        self._waited_s = 0.0

    @property
    def tx_log(self):
        """The transmit frame log (a callable given at construction is resolved on first use)."""
        if self._tx_log is not None and not hasattr(self._tx_log, "version_of"):
            self._tx_log = self._tx_log()
        return self._tx_log

    def work(self, input_items, output_items):
        frame_len, offset = self.layout.frame_len, self.offset_samples
        count = len(output_items[0])
        start = self.nitems_written(0)
        if self.max_frames:
            count = min(count, offset + self.max_frames * frame_len - start)
            if count <= 0:
                return -1  # WORK_DONE: every frame asked for has been received
        first = max(0, -(-(start - offset) // frame_len))
        last = (start + count - 1 - offset) // frame_len  # frames starting in this window
        for frame in range(first, last + 1):
            version = 0 if self.tx_log is None else self.tx_log.version_of(frame)
            if version is None:  # the log lags the receiver: wait for it, briefly
                if self._waited_s < LOG_WAIT_LIMIT_S:
                    count = offset + frame * frame_len - start
                    if count == 0:
                        time.sleep(0.001)
                        self._waited_s += 0.001
                        return 0
                    break
                version = self.tx_log.last_version()
                self.versions_guessed += 1
            self._waited_s = 0.0
            self.add_item_tag(0, offset + frame * frame_len, tags.frame_tag_key(),
                              tags.frame_tag_value(frame, self.node_id, version))
            self.frames_tagged += 1
        for r in range(self.rx_antennas):
            output_items[r][:count] = input_items[r][:count]
        return count
