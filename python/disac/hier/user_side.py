# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""The comm side of a D-ISAC system on synthetic air: the comm channel from every node to every user, and
each user's receiver (frame sync, equalisation, QPSK decisions, SINR/EVM/BER per frame).

    inputs (every node's air, node m antenna i on m·Mt + i) → comm_channel → user_rx (user 0 … U−1)
                                                                               ├─► message out metrics
                                                                               └─► message out symbols
"""

from gnuradio import gr

from ..blocks import tags
from ..blocks.comm_channel import comm_channel
from ..blocks.user_rx import SYMBOLS_PORT, user_rx


class user_side(gr.hier_block2):
    """The comm channel and every user's receiver (module docstring).

    Ports
      inputs    N·Mt complex streams: node m's antenna i on input m·Mt + i
      metrics   (message out) every user's per-frame metrics dicts (each names its ``user``, 0-based)
      symbols   (message out) every user's equalised data symbols, PDUs with meta {user, frame, …}

    Parameters
      scenario, channel_seed, noise    as comm_channel (share channel_seed with the sensing channels)
      seed                             the transmitters' data seed (the users' known data)
      sync, first_frame                as user_rx ("tags" or "preamble")
      num_nodes, tx_antennas, num_users   port counts GRC draws; 0 or the scenario's (checked)

    Attributes: channel, users (the user_rx blocks: measured_sinr_db(), ber(), …).

    The merged ports suit a live display. For a finite run's complete record take each user's own
    ``metrics`` port (``users[u]``): a GNU Radio 3.10 message block ends at the first "done" of its
    publishers, so a sink on the merged port may miss the last frame of users that finish later.
    """

    def __init__(self, scenario="paper", seed=0, channel_seed=1, noise=True, sync="tags", first_frame=0,
                 num_nodes=0, tx_antennas=0, num_users=0):
        s = tags.as_scenario(scenario)
        tags.check_sizes(s, num_nodes=num_nodes, tx_antennas=tx_antennas, num_users=num_users)
        streams = s.num_nodes * s.tx_antennas
        gr.hier_block2.__init__(self, "disac_user_side", gr.io_signature(streams, streams, gr.sizeof_gr_complex),
                                gr.io_signature(0, 0, 0))
        self.scenario = s
        self.channel = comm_channel(s, channel_seed, noise)
        self.users = [user_rx(s, u, seed, sync, first_frame) for u in range(s.num_users)]
        for k in range(streams):
            self.connect((self, k), (self.channel, k))
        self.message_port_register_hier_out(tags.METRICS_PORT)
        self.message_port_register_hier_out(SYMBOLS_PORT)
        for u, user in enumerate(self.users):
            self.connect((self.channel, u), user)
            self.msg_connect(user, tags.METRICS_PORT, self, tags.METRICS_PORT)
            self.msg_connect(user, SYMBOLS_PORT, self, SYMBOLS_PORT)

    def measured_sinr_db(self):
        """Every user's measured SINR so far (dB), in user order."""
        return [user.measured_sinr_db() for user in self.users]

    def ber(self):
        """Every user's bit error rate so far, in user order."""
        return [user.ber() for user in self.users]
