# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Beamformer service: requests for precoders (paper problem 18 / eq. 19) answered, and the set in force kept.

Pure Python (no GNU Radio): the GNU Radio block ``blocks.beamformer_server`` and the ``disac bf-server``
command put it behind a ZeroMQ REP socket; docs/beamformer-server.md is the protocol reference.

A request is a JSON object (UTF-8, at most MAX_REQUEST_BYTES) whose fields are all optional:

    sinr_db    SINR threshold Γ_c in dB, a finite number in [MIN_SINR_DB, MAX_SINR_DB] of core.beamformer
    objective  one of core.beamformer.OBJECTIVES
    solver     one of core.beamformer.SOLVERS
    scenario   a preset name, TOML text or a JSON object with the tables of a scenario file (never a path:
               a remote peer must not make the server read its files); absent: the server's own scenario
    csi        {"real": [[[...]]], "imag": [[[...]]]}, the channels h[n, u] (shape (N, U, Mt)) that replace
               the scenario's; null: the scenario's own channels
    apply      true (default) or false
    max_sinr   false (default) or true: also report the largest SINR every user can share

Fields a request omits take the values of the design in force (before any: the server's settings).
A request without "scenario" is about the deployed system (the nodes run the server's scenario): it also
keeps the CSI in force unless it gives "csi", and with "apply" true a good design becomes
the new precoder set in force under the next version. A request with "scenario", or with "apply" false, is a
what-if: answered, never published. An infeasible or failed solve is reported and the set in force stays.

Every reply is a JSON object with the fields of REPLY_FIELDS (see ``Reply``); a reply whose status is
"optimal" or "optimal_inaccurate" also carries the precoders as a wire PrecoderMessage (core.wire).
"""

import collections
import dataclasses
import hashlib
import json
import math
import threading
import time
import tomllib

import numpy as np

from . import precoder_identity, wire
from .design_options import DEFAULT_SOLVER, MAX_SINR_DB, MIN_SINR_DB, OBJECTIVES, SOLVERS, TIMEOUT_STATUS  # noqa: F401
from .scenario import PRESET_ALIASES, PRESETS, Scenario, ScenarioError, load_scenario, scenario_from_dict

# ---- limits -----------------------------------------------------------------------------------
MAX_REQUEST_BYTES = 64 * 1024
# An inline scenario (from a peer) is solved only within these sizes, and within the complexity limits
# below. The server's own scenario, chosen by its operator, is not limited.
INLINE_LIMITS = {"num_nodes": 4, "tx_antennas": 16, "rx_antennas": 64, "num_users": 8, "num_targets": 4,
                 "subcarriers": 1024, "symbols_per_frame": 16}
# The complexity limit of an inline scenario: estimate_problem_size() computes these figures from
# N, Mt, Mr, K, U, L (before anything is built) and a request over any of them is refused (bad_request)
# at once. bench/bench_bf_limits.py measured what they cost here (docs/beamformer-server.md, "Limits"):
# the FIM map's build work (∝ N²K²Mt²·Mr·L, ~2.3e9 multiply-adds/s here) and the designer's peak memory
# (the estimate is 1.3–1.9× the measured peak) are what grow; the SDP's cones stay small. Every preset
# passes (four-nodes: 7.3e7, 185 MiB); at the limits a request builds, compiles and solves in a few
# seconds within ~200 MiB. The operator scales every figure with
# BeamformerService(inline_complexity_scale=...) / `disac bf-server --inline-complexity-scale X`.
INLINE_COMPLEXITY_LIMITS = {"fim_build_macs": 4.0e9, "peak_bytes": 256 * 2**20, "psd_entries": 60_000}
# Every solve (build of the designer and cvxpy compilation included) stops after this many seconds by
# default and is answered "solver_timeout"; the set in force stays.
DEFAULT_TIME_LIMIT_S = 30.0
# compiled designers kept (one per scenario, objective, solver and CSI), least recently used dropped
# first: at most this many, and at most this many bytes by their estimated size (ProblemSize.kept_bytes)
DESIGNER_CACHE_SIZE = 4
DESIGNER_CACHE_BYTES = 256 * 2**20
# requests waiting for the solver (one more is being solved); a request beyond them is answered "busy"
DEFAULT_QUEUE_SIZE = 4

REQUEST_FIELDS = ("sinr_db", "objective", "solver", "scenario", "csi", "apply", "max_sinr")
REPLY_FIELDS = ("status", "version", "applied", "sinr_threshold_db", "objective", "solver", "scenario",
                "crb_position_bound_m2", "crb_position_extracted_m2", "sinr_extracted_db", "max_common_sinr_db",
                "message", "solve_time_s", "queue_length")
BAD_REQUEST = "bad_request"
BUSY = "busy"
GOOD_STATUSES = ("optimal", "optimal_inaccurate")


class RequestError(ValueError):
    """A malformed request; the message names the field, the offending value and what is accepted."""


@dataclasses.dataclass(frozen=True)
class Request:
    """A parsed, validated request; None where the request left a field out."""

    sinr_db: float = None
    objective: str = None
    solver: str = None
    scenario: Scenario = None  # None: the server's own scenario
    scenario_key: tuple = None  # identifies an inline scenario for the designer cache
    csi: object = None  # the "csi" JSON value, shape-checked against the scenario when answered
    csi_given: bool = False  # the request had a "csi" field (null included)
    apply: bool = True
    max_sinr: bool = False


@dataclasses.dataclass
class Reply:
    """One answer: ``fields`` (the JSON object) and, with a design, ``precoders`` (a wire PrecoderMessage).

    ``published`` is True when this request put a new precoder set in force (the caller sends it to the
    nodes).
    """

    fields: dict
    precoders: object = None
    published: bool = False

    @property
    def status(self):
        return self.fields["status"]

    @property
    def version(self):
        return self.fields["version"]

    def frames(self):
        """The ZeroMQ frames of the reply: the JSON object, then the wire PrecoderMessage if any."""
        out = [json.dumps(json_safe(self.fields), allow_nan=False, separators=(",", ":")).encode("utf-8")]
        if self.precoders is not None:
            out.append(wire.encode(self.precoders))
        return out


# ---- the size of a request ----------------------------------------------------------------------

def _svec(size):
    """Entries of one symmetric size × size PSD cone as the solver holds it (the upper triangle)."""
    return size * (size + 1) // 2


@dataclasses.dataclass(frozen=True)
class ProblemSize:
    """What one designer (problem 18 for a scenario, core.beamformer) costs, estimated before it is built.

    fim_build_macs  complex multiply-adds of the FIM map (fim.FimMap: per link, Σ over Mr·L of the
                    parameter derivatives' products, 6K (4K on a monostatic link) parameters, Mt² pairs)
    peak_bytes      peak memory of building and compiling it: the per-link derivatives (6K·L·Mr·Mt
                    complex, three live copies), the FIM map over Ψ (N·dΨ²·Mt² complex), its image over Θ
                    with the scaled real copies (≈ 6 reals per N·dΘ²·Mt² entry at the peak) and cvxpy's
                    compiled data (≈ 2 copies of the LMIs' coefficients and the cones)
    kept_bytes      memory the compiled designer keeps while cached (the FIM map over Ψ and cvxpy's data)
    psd_entries     entries of every PSD cone of the SDP (decomposed LMIs of size 4K, 6K with the paper
                    objective; per node one 2Mt cone and U + 1 cones of twice the users' subspace)
    lmi_coefficients  nonzero coefficients of F(Θ) that the LMIs read (the constraint matrix's bulk)
    """

    fim_build_macs: int
    peak_bytes: int
    kept_bytes: int
    psd_entries: int
    lmi_coefficients: int

    def as_dict(self):
        return dataclasses.asdict(self)


def estimate_problem_size(scenario, objective="paper"):
    """The ProblemSize of the designer of ``scenario`` (core.beamformer, decomposed LMIs, user subspace).

    Arithmetic on N, Mt, Mr, K, U, L only: nothing is built. bench/bench_bf_limits.py prints it beside
    the measured time and memory of the same designers.
    """
    N, K, U = scenario.num_nodes, scenario.num_targets, scenario.num_users
    mt, mr, L = scenario.tx_antennas, scenario.rx_antennas, scenario.subcarriers
    d_psi = 2 * K * N + 2 * K * N * N  # dim Ψ (eq. 7)
    d_theta = 2 * K + 2 * K * N * N  # dim Θ (eq. 8)
    links_bistatic, links_mono = N * (N - 1), N
    fim_macs = (links_bistatic * (6 * K) ** 2 + links_mono * (4 * K) ** 2) * mt * mt * mr * L
    derivatives = 3 * 6 * K * L * mr * mt * 16
    fim_psi = N * d_psi ** 2 * mt * mt * 16
    fim_theta = 6 * N * d_theta ** 2 * mt * mt * 8
    lmi_coefficients = 4 * K * K * 2 * N * mt * mt + N * N * 8 * K * K * 2 * mt * mt
    rank = min(U, mt)
    cones = [4 * K] * (N * N + 1) + ([6 * K] * N * N if objective == "paper" else [])
    cones += [2 * mt] * N + [2 * rank] * (N * (U + 1))
    psd_entries = sum(_svec(c) for c in cones)
    compiled = 2 * (lmi_coefficients + psd_entries) * 16
    return ProblemSize(fim_build_macs=int(fim_macs), peak_bytes=int(derivatives + fim_psi + fim_theta + compiled),
                       kept_bytes=int(fim_psi + compiled), psd_entries=int(psd_entries),
                       lmi_coefficients=int(lmi_coefficients))


def scenario_table_of_size(num_nodes, tx_antennas, rx_antennas, num_targets, num_users, subcarriers,
                           symbols_per_frame=1):
    """A valid inline scenario (the tables of a scenario file) of the given sizes, for benchmarks and tests
    of the limits: nodes on a 200 m circle, targets within 60 m of the centre, users on a 160 m circle,
    B = 10 MHz; the cyclic prefix of 24 samples (720 m) covers the longest bistatic path (2·260 m)."""
    def ring(count, radius, offset):
        angles = offset + 2 * math.pi * np.arange(count) / max(count, 1)
        return [[round(radius * math.cos(a), 1), round(radius * math.sin(a), 1)] for a in angles]

    targets = [[round(60 * (0.4 + 0.6 * ((k * 0.618) % 1)) * math.cos(2.4 * k + 0.3), 1),
                round(60 * (0.4 + 0.6 * ((k * 0.618) % 1)) * math.sin(2.4 * k + 0.3), 1)] for k in range(num_targets)]
    return {"nodes": {"positions_m": ring(num_nodes, 200.0, math.pi / 4), "tx_antennas": tx_antennas,
                      "rx_antennas": rx_antennas},
            "ofdm": {"bandwidth_hz": 1e7, "subcarriers": subcarriers, "cyclic_prefix": 24,
                     "symbols_per_frame": symbols_per_frame},
            "targets": {"positions_m": targets},
            "users": {"positions_m": ring(num_users, 160.0, 0.1)}}


def cvxpy_solver_name(solver):
    """cvxpy's name of one of SOLVERS (the key of its compiled-problem cache)."""
    from .beamformer import _SOLVER_OPTIONS  # the one place the solver options are defined
    return _SOLVER_OPTIONS[solver]["solver"]


# ---- request parsing ----------------------------------------------------------------------------

def _reject_constant(name):
    raise RequestError(f"request: {name} is not valid JSON; numbers must be finite")


def _unique_object(pairs):
    keys = [key for key, _ in pairs]
    for key in keys:
        if keys.count(key) > 1:
            raise RequestError(f"request: field {key!r} appears more than once")
    return dict(pairs)


def parse_json_request(data):
    """The request's JSON object from bytes (or str); RequestError for anything else."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise RequestError(f"request of type {type(data).__name__}: expected bytes of UTF-8 JSON")
    size = memoryview(data).nbytes
    if size > MAX_REQUEST_BYTES:
        raise RequestError(f"request of {size} bytes: the limit is {MAX_REQUEST_BYTES} bytes")
    try:
        text = bytes(data).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RequestError(f"request: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        obj = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_unique_object)
    except json.JSONDecodeError as exc:
        raise RequestError(f"request: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); "
                           "expected a JSON object such as {\"sinr_db\": 10}") from None
    except RecursionError:
        raise RequestError("request: JSON nested too deeply") from None
    except RequestError:
        raise
    except ValueError as exc:  # e.g. an integer beyond Python's digit limit
        raise RequestError(f"request: not accepted as JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise RequestError(f"request: a JSON {type(obj).__name__}, expected a JSON object such as {{\"sinr_db\": 10}}")
    return obj


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _short(value, limit=60):
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _choice(field, value, accepted):
    if not isinstance(value, str) or value not in accepted:
        raise RequestError(f"{field} = {_short(value)}: expected one of {', '.join(map(repr, accepted))}")
    return value


def _flag(field, value):
    if not isinstance(value, bool):
        raise RequestError(f"{field} = {_short(value)}: expected true or false")
    return value


def check_sinr_db(value, field="sinr_db"):
    """Γ_c in dB as a float, or RequestError naming the value and the accepted range."""
    accepted = f"a finite number of dB from {MIN_SINR_DB:g} to {MAX_SINR_DB:g}"
    if not _is_number(value):
        raise RequestError(f"{field} = {_short(value)}: expected {accepted}")
    try:
        value = float(value)
    except OverflowError:
        raise RequestError(f"{field} = {_short(value)}: expected {accepted}") from None
    if not math.isfinite(value) or not MIN_SINR_DB <= value <= MAX_SINR_DB:
        raise RequestError(f"{field} = {value!r}: expected {accepted}")
    return value


def _scenario(value):
    """(Scenario, cache key) from a preset name, TOML text or a JSON object; never reads a file."""
    presets = sorted(PRESETS)
    if isinstance(value, str):
        key = PRESET_ALIASES.get(value, value)
        if key in PRESETS:
            return load_scenario(key), ("preset", key)
        try:
            table = tomllib.loads(value)
        except (tomllib.TOMLDecodeError, RecursionError) as exc:
            raise RequestError(f"scenario = {_short(value)}: not a preset name (accepted: {', '.join(presets)}) "
                               f"and not TOML text ({exc or 'nested too deeply'}); file paths are not read") from None
    elif isinstance(value, dict):
        table = value
    else:
        raise RequestError(f"scenario = {_short(value)}: expected a preset name ({', '.join(presets)}), "
                           "TOML text or a JSON object with [nodes], [ofdm], [targets], [users]")
    try:
        scenario = scenario_from_dict(table, name="inline")
    except ScenarioError as exc:
        raise RequestError(f"scenario: {exc}") from None
    except (TypeError, ValueError, OverflowError, RecursionError) as exc:  # a value the loader did not foresee
        raise RequestError(f"scenario: not accepted ({type(exc).__name__}: {exc})") from None
    for name, limit in INLINE_LIMITS.items():
        size = getattr(scenario, name)
        if size > limit:
            raise RequestError(f"scenario: {name} = {size}: an inline scenario is solved only up to {limit}")
    digest = hashlib.sha256(json.dumps(table, sort_keys=True, default=str).encode()).hexdigest()
    return scenario, ("inline", digest)


def _real_array(field, value, shape):
    """A float array of exactly ``shape`` from nested JSON lists of numbers; RequestError otherwise."""
    def walk(node, depth, index):
        if depth == len(shape):
            try:
                finite = _is_number(node) and math.isfinite(float(node))
            except OverflowError:
                finite = False
            if not finite:
                raise RequestError(f"{field}{index} = {_short(node)}: expected a finite number")
            return
        if not isinstance(node, list) or len(node) != shape[depth]:
            got = f"a list of {len(node)}" if isinstance(node, list) else _short(node)
            raise RequestError(f"{field}{index}: {got}, expected a list of {shape[depth]} "
                               f"(shape (N, U, Mt) = {shape})")
        for i, item in enumerate(node):
            walk(item, depth + 1, f"{index}[{i}]")

    walk(value, 0, "")
    return np.array(value, dtype=float)


def _csi(value, scenario):
    """The (N, U, Mt) complex channels of a "csi" field, shape checked against the scenario."""
    if value is None:
        return None
    shape = (scenario.num_nodes, scenario.num_users, scenario.tx_antennas)
    if not isinstance(value, dict) or set(value) != {"real", "imag"}:
        raise RequestError(f"csi = {_short(value)}: expected an object {{\"real\": ..., \"imag\": ...}} of "
                           f"nested lists of shape (N, U, Mt) = {shape}")
    h = _real_array("csi.real", value["real"], shape) + 1j * _real_array("csi.imag", value["imag"], shape)
    if not np.all(np.any(h != 0, axis=-1)):
        n, u = np.argwhere(~np.any(h != 0, axis=-1))[0]
        raise RequestError(f"csi: channel of node {n} to user {u} is all zero; expected a nonzero vector")
    return h


def parse_request(data):
    """A validated Request from the raw bytes of a request; RequestError naming the field otherwise."""
    obj = parse_json_request(data)
    unknown = [key for key in obj if key not in REQUEST_FIELDS]
    if unknown:
        raise RequestError(f"field {unknown[0]!r}: unknown; accepted fields: {', '.join(REQUEST_FIELDS)}")
    fields = {}
    if "sinr_db" in obj:
        fields["sinr_db"] = check_sinr_db(obj["sinr_db"])
    if "objective" in obj:
        fields["objective"] = _choice("objective", obj["objective"], OBJECTIVES)
    if "solver" in obj:
        fields["solver"] = _choice("solver", obj["solver"], SOLVERS)
    if "apply" in obj:
        fields["apply"] = _flag("apply", obj["apply"])
    if "max_sinr" in obj:
        fields["max_sinr"] = _flag("max_sinr", obj["max_sinr"])
    if "scenario" in obj:
        fields["scenario"], fields["scenario_key"] = _scenario(obj["scenario"])
    if "csi" in obj:
        fields["csi_given"] = True
        # the shape check needs the scenario: the request's, or the server's (checked by the service)
        fields["csi"] = obj["csi"]
    return Request(**fields)


# ---- the service --------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class _Settings:
    sinr_db: float
    objective: str
    solver: str
    csi: object  # (N, U, Mt) complex or None
    csi_digest: str  # "" without CSI

    def same(self, other):
        return (self.sinr_db, self.objective, self.solver, self.csi_digest) == \
            (other.sinr_db, other.objective, other.solver, other.csi_digest)


def _digest(csi):
    return "" if csi is None else hashlib.sha256(np.ascontiguousarray(csi, complex).tobytes()).hexdigest()


@dataclasses.dataclass
class _InForce:
    version: int
    settings: _Settings
    fields: dict  # the reply fields of the solve that made it
    precoders: object  # wire.PrecoderMessage


@dataclasses.dataclass
class _Cached:
    designer: object
    kept_bytes: int  # ProblemSize.kept_bytes of its scenario
    compiled: bool = False  # cvxpy's compiled problem for its solver is in the designer


class _TimeLimit(Exception):
    """The deadline of a solve passed between two of its phases."""


class BeamformerService:
    """Answers requests (bytes in, Reply out, never raises on input) and keeps the precoder set in force.

    scenario: the deployed system's (a Scenario, preset name or TOML path, chosen by the operator).
    sinr_db, objective, solver: the settings used until a request or ``set_sinr_db`` changes them.
    time_limit_s: every solve stops after this many seconds, from the start of its designer's build (cvxpy
    compilation included) to the solver's last iteration, and is reported as TIMEOUT_STATUS; the set in
    force stays (None: no limit). The build and compilation are not interruptible: the deadline is
    checked after each and the solver gets what is left; the complexity limit bounds them for inline
    scenarios.
    cache_size, cache_bytes: compiled designers kept, by count and by estimated bytes.
    inline_complexity_scale: multiplies every INLINE_COMPLEXITY_LIMITS figure.
    Versions: 0 means "no designed set yet" (isac_tx's placeholder); every set put in force gets the next
    integer from 1. Thread-safe: one lock serialises solves; ``triage`` (parsing, the limits, answers
    that need no solve) takes no solve lock, so a request thread answers while a solve runs.
    """

    def __init__(self, scenario="paper", sinr_db=10.0, objective="position", solver=None,
                 cache_size=DESIGNER_CACHE_SIZE, time_limit_s=DEFAULT_TIME_LIMIT_S,
                 cache_bytes=DESIGNER_CACHE_BYTES, inline_complexity_scale=1.0):
        # cvxpy loads here (~1 s), when the server is made, not on its first request (and not when a
        # command-line parser imports this module for its limits)
        from .beamformer import BeamformerDesigner
        self._designer_class = BeamformerDesigner
        self.scenario = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        solver = solver or DEFAULT_SOLVER
        try:
            self._defaults = _Settings(check_sinr_db(sinr_db), _choice("objective", objective, OBJECTIVES),
                                       _choice("solver", solver, SOLVERS), None, "")
        except RequestError as exc:
            raise ValueError(str(exc)) from None
        if not _is_whole(cache_size) or cache_size < 1:
            raise ValueError(f"cache_size = {cache_size!r}: expected a whole number ≥ 1")
        if not _is_whole(cache_bytes) or cache_bytes < 0:
            raise ValueError(f"cache_bytes = {cache_bytes!r}: expected a whole number of bytes ≥ 0")
        if time_limit_s is not None and not (_is_number(time_limit_s) and 0 < time_limit_s < math.inf):
            raise ValueError(f"time_limit_s = {time_limit_s!r}: expected a finite number of seconds > 0, or None")
        if not (_is_number(inline_complexity_scale) and 0 < inline_complexity_scale < math.inf):
            raise ValueError(f"inline_complexity_scale = {inline_complexity_scale!r}: expected a finite number > 0")
        self.time_limit_s = None if time_limit_s is None else float(time_limit_s)
        self.inline_limits = {name: limit * float(inline_complexity_scale)
                              for name, limit in INLINE_COMPLEXITY_LIMITS.items()}
        self._cache_size = int(cache_size)
        self._cache_bytes = int(cache_bytes)
        self._designers = collections.OrderedDict()  # full key -> _Cached, least recently used first
        self._in_force = None
        self._lock = threading.Lock()  # one solve at a time; guards the cache and the set in force
        self._count_lock = threading.Lock()
        self.counters = collections.Counter()  # requests, bad_requests, busy, solves, designs, infeasible, failed, published
        self.queue_length = 0  # solves running or waiting (SolveQueue keeps it), reported in every reply

    # ---- what is in force ------------------------------------------------------------------------
    @property
    def version(self):
        """The version of the precoder set in force (0: none yet)."""
        in_force = self._in_force
        return in_force.version if in_force else 0

    def precoders_in_force(self):
        """The wire PrecoderMessage in force, or None."""
        in_force = self._in_force
        return in_force.precoders if in_force else None

    def settings_in_force(self):
        """{"sinr_db", "objective", "solver", "csi"} of the set in force (the defaults before any)."""
        in_force = self._in_force
        s = in_force.settings if in_force else self._defaults
        return {"sinr_db": s.sinr_db, "objective": s.objective, "solver": s.solver, "csi": s.csi is not None}

    def cache_usage(self):
        """(designers, estimated bytes) in the designer cache."""
        with self._lock:
            return len(self._designers), sum(c.kept_bytes for c in self._designers.values())

    # ---- entry points ----------------------------------------------------------------------------
    def handle(self, data):
        """A Reply to the raw bytes of one request, solved on this thread if it needs a solve. Never raises:
        bad input gets status "bad_request"."""
        answered, request = self.triage(data)
        return answered if answered is not None else self.answer(request)

    def triage(self, data):
        """(Reply, None) for a request answered without a solve (bad request, over a limit, the design in
        force), else (None, Request) for ``answer``. Fast (no solve lock, nothing built); never raises."""
        self.count("requests")
        try:
            request = parse_request(data)
            if request.scenario is not None:
                self.check_inline_complexity(request.scenario, request.objective or self._base().objective)
            settings = self._settings(request)
            unchanged = self._unchanged(request, settings)
            if unchanged is not None and not request.max_sinr:
                return unchanged, None
            # the CSI is parsed once, here; the other fields left out take their values when solved
            return None, dataclasses.replace(request, csi=settings.csi) if request.csi_given else request
        except RequestError as exc:
            return self.bad_request(str(exc)), None

    def answer(self, request):
        """The Reply to a parsed request (from ``triage``): solves it, under the solve lock."""
        with self._lock:
            try:
                return self._answer(request)
            except RequestError as exc:
                return self.bad_request(str(exc))

    def set_sinr_db(self, sinr_db):
        """Re-solve the deployed system at a new Γ_c (a slider, a command line); ValueError if out of range."""
        return self.answer(self.sinr_request(sinr_db))

    @staticmethod
    def sinr_request(sinr_db):
        """The Request of a slider change to Γ_c = sinr_db; ValueError if out of range."""
        try:
            return Request(sinr_db=check_sinr_db(sinr_db))
        except RequestError as exc:
            raise ValueError(str(exc)) from None

    def solve_initial(self):
        """Solve the deployed system with the settings in force (the constructor's before any design)."""
        return self.answer(Request())

    def check_inline_complexity(self, scenario, objective="paper"):
        """RequestError if an inline scenario's ProblemSize exceeds a complexity limit (names the figure,
        the scenario's sizes, the limit and how the operator raises it)."""
        size = estimate_problem_size(scenario, objective)
        for name, limit in self.inline_limits.items():
            value = getattr(size, name)
            if value > limit:
                sizes = (f"N={scenario.num_nodes}, Mt={scenario.tx_antennas}, Mr={scenario.rx_antennas}, "
                         f"K={scenario.num_targets}, U={scenario.num_users}, L={scenario.subcarriers}, "
                         f"P={scenario.symbols_per_frame}")
                shown = (f"{value / 2**20:.0f} MiB", f"{limit / 2**20:.0f} MiB") if name == "peak_bytes" else \
                    (f"{value:.3g}", f"{limit:.3g}")
                raise RequestError(f"scenario: too complex to solve inline ({sizes}): {name} = {shown[0]} is "
                                   f"over the limit of {shown[1]} (docs/beamformer-server.md, 'Limits'; the "
                                   "server's operator raises it with --inline-complexity-scale)")
        return size

    # ---- internals -------------------------------------------------------------------------------
    def count(self, name, amount=1):
        """Add to one of the counters from any thread (those of a solve are added under the solve lock)."""
        with self._count_lock:
            self.counters[name] += amount

    def bad_request(self, message, status=BAD_REQUEST, counter="bad_requests"):
        """The reply to a request that was not answered (counted as a bad request, or under ``counter``):
        every field null but status, version (the set in force), applied (false), message, queue_length."""
        self.count(counter)
        fields = {name: None for name in REPLY_FIELDS}
        fields.update(status=status, version=self.version, applied=False, message=message,
                      queue_length=self.queue_length)
        return Reply(fields)

    def busy(self, waiting):
        """The reply to a request refused because the solve queue is full (nothing was solved)."""
        return self.bad_request(f"busy: {waiting} solves are running or waiting, the most this server queues; "
                                "nothing was solved, try again later", status=BUSY, counter="busy")

    def _base(self):
        in_force = self._in_force
        return in_force.settings if in_force else self._defaults  # what a request leaves out

    def _settings(self, request):
        deployed = request.scenario is None
        scenario = self.scenario if deployed else request.scenario
        base = self._base()
        if request.csi_given:
            parsed = request.csi is None or isinstance(request.csi, np.ndarray)
            csi = request.csi if parsed else _csi(request.csi, scenario)
        else:
            csi = base.csi if deployed else None
        return _Settings(base.sinr_db if request.sinr_db is None else request.sinr_db,
                         request.objective or base.objective, request.solver or base.solver, csi, _digest(csi))

    def _unchanged(self, request, settings):
        """The reply describing the set in force if it already answers a deployed request (max_sinr left out)."""
        in_force = self._in_force
        if request.scenario is not None or not request.apply or in_force is None \
                or not settings.same(in_force.settings):
            return None
        fields = dict(in_force.fields, applied=True, solve_time_s=0.0, max_common_sinr_db=None,
                      queue_length=self.queue_length,
                      message=f"unchanged: the precoder set in force (version {in_force.version}) has these settings")
        return Reply(fields, in_force.precoders)

    def _designer(self, key, scenario, settings, deadline):
        """The compiled designer for (scenario, objective, solver, CSI), from the cache or built (and its
        cvxpy problem compiled) within the deadline; _TimeLimit when a phase ends past it."""
        full_key = (key, settings.objective, settings.solver, settings.csi_digest)
        cached = self._designers.pop(full_key, None)
        if cached is None:
            kept = estimate_problem_size(scenario, settings.objective).kept_bytes
            designer = self._designer_class(scenario, objective=settings.objective, solver=settings.solver,
                                          channels=settings.csi)
            cached = _Cached(designer, kept)
        self._keep(full_key, cached)
        _check_deadline(deadline)
        if not cached.compiled:
            # cvxpy canonicalises on the first solve; done here, it is charged to the time limit and the
            # solver then gets what is left (the same cache key as problem.solve's: solver name, no gp/dpp flags)
            cached.designer.problem.get_problem_data(cvxpy_solver_name(settings.solver))
            cached.compiled = True
            _check_deadline(deadline)
        return cached.designer

    def _keep(self, full_key, cached):
        """Put a designer in the cache as the most recently used, then drop designers until the count and
        byte bounds hold: what-ifs first (least recently used first), then this one if it is a what-if
        (used for this request, not kept), then older deployed-system designers. The deployed system's
        designer in use is dropped only if it alone is over the byte bound."""
        designers = self._designers
        designers[full_key] = cached
        while len(designers) > self._cache_size or sum(c.kept_bytes for c in designers.values()) > self._cache_bytes:
            what_ifs = [k for k in designers if k != full_key and k[0] != ("server",)]
            if what_ifs:
                designers.pop(what_ifs[0])
            elif full_key[0] != ("server",) or len(designers) == 1:
                designers.pop(full_key)
                break
            else:
                designers.pop(next(k for k in designers if k != full_key))

    def _answer(self, request):
        deployed = request.scenario is None
        scenario = self.scenario if deployed else request.scenario
        settings = self._settings(request)
        apply = deployed and request.apply

        key = ("server",) if deployed else request.scenario_key
        start = time.perf_counter()
        deadline = None if self.time_limit_s is None else start + self.time_limit_s
        unchanged = self._unchanged(request, settings)
        if unchanged is not None:  # the design in force answers it: no solve, no new version
            if request.max_sinr:
                try:
                    designer = self._designer(key, scenario, settings, deadline)
                    unchanged.fields["max_common_sinr_db"] = self._max_sinr(designer, deadline)
                except _TimeLimit:
                    pass
            return unchanged
        self.counters["solves"] += 1
        designer = result = None
        try:
            designer = self._designer(key, scenario, settings, deadline)
            designer.time_limit_s = _remaining(deadline)  # the solver gets what the build left
            result = designer.solve(settings.sinr_db)
            status, detail = _split_status(result.status)
            message = result.message
        except _TimeLimit:
            status, detail, message = TIMEOUT_STATUS, "", ""
        except Exception as exc:  # noqa: BLE001 - the server must survive any solver failure and say so
            result, status, detail = None, "solver_error", ""
            message = f"the solver raised {type(exc).__name__}: {exc}"
        elapsed = time.perf_counter() - start
        if status == TIMEOUT_STATUS:
            result = None
            message = (f"the solve stopped at the time limit of {self.time_limit_s:g} s "
                       "(building and compiling the problem included)")
        if detail and not message:
            message = detail

        fields = {name: None for name in REPLY_FIELDS}
        fields.update(status=status, sinr_threshold_db=settings.sinr_db, objective=settings.objective,
                      solver=settings.solver, scenario=scenario.name, message=message, solve_time_s=elapsed)
        precoders = None
        published = False
        if status in GOOD_STATUSES:
            self.counters["designs"] += 1
            fields.update(crb_position_bound_m2=result.crb_position_bound_m2,
                          crb_position_extracted_m2=result.crb_position_extracted_m2,
                          sinr_extracted_db=list(result.sinr_extracted_db))
            version = self.version + 1 if apply else 0
            # the set's identity is its content hash (core.precoder_identity): a restarted server's version 1
            # is another set than the last one's, and the nodes and the central unit tell them apart
            wc, wr = np.asarray(result.Wc), np.asarray(result.Wr)
            precoders = wire.PrecoderMessage(version, wc, wr, precoder_id=precoder_identity.precoder_set_id(wc, wr))
            if apply:
                fields["message"] = fields["message"] or f"new precoder set in force: version {version}"
                self._in_force = _InForce(version, settings, fields, precoders)
                self.counters["published"] += 1
                published = True
            else:
                fields["message"] = fields["message"] or "what-if design: not applied, the nodes keep their set"
        else:
            self.counters["infeasible" if status.startswith("infeasible") else "failed"] += 1
            if deployed:
                kept = f"version {self.version} stays in force" if self._in_force else "no precoder set in force yet"
                fields["message"] = f"{message}; {kept}"
        fields["version"] = self.version
        fields["applied"] = published
        fields["queue_length"] = self.queue_length
        if request.max_sinr and result is not None:
            fields["max_common_sinr_db"] = self._max_sinr(designer, deadline)
        return Reply(dict(fields), precoders, published)

    @staticmethod
    def _max_sinr(designer, deadline):
        """The largest common SINR, or None if it fails or no time is left (each of the bisection's small
        feasibility solves gets the time left; the bisection runs ~13 of them)."""
        try:
            designer.time_limit_s = _remaining(deadline)
            return designer.max_common_sinr_db()
        except Exception:  # noqa: BLE001 - an optional extra; its absence (null) says it failed
            return None


def _is_whole(value):
    return isinstance(value, int) and not isinstance(value, bool) or \
        (isinstance(value, float) and value.is_integer())


def _check_deadline(deadline):
    if deadline is not None and time.perf_counter() >= deadline:
        raise _TimeLimit()


def _remaining(deadline):
    """Seconds left before the deadline (None: no limit); _TimeLimit if none are."""
    if deadline is None:
        return None
    left = deadline - time.perf_counter()
    if left <= 0:
        raise _TimeLimit()
    return left


class SolveQueue:
    """One solver thread and one bounded queue in front of a BeamformerService.

    ``submit`` returns at once: False when ``capacity`` requests are already running or waiting (the
    caller answers "busy"). Each finished job calls ``on_done(token, reply)`` on the solver thread.
    Requests are solved in arrival order. Slider changes (``force``) are never refused.
    """

    def __init__(self, service, on_done, queue_size=DEFAULT_QUEUE_SIZE, name="disac_bf_solver"):
        if not _is_whole(queue_size) or queue_size < 0:
            raise ValueError(f"queue_size = {queue_size!r}: expected a whole number ≥ 0 of waiting requests")
        self.service = service
        self.capacity = int(queue_size) + 1  # the one being solved and those waiting
        self._on_done = on_done
        self._jobs = collections.deque()
        self._cond = threading.Condition()
        self._outstanding = 0
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    @property
    def outstanding(self):
        """Requests running or waiting."""
        return self._outstanding

    def submit(self, request, token, force=False):
        with self._cond:
            if self._stopping or (not force and self._outstanding >= self.capacity):
                return False
            self._outstanding += 1
            self.service.queue_length = self._outstanding
            self._jobs.append((request, token))
            self._cond.notify()
        return True

    def stop(self, timeout_s):
        """Stop after the solve in progress (waiting jobs are dropped); False if it is still running."""
        with self._cond:
            self._stopping = True
            self._jobs.clear()
            self._cond.notify()
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    def _run(self):
        while True:
            with self._cond:
                while not self._jobs and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                request, token = self._jobs.popleft()
            try:
                reply = self.service.answer(request)
            except Exception as exc:  # noqa: BLE001 - answer never raises on input; a bug is answered, not fatal
                reply = self.service.bad_request(f"server error: {type(exc).__name__}: {exc}", status="server_error",
                                                 counter="server_errors")
            with self._cond:
                self._outstanding -= 1
                self.service.queue_length = self._outstanding
            try:
                self._on_done(token, reply)
            except Exception:  # noqa: BLE001 - the caller's callback must not stop the solver thread
                pass


def _split_status(status):
    """cvxpy/beamformer status → (status, detail): "solver_error: text" → ("solver_error", "text")."""
    head, _, detail = str(status).partition(":")
    return head.strip(), detail.strip()


def json_safe(value):
    """numpy scalars and arrays to JSON values, non-finite floats to null."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [json_safe(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def reply_from_frames(frames):
    """(fields dict, PrecoderMessage or None) from the frames of a reply (a client's side); ValueError if
    the reply is malformed (wire.WireError for a bad precoder frame)."""
    if not 1 <= len(frames) <= 2:
        raise ValueError(f"reply of {len(frames)} frames: expected 1 (JSON) or 2 (JSON, precoders)")
    fields = json.loads(bytes(frames[0]).decode("utf-8"))
    if not isinstance(fields, dict) or "status" not in fields:
        raise ValueError("reply: the first frame is not a JSON object with a status")
    message = wire.decode(bytes(frames[1])) if len(frames) == 2 else None
    if message is not None and not isinstance(message, wire.PrecoderMessage):
        raise ValueError(f"reply: second frame is a {type(message).__name__}, expected a PrecoderMessage")
    return fields, message


# ---- what `disac bf-server` and `disac bf-request` print ----------------------------------------

def describe(fields):
    """One line about a reply or status (what bf-server and bf-request print)."""
    status, version = fields.get("status"), fields.get("version")
    largest = fields.get("max_common_sinr_db")
    extra = f"; largest common SINR {largest:.2f} dB" if isinstance(largest, (int, float)) else ""
    return _describe(fields, status, version) + extra


def _describe(fields, status, version):
    if status in ("optimal", "optimal_inaccurate"):
        sinr = fields.get("sinr_extracted_db") or []
        where = f"version {version} in force" if fields.get("applied") else "what-if (not applied)"
        return (f"{status}: {where}; scenario {fields.get('scenario')}, Γ_c = {fields.get('sinr_threshold_db'):g} dB, "
                f"{fields.get('objective')}/{fields.get('solver')}; position CRB bound "
                f"{fields.get('crb_position_bound_m2'):.6g} m², extracted {fields.get('crb_position_extracted_m2'):.6g} m²; "
                f"user SINR {', '.join(f'{v:.2f}' for v in sinr)} dB; {fields.get('solve_time_s') or 0:.3f} s"
                + (f"; {fields['message']}" if str(fields.get("message", "")).startswith("unchanged") else ""))
    return f"{status}: {fields.get('message')} (version in force: {version})"
