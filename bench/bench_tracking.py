# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tracking end to end (issue 15 item 4, done-when): the moving-targets scene (examples/scenarios/moving-targets.toml:
three targets at 1, 5 and 10 m/s, one appearing at 5 s and leaving at 17 s) for 30 s at 10 frames/s = 300 frames
through the whole GNU Radio chain (apps/track_cmd.run_tracking: hier.system.run_synthetic_system, full ML search
per frame, K told or detected), tracked by core.tracking. Prints per configuration: tracks lost, swaps, track and
per-frame RMSE and their ratio (done when ≤ 0.5), the per-track RMSE beside its PCRB, and the wall time per frame
with the load average (a shared machine: the time is only indicative). The test (tests/test_tracking.py) runs a
shorter scene time; this is the full 30 s.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/bench_tracking.py [--duration-s 30] [--seeds 0 1] [--known-k-only]
"""

import argparse
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
HERE = os.path.dirname(os.path.abspath(__file__))

import gnuradio  # noqa: E402

gnuradio.__path__.insert(0, os.path.join(HERE, "..", "python"))

from gnuradio.disac.apps import cli, track_cmd  # noqa: E402

SCENE = os.path.join(HERE, "..", "examples", "scenarios", "moving-targets.toml")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration-s", type=float, default=30.0)
    parser.add_argument("--frame-interval-s", type=float, default=0.1)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--known-k-only", action="store_true", help="skip the unknown-K runs (--max-targets 4)")
    args = parser.parse_args()
    cli.quiet_gnuradio_info()
    scenario = track_cmd.moving_scene(cli.load_checked_scenario(SCENE), args.frame_interval_s)
    frames = int(round(args.duration_s / args.frame_interval_s))
    wc, wr = cli.resolve_precoders(scenario.without_impairments(), "designed", 10.0, 0, "paper")
    print(f"{scenario.name}: {frames} frames over {args.duration_s:g} s; load average {os.getloadavg()}")
    for max_targets in [None] if args.known_k_only else [None, 4]:
        for seed in args.seeds:
            started = time.perf_counter()
            r = track_cmd.run_tracking(scenario, wc, wr, frames, seed, max_targets)
            wall = time.perf_counter() - started
            print(f"K {'told' if max_targets is None else f'detected (≤ {max_targets})'}, seed {seed}: "
                  f"{len(r['tracks'])} tracks, lost {r['tracks_lost']}, swaps {r['track_swaps']}, "
                  f"track RMSE {r['track_rmse_m']:.3f} m / frame RMSE {r['frame_rmse_m']:.3f} m = "
                  f"{r['track_over_frame_rmse']:.3f}; false track-frames {r['false_track_frames']}; "
                  f"{1e3 * wall / frames:.0f} ms/frame (load {os.getloadavg()[0]:.2f})")
            for t in r["tracks"]:
                if t["rmse_m"] is not None:
                    print(f"    track {t['id']} (target {t['truth_target']}, frames {t['first_frame']}–{t['last_frame']}):"
                          f" RMSE {t['rmse_m']:.3f} m (PCRB {t['crb_m']:.3f}, q = 0: {t['crb_constant_velocity_m']:.3f}),"
                          f" velocity {t['velocity_rmse_mps']:.3f} m/s (PCRB {t['crb_velocity_mps']:.3f}, q = 0: "
                          f"{t['crb_velocity_constant_velocity_mps']:.3f})")


if __name__ == "__main__":
    main()
