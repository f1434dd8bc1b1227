# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Where each calibration correction is applied (docs/air-model.md §3), as pure functions the blocks and the core-level
simulations share (one place for each formula).

A calibration (core.calibration.Calibration, engineer "cal") holds, per node n, the receive and transmit
channel gains ĝ_rx[n, r], ĝ_tx[n, i] (gauge: mean |ĝ| = 1, antenna 0 real), the link delays as
t_m + r_n samples (tx_delay_samples[m] + rx_delay_samples[n]) and the carrier offsets ε_n. With w_n =
window_offset_samples(n) = ⌊min_m (t_m + r_n)⌋ the integer frame-start shift of node n's framing:

  node receiver n (before the FFT)  samples × e^{+j2π ε_n t}, t = the sample's local time since the epoch
                                    (rx_cfo_phasor);
  node receiver n (on the snapshot) Y[r, l, p] ← Y[r, l, p] / ĝ_rx[n, r] · e^{+j2π f_l (r_n − w_n)/fs}
                                    (rx_snapshot_correction);
  transmitter m                     x_i ← x_i · ĝ*_tx[m, i]/|ĝ_tx[m, i]|, the chains' PHASES only
                                    (tx_precompensated_precoders: the precoders are pre-multiplied, so the
                                    transmitter's fast path is unchanged), and × e^{−j2π ε_m t}
                                    (tx_cfo_phasor);
  central unit                      X_m[i, l, :] ← |ĝ_tx[m, i]| · e^{−j2π f_l t_m/fs} · X_m[i, l, :] in the
                                    model (model_tx_factors: the chains' MAGNITUDES and the transmit delays,
                                    one factor per antenna and subcarrier; model_tx_delay_phases the delays).

After these every link m → n carries its echoes at the geometric delays plus a residual t_m + r_n − w_n
that the two ramps remove, with flat channels and no CFO, and radiates diag(|ĝ_tx[m]|)·x_m, which the model
carries: what the localiser's eq. (3)/(5) assumes.

Why the transmitter undoes the phases only (decided with the integrator): dividing by the whole ĝ_tx[m, i]
and then backing the node off so that its weakest chain stays within P_T (eq. 18d, a per-antenna limit on
what the DAC/PA chain is driven with) cost 1.3–3.5 dB of transmit power at the lab preset's ±1 dB chains,
and the localisation RMSE with it (1.15–1.22 × the ideal air's). A unit-modulus pre-compensation drives
every antenna with exactly the design's power, and the chains' magnitudes are a known part of the radiated
field that the central unit simply models. The price: the users see the designed beams with amplitudes off
by the chains' ±1 dB (the phases, which make the beams, are right), which their SINR pays slightly.
The frequencies f_l are on the calibration's ``frequency_grid`` (core.ofdm.bin_frequencies_hz: the grid
the air's band-limited delays act on), fs = the scenario's bandwidth (the sample rate).

Nothing here reads the scenario's [impairments] (docs/air-model.md §0): only the calibration's estimates.
"""

import numpy as np

from . import ofdm

CALIBRATION_STATES = ("ok", "jump", "none")  # the central unit's status field ``calibration``
# which known paths the localiser projects out (core.localizer.known_paths); "auto": the direct paths when a
# calibration is in use (radios that calibrate from them see each other), the reference reflector when the
# scenario has one ([calibration] reflector_m: geometry the receive side may read)
KNOWN_PATHS = ("auto", "none", "direct_path", "reflector", "direct_path+reflector")


class CalibrationMismatch(ValueError):
    """A calibration that does not fit the scenario (sizes, sample rate); the message names the value."""


def as_calibration(value, scenario=None):
    """A Calibration from a Calibration, a file path, or ""/None (no calibration → None); checked against the
    scenario's sizes and sample rate when one is given (CalibrationMismatch naming the value)."""
    if value is None or (isinstance(value, str) and value == ""):
        return None
    if isinstance(value, (str, bytes)) or hasattr(value, "__fspath__"):
        from .calibration import load_calibration  # engineer cal's file format (docs/air-model.md §3)

        value = load_calibration(value)
    for name in ("rx_gains", "tx_gains", "rx_delay_samples", "tx_delay_samples", "cfo_hz"):
        if not hasattr(value, name):
            raise CalibrationMismatch(f"calibration {value!r}: no field {name!r}; accepted: a "
                                      "core.calibration.Calibration, a calibration file path, or \"\" (none)")
    if scenario is not None:
        check_calibration(value, scenario)
    return value


def check_calibration(calibration, scenario):
    """CalibrationMismatch unless the calibration's arrays fit (N, Mr), (N, Mt), (N,) and its rate is B."""
    n, mt, mr = scenario.num_nodes, scenario.tx_antennas, scenario.rx_antennas
    for name, shape in (("rx_gains", (n, mr)), ("tx_gains", (n, mt)), ("rx_delay_samples", (n,)),
                        ("tx_delay_samples", (n,)), ("cfo_hz", (n,))):
        value = np.asarray(getattr(calibration, name))
        if value.shape != shape:
            raise CalibrationMismatch(f"calibration {name} of shape {value.shape}: scenario {scenario.name!r} "
                                      f"needs {shape} (N = {n}, Mt = {mt}, Mr = {mr})")
        if not np.all(np.isfinite(value)):
            raise CalibrationMismatch(f"calibration {name}: contains NaN or Inf")
    for name in ("rx_gains", "tx_gains"):
        if np.any(np.asarray(getattr(calibration, name)) == 0):
            raise CalibrationMismatch(f"calibration {name}: a zero gain cannot be undone; accepted: non-zero gains")
    rate = getattr(calibration, "sample_rate_hz", None)
    if rate is not None and not np.isclose(float(rate), scenario.bandwidth_hz, rtol=1e-9):
        raise CalibrationMismatch(f"calibration sample_rate_hz = {rate!r}: scenario {scenario.name!r} runs at "
                                  f"{scenario.bandwidth_hz!r} samples/s; recalibrate at this rate")


def frequency_grid(calibration):
    """The grid the calibration's delays are defined on (its ``frequency_grid``, default low-IF)."""
    grid = getattr(calibration, "frequency_grid", None) or ofdm.DEFAULT_FREQUENCY_GRID
    if grid not in ofdm.FREQUENCY_GRIDS:
        raise CalibrationMismatch(f"calibration frequency_grid = {grid!r}: accepted: {', '.join(ofdm.FREQUENCY_GRIDS)}")
    return grid


def window_offset_samples(calibration, node):
    """w_n = ⌊min_m (t_m + r_n)⌋, the integer frame-start shift of node n's receiver (docs/air-model.md §3); the
    Calibration's own method when it has one."""
    method = getattr(calibration, "window_offset_samples", None)
    if callable(method):
        return int(method(node))
    total = np.asarray(calibration.tx_delay_samples, float) + float(calibration.rx_delay_samples[node])
    return int(np.floor(np.min(total)))


def rx_snapshot_correction(calibration, node, subcarriers, bandwidth_hz):
    """(Mr, L) complex: 1/ĝ_rx[n, r] · e^{+j2π f_l (r_n − w_n)/fs}, the factor node n's snapshot Y[r, l, p]
    is multiplied by (docs/air-model.md §3): the Calibration's own rx_correction (core.calibration) when it has one."""
    if hasattr(calibration, "rx_correction"):
        return calibration.rx_correction(node, subcarriers)
    gains = np.asarray(calibration.rx_gains, complex)[node]
    residual = float(calibration.rx_delay_samples[node]) - window_offset_samples(calibration, node)
    f = ofdm.bin_frequencies_hz(subcarriers, bandwidth_hz, frequency_grid(calibration))
    ramp = np.exp(2j * np.pi * f * residual / bandwidth_hz)
    return ramp[None, :] / gains[:, None]


def cfo_phasor(cfo_hz, sample_index, sample_rate_hz, sign):
    """e^{sign·j2π ε t} at t = sample_index / fs (local sample times since the epoch; integer indices kept
    exact: the phase is reduced modulo one cycle in float64 before the exponential)."""
    from . import synthetic_radio  # the radio's own phasor: one formula for the air and the corrections

    return synthetic_radio.cfo_phasor_at(cfo_hz, np.asarray(sample_index, dtype=np.int64), sample_rate_hz, sign)


def rx_cfo_phasor(calibration, node, sample_index, sample_rate_hz):
    """e^{+j2π ε_n t}: node n's receive CFO undone, per sample (time domain, before the FFT)."""
    return cfo_phasor(calibration.cfo_hz[node], sample_index, sample_rate_hz, +1)


def tx_cfo_phasor(calibration, node, sample_index, sample_rate_hz):
    """e^{−j2π ε_m t}: node m's transmit CFO pre-rotated, per sample."""
    return cfo_phasor(calibration.cfo_hz[node], sample_index, sample_rate_hz, -1)


def has_cfo(calibration, node):
    return float(calibration.cfo_hz[node]) != 0.0


def tx_precompensation(calibration, node, wc=None, wr=None, per_antenna_power=None):
    """(diagonal d (Mt,), scale): antenna i of node m sends x_i·d_i with d_i = ĝ*_tx[m, i]/|ĝ_tx[m, i]|, the
    transmit chains' phases undone and nothing else (|d_i| = 1: every antenna's power [R]_ii, R = W_c W_cᴴ +
    W_r W_rᴴ of eq. 1, is the design's, so the per-antenna limit P_T of eq. 18d holds as designed and
    nothing is backed off); scale = 1.0 always (kept for callers of the earlier gain-inverting version).
    The chains' magnitudes |ĝ_tx| stay in the radiated field: the central unit's model carries them
    (model_tx_factors). wc, wr, per_antenna_power: unused (the old signature)."""
    gains = np.asarray(calibration.tx_gains, complex)[node]
    return np.conj(gains) / np.abs(gains), 1.0


def tx_precompensated_precoders(calibration, node, wc, wr, per_antenna_power=None):
    """(W_c', W_r', scale) = (D W_c, D W_r, 1.0) with D = diag(tx_precompensation): the transmitter's frames
    x' = D x (eq. 1 with the transmit chains' phases undone), made by its unchanged fast path."""
    d, scale = tx_precompensation(calibration, node)
    return d[:, None] * np.asarray(wc, complex), d[:, None] * np.asarray(wr, complex), scale


def model_tx_gain_magnitudes(calibration):
    """(N, Mt): |ĝ_tx[m, i]|, the transmit chains' magnitudes the radiated field keeps (the transmitter
    undoes their phases only: tx_precompensation)."""
    return np.abs(np.asarray(calibration.tx_gains, complex))


def model_tx_factors(calibration, subcarriers, bandwidth_hz):
    """(N, Mt, L): |ĝ_tx[m, i]| · e^{−j2π f_l t_m/fs}, the one factor the central unit's model multiplies
    X_m[i, l, :] by (docs/air-model.md §3 as applied here: the chains' magnitudes and the transmit delays;
    core.fusion.localiser_inputs' ``tx_model_factors``)."""
    phases = model_tx_delay_phases(calibration, subcarriers, bandwidth_hz)  # (N, L)
    return model_tx_gain_magnitudes(calibration)[:, :, None] * phases[:, None, :]


def model_tx_delay_phases(calibration, subcarriers, bandwidth_hz):
    """(N, L): e^{−j2π f_l t_m/fs}, the factor the central unit's model multiplies X_m[:, l, :] by (the
    Calibration's own tx_delay_phases, core.calibration, when it has one)."""
    if hasattr(calibration, "tx_delay_phases"):
        return calibration.tx_delay_phases(subcarriers)
    t = np.asarray(calibration.tx_delay_samples, float)
    f = ofdm.bin_frequencies_hz(subcarriers, bandwidth_hz, frequency_grid(calibration))
    return np.exp(-2j * np.pi * np.multiply.outer(t, f) / bandwidth_hz)


def calibration_summary(calibration, jumps=0, state=None):
    """The ``calibration`` object of the apps' JSON: method, residuals (from the fit), jumps, state."""
    if calibration is None:
        return {"method": None, "residuals": None, "jumps": int(jumps), "state": "none" if state is None else state}
    residuals = getattr(calibration, "residuals", None)
    if hasattr(residuals, "to_dict"):
        residuals = residuals.to_dict()
    elif residuals is not None and not isinstance(residuals, dict):
        residuals = dict(vars(residuals))
    return {"method": getattr(calibration, "method", None), "residuals": residuals, "jumps": int(jumps),
            "state": "ok" if state is None else state,
            "frames_used": getattr(calibration, "frames_used", None)}


def make_tracker(calibration, scenario):
    """The central unit's on-the-fly calibration tracker (engineer cal's core.calibration tracker, fed with
    each localised frame's snapshots and model frames), or None without a calibration."""
    if calibration is None:
        return None
    from .calibration_tracker import CalibrationTracker

    return CalibrationTracker(scenario, calibration)


def known_path_flags(known_paths, calibration, scenario):
    """(direct_paths, reflector) for the localiser from the ``known_paths`` parameter (KNOWN_PATHS)."""
    if known_paths not in KNOWN_PATHS:
        raise ValueError(f"known_paths = {known_paths!r}: accepted: {', '.join(KNOWN_PATHS)}")
    has_reflector = getattr(scenario, "reflector_m", None) is not None
    if known_paths == "auto":
        return calibration is not None and scenario.num_nodes > 1, has_reflector
    if "reflector" in known_paths and not has_reflector:
        raise ValueError(f"known_paths = {known_paths!r}: scenario {scenario.name!r} has no reference reflector "
                         "([calibration] reflector_m)")
    return "direct_path" in known_paths, "reflector" in known_paths
