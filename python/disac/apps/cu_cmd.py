# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""`disac cu [SCENARIO] --bind ADDR …`: the central unit as its own process.

Receives core.wire snapshots from `disac node` processes on a ZeroMQ PULL (or SUB) socket, aligns them
by frame number, localises every frame (hier.central_node: blocks.central_unit and its links) and prints one JSON object per line on
stdout:

    {"type": "estimate", "frame": …, "positions_m": [[x, y], …], "crb_m2": [...], "residual": …,
     "nodes": [...], "partial": bool, "precoder_version": …, "full_search": bool}
    {"type": "status", …counters of blocks.central_unit…}      every --status-interval s and at the end

It stops by itself once frame --frames − 1 has been released (0: no end) — a release by the frame window's
rules (core.fusion): a quorum of nodes, or the timeout while no other node is alive, so one forged snapshot
cannot end the run — or after --duration-s seconds, or --idle-s seconds after the last snapshot.
Estimates also go out as core.wire ESTIMATE messages on a
PUB socket with --estimates ADDR. The seeds and --precoders must be those of the nodes.

With --precoders-from ADDR the central unit subscribes to a beamformer server's PUB socket (the same
blocks.precoder_sub the nodes run, wired to the central unit's ``precoders`` input), so it knows every
precoder version the server puts in force at the nodes. Security: as `disac node` (--curve-secret,
--curve-allow for the sockets it binds, --curve-server-key / --precoders-server-key for those it
connects); without them every link is open and says so on stderr at start-up.
"""

import json
import sys
import threading
import time

import numpy as np

from ..hier.central_node import central_node
from .cli import (Progress, UsageError, add_chain_arguments, add_curve_arguments, add_link_arguments, add_option,
                  add_progress_option, add_scenario_argument, finite_float, link_parameters, load_checked_scenario,
                  printing_callback, quiet_gnuradio_info, resolve_precoders, security_from_args, whole_number)


def register(subparsers):
    parser = subparsers.add_parser(
        "cu", help="run the central unit: fuse the nodes' snapshots, localise, print estimates as JSON lines",
        description="The central unit as its own process: snapshots from `disac node` processes over ZeroMQ, "
                    "aligned by frame, localised; one JSON object per line on stdout.")
    add_scenario_argument(parser)
    add_link_arguments(parser, "the snapshot socket")
    parser.add_argument("--pattern", choices=("pull", "sub"), default="pull", help="ZeroMQ pattern (default pull)")
    parser.add_argument("--estimates", metavar="ADDR", default="", help="also publish estimates (wire) on a PUB bound here")
    parser.add_argument("--precoders-from", metavar="ADDR", default="",
                        help="learn new precoder versions from a beamformer server's PUB socket (tcp://host:5561)")
    add_curve_arguments(parser, precoders_link=True)
    add_chain_arguments(parser)
    add_option(parser, "--timeout-s", old_names=("--timeout",), type=finite_float("--timeout-s", 0.001, 3600.0),
               default=0.5, help="seconds a frame waits for missing nodes (default 0.5)")
    parser.add_argument("--queue", type=int, default=4, help="frames queued for the localiser before skipping (default 4)")
    parser.add_argument("--search", choices=("full", "track"), default="full", help="localiser search (default full)")
    add_option(parser, "--duration-s", old_names=("--duration",), type=finite_float("--duration-s", 0.0),
               default=0.0, help="stop after this many seconds (0: no limit, the default)")
    add_option(parser, "--idle-s", old_names=("--idle",), type=finite_float("--idle-s", 0.0), default=0.0,
               help="stop this many seconds after the last snapshot (0: never, the default)")
    add_option(parser, "--status-interval-s", old_names=("--status-interval",),
               type=finite_float("--status-interval-s", 0.0), default=1.0,
               help="seconds between status lines (0: only at the end; default 1)")
    parser.add_argument("--state", metavar="FILE", default="",
                        help="keep the frame accounting in FILE; a restarted unit carries on from it and counts "
                             "the frames no unit finished as lost (docs/reliability.md)")
    parser.add_argument("--frame-window", type=whole_number("--frame-window", 1, 1 << 40), default=4096,
                        help="frames a node may be ahead of the quorum before its snapshots are implausible "
                             "(default 4096)")
    parser.add_argument("--max-targets", type=whole_number("--max-targets", 0, 16), default=0,
                        help="detect how many targets there are, up to N (0, the default: the scenario's K, told)")
    parser.add_argument("--false-alarm-rate", type=finite_float("--false-alarm-rate", 0.0, 1.0), default=1e-3,
                        help="with --max-targets: probability of a false target in a frame without one (default 1e-3)")
    parser.add_argument("--track", action="store_true",
                        help="track the estimates (docs/tracking.md): each carries track_ids and velocities_mps")
    workers = parser.add_argument_group("localisation workers (issue 16; docs/deployment.md)")
    workers.add_argument("--workers", type=whole_number("--workers", 0, 64), default=1,
                         help="1 (default): localise in this process's worker thread; N ≥ 2: in N local worker "
                              "processes (search full); 0: only remote workers (needs --worker-bind)")
    workers.add_argument("--worker-bind", metavar="ADDR", default="",
                         help="bind the worker task socket here (tcp://*:5570; results on the next port, ipc://PATH "
                              "and PATH.results) for `disac cu-worker --connect ADDR` on other hosts")
    workers.add_argument("--worker-deadline-s", type=finite_float("--worker-deadline-s", 0.001, 3599.0), default=10.0,
                         help="seconds a frame's task may go unanswered before it is issued again (default 10; "
                              "longer while the workers answer slowly: 4× their median answer time)")
    workers.add_argument("--worker-attempts", type=whole_number("--worker-attempts", 1, 100), default=3,
                         help="times a frame's task is issued before the frame is counted worker_lost (default 3)")
    add_progress_option(parser)
    parser.set_defaults(func=run_command)


def frames_limit_text(frames):
    """The banner's word on --frames: how far the run goes (the default, 100 frames, ends a run of endless
    nodes after 10 s at 10 frames/s: say so where the operator looks first)."""
    if frames:
        return f"stops once frame {frames - 1} is released (--frames {frames}; --frames 0: no end)"
    return "no frame limit (--frames 0)"


# why the run ended: the final status line's "stopped_by" and the stderr line before the unit stops
STOP_REASONS = {
    "frames": lambda args: (f"frame {args.frames - 1} released (--frames {args.frames}; --frames 0 runs without "
                            "end); snapshots sent from now on are not read"),
    "duration": lambda args: f"--duration-s {args.duration_s:g} s elapsed",
    "idle": lambda args: f"no snapshot for --idle-s {args.idle_s:g} s",
    "interrupt": lambda args: "interrupted (Ctrl-C)",
}


def estimate_json(estimate, num_nodes):
    return {"type": "estimate", "frame": int(estimate.frame), "precoder_version": int(estimate.precoder_version),
            "precoder_id": int(getattr(estimate, "precoder_id", 0)),
            "positions_m": np.asarray(estimate.positions_m).tolist(),
            "crb_m2": [float(v) if np.isfinite(v) else None for v in estimate.crb_m2],
            "residual": float(estimate.residual), "nodes": [int(n) for n in estimate.nodes],
            "partial": len(estimate.nodes) < num_nodes, "full_search": bool(estimate.full_search),
            **_track_json(estimate)}


def _track_json(estimate):
    """track_ids and velocities_mps of a tracking unit's estimate (--track), nothing otherwise."""
    ids = getattr(estimate, "track_ids", None)
    if ids is None:
        return {}
    velocities = np.asarray(estimate.velocities_mps, float).reshape(-1, 2)
    return {"track_ids": [int(i) for i in np.asarray(ids).reshape(-1)],
            "velocities_mps": [[float(v) if np.isfinite(v) else None for v in row] for row in velocities]}


class _LinePrinter:
    """JSON lines on stdout from any thread, one whole line at a time."""

    def __init__(self, stream):
        self.stream = stream
        self.lock = threading.Lock()

    def __call__(self, obj):
        line = json.dumps(obj)
        with self.lock:
            self.stream.write(line + "\n")
            self.stream.flush()


def _status_sink(printer):
    from ..blocks.central_unit import status_to_dict
    from ..blocks.callback_sink import callback_sink

    return callback_sink("disac_cu_status", "status",
                         printing_callback(lambda msg: printer(dict(type="status", **status_to_dict(msg)))))


def run_command(args):
    quiet_gnuradio_info()  # first: it sends GNU Radio's log to stderr before the runtime loads
    from gnuradio import gr

    scenario = load_checked_scenario(args.scenario)
    if args.queue < 1:
        raise UsageError(f"--queue {args.queue}: accepted: a whole number of frames ≥ 1")
    if args.frames < 0:
        raise UsageError(f"--frames {args.frames}: accepted: 0 (no end) or a positive number of frames")
    security, precoder_security = security_from_args(args)
    wc, wr = resolve_precoders(scenario, args.precoders, args.sinr_db, args.seed, args.objective)
    printer = _LinePrinter(sys.stdout)
    try:
        central = central_node(scenario, args.seed, wc, wr, timeout_s=args.timeout_s, queue_depth=args.queue,
                               search=args.search, address=args.bind or args.connect, bind=bool(args.bind),
                               pattern=args.pattern, estimate_address=args.estimates,
                               status_interval_s=args.status_interval_s, precoders_address=args.precoders_from,
                               precoders_server_public_key=precoder_security.server_public_key,
                               frame_window=args.frame_window, state_file=args.state, max_targets=args.max_targets,
                               false_alarm_rate=args.false_alarm_rate, track=args.track, workers=args.workers,
                               worker_address=args.worker_bind, worker_deadline_s=args.worker_deadline_s,
                               worker_attempts=args.worker_attempts, **link_parameters(security))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    cu, num_nodes = central.cu, scenario.num_nodes
    # estimates straight from the worker thread (also those of the drain at stop)
    cu.listeners.append(lambda estimate: printer(estimate_json(estimate, num_nodes)))
    sink = _status_sink(printer)
    tb = gr.top_block("disac_cu")
    tb.msg_connect((central, "status"), (sink, "status"))
    print(f"disac cu: {scenario.name}, snapshots on {cu.bound_address or cu.address} ({args.pattern}, "
          f"{security.mode}), timeout {args.timeout_s:g} s"
          + (f", precoder sets from {args.precoders_from}" if args.precoders_from else "")
          + f", {frames_limit_text(args.frames)}", file=sys.stderr, flush=True)
    if args.workers != 1 or args.worker_bind:
        print(f"disac cu: localisation in {args.workers} local worker process(es)"
              + (f", remote workers at {args.worker_bind} (results on the next port / .results)"
                 if args.worker_bind else ""), file=sys.stderr, flush=True)
    progress = Progress(args.frames, "disac cu", args)
    started = last_change = time.monotonic()
    last_accepted = 0
    stopped_by = "interrupt"  # Ctrl-C, unless one of the limits ends the run first
    tb.start()
    try:
        while True:
            time.sleep(0.02)
            now = time.monotonic()
            with cu._lock:
                watermark = cu.aligner.watermark
                accepted = cu.aligner.counters.snapshots_accepted + cu.aligner.counters.late
            if accepted != last_accepted:
                last_change, last_accepted = now, accepted
            progress(watermark + 1)
            if args.frames and watermark >= args.frames - 1:
                stopped_by = "frames"
                break
            if args.duration_s and now - started >= args.duration_s:
                stopped_by = "duration"
                break
            if args.idle_s and now - last_change >= args.idle_s:
                stopped_by = "idle"
                break
    except KeyboardInterrupt:
        pass
    # said before the unit stops reading: nodes that still send are heard no more (their snapshots pile up
    # in their own queues), which must not look like a stall of the link
    print(f"disac cu: stopping: {STOP_REASONS[stopped_by](args)}", file=sys.stderr, flush=True)
    tb.stop()
    tb.wait()
    progress.close()
    printer(dict(type="status", final=True, stopped_by=stopped_by, **central.status()))
    return 0
