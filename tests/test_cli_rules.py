# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every registered `disac` subcommand against the rules of docs/cli.md (issue 12 item 5).

The parser is built as `disac` builds it (cli.build_parser: every module of cli.COMMAND_MODULES) and
walked, so a new subcommand is checked without editing this file. What is checked, per subcommand:

* a one-line `help` (what `disac --help` lists) and a `description` (what `disac CMD --help` opens with);
* SCENARIO, where a subcommand takes one (SCENARIO_COMMANDS, and any other with a `scenario`
  positional): an optional positional, default "paper", metavar SCENARIO;
* units in option names: an option that takes a value and whose name says it is a time, a rate, a
  frequency, a gain, ... (UNIT_WORDS) ends with its unit (UNIT_SUFFIXES), e.g. --timeout-s; and the
  spellings used before issue 12 (OLD_SPELLINGS) still parse (a deprecated alias, docs/cli.md);
* one default objective and solver: every --objective lists OBJECTIVES and defaults to
  DEFAULT_OBJECTIVE, every --solver lists SOLVERS and defaults to DEFAULT_SOLVER (bf-request's None
  means "the server's current one" and says so);
* choices listed: an option whose values are a fixed set (ENUM_OPTIONS) has argparse choices, and the
  help of every option with choices names its default; no value is named "default" unless it is;
* --json on every subcommand that docs/cli.md lists as having it (JSON_COMMANDS), and its stdout is
  one JSON document for the ones quick enough to run here;
* node numbering from 1: `disac node --node 3` on the two-node paper scenario is refused with a message
  that counts from 1.

Some of these subcommands are other engineers' modules, changed by them in this same round of work
(issue 12); the checks say what must hold once every branch is merged.
"""

import argparse
import json
import os
import re
import subprocess
import sys

import pytest

from gnuradio.disac.apps import cli
from gnuradio.disac.core.design_options import DEFAULT_OBJECTIVE, DEFAULT_SOLVER, OBJECTIVES, SOLVERS

from test_cli import ROOT, RUN_MODULE

# subcommands that act on one scenario (docs/cli.md): each takes the optional SCENARIO
SCENARIO_COMMANDS = {"demo", "scenario show", "crb", "design", "loopback", "bf-server", "localize", "node", "cu"}
# subcommands with --json (docs/cli.md, "output"); `cu` always prints JSON lines, no flag needed
JSON_COMMANDS = {"demo", "scenario show", "scenario list", "crb", "design", "figures", "loopback", "localize",
                 "bench", "bf-server", "bf-request"}
# words of an option name that say its value has a unit, and the endings that give the unit
UNIT_WORDS = {"duration", "timeout", "interval", "idle", "rate", "freq", "frequency", "epoch", "gain", "delay",
              "period", "latency", "republish", "limit", "offset", "distance", "power"}
UNIT_SUFFIXES = ("-s", "-ms", "-us", "-hz", "-khz", "-mhz", "-ghz", "-db", "-dbm", "-m", "-samples", "-deg",
                 "-rad", "-w")
# options named with a unit word whose value has no unit: --false-alarm-rate is a probability (per frame), its
# name fixed by issue 15
UNITLESS_OPTIONS = {"--false-alarm-rate"}
# options whose values are a fixed set: they must list them (argparse choices)
ENUM_OPTIONS = {"--objective", "--solver", "--formulation", "--extraction", "--covariance", "--pattern", "--radio",
                "--search", "--frequency-grid", "--clock-source", "--time-source", "--security"}
# (subcommand, old spelling, a value): options renamed for their unit keep their old spelling (deprecated)
OLD_SPELLINGS = [("cu", "--timeout", "0.5"), ("cu", "--duration", "1"), ("cu", "--idle", "1"),
                 ("cu", "--status-interval", "1"), ("node", "--frame-rate", "10"), ("node", "--epoch", "0"),
                 ("node", "--center-freq", "2.4e9"), ("node", "--tx-gain", "0"), ("node", "--rx-gain", "0")]
# what those subcommands need besides the option under test (they are parsed, not run)
REQUIRED_ARGUMENTS = {"cu": ["paper", "--bind", "tcp://127.0.0.1:*"],
                      "node": ["paper", "--node", "1", "--connect", "tcp://127.0.0.1:9"]}


def _subcommands():
    """{"name" or "group name": (parser, help)} of every registered subcommand, nested ones included."""
    found = {}

    def walk(prefix, parser):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                helps = {choice.dest: choice.help for choice in action._choices_actions}
                for name, sub in action.choices.items():
                    full = f"{prefix} {name}".strip()
                    found[full] = (sub, helps.get(name))
                    walk(full, sub)

    walk("", cli.build_parser())
    return found


SUBCOMMANDS = _subcommands()
NAMES = sorted(SUBCOMMANDS)


def _options(parser):
    """The visible options (not --help, not hidden deprecated aliases) of a parser."""
    return [a for a in parser._actions if a.option_strings and a.help != argparse.SUPPRESS
            and not isinstance(a, argparse._HelpAction)]


def _takes_value(action):
    return action.nargs != 0


def test_every_command_module_is_registered():
    top = {name.split()[0] for name in NAMES}
    assert {"demo", "scenario", "crb", "design", "figures", "loopback", "keys", "bf-server", "bf-request",
            "localize", "node", "cu", "bench"} <= top
    assert (SCENARIO_COMMANDS | JSON_COMMANDS) <= set(NAMES)


def test_the_top_level_help_names_the_rules():
    parser = cli.build_parser()
    assert parser.description and "docs/cli.md" in (parser.epilog or "")


@pytest.mark.parametrize("name", NAMES)
def test_help_and_description(name):
    parser, help_text = SUBCOMMANDS[name]
    assert help_text and "\n" not in help_text.strip(), f"disac {name}: no one-line help for `disac --help`"
    assert parser.description and parser.description.strip(), f"disac {name}: no description for its --help"


@pytest.mark.parametrize("name", NAMES)
def test_scenario_is_optional_and_defaults_to_paper(name):
    parser, _ = SUBCOMMANDS[name]
    positional = [a for a in parser._actions if not a.option_strings and a.dest == "scenario"]
    if name not in SCENARIO_COMMANDS and not positional:
        return  # this subcommand takes no scenario (it is not in SCENARIO_COMMANDS)
    assert positional, f"disac {name}: takes a scenario (docs/cli.md) but has no SCENARIO argument"
    action = positional[0]
    assert action.nargs == "?" and action.default == cli.DEFAULT_SCENARIO == "paper", (
        f"disac {name}: SCENARIO must be optional with default paper (nargs={action.nargs!r}, default={action.default!r})")
    assert action.metavar == "SCENARIO"


@pytest.mark.parametrize("name", NAMES)
def test_option_names_carry_their_unit(name):
    parser, _ = SUBCOMMANDS[name]
    missing = []
    for action in _options(parser):
        if not _takes_value(action) or action.choices:  # a flag or a choice (--frequency-grid) has no unit
            continue
        for option in action.option_strings:
            words = set(option.lstrip("-").split("-"))
            if words & UNIT_WORDS and not option.endswith(UNIT_SUFFIXES) and option not in UNITLESS_OPTIONS:
                missing.append(option)
    assert not missing, f"disac {name}: options without their unit in the name: {missing} (e.g. --timeout-s)"


@pytest.mark.parametrize("name, old, value", OLD_SPELLINGS)
def test_old_spellings_still_parse(name, old, value):
    parser = cli.build_parser()
    args = parser.parse_args([name, *REQUIRED_ARGUMENTS[name], old, value])  # argparse exits 2 on an unknown option
    assert args.func is not None


@pytest.mark.parametrize("name", NAMES)
def test_objective_and_solver_have_one_default_and_list_their_choices(name):
    parser, _ = SUBCOMMANDS[name]
    for action in _options(parser):
        for option, accepted, default in (("--objective", OBJECTIVES, DEFAULT_OBJECTIVE),
                                          ("--solver", SOLVERS, DEFAULT_SOLVER)):
            if option not in action.option_strings:
                continue
            assert tuple(action.choices or ()) == tuple(accepted), f"disac {name} {option}: choices {action.choices}"
            if action.default is None:  # only where "the server's current one" is the default, and said so
                assert "server" in action.help, f"disac {name} {option}: default None without saying whose"
            else:
                assert action.default == default, f"disac {name} {option}: default {action.default!r}, not {default!r}"


@pytest.mark.parametrize("name", NAMES)
def test_fixed_sets_of_values_are_listed_with_their_default(name):
    parser, _ = SUBCOMMANDS[name]
    for action in _options(parser):
        if set(action.option_strings) & ENUM_OPTIONS:
            assert action.choices, f"disac {name} {action.option_strings[0]}: a fixed set of values without choices="
        if action.choices and action.default is not None and _takes_value(action):
            default = action.default if isinstance(action.default, str) else " ".join(map(str, action.default))
            assert "default" in action.help and default in action.help, (
                f"disac {name} {action.option_strings[0]}: the help does not say the default {action.default!r}")


@pytest.mark.parametrize("name", NAMES)
def test_no_value_is_named_default_unless_it_is_the_default(name):
    """Issue 12: `--precoders` listed a value named "default" that was not the default (random was)."""
    parser, _ = SUBCOMMANDS[name]
    for action in _options(parser):
        values = [v.strip() for v in re.split(r",|\bor\b", re.sub(r"\([^)]*\)", "", action.help or ""))]
        if "default" in values or "default" in (action.choices or ()):
            assert action.default == "default", (
                f"disac {name} {action.option_strings[0]}: a value named 'default' is not the default "
                f"({action.default!r}): {action.help!r}")


@pytest.mark.parametrize("name", sorted(JSON_COMMANDS))
def test_json_where_documented(name):
    parser, _ = SUBCOMMANDS[name]
    assert any("--json" in a.option_strings for a in _options(parser)), f"disac {name}: no --json"


QUICK_JSON_RUNS = [("scenario", "show", "--json"), ("scenario", "list", "--json"), ("crb", "--json"),
                   ("design", "--sinr-db", "10", "--json"), ("loopback", "--frames", "5", "--json")]


@pytest.mark.parametrize("argv", QUICK_JSON_RUNS, ids=[" ".join(a[:2]) for a in QUICK_JSON_RUNS])
def test_json_stdout_is_one_json_document_with_the_default_scenario(argv):
    """Each run also leaves SCENARIO out: the default (paper) must be taken."""
    env = dict(os.environ, PYTHONIOENCODING="utf-8", OPENBLAS_NUM_THREADS="1")
    result = subprocess.run([sys.executable, "-c", RUN_MODULE, *argv], capture_output=True, text=True,
                            encoding="utf-8", env=env, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    value = json.loads(result.stdout)
    if argv[:2] == ("scenario", "list"):
        assert "paper" in value
    else:
        assert value.get("scenario", value.get("name")) == "paper"
    assert "warning" not in result.stderr.lower(), result.stderr  # the paper preset has nothing to act on


def test_nodes_are_numbered_from_1():
    """--node-number counts from 1, like every table and message (`node 1`): node 3 of two is refused, saying
    1 … 2. (The old 0-based --node stays accepted with a deprecation note, so no script changes meaning.)"""
    env = dict(os.environ, PYTHONIOENCODING="utf-8", OPENBLAS_NUM_THREADS="1")
    result = subprocess.run([sys.executable, "-c", RUN_MODULE, "node", "paper", "--node-number", "3", "--connect",
                             "tcp://127.0.0.1:9", "--frames", "1"], capture_output=True, text=True,
                            encoding="utf-8", env=env, cwd=ROOT, timeout=120)
    assert result.returncode == 2 and result.stdout == "", result
    line = result.stderr.strip().splitlines()[-1]
    assert "--node-number" in line and "3" in line, line
    assert re.search(r"\b1\b\D+\b2\b", line) and not re.search(r"\b0\s*(…|\.\.\.|to|-)", line), line
