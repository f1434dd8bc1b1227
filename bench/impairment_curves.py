# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Localisation RMSE and user SINR against the size of each impairment, with and without calibration
(issue 13, last "done when" bullet; the paper's future work: "the effects of synchronization on overall
system performance", measured).

Each impairment alone on top of the ideal air (the `[impairments]` table of docs/scenarios.md), swept:

    timing     timing_offset_ns std 0 … 100 ns (each node's clock offset)
    phase      rx_phase_deg = tx_phase_deg std 0 … 180° (per channel)
    cfo        cfo_hz std 0 … 1 kHz (per node)
    overflow   overflow_every_frames: an overflow (overflow_samples lost, rx_time re-tagged) every k frames

(the overflow sweep is a framing question, not a calibration one: overflow_point frames one node's stream
with and without the rx_time re-tags and counts placed, misplaced and dropped frames against the
no-overflow run), and each other point run twice on the same seeds: uncalibrated (the identity calibration: the receivers know
the geometry, so the direct paths are projected out at their geometric delays, but nothing of the
impairments) and calibrated (`disac calibrate`'s estimate applied where docs/air-model.md §3 says). The direct
paths are on in every run (calibration is estimated from them; the localiser projects them out in both
runs, so the comparison is calibration alone). Per point: localisation RMSE over frames (m) against √CRB
(the achievable bound of the same seeds), failed frames, and the users' measured SINR against eq. (6).

Writes docs/figures/impairment-<name>.png (left: RMSE and √CRB, log scale; right: SINR) and the table
between the markers `<!-- impairment-table -->` … `<!-- /impairment-table -->` of docs/calibration.md,
and the raw numbers as JSON (--json-out, default docs/figures/impairment-curves.json; --plot-only
re-plots from it).

    .venv/bin/python bench/impairment_curves.py --quick          # 3 points per sweep, few frames
    .venv/bin/python bench/impairment_curves.py [--trials N] [--scenario paper] [--only timing phase] [--values 0 50]

The JSON is written after every point ("complete": false until the end), so a run stopped half-way keeps what it
measured. The sweeps are independent and seeded: on a machine with cores to spare, run them in parallel, each with
its own --only and --json-out, and combine them with --merge A.json B.json … (then plotted and tabulated as one run).

The trials themselves are engineer "apply"'s reusable function (core.calibrated_trials.run_trials,
"docs/air-model.md trials function in"); this script only sweeps, plots and tabulates. The load average is printed
first: the machine may be shared (the numbers are statistics of seeded runs, not timings, so load does not
change them; it only changes how long the sweep takes).
"""

import argparse
import importlib
import json
import math
import os
import re
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
importlib.import_module("conftest")  # gnuradio.disac from this source tree, as bench/bench_phy.py
FIGURES = os.path.join(ROOT, "docs", "figures")
DOC = os.path.join(ROOT, "docs", "calibration.md")
TABLE_START, TABLE_END = "<!-- impairment-table -->", "<!-- /impairment-table -->"

# name -> (impairment keys set to the swept value, full sweep, quick sweep, x-axis label, x of a value)
SWEEPS = {
    "timing": (("timing_offset_ns",), [0.0, 10.0, 25.0, 50.0, 100.0], [0.0, 50.0, 100.0],
               "clock offset std (ns)", lambda v: v),
    "phase": (("rx_phase_deg", "tx_phase_deg"), [0.0, 10.0, 30.0, 90.0, 180.0], [0.0, 90.0, 180.0],
              "channel phase std (°)", lambda v: v),
    "cfo": (("cfo_hz",), [0.0, 10.0, 100.0, 300.0, 1000.0], [0.0, 100.0, 1000.0], "CFO std (Hz)", lambda v: v),
    "overflow": (("overflow_every_frames",), [0, 100, 50, 20, 10], [0, 50, 20], "overflows per 100 frames",
                 lambda k: 0.0 if k == 0 else 100.0 / k),
}
BASE_TABLE = {"preset": "ideal", "direct_path": True}
REFLECTOR_M = (-60.0, -20.0)  # the reference reflector of an N ≤ 2 scenario without one (sweep)  # the direct paths in every run (module docstring)


def impairment_table(name, value, seed):
    keys = SWEEPS[name][0]
    table = dict(BASE_TABLE, seed=int(seed))
    for key in keys:
        table[key] = int(value) if key == "overflow_every_frames" else float(value)
    return table


def trials_module():
    """Engineer "apply"'s trials (core.impairment_trials, "docs/air-model.md trials function in")."""
    from gnuradio.disac.core import impairment_trials
    return impairment_trials


def identity_calibration(scenario):
    from gnuradio.disac.core.calibration import identity_calibration as identity
    return identity(scenario)


def calibration_for(trials, air, mode, seed):
    """The calibration the calibrated run uses: "estimated" (engineer cal's estimator on a calibration
    capture of this air, as `disac calibrate`) or "truth" (the drawn values: what the corrections do,
    without the estimator's error)."""
    if mode == "truth":
        return trials.truth_calibration(air)
    return trials.estimate_calibration(air, seed, seed + 1).calibration


def measure(trials, scenario, precoders, name, value, calibration_mode, frames, seed, sinr_frames):
    """One point, uncalibrated and calibrated: {"uncalibrated": row, "calibrated": row}, a row holding rmse_m,
    rmse_ideal_m, sqrt_crb_m, failed_frames, frames, sinr_measured_db, sinr_eq6_db, calibration."""
    wc, wr = precoders
    table = impairment_table(name, value, seed)
    air = scenario.with_impairments(table)
    calibration = calibration_for(trials, air, calibration_mode, seed)
    # uncalibrated = the identity calibration: the receivers know the geometry (the direct paths are projected
    # out at their geometric delays and angles) but nothing of the impairments
    identity = identity_calibration(scenario.without_impairments())
    rows = {}
    for kind, cal in (("uncalibrated", identity), ("calibrated", calibration)):
        result = trials.run_trials(scenario, table, calibration_mode, frames, seed, wc=wc, wr=wr, calibration=cal)
        row = {"rmse_m": result["rmse_m"], "rmse_ideal_m": result.get("rmse_ideal_m"),
               "sqrt_crb_m": result["crb_m"], "failed_frames": result["failed"], "frames": result["frames"],
               "calibration": result["calibration"], "sinr_measured_db": None, "sinr_eq6_db": None}
        if sinr_frames:
            row["sinr_measured_db"], row["sinr_eq6_db"] = user_sinr_db(air, wc, wr, None if cal is identity else cal,
                                                                       sinr_frames, seed)
        rows[kind] = row
    return rows


def user_sinr_db(air, wc, wr, calibration, frames, seed):
    """The users' measured SINR (dB, per user) through the GNU Radio chain isac_tx (given the calibration)
    → the transmit radio (the air's tx gains and CFO: core.impairment_trials.transmit_radio, docs/air-model.md §2) →
    comm_channel (per-node delays, oscillator phases, noise) → user_rx; and eq. (6) of (wc, wr)."""
    from gnuradio import gr

    from gnuradio.disac.blocks.comm_channel import comm_channel
    from gnuradio.disac.blocks.isac_tx import isac_tx
    from gnuradio.disac.blocks.user_rx import user_rx
    from gnuradio.disac.core import impairment_trials, sinr

    class transmit_radio(gr.sync_block):
        """Node m's transmit radio of the synthetic air (tx gains, CFO on the local sample index)."""

        def __init__(self, node):
            gr.sync_block.__init__(self, name="bench_transmit_radio", in_sig=[np.complex64] * air.tx_antennas,
                                   out_sig=[np.complex64] * air.tx_antennas)
            self.node = node

        def work(self, input_items, output_items):
            count = len(output_items[0])
            x = np.stack([item[:count] for item in input_items])
            y = impairment_trials.transmit_radio(x, self.node, air.impairments, self.nitems_read(0),
                                                 air.bandwidth_hz)
            for i, out in enumerate(output_items):
                out[:count] = y[i]
            return count

    rx = air.without_impairments()  # what every node and user knows
    tb = gr.top_block()
    mt = air.tx_antennas
    channel = comm_channel(air, seed + 1)
    receivers = [user_rx(rx, u, seed) for u in range(air.num_users)]
    keep = []
    for n in range(air.num_nodes):
        tx = isac_tx(rx, n, seed, wc[n], wr[n], frames, calibration=calibration if calibration is not None else "")
        radio = transmit_radio(n)
        keep += [tx, radio]
        for i in range(mt):
            tb.connect((tx, i), (radio, i), (channel, mt * n + i))
    for u, receiver in enumerate(receivers):
        tb.connect((channel, u), receiver)
    tb.run()
    measured = [float(r.measured_sinr_db()) for r in receivers]
    eq6 = sinr.to_db(sinr.sinr_from_beamformers(air.user_channels(), wc, wr, air.user_noise_power))
    return measured, [float(v) for v in np.atleast_1d(eq6)]


RMSE_PLOT_CAP_M = 1e4  # the figures' RMSE axis ends here: an RMSE over frames that failed (a target's estimate
# unbounded: 1e14 m measured) is drawn at the cap, marked, and stays as measured in the table and the JSON
OVERFLOW_SAMPLES = 1000  # samples lost per overflow (the [impairments] default)
OVERFLOW_FRAMES = 100  # frames framed per overflow point (at least)


def overflow_point(scenario, every_frames, frames, seed):
    """Overflows every ``every_frames`` frames: one node's receive stream (the synthetic air, noise on),
    OVERFLOW_SAMPLES samples dropped in the middle of every every_frames-th frame, framed twice through
    rx_frame_tagger → node_rx: with the radio's rx_time re-tag after each drop (gr-uhd; issue 13's framing)
    and without it (sample counting, the framing before issue 13). Each framed frame's snapshot is compared
    with the no-overflow run's: equal = placed exactly, different = misplaced; missing = dropped (counted as
    overflow_partial/overflow_lost). A dict per framing: placed, misplaced, dropped, frames, and the
    tagger's counters."""
    from gnuradio import blocks, gr

    from gnuradio.disac.blocks import tags
    from gnuradio.disac.blocks.sensing_channel import sensing_channel
    from gnuradio.disac.blocks.isac_tx import isac_tx
    from gnuradio.disac.core import ofdm

    lay = ofdm.layout_from_scenario(scenario)
    n_nodes, mt, mr = scenario.num_nodes, scenario.tx_antennas, scenario.rx_antennas
    # the air into node 0 for all frames, and the reference snapshots (frame tags forwarded by the channel)
    # the air runs on past the framed frames (the samples an overflow drops, and the tagger's one-frame
    # look-ahead): the stream then ends after the last framed frame, as a radio's never does
    extra = -(-OVERFLOW_SAMPLES // lay.frame_len) * (frames // every_frames if every_frames else 0) + 2
    tb = gr.top_block()
    channel = sensing_channel(scenario, 0, seed + 1, True)
    transmitters = []  # Python blocks must outlive the run (a collected one crashed the flowgraph: SIGSEGV)
    for n in range(n_nodes):
        transmitters.append(isac_tx(scenario, n, seed, None, None, frames + extra))
        for i in range(mt):
            tb.connect((transmitters[n], i), (channel, n * mt + i))
    sinks = [blocks.vector_sink_c() for _ in range(mr)]
    for r in range(mr):
        tb.connect((channel, r), sinks[r])
    tb.run()
    air = np.array([np.asarray(sink.data(), np.complex64) for sink in sinks])
    reference = _framed_snapshots(scenario, air, [tags.rx_time_value((tags.SYNTHETIC_EPOCH_S, 0.0))], [0], frames)

    keep = np.ones(air.shape[1], bool)
    drops = []  # (first sample dropped, label index of the first sample after the drop)
    if every_frames:
        for f in range(every_frames - 1, frames - 1, every_frames):  # overflows inside the framed frames
            start = f * lay.frame_len + lay.frame_len // 2
            keep[start:start + OVERFLOW_SAMPLES] = False
            drops.append(start + OVERFLOW_SAMPLES)
    kept = air[:, keep]
    retag_offsets, retag_values = [0], [tags.rx_time_value((tags.SYNTHETIC_EPOCH_S, 0.0))]
    for label_index in drops:
        if label_index < air.shape[1]:
            retag_offsets.append(int(np.sum(keep[:label_index])))  # where that sample is in the kept stream
            retag_values.append(tags.rx_time_value(tags.label_time((tags.SYNTHETIC_EPOCH_S, 0.0), label_index,
                                                                   scenario.bandwidth_hz)))
    out = {}
    for framing, offsets, values in (("rx_time", retag_offsets, retag_values),
                                     ("sample_count", retag_offsets[:1], retag_values[:1])):
        framed = _framed_snapshots(scenario, kept, values, offsets, frames)
        placed = sum(1 for f, y in framed.items() if f in reference and np.array_equal(y, reference[f]))
        out[framing] = {"frames": frames, "placed": placed, "misplaced": len(framed) - placed,
                        "dropped": frames - len(framed)}
    return out


def _framed_snapshots(scenario, samples, tag_values, tag_offsets, frames):
    """{frame: Y} of samples (Mr, T) with rx_time tags, through rx_frame_tagger → node_rx."""
    from gnuradio import blocks, gr

    from gnuradio.disac.blocks import tags
    from gnuradio.disac.blocks.node_rx import node_rx
    from gnuradio.disac.blocks.rx_frame_tagger import rx_frame_tagger

    tb = gr.top_block()
    tagger = rx_frame_tagger(scenario, 0, scenario.rx_antennas, None, frames, 0, tags.SYNTHETIC_EPOCH_S)
    receiver = node_rx(scenario, 0)
    debug = blocks.message_debug()
    for r in range(scenario.rx_antennas):
        stream_tags = [gr.tag_utils.python_to_tag((int(o), tags.rx_time_key(), v)) for o, v in zip(tag_offsets, tag_values)]
        tb.connect(blocks.vector_source_c(samples[r].tolist(), False, 1, stream_tags), (tagger, r), (receiver, r))
    tb.msg_connect((receiver, tags.SNAPSHOT_PORT), (debug, "store"))
    tb.run()
    found = {}
    for i in range(debug.num_messages()):
        for snapshot in tags.snapshots_from_pmt(debug.get_message(i)):
            found[int(snapshot.frame)] = np.array(snapshot.samples)
    return found


def mean_db(values):
    """The mean of per-user dB values in power (None when absent)."""
    if values is None:
        return None
    values = [values] if isinstance(values, (int, float)) else list(values)
    return 10 * math.log10(sum(10 ** (v / 10) for v in values) / len(values)) if values else None


def sweep(names, quick, frames, seed, scenario_name, calibration_mode, sinr_db, sinr_frames, log=print, values=None,
          checkpoint=None):
    """The sweeps' results (module docstring). values: the sizes to run instead of each sweep's list (one sweep);
    checkpoint: called with the results after every point (a long run killed half-way keeps what it measured)."""
    from gnuradio.disac.core import precoder_sets
    from gnuradio.disac.core.scenario import load_scenario

    trials = trials_module()
    # users' pilots: K = U + 1 per-subcarrier pilot symbols, enough for the delay spread of these sweeps
    # (issue 13 item 4); the same layout for localisation, so both curves are of one system
    base = load_scenario(scenario_name)
    scenario = base.replace(pilot_symbols=base.num_users + 1)
    if scenario.num_nodes <= 2 and scenario.reflector_m is None:
        # N ≤ 2 needs a reference reflector to calibrate (docs/air-model.md §3): engineer cal's placement for the paper
        # scenario (tests/test_calibration_estimator.py), 20 dB over its 4 links (P_T·4·|b|²/σ² = 100)
        scenario = scenario.replace(reflector_m=list(REFLECTOR_M), reflector_amplitude=math.sqrt(
            100.0 * scenario.noise_power / (scenario.per_antenna_power * scenario.num_nodes ** 2)))
    wc, wr = precoder_sets.designed_precoders(scenario, sinr_db)[:2]
    results = {"scenario": scenario_name, "trials": frames, "seed": seed, "quick": quick, "sweeps": {},
               "calibration_mode": calibration_mode, "sinr_db": sinr_db, "sinr_frames": sinr_frames,
               "pilot_symbols": scenario.pilot_symbols,
               "reflector_m": None if scenario.reflector_m is None else [float(v) for v in scenario.reflector_m]}
    for name in names:
        sizes = values if values is not None else SWEEPS[name][2] if quick else SWEEPS[name][1]
        points = []
        results["sweeps"][name] = points
        for value in sizes:
            started = time.monotonic()
            point = {"value": value}
            if name == "overflow":  # a framing question, not a calibration one (overflow_point)
                point.update(overflow_point(base, int(value), max(OVERFLOW_FRAMES, frames), seed))
                log(f"  overflow every {value} frames: {point}")
                log(f"  ({time.monotonic() - started:.0f} s)")
                points.append(point)
                if checkpoint:
                    checkpoint(results)
                continue
            point.update(measure(trials, scenario, (wc, wr), name, value, calibration_mode, frames, seed, sinr_frames))
            for kind in ("uncalibrated", "calibrated"):
                log(f"  {name} = {value:g}, {kind}: {_summary(point[kind])}")
            log(f"  ({time.monotonic() - started:.0f} s)")
            points.append(point)
            if checkpoint:
                checkpoint(results)
    return results


def _summary(row):
    return (f"RMSE {_fmt(row.get('rmse_m'))} m, √CRB {_fmt(row.get('sqrt_crb_m'))} m, failed "
            f"{row.get('failed_frames')}/{row.get('frames')}, SINR {_fmt(mean_db(row.get('sinr_measured_db')))} dB")


def _fmt(value, digits=3):
    return "—" if value is None else f"{value:.{digits}g}"


def _nan(value):
    return float("nan") if value is None else value


def plot(results, out_dir):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(out_dir, exist_ok=True)
    written = []
    for name, points in results["sweeps"].items():
        label, x_of = SWEEPS[name][3], SWEEPS[name][4]
        x = [x_of(p["value"]) for p in points]
        fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
        if name == "overflow":
            for framing, style in (("sample_count", "o--"), ("rx_time", "s-")):
                left.plot(x, [100.0 * p[framing]["misplaced"] / p[framing]["frames"] for p in points], style,
                          label=f"framed by {framing.replace('_', ' ')}")
                right.plot(x, [100.0 * p[framing]["dropped"] / p[framing]["frames"] for p in points], style,
                           label=f"framed by {framing.replace('_', ' ')}")
            left.set_ylabel("frames misplaced (%)")
            right.set_ylabel("frames dropped, partial or lost (%)")
            for axis in (left, right):
                axis.set_xlabel(label)
                axis.grid(True, alpha=0.3)
                axis.legend(fontsize=8)
            fig.suptitle(f"{results['scenario']}: an overflow ({OVERFLOW_SAMPLES} samples lost) every k frames, "
                         f"{points[0]['rx_time']['frames']} frames; placed frames are bit-identical to the "
                         "no-overflow run", fontsize=9)
            fig.tight_layout()
            path = os.path.join(out_dir, f"impairment-{name}.png")
            fig.savefig(path, dpi=110)
            plt.close(fig)
            written.append(path)
            continue
        for kind, style in (("uncalibrated", "o--"), ("calibrated", "s-")):
            rmse = [_nan(p[kind]["rmse_m"]) for p in points]
            off = [v > RMSE_PLOT_CAP_M for v in rmse]  # a failed frame's estimate is unbounded (1e14 m seen)
            left.plot(x, [min(v, RMSE_PLOT_CAP_M) for v in rmse], style,
                      label=f"RMSE, {kind}" + (f" (▲: > {RMSE_PLOT_CAP_M:g} m, off scale)" if any(off) else ""))
            left.plot([xi for xi, o in zip(x, off) if o], [RMSE_PLOT_CAP_M] * sum(off), "k^", markersize=8)
            right.plot(x, [_nan(mean_db(p[kind]["sinr_measured_db"])) for p in points], style, label=f"measured, {kind}")
        left.plot(x, [_nan(p["calibrated"]["rmse_ideal_m"]) for p in points], "g-.", label="RMSE, ideal air (same seeds)")
        left.plot(x, [_nan(p["calibrated"]["sqrt_crb_m"]) for p in points], "k:", label="√CRB")
        right.plot(x, [_nan(mean_db(p["calibrated"]["sinr_eq6_db"])) for p in points], "k:", label="eq. (6)")
        left.set_yscale("log")
        left.set_xlabel(label)
        left.set_ylabel("localisation RMSE (m)")
        right.set_xlabel(label)
        right.set_ylabel("user SINR, mean over users (dB)")
        for axis in (left, right):
            axis.grid(True, which="both", alpha=0.3)
            axis.legend(fontsize=8)
        fig.suptitle(f"{results['scenario']}: {name} impairment alone, {results['trials']} frames per point"
                     f"{' (quick)' if results['quick'] else ''}, seed {results['seed']}")
        fig.tight_layout()
        path = os.path.join(out_dir, f"impairment-{name}.png")
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written


def table(results, command):
    lines = [f"Command: `{command}` ({results['trials']} frames per point, scenario {results['scenario']}, seed "
             f"{results['seed']}, calibrated runs: {results.get('calibration_mode', 'estimated')} calibration, precoders "
             f"designed at Γ_c = {results.get('sinr_db', 10):g} dB). RMSE over frames; the ideal air's RMSE is of the same "
             "frames, data and noise; √CRB the position bound of the precoders; failed = frames with a target error above "
             "c/(4B); SINR the mean over users of the measured SINR, eq. (6) alongside.", "",
             "| impairment | size | RMSE uncal. (m) | RMSE cal. (m) | RMSE ideal air (m) | cal./ideal | √CRB (m) "
             "| failed uncal. | failed cal. | SINR uncal. (dB) | SINR cal. (dB) | eq. (6) (dB) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    overflow = results["sweeps"].get("overflow")
    for name, points in results["sweeps"].items():
        if name == "overflow":
            continue
        for p in points:
            u, c = p["uncalibrated"], p["calibrated"]
            ideal = c.get("rmse_ideal_m")
            ratio = c["rmse_m"] / ideal if c.get("rmse_m") is not None and ideal else None
            lines.append(f"| {name} | {p['value']:g} | {_fmt(u['rmse_m'])} | {_fmt(c['rmse_m'])} | {_fmt(ideal)} "
                         f"| {'—' if ratio is None else f'{ratio:.3f}'} | {_fmt(c['sqrt_crb_m'])} | {u['failed_frames']}/{u['frames']} "
                         f"| {c['failed_frames']}/{c['frames']} "
                         f"| {_fmt(mean_db(u['sinr_measured_db']))} | {_fmt(mean_db(c['sinr_measured_db']))} "
                         f"| {_fmt(mean_db(c['sinr_eq6_db']))} |")
    if overflow:
        lines += ["", f"Overflows ({OVERFLOW_SAMPLES} samples lost each, rx_time re-tagged as gr-uhd does; "
                  f"{overflow[0]['rx_time']['frames']} frames of one node; a placed frame is bit-identical to the "
                  "no-overflow run's, so localisation over the placed frames is the no-overflow run's):", "",
                  "| overflow every | placed (rx_time framing) | misplaced | dropped | placed (sample counting) "
                  "| misplaced | dropped |", "|---|---|---|---|---|---|---|"]
        for p in overflow:
            a, b = p["rx_time"], p["sample_count"]
            every = f"{p['value']} frames" if p["value"] else "never"
            lines.append(f"| {every} | {a['placed']} | {a['misplaced']} | {a['dropped']} "
                         f"| {b['placed']} | {b['misplaced']} | {b['dropped']} |")
    return "\n".join(lines)


MERGE_KEYS = ("scenario", "trials", "seed", "quick", "calibration_mode", "sinr_db", "sinr_frames", "pilot_symbols",
              "reflector_m")


def merge_results(paths):
    """One results dict from the JSON of several runs (``--merge``): the same settings (MERGE_KEYS) in every one, each
    sweep in at most one, every run complete; sweeps in SWEEPS' order, the commands joined."""
    runs = []
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            runs.append((path, json.load(handle)))
    first_path, first = runs[0]
    merged = {key: first.get(key) for key in MERGE_KEYS}
    sweeps, commands = {}, []
    for path, run in runs:
        for key in MERGE_KEYS:
            if run.get(key) != first.get(key):
                raise SystemExit(f"--merge: {path} has {key} = {run.get(key)!r}, {first_path} {first.get(key)!r}: "
                                 "accepted: runs of the same settings")
        if not run.get("complete", True):
            raise SystemExit(f"--merge: {path} is a checkpoint of an unfinished run (\"complete\": false)")
        for name, points in run["sweeps"].items():
            if name in sweeps:
                raise SystemExit(f"--merge: sweep {name!r} in more than one run ({path}): accepted: each in one")
            sweeps[name] = points
        commands.append(run.get("command", "?"))
    merged["sweeps"] = {name: sweeps[name] for name in SWEEPS if name in sweeps}
    merged["command"] = " & ".join(commands) + " (in parallel, merged by --merge)"
    merged["complete"] = True
    return merged


def write_table(text, doc=DOC):
    with open(doc, encoding="utf-8") as handle:
        content = handle.read()
    pattern = re.compile(re.escape(TABLE_START) + ".*?" + re.escape(TABLE_END), re.S)
    if not pattern.search(content):
        raise SystemExit(f"{doc}: no {TABLE_START} … {TABLE_END} markers to put the table between")
    content = pattern.sub(lambda _: f"{TABLE_START}\n{text}\n{TABLE_END}", content)
    with open(doc, "w", encoding="utf-8") as handle:
        handle.write(content)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3 points per sweep and --trials 20 unless given")
    parser.add_argument("--trials", type=int, default=None, help="frames per point (default 200; --quick 20)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scenario", default="paper")
    parser.add_argument("--calibration", choices=("estimated", "truth"), default="estimated",
                        help="the calibrated runs' calibration: estimated (as `disac calibrate`, default) or truth "
                             "(the drawn values: the corrections alone)")
    parser.add_argument("--sinr-db", type=float, default=10.0, help="Γ_c of the designed precoders (default 10)")
    parser.add_argument("--sinr-frames", type=int, default=None,
                        help="frames of the users' SINR run per point (default 200; --quick 50; 0: skip)")
    parser.add_argument("--only", nargs="+", choices=list(SWEEPS), default=list(SWEEPS), help="sweeps to run")
    parser.add_argument("--values", type=float, nargs="+", default=None,
                        help="the sizes to run instead of the sweep's list (with one sweep in --only)")
    parser.add_argument("--json-out", default=os.path.join(FIGURES, "impairment-curves.json"))
    parser.add_argument("--plot-only", action="store_true", help="re-plot and re-tabulate from --json-out")
    parser.add_argument("--merge", nargs="+", default=None, metavar="JSON",
                        help="combine the JSON of runs of different sweeps (same scenario, seed, frames, calibration, "
                             "Γ_c) into --json-out, then plot and tabulate: the sweeps are independent and seeded, so "
                             "runs of --only A and --only B in parallel equal one run of both")
    parser.add_argument("--no-doc", action="store_true", help="do not write the table into docs/calibration.md")
    args = parser.parse_args(argv)
    trials = args.trials or (20 if args.quick else 200)
    if trials < 1:
        parser.error(f"--trials {trials}: accepted: a positive number of frames")
    if args.values is not None and len(args.only) != 1:
        parser.error(f"--values with --only {' '.join(args.only)}: accepted: exactly one sweep in --only")
    if args.values is not None and args.only[0] == "overflow" and any(v != int(v) or v < 0 for v in args.values):
        parser.error(f"--values {args.values} for the overflow sweep: accepted: whole numbers of frames ≥ 0")
    print(f"load average: {open('/proc/loadavg').read().split()[:3]}", file=sys.stderr, flush=True)
    from gnuradio import gr
    gr.logging().set_default_level(gr.log_levels.warn)  # the blocks' buffer notes would fill stdout
    command = "python bench/impairment_curves.py " + " ".join(argv if argv is not None else sys.argv[1:])
    if args.merge:
        results = merge_results(args.merge)
        with open(args.json_out, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=1)
        command = results["command"]
    elif args.plot_only:
        with open(args.json_out, encoding="utf-8") as handle:
            results = json.load(handle)
        command = results.get("command", command)
    else:
        sinr_frames = args.sinr_frames if args.sinr_frames is not None else (50 if args.quick else 200)
        def save(results, complete=False):
            results["command"] = command.strip()
            results["complete"] = complete  # False: a checkpoint of a run still going (or killed)
            os.makedirs(os.path.dirname(args.json_out) or ".", exist_ok=True)
            with open(args.json_out + ".tmp", "w", encoding="utf-8") as handle:
                json.dump(results, handle, indent=1)
            os.replace(args.json_out + ".tmp", args.json_out)
        values = None if args.values is None else [int(v) if args.only[0] == "overflow" else v for v in args.values]
        results = sweep(args.only, args.quick, trials, args.seed, args.scenario, args.calibration, args.sinr_db,
                        sinr_frames, log=lambda text: print(text, file=sys.stderr, flush=True), values=values,
                        checkpoint=save)
        save(results, complete=True)
    for path in plot(results, os.path.dirname(args.json_out) or FIGURES):
        print(f"wrote {path}", file=sys.stderr)
    text = table(results, results.get("command", command).strip())
    print(text)
    if not args.no_doc:
        write_table(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
