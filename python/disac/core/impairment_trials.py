# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Localisation trials on an impaired air, with and without calibration (issue 13's "done when"): the core of
tests/test_calibrated_localization.py and of bench/impairment_curves.py.

``run_trials(scenario, impairments_table, calibration_mode, frames, seed)`` runs, at core level, the chain a
flowgraph runs (docs/air-model.md §2's signal flow), through the same code:

    transmitter (core.ofdm.NodeModulator; with a calibration the precoders' chain phases pre-compensated and
    the CFO pre-rotated: core.calibration_apply) → transmit radio (tx gains, CFO: transmit_radio) → air
    (core.channels.SensingChannel: paths, true band-limited delays of core.delay_line, oscillator phases,
    direct paths, reflector) → noise → receive radio (rx gains, CFO: receive_radio) → framing from the
    labels (frame f at label f·frame_len + w_n) → node receiver (CP removal, CFO derotation, FFT, rx
    corrections: core.calibration_apply, as blocks/node_rx.py) → central unit (core.fusion.FrameEstimator:
    tx delays and chain magnitudes on X_m, known paths projected out, ML of eq. 9)

for three calibration modes: "none" (the receivers as today), "estimated" (engineer cal's
core.calibration_estimator.estimate_calibration on a short calibration capture of the same run, as
`disac calibrate` does) and "truth" (the drawn impairments as a perfect calibration: a test device that
isolates the application of the corrections from the estimation). It runs the same frames, data and noise
through the ideal air (the scenario without [impairments]; its reflector stays, it is geometry) as the
reference, and reports the RMSE of both, √CRB, failures and the calibration's residuals.

The receive side is given ``scenario.without_impairments()`` only (docs/air-model.md §0); the air and the "truth"
calibration read the impairments.

Noise (decided here): thermal noise at the antennas is white CN(0, σ²) before the receive radio's gain
g_r; through the receiver (CFO rotation, orthonormal FFT, the delay ramp: all unit-modulus or unitary) and
the calibration's 1/ĝ_r it reaches the snapshot as i.i.d. CN(0, σ²·|g_r/ĝ_r|²) on every kept resource
element — exactly, whatever the rotations. The trials draw it there: Z (Mr, L, P) per receiving node and
frame from (seed, node, frame), times g_r/ĝ_r (g_r without calibration), added to the noise-free
snapshot. So the impaired and the ideal runs of the same seeds see the very same noise realisation, and
their RMSE differ only by what the impairments and the calibration do (two independent 30-frame RMSE would
themselves scatter by ~10 %, more than the 10 % the issue allows). ``receive_snapshots(noise="antenna")``
adds the noise at the antennas instead (sample by sample, as the flowgraph does), for checks.
"""

import dataclasses
import math

import numpy as np

from . import (calibration_apply, channels, fim, fusion, interference, localizer, ofdm, synthetic_radio,
               trial_stats)
from .front_end import front_end_settings

CALIBRATION_MODES = ("none", "estimated", "truth")
# the central unit's interference suppression (core.interference): "none" = issue 13's receiver (the known
# direct paths projected out at their geometry when calibrated); "background" = the static background of every
# link learned from a clear-scene capture and subtracted per frame (docs/interference.md)
SUPPRESSION_MODES = ("none", "background", "auto")
# the air's keys of issue 14 whose interference "auto" suppresses (the operator's choice of a background capture,
# made from the air it set up; the receive side itself never reads them)
_INTERFERENCE_FIELDS = ("clutter_scatterers", "adc_bits")
# clear-scene frames per transmitting node of the background capture: the background's estimation error is
# σ²·(Mt + 1)/F per resource element (−14.6 dB at Mt = 6, F = 200: +3.5 % noise power); where beyond-CP taps are
# learned (BACKGROUND_TAP_SHIFTS) their Mt·T regressors per transmitter and antenna add ≈ σ²·Mt·T/(F·L_active·P)
# (capture_tap_shifts). The base length of the "auto" capture, and what an explicit length replaced before "auto"
DEFAULT_BACKGROUND_FRAMES_PER_NODE = 200
# the capture's length by default: "auto" (BACKGROUND_FRAMES_AUTO) captures the base length, learns, and extends the
# capture (the same stream, more clear-scene blocks) while what it learned says the capture is too short for the
# background (capture_length_decision: the beyond-CP masks found want more frames for their taps, or the learning
# residual at a node flagged beyond the prefix stays above BACKGROUND_AUTO_RESIDUAL_DB), up to
# BACKGROUND_AUTO_MAX_FRAMES_PER_NODE; docs/interference.md §4 "The capture's length". An explicit count keeps meaning
# exactly that many frames per node.
BACKGROUND_FRAMES_AUTO = "auto"
BACKGROUND_AUTO_MAX_FRAMES_PER_NODE = 800
# a node flagged beyond the prefix whose learning residual stays this far over σ² has not learned its background:
# measured learned backgrounds +0.5 … +0.9 dB (the calibration's gain gauge is up to +0.45 dB of it), unlearned ones
# +2.65 dB (paper lab, three shifts), +3.1 dB (three-nodes lab at 200 frames per node, five shifts: far masks unseen),
# +4.9 / +8.6 dB (three-nodes lab at 100 frames per node)
BACKGROUND_AUTO_RESIDUAL_DB = 1.5
# an extension for the residual's sake is repeated only while it lowers that residual by at least this much (an ADC
# floor or a model limit does not go with more frames: the capture would grow to the cap for nothing)
BACKGROUND_AUTO_RESIDUAL_GAIN_DB = 0.5
DEFAULT_CALIBRATION_FRAMES = 20
_NOISE_STREAM = 0x7E1A15
# frames run before the first trial frame: the air's delays (latencies up to a few frames) fill the
# receiver's first window with the previous frames' waveform, as on a running radio
_LEAD_FRAMES = 3
# more with a receive front end: its AGC and RF canceller settle within a few frames of their first input
# (core.front_end: the canceller's delay is refined over 3 updates, the AGC steps ≤ 40 dB a frame)
_FRONT_END_SETTLE_FRAMES = 40


@dataclasses.dataclass(frozen=True)
class RunResult:
    """Per-frame estimates of one chain run: positions (F, K, 2), the frame numbers, the CRB (m², sum over
    targets) and the localiser's residuals."""

    frames: np.ndarray
    positions_m: np.ndarray
    crb_m2: float
    residuals: np.ndarray


def transmit_radio(x, node, impairments, first_index, sample_rate_hz):
    """docs/air-model.md §2, node m's transmit radio: antenna i radiates tx_gains[m, i]·x_i·e^{j2π ε_m t} (t = local index
    / fs; core.synthetic_radio's phasor, as the synthetic_radio_tx block). x (Mt, T) from local index
    ``first_index``. The air's truth (never the receive side's)."""
    rot = synthetic_radio.cfo_phasor(impairments.cfo_hz[node], first_index, x.shape[1], sample_rate_hz, +1)
    return (impairments.tx_gains[node][:, None] * x) * rot[None, :]


def receive_radio(y, node, impairments, first_label, sample_rate_hz):
    """docs/air-model.md §2, node n's receive radio: antenna r delivers rx_gains[n, r]·y_r·e^{−j2π ε_n t} (t = label index
    / fs). y (Mr, T) with label index ``first_label`` for column 0. The air's truth."""
    rot = synthetic_radio.cfo_phasor(impairments.cfo_hz[node], first_label, y.shape[1], sample_rate_hz, -1)
    return (impairments.rx_gains[node][:, None] * y) * rot[None, :]


def truth_calibration(scenario):
    """The drawn impairments as a Calibration (a test device: the receive side never builds this). Gains as
    drawn, t_m = δ_m·fs, r_n = −δ_n·fs + λ_n (so t_m + r_n = D_mn), ε_n as drawn; docs/air-model.md gauges applied."""
    from .calibration import Calibration

    imp, fs = scenario.impairments, scenario.bandwidth_hz
    delta = imp.clock_offset_s * fs
    return Calibration(rx_gains=imp.rx_gains, tx_gains=imp.tx_gains, rx_delay_samples=-delta + imp.latency_samples,
                       tx_delay_samples=delta, cfo_hz=imp.cfo_hz, sample_rate_hz=fs, scenario=scenario.name,
                       method="truth").normalised()


def _air_streams(scenario_air, wc, wr, seed, channel_seed, first_frame, frame_count, calibration, on_air=None,
                 targets_on=None):
    """Every node's transmit samples through its radio, then the air into every rx node (noise-free).
    on_air: None, or {m: (frame_count,) bool}: the frames node m transmits (silent otherwise). targets_on: None
    (the air's targets in every frame) or (frame_count,) bool: the frames whose transmissions the targets echo
    (the air is linear: the clear scene's streams plus the targets' echoes of those frames alone).
    Returns (streams {n: (Mr, T) at the antennas}, first label index of column 0 {n}, the nodes' own baseband
    transmit samples {m: (Mt, T)} (what an RF canceller is fed with), first local index of column 0)."""
    lay = ofdm.layout_from_scenario(scenario_air)
    gen = ofdm.frame_generator(lay, int(seed))
    fs = scenario_air.bandwidth_hz
    frames = np.arange(first_frame, first_frame + frame_count)
    first_index = int(first_frame) * lay.frame_len
    imp = scenario_air.impairments
    baseband, radiated = [], []
    for m in range(scenario_air.num_nodes):
        w_c, w_r = wc[m], wr[m]
        if calibration is not None:
            w_c, w_r, _ = calibration_apply.tx_precompensated_precoders(calibration, m, w_c, w_r,
                                                                        scenario_air.per_antenna_power)
        x = ofdm.NodeModulator(gen, m, w_c, w_r).samples(frames).astype(complex)
        if on_air is not None:
            x = (x.reshape(len(x), frame_count, lay.frame_len) * on_air[m][None, :, None]).reshape(len(x), -1)
        if calibration is not None and calibration_apply.has_cfo(calibration, m):
            x = x * calibration_apply.tx_cfo_phasor(calibration, m, first_index + np.arange(x.shape[1]), fs)[None]
        baseband.append(x)
        radiated.append(transmit_radio(x, m, imp, first_index, fs))

    # the net carrier rotation of each transmitter's radiated samples: the radio's ε_m less the transmitter's own CFO
    # pre-compensation ε̂_m (the air delays them exactly for it: core.channels.SensingChannel, docs/air-model.md §5.4)
    net_cfo_hz = np.array([float(imp.cfo_hz[m]) - (float(calibration.cfo_hz[m]) if calibration is not None
                                                   and calibration_apply.has_cfo(calibration, m) else 0.0)
                           for m in range(scenario_air.num_nodes)])

    def through(scenario, parts):
        x_time = np.concatenate(parts).astype(np.complex64)
        out_streams, out_labels = {}, {}
        for n in range(scenario.num_nodes):
            channel = channels.SensingChannel(scenario, n, channel_seed, transmit_cfo_hz=net_cfo_hz)
            out = np.zeros((scenario.rx_antennas, x_time.shape[1]), dtype=np.complex64)
            channel.write_time(x_time, first_index, list(out))
            out_streams[n] = out
            out_labels[n] = first_index + int(getattr(channel, "label_offset_samples", 0))
        return out_streams, out_labels

    if targets_on is None:
        streams, labels = through(scenario_air, radiated)
    else:  # the targets' echoes of the other frames taken out (the air is linear in its paths)
        streams, labels = through(scenario_air, radiated)
        gate = np.repeat(~np.asarray(targets_on, bool), lay.frame_len)[None, :]
        echoes, _ = through(targets_only(scenario_air), [x * gate for x in radiated])
        for n in streams:
            streams[n] = (streams[n] - echoes[n]).astype(np.complex64)
    return streams, labels, dict(enumerate(baseband)), first_index


def targets_only(scenario_air):
    """The air with its targets' echoes alone: the same table (every draw has its own random stream, so the
    clocks, latencies, gains, CFOs and oscillator phases are the same) without direct paths, clutter, leakage
    and reference reflector. (A clear scene cannot be the air with zero target amplitude: the interference's
    levels are defined relative to the targets' echoes.)"""
    table = dict(scenario_air.impairments_table)
    for key in ("direct_path_db", "self_coupling_db", "clutter_positions_m"):
        table.pop(key, None)
    table.update(direct_path=False, clutter_scatterers=0, isolation_db=math.inf)
    return scenario_air.replace(reflector_m=None, reflector_amplitude=0.0, impairments_table=table)


def front_end_needed(scenario_air):
    """Whether the air's receivers have a nonlinear front end (an ADC model): then the trials run it on the
    whole sample stream of every node (node_front_ends), with the noise at the antennas."""
    settings = front_end_settings(scenario_air)
    return settings["adc_bits"] > 0 or settings["rf_canceller_db"] > 0


def node_front_ends(scenario_air, calibration=None):
    """{n: core.front_end.NodeFrontEnd} of the air's receivers as blocks/synthetic_radio_rx builds them (AGC +
    ADC, and an RF self-interference canceller of depth rf_canceller_db when that is > 0, fed with the node's
    own transmitter output), engineer radio's classes. The air's side: it reads the impairments."""
    from . import front_end

    settings = front_end_settings(scenario_air)
    lay = ofdm.layout_from_scenario(scenario_air)
    out = {}
    for n in range(scenario_air.num_nodes):
        adc = front_end.ReceiveFrontEnd(scenario_air.rx_antennas, lay.frame_len, settings["adc_bits"],
                                        settings["adc_full_scale"], settings["agc"], settings["agc_backoff_db"])
        canceller = None
        if settings["rf_canceller_db"] > 0:  # the radio's hardware (hier.synthetic_node), idle without a leakage
            canceller = front_end.SelfInterferenceCanceller(
                scenario_air.tx_antennas, scenario_air.rx_antennas, lay.subcarriers, lay.cyclic_prefix, lay.frame_len,
                scenario_air.bandwidth_hz, grid=getattr(lay, "frequency_grid", ofdm.DEFAULT_FREQUENCY_GRID),
                depth_db=settings["rf_canceller_db"],
                # its reference, the node's own transmit samples, carries the transmitter's CFO pre-compensation
                reference_cfo_hz=(-float(calibration.cfo_hz[n]) if calibration is not None
                                  and calibration_apply.has_cfo(calibration, n) else 0.0))
        out[n] = front_end.NodeFrontEnd(adc, canceller)
    return out


def _stream_noise(seed, node, mr, first_label, count, frame_len, sigma, origin=0):
    """Thermal noise CN(0, 2σ²) per sample of a node's stream, labels first_label …, drawn per block of
    frame_len labels aligned to the node's frame windows (block f = labels f·frame_len + origin …, origin the
    window offset) from (seed, node, f): the very draw of noise="antenna" for window f, so a run with and
    without a front end, or with and without a calibration's window offset, sees the same noise in each frame."""
    out = np.empty((mr, count), complex)
    label, done = int(first_label), 0
    while done < count:
        block = (label - origin) // frame_len
        start = label - origin - block * frame_len
        take = min(count - done, frame_len - start)
        key = int(block) if block >= 0 else (1 << 40) - int(block)  # blocks before frame 0: keys of their own
        rng = np.random.default_rng([int(seed), _NOISE_STREAM, int(node), key])
        z = rng.standard_normal((2, mr, frame_len))
        out[:, done:done + take] = sigma * (z[0, :, start:start + take] + 1j * z[1, :, start:start + take])
        done += take
        label += take
    return out


def receive_snapshots(scenario_air, wc, wr, frames, seed, channel_seed=1, calibration=None, noise=True, on_air=None,
                      targets_on=None, lead_frames=None, front_end_status=None):
    """Snapshots (F, N, Mr, L, P) of ``frames`` (increasing) as every node_rx makes them (calibration applied;
    None = today's receiver) on the air of ``scenario_air`` (its impairments are the air's only), simulated
    as one stream from a few frames before the first to the last.
    noise: True (in the snapshot domain, module docstring), "antenna" (at the antennas, per frame window),
    "stream" (at the antennas, per sample of the stream: what a front end needs) or False. With an ADC model in
    the air (front_end_needed) the node front ends (node_front_ends) run on every node's stream, with the noise
    forced to "stream" (unless False).
    on_air: None (every node transmits every frame) or a function frame numbers (F,) → (N, F) bool, the frames
    each node transmits (silent otherwise: a capture schedule such as background_schedule). targets_on: None
    (targets always there) or a function frame numbers → (F,) bool (the frames the targets echo).
    lead_frames: frames simulated before the first (default: the air's latency, and 40 more with a front end,
    for its AGC and canceller to settle). front_end_status: a dict filled with each node's front-end status."""
    lay = ofdm.layout_from_scenario(scenario_air)
    frames = np.asarray(frames, dtype=np.int64)
    fs = scenario_air.bandwidth_hz
    n_nodes, mr = scenario_air.num_nodes, scenario_air.rx_antennas
    offsets = {n: 0 if calibration is None else calibration_apply.window_offset_samples(calibration, n)
               for n in range(n_nodes)}
    latency = np.max(np.abs(scenario_air.impairments.link_delay_samples(fs))) + max(abs(v) for v in offsets.values())
    with_front_end = front_end_needed(scenario_air)
    if with_front_end and noise:
        noise = "stream"
    lead = _LEAD_FRAMES + int(math.ceil(latency / lay.frame_len))
    if lead_frames is not None:
        lead = max(lead, int(lead_frames))
    elif with_front_end:
        lead += _FRONT_END_SETTLE_FRAMES
    first = max(0, int(frames[0]) - lead)
    count = int(frames[-1]) + 1 + lead - first
    schedule = targets = None
    sim = np.arange(first, first + count)
    if on_air is not None:
        on = np.asarray(on_air(sim), dtype=bool)
        schedule = {m: on[m] for m in range(n_nodes)}
    if targets_on is not None:
        targets = np.asarray(targets_on(sim), dtype=bool)
    streams, labels, own_tx, tx_first = _air_streams(scenario_air, wc, wr, seed, channel_seed, first, count,
                                                      calibration, schedule, targets)
    core = (lay.front_len + lay.cyclic_prefix + np.arange(lay.subcarriers)[:, None]
            + lay.symbol_len * np.arange(lay.data_symbols)[None, :])  # node_rx's _core_offsets (L, P)
    out = np.empty((len(frames), n_nodes, mr, lay.subcarriers, lay.data_symbols), dtype=np.complex64)
    sigma = math.sqrt(scenario_air.noise_power / 2)
    ends = node_front_ends(scenario_air, calibration) if with_front_end else {}
    for n in range(n_nodes):
        if noise == "stream" or with_front_end:  # the receive chain on the whole stream, sample by sample
            stream = streams[n].astype(complex)
            if noise == "stream":
                stream = stream + _stream_noise(seed, n, mr, labels[n], stream.shape[1], lay.frame_len, sigma,
                                                offsets[n])
            stream = receive_radio(stream, n, scenario_air.impairments, labels[n], fs)
            if with_front_end:
                chain = ends[n]
                skip = max(0, tx_first - labels[n])  # the front end's labels start with the node's own first sample
                chain.push_tx(own_tx[n])
                processed = np.zeros_like(stream)
                processed[:, skip:] = chain.process(stream[:, skip:], labels[n] + skip - tx_first)
                stream = processed
                if front_end_status is not None:
                    front_end_status[n] = chain.status()
            streams[n] = stream
        start = frames * lay.frame_len + offsets[n]  # label of each frame's window start
        column = start - labels[n]
        if column[0] < 0 or column[-1] + lay.frame_len > streams[n].shape[1]:
            raise RuntimeError(f"node {n}: frame windows outside the simulated stream")  # a bug of this module
        window = streams[n][:, column[:, None] + np.arange(lay.frame_len)[None, :]]  # (Mr, F, frame_len)
        window = np.moveaxis(window, 1, 0).astype(complex)  # (F, Mr, frame_len)
        labels_f = start[:, None] + np.arange(lay.frame_len)[None, :]  # (F, frame_len)
        if noise != "stream" and not with_front_end:
            if noise == "antenna":
                for i, f in enumerate(frames):
                    rng = np.random.default_rng([int(seed), _NOISE_STREAM, n, int(f)])
                    window[i] += sigma * (rng.standard_normal((mr, lay.frame_len))
                                          + 1j * rng.standard_normal((mr, lay.frame_len)))
            for i in range(len(frames)):
                window[i] = receive_radio(window[i], n, scenario_air.impairments, int(labels_f[i, 0]), fs)
        samples = window[:, :, core]  # (F, Mr, L, P): the node receiver's gather
        if calibration is not None and calibration_apply.has_cfo(calibration, n):
            index = frames[:, None, None] * lay.frame_len + offsets[n] + core[None]
            samples = samples * calibration_apply.rx_cfo_phasor(calibration, n, index, fs)[:, None]
        snap = np.fft.fft(samples, axis=2, norm="ortho")
        if calibration is not None:
            snap = snap * calibration_apply.rx_snapshot_correction(calibration, n, lay.subcarriers, fs)[:, :, None]
        if noise is True:  # the antennas' noise as it reaches the snapshot (module docstring)
            gain = scenario_air.impairments.rx_gains[n]
            if calibration is not None:
                gain = gain / np.asarray(calibration.rx_gains, complex)[n]
            for i, f in enumerate(frames):
                rng = np.random.default_rng([int(seed), _NOISE_STREAM, n, int(f)])
                z = rng.standard_normal((2, mr, lay.subcarriers, lay.data_symbols))
                snap[i] += sigma * gain[:, None, None] * (z[0] + 1j * z[1])
        out[:, n] = snap
    return out


def estimate_calibration(scenario_air, seed, channel_seed=1, frames_per_node=DEFAULT_CALIBRATION_FRAMES,
                         max_lag_samples=None):
    """engineer cal's estimator (core.calibration_estimator.estimate_calibration) on a calibration capture of
    this air, as `disac calibrate` runs it; the receive side gets the scenario without impairments. Its
    CalibrationFit."""
    from . import calibration_air, calibration_estimator as est

    lay = ofdm.layout_from_scenario(scenario_air)
    if max_lag_samples is None:  # covers a B210-class TX→RX latency (≤ 165 samples) and GPSDO offsets with margin
        max_lag_samples = max(3 * lay.frame_len, 300)
    schedule = est.CalibrationSchedule.for_search(scenario_air, frames_per_node, max_lag_samples)
    captures = calibration_air.synthetic_capture(scenario_air, schedule, seed, channel_seed + 7919)  # its own noise
    return est.estimate_calibration(scenario_air.without_impairments(), captures, schedule, seed,
                                    max_lag_samples=int(max_lag_samples))


# the clear-scene capture transmits node by node in blocks of this many frames; the first
# BACKGROUND_SETTLE_FRAMES of each block are left out of the learning: the receivers' AGC follows a change of
# input level within a few frames only (it sets its gain between frames from the frame before; a node's own
# leakage or a direct path comes and goes with the block's transmitter)
BACKGROUND_BLOCK_FRAMES = 25
BACKGROUND_SETTLE_FRAMES = 5


def background_schedule(num_nodes, block_frames=BACKGROUND_BLOCK_FRAMES):
    """The clear-scene capture's schedule: node (f // block_frames) mod N transmits frame f alone (every
    receiver listens), so each transmitter's background is learned without the others' — the users' data are
    common to every node's frame, and with all nodes on the links' backgrounds would be told apart only by
    their oscillators' phase changes (not at all without drift). A function frame numbers → (N, F) bool
    (receive_snapshots' on_air)."""
    def on_air(frame_numbers):
        numbers = np.asarray(frame_numbers, dtype=np.int64)
        return ((numbers[None, :] // block_frames) % num_nodes) == np.arange(num_nodes)[:, None]
    return on_air


def background_capture_frames(first_frame, num_nodes, frames_per_node, block_frames=BACKGROUND_BLOCK_FRAMES,
                              settle_frames=BACKGROUND_SETTLE_FRAMES):
    """(all frame numbers of a capture, the ones learned from): blocks of block_frames from the first block
    boundary at or after first_frame, until every node has transmitted ``frames_per_node`` learnable frames
    (the first settle_frames of each block are not learned from)."""
    start = -(-int(first_frame) // block_frames) * block_frames
    per_block = block_frames - settle_frames
    blocks = -(-int(frames_per_node) // per_block) * num_nodes
    numbers = np.arange(start, start + blocks * block_frames)
    return numbers, numbers[(numbers % block_frames) >= settle_frames]


# the beyond-CP taps the clear-scene capture learns where a node's residual flags echoes beyond the prefix: the per-link
# masks of core.interference.learn_background, each with up to this many band-limited shifts evenly over its delay
# interval [CP + M − 1, CP + M] (core.interference.mask_tap_delays) instead of three. Measured with stop 19's fixed masks. Measured on the paper lab (seed 3, drawn 5 Hz CFO, noise off, 100 frames per
# node): what the taps leave of the clutter is −3.9 dB re σ² at node 1 with 3 shifts (its +1.7 dB learning residual:
# clutter paths at 20.4…21 and 29.7…36.9 samples in its window, whose cut the three-point interpolation misses),
# −8.5 dB with 4, −11.5 dB with 5 (docs/interference.md §6). More shifts are more regressors (Mt per shift and mask
# for each transmitter), whose estimation error ≈ σ²·Mt·T/(F·L_active·P) per resource element (T taps, F capture
# frames per node) the capture's length pays for: the capture takes the most shifts (3 … BACKGROUND_TAP_SHIFTS) that
# keep it within BACKGROUND_TAP_ERROR (−10 dB re σ²) — on the paper lab 5 from 400 frames per node, 3 (as before)
# at the default 200, where 5 shifts would cost +0.8 dB of estimation error (seed 3, 40 frames: 1.39 × ideal)
BACKGROUND_TAP_SHIFTS = 5
BACKGROUND_TAP_ERROR = 0.1


def capture_tap_shifts(frames_per_node, tx_antennas, cyclic_prefix, subcarriers, active_subcarriers, symbols=1,
                       masks=None):
    """Shifts per mask for a capture of ``frames_per_node`` (module constants above): the most of
    BACKGROUND_TAP_SHIFTS … 3 whose taps' estimation error σ²·Mt·T/(F·L_active·P) is ≤ BACKGROUND_TAP_ERROR·σ²,
    T = shifts × ``masks``: the most masks one least-squares fit of the learning holds (the masks a link learned,
    summed over a transmitter group: _capture_masks), by default all L masks a link could learn (the bound before
    the masks are known). cyclic_prefix does not enter (kept for the callers: the masks are counted from the window)."""
    masks = int(subcarriers) if masks is None else int(masks)
    observations = max(float(frames_per_node) * int(active_subcarriers) * int(symbols), 1.0)
    for shifts in range(BACKGROUND_TAP_SHIFTS, 3, -1):
        if int(tx_antennas) * masks * shifts / observations <= BACKGROUND_TAP_ERROR * (1 + 1e-9):
            return shifts
    return 3


def _capture_masks(background, x):
    """The most beyond-CP masks one fit of the learning held: per rx node and transmitter group (the transmitters on
    together in the capture, interference._transmitter_groups; one per node in the node-by-node capture) the masks
    its links learned, summed over the group. 0 without taps. From the Background and the model frames only."""
    if background.taps is None:
        return 0
    masks = background.link_masks()
    groups = interference._transmitter_groups(np.asarray(x))
    return max(sum(len(masks[n][m]) for m in members) for n in range(background.num_nodes) for members, _ in groups)


def _worst_flagged_residual_db(background):
    """The largest learning residual over σ² (dB) of the nodes flagged beyond the prefix; None when none is."""
    flags = np.asarray(background.beyond_cp_flags, bool)
    return float(np.max(np.asarray(background.residual_excess_db, float)[flags])) if flags.any() else None


def _capture_learner(snaps, x, scenario_rx, calibration):
    """learn(shifts): core.interference.learn_background on this clear-scene capture with ``shifts`` per beyond-CP
    mask, from what the receive side has (snapshots, model frames, σ², geometry, the receivers' delay ramps)."""
    lay = ofdm.layout_from_scenario(scenario_rx)

    def learn(shifts):
        return interference.learn_background(snaps, x, scenario_rx.noise_power, scenario_rx.node_positions_m,
                                             scenario_rx.bandwidth_hz, cyclic_prefix=lay.cyclic_prefix,
                                             tap_shifts=shifts, rx_ramps=receive_ramps(scenario_rx, calibration))
    return learn


def _learn_capture(snaps, x, scenario_rx, calibration, frames_per_node, requested=None, fallback=True, learn=None):
    """core.interference.learn_background on a clear-scene capture: its per-link beyond-CP masks with as many shifts
    (≤ BACKGROUND_TAP_SHIFTS) as the capture's length pays for on the masks the learning found (capture_tap_shifts
    with _capture_masks: first learned with BACKGROUND_TAP_SHIFTS, again with fewer if its masks' taps cost too
    much), and the receivers' delay ramps: what the receive side has. ``fallback``: _three_shift_fallback. The
    Background's ``capture`` record says the length, the shifts and the masks (``requested``: "auto" or the count
    asked for)."""
    lay = ofdm.layout_from_scenario(scenario_rx)
    x = np.asarray(x)
    active = int(np.sum(np.any(x != 0, axis=(0, 1, 2, 4))))
    frames_per_node = int(round(frames_per_node))
    learn = _capture_learner(snaps, x, scenario_rx, calibration) if learn is None else learn
    shifts = BACKGROUND_TAP_SHIFTS
    background = learn(shifts)
    masks = _capture_masks(background, x)
    if background.taps is not None:
        paid = capture_tap_shifts(frames_per_node, x.shape[2], lay.cyclic_prefix, lay.subcarriers, active, x.shape[4],
                                  masks=masks)
        if paid < shifts:
            shifts, background = paid, learn(paid)
            masks = _capture_masks(background, x)
    record = {"frames_per_node": frames_per_node, "requested": frames_per_node if requested is None else requested,
              "tap_shifts": shifts if background.taps is not None else None, "masks": int(masks),
              "active_subcarriers": active, "symbols": int(x.shape[4]), "extended_from": None,
              "reason": "base length" if requested == BACKGROUND_FRAMES_AUTO else "explicit"}
    background = dataclasses.replace(background, capture=record)
    return _three_shift_fallback(background, learn, x) if fallback else background


def _three_shift_fallback(background, learn, x):
    """Where a node flagged beyond the prefix keeps a residual over BACKGROUND_AUTO_RESIDUAL_DB with more than three
    shifts per mask, the capture learned with three too, and the lower residual kept (measured: at 200 frames per
    node on the three-nodes lab five shifts leave +3.1 dB, three +0.9 dB — the mask detector finds fewer far masks
    after the first finer fit; docs/interference.md §4). ``learn``: _capture_learner's of that capture."""
    record = background.capture or {}
    worst = _worst_flagged_residual_db(background)
    if background.taps is None or worst is None or worst <= BACKGROUND_AUTO_RESIDUAL_DB \
            or int(record.get("tap_shifts") or 3) <= 3:
        return background
    three = learn(3)
    worst_three = _worst_flagged_residual_db(three)
    if worst_three is None or worst_three >= worst:
        return background
    return dataclasses.replace(three, capture=dict(record, tap_shifts=3 if three.taps is not None else None,
                                                   masks=_capture_masks(three, x)))


def background_frames_option(value):
    """The capture's length as asked: BACKGROUND_FRAMES_AUTO ("auto", also None) or a whole number ≥ 1 (an int, or a
    string of digits: `--background-frames`). ValueError naming the value and what is accepted."""
    if value is None or (isinstance(value, str) and value.strip().lower() == BACKGROUND_FRAMES_AUTO):
        return BACKGROUND_FRAMES_AUTO
    if isinstance(value, str) and value.strip() and all(c in "0123456789" for c in value.strip()):
        value = int(value.strip())
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or int(value) < 1:
        raise ValueError(f"background frames per node = {value!r}: accepted: auto, or a whole number ≥ 1")
    return int(value)


def _whole_rounds(frames_per_node):
    """frames_per_node rounded up to what the node-by-node capture takes: whole blocks of learnable frames."""
    per_block = BACKGROUND_BLOCK_FRAMES - BACKGROUND_SETTLE_FRAMES
    return -(-int(math.ceil(frames_per_node)) // per_block) * per_block


def capture_length_decision(background, frames_per_node, previous_residual_db=None):
    """(frames per node the clear-scene capture should have, reason): ``frames_per_node`` when it is long enough,
    more when what it learned says otherwise — from the learned Background and the receivers' layout only (its
    taps, masks, residuals and the capture's own frames; never the air):

    * taps: the beyond-CP masks the learning found (the most one fit holds, Background.capture's shifts aside) want
      BACKGROUND_TAP_SHIFTS shifts each (docs/interference.md §6: three leave −3.9 dB re σ² of the paper lab's clutter
      cut, five −11.5 dB); their error σ²·Mt·T/(F·L_active·P) ≤ BACKGROUND_TAP_ERROR sets F;
    * residual: a node flagged beyond the prefix whose learning residual is over BACKGROUND_AUTO_RESIDUAL_DB has not
      learned its background (the mask detector's steps grow with the frames: √F): twice the frames — unless the
      last extension for that reason (``previous_residual_db``: its worst flagged residual before) lowered it by less
      than BACKGROUND_AUTO_RESIDUAL_GAIN_DB.

    Rounded up to whole capture blocks, capped at BACKGROUND_AUTO_MAX_FRAMES_PER_NODE. The layout (Mt, L_active, P)
    comes from the background and its record: ``active_subcarriers`` and ``symbols`` in Background.capture."""
    frames_per_node = int(frames_per_node)
    record = background.capture or {}
    need, reasons = frames_per_node, []
    masks = int(record.get("masks", 0) or 0)
    if background.taps is not None and masks:
        observations = int(record["active_subcarriers"]) * int(record["symbols"])
        wanted = background.tx_antennas * BACKGROUND_TAP_SHIFTS * masks / (BACKGROUND_TAP_ERROR * observations)
        if wanted > frames_per_node * (1 + 1e-9):
            need = max(need, _whole_rounds(wanted))
            reasons.append(f"{masks} beyond-CP masks in one fit want {_whole_rounds(wanted)} frames per node for "
                           f"{BACKGROUND_TAP_SHIFTS} shifts each")
    worst = _worst_flagged_residual_db(background)
    if worst is not None and worst > BACKGROUND_AUTO_RESIDUAL_DB:
        if previous_residual_db is None or previous_residual_db - worst >= BACKGROUND_AUTO_RESIDUAL_GAIN_DB:
            need = max(need, 2 * frames_per_node)
            reasons.append(f"learning residual {worst:+.2f} dB over the noise at a node flagged beyond the prefix "
                           f"(> {BACKGROUND_AUTO_RESIDUAL_DB:+.1f} dB)")
    need = min(_whole_rounds(need), max(BACKGROUND_AUTO_MAX_FRAMES_PER_NODE, frames_per_node))
    return need, "; ".join(reasons)


def _auto_capture(capture, base=DEFAULT_BACKGROUND_FRAMES_PER_NODE):
    """The "auto" length. ``capture(frames_per_node)`` runs a clear-scene capture of that length (the same stream,
    continued: its first frames are the shorter capture's) and returns (its result, its Background learned without
    the three-shift fallback, its learner: _capture_learner, its model frames); from ``base`` the capture is extended
    as capture_length_decision says, up to the cap. Returns (the last capture's result, its Background with the
    record: frames_per_node, extended_from, reason)."""
    frames, previous, reasons = int(base), None, []
    while True:
        result, background, learn, x = capture(frames)
        need, reason = capture_length_decision(background, frames, previous)
        if need <= frames:
            break
        reasons.append(f"{frames} → {need}: {reason}")
        previous = _worst_flagged_residual_db(background)
        frames = need
    background = _three_shift_fallback(background, learn, x)
    record = dict(background.capture or {}, requested=BACKGROUND_FRAMES_AUTO,
                  extended_from=int(base) if reasons else None,
                  reason="; ".join(reasons) if reasons else "base length: what it learned asked for no more")
    if frames >= BACKGROUND_AUTO_MAX_FRAMES_PER_NODE and capture_length_decision(background, frames)[0] > frames:
        record["reason"] += f" (capped at {BACKGROUND_AUTO_MAX_FRAMES_PER_NODE} frames per node)"
    return result, dataclasses.replace(background, capture=record)


def model_frames(scenario_rx, frames, wc, wr, seed, calibration=None, on_air=None):
    """(F, N, Mt, L, P): the central unit's model frames X_m (core.fusion.localiser_inputs: regenerated from the
    seed and precoders, × the calibration's transmit factors), zero where ``on_air`` says a node was silent."""
    lay = ofdm.layout_from_scenario(scenario_rx)
    frames = np.asarray(frames, dtype=np.int64)
    x = np.stack([ofdm.transmitted_frames(lay, seed, frames, m, wc[m], wr[m])
                  for m in range(scenario_rx.num_nodes)], axis=1).astype(complex)
    if calibration is not None:
        factors = calibration_apply.model_tx_factors(calibration, scenario_rx.subcarriers, scenario_rx.bandwidth_hz)
        x = x * factors[None, :, :, :, None]
    if on_air is not None:
        x = x * np.asarray(on_air(frames), dtype=bool).T[:, :, None, None, None]
    return x


def capture_background(scenario_air, wc, wr, seed, channel_seed, calibration=None, first_frame=0,
                       frames_per_node=BACKGROUND_FRAMES_AUTO, noise=None):
    """The clear-scene background capture of this air (the scene without its targets: their echoes taken out,
    targets_only; the reference reflector, clutter, direct paths and leakage stay) on the
    background_schedule, learned by core.interference.learn_background from what the receive side has:
    the snapshots, its model frames, the scenario's noise power and geometry. A core.interference.Background
    (its ``capture`` record: the length used and why). frames_per_node: "auto" (default: the base length, extended
    from first_frame on as what it learned asks: _auto_capture) or a whole number (exactly that many).
    noise: receive_snapshots' (default: at the antennas with an ADC model, else in the snapshots; False for a
    noise-off air such as `disac loopback`'s)."""
    requested = background_frames_option(frames_per_node)
    n_nodes = scenario_air.num_nodes
    schedule = background_schedule(n_nodes)
    rx = scenario_air.without_impairments()

    def capture(count, fallback):
        numbers, learned = background_capture_frames(first_frame, n_nodes, count)
        snaps = receive_snapshots(scenario_air, wc, wr, learned, seed, channel_seed, calibration,
                                  noise=_noise_mode(scenario_air) if noise is None else noise, on_air=schedule,
                                  targets_on=lambda f: np.zeros(len(f), bool),
                                  # the receivers' front ends (AGC, RF canceller) settle before the capture's first
                                  # frame, as run_with_background_capture's trial stream lets them: learned while the
                                  # canceller still tunes, the paper lab's background kept +20 dB over σ²
                                  # (tests/test_background_capture.py)
                                  lead_frames=int(learned[0] - numbers[0]) + _LEAD_FRAMES
                                  + (_FRONT_END_SETTLE_FRAMES if front_end_needed(scenario_air) else 0))
        x = model_frames(rx, learned, wc, wr, seed, calibration, schedule)
        learn = _capture_learner(snaps, x, rx, calibration)
        background = _learn_capture(snaps, x, rx, calibration, len(learned) / n_nodes, requested, fallback, learn)
        return None, background, learn, x

    if requested == BACKGROUND_FRAMES_AUTO:
        return _auto_capture(lambda count: capture(count, False))[1]
    return capture(requested, True)[1]


def _capture_run(scenario_air, wc, wr, frames, seed, channel_seed, calibration, frames_per_node, noise,
                 front_end_status, capture_start=None):
    """One stream of the air with a clear-scene capture of ``frames_per_node`` and the trial ``frames``
    (run_with_background_capture's placement, or from the block boundary ``capture_start`` on). (trial snapshots,
    capture snapshots, the capture's model frames, the receive side's scenario)."""
    frames = np.asarray(frames, dtype=np.int64)
    n_nodes = scenario_air.num_nodes
    room = background_capture_room(n_nodes, frames_per_node)
    if capture_start is not None:
        numbers, capture = background_capture_frames(int(capture_start), n_nodes, frames_per_node)
        if int(numbers[-1]) + 12 > int(frames[0]) and int(numbers[0]) <= int(frames[-1]):
            raise ValueError(f"capture frames {numbers[0]} … {numbers[-1]} overlap the trial frames from {frames[0]}")
    elif int(frames[0]) >= room:
        numbers, capture = background_capture_frames(int(frames[0]) - room + 1, n_nodes, frames_per_node)
    else:
        numbers, capture = background_capture_frames(int(frames[-1]) + 11, n_nodes, frames_per_node)
    first_capture, last_capture = int(numbers[0]), int(numbers[-1])
    solo = background_schedule(n_nodes)

    def on_air(values):
        values = np.asarray(values, dtype=np.int64)
        inside = (values >= first_capture) & (values <= last_capture)
        return np.where(inside[None, :], solo(values), True)

    def targets_on(values):
        values = np.asarray(values, dtype=np.int64)
        return (values >= int(frames[0])) & (values <= int(frames[-1]))

    everything = np.sort(np.concatenate([frames, capture]))
    snaps = receive_snapshots(scenario_air, wc, wr, everything, seed, channel_seed,
                              calibration, noise=_noise_mode(scenario_air) if noise is None else noise, on_air=on_air,
                              targets_on=targets_on, front_end_status=front_end_status)
    index = {int(f): i for i, f in enumerate(everything)}
    rx = scenario_air.without_impairments()
    x = model_frames(rx, capture, wc, wr, seed, calibration, solo)
    return snaps[[index[int(f)] for f in frames]], snaps[[index[int(f)] for f in capture]], x, rx


def run_with_background_capture(scenario_air, wc, wr, frames, seed, channel_seed, calibration=None,
                                frames_per_node=DEFAULT_BACKGROUND_FRAMES_PER_NODE, noise=None, front_end_status=None):
    """(snapshots of ``frames``, the Background) from ONE run of the air: the clear-scene capture
    (background_schedule, targets absent) first, as a deployment records it before it watches, a gap of ≥ 10
    frames, then the trial frames with the targets — one stream, so a receiver's front end (AGC, RF canceller)
    runs continuously through both as a radio's does, and the capture's leakage residual is the trials' (a
    canceller restarted between them would settle elsewhere). When ``frames`` start too early for the capture
    to fit before them, it goes after them instead (with a front end that may have retuned in between:
    background_capture_room says how many frames it needs). frames_per_node: a whole number (exactly that many; the
    trial frames are the caller's): the "auto" length moves the trial frames behind a capture that grows, which is
    run_with_auto_background_capture."""
    requested = background_frames_option(frames_per_node)
    if requested == BACKGROUND_FRAMES_AUTO:
        raise ValueError("frames_per_node = 'auto': the trial frames follow a capture whose length is decided as it "
                         "runs; use run_with_auto_background_capture(first_frame, frame_count, …), or a whole number")
    n_nodes = scenario_air.num_nodes
    trial, snaps, x, rx = _capture_run(scenario_air, wc, wr, frames, seed, channel_seed, calibration, requested,
                                       noise, front_end_status)
    return trial, _learn_capture(snaps, x, rx, calibration, len(x) / n_nodes, requested)


def run_with_auto_background_capture(scenario_air, wc, wr, first_frame, frame_count, seed, channel_seed,
                                     calibration=None, noise=None, front_end_status=None,
                                     base_frames_per_node=DEFAULT_BACKGROUND_FRAMES_PER_NODE):
    """(trial frame numbers, their snapshots, the Background): run_with_background_capture with the "auto" length.
    The capture starts where a base-length capture would (``base_frames_per_node``, run_with_background_capture's
    placement before trial frames from ``first_frame``); when what it learned asks for more (_auto_capture,
    capture_length_decision) the capture continues — the same stream, more clear-scene blocks on the same schedule —
    and the trials follow it, later by the frames added (the gap before them as with the base length). The stream
    is simulated again with the longer capture: its first blocks are the very samples the decision was made on
    (every draw is per frame, the air and the receivers are causal; tests/test_background_capture.py), so this is
    the capture continued, not a second run. When the trials start too early for a base capture before them (frames
    from first_frame < background_capture_room), the capture goes after them and grows there; the trial frames stay.
    front_end_status: filled from the last stream."""
    n_nodes = scenario_air.num_nodes
    base = int(base_frames_per_node)
    frames0 = np.arange(int(first_frame), int(first_frame) + int(frame_count))
    room = background_capture_room(n_nodes, base)
    before = int(frames0[0]) >= room
    if before:
        start = int(background_capture_frames(int(frames0[0]) - room + 1, n_nodes, base)[0][0])
    else:
        start = -(-(int(frames0[-1]) + 11) // BACKGROUND_BLOCK_FRAMES) * BACKGROUND_BLOCK_FRAMES
    base_length = len(background_capture_frames(0, n_nodes, base)[0])

    def capture(count):
        frames = frames0
        if before:
            frames = frames0 + (len(background_capture_frames(0, n_nodes, count)[0]) - base_length)
        status = {}
        trial, snaps, x, rx = _capture_run(scenario_air, wc, wr, frames, seed, channel_seed, calibration, count,
                                           noise, status, capture_start=start)
        learn = _capture_learner(snaps, x, rx, calibration)
        background = _learn_capture(snaps, x, rx, calibration, len(x) / n_nodes, BACKGROUND_FRAMES_AUTO, False, learn)
        return (frames, trial, status), background, learn, x

    (frames, trial, status), background = _auto_capture(capture, base)
    if front_end_status is not None:
        front_end_status.update(status)
    return frames, trial, background


def background_capture_room(num_nodes, frames_per_node):
    """Frames a clear-scene capture and its gap take before the first trial frame (whole blocks + 12); for "auto",
    the base length's (an extension moves the trials later: run_with_auto_background_capture)."""
    requested = background_frames_option(frames_per_node)
    count = DEFAULT_BACKGROUND_FRAMES_PER_NODE if requested == BACKGROUND_FRAMES_AUTO else requested
    numbers, _ = background_capture_frames(0, num_nodes, count)
    return len(numbers) + BACKGROUND_BLOCK_FRAMES + 12


def _plain(value):
    """A front-end status as JSON-able values."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def receive_ramps(scenario_rx, calibration):
    """(N, L) the delay ramps e^{+j2π f_l (r_n − w_n)/fs} every node receiver applied to its snapshots (the
    calibration's rx correction without the gains: core.calibration_apply.rx_snapshot_correction), or None."""
    if calibration is None:
        return None
    gains = np.asarray(calibration.rx_gains, complex)
    return np.stack([calibration_apply.rx_snapshot_correction(calibration, n, scenario_rx.subcarriers,
                                                              scenario_rx.bandwidth_hz)[0] * gains[n, 0]
                     for n in range(scenario_rx.num_nodes)])


def _noise_mode(scenario_air):
    """Noise in the snapshot domain (module docstring), except where a receive front end is nonlinear: with
    an ADC model the noise must be at the antennas, ahead of the quantiser and the clip (per sample of the
    stream: "stream")."""
    return "stream" if front_end_needed(scenario_air) else True


def localise_frames(scenario_rx, snapshots, frames, wc, wr, seed, calibration=None, known_paths="auto",
                    search="full", suppressor=None):
    """The central unit's estimator (core.fusion.FrameEstimator, ``search`` "full" or "track") on snapshots
    (F, N, Mr, L, P): a RunResult. scenario_rx: the receive side's scenario (no impairments). suppressor: a
    core.interference.Suppressor (then the direct paths and the reflector are in its background, and the
    localiser projects no known path: known_paths "auto" becomes "none")."""
    if suppressor is not None and known_paths == "auto":
        known_paths = "none"
    direct, reflector = calibration_apply.known_path_flags(known_paths, calibration, scenario_rx)
    lay = ofdm.layout_from_scenario(scenario_rx)
    table = fusion.PrecoderTable(lay)
    table.set_start(0, wc, wr)
    factors = None if calibration is None else calibration_apply.model_tx_factors(
        calibration, scenario_rx.subcarriers, scenario_rx.bandwidth_hz)  # tx delays and chain magnitudes on X_m
    loc = localizer.Localizer.from_scenario(scenario_rx, direct_paths=direct, reflector=reflector)
    estimator = fusion.FrameEstimator(scenario_rx, seed, loc, search=search, tx_model_factors=factors,
                                      suppressor=suppressor)
    positions, residuals = [], []
    crb = float(np.sum(estimator.crb_m2(table, 0)))
    for i, f in enumerate(frames):
        frame_set = fusion.FrameSet(int(f), {n: snapshots[i, n] for n in range(scenario_rx.num_nodes)},
                                    {n: 0 for n in range(scenario_rx.num_nodes)}, 0.0,
                                    precoder_ids={n: 0 for n in range(scenario_rx.num_nodes)})
        estimate = estimator.estimate(frame_set, table)
        positions.append(estimate.positions_m)
        residuals.append(estimate.residual)
    return RunResult(np.asarray(frames), np.array(positions), crb, np.array(residuals))


def frame_truth_m(scenario_air, frames):
    """The targets' true positions in each frame, (F, K, 2): Scenario.targets_at(t_f) (a moving scene, issue 15;
    the scenario's positions in every frame of a static one). Truth: for scoring, never for the receive side."""
    return np.array([scenario_air.targets_at(scenario_air.frame_time_s(int(f))).positions_m for f in frames])


def rmse_m(result, truth_m):
    """√(mean over frames of Σ_k ‖q̂_k − q_k‖²) (estimates matched to the targets) and the per-frame errors. truth_m:
    (K, 2), or (F, K, 2) per frame (frame_truth_m: a moving scene)."""
    truth = np.asarray(truth_m, dtype=float)
    per_frame = truth if truth.ndim == 3 else [truth] * len(result.positions_m)
    errors = np.array([trial_stats.matched_errors(p, t) for p, t in zip(result.positions_m, per_frame)])
    return float(np.sqrt(np.mean(np.sum(errors ** 2, axis=(1, 2))))), errors


def _calibration_residuals(calibration):
    if calibration is None:
        return None
    res = calibration.residuals
    return res.to_dict() if hasattr(res, "to_dict") else dict(vars(res))


def run_trials(scenario, impairments_table, calibration_mode, frames, seed, *, channel_seed=None, wc=None, wr=None,
               first_frame=100, gate_m=None, calibration=None, with_ideal=True, snr_db=None, search="full",
               suppression="auto", background_frames_per_node=BACKGROUND_FRAMES_AUTO, background=None,
               reference_table=None):
    """Localisation RMSE on the air ``scenario.with_impairments(impairments_table)`` for ``frames`` frames
    (one trial each, frame numbers first_frame …) with calibration_mode "none" | "estimated" | "truth",
    against the same frames on the ideal air. A dict:

      rmse_m, rmse_ideal_m      √(mean Σ_k ‖q̂_k − q_k‖²) with the mode's receivers / on the ideal air
      crb_m                     √ of the position CRB (sum over targets, expected FIM, eq. 10–13)
      failed, failed_ideal      frames with some target's error above gate_m (default c/(4B))
      ratio_to_ideal            rmse_m / rmse_ideal_m
      calibration               {method, residuals, frames_used} of the calibration used (None for "none")
      errors_m                  per-frame matched errors (F, K, 2) with the mode's receivers

    impairments_table: a dict, a preset name or None/{} (ideal). wc, wr: every node's precoders (N, Mt, U),
    (N, Mt, Mt); default isac_tx's placeholder. ``calibration``: a Calibration to use instead of the mode's.
    snr_db: the paper's target SNR (trial_stats.scenario_at_snr; default the scenario's). search: the central
    unit's "full" (grid + refinement every frame) or "track" (refinement from the last frame, a full search
    when its residual says the track is lost: core.fusion.FrameEstimator), the same for every run.
    suppression (issue 14, SUPPRESSION_MODES): "auto" (default: "background" when the air has issue 14's
    interference, has_interference, else "none": issue 13's runs unchanged), "none", or "background": a clear-scene capture of
    ``background_frames_per_node`` × N frames in the same stream before the trial frames
    (run_with_background_capture; targets absent) is learned and subtracted by the central unit (``background``: a
    core.interference.Background to use instead). background_frames_per_node: "auto" (default: the base length
    DEFAULT_BACKGROUND_FRAMES_PER_NODE, extended as what the capture learned asks, run_with_auto_background_capture:
    the trial frames then follow the longer capture, and the reference runs use the same frames) or a whole number
    (exactly that many). Then also:

      interference              the suppressor's summary (core.interference.Suppressor.summary), None without
      crb_with_nuisance_m2      the position CRB with the per-frame link amplitudes the suppressor fits
                                unknown (core.fim.position_crb_with_nuisance_m2; None where unavailable)

    With an ADC in the air the noise is added at the antennas (ahead of the quantiser), in the reference
    run too. reference_table: None (the reference is the ideal air, as above), or an [impairments] table for
    the reference instead (e.g. the same table without the interference: "the interference-free RMSE of the
    same seeds"), run with the same calibration, noise mode and no suppression — the same noise then reaches
    the same snapshots through the same corrections (on the ideal air a calibration's per-antenna phases and
    delay ramps turn the antennas' noise into another realisation): rmse_reference_m, ratio_to_reference,
    failed_reference.
    """
    if suppression not in SUPPRESSION_MODES:
        raise ValueError(f"suppression = {suppression!r}: accepted: {', '.join(SUPPRESSION_MODES)}")
    requested = suppression
    if snr_db is not None:
        scenario = trial_stats.scenario_at_snr(scenario, snr_db)
    if calibration_mode not in CALIBRATION_MODES:
        raise ValueError(f"calibration_mode = {calibration_mode!r}: accepted: {', '.join(CALIBRATION_MODES)}")
    channel_seed = int(seed) + 1 if channel_seed is None else int(channel_seed)
    table = impairments_table or {}
    air = scenario.with_impairments(table) if table else scenario.without_impairments()
    # the receive side's scenario: the air's without its impairments, which keeps the transmitters' bin layout
    # (guard_subcarriers / dc_null: SPEC14 §0); the ideal reference runs on it too (the same layout)
    rx_scenario = air.without_impairments()
    lay = ofdm.layout_from_scenario(rx_scenario)
    if wc is None or wr is None:
        wc0, wr0 = ofdm.default_precoders(lay, scenario.per_antenna_power)
        wc = np.broadcast_to(wc0, (scenario.num_nodes,) + wc0.shape) if wc is None else wc
        wr = np.broadcast_to(wr0, (scenario.num_nodes,) + wr0.shape) if wr is None else wr
    if suppression == "auto":
        suppression = "background" if has_interference(air) else "none"
    background_frames_per_node = background_frames_option(background_frames_per_node)
    if suppression == "background" and background is None:  # room for the clear-scene capture before them
        first_frame = max(int(first_frame), background_capture_room(scenario.num_nodes, background_frames_per_node))
    numbers = np.arange(first_frame, first_frame + int(frames))
    fit = None
    if calibration is None and calibration_mode == "estimated":
        fit = estimate_calibration(air, seed, channel_seed)
        calibration = fit.calibration
    elif calibration is None and calibration_mode == "truth":
        calibration = truth_calibration(air)
    if calibration_mode == "none":
        calibration = None
    gate = trial_stats.default_gate_m(scenario) if gate_m is None else float(gate_m)

    noise = _noise_mode(air)
    suppressor = None
    status = {}
    if suppression == "background" and background is None and background_frames_per_node == BACKGROUND_FRAMES_AUTO:
        numbers, snaps, background = run_with_auto_background_capture(air, wc, wr, numbers[0], len(numbers), seed,
                                                                      channel_seed, calibration, noise, status)
    elif suppression == "background" and background is None:
        snaps, background = run_with_background_capture(air, wc, wr, numbers, seed, channel_seed, calibration,
                                                        background_frames_per_node, noise, status)
    else:
        snaps = receive_snapshots(air, wc, wr, numbers, seed, channel_seed, calibration, noise=noise,
                                  front_end_status=status)
    truth = scenario.target_positions_m if scenario.is_static else frame_truth_m(scenario, numbers)
    if suppression == "background":
        suppressor = interference.Suppressor(background)
    result = localise_frames(rx_scenario, snaps, numbers, wc, wr, seed, calibration, search=search,
                             suppressor=suppressor)
    rmse, errors = rmse_m(result, truth)
    out = {"scenario": scenario.name, "impairments": dict(table) if isinstance(table, dict) else table,
           "calibration_mode": calibration_mode, "frames": int(frames), "seed": int(seed), "search": search,
           "rmse_m": rmse, "crb_m": math.sqrt(result.crb_m2), "gate_m": gate,
           "failed": int(np.sum(np.any(np.linalg.norm(errors, axis=2) > gate, axis=1))),
           "errors_m": errors,
           "calibration": None if calibration is None else {
               "method": calibration.method, "residuals": _calibration_residuals(calibration),
               "frames_used": int(getattr(calibration, "frames_used", 0))},
           "calibration_notes": list(fit.notes) if fit is not None else [],
           "suppression": suppression, "suppression_requested": requested, "first_frame": int(numbers[0]),
           "front_end": {int(n): _plain(v) for n, v in status.items()} or None,
           "interference": None if suppressor is None else suppressor.summary(),
           "crb_with_nuisance_m2": nuisance_crb_m2(rx_scenario, wc, wr) if suppressor is not None else None}
    if reference_table is not None:
        ref_air = scenario.with_impairments(reference_table) if reference_table else scenario.without_impairments()
        ref_snaps = receive_snapshots(ref_air, wc, wr, numbers, seed, channel_seed, calibration, noise=noise)
        ref = localise_frames(rx_scenario, ref_snaps, numbers, wc, wr, seed, calibration, search=search)
        rmse_ref, errors_ref = rmse_m(ref, truth)
        out.update(rmse_reference_m=rmse_ref, ratio_to_reference=rmse / rmse_ref,
                   failed_reference=int(np.sum(np.any(np.linalg.norm(errors_ref, axis=2) > gate, axis=1))))
    if with_ideal:
        ideal_snaps = receive_snapshots(rx_scenario, wc, wr, numbers, seed, channel_seed, None,
                                        noise=noise)
        ideal = localise_frames(rx_scenario, ideal_snaps, numbers, wc, wr, seed, None, search=search)
        rmse_ideal, errors_ideal = rmse_m(ideal, truth)
        out.update(rmse_ideal_m=rmse_ideal, ratio_to_ideal=rmse / rmse_ideal,
                   failed_ideal=int(np.sum(np.any(np.linalg.norm(errors_ideal, axis=2) > gate, axis=1))))
    return out


def position_crb_m(scenario, wc, wr):
    """√ of the position CRB (m), expected FIM of these precoders at the scenario's targets."""
    return math.sqrt(float(np.sum(fusion.position_crb_per_target_m2(fim.SensingGeometry.from_scenario(scenario),
                                                                     wc, wr))))


def has_interference(scenario_air):
    """True when the air has issue 14's interference: clutter, a self-coupling leakage, an ADC model, or direct
    paths at a link-budget level (direct_path_db) — what suppression "auto" captures a background for."""
    imp = scenario_air.impairments
    return (any(int(getattr(imp, name, 0) or 0) > 0 for name in _INTERFERENCE_FIELDS)
            or bool(getattr(imp, "has_self_coupling", False))
            or (bool(getattr(imp, "direct_path", False)) and getattr(imp, "direct_path_db", None) is not None))


def nuisance_crb_m2(scenario_rx, wc, wr):
    """The position CRB (m², Σ_k) with the nuisances the background suppressor fits per frame unknown: every
    link's amplitude of its learned background column — for m ≠ n the direct path's (engineer mask's
    core.fim.position_crb_with_nuisance_m2 with direct_paths, the self-coupling matrix being learned over frames,
    not fitted per frame). None where the FIM module has no nuisance bound."""
    crb = getattr(fim, "position_crb_with_nuisance_m2", None)
    if crb is None:
        return None
    value = crb(fim.SensingGeometry.from_scenario(scenario_rx), fusion.transmit_covariances(wc, wr),
                direct_paths=scenario_rx.num_nodes > 1, self_coupling=False)
    return None if value is None else float(value)
