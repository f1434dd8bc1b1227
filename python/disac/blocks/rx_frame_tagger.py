# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Receive frame timing of a node: frame tags placed from the radio's ``rx_time`` labels.

Every node runs the same frame schedule from a common epoch: frame f starts at the receive sample labelled
epoch + (f·frame_len + offset_samples)/fs (offset_samples: the calibrated frame-start shift of this
receiver, core.calibration.Calibration.window_offset_samples). A radio labels its samples with gr-uhd
``rx_time`` tags (tags.RX_TIME_KEY: the label of the tagged sample, later samples following at 1/fs) at its
first sample and after every overflow; this block reads them on stream 0 (a multi-channel radio drops the
same samples on every channel) and marks every frame it received whole with the tag node_rx expects
(frame, node id, precoder version and precoder set identity, the last two from the node's transmit frame
log). Other tags are dropped.

A frame is tagged only once all of its frame_len samples are in sight with no label jump inside: the block
passes samples on up to the start of the next frame it has not decided, and asks (its forecast) for that
frame's samples before it passes more (its input buffer must hold at least a frame; the blocks the nodes put
before it hold many). A frame it cannot tag is dropped and counted, never silently:
  overflow_partial     frames cut by an rx_time jump (an overflow): some of their samples are missing
  overflow_lost        frames lying wholly inside the samples an overflow lost
  frames_before_start  frames that started before the stream's first sample (a negative offset_samples, a
                       radio that started late)
Frames after a jump are placed exactly from the new label. ``rx_time_jumps`` counts the labels that did not
continue the previous ones; ``rx_time_rejected`` the malformed rx_time tags (ignored, logged once).

Epoch: given (epoch_s whole Unix seconds or a float, plus epoch_frac_s), labels are read against it; None:
the first rx_time label seen is taken to continue the sample count (its sample keeps its index), so only
later jumps move frames. Without any rx_time tag, frame f starts at stream sample f·frame_len +
offset_samples (sample counting, the behaviour before rx_time framing).
"""

import time

import numpy as np
from gnuradio import gr

from . import tags
from ..core import ofdm

LOG_WAIT_LIMIT_S = 0.5  # how long the tagger waits for a lagging transmit log before it guesses the version
GRID_TOLERANCE_SAMPLES = 1e-3  # an rx_time label further than this from the sample grid is logged (then rounded)


class rx_frame_tagger(gr.basic_block):
    """Mr complex streams in and out; a frame tag on stream 0 at the start of every frame received whole.

    Parameters
      scenario        preset name, TOML path or Scenario (frame length, sample rate = bandwidth)
      node_id         this node (written in the tags), 0 … N−1
      rx_antennas     port count; 0 or the scenario's Mr
      tx_log          a tx_frame_log on this node's transmitter (the version and set identity of each
                      frame); a callable returning one, called at the first frame (GRC: the log block may be
                      made after this one); or None: every frame is tagged with version 0, identity 0
      max_frames      stop (WORK_DONE) once frames 0 … max_frames − 1 are passed (tagged or dropped); 0: never
      offset_samples  the frame-start shift (samples, an integer, may be negative): frame f starts at the
                      sample labelled epoch + (f·frame_len + offset_samples)/fs
      epoch_s         the common epoch: whole Unix seconds (int), a float, or a (whole, fraction) pair;
                      None: the first rx_time label continues the sample count (module docstring)
      epoch_frac_s    the epoch's fractional second, added to epoch_s
      log_wait_s      how long to wait for a lagging transmit log before guessing (LOG_WAIT_LIMIT_S)

    When the log lags the receiver by a frame it waits for it up to log_wait_s, then tags the frame with the
    last version logged and counts it in ``versions_guessed``. ``frames_tagged`` counts the tags; the drop
    counters are in the module docstring; ``frames_accounted`` is their sum with frames_tagged.
    """

    def __init__(self, scenario="paper", node_id=0, rx_antennas=0, tx_log=None, max_frames=0, offset_samples=0,
                 epoch_s=None, epoch_frac_s=0.0, log_wait_s=LOG_WAIT_LIMIT_S):
        self.scenario = tags.as_scenario(scenario)
        tags.check_sizes(self.scenario, rx_antennas=rx_antennas)
        self.layout = ofdm.layout_from_scenario(self.scenario)
        if not 0 <= int(node_id) < self.layout.num_nodes:
            raise ValueError(f"node_id = {node_id!r}: accepted: 0 … {self.layout.num_nodes - 1}")
        if int(max_frames) < 0:
            raise ValueError(f"max_frames = {max_frames!r}: accepted: 0 (never stop) or a number of frames")
        if isinstance(offset_samples, bool) or int(offset_samples) != offset_samples:
            raise ValueError(f"offset_samples = {offset_samples!r}: accepted: a whole number of samples")
        if not float(log_wait_s) >= 0:
            raise ValueError(f"log_wait_s = {log_wait_s!r}: accepted: seconds ≥ 0")
        self.epoch = None if epoch_s is None else tags.split_seconds(epoch_s, epoch_frac_s)
        self.rx_antennas = self.scenario.rx_antennas
        gr.basic_block.__init__(self, name="disac_rx_frame_tagger", in_sig=[np.complex64] * self.rx_antennas,
                                out_sig=[np.complex64] * self.rx_antennas)
        self.set_tag_propagation_policy(gr.TPP_DONT)
        self.node_id, self._tx_log = int(node_id), tx_log
        self.max_frames, self.offset_samples = int(max_frames), int(offset_samples)
        self.log_wait_s = float(log_wait_s)
        self.sample_rate_hz = float(self.scenario.bandwidth_hz)
        self.frames_tagged = 0
        self.versions_guessed = 0
        self.overflow_partial = 0
        self.overflow_lost = 0
        self.frames_before_start = 0
        self.rx_time_jumps = 0
        self.rx_time_rejected = 0
        self._waited_s = 0.0
        self._next_frame = 0
        # anchors [(stream offset k, label n in samples since the epoch)]: the samples from k on (to the next
        # anchor) carry labels n + (offset − k). The first is the implicit one of sample counting.
        self._anchors = [(0, 0)]
        self._first_segment = True  # the current segment is the stream's first (frames before it: before start)
        self._implicit = True  # the first anchor is the implicit one (no rx_time seen yet)
        self._tags_read_to = -1  # rx_time tags at offsets ≤ this were read
        self._stop_at = None  # with max_frames: the stream offset where the output ends
        self._pending = self.offset_samples  # stream offset of the next frame to decide (None: none pending)
        self._warned = set()

    @property
    def tx_log(self):
        """The transmit frame log (a callable given at construction is resolved on first use)."""
        if self._tx_log is not None and not hasattr(self._tx_log, "version_of"):
            self._tx_log = self._tx_log()
        return self._tx_log

    @property
    def frames_accounted(self):
        """Frames passed so far: tagged or dropped (and counted)."""
        return self.frames_tagged + self.overflow_partial + self.overflow_lost + self.frames_before_start

    def counters(self):
        """The framing counters (a dict, JSON-ready)."""
        return {"frames_tagged": self.frames_tagged, "overflow_partial": self.overflow_partial,
                "overflow_lost": self.overflow_lost, "frames_before_start": self.frames_before_start,
                "rx_time_jumps": self.rx_time_jumps, "rx_time_rejected": self.rx_time_rejected,
                "versions_guessed": self.versions_guessed}

    def _warn_once(self, what, message):
        if what not in self._warned:
            self._warned.add(what)
            self.logger.warn(f"node {self.node_id}: {message}")

    # ---- rx_time → anchors ---------------------------------------------------------------------
    def _read_rx_time(self, start, count):
        for tag in self.get_tags_in_range(0, start, start + count, tags.rx_time_key()):
            if tag.offset <= self._tags_read_to:
                continue  # read in an earlier call (the samples were held back)
            self._tags_read_to = tag.offset
            try:
                label = tags.parse_rx_time(tag.value)
            except ValueError as exc:
                self.rx_time_rejected += 1
                self._warn_once("rejected", f"rx_time tag at sample {tag.offset} ignored: {exc}")
                continue
            self._add_anchor(int(tag.offset), label)

    def _add_anchor(self, offset, label):
        if self.epoch is None:  # the first label continues the sample count: it fixes the epoch
            self.epoch = tags.label_time(label, -offset, self.sample_rate_hz)
        samples, residual = tags.samples_since(self.epoch, label, self.sample_rate_hz)
        if abs(residual) > GRID_TOLERANCE_SAMPLES:
            self._warn_once("grid", f"rx_time {label} is {residual:+.4f} samples off the epoch's sample grid "
                                    "(rounded to the nearest sample)")
        last_offset, last_label = self._anchors[-1]
        if self._implicit and offset == last_offset:  # the radio's first label replaces sample counting
            self._anchors[-1] = (offset, samples)
            self._implicit = False
            return
        self._implicit = False
        expected = last_label + (offset - last_offset)
        if samples == expected:
            return  # continues the labels before it: no jump
        self.rx_time_jumps += 1
        if samples < expected:
            self._warn_once("backward", f"rx_time at sample {offset} goes back {expected - samples} samples (the "
                                        "radio's time was reset?): frames already passed are not repeated")
        self._anchors.append((offset, samples))

    # ---- frames ----------------------------------------------------------------------------------
    def _frame_placement(self, end):
        """Decide frames in order while possible; (limit, wait): output may go up to stream offset ``limit``;
        wait: the transmit log lags (then the caller may sleep)."""
        frame_len = self.layout.frame_len
        while True:
            if self.max_frames and self._next_frame >= self.max_frames:
                self._pending = None
                return self._stop_at, False
            anchor_offset, anchor_label = self._anchors[0]
            next_offset = self._anchors[1][0] if len(self._anchors) > 1 else None
            position = anchor_offset + self._next_frame * frame_len + self.offset_samples - anchor_label
            if position < anchor_offset:  # started before this segment's first sample
                if position + frame_len > anchor_offset:
                    dropped = 1  # its tail is here, its head is missing
                else:  # wholly before it: every such frame at once (a jump may skip many)
                    dropped = (anchor_offset - frame_len - position) // frame_len + 1
                    if self.max_frames:
                        dropped = min(dropped, self.max_frames - self._next_frame)
                if self._first_segment:
                    self.frames_before_start += dropped
                elif position + frame_len > anchor_offset:
                    self.overflow_partial += 1
                else:
                    self.overflow_lost += dropped
                self._next_frame += dropped
                self._stop_at = anchor_offset
                continue
            if next_offset is not None and position >= next_offset:  # in a later segment
                del self._anchors[0]
                self._first_segment = False
                continue
            if next_offset is not None and position + frame_len > next_offset:  # cut by a jump
                self.overflow_partial += 1
                self._next_frame += 1
                self._stop_at = next_offset
                continue
            if position + frame_len > end:  # not all here yet
                self._pending = position
                return position, False
            version, identity = self._precoder_of(self._next_frame)
            if version is None:
                self._pending = position
                return position, True
            self.add_item_tag(0, position, tags.frame_tag_key(),
                              tags.frame_tag_value(self._next_frame, self.node_id, version, identity))
            self.frames_tagged += 1
            self._next_frame += 1
            self._stop_at = position + frame_len

    def _precoder_of(self, frame):
        """(version, set identity) of frame ``frame`` from the log; (None, None) while waiting for it."""
        log = self.tx_log
        if log is None:
            return 0, tags.START_SET_ID
        version = log.version_of(frame)
        if version is None:  # the log lags the receiver: wait for it, briefly
            if self._waited_s < self.log_wait_s:
                return None, None
            version = log.last_version()
            self.versions_guessed += 1
            identity = log.last_precoder_id() if hasattr(log, "last_precoder_id") else tags.START_SET_ID
        else:
            identity = log.precoder_id_of(frame) if hasattr(log, "precoder_id_of") else tags.START_SET_ID
        self._waited_s = 0.0
        return version, identity

    def forecast(self, noutput_items, ninputs):
        """Passing samples on beyond the next undecided frame's start needs that whole frame in sight."""
        need = noutput_items
        if self._pending is not None:
            start = self.nitems_read(0)
            if start + noutput_items > self._pending:
                need = max(need, self._pending + self.layout.frame_len - start)
        return [need] * ninputs

    def general_work(self, input_items, output_items):
        seen = min(len(samples) for samples in input_items)
        start = self.nitems_written(0)  # = nitems_read: one sample out per sample in
        self._read_rx_time(start, seen)
        limit, wait = self._frame_placement(start + seen)
        if self.max_frames and self._next_frame >= self.max_frames and start >= self._stop_at:
            return -1  # WORK_DONE: every frame asked for has been passed
        count = max(0, min(len(output_items[0]), seen, limit - start))
        if count == 0:
            if wait:
                time.sleep(0.001)
                self._waited_s += 0.001
            return 0
        for r in range(self.rx_antennas):
            output_items[r][:count] = input_items[r][:count]
        self.consume_each(count)
        return count
