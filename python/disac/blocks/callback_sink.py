# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""A message sink block that hands every message of its input port to a Python callable.

The apps use it to print the status messages of the central unit and the beamformer server. The
handler is a bound method on purpose: GNU Radio 3.10's Python gateway calls a message handler by its
name on the block, so a lambda ("<lambda>") fails in the scheduler thread. Not in GRC (a Python callable
is not a GRC parameter).
"""

import pmt
from gnuradio import gr


class message_callback_sink(gr.basic_block):
    """Message input ``port``; each message goes to callback(msg) on the scheduler's thread."""

    def __init__(self, name, port, callback):
        gr.basic_block.__init__(self, name=name, in_sig=None, out_sig=None)
        self.callback = callback
        self.message_port_register_in(pmt.intern(port))
        self.set_msg_handler(pmt.intern(port), self.handle)

    def handle(self, msg):
        self.callback(msg)


def callback_sink(name, port, callback):
    """A gr.basic_block named ``name`` with message input ``port``; each message goes to callback(msg)."""
    return message_callback_sink(name, port, callback)
