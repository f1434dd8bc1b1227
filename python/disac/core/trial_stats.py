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


def true_targets_m(scenario):
    """The targets that echo: the scenario's positions, none when its amplitude β is 0 (a scene without echoes,
    the K = 0 case: a scenario file needs ≥ 1 target position). The truth side only."""
    if scenario.target_amplitude == 0:
        return np.zeros((0, 2))
    return np.asarray(scenario.target_positions_m, float).reshape(-1, 2)


def match_detections(estimate_m, truth_m, gate_m):
    """(estimate index → truth index or −1, number matched): the assignment of least total squared distance
    (Hungarian) among estimate–truth pairs within gate_m. An estimate left unmatched is a false target, a truth
    left unmatched a missed one."""
    from .detection import assign_to_prior

    assigned = assign_to_prior(estimate_m, truth_m, gate_m)
    return assigned, int(np.sum(assigned >= 0))


def detection_statistics(truth_m, estimates, gate_m):
    """Unknown-K figures over {frame: estimate} (issue 15): k_detected_rate (share of frames with K̂ = K),
    false_targets_per_frame, missed_targets_per_frame (estimates matched to the truth within gate_m:
    match_detections), and the histogram of K̂ (``detected_count_histogram``, index K̂)."""
    truth = np.asarray(truth_m, float).reshape(-1, 2)
    frames = sorted(estimates)
    counts, false, missed, correct = [], 0, 0, 0
    for f in frames:
        positions = np.asarray(estimates[f].positions_m, float).reshape(-1, 2)
        _, matched = match_detections(positions, truth, gate_m)
        counts.append(len(positions))
        false += len(positions) - matched
        missed += len(truth) - matched
        correct += len(positions) == len(truth)
    n = len(frames)
    return {
        "k_detected_rate": correct / n if n else math.nan,
        "false_targets_per_frame": false / n if n else math.nan,
        "missed_targets_per_frame": missed / n if n else math.nan,
        "true_targets": len(truth),
        "detected_count_histogram": np.bincount(np.asarray(counts, int), minlength=1).tolist() if n else [],
    }


def unknown_k_statistics(scenario, wc, wr, estimates, seed, channel_seed, gate_m=None, max_targets=None,
                         false_alarm_rate=None):
    """`disac localize --unknown-k`: detection_statistics over every frame, and the statistics of
    trial_statistics (MSE, CRBs, failures) over the frames with K̂ = K (``trials_k_correct`` of them; NaN when
    none, or when the scene has no echo)."""
    gate = default_gate_m(scenario) if gate_m is None else gate_m
    truth = true_targets_m(scenario)
    out = detection_statistics(truth, estimates, gate)
    correct = {f: e for f, e in estimates.items() if len(np.asarray(e.positions_m).reshape(-1, 2)) == len(truth)}
    if len(truth) and correct:
        out.update(trial_statistics(scenario, wc, wr, correct, seed, channel_seed, gate))
    else:
        out.update({"scenario": scenario.name, "snr_db": scenario.target_snr_db if len(truth) else None,
                    "mse_m2": math.nan, "rmse_m": math.nan, "crb_position_m2": math.nan, "mse_over_crb": math.nan,
                    "crb_conditional_m2": math.nan, "mse_over_crb_conditional": math.nan, "failures": 0,
                    "gate_m": float(gate), "mse_m2_without_failures": math.nan})
    out["trials_k_correct"] = len(correct)
    out["trials"] = len(estimates)
    out["max_targets"] = max_targets
    out["false_alarm_rate"] = false_alarm_rate
    return out


DEFAULT_MAX_TARGETS = 4  # `disac localize --unknown-k` without --max-targets


def unknown_k_options(unknown_k, max_targets, false_alarm_rate, error=ValueError):
    """(max_targets or None, false_alarm_rate or None) of `disac localize`'s --unknown-k, --max-targets and
    --false-alarm-rate; ``error`` (the app's UsageError) naming a bad or orphaned value."""
    from .detection import DEFAULT_FALSE_ALARM_RATE

    if not unknown_k:
        for name, value in (("--max-targets", max_targets), ("--false-alarm-rate", false_alarm_rate)):
            if value is not None:
                raise error(f"{name} {value!r}: applies with --unknown-k only")
        return None, None
    count = DEFAULT_MAX_TARGETS if max_targets is None else max_targets
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise error(f"--max-targets {max_targets!r}: accepted: a whole number ≥ 1")
    rate = DEFAULT_FALSE_ALARM_RATE if false_alarm_rate is None else float(false_alarm_rate)
    if not 0 < rate < 1:
        raise error(f"--false-alarm-rate {false_alarm_rate!r}: accepted: a probability strictly between 0 and 1")
    return count, rate
