# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""The table of issue 15 item 2: MSE / achievable bound and achievable / paper at P = 1, 2, 4, 8, ∞.

For each scenario (default: the paper preset and tests/scenarios/three_nodes_calibration.toml), precoders designed
by the SDR at Γ_c = 10 dB with the default objective at the run's target SNR (as `disac localize` does), once (the
design's argmin does not depend on P: every FIM scales with P), and for each P:

* paper      the expected-FIM position CRB of eq. (10)–(13) (Σ over targets, m²);
* achievable core.achievable.achievable_crb_m2: the conditional CRB averaged over data, radar symbols and phases
             from the module's own sampler (``--draws`` frames; P = ∞: the phase grid), ± its standard error;
* PHY MC     the mean of trial_stats.conditional_crbs_m2 over the PHY's actual frames (the same frames as the
             MSE), ± its standard error, and achievable / PHY MC − 1 (the "matches to 2 %" check);
* MSE        Σ_k ‖q̂_k − q_k‖² of the central unit's ML estimator (core.achievable.localisation_squared_errors_m2:
             receive_snapshots + localise_frames on the ideal air) at ``--snr-db`` (the asymptotic region),
             ``--trials`` frames, ± standard error; MSE / achievable, MSE / paper; and MSE / achievable estimated
             with the frames' linearised errors as a control variate of known mean (mean(sq − sq_lin) + achievable:
             the same MSE, standard error ~100× smaller);
* indep.     achievable / paper with independent data per node (not the PHY: where the floor comes from).

    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/bench_achievable.py [--trials 600] [--draws 4000]
"""

import argparse
import math
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

import numpy as np  # noqa: E402

from disac.core import achievable, precoder_sets, trial_stats  # noqa: E402
from disac.core.scenario import load_scenario  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
DEFAULT_SCENARIOS = ("paper", os.path.join(ROOT, "tests", "scenarios", "three_nodes_calibration.toml"))


def _symbols(text):
    return [math.inf if v.strip() == "inf" else int(v) for v in text.split(",")]


def _load():
    with open("/proc/loadavg") as handle:
        return handle.read().split()[0]


def row(scenario, wc, wr, symbols, args, bound):
    if symbols == math.inf:
        result = achievable.achievable_crb_m2(scenario, wc, wr, math.inf, bound=bound)
        ph = achievable.phase_grid_rad(scenario.num_nodes, achievable.PHASE_GRID_POINTS.get(scenario.num_nodes - 1, 8))
        indep = np.mean(bound.phase_conditional_crbs_m2(ph, shared_data=False)) / scenario.symbols_per_frame
        return dict(P="∞", paper=result["paper_m2"], ach=result["achievable_m2"], ach_se=result["standard_error_m2"],
                    ratio=result["ratio"], indep=indep / result["paper_m2"])
    s = scenario.replace(symbols_per_frame=symbols)
    b = achievable.AchievableBound(s, wc, wr)
    result = achievable.achievable_crb_m2(s, wc, wr, draws=args.draws, seed=args.seed, bound=b)
    indep = np.mean(b.conditional_crbs_m2(b.sample_beams(symbols, args.draws // 4, args.seed + 7, shared_data=False)))
    frames = np.arange(max(args.trials, args.phy_frames))
    phy = trial_stats.conditional_crbs_m2(s, wc, wr, frames[:args.phy_frames], args.seed, args.seed + 1)
    started = time.perf_counter()
    sq, sq_lin = achievable.localisation_squared_errors_m2(s, wc, wr, frames[:args.trials], args.seed, args.seed + 1,
                                                           args.search, linearised=True)
    elapsed = time.perf_counter() - started
    mse, mse_se = float(np.mean(sq)), float(np.std(sq, ddof=1) / math.sqrt(len(sq)))
    ach = result["achievable_m2"]
    cv, cv_se = float(np.mean(sq - sq_lin)) + ach, float(np.std(sq - sq_lin, ddof=1) / math.sqrt(len(sq)))
    return dict(P=str(symbols), paper=result["paper_m2"], ach=ach, ach_se=result["standard_error_m2"],
                ratio=result["ratio"], phy=float(np.mean(phy)), phy_se=float(np.std(phy, ddof=1) / math.sqrt(len(phy))),
                mse=mse, mse_se=mse_se, mse_ach=mse / ach, mse_ach_se=mse_se / ach, mse_paper=mse / result["paper_m2"],
                mse_cond=mse / float(np.mean(phy[:args.trials])), indep=indep / result["paper_m2"],
                cv_ach=cv / ach, cv_ach_se=math.hypot(cv_se, result["standard_error_m2"]) / ach,
                ms_per_frame=1e3 * elapsed / len(sq))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenarios", default=",".join(DEFAULT_SCENARIOS))
    parser.add_argument("--symbols", type=_symbols, default=[1, 2, 4, 8, math.inf])
    parser.add_argument("--trials", type=int, default=600, help="MSE frames per P (default 600)")
    parser.add_argument("--phy-frames", type=int, default=1000, help="PHY frames of the conditional-CRB Monte-Carlo")
    parser.add_argument("--draws", type=int, default=4000, help="frames the achievable bound samples (default 4000)")
    parser.add_argument("--snr-db", type=float, default=30.0, help="target SNR of the MSE runs (default 30 dB)")
    parser.add_argument("--sinr-db", type=float, default=10.0)
    parser.add_argument("--search", default="track", choices=("track", "full"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(f"load average at start {_load()}; trials {args.trials}, PHY frames {args.phy_frames}, draws {args.draws}, "
          f"SNR {args.snr_db:g} dB, Γ_c {args.sinr_db:g} dB, search {args.search}, seed {args.seed}")
    header = ("| scenario | P | paper (m²) | achievable (m²) | achievable/paper | PHY MC of cond. CRB (m²) | "
              "achievable/PHY MC − 1 | MSE (m²) | MSE/achievable | MSE/paper | MSE/PHY MC | MSE/achievable (control "
              "variate) | indep. data: ach/paper |")
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for name in args.scenarios.split(","):
        scenario = trial_stats.scenario_at_snr(load_scenario(name), args.snr_db)  # designed at the run's β, as localize
        wc, wr = precoder_sets.designed_precoders(scenario, args.sinr_db)
        bound = achievable.AchievableBound(scenario, wc, wr)
        for symbols in args.symbols:
            r = row(scenario, wc, wr, symbols, args, bound)
            if "mse" in r:
                print(f"| {scenario.name} | {r['P']} | {r['paper']:.4g} | {r['ach']:.4g} ± {r['ach_se']:.2g} | "
                      f"{r['ratio']:.3f} | {r['phy']:.4g} ± {r['phy_se']:.2g} | {r['ach'] / r['phy'] - 1:+.2%} | "
                      f"{r['mse']:.4g} ± {r['mse_se']:.2g} | {r['mse_ach']:.3f} ± {r['mse_ach_se']:.3f} | "
                      f"{r['mse_paper']:.3f} | {r['mse_cond']:.3f} | {r['cv_ach']:.4f} ± {r['cv_ach_se']:.4f} | "
                      f"{r['indep']:.3f} |", flush=True)
            else:
                print(f"| {scenario.name} | ∞ | {r['paper']:.4g} (P_s = {scenario.symbols_per_frame}) | "
                      f"{r['ach']:.4g} | {r['ratio']:.3f} | — | — | — | — | — | — | — | {r['indep']:.3f} |",
                      flush=True)
    print(f"load average at end {_load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
