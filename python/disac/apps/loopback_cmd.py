# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""`disac loopback [SCENARIO] --sinr-db G --frames N [--seed S] --json`: a link-level check of the PHY.

Designs the precoders (core.beamformer.design at Γ_c = G, --objective), runs them through the GNU Radio chain
hier.synthetic_node (every node: isac_tx → sensing channel, noise off → node_rx) and hier.user_side
(comm channel, noise on → user_rx of every user), then reports

    sinr_designed_db          per user, eq. (6) for the designed beamformers
    sinr_measured_db          per user, ratio of mean signal to mean interference+noise power over frames
    ber                       per user, bit errors / bits against the known QPSK data
    frames                    frames run
    snapshot_model_error_rel  max over nodes and frames of ‖Y_n − μ_n‖/‖μ_n‖: noise-off node snapshots
                              against core.model.sensing_mean (eq. 3/5) with the channel's phases

(the keys are a contract), and ``calibration`` {method, residuals, jumps, state, frames_used} (issue 13:
``--impairments PRESET|FILE`` puts the [impairments] on the synthetic air, ``--calibration FILE|auto`` gives
the nodes a calibration; with a calibration the model's X_m carry its transmit delays, as the central
unit's do; the direct paths and reflector of an impaired air are not in eq. 3/5, so they count as model
error here). ``--precoders random`` skips the solver: random beamformers scaled to the
per-antenna power (a fraction ``--comm-fraction`` to the users), for checking the chain alone.

Issue 14: on an impaired air (``--background auto``, the default with --impairments not ideal; or a file) the
static background of every link (direct paths, self-coupling, clutter: core.interference) is learned from a
noise-off clear-scene capture of the same air and subtracted from the snapshots; ``interference`` then
reports it (core.interference.Suppressor.summary) with ``snapshot_model_error_rel``: what the suppressed
snapshots hold besides the echoes (the residual at the targets' true positions with their amplitudes
fitted, ‖P⊥ y‖/‖μ‖ max over frames: beyond-CP leakage, quantisation, the background's error), and ``crb_with_nuisance_m2``
beside ``crb_position_m2`` (both of the designed precoders).
"""

import math
import time

import numpy as np

from ..core import calibration_apply, channels, fim, fusion, localizer, model, ofdm, sinr
from ..core.precoder_sets import DEFAULT_COMM_FRACTION, designed_precoders, random_precoders  # noqa: F401
from ..hier import system
from ..core.design_options import DEFAULT_OBJECTIVE, OBJECTIVES
from .cli import (add_background_arguments, interference_report, resolve_suppressor,
                  UsageError, Progress, add_impairment_arguments, add_progress_option, add_scenario_argument,
                  calibration_report, finite_float, impaired_scenario, load_checked_scenario, print_json,
                  print_scenario_warnings, resolve_calibration, resolve_precoders)


def register(subparsers):
    parser = subparsers.add_parser(
        "loopback", help="run designed precoders through the PHY chain on synthetic channels, report SINR/BER",
        description="A link-level check of the PHY: the precoders through every node's transmitter, noise-off "
                    "sensing channels and the comm channel to every user; SINR and BER against the design.")
    add_scenario_argument(parser)
    parser.add_argument("--sinr-db", type=finite_float("--sinr-db", -50.0, 60.0), default=10.0,
                        help="SINR threshold Γ_c of the design (dB, default 10)")
    parser.add_argument("--objective", choices=OBJECTIVES, default=DEFAULT_OBJECTIVE,
                        help=f"design objective (default {DEFAULT_OBJECTIVE})")
    parser.add_argument("--frames", type=int, default=200, help="frames to run (default 200)")
    parser.add_argument("--seed", type=int, default=0, help="data seed; the channel seed is seed + 1")
    parser.add_argument("--precoders", choices=("designed", "random"), default="designed",
                        help="designed (core.beamformer, default) or random beamformers")
    parser.add_argument("--comm-fraction", type=finite_float("--comm-fraction", 0.0, 1.0),
                        default=DEFAULT_COMM_FRACTION,
                        help="with --precoders random: share of each antenna's power given to the users (default 0.5)")
    add_impairment_arguments(parser)
    add_background_arguments(parser)
    add_progress_option(parser)
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=run_command)


def run_loopback(scenario, wc, wr, frames, seed=0, channel_seed=1, on_progress=None, calibration=None,
                 suppressor=None):
    """Run the chain for ``frames`` frames with per-node precoders wc (N, Mt, U), wr (N, Mt, Mt); a dict.
    ``scenario`` is the air's; ``calibration`` (None: none) goes to every node; ``suppressor`` (a
    core.interference.Suppressor or None) cleans the snapshots before the second model comparison."""
    from gnuradio import blocks, gr

    from ..blocks import tags

    s = scenario
    layout = ofdm.layout_from_scenario(s)
    tb = gr.top_block("disac_loopback")
    sources, nodes, _ = system.add_synthetic_nodes(tb, s, range(s.num_nodes), wc, wr, frames, seed, channel_seed,
                                                   noise=False, calibration=calibration if calibration else "")
    users = system.add_user_side(tb, s, sources, seed, channel_seed, noise=True)
    stores = [blocks.message_debug() for _ in range(s.num_nodes)]
    for n, store in enumerate(stores):
        tb.msg_connect((nodes[n], tags.SNAPSHOT_PORT), (store, "store"))
    system.keep(tb, *stores)
    system.run_to_end(tb, lambda: min(user.accumulator.frames for user in users.users), on_progress)

    # noise-off snapshots against eq. (3)/(5) with the frames regenerated from (seed, node, frame, W)
    error = 0.0
    suppressed_error = 0.0
    echo_fit = None
    snaps = [[snap for i in range(store.num_messages()) for snap in tags.snapshots_from_pmt(store.get_message(i))]
             for store in stores]
    received = min(len(node_snaps) for node_snaps in snaps)
    if received:
        numbers = np.array([snap.frame for snap in snaps[0][:received]])
        x = np.stack([ofdm.transmitted_frames(layout, seed, numbers, m, wc[m], wr[m]) for m in range(s.num_nodes)], axis=1)
        if calibration is not None:  # the model's X_m with the calibration's tx delays and chain magnitudes (docs/air-model.md §3)
            x = x * calibration_apply.model_tx_factors(calibration, s.subcarriers, s.bandwidth_hz)[None, :, :, :, None]
        amps = channels.linked_amplitudes(s.target_amplitudes(), channels.node_phases_rad(channel_seed, numbers, s.num_nodes))
        for f in range(received):
            mu = model.sensing_mean(s.target_angles_rad(), s.target_delays_s(), amps[f], x[f], s.rx_antennas, s.bandwidth_hz)
            for n in range(s.num_nodes):
                if snaps[n][f].frame != numbers[f]:
                    raise RuntimeError(f"node {n + 1} snapshot {f} is frame {snaps[n][f].frame}, expected {numbers[f]}")
                error = max(error, float(np.linalg.norm(snaps[n][f].samples - mu[n]) / np.linalg.norm(mu[n])))
            if suppressor is not None:  # what is left besides the echoes: the residual at the true positions with
                # the link amplitudes fitted (the calibration's per-node gauge and the oscillators' phases are the
                # amplitudes' business), relative to the echoes
                cleaned = suppressor.apply({n: snaps[n][f].samples for n in range(s.num_nodes)},
                                           {m: x[f, m] for m in range(s.num_nodes)})
                if echo_fit is None:
                    echo_fit = localizer.Localizer(s.node_positions_m, s.tx_antennas, s.rx_antennas, s.subcarriers,
                                                   s.bandwidth_hz, localizer.default_search_region(s), grid_step_m=10.0)
                left = echo_fit.concentrated_cost(np.stack([cleaned[n] for n in range(s.num_nodes)]), x[f],
                                                  s.target_positions_m)
                suppressed_error = max(suppressed_error, math.sqrt(left) / float(np.linalg.norm(mu)))
    designed = sinr.to_db(sinr.sinr_from_beamformers(s.user_channels(), wc, wr, s.user_noise_power))
    return {
        "scenario": s.name,
        "frames": int(min(user.accumulator.frames for user in users.users)),
        "sinr_designed_db": designed.tolist(),
        "sinr_measured_db": users.measured_sinr_db(),
        "ber": users.ber(),
        "snapshot_frames": int(received),
        "snapshot_model_error_rel": error if received else None,
        "calibration": calibration_report(calibration),
        "interference": None if suppressor is None else dict(
            suppressor.summary(), snapshot_model_error_rel=suppressed_error if received else None),
    }


def run_command(args):
    if args.frames < 1:
        raise UsageError(f"--frames {args.frames!r}: accepted: a positive number of frames")
    scenario = impaired_scenario(load_checked_scenario(args.scenario), args)
    print_scenario_warnings(scenario)
    started = time.perf_counter()
    calibration = resolve_calibration(scenario, args, args.seed, args.seed + 1)
    if args.precoders == "random":
        wc, wr = random_precoders(scenario, args.comm_fraction, args.seed)  # the fraction is checked by argparse
    else:
        wc, wr = resolve_precoders(scenario, "designed", args.sinr_db, args.seed, args.objective)
    suppressor = resolve_suppressor(scenario, args, wc, wr, args.seed, args.seed + 1, calibration, noise=False)
    progress = Progress(args.frames, "disac loopback", args)
    try:
        result = run_loopback(scenario, wc, wr, args.frames, args.seed, args.seed + 1, progress.callback, calibration,
                              suppressor)
    finally:
        progress.close()
    rx = scenario.without_impairments()
    result["crb_position_m2"] = float(np.sum(fusion.position_crb_per_target_m2(fim.SensingGeometry.from_scenario(rx),
                                                                               wc, wr)))
    result["crb_with_nuisance_m2"] = interference_report(suppressor, rx, wc, wr)[1]
    result["sinr_threshold_db"] = args.sinr_db if args.precoders == "designed" else None
    result["objective"] = args.objective if args.precoders == "designed" else None
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
