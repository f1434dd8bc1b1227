# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""The calibration of a deployment (docs/air-model.md §3): per-channel gains, per-node delays and CFOs, and its file.

What a calibration holds (estimates, up to gauges that do not matter):

* ``rx_gains[n, r]`` — receive antenna r of node n multiplies the field by this complex gain;
* ``tx_gains[m, i]`` — transmit antenna i of node m radiates tx_gains[m, i]·x_{m,i};
* ``tx_delay_samples[m]``, ``rx_delay_samples[n]`` — link m→n has the extra delay (on node n's rx_time
  labels) D_mn = tx_delay_samples[m] + rx_delay_samples[n] samples (docs/air-model.md §2: D_mn = δ_m − δ_n + λ_n/fs,
  i.e. t_m = δ_m·fs, r_n = −δ_n·fs + λ_n);
* ``cfo_hz[n]`` — node n's carrier offset: link m→n rotates by e^{j2π(ε_m − ε_n)t}.

Gauges (a common per-node complex factor of the gains is absorbed by the unknown echo amplitudes b; a
constant added to every t and subtracted from every r changes no link; only CFO differences are seen):
each node's gains have mean |g| = 1 and antenna 0 at phase 0; tx_delay_samples[0] = 0; cfo_hz[0] = 0.
``Calibration.normalised()`` puts any calibration in these gauges; a file in other gauges is still valid.

Where each correction is applied (docs/air-model.md §3, the contract with the node receiver, the transmitter, the
rx framing and the central unit): the rx_frame_tagger of node n shifts its frame start by
``window_offset_samples(n)``; node_rx divides by rx_gains and turns the delay phase
e^{+j2π f_l (rx_delay_samples[n] − window_offset_samples(n))/fs}; isac_tx divides by tx_gains; the central
unit's model multiplies X_m by e^{−j2π f_l tx_delay_samples[m]/fs}.

The file (UTF-8 JSON, indent 2, ``format`` "gr-disac-calibration", ``version`` 1) is written by
``Calibration.save`` and read by ``load_calibration``, which checks everything it reads: the format and
version, every size, every number finite, every gain non-zero (the receiver divides by it). Errors are
``CalibrationError`` naming the key, the value and what is accepted.

The estimators that produce a Calibration from received samples are in core/calibration_estimator.py;
the on-the-fly tracker in core/calibration_tracker.py. This module is pure Python + numpy.
"""

import dataclasses
import datetime
import json
import math

import numpy as np

from . import ofdm

FORMAT = "gr-disac-calibration"
VERSION = 1
# How the calibration was obtained. "identity" (not an estimate: unit gains, zero delays and CFOs) is
# this module's addition to docs/air-model.md's three methods, for a receiver that runs uncalibrated; "truth" (the
# synthetic air's drawn values, core.impairment_trials.truth_calibration) is a test device, checked by the
# tracker like an estimate.
METHODS = ("direct_path", "reflector", "direct_path+reflector", "identity", "truth")
RADIOS = ("synthetic", "usrp")
FREQUENCY_GRIDS = ofdm.FREQUENCY_GRIDS
RESIDUAL_KEYS = ("rx_phase_deg_rms", "tx_phase_deg_rms", "rx_gain_db_rms", "tx_gain_db_rms",
                 "timing_ns_rms", "cfo_hz_rms", "timing_ns_std", "unmodelled_echo_db")
# a link's keys in residuals.links: the first three always, the others optional (files before them are read)
LINK_KEYS = ("tx", "rx", "timing_ns")
LINK_OPTIONAL_KEYS = ("timing_ns_std", "unmodelled_echo_db")
# A gain this small cannot be divided by (the receiver would amplify noise by > 200 dB): rejected.
MIN_GAIN_MAGNITUDE = 1e-10
# Bounds that no radio reaches, so that a corrupt file is not trusted: |delay| ≤ 10^9 samples (100 s at
# 10 MHz), |CFO| ≤ 10^9 Hz, |gain| ≤ 10^6, at most 4096 nodes / antennas.
MAX_ABS_DELAY_SAMPLES = 1e9
MAX_ABS_CFO_HZ = 1e9
MAX_GAIN_MAGNITUDE = 1e6
MAX_COUNT = 4096


class CalibrationError(ValueError):
    """A calibration (file or value) that cannot be used; the message names the key and the value."""


def _fail(key, value, accepted):
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    raise CalibrationError(f"calibration {key} = {text}: accepted: {accepted}")


def _finite(key, value, bound=None, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        _fail(key, value, "a finite number" + (" or null" if allow_none else ""))
    value = float(value)
    if not math.isfinite(value):
        _fail(key, value, "a finite number (not NaN or infinity)" + (" or null" if allow_none else ""))
    if bound is not None and abs(value) > bound:
        _fail(key, value, f"a finite number of magnitude ≤ {bound:g}")
    return value


def _whole(key, value, minimum=0):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        _fail(key, value, f"a whole number ≥ {minimum}")
    return int(value)


def _complex_array(key, value, shape):
    """A complex array of the given shape, finite, every |g| in [MIN_GAIN_MAGNITUDE, MAX_GAIN_MAGNITUDE]."""
    arr = np.asarray(value)
    if arr.shape != shape:
        _fail(key, f"an array of shape {arr.shape}", f"shape {shape}")
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_):
        _fail(key, f"an array of {arr.dtype}", "complex numbers")
    arr = arr.astype(np.complex128)
    bad = ~np.isfinite(arr)
    if np.any(bad):
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        _fail(f"{key}{list(index)}", complex(arr[index]), "finite complex numbers")
    mag = np.abs(arr)
    small = mag < MIN_GAIN_MAGNITUDE
    if np.any(small):
        index = tuple(int(i) for i in np.argwhere(small)[0])
        _fail(f"{key}{list(index)}", complex(arr[index]),
              f"a gain of magnitude ≥ {MIN_GAIN_MAGNITUDE:g} (the receiver divides by it)")
    large = mag > MAX_GAIN_MAGNITUDE
    if np.any(large):
        index = tuple(int(i) for i in np.argwhere(large)[0])
        _fail(f"{key}{list(index)}", complex(arr[index]), f"a gain of magnitude ≤ {MAX_GAIN_MAGNITUDE:g}")
    arr.setflags(write=False)
    return arr


def _real_array(key, value, shape, bound):
    arr = np.asarray(value)
    if arr.shape != shape:
        _fail(key, f"an array of shape {arr.shape}", f"shape {shape}")
    if not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr) or np.issubdtype(arr.dtype, np.bool_):
        _fail(key, f"an array of {arr.dtype}", "real numbers")
    arr = arr.astype(np.float64)
    bad = ~np.isfinite(arr) | (np.abs(arr) > bound)
    if np.any(bad):
        index = int(np.argwhere(bad)[0][0])
        _fail(f"{key}[{index}]", float(arr[index]), f"a finite number of magnitude ≤ {bound:g}")
    arr.setflags(write=False)
    return arr


def gain_gauge(gains):
    """Each row (a node's channels) scaled to mean |g| = 1 with element 0 at phase 0: the file's gain gauge."""
    gains = np.asarray(gains, dtype=complex)
    ref = gains[:, :1] / np.abs(gains[:, :1])
    return gains / (ref * np.mean(np.abs(gains), axis=1, keepdims=True))


@dataclasses.dataclass(frozen=True)
class LinkResidual:
    """The fit's timing residual of one link tx m → rx n (node ids from 0), in ns; optionally the standard error of
    the link's solved delay (ns) and the strongest point echo left in its residual (dB over the fit's noise level)."""

    tx: int
    rx: int
    timing_ns: float
    timing_ns_std: float = None
    unmodelled_echo_db: float = None

    def to_dict(self):
        out = {"tx": self.tx, "rx": self.rx, "timing_ns": self.timing_ns}
        out.update({key: getattr(self, key) for key in LINK_OPTIONAL_KEYS if getattr(self, key) is not None})
        return out


@dataclasses.dataclass(frozen=True)
class CalibrationResiduals:
    """What the estimator's fit left unexplained (never a comparison with the truth).

    Every value is a number or None (not measured: e.g. the identity calibration, or a CFO that a capture
    with per-frame oscillator phases cannot show). Their meaning is defined by the estimator
    (core/calibration_estimator.py): the phases/gains are the RMS over antennas of each channel's
    standard error from the scatter of its per-frame, per-path estimates; timing and CFO the RMS of the
    per-link residuals after the per-node values were solved over all links; timing_ns_std the RMS over links
    of the standard error of each link's solved delay; unmodelled_echo_db the strongest point echo left in any
    link's residual (dB over the fit's noise level: the model-mismatch statistic; docs/calibration.md, "What the
    residuals say"). Files without the last two are read (None).
    """

    rx_phase_deg_rms: float = None
    tx_phase_deg_rms: float = None
    rx_gain_db_rms: float = None
    tx_gain_db_rms: float = None
    timing_ns_rms: float = None
    cfo_hz_rms: float = None
    timing_ns_std: float = None
    unmodelled_echo_db: float = None
    links: tuple = ()

    def __post_init__(self):
        for key in RESIDUAL_KEYS:
            object.__setattr__(self, key, _finite(f"residuals.{key}", getattr(self, key), allow_none=True))
        links = []
        for i, link in enumerate(self.links):
            accepted = ('an object {"tx": m, "rx": n, "timing_ns": value} (optional: '
                        + ", ".join(f'"{key}"' for key in LINK_OPTIONAL_KEYS) + ")")
            if isinstance(link, dict):
                unknown = set(link) - set(LINK_KEYS) - set(LINK_OPTIONAL_KEYS)
                if unknown or not set(LINK_KEYS) <= set(link):
                    _fail(f"residuals.links[{i}]", link, accepted)
                link = LinkResidual(*(link[key] for key in LINK_KEYS), *(link.get(key) for key in LINK_OPTIONAL_KEYS))
            if not isinstance(link, LinkResidual):
                _fail(f"residuals.links[{i}]", link, accepted)
            links.append(LinkResidual(_whole(f"residuals.links[{i}].tx", link.tx),
                                      _whole(f"residuals.links[{i}].rx", link.rx),
                                      _finite(f"residuals.links[{i}].timing_ns", link.timing_ns),
                                      *(_finite(f"residuals.links[{i}].{key}", getattr(link, key), allow_none=True)
                                        for key in LINK_OPTIONAL_KEYS)))
        object.__setattr__(self, "links", tuple(links))

    def to_dict(self):
        out = {key: getattr(self, key) for key in RESIDUAL_KEYS}
        out["links"] = [link.to_dict() for link in self.links]
        return out

    @classmethod
    def from_dict(cls, data):
        if not isinstance(data, dict):
            _fail("residuals", data, "an object with keys " + ", ".join(RESIDUAL_KEYS + ("links",)))
        unknown = sorted(set(data) - set(RESIDUAL_KEYS) - {"links"})
        if unknown:
            _fail(f"residuals.{unknown[0]}", data[unknown[0]], "keys " + ", ".join(RESIDUAL_KEYS + ("links",)))
        links = data.get("links", [])
        if not isinstance(links, list):
            _fail("residuals.links", links, "a list of link objects")
        return cls(**{key: data.get(key) for key in RESIDUAL_KEYS}, links=tuple(links))


@dataclasses.dataclass(frozen=True, eq=False)
class Calibration:
    """A deployment's calibration: arrays (validated, read-only) + metadata. See the module docstring.

    rx_gains (N, Mr) complex, tx_gains (N, Mt) complex, rx_delay_samples (N,), tx_delay_samples (N,),
    cfo_hz (N,). Metadata: scenario (name), method (METHODS), radio ("synthetic" | "usrp"), serials
    (None or one string per node), center_freq_hz / tx_gain_db / rx_gain_db (None or a number),
    sample_rate_hz, frequency_grid ("low-if" | "centred"), frames_used, created_utc (ISO 8601),
    residuals (CalibrationResiduals).
    """

    rx_gains: np.ndarray
    tx_gains: np.ndarray
    rx_delay_samples: np.ndarray
    tx_delay_samples: np.ndarray
    cfo_hz: np.ndarray
    sample_rate_hz: float
    scenario: str = ""
    method: str = "identity"
    radio: str = "synthetic"
    serials: tuple = None
    center_freq_hz: float = None
    tx_gain_db: float = None
    rx_gain_db: float = None
    frequency_grid: str = ofdm.DEFAULT_FREQUENCY_GRID
    frames_used: int = 0
    created_utc: str = ""
    residuals: CalibrationResiduals = dataclasses.field(default_factory=CalibrationResiduals)

    def __post_init__(self):
        rx = np.asarray(self.rx_gains)
        tx = np.asarray(self.tx_gains)
        if rx.ndim != 2 or not 1 <= rx.shape[0] <= MAX_COUNT or not 1 <= rx.shape[1] <= MAX_COUNT:
            _fail("rx_gains", f"an array of shape {rx.shape}", f"shape (N, Mr) with 1 ≤ N, Mr ≤ {MAX_COUNT}")
        n = rx.shape[0]
        if tx.ndim != 2 or tx.shape[0] != n or not 1 <= tx.shape[1] <= MAX_COUNT:
            _fail("tx_gains", f"an array of shape {tx.shape}", f"shape (N, Mt) with N = {n} (as rx_gains)")
        setattr_ = object.__setattr__
        setattr_(self, "rx_gains", _complex_array("rx_gains", rx, rx.shape))
        setattr_(self, "tx_gains", _complex_array("tx_gains", tx, tx.shape))
        for key, bound in (("rx_delay_samples", MAX_ABS_DELAY_SAMPLES), ("tx_delay_samples", MAX_ABS_DELAY_SAMPLES),
                           ("cfo_hz", MAX_ABS_CFO_HZ)):
            setattr_(self, key, _real_array(key, getattr(self, key), (n,), bound))
        rate = _finite("sample_rate_hz", self.sample_rate_hz)
        if rate <= 0:
            _fail("sample_rate_hz", rate, "a finite number > 0")
        setattr_(self, "sample_rate_hz", rate)
        for key in ("center_freq_hz", "tx_gain_db", "rx_gain_db"):
            setattr_(self, key, _finite(key, getattr(self, key), allow_none=True))
        if not isinstance(self.scenario, str):
            _fail("scenario", self.scenario, "a string")
        if self.method not in METHODS:
            _fail("method", self.method, ", ".join(METHODS))
        if self.radio not in RADIOS:
            _fail("device.radio", self.radio, ", ".join(RADIOS))
        if self.serials is not None:
            serials = self.serials
            if (isinstance(serials, str) or not isinstance(serials, (list, tuple)) or len(serials) != n
                    or not all(isinstance(s, str) for s in serials)):
                _fail("device.serials", serials, f"null or a list of N = {n} strings (one per node)")
            setattr_(self, "serials", tuple(serials))
        if self.frequency_grid not in FREQUENCY_GRIDS:
            _fail("frequency_grid", self.frequency_grid, ", ".join(FREQUENCY_GRIDS))
        setattr_(self, "frames_used", _whole("frames_used", self.frames_used))
        if not isinstance(self.created_utc, str):
            _fail("created_utc", self.created_utc, "a string (ISO 8601 UTC time)")
        if isinstance(self.residuals, dict):
            setattr_(self, "residuals", CalibrationResiduals.from_dict(self.residuals))
        if not isinstance(self.residuals, CalibrationResiduals):
            _fail("residuals", self.residuals, "a CalibrationResiduals or its dict")
        for i, link in enumerate(self.residuals.links):
            if link.tx >= n or link.rx >= n:
                _fail(f"residuals.links[{i}]", link.to_dict(), f"node ids 0 … {n - 1}")

    # ---- sizes and derived values -----------------------------------------------------------------
    @property
    def num_nodes(self):
        return self.rx_gains.shape[0]

    @property
    def rx_antennas(self):
        return self.rx_gains.shape[1]

    @property
    def tx_antennas(self):
        return self.tx_gains.shape[1]

    def link_delay_samples(self):
        """(N_rx, N_tx): [n, m] = tx_delay_samples[m] + rx_delay_samples[n], link m→n's extra delay (samples);
        the orientation of Impairments.link_delay_samples."""
        return self.rx_delay_samples[:, None] + self.tx_delay_samples[None, :]

    def window_offset_samples(self, n):
        """The integer frame-start shift of node n's receiver, floor(min_m (tx_delay_samples[m] +
        rx_delay_samples[n])): every link's residual delay in node n's window is then ≥ 0."""
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 0 <= n < self.num_nodes:
            raise CalibrationError(f"node {n!r}: accepted: a node id 0 … {self.num_nodes - 1}")
        return int(math.floor(float(np.min(self.tx_delay_samples + self.rx_delay_samples[n]))))

    def tx_delay_phases(self, subcarriers):
        """(N, L): e^{−j2π f_l tx_delay_samples[m]/fs} on this calibration's frequency grid, the factor the
        central unit's model puts on X_m (docs/air-model.md §3)."""
        f = ofdm.bin_frequencies_hz(subcarriers, self.sample_rate_hz, self.frequency_grid) / self.sample_rate_hz
        return np.exp(-2j * np.pi * np.outer(self.tx_delay_samples, f))

    def rx_correction(self, n, subcarriers):
        """(Mr, L): what node_rx of node n multiplies each snapshot Y[r, l, p] by (docs/air-model.md §3):
        e^{+j2π f_l (rx_delay_samples[n] − window_offset_samples(n))/fs} / rx_gains[n, r]."""
        f = ofdm.bin_frequencies_hz(subcarriers, self.sample_rate_hz, self.frequency_grid) / self.sample_rate_hz
        residual = self.rx_delay_samples[n] - self.window_offset_samples(n)
        return np.exp(2j * np.pi * f * residual)[None, :] / self.rx_gains[n][:, None]

    def check_scenario(self, scenario):
        """CalibrationError unless this calibration fits the scenario's sizes and sample rate."""
        if self.num_nodes != scenario.num_nodes:
            _fail("nodes", f"{self.num_nodes} nodes", f"N = {scenario.num_nodes} nodes (scenario {scenario.name!r})")
        if self.rx_antennas != scenario.rx_antennas:
            _fail("rx_gains", f"{self.rx_antennas} receive antennas per node",
                  f"Mr = {scenario.rx_antennas} (scenario {scenario.name!r})")
        if self.tx_antennas != scenario.tx_antennas:
            _fail("tx_gains", f"{self.tx_antennas} transmit antennas per node",
                  f"Mt = {scenario.tx_antennas} (scenario {scenario.name!r})")
        if not math.isclose(self.sample_rate_hz, float(scenario.bandwidth_hz), rel_tol=1e-9):
            _fail("sample_rate_hz", self.sample_rate_hz,
                  f"the scenario's bandwidth_hz = {scenario.bandwidth_hz:g} (scenario {scenario.name!r})")
        return self

    def normalised(self):
        """The same corrections in the file's gauges: each node's gains mean |g| = 1 with antenna 0 at phase 0,
        tx_delay_samples[0] = 0 (the rest moved to every rx delay), cfo_hz[0] = 0 (differences kept)."""
        shift = float(self.tx_delay_samples[0])
        return dataclasses.replace(
            self, rx_gains=gain_gauge(self.rx_gains), tx_gains=gain_gauge(self.tx_gains),
            tx_delay_samples=self.tx_delay_samples - shift, rx_delay_samples=self.rx_delay_samples + shift,
            cfo_hz=self.cfo_hz - self.cfo_hz[0])

    # ---- file ---------------------------------------------------------------------------------------
    def to_dict(self):
        """The JSON document of docs/air-model.md §3 (plain Python values)."""
        def pairs(row):
            return [[float(z.real), float(z.imag)] for z in row]
        nodes = [{"node_id": n, "rx_gains": pairs(self.rx_gains[n]), "tx_gains": pairs(self.tx_gains[n]),
                  "rx_delay_samples": float(self.rx_delay_samples[n]),
                  "tx_delay_samples": float(self.tx_delay_samples[n]), "cfo_hz": float(self.cfo_hz[n])}
                 for n in range(self.num_nodes)]
        return {
            "format": FORMAT, "version": VERSION, "created_utc": self.created_utc, "scenario": self.scenario,
            "method": self.method,
            "device": {"radio": self.radio, "serials": None if self.serials is None else list(self.serials)},
            "center_freq_hz": self.center_freq_hz, "sample_rate_hz": self.sample_rate_hz,
            "tx_gain_db": self.tx_gain_db, "rx_gain_db": self.rx_gain_db,
            "frequency_grid": self.frequency_grid, "frames_used": self.frames_used,
            "nodes": nodes, "residuals": self.residuals.to_dict()}

    def to_json(self):
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"

    def save(self, path):
        """Write the calibration file (UTF-8 JSON, indent 2). Returns the path."""
        text = self.to_json()
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        return path

    @classmethod
    def from_dict(cls, data):
        """A Calibration from the parsed JSON document; CalibrationError naming the first bad key/value."""
        if not isinstance(data, dict):
            _fail("file", type(data).__name__, f"a JSON object with \"format\": \"{FORMAT}\"")
        if data.get("format") != FORMAT:
            _fail("format", data.get("format"), f'"{FORMAT}"')
        version = data.get("version")
        if isinstance(version, bool) or version != VERSION:
            _fail("version", version, f"{VERSION} (this gr-disac reads calibration files of version {VERSION})")
        known = {"format", "version", "created_utc", "scenario", "method", "device", "center_freq_hz",
                 "sample_rate_hz", "tx_gain_db", "rx_gain_db", "frequency_grid", "frames_used", "nodes",
                 "residuals"}
        unknown = sorted(set(data) - known)
        if unknown:
            _fail(unknown[0], data[unknown[0]], "the keys " + ", ".join(sorted(known)))
        for key in ("sample_rate_hz", "nodes"):
            if key not in data:
                _fail(key, "missing", "a value (the key is required)")
        nodes = data["nodes"]
        if not isinstance(nodes, list) or not 1 <= len(nodes) <= MAX_COUNT:
            _fail("nodes", nodes, f"a list of 1 … {MAX_COUNT} node objects")
        device = data.get("device", {"radio": "synthetic", "serials": None})
        if not isinstance(device, dict) or set(device) - {"radio", "serials"}:
            _fail("device", device, '{"radio": "synthetic" | "usrp", "serials": [...] | null}')
        node_keys = {"node_id", "rx_gains", "tx_gains", "rx_delay_samples", "tx_delay_samples", "cfo_hz"}
        rx, tx, rxd, txd, cfo = [], [], [], [], []
        for i, node in enumerate(nodes):
            if not isinstance(node, dict) or set(node) != node_keys:
                _fail(f"nodes[{i}]", node, "an object with exactly the keys " + ", ".join(sorted(node_keys)))
            if node["node_id"] != i or isinstance(node["node_id"], bool):
                _fail(f"nodes[{i}].node_id", node["node_id"], f"{i} (nodes in order, numbered from 0)")
            for key, out in (("rx_gains", rx), ("tx_gains", tx)):
                row = node[key]
                if (not isinstance(row, list) or not 1 <= len(row) <= MAX_COUNT
                        or not all(isinstance(p, list) and len(p) == 2 for p in row)):
                    _fail(f"nodes[{i}].{key}", row, "a list of [re, im] pairs, one per antenna")
                values = []
                for j, (re, im) in enumerate(row):
                    values.append(complex(_finite(f"nodes[{i}].{key}[{j}][0]", re),
                                          _finite(f"nodes[{i}].{key}[{j}][1]", im)))
                if out and len(values) != len(out[0]):
                    _fail(f"nodes[{i}].{key}", f"{len(values)} antennas", f"{len(out[0])} antennas (as node 0)")
                out.append(values)
            rxd.append(_finite(f"nodes[{i}].rx_delay_samples", node["rx_delay_samples"], MAX_ABS_DELAY_SAMPLES))
            txd.append(_finite(f"nodes[{i}].tx_delay_samples", node["tx_delay_samples"], MAX_ABS_DELAY_SAMPLES))
            cfo.append(_finite(f"nodes[{i}].cfo_hz", node["cfo_hz"], MAX_ABS_CFO_HZ))
        return cls(
            rx_gains=np.array(rx), tx_gains=np.array(tx), rx_delay_samples=np.array(rxd),
            tx_delay_samples=np.array(txd), cfo_hz=np.array(cfo), sample_rate_hz=data["sample_rate_hz"],
            scenario=data.get("scenario", ""), method=data.get("method", "identity"),
            radio=device.get("radio", "synthetic"), serials=device.get("serials"),
            center_freq_hz=data.get("center_freq_hz"), tx_gain_db=data.get("tx_gain_db"),
            rx_gain_db=data.get("rx_gain_db"), frequency_grid=data.get("frequency_grid", ofdm.DEFAULT_FREQUENCY_GRID),
            frames_used=data.get("frames_used", 0), created_utc=data.get("created_utc", ""),
            residuals=CalibrationResiduals.from_dict(data.get("residuals", {})))

    @classmethod
    def from_json(cls, text):
        def no_constants(name):  # json's NaN / Infinity / -Infinity extensions are not JSON
            raise CalibrationError(f"calibration file: {name} is not a finite number: accepted: finite numbers")
        try:
            data = json.loads(text, parse_constant=no_constants)
        except json.JSONDecodeError as exc:
            raise CalibrationError(f"calibration file: not valid JSON ({exc})") from None
        return cls.from_dict(data)


def load_calibration(path, scenario=None):
    """Read and validate a calibration file; with ``scenario``, also check its sizes and sample rate."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(64 * 1024 * 1024 + 1)
    except OSError as exc:
        raise CalibrationError(f"calibration file {str(path)!r}: cannot be read ({exc.strerror or exc})") from None
    if len(raw) > 64 * 1024 * 1024:
        raise CalibrationError(f"calibration file {str(path)!r}: larger than 64 MiB: accepted: a calibration file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CalibrationError(f"calibration file {str(path)!r}: not UTF-8 text ({exc})") from None
    try:
        calibration = Calibration.from_json(text)
    except CalibrationError as exc:
        raise CalibrationError(f"calibration file {str(path)!r}: {exc}") from None
    if scenario is not None:
        calibration.check_scenario(scenario)
    return calibration


def utc_now():
    """The current UTC time as ISO 8601 text (seconds), for created_utc."""
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()


def identity_calibration(scenario, radio="synthetic"):
    """No correction at all: unit gains, zero delays and CFOs (method "identity", no residuals)."""
    n = scenario.num_nodes
    return Calibration(
        rx_gains=np.ones((n, scenario.rx_antennas), dtype=complex),
        tx_gains=np.ones((n, scenario.tx_antennas), dtype=complex),
        rx_delay_samples=np.zeros(n), tx_delay_samples=np.zeros(n), cfo_hz=np.zeros(n),
        sample_rate_hz=float(scenario.bandwidth_hz), scenario=scenario.name, method="identity",
        radio=radio, frequency_grid=ofdm.DEFAULT_FREQUENCY_GRID, frames_used=0, created_utc=utc_now())
