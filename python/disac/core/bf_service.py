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
from .beamformer import BeamformerDesigner
from .design_options import DEFAULT_SOLVER, MAX_SINR_DB, MIN_SINR_DB, OBJECTIVES, SOLVERS, TIMEOUT_STATUS  # noqa: F401
from .scenario import PRESET_ALIASES, PRESETS, Scenario, ScenarioError, load_scenario, scenario_from_dict

# ---- limits -----------------------------------------------------------------------------------
MAX_REQUEST_BYTES = 64 * 1024
# An inline scenario (from a peer) is solved only within these sizes: the SDP grows with N²·K and Mt²
# (the "four-nodes" preset, N = 4, Mt = 8, K = 3, U = 4, takes ~3 s here). The server's own scenario,
# chosen by its operator, is not limited.
INLINE_LIMITS = {"num_nodes": 4, "tx_antennas": 16, "rx_antennas": 64, "num_users": 8, "num_targets": 4,
                 "subcarriers": 1024, "symbols_per_frame": 16}
# compiled designers kept (one per scenario, objective, solver and CSI), least recently used dropped first
DESIGNER_CACHE_SIZE = 4

REQUEST_FIELDS = ("sinr_db", "objective", "solver", "scenario", "csi", "apply", "max_sinr")
REPLY_FIELDS = ("status", "version", "applied", "sinr_threshold_db", "objective", "solver", "scenario",
                "crb_position_bound_m2", "crb_position_extracted_m2", "sinr_extracted_db", "max_common_sinr_db",
                "message", "solve_time_s")
BAD_REQUEST = "bad_request"
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


class BeamformerService:
    """Answers requests (bytes in, Reply out, never raises on input) and keeps the precoder set in force.

    scenario: the deployed system's (a Scenario, preset name or TOML path, chosen by the operator).
    sinr_db, objective, solver: the settings used until a request or ``set_sinr_db`` changes them.
    time_limit_s: a solve stops after this many seconds and is reported as TIMEOUT_STATUS, the set in
    force stays (None: no limit).
    Versions: 0 means "no designed set yet" (isac_tx's placeholder); every set put in force gets the next
    integer from 1. Thread-safe: one lock serialises requests.
    """

    def __init__(self, scenario="paper", sinr_db=10.0, objective="position", solver=None,
                 cache_size=DESIGNER_CACHE_SIZE, time_limit_s=None):
        self.scenario = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        solver = solver or DEFAULT_SOLVER
        try:
            self._defaults = _Settings(check_sinr_db(sinr_db), _choice("objective", objective, OBJECTIVES),
                                       _choice("solver", solver, SOLVERS), None, "")
        except RequestError as exc:
            raise ValueError(str(exc)) from None
        if int(cache_size) < 1:
            raise ValueError(f"cache_size = {cache_size!r}: expected a whole number ≥ 1")
        if time_limit_s is not None and not (_is_number(time_limit_s) and 0 < time_limit_s < math.inf):
            raise ValueError(f"time_limit_s = {time_limit_s!r}: expected a finite number of seconds > 0, or None")
        self.time_limit_s = None if time_limit_s is None else float(time_limit_s)
        self._cache_size = int(cache_size)
        self._designers = collections.OrderedDict()
        self._in_force = None
        self._lock = threading.Lock()
        self.counters = collections.Counter()  # requests, bad_requests, solves, designs, infeasible, failed, published

    # ---- what is in force ------------------------------------------------------------------------
    @property
    def version(self):
        """The version of the precoder set in force (0: none yet)."""
        return self._in_force.version if self._in_force else 0

    def precoders_in_force(self):
        """The wire PrecoderMessage in force, or None."""
        return self._in_force.precoders if self._in_force else None

    def settings_in_force(self):
        """{"sinr_db", "objective", "solver", "csi"} of the set in force (the defaults before any)."""
        s = self._in_force.settings if self._in_force else self._defaults
        return {"sinr_db": s.sinr_db, "objective": s.objective, "solver": s.solver, "csi": s.csi is not None}

    # ---- entry points ----------------------------------------------------------------------------
    def handle(self, data):
        """A Reply to the raw bytes of one request. Never raises: bad input gets status "bad_request"."""
        with self._lock:
            self.counters["requests"] += 1
            try:
                request = parse_request(data)
                return self._answer(request)
            except RequestError as exc:
                return self.bad_request(str(exc))

    def set_sinr_db(self, sinr_db):
        """Re-solve the deployed system at a new Γ_c (a slider, a command line); ValueError if out of range."""
        try:
            value = check_sinr_db(sinr_db)
        except RequestError as exc:
            raise ValueError(str(exc)) from None
        with self._lock:
            return self._answer(Request(sinr_db=value))

    def solve_initial(self):
        """Solve the deployed system with the settings in force (the constructor's before any design)."""
        with self._lock:
            return self._answer(Request())

    # ---- internals -------------------------------------------------------------------------------
    def bad_request(self, message, status=BAD_REQUEST):
        """The reply to a request that was not answered (counted as a bad request): every field null but
        status, version (the set in force), applied (false) and message."""
        self.counters["bad_requests"] += 1
        fields = {name: None for name in REPLY_FIELDS}
        fields.update(status=status, version=self.version, applied=False, message=message)
        return Reply(fields)

    def _designer(self, key, scenario, settings):
        """The compiled designer for (scenario, objective, solver, CSI), from the cache or built."""
        full_key = (key, settings.objective, settings.solver, settings.csi_digest)
        designer = self._designers.pop(full_key, None)
        if designer is None:
            designer = BeamformerDesigner(scenario, objective=settings.objective, solver=settings.solver,
                                          channels=settings.csi, time_limit_s=self.time_limit_s)
        self._designers[full_key] = designer
        while len(self._designers) > self._cache_size:
            self._designers.popitem(last=False)
        return designer

    def _answer(self, request):
        deployed = request.scenario is None
        scenario = self.scenario if deployed else request.scenario
        base = self._in_force.settings if self._in_force else self._defaults  # what the request leaves out
        if request.csi_given:
            csi = _csi(request.csi, scenario)
        else:
            csi = base.csi if deployed else None
        settings = _Settings(base.sinr_db if request.sinr_db is None else request.sinr_db,
                             request.objective or base.objective, request.solver or base.solver, csi, _digest(csi))
        apply = deployed and request.apply

        if deployed and self._in_force and settings.same(self._in_force.settings):
            # the design in force already answers this request: no solve, no new version
            fields = dict(self._in_force.fields, applied=True, solve_time_s=0.0, max_common_sinr_db=None,
                          message=f"unchanged: the precoder set in force (version {self.version}) has these settings")
            if request.max_sinr:
                designer = self._designer(("server",), scenario, settings)
                fields["max_common_sinr_db"] = self._max_sinr(designer)
            return Reply(fields, self._in_force.precoders)

        key = ("server",) if deployed else request.scenario_key
        start = time.perf_counter()
        self.counters["solves"] += 1
        try:
            designer = self._designer(key, scenario, settings)
            result = designer.solve(settings.sinr_db)
            status, detail = _split_status(result.status)
            message = result.message  # a solve stopped by the time limit reads TIMEOUT_STATUS
        except Exception as exc:  # noqa: BLE001 - the server must survive any solver failure and say so
            result, status, detail = None, "solver_error", ""
            message = f"the solver raised {type(exc).__name__}: {exc}"
        elapsed = time.perf_counter() - start
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
        if request.max_sinr and result is not None:
            fields["max_common_sinr_db"] = self._max_sinr(designer)
        return Reply(dict(fields), precoders, published)

    @staticmethod
    def _max_sinr(designer):
        try:
            return designer.max_common_sinr_db()
        except Exception:  # noqa: BLE001 - an optional extra; its absence (null) says it failed
            return None


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
