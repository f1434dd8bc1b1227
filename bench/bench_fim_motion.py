# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""The bounds of one frame of P symbols with moving targets (issue 15 item 2; core/fim_motion.py; the table of
docs/fim-derivation.md §9).

For the paper scenario at 3.5 GHz and P = 1, 2, 4, 8, 16 symbols per frame (the paper's layout: one preamble and
one pilot symbol ahead of the data, L = 16, CP = 20, B = 10 MHz), targets moving at 1 and 10 m/s, it prints
- today's position CRB with P symbols (core.fim, the targets static: what the SDR designs and `disac crb` reports),
- the position CRB with the velocities unknown (position-velocity CRB) and with every link's Doppler an unknown
  nuisance, each as its ratio to today's minus one,
- the velocity CRB of one frame (RMS per target, m/s) and the largest Doppler phase change over the frame,
for the isotropic reference R_n = P_T·I and for the position-objective SDR design at Γ_c = 10 dB (designed once:
the design does not depend on P, tests/test_fim_motion.py). Headings: target k moves at 45° + k·90°.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/bench_fim_motion.py [--sinr-db 10] [--carrier-hz 3.5e9]
"""

import argparse
import dataclasses
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

import numpy as np  # noqa: E402

from disac.core import beamformer, fim, fim_motion, scenario  # noqa: E402

SYMBOLS = (1, 2, 4, 8, 16)
SPEEDS_MPS = (1.0, 10.0)


def velocities(num_targets, speed_mps):
    heading = np.pi / 4 + np.arange(num_targets) * np.pi / 2
    return speed_mps * np.stack([np.cos(heading), np.sin(heading)], axis=-1)


def rows(scn, covariances, carrier_hz):
    out = []
    for P in SYMBOLS:
        geom = dataclasses.replace(fim.SensingGeometry.from_scenario(scn), symbols=P)
        times = fim_motion.scenario_symbol_times_s(scn, symbols=P)
        today = fim.crb_report(geom, covariances).crb_position_m2
        for speed in SPEEDS_MPS:
            motion = fim_motion.MotionFimMap(geom, velocities(scn.num_targets, speed), carrier_hz, times)
            pv = motion.position_velocity_crb(covariances)
            nuisance, _ = motion.position_crb_doppler_nuisance_m2(covariances)
            spread = np.max(np.abs(2 * np.pi * motion.doppler_hz)) * (times[-1] - times[0])
            velocity_rms = (None if pv.velocity_per_target_m2_per_s2 is None
                            else [float(np.sqrt(c)) for c in pv.velocity_per_target_m2_per_s2])
            out.append((P, speed, today, pv.position_m2, nuisance, velocity_rms, spread))
    return out


def show(title, table):
    print(title)
    print("| P | speed m/s | today's CRB m² | velocity unknown / today − 1 | Doppler nuisance / today − 1 "
          "| velocity CRB, RMS per target m/s | Doppler phase over the frame rad |")
    print("|---|---|---|---|---|---|---|")
    for P, speed, today, pv, nuisance, velocity_rms, spread in table:
        vel = "unbounded" if velocity_rms is None else ", ".join(f"{v:.3g}" for v in velocity_rms)
        print(f"| {P} | {speed:g} | {today:.6g} | {pv / today - 1:+.1e} | {nuisance / today - 1:+.1e} | {vel} | {spread:.2e} |")
    print()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sinr-db", type=float, default=10.0)
    parser.add_argument("--carrier-hz", type=float, default=fim_motion.DEFAULT_CARRIER_HZ)
    args = parser.parse_args(argv)
    scn = scenario.load_scenario("paper")
    print(f"paper scenario, carrier {args.carrier_hz:g} Hz (λ = {299_792_458.0 / args.carrier_hz * 100:.3g} cm), "
          f"symbol {(scn.subcarriers + scn.cyclic_prefix) / scn.bandwidth_hz * 1e6:g} µs, load average "
          f"{open('/proc/loadavg').read().split()[0]}\n")
    isotropic = fim.isotropic_covariances(scn.num_nodes, scn.tx_antennas, scn.per_antenna_power)
    show("R_n = P_T·I (isotropic reference of `disac crb`)", rows(scn, isotropic, args.carrier_hz))
    design = beamformer.BeamformerDesigner(scn, objective="position").solve(args.sinr_db)
    if not design.ok:
        raise SystemExit(f"the design at {args.sinr_db:g} dB did not solve: {design.status} {design.message}")
    show(f"position-objective SDR design at Γ_c = {args.sinr_db:g} dB (extracted beamformers)",
         rows(scn, design.R_extracted, args.carrier_hz))


if __name__ == "__main__":
    main()
