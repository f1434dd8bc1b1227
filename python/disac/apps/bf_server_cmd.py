"""`disac bf-server` (the beamformer server as a process) and `disac bf-request` (ask it from a shell).

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
import sys
import threading
import time
import warnings

import numpy as np

from ..core.design_options import DEFAULT_SOLVER, MAX_SINR_DB, MIN_SINR_DB, OBJECTIVES, SOLVERS
from ..core.bf_service import (DEFAULT_QUEUE_SIZE, DEFAULT_TIME_LIMIT_S, DESIGNER_CACHE_BYTES,
                                      DESIGNER_CACHE_SIZE)
from ..core.scenario import PRESETS
from .cli import UsageError, add_option, finite_float, print_json
from .node_cmd import add_curve_arguments, security_from_args


def register(subparsers):
    server = subparsers.add_parser(
        "bf-server", help="run the beamformer server: answer precoder requests, publish precoder sets to the nodes",
        description="Serve SDR precoder designs (paper problem 18) to ZeroMQ REQ clients and publish each new "
                    "set with its version on PUB; solves run one at a time behind a bounded queue, within a time "
                    "limit, and inline scenarios within a complexity limit (docs/beamformer-server.md).")
    server.add_argument("scenario", help=f"the deployed system: a preset ({', '.join(PRESETS)}) or a TOML file")
    server.add_argument("--bind", required=True, metavar="ADDR",
                        help="endpoint for requests (REQ clients), e.g. tcp://*:5560 (tcp://127.0.0.1:0: a free port)")
    server.add_argument("--pub", default="", metavar="ADDR", help="PUB endpoint for the nodes, e.g. tcp://*:5561")
    server.add_argument("--sinr-db", type=finite_float("--sinr-db", MIN_SINR_DB, MAX_SINR_DB), default=10.0,
                        help=f"SINR threshold Γ_c in dB of the first design (default 10; {MIN_SINR_DB:g} to {MAX_SINR_DB:g})")
    server.add_argument("--objective", choices=OBJECTIVES, default="position", help="default position")
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

    request = subparsers.add_parser(
        "bf-request", help="ask a running beamformer server for a design (or change its SINR threshold)",
        description="Send one request to `disac bf-server` and print the reply. Without --scenario and "
                    "--no-apply, a design found is put in force at the nodes under a new version.")
    request.add_argument("address", help="the server's REP endpoint, e.g. tcp://127.0.0.1:5560")
    request.add_argument("--sinr-db", type=finite_float("--sinr-db", MIN_SINR_DB, MAX_SINR_DB),
                         help="SINR threshold Γ_c in dB (default: the server's current one)")
    request.add_argument("--objective", choices=OBJECTIVES, help="default: the server's current one")
    request.add_argument("--solver", choices=SOLVERS, help="default: the server's current one")
    request.add_argument("--scenario", metavar="NAME|FILE.toml",
                         help="a what-if design for another scenario (a preset, or a TOML file sent inline)")
    request.add_argument("--csi", metavar="FILE.npz", help="channels h (N, U, Mt) complex, array 'h' in a .npz file")
    request.add_argument("--no-apply", action="store_true", help="a what-if: do not put the design in force")
    request.add_argument("--max-sinr", action="store_true", help="also ask for the largest common SINR")
    request.add_argument("--timeout-s", type=finite_float("--timeout-s", 0.1, 3600.0), default=30.0,
                         help="wait this long for the reply (default 30)")
    request.add_argument("--save", metavar="FILE.npz", help="write the precoders Wc (N, Mt, U), Wr (N, Mt, Mt), version")
    request.add_argument("--json", action="store_true", help="print the reply's JSON object")
    add_curve_arguments(request)
    request.set_defaults(func=run_request)


# ---- bf-server ---------------------------------------------------------------------------------

def whole_number(name, low, high):
    """An argparse type: a whole number within [low, high], else a message naming the value."""
    import argparse

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{name} = {text!r}: expected a whole number from {low} to {high}")
        return value
    return parse


def _status_printer(as_json):
    """A message sink printing each status message of the server (one line each)."""
    import pmt

    from .message_sink import callback_sink

    def show(msg):
        fields = pmt.to_python(msg)
        print(json.dumps(fields) if as_json else describe(fields), flush=True)

    return callback_sink("disac_bf_status_printer", "status", show)


def describe(fields):
    """One line about a reply or status (what bf-server and bf-request print)."""
    status, version = fields.get("status"), fields.get("version")
    largest = fields.get("max_common_sinr_db")
    extra = f"; largest common SINR {largest:.2f} dB" if isinstance(largest, (int, float)) else ""
    return _describe(fields, status, version) + extra


def _describe(fields, status, version):
    if status in ("optimal", "optimal_inaccurate"):
        sinr = fields.get("sinr_extracted_db") or []
        where = f"version {version} in force" if fields.get("applied") else "what-if (not applied)"
        return (f"{status}: {where}; scenario {fields.get('scenario')}, Γ_c = {fields.get('sinr_threshold_db'):g} dB, "
                f"{fields.get('objective')}/{fields.get('solver')}; position CRB bound "
                f"{fields.get('crb_position_bound_m2'):.6g} m², extracted {fields.get('crb_position_extracted_m2'):.6g} m²; "
                f"user SINR {', '.join(f'{v:.2f}' for v in sinr)} dB; {fields.get('solve_time_s') or 0:.3f} s"
                + (f"; {fields['message']}" if str(fields.get("message", "")).startswith("unchanged") else ""))
    return f"{status}: {fields.get('message')} (version in force: {version})"


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


# ---- bf-request --------------------------------------------------------------------------------

def build_request(args):
    """The request object of the command-line arguments (files read here, on the client)."""
    request = {}
    if args.sinr_db is not None:
        request["sinr_db"] = args.sinr_db
    if args.objective:
        request["objective"] = args.objective
    if args.solver:
        request["solver"] = args.solver
    if args.scenario:
        if args.scenario in PRESETS:
            request["scenario"] = args.scenario
        else:
            try:
                with open(args.scenario, encoding="utf-8") as handle:
                    request["scenario"] = handle.read()
            except (OSError, UnicodeDecodeError) as exc:
                raise UsageError(f"--scenario {args.scenario!r}: not a preset ({', '.join(PRESETS)}) and "
                                 f"not a readable TOML file ({exc})") from None
    if args.csi:
        try:
            with np.load(args.csi) as data:
                h = np.asarray(data["h"])
        except (OSError, KeyError, ValueError) as exc:
            raise UsageError(f"--csi {args.csi!r}: expected a .npz file with a complex array 'h' of shape "
                             f"(N, U, Mt) ({exc})") from None
        if h.ndim != 3 or h.dtype.kind not in "biufc":
            raise UsageError(f"--csi {args.csi!r}: array 'h' of shape {h.shape} and dtype {h.dtype}: "
                             "expected a numeric array of shape (N, U, Mt)")
        request["csi"] = {"real": h.real.tolist(), "imag": np.imag(h).tolist()}
    if args.no_apply:
        request["apply"] = False
    if args.max_sinr:
        request["max_sinr"] = True
    return request


def run_request(args):
    import zmq

    from .. import net
    from ..core.bf_service import MAX_REQUEST_BYTES, GOOD_STATUSES, reply_from_frames

    security, _ = security_from_args(args)
    payload = json.dumps(build_request(args)).encode("utf-8")
    if len(payload) > MAX_REQUEST_BYTES:
        raise UsageError(f"request of {len(payload)} bytes: the server accepts at most {MAX_REQUEST_BYTES}")
    try:
        net.check_address(args.address, False)
    except net.LinkError as exc:
        raise UsageError(f"{exc}; bf-request expected a ZeroMQ endpoint of a running `disac bf-server`") from None
    try:
        sock, _ = net.make_socket(zmq.Context.instance(), zmq.REQ, args.address, False, security, name="address")
    except net.LinkError as exc:  # a bad key or key file
        raise UsageError(str(exc)) from None
    no_reply = (f"disac: error: no reply from {args.address} within {args.timeout_s:g} s (server down, busy, "
                "or refusing this client's key)")
    deadline = time.monotonic() + args.timeout_s
    try:
        # a REQ socket with no completed connection (server down, or a CURVE handshake it refused) blocks a
        # plain send for ever: wait for it to be writable within the time-out instead
        if not sock.poll(int(args.timeout_s * 1000), zmq.POLLOUT):
            print(no_reply, file=sys.stderr)
            return 1
        sock.send(payload, zmq.NOBLOCK)
        if not sock.poll(max(0, int((deadline - time.monotonic()) * 1000)), zmq.POLLIN):
            print(no_reply, file=sys.stderr)
            return 1
        frames = sock.recv_multipart()
    except zmq.Again:
        print(no_reply, file=sys.stderr)
        return 1
    finally:
        net.close(sock)
    try:
        fields, precoders = reply_from_frames(frames)
    except ValueError as exc:
        print(f"disac: error: malformed reply from {args.address}: {exc}", file=sys.stderr)
        return 1
    if args.save and precoders is not None:
        np.savez(args.save, Wc=precoders.comm_precoders, Wr=precoders.radar_precoders, version=precoders.version)
    if args.json:
        print_json(fields)
    else:
        print(describe(fields))
        if args.save and precoders is not None:
            print(f"  precoders written to {os.path.abspath(args.save)}")
    return 0 if fields.get("status") in GOOD_STATUSES else 1
