#!/usr/bin/env python3
# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Issue 15 item 2, beyond the paper: how much of the P → ∞ floor of the achievable bound each design or data
layout removes, at equal SINR (Γ_c = 10 dB by default), on the paper scenario and the three-node one.

    floor  = E_φ[CRB(F(Θ; φ))], the phase-conditional position CRB of CoMP data averaged over uniform oscillator
             phases: core.achievable.achievable_crb_m2(..., symbols=inf) for the designs (± its error estimate),
             core.design_achievable.mean_position_crb_m2 on the same phase grid for the data layouts
    paper  = the expected-FIM position CRB (eq. 10–13) of the same beamformers
    ratio  = floor / paper bound of the paper-objective design;  removed = share of the paper design's excess
             (floor − its paper bound) that the row takes away (negative: adds to it)

Run: OPENBLAS_NUM_THREADS=1 /work/main/.venv/bin/python bench/bench_design_achievable.py [--sinr-db 10]
(from the worktree root; puts python/ on the path the way conftest.py does).
"""

import argparse
import math
import os
import sys
import time

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
import gnuradio  # noqa: E402

gnuradio.__path__.insert(0, os.path.join(_ROOT, "python"))
sys.modules.pop("gnuradio.disac", None)

import numpy as np  # noqa: E402

from gnuradio.disac.core import achievable, beamformer, design_achievable as da, fim  # noqa: E402
from gnuradio.disac.core.scenario import load_scenario  # noqa: E402

SCENARIOS = ("paper", os.path.join(_ROOT, "tests", "scenarios", "three_nodes_calibration.toml"))


def rows_for(path, sinr_db):
    scenario = load_scenario(path)
    geom = fim.SensingGeometry.from_scenario(scenario)
    joint_map = da.JointFimMap(geom)
    N = scenario.num_nodes
    out = []
    grid = da.evaluation_phase_sets(N)

    def add(label, wc, wr, sinr, seconds, note=""):
        report = achievable.achievable_crb_m2(scenario, wc, wr, symbols=math.inf)
        out.append(dict(label=label, floor=report["achievable_m2"], stderr=report["standard_error_m2"],
                        paper=report["paper_m2"], sinr=min(sinr), seconds=seconds, note=note))

    def add_layout(label, design, layout_map=None, symbol_phases=None, blocks=None):
        layout_map = layout_map or joint_map
        Y = layout_map.blocks(design.Wc, design.Wr) if blocks is None else blocks
        floor = da.mean_position_crb_m2(layout_map, Y, grid, symbol_phases_rad=symbol_phases)
        out.append(dict(label=label, floor=floor, stderr=None, paper=design.crb_position_extracted_m2,
                        sinr=min(design.sinr_extracted_db), seconds=float("nan"), note=""))

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
            out.append(dict(label="  its joint-covariance relaxation alone (rank > 1: not CoMP)", floor=value, stderr=None,
                            paper=value, sinr=float("nan"), seconds=float("nan"),
                            note="the SDR optimum; = the position problem's (§8)"))
    paper = designs["paper"]
    # data layouts with the paper design's beams (SINR of eq. 17 and the expected FIM unchanged)
    L = scenario.subcarriers
    for delta in (L / N, 1.0):
        add_layout(f"paper design + cyclic delay {delta:g} samples/node", paper,
                   layout_map=da.JointFimMap(geom, da.cyclic_delay_phases(geom, delta)))
    rng = np.random.default_rng(0)
    add_layout("paper design + random phase per node and bin", paper,
               layout_map=da.JointFimMap(geom, 2 * np.pi * rng.random((N, L))))
    hopping = 2 * np.pi * np.outer(np.arange(N), np.arange(N)).T / N  # (P = N, N): symbol p of node m × e^{j2πmp/N}
    add_layout(f"paper design + DFT phase hopping over P = {N} symbols", paper, symbol_phases=hopping)
    add_layout("paper design, independent data per node (STBC)", paper,
               blocks=joint_map.blocks(paper.Wc, paper.Wr) * np.eye(N)[:, :, None, None])
    return scenario, out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sinr-db", type=float, default=10.0)
    args = parser.parse_args()
    with open("/proc/loadavg") as handle:
        print(f"load average: {handle.read().split()[:3]}; Γ_c = {args.sinr_db:g} dB")
    for path in SCENARIOS:
        scenario, rows = rows_for(path, args.sinr_db)
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
            error = "" if row["stderr"] is None else f" ± {row['stderr']:.1g}"
            print(f"| {row['label']} | {sinr} | {row['paper']:.5g} | {row['floor']:.5g}{error} | "
                  f"{row['floor'] / base_paper:.4f} | {100 * removed:.1f} % | {seconds} |"
                  + (f" {row['note']}" if row["note"] else ""))
    with open("/proc/loadavg") as handle:
        print(f"\nload average at the end: {handle.read().split()[:3]}")


if __name__ == "__main__":
    main()
