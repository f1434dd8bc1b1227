# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""`disac demo [SCENARIO]`: the whole D-ISAC system on synthetic channels, end to end.

The flowgraph is hier.system.run_synthetic_system (hier.synthetic_node for every node, hier.central_node,
hier.user_side); the report is core.demo_report.

Design the precoders (SDR, paper eq. 18–19) at Γ_c, then run every node's transmitter (eq. 1), the
synthetic sensing channels (monostatic and bistatic echoes, per-frame oscillator phases, AWGN), the node
receivers, the ZeroMQ link to the central unit (fusion and ML localisation, eq. 9), and the synthetic
comm channel to every user receiver, for --frames frames. Print a table (true and estimated target
positions, RMSE against √CRB, every user's measured SINR against the designed one, frame counts), and
write a map (PNG) and a JSON summary into --out. With --processes the central unit and every node run
as separate `disac cu` / `disac node` processes over tcp://127.0.0.1; the users' receivers run here.
The same seeds give the same table either way.

JSON keys (a contract other tools read): scenario, sinr_threshold_db, frames, targets (a list of
{true_m, estimate_m, crb_m2, rmse_m}), rmse_m, users (a list of {sinr_designed_db, sinr_measured_db,
ber}), frames_sent, frames_received, frames_localised, frames_skipped, elapsed_s.

Issue 14: ``--impairments``, ``--calibration`` and ``--background`` (single process only) as in `disac localize`;
the JSON then has ``calibration``, ``interference`` and ``crb_with_nuisance_m2``, and the map shows the direct
paths and an image of the clutter removed (cli_interference.add_impaired_summary).
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

from ..core import demo_report, wire
from ..core.demo_report import draw_map, position_covariances_m2, print_table, summarise  # noqa: F401
from ..core.design_options import DEFAULT_OBJECTIVE, MAX_SINR_DB, MIN_SINR_DB, OBJECTIVES
from ..core.trial_stats import scenario_at_snr
from ..hier import system
from .cli import (Progress, UsageError, add_background_arguments, add_impaired_summary, add_impairment_arguments,
                  add_progress_option, add_scenario_argument, finite_float, impaired_scenario, load_checked_scenario,
                  print_json, print_scenario_warnings, quiet_gnuradio_info, resolve_calibration, resolve_suppressor)

# the line `disac cu` prints once its snapshot socket is bound
_SNAPSHOT_ENDPOINT = re.compile(r"^disac cu: .*snapshots on (tcp://\S+:\d+) ")
# a run waits at most this long per frame for the chain before it gives up with an error
_SECONDS_PER_FRAME_LIMIT = 2.0


def register(subparsers):
    parser = subparsers.add_parser(
        "demo", help="run the whole system on synthetic channels and report estimates against the CRB and "
                     "user SINRs against the design",
        description="The whole D-ISAC system on synthetic channels: precoder design, every node, the central "
                    "unit and the users; a table, a map (PNG) and a JSON summary.")
    add_scenario_argument(parser)
    parser.add_argument("--frames", type=int, default=200, help="frames to run (default 200)")
    parser.add_argument("--sinr-db", type=finite_float("--sinr-db", MIN_SINR_DB, MAX_SINR_DB), default=10.0,
                        help="SINR threshold Γ_c of the design (dB, default 10)")
    parser.add_argument("--snr-db", type=finite_float("--snr-db", -60.0, 80.0), default=None,
                        help="target SNR in the paper's definition (dB; default: the scenario's)")
    parser.add_argument("--objective", choices=OBJECTIVES, default=DEFAULT_OBJECTIVE,
                        help=f"design objective (default {DEFAULT_OBJECTIVE})")
    parser.add_argument("--seed", type=int, default=0, help="data seed; the channel seed is seed + 1")
    parser.add_argument("--out", default="demo-out", help="folder for demo.png and demo.json (default demo-out)")
    parser.add_argument("--processes", action="store_true",
                        help="run the central unit and every node as separate processes on tcp://127.0.0.1")
    add_impairment_arguments(parser)
    add_background_arguments(parser)
    add_progress_option(parser)
    parser.add_argument("--json", action="store_true", help="print the JSON summary instead of the table")
    parser.set_defaults(func=run_command)


def design(scenario, sinr_db, objective):
    """(Wc, Wr, designed SINRs in dB) by the SDR, or UsageError when Γ_c cannot be met."""
    from ..core.beamformer import BeamformerDesigner

    designer = BeamformerDesigner(scenario, objective=objective)
    result = designer.solve(sinr_db)
    if not result.ok:
        largest = designer.max_common_sinr_db()
        hint = f"; the largest SINR all users can share is {largest:.2f} dB" if largest is not None else ""
        raise UsageError(f"--sinr-db {sinr_db:g}: the design is {result.status}{hint}")
    return result.Wc, result.Wr, result.sinr_extracted_db


def run_single_process(scenario, wc, wr, frames, seed, channel_seed, progress=None, calibration=None,
                       suppressor=None, status_out=None):
    """Everything in one flowgraph; returns (estimates by frame, user blocks, counts). ``scenario`` is the
    air's; calibration / suppressor (None: none) go to the nodes / the central unit; status_out (a dict) gets
    the central unit's status."""
    estimates, status, users = system.run_synthetic_system(
        scenario, wc, wr, frames, seed, channel_seed, with_users=True, on_progress=progress,
        seconds_per_frame_limit=_SECONDS_PER_FRAME_LIMIT, require_all=False,  # the counts say what was missed
        calibration=calibration if calibration is not None else "",
        background=suppressor if suppressor is not None else "")
    if status_out is not None:
        status_out.update(status)
    counts = {"frames_sent": frames, "frames_received": int(status.get("frames_released", 0)),
              "frames_localised": len(estimates), "frames_skipped": int(status.get("frames_skipped", 0))}
    return estimates, users.users, counts


def run_processes(scenario_name, scenario, wc, wr, frames, seed, channel_seed, progress=None):
    """The central unit and every node as `disac cu` / `disac node` processes over tcp://127.0.0.1;
    progress(estimates so far) as they come."""
    with tempfile.TemporaryDirectory(prefix="disac-demo-") as folder:
        precoder_file = os.path.join(folder, "precoders.bin")
        with open(precoder_file, "wb") as handle:
            handle.write(wire.encode(wire.PrecoderMessage(version=1, comm_precoders=np.asarray(wc), radar_precoders=np.asarray(wr))))
        common = ["--seed", str(seed), "--channel-seed", str(channel_seed), "--precoders", precoder_file,
                  "--frames", str(frames)]
        launcher = same_package_launcher()
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        cu = subprocess.Popen(launcher + ["cu", scenario_name, "--bind", "tcp://127.0.0.1:*", "--timeout-s", "5",
                                          "--queue", str(frames + 1), "--status-interval", "0",
                                          "--duration-s", str(30 + _SECONDS_PER_FRAME_LIMIT * frames)] + common,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        nodes = []
        try:
            endpoint, seen = None, []
            for line in cu.stderr:  # other lines (warnings) may come first
                seen.append(line)
                found = _SNAPSHOT_ENDPOINT.search(line)
                if found:
                    endpoint = found.group(1)
                    break
            if endpoint is None:
                raise RuntimeError(f"the central unit did not start: {''.join(seen)[-500:]}")
            threading.Thread(target=cu.stderr.read, daemon=True).start()  # keep its stderr pipe drained
            for n in range(scenario.num_nodes):
                nodes.append(subprocess.Popen(launcher + ["node", scenario_name, "--node-number", str(n + 1), "--connect",
                                                          endpoint, "--frame-rate", "0"] + common,
                                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env))
            users, _ = _users_only(scenario, wc, wr, frames, seed, channel_seed)
            estimates, final = {}, {}
            for line in cu.stdout:
                record = json.loads(line)
                if record.get("type") == "estimate":
                    estimates[record["frame"]] = record
                    if progress is not None:
                        progress(len(estimates))
                elif record.get("final"):
                    final = record
            cu.wait(timeout=30)
        finally:
            for proc in nodes + [cu]:
                if proc.poll() is None:
                    proc.kill()
                proc.wait()
    counts = {"frames_sent": frames, "frames_received": int(final.get("frames_released", len(estimates))),
              "frames_localised": len(estimates), "frames_skipped": int(final.get("frames_skipped", 0))}
    parsed = {f: _Estimate(np.array(r["positions_m"], float)) for f, r in estimates.items()}
    return parsed, users, counts


def same_package_launcher():
    """argv prefix that runs `disac` from the gr-disac this process imported (a source tree or an install)."""
    from gnuradio import disac

    gnuradio_dir = os.path.dirname(os.path.dirname(os.path.abspath(disac.__file__)))
    code = ("import sys, gnuradio; gnuradio.__path__.insert(0, %r); "
            "from gnuradio.disac.apps.cli import main; sys.exit(main())") % gnuradio_dir
    return [sys.executable, "-c", code]


class _Estimate:
    def __init__(self, positions_m):
        self.positions_m = positions_m


def _users_only(scenario, wc, wr, frames, seed, channel_seed):
    """The comm half alone (transmitters → comm channel → user receivers), run to the end."""
    from gnuradio import gr

    tb = gr.top_block("disac_demo_users")
    sources, _, _ = system.add_synthetic_nodes(tb, scenario, [], wc, wr, frames, seed, channel_seed)
    users = system.add_user_side(tb, scenario, sources, seed, channel_seed)
    tb.run()
    return users.users, tb


def run_demo(scenario_name, frames=200, sinr_db=10.0, snr_db=None, objective=DEFAULT_OBJECTIVE, seed=0,
             processes=False, progress=None, args=None):
    """The whole demo; returns (summary dict, scenario, estimates, covariances). progress: a callable of
    the frames done so far (cli.Progress), or None. args: the command's options for --impairments,
    --calibration and --background (None: the ideal air, as before); the summary then has calibration,
    interference and crb_with_nuisance_m2, and ``summary["_suppressor"]`` is not set (see run_command)."""
    scenario = load_checked_scenario(scenario_name)
    if snr_db is not None:
        scenario = scenario_at_snr(scenario, snr_db)
    started = time.perf_counter()
    channel_seed = seed + 1
    air = impaired_scenario(scenario, args) if args is not None else scenario
    impaired = air is not scenario
    scenario = air.without_impairments() if impaired else scenario  # the receive side's (and the design's)
    wc, wr, designed = design(scenario, sinr_db, objective)
    progress = progress if callable(progress) else None  # (an old caller's progress=True/False: no bar)
    calibration = suppressor = None
    status = {}
    if processes:
        if impaired:
            raise UsageError("--processes with --impairments: the impaired air runs in a single process only; "
                             "drop --processes")
        if snr_db is not None:
            raise UsageError("--processes with --snr-db: the node processes take the scenario file's target SNR; "
                             "write a scenario file with targets.snr_db instead")
        estimates, users, counts = run_processes(scenario_name, scenario, wc, wr, frames, seed, channel_seed, progress)
    else:
        if impaired:
            calibration = resolve_calibration(air, args, seed, channel_seed)
            suppressor = resolve_suppressor(air, args, wc, wr, seed, channel_seed, calibration)
        estimates, users, counts = run_single_process(air, wc, wr, frames, seed, channel_seed, progress, calibration,
                                                      suppressor, status)
    summary = summarise(scenario, sinr_db, wc, wr, designed, estimates, users, counts, time.perf_counter() - started)
    if impaired:
        add_impaired_summary(summary, calibration, status, suppressor, scenario, wc, wr)
    return summary, scenario, estimates, position_covariances_m2(scenario, wc, wr)


def run_command(args):
    if args.frames < 1:
        raise UsageError(f"--frames {args.frames}: accepted: a positive number of frames")
    quiet_gnuradio_info()
    progress = Progress(args.frames, "disac demo", args)
    try:
        summary, scenario, estimates, covariances = run_demo(
            args.scenario, args.frames, args.sinr_db, args.snr_db, args.objective, args.seed, args.processes,
            progress.callback, args)
    finally:
        progress.close()
    print_scenario_warnings(scenario)
    layers = summary.pop("_map_layers", None)  # the map's interference layers: not JSON
    try:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "demo.json"), "w") as handle:
            print_json(summary, handle)
        demo_report.draw_map(scenario, summary, estimates, covariances, os.path.join(args.out, "demo.png"),
                             layers=layers)
    except OSError as exc:
        raise UsageError(f"--out {args.out!r}: cannot write ({exc.strerror or exc})") from None
    if args.json:
        print_json(summary)
    else:
        print_table(summary)
        print(f"  map and summary: {os.path.join(args.out, 'demo.png')}, {os.path.join(args.out, 'demo.json')}")
    return 0
