# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""`disac cu-worker --connect ADDR`: one localisation worker of a central unit, on this host or another.

Connects to the task address a `disac cu --worker-bind ADDR` (or `--workers N`) binds: tasks arrive on a ZeroMQ
PULL from ADDR, results leave on a PUSH to the result address (tcp://HOST:P → tcp://HOST:(P+1), ipc://PATH →
ipc://PATH.results). Every task carries the prepared frame and the localiser's configuration
(core.localise_tasks), so the worker needs no scenario, seed or file of its own. Security: as every link
(--curve-secret with --curve-server-key, the unit's public key). It runs until Ctrl-C / SIGTERM (or, with
--parent-pid, until that process is gone) and prints one JSON status line on stdout at the end.
"""

import json
import signal
import sys
import threading

from .cli import UsageError, add_curve_arguments, security_from_args, whole_number


def register(subparsers):
    parser = subparsers.add_parser(
        "cu-worker", help="run one localisation worker of a central unit (disac cu --workers / --worker-bind)",
        description="One localisation worker: tasks from a central unit's worker address, results back to it.")
    parser.add_argument("--connect", metavar="ADDR", required=True,
                        help="the central unit's worker (task) address, tcp://host:port or ipc://path; results go "
                             "to port + 1 (ipc: path.results)")
    parser.add_argument("--parent-pid", type=whole_number("--parent-pid", 1, 1 << 31), default=None,
                        help=argparse_hidden())
    add_curve_arguments(parser)
    parser.set_defaults(func=run_command)


def argparse_hidden():
    import argparse

    return argparse.SUPPRESS


def run_command(args):
    from .. import net
    from ..blocks import _localise_pool

    security, _ = security_from_args(args)
    try:
        net.check_address(args.connect, False, "--connect")
        _localise_pool.results_address(args.connect)
    except net.LinkError as exc:
        raise UsageError(str(exc)) from None
    stop = threading.Event()

    def _stop(signum, frame):  # noqa: ARG001
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    if args.parent_pid is None or security.mode == "curve" or not _localise_pool.is_private_ipc(args.connect):
        # (a unit's local worker, --workers N, in its private directory: the unit has said it once for all)
        print(f"disac cu-worker: tasks from {args.connect} ({security.mode})", file=sys.stderr, flush=True)
    try:
        counters = _localise_pool.serve(args.connect, security, stop, args.parent_pid)
    except net.LinkError as exc:
        raise UsageError(str(exc)) from None
    print(json.dumps({"type": "status", "final": True, **counters}), flush=True)
    return 0
