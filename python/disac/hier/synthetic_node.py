# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""A D-ISAC node on synthetic air, chained as a radio node (docs/air-model.md §2's signal flow): its transmitter and
TX radio, the sensing channel into its receiver (the echoes of every node's transmission), its RX radio,
the rx framing from rx_time, its receiver and the snapshot link to the central unit.

    isac_tx ─[frame_clock]─► synthetic_radio_tx (TX gains, CFO) ─┬──────────────────────► outputs 0 … Mt−1 (its air)
       └► tx_frame_log                                           │
    inputs (the other nodes' air) ──────────────────────────────► sensing_channel (rx = this node: paths,
                                                                   delays, phases, noise)
          → synthetic_radio_rx (RX gains, CFO, [RF canceller], AGC, ADC, overflows, rx_time) → rx_frame_tagger (frames from rx_time,
            calibrated offset; the precoder version and set identity of each frame from the tx_frame_log)
          → node_rx → snapshot_push
                    └──► message out snapshot

With an RF canceller (the table's rf_canceller_db > 0, docs/receiver-front-end.md) the transmitter's Mt
streams also go to synthetic_radio_rx (its extra inputs): the node's own transmit samples, the canceller's
reference (the digital baseband a real node's canceller controller has; the TX and RX chains share one
oscillator, so the leakage is a fixed matrix of them, not of the CFO-rotated radio output).

The other nodes' transmit streams (their TX radios' outputs) come in on inputs j·Mt + i (j: the other
nodes in order, this node skipped; i: antenna), so N nodes wire up as a full mesh of Mt-stream buses; this
node's own TX radio's streams go out for the other nodes, the comm channel or a sink.

Who reads what (docs/air-model.md §0): the air (the radio blocks and the sensing channel) reads the scenario's
[impairments] truth; the node's own processing (transmitter, rx framing, receiver) is built from
``scenario.without_impairments()``: it learns the impairments from samples (and a calibration) only. The
radios label samples from the epoch (epoch_s, else tags.SYNTHETIC_EPOCH_S), and the rx framing reads the
labels against the same epoch: the common frame schedule, known to every node. With the ideal (or absent)
table every block of the air passes the samples unchanged and frame f starts at sample f·frame_len, so
the snapshots are exactly those of the chain before issue 13.
"""

import time

import numpy as np
from gnuradio import gr

from ..blocks import tags
from ..blocks.frame_clock import frame_clock
from ..blocks.isac_tx import isac_tx
from ..blocks.node_rx import node_rx
from ..blocks.rx_frame_tagger import rx_frame_tagger
from ..blocks.sensing_channel import sensing_channel
from ..blocks.snapshot_push import snapshot_push
from ..blocks.synthetic_radio_rx import front_end_settings, synthetic_radio_rx
from ..blocks.synthetic_radio_tx import synthetic_radio_tx
from ..blocks.tx_frame_log import tx_frame_log
from ..core import calibration_apply, ofdm

# node_rx batches the frames it finishes in one call into one message (snapshot_push still sends one wire
# message per frame): the per-message cost (~10 µs) is what kept L = 16 from real time (docs/blocks.md,
# node_rx). Nothing waits for a batch to fill, so latency is unchanged.
FRAMES_PER_MESSAGE = 64
# With a frame clock, the transmitter and every block of the air and the rx chain keep at most this many
# frames in their output buffers, so that the whole node (and what reads its air: the other nodes, the
# users) runs in step with the clock, not up to 65536 samples ahead of it: a precoder set applied "at the
# next frame" then reaches the air a few frames after it arrives, as on a radio.
CLOCKED_BUFFER_FRAMES = 4
# The node's own transmit log always catches up with its receiver (it reads the transmitter the receiver's
# samples came from), so the rx framing waits for it rather than guess a frame's precoder set.
LOG_WAIT_S = 60.0


def connect_node_messages(node, transmitter, receiver, push):
    """A node hier block's message ports: `precoder` in (to its transmitter) and `snapshot` out (from its
    receiver, also into its snapshot link when it has one). Shared by the synthetic and the USRP node."""
    node.message_port_register_hier_in(tags.PRECODER_PORT)
    node.message_port_register_hier_out(tags.SNAPSHOT_PORT)
    node.msg_connect(node, tags.PRECODER_PORT, transmitter, tags.PRECODER_PORT)
    node.msg_connect(receiver, tags.SNAPSHOT_PORT, node, tags.SNAPSHOT_PORT)
    if push is not None:
        node.msg_connect(receiver, tags.SNAPSHOT_PORT, push, tags.SNAPSHOT_PORT)


class synthetic_node(gr.hier_block2):
    """One node on synthetic air (module docstring).

    Ports
      inputs    (N − 1)·Mt complex streams: the other nodes' TX radios, node m's antenna i on input
                j·Mt + i with j = m for m < node_id and m − 1 above
      outputs   Mt complex streams: this node's TX radio (its transmitter's frames with the TX chains'
                gains and the node's CFO; frame tags on stream 0)
      precoder  (message in) precoder sets for this node's transmitter (isac_tx's ``precoder`` port)
      snapshot  (message out) the receiver's snapshots (node_rx's ``snapshot`` port)

    Parameters
      scenario, node_id, seed          as isac_tx (node_id 0 … N−1); the scenario's [impairments] drive the air
      channel_seed, noise, frequency_grid   as sensing_channel (rx_node = node_id)
      wc, wr, max_frames               this node's initial W_c (Mt × U), W_r (Mt × Mt) (None: placeholder)
                                       and frames (0: endless), as isac_tx
      frame_rate_hz, epoch_s           > 0: a frame_clock lets the transmitter's frame f out at epoch_s +
                                       f/frame_rate_hz (epoch None: now), and every block of the node buffers
                                       at most CLOCKED_BUFFER_FRAMES frames (the node runs in step); 0: as
                                       fast as the chain runs. epoch_s (when given) also labels the radios'
                                       samples (else tags.SYNTHETIC_EPOCH_S)
      address, bind, pattern, hwm      the snapshot link (snapshot_push); address "": no link (the
                                       snapshots only on the message port)
      frames_per_message               node_rx batching
      security, secret_key_file, server_public_key, allowed_keys_file   the link's security (net.py)
      num_nodes, tx_antennas, rx_antennas   port counts GRC draws; 0 or the scenario's (checked)
      offset_samples                   the rx framing's frame-start shift (rx_frame_tagger); None: the
                                       calibration's window_offset_samples(node_id), 0 without one
      calibration                      a core.calibration.Calibration, a calibration file, or None / "" (none): given to the transmitter
                                       and the receiver (their ``calibration`` parameter) and the framing

    Attributes: transmitter, radio_tx, channel, radio_rx, tx_log, tagger, clock (or None), receiver, push
    (or None).
    """

    def __init__(self, scenario="paper", node_id=0, seed=0, channel_seed=1, wc=None, wr=None, max_frames=0,
                 noise=True, frequency_grid=ofdm.DEFAULT_FREQUENCY_GRID, frame_rate_hz=0.0, epoch_s=None,
                 address="", bind=False, pattern="push", hwm=1000, frames_per_message=FRAMES_PER_MESSAGE,
                 security="open", secret_key_file="", server_public_key="", allowed_keys_file="",
                 num_nodes=0, tx_antennas=0, rx_antennas=0, offset_samples=None, calibration=None):
        s = tags.as_scenario(scenario)
        tags.check_sizes(s, num_nodes=num_nodes, tx_antennas=tx_antennas, rx_antennas=rx_antennas)
        n, mt = s.num_nodes, s.tx_antennas
        if not 0 <= int(node_id) < n:
            raise ValueError(f"node_id = {node_id!r}: accepted: 0 … {n - 1}")
        node_id = int(node_id)
        gr.hier_block2.__init__(self, f"disac_synthetic_node_{node_id}",
                                gr.io_signature((n - 1) * mt, (n - 1) * mt, gr.sizeof_gr_complex),
                                gr.io_signature(mt, mt, gr.sizeof_gr_complex))
        self.scenario, self.node_id = s, node_id
        node_side = s.without_impairments()  # what the node's own processing may know (docs/air-model.md §0)
        calibration = calibration_apply.as_calibration(calibration, node_side)  # also "" (none) or a file path
        calibrated = {} if calibration is None else {"calibration": calibration}
        if offset_samples is None:
            offset_samples = 0 if calibration is None else calibration.window_offset_samples(node_id)
        radio_epoch = tags.SYNTHETIC_EPOCH_S if epoch_s is None else epoch_s
        self.transmitter = isac_tx(node_side, node_id, seed, wc, wr, max_frames, **calibrated)
        self.radio_tx = synthetic_radio_tx(s, node_id, radio_epoch, 0.0, 0, max_frames)  # + the silent tail
        # what each transmitter's streams carry into the air: its radio's ε_m less the calibration's pre-compensation
        # ε̂_m (every node of a system has the same calibration: hier.system), delayed exactly by the air, and the
        # canceller's reference (the node's own pre-compensated samples) likewise (docs/air-model.md §5.4; the same
        # as core.impairment_trials' air and node_front_ends)
        cfo = np.asarray(s.impairments.cfo_hz, dtype=float)
        precompensated = np.array([float(calibration.cfo_hz[m]) if calibration is not None
                                   and calibration_apply.has_cfo(calibration, m) else 0.0 for m in range(n)])
        self.channel = sensing_channel(s, node_id, channel_seed, noise, frequency_grid,
                                       transmit_cfo_hz=cfo - precompensated)
        canceller = front_end_settings(s)["rf_canceller_db"] > 0  # the radio's hardware: it needs its TX samples
        self.radio_rx = synthetic_radio_rx(s, node_id, radio_epoch, 0.0, self.channel.label_offset_samples,
                                           tx_reference=canceller, transmit_frames=max_frames,
                                           reference_cfo_hz=-precompensated[node_id])
        self.tx_log = tx_frame_log()
        # the receiver takes the transmitter's frames: not the silence the radios send after them
        self.tagger = rx_frame_tagger(node_side, node_id, 0, self.tx_log, max_frames, offset_samples, radio_epoch,
                                      log_wait_s=LOG_WAIT_S)
        self.receiver = node_rx(node_side, node_id, frames_per_message=frames_per_message, **calibrated)
        self.clock = None
        if frame_rate_hz and float(frame_rate_hz) > 0:
            self.clock = frame_clock(node_side, frame_rate_hz, time.time() if epoch_s is None else epoch_s)
            # rounded up to whole memory pages (4096 bytes = 512 complex64), as GNU Radio would (with a warning)
            buffer = -(-CLOCKED_BUFFER_FRAMES * ofdm.layout_from_scenario(s).frame_len // 512) * 512
            for block in (self.transmitter, self.clock, self.radio_tx, self.channel, self.radio_rx, self.tagger):
                block.set_max_output_buffer(buffer)
        self.push = snapshot_push(address, bind, pattern, hwm, security, secret_key_file, server_public_key,
                                  allowed_keys_file) if address else None

        others = [m for m in range(n) if m != node_id]
        for j, m in enumerate(others):
            for i in range(mt):
                self.connect((self, j * mt + i), (self.channel, m * mt + i))
        self.connect((self.transmitter, 0), self.tx_log)
        for i in range(mt):
            if i == 0 and self.clock is not None:
                self.connect((self.transmitter, 0), self.clock, (self.radio_tx, 0))
            else:
                self.connect((self.transmitter, i), (self.radio_tx, i))
            self.connect((self.radio_tx, i), (self.channel, node_id * mt + i))
            self.connect((self.radio_tx, i), (self, i))
            if canceller:
                self.connect((self.transmitter, i), (self.radio_rx, s.rx_antennas + i))
        for r in range(s.rx_antennas):
            self.connect((self.channel, r), (self.radio_rx, r), (self.tagger, r), (self.receiver, r))

        connect_node_messages(self, self.transmitter, self.receiver, self.push)

    def set_frames_per_message(self, frames_per_message):
        self.receiver.set_frames_per_message(frames_per_message)

    def set_frame_rate_hz(self, frame_rate_hz):
        if self.clock is not None:
            self.clock.set_frame_rate_hz(frame_rate_hz)
