# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""`disac localize [SCENARIO] --trials N --snr-db S [--sinr-db G] [--seed] --json`: Monte-Carlo of the whole
sensing chain against the position CRB.

S is the paper's target SNR P_T·Σ|b|²/σ² (Sec. V): the scenario's β is replaced by
scenario.amplitude_for_target_snr(S, …). The precoders are designed at Γ_c = G (core.beamformer, --objective,
default paper; `--precoders` other kinds as in `disac node`). Each trial is one new frame — new data and radar
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
elapsed_s, and ``calibration`` {method, residuals, jumps, state, frames_used} (issue 13: ``--impairments
PRESET|FILE`` puts the [impairments] on the synthetic air; ``--calibration FILE|auto`` gives every node and
the central unit a calibration, jumps and state from the central unit's on-the-fly tracker). The receive
side (node receivers, central unit) is given the scenario without its [impairments] (docs/air-model.md §0).

Issue 14: on an impaired air the central unit subtracts the static background of every link (direct paths,
self-coupling, clutter: core.interference), learned from a clear-scene capture made before the run
(``--background auto``, the default when --impairments is given and not ideal: the synthetic air's capture
with the targets absent, as a deployment records one with the scene clear; ``--background FILE`` a saved one;
``none`` off). The JSON then has ``interference`` (what was learned and suppressed, beyond-CP flags) and
``crb_with_nuisance_m2`` (the bound with the suppressor's per-frame link amplitudes unknown) beside
``crb_position_m2``.

Issue 15, ``--unknown-k [--max-targets N] [--false-alarm-rate P]``: the central unit is not told K; it detects
K̂ ∈ 0 … N per frame (core.detection, GLRT stop rule at false-alarm rate P; default N = 4, P = 1e-3). The JSON
adds ``k_detected_rate`` (share of frames with K̂ = K), ``false_targets_per_frame``, ``missed_targets_per_frame``
(estimates matched to the targets within the gate, Hungarian; an estimate left unmatched is a false target),
``false_alarm_rate``, ``max_targets``, ``trials_k_correct`` and ``detected_count_histogram``; the MSE keys are
then over the frames with K̂ = K. A scenario with target amplitude 0 is the scene without echoes (K = 0).

Issue 16, ``--scheduler auto|local|none|ADDR [--dask-workers N] [--chunk-trials M]`` (docs/sweeps.md): the trials
run in chunks of M (default 250) frames, chunk c a flowgraph of its own with the seeds of core.sweep.plan_chunks
(chunk 0: --seed and --seed + 1, so a run of ≤ M trials is the run as before, frame for frame), on a Dask local
cluster (``local``; ``auto``, the default, when there is more than one chunk), an existing Dask scheduler
(``ADDR``) or in this process (``none``; ``auto`` with one chunk). The numbers depend on (seed, trials, M) only,
never on the scheduler. ``--chunk-trials 0``: every trial in one flowgraph (the numbers of gr-disac before issue
16 for runs of more than 250 trials; one chunk runs on one worker). The JSON adds ``chunks`` (per chunk: index,
first_trial, trials, seed, channel_seed, frames_skipped, elapsed_s, calibration), ``chunk_trials``,
``scheduler`` (what ran: none, local or the address) and ``dask_workers``; with several chunks ``calibration``
is chunk 0's (each chunk's is in ``chunks``: with ``--calibration auto`` every chunk's tracker starts afresh).
"""

import time

from ..core import sweep, trial_stats
from ..sweep_runs import chunk_tasks, chunked_statistics, run_chain, run_trial_chunk  # noqa: F401 (scripts use run_chain)
from ..core.trial_stats import conditional_crbs_m2, matched_errors, scenario_at_snr  # noqa: F401 (the names scripts use)
from .cli import (UsageError, add_background_arguments, add_impairment_arguments, add_scheduler_arguments,
                  add_unknown_k_arguments,
                  interference_report, resolve_suppressor, add_precoder_arguments, add_progress_option,
                  add_scenario_argument, finite_float, impaired_scenario, load_checked_scenario,
                  print_json, print_scenario_warnings, Progress, quiet_gnuradio_info, resolve_calibration,
                  resolve_precoders)


def register(subparsers):
    parser = subparsers.add_parser(
        "localize", help="Monte-Carlo of the sensing chain and ML localiser: MSE vs CRB",
        description="Monte-Carlo of the whole sensing chain (GNU Radio, one flowgraph: every node, ZeroMQ "
                    "inproc, the central unit) at a target SNR: MSE against the position CRB.")
    add_scenario_argument(parser)
    parser.add_argument("--trials", type=int, default=200, help="frames (trials), default 200")
    parser.add_argument("--snr-db", type=finite_float("--snr-db", -60.0, 80.0), required=True,
                        help="target SNR in the paper's definition (dB)")
    parser.add_argument("--seed", type=int, default=0, help="data seed; the channel seed is seed + 1")
    add_precoder_arguments(parser, default="designed")
    parser.add_argument("--gate-m", type=finite_float("--gate-m", 0.0), default=None,
                        help="failure gate per target in metres (default c/(4B))")
    add_impairment_arguments(parser)
    add_background_arguments(parser)
    add_progress_option(parser)
    add_unknown_k_arguments(parser)
    add_scheduler_arguments(parser)
    parser.add_argument("--chunk-trials", type=int, default=sweep.DEFAULT_CHUNK_TRIALS, metavar="M",
                        help="trials per flowgraph run, the unit of parallel work (default %(default)s; 0: all trials "
                             "in one run); the numbers depend on it, not on the scheduler")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=run_command)


def monte_carlo(scenario, wc, wr, trials, seed=0, channel_seed=1, gate_m=None, on_progress=None, calibration=None,
                suppressor=None, max_targets=None, false_alarm_rate=None, chunk_trials=None, executor=None):
    """The chain for `trials` frames and the statistics of the module docstring (a dict); ``suppressor`` (a
    core.interference.Suppressor or None) goes to the central unit; ``max_targets`` (≥ 1): K unknown.

    ``chunk_trials`` (default None: one chunk, every trial in one flowgraph as before issue 16): trials per run,
    core.sweep.plan_chunks; ``executor`` (core.sweep.open_executor's; default: this process) runs the chunks."""
    started = time.perf_counter()
    chunks = sweep.plan_chunks(trials, seed, chunk_trials, channel_seed)
    executor = executor or sweep.SerialExecutor()
    tasks = chunk_tasks(scenario, wc, wr, chunks, gate_m, calibration, suppressor, max_targets, false_alarm_rate)
    if isinstance(executor, sweep.SerialExecutor) and on_progress is not None:  # frame by frame, in this process
        outcomes = [run_trial_chunk(*task, on_progress=lambda done, first=chunk.first_trial: on_progress(first + done))
                    for task, chunk in zip(tasks, chunks)]
    else:
        outcomes = executor.map(run_trial_chunk, tasks, on_done=None if on_progress is None else (
            lambda done: on_progress(sum(c.trials for c in chunks[:done]))))
    result, _ = chunked_statistics(scenario, wc, wr, outcomes, gate_m, max_targets, false_alarm_rate)
    result.update(seed=seed, channel_seed=chunks[0].channel_seed, elapsed_s=time.perf_counter() - started,
                  chunk_trials=int(chunk_trials or 0),
                  scheduler=executor.address or executor.kind, dask_workers=executor.workers)
    result["interference"], result["crb_with_nuisance_m2"] = interference_report(
        suppressor, scenario.without_impairments(), wc, wr)
    from ..core import achievable  # issue 15: the achievable bound (docs/localization.md), mse_over_achievable

    bound = achievable.achievable_crb_m2(scenario.without_impairments(), wc, wr, seed=seed)
    result.update(crb_achievable_m2=bound["achievable_m2"], mse_over_achievable=result["mse_m2"] / bound["achievable_m2"])
    return result


def run_command(args):
    if args.trials < 1:
        raise UsageError(f"--trials {args.trials!r}: accepted: a positive number of trials")
    try:  # before the design and the captures: a bad --chunk-trials/--scheduler costs nothing
        chunks = sweep.plan_chunks(args.trials, args.seed, args.chunk_trials)
        sweep.check_scheduler(args.scheduler)
    except sweep.SweepError as exc:
        raise UsageError(str(exc).replace("chunk_trials", "--chunk-trials")) from None
    max_targets, false_alarm_rate = trial_stats.unknown_k_options(args.unknown_k, args.max_targets,
                                                                  args.false_alarm_rate, UsageError)
    quiet_gnuradio_info()
    scenario = impaired_scenario(scenario_at_snr(load_checked_scenario(args.scenario), args.snr_db), args)
    if not scenario.is_static:  # the statistics score every frame against the t = 0 targets and their CRB
        raise UsageError(f"scenario {scenario.name!r} moves ([targets] velocities_mps / appear_s / leave_s): "
                         "disac localize scores static scenes; accepted: a static scenario, or `disac track` for "
                         "a moving one")
    print_scenario_warnings(scenario)
    calibration = resolve_calibration(scenario, args, args.seed, args.seed + 1)
    wc, wr = resolve_precoders(scenario.without_impairments(), args.precoders, args.sinr_db, args.seed, args.objective)
    suppressor = resolve_suppressor(scenario, args, wc, wr, args.seed, args.seed + 1, calibration)
    progress = Progress(args.trials, "disac localize", args)
    try:
        with sweep.open_executor(args.scheduler, args.dask_workers, tasks=len(chunks)) as executor:
            result = monte_carlo(scenario, wc, wr, args.trials, args.seed, args.seed + 1, args.gate_m,
                                 progress.callback, calibration, suppressor, max_targets, false_alarm_rate,
                                 args.chunk_trials, executor)
    except sweep.SweepError as exc:
        raise UsageError(str(exc)) from None
    finally:
        progress.close()
    result["sinr_db"] = args.sinr_db if args.precoders == "designed" else None
    result["objective"] = args.objective if args.precoders == "designed" else None
    result["precoders"] = args.precoders
    if args.json:
        print_json(result)
        return 0
    print(f"localize {scenario.name}: {result['trials']} trials at target SNR {args.snr_db:g} dB, "
          f"{args.precoders} precoders" + (f" (Γ_c = {args.sinr_db:g} dB, objective {args.objective})"
                                           if args.precoders == "designed" else ""))
    print(f"  MSE {result['mse_m2']:.4g} m² (RMSE {result['rmse_m']:.4g} m), position CRB {result['crb_position_m2']:.4g} m²"
          f" → MSE/CRB {result['mse_over_crb']:.3f}; conditional CRB {result['crb_conditional_m2']:.4g} m²"
          f" → {result['mse_over_crb_conditional']:.3f}")
    print(f"  failures (error > {result['gate_m']:.3g} m): {result['failures']}; {result['elapsed_s']:.1f} s"
          f" ({len(result['chunks'])} chunk(s), scheduler {result['scheduler']}, {result['dask_workers']} worker(s))")
    if max_targets:
        print(f"  unknown K (≤ {max_targets}, P_fa {false_alarm_rate:g}): K̂ = K in {result['k_detected_rate']:.3f} of "
              f"frames; per frame {result['false_targets_per_frame']:.3g} false, "
              f"{result['missed_targets_per_frame']:.3g} missed targets")
    return 0
