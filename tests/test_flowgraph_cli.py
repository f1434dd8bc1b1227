# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""The CLI rules (docs/cli.md) on the flowgraph subcommands — node, cu, demo, loopback, localize — and the
house rules of issue 12 for their modules:

* SCENARIO is optional (default paper), every subcommand has a description, the objective defaults to
  core.design_options.DEFAULT_OBJECTIVE;
* nodes are typed from 1 (--node-number N); the old 0-based --node K still means the same node and says
  once that it is deprecated; old option spellings (--timeout, --duration, --idle, --status-interval,
  --frame-rate) and the old precoder kind "default" keep working with a note;
* the app modules are thin: under ~250 lines, and none imports another app module but cli.py.
"""

import ast
import pathlib

import numpy as np
import pytest

from gnuradio.disac.apps import cli, cli_options
from gnuradio.disac.core import ofdm
from gnuradio.disac.core.design_options import DEFAULT_OBJECTIVE
from gnuradio.disac.core.scenario import load_scenario

APPS = pathlib.Path(cli.__file__).parent
FLOWGRAPH_COMMANDS = ("node", "cu", "demo", "loopback", "localize")
# every module of apps/ but the registry itself; cli_*.py are the registry's helper modules (cli.py
# re-exports them), which may import each other
MODULES = tuple(sorted(p.stem for p in APPS.glob("*.py") if p.stem not in ("__init__", "cli")))
ADDRESS = ["--connect", "tcp://127.0.0.1:5999"]


def subparsers():
    parser = cli.build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return action.choices


def parse(argv):
    return cli.build_parser().parse_args(argv)


@pytest.fixture(autouse=True)
def fresh_notes():
    cli_options._deprecation_notes_given.clear()  # each test sees its notes (they are once per process)
    yield


@pytest.mark.parametrize("command", FLOWGRAPH_COMMANDS)
def test_scenario_is_optional_and_every_subcommand_is_described(command):
    sub = subparsers()[command]
    assert sub.description and len(sub.description) > 40
    extra = {"node": ["--node-number", "1"] + ADDRESS, "cu": ["--bind", "tcp://127.0.0.1:*"],
             "localize": ["--snr-db", "10"]}.get(command, [])
    args = parse([command] + extra)
    assert args.scenario == "paper"
    assert args.objective == DEFAULT_OBJECTIVE


def test_node_number_counts_from_one_and_the_old_node_keeps_its_meaning(capsys):
    scenario = load_scenario("paper")
    assert cli.node_index_from_args(parse(["node", "--node-number", "2"] + ADDRESS), scenario) == 1
    assert capsys.readouterr().err == ""
    old = parse(["node", "--node", "1"] + ADDRESS)
    assert cli.node_index_from_args(old, scenario) == 1  # the same node as before: 0-based
    assert cli.node_index_from_args(old, scenario) == 1
    err = capsys.readouterr().err
    assert err.count("deprecated") == 1 and "--node-number 2" in err  # once, with the new spelling to use
    with pytest.raises(cli.UsageError, match=r"--node-number 3: accepted: 1 … 2"):
        cli.node_index_from_args(parse(["node", "--node-number", "3"] + ADDRESS), scenario)
    with pytest.raises(SystemExit):  # not both
        parse(["node", "--node", "0", "--node-number", "1"] + ADDRESS)


@pytest.mark.parametrize("old, new, dest, value", [
    (["cu", "--bind", "x", "--timeout", "5"], "--timeout-s", "timeout_s", 5.0),
    (["cu", "--bind", "x", "--duration", "7"], "--duration-s", "duration_s", 7.0),
    (["cu", "--bind", "x", "--idle", "2"], "--idle-s", "idle_s", 2.0),
    (["cu", "--bind", "x", "--status-interval", "0"], "--status-interval-s", "status_interval_s", 0.0),
    (["node", "--node-number", "1"] + ADDRESS + ["--frame-rate", "3"], "--frame-rate-hz", "frame_rate_hz", 3.0),
])
def test_old_spellings_work_with_a_note(old, new, dest, value, capsys):
    assert getattr(parse(old), dest) == value
    err = capsys.readouterr().err
    assert "deprecated" in err and new in err


def test_precoder_kind_default_is_the_placeholder_with_a_note(capsys):
    scenario = load_scenario("paper")
    wc, wr = cli.resolve_precoders(scenario, "default")
    assert "--precoders placeholder" in capsys.readouterr().err
    wc0, wr0 = ofdm.default_precoders(ofdm.layout_from_scenario(scenario), scenario.per_antenna_power)
    np.testing.assert_array_equal(wc, np.stack([wc0, wc0]))
    np.testing.assert_array_equal(wr, np.stack([wr0, wr0]))
    with pytest.raises(cli.UsageError, match="accepted: placeholder, random, designed"):
        cli.resolve_precoders(scenario, "nope")


@pytest.mark.parametrize("module", MODULES)
def test_app_modules_are_thin_and_import_no_other_app_module(module):
    path = APPS / f"{module}.py"
    source = path.read_text(encoding="utf-8")
    assert len(source.splitlines()) <= 250, f"{path.name}: {len(source.splitlines())} lines"
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level == 1:  # from .x import … (this package: apps)
            allowed = (node.module == "cli" or (module.startswith("cli_") and node.module.startswith("cli")))
            assert allowed, f"{path.name} imports apps.{node.module}"
