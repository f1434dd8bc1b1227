# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Waiting for an event in a test that spans threads or processes: poll a condition, never sleep a guess."""
import time


def wait_for(condition, timeout_s, what, poll_s=0.05):
    """condition()'s first true value, polled every poll_s; AssertionError naming ``what`` after timeout_s
    (a generous bound for a loaded machine: the test waits for the event, not for a guessed time)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(poll_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
