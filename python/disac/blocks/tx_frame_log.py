# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Transmit frame log: which precoder version (and set identity) each frame left with, from isac_tx's frame tags.

A USRP node's receiver learns its frames from the clock, not from tags (the radio drops them): the rx
frame tagger asks this log which version the node's own transmitter used for frame f.
"""

import bisect
import threading

import numpy as np
from gnuradio import gr

from . import tags


class tx_frame_log(gr.sync_block):
    """A sink on a transmitter's antenna-0 stream: (first frame, version, set identity) at every precoder change.

    Parameters
      capacity   change points kept (the oldest are forgotten beyond it), ≥ 1

    Python API (thread-safe): version_of(frame) is the version frame ``frame`` went out with, or None
    when the log has not reached that frame yet (and the stream has not ended); last_version() the
    latest version seen (0 before any tag); latest_frame the last frame number seen; precoder_id_of(frame) and
    last_precoder_id() the same for the identity of the precoder set (tags.frame_tag_precoder_id).
    """

    def __init__(self, capacity=4096):
        gr.sync_block.__init__(self, name="disac_tx_frame_log", in_sig=[np.complex64], out_sig=None)
        if isinstance(capacity, bool) or int(capacity) != capacity or capacity < 1:
            raise ValueError(f"capacity = {capacity!r}: accepted: a whole number of change points ≥ 1")
        self.capacity = int(capacity)
        self.first_frames, self.versions, self.precoder_ids = [], [], []  # change points, sorted by frame
        self.latest_frame = -1
        self.finished = False
        self._lock = threading.Lock()

    def work(self, input_items, output_items):
        count = len(input_items[0])
        for tag in self.get_tags_in_window(0, 0, count, tags.frame_tag_key()):
            frame, _, version = tags.parse_frame_tag(tag.value)
            identity = tags.frame_tag_precoder_id(tag.value)
            with self._lock:
                if not self.versions or (self.versions[-1], self.precoder_ids[-1]) != (version, identity):
                    self.first_frames.append(frame)
                    self.versions.append(version)
                    self.precoder_ids.append(identity)
                    if len(self.versions) > self.capacity:
                        del self.first_frames[0], self.versions[0], self.precoder_ids[0]
                self.latest_frame = max(self.latest_frame, frame)
        return count

    def stop(self):
        self.finished = True
        return True

    def last_version(self):
        with self._lock:
            return self.versions[-1] if self.versions else 0

    def last_precoder_id(self):
        with self._lock:
            return self.precoder_ids[-1] if self.precoder_ids else tags.START_SET_ID

    def version_of(self, frame):
        """The version frame ``frame`` went out with; None when the log has not reached that frame yet."""
        return self._entry_of(frame, self.versions, 0)

    def precoder_id_of(self, frame):
        """The identity of the set frame ``frame`` went out with; None when the log has not reached it yet."""
        return self._entry_of(frame, self.precoder_ids, tags.START_SET_ID)

    def _entry_of(self, frame, entries, default):
        with self._lock:
            if frame > self.latest_frame and not self.finished:
                return None
            i = bisect.bisect_right(self.first_frames, frame) - 1
            return entries[max(i, 0)] if entries else default
