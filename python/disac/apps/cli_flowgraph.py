# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared options and set-up of the flowgraph subcommands (node, cu, demo, loopback, localize), re-exported
by cli.py (the subcommands import them from there). The rules are docs/cli.md's.

This module does not import cli.py at load time (cli.py imports it): the few names it needs from there
(UsageError, finite_float, deprecation_note) are imported where they are used.
"""

import argparse
import sys


def load_checked_scenario(name):
    """load_scenario(name), and UsageError if its OFDM frame cannot be built."""
    from .cli import UsageError

    from ..core import ofdm
    from ..core.scenario import load_scenario

    scenario = load_scenario(name)
    try:
        ofdm.layout_from_scenario(scenario)
    except ofdm.FrameError as exc:
        raise UsageError(f"scenario {scenario.name!r}: {exc}") from None
    return scenario


def add_link_arguments(parser, what):
    """--connect ADDR | --bind ADDR (one of them required)."""
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--connect", metavar="ADDR", help=f"connect to {what} (tcp://host:port, ipc://path)")
    group.add_argument("--bind", metavar="ADDR", help=f"bind {what} here (tcp://*:port, ipc://path)")


def add_curve_arguments(parser, precoders_link=False):
    """--curve-secret, --curve-server-key, --curve-allow (and --precoders-server-key): net.LinkSecurity."""
    group = parser.add_argument_group("security (ZeroMQ CURVE, keys from `disac keys`; default: open links)")
    group.add_argument("--curve-secret", metavar="FILE", default="",
                       help="this peer's secret key file (NAME.key_secret): turns CURVE on for every socket")
    group.add_argument("--curve-server-key", metavar="KEY|FILE", default="",
                       help="the public key (40 Z85 characters or a .key file) of the server a socket connects to")
    group.add_argument("--curve-allow", metavar="FILE", default="",
                       help="allowed client public keys, one per line, for the sockets this process binds")
    if precoders_link:
        group.add_argument("--precoders-server-key", metavar="KEY|FILE", default="",
                           help="the beamformer server's public key for --precoders-from (default --curve-server-key)")


def security_from_args(args):
    """(security of the main links, security of the --precoders-from link) from add_curve_arguments'
    options; UsageError for an option given without --curve-secret."""
    from .cli import UsageError

    from .. import net

    given = [f"--{name.replace('_', '-')}" for name in ("curve_server_key", "curve_allow", "precoders_server_key")
             if getattr(args, name, "")]
    if not args.curve_secret:
        if given:
            raise UsageError(f"{', '.join(given)}: CURVE needs --curve-secret FILE (this peer's secret key file)")
        return net.LinkSecurity.open(), net.LinkSecurity.open()
    security = net.LinkSecurity.curve(args.curve_secret, args.curve_server_key, args.curve_allow)
    precoders_key = getattr(args, "precoders_server_key", "") or args.curve_server_key
    return security, security.with_server_key(precoders_key)


def security_parameters(security):
    """A net.LinkSecurity (or None: open) as the blocks' four parameters (security, secret_key_file,
    server_public_key, allowed_keys_file)."""
    if security is None:
        return ("open", "", "", "")
    return (security.mode, security.secret_key_file, security.server_public_key, security.allowed_keys_file)


def link_parameters(security):
    """security_parameters as the keyword arguments of a block or hier block."""
    return dict(zip(("security", "secret_key_file", "server_public_key", "allowed_keys_file"),
                    security_parameters(security)))


PRECODER_HELP = ("placeholder (half radar, half users: isac_tx's own), random, designed (core.beamformer at "
                 "--sinr-db), or a file holding a wire PRECODERS message")


def add_precoder_arguments(parser, default="random"):
    """--precoders KIND|FILE (old kind name "default" accepted), --sinr-db, --objective."""
    from .cli import finite_float

    from ..core.design_options import DEFAULT_OBJECTIVE, OBJECTIVES

    parser.add_argument("--precoders", default=default, metavar="KIND|FILE",
                        help=f"{PRECODER_HELP} (default {default})")
    parser.add_argument("--sinr-db", type=finite_float("--sinr-db", -50.0, 60.0), default=10.0,
                        help="with --precoders designed: the SINR threshold Γ_c (dB, default 10)")
    parser.add_argument("--objective", choices=OBJECTIVES, default=DEFAULT_OBJECTIVE,
                        help=f"with --precoders designed: the design objective (default {DEFAULT_OBJECTIVE})")


def add_chain_arguments(parser, frames_default=100):
    """Options every process of one system must share: seeds, precoders, frames."""
    parser.add_argument("--seed", type=int, default=0, help="data seed (default 0)")
    parser.add_argument("--channel-seed", type=int, default=None, help="channel seed (default: seed + 1)")
    add_precoder_arguments(parser)
    parser.add_argument("--frames", type=int, default=frames_default,
                        help=f"frames to run, 0 for no end (default {frames_default})")


def resolve_precoders(scenario, kind, sinr_db=10.0, seed=0, objective=None):
    """(W_c (N, Mt, U), W_r (N, Mt, Mt)) for --precoders KIND|FILE (core.precoder_sets); UsageError naming
    a bad value; the old kind name "default" works with a deprecation note."""
    from .cli import UsageError, deprecation_note

    from ..core import precoder_sets
    from ..core.design_options import DEFAULT_OBJECTIVE

    if kind in precoder_sets.OLD_KIND_NAMES:
        deprecation_note(f"--precoders {kind}", f"--precoders {precoder_sets.OLD_KIND_NAMES[kind]}")
    try:
        return precoder_sets.resolve_precoders(scenario, kind, sinr_db, seed, objective or DEFAULT_OBJECTIVE)
    except precoder_sets.PrecoderSetError as exc:
        raise UsageError(str(exc)) from None


def add_node_number_argument(parser, required=True):
    """--node-number N (1 … N, as printed everywhere) and the old --node K (0-based, deprecated)."""
    group = parser.add_mutually_exclusive_group(required=required)
    group.add_argument("--node-number", type=int, metavar="N", help="this node, 1 … N (the scenario's node order)")
    group.add_argument("--node", type=int, metavar="K", help=argparse.SUPPRESS)  # 0-based, before --node-number


def node_index_from_args(args, scenario):
    """The 0-based node index of --node-number N (or the deprecated 0-based --node K); UsageError outside."""
    from .cli import UsageError, deprecation_note

    count = scenario.num_nodes
    if getattr(args, "node", None) is not None:
        deprecation_note("--node K (counted from 0)", f"--node-number {args.node + 1} (counted from 1)")
        if not 0 <= args.node < count:
            raise UsageError(f"--node {args.node}: accepted: 0 … {count - 1} (scenario {scenario.name!r}; "
                             f"or --node-number 1 … {count})")
        return args.node
    if not 1 <= args.node_number <= count:
        raise UsageError(f"--node-number {args.node_number}: accepted: 1 … {count} (scenario {scenario.name!r})")
    return args.node_number - 1


class Progress:
    """progress_bar as a callback of a running total (hier.system's on_progress); close() at the end."""

    def __init__(self, total, desc, args=None, unit="frame"):
        from .cli import progress_bar  # at call time: cli imports this module

        shown = bool(total) and sys.stderr.isatty() and not (
            args is not None and (getattr(args, "no_progress", False) or getattr(args, "json", False)))
        self.bar, self.shown = (progress_bar(total, desc, unit) if shown else None), 0

    def __call__(self, done):
        if self.bar is not None and done > self.shown:
            self.bar.update(done - self.shown)
            self.shown = done

    @property
    def callback(self):
        """self, or None without a bar (so that nothing polls for it)."""
        return self if self.bar is not None else None

    def close(self):
        if self.bar is not None:
            self.bar.close()


def print_scenario_warnings(scenario):
    for warning in scenario.warnings:
        print(f"disac: warning: {warning}", file=sys.stderr)



IMPAIRMENTS_HELP = ("the synthetic air's [impairments]: a preset (ideal, lab, lab-sync) or a TOML file holding an "
                    "[impairments] table (default: the scenario's own table, ideal without one)")
CALIBRATION_HELP = ("the receivers' calibration: a `disac calibrate` file, or auto (estimate it first from a "
                    "short calibration capture of this air, as `disac calibrate` does); default none")


def add_impairment_arguments(parser):
    """--impairments PRESET|FILE and --calibration FILE|auto (loopback, localize)."""
    parser.add_argument("--impairments", metavar="PRESET|FILE", default=None, help=IMPAIRMENTS_HELP)
    parser.add_argument("--calibration", metavar="FILE|auto", default="", help=CALIBRATION_HELP)


def impaired_scenario(scenario, args):
    """The air's scenario: ``scenario`` with --impairments applied (UsageError naming a bad value). The
    receive side is given scenario.without_impairments() (docs/air-model.md §0)."""
    from .cli import UsageError

    from ..core import impairments
    from ..core.scenario import ScenarioError

    if getattr(args, "impairments", None) in (None, ""):
        return scenario
    try:
        return scenario.with_impairments(impairments.load_impairments_table(args.impairments)).with_user_pilots()
    except (ScenarioError, ValueError) as exc:
        raise UsageError(f"--impairments {args.impairments}: {exc}") from None


def resolve_calibration(air_scenario, args, seed, channel_seed):
    """The Calibration of --calibration FILE|auto (None without): a file is loaded and checked against the
    scenario; auto runs engineer cal's estimator (core.calibration_estimator) on a short calibration capture
    of this air (core.impairment_trials.estimate_calibration). UsageError naming a bad value."""
    from .cli import UsageError

    from ..core import calibration_apply

    value = getattr(args, "calibration", "") or ""
    if value == "":
        return None
    try:
        if value == "auto":
            from ..core import impairment_trials

            return impairment_trials.estimate_calibration(air_scenario, seed, channel_seed).calibration
        return calibration_apply.as_calibration(value, air_scenario.without_impairments())
    except (OSError, ValueError) as exc:
        raise UsageError(f"--calibration {value}: {exc}") from None


def calibration_report(calibration, status=None):
    """The apps' JSON ``calibration`` object: method, residuals, jumps and state (the central unit's status
    when there is one), frames_used."""
    from ..core import calibration_apply

    status = status or {}
    return calibration_apply.calibration_summary(calibration, status.get("calibration_jumps", 0),
                                                 status.get("calibration"))
