"""`disac loopback SCENARIO --sinr-db G --frames N [--seed S] --json`: a link-level check of the PHY.

Designs the precoders (core.beamformer.design at Γ_c = G), runs them through the GNU Radio chain
isac_tx (every node) → synthetic sensing channels (noise off) → node_rx, and → synthetic comm channel
(noise on) → user_rx (every user), then reports

    sinr_designed_db          per user, eq. (6) for the designed beamformers
    sinr_measured_db          per user, ratio of mean signal to mean interference+noise power over frames
    ber                       per user, bit errors / bits against the known QPSK data
    frames                    frames run
    snapshot_model_error_rel  max over nodes and frames of ‖Y_n − μ_n‖/‖μ_n‖: noise-off node snapshots
                              against core.model.sensing_mean (eq. 3/5) with the channel's phases

(the keys are a contract). ``--precoders random`` skips the solver: random beamformers scaled to the
per-antenna power (a fraction ``--comm-fraction`` to the users), for checking the chain alone.
"""

import sys
import time

import numpy as np

from ..core import channels, model, ofdm, sinr
from ..core.scenario import PRESETS, load_scenario
from .cli import UsageError, print_json

SNAPSHOTS_PER_MESSAGE = 64  # node_rx frames_per_message: batched PDUs (see node_rx; ~10 µs per PDU saved per frame)


def register(subparsers):
    parser = subparsers.add_parser(
        "loopback", help="run designed precoders through the PHY chain on synthetic channels, report SINR/BER")
    parser.add_argument("scenario", help=f"a preset ({', '.join(PRESETS)}) or a TOML file")
    parser.add_argument("--sinr-db", type=float, default=10.0, help="SINR threshold Γ_c of the design (dB)")
    parser.add_argument("--frames", type=int, default=200, help="frames to run (default 200)")
    parser.add_argument("--seed", type=int, default=0, help="data seed; the channel seed is seed + 1")
    parser.add_argument("--precoders", choices=("designed", "random"), default="designed",
                        help="designed (core.beamformer, default) or random beamformers")
    parser.add_argument("--comm-fraction", type=float, default=0.5,
                        help="with --precoders random: share of each antenna's power given to the users")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=run_command)


def random_precoders(scenario, comm_fraction, seed):
    """Random W_c (N, Mt, U) and W_r (N, Mt, Mt), rows scaled so that [R_n]_mm = P_T exactly,
    a fraction ``comm_fraction`` of it in W_c."""
    if not 0.0 <= comm_fraction <= 1.0:
        raise UsageError(f"--comm-fraction {comm_fraction!r}: accepted: a number in [0, 1]")
    rng = np.random.default_rng(seed)
    n, mt, u = scenario.num_nodes, scenario.tx_antennas, scenario.num_users

    def scaled(shape, power):
        w = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
        return w * np.sqrt(power / np.sum(np.abs(w) ** 2, axis=-1, keepdims=True))

    pt = scenario.per_antenna_power
    return scaled((n, mt, u), comm_fraction * pt), scaled((n, mt, mt), (1 - comm_fraction) * pt)


def designed_precoders(scenario, sinr_db):
    """(W_c, W_r, eq.-6 SINR in dB) from core.beamformer.design, or UsageError if it did not solve."""
    try:
        from ..core import beamformer
    except ImportError as exc:
        raise UsageError(f"the beamformer (core.beamformer) is not available ({exc}); use --precoders random") from None
    result = beamformer.design(scenario, sinr_db, objective="position")
    if result.status not in ("optimal", "optimal_inaccurate") or result.Wc is None:
        raise UsageError(f"precoder design at Γ_c = {sinr_db} dB: solver status {result.status!r}"
                         f"{': ' + result.message if getattr(result, 'message', '') else ''}; try a lower --sinr-db")
    return np.asarray(result.Wc), np.asarray(result.Wr)


def run_loopback(scenario, wc, wr, frames, seed=0, channel_seed=1):
    """Run the chain for ``frames`` frames with per-node precoders wc (N, Mt, U), wr (N, Mt, Mt); a dict."""
    from gnuradio import blocks, gr

    from ..blocks import tags
    from ..blocks.comm_channel import comm_channel
    from ..blocks.isac_tx import isac_tx
    from ..blocks.node_rx import node_rx
    from ..blocks.sensing_channel import sensing_channel
    from ..blocks.user_rx import user_rx

    s = scenario
    layout = ofdm.layout_from_scenario(s)
    mt = s.tx_antennas
    tb = gr.top_block("disac_loopback")
    txs = [isac_tx(s, n, seed, wc[n], wr[n], frames) for n in range(s.num_nodes)]
    sensing = [sensing_channel(s, n, channel_seed, noise=False) for n in range(s.num_nodes)]
    comm = comm_channel(s, channel_seed, noise=True)
    # batched snapshot messages: one PDU per call instead of one per frame (node_rx frames_per_message)
    nodes = [node_rx(s, n, frames_per_message=SNAPSHOTS_PER_MESSAGE) for n in range(s.num_nodes)]
    stores = [blocks.message_debug() for _ in range(s.num_nodes)]
    users = [user_rx(s, u, seed) for u in range(s.num_users)]
    for n, tx in enumerate(txs):
        for i in range(mt):
            for channel in sensing + [comm]:
                tb.connect((tx, i), (channel, n * mt + i))
    for n in range(s.num_nodes):
        for r in range(s.rx_antennas):
            tb.connect((sensing[n], r), (nodes[n], r))
        tb.msg_connect((nodes[n], tags.SNAPSHOT_PORT), (stores[n], "store"))
    for u, user in enumerate(users):
        tb.connect((comm, u), (user, 0))
    tb.run()

    # noise-off snapshots against eq. (3)/(5) with the frames regenerated from (seed, node, frame, W)
    error = 0.0
    snaps = [[snap for i in range(store.num_messages()) for snap in tags.snapshots_from_pmt(store.get_message(i))]
             for store in stores]
    received = min(len(node_snaps) for node_snaps in snaps)
    if received:
        numbers = np.array([snap.frame for snap in snaps[0][:received]])
        x = np.stack([ofdm.transmitted_frames(layout, seed, numbers, m, wc[m], wr[m]) for m in range(s.num_nodes)], axis=1)
        amps = channels.linked_amplitudes(s.target_amplitudes(), channels.node_phases_rad(channel_seed, numbers, s.num_nodes))
        for f in range(received):
            mu = model.sensing_mean(s.target_angles_rad(), s.target_delays_s(), amps[f], x[f], s.rx_antennas, s.bandwidth_hz)
            for n in range(s.num_nodes):
                if snaps[n][f].frame != numbers[f]:
                    raise RuntimeError(f"node {n} snapshot {f} is frame {snaps[n][f].frame}, expected {numbers[f]}")
                error = max(error, float(np.linalg.norm(snaps[n][f].samples - mu[n]) / np.linalg.norm(mu[n])))
    designed = sinr.to_db(sinr.sinr_from_beamformers(s.user_channels(), wc, wr, s.user_noise_power))
    return {
        "scenario": s.name,
        "frames": int(min(user.accumulator.frames for user in users)),
        "sinr_designed_db": designed.tolist(),
        "sinr_measured_db": [user.measured_sinr_db() for user in users],
        "ber": [user.ber() for user in users],
        "snapshot_frames": int(received),
        "snapshot_model_error_rel": error if received else None,
    }


def run_command(args):
    if args.frames < 1:
        raise UsageError(f"--frames {args.frames!r}: accepted: a positive number of frames")
    scenario = load_scenario(args.scenario)
    for warning in scenario.warnings:
        print(f"disac: warning: {warning}", file=sys.stderr)
    try:
        ofdm.layout_from_scenario(scenario)
    except ofdm.FrameError as exc:
        raise UsageError(f"scenario {scenario.name!r}: {exc}") from None
    started = time.perf_counter()
    if args.precoders == "random":
        wc, wr = random_precoders(scenario, args.comm_fraction, args.seed)
    else:
        wc, wr = designed_precoders(scenario, args.sinr_db)
    result = run_loopback(scenario, wc, wr, args.frames, seed=args.seed, channel_seed=args.seed + 1)
    result["sinr_threshold_db"] = args.sinr_db if args.precoders == "designed" else None
    result["precoders"] = args.precoders
    result["elapsed_s"] = time.perf_counter() - started
    if args.json:
        print_json(result)
        return 0
    print(f"loopback {scenario.name}: {result['frames']} frames, {args.precoders} precoders"
          + (f" at Γ_c = {args.sinr_db:g} dB" if args.precoders == "designed" else ""))
    for u, (d, m, b) in enumerate(zip(result["sinr_designed_db"], result["sinr_measured_db"], result["ber"])):
        print(f"  user {u + 1}: SINR designed {d:7.2f} dB, measured {m:7.2f} dB, BER {b:.3g}")
    print(f"  noise-off snapshots vs model (eq. 3/5): max relative error {result['snapshot_model_error_rel']:.2e}")
    print(f"  {result['elapsed_s']:.2f} s")
    return 0
