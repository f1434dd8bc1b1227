# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Statistics of localisation trials against the position CRB (what `disac localize` and `disac demo`
report): estimates matched to the targets, MSE, failures beyond a gate, the expected and the conditional
CRB. Pure maths on core.fusion.Estimate-like objects (anything with ``frame`` and ``positions_m``).
"""

import itertools
import math

import numpy as np

from . import channels, fim, fusion, geometry, ofdm, scenario as scenario_mod


def scenario_at_snr(scenario, snr_db):
    """The scenario with β set for the paper's target SNR P_T·Σ|b|²/σ² (Sec. V)."""
    beta = scenario_mod.amplitude_for_target_snr(snr_db, scenario.per_antenna_power, scenario.noise_power,
                                                 scenario.num_targets, scenario.num_nodes)
    return scenario.replace(target_amplitude=beta)


def matched_errors(estimate_m, truth_m):
    """Estimate minus truth (K, 2), estimates reordered to the permutation closest to the truth."""
    best = min(itertools.permutations(range(len(truth_m))),
               key=lambda p: float(np.sum((estimate_m[list(p)] - truth_m) ** 2)))
    return estimate_m[list(best)] - truth_m


def conditional_crbs_m2(scenario, wc, wr, frame_numbers, seed, channel_seed):
    """Position CRB of the conditional FIM (eq. 10, no expectation over the symbols) per frame: the frame's
    regenerated X (eq. 1) and the amplitudes with that frame's oscillator phases, b·e^{j(φ_m − φ_n)}."""
    layout = ofdm.layout_from_scenario(scenario)
    base = fim.SensingGeometry.from_scenario(scenario)
    jac = fim.jacobian_theta(base)  # ∂Ψ/∂Θ: the angle/delay rows do not depend on the amplitudes
    numbers = np.asarray(frame_numbers)
    x = np.stack([ofdm.transmitted_frames(layout, seed, numbers, m, wc[m], wr[m]) for m in range(scenario.num_nodes)],
                 axis=1)  # (F, N, Mt, L, P)
    amps = channels.linked_amplitudes(scenario.target_amplitudes(),
                                      channels.node_phases_rad(channel_seed, numbers, scenario.num_nodes))
    out = []
    for f in range(len(numbers)):
        geom = fim.SensingGeometry(**{**base.__dict__, "amplitudes": amps[f]})
        total, _ = fim.position_crb_from_fim_theta(jac @ fim.conditional_fim_psi(geom, x[f]) @ jac.T,
                                                   scenario.num_targets)
        out.append(math.inf if total is None else total)
    return np.array(out)


def default_gate_m(scenario):
    """c/(4B): the localiser's grid step, half the monostatic range resolution."""
    return geometry.SPEED_OF_LIGHT_M_S / (4 * scenario.bandwidth_hz)


def trial_statistics(scenario, wc, wr, estimates, seed, channel_seed, gate_m=None):
    """The statistics of `disac localize` (its module docstring) from {frame: estimate}; a dict."""
    gate = default_gate_m(scenario) if gate_m is None else gate_m
    frames = sorted(estimates)
    errors = np.array([matched_errors(np.asarray(estimates[f].positions_m), scenario.target_positions_m)
                       for f in frames])
    sq = np.sum(errors ** 2, axis=(1, 2))  # Σ_k ‖q̂_k − q_k‖² per trial
    failed = np.any(np.linalg.norm(errors, axis=2) > gate, axis=1)
    crb = fusion.position_crb_per_target_m2(fim.SensingGeometry.from_scenario(scenario), wc, wr).sum()
    crb_conditional = float(np.mean(conditional_crbs_m2(scenario, wc, wr, frames, seed, channel_seed)))
    mse = float(np.mean(sq)) if len(sq) else math.nan
    return {
        "scenario": scenario.name, "snr_db": scenario.target_snr_db, "trials": len(frames),
        "mse_m2": mse, "rmse_m": math.sqrt(mse), "crb_position_m2": float(crb),
        "mse_over_crb": mse / crb, "crb_conditional_m2": crb_conditional,
        "mse_over_crb_conditional": mse / crb_conditional,
        "failures": int(np.sum(failed)), "gate_m": float(gate),
        "mse_m2_without_failures": float(np.mean(sq[~failed])) if np.any(~failed) else math.nan,
    }
