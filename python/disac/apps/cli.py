"""The `disac` command: one entry point, one subcommand per job.

Each subcommand lives in its own module of this package with a ``register(subparsers)`` function
that adds its parser and sets ``func`` (called with the parsed arguments, returns an exit code).
Expected failures raise ``UsageError`` or ``ScenarioError``: they print one line
``disac: error: …`` on stderr and exit with status 2, without a traceback.
"""

import argparse
import importlib
import json
import math
import sys

from ..core.scenario import ScenarioError

# subcommand modules, in the order `disac --help` lists them
COMMAND_MODULES = ["demo_cmd", "scenario_cmd", "crb_cmd", "design_cmd", "figures_cmd", "loopback_cmd", "keys_cmd", "bf_server_cmd", "localize_cmd", "node_cmd", "cu_cmd", "bench_cmd"]


class UsageError(Exception):
    """A bad command-line value; the message names it and says what is accepted."""


def finite_float(name, low=None, high=None):
    """An argparse type: a finite number within [low, high], else a message naming the value."""
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} = {text!r}: expected a number") from None
        if not math.isfinite(value) or (low is not None and value < low) or (high is not None and value > high):
            bounds = f" from {low:g} to {high:g}" if low is not None and high is not None else ""
            raise argparse.ArgumentTypeError(f"{name} = {text!r}: expected a finite number{bounds}")
        return value
    return parse


def json_ready(value):
    """Recursively turn numpy values into JSON ones, and non-finite floats into null."""
    import numpy as np

    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_ready(value.tolist())
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


# ---- one rule for every subcommand's arguments (docs/cli.md) ------------------------------------
# * SCENARIO is an optional positional argument, a preset name or a TOML file, default "paper";
# * option names carry their unit (--duration-s, --timeout-s, --frame-rate-hz); old spellings stay
#   accepted through add_option(..., old_names=...) with a one-line deprecation note on stderr;
# * choices are listed in --help (argparse choices=, and "(default X)" in the help text);
# * nodes and users are numbered from 1 wherever a person reads or types them;
# * --json prints only JSON on stdout (log lines go to stderr: see quiet_gnuradio_logs).

DEFAULT_SCENARIO = "paper"


def add_scenario_argument(parser, what="the scenario"):
    """The optional positional SCENARIO (a preset or a TOML file), default paper, on every subcommand."""
    from ..core.scenario import PRESETS

    parser.add_argument("scenario", nargs="?", default=DEFAULT_SCENARIO, metavar="SCENARIO",
                        help=f"{what}: a preset ({', '.join(PRESETS)}) or a TOML file (default {DEFAULT_SCENARIO})")


_deprecation_notes_given = set()


def deprecation_note(old, new):
    """Say once per process, on stderr, that an old spelling was used and what replaces it."""
    if old not in _deprecation_notes_given:
        _deprecation_notes_given.add(old)
        print(f"disac: note: {old} is deprecated, use {new}", file=sys.stderr)


def _deprecated_alias_action(new_name, flag):
    class DeprecatedAlias(argparse.Action):
        def __init__(self, option_strings, dest, **kwargs):
            if flag:
                kwargs["nargs"] = 0
            super().__init__(option_strings, dest, **kwargs)

        def __call__(self, parser, namespace, values, option_string=None):
            deprecation_note(option_string, new_name)
            setattr(namespace, self.dest, True if flag else values)

    return DeprecatedAlias


def add_option(parser, name, *, old_names=(), **kwargs):
    """parser.add_argument(name, **kwargs), plus hidden old spellings that still work and say once that
    they are deprecated. Returns the argparse action of the option."""
    action = parser.add_argument(name, **kwargs)
    flag = kwargs.get("action") in ("store_true", "store_false")
    alias_kwargs = {k: kwargs[k] for k in ("type", "choices", "metavar") if k in kwargs and not flag}
    for old in old_names:
        parser.add_argument(old, dest=action.dest, help=argparse.SUPPRESS,
                            action=_deprecated_alias_action(name, flag), **alias_kwargs)
    return action


def print_json(value, stream=None):
    json.dump(json_ready(value), stream or sys.stdout, indent=2)
    (stream or sys.stdout).write("\n")




# the shared options and set-up of the flowgraph subcommands live in cli_flowgraph.py (this module stays the
# one the subcommands import: `from .cli import add_chain_arguments, …`)
from .cli_flowgraph import (PRECODER_HELP, Progress, add_chain_arguments, add_curve_arguments,  # noqa: E402,F401
                            add_link_arguments, add_node_number_argument, add_precoder_arguments,
                            add_progress_argument, link_parameters, load_checked_scenario, node_index_from_args,
                            print_scenario_warnings, progress_bar, quiet_gnuradio_info, resolve_precoders,
                            security_from_args, security_parameters)


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error (no usage block): `disac design: error: … (see --help)`."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser():
    parser = _Parser(
        prog="disac",
        description="gr-disac: noncoherent distributed ISAC for GNU Radio (paper: Han, Meng, Masouros).")
    from .. import __version__

    parser.add_argument("--version", action="version", version=f"gr-disac {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__package__}.{name}").register(subparsers)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (UsageError, ScenarioError) as exc:
        print(f"disac: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("disac: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    # run as `python -m gnuradio.disac.apps.cli`: use the package's copy of this module, the one the
    # subcommand modules import, so that their UsageError is the class main() catches
    from gnuradio.disac.apps.cli import main as package_main

    sys.exit(package_main())
