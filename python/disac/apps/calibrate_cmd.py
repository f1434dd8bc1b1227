# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""`disac calibrate [SCENARIO]`: a calibration capture on the synthetic air, fitted and written to a file.

The nodes take turns sending calibration frames (core/calibration_estimator.py, CalibrationSchedule), the
synthetic node's blocks play them with the scenario's [impairments] (or --impairments):
hier/calibration_capture.py (synthetic_radio_tx → sensing_channel → synthetic_radio_rx; --chain core: the
same physics in numpy, core/calibration_air.py), and the estimator — given the scenario without its impairments — fits every
channel's gain and phase, every link's delay and the CFOs. The calibration file (docs/air-model.md §3) goes to
--output; the residuals of the fit are printed (with --truth also the errors against the air's truth,
which only a synthetic run has).

JSON keys: output (the file written, or null), calibration (the file's document), notes, path_snr_db (one
row per known path: tx, rx (node ids from 0, as in the file), kind, snr_db), truth (with --truth); issue 14:
reflector_pass (whether the capture had the background pass with the reflector covered), settle_frames,
front_end (per node the receive front end's status: AGC, ADC clipping, RF canceller; null on an air without an
ADC model) and adc_clipped (per node, samples with a clipped I or Q component; null likewise).
"""

import math

from ..core import calibration_air, calibration_estimator as est, impairments
from ..core.calibration import CalibrationError
from ..core.ofdm import DEFAULT_FREQUENCY_GRID, FREQUENCY_GRIDS
from ..core.scenario import ScenarioError, load_scenario
from .cli import (UsageError, add_progress_option, add_scenario_argument, finite_float, print_json, progress_bar,
                  whole_number)

METHODS = ("auto", "direct_path", "reflector", "direct_path+reflector")
CHAINS = ("blocks", "core")


def register(subparsers):
    parser = subparsers.add_parser(
        "calibrate", help="estimate the channels' gains/phases, link delays and CFOs; write a calibration file",
        description="A calibration capture on the synthetic air (the nodes take turns sending calibration "
                    "frames), fitted from the received samples and the known geometry only (direct paths "
                    "between the nodes, the [calibration] reference reflector): per-channel rx/tx gains and "
                    "phases, each link's delay solved over all links, each node's CFO. Writes the calibration "
                    "file (docs/air-model.md §3) and prints the fit's residuals.")
    add_scenario_argument(parser)
    parser.add_argument("--impairments", metavar="PRESET|FILE",
                        help="the air's impairments: a preset (ideal, lab, lab-sync) or a TOML file with an [impairments] "
                             "table (default: the scenario's own table)")
    parser.add_argument("--reflector-m", nargs=2, type=finite_float("--reflector-m"), metavar=("X", "Y"),
                        help="a reference reflector at [X, Y] m (default: the scenario's [calibration] reflector_m)")
    parser.add_argument("--reflector-snr-db", type=finite_float("--reflector-snr-db", -200, 200), default=None,
                        help="with --reflector-m: its SNR P_T·N²·β²/σ² in dB (default 20)")
    parser.add_argument("--method", choices=METHODS, default="auto",
                        help="what to calibrate from (default auto: the direct paths when they are found, the "
                             "reflector when there is one)")
    parser.add_argument("--frames", type=whole_number("--frames", 2, 10_000), default=est.DEFAULT_FRAMES,
                        help=f"calibration frames per node (default {est.DEFAULT_FRAMES})")
    parser.add_argument("--max-lag-samples", type=whole_number("--max-lag-samples", 1, 1_000_000),
                        default=est.DEFAULT_MAX_LAG_SAMPLES,
                        help=f"the timing search: |link delay| ≤ this (default {est.DEFAULT_MAX_LAG_SAMPLES})")
    parser.add_argument("--settle-frames", type=whole_number("--settle-frames", 0, 10_000),
                        default=est.DEFAULT_SETTLE_FRAMES,
                        help=f"frames each node sends before its fitted ones, for the receivers' AGC and RF canceller "
                             f"to settle (default {est.DEFAULT_SETTLE_FRAMES})")
    parser.add_argument("--reflector-pass", choices=("auto", "on", "off"), default="auto",
                        help="a second pass with the reference reflector covered, whose difference from the first "
                             "isolates the reflector's echo on each node's own link from its leakage, clutter and "
                             "targets (default auto: on when there is a reflector)")
    parser.add_argument("--frequency-grid", choices=FREQUENCY_GRIDS, default=DEFAULT_FREQUENCY_GRID,
                        help=f"the band's frequency grid (default {DEFAULT_FREQUENCY_GRID})")
    parser.add_argument("--chain", choices=CHAINS, default="blocks",
                        help="blocks: the synthetic node's GNU Radio blocks (synthetic_radio_tx, sensing_channel, "
                             "synthetic_radio_rx); core: the same physics in numpy (default blocks)")
    parser.add_argument("--seed", type=int, default=0, help="data seed of the calibration frames (default 0)")
    parser.add_argument("--channel-seed", type=int, default=None, help="channel and noise seed (default: seed + 1)")
    parser.add_argument("--output", metavar="FILE", default="calibration.json",
                        help="the calibration file to write (default calibration.json); '-' writes none")
    parser.add_argument("--truth", action="store_true",
                        help="also print the errors against the air's truth (synthetic runs only)")
    add_progress_option(parser)
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=run)


def _scenario(args):
    scenario = load_scenario(args.scenario)
    if args.impairments is not None:
        scenario = scenario.with_impairments(impairments.load_impairments_table(args.impairments))
    if args.reflector_snr_db is not None and args.reflector_m is None:
        raise UsageError("--reflector-snr-db needs --reflector-m X Y (the reflector's position)")
    if args.reflector_m is not None:
        snr_db = 20.0 if args.reflector_snr_db is None else args.reflector_snr_db
        beta = math.sqrt(10 ** (snr_db / 10) * scenario.noise_power
                         / (scenario.per_antenna_power * scenario.num_nodes ** 2))
        scenario = scenario.replace(reflector_m=list(args.reflector_m), reflector_amplitude=beta)
    return scenario


def _plain(value):
    """A front-end status as JSON values."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


def run(args):
    try:
        scenario = _scenario(args)
    except ScenarioError as exc:
        raise UsageError(str(exc)) from None
    channel_seed = args.seed + 1 if args.channel_seed is None else args.channel_seed
    background = None if args.reflector_pass == "auto" else args.reflector_pass == "on"
    if background and scenario.reflector_m is None:
        raise UsageError("--reflector-pass on needs a reference reflector ([calibration] reflector_m or --reflector-m)")
    schedule = est.CalibrationSchedule.for_search(scenario, args.frames, args.max_lag_samples,
                                                  settle_frames=args.settle_frames, background=background)
    bar = progress_bar(2, "disac calibrate", enabled=not args.no_progress)
    front_end = {}  # each receiver's front-end status (ADC clipping, AGC, RF canceller) when the air has one
    try:
        with bar:
            bar.set_postfix_str("capture")
            if args.chain == "blocks":
                from ..hier.calibration_capture import blocks_capture  # loads GNU Radio: only when it is used
                captures = blocks_capture(scenario, schedule, args.seed, channel_seed, grid=args.frequency_grid,
                                          front_end_status=front_end)
            else:
                captures = calibration_air.synthetic_capture(scenario, schedule, args.seed, channel_seed,
                                                             grid=args.frequency_grid, front_end_status=front_end)
            bar.update()
            bar.set_postfix_str("fit")
            fit = est.estimate_calibration(scenario.without_impairments(), captures, schedule, args.seed,
                                           method=args.method, frequency_grid=args.frequency_grid,
                                           max_lag_samples=args.max_lag_samples)
            bar.update()
    except CalibrationError as exc:
        raise UsageError(str(exc)) from None
    calibration = fit.calibration
    output = None if args.output == "-" else args.output
    if output is not None:
        try:
            calibration.save(output)
        except OSError as exc:
            raise UsageError(f"--output {output!r}: cannot be written ({exc.strerror or exc})") from None
    truth = calibration_air.truth_errors(scenario, calibration) if args.truth else None
    snr_rows = [{"tx": m, "rx": n, "kind": kind, "snr_db": value} for (m, n, kind), value in sorted(fit.path_snr_db.items())]
    if args.json:
        out = {"output": output, "calibration": calibration.to_dict(), "notes": list(fit.notes), "path_snr_db": snr_rows,
               "reflector_pass": bool(schedule.background), "settle_frames": schedule.settle_frames,
               "front_end": [_plain(front_end[n]) for n in sorted(front_end)] or None,
               "adc_clipped": [int(front_end[n].get("adc_clipped", 0)) for n in sorted(front_end)] or None}
        if truth is not None:
            out["truth"] = truth
        print_json(out)
        return 0
    res = calibration.residuals
    print(f"scenario {scenario.name}: calibrated by {calibration.method} from {schedule.frames_per_node} frames per "
          f"node ({scenario.num_nodes} node{'s' if scenario.num_nodes > 1 else ''})")

    def show(value, unit, digits=4):
        return "not measured" if value is None else f"{value:.{digits}g} {unit}"
    print("  residuals of the fit:")
    for label, value, unit in (("rx channel phase", res.rx_phase_deg_rms, "° RMS"),
                               ("tx channel phase", res.tx_phase_deg_rms, "° RMS"),
                               ("rx channel gain", res.rx_gain_db_rms, "dB RMS"),
                               ("tx channel gain", res.tx_gain_db_rms, "dB RMS"),
                               ("link timing", res.timing_ns_rms, "ns RMS"),
                               ("link timing std", res.timing_ns_std, "ns RMS"),
                               ("unmodelled echo", res.unmodelled_echo_db, "dB over the fit's noise (< 15: none)"),
                               ("CFO", res.cfo_hz_rms, "Hz RMS")):
        print(f"    {label:18s} {show(value, unit)}")
    for link in res.links:
        print(f"    link {link.tx + 1} → {link.rx + 1}: timing residual {link.timing_ns:+.4g} ns")
    if truth is not None:
        print("  errors against the air's truth (synthetic run):")
        for key, value in truth.items():
            print(f"    {key:18s} {value:.4g}")
    for note in fit.notes:
        print(f"  note: {note}")
    print(f"  written: {output}" if output is not None else "  not written (--output -)")
    return 0
