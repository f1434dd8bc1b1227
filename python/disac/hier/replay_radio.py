# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""`--radio replay:DIR`: a recorded radio for hier.usrp_node, so a SigMF recording is re-processed by the
very receive chain a USRP node runs (band shift where the recording needs it, rx framing, node receiver,
snapshot link).

usrp_node asks its radio object for a sink (Mt transmit channels) and a source (Mr receive channels), as
tests/test_node_usrp.py's stand-ins do. Here the source is a sigmf_replay of DIR/node-<n> and the sink a
null sink: the node's transmitter still runs (same seeds and precoders as the recorded run), because its
frame log gives the rx framing each frame's precoder version, exactly as on the radio. A recording of
the synthetic air is on the model's grid already (no B/2 shift: ``band_shift`` False); a USRP recording
made with --frequency-grid low-if gets the node's shift again (``band_shift`` True). The radio is not
configured (no clocks, tuning or gains: the recording has them in its metadata).
"""

from gnuradio import blocks, gr

from ..blocks.sigmf_replay import sigmf_replay
from ..blocks import tags


class ReplayRadio:
    """A radio object for usrp_node that replays DIR/node-<node_id + 1> (module docstring).

    Attributes: replay (the sigmf_replay block), reader (its core.recording.RecordingReader),
    band_shift (whether usrp_node must apply the B/2 shift on the receive side), epoch ((whole s, fraction)
    of frame 0: the recorded epoch, else the first time label, else None) and epoch_s (the same as one
    float, 0.0 for none), center_freq_hz (or 0.0), frequency_grid.
    """

    all_mboards = "ALL"

    def __init__(self, directory, scenario, node_id):
        s = tags.as_scenario(scenario)
        self.replay = sigmf_replay(s, node_id, directory, s.rx_antennas)  # ValueError naming what is wrong
        self.reader = reader = self.replay.reader
        self.tx_antennas = s.tx_antennas
        self.frequency_grid = reader.frequency_grid or "low-if"
        self.band_shift = reader.radio == "usrp" and self.frequency_grid == "low-if"
        # frame 0's time: the recorded epoch, else (a foreign recording) the first time label, else none (0.0)
        epoch = reader.epoch if reader.epoch is not None else (reader.labels[0][1] if reader.labels else None)
        self.epoch = epoch
        self.epoch_s = 0.0 if epoch is None else epoch[0] + epoch[1]
        self.center_freq_hz = float(reader.center_freq_hz or 0.0)

    def sink(self, device_args, channels):
        """Mt complex inputs that go nowhere (the transmitter runs for its frame log only)."""
        return _null_sinks(len(channels))

    def source(self, device_args, channels):
        return self.replay

    def time_spec(self, seconds):
        return float(seconds)


class _null_sinks(gr.hier_block2):
    def __init__(self, count):
        gr.hier_block2.__init__(self, "disac_replay_tx_sink", gr.io_signature(count, count, gr.sizeof_gr_complex),
                                gr.io_signature(0, 0, 0))
        self.sinks = [blocks.null_sink(gr.sizeof_gr_complex) for _ in range(count)]
        for i, sink in enumerate(self.sinks):
            self.connect((self, i), sink)
