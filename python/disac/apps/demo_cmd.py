"""`disac demo [SCENARIO]`: the whole D-ISAC system on synthetic channels, end to end.

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
"""

import json
import math
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

from ..core import fim, fusion, ofdm, wire
from ..core.design_options import MAX_SINR_DB, MIN_SINR_DB
from .cli import UsageError, finite_float, print_json
from .localize_cmd import matched_errors, scenario_at_snr
from .node_cmd import build_node_chain, load_checked_scenario, quiet_gnuradio_info

# the line `disac cu` prints once its snapshot socket is bound
_SNAPSHOT_ENDPOINT = re.compile(r"^disac cu: .*snapshots on (tcp://\S+:\d+) ")
# a run waits at most this long per frame for the chain before it gives up with an error
_SECONDS_PER_FRAME_LIMIT = 2.0


def register(subparsers):
    parser = subparsers.add_parser("demo", help="run the whole system on synthetic channels and report "
                                   "estimates against the CRB and user SINRs against the design")
    parser.add_argument("scenario", nargs="?", default="paper", help="a preset or a TOML file (default paper)")
    parser.add_argument("--frames", type=int, default=200, help="frames to run (default 200)")
    parser.add_argument("--sinr-db", type=finite_float("--sinr-db", MIN_SINR_DB, MAX_SINR_DB), default=10.0,
                        help="SINR threshold Γ_c of the design (dB, default 10)")
    parser.add_argument("--snr-db", type=finite_float("--snr-db", -60.0, 80.0), default=None,
                        help="target SNR in the paper's definition (dB; default: the scenario's)")
    parser.add_argument("--objective", choices=("position", "paper"), default="position",
                        help="design objective (default position)")
    parser.add_argument("--seed", type=int, default=0, help="data seed; the channel seed is seed + 1")
    parser.add_argument("--out", default="demo-out", help="folder for demo.png and demo.json (default demo-out)")
    parser.add_argument("--processes", action="store_true",
                        help="run the central unit and every node as separate processes on tcp://127.0.0.1")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--json", action="store_true", help="print the JSON summary instead of the table")
    parser.set_defaults(func=run_command)


# ---- design ---------------------------------------------------------------------------------------

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


def position_covariances_m2(scenario, wc, wr):
    """Per-target 2×2 CRB matrices of (x_k, y_k), from F(Θ)^-1 (eq. 11–12), for the map's ellipses."""
    geometry = fim.SensingGeometry.from_scenario(scenario)
    fim_map = fim.FimMap(geometry)
    F = fim_map.fim_theta(fusion.transmit_covariances(wc, wr))
    K = scenario.num_targets
    try:
        inverse = np.linalg.inv(F)
    except np.linalg.LinAlgError:
        return np.full((K, 2, 2), np.nan)
    return np.array([[[inverse[k, k], inverse[k, K + k]], [inverse[K + k, k], inverse[K + k, K + k]]]
                     for k in range(K)])


# ---- the chain ------------------------------------------------------------------------------------

def _progress(total, enabled):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="frame", desc="demo", file=sys.stderr, leave=False)


def _add_users(tb, scenario, transmitters, seed, channel_seed):
    from ..blocks.comm_channel import comm_channel
    from ..blocks.user_rx import user_rx

    comm = comm_channel(scenario, channel_seed, noise=True)
    users = [user_rx(scenario, u, seed) for u in range(scenario.num_users)]
    for m, tx in enumerate(transmitters):
        for i in range(scenario.tx_antennas):
            tb.connect((tx, i), (comm, m * scenario.tx_antennas + i))
    for u, user in enumerate(users):
        tb.connect((comm, u), (user, 0))
    tb.disac_blocks += [comm] + users
    return users


def run_single_process(scenario, wc, wr, frames, seed, channel_seed, progress=True):
    """Everything in one flowgraph; returns (estimates by frame, user blocks, counts)."""
    from gnuradio import blocks, gr

    from ..blocks.central_unit import central_unit

    address = f"inproc://disac-demo-{os.getpid()}-{time.monotonic_ns()}"
    tb = gr.top_block("disac_demo")
    cu = central_unit(scenario, seed, wc, wr, timeout_s=3600.0, queue_depth=frames + 1, address=address,
                      bind=True, status_interval_s=0, keep_estimates=frames)
    transmitters, pushes = build_node_chain(tb, scenario, range(scenario.num_nodes), wc, wr, frames, seed,
                                            channel_seed, address, hwm=frames + 16)
    users = _add_users(tb, scenario, transmitters, seed, channel_seed)
    sink = blocks.message_debug()
    tb.msg_connect((cu, "estimate"), (sink, "store"))
    tb.disac_blocks += [cu, sink]
    bar = _progress(frames, progress)
    tb.start()
    deadline = time.monotonic() + 10.0 + _SECONDS_PER_FRAME_LIMIT * frames
    done = 0
    while time.monotonic() < deadline:
        with cu._lock:
            released = cu.aligner.watermark + 1
        if bar is not None and released > done:
            bar.update(released - done)
        done = max(done, released)
        if released >= frames:
            break
        time.sleep(0.02)
    tb.stop()
    tb.wait()
    if bar is not None:
        bar.close()
    status = cu.status()
    counts = {"frames_sent": frames,
              "frames_received": int(status.get("frames_released", 0)),
              "frames_localised": len(cu.estimates),
              "frames_skipped": int(status.get("frames_skipped", 0))}
    return {e.frame: e for e in cu.estimates}, users, counts


def run_processes(scenario_name, scenario, wc, wr, frames, seed, channel_seed, progress=True):
    """The central unit and every node as `disac cu` / `disac node` processes over tcp://127.0.0.1."""
    from gnuradio import gr

    with tempfile.TemporaryDirectory(prefix="disac-demo-") as folder:
        precoder_file = os.path.join(folder, "precoders.bin")
        with open(precoder_file, "wb") as handle:
            handle.write(wire.encode(wire.PrecoderMessage(version=1, comm_precoders=np.asarray(wc), radar_precoders=np.asarray(wr))))
        common = ["--seed", str(seed), "--channel-seed", str(channel_seed), "--precoders", precoder_file,
                  "--frames", str(frames)]
        launcher = same_package_launcher()
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        cu = subprocess.Popen(launcher + ["cu", scenario_name, "--bind", "tcp://127.0.0.1:*", "--timeout", "5",
                                          "--queue", str(frames + 1), "--status-interval", "0",
                                          "--duration", str(30 + _SECONDS_PER_FRAME_LIMIT * frames)] + common,
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
                nodes.append(subprocess.Popen(launcher + ["node", scenario_name, "--node", str(n), "--connect",
                                                          endpoint, "--frame-rate", "0"] + common,
                                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env))
            users, _ = _users_only(scenario, wc, wr, frames, seed, channel_seed)
            estimates, final = {}, {}
            bar = _progress(frames, progress)
            for line in cu.stdout:
                record = json.loads(line)
                if record.get("type") == "estimate":
                    estimates[record["frame"]] = record
                    if bar is not None:
                        bar.update(1)
                elif record.get("final"):
                    final = record
            cu.wait(timeout=30)
            if bar is not None:
                bar.close()
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

    from ..blocks.isac_tx import isac_tx

    tb = gr.top_block("disac_demo_users")
    tb.disac_blocks = []
    transmitters = [isac_tx(scenario, m, seed, wc[m], wr[m], frames) for m in range(scenario.num_nodes)]
    tb.disac_blocks += transmitters
    users = _add_users(tb, scenario, transmitters, seed, channel_seed)
    tb.run()
    return users, tb


# ---- summary, table, map ---------------------------------------------------------------------------

def summarise(scenario, sinr_db, wc, wr, designed_db, estimates, users, counts, elapsed_s):
    truth = np.asarray(scenario.target_positions_m)
    crb = fusion.position_crb_per_target_m2(fim.SensingGeometry.from_scenario(scenario), wc, wr)
    frames = sorted(estimates)
    if frames:
        matched = np.array([matched_errors(np.asarray(estimates[f].positions_m), truth) for f in frames])
        mean_error = matched.mean(axis=0)
        rmse = np.sqrt(np.mean(np.sum(matched ** 2, axis=2), axis=0))
        overall = math.sqrt(float(np.mean(np.sum(matched ** 2, axis=(1, 2)))))
    else:
        mean_error = np.full(truth.shape, np.nan)
        rmse = np.full(len(truth), np.nan)
        overall = math.nan
    return {
        "scenario": scenario.name, "sinr_threshold_db": sinr_db, "frames": len(frames),
        "targets": [{"true_m": truth[k].tolist(), "estimate_m": (truth[k] + mean_error[k]).tolist(),
                     "crb_m2": float(crb[k]), "rmse_m": float(rmse[k])} for k in range(len(truth))],
        "rmse_m": overall,
        "users": [{"sinr_designed_db": float(designed_db[u]), "sinr_measured_db": float(user.measured_sinr_db()),
                   "ber": float(user.ber())} for u, user in enumerate(users)],
        **counts, "elapsed_s": elapsed_s,
    }


def print_table(summary, stream=None):
    s = summary
    print(f"D-ISAC demo: scenario {s['scenario']}, Γ_c = {s['sinr_threshold_db']:g} dB, {s['frames']} frames "
          f"localised in {s['elapsed_s']:.1f} s", file=stream)
    print("  target   true position (m)       mean estimate (m)        RMSE (m)   √CRB (m)  RMSE/√CRB", file=stream)
    for k, t in enumerate(s["targets"]):
        root_crb = math.sqrt(t["crb_m2"]) if math.isfinite(t["crb_m2"]) else math.nan
        print(f"  {k + 1:<6d}   [{t['true_m'][0]:8.2f}, {t['true_m'][1]:8.2f}]   "
              f"[{t['estimate_m'][0]:9.3f}, {t['estimate_m'][1]:9.3f}]   {t['rmse_m']:8.4f}   {root_crb:8.4f}   "
              f"{t['rmse_m'] / root_crb:8.3f}", file=stream)
    print("  user     SINR designed (dB)   SINR measured (dB)   BER", file=stream)
    for u, user in enumerate(s["users"]):
        print(f"  {u + 1:<6d}   {user['sinr_designed_db']:18.2f}   {user['sinr_measured_db']:18.2f}   "
              f"{user['ber']:.2e}", file=stream)
    print(f"  frames   sent {s['frames_sent']}, received {s['frames_received']}, localised {s['frames_localised']}, "
          f"skipped {s['frames_skipped']}", file=stream)


def draw_map(scenario, summary, estimates, covariances, path):
    """Nodes, users, targets, every frame's estimates and the 3-σ CRB ellipses (magnified to be seen)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, zoom) = plt.subplots(1, 2, figsize=(11, 5), gridspec_kw={"width_ratios": [1.3, 1]})
    nodes, targets, users = scenario.node_positions_m, scenario.target_positions_m, scenario.user_positions_m
    ax.scatter(nodes[:, 0], nodes[:, 1], marker="^", s=90, c="tab:blue", label="ISAC nodes")
    ax.scatter(users[:, 0], users[:, 1], marker="s", s=60, c="tab:green", label="users")
    ax.scatter(targets[:, 0], targets[:, 1], marker="x", s=90, c="tab:red", label="targets (true)")
    points = np.concatenate([np.asarray(estimates[f].positions_m) for f in sorted(estimates)]) if estimates else None
    if points is not None:
        ax.scatter(points[:, 0], points[:, 1], s=4, c="k", alpha=0.3, label="estimates (every frame)")
    for n, p in enumerate(nodes):
        ax.annotate(f"node {n + 1}", p, textcoords="offset points", xytext=(5, 5))
    for u, p in enumerate(users):
        ax.annotate(f"user {u + 1}\n{summary['users'][u]['sinr_measured_db']:.1f} dB", p,
                    textcoords="offset points", xytext=(5, -22), fontsize=8)
    ax.set_aspect("equal")
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    ax.set_title("scene")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    # zoom on the first target: estimates and the 3σ ellipse of its CRB
    k = 0
    centre = targets[k]
    if points is not None:
        own = np.array([np.asarray(estimates[f].positions_m)[np.argmin(
            np.linalg.norm(np.asarray(estimates[f].positions_m) - centre, axis=1))] for f in sorted(estimates)])
        zoom.scatter(own[:, 0], own[:, 1], s=6, c="k", alpha=0.5, label="estimates")
    cov = covariances[k]
    if np.all(np.isfinite(cov)):
        values, vectors = np.linalg.eigh(0.5 * (cov + cov.T))
        angle = np.linspace(0, 2 * np.pi, 200)
        circle = np.stack([np.cos(angle), np.sin(angle)])
        ellipse = vectors @ (3 * np.sqrt(np.clip(values, 0, None))[:, None] * circle)
        zoom.plot(centre[0] + ellipse[0], centre[1] + ellipse[1], c="tab:red", label="3σ CRB ellipse")
    zoom.scatter([centre[0]], [centre[1]], marker="x", s=90, c="tab:red", label="true")
    zoom.set_aspect("equal")
    zoom.set_title(f"target {k + 1}: RMSE {summary['targets'][k]['rmse_m']:.3f} m, "
                   f"√CRB {math.sqrt(summary['targets'][k]['crb_m2']):.3f} m")
    zoom.set_xlabel("x (m)")
    zoom.grid(alpha=0.3)
    zoom.legend(fontsize=8)
    fig.suptitle(f"D-ISAC demo, {scenario.name}, Γ_c = {summary['sinr_threshold_db']:g} dB, "
                 f"{summary['frames']} frames")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---- command ---------------------------------------------------------------------------------------

def run_demo(scenario_name, frames=200, sinr_db=10.0, snr_db=None, objective="position", seed=0,
             processes=False, progress=True):
    """The whole demo; returns (summary dict, scenario, estimates, covariances)."""
    scenario = load_checked_scenario(scenario_name)
    if snr_db is not None:
        scenario = scenario_at_snr(scenario, snr_db)
    started = time.perf_counter()
    wc, wr, designed = design(scenario, sinr_db, objective)
    channel_seed = seed + 1
    if processes:
        if snr_db is not None:
            raise UsageError("--processes with --snr-db: the node processes take the scenario file's target SNR; "
                             "write a scenario file with targets.snr_db instead")
        estimates, users, counts = run_processes(scenario_name, scenario, wc, wr, frames, seed, channel_seed, progress)
    else:
        estimates, users, counts = run_single_process(scenario, wc, wr, frames, seed, channel_seed, progress)
    summary = summarise(scenario, sinr_db, wc, wr, designed, estimates, users, counts, time.perf_counter() - started)
    return summary, scenario, estimates, position_covariances_m2(scenario, wc, wr)


def run_command(args):
    if args.frames < 1:
        raise UsageError(f"--frames {args.frames}: accepted: a positive number of frames")
    quiet_gnuradio_info()
    summary, scenario, estimates, covariances = run_demo(
        args.scenario, args.frames, args.sinr_db, args.snr_db, args.objective, args.seed, args.processes,
        progress=not args.no_progress and not args.json and sys.stderr.isatty())
    for warning in scenario.warnings:
        print(f"disac: warning: {warning}", file=sys.stderr)
    try:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "demo.json"), "w") as handle:
            print_json(summary, handle)
        draw_map(scenario, summary, estimates, covariances, os.path.join(args.out, "demo.png"))
    except OSError as exc:
        raise UsageError(f"--out {args.out!r}: cannot write ({exc.strerror or exc})") from None
    if args.json:
        print_json(summary)
    else:
        print_table(summary)
        print(f"  map and summary: {os.path.join(args.out, 'demo.png')}, {os.path.join(args.out, 'demo.json')}")
    return 0
