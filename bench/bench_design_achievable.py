#!/usr/bin/env python3
# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Issue 15 item 2, beyond the paper: how much of the P → ∞ floor of the achievable bound each design or data
layout removes, at equal SINR (Γ_c = 10 dB by default), on the paper scenario and the three-node one.

    floor  = E_φ[CRB(F(Θ; φ))], the phase-conditional position CRB of CoMP data averaged over fresh uniform
             oscillator phases (core.design_achievable.floor_crb_m2; ± its Monte-Carlo standard error)
    paper  = the expected-FIM position CRB (eq. 10–13) of the same beamformers
    ratio  = floor / paper bound of the paper-objective design;  removed = share of the paper design's excess
             (floor − its paper bound) that the row takes away (negative: adds to it)

Run: OPENBLAS_NUM_THREADS=1 /work/main/.venv/bin/python bench/bench_design_achievable.py [--sinr-db 10] [--draws 8192]
(from the worktree root; puts python/ on the path the way conftest.py does).
"""

import argparse
import os
import sys
import time

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
import gnuradio  # noqa: E402

gnuradio.__path__.insert(0, os.path.join(_ROOT, "python"))
sys.modules.pop("gnuradio.disac", None)

import numpy as np  # noqa: E402

from gnuradio.disac.core import beamformer, design_achievable as da, fim  # noqa: E402
from gnuradio.disac.core.scenario import load_scenario  # noqa: E402

SCENARIOS = ("paper", os.path.join(_ROOT, "tests", "scenarios", "three_nodes_calibration.toml"))


def rows_for(path, sinr_db, draws, seed):
    scenario = load_scenario(path)
    geom = fim.SensingGeometry.from_scenario(scenario)
    joint_map = da.JointFimMap(geom)
    N = scenario.num_nodes
    out = []

    def add(label, wc, wr, sinr, seconds, layout_map=None, symbol_phases=None, note=""):
        report = da.floor_crb_m2(layout_map or joint_map, wc, wr, draws=draws, seed=seed, symbol_phases_rad=symbol_phases)
        out.append(dict(label=label, floor=report["floor_m2"], stderr=report["floor_stderr_m2"], paper=report["paper_m2"],
                        sinr=min(sinr), seconds=seconds, note=note))

    designs = {}
    for objective in ("paper", "position", "achievable"):
        start = time.perf_counter()
        designer = beamformer.BeamformerDesigner(scenario, objective=objective)
        result = designer.solve(sinr_db)
        seconds = time.perf_counter() - start
        assert result.ok, (path, objective, result.status)
        designs[objective] = result
        note = ""
        if objective == "achievable":
            ev = np.linalg.eigvalsh(result.Rc_joint)
            note = (f"S = {designer.phase_sets}; rank-one steps {designer.rank_steps}, iterate {designer.selected_step} "
                    f"kept (floors on the selection lattice {', '.join(f'{v:.4g}' for v in designer.step_floors_m2)}); "
                    f"largest λ2/λ1 {np.max(ev[:, -2] / ev[:, -1]):.1e}")
        add(f"design {objective}", result.Wc, result.Wr, result.sinr_extracted_db, seconds, note=note)
        if objective == "achievable":
            value = designer.relaxed_objective_m2
            out.append(dict(label="  its joint-covariance relaxation alone (rank > 1: not CoMP)", floor=value, stderr=0.0,
                            paper=value, sinr=float("nan"), seconds=float("nan"),
                            note="the SDR optimum; = the position problem's (§8)"))
    paper = designs["paper"]
    # data layouts with the paper design's beams (SINR of eq. 17 and the expected FIM unchanged)
    L = scenario.subcarriers
    for delta in (L / N, 1.0):
        layout = da.JointFimMap(geom, da.cyclic_delay_phases(geom, delta))
        add(f"paper design + cyclic delay {delta:g} samples/node", paper.Wc, paper.Wr, paper.sinr_extracted_db,
            float("nan"), layout_map=layout)
    rng = np.random.default_rng(0)
    layout = da.JointFimMap(geom, 2 * np.pi * rng.random((N, L)))
    add("paper design + random phase per node and bin", paper.Wc, paper.Wr, paper.sinr_extracted_db, float("nan"),
        layout_map=layout)
    hopping = 2 * np.pi * np.outer(np.arange(N), np.arange(N)).T / N  # (P = N, N): symbol p of node m × e^{j2πmp/N}
    add(f"paper design + DFT phase hopping over P = {N} symbols", paper.Wc, paper.Wr, paper.sinr_extracted_db,
        float("nan"), symbol_phases=hopping)
    zero_cross = da.floor_from_blocks(joint_map, joint_map.blocks(paper.Wc, paper.Wr) * np.eye(N)[:, :, None, None],
                                      draws=draws, seed=seed)
    out.append(dict(label="paper design, independent data per node (STBC)", floor=zero_cross["floor_m2"],
                    stderr=zero_cross["floor_stderr_m2"], paper=zero_cross["paper_m2"],
                    sinr=min(paper.sinr_extracted_db), seconds=float("nan"), note=""))
    return scenario, out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sinr-db", type=float, default=10.0)
    parser.add_argument("--draws", type=int, default=8192)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with open("/proc/loadavg") as handle:
        print(f"load average: {handle.read().split()[:3]}; Γ_c = {args.sinr_db:g} dB; {args.draws} phase draws, "
              f"seed {args.seed}")
    for path in SCENARIOS:
        scenario, rows = rows_for(path, args.sinr_db, args.draws, args.seed)
        base_floor, base_paper = rows[0]["floor"], rows[0]["paper"]
        print(f"\n### {scenario.name}: N = {scenario.num_nodes}, Mt = {scenario.tx_antennas}, K = {scenario.num_targets}, "
              f"U = {scenario.num_users}\n")
        print("| row | min SINR (dB) | paper bound (m²) | floor P→∞ (m²) | floor / paper bound of paper design | "
              "floor removed | time (s) |")
        print("|---|---|---|---|---|---|---|")
        for row in rows:
            removed = (base_floor - row["floor"]) / (base_floor - base_paper)
            seconds = "" if not np.isfinite(row["seconds"]) else f"{row['seconds']:.2f}"
            sinr = "" if not np.isfinite(row["sinr"]) else f"{row['sinr']:.4f}"
            print(f"| {row['label']} | {sinr} | {row['paper']:.5g} | {row['floor']:.5g} ± {row['stderr']:.2g} | "
                  f"{row['floor'] / base_paper:.4f} | {100 * removed:.1f} % | {seconds} |"
                  + (f" {row['note']}" if row["note"] else ""))
    with open("/proc/loadavg") as handle:
        print(f"\nload average at the end: {handle.read().split()[:3]}")


if __name__ == "__main__":
    main()
