# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""`disac scenario show [SCENARIO]` and `disac scenario list`: a resolved scenario with its derived
quantities, and the presets.

JSON keys of `show --json` (a contract): the core's Scenario.summary() — name, nodes, ofdm, targets,
users, derived, warnings, notes. `list --json`: {preset: description}.
"""

import sys

import numpy as np

from ..core.scenario import PRESETS, load_scenario, scenario_to_toml
from .cli import add_scenario_argument, print_json


def register(subparsers):
    parser = subparsers.add_parser(
        "scenario", help="show or list scenarios (presets or TOML files)",
        description="Show a scenario resolved from a preset or a TOML file, with the quantities derived from it "
                    "(angles, delays, β, noise powers, the longest echo), or list the presets.")
    sub = parser.add_subparsers(dest="scenario_command", metavar="ACTION", required=True)
    show = sub.add_parser(
        "show", help="print the resolved scenario with its derived quantities",
        description="Print a scenario as resolved (every default filled in) with its derived quantities: as text, "
                    "as JSON (--json) or as a TOML file that loads back to the same values (--toml).")
    add_scenario_argument(show)
    show.add_argument("--json", action="store_true", help="print JSON instead of text")
    show.add_argument("--toml", action="store_true", help="print the resolved scenario as a TOML file")
    show.set_defaults(func=show_scenario)
    lst = sub.add_parser("list", help="list the presets",
                         description="List the preset scenarios by name, with what each one is.")
    lst.add_argument("--json", action="store_true", help="print JSON ({preset: description}) instead of text")
    lst.set_defaults(func=list_presets)


def list_presets(args):
    if args.json:
        print_json({name: data.get("description", "") for name, data in PRESETS.items()})
        return 0
    for name, data in PRESETS.items():
        print(f"{name:18s} {data.get('description', '')}")
    return 0


def show_scenario(args):
    scenario = load_scenario(args.scenario)
    for warning in scenario.warnings:
        print(f"disac: warning: {warning}", file=sys.stderr)
    if args.toml:
        sys.stdout.write(scenario_to_toml(scenario))
        return 0
    summary = scenario.summary()
    if args.json:
        print_json(summary)
        return 0
    s, d = scenario, summary["derived"]
    print(f"scenario {s.name}: N = {s.num_nodes} nodes, K = {s.num_targets} targets, U = {s.num_users} users")
    print(f"  nodes    Mt = {s.tx_antennas}, Mr = {s.rx_antennas}, P_T = {s.per_antenna_power:g} per antenna")
    for n, p in enumerate(s.node_positions_m):
        print(f"    node {n + 1} at [{p[0]:g}, {p[1]:g}] m")
    print(f"  OFDM     B = {s.bandwidth_hz / 1e6:g} MHz, L = {s.subcarriers} subcarriers, "
          f"CP = {s.cyclic_prefix} samples ({d['cyclic_prefix_s'] * 1e6:.3f} µs), "
          f"{s.symbols_per_frame} symbol(s) per frame, L/B = {d['unambiguous_delay_s'] * 1e6:.3f} µs")
    print(f"  targets  β = {s.target_amplitude:.6g} (target SNR {s.target_snr_db:.2f} dB), σ² = {s.noise_power:g}, "
          f"phases {s.target_amplitude_phase}")
    theta = np.degrees(s.target_angles_rad())
    tau = s.target_delays_s()
    for k, q in enumerate(s.target_positions_m):
        seen = ", ".join(f"node {n + 1}: {theta[n, k]:.2f}° {tau[n, k] * 1e6:.4f} µs" for n in range(s.num_nodes))
        print(f"    target {k + 1} at [{q[0]:g}, {q[1]:g}] m — {seen}")
    print(f"  motion   {'static' if s.is_static else 'moving'}: a frame every {s.frame_interval_s * 1e3:g} ms "
          f"(frame {s.frame_duration_s * 1e6:.3f} µs), carrier {s.carrier_hz / 1e9:g} GHz")
    if not s.is_static:  # issue 15: velocities from t = 0, presence appear_s ≤ t < leave_s
        for k, v in enumerate(s.target_velocities_mps):
            appear = 0.0 if s.target_appear_s is None else s.target_appear_s[k]
            leave = np.inf if s.target_leave_s is None else s.target_leave_s[k]
            print(f"    target {k + 1} velocity [{v[0]:g}, {v[1]:g}] m/s ({np.hypot(*v):g} m/s), present "
                  f"{appear:g} s ≤ t < {'∞' if np.isinf(leave) else f'{leave:g} s'}")
    print(f"  users    σ_c² = {s.user_noise_power:.6g} (P_T/σ_c² = {s.user_snr_db:.2f} dB), channel {s.user_channel}")
    phi = np.degrees(s.user_angles_rad())
    for u, q in enumerate(s.user_positions_m):
        seen = ", ".join(f"node {n + 1}: {phi[n, u]:.2f}°" for n in range(s.num_nodes))
        print(f"    user {u + 1} at [{q[0]:g}, {q[1]:g}] m — {seen}")
    print(f"  longest echo: {d['longest_bistatic_link']}, {d['longest_bistatic_delay_s'] * 1e6:.4f} µs = "
          f"{d['longest_bistatic_delay_samples']:.2f} samples (CP {s.cyclic_prefix})")
    for note in s.notes:
        print(f"  note: {note}")
    return 0
