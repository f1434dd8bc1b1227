# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""The central unit with its links: snapshots in from the nodes (ZeroMQ PULL/SUB, or in-flowgraph
messages), estimates out (messages, and core.wire ESTIMATE on a PUB socket), and the precoder sets in
force (messages, and optionally a precoder_sub on a beamformer server's PUB socket).

    snapshot (message in) ─┐
    ZeroMQ snapshots ──────┴► central_unit ──► estimate, status (messages out); ZeroMQ estimates
    precoders (message in) ─┐      ▲
    [precoder_sub ← beamformer server PUB] ┘
"""

from gnuradio import gr

from ..blocks.central_unit import ESTIMATE_PORT, PRECODERS_PORT, SNAPSHOT_PORT, STATUS_PORT, central_unit
from ..core import fusion
from ..blocks.precoder_sub import PRECODERS_PORT as SUB_PORT, precoder_sub


class central_node(gr.hier_block2):
    """The central unit and its precoder link (module docstring).

    Ports (messages; no streams)
      snapshot   in: node_rx snapshots from the same flowgraph (besides the ZeroMQ socket)
      precoders  in: precoder sets (a beamformer server's ``precoders`` port)
      estimate   out: one per localised frame (central_unit's estimate dicts)
      status     out: the central unit's counters, every status_interval_s and at stop

    Parameters: those of central_unit (scenario, seed, wc, wr, timeout_s, queue_depth, search, address,
    bind, pattern, estimate_address, estimate_bind, status_interval_s, num_targets, keep_estimates, the
    four security ones, frame_window, state_file, calibration, known_paths, background, max_targets,
    false_alarm_rate and track), and
      precoders_address              a beamformer server's PUB endpoint to subscribe to ("" for none)
      precoders_server_public_key    that server's public key when security is "curve" (default:
                                     server_public_key)

    Attributes: cu (the central_unit), precoder_sub (or None). status(): the central unit's counters,
    with the subscriber's as precoder_sub_<name>.
    """

    def __init__(self, scenario="paper", seed=0, wc=None, wr=None, timeout_s=0.5, queue_depth=4, search="full",
                 address="tcp://*:5555", bind=True, pattern="pull", estimate_address="", estimate_bind=True,
                 status_interval_s=1.0, num_targets=0, keep_estimates=1000, precoders_address="",
                 security="open", secret_key_file="", server_public_key="", allowed_keys_file="",
                 precoders_server_public_key="", frame_window=fusion.DEFAULT_FRAME_WINDOW, state_file="",
                 calibration="", known_paths="auto", background="", max_targets=0,
                 false_alarm_rate=fusion.DEFAULT_FALSE_ALARM_RATE, track=False, **worker_options):
        gr.hier_block2.__init__(self, "disac_central_node", gr.io_signature(0, 0, 0), gr.io_signature(0, 0, 0))
        self.cu = central_unit(scenario, seed, wc, wr, timeout_s=timeout_s, queue_depth=queue_depth, search=search,
                               address=address, bind=bind, pattern=pattern, estimate_address=estimate_address,
                               estimate_bind=estimate_bind, status_interval_s=status_interval_s,
                               num_targets=num_targets, keep_estimates=keep_estimates, security=security,
                               secret_key_file=secret_key_file, server_public_key=server_public_key,
                               allowed_keys_file=allowed_keys_file, frame_window=frame_window, state_file=state_file,
                               calibration=calibration, known_paths=known_paths, background=background,
                               max_targets=max_targets, false_alarm_rate=false_alarm_rate, track=track,
                               **worker_options)  # workers, worker_address, … (issue 16: blocks.central_unit)
        self.precoder_sub = None
        if precoders_address:
            self.precoder_sub = precoder_sub(precoders_address, self.cu.scenario, -1, security, secret_key_file,
                                             precoders_server_public_key or server_public_key, allowed_keys_file)
        for port in (SNAPSHOT_PORT, PRECODERS_PORT):
            self.message_port_register_hier_in(port)
            self.msg_connect(self, port, self.cu, port)
        for port in (ESTIMATE_PORT, STATUS_PORT):
            self.message_port_register_hier_out(port)
            self.msg_connect(self.cu, port, self, port)
        if self.precoder_sub is not None:
            self.msg_connect(self.precoder_sub, SUB_PORT, self.cu, PRECODERS_PORT)

    @property
    def bound_address(self):
        return self.cu.bound_address

    @property
    def estimates(self):
        return self.cu.estimates

    def frames_released(self):
        """Frames 0 … k − 1 released by the aligner so far: k (the watermark + 1), read under the unit's lock."""
        with self.cu._lock:
            return self.cu.aligner.watermark + 1

    def status(self):
        status = self.cu.status()
        if self.precoder_sub is not None:
            status.update({f"precoder_sub_{key}": value for key, value in self.precoder_sub.counters().items()})
        return status
