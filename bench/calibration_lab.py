#!/usr/bin/env python3
# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""The calibration's errors against the synthetic air's truth on issue 14's airs (docs/calibration.md, "On the full
lab air"): per impairment seed, core/calibration_air.py's capture (the radios' front end, the reflector pass) fitted
by core/calibration_estimator.py from the scenario without its impairments. Not a test: the figures of the docs'
table (they do not depend on the machine's load; the run time does).

    .venv/bin/python bench/calibration_lab.py [--scenario paper] [--preset lab] [--seeds 0 1 2 3] [--frames 10]
        [--no-reflector] [--set KEY=VALUE ...]   # e.g. --set clutter_scatterers=0
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
    args = parser.parse_args(argv)
    sys.path.insert(0, ROOT)
    import conftest  # noqa: F401  (gnuradio.disac → this checkout's python/disac)
    import numpy as np
    from gnuradio.disac.core import calibration_air as air, calibration_estimator as est
    from gnuradio.disac.core.scenario import load_scenario

    extra = {k: json.loads(v) for k, v in (item.split("=", 1) for item in args.set)}
    rows = []
    for seed in args.seeds:
        s = load_scenario(args.scenario).with_impairments({"preset": args.preset, "seed": seed, **extra})
        if not args.no_reflector:
            s = s.replace(reflector_m=[-60.0, -20.0], reflector_amplitude=float(np.sqrt(100 / s.num_nodes ** 2)))
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
