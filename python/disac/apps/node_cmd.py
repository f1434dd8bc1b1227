# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""`disac node [SCENARIO] --node-number N --connect ADDR …`: one ISAC node as its own process.

Synthetic radio (--radio synthetic, the default): hier.system.add_synthetic_nodes with this node receiving
(hier.synthetic_node: its transmitter, echo channel, frame clock, receiver, snapshot link) and every other
node's transmitter simulated here, so its echoes reach this node; a node process produces exactly the
snapshots of the single-process chain (`disac localize`, same seeds). With --frame-rate-hz R frame f
leaves at --epoch + f/R (Unix seconds; default: now); a late node catches up at full speed.

USRP (--radio usrp, gr-uhd): hier.usrp_node — the node's transmitter and receiver on one USRP, band
shift, rx framing from the common --epoch; docs/deployment.md has the whole set-up.

Recording (--record DIR): the node's receive streams as the radio delivers them (the synthetic radio's or
the USRP source's, with their rx_time tags) go to DIR/node-<number>.sigmf-{data,meta} (blocks.sigmf_record;
core.recording has the format). Replay (--radio replay:DIR): that recording in place of the radio, through
the USRP node's receive chain (hier.replay_radio), as fast as it runs; the JSON then has "replay".

--frames F stops the node after frame F−1; it then prints one JSON line of counters (sent, dropped,
rejected, bytes_sent, node (0-based), node_number, frames, and the rx framing's: overflow_partial (frames cut
by an overflow, dropped), overflow_lost, frames_before_start, rx_time_jumps; the synthetic radio's adc_clipped and
its "front_end" status: AGC gain, settled, RF canceller cancellation achieved and frames before it settled). Precoders: --precoders (placeholder, random,
designed or a wire PRECODERS file; the central unit must use the same) and --precoders-from ADDR (a
beamformer server's PUB socket). Security: --curve-secret … (python/disac/net.py, docs/deployment.md).
"""

import sys
import time

from ..core import ofdm
from ..hier import system, usrp_node as usrp
from .cli import (FRAMING_COUNTERS, REPLAY_PREFIX, RadioChoices, UsageError, add_chain_arguments,
                  add_curve_arguments, add_link_arguments, add_node_number_argument, add_option, add_progress_option,
                  add_recorder, add_scenario_argument, build_replay, build_usrp_node, channel_list, configure_usrp,
                  finite_float, load_checked_scenario, node_index_from_args, print_json, Progress,
                  quiet_gnuradio_info, radio_choice, recording_report, resolve_precoders, link_parameters,
                  security_from_args, security_parameters)

DEFAULT_FRAME_RATE_HZ = 10.0  # frames per second of the synthetic radio's frame clock
usrp_settings = usrp.usrp_settings  # the names tests and scripts use (tests/test_node_usrp.py)


def register(subparsers):
    parser = subparsers.add_parser(
        "node", help="run one ISAC node (synthetic radio or USRP) that sends its snapshots to a central unit",
        description="One ISAC node as its own process: transmitter, receiver and the ZeroMQ snapshot link to "
                    "`disac cu`, on a synthetic radio or a USRP (gr-uhd).")
    add_scenario_argument(parser)
    add_node_number_argument(parser)
    add_link_arguments(parser, "the central unit's snapshot address")
    parser.add_argument("--pattern", choices=("push", "pub"), default="push", help="ZeroMQ pattern (default push)")
    parser.add_argument("--radio", type=radio_choice, choices=RadioChoices(), default="synthetic",
                        help="synthetic (default), usrp (gr-uhd) or replay:DIR (a SigMF recording made with --record)")
    parser.add_argument("--record", metavar="DIR", default="",
                        help="record the node's receive streams (SigMF, DIR/node-<number>.sigmf-meta/-data; DIR is "
                             "created; an existing recording is never overwritten)")
    add_chain_arguments(parser)
    parser.add_argument("--precoders-from", metavar="ADDR", default="",
                        help="also take precoder sets from a beamformer server's PUB socket (tcp://host:5561)")
    add_curve_arguments(parser, precoders_link=True)
    add_option(parser, "--frame-rate-hz", old_names=("--frame-rate",), type=finite_float("--frame-rate-hz", 0.0, 1e6),
               default=None, help="synthetic radio: frames per second of the frame clock (0: as fast as possible; "
               f"default {DEFAULT_FRAME_RATE_HZ:g}); a USRP runs at its sample rate")
    add_option(parser, "--epoch-s", old_names=("--epoch",), type=finite_float("--epoch-s", 0.0), default=None,
               metavar="UNIX_S", help="Unix time (s) of frame 0, the same on every node (synthetic: default now; "
                        f"usrp: required, at least {usrp.MIN_EPOCH_LEAD_S:g} s ahead)")
    parser.add_argument("--frequency-grid", choices=ofdm.FREQUENCY_GRIDS, default=ofdm.DEFAULT_FREQUENCY_GRID,
                        help="low-if (default: the model's d(τ); usrp: a B/2 shift on tx and rx) or centred "
                        "(the radio's own band; the central unit must use the centred grid)")
    add_progress_option(parser)
    group = parser.add_argument_group("USRP (--radio usrp)")
    group.add_argument("--device-args", default="", help='UHD device arguments, e.g. "type=x300,addr=192.168.10.2"')
    group.add_argument("--tx-channels", type=channel_list("--tx-channels"), default=None, metavar="LIST",
                       help="USRP transmit channels, one per antenna, e.g. 0,1,2,3,4,5 (default 0 … Mt−1)")
    group.add_argument("--rx-channels", type=channel_list("--rx-channels"), default=None, metavar="LIST",
                       help="USRP receive channels, one per antenna (default 0 … Mr−1)")
    add_option(group, "--center-freq-hz", old_names=("--center-freq",), type=finite_float("--center-freq-hz", 1e3, 1e11),
               default=None, metavar="HZ", help="carrier frequency in Hz (required with --radio usrp)")
    add_option(group, "--tx-gain-db", old_names=("--tx-gain",), type=finite_float("--tx-gain-db", -10.0, 100.0),
               default=0.0, metavar="DB", help="transmit gain in dB on every channel (default 0)")
    add_option(group, "--rx-gain-db", old_names=("--rx-gain",), type=finite_float("--rx-gain-db", -10.0, 100.0),
               default=0.0, metavar="DB", help="receive gain in dB on every channel (default 0)")
    group.add_argument("--clock-source", choices=usrp.REFERENCE_SOURCES, default="external",
                       help="10 MHz reference (default external; gpsdo for a GPS-disciplined oscillator)")
    group.add_argument("--time-source", choices=usrp.REFERENCE_SOURCES, default="external",
                       help="PPS (default external; internal: host time, one node only)")
    group.add_argument("--rx-offset-samples", type=int, default=0, metavar="S",
                       help="receive samples to skip before frame 0: the measured tx→rx latency (default 0)")
    parser.set_defaults(func=run_command)


def run_command(args):
    quiet_gnuradio_info()
    from gnuradio import gr

    scenario = load_checked_scenario(args.scenario)
    node = node_index_from_args(args, scenario)
    if args.frames < 0:
        raise UsageError(f"--frames {args.frames}: accepted: 0 (no end) or a positive number of frames")
    if args.radio == "usrp":
        return run_usrp(args, scenario, node)
    if args.radio.startswith(REPLAY_PREFIX):
        return run_replay(args, scenario, node)
    usrp_only = [name for name, value in (("--device-args", args.device_args), ("--tx-channels", args.tx_channels),
                                          ("--rx-channels", args.rx_channels), ("--center-freq-hz", args.center_freq_hz))
                 if value]
    if usrp_only:
        raise UsageError(f"{', '.join(usrp_only)}: only with --radio usrp (this node is synthetic)")
    frame_rate = DEFAULT_FRAME_RATE_HZ if args.frame_rate_hz is None else args.frame_rate_hz
    if args.frames == 0 and frame_rate == 0:
        raise UsageError("--frames 0 with --frame-rate-hz 0 would run flat out for ever: give a frame rate or a count")
    security, precoder_security = security_from_args(args)
    wc, wr = resolve_precoders(scenario, args.precoders, args.sinr_db, args.seed, args.objective)
    channel_seed = args.seed + 1 if args.channel_seed is None else args.channel_seed
    tb = gr.top_block(f"disac_node_{node + 1}")
    try:
        _, nodes, _ = system.add_synthetic_nodes(
            tb, scenario, [node], wc, wr, args.frames, args.seed, channel_seed, args.precoders_from,
            security_parameters(precoder_security), address=args.bind or args.connect, bind=bool(args.bind),
            pattern=args.pattern, frame_rate_hz=frame_rate, epoch_s=args.epoch_s, frequency_grid=args.frequency_grid,
            **link_parameters(security))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    recorder = None
    if args.record:  # the receive streams as the synthetic radio hands them to the receiver (with rx_time)
        radio_rx = getattr(nodes[node], "radio_rx", None)  # issue 13's synthetic radio; before it, the channel
        epoch = getattr(radio_rx, "epoch", None)  # its (whole s, fraction) labels' epoch
        recorder = add_recorder(tb, scenario, node, nodes[node].channel if radio_rx is None else radio_rx,
                                args.record, "synthetic", frequency_grid=args.frequency_grid,
                                epoch_s=(epoch[0] + epoch[1]) if epoch is not None else (args.epoch_s or 0.0),
                                calibration_file=getattr(args, "calibration", None) or "", ground_truth=True)
    push = nodes[node].push
    print(f"disac node {node + 1}: {scenario.name}, sending to {push.endpoint} ({args.pattern}, "
          f"{security.mode}), {args.frames or 'endless'} frames at {frame_rate:g} frames/s", file=sys.stderr,
          flush=True)
    receiver, progress = nodes[node].receiver, Progress(args.frames, f"disac node {node + 1}", args)
    system.run_to_end(tb, lambda: receiver.frames_received, progress.callback)
    progress.close()
    report = dict(push.counters(), node=node, node_number=node + 1, frames=args.frames,
                  **{key: getattr(nodes[node].tagger, key) for key in FRAMING_COUNTERS})
    radio_rx = getattr(nodes[node], "radio_rx", None)
    if radio_rx is not None:  # the receive front end (issue 14): ADC clipping, AGC, RF canceller state
        report["adc_clipped"] = radio_rx.adc_clipped
        report["front_end"] = radio_rx.front_end_status()
    if recorder is not None:
        report["recording"] = recording_report(recorder)
    print_json(report)
    sys.stdout.flush()
    return 0


def run_usrp(args, scenario, node, radio=None):
    """`disac node --radio usrp`: build, configure, run until --frames frames were received (or Ctrl-C)."""
    from gnuradio import gr

    if args.frame_rate_hz is not None:
        raise UsageError(f"--frame-rate-hz {args.frame_rate_hz:g}: only for the synthetic radio; a USRP runs at "
                         "the scenario's sample rate")
    try:
        settings = usrp.usrp_settings(scenario, args.device_args, args.tx_channels, args.rx_channels,
                                      args.center_freq_hz, args.tx_gain_db, args.rx_gain_db, args.clock_source,
                                      args.time_source, args.epoch_s, args.frequency_grid, args.rx_offset_samples)
    except usrp.RadioSetupError as exc:
        raise UsageError(str(exc)) from None
    lead_s = settings.epoch_s - time.time()
    if lead_s < usrp.MIN_EPOCH_LEAD_S:
        raise UsageError(f"--epoch-s {settings.epoch_s:.3f}: {lead_s:.1f} s from now; accepted: at least "
                         f"{usrp.MIN_EPOCH_LEAD_S:g} s ahead (the radio needs a PPS edge and a second to set its time)")
    if args.frequency_grid == "centred":
        print("disac node: --frequency-grid centred: the central unit must use the centred grid for d(τ); "
              "`disac cu` (core.localizer) uses the low-IF grid", file=sys.stderr, flush=True)
    security, precoder_security = security_from_args(args)
    wc, wr = resolve_precoders(scenario, args.precoders, args.sinr_db, args.seed, args.objective)
    tb = gr.top_block(f"disac_node_{node + 1}_usrp")
    try:
        radio = radio or usrp.UhdRadio()
        built = build_usrp_node(tb, scenario, node, wc[node], wr[node], args.frames, args.seed,
                                args.bind or args.connect, settings, radio, bind=bool(args.bind),
                                pattern=args.pattern, precoder_address=args.precoders_from, security=security,
                                precoder_security=precoder_security)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    recorder = None
    if args.record:  # what the USRP delivers, before the band shift
        recorder = add_recorder(tb, scenario, node, built.source, args.record, "usrp",
                                center_freq_hz=settings.center_freq_hz, tx_gain_db=settings.tx_gain_db,
                                rx_gain_db=settings.rx_gain_db, frequency_grid=settings.frequency_grid,
                                epoch_s=settings.epoch_s, calibration_file=getattr(args, "calibration", None) or "")
    report = configure_usrp(built.sink, built.source, settings, radio)
    print(f"disac node {node + 1}: {scenario.name} on USRP {settings.device_args!r}, tx {settings.tx_channels}, "
          f"rx {settings.rx_channels}, {settings.sample_rate_hz:g} S/s at {settings.center_freq_hz:g} Hz, "
          f"{report['time']}, frame 0 in {report['start_in_s']:g} s; sending to {built.push.endpoint}",
          file=sys.stderr, flush=True)
    # the receive stream never ends by itself: stop once the tagger has passed the last frame
    progress = Progress(args.frames, f"disac node {node + 1}", args)
    system.run_to_end(tb, lambda: built.tagger.frames_accounted, progress.callback, finished=built.frames_done)
    progress.close()
    result = dict(built.push.counters(), node=node, node_number=node + 1, frames=args.frames,
                  frames_received=built.receiver.frames_received, versions_guessed=built.tagger.versions_guessed,
                  **{key: getattr(built.tagger, key) for key in FRAMING_COUNTERS})
    if recorder is not None:
        result["recording"] = recording_report(recorder)
    print_json(result)
    sys.stdout.flush()
    return 0


def run_replay(args, scenario, node):
    """`disac node --radio replay:DIR`: the recording of this node through the USRP node's receive chain, as
    fast as it runs, until the recording (or --frames) ends."""
    tb, built, radio, frames = build_replay(args, scenario, node)
    print(f"disac node {node + 1}: {scenario.name}, replaying {radio.reader.meta_path} ({radio.reader.radio or 'unknown'}"
          f" radio, {radio.reader.num_samples} samples, {frames} frames); sending to {built.push.endpoint}",
          file=sys.stderr, flush=True)
    progress = Progress(frames, f"disac node {node + 1}", args)
    # every stream ends by itself (the recording, the transmitter's frame count); a precoder subscriber
    # (a message source) would not, so then stop once the last frame has been framed
    finished = built.frames_done if args.precoders_from else None
    system.run_to_end(tb, lambda: built.tagger.frames_accounted, progress.callback, finished=finished)
    progress.close()
    print_json(dict(built.push.counters(), node=node, node_number=node + 1, frames=frames,
                    frames_received=built.receiver.frames_received, versions_guessed=built.tagger.versions_guessed,
                    **{key: getattr(built.tagger, key) for key in FRAMING_COUNTERS},
                    replay={"meta": str(radio.reader.meta_path), "radio": radio.reader.radio,
                            "samples_replayed": radio.replay.samples_replayed}))
    sys.stdout.flush()
    return 0
