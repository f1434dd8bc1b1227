# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Node receiver: Mr streams → frame alignment from tags → CP removal → FFT → snapshot Y_s,n per frame (message).

The snapshot holds only the P sensing/data symbols of a frame (core.ofdm: the preamble and pilot symbols
are not part of it), as (Mr, L, P) complex64 — the Y_s,n of eq. (5) that the central unit fuses.
"""

import numpy as np
import pmt
import scipy.fft
from gnuradio import gr

from . import _fast_pmt, _native_tags, tags
from ..core import calibration_apply, ofdm


class node_rx(gr.sync_block):
    """Mr complex streams in (frame tags on stream 0), snapshot PDUs out on ``snapshot``.

    Alignment: time-synchronised nodes, so each frame tag on input 0 (frame number, node id, precoder
    version and precoder set identity, as isac_tx writes them; each snapshot carries the version and
    identity of its frame; the sensing channel forwards its own transmitter's) marks a frame
    start. Samples before the first tag are dropped; a frame whose end has not arrived waits for the
    next call.

    Messages: with frames_per_message = 1 (the default) one PDU per frame, tags.snapshot_to_pmt (meta:
    node_id, frame, precoder_version, shape (Mr, L, P); payload: c32vector in C order);
    tags.snapshot_from_pmt decodes it. With frames_per_message = K > 1, the frames completed in one call
    go out in PDUs of up to K consecutive frames, tags.snapshot_batch_to_pmt (meta: node_id, frames,
    precoder_versions, shape (F, Mr, L, P)); tags.snapshots_from_pmt decodes either kind. Nothing waits
    for a batch to fill: a frame is published in the call that completes it. A PDU costs ~10 µs of
    Python, a frame of the paper's L = 16 lasts 10.8 µs at 10 MHz: real time at L = 16 needs K > 1
    (bench/bench_phy.py).

    Parameters
      scenario            preset name, TOML path or Scenario (Mr, L, CP, P and the frame layout)
      node_id             this node (written in the snapshot; the tag's node id is the transmitter's)
      rx_antennas         port count GRC draws; 0 or the scenario's Mr (checked)
      frames_per_message  1: one single-frame PDU per frame; K > 1: batched PDUs of up to K frames
      calibration         a core.calibration.Calibration, a calibration file path, or "" (none: today's
                          snapshots exactly). Applied as docs/air-model.md §3 (core.calibration_apply): the receive
                          CFO ε_n undone in the time domain before the FFT (samples × e^{+j2π ε_n t}, t the
                          sample's local time (f·frame_len + w_n + index in the frame)/fs, w_n the framing's
                          window offset), then Y[r, l, p] / ĝ_rx[n, r] · e^{+j2π f_l (r_n − w_n)/fs}

    The receiver reads nothing of the scenario's [impairments] (docs/air-model.md §0): give it the scenario without
    them (scenario.without_impairments()) or with them, the snapshots are the same.
    """

    def __init__(self, scenario="paper", node_id=0, rx_antennas=0, frames_per_message=1, calibration=""):
        self.scenario = tags.as_scenario(scenario)
        tags.check_sizes(self.scenario, rx_antennas=rx_antennas)
        if not isinstance(frames_per_message, (int, np.integer)) or frames_per_message < 1:
            raise ValueError(f"frames_per_message = {frames_per_message!r}: accepted: an integer ≥ 1")
        self.layout = ofdm.layout_from_scenario(self.scenario)
        self.calibration = calibration_apply.as_calibration(calibration, self.scenario)
        if self.calibration is not None and not 0 <= int(node_id) < self.layout.num_nodes:
            raise ValueError(f"node_id = {node_id!r}: a calibrated receiver is one of the scenario's nodes, "
                             f"accepted: 0 … {self.layout.num_nodes - 1}")
        gr.sync_block.__init__(self, name="disac_node_rx",
                               in_sig=[np.complex64] * self.scenario.rx_antennas, out_sig=None)
        self.node_id = int(node_id)
        self.frames_per_message = int(frames_per_message)
        self.frames_received = 0
        lay = self.layout
        self._shape = (self.scenario.rx_antennas, lay.subcarriers, lay.data_symbols)
        self._meta = tags.snapshot_meta(self.node_id, self._shape)
        # the single-frame PDU of tags.snapshot_to_pmt, made from a patched template (_fast_pmt: the same PMT)
        self._snapshot_template = _fast_pmt.DictTemplate(
            ((tags.KEY_FRAME, "uint64"), (tags.KEY_PRECODER_VERSION, "long"), (tags.KEY_PRECODER_ID, "long")),
            payload_c32=int(np.prod(self._shape)), base=self._meta)
        self._frame_len = lay.frame_len  # (a FrameLayout property computes it on every read)
        # sample index, from the frame start, of subcarrier-slot l of sensing symbol p after the CP: (L, P)
        self._core_offsets = (lay.front_len + lay.cyclic_prefix + np.arange(lay.subcarriers)[:, None]
                              + lay.symbol_len * np.arange(lay.data_symbols)[None, :])
        self._port = pmt.intern(tags.SNAPSHOT_PORT)
        self.message_port_register_out(self._port)
        # calibration (None: the fast path of before, untouched): the per-(antenna, bin) factor on the
        # snapshot, and for a CFO the sample offsets of the snapshot's samples in local time
        self._correction = self._cfo_offsets = None
        cal = self.calibration
        if cal is not None:
            n = self.node_id
            self._correction = calibration_apply.rx_snapshot_correction(
                cal, n, lay.subcarriers, self.scenario.bandwidth_hz).astype(np.complex64)[:, :, None]  # (Mr, L, 1)
            if calibration_apply.has_cfo(cal, n):  # e^{+j2π ε_n (w_n + offset)/fs} of the snapshot's samples (L, P)
                self._cfo_offsets = calibration_apply.rx_cfo_phasor(
                    cal, n, calibration_apply.window_offset_samples(cal, n) + self._core_offsets,
                    self.scenario.bandwidth_hz).astype(np.complex64)

    def set_frames_per_message(self, frames_per_message):
        if int(frames_per_message) < 1:
            raise ValueError(f"frames_per_message = {frames_per_message!r}: accepted: an integer ≥ 1")
        self.frames_per_message = int(frames_per_message)

    def work(self, input_items, output_items):
        lay = self.layout
        count = len(input_items[0])
        start = self.nitems_read(0)
        # the call's frame tags as arrays, in one call (_native_tags: C++ when the extension is built, else
        # get_tags_in_window and _fast_pmt.frame_tag_fields, ≈ 2 µs a tag): frame numbers, precoder versions
        # and ids (tuple fields 0, 2, 3; the node id is the transmitter's)
        tag_offsets, frames, _, versions, identities = _native_tags.frame_tags(self.gateway, count)
        if not tag_offsets.size:
            return count
        frame_len = self._frame_len
        offsets = tag_offsets.astype(np.int64) - start
        complete = offsets + frame_len <= count
        consumed = count if complete.all() else int(offsets[~complete][0])
        if not complete.any():
            return consumed
        if not complete.all():
            offsets, frames, versions, identities = (a[complete] for a in (offsets, frames, versions, identities))
        # gather only the samples the snapshot needs (not the front symbols nor the CPs) straight into
        # the (F, Mr, L, P) layout of the messages, then one single-precision FFT along L (scipy.fft:
        # numpy's works in complex128)
        snapshots = np.empty((len(offsets),) + self._shape, dtype=np.complex64)
        if np.all(np.diff(offsets) == frame_len):  # back-to-back frames (the usual case): strided views,
            first, end = offsets[0], offsets[-1] + frame_len  # ~3x faster than an index gather
            for r, samples in enumerate(input_items):
                symbols = samples[first:end].reshape(len(offsets), lay.frame_symbols, lay.symbol_len)
                snapshots[:, r] = np.swapaxes(symbols[:, lay.front_symbols:, lay.cyclic_prefix:], 1, 2)
        else:
            index = offsets[:, None, None] + self._core_offsets[None]  # (F, L, P)
            for r, samples in enumerate(input_items):
                np.take(samples, index, out=snapshots[:, r], mode="clip")
        if self._cfo_offsets is not None:  # receive CFO undone in the time domain, before the FFT
            # e^{+j2π ε t} at t = (f·frame_len + w_n + offset)/fs: a per-frame phase (exact, from the frame
            # number) times the fixed phases of the snapshot's samples within the frame
            start = calibration_apply.rx_cfo_phasor(self.calibration, self.node_id,
                                                    np.asarray(frames, dtype=np.int64) * lay.frame_len,
                                                    self.scenario.bandwidth_hz).astype(np.complex64)
            snapshots *= start[:, None, None, None] * self._cfo_offsets[None, None]
        snapshots = scipy.fft.fft(snapshots, axis=2, norm="ortho", overwrite_x=True)  # Y_s,n (eq. 5)
        if self._correction is not None:  # rx gains and the fractional rx delay (docs/air-model.md §3)
            snapshots *= self._correction
        self._publish(frames, versions, identities, snapshots)
        self.frames_received += len(offsets)
        return consumed

    def _publish(self, frames, versions, identities, snapshots):
        if self.frames_per_message == 1:
            publish = self.gateway.message_port_pub  # bound once: self.message_port_pub passes through gr's __getattr__
            pdus = self._snapshot_template.messages({tags.KEY_FRAME: frames, tags.KEY_PRECODER_VERSION: versions,
                                                     tags.KEY_PRECODER_ID: identities}, snapshots)
            if pdus is None:  # a version or id outside the template's 32-bit longs: the plain way
                pdus = [tags.snapshot_to_pmt(self._meta, frame, version, snapshot, identity)
                        for frame, version, identity, snapshot in zip(frames, versions, identities, snapshots)]
            for pdu in pdus:
                publish(self._port, pdu)
            return
        batch = self.frames_per_message
        for first in range(0, len(frames), batch):
            self.message_port_pub(self._port, tags.snapshot_batch_to_pmt(
                self._meta, frames[first:first + batch], versions[first:first + batch],
                snapshots[first:first + batch], identities[first:first + batch]))
