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

Only the air reads ``scenario.impairments``; the estimator is then given ``scenario.without_impairments()``.
"""

import numpy as np

from . import channels, ofdm, synthetic_radio
from .calibration_estimator import ReceivedCapture, transmitted_samples


def schedule_streams(scenario, schedule, seed, frames):
    """Every node's transmitted samples of frames 0 … frames − 1 under the schedule, (N·Mt, frames·frame_len)."""
    lay = ofdm.layout_from_scenario(scenario)
    mt = scenario.tx_antennas
    out = np.zeros((scenario.num_nodes * mt, frames * lay.frame_len), dtype=np.complex128)
    for m in range(scenario.num_nodes):
        turn = schedule.frames_of(m)
        turn = turn[turn < frames]
        if turn.size:
            x = transmitted_samples(scenario, seed, turn, m)
            out[m * mt:(m + 1) * mt, turn[0] * lay.frame_len:(turn[-1] + 1) * lay.frame_len] = x
    return out


def synthetic_capture(scenario, schedule, seed, channel_seed=1, noise=True, grid=ofdm.DEFAULT_FREQUENCY_GRID):
    """{node: ReceivedCapture} of the schedule through the synthetic air (module docstring)."""
    lay = ofdm.layout_from_scenario(scenario)
    air_latency = channels.sensing_air_latency_samples(scenario)
    # enough frames that the receivers' labels cover the whole schedule after the air latency A
    frames = schedule.total_frames + int(np.ceil(air_latency / lay.frame_len)) + 1
    return air_capture(scenario, schedule_streams(scenario, schedule, seed, frames), channel_seed, noise, grid)


def air_capture(scenario, transmitted, channel_seed=1, noise=True, grid=ofdm.DEFAULT_FREQUENCY_GRID):
    """{node: ReceivedCapture}: every node's transmitted samples (N·Mt, T) from label 0 (what its isac_tx sends,
    whole frames) through TX chain → air → noise → RX chain (module docstring)."""
    imp = scenario.impairments
    fs = float(scenario.bandwidth_hz)
    n_nodes, mt, mr = scenario.num_nodes, scenario.tx_antennas, scenario.rx_antennas
    x = np.array(transmitted, dtype=np.complex128)
    count = x.shape[1]
    for m in range(n_nodes):  # the TX chain: gains per antenna, the node's CFO on its labels
        rows = slice(m * mt, (m + 1) * mt)
        x[rows] *= imp.tx_gains[m][:, None] * synthetic_radio.cfo_phasor(imp.cfo_hz[m], 0, count, fs, +1)[None]
    x64 = x.astype(np.complex64)
    captures = {}
    for n in range(n_nodes):
        channel = channels.SensingChannel(scenario, n, channel_seed, grid)
        out = np.zeros((mr, count), dtype=np.complex64)
        channel.write_time(x64, 0, list(out))
        y = out.astype(np.complex128)
        if noise:
            y += channels.awgn(channels.noise_rng(channel_seed, "sensing", n), count, mr, scenario.noise_power)
        first_label = channel.label_offset_samples
        y *= imp.rx_gains[n][:, None] * synthetic_radio.cfo_phasor(imp.cfo_hz[n], first_label, count, fs, -1)[None]
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
