#!/usr/bin/env python3
"""What an inline scenario costs the beamformer server: build, compile, solve time and peak memory.

Each size runs in a process of its own (peak RSS, VmHWM, is per process) and prints one JSON line with
the server's estimate of the request (core.bf_service.estimate_problem_size) beside what it cost. The
figures calibrate the complexity limit and the cache's byte estimate (docs/beamformer-server.md).

    OPENBLAS_NUM_THREADS=1 python bench/bench_bf_limits.py [--sizes N,Mt,Mr,K,U,L,P ...]
"""

import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_SIZES = ["2,6,16,3,3,16,1", "4,8,16,3,4,16,2", "4,8,64,4,8,256,4", "4,12,16,4,8,64,1",
                 "4,16,16,4,8,16,1", "3,16,64,4,8,1024,16"]


def vm_kib(field):
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def one(size):
    import gnuradio
    gnuradio.__path__.insert(0, os.path.join(ROOT, "python"))
    from gnuradio.disac.core import bf_service
    from gnuradio.disac.core.beamformer import BeamformerDesigner
    from gnuradio.disac.core.scenario import scenario_from_dict

    n, mt, mr, k, u, L, p = (int(v) for v in size.split(","))
    table = bf_service.scenario_table_of_size(n, mt, mr, k, u, L, p)
    scenario = scenario_from_dict(table, name="bench")
    estimate = bf_service.estimate_problem_size(scenario, "position")
    rss0 = vm_kib("VmRSS")
    t0 = time.perf_counter()
    designer = BeamformerDesigner(scenario, objective="position")
    t1 = time.perf_counter()
    designer.problem.get_problem_data(bf_service.cvxpy_solver_name("clarabel"))
    t2 = time.perf_counter()
    result = designer.solve(10.0)
    t3 = time.perf_counter()
    print(json.dumps({"size": size, "estimate": estimate.as_dict(), "build_s": round(t1 - t0, 3),
                      "compile_s": round(t2 - t1, 3), "solve_s": round(t3 - t2, 3), "status": result.status,
                      "rss_start_mib": round(rss0 / 1024, 1), "rss_after_mib": round(vm_kib("VmRSS") / 1024, 1),
                      "peak_rss_mib": round(vm_kib("VmHWM") / 1024, 1),
                      "request_bytes": len(json.dumps({"scenario": table}, separators=(",", ":")))}), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="*", default=DEFAULT_SIZES, help="N,Mt,Mr,K,U,L,P each")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        one(args.one)
        return 0
    with open("/proc/loadavg") as handle:
        print(f"# load average {handle.read().split()[:3]}", flush=True)
    for size in args.sizes:
        subprocess.run([sys.executable, __file__, "--one", size], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
