# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""The helpers of apps/cli.py that every subcommand uses to follow docs/cli.md.

* add_option(..., old_names=...): the old spelling sets the same value (typed, choices checked, a
  store_false flag sets False), says `disac: note: --old is deprecated, use --new` on stderr once per
  process, is hidden from --help, and a required option is satisfied by either spelling;
* add_scenario_argument: optional SCENARIO, default paper, the presets named in the help;
* progress_bar: drawn only on a terminal (never into a pipe or a captured stream) and not with
  enabled=False;
* quiet_gnuradio_info: GNU Radio's log to stderr at warn unless the user set otherwise, and the
  level lowered on a runtime that is loaded already.
"""

import argparse
import io
import os
import sys

import pytest

from gnuradio.disac.apps import cli, cli_options


@pytest.fixture
def fresh_notes(monkeypatch):
    monkeypatch.setattr(cli_options, "_deprecation_notes_given", set())


def _parser():
    parser = cli._Parser(prog="disac test")
    cli.add_option(parser, "--timeout-s", old_names=("--timeout",), type=float, default=0.5, help="time-out (s)")
    cli.add_option(parser, "--radio", old_names=("--kind",), choices=("synthetic", "usrp"), default="synthetic",
                   help="radio")
    cli.add_option(parser, "--no-clock", old_names=("--noclock",), action="store_false", dest="clock", help="no clock")
    cli.add_option(parser, "--sinr-db", old_names=("--sinr",), type=float, required=True, help="Γ_c (dB)")
    return parser


def test_old_spellings_set_the_same_values_and_say_so_once(fresh_notes, capsys):
    parser = _parser()
    args = parser.parse_args(["--sinr", "3", "--timeout", "2", "--kind", "usrp", "--noclock"])
    assert (args.sinr_db, args.timeout_s, args.radio, args.clock) == (3.0, 2.0, "usrp", False)
    err = capsys.readouterr().err.splitlines()
    assert sorted(err) == sorted(["disac: note: --sinr is deprecated, use --sinr-db",
                                  "disac: note: --timeout is deprecated, use --timeout-s",
                                  "disac: note: --kind is deprecated, use --radio",
                                  "disac: note: --noclock is deprecated, use --no-clock"])
    parser.parse_args(["--sinr", "3", "--timeout", "2"])  # the same process again: no second note
    assert capsys.readouterr().err == ""


def test_new_spellings_and_defaults_say_nothing(fresh_notes, capsys):
    args = _parser().parse_args(["--sinr-db", "3"])
    assert (args.sinr_db, args.timeout_s, args.radio, args.clock) == (3.0, 0.5, "synthetic", True)
    assert capsys.readouterr().err == ""


def test_old_spellings_are_checked_and_hidden(fresh_notes, capsys):
    parser = _parser()
    with pytest.raises(SystemExit) as info:
        parser.parse_args(["--sinr-db", "3", "--kind", "hackrf"])
    assert info.value.code == 2 and "invalid choice: 'hackrf'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parser.parse_args(["--sinr-db", "3", "--timeout", "soon"])
    assert "invalid float value: 'soon'" in capsys.readouterr().err
    text = parser.format_help()
    assert "--timeout-s" in text and "--timeout " not in text and "--kind" not in text and "--sinr " not in text


def test_a_required_option_is_satisfied_by_either_spelling(fresh_notes, capsys):
    parser = _parser()
    assert parser.parse_args(["--sinr", "1"]).sinr_db == 1.0
    with pytest.raises(SystemExit) as info:
        parser.parse_args([])
    assert info.value.code == 2 and "--sinr-db" in capsys.readouterr().err


def test_scenario_argument_is_optional_with_default_paper():
    parser = argparse.ArgumentParser()
    cli.add_scenario_argument(parser)
    assert parser.parse_args([]).scenario == "paper"
    assert parser.parse_args(["fig4"]).scenario == "fig4"
    assert "four-nodes" in parser.format_help() and "default paper" in parser.format_help()


def test_progress_bar_is_drawn_only_on_a_terminal(monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    for stream, enabled, drawn in ((io.StringIO(), True, False), (Terminal(), False, False), (Terminal(), True, True)):
        monkeypatch.setattr("sys.stderr", stream)
        with cli.progress_bar(3, "disac test", enabled=enabled) as bar:
            bar.update(3)
        assert ("disac test" in stream.getvalue()) == drawn, (type(stream).__name__, enabled, stream.getvalue())


def test_quiet_gnuradio_info_keeps_the_users_settings(monkeypatch):
    monkeypatch.setattr(cli, "_GR_LOG_SET_HERE", set())
    environment = {"GR_CONF_LOG_LOG_LEVEL": "debug"}  # the user asked for debug; no log file given
    monkeypatch.setattr(os, "environ", environment)
    monkeypatch.delitem(sys.modules, "gnuradio.gr", raising=False)  # as before GNU Radio's runtime loads
    cli.quiet_gnuradio_info()
    assert environment == {"GR_CONF_LOG_LOG_LEVEL": "debug", "GR_CONF_LOG_LOG_FILE": "stderr"}


def test_quiet_gnuradio_info_lowers_the_level_of_a_loaded_runtime(monkeypatch):
    from gnuradio import gr

    monkeypatch.setattr(cli, "_GR_LOG_SET_HERE", set())
    monkeypatch.setattr(os, "environ", {})
    before = gr.logging().default_level()
    try:
        gr.logging().set_default_level(gr.log_levels.debug)
        cli.quiet_gnuradio_info()
        assert gr.logging().default_level() == gr.log_levels.warn
    finally:
        gr.logging().set_default_level(before)
