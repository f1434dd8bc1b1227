# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""The radio options of `disac node` (apps/node_cmd.py stays thin; re-exported by apps/cli.py): --radio
synthetic | usrp | replay:DIR, the USRP channel lists and set-up, the SigMF recorder of --record, and the
replay radio's flowgraph. GNU Radio (hier) is imported where used: apps/cli.py imports this module before
main() has set GNU Radio's log up (quiet_gnuradio_info), which must come first."""

from .cli_flowgraph import resolve_precoders, security_from_args, security_parameters

RADIOS = ("synthetic", "usrp")  # and "replay:DIR" (radio_choice)
REPLAY_PREFIX = "replay:"
FRAMING_COUNTERS = ("overflow_partial", "overflow_lost", "frames_before_start", "rx_time_jumps")  # in the JSON


def _usage(message):
    """apps/cli.py's UsageError(message), imported where used (as cli_flowgraph.py does: cli imports this module)."""
    from .cli import UsageError
    return UsageError(message)


class RadioChoices(tuple):
    """argparse choices of --radio: listed as synthetic, usrp, replay:DIR; "replay:<any directory>" is in it."""

    def __new__(cls):
        return super().__new__(cls, RADIOS + (REPLAY_PREFIX + "DIR",))

    def __contains__(self, value):
        return value in RADIOS or (isinstance(value, str) and value.startswith(REPLAY_PREFIX)
                                   and len(value) > len(REPLAY_PREFIX))


def radio_choice(text):
    """An argparse type: "synthetic", "usrp" or "replay:DIR", else a message naming the value."""
    import argparse

    if text in RADIOS or (text.startswith(REPLAY_PREFIX) and len(text) > len(REPLAY_PREFIX)):
        return text
    raise argparse.ArgumentTypeError(f"--radio {text!r}: accepted: synthetic, usrp or replay:DIR (a directory "
                                     "written by --record)")


def add_recorder(tb, scenario, node, source, directory, radio, **metadata):
    """A sigmf_record of node ``node``'s receive streams (outputs 0 … Mr−1 of ``source``) in ``tb``."""
    from ..hier import system
    from ..blocks.sigmf_record import sigmf_record

    try:
        recorder = sigmf_record(scenario, node, directory, radio, rx_antennas=scenario.rx_antennas, **metadata)
    except ValueError as exc:
        raise _usage(f"--record {directory}: {exc}") from None
    for r in range(scenario.rx_antennas):
        tb.connect((source, r), (recorder, r))
    system.keep(tb, recorder)
    return recorder


def recording_report(recorder):
    """The "recording" object of the node's JSON line."""
    return {"meta": str(recorder.meta_path), "samples": recorder.samples_recorded, "captures": recorder.captures,
            "samples_dropped": recorder.samples_dropped, "bad_time_tags": recorder.bad_time_tags,
            "error": recorder.error}


def channel_list(name):
    """An argparse type: comma-separated USRP channel numbers (distinct, ≥ 0), else a message naming the value."""
    import argparse

    def parse(text):
        try:
            channels = tuple(int(part) for part in text.split(","))
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} = {text!r}: expected channel numbers separated by "
                                             "commas, e.g. 0,1,2,3") from None
        if any(c < 0 for c in channels) or len(set(channels)) != len(channels):
            raise argparse.ArgumentTypeError(f"{name} = {text!r}: expected distinct channel numbers ≥ 0")
        return channels
    return parse


def configure_usrp(sink, source, settings, radio, **clock):
    """hier.usrp_node.configure_usrp with its errors as one-line usage errors."""
    from ..hier import usrp_node as usrp
    try:
        return usrp.configure_usrp(sink, source, settings, radio, **clock)
    except usrp.RadioSetupError as exc:
        raise _usage(str(exc)) from None


def build_usrp_node(tb, scenario, node_id, wc, wr, frames, seed, address, settings, radio, bind=False,
                    pattern="push", hwm=1000, precoder_address="", security=None, precoder_security=None):
    """A hier.usrp_node from UsrpSettings, added to top block ``tb``; radio settings are applied by
    configure_usrp, not here. wc, wr: this node's W_c (Mt × U), W_r (Mt × Mt)."""
    from ..hier import system, usrp_node as usrp
    link, precoder_link = security_parameters(security), security_parameters(precoder_security)
    try:
        node = usrp.usrp_node(scenario, node_id, seed, wc, wr, frames, address, bind, pattern, hwm,
                              settings.device_args, settings.tx_channels, settings.rx_channels,
                              settings.center_freq_hz, settings.tx_gain_db, settings.rx_gain_db,
                              settings.clock_source, settings.time_source, settings.epoch_s,
                              settings.frequency_grid, settings.rx_offset_samples, precoder_address, *link,
                              precoders_server_public_key=precoder_link[2], radio=radio)
    except usrp.RadioSetupError as exc:
        raise _usage(str(exc)) from None
    tb.connect(node)
    system.keep(tb, node)
    return node


def build_replay(args, scenario, node):
    """`disac node --radio replay:DIR`'s flowgraph: the recording of this node in place of the radio, through the
    USRP node's receive chain. Returns (top block, usrp_node, ReplayRadio, frames)."""
    from ..hier import usrp_node as usrp
    from gnuradio import gr

    from ..core import ofdm as ofdm_layout
    from ..hier.replay_radio import ReplayRadio

    directory = args.radio[len(REPLAY_PREFIX):]
    refused = [name for name, value in (("--record", args.record), ("--device-args", args.device_args),
                                        ("--tx-channels", args.tx_channels), ("--rx-channels", args.rx_channels),
                                        ("--center-freq-hz", args.center_freq_hz), ("--epoch-s", args.epoch_s),
                                        ("--frame-rate-hz", args.frame_rate_hz)) if value]
    if refused:
        raise _usage(f"{', '.join(refused)}: not with --radio replay:DIR (the recording has its own settings)")
    try:
        radio = ReplayRadio(directory, scenario, node)
    except ValueError as exc:
        raise _usage(f"--radio {args.radio}: {exc}") from None
    frame_len = ofdm_layout.layout_from_scenario(scenario).frame_len
    in_recording = max(0, (radio.reader.num_samples - args.rx_offset_samples) // frame_len)
    frames = min(args.frames, in_recording) if args.frames else in_recording
    if frames == 0:
        raise _usage(f"--radio {args.radio}: the recording holds {radio.reader.num_samples} samples, not one "
                         f"whole frame of {frame_len}")
    grid = radio.frequency_grid
    settings = usrp.usrp_settings(scenario, "replay", None, None, radio.center_freq_hz, 0.0, 0.0, "internal",
                                  "internal", radio.epoch_s, grid, args.rx_offset_samples)
    security, precoder_security = security_from_args(args)
    wc, wr = resolve_precoders(scenario, args.precoders, args.sinr_db, args.seed, args.objective)
    tb = gr.top_block(f"disac_node_{node + 1}_replay")
    try:
        built = build_usrp_node(tb, scenario, node, wc[node], wr[node], frames, args.seed, args.bind or args.connect,
                                settings, radio, bind=bool(args.bind), pattern=args.pattern,
                                precoder_address=args.precoders_from, security=security,
                                precoder_security=precoder_security)
    except ValueError as exc:
        raise _usage(str(exc)) from None
    return tb, built, radio, frames
