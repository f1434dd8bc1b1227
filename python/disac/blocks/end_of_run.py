# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""End of run: ends a finite flowgraph once the central unit is through its frames, so that a GRC flowgraph
run with a frame count (``--frames 300``) exits by itself, a Qt one by closing its window.

The central unit and the beamformer server are message blocks fed by sockets: nothing upstream ever
tells them the run is over, so GNU Radio's own end-of-stream never reaches them and ``tb.wait()`` would
wait for ever. This block listens to the central unit's ``estimate`` and ``status`` messages and, once
frame ``frames`` − 1 is localised (or the status says every frame up to it is released and localised or
skipped), waits ``grace_s`` (the last GUI updates) and ends the run: a Qt top block (a QWidget) is closed
from the Qt thread (its closeEvent stops and waits for the flowgraph, and the application quits when its
last window closes); any other top block is stopped from a helper thread.
"""

import threading

import pmt
from gnuradio import gr

INPUT_PORT = "in"


class end_of_run(gr.basic_block):
    """Message input ``in``: the central unit's estimate and status dicts, or a node receiver's snapshot PDUs
    (single or batched; the run ends with the last frame's snapshot); other messages are ignored.

    Parameters
      top      the top block to end (GRC passes ``self``); None: only ``done`` is set (Python callers)
      frames   the run's frame count; 0: never end (an endless run)
      grace_s  seconds between the last frame and the end, ≥ 0

    ``done`` (a threading.Event) is set when the end is triggered.
    """

    def __init__(self, top=None, frames=0, grace_s=1.0):
        gr.basic_block.__init__(self, name="disac_end_of_run", in_sig=None, out_sig=None)
        if isinstance(frames, bool) or int(frames) != frames or frames < 0:
            raise ValueError(f"frames = {frames!r}: accepted: 0 (never end) or a number of frames")
        if not float(grace_s) >= 0:
            raise ValueError(f"grace_s = {grace_s!r}: accepted: seconds ≥ 0")
        self.top, self.frames, self.grace_s = top, int(frames), float(grace_s)
        self.done = threading.Event()
        self._timer = None
        self.message_port_register_in(pmt.intern(INPUT_PORT))
        self.set_msg_handler(pmt.intern(INPUT_PORT), self.handle)

    def handle(self, msg):
        """Never raises: a message that is not a dict, or lacks the keys, is ignored."""
        if not self.frames or self.done.is_set() or not (pmt.is_dict(msg) or pmt.is_pair(msg)):
            return
        try:
            if self._finished(msg):
                self._end()
        except (ValueError, TypeError, RuntimeError) as exc:
            self.logger.warn(f"message ignored: {exc}")

    def _finished(self, msg):
        if pmt.is_pair(msg) and not pmt.is_dict(msg):  # a snapshot PDU (meta . samples): frame(s) in the meta
            msg = pmt.car(msg)
            if not pmt.is_dict(msg):
                return False

        def get(key):
            value = pmt.dict_ref(msg, pmt.intern(key), pmt.PMT_NIL)
            if pmt.is_u64vector(value):  # batched snapshots' frame numbers (to_python cannot convert them)
                return list(pmt.u64vector_elements(value))
            return None if pmt.is_null(value) else pmt.to_python(value)

        frame = get("frame")
        if frame is not None:  # an estimate, or one snapshot
            return int(frame) >= self.frames - 1
        frames = get("frames")
        if frames is not None and len(frames):  # a batch of snapshots
            return int(max(frames)) >= self.frames - 1
        released, localised, skipped = get("frames_released"), get("frames_localised"), get("frames_skipped")
        queued = get("queued_frames") or 0
        if released is None or localised is None or skipped is None:
            return False
        return int(released) >= self.frames and int(queued) == 0 and int(localised) + int(skipped) >= int(released)

    def _end(self):
        self.done.set()
        self._timer = threading.Timer(self.grace_s, self._close_top)
        self._timer.daemon = True
        self._timer.start()

    def _close_top(self):
        top = self.top
        if top is None:
            return
        try:
            from PyQt5 import Qt

            if isinstance(top, Qt.QWidget):
                # close() from the Qt thread: the generated closeEvent stops the flowgraph and waits for it
                Qt.QMetaObject.invokeMethod(top, "close", Qt.Qt.QueuedConnection)
                return
        except ImportError:
            pass
        top.stop()  # from this helper thread, never from a scheduler thread

    def stop(self):
        if self._timer is not None:
            self._timer.cancel()
        return True
