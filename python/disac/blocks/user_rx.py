"""User receiver: one stream → frame start (tags, or the preamble) → CP removal, FFT → pilot gain estimate →
equalise → QPSK decisions; per frame: measured SINR, EVM, bit errors against the known data (message), and
the equalised data symbols (a PDU, e.g. for a QT constellation sink through pdu_to_tagged_stream).

The maths is core.user_metrics; the known data come from core.ofdm (same seed as the transmitters).
"""

import numpy as np
import pmt
from gnuradio import gr

from . import tags
from ..core import ofdm, user_metrics

SYNC_MODES = ("tags", "preamble")
SYMBOLS_PORT = "symbols"


class user_rx(gr.sync_block):
    """A user's antenna stream in; one metrics dict per frame out on ``metrics``, and the frame's equalised
    data symbols on ``symbols``.

    Synchronisation
      "tags"      every frame tag (tags.FRAME_TAG_KEY) marks a frame start and gives its frame number.
      "preamble"  no tags (over the air): the first frame start is found by cross-correlating one frame
                  of samples with the users' known preambles (core.user_metrics.find_frame_start); the
                  frames then follow every frame_len samples (time-synchronised, no drift) and the first
                  one found is frame number ``first_frame`` (a real link would signal it in a header).

    Metrics message (a dict): user, frame, precoder_version (−1 without tags), sinr_db (this frame:
    |ĝ|² / mean |y − ĝ s|²), signal_power, interference_noise_power, evm_rms, bit_errors, bits.
    measured_sinr_db() is the ratio of mean signal power to mean interference+noise power over all frames
    so far (what eq. 6 is, see core.user_metrics); ber() the bit error rate so far.

    Symbols message (a PDU): meta {user, frame, precoder_version} . c32vector of the frame's L·P data
    symbols divided by the pilot gain estimate ĝ (subcarrier-major, (L, P) in C order): QPSK points at
    (±1 ± j)/√2 plus the interference and noise the metrics measure. Feed a QT constellation sink
    through pdu.pdu_to_tagged_stream(complex).

    Parameters
      scenario     preset name, TOML path or Scenario
      user         which user's data stream this receiver decodes, 0 … U−1
      seed         the transmitters' data seed
      sync         "tags" or "preamble"
      first_frame  frame number of the first frame found by the preamble
    """

    def __init__(self, scenario="paper", user=0, seed=0, sync="tags", first_frame=0):
        self.scenario = tags.as_scenario(scenario)
        self.layout = ofdm.layout_from_scenario(self.scenario)
        gr.sync_block.__init__(self, name="disac_user_rx", in_sig=[np.complex64], out_sig=None)
        if not 0 <= int(user) < self.layout.num_users:
            raise ValueError(f"user = {user!r}: accepted: 0 … {self.layout.num_users - 1}")
        if sync not in SYNC_MODES:
            raise ValueError(f"sync = {sync!r}: accepted: {', '.join(SYNC_MODES)}")
        self.user = int(user)
        self.sync = sync
        self._gen = ofdm.frame_generator(self.layout, int(seed))
        self.accumulator = user_metrics.SinrAccumulator()
        self.frame_sinr_db = []  # per frame, in order (for tests and apps)
        self.frame_numbers = []
        self.frame_start_found = None  # absolute sample index, preamble mode
        self._next_frame = int(first_frame)
        self._buf = np.zeros(0, dtype=np.complex64)
        self._buf_start = 0  # absolute index of self._buf[0]
        self._queue = []  # (absolute start, frame, version) of frames announced but not yet processed
        self._port = pmt.intern(tags.METRICS_PORT)
        self.message_port_register_out(self._port)
        self._symbols_port = pmt.intern(SYMBOLS_PORT)
        self.message_port_register_out(self._symbols_port)

    def measured_sinr_db(self):
        return self.accumulator.sinr_db

    def ber(self):
        return self.accumulator.ber

    def work(self, input_items, output_items):
        lay = self.layout
        samples = input_items[0]
        count = len(samples)
        start = self.nitems_read(0)
        self._buf = np.concatenate([self._buf, samples])
        if self.sync == "tags":
            for tag in self.get_tags_in_window(0, 0, count, tags.frame_tag_key()):
                frame, _, version = tags.parse_frame_tag(tag.value)
                self._queue.append((tag.offset, frame, version))
        else:
            self._queue_preamble_frames()
        buf_end = self._buf_start + len(self._buf)
        ready = [q for q in self._queue if q[0] + lay.frame_len <= buf_end]
        if ready:
            self._process(ready)
            self._queue = self._queue[len(ready):]
        keep_from = self._queue[0][0] if self._queue else buf_end
        if self.sync == "preamble":
            if self.frame_start_found is None:  # keep the last search window's worth
                keep_from = max(self._buf_start, buf_end - lay.frame_len - lay.symbol_len)
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
            if len(self._buf) < lay.frame_len + lay.symbol_len:
                return
            offset = user_metrics.find_frame_start(self._buf, lay, self._gen.preamble)
            self.frame_start_found = self._buf_start + offset
            self._next_start = self.frame_start_found
        while self._next_start + lay.frame_len <= buf_end:
            self._queue.append((self._next_start, self._next_frame, -1))
            self._next_start += lay.frame_len
            self._next_frame += 1

    def _process(self, ready):
        lay = self.layout
        starts = np.array([q[0] for q in ready], dtype=np.int64) - self._buf_start
        frames = np.array([q[1] for q in ready], dtype=np.int64)
        x = self._buf[starts[:, None] + np.arange(lay.frame_len)[None, :]]
        freq = ofdm.demodulate(x.reshape(len(ready), lay.frame_symbols, lay.symbol_len), lay.cyclic_prefix)
        tx_bits = self._gen.data_bits(frames)[:, self.user]
        metrics = user_metrics.frame_metrics(freq, lay, self._gen.pilots, self.user, ofdm.qpsk(tx_bits), tx_bits)
        self.accumulator.add(metrics)
        sinr_db = metrics.sinr_db
        # the equalisation of core.user_metrics.frame_metrics (data / ĝ), kept for the symbols port
        equalised = np.swapaxes(freq[:, lay.front_symbols:], -1, -2) / metrics.gain[:, None, None]  # (F, L, P)
        self.frame_sinr_db.extend(sinr_db.tolist())
        self.frame_numbers.extend(frames.tolist())
        for i, (_, frame, version) in enumerate(ready):
            msg = pmt.make_dict()
            for key, value in (("user", pmt.from_long(self.user)), ("frame", pmt.from_uint64(int(frame))),
                               ("precoder_version", pmt.from_long(int(version))),
                               ("sinr_db", pmt.from_double(float(sinr_db[i]))),
                               ("signal_power", pmt.from_double(float(metrics.signal_power[i]))),
                               ("interference_noise_power", pmt.from_double(float(metrics.interference_noise_power[i]))),
                               ("evm_rms", pmt.from_double(float(metrics.evm_rms[i]))),
                               ("bit_errors", pmt.from_long(int(metrics.bit_errors[i]))),
                               ("bits", pmt.from_long(int(metrics.bits)))):
                msg = pmt.dict_add(msg, pmt.intern(key), value)
            self.message_port_pub(self._port, msg)
            meta = pmt.make_dict()
            for key, value in (("user", pmt.from_long(self.user)), ("frame", pmt.from_uint64(int(frame))),
                               ("precoder_version", pmt.from_long(int(version)))):
                meta = pmt.dict_add(meta, pmt.intern(key), value)
            self.message_port_pub(self._symbols_port, pmt.cons(meta, tags.c32vector_from_array(equalised[i])))
