# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""The GNU Radio blocks of gr-disac: thin wrappers that move streams, tags and messages in and out of
the core. Use them as ``from gnuradio import disac; disac.isac_tx(...)`` (the package resolves block
names lazily, see ``gnuradio/disac/__init__.py``); each module here holds one block and its qa file
sits beside it.
"""
