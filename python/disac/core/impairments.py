# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""The `[impairments]` scenario table: what real radios do to the synthetic air (docs/air-model.md §1, issue 13).

Only the synthetic air (channel and radio blocks) and tests' truth checks read this; the receive side
(receivers, calibration estimator, central unit, localiser) learns impairments from samples only and
never reads ``scenario.impairments`` (DESIGN.md §8).

Keys (every key optional; ``preset`` gives the base values, explicit keys override them):

| key | meaning | forms | ideal | lab |
|---|---|---|---|---|
| preset | base values | "ideal" \\| "lab" | | |
| seed | the draw's seed (drawn once per run) | int ≥ 0 | 0 | 0 |
| timing_offset_ns | std of each node's clock offset δ_n | number ≥ 0, or list of N (ns) | 0 | 50 |
| latency_samples | each node's TX→RX latency λ_n (samples) | number ≥ 0, list of N, or {min=, max=} | 0 | {min=46, max=165} |
| rx_phase_deg / tx_phase_deg | per-channel phase | std (deg), "uniform", or N×M list (deg) | 0 | "uniform" |
| rx_gain_db / tx_gain_db | per-channel gain | std (dB), or N×M list (dB) | 0 | 1.0 |
| cfo_hz | each node's carrier offset ε_n | std (Hz), or list of N | 0 | 5.0 |
| node_phase | oscillator phase model | "per_frame" \\| "per_run" | per_frame | per_frame |
| phase_drift_deg_per_s | per_run: std of each node's drift rate | number ≥ 0, or list of N | 0 | 0 |
| overflow_every_frames | an overflow in every k-th frame (0 = never) | int ≥ 0 | 0 | 0 |
| overflow_samples | samples lost per overflow | int ≥ 1 | 1000 | 1000 |
| user_delays | each node's own propagation delay to each user | bool | false | true |
| direct_path | line-of-sight path between every pair of nodes | bool | false | true |
| direct_path_snr_db | per-RE, per-antenna SNR of a direct path P_T·β_dp²/σ² | number (dB) | 30 | 30 |

The "lab" figures are the issue's: GPSDO-class PPS jitter (50 ns RMS), a B210's TX→RX latency (46–165
samples, new on every restart), uncalibrated channels (uniform phase per channel after a retune, ±1 dB),
a shared-reference residual CFO of a few Hz (5 Hz std).

Draws (decided here): every quantity has its own random stream, ``default_rng([seed, stream])``, so a
change of one key never changes another key's draw; a std draws N(0, std²) per node (or per channel),
"uniform" U[0°, 360°), {min, max} U[min, max]. Values given per node/channel are used as given. The
draw happens once per run (``Scenario.impairments`` is cached).
"""

import dataclasses
import math

import numpy as np

from .scenario import MAX_ABS_SNR_DB, ScenarioError, read_toml_file

NODE_PHASE_MODELS = ("per_frame", "per_run")

PRESETS = {
    "ideal": {
        "seed": 0, "timing_offset_ns": 0.0, "latency_samples": 0.0, "rx_phase_deg": 0.0, "tx_phase_deg": 0.0,
        "rx_gain_db": 0.0, "tx_gain_db": 0.0, "cfo_hz": 0.0, "node_phase": "per_frame",
        "phase_drift_deg_per_s": 0.0, "overflow_every_frames": 0, "overflow_samples": 1000,
        "user_delays": False, "direct_path": False, "direct_path_snr_db": 30.0,
    },
    "lab": {
        "seed": 0, "timing_offset_ns": 50.0, "latency_samples": {"min": 46.0, "max": 165.0},
        "rx_phase_deg": "uniform", "tx_phase_deg": "uniform", "rx_gain_db": 1.0, "tx_gain_db": 1.0,
        "cfo_hz": 5.0, "node_phase": "per_frame", "phase_drift_deg_per_s": 0.0,
        "overflow_every_frames": 0, "overflow_samples": 1000,
        "user_delays": True, "direct_path": True, "direct_path_snr_db": 30.0,
    },
}
KEYS = ("preset",) + tuple(PRESETS["ideal"])

# one random stream per drawn quantity (arbitrary distinct constants)
_STREAMS = {"timing_offset_ns": 0x7141, "latency_samples": 0x1A7E, "rx_phase_deg": 0x9A51, "tx_phase_deg": 0x7A51,
            "rx_gain_db": 0x96A1, "tx_gain_db": 0x76A1, "cfo_hz": 0xCF0, "phase_drift_deg_per_s": 0xD81F}
# bounds that keep a value physical and the arithmetic finite (far beyond any radio); the two delays also
# bound the air's memory (a delay line keeps D samples of history per path)
MAX_TIMING_OFFSET_NS = 1e6  # 1 ms (GPSDO-class: 50 ns; B200 start offsets: µs)
MAX_LATENCY_SAMPLES = 1e6  # (a B210: 46–165)
MAX_PHASE_DEG = 1e6
MAX_GAIN_DB = 100.0
MAX_CFO_HZ = 1e9
MAX_DRIFT_DEG_PER_S = 1e9


@dataclasses.dataclass(frozen=True)
class Impairments:
    """One run's drawn impairments (docs/air-model.md §1). Arrays are read-only."""

    seed: int
    clock_offset_s: np.ndarray  # (N,) δ_n: what node n does at local time t happens at true time t + δ_n
    latency_samples: np.ndarray  # (N,) λ_n ≥ 0: rx sample labelled t holds the antennas at t + δ_n − λ_n/fs
    rx_gains: np.ndarray  # (N, Mr) complex: 10^(G/20)·e^{jψ}
    tx_gains: np.ndarray  # (N, Mt) complex
    cfo_hz: np.ndarray  # (N,) ε_n
    node_phase: str  # "per_frame" | "per_run"
    phase_drift_deg_per_s: np.ndarray  # (N,)
    overflow_every_frames: int
    overflow_samples: int
    user_delays: bool
    direct_path: bool
    direct_path_snr_db: float

    @property
    def num_nodes(self):
        return self.clock_offset_s.shape[0]

    def link_delay_samples(self, sample_rate_hz):
        """D (N_rx, N_tx) in samples: [n, m] = (δ_m − δ_n)·fs + λ_n, the extra delay of link m → n on node n's
        rx_time labels (docs/air-model.md §2; monostatic D_nn = λ_n)."""
        delta = self.clock_offset_s * float(sample_rate_hz)
        return delta[None, :] - delta[:, None] + self.latency_samples[:, None]

    @property
    def is_ideal(self):
        """True when the air is today's model: no offsets, unit gains, per-frame phases, no overflow, no user
        delays, no direct path (seed, overflow_samples and direct_path_snr_db do not matter then)."""
        return (not np.any(self.clock_offset_s) and not np.any(self.latency_samples)
                and np.all(self.rx_gains == 1) and np.all(self.tx_gains == 1) and not np.any(self.cfo_hz)
                and self.node_phase == "per_frame" and not np.any(self.phase_drift_deg_per_s)
                and self.overflow_every_frames == 0 and not self.user_delays and not self.direct_path)

    def summary(self):
        """A JSON-ready dict of the drawn values (truth: for tests, logs and the air only)."""
        def cplx(a):
            return [[[float(v.real), float(v.imag)] for v in row] for row in a]
        return {
            "seed": self.seed, "clock_offset_s": self.clock_offset_s.tolist(),
            "latency_samples": self.latency_samples.tolist(), "rx_gains": cplx(self.rx_gains),
            "tx_gains": cplx(self.tx_gains), "cfo_hz": self.cfo_hz.tolist(), "node_phase": self.node_phase,
            "phase_drift_deg_per_s": self.phase_drift_deg_per_s.tolist(),
            "overflow_every_frames": self.overflow_every_frames, "overflow_samples": self.overflow_samples,
            "user_delays": self.user_delays, "direct_path": self.direct_path,
            "direct_path_snr_db": self.direct_path_snr_db,
        }


# ---- validation ------------------------------------------------------------------------------------

def _key(key):
    return f"impairments.{key}"


def _is_number(value):
    return not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating))


def _bounded(key, value, maximum, accepted, minimum=0.0):
    if not _is_number(value) or not math.isfinite(float(value)) or not minimum <= float(value) <= maximum:
        raise ScenarioError(f"{_key(key)} = {value!r}: expected {accepted}")
    return float(value)


def _whole(key, value, minimum, maximum=1 << 62):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not minimum <= value <= maximum:
        raise ScenarioError(f"{_key(key)} = {value!r}: expected a whole number ≥ {minimum}")
    return int(value)


def _flag(key, value):
    if not isinstance(value, bool):
        raise ScenarioError(f"{_key(key)} = {value!r}: expected true or false")
    return value


def _list(key, value, shape, maximum, accepted, minimum):
    """A list (per node) or list of lists (per channel) of numbers; shape checked when known."""
    try:
        arr = np.array(value, dtype=float)
    except (TypeError, ValueError):
        raise ScenarioError(f"{_key(key)} = {value!r}: expected {accepted}") from None
    flat = [v for row in value for v in (row if isinstance(row, list) else [row])]
    if (arr.ndim != len(shape) or arr.size == 0 or any(isinstance(v, (bool, list)) for v in flat)
            or not np.all(np.isfinite(arr)) or np.any(arr < minimum) or np.any(arr > maximum)):
        raise ScenarioError(f"{_key(key)} = {value!r}: expected {accepted}")
    for axis, (size, what) in enumerate(shape):
        if size is not None and arr.shape[axis] != size:
            want = " × ".join(f"{s} ({w})" for s, w in shape)
            raise ScenarioError(f"{_key(key)} = {value!r}: expected {want} values, got {' × '.join(map(str, arr.shape))}")
    return arr.tolist()


def _per_node(key, value, num_nodes, maximum, unit, signed_list=False):
    """A number (a std, ≥ 0) or a list of N values (offsets: signed when ``signed_list``)."""
    if isinstance(value, list):
        sign = "" if signed_list else " ≥ 0"
        return _list(key, value, [(num_nodes, "nodes")], maximum,
                     f"a std ≥ 0 or a list of N = {num_nodes or 'N'} finite numbers{sign} ({unit})",
                     -maximum if signed_list else 0.0)
    return _bounded(key, value, maximum, f"a std ≥ 0 ({unit}, at most {maximum:g}) or a list of N values")


def _per_channel(key, value, num_nodes, antennas, maximum, unit, allow_uniform):
    """A std (≥ 0), "uniform" (phases only) or an N×M list."""
    side = "Mr" if key.startswith("rx") else "Mt"
    uniform = ', "uniform"' if allow_uniform else ""
    forms = f"a std ≥ 0 ({unit}){uniform} or an N×{side} list ({unit})"
    if allow_uniform and value == "uniform":
        return value
    if isinstance(value, list):
        return _list(key, value, [(num_nodes, "nodes"), (antennas, f"{side} channels")], maximum, forms, -maximum)
    if isinstance(value, str):
        raise ScenarioError(f"{_key(key)} = {value!r}: expected {forms}")
    return _bounded(key, value, maximum, forms)


def _latency(key, value, num_nodes):
    forms = (f"a number ≥ 0 (samples, all nodes), a list of N = {num_nodes or 'N'} numbers ≥ 0, "
             f"or {{min = a, max = b}} with 0 ≤ a ≤ b (a uniform draw), at most {MAX_LATENCY_SAMPLES:g}")
    if isinstance(value, dict):
        if set(value) != {"min", "max"}:
            raise ScenarioError(f"{_key(key)} = {value!r}: expected {forms}")
        each = f"a number from 0 to {MAX_LATENCY_SAMPLES:g} (samples)"
        lo = _bounded(key + ".min", value["min"], MAX_LATENCY_SAMPLES, each)
        hi = _bounded(key + ".max", value["max"], MAX_LATENCY_SAMPLES, each)
        if hi < lo:
            raise ScenarioError(f"{_key(key)} = {value!r}: expected min ≤ max ({forms})")
        return {"min": lo, "max": hi}
    if isinstance(value, list):
        return _list(key, value, [(num_nodes, "nodes")], MAX_LATENCY_SAMPLES, forms, 0.0)
    return _bounded(key, value, MAX_LATENCY_SAMPLES, forms)


def validate_impairments_table(table, num_nodes=None, tx_antennas=None, rx_antennas=None):
    """The table with every value checked and normalised (numbers as float, lists as lists of float);
    the keys are those given (the preset is not expanded, so a round trip writes back what was written).
    Sizes of per-node/per-channel lists are checked when given. ScenarioError on any problem."""
    if not isinstance(table, dict):
        raise ScenarioError(f"impairments = {table!r}: expected a table [impairments]")
    out = {}
    for key, value in table.items():
        if key not in KEYS:
            raise ScenarioError(f"{_key(key)} = {value!r}: unknown key; accepted in [impairments]: {', '.join(sorted(KEYS))}")
        if key == "preset":
            if value not in PRESETS:
                raise ScenarioError(f"{_key(key)} = {value!r}: expected one of {', '.join(repr(p) for p in PRESETS)}")
            out[key] = value
        elif key == "seed":
            out[key] = _whole(key, value, 0, (1 << 64) - 1)
        elif key == "timing_offset_ns":
            out[key] = _per_node(key, value, num_nodes, MAX_TIMING_OFFSET_NS, "ns", signed_list=True)
        elif key == "latency_samples":
            out[key] = _latency(key, value, num_nodes)
        elif key in ("rx_phase_deg", "tx_phase_deg"):
            out[key] = _per_channel(key, value, num_nodes, rx_antennas if key[0] == "r" else tx_antennas,
                                    MAX_PHASE_DEG, "degrees", True)
        elif key in ("rx_gain_db", "tx_gain_db"):
            out[key] = _per_channel(key, value, num_nodes, rx_antennas if key[0] == "r" else tx_antennas,
                                    MAX_GAIN_DB, "dB", False)
        elif key == "cfo_hz":
            out[key] = _per_node(key, value, num_nodes, MAX_CFO_HZ, "Hz", signed_list=True)
        elif key == "node_phase":
            if value not in NODE_PHASE_MODELS:
                raise ScenarioError(f"{_key(key)} = {value!r}: expected one of {', '.join(repr(p) for p in NODE_PHASE_MODELS)}")
            out[key] = value
        elif key == "phase_drift_deg_per_s":
            out[key] = _per_node(key, value, num_nodes, MAX_DRIFT_DEG_PER_S, "degrees/s", signed_list=True)
        elif key == "overflow_every_frames":
            out[key] = _whole(key, value, 0)
        elif key == "overflow_samples":
            out[key] = _whole(key, value, 1)
        elif key in ("user_delays", "direct_path"):
            out[key] = _flag(key, value)
        elif key == "direct_path_snr_db":
            out[key] = _bounded(key, value, MAX_ABS_SNR_DB,
                                f"a number of dB from {-MAX_ABS_SNR_DB:g} to {MAX_ABS_SNR_DB:g}", -MAX_ABS_SNR_DB)
    resolved = resolve_impairments_table(out)
    drift = resolved["phase_drift_deg_per_s"]
    if resolved["node_phase"] != "per_run" and (np.any(drift) if isinstance(drift, list) else drift != 0):
        raise ScenarioError(
            f"impairments.phase_drift_deg_per_s = {drift!r}: a drift needs node_phase = \"per_run\" "
            f"(node_phase = {resolved['node_phase']!r} draws a fresh phase every frame); accepted: 0, or set node_phase")
    return out


def resolve_impairments_table(table):
    """The preset's values (default "ideal") overridden by the table's explicit keys (no validation)."""
    resolved = dict(PRESETS[table.get("preset", "ideal")])
    resolved.update({k: v for k, v in table.items() if k != "preset"})
    return resolved


# ---- the draw ------------------------------------------------------------------------------------

def _rng(seed, key):
    return np.random.default_rng([int(seed), _STREAMS[key]])


def _node_values(value, seed, key, num_nodes):
    if isinstance(value, list):
        return np.array(value, dtype=float)
    return float(value) * _rng(seed, key).standard_normal(num_nodes)


def _channel_gains(gain_db, phase_deg, seed, side, num_nodes, antennas):
    shape = (num_nodes, antennas)
    if isinstance(gain_db, list):
        g = np.array(gain_db, dtype=float)
    else:
        g = float(gain_db) * _rng(seed, f"{side}_gain_db").standard_normal(shape)
    if phase_deg == "uniform":
        psi = 360.0 * _rng(seed, f"{side}_phase_deg").random(shape)
    elif isinstance(phase_deg, list):
        psi = np.array(phase_deg, dtype=float)
    else:
        psi = float(phase_deg) * _rng(seed, f"{side}_phase_deg").standard_normal(shape)
    gains = 10 ** (g / 20) * np.exp(1j * np.radians(psi))
    # exact unit gains where nothing was asked (e^{j0} = 1 exactly; keeps the ideal air bit-identical)
    return np.where((g == 0) & (psi == 0), 1.0 + 0j, gains)


def draw_impairments(table, num_nodes, tx_antennas, rx_antennas):
    """Validate ``table`` for N nodes, Mt, Mr and draw one run's Impairments from its seed (reproducible)."""
    table = validate_impairments_table(table, num_nodes, tx_antennas, rx_antennas)
    r = resolve_impairments_table(table)
    seed = r["seed"]
    latency = r["latency_samples"]
    if isinstance(latency, dict):
        lat = _rng(seed, "latency_samples").uniform(latency["min"], latency["max"], num_nodes)
    elif isinstance(latency, list):
        lat = np.array(latency, dtype=float)
    else:
        lat = np.full(num_nodes, float(latency))
    arrays = {
        "clock_offset_s": 1e-9 * _node_values(r["timing_offset_ns"], seed, "timing_offset_ns", num_nodes),
        "latency_samples": lat,
        "rx_gains": _channel_gains(r["rx_gain_db"], r["rx_phase_deg"], seed, "rx", num_nodes, rx_antennas),
        "tx_gains": _channel_gains(r["tx_gain_db"], r["tx_phase_deg"], seed, "tx", num_nodes, tx_antennas),
        "cfo_hz": _node_values(r["cfo_hz"], seed, "cfo_hz", num_nodes),
        "phase_drift_deg_per_s": _node_values(r["phase_drift_deg_per_s"], seed, "phase_drift_deg_per_s", num_nodes),
    }
    for arr in arrays.values():
        arr.setflags(write=False)
    return Impairments(seed=int(seed), node_phase=r["node_phase"],
                       overflow_every_frames=int(r["overflow_every_frames"]),
                       overflow_samples=int(r["overflow_samples"]), user_delays=bool(r["user_delays"]),
                       direct_path=bool(r["direct_path"]), direct_path_snr_db=float(r["direct_path_snr_db"]),
                       **arrays)


def ideal_impairments(num_nodes, tx_antennas, rx_antennas):
    """The ideal air: no offsets, unit gains, per-frame phases (what an absent table means)."""
    return draw_impairments({}, num_nodes, tx_antennas, rx_antennas)


def load_impairments_table(preset_or_path):
    """``--impairments PRESET|FILE``: a preset name → {"preset": name}; a TOML file holding an [impairments]
    table (e.g. a whole scenario file) or the bare keys → that table, validated (sizes are checked when a
    scenario takes it: Scenario.with_impairments)."""
    text = str(preset_or_path)
    if text in PRESETS:
        return {"preset": text}
    if not (text.endswith(".toml") or "/" in text or "\\" in text):
        raise ScenarioError(
            f"impairments {text!r}: unknown preset name; accepted: {', '.join(PRESETS)}, or a path to a .toml file")
    data = read_toml_file(text, "impairments file")
    table = data["impairments"] if "impairments" in data else data
    return validate_impairments_table(table)


def table_to_toml(table):
    """The lines of an [impairments] table (validated values: numbers, strings, bools, lists, {min, max})."""
    def value(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int):
            return str(v)
        if isinstance(v, float):
            return repr(v)
        if isinstance(v, str):
            return '"' + v + '"'  # validated choices: no characters to escape
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{" + ", ".join(f"{k} = {value(x)}" for k, x in v.items()) + "}"
        raise TypeError(f"impairments value {v!r} has no TOML form")
    return [f"{k} = {value(v)}" for k, v in table.items()]
