"""A message sink block that hands every message of its input port to a Python callable.

The apps use it to print the status messages of the central unit and the beamformer server. The
handler is a bound method on purpose: GNU Radio 3.10's Python gateway calls a message handler by its
name on the block, so a lambda ("<lambda>") fails in the scheduler thread. A callback that finds stdout
closed (BrokenPipeError: `disac cu | head -1`) stops the command through cli.stdout_gone, which makes it
exit quietly with status 141, instead of killing the block's thread with a traceback and running on.
"""


def callback_sink(name, port, callback):
    """A gr.basic_block named ``name`` with message input ``port``; each message goes to callback(msg)."""
    import pmt
    from gnuradio import gr

    class message_callback_sink(gr.basic_block):
        def __init__(self):
            gr.basic_block.__init__(self, name=name, in_sig=None, out_sig=None)
            self.message_port_register_in(pmt.intern(port))
            self.set_msg_handler(pmt.intern(port), self.handle)

        def handle(self, msg):
            try:
                callback(msg)
            except BrokenPipeError:  # the printer's reader went away (`disac cu | head`): stop as on Ctrl-C
                from .cli import stdout_gone

                stdout_gone()

    return message_callback_sink()
