"""Node receiver: Mr streams → frame alignment from tags → CP removal → FFT → snapshot Y_s,n per frame (message).

The snapshot holds only the P sensing/data symbols of a frame (core.ofdm: the preamble and pilot symbols
are not part of it), as (Mr, L, P) complex64 — the Y_s,n of eq. (5) that the central unit fuses.
"""

import numpy as np
import pmt
from gnuradio import gr

from . import tags
from ..core import ofdm


class node_rx(gr.sync_block):
    """Mr complex streams in (frame tags on stream 0), one snapshot PDU per frame out on ``snapshot``.

    Alignment: time-synchronised nodes, so each frame tag on input 0 (frame number, node id, precoder
    version, as isac_tx writes them; the sensing channel forwards its own transmitter's) marks a frame
    start. Samples before the first tag are dropped; a frame whose end has not arrived waits for the
    next call. The PDU is tags.snapshot_to_pmt (meta: node_id, frame, precoder_version, shape
    (Mr, L, P); payload: c32vector in C order); tags.snapshot_from_pmt decodes it for serialising.

    Parameters
      scenario   preset name, TOML path or Scenario (Mr, L, CP, P and the frame layout)
      node_id    this node (written in the snapshot; the tag's node id is the transmitter's)
      rx_antennas port count GRC draws; 0 or the scenario's Mr (checked)
    """

    def __init__(self, scenario="paper", node_id=0, rx_antennas=0):
        self.scenario = tags.as_scenario(scenario)
        tags.check_sizes(self.scenario, rx_antennas=rx_antennas)
        self.layout = ofdm.layout_from_scenario(self.scenario)
        gr.sync_block.__init__(self, name="disac_node_rx",
                               in_sig=[np.complex64] * self.scenario.rx_antennas, out_sig=None)
        self.node_id = int(node_id)
        self.frames_received = 0
        lay = self.layout
        self._shape = (self.scenario.rx_antennas, lay.subcarriers, lay.data_symbols)
        self._meta = tags.snapshot_meta(self.node_id, self._shape)
        self._offsets = lay.front_len + np.arange(lay.data_symbols * lay.symbol_len)
        self._port = pmt.intern(tags.SNAPSHOT_PORT)
        self.message_port_register_out(self._port)

    def work(self, input_items, output_items):
        lay = self.layout
        count = len(input_items[0])
        start = self.nitems_read(0)
        found = self.get_tags_in_window(0, 0, count, tags.frame_tag_key())
        if not found:
            return count
        offsets = np.array([tag.offset - start for tag in found], dtype=np.int64)
        complete = offsets + lay.frame_len <= count
        consumed = count if complete.all() else int(offsets[~complete][0])
        if not complete.any():
            return consumed
        offsets = offsets[complete]
        x = np.stack(input_items)  # (Mr, count)
        sym = x[:, offsets[:, None] + self._offsets[None, :]]  # (Mr, F, P·(CP+L))
        sym = sym.reshape(x.shape[0], len(offsets), lay.data_symbols, lay.symbol_len)
        freq = ofdm.demodulate(sym, lay.cyclic_prefix)  # (Mr, F, P, L)
        snapshots = np.ascontiguousarray(np.transpose(freq, (1, 0, 3, 2)), dtype=np.complex64)  # (F, Mr, L, P)
        for tag, snapshot in zip((t for t, c in zip(found, complete) if c), snapshots):
            frame, _, version = tags.parse_frame_tag(tag.value)
            self.message_port_pub(self._port, tags.snapshot_to_pmt(self._meta, frame, version, snapshot))
        self.frames_received += len(offsets)
        return consumed
