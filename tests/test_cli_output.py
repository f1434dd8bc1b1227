# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""What `disac … --json` puts on stdout, and how it ends when the reader goes away (issue 11 item 7).

* `--json` stdout is one JSON document and nothing else: Debian's gnuradio-runtime.conf logs at level
  debug *to stdout*, so before cli.main() quieted GNU Radio a flowgraph run printed
  "disac_isac_tx :info: set_min_output_buffer …" lines ahead of the JSON and json.loads failed. The
  run here uses the system's own GNU Radio configuration, as a user's would.
* `disac … --json | head -c 10`: the reader closes the pipe early. The command must end quietly with
  status 141 (128 + SIGPIPE, what a shell reports for a process that SIGPIPE stopped), with no
  traceback and no "Exception ignored … BrokenPipeError" on stderr. The test makes the condition
  certain rather than likely: the pipe's read end is closed before the command starts, so its first
  write to stdout fails (with a real `head` the command could finish writing before head exits).
* quiet_gnuradio_info keeps what a user set in the environment.
"""

import json
import os
import re
import subprocess
import sys

from test_cli import RUN_MODULE, ROOT

BROKEN_PIPE_STATUS = 141


def _env(**extra):
    env = dict(os.environ, PYTHONIOENCODING="utf-8", OPENBLAS_NUM_THREADS="1")
    for name in ("GR_CONF_LOG_LOG_FILE", "GR_CONF_LOG_LOG_LEVEL"):  # the system's configuration, not ours
        env.pop(name, None)
    env.update(extra)
    return env


def disac(*args, env=None):
    return subprocess.run([sys.executable, "-c", RUN_MODULE, *args], capture_output=True, text=True,
                          encoding="utf-8", env=env or _env(), cwd=ROOT, timeout=120)


def disac_into_closed_pipe(*args):
    """Run `disac ARGS…` with stdout a pipe whose reader is already gone; (exit status, stderr)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run([sys.executable, "-c", RUN_MODULE, *args], stdout=write_end,
                              stderr=subprocess.PIPE, text=True, encoding="utf-8", env=_env(), cwd=ROOT,
                              timeout=120)
    finally:
        os.close(write_end)
    return proc.returncode, proc.stderr


def test_loopback_json_stdout_is_only_json():
    result = disac("loopback", "paper", "--frames", "20", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)  # the whole of stdout: one JSON document, no log line before or after
    # the keys loopback documents (a contract)
    assert {"sinr_designed_db", "sinr_measured_db", "ber", "frames", "snapshot_model_error_rel"} <= set(data)
    assert data["frames"] == 20
    assert "Traceback" not in result.stderr


def test_gnuradio_log_goes_to_stderr_and_keeps_warnings():
    """The same run, GNU Radio's level forced to info by the user: the info lines appear, on stderr only."""
    result = disac("loopback", "paper", "--frames", "5", "--json", env=_env(GR_CONF_LOG_LOG_LEVEL="info"))
    assert result.returncode == 0, result.stderr
    json.loads(result.stdout)
    assert ":info:" in result.stderr  # the user's level is kept, and the log is on stderr


def test_json_into_a_closed_pipe_ends_quietly():
    code, err = disac_into_closed_pipe("scenario", "show", "paper", "--json")
    assert code == BROKEN_PIPE_STATUS, err
    assert "Traceback" not in err and "BrokenPipe" not in err and "Exception ignored" not in err, err


def test_loopback_json_into_a_closed_pipe_ends_quietly():
    code, err = disac_into_closed_pipe("loopback", "paper", "--frames", "5", "--json")
    assert code == BROKEN_PIPE_STATUS, err
    assert "Traceback" not in err and "BrokenPipe" not in err and "Exception ignored" not in err, err


def test_text_output_into_a_closed_pipe_ends_quietly():
    code, err = disac_into_closed_pipe("scenario", "list")
    assert code == BROKEN_PIPE_STATUS, err
    assert "Traceback" not in err and "Exception ignored" not in err, err


def _stderr_on_a_terminal(*args):
    """Run `disac ARGS…` with stderr a pseudo-terminal and stdout a pipe: (exit status, stdout, terminal text)."""
    import fcntl
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    # a real terminal has a size; a fresh pty has 0 × 0, on which tqdm draws an empty bar
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    try:
        proc = subprocess.Popen([sys.executable, "-c", RUN_MODULE, *args], stdout=subprocess.PIPE, stderr=slave,
                                env=_env(), cwd=ROOT)
    finally:
        os.close(slave)
    chunks = []
    try:
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the child closed the terminal (it exited)
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(master)
    out = proc.stdout.read().decode()
    proc.stdout.close()
    return proc.wait(timeout=120), out, b"".join(chunks).decode(errors="replace")


def test_progress_bar_on_a_terminal_only_and_on_stderr():
    code, out, terminal = _stderr_on_a_terminal("design", "paper", "--sinr-db", "10", "--json")
    assert code == 0, terminal
    json.loads(out)  # the bar is not on stdout
    # tqdm's "n/total": the bar of the design's 2 steps was drawn (which n depends on tqdm's refresh timing)
    assert "disac design" in terminal and re.search(r"\b[0-2]/2\b", terminal), terminal
    piped = disac("design", "paper", "--sinr-db", "10", "--json")
    assert piped.returncode == 0 and piped.stderr == "", piped.stderr  # not in a pipe
    json.loads(piped.stdout)
    code, out, terminal = _stderr_on_a_terminal("design", "paper", "--sinr-db", "10", "--no-progress")
    assert code == 0 and "disac design" not in terminal, terminal


def test_a_status_printer_thread_into_a_closed_pipe_stops_the_command_quietly():
    """`disac cu | head -1`: cu's status lines are printed from a GNU Radio message handler (cli.printing_callback).
    Before, the BrokenPipeError killed that block's thread with a traceback and cu ran on, printing
    nothing, until --duration (30 s here, a bound in case of a regression); now it stops at once, quietly."""
    code, err = disac_into_closed_pipe("cu", "paper", "--bind", "tcp://127.0.0.1:*", "--status-interval", "0.1",
                                       "--duration", "30")
    assert code == BROKEN_PIPE_STATUS, err
    assert "Traceback" not in err and "BrokenPipe" not in err and ":error:" not in err, err
