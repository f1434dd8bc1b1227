# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Hierarchical blocks of gr-disac: the pieces a system is made of, as GRC shows them and as the `disac`
apps compose them (gr-satellites' hier/ layout). Each is a gr.hier_block2 around the blocks of
``gnuradio.disac.blocks``; its qa file sits beside it and its YAML is grc/disac_<name>.block.yml.

  synthetic_node   a node on synthetic air: transmitter, its sensing echo channel, receiver, snapshot link
  usrp_node        a node on a USRP (gr-uhd): transmitter, band shift, radio, rx framing, receiver, link
  central_node     the central unit with its links (snapshots in, estimates out, precoder sets in)
  user_side        the comm side: the synthetic comm channel and every user's receiver

``system`` composes them for the apps (every node's transmitter on one air, runs until N frames).
``calibration_capture`` runs the synthetic node's radio and air blocks for a calibration capture (disac
calibrate: the nodes take turns, the raw labelled receive streams come back).
"""
