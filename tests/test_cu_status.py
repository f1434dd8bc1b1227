# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""`disac cu --status-interval S` prints periodic status lines without an error in its log.

Found by the soak benchmark: the status printer's message handler was a lambda, which GNU Radio 3.10's
Python gateway cannot call (it looks handlers up by name), so every periodic status raised in the
scheduler thread and nothing was printed.
"""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAUNCH = ("import sys, gnuradio; gnuradio.__path__.insert(0, %r); "
          "from gnuradio.disac.apps.cli import main; sys.exit(main())") % os.path.join(ROOT, "python")


def test_periodic_status_lines_and_a_clean_log():
    run = subprocess.run([sys.executable, "-c", LAUNCH, "cu", "paper", "--bind", "tcp://127.0.0.1:*",
                          "--frames", "0", "--duration", "2.6", "--status-interval", "0.5"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    periodic = [line for line in lines if line["type"] == "status" and not line.get("final")]
    assert len(periodic) >= 2 and lines[-1].get("final") is True
    assert "Traceback" not in run.stderr and "ERROR" not in run.stderr
