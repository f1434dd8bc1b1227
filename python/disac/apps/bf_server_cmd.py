# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""`disac bf-server`: the beamformer server as a process (`disac bf-request`, bf_request_cmd.py, asks it).

    disac bf-server SCENARIO --bind ADDR [--pub ADDR] [--sinr-db G] [--objective ...] [--solver ...]
                    [--republish-s S] [--time-limit-s T] [--queue-size N] [--cache-mib M]
                    [--inline-complexity-scale X] [--duration-s T] [--json]
                    [--curve-secret FILE --curve-allow FILE]
    disac bf-request ADDR [--sinr-db G] [--objective ...] [--solver ...] [--scenario NAME|FILE.toml]
                     [--csi FILE.npz] [--no-apply] [--max-sinr] [--timeout-s T] [--save FILE.npz] [--json]
                     [--curve-secret FILE --curve-server-key KEY|FILE]

bf-server runs the very block GRC shows (blocks.beamformer_server) in a flowgraph of its own and prints
one line per event (--json: one JSON object per line, the status message's fields); its first line says
which endpoints it bound. It runs until Ctrl-C / SIGTERM, or for --duration-s seconds.
bf-request is a plain pyzmq REQ client (no GNU Radio): it prints the reply (--json: the reply's JSON
object) and exits 0 when the reply carries a design, 1 when it does not (infeasible, failed, bad
request, no reply within --timeout-s), 2 for bad arguments. docs/beamformer-server.md has the protocol.
Both sockets of the server, and the request socket, are open unless --curve-secret is given (CURVE,
python/disac/net.py; the server lists its allowed clients with --curve-allow).
"""

import json
import math
import os
import signal
import threading
import time
import warnings

from ..core.design_options import DEFAULT_OBJECTIVE, DEFAULT_SOLVER, MAX_SINR_DB, MIN_SINR_DB, OBJECTIVES, SOLVERS
from ..core import bf_service
from ..core.bf_service import DEFAULT_QUEUE_SIZE, DEFAULT_TIME_LIMIT_S, DESIGNER_CACHE_BYTES, DESIGNER_CACHE_SIZE
from .cli import (UsageError, add_curve_arguments, add_option, add_scenario_argument, finite_float,
                  printing_callback, security_from_args, whole_number)


def register(subparsers):
    server = subparsers.add_parser(
        "bf-server", help="run the beamformer server: answer precoder requests, publish precoder sets to the nodes",
        description="Serve SDR precoder designs (paper problem 18) to ZeroMQ REQ clients and publish each new "
                    "set with its version on PUB; solves run one at a time behind a bounded queue, within a time "
                    "limit, and inline scenarios within a complexity limit (docs/beamformer-server.md).")
    add_scenario_argument(server, "the deployed system")
    server.add_argument("--bind", required=True, metavar="ADDR",
                        help="endpoint for requests (REQ clients), e.g. tcp://*:5560 (tcp://127.0.0.1:0: a free port)")
    server.add_argument("--pub", default="", metavar="ADDR", help="PUB endpoint for the nodes, e.g. tcp://*:5561")
    server.add_argument("--sinr-db", type=finite_float("--sinr-db", MIN_SINR_DB, MAX_SINR_DB), default=10.0,
                        help=f"SINR threshold Γ_c in dB of the first design (default 10; {MIN_SINR_DB:g} to {MAX_SINR_DB:g})")
    server.add_argument("--objective", choices=OBJECTIVES, default=DEFAULT_OBJECTIVE, help=f"default {DEFAULT_OBJECTIVE}")
    server.add_argument("--solver", choices=SOLVERS, default=DEFAULT_SOLVER, help=f"default {DEFAULT_SOLVER}")
    server.add_argument("--republish-s", type=finite_float("--republish-s", 0.0, 3600.0), default=1.0,
                        help="re-send the set in force on PUB every S seconds for late nodes (default 1; 0: never)")
    add_option(server, "--time-limit-s", type=finite_float("--time-limit-s", 0.0, 1e6), default=DEFAULT_TIME_LIMIT_S,
               help="a solve (its problem's build and compilation included) longer than this stops and is "
               f"reported as failed, the set in force stays (default {DEFAULT_TIME_LIMIT_S:g}; 0: no limit)")
    add_option(server, "--queue-size", type=whole_number("--queue-size", 0, 1000), default=DEFAULT_QUEUE_SIZE,
               metavar="N", help="requests that may wait while one is solved; more are answered 'busy' "
               f"(default {DEFAULT_QUEUE_SIZE})")
    add_option(server, "--cache-mib", type=finite_float("--cache-mib", 0.0, 1e6), default=DESIGNER_CACHE_BYTES / 2**20,
               metavar="MIB", help="memory for compiled designers, by their estimated size "
               f"(default {DESIGNER_CACHE_BYTES / 2**20:g}; at most {DESIGNER_CACHE_SIZE} are kept)")
    add_option(server, "--inline-complexity-scale", type=finite_float("--inline-complexity-scale", 1e-6, 1e6),
               default=1.0, metavar="X", help="multiply the complexity limits of inline (what-if) scenarios by X "
               "(default 1; docs/beamformer-server.md, 'Limits')")
    add_curve_arguments(server)
    server.add_argument("--duration-s", type=finite_float("--duration-s", 0.0, 1e9), default=0.0,
                        help="stop after this many seconds (default 0: run until interrupted)")
    server.add_argument("--json", action="store_true", help="one JSON object per line")
    server.set_defaults(func=run_server)



# ---- bf-server ---------------------------------------------------------------------------------

def _status_printer(as_json):
    """A message sink printing each status message of the server (one line each)."""
    import pmt

    from ..blocks.callback_sink import callback_sink

    def show(msg):
        fields = pmt.to_python(msg)
        print(json.dumps(fields) if as_json else bf_service.describe(fields), flush=True)

    return callback_sink("disac_bf_status_printer", "status", printing_callback(show))


def run_server(args):
    if args.json:
        # stdout carries JSON lines only: GNU Radio's log (stdout in Debian's default configuration) goes to
        # stderr (read when GNU Radio's runtime loads, i.e. unless the calling process has loaded it already)
        os.environ.setdefault("GR_CONF_LOG_LOG_FILE", "stderr")
    from gnuradio import gr

    from ..blocks.beamformer_server import beamformer_server

    # the status says "optimal_inaccurate" when it applies: cvxpy's warning would repeat it on stderr
    warnings.filterwarnings("ignore", message="Solution may be inaccurate")
    from ..core.scenario import load_scenario

    scenario = load_scenario(args.scenario)
    security, _ = security_from_args(args)
    try:
        server = beamformer_server(scenario, args.sinr_db, args.objective, args.solver, args.bind, args.pub,
                                   args.republish_s, True, args.time_limit_s, security.mode, security.secret_key_file,
                                   security.server_public_key, security.allowed_keys_file,
                                   queue_size=args.queue_size, cache_mib=args.cache_mib,
                                   inline_complexity_scale=args.inline_complexity_scale)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    tb = gr.top_block("disac_bf_server")
    printer = _status_printer(args.json)
    tb.msg_connect((server, "status"), (printer, "status"))
    endpoints = {"event": "listening", "bind": server.bound_endpoint(), "pub": server.pub_endpoint() or None,
                 "scenario": scenario.name, "security": security.mode}
    if args.json:
        print(json.dumps(endpoints), flush=True)
    else:
        print(f"disac bf-server: scenario {scenario.name}, requests on {endpoints['bind']}"
              + (f", precoder sets published on {endpoints['pub']}" if endpoints["pub"] else ", no PUB socket")
              + f" ({security.mode})", flush=True)

    done = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: done.set())
    tb.start()
    try:
        deadline = time.monotonic() + args.duration_s if args.duration_s else math.inf
        while not done.is_set() and time.monotonic() < deadline:
            done.wait(min(0.2, max(0.0, deadline - time.monotonic())))
    except KeyboardInterrupt:
        pass
    finally:
        tb.stop()
        tb.wait()
        signal.signal(signal.SIGTERM, previous)
    return 0
