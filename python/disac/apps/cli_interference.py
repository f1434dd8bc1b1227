# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""The options and reports of issue 14's interference suppression that `disac localize`, `disac loopback` and
`disac demo` share: --background auto|FILE|none and --background-frames, the central unit's suppressor from
them (core.interference), and the JSON's ``interference`` object with ``crb_with_nuisance_m2``."""

from .cli_flowgraph import calibration_report

# cli.py imports this module: its UsageError is imported where used (as cli_flowgraph.py and cli_radio.py do)

BACKGROUND_HELP = ("the static background (direct paths, self-coupling, clutter) the central unit subtracts: "
                   "auto (default: learned from a clear-scene capture of the synthetic air when --impairments is "
                   "given and not ideal), a file (core.interference Background.save), or none")


def add_background_arguments(parser):
    """--background auto|FILE|none and --background-frames N (loopback, localize, demo)."""
    from ..core import impairment_trials

    parser.add_argument("--background", metavar="auto|FILE|none", default="auto", help=BACKGROUND_HELP)
    parser.add_argument("--background-frames", metavar="auto|N", default=impairment_trials.BACKGROUND_FRAMES_AUTO,
                        help="clear-scene frames per node of the auto background capture: auto (default: "
                             f"{impairment_trials.DEFAULT_BACKGROUND_FRAMES_PER_NODE}, extended up to "
                             f"{impairment_trials.BACKGROUND_AUTO_MAX_FRAMES_PER_NODE} when what the capture learned "
                             "asks for more: docs/interference.md §4) or a whole number N (exactly N)")


# frame numbers of the auto background capture: far from the run's own (its noise and data are its own)
BACKGROUND_FIRST_FRAME = 1_000_000


def resolve_suppressor(air_scenario, args, wc, wr, seed, channel_seed, calibration, noise=None):
    """A core.interference.Suppressor for the central unit from --background (None: no suppression).
    auto captures the synthetic air's clear scene (core.impairment_trials.capture_background) when the air
    has impairments that are not ideal: the operator's choice of the run, as --calibration auto, not the
    receive side reading the air. UsageError naming a bad value."""
    from ..core import impairment_trials, interference

    value = getattr(args, "background", "auto") or "auto"
    frames = getattr(args, "background_frames", impairment_trials.BACKGROUND_FRAMES_AUTO)
    try:
        frames = impairment_trials.background_frames_option(frames)
    except ValueError:
        raise _usage_error(f"--background-frames {frames!r}: accepted: auto, or a whole number ≥ 1") from None
    if value == "none":
        return None
    try:
        if value == "auto":
            if not air_scenario.impairments_table or air_scenario.impairments.is_ideal:
                return None
            background = impairment_trials.capture_background(
                air_scenario, wc, wr, seed, channel_seed + 7, calibration, first_frame=BACKGROUND_FIRST_FRAME,
                frames_per_node=frames, noise=noise)
            log_background_capture(background)
        else:
            background = interference.load_background(value)
        return interference.Suppressor(background)
    except (OSError, ValueError, KeyError) as exc:
        raise _usage_error(f"--background {value}: {exc}") from None


def log_background_capture(background):
    """One line on stderr (the apps' log, as their warnings): the clear-scene capture's length and why."""
    import sys

    record = background.capture or {}
    shifts = record.get("tap_shifts")
    print(f"disac: background capture: {background.frames_per_node} frames per node "
          f"(--background-frames {record.get('requested', '?')}: {record.get('reason', '')}"
          f"{'' if shifts is None else f'; {shifts} shifts per beyond-CP mask'})", file=sys.stderr)


def interference_report(suppressor, scenario_rx, wc, wr):
    """(``interference`` object, ``crb_with_nuisance_m2``) of the apps' JSON (None, None without a suppressor)."""
    from ..core import impairment_trials

    if suppressor is None:
        return None, None
    return suppressor.summary(), impairment_trials.nuisance_crb_m2(scenario_rx, wc, wr)


def add_impaired_summary(summary, calibration, status, suppressor, scenario_rx, wc, wr):
    """The impaired run's additions to a summary (demo): ``calibration`` (from the central unit's status),
    ``interference`` and ``crb_with_nuisance_m2``, and the map's layers (direct paths, the clutter removed)."""
    from ..core import demo_report

    summary["calibration"] = calibration_report(calibration, status)
    summary["interference"], summary["crb_with_nuisance_m2"] = interference_report(suppressor, scenario_rx, wc, wr)
    if suppressor is not None:
        demo_report.attach_interference_layers(summary, scenario_rx, suppressor.background)


def _usage_error(message):
    from .cli import UsageError

    return UsageError(message)
