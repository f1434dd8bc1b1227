# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""ISAC node transmitter: frames X_n = W_c,n S_c + W_r,n S_r,n (paper eq. 1) as Mt time-domain streams.

The frame layout, the symbols and the OFDM modulation are core.ofdm's (see its docstring); this block
only tags, handles precoder messages and runs core.ofdm.NodeModulator (the complex64 fast path: ≥ 10 MS/s
per antenna on one core at L = 16 and 64, bench/bench_phy.py); one NodeModulator per precoder.
"""

import threading

import numpy as np
import pmt
from gnuradio import gr

from . import _native_tags, tags
from ..core import calibration_apply, ofdm, precoder_identity

# Output buffer of each antenna stream, in samples: large buffers cut the per-call overhead of a Python
# block (DESIGN.md §7); rounded up to whole frames.
OUTPUT_BUFFER_SAMPLES = 65536


class isac_tx(gr.sync_block):
    """Node transmitter: Mt complex streams of OFDM frames, a frame tag on stream 0 at every frame start.

    Parameters
      scenario    preset name, TOML path or core.scenario.Scenario (sizes: N, Mt, U, L, CP, P, P_T)
      node_id     this node, 0 … N−1 (selects its radar streams S_r,n)
      seed        data seed shared by every node, the central unit and the users (S_c and S_r from it)
      wc, wr      initial precoders W_c (Mt × U) and W_r (Mt × Mt), version 0; None: core.ofdm.default_precoders
      max_frames  stop after this many frames (0: run for ever)
      tx_antennas port count GRC draws; 0 or the scenario's Mt (checked)
      precoder_id identity of the initial set (core.precoder_identity); 0 (default): the start-up set, the
                  precoders every process of the system was given at start (the central unit knows it as 0)
    calibration   a core.calibration.Calibration, a calibration file path, or "" (none: today's samples
                  exactly). Applied as docs/air-model.md §3 (core.calibration_apply): antenna i sends
                  x_i · ĝ*_tx[m, i]/|ĝ_tx[m, i]|, the chains' phases undone (done on the precoders, so the
                  fast path is unchanged), and × e^{−j2π ε_m t} (t = j/fs, j the local sample index since
                  the epoch). Unit modulus: every antenna is driven with exactly the design's power (the
                  P_T of eq. 18d), nothing is backed off (``tx_scale``, kept for compatibility, is 1.0). The
                  chains' magnitudes stay in the radiated field: the central unit's model carries them
                  (core.calibration_apply.model_tx_factors); the users get the designed beams with
                  amplitudes off by the chains' gain spread (±1 dB on the lab preset). Frame tags and
                  precoder identities are those of the designed (uncompensated) precoders.

    Guard and DC bins (issue 14: the scenario's ``active_subcarriers``, core.ofdm "Guard and DC bins"): nothing is
    sent on an inactive bin (data, pilots, preamble, radar streams), the radar streams are orthogonal over the
    active REs, and each antenna's per-sample power stays P_T (an active RE carries P_T·L/L_a, the power the
    designed and the default precoders are scaled to).

    Message input ``precoder``: see tags.precoder_from_pmt. A good message is applied at the next frame
    boundary (the next frame this block generates), never mid-frame; a bad one (wrong shape, non-finite,
    malformed) is logged as a warning and ignored, the previous precoder stays. A message carrying a
    "node" entry for another node is ignored silently. Each frame's tag carries the version and the
    identity of the set that made it (tags.precoder_id_from_pmt: the message's "precoder_id", else the
    identity of the set in which every node uses this pair), fixed when the frame is made.
    """

    def __init__(self, scenario="paper", node_id=0, seed=0, wc=None, wr=None, max_frames=0, tx_antennas=0,
                 precoder_id=0, calibration=""):
        self.scenario = tags.as_scenario(scenario)
        tags.check_sizes(self.scenario, tx_antennas=tx_antennas)
        self.layout = ofdm.layout_from_scenario(self.scenario)
        mt = self.layout.tx_antennas
        gr.sync_block.__init__(self, name="disac_isac_tx", in_sig=None, out_sig=[np.complex64] * mt)
        if not 0 <= int(node_id) < self.layout.num_nodes:
            raise ValueError(f"node_id = {node_id!r}: accepted: 0 … {self.layout.num_nodes - 1}")
        self.node_id = int(node_id)
        self.seed = int(seed)
        self.max_frames = int(max_frames)
        if self.max_frames < 0:
            raise ValueError(f"max_frames = {max_frames!r}: accepted: 0 (endless) or a positive number")
        self._gen = ofdm.frame_generator(self.layout, self.seed)
        self.calibration = calibration_apply.as_calibration(calibration, self.scenario)
        self.tx_scale = 1.0
        self._cfo = self.calibration is not None and calibration_apply.has_cfo(self.calibration, self.node_id)
        self._cfo_ramp = None
        default_wc, default_wr = ofdm.default_precoders(self.layout, self.scenario.per_antenna_power)
        wc = default_wc if wc is None else wc
        wr = default_wr if wr is None else wr
        self._precoder = (self._modulator(wc, wr), 0, precoder_identity.check_precoder_id(precoder_id))
        self._pending = None
        self._lock = threading.Lock()
        self._next_frame = 0
        self.rejected_precoders = 0
        self.last_rejection = ""
        self._frame_len = self.layout.frame_len  # (a FrameLayout property computes it on every read)
        self.set_output_multiple(self.layout.frame_len)
        frames_per_buffer = max(2, -(-OUTPUT_BUFFER_SAMPLES // self.layout.frame_len))
        self.set_min_output_buffer(frames_per_buffer * self.layout.frame_len)
        self.message_port_register_in(pmt.intern(tags.PRECODER_PORT))
        self.set_msg_handler(pmt.intern(tags.PRECODER_PORT), self.handle_precoder)

    # ---- messages ------------------------------------------------------------------------------
    def handle_precoder(self, msg):
        """Queue a checked precoder for the next frame boundary; log and drop a bad one (never raises)."""
        try:
            wc, wr, version, node = tags.precoder_from_pmt(msg, self.layout.tx_antennas, self.layout.num_users)
            if node is not None and node != self.node_id:
                return
            modulator = self._modulator(wc, wr)  # checks shapes and finiteness
            identity = tags.precoder_id_from_pmt(msg, wc, wr, self.layout.num_nodes)
            if not 0 <= version <= precoder_identity.MAX_PRECODER_ID:
                raise ValueError(f"precoder version {version}: accepted: 0 … {precoder_identity.MAX_PRECODER_ID}")
        except (ValueError, TypeError, RuntimeError) as exc:
            self.rejected_precoders += 1
            self.last_rejection = str(exc)
            self.logger.warn(f"node {self.node_id}: precoder message ignored, previous precoder kept: {exc}")
            return
        with self._lock:
            self._pending = (modulator, int(version), identity)

    def _modulator(self, wc, wr):
        """The NodeModulator of a designed pair, with the transmit chains' phases pre-compensated (calibration)."""
        if self.calibration is None:
            return ofdm.NodeModulator(self._gen, self.node_id, wc, wr)
        wc, wr = ofdm.check_precoders(self.layout, wc, wr)
        wc, wr, scale = calibration_apply.tx_precompensated_precoders(self.calibration, self.node_id, wc, wr,
                                                                      self.scenario.per_antenna_power)
        modulator = ofdm.NodeModulator(self._gen, self.node_id, wc, wr)
        modulator.tx_scale = scale
        return modulator

    def precoder_version(self):
        """The version of the precoder in use (the one in the frame tags)."""
        return self._precoder[1]

    def precoder_id(self):
        """The identity of the precoder set in use (the one in the frame tags)."""
        return self._precoder[2]

    # ---- stream --------------------------------------------------------------------------------
    def work(self, input_items, output_items):
        lay = self.layout
        count = len(output_items[0]) // lay.frame_len
        if self.max_frames:
            count = min(count, self.max_frames - self._next_frame)
            if count <= 0:
                return -1  # WORK_DONE
        if count == 0:
            return 0
        with self._lock:
            if self._pending is not None:  # a frame boundary: the first frame of this call
                self._precoder, self._pending = self._pending, None
        modulator, version, identity = self._precoder
        frames = np.arange(self._next_frame, self._next_frame + count)
        modulator.write(frames, output_items)  # x = W_c s_c + W_r s_r (eq. 1), OFDM-modulated
        self.tx_scale = getattr(modulator, "tx_scale", 1.0)
        if self._cfo:  # transmit CFO pre-rotated: × e^{−j2π ε_m t}, t = local sample index / fs
            samples = count * lay.frame_len
            if self._cfo_ramp is None or len(self._cfo_ramp) < samples:  # e^{−j2π ε i/fs}, i from the call's start
                self._cfo_ramp = calibration_apply.tx_cfo_phasor(
                    self.calibration, self.node_id, np.arange(samples), self.scenario.bandwidth_hz).astype(np.complex64)
            start = calibration_apply.tx_cfo_phasor(self.calibration, self.node_id, self._next_frame * lay.frame_len,
                                                    self.scenario.bandwidth_hz)  # the call's first sample, exact
            phasor = self._cfo_ramp[:samples] * np.complex64(start)
            for out in output_items:
                out[:samples] *= phasor
        # one tag per frame (the contract node_rx and user_rx align on), all of the call's in one call: in C++
        # when the extension is built (≈ 5 µs of pybind calls a tag in Python, most of this block's cost at
        # L = 16: bench/bench_phy.py), else in Python; the same tags either way (_native_tags)
        _native_tags.add_frame_tags(self.gateway, self.nitems_written(0), self._frame_len, self._next_frame, count,
                                    self.node_id, version, identity)
        self._next_frame += count
        return count * lay.frame_len
