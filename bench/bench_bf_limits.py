#!/usr/bin/env python3
# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""What an inline scenario costs the beamformer server: build, compile, solve time and peak memory.

Each size runs in a process of its own (peak RSS, VmHWM, is per process) and prints one JSON line with
the server's estimate of the request (core.bf_service.estimate_problem_size) beside what it cost. The
figures calibrate the complexity limit and the cache's byte estimate (docs/beamformer-server.md).

--attack instead runs a `disac bf-server` process and prints: the time from sending the issue's attack
request (N=4, Mt=16, Mr=64, K=4, U=8, L=1024, P=16) to its refusal; the reply latency of another
client's requests while a long what-if (four-nodes with SCS) is being solved, beside the same requests
with the server idle; republications received during that solve; the server's VmRSS and VmHWM.

    OPENBLAS_NUM_THREADS=1 python bench/bench_bf_limits.py [--sizes N,Mt,Mr,K,U,L,P ...]
    OPENBLAS_NUM_THREADS=1 python bench/bench_bf_limits.py --attack
"""

import argparse
import json
import os
import subprocess
import sys
import threading
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


_RUN_CLI = ("import runpy, sys, gnuradio; "
            f"gnuradio.__path__.insert(0, {os.path.join(ROOT, 'python')!r}); "
            "runpy.run_module('gnuradio.disac.apps.cli', run_name='__main__', alter_sys=True)")


def proc_kib(pid, field):
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def attack():
    import statistics

    import gnuradio
    gnuradio.__path__.insert(0, os.path.join(ROOT, "python"))
    import zmq

    from gnuradio.disac.core import bf_service

    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    server = subprocess.Popen([sys.executable, "-c", _RUN_CLI, "bf-server", "paper", "--bind", "tcp://127.0.0.1:0",
                               "--pub", "tcp://127.0.0.1:0", "--republish-s", "0.1", "--json"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, cwd=ROOT)
    context = zmq.Context.instance()
    socks = []
    try:
        listening = json.loads(server.stdout.readline())
        # the server prints a status line per request: read them all, or a full pipe stalls its printer block
        threading.Thread(target=lambda: [None for _ in server.stdout], daemon=True).start()
        sub = context.socket(zmq.SUB)
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        sub.connect(listening["pub"])
        socks.append(sub)

        def client():
            sock = context.socket(zmq.REQ)
            sock.setsockopt(zmq.LINGER, 0)
            sock.connect(listening["bind"])
            socks.append(sock)
            return sock

        def ask(sock, payload):
            start = time.perf_counter()
            sock.send(payload)
            if not sock.poll(600_000):
                raise SystemExit("no reply within 600 s")
            fields = json.loads(sock.recv_multipart()[0])
            return fields, time.perf_counter() - start

        if not sub.poll(120_000):
            raise SystemExit("no precoder set on PUB within 120 s")
        other, attacker, long_client = client(), client(), client()
        rss0 = proc_kib(server.pid, "VmRSS")
        payload = json.dumps({"scenario": bf_service.scenario_table_of_size(4, 16, 64, 4, 8, 1024, 16),
                              "sinr_db": 10}, separators=(",", ":")).encode()
        refusals = []
        for _ in range(5):
            fields, elapsed = ask(attacker, payload)
            assert fields["status"] == "bad_request", fields
            refusals.append(elapsed)
        idle = [ask(other, b"{}")[1] for _ in range(20)]
        while sub.poll(0):
            sub.recv()
        long_client.send(json.dumps({"scenario": "four-nodes", "solver": "scs", "apply": False}).encode())
        start = time.perf_counter()
        during, republished = [], 0
        while not long_client.poll(0):
            fields, elapsed = ask(other, b"{}")
            if fields["queue_length"] >= 1 and not long_client.poll(0):
                during.append(elapsed)
            while sub.poll(0):
                sub.recv()
                republished += 1
        long_fields = json.loads(long_client.recv_multipart()[0])
        long_s = time.perf_counter() - start

        def ms(values):
            return {"median_ms": round(1000 * statistics.median(values), 2), "max_ms": round(1000 * max(values), 2),
                    "n": len(values)}

        print(json.dumps({"attack_request_bytes": len(payload), "attack_refusal": ms(refusals),
                          "other_client_idle": ms(idle), "other_client_during_long_solve": ms(during),
                          "long_solve": {"status": long_fields["status"], "wall_s": round(long_s, 2),
                                         "republications_received": republished},
                          "server_rss_mib": {"before_attack": round(rss0 / 1024, 1),
                                             "after": round(proc_kib(server.pid, "VmRSS") / 1024, 1),
                                             "peak": round(proc_kib(server.pid, "VmHWM") / 1024, 1)}}), flush=True)
    finally:
        for sock in socks:
            sock.close(0)
        server.terminate()
        server.wait(timeout=60)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="*", default=DEFAULT_SIZES, help="N,Mt,Mr,K,U,L,P each")
    parser.add_argument("--attack", action="store_true", help="the attack and latency figures against a bf-server")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.attack:
        with open("/proc/loadavg") as handle:
            print(f"# load average {handle.read().split()[:3]}", flush=True)
        attack()
        return 0
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
