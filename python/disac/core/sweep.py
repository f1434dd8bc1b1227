# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Monte-Carlo sweeps that scale out (issue 16 item 4): trials in chunks, a grid of scenario keys × target SNR
× Γ_c, per-trial records, their statistics, and the executor that runs the chunks (Dask or this process).

No GNU Radio here: a chunk's flowgraph is the caller's function (python/disac/sweep_runs.run_trial_chunk); this module
plans the chunks, combines what they return and runs the calls. docs/sweeps.md is the user's page.

**Chunks and seeds (decided here).** A `disac localize` run sends frames 0 … T − 1 of one (data seed, channel
seed) pair through one flowgraph, and a frame's noise is drawn from one generator per channel in stream order
(core.channels.awgn): frame f's noise depends on every sample drawn before it, so a run cannot be cut at a frame
f0 > 0 and reproduce frame f0 elsewhere. The unit of parallel work is therefore a whole run: chunk c of a
Monte-Carlo of T trials is the run of M = chunk_trials frames (the last one shorter) with the seed pair
(s_c, s_c + 1), where s_0 = seed (so a run of T ≤ M trials is today's run, frame for frame) and s_c for c ≥ 1 is
drawn from SeedSequence([SEED_DOMAIN, seed, c]) (31 bits, far from the small seeds people type). Chunk c is then
exactly `disac localize --seed s_c --trials M`, and the statistics over all chunks depend on (seed, T, M) only:
never on the scheduler, the number of workers or the order in which chunks finish (they are combined in chunk
order). Every grid point of a sweep uses the same seeds (common random numbers: the curves differ by the
setting, not by the draw), so a sweep point is `disac localize` of that point.

**Executors.** ``open_executor("none")``: every call in this process, in order. ``"local"``: a Dask LocalCluster
of worker processes (one thread each, BLAS single-threaded, loopback only, no dashboard), whose workers import
this very ``gnuradio.disac`` (a source tree's python/ is put on gnuradio's package path by a preload, as the
tests' conftest does). An address (``tcp://host:port``): an existing Dask scheduler; its workers must import the
same gr-disac version (checked on connect, with an error naming the workers that do not).
"""

import contextlib
import copy
import dataclasses
import itertools
import json
import math
import os
import tomllib

import numpy as np

from . import fim, fusion, scenario as scenario_mod, trial_stats

DEFAULT_CHUNK_TRIALS = 250  # trials per flowgraph run: ≥ every default/test run (one chunk: today's numbers)
SEED_DOMAIN = 0x5EEB_C4A2  # SeedSequence entropy word of the chunk seeds
SCHEDULER_NONE, SCHEDULER_LOCAL, SCHEDULER_AUTO = "none", "local", "auto"
# grid keys that the sweep's own axes set: the target SNR axis replaces β (trial_stats.scenario_at_snr)
_AXIS_KEYS = {"targets.snr_db": "--snr-db", "targets.amplitude": "--snr-db"}
# pairs of keys of which a scenario gives one: setting one in a grid drops the other from the base scenario
_EXCLUSIVE = {"users.snr_db": "users.noise_power", "users.noise_power": "users.snr_db",
              "calibration.reflector_snr_db": "calibration.reflector_amplitude",
              "calibration.reflector_amplitude": "calibration.reflector_snr_db"}


class SweepError(ValueError):
    """A bad sweep setting; the message names the value and what is accepted."""


# ---- chunks ---------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Chunk:
    """One flowgraph run of a Monte-Carlo: trials first_trial … first_trial + trials − 1 of the whole."""

    index: int
    first_trial: int
    trials: int
    seed: int
    channel_seed: int


def chunk_seed(seed, index):
    """The data seed of chunk ``index`` (its channel seed is this + 1, as `disac localize`'s): ``seed`` for
    chunk 0, else 31 bits of SeedSequence([SEED_DOMAIN, seed mod 2⁶⁴, index])."""
    if index == 0:
        return int(seed)
    state = np.random.SeedSequence([SEED_DOMAIN, int(seed) % 2 ** 64, int(index)]).generate_state(1, np.uint64)[0]
    return int(state >> np.uint64(33))


def plan_chunks(trials, seed, chunk_trials=DEFAULT_CHUNK_TRIALS, channel_seed=None):
    """The chunks of a Monte-Carlo of ``trials`` trials (module docstring); chunk_trials 0 or None: one chunk.
    ``channel_seed`` (default seed + 1) is chunk 0's; chunk c ≥ 1 has s_c + 1."""
    if isinstance(trials, bool) or not isinstance(trials, (int, np.integer)) or trials < 1:
        raise SweepError(f"trials {trials!r}: accepted: a whole number ≥ 1")
    size = int(trials) if not chunk_trials else int(chunk_trials)
    if size < 1:
        raise SweepError(f"chunk_trials {chunk_trials!r}: accepted: a whole number ≥ 1, or 0 for one chunk")
    chunks = []
    for index, first in enumerate(range(0, int(trials), size)):
        s = chunk_seed(seed, index)
        channel = s + 1 if index or channel_seed is None else int(channel_seed)
        chunks.append(Chunk(index, first, min(size, int(trials) - first), s, channel))
    return chunks


# ---- per-trial records and their statistics -------------------------------------------------------

def trial_records(scenario_rx, wc, wr, estimates, chunk, gate_m=None, unknown_k=False):
    """What one chunk's frames say, per trial (dict of lists, in frame order): the numbers that
    trial_stats.trial_statistics / unknown_k_statistics average, so that chunks combine exactly.

    Keys: trial (the whole run's index), chunk, seed, channel_seed, frame, detected (number of estimates),
    k_correct, squared_error_m2 (Σ_k ‖q̂_k − q_k‖², best permutation; NaN when K̂ ≠ K), max_target_error_m,
    failed, crb_conditional_m2 (the frame's conditional CRB; NaN when K̂ ≠ K), false_targets, missed_targets,
    estimates_m (the estimates as nested lists).
    """
    gate = trial_stats.default_gate_m(scenario_rx) if gate_m is None else float(gate_m)
    truth = trial_stats.true_targets_m(scenario_rx) if unknown_k else np.asarray(scenario_rx.target_positions_m, float)
    frames = sorted(estimates)
    positions = [np.asarray(estimates[f].positions_m, float).reshape(-1, 2) for f in frames]
    n = len(frames)
    k_correct = np.array([len(p) == len(truth) for p in positions], bool)
    if not unknown_k and not np.all(k_correct):
        bad = frames[int(np.argmin(k_correct))]
        raise SweepError(f"frame {bad}: {len(positions[frames.index(bad)])} estimates for K = {len(truth)} targets")
    scored = [f for f, ok in zip(frames, k_correct) if ok] if len(truth) else []
    sq = np.full(n, math.nan)
    worst = np.full(n, math.nan)
    crb_cond = np.full(n, math.nan)
    if scored:
        # the same array operations as trial_statistics (rows are independent: each frame's numbers are bit-equal)
        errors = np.array([trial_stats.matched_errors(positions[frames.index(f)], truth) for f in scored])
        where = np.flatnonzero(k_correct)
        sq[where] = np.sum(errors ** 2, axis=(1, 2))
        worst[where] = np.max(np.linalg.norm(errors, axis=2), axis=1)
        crb_cond[where] = trial_stats.conditional_crbs_m2(scenario_rx, wc, wr, scored, chunk.seed, chunk.channel_seed)
    false, missed = [], []
    for p in positions:
        matched = trial_stats.match_detections(p, truth, gate)[1] if unknown_k else len(truth)
        false.append(len(p) - matched)
        missed.append(len(truth) - matched)
    return {
        "trial": [chunk.first_trial + f for f in frames], "chunk": [chunk.index] * n, "seed": [chunk.seed] * n,
        "channel_seed": [chunk.channel_seed] * n, "frame": list(frames), "detected": [len(p) for p in positions],
        "k_correct": k_correct.tolist(), "squared_error_m2": sq.tolist(), "max_target_error_m": worst.tolist(),
        "failed": [bool(w > gate) for w in worst], "crb_conditional_m2": crb_cond.tolist(),
        "false_targets": false, "missed_targets": missed, "estimates_m": [p.tolist() for p in positions],
    }


def combine_records(records):
    """The records of several chunks as one (lists concatenated in the order given: chunk order)."""
    records = list(records)
    if not records:
        raise SweepError("no chunk records to combine")
    return {key: list(itertools.chain.from_iterable(r[key] for r in records)) for key in records[0]}


def statistics(scenario_rx, wc, wr, records, gate_m=None, max_targets=None, false_alarm_rate=None):
    """The statistics of `disac localize` (apps/localize_cmd.py's docstring; trial_stats.trial_statistics, and
    with ``max_targets`` unknown_k_statistics) from combined records. On a single chunk they equal those
    functions' numbers exactly (tests/test_sweep.py)."""
    gate = trial_stats.default_gate_m(scenario_rx) if gate_m is None else float(gate_m)
    n = len(records["trial"])
    correct = np.asarray(records["k_correct"], bool)
    sq = np.asarray(records["squared_error_m2"], float)[correct]
    failed = np.asarray(records["failed"], bool)[correct]
    truth_count = len(trial_stats.true_targets_m(scenario_rx)) if max_targets else scenario_rx.num_targets
    out = {}
    if max_targets:
        out.update({
            "k_detected_rate": float(np.sum(correct)) / n if n else math.nan,
            "false_targets_per_frame": sum(records["false_targets"]) / n if n else math.nan,
            "missed_targets_per_frame": sum(records["missed_targets"]) / n if n else math.nan,
            "true_targets": truth_count,
            "detected_count_histogram": np.bincount(np.asarray(records["detected"], int), minlength=1).tolist()
            if n else []})
    if truth_count and len(sq):
        crb = fusion.position_crb_per_target_m2(fim.SensingGeometry.from_scenario(scenario_rx), wc, wr).sum()
        crb_conditional = float(np.mean(np.asarray(records["crb_conditional_m2"], float)[correct]))
        mse = float(np.mean(sq))
        out.update({
            "scenario": scenario_rx.name, "snr_db": scenario_rx.target_snr_db, "trials": len(sq),
            "mse_m2": mse, "rmse_m": math.sqrt(mse), "crb_position_m2": float(crb), "mse_over_crb": mse / crb,
            "crb_conditional_m2": crb_conditional, "mse_over_crb_conditional": mse / crb_conditional,
            "failures": int(np.sum(failed)), "gate_m": float(gate),
            "mse_m2_without_failures": float(np.mean(sq[~failed])) if np.any(~failed) else math.nan})
    else:
        out.update({"scenario": scenario_rx.name, "snr_db": scenario_rx.target_snr_db if truth_count else None,
                    "mse_m2": math.nan, "rmse_m": math.nan, "crb_position_m2": math.nan, "mse_over_crb": math.nan,
                    "crb_conditional_m2": math.nan, "mse_over_crb_conditional": math.nan, "failures": 0,
                    "gate_m": float(gate), "mse_m2_without_failures": math.nan})
    if max_targets:
        out.update(trials_k_correct=int(np.sum(correct)), trials=n, max_targets=max_targets,
                   false_alarm_rate=false_alarm_rate)
    return out


# ---- the grid of a sweep ----------------------------------------------------------------------------

def accepted_keys():
    """The scenario keys a grid may set: every key of the scenario TOML's tables (core.scenario's schema)."""
    return sorted(f"{table}.{key}" for table, keys in scenario_mod._SCHEMA.items() for key in keys)


def parse_values(text, what):
    """``V1,V2,…`` as a list of TOML values (numbers, lists such as [[50.0, 0.0]], "strings"); a bare word is a
    string. SweepError naming ``what`` when it is empty or cannot be read."""
    text = str(text).strip()
    if not text:
        raise SweepError(f"{what}: no values; accepted: V1,V2,… (TOML values, e.g. 16,32 or [[50.0, 0.0]],[[60.0, 0.0]])")
    try:
        values = tomllib.loads(f"v = [{text}]")["v"]
    except tomllib.TOMLDecodeError:
        values = []
        for item in _split_top_level(text):
            try:
                values.append(tomllib.loads(f"v = {item}")["v"])
            except tomllib.TOMLDecodeError:
                if not item or any(c in item for c in "[]{}\"'="):
                    raise SweepError(f"{what}: {item!r} is not a value; accepted: TOML numbers, lists or strings, "
                                     "separated by commas") from None
                values.append(item)
    if not values:
        raise SweepError(f"{what}: no values; accepted: V1,V2,…")
    return values


def _split_top_level(text):
    items, depth, current = [], 0, []
    for ch in text:
        depth += ch == "["
        depth -= ch == "]"
        if ch == "," and depth == 0:
            items.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    items.append("".join(current).strip())
    return items


def parse_grid(specs):
    """[(key, [values])] from --grid KEY=V1,V2,… options; SweepError naming a bad key (with the accepted ones),
    a key given twice or a key the sweep's own axes set."""
    grid, seen = [], set()
    for spec in specs or ():
        key, sep, values = str(spec).partition("=")
        key = key.strip()
        if not sep:
            raise SweepError(f"--grid {spec!r}: accepted: KEY=V1,V2,… (e.g. ofdm.subcarriers=16,32)")
        if key in _AXIS_KEYS:
            raise SweepError(f"--grid {key}: set by the sweep's {_AXIS_KEYS[key]} axis; accepted keys: "
                             + ", ".join(k for k in accepted_keys() if k not in _AXIS_KEYS))
        if key not in accepted_keys():
            raise SweepError(f"--grid {key!r}: unknown scenario key; accepted: "
                             + ", ".join(k for k in accepted_keys() if k not in _AXIS_KEYS))
        if key in seen:
            raise SweepError(f"--grid {key}: given twice; accepted: each key once, with all its values")
        seen.add(key)
        grid.append((key, parse_values(values, f"--grid {key}")))
    return grid


def scenario_document(name_or_path):
    """The scenario's TOML document (nested dicts) and its name: a preset's table, or the file read."""
    key = scenario_mod.PRESET_ALIASES.get(str(name_or_path), str(name_or_path))
    if key in scenario_mod.PRESETS:
        return copy.deepcopy(scenario_mod.PRESETS[key]), key
    scenario_mod.load_scenario(name_or_path)  # its own error for an unknown preset or a bad file
    path = str(name_or_path)
    return scenario_mod.read_toml_file(path, "scenario file"), path.rsplit("/", 1)[-1].removesuffix(".toml")


def with_overrides(document, name, overrides):
    """The Scenario of ``document`` with ``overrides`` [(key, value)] set; SweepError naming the key and value
    when the scenario then fails its checks (core.scenario's message)."""
    data = copy.deepcopy(document)
    given = {k for k, _ in overrides}
    for key, value in overrides:
        table, field = key.split(".", 1)
        data.setdefault(table, {})[field] = value
        other = _EXCLUSIVE.get(key)
        if other is not None and other not in given:  # e.g. users.noise_power replaces the preset's users.snr_db
            data[table].pop(other.split(".", 1)[1], None)
    label = name + "".join(f"[{k}={json.dumps(v)}]" for k, v in overrides)
    data["name"] = label
    try:
        return scenario_mod.scenario_from_dict(data, name=label)
    except scenario_mod.ScenarioError as exc:
        what = ", ".join(f"{k} = {json.dumps(v)}" for k, v in overrides)
        raise SweepError(f"--grid {what}: {exc}") from None


@dataclasses.dataclass(frozen=True)
class GridPoint:
    """One point of a sweep: the scenario keys set, the target SNR and Γ_c (None: precoders not designed)."""

    index: int
    overrides: tuple  # ((key, value), …)
    snr_db: float
    sinr_db: object


def grid_points(grid, snrs_db, sinrs_db):
    """Every combination, keys first (in the order given), then SNR, then Γ_c (the last varies fastest)."""
    keys = [k for k, _ in grid]
    combos = itertools.product(*(values for _, values in grid)) if grid else [()]
    points = []
    for combo in combos:
        for snr in snrs_db:
            for sinr in sinrs_db:
                points.append(GridPoint(len(points), tuple(zip(keys, combo)), float(snr),
                                        None if sinr is None else float(sinr)))
    return points


# ---- executors ----------------------------------------------------------------------------------------

class SerialExecutor:
    """Every call in this process, in order."""

    kind = SCHEDULER_NONE
    workers = 1
    address = None

    def map(self, function, items, on_done=None):
        results = []
        for item in items:
            results.append(function(*item))
            if on_done is not None:
                on_done(len(results))
        return results


class DaskExecutor:
    """Calls as Dask tasks on ``client``; results in the order given (whatever order they finish in)."""

    def __init__(self, client, kind, address):
        self.client, self.kind, self.address = client, kind, address
        self.workers = len(client.scheduler_info(n_workers=-1)["workers"])

    def map(self, function, items, on_done=None):
        from distributed import as_completed

        items = list(items)
        futures = [self.client.submit(function, *item, pure=False) for item in items]
        done = 0
        try:
            for _ in as_completed(futures):
                done += 1
                if on_done is not None:
                    on_done(done)
            return [f.result() for f in futures]
        finally:
            for future in futures:
                future.release()


def source_python_dir():
    """The folder that plays gnuradio/ for this gr-disac when it runs from a source tree (python/), else None
    (an installed gr-disac lives in a gnuradio/ folder that every Python of that venv finds)."""
    parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # …/disac
    top = os.path.dirname(parent)
    return None if os.path.basename(top) == "gnuradio" else top


def worker_preload():
    """A Dask preload script (text) that makes ``gnuradio.disac`` this gr-disac in a worker process."""
    top = source_python_dir()
    if top is None:
        return None
    return ("import gnuradio, sys\n"
            f"_source = {top!r}\n"
            "if _source not in gnuradio.__path__:\n"
            "    gnuradio.__path__.insert(0, _source)\n"
            # a spawned worker may have imported an installed gr-disac already (multiprocessing re-imports the
            # parent's main module, e.g. gnuradio.disac.apps.cli): forget every module of it
            "for _name in [m for m in sys.modules if m == 'gnuradio.disac' or m.startswith('gnuradio.disac.')]:\n"
            "    del sys.modules[_name]\n")


WORKER_ENVIRONMENT = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def default_dask_workers():
    return max(1, min(4, os.cpu_count() or 1))


def check_scheduler(scheduler):
    """``scheduler`` normalised: "none", "local", "auto" or a Dask address; SweepError otherwise."""
    text = str(scheduler).strip()
    if text in (SCHEDULER_NONE, SCHEDULER_LOCAL, SCHEDULER_AUTO):
        return text
    if "://" in text or (":" in text and text.rsplit(":", 1)[1].isdigit()):
        return text
    raise SweepError(f"--scheduler {scheduler!r}: accepted: auto, local (a Dask cluster of worker processes on this "
                     "machine), none (in this process), or a Dask scheduler address such as tcp://127.0.0.1:8786")


@contextlib.contextmanager
def open_executor(scheduler, dask_workers=None, tasks=None):
    """An executor for ``scheduler`` (check_scheduler); "auto" is "local" when ``tasks`` > 1, else "none"
    (a single task gains nothing from a cluster and would pay its start). Closes what it opened."""
    requested = scheduler
    scheduler = check_scheduler(scheduler)
    if scheduler == SCHEDULER_AUTO:
        scheduler = SCHEDULER_LOCAL if (tasks or 0) > 1 else SCHEDULER_NONE
    if scheduler == SCHEDULER_NONE:
        if dask_workers is not None and str(requested).strip() == SCHEDULER_NONE:
            raise SweepError(f"--dask-workers {dask_workers}: applies to a local cluster (--scheduler local or auto), "
                             "not to --scheduler none")
        yield SerialExecutor()
        return
    if dask_workers is not None and (isinstance(dask_workers, bool) or int(dask_workers) < 1):
        raise SweepError(f"--dask-workers {dask_workers!r}: accepted: a whole number ≥ 1")
    from distributed import Client, LocalCluster

    if scheduler == SCHEDULER_LOCAL:
        workers = int(dask_workers or default_dask_workers())
        preload = worker_preload()
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                          dashboard_address=None, memory_limit=0, env=dict(WORKER_ENVIRONMENT),
                          preload=[preload] if preload else [], silence_logs=40) as cluster, \
                Client(cluster) as client:
            client.wait_for_workers(workers, timeout=120)
            _check_workers(client, SCHEDULER_LOCAL, same_file=True)
            yield DaskExecutor(client, SCHEDULER_LOCAL, cluster.scheduler_address)
        return
    if dask_workers is not None:
        raise SweepError(f"--dask-workers {dask_workers}: applies to --scheduler local/auto only (an existing "
                         f"cluster at {scheduler} has the workers it has)")
    try:
        client = Client(scheduler, timeout=30)
    except OSError as exc:
        raise SweepError(f"--scheduler {scheduler}: cannot reach a Dask scheduler there ({exc})") from None
    with client:
        _check_workers(client, scheduler)
        yield DaskExecutor(client, scheduler, scheduler)


def _check_workers(client, address, same_file=False):
    """SweepError unless every worker imports this gr-disac: the same version (an existing cluster), the very same
    files (``same_file``: a local cluster, whose workers must run this source tree). Without the check, a task
    whose function a worker cannot import would never finish (Dask retries the worker)."""
    from .. import __version__

    if not client.scheduler_info(n_workers=-1)["workers"]:
        raise SweepError(f"--scheduler {address}: the cluster has no workers")
    if same_file:
        expected = os.path.abspath(__file__)
        probe = "__import__('gnuradio.disac.core.sweep', fromlist=['x']).__file__"
    else:
        expected = __version__
        probe = "getattr(__import__('gnuradio.disac', fromlist=['__version__']), '__version__', None)"
    found = client.run(eval, probe, on_error="return")
    wrong = {worker: (f"none ({type(value).__name__}: {value})" if isinstance(value, BaseException) else value)
             for worker, value in found.items() if value != expected}
    if wrong:
        raise SweepError(f"--scheduler {address}: workers {sorted(wrong)} import gr-disac "
                         f"{sorted(set(map(str, wrong.values())))}, not {expected}; accepted: workers that run this "
                         "gr-disac (installed by tools/setup.sh, or this source tree for a local cluster)")
