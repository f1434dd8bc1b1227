# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Localisation RMSE against the receivers' ADC resolution (issue 14: "a curve of RMSE against ADC bits (8…16)").

The air of the issue's hard case on the paper scenario: the direct paths at free-space level (+52 dB above the
mean echo), each node's self-coupling at 40 dB antenna isolation (~+104 dB), a B210-class TX→RX latency, and
at every point a receive front end of ``bits`` bits (engineer radio's AGC at 20 dB backoff, with and without its
60 dB RF canceller ahead of the ADC). The central unit subtracts the learned static background
(core.interference; the trials' clear-scene capture, core.impairment_trials.run_with_background_capture). Per
point: the RMSE over frames against the interference-free run of the same seeds (the same latency and
calibration, no direct path, leakage or ADC), and the failed frames.

Writes the figure (--out, default docs/figures/interference-adc-bits.png) and prints a markdown table (the one
in docs/interference.md) and the load average. The figures are statistics of seeded runs: load changes only how
long the sweep takes.

    /work/main/.venv/bin/python bench/interference_curves.py [--frames 20] [--bits 8 10 12 14 16]
"""

import argparse
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
import conftest  # noqa: E402,F401  (gnuradio.disac → this checkout's python/disac)

from gnuradio.disac.core import impairment_trials as trials  # noqa: E402
from gnuradio.disac.core.scenario import load_scenario  # noqa: E402

SEED = 3
AIR = {"direct_path": True, "direct_path_db": "free_space", "isolation_db": 40.0, "latency_samples": 100.4,
       "seed": SEED}
REFERENCE = {"latency_samples": 100.4, "seed": SEED}


def point(scenario, bits, canceller_db, frames):
    table = dict(AIR, adc_bits=int(bits), rf_canceller_db=float(canceller_db))
    run = trials.run_trials(scenario, table, "truth", frames, SEED, search="track", suppression="background",
                            reference_table=REFERENCE, with_ideal=False)
    return {"bits": int(bits), "rf_canceller_db": float(canceller_db), "rmse_m": run["rmse_m"],
            "rmse_reference_m": run["rmse_reference_m"], "ratio": run["ratio_to_reference"], "failed": run["failed"],
            "frames": frames, "crb_m": run["crb_m"],
            "residual_excess_db": run["interference"]["residual_excess_db"]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--bits", type=int, nargs="+", default=[8, 9, 10, 11, 12, 13, 14, 16])
    parser.add_argument("--out", default=os.path.join(HERE, "..", "docs", "figures", "interference-adc-bits.png"))
    parser.add_argument("--json-out", default=None)
    args = parser.parse_args(argv)
    print(f"load average: {open('/proc/loadavg').read().split()[:3]}")
    scenario = load_scenario("paper")
    rows = []
    for canceller in (60.0, 0.0):
        for bits in args.bits:
            row = point(scenario, bits, canceller, args.frames)
            rows.append(row)
            print(json.dumps(row), flush=True)
    print("\n| ADC bits | RF canceller | RMSE (m) | interference-free (m) | ratio | failed | learning residual over σ² (dB) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['bits']} | {r['rf_canceller_db']:g} dB | {r['rmse_m']:.3f} | {r['rmse_reference_m']:.3f} | "
              f"{r['ratio']:.3f} | {r['failed']}/{r['frames']} | {max(r['residual_excess_db']):.2f} |")
    if args.json_out:
        with open(args.json_out, "w") as handle:
            json.dump(rows, handle, indent=2)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for canceller, style in ((60.0, "o-"), (0.0, "s--")):
        sel = [r for r in rows if r["rf_canceller_db"] == canceller]
        ax.semilogy([r["bits"] for r in sel], [r["rmse_m"] for r in sel], style,
                    label=f"suppressed, RF canceller {canceller:g} dB" if canceller else "suppressed, no RF canceller")
    ref = [r for r in rows if r["rf_canceller_db"] == 60.0]
    ax.semilogy([r["bits"] for r in ref], [r["rmse_reference_m"] for r in ref], "k:", label="interference-free")
    ax.semilogy([r["bits"] for r in ref], [r["crb_m"] for r in ref], "g-.", label="√CRB")
    ax.set_xlabel("ADC bits (I and Q)")
    ax.set_ylabel("localisation RMSE (m)")
    ax.set_title("paper scenario: direct paths (free space) + 40 dB isolation")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f"figure: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
