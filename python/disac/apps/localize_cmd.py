"""`disac localize SCENARIO --trials N --snr-db S [--sinr-db G] [--seed] --json`: Monte-Carlo of the whole
sensing chain against the position CRB.

S is the paper's target SNR P_T·Σ|b|²/σ² (Sec. V): the scenario's β is replaced by
scenario.amplitude_for_target_snr(S, …). The precoders are designed at Γ_c = G (core.beamformer, position
objective; `--precoders` other kinds as in `disac node`). Each trial is one new frame — new data and radar
symbols, new oscillator phases, new noise — through the GNU Radio chain, run in one flowgraph for all N
frames: isac_tx (every node) → sensing_channel (every rx node, AWGN) → node_rx → snapshot_push
→ (ZeroMQ inproc) → central_unit (full ML search per frame). The contract (keys exactly so named):

    mse_m2                    mean over trials of Σ_k ‖q̂_k − q_k‖² (every trial, failures included)
    crb_position_m2           tr([F(Θ)^{-1}]_xy) of the expected FIM for the designed covariances (eq. 10–13)
    mse_over_crb              mse_m2 / crb_position_m2
    mse_over_crb_conditional  mse_m2 / the mean over trials of the conditional CRB (the FIM of the actual
                              frame X with the amplitudes b·e^{j(φ_m−φ_n)} of that frame, eq. 10 without
                              the expectation over the symbols)
    rmse_m                    √mse_m2
    trials                    frames localised
    failures                  trials with some target's error above gate_m (estimates matched to the
                              targets by the best permutation); gate_m defaults to c/(4B), the localiser's
                              grid step, i.e. half the monostatic range resolution: an estimate further
                              than that has left the main lobe of the likelihood

and, besides: crb_conditional_m2, mse_m2_without_failures, gate_m, snr_db, sinr_db, seed, frames_skipped,
elapsed_s.
"""

import itertools
import math
import sys
import time

import numpy as np

from ..core import channels, fim, fusion, geometry, ofdm, scenario as scenario_mod
from .cli import UsageError, finite_float, print_json
from .node_cmd import build_node_chain, load_checked_scenario, quiet_gnuradio_info, resolve_precoders

# a finite run waits this long at most per frame for the chain (a hang ends with an error, not for ever)
_SECONDS_PER_FRAME_LIMIT = 2.0


def register(subparsers):
    parser = subparsers.add_parser("localize", help="Monte-Carlo of the sensing chain and ML localiser: MSE vs CRB")
    parser.add_argument("scenario", help="a preset or a TOML file")
    parser.add_argument("--trials", type=int, default=200, help="frames (trials), default 200")
    parser.add_argument("--snr-db", type=finite_float("--snr-db", -60.0, 80.0), required=True,
                        help="target SNR in the paper's definition (dB)")
    parser.add_argument("--sinr-db", type=finite_float("--sinr-db", -50.0, 60.0), default=10.0,
                        help="SINR threshold Γ_c of the precoder design (dB, default 10)")
    parser.add_argument("--seed", type=int, default=0, help="data seed; the channel seed is seed + 1")
    parser.add_argument("--precoders", default="designed", metavar="KIND|FILE",
                        help="designed (default), default, random, or a wire PRECODERS file")
    parser.add_argument("--gate-m", type=finite_float("--gate-m", 0.0), default=None,
                        help="failure gate per target in metres (default c/(4B))")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=run_command)


def scenario_at_snr(scenario, snr_db):
    """The scenario with β set for the paper's target SNR (Sec. V)."""
    beta = scenario_mod.amplitude_for_target_snr(snr_db, scenario.per_antenna_power, scenario.noise_power,
                                                 scenario.num_targets, scenario.num_nodes)
    return scenario.replace(target_amplitude=beta)


def run_chain(scenario, wc, wr, frames, seed=0, channel_seed=1, search="full", nodes=None, timeout_s=3600.0):
    """Run the GNU Radio chain for `frames` frames in one process; returns (estimates by frame, status).

    nodes: the receiving nodes that report (default all); with some missing, each frame goes after
    timeout_s (the central unit's timeout: the default suits complete runs, where it never fires).
    """
    from gnuradio import gr

    from ..blocks.central_unit import central_unit

    address = f"inproc://disac-localize-{id(object())}-{time.monotonic_ns()}"
    tb = gr.top_block("disac_localize")
    cu = central_unit(scenario, seed, wc, wr, timeout_s=timeout_s, queue_depth=frames + 1, search=search,
                      address=address, bind=True, status_interval_s=0, keep_estimates=frames)
    build_node_chain(tb, scenario, range(scenario.num_nodes) if nodes is None else nodes, wc, wr, frames,
                     seed, channel_seed, address, hwm=frames + 16)
    from gnuradio import blocks

    sink = blocks.message_debug()  # the estimates are read from cu.estimates; this puts cu in the flowgraph
    tb.msg_connect((cu, "estimate"), (sink, "store"))
    tb.disac_blocks += [cu, sink]
    tb.start()
    deadline = time.monotonic() + 10.0 + _SECONDS_PER_FRAME_LIMIT * frames
    while time.monotonic() < deadline:
        with cu._lock:
            if cu.aligner.watermark >= frames - 1:
                break
        time.sleep(0.01)
    tb.stop()
    tb.wait()
    status = cu.status()
    if status["frames_released"] < frames:
        raise RuntimeError(f"the chain released {status['frames_released']} of {frames} frames in time: {status}")
    return {e.frame: e for e in cu.estimates}, status


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


def monte_carlo(scenario, wc, wr, trials, seed=0, channel_seed=1, gate_m=None):
    """The chain for `trials` frames and the statistics of the module docstring (a dict)."""
    started = time.perf_counter()
    estimates, status = run_chain(scenario, wc, wr, trials, seed, channel_seed)
    gate = geometry.SPEED_OF_LIGHT_M_S / (4 * scenario.bandwidth_hz) if gate_m is None else gate_m
    frames = sorted(estimates)
    errors = np.array([matched_errors(estimates[f].positions_m, scenario.target_positions_m) for f in frames])
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
        "frames_skipped": status["frames_skipped"], "seed": seed, "channel_seed": channel_seed,
        "elapsed_s": time.perf_counter() - started,
    }


def run_command(args):
    if args.trials < 1:
        raise UsageError(f"--trials {args.trials!r}: accepted: a positive number of trials")
    quiet_gnuradio_info()
    scenario = scenario_at_snr(load_checked_scenario(args.scenario), args.snr_db)
    for warning in scenario.warnings:
        print(f"disac: warning: {warning}", file=sys.stderr)
    wc, wr = resolve_precoders(scenario, args.precoders, args.sinr_db, args.seed)
    result = monte_carlo(scenario, wc, wr, args.trials, args.seed, args.seed + 1, args.gate_m)
    result["sinr_db"] = args.sinr_db if args.precoders == "designed" else None
    result["precoders"] = args.precoders
    if args.json:
        print_json(result)
        return 0
    print(f"localize {scenario.name}: {result['trials']} trials at target SNR {args.snr_db:g} dB, "
          f"{args.precoders} precoders" + (f" (Γ_c = {args.sinr_db:g} dB)" if args.precoders == "designed" else ""))
    print(f"  MSE {result['mse_m2']:.4g} m² (RMSE {result['rmse_m']:.4g} m), position CRB {result['crb_position_m2']:.4g} m²"
          f" → MSE/CRB {result['mse_over_crb']:.3f}; conditional CRB {result['crb_conditional_m2']:.4g} m²"
          f" → {result['mse_over_crb_conditional']:.3f}")
    print(f"  failures (error > {result['gate_m']:.3g} m): {result['failures']}; {result['elapsed_s']:.1f} s")
    return 0
