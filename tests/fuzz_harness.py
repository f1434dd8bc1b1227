# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fuzzing of every input that can come from outside: the wire decoder and every message handler.

Shared by tests/test_fuzz.py (a short run in every test run) and bench/fuzz.py (the 100 000-input
benchmark of issue 8). Inputs are generated from a seeded numpy generator — valid messages of every
kind, mutated (truncated, bit-flipped, fields overwritten with extreme values, arrays with NaN or
absurd shapes, wrong types), and random bytes/objects — so a run is reproducible from its seed.

A target "crashes" when it raises anything but the one exception type its contract allows (nothing at
all for a message handler, which must count and log instead); an input "allocates without bound"
when handling it raises the traced Python heap by more than MAX_ALLOCATION_BYTES (tracemalloc, on
request: it slows the run ~3×).
"""

import dataclasses
import json
import time
import tracemalloc

import numpy as np
import pmt

from gnuradio.disac.core import wire
from gnuradio.disac.core.scenario import ScenarioError, load_scenario, scenario_from_dict, PRESETS

# An input may make a handler allocate at most this much (the largest legal message is 64 MiB; a
# handler of a paper-scenario message needs well under 1 MiB): anything above means a length was
# trusted before it was checked. The beamformer service is the exception: a valid request compiles
# an SDP (a few MiB for the size-limited inline scenarios it accepts).
MAX_ALLOCATION_BYTES = 8 * 1024 * 1024
# The worker path localises a frame (the grid search works in chunks of a few MiB) and computes the CRB
# of each new precoder set: up to ~8 MiB measured here, set by the scenario and never by the input.
MAX_ALLOCATION_BYTES_BY_TARGET = {"bf_service.handle": 64 * 1024 * 1024, "central_unit.worker": 32 * 1024 * 1024}

_EXTREMES = [0, 1, -1, 2**31 - 1, -2**31, 2**32 - 1, 2**63 - 1, -2**63, 2**64 - 1, 2**40, 7, 255, 65535]


@dataclasses.dataclass
class Stats:
    inputs: int = 0
    crashes: int = 0
    big_allocations: int = 0
    largest_allocation_bytes: int = 0
    first_crash: str = ""
    seconds: float = 0.0


class Generator:
    """Seeded generator of hostile inputs built around valid paper-scenario messages."""

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)
        s = self.scenario = load_scenario("paper")
        rng = self.rng
        self.valid = [
            wire.encode(wire.SnapshotMessage(node_id=1, frame_number=7, precoder_version=1, tx_time_ns=1, rx_time_ns=2,
                                             snapshot=(rng.standard_normal((16, 16, 1)) + 0j).astype(np.complex64))),
            wire.encode(wire.PrecoderMessage(version=3, comm_precoders=np.ones((2, 6, 3), complex),
                                             radar_precoders=np.eye(6)[None].repeat(2, 0).astype(complex))),
            wire.encode(wire.EstimateMessage(frame_number=7, precoder_version=1, residual=1.0,
                                             positions_m=np.zeros((2, 2)), crb_m2=np.ones(2),
                                             contributing_nodes=np.array([0, 1], np.int32))),
        ]
        self.valid_requests = [b'{"sinr_db": 10}', b'{"sinr_db": 12, "objective": "position"}', b"{}",
                               b'{"sinr_db": 10, "apply": false, "scenario": "fig4"}']

    # ---- bytes ---------------------------------------------------------------------------------
    def bytes_input(self, valid=None):
        rng = self.rng
        kind = rng.integers(6)
        base = bytearray(valid if valid is not None else self.valid[rng.integers(len(self.valid))])
        if kind == 0:  # random bytes
            return rng.bytes(int(rng.integers(0, 512)))
        if kind == 1:  # truncation
            return bytes(base[:int(rng.integers(0, len(base) + 1))])
        if kind == 2:  # bit flips
            for _ in range(int(rng.integers(1, 8))):
                i = int(rng.integers(len(base)))
                base[i] ^= 1 << int(rng.integers(8))
            return bytes(base)
        if kind == 3:  # an integer field overwritten with an extreme value, anywhere in the first 256 bytes
            width = int(rng.choice([1, 2, 4, 8]))
            value = int(rng.choice(_EXTREMES)) % (1 << (8 * width))
            at = int(rng.integers(0, max(1, min(len(base), 256) - width)))
            base[at:at + width] = value.to_bytes(width, "little")
            return bytes(base)
        if kind == 4:  # garbage appended or a piece repeated
            return bytes(base) + (rng.bytes(int(rng.integers(1, 64))) if rng.random() < 0.5 else bytes(base[:64]))
        return bytes(base[::-1]) if rng.random() < 0.1 else bytes(base)  # reversed, or valid

    def request_input(self):
        rng = self.rng
        choice = rng.integers(5)
        if choice == 0:
            return self.bytes_input(self.valid_requests[rng.integers(len(self.valid_requests))])
        if choice == 1:  # well-formed JSON with hostile values
            values = [None, True, -1, 1e308, float("nan"), "x" * int(rng.integers(0, 200)), [], {}, [1, 2],
                      {"real": [[1]], "imag": [[1]]}, 10, "paper", "position", "clarabel"]
            keys = ["sinr_db", "objective", "solver", "scenario", "csi", "apply", "max_sinr", "extra"]
            obj = {keys[i]: values[rng.integers(len(values))] for i in rng.choice(len(keys), rng.integers(0, 4), False)}
            if obj.get("sinr_db") in (10, -1) and obj.get("scenario") is None:
                obj["sinr_db"] = "10"  # keep most of the run away from real solves (those are tested elsewhere)
            return json.dumps(obj, allow_nan=True).encode()
        if choice == 2:
            return rng.bytes(int(rng.integers(0, 256)))
        if choice == 3:
            depth = int(rng.integers(1, 2000))  # deep nesting
            return b"[" * depth + b"]" * depth
        return b'{"sinr_db": 1' + b"0" * int(rng.integers(1, 400)) + b"}"

    # ---- PMT -------------------------------------------------------------------------------------
    def _pmt_value(self, depth=0):
        rng = self.rng
        kind = rng.integers(10 if depth < 2 else 7)
        if kind == 0:
            return pmt.from_long(int(rng.choice(_EXTREMES)) % (1 << 63) * int(rng.choice([1, -1])))
        if kind == 1:
            return pmt.from_double(float(rng.choice([np.nan, np.inf, -np.inf, 0.0, 1e300, -3.5])))
        if kind == 2:
            return pmt.intern(str(rng.choice(["wc", "wr", "version", "node", "frame", "", "x" * 40])))
        if kind == 3:
            n = int(rng.integers(0, 64))
            data = (rng.standard_normal(n) + 1j * rng.standard_normal(n)).astype(np.complex64)
            if n and rng.random() < 0.3:
                data[rng.integers(n)] = np.nan
            return pmt.init_c32vector(n, data.tolist())
        if kind == 4:
            n = int(rng.integers(0, 8))
            return pmt.init_f32vector(n, rng.standard_normal(n).tolist())
        if kind == 5:
            return pmt.PMT_NIL
        if kind == 6:
            n = int(rng.integers(0, 16))
            return pmt.init_u8vector(n, rng.integers(0, 256, n).tolist())
        if kind == 7:
            return pmt.cons(self._pmt_value(depth + 1), self._pmt_value(depth + 1))
        if kind == 8:
            d = pmt.make_dict()
            for _ in range(int(rng.integers(0, 5))):
                d = pmt.dict_add(d, self._pmt_value(depth + 1), self._pmt_value(depth + 1))
            return d
        return pmt.make_tuple(*[self._pmt_value(depth + 1) for _ in range(int(rng.integers(0, 4)))])

    def precoder_pmt(self):
        """isac_tx's precoder dict with random fields replaced, dropped or mis-shaped."""
        from gnuradio.disac.blocks import tags

        rng = self.rng
        wc = (rng.standard_normal((6, 3)) + 1j * rng.standard_normal((6, 3)))
        wr = (rng.standard_normal((6, 6)) + 1j * rng.standard_normal((6, 6)))
        if rng.random() < 0.2:
            wc[rng.integers(6), rng.integers(3)] = np.nan
        if rng.random() < 0.2:
            wc = wc[:int(rng.integers(0, 6))]
        msg = tags.precoder_to_pmt(wc, wr, int(rng.integers(-5, 1 << 20)), None if rng.random() < 0.5 else int(rng.integers(-3, 4)))
        for _ in range(int(rng.integers(0, 3))):
            key = pmt.intern(str(rng.choice(["wc", "wr", "version", "node", "precoder_id", "bogus"])))
            msg = pmt.dict_add(msg, key, self._pmt_value()) if pmt.is_dict(msg) else msg
        return msg if rng.random() < 0.8 else self._pmt_value()

    def snapshot_pmt(self):
        """node_rx's snapshot PDU, with meta fields or the payload mutated."""
        from gnuradio.disac.blocks import tags

        rng = self.rng
        shape = (16, 16, 1) if rng.random() < 0.7 else tuple(int(x) for x in rng.integers(0, 20, size=3))
        samples = (rng.standard_normal(shape) + 0j).astype(np.complex64)
        if samples.size and rng.random() < 0.2:
            samples.flat[rng.integers(samples.size)] = np.inf
        try:
            msg = tags.snapshot_to_pmt(tags.snapshot_meta(int(rng.integers(-2, 4)), samples.shape),
                                       int(rng.choice(_EXTREMES)) % (1 << 62), int(rng.integers(-2, 5)), samples)
        except Exception:  # noqa: BLE001 — the generator itself may refuse a shape; use a random value then
            return self._pmt_value()
        if rng.random() < 0.3:
            meta = pmt.car(msg)
            key = pmt.intern(str(rng.choice(["node_id", "frame", "precoder_version", "precoder_id", "shape", "bogus"])))
            msg = pmt.cons(pmt.dict_add(meta, key, self._pmt_value()), pmt.cdr(msg))
        return msg if rng.random() < 0.9 else self._pmt_value()

    def worker_input(self):
        """One frame for the central unit's worker path: (node, frame offset, version, precoder id, samples)
        per contributing node, with a precoder set of an extreme version put in force first (or not), so
        that a localised frame goes through estimate_to_pmt with every value a peer can make it carry."""
        rng = self.rng
        s = self.scenario
        version = int(rng.choice([0, 1, 2**31, 2**32 - 1, 2**62, 2**63 - 1]))
        wc = 0.3 * (rng.standard_normal((s.num_nodes, s.tx_antennas, s.num_users)) + 0j)
        wr = 0.3 * (rng.standard_normal((s.num_nodes, s.tx_antennas, s.tx_antennas)) + 0j)
        use_set = rng.random() < 0.5
        nodes = [n for n in range(s.num_nodes) if rng.random() < 0.8] or [0]
        snaps = []
        for node in nodes:
            shape = (s.rx_antennas, s.subcarriers, 1) if rng.random() < 0.9 else (2, 2, 1)
            samples = (rng.standard_normal(shape) * float(rng.choice([0.0, 1e-3, 1.0, 1e30]))).astype(np.complex64)
            identity = None if use_set else int(rng.choice(_EXTREMES)) % (1 << 63)
            snaps.append((node if rng.random() < 0.95 else int(rng.choice(_EXTREMES)), int(rng.integers(1, 3)),
                          version if rng.random() < 0.9 else int(rng.choice(_EXTREMES)), identity, samples))
        return (version, wc, wr) if use_set else None, snaps

    def scenario_dict(self):
        """A preset's tables with values replaced by hostile ones."""
        rng = self.rng
        base = json.loads(json.dumps(PRESETS[str(rng.choice(sorted(PRESETS)))]))
        hostile = [None, True, -1, 0, 1e308, float("nan"), float("inf"), "x", [], [[1]], [[0, 0], [0, 0]],
                   [[1e308, 0]], {"a": 1}, 2**70, 1.5, -1e-300]
        for _ in range(int(rng.integers(1, 4))):
            table = str(rng.choice(["nodes", "ofdm", "targets", "users", "extra"]))
            if table not in base or rng.random() < 0.1:
                base[table] = hostile[rng.integers(len(hostile))]
                continue
            if isinstance(base[table], dict) and base[table]:
                key = str(rng.choice(sorted(base[table]) + ["bogus"]))
                base[table][key] = hostile[rng.integers(len(hostile))]
        return base


def make_targets():
    """name -> (callable taking one input, the generator method, the exceptions its contract allows)."""
    from gnuradio.disac.blocks.central_unit import central_unit
    from gnuradio.disac.blocks.isac_tx import isac_tx
    from gnuradio.disac.blocks.precoder_sub import precoder_sub
    from gnuradio.disac.core.bf_service import BeamformerService

    cu = central_unit("paper", 0, status_interval_s=0)
    worker_cu = central_unit("paper", 0, status_interval_s=0, search="track")
    tx = isac_tx("paper", 0, 0)
    sub = precoder_sub("tcp://127.0.0.1:5561", "paper")
    service = BeamformerService("paper")
    return {
        "wire.decode": (wire.decode, "bytes_input", (wire.WireError,)),
        "central_unit.handle_wire": (cu.handle_wire, "bytes_input", ()),
        "central_unit.handle_snapshot": (cu.handle_snapshot, "snapshot_pmt", ()),
        "central_unit.handle_precoders": (cu.handle_precoders, "precoder_pmt", ()),
        "isac_tx.handle_precoder": (tx.handle_precoder, "precoder_pmt", ()),
        "precoder_sub.handle_frames": (lambda data: sub.handle_frames([data]), "bytes_input", ()),
        "bf_service.handle": (service.handle, "request_input", ()),
        "scenario_from_dict": (scenario_from_dict, "scenario_dict", (ScenarioError,)),
        "central_unit.worker": (lambda spec: drive_worker(worker_cu, spec), "worker_input", ()),
    }, (cu, worker_cu, tx, sub, service)


def drive_worker(cu, spec):
    """The central unit's path from accepted snapshots to a published estimate, synchronously: the set (if
    any) through the precoders port as precoder_sub posts it, the snapshots through the checks and the
    aligner, every released frame through the worker's supervised step (localiser, estimate_to_pmt,
    publication). Nothing may raise."""
    from gnuradio.disac.blocks.precoder_sub import precoder_pmts
    from gnuradio.disac.core.precoder_identity import precoder_set_id

    precoder_set, snaps = spec
    identity = 0
    if precoder_set is not None:
        version, wc, wr = precoder_set
        for msg in precoder_pmts(wire.PrecoderMessage(version, wc, wr)):
            cu.handle_precoders(msg)
        identity = precoder_set_id(wc, wr)
    base = cu.aligner.watermark + 1
    for node, offset, version, precoder_id, samples in snaps:
        cu._accept(node, base + offset, version, samples, identity if precoder_id is None else precoder_id)
    with cu._work_ready:  # what the snapshots released (complete, newer) waits for the worker: take it
        released = list(cu._work)
        cu._work.clear()
    with cu._lock:
        released += cu.aligner.flush()
    before = cu.status()["worker_errors"]
    for frame_set in released:
        cu.process_frame(frame_set, None)
    caught = cu.status()["worker_errors"] - before
    if caught:  # the supervisor kept the unit alive, but an exception in the worker path is a bug
        raise AssertionError(f"the worker path raised {caught} time(s) (see the central unit's log)")


# the worker target localises (tens of ms a frame): it gets this fraction of the inputs of the others
WORKER_SHARE = 1 / 16


def run(count_per_target, seed=0, trace_allocations=False, only=None):
    """Feed count_per_target inputs to every target (the worker: WORKER_SHARE of them); {name: Stats}."""
    from gnuradio import gr

    gr.logging().set_default_level(gr.log_levels.err)  # the handlers log every rejection as a warning
    targets, _keep = make_targets()
    results = {}
    for index, (name, (call, method, allowed)) in enumerate(sorted(targets.items())):
        if only and name not in only:
            continue
        generator = Generator(seed * 1000 + index)
        make = getattr(generator, method)
        stats = Stats()
        started = time.perf_counter()
        if trace_allocations:
            tracemalloc.start()
        count = max(1, int(count_per_target * WORKER_SHARE)) if name == "central_unit.worker" else count_per_target
        for _ in range(count):
            data = make()
            if trace_allocations:
                tracemalloc.reset_peak()
                before = tracemalloc.get_traced_memory()[0]
            try:
                call(data)
            except allowed:
                pass
            except Exception as exc:  # noqa: BLE001 — this is what the fuzzer looks for
                stats.crashes += 1
                if not stats.first_crash:
                    stats.first_crash = f"{type(exc).__name__}: {exc} (input {data!r:.200})"
            if trace_allocations:
                grown = tracemalloc.get_traced_memory()[1] - before
                stats.largest_allocation_bytes = max(stats.largest_allocation_bytes, grown)
                if grown > MAX_ALLOCATION_BYTES_BY_TARGET.get(name, MAX_ALLOCATION_BYTES):
                    stats.big_allocations += 1
            stats.inputs += 1
        if trace_allocations:
            tracemalloc.stop()
        stats.seconds = time.perf_counter() - started
        results[name] = stats
    return results
