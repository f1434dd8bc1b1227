#!/usr/bin/env python3
# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""The calibration's errors against the synthetic air's truth on issue 14's airs (docs/calibration.md, "On the full
lab air"): per impairment seed, core/calibration_air.py's capture (the radios' front end, the reflector pass) fitted
by core/calibration_estimator.py from the scenario without its impairments. Not a test: the figures of the docs'
table (they do not depend on the machine's load; the run time does).

    .venv/bin/python bench/calibration_lab.py [--scenario paper] [--preset lab] [--seeds 0 1 2 3] [--frames 10]
        [--no-reflector] [--set KEY=VALUE ...]   # e.g. --set clutter_scatterers=0

Against the target SNR (docs/calibration.md, "High target SNR"): ``--target-snr-db 0 10 20 30`` runs, per target SNR
(core.trial_stats.scenario_at_snr) and seed, the calibration the localisation trials use
(core.impairment_trials.estimate_calibration: 20 frames per node, data seed = the impairment seed, its own noise),
on the issue-13 air ``--preset lab-sync`` with the direct paths, and prints one JSON line per run with the errors
against the truth and the fit's residuals. ``--reflector-m X Y`` (default −60 −20; "none" for none), ``--nodes-m``
(x y pairs) moves the nodes, e.g. stop 18's three-node layout:

    .venv/bin/python bench/calibration_lab.py --scenario tests/scenarios/three_nodes_calibration.toml --preset lab-sync \
        --set direct_path=true --no-reflector --nodes-m -141.4 141.4 -141.4 -141.4 0 -200 --target-snr-db 0 10 20 30
"""

import argparse
import json
import os
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="paper")
    parser.add_argument("--preset", default="lab")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    parser.add_argument("--frames", type=int, default=10)
    parser.add_argument("--max-lag-samples", type=int, default=300)
    parser.add_argument("--no-reflector", action="store_true", help="no reference reflector (default: (−60, −20) m, 20 dB)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="an [impairments] key (JSON value)")
    parser.add_argument("--target-snr-db", type=float, nargs="+", default=None,
                        help="sweep the target SNR with the trials' calibration (module docstring)")
    parser.add_argument("--reflector-m", type=float, nargs=2, default=[-60.0, -20.0], help="the reference reflector (m)")
    parser.add_argument("--nodes-m", type=float, nargs="+", default=None, help="node positions x1 y1 x2 y2 … (m)")
    args = parser.parse_args(argv)
    if args.nodes_m is not None and len(args.nodes_m) % 2:
        parser.error(f"--nodes-m: {len(args.nodes_m)} numbers: accepted: x y pairs")
    sys.path.insert(0, ROOT)
    import conftest  # noqa: F401  (gnuradio.disac → this checkout's python/disac)
    import numpy as np
    from gnuradio.disac.core import calibration_air as air, calibration_estimator as est
    from gnuradio.disac.core.scenario import load_scenario

    extra = {k: json.loads(v) for k, v in (item.split("=", 1) for item in args.set)}

    def base_scenario():
        s = load_scenario(args.scenario)
        if args.nodes_m is not None:
            s = s.replace(node_positions_m=np.asarray(args.nodes_m, float).reshape(-1, 2))
        if not args.no_reflector:
            s = s.replace(reflector_m=list(args.reflector_m), reflector_amplitude=float(np.sqrt(100 / s.num_nodes ** 2)))
        return s
    if args.target_snr_db is not None:
        from gnuradio.disac.core import impairment_trials, trial_stats
        print(json.dumps({"load_average": open("/proc/loadavg").read().split()[:3]}), flush=True)
        for snr_db in args.target_snr_db:
            for seed in args.seeds:
                s = trial_stats.scenario_at_snr(base_scenario(), snr_db).with_impairments(
                    {"preset": args.preset, "seed": seed, **extra})
                start = time.process_time()
                fit = impairment_trials.estimate_calibration(s, seed, seed + 1)
                truth = air.truth_errors(s, fit.calibration)
                res = fit.calibration.residuals.to_dict()
                res.pop("links")
                print(json.dumps({"scenario": args.scenario, "target_snr_db": snr_db, "seed": seed,
                                  "method": fit.calibration.method,
                                  "truth": {k: round(v, 4) for k, v in truth.items()},
                                  "residuals": {k: None if v is None else round(v, 4) for k, v in res.items()},
                                  "cpu_s": round(time.process_time() - start, 1)}), flush=True)
        return 0
    rows = []
    for seed in args.seeds:
        s = base_scenario().with_impairments({"preset": args.preset, "seed": seed, **extra})
        start = time.process_time()
        schedule = est.CalibrationSchedule.for_search(s, args.frames, args.max_lag_samples)
        captures = air.synthetic_capture(s, schedule, 0, 1)
        fit = est.estimate_calibration(s.without_impairments(), captures, schedule, 0,
                                       max_lag_samples=args.max_lag_samples)
        truth = air.truth_errors(s, fit.calibration)
        rows.append({"seed": seed, "method": fit.calibration.method, "cpu_s": round(time.process_time() - start, 1),
                     **{k: round(v, 4) for k, v in truth.items()},
                     "fit_timing_ns_rms": round(fit.calibration.residuals.timing_ns_rms, 4), "notes": list(fit.notes)})
        r = rows[-1]
        print(f"seed {seed}: {r['method']}, rx/tx phase {r['rx_phase_deg_rms']:.3f}/{r['tx_phase_deg_rms']:.3f} ° RMS, "
              f"rx/tx gain {r['rx_gain_db_rms']:.3f}/{r['tx_gain_db_rms']:.3f} dB RMS, timing {r['timing_ns_rms']:.3f} ns "
              f"RMS (fit's own {r['fit_timing_ns_rms']:.3f}), {r['cpu_s']} s CPU", flush=True)
    print(json.dumps({"load_average": open("/proc/loadavg").read().split()[:3], "scenario": args.scenario,
                      "preset": args.preset, "set": extra, "rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
