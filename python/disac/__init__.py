# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""gr-disac: noncoherent distributed integrated sensing and communication (D-ISAC) for GNU Radio 3.10.

``from gnuradio import disac`` gives the GNU Radio blocks by name (``disac.isac_tx`` …). Blocks are
imported on first use, so that ``gnuradio.disac.core`` (the pure-maths core) never loads GNU Radio.
"""

import importlib
import re

__version__ = "0.1.0"

# block name -> module inside this package that defines it (filled in as blocks are added)
# (modules live in the sub-package `blocks`, so that importing one never replaces the class that
# `disac.<name>` resolves to with its module)
_BLOCKS = {
    "isac_tx": "blocks.isac_tx",
    "sensing_channel": "blocks.sensing_channel",
    "comm_channel": "blocks.comm_channel",
    "synthetic_radio_tx": "blocks.synthetic_radio_tx",
    "synthetic_radio_rx": "blocks.synthetic_radio_rx",
    "node_rx": "blocks.node_rx",
    "user_rx": "blocks.user_rx",
    "snapshot_push": "blocks.snapshot_push",
    "central_unit": "blocks.central_unit",
    "beamformer_server": "blocks.beamformer_server",
    "precoder_sub": "blocks.precoder_sub",
    "live_map": "blocks.live_map",
    "frame_clock": "blocks.frame_clock",
    "tx_frame_log": "blocks.tx_frame_log",
    "rx_frame_tagger": "blocks.rx_frame_tagger",
    "band_shift": "blocks.band_shift",
    "end_of_run": "blocks.end_of_run",
    "sigmf_record": "blocks.sigmf_record",
    "sigmf_replay": "blocks.sigmf_replay",
    # hier blocks (gr.hier_block2 compositions of the blocks above, python/disac/hier)
    "synthetic_node": "hier.synthetic_node",
    "usrp_node": "hier.usrp_node",
    "central_node": "hier.central_node",
    "user_side": "hier.user_side",
}

# Blocks added by `gr_modtool add`. gr_modtool inserts `from .<block> import <block>` after the last
# line of this file that starts with "from" or after its marker comment (the template's, below); here
# both are inside this string, so those blocks too are imported on first use (an eager import would
# load GNU Radio with the package, and with it into `gnuradio.disac.core`). Keep this string the last
# place in the file where a line starts with "from". `gr_modtool rm` removes the line again.
_GR_MODTOOL_IMPORTS = """
# import any pure python here
"""
_BLOCKS.update({name: module for module, name in re.findall(r"^from \.([\w.]+) import (\w+)[ \t]*$",
                                                           _GR_MODTOOL_IMPORTS, re.MULTILINE)
                if name not in _BLOCKS})


def __getattr__(name):
    module = _BLOCKS.get(name)
    if module is None:
        raise AttributeError(f"module 'gnuradio.disac' has no attribute {name!r}")
    block = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = block  # resolved once
    return block


def __dir__():
    return sorted(list(globals()) + list(_BLOCKS))
