# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Scenarios: the geometry, radios and noise of one D-ISAC set-up, loaded from TOML and validated.

A scenario file has four tables, and two optional ones (every key is optional unless marked *):

    name = "my-setup"                       # optional, shown in outputs
    [nodes]   positions_m*  tx_antennas*  rx_antennas*  per_antenna_power (P_T, 1.0)
    [ofdm]    bandwidth_hz*  subcarriers*  cyclic_prefix*  symbols_per_frame (1)
              pilot_symbols (1, or U + 1 with [impairments] user_delays: ≥ U + 1 = per-subcarrier pilots, core.ofdm)
              frame_interval_s (scene time from one sensing frame's start to the next; default the frame's own
              duration frame_len/B)  carrier_hz (3.5e9: λ = c/carrier_hz of the targets' Doppler)
    [targets] positions_m*  snr_db (0.0) | amplitude  amplitude_phase ("zero"|"random")  seed (0)
              noise_power (σ², 1.0)  velocities_mps (K × [vx, vy], zeros)  appear_s / leave_s (K numbers: target k
              is present for appear_s ≤ t < leave_s; default always) — the scene's motion (issue 15, SPEC15 §0):
              positions_m are the positions at t = 0, frame f is at t_f = f·frame_interval_s (``targets_at``)
    [users]   positions_m*  snr_db (20.0) | noise_power (σ_c²)  channel ("los"|"rayleigh")  seed (0)
    [impairments]  (optional) what real radios do to the synthetic air: preset ("ideal"|"lab"), seed,
              timing_offset_ns, latency_samples, rx/tx_phase_deg, rx/tx_gain_db, cfo_hz, node_phase,
              phase_drift_deg_per_s, overflow_every_frames, overflow_samples, user_delays, direct_path,
              direct_path_snr_db; issue 14: direct_path_db, link budget (carrier_hz, rcs_m2, antenna gains),
              self_coupling_db | isolation_db, clutter_*, adc_*, agc*, guard_subcarriers | guard_fraction, dc_null
              — see core.impairments; absent = the ideal air (today's model)
    [calibration]  (optional) reflector_m ([x, y], a reference reflector at a known position: an extra
              point target of the air on every link)  reflector_snr_db (20.0) | reflector_amplitude

The target SNR is the paper's P_T·Σ_{k,n,m}|b_{n,m}^k|²/σ² (Sec. V); with every |b| equal to β it
fixes β = sqrt(SNR·σ² / (P_T·K·N²)). The user SNR is P_T/σ_c². The reflector's SNR has the same
definition for one target: β_ref = sqrt(SNR·σ² / (P_T·N²)). Presets reproduce the paper's Sec. V
set-ups by name (see PRESETS). Every problem raises ScenarioError with a one-line message that names
the key, the value and what is accepted; problems that are legal but need the user's attention are
warnings, and facts that need no action (an echo past L/B) are notes.
"""

import dataclasses
import functools
import math
import tomllib

import numpy as np

from . import geometry

# Below this distance two points count as "at one place" (angles are undefined there).
MIN_SEPARATION_M = 1e-3
# Coordinates beyond ±10 000 km are no terrestrial deployment, and squaring larger ones overflows.
MAX_COORDINATE_M = 1e7
# SNRs in dB are accepted in ±MAX_ABS_SNR_DB: far beyond any physical set-up, and 10**(dB/10) stays
# a normal float (a larger value overflowed, or gave σ_c² = P_T/0).
MAX_ABS_SNR_DB = 200.0


# Speeds are accepted up to MAX_SPEED_MPS: beyond any ground or air target of a D-ISAC cell, and far inside what the
# air's moving-target model holds (docs/air-model.md §6: the delay frozen within a frame, the range migrating by
# v·T_frame·2/c·B ≈ 5·10⁻⁷ samples over the paper's 7.2 µs frame at this speed).
MAX_SPEED_MPS = 1000.0
DEFAULT_CARRIER_HZ = 3.5e9  # the same default as [impairments] carrier_hz (the link budget)


class ScenarioError(ValueError):
    """A scenario file or preset that cannot be used; the message names the key and the value."""


@dataclasses.dataclass(frozen=True)
class TargetState:
    """The targets at one scene time (``Scenario.targets_at``): truth of the air, never read by the receive side."""

    positions_m: np.ndarray  # (K, 2): p_k + v_k·t
    velocities_mps: np.ndarray  # (K, 2): v_k (constant)
    present: np.ndarray  # (K,) bool: appear_s ≤ t < leave_s


@dataclasses.dataclass(frozen=True)
class Scenario:
    """A resolved, validated scenario. Arrays are read-only numpy arrays.

    Amplitudes and noise powers are stored resolved (β, σ², σ_c²), so that changing P_T or Mt with
    ``replace`` keeps them, as the paper does for Fig. 3(a) and Fig. 5.
    """

    name: str
    node_positions_m: np.ndarray  # (N, 2)
    tx_antennas: int  # Mt
    rx_antennas: int  # Mr
    per_antenna_power: float  # P_T
    bandwidth_hz: float  # B
    subcarriers: int  # L
    cyclic_prefix: int  # samples
    symbols_per_frame: int  # OFDM symbols in one sensing snapshot
    target_positions_m: np.ndarray  # (K, 2)
    target_amplitude: float  # β = |b_{n,m}^k| of every link
    target_amplitude_phase: str  # "zero" | "random"
    target_seed: int
    noise_power: float  # σ², sensing receivers
    user_positions_m: np.ndarray  # (U, 2)
    user_noise_power: float  # σ_c²
    user_channel: str  # "los" | "rayleigh"
    user_seed: int
    warnings: tuple = ()
    # the validated [impairments] table as written (preset not expanded); {} = absent (the ideal air).
    # Read by the synthetic air and tests' truth checks only, never by the receive side (docs/air-model.md §0).
    impairments_table: dict = dataclasses.field(default_factory=dict)
    reflector_m: object = None  # None or (2,) read-only: the [calibration] reference reflector (geometry)
    reflector_amplitude: float = 0.0  # |b| of the reflector's echo on every link (0 when there is none)
    pilot_symbols: int = 1  # the users' pilot OFDM symbols per frame (core.ofdm: ≥ U + 1 = per-subcarrier pilots)
    # ---- scene time and motion (issue 15, SPEC15 §0; docs/air-model.md §6) ----
    # [ofdm] frame_interval_s as given (None: frames back to back, ``frame_interval_s`` = the frame's duration); a
    # system parameter (the frame clock's schedule) the receive side may read, like carrier_hz
    frame_interval_setting_s: object = None
    carrier_hz: float = DEFAULT_CARRIER_HZ  # [ofdm] carrier_hz: λ = c/carrier_hz of the targets' Doppler
    # truth of the scene (like [impairments]: the air and tests' truth checks read them, never the receive side)
    target_velocities_mps: np.ndarray = None  # (K, 2) read-only, zeros when not given
    target_appear_s: object = None  # None (present from the start) or (K,) read-only
    target_leave_s: object = None  # None (never leaves) or (K,) read-only (inf allowed)

    # ---- sizes ------------------------------------------------------------------------------
    @property
    def num_nodes(self):
        return self.node_positions_m.shape[0]

    @property
    def num_targets(self):
        return self.target_positions_m.shape[0]

    @property
    def num_users(self):
        return self.user_positions_m.shape[0]

    # ---- derived quantities -----------------------------------------------------------------
    @property
    def target_snr_db(self):
        """The paper's target SNR P_T·Σ_{k,n,m}|b|²/σ² in dB."""
        total = self.per_antenna_power * self.num_targets * self.num_nodes**2 * self.target_amplitude**2
        return 10 * math.log10(total / self.noise_power) if total > 0 else -math.inf

    @property
    def user_snr_db(self):
        """P_T/σ_c² in dB."""
        return 10 * math.log10(self.per_antenna_power / self.user_noise_power)

    def target_angles_rad(self):
        """θ[n, k]: angle of target k seen from node n (eq. 4b)."""
        return geometry.angles_rad(self.node_positions_m, self.target_positions_m)

    def target_delays_s(self):
        """τ[n, k]: one-way time of flight node n ↔ target k (eq. 4a)."""
        return geometry.one_way_delays_s(self.node_positions_m, self.target_positions_m)

    def bistatic_delays_s(self):
        """τ[n, m, k]: time of flight tx m → target k → rx n."""
        return geometry.bistatic_delays_s(self.target_delays_s())

    def user_angles_rad(self):
        """φ[n, u]: angle of user u seen from node n."""
        return geometry.angles_rad(self.node_positions_m, self.user_positions_m)

    def target_amplitudes(self):
        """Complex b[n, m, k] (rx n, tx m, target k), all of modulus β; phases zero or seeded random."""
        shape = (self.num_nodes, self.num_nodes, self.num_targets)
        if self.target_amplitude_phase == "random":
            rng = np.random.default_rng(self.target_seed)
            phase = np.exp(2j * np.pi * rng.random(shape))
        else:
            phase = np.ones(shape)
        return self.target_amplitude * phase

    def user_channels(self):
        """h[n, u] ∈ C^Mt such that user u receives h[n, u]^H x_n from node n (eq. 2).

        Line of sight: h^H = a_t^T(φ_{n,u}), i.e. h = conj(a_t(φ)) (DESIGN.md §3); Rayleigh: CN(0, I),
        seeded by users.seed.
        """
        if self.user_channel == "rayleigh":
            rng = np.random.default_rng(self.user_seed)
            shape = (self.num_nodes, self.num_users, self.tx_antennas)
            return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) / np.sqrt(2)
        return np.conj(geometry.ula_steering(self.user_angles_rad(), self.tx_antennas))

    # ---- scene time and motion (issue 15) -------------------------------------------------------
    @property
    def frame_duration_s(self):
        """One frame's samples over the sample rate, core.ofdm's frame_len/B (preamble, pilots, P sensing symbols)."""
        return _frame_len(self.subcarriers, self.cyclic_prefix, self.pilot_symbols, self.symbols_per_frame) \
            / self.bandwidth_hz

    @property
    def frame_interval_s(self):
        """Scene time from one sensing frame's start to the next ([ofdm] frame_interval_s; default the frame's
        duration: frames back to back). A system parameter the receive side may read."""
        given = self.frame_interval_setting_s
        return self.frame_duration_s if given is None else float(given)

    def frame_time_s(self, frame):
        """t_f = frame·frame_interval_s: the scene time of frame ``frame``'s first sample (a float; an array of
        frames gives an array)."""
        if np.ndim(frame):
            return np.asarray(frame, dtype=float) * self.frame_interval_s
        return float(frame) * self.frame_interval_s

    @property
    def wavelength_m(self):
        """λ = c/carrier_hz."""
        return geometry.SPEED_OF_LIGHT_M_S / self.carrier_hz

    @property
    def is_static(self):
        """True when every target stands still and none appears or leaves: then the air is issue 14's, bit for bit."""
        return (self.target_appear_s is None and self.target_leave_s is None
                and not np.any(self.target_velocities_mps))

    def targets_at(self, time_s):
        """The targets at scene time ``time_s`` (seconds from t = 0): TargetState(positions p_k + v_k·t (K, 2),
        velocities v_k (K, 2), present appear_s ≤ t < leave_s (K,)). An array of T times gives a leading axis T on
        every field. Truth of the scene: the receive side never calls it."""
        t = np.asarray(time_s, dtype=float)
        if t.ndim > 1 or not np.all(np.isfinite(t)):
            raise ValueError(f"time_s = {time_s!r}: accepted: a finite number of seconds, or a list of them")
        v = self.target_velocities_mps
        lead = t.shape
        positions = self.target_positions_m + v * t[..., None, None] if np.any(v) else np.broadcast_to(
            self.target_positions_m, lead + self.target_positions_m.shape)
        present = np.ones(lead + (self.num_targets,), dtype=bool)
        if self.target_appear_s is not None:
            present &= self.target_appear_s <= t[..., None]
        if self.target_leave_s is not None:
            present &= t[..., None] < self.target_leave_s
        return TargetState(np.array(positions, dtype=float), np.array(np.broadcast_to(v, lead + v.shape), dtype=float),
                           present)

    # ---- impairments and the reference reflector (issue 13) ----------------------------------------
    @functools.cached_property
    def impairments(self):
        """The run's drawn core.impairments.Impairments (ideal when the table is absent); drawn once and kept.

        Truth of the synthetic air: the receive side never reads it (docs/air-model.md §0)."""
        from . import impairments
        return impairments.draw_impairments(self.impairments_table, self.num_nodes, self.tx_antennas,
                                            self.rx_antennas, scenario=self)

    @functools.cached_property
    def active_subcarriers(self):
        """(L,) read-only bool: the FFT bins the transmitters use (core.ofdm.active_subcarrier_mask from the
        [impairments] guard_subcarriers / guard_fraction (round half up of f·L) / dc_null; all True without them).
        The transmitter's own layout, not the air's truth: the transmitter, FIM and localiser read it, and
        without_impairments keeps it (SPEC14 §0, docs/air-model.md §5)."""
        from . import impairments, ofdm
        r = impairments.resolve_impairments_table(self.impairments_table)
        guards = _guard_count(r, self.subcarriers)
        return ofdm.active_subcarrier_mask(self.subcarriers, guards, bool(r["dc_null"]))

    def beyond_cp_paths(self):
        """The air's paths whose geometric delay exceeds the cyclic prefix (they leave inter-symbol interference),
        as a tuple of dicts {"kind": "clutter", "index": c, "rx": n, "tx": m, "delay_samples": τ·B}, sorted by
        (rx, tx, index). Only clutter can be there: the scenario check refuses a target or reflector echo past the
        prefix and a direct path is never longer than a target echo. Truth of the air (the clutter positions are
        the [impairments] draw): the receive side flags beyond-CP echoes from its samples, never from this."""
        positions = self.impairments.clutter_positions_m
        if positions is None or not len(positions):
            return ()
        from . import impairments
        delays = impairments.clutter_delays_samples(self, positions)  # (N_rx, N_tx, C)
        return tuple({"kind": "clutter", "index": int(c), "rx": int(n), "tx": int(m),
                      "delay_samples": float(delays[n, m, c])}
                     for n, m, c in zip(*np.nonzero(delays > self.cyclic_prefix)))

    def with_impairments(self, table_or_preset_name):
        """A copy with this [impairments] table (a dict) or preset ("ideal", "lab"), validated."""
        table = table_or_preset_name
        if isinstance(table, str):
            from . import impairments
            table = impairments.load_impairments_table(table)
        return self.replace(impairments_table=table)  # the frame layout stays: see with_user_pilots

    def with_user_pilots(self):
        """A copy with U + 1 per-subcarrier pilot symbols when the air has user delays and the pilots are flat
        (core.ofdm; what `--impairments` does, and a scenario file with such a table gets by default), else
        this scenario. with_impairments never changes the frame layout, so that a receiver made from the
        scenario before it frames as the air does."""
        from . import impairments
        delays = impairments.resolve_impairments_table(self.impairments_table).get("user_delays")
        return self.replace(pilot_symbols=self.num_users + 1) if delays and self.pilot_symbols <= self.num_users \
            else self

    def without_impairments(self):
        """A copy with the [impairments] table removed (what the receive side may be given: docs/air-model.md §0),
        except the transmitter's layout keys (guard_subcarriers or guard_fraction, dc_null: SPEC14 §0), kept with
        their resolved values when they leave a bin unused (so ``active_subcarriers`` is the same; {} otherwise)."""
        from . import impairments
        r = impairments.resolve_impairments_table(self.impairments_table)
        layout = {}
        if r["guard_fraction"] is not None and _guard_count(r, self.subcarriers):
            layout["guard_fraction"] = float(r["guard_fraction"])
        elif r["guard_fraction"] is None and r["guard_subcarriers"]:
            layout["guard_subcarriers"] = int(r["guard_subcarriers"])
        if r["dc_null"]:
            layout["dc_null"] = True
        return self.replace(impairments_table=layout)

    @property
    def reflector_snr_db(self):
        """The reference reflector's SNR, P_T·N²·β_ref²/σ² in dB (None without a reflector)."""
        if self.reflector_m is None:
            return None
        total = self.per_antenna_power * self.num_nodes**2 * self.reflector_amplitude**2
        return 10 * math.log10(total / self.noise_power) if total > 0 else -math.inf

    def reflector_delays_s(self):
        """τ[n, m]: time of flight tx m → reference reflector → rx n, (N, N) (None without a reflector)."""
        if self.reflector_m is None:
            return None
        one_way = geometry.one_way_delays_s(self.node_positions_m, self.reflector_m[None])  # (N, 1)
        return geometry.bistatic_delays_s(one_way)[..., 0]

    def node_angles_rad(self):
        """θ[n, m]: angle of node m seen from node n (eq. 4b): a direct path m → n leaves node m at θ[m, n] and
        arrives at node n from θ[n, m] (geometry: the receive side may use it)."""
        return geometry.angles_rad(self.node_positions_m, self.node_positions_m)

    def reflector_angles_rad(self):
        """θ[n]: angle of the reference reflector seen from node n, (N,) (None without a reflector)."""
        if self.reflector_m is None:
            return None
        return geometry.angles_rad(self.node_positions_m, self.reflector_m)[:, 0]

    def direct_path_delays_s(self):
        """τ[n, m] = |p_m − p_n|/c, (N, N): the line-of-sight delay between every pair of nodes (0 on the diagonal)."""
        return geometry.distances_m(self.node_positions_m, self.node_positions_m) / geometry.SPEED_OF_LIGHT_M_S

    @property
    def unambiguous_delay_s(self):
        """L/B: the period of the delay steering vector d(τ)."""
        return self.subcarriers / self.bandwidth_hz

    @property
    def notes(self):
        """Facts worth knowing that need no action (unlike ``warnings``): the echoes past L/B."""
        return tuple(_delay_ambiguity_notes(self.bistatic_delays_s(), self.unambiguous_delay_s))

    def replace(self, **changes):
        """A copy with some fields changed, validated again (e.g. tx_antennas for Fig. 3(a)). A new target count
        without new motion drops the motion (velocities zero, present always), as the old one no longer fits."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "warnings"}
        if "target_positions_m" in changes and np.shape(changes["target_positions_m"]) != self.target_positions_m.shape:
            for key in _MOTION_FIELDS:
                fields[key] = None
        fields.update(changes)
        return build_scenario(**fields)

    def summary(self):
        """A JSON-ready dict of the resolved scenario and its derived quantities."""
        tau = self.bistatic_delays_s()
        longest = np.unravel_index(np.argmax(tau), tau.shape)
        return {
            "name": self.name,
            "nodes": {
                "positions_m": self.node_positions_m.tolist(),
                "tx_antennas": self.tx_antennas,
                "rx_antennas": self.rx_antennas,
                "per_antenna_power": self.per_antenna_power,
            },
            "ofdm": {
                "bandwidth_hz": self.bandwidth_hz,
                "subcarriers": self.subcarriers,
                "cyclic_prefix": self.cyclic_prefix,
                "symbols_per_frame": self.symbols_per_frame,
                "pilot_symbols": self.pilot_symbols,
                "frame_interval_s": self.frame_interval_s,
                "frame_duration_s": self.frame_duration_s,
                "carrier_hz": self.carrier_hz,
            },
            "targets": {
                "positions_m": self.target_positions_m.tolist(),
                "amplitude": self.target_amplitude,
                "snr_db": self.target_snr_db,
                "amplitude_phase": self.target_amplitude_phase,
                "seed": self.target_seed,
                "noise_power": self.noise_power,
                "velocities_mps": self.target_velocities_mps.tolist(),
                "appear_s": None if self.target_appear_s is None else self.target_appear_s.tolist(),
                "leave_s": None if self.target_leave_s is None else _json_times(self.target_leave_s),
                "static": self.is_static,
            },
            "users": {
                "positions_m": self.user_positions_m.tolist(),
                "noise_power": self.user_noise_power,
                "snr_db": self.user_snr_db,
                "channel": self.user_channel,
                "seed": self.user_seed,
            },
            "derived": {
                "target_angles_deg": np.degrees(self.target_angles_rad()).tolist(),
                "target_delays_s": self.target_delays_s().tolist(),
                "user_angles_deg": np.degrees(self.user_angles_rad()).tolist(),
                "longest_bistatic_delay_s": float(tau[longest]),
                "longest_bistatic_delay_samples": float(tau[longest] * self.bandwidth_hz),
                "longest_bistatic_link": _link_name(*longest),
                "cyclic_prefix_s": self.cyclic_prefix / self.bandwidth_hz,
                "unambiguous_delay_s": self.unambiguous_delay_s,
            },
            "warnings": list(self.warnings),
            "notes": list(self.notes),
        } | ({"impairments": dict(self.impairments_table)} if self.impairments_table else {}) | (
            {"calibration": {"reflector_m": self.reflector_m.tolist(), "reflector_amplitude": self.reflector_amplitude,
                             "reflector_snr_db": self.reflector_snr_db}} if self.reflector_m is not None else {})


_MOTION_FIELDS = ("target_velocities_mps", "target_appear_s", "target_leave_s")


def _json_times(times):
    """Times for JSON: inf (never leaves) as None, which JSON can hold."""
    return [None if math.isinf(t) else float(t) for t in np.asarray(times).tolist()]


def _frame_len(subcarriers, cyclic_prefix, pilot_symbols, symbols_per_frame, preamble_symbols=1):
    """core.ofdm.FrameLayout.frame_len of a scenario's layout (ofdm.layout_from_scenario: one preamble symbol)."""
    return (preamble_symbols + pilot_symbols + symbols_per_frame) * (cyclic_prefix + subcarriers)


def _guard_count(resolved, subcarriers):
    """G from a resolved [impairments] table: guard_subcarriers, or round half up of guard_fraction·L."""
    if resolved.get("guard_fraction") is not None:
        return int(math.floor(resolved["guard_fraction"] * subcarriers + 0.5))
    return int(resolved.get("guard_subcarriers") or 0)


def _delay_ambiguity_notes(tau, unambiguous):
    """One line per echo that arrives after L/B (d(τ) is periodic in τ; DESIGN.md, docs/scenarios.md)."""
    return [f"the echo of {_link_name(n, m, k)} arrives after {tau[n, m, k] * 1e6:.3f} µs, past the "
            f"unambiguous delay L/B = {unambiguous * 1e6:.3f} µs; d(τ) is periodic, the geometry resolves it"
            for n, m, k in zip(*np.nonzero(tau > unambiguous))]


def _link_name(n, m, k):
    """Human name of a sensing link, 1-based like the paper: 'target 2, node 2 → node 1'."""
    return f"target {k + 1}, node {m + 1} → node {n + 1}"


# ---- building and validating -----------------------------------------------------------------

def _positions(key, value, min_count=1):
    """A list of [x, y] pairs in metres → (count, 2) float array, or ScenarioError."""
    accepted = "a list of [x, y] pairs of finite numbers in metres"
    try:
        arr = np.array(value, dtype=float)
    except (TypeError, ValueError):
        raise ScenarioError(f"{key} = {value!r}: expected {accepted}") from None
    if arr.size == 0:
        raise ScenarioError(f"{key} = {value!r}: expected at least {min_count} position(s), {accepted}")
    if arr.ndim == 1 and arr.shape == (2,) and min_count == 1:
        raise ScenarioError(f"{key} = {value!r}: expected {accepted}, e.g. [[{value[0]}, {value[1]}]]")
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ScenarioError(f"{key} = {value!r}: expected {accepted}")
    if arr.shape[0] < min_count:
        raise ScenarioError(f"{key} = {value!r}: expected at least {min_count} position(s)")
    if not np.all(np.isfinite(arr)):
        raise ScenarioError(f"{key} = {value!r}: every coordinate must be finite")
    if np.any(np.abs(arr) > MAX_COORDINATE_M):
        raise ScenarioError(f"{key} = {value!r}: every coordinate must be within ±{MAX_COORDINATE_M:g} m")
    return arr


def _integer(key, value, minimum, maximum=None):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ScenarioError(f"{key} = {value!r}: expected a whole number ≥ {minimum}")
    if value < minimum or (maximum is not None and value > maximum):
        rng = f"from {minimum} to {maximum}" if maximum is not None else f"≥ {minimum}"
        raise ScenarioError(f"{key} = {value!r}: expected a whole number {rng}")
    return int(value)


def _number(key, value, positive=True, allow_zero=False):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ScenarioError(f"{key} = {value!r}: expected a number")
    value = float(value)
    if not math.isfinite(value):
        raise ScenarioError(f"{key} = {value!r}: expected a finite number")
    if positive and (value < 0 or (value == 0 and not allow_zero)):
        bound = "≥ 0" if allow_zero else "> 0"
        raise ScenarioError(f"{key} = {value!r}: expected a finite number {bound}")
    return value


def _snr_db(key, value):
    value = _number(key, value, positive=False)
    if abs(value) > MAX_ABS_SNR_DB:
        raise ScenarioError(
            f"{key} = {value!r}: expected a number of dB from {-MAX_ABS_SNR_DB:g} to {MAX_ABS_SNR_DB:g}")
    return value


def _choice(key, value, accepted):
    if value not in accepted:
        raise ScenarioError(f"{key} = {value!r}: expected one of {', '.join(repr(a) for a in accepted)}")
    return value


def _check_distinct(key, points):
    d = geometry.distances_m(points, points)
    d[np.diag_indices_from(d)] = np.inf
    i, j = np.unravel_index(np.argmin(d), d.shape)
    if d[i, j] < MIN_SEPARATION_M:
        raise ScenarioError(
            f"{key}: entries {min(i, j) + 1} and {max(i, j) + 1} are at one place "
            f"{points[i].tolist()}; they must be at least {MIN_SEPARATION_M} m apart")


def _check_not_on_nodes(key, what, points, nodes):
    d = geometry.distances_m(nodes, points)
    n, k = np.unravel_index(np.argmin(d), d.shape)
    if d[n, k] < MIN_SEPARATION_M:
        raise ScenarioError(
            f"{key}: {what} {k + 1} at {points[k].tolist()} is on node {n + 1}; "
            f"it must be at least {MIN_SEPARATION_M} m from every node")


def _motion(velocities_mps, appear_s, leave_s, count):
    """The validated [targets] velocities_mps (K, 2), appear_s and leave_s ((K,) or None) for K = ``count`` targets."""
    if velocities_mps is None:
        velocities = np.zeros((count, 2))
    else:
        value = velocities_mps.tolist() if isinstance(velocities_mps, np.ndarray) else velocities_mps
        accepted = f"{count} [vx, vy] pairs of finite numbers in m/s, one per target of targets.positions_m"
        try:
            velocities = np.array(value, dtype=float)
        except (TypeError, ValueError):
            raise ScenarioError(f"targets.velocities_mps = {value!r}: expected {accepted}") from None
        if velocities.shape != (count, 2) or not _numbers_only(value):
            raise ScenarioError(f"targets.velocities_mps = {value!r}: expected {accepted}")
        if not np.all(np.isfinite(velocities)):
            raise ScenarioError(f"targets.velocities_mps = {value!r}: every component must be finite")
        speed = np.hypot(velocities[:, 0], velocities[:, 1])
        k = int(np.argmax(speed))
        if speed[k] > MAX_SPEED_MPS:
            raise ScenarioError(f"targets.velocities_mps = {value!r}: target {k + 1} moves at {speed[k]:g} m/s; "
                                f"accepted: speeds up to {MAX_SPEED_MPS:g} m/s")
    appear = _target_times("targets.appear_s", appear_s, count, allow_inf=False)
    leave = _target_times("targets.leave_s", leave_s, count, allow_inf=True)
    if leave is not None:
        start = np.zeros(count) if appear is None else appear
        late = np.flatnonzero(leave <= start)
        if late.size:
            k = int(late[0])
            raise ScenarioError(
                f"targets.leave_s = {_plain_list(leave_s)!r}: target {k + 1} leaves at {leave[k]:g} s, not after it "
                f"appears at {start[k]:g} s{' (targets.appear_s)' if appear is not None else ''}; accepted: "
                "leave_s > appear_s (a target present for appear_s ≤ t < leave_s)")
    return velocities, appear, leave


def _numbers_only(value):
    """True when value is a (nested) list of numbers: no bool, no numeric string (which numpy would convert)."""
    if isinstance(value, (list, tuple)):
        return all(_numbers_only(v) for v in value)
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _plain_list(value):
    return value.tolist() if isinstance(value, np.ndarray) else value


def _target_times(key, value, count, allow_inf):
    """A list of K = ``count`` times in seconds ≥ 0 (inf allowed for leave_s) → (K,) float, or None when not given."""
    if value is None:
        return None
    value = _plain_list(value)
    accepted = (f"{count} numbers of seconds ≥ 0, one per target of targets.positions_m"
                + (" (inf: never)" if allow_inf else ""))
    if not isinstance(value, (list, tuple)) or len(value) != count or any(
            isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) for v in value):
        raise ScenarioError(f"{key} = {value!r}: expected {accepted}")
    times = np.array(value, dtype=float)
    bad = np.isnan(times) | (times < 0) | (np.isinf(times) & (not allow_inf))
    if np.any(bad):
        k = int(np.flatnonzero(bad)[0])
        raise ScenarioError(f"{key} = {value!r}: target {k + 1}'s time {value[k]!r} is not accepted; expected {accepted}")
    return times


def build_scenario(*, name, node_positions_m, tx_antennas, rx_antennas, per_antenna_power,
                   bandwidth_hz, subcarriers, cyclic_prefix, symbols_per_frame, target_positions_m,
                   target_amplitude, target_amplitude_phase, target_seed, noise_power,
                   user_positions_m, user_noise_power, user_channel, user_seed,
                   impairments_table=None, reflector_m=None, reflector_amplitude=0.0, pilot_symbols=None,
                   frame_interval_setting_s=None, carrier_hz=DEFAULT_CARRIER_HZ, target_velocities_mps=None,
                   target_appear_s=None, target_leave_s=None):
    """Validate resolved values and return a Scenario (keys in messages are the TOML keys).

    pilot_symbols None (the key absent): 1 (one flat gain per user, today's frame), or U + 1 per-subcarrier pilots
    when the air has user delays (a frequency-selective user channel, which a flat pilot cannot follow): the
    resolved count is a field of the layout, so a copy without the [impairments] table frames the same way.
    frame_interval_setting_s None: frames back to back; target_velocities_mps None: zeros; target_appear_s /
    target_leave_s None: present always (SPEC15 §0).
    """
    from . import impairments
    nodes = _positions("nodes.positions_m", node_positions_m)
    targets = _positions("targets.positions_m", target_positions_m)
    users = _positions("users.positions_m", user_positions_m)
    mt = _integer("nodes.tx_antennas", tx_antennas, 1, 1024)
    mr = _integer("nodes.rx_antennas", rx_antennas, 1, 1024)
    pt = _number("nodes.per_antenna_power", per_antenna_power)
    bw = _number("ofdm.bandwidth_hz", bandwidth_hz)
    nsub = _integer("ofdm.subcarriers", subcarriers, 1, 1 << 16)
    cp = _integer("ofdm.cyclic_prefix", cyclic_prefix, 0, 1 << 16)
    nsym = _integer("ofdm.symbols_per_frame", symbols_per_frame, 1, 1 << 12)
    if pilot_symbols is not None:
        npilot = _integer("ofdm.pilot_symbols", pilot_symbols, 1, 1 << 12)
    beta = _number("targets.amplitude", target_amplitude, allow_zero=True)
    phase = _choice("targets.amplitude_phase", target_amplitude_phase, ("zero", "random"))
    tseed = _integer("targets.seed", target_seed, 0)
    sigma2 = _number("targets.noise_power", noise_power)
    sigma_c2 = _number("users.noise_power", user_noise_power)
    channel = _choice("users.channel", user_channel, ("los", "rayleigh"))
    useed = _integer("users.seed", user_seed, 0)

    _check_distinct("nodes.positions_m", nodes)
    _check_distinct("targets.positions_m", targets)
    _check_not_on_nodes("targets.positions_m", "target", targets, nodes)
    _check_not_on_nodes("users.positions_m", "user", users, nodes)
    table = impairments.validate_impairments_table({} if impairments_table is None else dict(impairments_table),
                                                   len(nodes), mt, mr)
    if pilot_symbols is None:
        npilot = len(users) + 1 if impairments.resolve_impairments_table(table).get("user_delays") else 1
    reflector, reflector_beta = None, 0.0
    if reflector_m is not None:
        value = reflector_m.tolist() if isinstance(reflector_m, np.ndarray) else reflector_m
        reflector = _positions("calibration.reflector_m", [value])
        _check_not_on_nodes("calibration.reflector_m", "reflector", reflector, nodes)
        reflector_beta = _number("calibration.reflector_amplitude", reflector_amplitude, allow_zero=True)
        tau_ref = geometry.bistatic_delays_s(geometry.one_way_delays_s(nodes, reflector))[..., 0]
        n, m = np.unravel_index(np.argmax(tau_ref), tau_ref.shape)
        if tau_ref[n, m] * bw > cp:
            raise ScenarioError(
                f"calibration.reflector_m = {reflector[0].tolist()}: the reflector's echo node {m + 1} → node {n + 1} "
                f"arrives after {tau_ref[n, m] * bw:.2f} samples, beyond the cyclic prefix ofdm.cyclic_prefix = {cp}; "
                f"expected a reflector closer to the nodes or a cyclic prefix of at least {math.ceil(tau_ref[n, m] * bw)}")
        reflector = reflector[0]

    warnings = []
    tau = geometry.bistatic_delays_s(geometry.one_way_delays_s(nodes, targets))
    n, m, k = np.unravel_index(np.argmax(tau), tau.shape)
    longest_samples = tau[n, m, k] * bw
    if longest_samples > cp:
        raise ScenarioError(
            f"ofdm.cyclic_prefix = {cp}: the echo of {_link_name(n, m, k)} arrives after "
            f"{tau[n, m, k] * 1e6:.3f} µs = {longest_samples:.2f} samples, beyond the cyclic prefix; "
            f"expected a cyclic prefix of at least {math.ceil(longest_samples)} samples")
    # an echo past L/B is no warning (nothing to act on: d(τ) wraps, the geometry resolves it, and the
    # paper's own set-up has one by design): Scenario.notes names it
    # the direct path m → n needs no check of its own: by the triangle inequality it is never longer than the
    # echo of any target on the same link, which the prefix holds
    # the guard/DC bins must leave a subcarrier (core.ofdm.active_subcarrier_mask, the one definition)
    resolved = impairments.resolve_impairments_table(table)
    guards = _guard_count(resolved, nsub)
    if guards or resolved["dc_null"]:
        from . import ofdm
        key = "guard_fraction" if resolved["guard_fraction"] is not None else "guard_subcarriers"
        given = resolved[key]
        if guards >= nsub:
            raise ScenarioError(f"impairments.{key} = {given!r}: {guards} guard bins of ofdm.subcarriers = {nsub}; "
                                f"accepted: fewer than {nsub} guard bins")
        try:
            ofdm.active_subcarrier_mask(nsub, guards, bool(resolved["dc_null"]))
        except ofdm.FrameError as exc:
            raise ScenarioError(f"impairments.{key} = {given!r}, impairments.dc_null = {resolved['dc_null']}: {exc}") from None
    # clutter echoes may arrive beyond the cyclic prefix (the inter-symbol interference they leave is the point:
    # Scenario.beyond_cp_paths lists them); targets and the reflector may not (checked above)
    velocities, appear, leave = _motion(target_velocities_mps, target_appear_s, target_leave_s, len(targets))
    carrier = _number("ofdm.carrier_hz", carrier_hz)
    interval = None
    if frame_interval_setting_s is not None:
        interval = _number("ofdm.frame_interval_s", frame_interval_setting_s)
        duration = _frame_len(nsub, cp, npilot, nsym) / bw
        if interval < duration * (1 - 1e-9):  # a value written as the duration itself may differ from it by an ulp
            raise ScenarioError(
                f"ofdm.frame_interval_s = {frame_interval_setting_s!r}: shorter than one frame, which lasts "
                f"{_frame_len(nsub, cp, npilot, nsym)} samples / ofdm.bandwidth_hz = {duration!r} s; accepted: a "
                f"number of seconds ≥ {duration!r} (frames cannot overlap)")
    for arr in (nodes, targets, users, velocities) + ((reflector,) if reflector is not None else ()) + tuple(
            a for a in (appear, leave) if a is not None):
        arr.setflags(write=False)
    scenario = Scenario(name=str(name), node_positions_m=nodes, tx_antennas=mt, rx_antennas=mr,
                    per_antenna_power=pt, bandwidth_hz=bw, subcarriers=nsub, cyclic_prefix=cp,
                    symbols_per_frame=nsym, target_positions_m=targets, target_amplitude=beta,
                    target_amplitude_phase=phase, target_seed=tseed, noise_power=sigma2,
                    user_positions_m=users, user_noise_power=sigma_c2, user_channel=channel,
                    user_seed=useed, warnings=tuple(warnings), impairments_table=table,
                    reflector_m=reflector, reflector_amplitude=reflector_beta, pilot_symbols=npilot,
                    frame_interval_setting_s=interval, carrier_hz=carrier, target_velocities_mps=velocities,
                    target_appear_s=appear, target_leave_s=leave)
    if table:
        scenario.impairments  # draw now (cached): a clutter position on a node, or a level with no echo to refer
        # to, is an error when the scenario is made, not when the air first runs
    return scenario


_SCHEMA = {
    "nodes": {"positions_m", "tx_antennas", "rx_antennas", "per_antenna_power"},
    "ofdm": {"bandwidth_hz", "subcarriers", "cyclic_prefix", "symbols_per_frame", "pilot_symbols", "frame_interval_s",
             "carrier_hz"},
    "targets": {"positions_m", "snr_db", "amplitude", "amplitude_phase", "seed", "noise_power", "velocities_mps",
                "appear_s", "leave_s"},
    "users": {"positions_m", "snr_db", "noise_power", "channel", "seed"},
    "calibration": {"reflector_m", "reflector_snr_db", "reflector_amplitude"},
}
# validated by core.impairments (its own key list and messages)
_OPTIONAL_TABLES = {"impairments"}
REFLECTOR_SNR_DB_DEFAULT = 20.0
_TOP_LEVEL = {"name", "description"}
_REQUIRED = {
    "nodes": ("positions_m", "tx_antennas", "rx_antennas"),
    "ofdm": ("bandwidth_hz", "subcarriers", "cyclic_prefix"),
    "targets": ("positions_m",),
    "users": ("positions_m",),
}


def scenario_from_dict(data, name="scenario"):
    """Resolve a parsed TOML document (nested dicts) into a validated Scenario."""
    if not isinstance(data, dict):
        raise ScenarioError(f"scenario = {data!r}: expected a table with [nodes], [ofdm], [targets], [users]")
    for key, value in data.items():
        if key in _SCHEMA:
            if not isinstance(value, dict):
                raise ScenarioError(f"{key} = {value!r}: expected a table [{key}]")
            unknown = set(value) - _SCHEMA[key]
            if unknown:
                bad = sorted(unknown)[0]
                raise ScenarioError(
                    f"{key}.{bad} = {value[bad]!r}: unknown key; accepted in [{key}]: {', '.join(sorted(_SCHEMA[key]))}")
        elif key in _OPTIONAL_TABLES:
            if not isinstance(value, dict):
                raise ScenarioError(f"{key} = {value!r}: expected a table [{key}]")
        elif key not in _TOP_LEVEL:
            raise ScenarioError(
                f"{key} = {data[key]!r}: unknown key; accepted: "
                f"{', '.join(sorted(_TOP_LEVEL | set(_SCHEMA) | _OPTIONAL_TABLES))}")
    for table, keys in _REQUIRED.items():
        if table not in data:
            raise ScenarioError(f"[{table}]: missing table; it needs {', '.join(keys)}")
        for key in keys:
            if key not in data[table]:
                raise ScenarioError(f"{table}.{key}: missing; [{table}] needs {', '.join(keys)}")
    nodes, ofdm, targets, users = (data[t] for t in ("nodes", "ofdm", "targets", "users"))
    scenario_name = data.get("name", name)
    if not isinstance(scenario_name, str):
        raise ScenarioError(f"name = {scenario_name!r}: expected a string")

    pt = _number("nodes.per_antenna_power", nodes.get("per_antenna_power", 1.0))
    node_count = len(_positions("nodes.positions_m", nodes["positions_m"]))
    target_count = len(_positions("targets.positions_m", targets["positions_m"]))
    sigma2 = _number("targets.noise_power", targets.get("noise_power", 1.0))
    if "snr_db" in targets and "amplitude" in targets:
        raise ScenarioError(
            f"targets.amplitude = {targets['amplitude']!r}: give either targets.snr_db or targets.amplitude, not both")
    if "amplitude" in targets:
        beta = _number("targets.amplitude", targets["amplitude"], allow_zero=True)
    else:
        snr_db = _snr_db("targets.snr_db", targets.get("snr_db", 0.0))
        beta = amplitude_for_target_snr(snr_db, pt, sigma2, target_count, node_count)

    if "snr_db" in users and "noise_power" in users:
        raise ScenarioError(
            f"users.noise_power = {users['noise_power']!r}: give either users.snr_db or users.noise_power, not both")
    if "noise_power" in users:
        sigma_c2 = _number("users.noise_power", users["noise_power"])
    else:
        snr_db = _snr_db("users.snr_db", users.get("snr_db", 20.0))
        sigma_c2 = pt / 10 ** (snr_db / 10)

    calibration = data.get("calibration", {})
    reflector, reflector_beta = None, 0.0
    if calibration and "reflector_m" not in calibration:
        bad = sorted(calibration)[0]
        raise ScenarioError(f"calibration.{bad} = {calibration[bad]!r}: needs calibration.reflector_m (the reflector's position)")
    if "reflector_m" in calibration:
        reflector = calibration["reflector_m"]
        if not (isinstance(reflector, list) and len(reflector) == 2 and not any(isinstance(v, list) for v in reflector)):
            raise ScenarioError(f"calibration.reflector_m = {reflector!r}: expected one [x, y] position in metres")
        if "reflector_snr_db" in calibration and "reflector_amplitude" in calibration:
            raise ScenarioError(
                f"calibration.reflector_amplitude = {calibration['reflector_amplitude']!r}: give either "
                "calibration.reflector_snr_db or calibration.reflector_amplitude, not both")
        if "reflector_amplitude" in calibration:
            reflector_beta = _number("calibration.reflector_amplitude", calibration["reflector_amplitude"], allow_zero=True)
        else:
            snr_db = _snr_db("calibration.reflector_snr_db", calibration.get("reflector_snr_db", REFLECTOR_SNR_DB_DEFAULT))
            reflector_beta = amplitude_for_target_snr(snr_db, pt, sigma2, 1, node_count)

    return build_scenario(
        name=scenario_name,
        node_positions_m=nodes["positions_m"],
        tx_antennas=nodes["tx_antennas"],
        rx_antennas=nodes["rx_antennas"],
        per_antenna_power=pt,
        bandwidth_hz=ofdm["bandwidth_hz"],
        subcarriers=ofdm["subcarriers"],
        cyclic_prefix=ofdm["cyclic_prefix"],
        symbols_per_frame=ofdm.get("symbols_per_frame", 1),
        pilot_symbols=ofdm.get("pilot_symbols"),
        target_positions_m=targets["positions_m"],
        target_amplitude=beta,
        target_amplitude_phase=targets.get("amplitude_phase", "zero"),
        target_seed=targets.get("seed", 0),
        noise_power=sigma2,
        user_positions_m=users["positions_m"],
        user_noise_power=sigma_c2,
        user_channel=users.get("channel", "los"),
        user_seed=users.get("seed", 0),
        impairments_table=data.get("impairments", {}),
        reflector_m=reflector,
        reflector_amplitude=reflector_beta,
        frame_interval_setting_s=ofdm.get("frame_interval_s"),
        carrier_hz=ofdm.get("carrier_hz", DEFAULT_CARRIER_HZ),
        target_velocities_mps=targets.get("velocities_mps"),
        target_appear_s=targets.get("appear_s"),
        target_leave_s=targets.get("leave_s"),
    )


def amplitude_for_target_snr(snr_db, per_antenna_power, noise_power, num_targets, num_nodes):
    """β such that P_T·K·N²·β²/σ² equals the paper's target SNR (Sec. V)."""
    return math.sqrt(10 ** (snr_db / 10) * noise_power / (per_antenna_power * num_targets * num_nodes**2))


# ---- presets (paper Sec. V) ------------------------------------------------------------------

_PAPER_NODES = [[-141.4, 141.4], [-141.4, -141.4]]
# The paper's longest echo (node 2 → target 2 → node 2) is 1.608 µs = 16.08 samples at 10 MHz, so a
# 16-sample prefix is too short; 20 samples (2 µs) covers every link with margin.
_PAPER_OFDM = {"bandwidth_hz": 10e6, "subcarriers": 16, "cyclic_prefix": 20, "symbols_per_frame": 1}
_PAPER = {
    "name": "paper",
    "description": "Paper Sec. V / Fig. 3 default: N = 2, Mt = 6, Mr = 16, K = 2, U = 3, B = 10 MHz, L = 16",
    "nodes": {"positions_m": _PAPER_NODES, "tx_antennas": 6, "rx_antennas": 16, "per_antenna_power": 1.0},
    "ofdm": dict(_PAPER_OFDM),
    "targets": {"positions_m": [[-65.0, 25.0], [50.0, 5.0]], "snr_db": 0.0, "noise_power": 1.0},
    "users": {"positions_m": [[-160.0, -40.0], [150.0, -25.0], [0.0, -150.0]], "snr_db": 20.0},
}
# Fig. 5 compares systems at the target amplitude of the D-ISAC reference (N = 2, K = 2, 0 dB, P_T = 1).
_FIG5_BETA = amplitude_for_target_snr(0.0, 1.0, 1.0, 2, 2)


def _variant(base, name, description, **tables):
    out = {key: (dict(value) if isinstance(value, dict) else value) for key, value in base.items()}
    out["name"], out["description"] = name, description
    for table, changes in tables.items():
        out[table].update(changes)
        if table == "targets" and "amplitude" in changes:
            out[table].pop("snr_db", None)
    return out


PRESETS = {
    "paper": _PAPER,
    "fig4": _variant(
        _PAPER, "fig4", "Paper Fig. 4: one user at [-50, 0] m, one target at [50, 0] m",
        targets={"positions_m": [[50.0, 0.0]]}, users={"positions_m": [[-50.0, 0.0]]}),
    "fig5-disac": _variant(
        _PAPER, "fig5-disac", "Paper Fig. 5: D-ISAC, N = 2 nodes with M = 6",
        targets={"amplitude": _FIG5_BETA}),
    "fig5-single-m6": _variant(
        _PAPER, "fig5-single-m6", "Paper Fig. 5: single node (node 1), M = 6, β of the D-ISAC reference",
        nodes={"positions_m": _PAPER_NODES[:1]}, targets={"amplitude": _FIG5_BETA}),
    "fig5-single-m12": _variant(
        _PAPER, "fig5-single-m12", "Paper Fig. 5: single node (node 1), M = 12, β of the D-ISAC reference",
        nodes={"positions_m": _PAPER_NODES[:1], "tx_antennas": 12}, targets={"amplitude": _FIG5_BETA}),
    "four-nodes": {
        "name": "four-nodes",
        "description": "Benchmark case of issue 3: N = 4 nodes on a 200 m circle, Mt = 8, Mr = 16, K = 3, U = 4",
        "nodes": {"positions_m": [[141.4, 141.4], [-141.4, 141.4], [-141.4, -141.4], [141.4, -141.4]],
                  "tx_antennas": 8, "rx_antennas": 16, "per_antenna_power": 1.0},
        # two symbols so that the N·Mt = 32 radar streams can be orthogonal over L·P = 32 resource elements
        "ofdm": {"bandwidth_hz": 10e6, "subcarriers": 16, "cyclic_prefix": 24, "symbols_per_frame": 2},
        "targets": {"positions_m": [[-65.0, 25.0], [50.0, 5.0], [10.0, -70.0]], "snr_db": 0.0, "noise_power": 1.0},
        "users": {"positions_m": [[-160.0, -40.0], [150.0, -25.0], [0.0, -150.0], [60.0, 170.0]], "snr_db": 20.0},
    },
}
PRESET_ALIASES = {"fig3": "paper", "default": "paper"}


def load_scenario(name_or_path):
    """A preset by name (see PRESETS) or a TOML file by path; ScenarioError on any problem."""
    key = PRESET_ALIASES.get(str(name_or_path), str(name_or_path))
    if key in PRESETS:
        return scenario_from_dict(PRESETS[key], name=key)
    path = str(name_or_path)
    if not (path.endswith(".toml") or "/" in path or "\\" in path):
        raise ScenarioError(
            f"scenario {path!r}: unknown preset name; accepted: {', '.join(sorted(PRESETS))}, or a path to a .toml file")
    data = read_toml_file(path, "scenario file")
    stem = path.rsplit("/", 1)[-1].removesuffix(".toml")
    return scenario_from_dict(data, name=stem)


def read_toml_file(path, what):
    """The TOML document at ``path`` as a dict; ScenarioError naming ``what`` and the path when it cannot be read
    or is not TOML (UTF-8 text)."""
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except OSError as exc:
        raise ScenarioError(f"{what} {path!r}: cannot be read ({exc.strerror or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{what} {path!r}: not valid TOML ({exc})") from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{what} {path!r}: not valid TOML, which must be UTF-8 text ({exc})") from None


def _toml_string(text):
    """A TOML basic string: backslash, quote and control characters escaped."""
    def escape(ch):
        if ch in '"\\':
            return "\\" + ch
        if ord(ch) < 0x20 or ord(ch) == 0x7F:
            return f"\\u{ord(ch):04x}"
        return ch
    return '"' + "".join(escape(ch) for ch in text) + '"'


def scenario_to_toml(scenario: Scenario) -> str:
    """The scenario as a TOML document that load_scenario reads back to the same values."""
    from . import impairments

    def pos(arr):
        return "[" + ", ".join(f"[{x!r}, {y!r}]" for x, y in np.asarray(arr).tolist()) + "]"
    s = scenario
    return "\n".join([
        f"name = {_toml_string(s.name)}",
        "[nodes]", f"positions_m = {pos(s.node_positions_m)}", f"tx_antennas = {s.tx_antennas}",
        f"rx_antennas = {s.rx_antennas}", f"per_antenna_power = {s.per_antenna_power!r}",
        "[ofdm]", f"bandwidth_hz = {s.bandwidth_hz!r}", f"subcarriers = {s.subcarriers}",
        f"cyclic_prefix = {s.cyclic_prefix}", f"symbols_per_frame = {s.symbols_per_frame}"]
        + ([f"pilot_symbols = {s.pilot_symbols}"] if s.pilot_symbols != 1 else [])
        + ([f"frame_interval_s = {s.frame_interval_setting_s!r}"] if s.frame_interval_setting_s is not None else [])
        + ([f"carrier_hz = {s.carrier_hz!r}"] if s.carrier_hz != DEFAULT_CARRIER_HZ else []) + [
        "[targets]", f"positions_m = {pos(s.target_positions_m)}", f"amplitude = {s.target_amplitude!r}",
        f'amplitude_phase = "{s.target_amplitude_phase}"', f"seed = {s.target_seed}",
        f"noise_power = {s.noise_power!r}"]
        + ([f"velocities_mps = {pos(s.target_velocities_mps)}"] if np.any(s.target_velocities_mps) else [])
        + ([f"appear_s = [{', '.join(repr(float(t)) for t in s.target_appear_s)}]"]
           if s.target_appear_s is not None else [])
        + ([f"leave_s = [{', '.join(repr(float(t)) for t in s.target_leave_s)}]"]
           if s.target_leave_s is not None else []) + [
        "[users]", f"positions_m = {pos(s.user_positions_m)}", f"noise_power = {s.user_noise_power!r}",
        f'channel = "{s.user_channel}"', f"seed = {s.user_seed}"]
        + (["[impairments]"] + impairments.table_to_toml(s.impairments_table) if s.impairments_table else [])
        + (["[calibration]", f"reflector_m = [{s.reflector_m[0]!r}, {s.reflector_m[1]!r}]",
            f"reflector_amplitude = {s.reflector_amplitude!r}"] if s.reflector_m is not None else [])
        + [""])

