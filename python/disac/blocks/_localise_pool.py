# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""The central unit's localisation workers (issue 16 item 3): the ZeroMQ links and the worker processes.

Protocol (core.localise_tasks): the central unit BINDS a PUSH socket for TASK messages at the task address and
a PULL socket for RESULT/HELLO messages at the result address; a worker CONNECTS a PULL to the first and a PUSH
to the second. One address names both: the result address is results_address(task address) — tcp://HOST:P →
tcp://HOST:(P+1), ipc://PATH → ipc://PATH.results, inproc://NAME → inproc://NAME.results. Security is the
unit's own (net.LinkSecurity: CURVE with --curve-* as every other link; the unit is the CURVE server).

Local workers (``--workers N``) are `disac cu-worker` subprocesses of the unit, connected over
ipc:// in a private directory (mode 0700: only this user reaches it) unless a worker address is given; they
end when told (SIGTERM) or when the unit that started them is gone (--parent-pid). Those two sockets need no CURVE
(no other user can reach them, and the subprocesses hold no key): they are open on both sides, whatever the unit's
own security, and said so once ("private") instead of logging every link as OPEN (is_private_ipc).
"""

import logging
import os
import stat
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import zmq

from .. import net
from ..core import localise_tasks

_TCP = re.compile(r"^(tcp://.+):(\d{1,5})$")
HELLO_EVERY_S = 2.0  # a worker's HELLO (heartbeat): how the unit counts the workers it can feed
LOG = logging.getLogger("gnuradio.disac.cu_workers")


def is_private_ipc(address):
    """True for an ipc://PATH whose directory is owned by this user and closed to everyone else (no group or other
    permission bits; the unit's private worker directory): no other user can reach the socket there."""
    if not address.startswith("ipc://"):
        return False
    try:
        info = os.stat(os.path.dirname(os.path.abspath(address[len("ipc://"):])))
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o077


def results_address(task_address):
    """The result address that goes with a task address (module docstring); LinkError for a tcp port '*'/0 or
    65535 (bind the tasks on a real port: the results take the next one)."""
    match = _TCP.match(task_address)
    if match:
        port = int(match.group(2))
        if not 0 < port < 65535:
            raise net.LinkError(f"worker address {task_address!r}: expected a port 1 … 65534 (the results use the "
                                "next port)")
        return f"{match.group(1)}:{port + 1}"
    if task_address.startswith(("ipc://", "inproc://")):
        return task_address + ".results"
    raise net.LinkError(f"worker address {task_address!r}: expected tcp://HOST:PORT, ipc://PATH or inproc://NAME")


def _source_python_dir():
    """The folder that holds this gr-disac as gnuradio/disac's stand-in (the source tree's python/, or the
    installed gnuradio/ folder): the worker subprocesses import the same package as the unit."""
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def worker_command(address, parent_pid=None, security=None):
    """argv of a `disac cu-worker` subprocess running this very package."""
    wrapper = ("import runpy, sys, gnuradio; "
               f"gnuradio.__path__.insert(0, {_source_python_dir()!r}); "
               "runpy.run_module('gnuradio.disac.apps.cli', run_name='__main__', alter_sys=True)")
    argv = [sys.executable, "-c", wrapper, "cu-worker", "--connect", address]
    if parent_pid is not None:
        argv += ["--parent-pid", str(int(parent_pid))]
    if security is not None and security.mode == "curve":
        public, _ = net.read_secret(security.secret_key_file, "worker: secret key file")
        argv += ["--curve-secret", security.secret_key_file, "--curve-server-key", public.decode("ascii")]
    return argv


class WorkerPool:
    """The unit's side: the bound PUSH/PULL pair and the local worker processes (module docstring).

    send(bytes) → True if a connected worker took it (never blocks); receive(timeout_ms) → [bytes]; capacity()
    → how many tasks to keep in flight (two per worker known: local ones, or distinct HELLOs of the last 10 s).
    """

    def __init__(self, context, local_workers, address="", security=None, logger=None):
        self.security = security or net.LinkSecurity.open()
        self.local_workers = int(local_workers)
        self._private_dir = None
        if not address:
            self._private_dir = tempfile.mkdtemp(prefix="disac-cu-workers-")
            os.chmod(self._private_dir, 0o700)
            address = f"ipc://{self._private_dir}/tasks"
            # the local workers hold no key: the private sockets are open on both sides (module docstring)
            self.security = net.LinkSecurity.open()
            text = (f"central unit: {self.local_workers} local worker(s) over {address} in a private directory "
                    "(mode 0700, this user only): no authentication needed there")
            (getattr(logger, "info", None) or LOG.info)(text)
        self.logger = logger
        private = self._private_dir is not None
        limit = localise_tasks.MAX_TASK_BYTES
        self.tasks, self.task_endpoint = net.make_socket(context, zmq.PUSH, address, True, self.security,
                                                         name="worker address", options={zmq.SNDHWM: 1},
                                                         private=private)
        try:
            self.results, self.result_endpoint = net.make_socket(
                context, zmq.PULL, results_address(self.task_endpoint), True, self.security,
                name="worker result address", options={zmq.MAXMSGSIZE: limit, zmq.RCVHWM: 1000}, private=private)
        except Exception:
            net.close(self.tasks)
            raise
        self._poller = zmq.Poller()
        self._poller.register(self.results, zmq.POLLIN)
        self.processes = []
        self._seen = {}  # worker id -> last HELLO or result (monotonic s)
        self._lock = threading.Lock()

    def start_local(self):
        env = dict(os.environ, OPENBLAS_NUM_THREADS=os.environ.get("OPENBLAS_NUM_THREADS", "1"))
        for _ in range(self.local_workers - len(self.processes)):
            self.processes.append(subprocess.Popen(
                worker_command(self.task_endpoint, os.getpid(), None if self._private_dir else self.security),
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, env=env))

    def seen(self, worker_id):
        with self._lock:
            self._seen[int(worker_id)] = time.monotonic()

    def workers_seen(self, within_s=10.0):
        now = time.monotonic()
        with self._lock:
            return sum(1 for t in self._seen.values() if now - t <= within_s)

    def capacity(self):
        return 2 * max(1, self.local_workers, self.workers_seen())

    def send(self, data):
        try:
            self.tasks.send(data, zmq.NOBLOCK, copy=False)
            return True
        except zmq.Again:  # no worker connected, or every one has its tasks
            return False

    def receive(self, timeout_ms):
        out = []
        if self._poller.poll(timeout_ms):
            results = self.results
            # (a message ready is asked of the socket's EVENTS, not learned from a zmq.Again raised per call: this
            # runs once per result, in the unit's serial share)
            while len(out) < 256 and results.getsockopt(zmq.EVENTS) & zmq.POLLIN:
                out.append(results.recv(zmq.NOBLOCK, copy=False).buffer)
        return out

    def local_alive(self):
        return sum(1 for p in self.processes if p.poll() is None)

    def close(self, wait_s=5.0):
        for proc in self.processes:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + wait_s
        for proc in self.processes:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        net.close(self.tasks)
        net.close(self.results)
        if self._private_dir:
            shutil.rmtree(self._private_dir, ignore_errors=True)


def serve(address, security=None, stop=None, parent_pid=None, worker_id=None, log=None):
    """A worker: connect to a unit's task address (and its result address), run every task, answer each one.

    Returns the counters {"tasks": n, "failed": n, "bad_tasks": n} when ``stop`` (a threading.Event) is set or
    the parent process is gone. A message that is not a valid TASK is counted and dropped (it names no task to
    answer); a task that fails is answered with its reason. An open link to a private ipc address (is_private_ipc:
    a local worker of `--workers N`) is not logged as OPEN.
    """
    log = log or (lambda text: print(text, file=sys.stderr, flush=True))
    worker_id = int.from_bytes(os.urandom(8), "little") if worker_id is None else int(worker_id)
    stop = stop or threading.Event()
    context = zmq.Context()
    counters = {"tasks": 0, "failed": 0, "bad_tasks": 0}
    tasks = results = None
    private = (security is None or security.mode != "curve") and is_private_ipc(address)
    try:
        tasks, _ = net.make_socket(context, zmq.PULL, address, False, security, name="--connect",
                                   options={zmq.RCVHWM: 1, zmq.MAXMSGSIZE: localise_tasks.MAX_TASK_BYTES},
                                   private=private)
        results, _ = net.make_socket(context, zmq.PUSH, results_address(address), False, security,
                                     name="--connect (results)", options={zmq.SNDHWM: 1000, zmq.LINGER: 2000},
                                     private=private)
        runner = localise_tasks.TaskRunner(worker_id)
        hello = localise_tasks.encode_result(localise_tasks.Result(0, 0, worker_id, localise_tasks.STATUS_HELLO))
        next_hello = 0.0
        poller = zmq.Poller()
        poller.register(tasks, zmq.POLLIN)
        while not stop.is_set():
            if parent_pid is not None and os.getppid() != parent_pid:
                log("disac cu-worker: the central unit that started this worker is gone: stopping")
                break
            now = time.monotonic()
            if now >= next_hello:
                try:
                    results.send(hello, zmq.NOBLOCK)
                except zmq.Again:
                    pass
                next_hello = now + HELLO_EVERY_S
            if not poller.poll(200):
                continue
            data = tasks.recv(copy=False)
            try:
                task = localise_tasks.decode_task(data.buffer)
            except localise_tasks.TaskError as exc:
                counters["bad_tasks"] += 1
                if counters["bad_tasks"] <= 10 or counters["bad_tasks"] % 1000 == 0:
                    log(f"disac cu-worker: bad task #{counters['bad_tasks']} dropped: {exc}")
                continue
            result = runner.run(task)
            counters["tasks"] += 1
            counters["failed"] += result.status == localise_tasks.STATUS_FAILED
            if result.status == localise_tasks.STATUS_FAILED and counters["failed"] <= 10:
                log(f"disac cu-worker: frame {task.frame} failed: {result.reason}")
            try:  # never blocks: a unit that is gone re-issues the frame after its deadline anyway
                results.send(localise_tasks.encode_result(result), zmq.NOBLOCK)
            except zmq.Again:
                log(f"disac cu-worker: result of frame {task.frame} dropped: the unit does not take results")
    finally:
        net.close(tasks)
        net.close(results)
        net.release(context)
        context.term()
    return counters
