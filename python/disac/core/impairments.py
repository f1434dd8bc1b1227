# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""The `[impairments]` scenario table: what real radios do to the synthetic air (docs/air-model.md §1, issue 13).

Only the synthetic air (channel and radio blocks) and tests' truth checks read this; the receive side
(receivers, calibration estimator, central unit, localiser) learns impairments from samples only and
never reads ``scenario.impairments`` (DESIGN.md §8).

Keys (every key optional; ``preset`` gives the base values, explicit keys override them):

| key | meaning | forms | ideal | lab |
|---|---|---|---|---|
| preset | base values ("lab-sync": the lab column without issue 14's keys, issue 13's lab) | "ideal" \\| "lab" \\| "lab-sync" | | |
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

Issue 14 (docs/air-model.md §5): interference at physical levels relative to the targets' echoes, and the
front end's finite dynamic range. `None` (Python only) or an absent key means "absent" where the table says so.

| key | meaning | forms | ideal | lab |
|---|---|---|---|---|
| direct_path_db | direct-path level 10·log10(β_dp²/mean|b|²), or "free_space" (link budget, per link) | number (dB), "free_space"; absent: direct_path_snr_db | absent | "free_space" |
| carrier_hz | link budget: carrier frequency | number > 0 | 3.5e9 | 3.5e9 |
| rcs_m2 | link budget: the targets' radar cross-section | number > 0 | 1.0 | 1.0 |
| tx_antenna_gain_dbi / rx_antenna_gain_dbi | link budget: per-element gains | number (dBi) | 0 | 0 |
| self_coupling_db | node's own TX→RX leakage C_n per element, 10·log10(|C[r,i]|²/mean|b|²) | number (dB); absent: none | absent | absent |
| isolation_db | the same from antenna isolation: |C[r,i]|² = 10^(−iso/10) (physical) | number ≥ 0, or inf (none) | absent | 40 |
| self_coupling_delay_samples | the leakage's own delay on top of λ_n | number ≥ 0 | 0 | 0 |
| clutter_scatterers | static point scatterers | int ≥ 0 | 0 | 50 |
| clutter_to_noise_db | P_T·Σ_{n,m,c}|β_c|²/σ² over every clutter path of every link | number (dB) | 30 | 30 |
| clutter_region_m | where they are drawn: [x_min, x_max, y_min, y_max] | 4 numbers; absent: the localiser's default region | absent | absent |
| clutter_beyond_cp_fraction | share of them placed at monostatic delay factor × CP | 0 … 1 | 0 | 0.1 |
| clutter_beyond_cp_factor | | number > 1 | 1.5 | 1.5 |
| clutter_positions_m | explicit positions (override the draw) | list of [x, y] | absent | absent |
| adc_bits | each receiver's ADC resolution (I and Q); 0 = no ADC model | 0, or int 4 … 24 | 0 | 12 |
| adc_full_scale | clip level per I/Q component (sample units) | number > 0 | 1.0 | 1.0 |
| agc | automatic receive gain ahead of the ADC | bool | true | true |
| agc_backoff_db | AGC target: RMS per component this far below full scale | number ≥ 0 | 20 | 20 |
| rf_canceller_db | the receive front end's RF self-interference canceller: its depth (precision limit), dB; 0 = none (core/front_end.py, docs/receiver-front-end.md) | 0, or a number of dB up to 120 | 0 | 60 |
| guard_subcarriers | unused bins at the band edges (core.ofdm.active_subcarrier_mask) | int ≥ 0 | 0 | absent |
| guard_fraction | the same as a share of L (round half up of f·L) | 0 … 0.5 | absent | 0.2 |
| dc_null | bin 0 (DC on the centred grid) unused | bool | false | true |

Pairs (direct_path_db / direct_path_snr_db, self_coupling_db / isolation_db, guard_subcarriers /
guard_fraction): giving both in one table is an error (for the direct path: direct_path_db wins, as
issue 13 tables give only direct_path_snr_db), and giving one replaces the preset's other form (so
``{preset = "lab", guard_subcarriers = 0}`` has no guards, ``{preset = "lab", direct_path_snr_db = 30}`` is
issue 13's direct path). ``agc_backoff_db`` (20 dB) and ``rf_canceller_db`` (60 dB in "lab") are the receive front end's
measured choices (core/front_end.py, docs/receiver-front-end.md). guard_subcarriers, guard_fraction and dc_null are the
transmitter's layout, not the air's: ``Scenario.active_subcarriers`` reads them, ``without_impairments`` keeps
them, and they never make ``is_ideal`` false.

The "lab" figures are the issue's: GPSDO-class PPS jitter (50 ns RMS), a B210's TX→RX latency (46–165
samples, new on every restart), uncalibrated channels (uniform phase per channel after a retune, ±1 dB),
a shared-reference residual CFO of a few Hz (5 Hz std).

Draws (decided here): every quantity has its own random stream, ``default_rng([seed, stream])``, so a
change of one key never changes another key's draw; a std draws N(0, std²) per node (or per channel),
"uniform" U[0°, 360°), {min, max} U[min, max]. Values given per node/channel are used as given. The
draw happens once per run (``Scenario.impairments`` is cached). What needs the scenario's geometry and
levels (clutter positions and amplitudes, self-coupling matrices, direct-path amplitudes) is drawn only when
``draw_impairments`` is given the scenario (``Scenario.impairments`` does); without it those fields are None.
"""

import dataclasses
import math

import numpy as np

from . import geometry
from .scenario import MAX_ABS_SNR_DB, MAX_COORDINATE_M, MIN_SEPARATION_M, ScenarioError, read_toml_file

NODE_PHASE_MODELS = ("per_frame", "per_run")

PRESETS = {
    "ideal": {
        "seed": 0, "timing_offset_ns": 0.0, "latency_samples": 0.0, "rx_phase_deg": 0.0, "tx_phase_deg": 0.0,
        "rx_gain_db": 0.0, "tx_gain_db": 0.0, "cfo_hz": 0.0, "node_phase": "per_frame",
        "phase_drift_deg_per_s": 0.0, "overflow_every_frames": 0, "overflow_samples": 1000,
        "user_delays": False, "direct_path": False, "direct_path_snr_db": 30.0,
        # issue 14 (docs/air-model.md §5); None = absent
        "direct_path_db": None, "carrier_hz": 3.5e9, "rcs_m2": 1.0, "tx_antenna_gain_dbi": 0.0,
        "rx_antenna_gain_dbi": 0.0, "self_coupling_db": None, "isolation_db": None,
        "self_coupling_delay_samples": 0.0, "clutter_scatterers": 0, "clutter_to_noise_db": 30.0,
        "clutter_region_m": None, "clutter_beyond_cp_fraction": 0.0, "clutter_beyond_cp_factor": 1.5,
        "clutter_positions_m": None, "adc_bits": 0, "adc_full_scale": 1.0, "agc": True, "agc_backoff_db": 20.0, "rf_canceller_db": 0.0,
        "guard_subcarriers": 0, "guard_fraction": None, "dc_null": False,
    },
    "lab": {
        "seed": 0, "timing_offset_ns": 50.0, "latency_samples": {"min": 46.0, "max": 165.0},
        "rx_phase_deg": "uniform", "tx_phase_deg": "uniform", "rx_gain_db": 1.0, "tx_gain_db": 1.0,
        "cfo_hz": 5.0, "node_phase": "per_frame", "phase_drift_deg_per_s": 0.0,
        "overflow_every_frames": 0, "overflow_samples": 1000,
        "user_delays": True, "direct_path": True, "direct_path_snr_db": 30.0,
        "direct_path_db": "free_space", "carrier_hz": 3.5e9, "rcs_m2": 1.0, "tx_antenna_gain_dbi": 0.0,
        "rx_antenna_gain_dbi": 0.0, "self_coupling_db": None, "isolation_db": 40.0,
        "self_coupling_delay_samples": 0.0, "clutter_scatterers": 50, "clutter_to_noise_db": 30.0,
        "clutter_region_m": None, "clutter_beyond_cp_fraction": 0.1, "clutter_beyond_cp_factor": 1.5,
        "clutter_positions_m": None, "adc_bits": 12, "adc_full_scale": 1.0, "agc": True, "agc_backoff_db": 20.0, "rf_canceller_db": 60.0,
        "guard_subcarriers": None, "guard_fraction": 0.2, "dc_null": True,
    },
}
# issue 13's "lab" air: the radios' synchronisation and channel impairments (clocks, latencies, channel phases and
# gains, CFO, user delays, direct paths at 30 dB SNR) without issue 14's interference levels, dynamic range and
# unused bins; what issue 13's tests and figures mean by "lab"
PRESETS["lab-sync"] = dict(PRESETS["ideal"], **{k: v for k, v in PRESETS["lab"].items() if k in (
    "timing_offset_ns", "latency_samples", "rx_phase_deg", "tx_phase_deg", "rx_gain_db", "tx_gain_db", "cfo_hz",
    "user_delays", "direct_path", "direct_path_snr_db")})
KEYS = ("preset",) + tuple(PRESETS["ideal"])
# the transmitter's own layout (which bins it uses), not the air's: Scenario.active_subcarriers reads them and
# Scenario.without_impairments keeps them (SPEC14 §0)
LAYOUT_KEYS = ("guard_subcarriers", "guard_fraction", "dc_null")
# alternative forms of one quantity: (the preferred key, the other); see the module docstring
_PAIRS = (("direct_path_db", "direct_path_snr_db"), ("self_coupling_db", "isolation_db"),
          ("guard_subcarriers", "guard_fraction"))

# one random stream per drawn quantity (arbitrary distinct constants)
_STREAMS = {"timing_offset_ns": 0x7141, "latency_samples": 0x1A7E, "rx_phase_deg": 0x9A51, "tx_phase_deg": 0x7A51,
            "rx_gain_db": 0x96A1, "tx_gain_db": 0x76A1, "cfo_hz": 0xCF0, "phase_drift_deg_per_s": 0xD81F,
            "clutter_positions_m": 0xC1A7, "clutter_phase": 0xC1AF, "clutter_beyond_cp": 0xC1BC,
            "self_coupling": 0x5E1C}
# bounds that keep a value physical and the arithmetic finite (far beyond any radio); the two delays also
# bound the air's memory (a delay line keeps D samples of history per path)
MAX_TIMING_OFFSET_NS = 1e6  # 1 ms (GPSDO-class: 50 ns; B200 start offsets: µs)
MAX_LATENCY_SAMPLES = 1e6  # (a B210: 46–165)
MAX_PHASE_DEG = 1e6
MAX_GAIN_DB = 100.0
MAX_CFO_HZ = 1e9
MAX_DRIFT_DEG_PER_S = 1e9
MAX_CARRIER_HZ = 1e15  # far beyond any radio (300 GHz mmWave: 3e11); keeps λ² a normal float
MAX_RCS_M2 = 1e12
MAX_ANTENNA_GAIN_DBI = 100.0
MAX_CLUTTER_SCATTERERS = 10_000  # a path per scatterer and link: memory and time grow with it
MAX_CLUTTER_BEYOND_CP_FACTOR = 1e4
ADC_BITS_RANGE = (4, 24)
MAX_AGC_BACKOFF_DB = 100.0


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
    # ---- issue 14 (docs/air-model.md §5). Fields marked "geometry" are drawn only when draw_impairments is
    # given the scenario (Scenario.impairments is), else None.
    direct_path_db: object = None  # None (direct_path_snr_db is used) | float (dB to the mean echo) | "free_space"
    carrier_hz: float = 3.5e9
    rcs_m2: float = 1.0
    tx_antenna_gain_dbi: float = 0.0
    rx_antenna_gain_dbi: float = 0.0
    direct_path_amplitudes: object = None  # geometry: (N_rx, N_tx) β_dp of link m → n (0 on the diagonal)
    self_coupling_db: object = None  # None or float
    isolation_db: object = None  # None or float (math.inf: no leakage)
    self_coupling_delay_samples: float = 0.0
    self_coupling: object = None  # geometry: (N, Mr, Mt) complex C_n, or None (no leakage)
    clutter_scatterers: int = 0  # C
    clutter_to_noise_db: float = 30.0
    clutter_region_m: object = None  # (x_min, x_max, y_min, y_max) as given, or None (the localiser's default)
    clutter_beyond_cp_fraction: float = 0.0
    clutter_beyond_cp_factor: float = 1.5
    clutter_positions_m: object = None  # geometry: (C, 2)
    clutter_amplitudes: object = None  # geometry: (C,) complex β_c·e^{jψ_c} (the same on every link)
    clutter_beyond_cp: object = None  # geometry: (C,) bool, the scatterers placed beyond the cyclic prefix
    adc_bits: int = 0  # 0: no ADC model
    adc_full_scale: float = 1.0
    agc: bool = True
    agc_backoff_db: float = 20.0
    guard_subcarriers: object = None  # int, or None when guard_fraction gives them
    guard_fraction: object = None  # float or None
    dc_null: bool = False

    @property
    def num_nodes(self):
        return self.clock_offset_s.shape[0]

    def link_delay_samples(self, sample_rate_hz):
        """D (N_rx, N_tx) in samples: [n, m] = (δ_m − δ_n)·fs + λ_n, the extra delay of link m → n on node n's
        rx_time labels (docs/air-model.md §2; monostatic D_nn = λ_n)."""
        delta = self.clock_offset_s * float(sample_rate_hz)
        return delta[None, :] - delta[:, None] + self.latency_samples[:, None]

    @property
    def has_self_coupling(self):
        """True when the table asks for a leakage (self_coupling_db, or a finite isolation_db)."""
        return self.self_coupling_db is not None or (self.isolation_db is not None and math.isfinite(self.isolation_db))

    def guard_count(self, subcarriers):
        """G, the guard bins for L subcarriers: guard_subcarriers, or round half up of guard_fraction·L."""
        if self.guard_fraction is not None:
            return int(math.floor(self.guard_fraction * int(subcarriers) + 0.5))
        return int(self.guard_subcarriers or 0)

    @property
    def is_ideal(self):
        """True when the air is today's model: no offsets, unit gains, per-frame phases, no overflow, no user
        delays, no direct path, no clutter, no self-coupling, no ADC model (seed, overflow_samples, the levels and
        the link budget do not matter then; the guard/DC bins are the transmitter's layout, not the air's)."""
        return (not np.any(self.clock_offset_s) and not np.any(self.latency_samples)
                and np.all(self.rx_gains == 1) and np.all(self.tx_gains == 1) and not np.any(self.cfo_hz)
                and self.node_phase == "per_frame" and not np.any(self.phase_drift_deg_per_s)
                and self.overflow_every_frames == 0 and not self.user_delays and not self.direct_path
                and self.clutter_scatterers == 0 and not self.has_self_coupling and self.adc_bits == 0)

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
            "direct_path_db": self.direct_path_db, "carrier_hz": self.carrier_hz, "rcs_m2": self.rcs_m2,
            "tx_antenna_gain_dbi": self.tx_antenna_gain_dbi, "rx_antenna_gain_dbi": self.rx_antenna_gain_dbi,
            "direct_path_amplitudes": None if self.direct_path_amplitudes is None
            else self.direct_path_amplitudes.tolist(),
            "self_coupling_db": self.self_coupling_db, "isolation_db": self.isolation_db if self.has_self_coupling else None,
            "self_coupling_delay_samples": self.self_coupling_delay_samples,
            "self_coupling_abs": None if self.self_coupling is None else float(np.abs(self.self_coupling).max()),
            "clutter_scatterers": self.clutter_scatterers, "clutter_to_noise_db": self.clutter_to_noise_db,
            "clutter_positions_m": None if self.clutter_positions_m is None else self.clutter_positions_m.tolist(),
            "clutter_amplitudes": None if self.clutter_amplitudes is None
            else [[float(v.real), float(v.imag)] for v in self.clutter_amplitudes],
            "clutter_beyond_cp": None if self.clutter_beyond_cp is None else self.clutter_beyond_cp.tolist(),
            "adc_bits": self.adc_bits, "adc_full_scale": self.adc_full_scale, "agc": self.agc,
            "agc_backoff_db": self.agc_backoff_db, "guard_subcarriers": self.guard_subcarriers,
            "guard_fraction": self.guard_fraction, "dc_null": self.dc_null,
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


def _db(key, value, accepted_extra=""):
    return _bounded(key, value, MAX_ABS_SNR_DB,
                    f"a number of dB from {-MAX_ABS_SNR_DB:g} to {MAX_ABS_SNR_DB:g}{accepted_extra}", -MAX_ABS_SNR_DB)


def _positive(key, value, maximum, unit):
    if not _is_number(value) or not math.isfinite(float(value)) or not 0 < float(value) <= maximum:
        raise ScenarioError(f"{_key(key)} = {value!r}: expected a number > 0 ({unit}), at most {maximum:g}")
    return float(value)


def _region(key, value):
    accepted = (f"[x_min, x_max, y_min, y_max]: 4 finite numbers (m) with x_min < x_max and y_min < y_max, "
                f"within ±{MAX_COORDINATE_M:g} m")
    if (not isinstance(value, list) or len(value) != 4 or not all(_is_number(v) for v in value)
            or not all(math.isfinite(float(v)) and abs(float(v)) <= MAX_COORDINATE_M for v in value)
            or not (float(value[0]) < float(value[1]) and float(value[2]) < float(value[3]))):
        raise ScenarioError(f"{_key(key)} = {value!r}: expected {accepted}")
    return [float(v) for v in value]


def _points(key, value):
    accepted = (f"a list of [x, y] positions (m, finite, within ±{MAX_COORDINATE_M:g} m), "
                f"at most {MAX_CLUTTER_SCATTERERS}")
    if (not isinstance(value, list) or len(value) > MAX_CLUTTER_SCATTERERS
            or not all(isinstance(p, list) and len(p) == 2 and all(_is_number(v) for v in p) for p in value)
            or not all(math.isfinite(float(v)) and abs(float(v)) <= MAX_COORDINATE_M for p in value for v in p)):
        raise ScenarioError(f"{_key(key)} = {value!r}: expected {accepted}")
    return [[float(x), float(y)] for x, y in value]


def _validate_issue14_key(key, value):
    """One issue-14 key (docs/air-model.md §5); None = absent where the key may be absent."""
    if key == "direct_path_db":
        if value == "free_space":
            return value
        if isinstance(value, str):
            raise ScenarioError(f"{_key(key)} = {value!r}: expected a number of dB (to the mean target echo) "
                                f"or \"free_space\" (the link budget)")
        return _db(key, value, ', or "free_space" (the link budget)')
    if key == "carrier_hz":
        return _positive(key, value, MAX_CARRIER_HZ, "Hz")
    if key == "rcs_m2":
        return _positive(key, value, MAX_RCS_M2, "m²")
    if key in ("tx_antenna_gain_dbi", "rx_antenna_gain_dbi"):
        return _bounded(key, value, MAX_ANTENNA_GAIN_DBI,
                        f"a number of dBi from {-MAX_ANTENNA_GAIN_DBI:g} to {MAX_ANTENNA_GAIN_DBI:g}",
                        -MAX_ANTENNA_GAIN_DBI)
    if key == "self_coupling_db":
        return _db(key, value, " (the leakage per element, to the mean target echo)")
    if key == "isolation_db":
        if _is_number(value) and float(value) == math.inf:
            return math.inf
        return _bounded(key, value, MAX_ABS_SNR_DB,
                        f"a number of dB from 0 to {MAX_ABS_SNR_DB:g} (the antenna isolation), or inf (no leakage)")
    if key == "self_coupling_delay_samples":
        return _bounded(key, value, MAX_LATENCY_SAMPLES, f"a number from 0 to {MAX_LATENCY_SAMPLES:g} (samples)")
    if key == "clutter_scatterers":
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value <= MAX_CLUTTER_SCATTERERS:
            raise ScenarioError(f"{_key(key)} = {value!r}: expected a whole number from 0 to {MAX_CLUTTER_SCATTERERS}")
        return int(value)
    if key == "clutter_to_noise_db":
        return _db(key, value)
    if key == "clutter_region_m":
        return _region(key, value)
    if key == "clutter_beyond_cp_fraction":
        return _bounded(key, value, 1.0, "a share from 0 to 1")
    if key == "clutter_beyond_cp_factor":
        if not _is_number(value) or not math.isfinite(float(value)) or not 1 < float(value) <= MAX_CLUTTER_BEYOND_CP_FACTOR:
            raise ScenarioError(f"{_key(key)} = {value!r}: expected a number > 1 (times the cyclic prefix), "
                                f"at most {MAX_CLUTTER_BEYOND_CP_FACTOR:g}")
        return float(value)
    if key == "clutter_positions_m":
        return _points(key, value)
    if key == "adc_bits":
        lo, hi = ADC_BITS_RANGE
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not (value == 0 or lo <= value <= hi):
            raise ScenarioError(f"{_key(key)} = {value!r}: expected 0 (no ADC model) or a whole number of bits "
                                f"from {lo} to {hi}")
        return int(value)
    if key == "adc_full_scale":
        return _positive(key, value, 1e30, "the clip level per I/Q component, sample units")
    if key in ("agc", "dc_null"):
        return _flag(key, value)
    if key == "agc_backoff_db":
        return _bounded(key, value, MAX_AGC_BACKOFF_DB, f"a number of dB from 0 to {MAX_AGC_BACKOFF_DB:g}")
    if key == "guard_subcarriers":
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value < (1 << 16):
            raise ScenarioError(f"{_key(key)} = {value!r}: expected a whole number ≥ 0 (fewer than the subcarriers)")
        return int(value)
    if key == "guard_fraction":
        return _bounded(key, value, 0.5, "a share from 0 to 0.5 of the subcarriers")
    if key == "rf_canceller_db":  # the receive front end's (its validation lives there)
        from .front_end import check_rf_canceller_db
        try:
            return check_rf_canceller_db(value, _key(key))
        except ValueError as exc:
            raise ScenarioError(str(exc)) from None
    raise AssertionError(key)


ISSUE14_KEYS = ("direct_path_db", "carrier_hz", "rcs_m2", "tx_antenna_gain_dbi", "rx_antenna_gain_dbi",
                "self_coupling_db", "isolation_db", "self_coupling_delay_samples", "clutter_scatterers",
                "clutter_to_noise_db", "clutter_region_m", "clutter_beyond_cp_fraction", "clutter_beyond_cp_factor",
                "clutter_positions_m", "adc_bits", "adc_full_scale", "agc", "agc_backoff_db", "guard_subcarriers",
                "guard_fraction", "dc_null", "rf_canceller_db")
# keys that may be absent (None in Python tables, and in the presets)
_OPTIONAL = ("direct_path_db", "self_coupling_db", "isolation_db", "clutter_region_m", "clutter_positions_m",
             "guard_subcarriers", "guard_fraction")


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
        elif value is None and key in _OPTIONAL:
            out[key] = None  # absent (Python tables; the presets' absent entries)
        else:
            out[key] = _validate_issue14_key(key, value)
    for first, second in _PAIRS[1:]:  # the direct path's pair: direct_path_db wins (issue 13 tables give the other)
        if out.get(first) is not None and out.get(second) is not None:
            raise ScenarioError(f"{_key(second)} = {out[second]!r}: give either {_key(first)} or {_key(second)}, "
                                f"not both (table has {_key(first)} = {out[first]!r})")
    if out.get("clutter_positions_m") is not None and "clutter_scatterers" in out \
            and out["clutter_scatterers"] != len(out["clutter_positions_m"]):
        raise ScenarioError(
            f"impairments.clutter_scatterers = {out['clutter_scatterers']!r}: clutter_positions_m gives "
            f"{len(out['clutter_positions_m'])} positions; accepted: the same count, or leave clutter_scatterers out")
    _write_absent_as_values(out)
    resolved = resolve_impairments_table(out)
    drift = resolved["phase_drift_deg_per_s"]
    if resolved["node_phase"] != "per_run" and (np.any(drift) if isinstance(drift, list) else drift != 0):
        raise ScenarioError(
            f"impairments.phase_drift_deg_per_s = {drift!r}: a drift needs node_phase = \"per_run\" "
            f"(node_phase = {resolved['node_phase']!r} draws a fresh phase every frame); accepted: 0, or set node_phase")
    return out


def _write_absent_as_values(out):
    """An explicit None (Python: "absent") as the value TOML can write, so a round trip keeps the meaning: no
    leakage → isolation_db = inf, no guards → guard_subcarriers = 0, no direct_path_db → the preset's
    direct_path_snr_db (explicit: it replaces the preset's direct_path_db); absent region/positions: dropped."""
    preset = PRESETS[out.get("preset", "ideal")]
    if "self_coupling_db" in out or "isolation_db" in out:
        if out.get("self_coupling_db") is None and out.get("isolation_db") is None:
            out.pop("self_coupling_db", None)
            out["isolation_db"] = math.inf
        elif out.get("self_coupling_db") is None:
            out.pop("self_coupling_db", None)
        else:
            out.pop("isolation_db", None)
    if "guard_subcarriers" in out or "guard_fraction" in out:
        if out.get("guard_subcarriers") is None and out.get("guard_fraction") is None:
            out.pop("guard_fraction", None)
            out["guard_subcarriers"] = 0
        elif out.get("guard_subcarriers") is None:
            out.pop("guard_subcarriers", None)
        else:
            out.pop("guard_fraction", None)
    if "direct_path_db" in out and out["direct_path_db"] is None:
        del out["direct_path_db"]
        out.setdefault("direct_path_snr_db", float(preset["direct_path_snr_db"]))
    for key in ("clutter_region_m", "clutter_positions_m"):
        if key in out and out[key] is None:
            del out[key]


def resolve_impairments_table(table):
    """The preset's values (default "ideal") overridden by the table's explicit keys (no validation). A key of a
    pair given in the table replaces the preset's other form (module docstring); explicit clutter positions set
    the scatterer count."""
    resolved = dict(PRESETS[table.get("preset", "ideal")])
    for first, second in _PAIRS:
        if table.get(first) is not None:
            resolved[second] = None if first != "direct_path_db" else resolved[second]
        elif table.get(second) is not None:
            resolved[first] = None
    resolved.update({k: v for k, v in table.items() if k != "preset"})
    if resolved.get("clutter_positions_m") is not None:
        resolved["clutter_scatterers"] = len(resolved["clutter_positions_m"])
    if resolved.get("guard_subcarriers") is None and resolved.get("guard_fraction") is None:
        resolved["guard_subcarriers"] = 0
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


def draw_impairments(table, num_nodes, tx_antennas, rx_antennas, scenario=None):
    """Validate ``table`` for N nodes, Mt, Mr and draw one run's Impairments from its seed (reproducible).

    ``scenario`` (a core.scenario.Scenario of those sizes; Scenario.impairments passes itself): also draw what
    needs its geometry and levels (docs/air-model.md §5: direct-path amplitudes, self-coupling matrices, clutter
    positions and amplitudes); without it those fields are None."""
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
    if scenario is not None:
        arrays.update(_draw_geometry(r, scenario))
    for arr in arrays.values():
        if arr is not None:
            arr.setflags(write=False)
    region = r["clutter_region_m"]
    return Impairments(seed=int(seed), node_phase=r["node_phase"],
                       overflow_every_frames=int(r["overflow_every_frames"]),
                       overflow_samples=int(r["overflow_samples"]), user_delays=bool(r["user_delays"]),
                       direct_path=bool(r["direct_path"]), direct_path_snr_db=float(r["direct_path_snr_db"]),
                       direct_path_db=r["direct_path_db"], carrier_hz=float(r["carrier_hz"]),
                       rcs_m2=float(r["rcs_m2"]), tx_antenna_gain_dbi=float(r["tx_antenna_gain_dbi"]),
                       rx_antenna_gain_dbi=float(r["rx_antenna_gain_dbi"]),
                       self_coupling_db=r["self_coupling_db"], isolation_db=r["isolation_db"],
                       self_coupling_delay_samples=float(r["self_coupling_delay_samples"]),
                       clutter_scatterers=int(r["clutter_scatterers"]),
                       clutter_to_noise_db=float(r["clutter_to_noise_db"]),
                       clutter_region_m=None if region is None else tuple(region),
                       clutter_beyond_cp_fraction=float(r["clutter_beyond_cp_fraction"]),
                       clutter_beyond_cp_factor=float(r["clutter_beyond_cp_factor"]),
                       adc_bits=int(r["adc_bits"]), adc_full_scale=float(r["adc_full_scale"]), agc=bool(r["agc"]),
                       agc_backoff_db=float(r["agc_backoff_db"]),
                       guard_subcarriers=None if r["guard_subcarriers"] is None else int(r["guard_subcarriers"]),
                       guard_fraction=None if r["guard_fraction"] is None else float(r["guard_fraction"]),
                       dc_null=bool(r["dc_null"]), **arrays)


# ---- the link budget and the geometry-given draws (docs/air-model.md §5) ------------------------------

def radar_power_gains(node_positions_m, target_positions_m, carrier_hz=3.5e9, rcs_m2=1.0,
                      tx_antenna_gain_dbi=0.0, rx_antenna_gain_dbi=0.0):
    """The radar equation's power gain of target k on link m → n, G_t G_r λ² σ / ((4π)³ R_mk² R_nk²), (N_rx, N_tx, K)."""
    r = geometry.distances_m(np.asarray(node_positions_m, float), np.asarray(target_positions_m, float))  # (N, K)
    lam = geometry.SPEED_OF_LIGHT_M_S / float(carrier_hz)
    gains = 10 ** ((tx_antenna_gain_dbi + rx_antenna_gain_dbi) / 10)
    return gains * lam**2 * rcs_m2 / ((4 * np.pi) ** 3 * r[:, None, :] ** 2 * r[None, :, :] ** 2)


def los_power_gains(node_positions_m, carrier_hz=3.5e9, tx_antenna_gain_dbi=0.0, rx_antenna_gain_dbi=0.0):
    """Free-space line-of-sight power gain m → n, G_t G_r λ² / (4π d_mn)², (N, N), 0 on the diagonal."""
    nodes = np.asarray(node_positions_m, float)
    d = geometry.distances_m(nodes, nodes)
    lam = geometry.SPEED_OF_LIGHT_M_S / float(carrier_hz)
    gains = 10 ** ((tx_antenna_gain_dbi + rx_antenna_gain_dbi) / 10)
    out = np.zeros_like(d)
    off = ~np.eye(len(nodes), dtype=bool)
    out[off] = gains * lam**2 / (4 * np.pi * d[off]) ** 2
    return out


def _budget(r):
    return dict(carrier_hz=r["carrier_hz"], tx_antenna_gain_dbi=r["tx_antenna_gain_dbi"],
                rx_antenna_gain_dbi=r["rx_antenna_gain_dbi"])


def _mean_echo_power(scenario):
    """mean_k,n,m |b|², the reference of every relative level (the scenario's target echoes: its snr_db)."""
    return float(np.mean(np.abs(scenario.target_amplitudes()) ** 2))


def _mean_radar_gain(r, scenario):
    return float(np.mean(radar_power_gains(scenario.node_positions_m, scenario.target_positions_m,
                                           rcs_m2=r["rcs_m2"], **_budget(r))))


def _draw_geometry(r, scenario):
    """The fields that need the scenario: direct-path amplitudes, self-coupling, clutter."""
    out = {"direct_path_amplitudes": None, "self_coupling": None, "clutter_positions_m": None,
           "clutter_amplitudes": None, "clutter_beyond_cp": None}
    n = scenario.num_nodes
    echo = _mean_echo_power(scenario)
    relative = [f"{key} = {r[key]!r}" for key in ("direct_path_db", "self_coupling_db", "isolation_db")
                if r[key] is not None and not (key == "direct_path_db" and not r["direct_path"])
                and not (key == "isolation_db" and not math.isfinite(r[key]))]
    if relative and echo == 0:
        raise ScenarioError(
            f"impairments.{relative[0]}: the level is set relative to the mean target echo, and the targets have "
            "amplitude 0; accepted: targets with an echo (targets.snr_db or targets.amplitude > 0), or the absolute "
            "direct_path_snr_db for the direct paths")
    if r["direct_path"]:
        off = ~np.eye(n, dtype=bool)
        if r["direct_path_db"] is None:  # issue 13: P_T·β_dp²/σ² = direct_path_snr_db
            power = np.full((n, n), 10 ** (r["direct_path_snr_db"] / 10) * scenario.noise_power
                            / scenario.per_antenna_power)
        elif r["direct_path_db"] == "free_space":
            power = echo * los_power_gains(scenario.node_positions_m, **_budget(r)) / _mean_radar_gain(r, scenario)
        else:
            power = np.full((n, n), echo * 10 ** (r["direct_path_db"] / 10))
        out["direct_path_amplitudes"] = np.where(off, np.sqrt(power), 0.0)
    level = None
    if r["self_coupling_db"] is not None:
        level = echo * 10 ** (r["self_coupling_db"] / 10)
    elif r["isolation_db"] is not None and math.isfinite(r["isolation_db"]):
        level = echo * 10 ** (-r["isolation_db"] / 10) / _mean_radar_gain(r, scenario)
    if level is not None:
        shape = (n, scenario.rx_antennas, scenario.tx_antennas)
        phase = 2 * np.pi * _rng(r["seed"], "self_coupling").random(shape)
        out["self_coupling"] = np.sqrt(level) * np.exp(1j * phase)
    count = int(r["clutter_scatterers"])
    if count:
        positions = _clutter_positions(r, scenario, count)
        beta = math.sqrt(10 ** (r["clutter_to_noise_db"] / 10) * scenario.noise_power
                         / (scenario.per_antenna_power * n**2 * count))
        psi = 2 * np.pi * _rng(r["seed"], "clutter_phase").random(count)
        out["clutter_positions_m"] = positions
        out["clutter_amplitudes"] = beta * np.exp(1j * psi)
        out["clutter_beyond_cp"] = clutter_delays_samples(scenario, positions).max(axis=(0, 1)) > scenario.cyclic_prefix
    return out


def clutter_delays_samples(scenario, positions_m):
    """Geometric delay of every clutter path tx m → scatterer c → rx n, (N_rx, N_tx, C) in samples."""
    one_way = geometry.one_way_delays_s(scenario.node_positions_m, np.asarray(positions_m, float).reshape(-1, 2))
    return geometry.bistatic_delays_s(one_way) * scenario.bandwidth_hz


def _within_cp_draw(r, scenario, nodes, region, count):
    """``count`` positions uniform over the part of ``region`` where every link's clutter echo is within the
    cyclic prefix and ≥ 1 mm from every node (rejection from the stream's uniform draws, so the share beyond the
    prefix is clutter_beyond_cp_fraction's, not the region's shape's)."""
    rng = _rng(r["seed"], "clutter_positions_m")
    low, high = region[[0, 2]], region[[1, 3]]
    kept, tried = [], 0
    while sum(len(k) for k in kept) < count:
        batch = rng.uniform(low, high, (max(64, 2 * count), 2))
        tried += len(batch)
        ok = (clutter_delays_samples(scenario, batch).max(axis=(0, 1)) <= scenario.cyclic_prefix) & \
            np.all(geometry.distances_m(nodes, batch) >= MIN_SEPARATION_M, axis=0)
        kept.append(batch[ok])
        if tried > 1000 * max(count, 64) and not sum(len(k) for k in kept):
            raise ScenarioError(
                f"impairments.clutter_region_m = {np.asarray(region).tolist()}: no point of the region has its clutter "
                f"echoes within the cyclic prefix ofdm.cyclic_prefix = {scenario.cyclic_prefix} on every link; "
                "accepted: a region nearer the nodes, or clutter_positions_m")
    return np.concatenate(kept)[:count] if count else np.empty((0, 2))


def _clutter_positions(r, scenario, count):
    """(C, 2): the given positions, or C − B uniform in the region where every clutter echo is within the CP
    and the last B = round half up(f·C) at monostatic delay factor × CP (docs/air-model.md §5); checked: off the
    nodes, delays bounded."""
    nodes = np.asarray(scenario.node_positions_m, float)
    if r["clutter_positions_m"] is not None:
        positions = np.array(r["clutter_positions_m"], dtype=float).reshape(-1, 2)
    else:
        if r["clutter_region_m"] is not None:
            region = np.asarray(r["clutter_region_m"], float)
        else:
            from .localizer import default_search_region
            region = np.asarray(default_search_region(scenario), float)
        beyond = int(math.floor(r["clutter_beyond_cp_fraction"] * count + 0.5))
        positions = np.empty((count, 2))
        positions[:count - beyond] = _within_cp_draw(r, scenario, nodes, region, count - beyond)
        if beyond:
            # monostatic delay factor × CP: range R = factor·CP·c/(2B) from node (c mod N), in its front half-plane
            # (every array's broadside is +x: DESIGN.md §3), at a uniform angle
            radius = r["clutter_beyond_cp_factor"] * scenario.cyclic_prefix * geometry.SPEED_OF_LIGHT_M_S \
                / (2 * scenario.bandwidth_hz)
            angles = _rng(r["seed"], "clutter_beyond_cp").uniform(-np.pi / 2, np.pi / 2, beyond)
            owner = np.arange(beyond) % len(nodes)
            positions[count - beyond:] = nodes[owner] + radius * np.column_stack([np.cos(angles), np.sin(angles)])
    d = geometry.distances_m(nodes, positions)
    if np.any(d < MIN_SEPARATION_M):  # angles are undefined there
        i, c = np.unravel_index(np.argmin(d), d.shape)
        raise ScenarioError(f"impairments.clutter_positions_m: scatterer {c + 1} at {positions[c].tolist()} is on "
                            f"node {i + 1}; it must be at least {MIN_SEPARATION_M} m from every node")
    longest = clutter_delays_samples(scenario, positions).max()
    if longest > MAX_LATENCY_SAMPLES:
        raise ScenarioError(f"impairments.clutter_*: a clutter echo arrives after {longest:.4g} samples; accepted: "
                            f"at most {MAX_LATENCY_SAMPLES:g} (the air keeps that much history per path): "
                            "scatterers closer to the nodes")
    return positions


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
    """The lines of an [impairments] table (validated values: numbers, strings, bools, lists, {min, max}; inf as
    TOML's inf)."""
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
    return [f"{k} = {value(v)}" for k, v in table.items() if v is not None]
