# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""`disac crb [SCENARIO]`: the localisation Cramér–Rao bounds of a scenario (paper eq. 10–13).

JSON keys (a contract other tools read): crb_position_m2, crb_position_per_target_m2, crb_paper,
crb_position_aoa_only_m2, crb_position_tof_only_m2 (null where a bound is unbounded; `notes` says why),
scenario, covariance; with --covariance designed also objective and sinr_threshold_db.
Issue 14: crb_with_nuisance_m2 (and _per_target_m2): the position CRB with every direct path's amplitude and every
node's self-coupling matrix unknown per frame (the bound an interference-suppressing receiver can reach,
core.fim.position_crb_with_nuisance_m2; docs/fim-derivation.md §8), and `nuisance` (what was counted as unknown).
Every bound sums over the scenario's active subcarriers only (guard/DC bins, docs/fim-derivation.md §7).
Issue 15: crb_achievable_m2, the achievable bound of the precoders (the conditional CRB, cross-node terms included,
averaged over the data and the oscillator phases: core.achievable), and `achievable` (its paper_m2, ratio, standard
error, draws, method); `--symbols P` sets P for every bound (the scenario's symbols_per_frame replaced), `--symbols
inf` gives the P → ∞ floor for the scenario's own P. Isotropic covariances are sent as radar streams only (W_c = 0).
"""

import argparse
import math
import numpy as np

import dataclasses

from ..core import achievable, fim, ofdm
from ..core.design_options import DEFAULT_OBJECTIVE, MAX_SINR_DB, MIN_SINR_DB, OBJECTIVES
from ..core.scenario import load_scenario
from .cli import (UsageError, add_progress_option, add_scenario_argument, finite_float, print_json, progress_bar,
                  solver_accuracy_warnings_quieted, whole_number)

COVARIANCES = ("isotropic", "designed")


def self_coupling_delay_s(scenario):
    """The self-coupling's delay in the calibrated snapshot: the monostatic link's latency λ_n is calibrated out
    (docs/air-model.md §3), so the leakage sits at the scenario's ``[impairments] self_coupling_delay_samples``
    (0 by default) / B. This command analyses a scenario (it reads the targets' truth too); a receiver knows the
    delay from its own measurement."""
    samples = float(getattr(scenario.impairments, "self_coupling_delay_samples", 0.0) or 0.0)
    return samples / scenario.bandwidth_hz


def register(subparsers):
    parser = subparsers.add_parser(
        "crb", help="localisation CRBs (position, paper objective, AOA-only, TOF-only) of a scenario",
        description="Cramér–Rao bounds of target localisation for per-node transmit covariances: isotropic "
                    "(R_n = P_T·I at every node, all power to radar) or designed by the SDR at --sinr-db.")
    add_scenario_argument(parser)
    parser.add_argument("--covariance", choices=COVARIANCES, default="isotropic",
                        help="isotropic: R_n = P_T·I; designed: the SDR solution at --sinr-db (default isotropic)")
    parser.add_argument("--sinr-db", type=finite_float("--sinr-db", MIN_SINR_DB, MAX_SINR_DB),
                        help=f"SINR threshold Γ_c in dB for --covariance designed ({MIN_SINR_DB:g} to {MAX_SINR_DB:g})")
    parser.add_argument("--objective", choices=OBJECTIVES, default=DEFAULT_OBJECTIVE,
                        help=f"with --covariance designed: the design objective, {' or '.join(OBJECTIVES)} "
                             f"(default {DEFAULT_OBJECTIVE}: the paper's tr(F(Θ)^-1), eq. 18a)")
    parser.add_argument("--frequency-grid", choices=ofdm.FREQUENCY_GRIDS, default=ofdm.DEFAULT_FREQUENCY_GRID,
                        help="frequencies of the bins in d(τ): low-if (l·B/L, the synthetic air's and the localiser's; "
                             "default) or centred (a radio's band: guard bins at its edges; docs/fim-derivation.md §7)")
    parser.add_argument("--self-coupling-frames", type=finite_float("--self-coupling-frames", 1, 1e12), default=1.0,
                        help="crb_with_nuisance_m2 with each node's self-coupling matrix the same over this many frames "
                             "and estimated from all of them (default 1: unknown in every frame)")
    parser.add_argument("--symbols", type=_symbols, default=None,
                        help="OFDM symbols per frame P for every bound (default the scenario's), or inf: the achievable "
                             "bound's P → ∞ floor for the scenario's P")
    parser.add_argument("--draws", type=whole_number("--draws", 2, 10**6), default=achievable.DEFAULT_DRAWS,
                        help=f"frames sampled for the achievable bound (default {achievable.DEFAULT_DRAWS})")
    add_progress_option(parser)
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=run)


def _symbols(text):
    if text.strip().lower() == "inf":
        return math.inf
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"--symbols = {text!r}: expected a whole number ≥ 1 or inf")
    return value


def _achievable(scenario, wc, wr, args):
    """core.achievable's bound of these precoders, or None (with the reason) when the frame cannot carry them."""
    try:
        return achievable.achievable_crb_m2(scenario, wc, wr, symbols=args.symbols, draws=args.draws), None
    except (achievable.AchievableError, ofdm.FrameError) as exc:
        return None, f"achievable bound not computed: {exc}"


def run(args):
    scenario = load_scenario(args.scenario)
    if args.symbols not in (None, math.inf):
        scenario = scenario.replace(symbols_per_frame=args.symbols)
    geometry = dataclasses.replace(fim.SensingGeometry.from_scenario(scenario), frequency_grid=args.frequency_grid)
    if args.covariance == "designed":
        if args.sinr_db is None:
            raise UsageError("--covariance designed needs --sinr-db G (the SINR threshold in dB)")
        bar = progress_bar(2, "disac crb", enabled=not args.no_progress)
        with bar, solver_accuracy_warnings_quieted():  # the status is reported when it matters
            bar.set_postfix_str("loading the solver")
            from ..core.beamformer import BeamformerDesigner  # loads cvxpy (~1 s): only when it is needed
            bar.update()
            bar.set_postfix_str(f"SDR at {args.sinr_db:g} dB")
            result = BeamformerDesigner(scenario, objective=args.objective).solve(args.sinr_db)
            bar.update()
        if not result.ok:
            raise UsageError(f"no design at --sinr-db {args.sinr_db:g}: status {result.status}. {result.message}")
        covariances, precoders = result.R, (result.Wc, result.Wr)
    else:
        # P_T per RE, or P_T·L/L_a per active RE with guard/DC bins (core.ofdm.per_re_power: the same DAC power)
        power = ofdm.per_re_power(scenario.per_antenna_power, getattr(scenario, "active_subcarriers", None))
        covariances = fim.isotropic_covariances(scenario.num_nodes, scenario.tx_antennas, power)
        n, mt = scenario.num_nodes, scenario.tx_antennas  # R_n = P_T·I as radar streams W_r = √P_T·I, no data
        precoders = (np.zeros((n, mt, scenario.num_users)), np.broadcast_to(np.sqrt(power) * np.eye(mt), (n, mt, mt)))
    report = fim.crb_report(geometry, covariances)
    delay_s = self_coupling_delay_s(scenario)
    nuisance_map = fim.NuisanceFimMap(geometry, direct_paths=True, self_coupling=True, self_coupling_delay_s=delay_s)
    nuisance_total, nuisance_per_target = nuisance_map.position_crb_m2(covariances, args.self_coupling_frames)
    out = report.as_dict() | {
        "crb_with_nuisance_m2": nuisance_total, "crb_with_nuisance_per_target_m2": nuisance_per_target,
        "nuisance": {"direct_path_links": len(fim.direct_path_links(scenario.num_nodes)),
                     "self_coupling_nodes": scenario.num_nodes, "parameters": nuisance_map.nuisance_dim,
                     "self_coupling_delay_s": delay_s, "self_coupling_frames": args.self_coupling_frames},
        "active_subcarriers": int(geometry.active_mask().sum()), "frequency_grid": args.frequency_grid,
        "scenario": scenario.name, "covariance": args.covariance}
    bound, why = _achievable(scenario, *precoders, args)
    out |= {"crb_achievable_m2": None if bound is None else bound["achievable_m2"], "achievable": bound}
    if why:
        out["notes"] = out["notes"] + [why]
    if args.covariance == "designed":
        out |= {"objective": args.objective, "sinr_threshold_db": args.sinr_db}
    if args.json:
        print_json(out)
        return 0
    print(f"scenario {scenario.name}, {args.covariance} covariance"
          + (f" (objective {args.objective}, Γ_c = {args.sinr_db:g} dB)" if args.covariance == "designed" else ""))
    rows = [("position CRB (joint TOF+AOA)", report.crb_position_m2, "m²"),
            ("paper objective tr(F(Θ)^-1)", report.crb_paper, ""),
            ("position CRB, AOA only", report.crb_position_aoa_only_m2, "m²"),
            ("position CRB, TOF only", report.crb_position_tof_only_m2, "m²"),
            ("position CRB, with nuisance", nuisance_total, "m²"),
            ("achievable (conditional CRB, mean)", None if bound is None else bound["achievable_m2"], "m²")]
    for label, value, unit in rows:
        missing = "not computed (note below)" if label.startswith("achievable") else "unbounded"
        print(f"  {label:32s} {missing if value is None else f'{value:.6g} {unit}'}")
    if report.crb_position_per_target_m2:
        for k, value in enumerate(report.crb_position_per_target_m2):
            print(f"    target {k + 1}: {value:.6g} m² (RMSE ≥ {value ** 0.5:.4g} m)")
    for note in out["notes"]:
        print(f"  note: {note}")
    return 0
