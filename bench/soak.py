#!/usr/bin/env python3
# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Soak benchmark (issues 8, 11): a multi-process run on loopback for a long time, with and without faults.

    .venv/bin/python bench/soak.py [--minutes 10] [--frame-rate 10] [--faults-every 30] [--scenario paper]

One `disac bf-server`, one `disac cu` (with a state file) and N `disac node` processes (synthetic radio, a
shared frame clock; nodes and central unit take the server's precoder sets, --precoders-from) run for
--minutes. Every 10 s the resident memory of each process is sampled from /proc. With --faults-every S,
every S seconds one process is killed with SIGKILL and restarted 5 s later, in turn: node 0 … node N−1,
the central unit (it carries on from its state file), the beamformer server (restarted at another
Γ_c, so its version 1 is another set than the last one's version 1: frames in flight must still be
localised with the set that made them). At the end the nodes are stopped with SIGINT (they print their
counters), the central unit's final status is read, and the script prints the accounting over the whole
run: frames sent (0 … the last frame) = localised + skipped (per cause) + lost; snapshots sent by the
nodes against those the central unit accepted or counted; the resident memory of every process over the
run (first, peak and last sample, restarts included); and the error lines in the logs.
Exit status 0 when every frame is accounted for and no error was logged.
"""

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def launcher():
    """The disac command of this checkout (the venv's python with python/ on the gnuradio path)."""
    code = ("import sys, gnuradio; gnuradio.__path__.insert(0, %r); "
            "from gnuradio.disac.apps.cli import main; sys.exit(main())") % os.path.join(ROOT, "python")
    return [sys.executable, "-c", code]


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class Process:
    """A child process with its stdout lines collected and stderr written to a log file."""

    def __init__(self, name, argv, log_dir):
        self.name, self.argv = name, argv
        self.log_path = os.path.join(log_dir, f"{name}.log")
        self.lines, self.memory = [], []
        self.runs = 0
        self.start()

    def start(self, argv=None):
        self.argv = argv or self.argv
        self.runs += 1
        self.log = open(self.log_path, "a")
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=self.log, text=True)
        self.reader = threading.Thread(target=self._read, args=(self.proc,), daemon=True)
        self.reader.start()

    def _read(self, proc):
        for line in proc.stdout:
            self.lines.append(line)

    def sample(self):
        value = rss_kib(self.proc.pid)
        if value is not None:
            self.memory.append((time.monotonic(), value))

    def stop(self, sig=signal.SIGINT, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.reader.join(timeout=5)
        self.log.close()


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--frame-rate", type=float, default=10.0)
    parser.add_argument("--faults-every", type=float, default=0.0,
                        help="seconds between kills of a node, the central unit or the server, in turn (0: none)")
    parser.add_argument("--scenario", default="paper")
    args = parser.parse_args()
    duration = args.minutes * 60
    log_dir = tempfile.mkdtemp(prefix="disac-soak-")
    state_file = os.path.join(log_dir, "cu.state")
    pub = f"tcp://127.0.0.1:{free_port()}"
    server_argv = lambda sinr_db: launcher() + ["bf-server", args.scenario, "--bind", f"tcp://127.0.0.1:{free_port()}",  # noqa: E731
                                                "--pub", pub, "--sinr-db", str(sinr_db), "--republish-s", "1"]
    server = Process("server", server_argv(10.0), log_dir)
    common = ["--seed", "0", "--precoders", "random", "--frames", "0", "--precoders-from", pub]
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    soak_started = time.monotonic()
    cu_argv = lambda: launcher() + ["cu", args.scenario, "--bind", endpoint, "--timeout", "1",  # noqa: E731
                                    "--queue", "64", "--status-interval", "10", "--state", state_file,
                                    "--duration", str(max(1.0, duration + 20 - (time.monotonic() - soak_started)))
                                    ] + common
    cu = Process("cu", cu_argv(), log_dir)
    deadline = time.monotonic() + 60
    started_cu = False
    while not started_cu and time.monotonic() < deadline:
        time.sleep(0.2)
        with open(cu.log_path) as handle:
            started_cu = re.search(r"^disac cu: .*snapshots on (tcp://\S+:\d+) ", handle.read(), re.M) is not None
    if not started_cu:
        print(f"the central unit did not start; log in {log_dir}")
        return 2
    epoch = time.time() + 2
    node_argv = lambda n: launcher() + ["node", args.scenario, "--node", str(n), "--connect", endpoint,  # noqa: E731
                                        "--frame-rate", str(args.frame_rate), "--epoch-s", str(epoch)] + common
    from gnuradio.disac.core.scenario import load_scenario

    count = load_scenario(args.scenario).num_nodes
    nodes = [Process(f"node{n}", node_argv(n), log_dir) for n in range(count)]
    victims = nodes + [cu, server]
    started = time.monotonic()
    faults, next_fault, victim, restart_at = {}, args.faults_every or None, 0, None
    print(f"soak: {args.minutes:g} min, {count} nodes at {args.frame_rate:g} frames/s, "
          f"faults every {args.faults_every:g} s, logs in {log_dir}", flush=True)
    while time.monotonic() - started < duration:
        time.sleep(1.0)
        elapsed = time.monotonic() - started
        if int(elapsed) % 10 == 0:
            for proc in [cu, server] + nodes:
                proc.sample()
        if next_fault is not None and elapsed >= next_fault and restart_at is None:
            victims[victim].stop(signal.SIGKILL)
            faults[victims[victim].name] = faults.get(victims[victim].name, 0) + 1
            restart_at = elapsed + 5.0
        if restart_at is not None and elapsed >= restart_at:
            target = victims[victim]
            if target is cu:
                target.start(cu_argv())  # the remaining duration; the state file carries the accounting
            elif target is server:
                target.start(server_argv(10.0 + 2.0 * (target.runs % 2)))  # version 1 again, another set
            else:
                target.start()
            victim = (victim + 1) % len(victims)
            restart_at = None
            next_fault = elapsed + args.faults_every
    for node in nodes:
        node.stop(signal.SIGINT)
    cu.proc.wait(timeout=120)
    cu.reader.join(timeout=5)
    cu.log.close()
    server.stop(signal.SIGINT)
    status = next((json.loads(line) for line in reversed(cu.lines) if '"final"' in line), {})
    sent = []
    for node in nodes:
        text = "".join(node.lines)
        start = text.rfind("\n{") + 1 if "\n{" in text else text.find("{")
        try:
            last = json.loads(text[start:]) if start >= 0 else {}
        except ValueError:
            last = {}
        sent.append(last.get("sent", 0))
    localised = status.get("frames_localised", 0)
    skipped = status.get("frames_skipped", 0)
    lost = status.get("lost", 0)
    frames_sent = status.get("done_upto", -1) + 1  # frames 0 … the last one any node delivered
    accounted = frames_sent == localised + skipped + lost
    print(f"frames sent {frames_sent} (0 … {frames_sent - 1}) = localised {localised} + skipped {skipped} "
          f"(busy {status.get('skipped_busy')}, unknown precoders {status.get('unknown_precoders')}, localisation "
          f"errors {status.get('localisation_errors')}) + lost {lost}: {'accounted' if accounted else 'NOT ACCOUNTED'}")
    print(f"frames made by the nodes' clock by the end: ~{int((time.time() - epoch) * args.frame_rate)}")
    print(f"snapshots sent by the nodes (last run of each) {sent}; central unit: "
          + ", ".join(f"{k} {status.get(k)}" for k in ("snapshots_accepted", "late", "duplicates", "rejected_snapshots",
                                                        "decode_errors", "timeouts", "partial_frames") if k in status))
    print(f"faults injected (SIGKILL, restarted after 5 s): {json.dumps(faults)}")
    print("central unit final status: " + json.dumps({k: v for k, v in status.items() if k not in ("type", "final")}))
    for proc in [cu, server] + nodes:
        if len(proc.memory) >= 2:
            (t0, m0), (t1, m1) = proc.memory[1] if len(proc.memory) > 2 else proc.memory[0], proc.memory[-1]
            peak = max(m for _, m in proc.memory)
            print(f"memory {proc.name:6s}: {m0 / 1024:7.1f} MiB → {m1 / 1024:7.1f} MiB over {(t1 - t0) / 60:.1f} min "
                  f"({(m1 - m0) / 1024:+.1f} MiB), peak {peak / 1024:.1f} MiB, {proc.runs} run(s)")
    errors = 0
    for proc in [cu, server] + nodes:
        with open(proc.log_path) as handle:
            bad = [line for line in handle if "Traceback" in line or " ERROR" in line or "error:" in line]
        errors += len(bad)
        for line in bad[:3]:
            print(f"  {proc.name}: {line.rstrip()}")
    print(f"error lines in the logs: {errors}")
    return 0 if accounted and errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
