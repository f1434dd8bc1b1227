# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""The synthetic radio's own impairments (docs/air-model.md §2), as functions of sample labels: carrier offset and
receive overflows. Pure numpy; the blocks synthetic_radio_tx / synthetic_radio_rx apply them to streams.

Labels: every node runs the frame schedule from a common epoch; a sample's label is its local time since the
epoch in samples (an integer: transmit sample j has label j; a receive sample's label is what its rx_time
says). Everything here is a function of labels only, so a stream gives the same result however it is cut
into work calls (each sample's value is computed from its own label, never carried from the previous one).

* CFO: node n's transmit samples are multiplied by e^{+j2π ε_n t}, its receive samples by e^{−j2π ε_n t},
  t = label/fs (per node, never per antenna). The phase is computed in cycles, ε·label/fs reduced mod 1
  before the exponential, so a long run does not lose the phase to a large argument.
* Overflows: in every k-th frame (frames f = k − 1, 2k − 1, …: the k-th, the 2k-th, … counted from 1) the
  radio loses S samples from a position inside that frame, u_f·frame_len (u_f uniform from the seed, the node
  and the frame: core.ofdm.hash_uniform), and labels the next sample it keeps (gr-uhd re-tags it with its
  rx_time). S may exceed a frame: the loss then runs into the following frames; overlapping losses merge.
* Silence after the last frame: a finite run's echoes of its last frame reach the receivers after the
  transmitters stop (by the links' delays D and the air's latency A), so a transmitting radio keeps the air
  going, silent, for transmit_tail_samples after its transmitter's last sample (none on the ideal air).
"""

import math

import numpy as np

from . import ofdm

_STREAM_OVERFLOW = 0x0F10  # the overflow positions' hash stream (distinct from the channels' streams)


def cfo_phasor(cfo_hz, first_label, count, sample_rate_hz, sign=+1):
    """e^{sign·j2π ε t} for the ``count`` samples labelled first_label, first_label + 1, … (t = label/fs),
    complex128 (count,). ``first_label`` is an integer (may be negative)."""
    labels = np.arange(int(first_label), int(first_label) + int(count), dtype=np.int64)
    return cfo_phasor_at(cfo_hz, labels, sample_rate_hz, sign)


def cfo_phasor_at(cfo_hz, labels, sample_rate_hz, sign=+1):
    """e^{sign·j2π ε·label/fs} at integer ``labels`` (an array), complex128; exactly 1 when ε = 0."""
    labels = np.asarray(labels, dtype=np.int64)
    if not cfo_hz:
        return np.ones(labels.shape, np.complex128)
    cycles = labels * (float(cfo_hz) / float(sample_rate_hz))
    cycles -= np.floor(cycles)  # the phase in [0, 1) cycle: the same at any label magnitude
    return np.exp((2j * np.pi * np.sign(sign)) * cycles)


class OverflowSchedule:
    """Where receive node ``node_id``'s radio loses samples (module docstring).

    Parameters: every_frames k (0: never), samples_lost S ≥ 1, frame_len, seed (the impairments' seed),
    node_id. Labels are samples since the epoch; frames f ≥ 0 cover labels [f·frame_len, (f + 1)·frame_len).
    """

    def __init__(self, every_frames, samples_lost, frame_len, seed, node_id):
        for name, value, low in (("every_frames", every_frames, 0), ("samples_lost", samples_lost, 1),
                                 ("frame_len", frame_len, 1)):
            if isinstance(value, bool) or int(value) != value or value < low:
                raise ValueError(f"{name} = {value!r}: accepted: a whole number ≥ {low}")
        self.every_frames, self.samples_lost, self.frame_len = int(every_frames), int(samples_lost), int(frame_len)
        self.seed, self.node_id = int(seed), int(node_id)

    def overflow_frames(self, first_frame, last_frame):
        """The frames f in [first_frame, last_frame] (f ≥ 0) with an overflow, ascending (int64 array)."""
        k = self.every_frames
        if not k or last_frame < max(first_frame, 0):
            return np.zeros(0, np.int64)
        first = max(int(first_frame), 0)
        start = first + (-(first + 1)) % k  # the first f ≥ first with (f + 1) % k == 0
        return np.arange(start, int(last_frame) + 1, k, dtype=np.int64)

    def loss_start_labels(self, frames):
        """The label of the first sample lost in each overflow frame: f·frame_len + ⌊u_f·frame_len⌋."""
        frames = np.asarray(frames, dtype=np.int64)
        u = ofdm.hash_uniform(self.seed, _STREAM_OVERFLOW, frames, self.node_id + 1)[:, self.node_id]
        return frames * self.frame_len + np.floor(u * self.frame_len).astype(np.int64)

    def lost_intervals(self, first_label, end_label):
        """The merged label intervals [a, b) lost by overflows that meet [first_label, end_label), sorted."""
        if not self.every_frames or end_label <= first_label:
            return []
        reach = self.samples_lost + self.frame_len  # a loss that reaches first_label started at most this early
        frames = self.overflow_frames((int(first_label) - reach) // self.frame_len,
                                      (int(end_label) - 1) // self.frame_len)
        intervals = []
        for start in self.loss_start_labels(frames).tolist():
            end = start + self.samples_lost
            if intervals and start <= intervals[-1][1]:
                intervals[-1][1] = max(intervals[-1][1], end)
            else:
                intervals.append([start, end])
        return [(a, b) for a, b in intervals if b > first_label and a < end_label]

    def kept(self, first_label, count):
        """(keep, first_after_loss) for the ``count`` samples labelled first_label, …: keep (bool) says which the
        radio hands on; first_after_loss (bool) marks the kept samples right after a loss (their label does not
        follow the previous kept sample's: the radio re-tags them with rx_time)."""
        first_label, count = int(first_label), int(count)
        keep = np.ones(count, bool)
        after = np.zeros(count, bool)
        for a, b in self.lost_intervals(first_label - 1, first_label + count):
            keep[max(a - first_label, 0):max(min(b - first_label, count), 0)] = False
            if first_label <= b < first_label + count:
                after[b - first_label] = True
        return keep, after & keep


def transmit_tail_samples(link_delay_samples, air_latency_samples, frame_len):
    """Silent samples a radio sends after its transmitter's last frame so that every receiver's last frame is
    received whole: 0 when no link has a delay and the air none (the ideal air: today's streams exactly),
    else whole frames covering A plus the longest link delay D (which bounds a calibrated frame-start offset,
    the smallest D of a receiver's links) plus one frame."""
    longest = max(float(np.max(link_delay_samples)), 0.0) if np.size(link_delay_samples) else 0.0
    if air_latency_samples <= 0 and longest <= 0:
        return 0
    return (math.ceil((float(air_latency_samples) + longest) / frame_len) + 1) * int(frame_len)
