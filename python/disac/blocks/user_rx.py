# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""User receiver: one stream → frame start (tags, or the preamble) → CP removal, FFT → pilot channel estimate
(one gain, or one per subcarrier: the layout's pilot design, core.ofdm) → equalise → QPSK decisions; per frame: measured SINR, EVM, bit errors against the known data (message), and
the equalised data symbols (a PDU, e.g. for a QT constellation sink through pdu_to_tagged_stream).

The maths is core.user_metrics; the known data come from core.ofdm (same seed as the transmitters).
"""

import bisect
import math

import numpy as np
import pmt
import scipy.fft
from gnuradio import gr

from . import _fast_pmt, _native_tags, tags
from ..core import ofdm, user_metrics

SYNC_MODES = ("tags", "preamble")
SYMBOLS_PORT = "symbols"
# the per-frame metrics dict: (key, PMT kind) in the order they are added (a contract: the GUI reads it)
METRICS_ENTRIES = (("user", "long"), ("frame", "uint64"), ("precoder_version", "long"), ("sinr_db", "double"),
                   ("signal_power", "double"), ("interference_noise_power", "double"), ("evm_rms", "double"),
                   ("bit_errors", "long"), ("bits", "long"))
SYMBOLS_META_ENTRIES = (("user", "long"), ("frame", "uint64"), ("precoder_version", "long"))


class user_rx(gr.sync_block):
    """A user's antenna stream in; one metrics dict per frame out on ``metrics``, and the frame's equalised
    data symbols on ``symbols``.

    Synchronisation
      "tags"      every frame tag (tags.FRAME_TAG_KEY) marks a frame start and gives its frame number.
      "preamble"  no tags (over the air): the first frame start is found by cross-correlating one frame
                  of samples with the users' known preambles (core.user_metrics.find_frame_start); the
                  frames then follow every frame_len samples (time-synchronised, no drift) and the first
                  one found is frame number ``first_frame`` (a real link would signal it in a header).
                  With per-subcarrier pilots the search correlates with the whole front (preamble and
                  pilots) and collects the energy of a delay spread up to CP/2, so the frames start at
                  the first path (core.user_metrics.sync_front); tag sync takes any spread up to the CP.

    Metrics message (a dict): user, frame, precoder_version (−1 without tags), sinr_db (this frame:
    |ĝ|² / mean |y − ĝ s|²; with the "per-subcarrier" pilot design, K ≥ U + 1 pilot symbols, ĝ is
    estimated per subcarrier and both powers are corrected for the estimate's noise, see
    core.user_metrics), signal_power, interference_noise_power, evm_rms, bit_errors, bits. The receiver
    learns its channel from the pilots only; it never reads the scenario's [impairments].
    measured_sinr_db() is the ratio of mean signal power to mean interference+noise power over all frames
    so far (what eq. 6 is, see core.user_metrics); ber() the bit error rate so far.

    Symbols message (a PDU): meta {user, frame, precoder_version} . c32vector of the frame's L·P data
    symbols (L_a·P, the active bins only, with guard/DC bins: scenario.active_subcarriers) divided by the pilot channel estimate ĝ (per subcarrier in the "per-subcarrier" design; subcarrier-major, (L, P) in C order): QPSK points at
    (±1 ± j)/√2 plus the interference and noise the metrics measure. Feed a QT constellation sink
    through pdu.pdu_to_tagged_stream(complex).

    Batched messages (frames_per_message = K > 1; the default 1 gives the per-frame messages above): the
    frames completed in one call go out in messages of up to K consecutive frames. Metrics: one dict with
    user and bits (longs) and, one entry per frame, frames (u64vector), precoder_versions (s64vector),
    sinr_db, signal_power, interference_noise_power, evm_rms (f64vectors), bit_errors (s64vector).
    Symbols: meta {user, frames, precoder_versions, shape (F, L, P)} . c32vector (F, L, P) in C order (L_a with guard bins).
    Nothing waits for a batch to fill. A message port with nothing connected to it is skipped (its
    messages would be dropped by GNU Radio anyway): the per-frame PMTs are most of this block's cost.

    Parameters
      scenario     preset name, TOML path or Scenario
      user         which user's data stream this receiver decodes, 0 … U−1
      seed         the transmitters' data seed
      sync         "tags" or "preamble"
      first_frame  frame number of the first frame found by the preamble
      frames_per_message  1: per-frame messages (default); K > 1: batched messages of up to K frames
    """

    def __init__(self, scenario="paper", user=0, seed=0, sync="tags", first_frame=0, frames_per_message=1):
        self.scenario = tags.as_scenario(scenario)
        self.layout = ofdm.layout_from_scenario(self.scenario)
        gr.sync_block.__init__(self, name="disac_user_rx", in_sig=[np.complex64], out_sig=None)
        if not 0 <= int(user) < self.layout.num_users:
            raise ValueError(f"user = {user!r}: accepted: 0 … {self.layout.num_users - 1}")
        if sync not in SYNC_MODES:
            raise ValueError(f"sync = {sync!r}: accepted: {', '.join(SYNC_MODES)}")
        if not isinstance(frames_per_message, (int, np.integer)) or frames_per_message < 1:
            raise ValueError(f"frames_per_message = {frames_per_message!r}: accepted: an integer ≥ 1")
        self.user = int(user)
        self.sync = sync
        self.frames_per_message = int(frames_per_message)
        self._metrics_template = _fast_pmt.DictTemplate(METRICS_ENTRIES)
        self._symbols_template = _fast_pmt.DictTemplate(SYMBOLS_META_ENTRIES, payload_c32=self.layout.active_res)
        # guard/DC bins carry nothing: the receiver uses the active bins only (core.user_metrics)
        self._active_bins = None if self.layout.active_subcarriers is None else np.flatnonzero(self.layout.active_mask)
        self._gen = ofdm.frame_generator(self.layout, int(seed))
        self._sync_front, self._sync_spread = user_metrics.sync_front(self.layout, self._gen)
        self._search_len = (self.layout.frame_len + self._sync_front.shape[1] * self.layout.symbol_len
                            + self._sync_spread - 1)  # samples a preamble search needs
        self.accumulator = user_metrics.SinrAccumulator()
        self.frame_sinr_db = []  # per frame, in order (for tests and apps)
        self.frame_numbers = []
        self.frame_start_found = None  # absolute sample index, preamble mode
        self._next_frame = int(first_frame)
        self._buf = np.zeros(0, dtype=np.complex64)
        self._buf_start = 0  # absolute index of self._buf[0]
        self._queue = []  # (absolute start, frame, version) of frames announced but not yet processed, by start
        self._frame_len = self.layout.frame_len  # (a FrameLayout property computes it on every read)
        self._port = pmt.intern(tags.METRICS_PORT)
        self.message_port_register_out(self._port)
        self._symbols_port = pmt.intern(SYMBOLS_PORT)
        self.message_port_register_out(self._symbols_port)

    def set_frames_per_message(self, frames_per_message):
        if int(frames_per_message) < 1:
            raise ValueError(f"frames_per_message = {frames_per_message!r}: accepted: an integer ≥ 1")
        self.frames_per_message = int(frames_per_message)

    def measured_sinr_db(self):
        return self.accumulator.sinr_db

    def ber(self):
        return self.accumulator.ber

    def work(self, input_items, output_items):
        samples = input_items[0]
        count = len(samples)
        start = self.nitems_read(0)
        self._buf = np.concatenate([self._buf, samples])
        if self.sync == "tags":
            # the call's frame tags as arrays, in one call (_native_tags: C++ when the extension is built, else
            # get_tags_in_window and _fast_pmt.frame_tag_fields, ≈ 2 µs a tag)
            offsets, frames, _, versions, _ = _native_tags.frame_tags(self.gateway, count)
            if offsets.size:
                self._queue.extend(zip(offsets.tolist(), frames.tolist(), versions.tolist()))
        else:
            self._queue_preamble_frames()
        buf_end = self._buf_start + len(self._buf)
        # the frames whose last sample has arrived: a prefix of the queue (ordered by start)
        ready = self._queue[:bisect.bisect_right(self._queue, (buf_end - self._frame_len, math.inf, math.inf))]
        if ready:
            self._process(ready)
            self._queue = self._queue[len(ready):]
        keep_from = self._queue[0][0] if self._queue else buf_end
        if self.sync == "preamble":
            if self.frame_start_found is None:  # keep the last search window's worth
                keep_from = max(self._buf_start, buf_end - self._search_len)
            else:  # keep the frame that has started but not yet ended
                keep_from = min(keep_from, self._next_start)
        keep_from = max(keep_from, self._buf_start)
        self._buf = self._buf[keep_from - self._buf_start:]
        self._buf_start = keep_from
        assert start + count == buf_end
        return count

    def _queue_preamble_frames(self):
        lay = self.layout
        buf_end = self._buf_start + len(self._buf)
        if self.frame_start_found is None:
            if len(self._buf) < self._search_len:
                return
            offset = user_metrics.find_frame_start(self._buf, lay, self._sync_front, self._sync_spread)
            self.frame_start_found = self._buf_start + offset
            self._next_start = self.frame_start_found
        while self._next_start + self._frame_len <= buf_end:
            self._queue.append((self._next_start, self._next_frame, -1))
            self._next_start += self._frame_len
            self._next_frame += 1

    def _process(self, ready):
        lay = self.layout
        starts, frames, versions = zip(*ready)
        starts = np.array(starts, dtype=np.int64) - self._buf_start
        frames = np.array(frames, dtype=np.int64)
        versions = np.array(versions, dtype=np.int64)
        if np.all(np.diff(starts) == lay.frame_len):  # back-to-back frames (the usual case): a view
            x = self._buf[starts[0]:starts[-1] + lay.frame_len]
        else:
            x = self._buf[starts[:, None] + np.arange(lay.frame_len)[None, :]]
        symbols = x.reshape(len(ready), lay.frame_symbols, lay.symbol_len)[..., lay.cyclic_prefix:]
        # ofdm.demodulate in single precision (scipy.fft; numpy's works in complex128)
        freq = scipy.fft.fft(symbols, axis=-1, norm="ortho")
        tx_bits = self._gen.data_bits(frames)[:, self.user]
        metrics = user_metrics.frame_metrics(freq, lay, self._gen.pilots, self.user, ofdm.qpsk(tx_bits), tx_bits)
        self.accumulator.add(metrics)
        self.frame_sinr_db.extend(metrics.sinr_db.tolist())
        self.frame_numbers.extend(frames.tolist())
        if _fast_pmt.has_subscribers(self, self._port):
            self._publish_metrics(frames, versions, metrics)
        if _fast_pmt.has_subscribers(self, self._symbols_port):
            # the equalisation of core.user_metrics.frame_metrics (data / ĝ, per subcarrier when the layout says so), (F, L, P)
            data = np.swapaxes(freq[:, lay.front_symbols:], -1, -2)
            if self._active_bins is not None:  # (a fancy index: C order again for the PDU's flat payload)
                data = np.ascontiguousarray(data[:, self._active_bins])
            equalised = user_metrics.equalise(data, metrics.gain).astype(np.complex64)
            self._publish_symbols(frames, versions, equalised)

    def _publish_metrics(self, frames, versions, metrics):
        count = len(frames)
        columns = {"user": np.full(count, self.user), "frame": frames, "precoder_version": versions,
                   "sinr_db": metrics.sinr_db, "signal_power": metrics.signal_power,
                   "interference_noise_power": metrics.interference_noise_power, "evm_rms": metrics.evm_rms,
                   "bit_errors": metrics.bit_errors, "bits": np.full(count, metrics.bits)}
        if self.frames_per_message == 1:
            messages = self._metrics_template.messages(columns)
            if messages is None:  # a value outside the template's 32-bit longs: the plain way
                messages = [metrics_to_pmt({key: column[i] for key, column in columns.items()}) for i in range(count)]
            publish = self.gateway.message_port_pub  # bound once (self.… goes through gr's __getattr__)
            for msg in messages:
                publish(self._port, msg)
            return
        for first in range(0, count, self.frames_per_message):
            part = slice(first, first + self.frames_per_message)
            self.message_port_pub(self._port, metrics_batch_to_pmt(self.user, frames[part], versions[part], metrics, part))

    def _publish_symbols(self, frames, versions, equalised):
        count = len(frames)
        if self.frames_per_message == 1:
            pdus = self._symbols_template.messages(
                {"user": np.full(count, self.user), "frame": frames, "precoder_version": versions}, equalised)
            if pdus is None:
                pdus = [pmt.cons(_symbols_meta(self.user, frames[i], versions[i]), tags.c32vector_from_array(equalised[i]))
                        for i in range(count)]
            publish = self.gateway.message_port_pub  # bound once (self.… goes through gr's __getattr__)
            for pdu in pdus:
                publish(self._symbols_port, pdu)
            return
        for first in range(0, count, self.frames_per_message):
            part = slice(first, first + self.frames_per_message)
            samples = equalised[part]
            meta = pmt.make_dict()
            meta = pmt.dict_add(meta, pmt.intern("user"), pmt.from_long(self.user))
            meta = pmt.dict_add(meta, pmt.intern("frames"), tags.uniform_vector_from_array(frames[part], np.uint64))
            meta = pmt.dict_add(meta, pmt.intern("precoder_versions"),
                                tags.uniform_vector_from_array(versions[part], np.int64))
            meta = pmt.dict_add(meta, pmt.intern("shape"), pmt.make_tuple(*[pmt.from_long(n) for n in samples.shape]))
            self.message_port_pub(self._symbols_port, pmt.cons(meta, tags.c32vector_from_array(samples)))


def metrics_to_pmt(values):
    """The per-frame metrics dict from a mapping of METRICS_ENTRIES' keys to numbers (the reference layout)."""
    make = {"long": lambda v: pmt.from_long(int(v)), "uint64": lambda v: pmt.from_uint64(int(v)),
            "double": lambda v: pmt.from_double(float(v))}
    msg = pmt.make_dict()
    for key, kind in METRICS_ENTRIES:
        msg = pmt.dict_add(msg, pmt.intern(key), make[kind](values[key]))
    return msg


def _symbols_meta(user, frame, version):
    meta = pmt.make_dict()
    meta = pmt.dict_add(meta, pmt.intern("user"), pmt.from_long(int(user)))
    meta = pmt.dict_add(meta, pmt.intern("frame"), pmt.from_uint64(int(frame)))
    return pmt.dict_add(meta, pmt.intern("precoder_version"), pmt.from_long(int(version)))


def metrics_batch_to_pmt(user, frames, versions, metrics, part=slice(None)):
    """The batched metrics dict of frames_per_message > 1 (see user_rx), for the frames ``part`` of ``metrics``."""
    def f64(values):
        values = np.asarray(values, dtype=np.float64)[part]
        return pmt.init_f64vector(len(values), values.tolist())

    frames, versions = np.asarray(frames), np.asarray(versions)
    msg = pmt.make_dict()
    for key, value in (("user", pmt.from_long(int(user))),
                       ("frames", tags.uniform_vector_from_array(frames.astype(np.uint64), np.uint64)),
                       ("precoder_versions", tags.uniform_vector_from_array(versions.astype(np.int64), np.int64)),
                       ("sinr_db", f64(metrics.sinr_db)), ("signal_power", f64(metrics.signal_power)),
                       ("interference_noise_power", f64(metrics.interference_noise_power)),
                       ("evm_rms", f64(metrics.evm_rms)),
                       ("bit_errors", tags.uniform_vector_from_array(
                           np.asarray(metrics.bit_errors, dtype=np.int64)[part], np.int64)),
                       ("bits", pmt.from_long(int(metrics.bits)))):
        msg = pmt.dict_add(msg, pmt.intern(key), value)
    return msg
