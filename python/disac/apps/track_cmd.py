# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""`disac track [SCENARIO] --duration-s T [--frame-interval-s S] [--seed] [--max-targets N [--false-alarm-rate P]]
--json`: a moving scene
end to end, the central unit's per-frame estimates tracked (core/tracking.py, docs/tracking.md).

The scene: SCENARIO's targets with their [targets] velocities_mps / appear_s / leave_s (SPEC15 §0), frame f at
scene time t_f = f · S (--frame-interval-s, default 0.1 s: 10 frames/s; T/S frames). The chain: the GNU Radio
system of `disac localize` in one flowgraph (hier.system.run_synthetic_system: every node's isac_tx → the moving
sensing air → node_rx → ZeroMQ inproc → central_unit, full ML search per frame; with --max-targets N the unit
finds K̂ ∈ 0 … N itself, else it is told K). The receive side's tracker (core.tracking.MultiTargetTracker, Stone
Soup) takes every frame's estimates with their 2×2 position CRB at the estimated positions; the scores compare
the tracks with the scene's truth. JSON keys (contract, defined in core/tracking.py's docstring):

    tracks          [{id, truth_target, rmse_m, velocity_rmse_mps, crb_m, crb_velocity_mps, frames, ...}]
    tracks_lost     targets present ≥ lost_after_frames frames in a row without a matched track
    track_swaps     track ids that followed two targets, plus id switches
    track_rmse_m    RMSE of the confirmed tracks' positions (every matched track-frame)
    frame_rmse_m    RMSE of the per-frame estimates on the same frames

and, besides: velocity_rmse_mps, track_over_frame_rmse, false_track_frames, unmatched_estimates, frames,
frame_interval_s, duration_s, gate_m, seed, tracker (its settings), frames_skipped, detections_dropped, elapsed_s.
"""

import math
import time

from ..core import fim, fusion, tracking
from ..core.trial_stats import scenario_at_snr
from ..hier import system
from .cli import (UsageError, add_precoder_arguments, add_progress_option, add_scenario_argument, finite_float,
                  load_checked_scenario, print_json, print_scenario_warnings, Progress, quiet_gnuradio_info,
                  resolve_precoders, whole_number)

DEFAULT_FRAME_INTERVAL_S = 0.1


def register(subparsers):
    parser = subparsers.add_parser(
        "track", help="a moving scene end to end: tracks, their errors and their posterior CRB",
        description="Run a moving scene through the whole sensing chain (GNU Radio, one flowgraph) for a duration "
                    "and track the central unit's estimates (Stone Soup CV tracker): track ids, errors against "
                    "the truth, per-track posterior CRB, lost tracks and swaps.")
    add_scenario_argument(parser)
    parser.add_argument("--duration-s", type=finite_float("--duration-s", 0.0), required=True,
                        help="scene time to run, seconds (frames = duration / frame interval)")
    parser.add_argument("--frame-interval-s", type=finite_float("--frame-interval-s", 0.0), default=None,
                        help="scene time between frames, seconds (default the scenario's [ofdm] frame_interval_s, "
                             f"or {DEFAULT_FRAME_INTERVAL_S:g} s: 10 frames/s, where it sets none)")
    parser.add_argument("--seed", type=int, default=0, help="data seed; the channel seed is seed + 1")
    parser.add_argument("--max-targets", type=whole_number("--max-targets", 1, 16), default=None,
                        help="unknown K: the central unit detects 0 … N targets per frame (default: told K)")
    parser.add_argument("--false-alarm-rate", type=finite_float("--false-alarm-rate", 0.0, 1.0), default=None,
                        help="with --max-targets: probability of a false target in a frame without one "
                             "(default the central unit's, 1e-3)")
    parser.add_argument("--snr-db", type=finite_float("--snr-db", -60.0, 80.0), default=None,
                        help="target SNR in the paper's definition (dB; default the scenario's)")
    add_precoder_arguments(parser, default="designed")
    parser.add_argument("--gate-m", type=finite_float("--gate-m", 0.0), default=None,
                        help="scoring gate: a track or estimate within it of a target is matched (default c/(4B))")
    parser.add_argument("--acceleration-psd", type=finite_float("--acceleration-psd", 0.0), default=None,
                        help=f"the tracker's white-acceleration PSD q, m²/s³ (default "
                             f"{tracking.DEFAULT_ACCELERATION_PSD_M2_S3:g})")
    add_progress_option(parser)
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=run_command)


def frame_interval_s(scenario, option_s):
    """--frame-interval-s if given, else the scenario's [ofdm] frame_interval_s if it sets one, else 0.1 s (frames
    back to back, the scenario's default, would move a target by micrometres over a run)."""
    if option_s is not None:
        return float(option_s)
    given = scenario.frame_interval_setting_s
    return DEFAULT_FRAME_INTERVAL_S if given is None else float(given)


def moving_scene(scenario, interval_s):
    """The scenario with its frame interval set ([ofdm] frame_interval_s, SPEC15 §0)."""
    try:
        return scenario.replace(frame_interval_setting_s=interval_s)
    except ValueError as exc:
        raise UsageError(f"--frame-interval-s {interval_s!r}: {exc}") from None


def run_tracking(scenario, wc, wr, frames, seed=0, max_targets=None, gate_m=None, tracker=None, on_progress=None,
                 false_alarm_rate=None):
    """The chain for `frames` frames (max_targets None: the central unit is told K), the tracker over its
    estimates, the scores (a dict)."""
    started = time.perf_counter()
    estimates, status, _ = system.run_synthetic_system(scenario, wc, wr, frames, seed, seed + 1, "full",
                                                       on_progress=on_progress, max_targets=max_targets or 0,
                                                       false_alarm_rate=false_alarm_rate)
    receive = scenario.without_impairments()
    covariances = fusion.transmit_covariances(wc, wr)
    tracker = tracker or tracking.MultiTargetTracker()
    frames_out, dropped, tracker = tracking.track_estimates(
        estimates, receive.frame_time_s, fim.SensingGeometry.from_scenario(receive), covariances,
        receive.target_amplitude, tracker)
    result = tracking.score_run(scenario, covariances, frames_out, gate_m, tracker)
    result.update(frames_skipped=status["frames_skipped"], detections_dropped=dropped, seed=seed,
                  max_targets=max_targets, false_alarm_rate=false_alarm_rate, elapsed_s=time.perf_counter() - started,
                  tracker={"acceleration_psd_m2_s3": tracker.acceleration_psd_m2_s3,
                           "gate_probability": tracker.gate_probability, "confirm_hits": tracker.confirm_hits,
                           "confirm_gap_frames": tracker.confirm_gap_frames,
                           "delete_after_misses": tracker.delete_after_misses,
                           "velocity_prior_mps": tracker.velocity_prior_mps})
    return result


def run_command(args):
    if args.false_alarm_rate is not None and args.max_targets is None:
        raise UsageError(f"--false-alarm-rate {args.false_alarm_rate!r}: accepted only with --max-targets N "
                         "(with K known there is nothing to detect)")
    try:
        tracker = tracking.MultiTargetTracker(**({} if args.acceleration_psd is None
                                                 else {"acceleration_psd_m2_s3": args.acceleration_psd}))
    except ValueError as exc:
        raise UsageError(f"--acceleration-psd {args.acceleration_psd!r}: {exc}") from None
    quiet_gnuradio_info()
    scenario = load_checked_scenario(args.scenario)
    interval_s = frame_interval_s(scenario, args.frame_interval_s)
    if not interval_s > 0:
        raise UsageError(f"--frame-interval-s {interval_s!r}: accepted: seconds > 0 (and at least the frame's duration)")
    frames = int(round(args.duration_s / interval_s))
    if frames < 1 or not math.isfinite(args.duration_s):
        raise UsageError(f"--duration-s {args.duration_s!r}: accepted: at least one frame interval "
                         f"({interval_s:g} s)")
    if args.snr_db is not None:
        scenario = scenario_at_snr(scenario, args.snr_db)
    scenario = moving_scene(scenario, interval_s)
    print_scenario_warnings(scenario)
    wc, wr = resolve_precoders(scenario.without_impairments(), args.precoders, args.sinr_db, args.seed, args.objective)
    progress = Progress(frames, "disac track", args)
    try:
        result = run_tracking(scenario, wc, wr, frames, args.seed, args.max_targets, args.gate_m, tracker,
                              progress.callback, args.false_alarm_rate)
    finally:
        progress.close()
    result.update(duration_s=frames * interval_s, frame_interval_s=interval_s, precoders=args.precoders)
    if args.json:
        print_json(result)
        return 0
    print(f"track {scenario.name}: {frames} frames over {frames * interval_s:g} s (every {interval_s:g} s), "
          f"{len(result['tracks'])} tracks, {result['tracks_lost']} lost, {result['track_swaps']} swaps")
    for track in result["tracks"]:
        if track["rmse_m"] is None:
            print(f"  track {track['id']}: {track['frames']} frames, never on a target")
            continue
        print(f"  track {track['id']} on target {track['truth_target']}: frames {track['first_frame']}–"
              f"{track['last_frame']}, RMSE {track['rmse_m']:.3g} m (PCRB {track['crb_m']:.3g} m), velocity RMSE "
              f"{track['velocity_rmse_mps']:.3g} m/s (PCRB {track['crb_velocity_mps']:.3g} m/s)")
    if result["track_rmse_m"] is not None and result["frame_rmse_m"] is not None:
        print(f"  track RMSE {result['track_rmse_m']:.3g} m vs per-frame {result['frame_rmse_m']:.3g} m "
              f"(× {result['track_over_frame_rmse']:.2f}); {result['elapsed_s']:.1f} s")
    return 0
