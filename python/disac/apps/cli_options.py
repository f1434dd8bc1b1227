# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""The argument helpers of every `disac` subcommand: the one rule of docs/cli.md (checked by
tests/test_cli_rules.py). The subcommands import them from cli.py, which re-exports them."""

import argparse
import contextlib
import math
import sys
import warnings


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


def whole_number(name, low, high):
    """An argparse type: a whole number within [low, high], else a message naming the value."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{name} = {text!r}: expected a whole number from {low} to {high}")
        return value
    return parse


# ---- one rule for every subcommand (docs/cli.md, checked by tests/test_cli_rules.py): the helpers ---

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


def _deprecated_alias_action(new_name, flag, const):
    class DeprecatedAlias(argparse.Action):
        def __init__(self, option_strings, dest, **kwargs):
            if flag:
                kwargs["nargs"] = 0
            super().__init__(option_strings, dest, **kwargs)

        def __call__(self, parser, namespace, values, option_string=None):
            deprecation_note(option_string, new_name)
            setattr(namespace, self.dest, const if flag else values)

    return DeprecatedAlias


def add_option(parser, name, *, old_names=(), **kwargs):
    """parser.add_argument(name, **kwargs), plus hidden old spellings that still work and say once that
    they are deprecated. Returns the argparse action of the option.

    The old spellings take the option's type, choices, nargs and metavar (a flag's old spelling sets
    what the flag sets, also for store_false). A required option is satisfied by either spelling (they
    form one required group, so giving both is an error)."""
    target = parser
    if old_names and kwargs.get("required"):
        kwargs = {k: v for k, v in kwargs.items() if k != "required"}
        target = parser.add_mutually_exclusive_group(required=True)
    action = target.add_argument(name, **kwargs)
    flag = kwargs.get("action") in ("store_true", "store_false")
    alias_kwargs = {k: kwargs[k] for k in ("type", "choices", "metavar", "nargs") if k in kwargs and not flag}
    for old in old_names:
        target.add_argument(old, dest=action.dest, help=argparse.SUPPRESS,
                            action=_deprecated_alias_action(name, flag, action.const), **alias_kwargs)
    return action


@contextlib.contextmanager
def solver_accuracy_warnings_quieted():
    """A context in which cvxpy's "Solution may be inaccurate" UserWarning is not printed: the commands
    report the status ("optimal_inaccurate") themselves, so the warning would only repeat it."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Solution may be inaccurate")
        yield


def add_progress_option(parser):
    """--no-progress: no progress bar even on a terminal (the bar is never drawn in a pipe or a file)."""
    return parser.add_argument("--no-progress", action="store_true",
                               help="no progress bar (it is drawn on stderr, and only on a terminal)")


def progress_bar(total, desc, unit="step", enabled=True):
    """A tqdm bar on stderr, drawn only when stderr is a terminal (never in a pipe, a file or a test)
    and ``enabled`` (e.g. not --no-progress). Use it as a context manager; .update(n) advances it."""
    from tqdm import tqdm

    tqdm.monitor_interval = 0  # no monitor thread: it is of no use here, and some commands fork processes
    try:
        terminal = sys.stderr.isatty()
    except (AttributeError, ValueError):  # a closed or replaced stream
        terminal = False
    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, leave=False, disable=not (enabled and terminal))


def add_unknown_k_arguments(parser):
    """--unknown-k [--max-targets N] [--false-alarm-rate P] of localize and sweep (issue 15; checked when the command
    runs by core.trial_stats.unknown_k_options)."""
    parser.add_argument("--unknown-k", action="store_true", help="the central unit detects how many targets there are")
    parser.add_argument("--max-targets", type=int, default=None, help="with --unknown-k: the most targets (default 4)")
    parser.add_argument("--false-alarm-rate", type=finite_float("--false-alarm-rate", 0.0, 1.0), default=None,
                        help="with --unknown-k: probability of a false target in a frame without one (default 1e-3)")


def add_scheduler_arguments(parser):
    """--scheduler auto|local|none|ADDR and --dask-workers N of the commands that run on Dask (localize, sweep,
    figures; core/sweep.py, docs/sweeps.md). Checked when the command runs (core.sweep.check_scheduler); nothing is
    imported here, so that `disac --help` stays fast."""
    import os

    parser.add_argument("--scheduler", default="auto", metavar="auto|local|none|ADDR",
                        help="where the work runs: local (a Dask cluster of worker processes on this machine), none "
                             "(this process), ADDR (an existing Dask scheduler, e.g. tcp://127.0.0.1:8786); auto (the "
                             "default): local when there is more than one task, else none")
    parser.add_argument("--dask-workers", type=int, default=None, metavar="N",
                        help=f"with a local cluster: worker processes (default min(4, CPU count) = "
                             f"{max(1, min(4, os.cpu_count() or 1))})")
