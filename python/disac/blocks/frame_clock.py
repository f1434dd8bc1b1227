# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Frame clock of the synthetic radio: a pass-through stream that lets frame f out no earlier than
epoch_s + f/frame_rate_hz (Unix seconds), as a radio's frame counter driven by a shared time reference.

Frames whose time has passed go at once, so a node started late (or restarted) catches up from frame 0
at full speed and then runs in step with the others. Tags pass through (the default propagation).
"""

import time

import numpy as np
from gnuradio import gr

from . import tags
from ..core import ofdm


class frame_clock(gr.sync_block):
    """One complex stream in and out, released in whole frames, frame f at epoch_s + f/frame_rate_hz.

    Parameters
      scenario       preset name, TOML path or Scenario (the frame length: (L + CP)·(P + 2) samples)
      frame_rate_hz  frames per second, > 0
      epoch_s        Unix time of frame 0; None or a negative number: the time this block is made
    """

    def __init__(self, scenario="paper", frame_rate_hz=10.0, epoch_s=None):
        self.scenario = tags.as_scenario(scenario)
        self.layout = ofdm.layout_from_scenario(self.scenario)
        gr.sync_block.__init__(self, name="disac_frame_clock", in_sig=[np.complex64], out_sig=[np.complex64])
        rate = float(frame_rate_hz)
        if not (np.isfinite(rate) and rate > 0):
            raise ValueError(f"frame_rate_hz = {frame_rate_hz!r}: accepted: a finite number of frames per second > 0")
        self.frame_rate_hz = rate
        self.epoch_s = self._checked_epoch_s(epoch_s)
        self.set_output_multiple(self.layout.frame_len)

    @staticmethod
    def _checked_epoch_s(epoch_s):
        if epoch_s is not None and not np.isfinite(float(epoch_s)):
            raise ValueError(f"epoch_s = {epoch_s!r}: accepted: Unix seconds, or None (now)")
        return time.time() if epoch_s is None or float(epoch_s) < 0 else float(epoch_s)

    def set_epoch_s(self, epoch_s=None):
        """Move the schedule at run time: frame f is then due at epoch_s + f/frame_rate_hz (None or negative:
        now). A radio's frame counter started by a shared event (every node up, the first precoders designed):
        frames already released stay released; the next goes at its new time. ValueError names a bad value."""
        self.epoch_s = self._checked_epoch_s(epoch_s)

    def set_frame_rate_hz(self, frame_rate_hz):
        """Change the rate at run time; frame f is then due at epoch_s + f/frame_rate_hz (the same epoch)."""
        rate = float(frame_rate_hz)
        if np.isfinite(rate) and rate > 0:
            self.frame_rate_hz = rate
        else:
            self.logger.warn(f"set_frame_rate_hz({frame_rate_hz!r}) ignored: accepted: frames per second > 0")

    def work(self, input_items, output_items):
        frame_len = self.layout.frame_len
        first = self.nitems_written(0) // frame_len
        due = int(np.floor((time.time() - self.epoch_s) * self.frame_rate_hz)) + 1 - first  # frames whose time came
        count = min(len(output_items[0]) // frame_len, max(due, 0)) * frame_len
        if count == 0:
            wait = self.epoch_s + first / self.frame_rate_hz - time.time()
            time.sleep(min(max(wait, 0.001), 0.05))
            return 0
        output_items[0][:count] = input_items[0][:count]
        return count
