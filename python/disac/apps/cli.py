# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""The `disac` command: one entry point, one subcommand per job.

Each subcommand lives in its own module of this package with a ``register(subparsers)`` function
that adds its parser and sets ``func`` (called with the parsed arguments, returns an exit code).
Expected failures raise ``UsageError`` or ``ScenarioError``: they print one line
``disac: error: …`` on stderr and exit with status 2, without a traceback.

Before any subcommand is even imported, main() sends GNU Radio's log to stderr at level warn
(quiet_gnuradio_info), so that stdout carries only what the subcommand prints (with --json: only
JSON). A reader that closes stdout early (`disac … --json | head -1`) ends the command quietly with
status 141, as a process stopped by SIGPIPE would, without a traceback.
"""

import argparse
import errno
import importlib
import json
import os
import signal
import sys
import threading
import _thread

from ..core.json_values import json_ready  # noqa: F401 - re-exported: the apps import it from here
from ..core.scenario import ScenarioError

# subcommand modules, in the order `disac --help` lists them
COMMAND_MODULES = ["demo_cmd", "scenario_cmd", "crb_cmd", "design_cmd", "figures_cmd", "loopback_cmd", "keys_cmd", "bf_server_cmd", "bf_request_cmd", "localize_cmd", "calibrate_cmd", "node_cmd", "cu_cmd", "cu_worker_cmd", "bench_cmd", "track_cmd", "sweep_cmd"]


class UsageError(Exception):
    """A bad command-line value; the message names it and says what is accepted."""


from .cli_options import (  # noqa: F401 - re-exported: the subcommands import them from here
    DEFAULT_SCENARIO, add_option, add_progress_option, add_scenario_argument, add_scheduler_arguments,
    add_unknown_k_arguments,
    deprecation_note, finite_float, progress_bar, solver_accuracy_warnings_quieted, whole_number)


# GNU Radio's runtime reads its log settings from its preferences when it loads, and a variable
# GR_CONF_<SECTION>_<OPTION> overrides the files. Debian's gnuradio-runtime.conf says
# log_level = debug, log_file = stdout: every flowgraph start would print "… :info: set_min_output_buffer"
# lines into the JSON on stdout.
_GR_LOG_SETTINGS = {"GR_CONF_LOG_LOG_FILE": "stderr", "GR_CONF_LOG_LOG_LEVEL": "warn"}
_GR_LOG_SET_HERE = set()  # the variables quiet_gnuradio_info set (the others are the user's)


def quiet_gnuradio_info():
    """Send GNU Radio's log to stderr and keep warnings and errors only, for this process and its children.

    Called once by main() before any subcommand runs (and harmless to call again). A setting the user
    made in the environment is kept. Cheap: it does not load GNU Radio; if the runtime is loaded already
    (its log file can no longer change), the level is lowered on it directly.
    """
    user_level = "GR_CONF_LOG_LOG_LEVEL" in os.environ and "GR_CONF_LOG_LOG_LEVEL" not in _GR_LOG_SET_HERE
    for name, value in _GR_LOG_SETTINGS.items():
        if name not in os.environ:
            os.environ[name] = value
            _GR_LOG_SET_HERE.add(name)
    gr = sys.modules.get("gnuradio.gr")
    if gr is not None and not user_level:
        gr.logging().set_default_level(gr.log_levels.warn)


def print_json(value, stream=None):
    json.dump(json_ready(value), stream or sys.stdout, indent=2)
    (stream or sys.stdout).write("\n")




# the shared options and set-up of the flowgraph subcommands live in cli_flowgraph.py (this module stays the
# one the subcommands import: `from .cli import add_chain_arguments, …`)
from .cli_flowgraph import (PRECODER_HELP, Progress, add_chain_arguments, add_curve_arguments,  # noqa: E402,F401
                            add_impairment_arguments, calibration_report, impaired_scenario, resolve_calibration,
                            add_link_arguments, add_node_number_argument, add_precoder_arguments,
                            link_parameters, load_checked_scenario, node_index_from_args,
                            print_scenario_warnings, resolve_precoders,
                            security_from_args, security_parameters)
from .cli_interference import (add_background_arguments, add_impaired_summary,  # noqa: E402,F401
                               interference_report, resolve_suppressor)
from .cli_radio import (FRAMING_COUNTERS, RADIOS, REPLAY_PREFIX, RadioChoices, add_recorder,  # noqa: E402,F401
                        build_replay, build_usrp_node, channel_list, configure_usrp, radio_choice,
                        recording_report)


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error (no usage block): `disac design: error: … (see --help)`."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser():
    parser = _Parser(
        prog="disac",
        description="gr-disac: noncoherent distributed ISAC for GNU Radio (paper: Han, Meng, Masouros).",
        epilog="`disac COMMAND --help` gives a command's options. One rule for every command (docs/cli.md): "
               "SCENARIO is a preset (`disac scenario list`) or a TOML file, default paper; option names carry "
               "their unit (--timeout-s); nodes and users count from 1; --json prints only JSON on stdout; "
               "progress bars and log lines go to stderr.")
    from .. import __version__

    parser.add_argument("--version", action="version", version=f"gr-disac {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__package__}.{name}").register(subparsers)
    return parser


# exit status of a command whose reader went away: 128 + SIGPIPE, what the shell reports for a process
# the signal stopped (`yes | head -1` under `set -o pipefail`)
BROKEN_PIPE_STATUS = 128 + signal.SIGPIPE
_stdout_closed = threading.Event()


def stdout_gone():
    """Call where a write to stdout raised BrokenPipeError, in any thread (printing_callback does).

    stdout goes to /dev/null (later writes and the interpreter's final flush cannot fail again), and
    from a thread other than the main one the main thread gets a KeyboardInterrupt once, so the
    command stops as on Ctrl-C; main() then exits quietly with status 141.
    """
    first = not _stdout_closed.is_set()
    _stdout_closed.set()
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # stdout replaced by something without a file descriptor
        pass
    if first and threading.current_thread() is not threading.main_thread():
        _thread.interrupt_main()


def printing_callback(callback):
    """callback, for a message handler that prints: a closed stdout (BrokenPipeError: `disac cu | head -1`)
    stops the command through stdout_gone (exit 141) instead of killing the block's thread with a
    traceback while the command runs on."""
    def guarded(msg):
        try:
            callback(msg)
        except BrokenPipeError:
            stdout_gone()

    return guarded


def main(argv=None):
    quiet_gnuradio_info()  # first: before any subcommand module can load GNU Radio's runtime
    _stdout_closed.clear()
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return 2
        try:
            code = int(args.func(args) or 0)
        except (UsageError, ScenarioError) as exc:
            print(f"disac: error: {exc}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            if _stdout_closed.is_set():  # not the user: stdout's reader went away (stdout_gone)
                return BROKEN_PIPE_STATUS
            print("disac: interrupted", file=sys.stderr)
            return 130
        sys.stdout.flush()  # here, not at exit: a reader gone away is handled below
        return BROKEN_PIPE_STATUS if _stdout_closed.is_set() else code
    except OSError as exc:  # BrokenPipeError, or EPIPE from a flush
        if exc.errno != errno.EPIPE:
            raise
        # stdout's reader closed it (`disac … | head`): nothing more can be said there, and saying so on
        # stderr would only add noise to a normal pipeline
        stdout_gone()
        return BROKEN_PIPE_STATUS


if __name__ == "__main__":
    # run as `python -m gnuradio.disac.apps.cli`: use the package's copy of this module, the one the
    # subcommand modules import, so that their UsageError is the class main() catches
    from gnuradio.disac.apps.cli import main as package_main

    sys.exit(package_main())
