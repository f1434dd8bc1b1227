# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Detection with an unknown number of targets (issue 15 item 3): the figures of docs/localization.md
"Unknown number of targets".

The paper geometry with K = 0 … 4 targets (tests/test_detection.py's scenes: the paper's two, then [0, 80] and
[−20, −60]; every target at the paper's β, scaled by the SNR offset), the paper's designed precoders
(Γ_c = 10 dB), frames through the core path (impairment_trials.receive_snapshots → core.fusion.FrameEstimator
with max_targets). Prints markdown tables:

1. the noise-only law: the rate at which noise-only frames exceed the calibrated threshold, against the set
   rate (and the union bound's), from --noise-frames noise-only frames;
2. GLRT stop rule (the central unit's) and CFAR on the fused map, at the paper's SNR: P(K̂ = K), false and
   missed targets per frame, ms per frame;
3. GLRT against the per-target SNR (the paper's β scaled: SNR offsets in dB).

    OPENBLAS_NUM_THREADS=1 /work/main/.venv/bin/python bench/bench_detection.py [--frames 100]
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

import numpy as np  # noqa: E402

from disac.core import (detection, fusion, impairment_trials, localizer, ofdm, precoder_sets,  # noqa: E402
                        trial_stats)
from disac.core.scenario import load_scenario  # noqa: E402

SCENE_TARGETS_M = np.array([[-65.0, 25.0], [50.0, 5.0], [0.0, 80.0], [-20.0, -60.0]])
MAX_TARGETS = 6


def scene(paper, k, snr_offset_db=0.0):
    beta = paper.target_amplitude * 10 ** (snr_offset_db / 20) if k else 0.0
    return paper.replace(target_positions_m=SCENE_TARGETS_M[:max(k, 1)], target_amplitude=beta)


def frame_set(frame, snapshots):
    nodes = range(len(snapshots))
    return fusion.FrameSet(int(frame), {n: snapshots[n] for n in nodes}, {n: 0 for n in nodes}, 0.0,
                           precoder_ids={n: 0 for n in nodes})


def run(paper, wc, wr, table, loc, model, k, frames, snr_offset_db=0.0, method="glrt", rate=1e-3):
    air = scene(paper, k, snr_offset_db)
    snaps = impairment_trials.receive_snapshots(air, wc, wr, frames, seed=0, channel_seed=1)
    estimator = fusion.FrameEstimator(air if k else paper, 0, loc, max_targets=MAX_TARGETS, null_model=model,
                                      false_alarm_rate=rate)
    estimates, started = {}, time.perf_counter()
    for i, f in enumerate(frames):
        fs = frame_set(f, snaps[i])
        if method == "glrt":
            estimates[int(f)] = estimator.estimate(fs, table)
        else:
            inputs, _ = estimator.prepare(fs, table)
            found = detection.cfar_detect(loc, inputs.snapshots, inputs.frames, MAX_TARGETS, rate, inputs.rx_nodes,
                                          inputs.tx_nodes, null_model=model)
            estimates[int(f)] = fusion.Estimate(int(f), 0, found.positions_m, np.full(found.count, np.nan),
                                                found.residual, inputs.rx_nodes, True, True)
    ms = 1000 * (time.perf_counter() - started) / len(frames)
    stats = trial_stats.detection_statistics(trial_stats.true_targets_m(air), estimates,
                                             trial_stats.default_gate_m(paper))
    return stats, ms


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100, help="frames per K and SNR (default 100)")
    parser.add_argument("--noise-frames", type=int, default=2000, help="noise-only frames for table 1")
    parser.add_argument("--snr-offsets-db", type=float, nargs="+", default=[-20.0, -15.0, -10.0, -5.0])
    parser.add_argument("--first-frame", type=int, default=1000, help="first frame number (tests use 0 …)")
    args = parser.parse_args()
    paper = load_scenario("paper")
    wc, wr = precoder_sets.resolve_precoders(paper, "designed", 10.0, 0)
    lay = ofdm.layout_from_scenario(paper)
    table = fusion.PrecoderTable(lay)
    table.set_start(0, wc, wr)
    loc = localizer.Localizer.from_scenario(paper)
    started = time.perf_counter()
    model = fusion.FrameEstimator(paper, 0, loc, max_targets=MAX_TARGETS).calibrate_start(table)
    calibration_s = time.perf_counter() - started
    print(f"load average at start: {open('/proc/loadavg').read().split()[:3]}")
    print(f"null model: {model} (calibration {calibration_s:.1f} s, {len(loc.grid_m)} grid points)\n")

    frames = np.arange(args.first_frame, args.first_frame + args.noise_frames)
    x = np.stack([ofdm.transmitted_frames(lay, 0, frames, m, wc[m], wr[m]) for m in range(2)], axis=1)
    maxima = detection.max_statistics_noise_only(loc, list(x), None, None, len(frames), seed=4242)
    union = detection.bonferroni_null_model(loc, 2, 2)
    print(f"1. noise-only frames ({len(frames)}): rate of a false target (max statistic above the threshold)\n")
    print("| set P_fa | η used (σ²) | measured rate | η, calibrated G_eff alone | measured | η, union bound | measured |")
    print("|---|---|---|---|---|---|---|")
    alone = detection.NullModel(model.dof, model.effective_cells, "calibrated", 10 ** 9, model.grid_points)
    for rate in (0.2, 0.1, 0.05, 0.02, 0.01, 0.001):
        etas = (model.threshold(rate), alone.threshold(rate), union.threshold(rate))
        print(f"| {rate:g} | " + " | ".join(f"{eta:.2f} | {np.mean(maxima > eta):.4f}" for eta in etas) + " |")

    trial_frames = np.arange(args.first_frame, args.first_frame + args.frames)
    print(f"\n2. paper SNR (each target at the paper's β), P_fa = 1e-3, {args.frames} frames per K\n")
    print("| method | K | P(K̂ = K) | false targets / frame | missed targets / frame | K̂ histogram | ms / frame |")
    print("|---|---|---|---|---|---|---|")
    for method in ("glrt", "cfar"):
        for k in range(5):
            stats, ms = run(paper, wc, wr, table, loc, model, k, trial_frames, 0.0, method)
            print(f"| {method} | {k} | {stats['k_detected_rate']:.3f} | {stats['false_targets_per_frame']:.3f} | "
                  f"{stats['missed_targets_per_frame']:.3f} | {stats['detected_count_histogram']} | {ms:.0f} |")
    print(f"\n3. GLRT against the per-target SNR (offset from the paper's β), P_fa = 1e-3, {args.frames} frames per "
          "point (K = 0 is noise only: table 2)\n")
    print("| SNR offset (dB) | K | P(K̂ = K) | false targets / frame | missed targets / frame | K̂ histogram |")
    print("|---|---|---|---|---|---|")
    for offset in args.snr_offsets_db:
        for k in range(1, 5):
            stats, _ = run(paper, wc, wr, table, loc, model, k, trial_frames, offset)
            print(f"| {offset:g} | {k} | {stats['k_detected_rate']:.3f} | {stats['false_targets_per_frame']:.3f} | "
                  f"{stats['missed_targets_per_frame']:.3f} | {stats['detected_count_histogram']} |")
    print(f"\nload average at end: {open('/proc/loadavg').read().split()[:3]}")


if __name__ == "__main__":
    main()
