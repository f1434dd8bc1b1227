# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""A calibration capture through the synthetic air at core level (the air's side: it reads the truth).

``synthetic_capture`` plays a CalibrationSchedule (core/calibration_estimator.py) through the same physics as
the synthetic node chain of docs/air-model.md §2, in its order: each node's transmitted frames (the calibration
precoders in its turn, silence otherwise) → the TX chain (per-antenna tx gains, the node's CFO e^{+j2π ε t}
on its labels: core.synthetic_radio) → the air (core.channels.SensingChannel: targets, direct paths,
reflector, clock offsets and latencies as true band-limited delays, oscillator phases) → AWGN at the
antennas (before the rx gain, as thermal noise at the LNA) → the RX chain (per-antenna rx gains, CFO
e^{−j2π ε t} on the receiver's labels). What comes out is what a node's radio hands its receiver, labelled
like its rx_time (the first sample's label is the air's −A, core.channels.sensing_air_latency_samples).
Overflows are not played (a calibration capture with a lost sample is repeated, not fitted).

Issue 14 (docs/calibration.md, "On the full lab air"): when the air's radios have a receive front end (an ADC model,
adc_bits > 0, and the RF self-interference canceller of rf_canceller_db where the air has a leakage), each node's
whole stream goes through core.front_end.NodeFrontEnd after the RX chain, as the synthetic radio does (the node's
own transmit samples are the canceller's reference; labels before the epoch are not converted). A schedule with a
background pass (CalibrationSchedule.background) replays every turn with the reference reflector covered: the air
plays its echo only for what was transmitted in the first pass (the reflector's part, the air with the reflector
minus the air without it, is gated at the transmitter, so an echo in flight at the pass boundary is physical). One
stream for both passes, so the front end (its held canceller weights, its AGC) runs through both as a radio's does.

Only the air reads ``scenario.impairments``; the estimator is then given ``scenario.without_impairments()``.
"""

import numpy as np

from . import channels, ofdm, synthetic_radio
from .calibration_estimator import ReceivedCapture, transmitted_samples


def schedule_streams(scenario, schedule, seed, frames):
    """Every node's transmitted samples of frames 0 … frames − 1 under the schedule, (N·Mt, frames·frame_len): its
    turns (settle and fitted frames; in a background pass the first pass's samples again), silence otherwise."""
    lay = ofdm.layout_from_scenario(scenario)
    mt = scenario.tx_antennas
    out = np.zeros((scenario.num_nodes * mt, frames * lay.frame_len), dtype=np.complex128)
    for m in range(scenario.num_nodes):
        for first_slot, source in schedule.turn_slots(m):  # every pass; the background pass replays the first
            keep = first_slot + np.arange(source.size) < frames
            if keep.any():
                x = transmitted_samples(scenario, seed, source[keep], m)
                out[m * mt:(m + 1) * mt, first_slot * lay.frame_len:first_slot * lay.frame_len + x.shape[1]] = x
    return out


def synthetic_capture(scenario, schedule, seed, channel_seed=1, noise=True, grid=ofdm.DEFAULT_FREQUENCY_GRID,
                      front_end_status=None):
    """{node: ReceivedCapture} of the schedule through the synthetic air (module docstring). With a background
    pass in the schedule, the reflector is covered for the transmissions of that pass. front_end_status: a
    dict filled with each node's front-end status (when the air has a front end)."""
    lay = ofdm.layout_from_scenario(scenario)
    air_latency = channels.sensing_air_latency_samples(scenario)
    # enough frames that the receivers' labels cover the whole schedule after the air latency A
    frames = schedule.total_frames + int(np.ceil(air_latency / lay.frame_len)) + 1
    reflector_until = None
    if schedule.background and getattr(scenario, "reflector_m", None) is not None:
        reflector_until = schedule.background_first_frame * lay.frame_len
    return air_capture(scenario, schedule_streams(scenario, schedule, seed, frames), channel_seed, noise, grid,
                       reflector_until_sample=reflector_until, front_end_status=front_end_status)


def front_end_needed(scenario):
    """Whether the air's radios have a receive front end to play (an ADC model): the air's side reads it."""
    return int(getattr(scenario.impairments, "adc_bits", 0) or 0) > 0


def node_front_end(scenario, node, grid=ofdm.DEFAULT_FREQUENCY_GRID):
    """core.front_end.NodeFrontEnd of the air's radio ``node`` (AGC + ADC, and the RF canceller of depth
    rf_canceller_db where the air has a leakage), built as blocks/synthetic_radio_rx builds it."""
    from . import front_end

    imp = scenario.impairments
    lay = ofdm.layout_from_scenario(scenario)
    backoff = getattr(imp, "agc_backoff_db", None)
    adc = front_end.ReceiveFrontEnd(scenario.rx_antennas, lay.frame_len, int(imp.adc_bits),
                                    float(getattr(imp, "adc_full_scale", 1.0)), bool(getattr(imp, "agc", True)),
                                    float(front_end.DEFAULT_AGC_BACKOFF_DB if backoff is None else backoff))
    canceller = None
    depth = getattr(imp, "rf_canceller_db", None)  # a field of the drawn Impairments, or the resolved table's key
    if depth is None:
        from .impairments import resolve_impairments_table
        depth = resolve_impairments_table(scenario.impairments_table).get("rf_canceller_db")
    depth = float(depth or 0.0)
    if getattr(imp, "has_self_coupling", False) and depth > 0:
        canceller = front_end.SelfInterferenceCanceller(
            scenario.tx_antennas, scenario.rx_antennas, lay.subcarriers, lay.cyclic_prefix, lay.frame_len,
            scenario.bandwidth_hz, grid, depth)
    return front_end.NodeFrontEnd(adc, canceller)


def _through_air(scenario, x64, node, channel_seed, grid):
    channel = channels.SensingChannel(scenario, node, channel_seed, grid)
    out = np.zeros((scenario.rx_antennas, x64.shape[1]), dtype=np.complex64)
    channel.write_time(x64, 0, list(out))
    return out.astype(np.complex128), int(channel.label_offset_samples)


def air_capture(scenario, transmitted, channel_seed=1, noise=True, grid=ofdm.DEFAULT_FREQUENCY_GRID,
                reflector_until_sample=None, front_end_status=None):
    """{node: ReceivedCapture}: every node's transmitted samples (N·Mt, T) from label 0 (what its isac_tx sends,
    whole frames) through TX chain → air → noise → RX chain → front end (module docstring).
    reflector_until_sample: the reference reflector echoes only what was transmitted before this label (None:
    always); front_end_status: a dict filled with each node's front-end status."""
    imp = scenario.impairments
    fs = float(scenario.bandwidth_hz)
    n_nodes, mt, mr = scenario.num_nodes, scenario.tx_antennas, scenario.rx_antennas
    baseband = np.array(transmitted, dtype=np.complex128)
    x = baseband.copy()
    count = x.shape[1]
    for m in range(n_nodes):  # the TX chain: gains per antenna, the node's CFO on its labels
        rows = slice(m * mt, (m + 1) * mt)
        x[rows] *= imp.tx_gains[m][:, None] * synthetic_radio.cfo_phasor(imp.cfo_hz[m], 0, count, fs, +1)[None]
    x64 = x.astype(np.complex64)
    gated = covered = None
    if reflector_until_sample is not None and getattr(scenario, "reflector_m", None) is not None:
        covered = scenario.replace(reflector_amplitude=0.0)  # the same air, the reflector covered
        gated = x64.copy()
        gated[:, max(int(reflector_until_sample), 0):] = 0
    with_front_end = front_end_needed(scenario)
    captures = {}
    for n in range(n_nodes):
        if covered is None:
            y, first_label = _through_air(scenario, x64, n, channel_seed, grid)
        else:  # the covered air for everything, plus the reflector's echo of the first pass
            y, first_label = _through_air(covered, x64, n, channel_seed, grid)
            with_reflector, label_a = _through_air(scenario, gated, n, channel_seed, grid)
            without, label_b = _through_air(covered, gated, n, channel_seed, grid)
            if not label_a == label_b == first_label:
                raise RuntimeError("calibration air: covering the reflector changed the air's labels")  # a bug
            y += with_reflector - without
        if noise:
            y += channels.awgn(channels.noise_rng(channel_seed, "sensing", n), count, mr, scenario.noise_power)
        y *= imp.rx_gains[n][:, None] * synthetic_radio.cfo_phasor(imp.cfo_hz[n], first_label, count, fs, -1)[None]
        if with_front_end:  # the radio's front end on the whole stream from label 0 (labels before: not converted)
            chain = node_front_end(scenario, n, grid)
            skip = max(0, -first_label)
            chain.push_tx(baseband[n * mt:(n + 1) * mt].astype(np.complex64))
            processed = np.zeros_like(y)
            processed[:, skip:] = chain.process(y[:, skip:], first_label + skip)
            y = processed
            if front_end_status is not None:
                front_end_status[n] = chain.status()
        captures[n] = ReceivedCapture(y, int(first_label))
    return captures


def truth_errors(scenario, calibration):
    """How far a calibration is from the air's truth (synthetic runs and tests only: it reads the impairments).

    Gauges removed as the file defines them: each node's gains compared up to one complex factor (the
    ratios' mean magnitude and the phase of their mean), delays through the link sums t_m + r_n, CFOs through differences to node 0 (a per_run phase
    drift counts as CFO: it turns the links alike). RMS over channels / links / nodes (dB, degrees, ns, Hz)."""
    imp = scenario.impairments
    fs = float(scenario.bandwidth_hz)

    def gain_errors(estimate, truth):
        ratio = np.asarray(estimate) / np.asarray(truth)
        common = np.mean(ratio, axis=1, keepdims=True)  # the per-node gauge: mean magnitude, phase of the mean
        ratio = ratio / (np.mean(np.abs(ratio), axis=1, keepdims=True) * np.exp(1j * np.angle(common)))
        return (float(np.degrees(np.sqrt(np.mean(np.angle(ratio) ** 2)))),
                float(np.sqrt(np.mean((20 * np.log10(np.abs(ratio))) ** 2))))
    rx_deg, rx_db = gain_errors(calibration.rx_gains, imp.rx_gains)
    tx_deg, tx_db = gain_errors(calibration.tx_gains, imp.tx_gains)
    timing = (calibration.link_delay_samples() - imp.link_delay_samples(fs)) / fs * 1e9
    rate = imp.cfo_hz + (imp.phase_drift_deg_per_s / 360.0 if imp.node_phase == "per_run" else 0.0)
    cfo = (calibration.cfo_hz - calibration.cfo_hz[0]) - (rate - rate[0])
    return {"rx_phase_deg_rms": rx_deg, "tx_phase_deg_rms": tx_deg, "rx_gain_db_rms": rx_db, "tx_gain_db_rms": tx_db,
            "timing_ns_rms": float(np.sqrt(np.mean(timing ** 2))), "cfo_hz_rms": float(np.sqrt(np.mean(cfo ** 2)))}
