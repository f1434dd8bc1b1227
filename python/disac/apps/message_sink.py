"""Kept for the apps that import it from here: the block is blocks/callback_sink.py (apps import no other
app module but cli.py)."""

from ..blocks.callback_sink import callback_sink  # noqa: F401
