# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Warnings only where the user can act, and once (issue 12 item 5).

* The echo past L/B: nothing to act on (d(τ) wraps and the geometry resolves it; the paper's own
  set-up has one by design, DESIGN.md), so it is a note (Scenario.notes, the summary's "notes"),
  never a warning, whether the scenario is a preset, a TOML file or a variant made with replace().
  A preset and its TOML dump stay the same scenario in every field.
* An open (no CURVE) ZeroMQ link: inproc:// cannot be reached from outside the process, so it is not
  reported; tcp:// and ipc:// without CURVE are, once per (option, address).
* End to end: `disac localize paper` (in-process central unit on inproc://) prints no warning at all.
"""

import logging
import os
import subprocess
import sys

import zmq

from gnuradio.disac import net
from gnuradio.disac.core.scenario import load_scenario, scenario_to_toml

from test_cli import RUN_MODULE, ROOT

LB_FRAGMENT = "past the unambiguous delay L/B"


def test_the_echo_past_L_over_B_is_a_note_never_a_warning(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(scenario_to_toml(load_scenario("paper")), encoding="utf-8")
    for name in ("paper", "fig5-disac", "default", str(path)):  # "default" is an alias of paper
        s = load_scenario(name)
        assert s.warnings == ()
        assert len(s.notes) == 1 and LB_FRAGMENT in s.notes[0] and "target 2, node 2 → node 2" in s.notes[0]
        summary = s.summary()
        assert summary["warnings"] == [] and summary["notes"] == list(s.notes)
    wide = load_scenario("paper").replace(bandwidth_hz=20e6, cyclic_prefix=40)  # L/B = 0.8 µs
    assert wide.warnings == () and len(wide.notes) > 1
    assert all(LB_FRAGMENT in n and "L/B = 0.800 µs" in n for n in wide.notes)


def _open_socket(address, bind, name):
    context = zmq.Context.instance()
    sock, endpoint = net.make_socket(context, zmq.PUSH, address, bind, name=name)
    net.close(sock)
    return endpoint


def _open_warnings(caplog, name):
    return [r for r in caplog.records if r.name == "gnuradio.disac.net" and r.levelno == logging.WARNING
            and "is OPEN" in r.getMessage() and r.getMessage().startswith(name)]


def test_inproc_links_are_not_reported_open(caplog):
    caplog.set_level(logging.INFO, logger="gnuradio.disac.net")
    name = "test-inproc-open"
    _open_socket(f"inproc://{name}-{os.getpid()}", True, name)
    _open_socket(f"inproc://{name}-{os.getpid()}-2", False, name)
    assert _open_warnings(caplog, name) == []


def test_tcp_and_ipc_links_without_curve_are_reported_open_once(caplog, tmp_path):
    caplog.set_level(logging.INFO, logger="gnuradio.disac.net")
    name = f"test-tcp-open-{os.getpid()}"
    for _ in range(2):
        _open_socket("tcp://127.0.0.1:*", True, name)
    warnings = _open_warnings(caplog, name)
    assert len(warnings) == 1 and "tcp://127.0.0.1:* is OPEN" in warnings[0].getMessage()
    name = f"test-ipc-open-{os.getpid()}"
    _open_socket(f"ipc://{tmp_path}/link", True, name)
    assert len(_open_warnings(caplog, name)) == 1


def test_an_in_process_run_of_a_preset_prints_no_warning():
    env = dict(os.environ, PYTHONIOENCODING="utf-8", OPENBLAS_NUM_THREADS="1")
    result = subprocess.run([sys.executable, "-c", RUN_MODULE, "localize", "paper", "--trials", "3", "--snr-db", "10",
                             "--precoders", "random", "--json"], capture_output=True, text=True,
                            encoding="utf-8", env=env, cwd=ROOT, timeout=180)
    assert result.returncode == 0, result.stderr
    assert "warning" not in result.stderr.lower() and "is OPEN" not in result.stderr, result.stderr
