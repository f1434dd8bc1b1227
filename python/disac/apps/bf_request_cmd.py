# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""`disac bf-request`: ask a running `disac bf-server` from a shell.

    disac bf-request ADDR [--sinr-db G] [--objective ...] [--solver ...] [--scenario NAME|FILE.toml]
                     [--csi FILE.npz] [--no-apply] [--max-sinr] [--timeout-s T] [--save FILE.npz] [--json]
                     [--curve-secret FILE --curve-server-key KEY|FILE]

A plain pyzmq REQ client (no GNU Radio): it prints the reply (--json: the reply's JSON object) and exits
0 when the reply carries a design, 1 when it does not (infeasible, failed, bad request, busy, no reply
within --timeout-s), 2 for bad arguments. docs/beamformer-server.md has the protocol.
"""

import json
import os
import sys
import time

import numpy as np

from ..core import bf_service
from ..core.design_options import MAX_SINR_DB, MIN_SINR_DB, OBJECTIVES, SOLVERS
from ..core.scenario import PRESETS
from .cli import UsageError, add_curve_arguments, finite_float, print_json, security_from_args


def register(subparsers):
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
        print(bf_service.describe(fields))
        if args.save and precoders is not None:
            print(f"  precoders written to {os.path.abspath(args.save)}")
    return 0 if fields.get("status") in GOOD_STATUSES else 1
