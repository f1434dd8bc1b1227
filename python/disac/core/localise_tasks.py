# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Localisation tasks for worker processes (issue 16 item 3): the TASK and RESULT messages and the worker's step.

The central unit keeps everything sequential (alignment, the precoder table, FrameEstimator.prepare: the
regenerated X_m with the calibration's factors, the suppressor; the trackers, publishing); a worker does only
the search of one frame, core.fusion.search_frame: the ML localiser of paper eq. (9), or core.detection's
GLRT with an unknown K. A TASK therefore carries the prepared inputs (Y of the receiving nodes after
suppression, X_m of the transmitting nodes) and the localiser's configuration; a RESULT carries what the search
found. A worker holds no state but a cache of localisers by configuration digest.

Format (all little-endian; one message = one ZeroMQ frame)

    common header (16 bytes)  magic b"DSLT", format version (1), type (1 TASK, 2 RESULT, 3 HELLO), array count,
                              flags (0), total length, CRC-32 of the whole message (with this field as 0)
    TASK header               task id, frame, precoder version, precoder id (u64 each), attempt (u32), mode
                              (u8: 0 K known, 1 K unknown), 3 reserved bytes, num_targets / max_targets (u32),
                              noise power (f64; NaN: estimate it), false-alarm rate (f64), null model: method
                              (u8: 0 none, 1 bonferroni, 2 calibrated), 3 reserved, dof, draws, grid points
                              (u32 each), effective cells (f64), configuration length (u32)
                              then the configuration: UTF-8 JSON (localiser_config), at most 1 MiB
                              arrays: rx_nodes (R,) i4, tx_nodes (T,) i4, Y (R, Mr, L, P), X (T, Mt, L, P) complex
    RESULT header             task id, frame, worker id (u64 each), status (u8: 0 localised, 1 failed),
                              full_search, converged, has_detection (u8 each), residual (f64), reason length (u16)
                              then the reason (UTF-8, at most 2000 bytes; why a task failed)
                              arrays: positions_m (K, 2) f8; with has_detection statistics, thresholds, noise_power f8
    HELLO                     a RESULT header with task id 0 and status 2: a worker that has started

The arrays use core.wire's entry layout and its limits; every length is checked before it is trusted, the CRC
before anything is read, no pickle, nothing executable: JSON and whitelisted numpy dtypes only. Decoding raises
TaskError (a ValueError) with the reason.
"""

import dataclasses
import hashlib
import json
import math
import struct

import numpy as np

from . import detection, wire
from .localizer import KnownPath, Localizer

MAGIC = b"DSLT"
FORMAT_VERSION = 1
TASK, RESULT, HELLO = 1, 2, 3
_TYPE_NAMES = {TASK: "TASK", RESULT: "RESULT", HELLO: "HELLO"}
STATUS_LOCALISED, STATUS_FAILED, STATUS_HELLO = 0, 1, 2
MAX_CONFIG_BYTES = 1 << 20
MAX_REASON_BYTES = 2000
MAX_TASK_BYTES = wire.MAX_MESSAGE_BYTES + MAX_CONFIG_BYTES + 4096

_COMMON = wire._COMMON  # the framing's common header (core.wire.frame_message / open_message)
_TASK = struct.Struct("<QQQQIB3xIddB3xIIIdI")
_RESULT = struct.Struct("<QQQBBBBdH")
_NULL_METHODS = {0: None, 1: "bonferroni", 2: "calibrated"}
_NULL_CODES = {v: k for k, v in _NULL_METHODS.items()}
_U64 = (1 << 64) - 1


class TaskError(ValueError):
    """A task or result message that cannot be encoded or decoded; the text names the field and why."""


# ---- the localiser's configuration -----------------------------------------------------------------------

def localiser_config(localizer):
    """The JSON bytes from which localizer_from_config builds the same Localizer (its constructor's arguments;
    floats as repr, so they come back bit for bit)."""
    loc = localizer
    config = {"format": 1, "node_positions_m": np.asarray(loc.node_positions_m, float).tolist(),
              "tx_antennas": loc.tx_antennas, "rx_antennas": loc.rx_antennas, "subcarriers": loc.subcarriers,
              "bandwidth_hz": loc.bandwidth_hz, "region_m": list(loc.region_m), "grid_step_m": loc.grid_step_m,
              "max_iterations": loc.max_iterations,
              "paths": [[p.rx, p.tx, p.theta_rx_rad, p.theta_tx_rad, p.delay_s, p.kind] for p in loc.paths],
              "active_subcarriers": None if loc.active_subcarriers is None
              else [bool(v) for v in loc.active_subcarriers],
              "search_method": loc.search_method}
    return json.dumps(config, sort_keys=True).encode("utf-8")


def localizer_from_config(data):
    """The Localizer of localiser_config bytes; TaskError naming what is wrong (the Localizer checks values)."""
    try:
        config = json.loads(bytes(data).decode("utf-8"))
        if not isinstance(config, dict) or config.get("format") != 1:
            raise TaskError("configuration: expected a JSON object of format 1")
        paths = []
        for entry in config["paths"]:
            rx, tx, theta_rx, theta_tx, delay, kind = entry
            if not all(isinstance(v, int) and not isinstance(v, bool) for v in (rx, tx)) or not isinstance(kind, str):
                raise TaskError(f"configuration: known path {entry!r}: expected [rx, tx, θ_rx, θ_tx, τ, kind]")
            paths.append(KnownPath(rx, tx, float(theta_rx), float(theta_tx), float(delay), kind))
        active = config["active_subcarriers"]
        return Localizer(config["node_positions_m"], config["tx_antennas"], config["rx_antennas"],
                         config["subcarriers"], config["bandwidth_hz"], config["region_m"], config["grid_step_m"],
                         config["max_iterations"], tuple(paths),
                         active_subcarriers=None if active is None else np.asarray(active, dtype=bool),
                         search_method=config.get("search_method", "fast"))
    except TaskError:
        raise
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise TaskError(f"configuration: {type(exc).__name__}: {exc}") from None


def config_digest(config_bytes):
    return hashlib.sha256(bytes(config_bytes)).digest()


# ---- messages --------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Task:
    """One frame's search: the prepared inputs (core.fusion.LocaliserInputs) and how to search."""

    task_id: int
    frame: int
    precoder_version: int
    precoder_id: int
    attempt: int
    config: bytes  # localiser_config
    rx_nodes: tuple
    tx_nodes: tuple
    snapshots: np.ndarray  # (R, Mr, L, P)
    frames: np.ndarray  # (T, Mt, L, P)
    num_targets: int = 0  # K (mode K known) or max_targets (K unknown)
    detect: bool = False
    noise_power: float = math.nan  # detection: σ² (NaN: estimated)
    false_alarm_rate: float = detection.DEFAULT_FALSE_ALARM_RATE
    null_model: object = None  # detection.NullModel or None (the Bonferroni one)


@dataclasses.dataclass(frozen=True)
class Result:
    """What a worker found for a task (status STATUS_LOCALISED) or why it failed (STATUS_FAILED); a HELLO has
    task_id 0 and status STATUS_HELLO."""

    task_id: int
    frame: int
    worker_id: int
    status: int
    positions_m: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros((0, 2)))
    residual: float = math.nan
    full_search: bool = True
    converged: bool = False
    reason: str = ""
    statistics: object = None  # with a detection: (steps,) arrays
    thresholds: object = None
    noise_power: object = None


def _int(name, value, high=_U64):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value <= high:
        raise TaskError(f"{name} = {value!r}: expected a whole number 0 … {high}")
    return int(value)


def _arrays_bytes(arrays):
    parts = []
    for name, arr in arrays.items():
        try:
            arr = wire._wire_array(name, arr)
            wire._check_array_limits(name, arr)
        except wire.WireError as exc:
            raise TaskError(str(exc)) from None
        name_bytes = name.encode("ascii")
        parts += [wire._ENTRY.pack(len(name_bytes), wire._CODE_OF_DTYPE[arr.dtype], arr.ndim, 0),
                  struct.pack(f"<{arr.ndim}I", *arr.shape), name_bytes, arr.tobytes()]
    return parts


def _frame(mtype, header, blob, arrays):
    parts = [header, blob] + _arrays_bytes(arrays)
    return wire.frame_message(mtype, len(arrays), parts, MAGIC, FORMAT_VERSION, MAX_TASK_BYTES, TaskError)


def encode_task(task):
    """The bytes of a Task; TaskError naming a bad field."""
    config = bytes(task.config)
    if len(config) > MAX_CONFIG_BYTES:
        raise TaskError(f"configuration of {len(config)} bytes: the limit is {MAX_CONFIG_BYTES}")
    null = task.null_model
    method = _NULL_CODES.get(None if null is None else null.method)
    if method is None and null is not None:
        raise TaskError(f"null model method {null.method!r}: accepted: {', '.join(m for m in _NULL_CODES if m)}")
    header = _TASK.pack(_int("task_id", task.task_id), _int("frame", task.frame, wire.MAX_COUNTER),
                        _int("precoder_version", task.precoder_version, wire.MAX_COUNTER),
                        _int("precoder_id", task.precoder_id, wire.MAX_COUNTER), _int("attempt", task.attempt, 1 << 31),
                        1 if task.detect else 0, _int("num_targets", task.num_targets, 1 << 16),
                        float(task.noise_power), float(task.false_alarm_rate), method,
                        0 if null is None else _int("null dof", null.dof, 1 << 31),
                        0 if null is None else _int("null draws", null.draws, 1 << 31),
                        0 if null is None else _int("null grid points", null.grid_points, 1 << 31),
                        0.0 if null is None else float(null.effective_cells), len(config))
    arrays = {"rx_nodes": np.asarray(task.rx_nodes, np.int32), "tx_nodes": np.asarray(task.tx_nodes, np.int32),
              "Y": task.snapshots, "X": task.frames}
    return _frame(TASK, header, config, arrays)


def encode_result(result):
    """The bytes of a Result (or HELLO); TaskError naming a bad field."""
    reason = str(result.reason).encode("utf-8")[:MAX_REASON_BYTES]
    has_detection = result.statistics is not None
    status = _int("status", result.status, 2)
    header = _RESULT.pack(_int("task_id", result.task_id), _int("frame", result.frame, wire.MAX_COUNTER),
                          _int("worker_id", result.worker_id), status, bool(result.full_search),
                          bool(result.converged), has_detection, float(result.residual), len(reason))
    arrays = {"positions_m": np.asarray(result.positions_m, "<f8").reshape(-1, 2)}
    if has_detection:
        for name in ("statistics", "thresholds", "noise_power"):
            arrays[name] = np.asarray(getattr(result, name), "<f8").reshape(-1)
    return _frame(HELLO if status == STATUS_HELLO else RESULT, header, reason, arrays)


def _open(data, expect):
    """(view, type, array count) of a TASK/RESULT/HELLO message: core.wire's framing with this codec's magic."""
    return wire.open_message(data, MAGIC, FORMAT_VERSION, {t: _TYPE_NAMES[t] for t in expect}, MAX_TASK_BYTES,
                             "a localisation task/result", TaskError)


def _read_arrays(view, offset, count, names):
    arrays = {}
    for index in range(count):
        try:
            name, arr, offset = wire._decode_array(view, offset, index)
        except wire.WireError as exc:
            raise TaskError(str(exc)) from None
        if name in arrays or name not in names:
            raise TaskError(f"array {name!r}: unexpected or repeated; accepted: {', '.join(names)}")
        arrays[name] = arr
    if offset != len(view):
        raise TaskError(f"{len(view) - offset} unexpected bytes after the last array")
    return arrays


def decode_task(data):
    """A Task from bytes (untrusted): TaskError naming anything malformed or inconsistent."""
    view, _, count = _open(data, (TASK,))
    if len(view) - _COMMON.size < _TASK.size:
        raise TaskError("TASK message too short for its header")
    (task_id, frame, version, precoder_id, attempt, mode, num_targets, noise, rate, method, dof, draws, points,
     cells, config_len) = _TASK.unpack_from(view, _COMMON.size)
    offset = _COMMON.size + _TASK.size
    if config_len > MAX_CONFIG_BYTES or config_len > len(view) - offset:
        raise TaskError(f"configuration length {config_len}: more than the limit or the message holds")
    config = bytes(view[offset:offset + config_len])
    arrays = _read_arrays(view, offset + config_len, count, ("rx_nodes", "tx_nodes", "Y", "X"))
    if len(arrays) != 4:
        raise TaskError(f"TASK arrays {sorted(arrays)}: expected rx_nodes, tx_nodes, Y and X")
    if mode not in (0, 1) or method not in _NULL_METHODS:
        raise TaskError(f"mode {mode} / null model method {method}: expected 0 or 1 / {sorted(_NULL_METHODS)}")
    if max(frame, version, precoder_id) > wire.MAX_COUNTER:
        raise TaskError("frame, precoder version or id above 2^63 − 1")
    rx, tx, y, x = (arrays[k] for k in ("rx_nodes", "tx_nodes", "Y", "X"))
    if rx.dtype != np.int32 or tx.dtype != np.int32 or rx.ndim != 1 or tx.ndim != 1 or not len(rx) or not len(tx):
        raise TaskError(f"rx_nodes {rx.shape} {rx.dtype} / tx_nodes {tx.shape} {tx.dtype}: expected non-empty int32 lists")
    for name, nodes in (("rx_nodes", rx), ("tx_nodes", tx)):
        if np.any(nodes < 0) or np.any(np.diff(nodes) <= 0):
            raise TaskError(f"{name} {nodes.tolist()}: expected distinct ascending node ids ≥ 0")
    if y.dtype.kind != "c" or x.dtype.kind != "c" or y.ndim != 4 or x.ndim != 4:
        raise TaskError(f"Y {y.shape} {y.dtype} / X {x.shape} {x.dtype}: expected complex (R, Mr, L, P) / (T, Mt, L, P)")
    if y.shape[0] != len(rx) or x.shape[0] != len(tx) or y.shape[2:] != x.shape[2:] or 0 in y.shape or 0 in x.shape:
        raise TaskError(f"Y {y.shape} and X {x.shape} for {len(rx)} rx and {len(tx)} tx nodes: expected "
                        "(R, Mr, L, P) and (T, Mt, L, P) with the same L and P")
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(x))):
        raise TaskError("Y or X contains NaN or Inf: accepted: finite samples")
    null = None
    if method:
        if not (math.isfinite(cells) and cells > 0 and dof >= 1):
            raise TaskError(f"null model dof {dof}, effective cells {cells}: expected ≥ 1 and > 0")
        null = detection.NullModel(int(dof), float(cells), _NULL_METHODS[method], int(draws), int(points))
    if mode == 1:
        try:
            detection.check_false_alarm_rate(rate)
        except ValueError as exc:
            raise TaskError(str(exc)) from None
    elif num_targets < 1:
        raise TaskError(f"num_targets {num_targets}: expected ≥ 1 with K known")
    return Task(task_id, frame, version, precoder_id, attempt, config, tuple(int(n) for n in rx),
                tuple(int(n) for n in tx), y, x, int(num_targets), bool(mode), float(noise), float(rate), null)


def decode_result(data):
    """A Result (or a HELLO) from bytes (untrusted): TaskError naming anything malformed."""
    view, mtype, count = _open(data, (RESULT, HELLO))
    if len(view) - _COMMON.size < _RESULT.size:
        raise TaskError("RESULT message too short for its header")
    task_id, frame, worker_id, status, full, converged, has_detection, residual, reason_len = _RESULT.unpack_from(
        view, _COMMON.size)
    offset = _COMMON.size + _RESULT.size
    if reason_len > MAX_REASON_BYTES or reason_len > len(view) - offset:
        raise TaskError(f"reason length {reason_len}: more than the limit or the message holds")
    reason = bytes(view[offset:offset + reason_len]).decode("utf-8", "replace")
    names = ("positions_m", "statistics", "thresholds", "noise_power")
    arrays = _read_arrays(view, offset + reason_len, count, names)
    if status not in (0, 1, 2) or (status == STATUS_HELLO) != (mtype == HELLO) or frame > wire.MAX_COUNTER:
        raise TaskError(f"status {status} of a type-{mtype} message (frame {frame}): inconsistent")
    positions = arrays.get("positions_m")
    if positions is None or positions.dtype != np.float64 or positions.ndim != 2 or positions.shape[1] != 2:
        raise TaskError("positions_m: expected a (K, 2) float64 array")
    extra = {}
    if has_detection:
        if set(arrays) != set(names):
            raise TaskError(f"detection result arrays {sorted(arrays)}: expected {', '.join(names)}")
        for name in names[1:]:
            if arrays[name].dtype != np.float64 or arrays[name].ndim != 1:
                raise TaskError(f"{name}: expected a 1-D float64 array")
            extra[name] = arrays[name]
    elif len(arrays) != 1:
        raise TaskError(f"result arrays {sorted(arrays)}: expected positions_m only without a detection")
    return Result(task_id, frame, worker_id, status, positions, float(residual), bool(full), bool(converged), reason,
                  **extra)


# ---- the worker's step -----------------------------------------------------------------------------------

class TaskRunner:
    """A worker's state: localisers by configuration digest (the last few). run(task) → Result, never raises
    (a failure is a STATUS_FAILED result with the reason)."""

    def __init__(self, worker_id, max_configs=4):
        self.worker_id = int(worker_id)
        self.max_configs = int(max_configs)
        self._localizers = {}

    def localizer(self, config):
        key = config_digest(config)
        loc = self._localizers.get(key)
        if loc is None:
            loc = localizer_from_config(config)
            if len(self._localizers) >= self.max_configs:
                self._localizers.pop(next(iter(self._localizers)))
            self._localizers[key] = loc
        return loc

    def run(self, task):
        try:
            loc = self.localizer(task.config)
            if max(task.rx_nodes) >= loc.num_nodes or max(task.tx_nodes) >= loc.num_nodes:
                raise TaskError(f"nodes {task.rx_nodes} / {task.tx_nodes}: the configuration has {loc.num_nodes}")
            snapshots = {n: task.snapshots[i] for i, n in enumerate(task.rx_nodes)}
            frames = {m: task.frames[i] for i, m in enumerate(task.tx_nodes)}
            if task.detect:
                noise = None if math.isnan(task.noise_power) else task.noise_power
                found = detection.detect_targets(loc, snapshots, frames, task.num_targets, noise,
                                                 task.false_alarm_rate, task.rx_nodes, task.tx_nodes, task.null_model)
                converged = True if found.result is None else bool(found.result.converged)
                return Result(task.task_id, task.frame, self.worker_id, STATUS_LOCALISED,
                              np.asarray(found.positions_m, float).reshape(-1, 2), float(found.residual), True,
                              converged, "", np.asarray(found.statistics, float), np.asarray(found.thresholds, float),
                              np.asarray(found.noise_power, float))
            result = loc.localize(snapshots, frames, task.num_targets, task.rx_nodes, task.tx_nodes)
            return Result(task.task_id, task.frame, self.worker_id, STATUS_LOCALISED,
                          np.asarray(result.positions_m, float).reshape(-1, 2), float(result.residual), True,
                          bool(result.converged))
        except Exception as exc:  # noqa: BLE001 — a worker answers every task, with the reason when it fails
            return Result(task.task_id, task.frame, self.worker_id, STATUS_FAILED,
                          reason=f"{type(exc).__name__}: {exc}"[:MAX_REASON_BYTES])


def detection_from_result(result):
    """The core.detection.Detection a RESULT describes (the final LM result itself stays with the worker)."""
    positions = np.asarray(result.positions_m, float).reshape(-1, 2)
    return detection.Detection(positions, len(positions), tuple(result.statistics.tolist()),
                               tuple(result.thresholds.tolist()), float(result.residual),
                               tuple(result.noise_power.tolist()), None)
