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


def test_unknown_k_and_tracks_are_options_of_the_unit():
    """`disac cu --max-targets N --track` builds a detecting, tracking unit (it runs and ends cleanly); tracked
    estimates print their track_ids and velocities_mps (NaN → null); --max-targets with --search track is refused in
    one line naming the conflict (the tracking search assumes a known K)."""
    import numpy as np

    from gnuradio.disac.apps.cu_cmd import estimate_json
    from gnuradio.disac.core import fusion

    run = subprocess.run([sys.executable, "-c", LAUNCH, "cu", "paper", "--bind", "tcp://127.0.0.1:*", "--frames", "0",
                          "--duration-s", "0.5", "--status-interval-s", "0", "--max-targets", "3", "--track"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout.splitlines()[-1]).get("final") is True
    refused = subprocess.run([sys.executable, "-c", LAUNCH, "cu", "paper", "--bind", "tcp://127.0.0.1:*",
                              "--max-targets", "3", "--search", "track"], capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    assert "max_targets" in refused.stderr and "track" in refused.stderr
    estimate = fusion.Estimate(7, 0, np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([0.1, np.nan]), 5.0, (0, 1), True,
                               True, track_ids=np.array([4, -1]), velocities_mps=np.array([[0.5, -1.0], [np.nan, np.nan]]))
    line = estimate_json(estimate, 2)
    assert line["track_ids"] == [4, -1] and line["velocities_mps"] == [[0.5, -1.0], [None, None]]
    assert line["crb_m2"] == [0.1, None] and "track_ids" not in estimate_json(fusion.Estimate(
        7, 0, np.zeros((0, 2)), np.zeros(0), 5.0, (0, 1), True, True), 2)
