# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Central-unit benchmarks (issue 6): localisation latency per frame, MSE/CRB, and ZeroMQ snapshot throughput.

1. Latency: core.fusion.FrameEstimator — what the central unit's worker does per frame: regenerate every
   node's X_m (eq. 1) from the seed and the precoders, run the ML localiser (eq. 9), attach the CRB — on
   snapshots with the PHY's frames, oscillator phases and noise (the node_rx output, eq. 3/5), for the
   paper scenario (N = 2, Mr = 16, L = 16, K = 2) and the four-nodes preset (N = 4, K = 3), precoders
   designed at Γ_c = 10 dB. Search "full" (grid + refinement every frame) and "track" (refinement from
   the previous estimate, full search when the residual test fails). Target SNR: the scenario's (0 dB).
   Alongside, MSE against the conditional and expected-FIM CRBs at a high target SNR (--mse-snr-db).
2. MSE/CRB vs target SNR (--curve): the whole GNU Radio chain (apps/localize_cmd.monte_carlo) on the
   paper scenario, the table of docs/localization.md.
3. Throughput: snapshot_push (node side: PDU → wire → ZeroMQ PUSH) in one process, a PULL receiver doing
   the central unit's input path (wire.decode + frame alignment) in another, tcp://127.0.0.1.
4. Localisation workers (issue 16 item 3, --workers): frames/s of blocks.central_unit with one worker thread
   (workers=1) and two worker processes (workers=2), interleaved run by run; ratio (target ≥ 1.8×); beside them
   the CPU per frame the runs used (the unit process, its localisation thread, the workers: /proc) and the ratio
   those figures allow on two free cores (predicted_ratio), the figure to read on a shared machine.
5. The CPU per frame of each part of the worker path in a tight loop (process_time: little changed by load), and
   the ratio two workers reach on two free cores from it (the unit's share is serial).

Run on one core:  OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/bench_central_unit.py [--curve]
"""

import argparse
import multiprocessing
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
HERE = os.path.dirname(os.path.abspath(__file__))

import gnuradio  # noqa: E402

gnuradio.__path__.insert(0, os.path.join(HERE, "..", "python"))

import numpy as np  # noqa: E402

from gnuradio.disac.apps import localize_cmd, node_cmd  # noqa: E402
from gnuradio.disac.core import channels, fim, fusion, localizer, model, ofdm, scenario, wire  # noqa: E402


def phy_snapshot(scn, wc, wr, frame, seed, channel_seed, rng):
    layout = ofdm.layout_from_scenario(scn)
    x = np.stack([ofdm.transmitted_frames(layout, seed, [frame], m, wc[m], wr[m])[0] for m in range(scn.num_nodes)])
    amps = channels.linked_amplitudes(scn.target_amplitudes(), channels.node_phases_rad(channel_seed, [frame], scn.num_nodes))[0]
    y = model.sensing_mean(scn.target_angles_rad(), scn.target_delays_s(), amps, x, scn.rx_antennas, scn.bandwidth_hz)
    noise = np.sqrt(scn.noise_power / 2) * (rng.standard_normal(y.shape) + 1j * rng.standard_normal(y.shape))
    return (y + noise).astype(np.complex64)


def latency(scn, wc, wr, search, frames, seed=0):
    """(ms per frame array, squared errors per frame, conditional CRBs, full searches) of the estimator."""
    table = fusion.PrecoderTable(ofdm.layout_from_scenario(scn))
    table.set_all(0, wc, wr)
    est = fusion.FrameEstimator(scn, seed, localizer.Localizer.from_scenario(scn), search=search)
    est.crb_m2(table, 0)  # once per precoder version, not per frame
    rng = np.random.default_rng(seed)
    times, sq = [], []
    for f in range(frames):
        y = phy_snapshot(scn, wc, wr, f, seed, seed + 1, rng)
        fs = fusion.FrameSet(f, {n: y[n] for n in range(scn.num_nodes)}, {n: 0 for n in range(scn.num_nodes)}, 0.0)
        t0 = time.perf_counter()
        e = est.estimate(fs, table)
        times.append(1e3 * (time.perf_counter() - t0))
        sq.append(np.sum(localize_cmd.matched_errors(e.positions_m, scn.target_positions_m) ** 2))
    crb_cond = localize_cmd.conditional_crbs_m2(scn, wc, wr, np.arange(frames), seed, seed + 1)
    return np.array(times), np.array(sq), crb_cond, est.full_searches


def bench_latency(frames, mse_frames, mse_snr_db):
    print(f"== 1. localisation latency per frame at the central unit (OPENBLAS_NUM_THREADS="
          f"{os.environ.get('OPENBLAS_NUM_THREADS')}; {frames} frames at the scenario's target SNR)")
    print(f"{'scenario':22} {'search':6} {'median ms':>9} {'p90 ms':>7} {'min ms':>7} {'full searches':>13} "
          f"{'MSE/CRB_cond @' + format(mse_snr_db, 'g') + ' dB':>21} {'MSE/CRB_exp':>11}")
    for name in ("paper", "four-nodes"):
        base = scenario.load_scenario(name)
        wc, wr = node_cmd.resolve_precoders(base, "designed", 10.0)
        high = localize_cmd.scenario_at_snr(base, mse_snr_db)
        wc_h, wr_h = node_cmd.resolve_precoders(high, "designed", 10.0)
        crb_exp = fusion.position_crb_per_target_m2(fim.SensingGeometry.from_scenario(high), wc_h, wr_h).sum()
        for search in ("full", "track"):
            times, _, _, full = latency(base, wc, wr, search, frames)
            _, sq, crb_cond, _ = latency(high, wc_h, wr_h, search, mse_frames, seed=7)
            print(f"{name + f' (N={base.num_nodes}, K={base.num_targets})':22} {search:6} {np.median(times):9.1f} "
                  f"{np.percentile(times, 90):7.1f} {times.min():7.1f} {full:>8d}/{frames:<4d} "
                  f"{sq.mean() / crb_cond.mean():21.3f} {sq.mean() / crb_exp:11.3f}")


def bench_curve(trials, snrs):
    print(f"\n== 2. MSE/CRB vs target SNR: paper scenario, designed precoders (Γ_c = 10 dB), {trials} trials each,"
          " whole GNU Radio chain, full search")
    print("| target SNR (dB) | MSE (m²) | expected-FIM CRB (m²) | MSE/CRB | mean conditional CRB (m²) | MSE/CRB_cond "
          "| failures (> 7.5 m) | MSE without failures / CRB_cond |")
    print("|---|---|---|---|---|---|---|---|")
    base = scenario.load_scenario("paper")
    for snr in snrs:
        scn = localize_cmd.scenario_at_snr(base, snr)
        wc, wr = node_cmd.resolve_precoders(scn, "designed", 10.0)
        r = localize_cmd.monte_carlo(scn, wc, wr, trials, seed=0, channel_seed=1)
        print(f"| {snr:g} | {r['mse_m2']:.4g} | {r['crb_position_m2']:.4g} | {r['mse_over_crb']:.3f} | "
              f"{r['crb_conditional_m2']:.4g} | {r['mse_over_crb_conditional']:.3f} | {r['failures']} | "
              f"{r['mse_m2_without_failures'] / r['crb_conditional_m2']:.3f} |", flush=True)


def _sender(address, shape, count, ready):
    import gnuradio as gr_pkg

    gr_pkg.__path__.insert(0, os.path.join(HERE, "..", "python"))
    from gnuradio.disac.blocks import tags
    from gnuradio.disac.blocks.snapshot_push import snapshot_push

    push = snapshot_push(address, False, "push", hwm=100_000)
    rng = np.random.default_rng(0)
    samples = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)
    meta = tags.snapshot_meta(0, shape)
    pdus = [tags.snapshot_to_pmt(meta, f, 0, samples) for f in range(min(count, 64))]
    ready.wait()
    t0 = time.perf_counter()
    for f in range(count):
        push.handle_snapshot(pdus[f % len(pdus)] if f < len(pdus) else tags.snapshot_to_pmt(meta, f, 0, samples))
    push.stop()
    print(f"   sender: {count / (time.perf_counter() - t0):9.0f} snapshots/s (PDU → wire → ZeroMQ)", flush=True)


def throughput(shape, seconds):
    """(frames/s, MB/s, received, sent) of snapshots of ``shape`` node → central unit input path."""
    import zmq

    size = len(wire.encode(wire.SnapshotMessage(0, 0, 0, 0, 0, np.zeros(shape, np.complex64))))
    count = max(200, int(seconds * 6000 * min(1.0, 2121 / size)))  # ~`seconds` at the measured rates
    sock = zmq.Context.instance().socket(zmq.PULL)
    port = sock.bind_to_random_port("tcp://127.0.0.1")
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    proc = ctx.Process(target=_sender, args=(f"tcp://127.0.0.1:{port}", shape, count, ready))
    proc.start()
    aligner = fusion.FrameAligner(1, timeout_s=1.0, max_pending_frames=8)
    ready.set()
    got, nbytes, t0 = 0, 0, None
    while got < count:
        if not sock.poll(20_000):
            break
        data = sock.recv(copy=False)
        if t0 is None:
            t0 = time.perf_counter()
        m = wire.decode(data.buffer)
        aligner.add(m.node_id, m.frame_number, m.precoder_version, m.snapshot, 0.0)
        got += 1
        nbytes += len(data.buffer)
    elapsed = time.perf_counter() - t0
    proc.join()
    sock.close(0)
    # the first message starts the clock: count the rest
    return (got - 1) / elapsed, (nbytes - size) / elapsed / 1e6, got, count


def bench_throughput(seconds):
    print("\n== 3. ZeroMQ snapshot throughput node → central unit, tcp://127.0.0.1, separate processes")
    print(f"{'snapshot (Mr, L, P)':22} {'bytes/msg':>9} {'frames/s':>9} {'MB/s':>8}")
    for shape in ((16, 16, 1), (16, 16, 2), (16, 1024, 4)):
        size = len(wire.encode(wire.SnapshotMessage(0, 0, 0, 0, 0, np.zeros(shape, np.complex64))))
        rate, mb_s, got, count = throughput(shape, seconds)
        print(f"{str(shape):22} {size:9d} {rate:9.0f} {mb_s:8.1f}   ({got} received of {count})", flush=True)


def _cu_run(cu, scn, snapshots, first_frame, count, wait_s=900.0):
    """Feed ``count`` frames (numbers first_frame …; snapshots[f]: frame f's, made with frame f's X_m, so the unit's
    model fits them) to a started central unit at once; seconds until the last
    one is localised (an estimate listener stamps it: no polling loop of this harness competes with the workers
    for the CPU) or, for a frame skipped instead, until the counters (read every 50 ms) account for all."""
    import threading

    localised, done, stamp = [0], threading.Event(), [None]

    def listener(_estimate):
        localised[0] += 1
        if localised[0] == count:
            stamp[0] = time.perf_counter()
            done.set()

    def accounted():
        status = cu.status()
        return status["frames_localised"] + status["frames_skipped"]

    before = accounted()
    cu.listeners.append(listener)
    try:
        t0 = time.perf_counter()
        for i in range(count):
            f = first_frame + i
            for n in range(scn.num_nodes):
                cu.handle_wire(wire.encode(wire.SnapshotMessage(n, f, 0, 0, 0, snapshots[f][n])))
        deadline = t0 + wait_s
        while not done.wait(0.05):
            if accounted() >= before + count:  # some frame skipped: the listener will not count to the end
                return time.perf_counter() - t0
            if time.perf_counter() > deadline:
                raise RuntimeError(f"central unit: {accounted() - before} of {count} frames after {wait_s} s")
        return stamp[0] - t0
    finally:
        cu.listeners.remove(listener)


def _cpu_seconds(stat_path):
    """utime + stime of a /proc/…/stat file (a process or one thread), seconds (clock ticks: 10 ms resolution)."""
    with open(stat_path) as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _unit_cpu_clocks(cu):
    """name → CPU seconds so far of what a run costs: the whole unit process, the unit's localisation thread
    (disac-cu-worker: prepare + search + finish with one worker thread; prepare + TASK/RESULT + finish, the
    serial share, with worker processes) and each worker process."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    clocks = {"unit": usage.ru_utime + usage.ru_stime}
    for thread in cu._threads:
        if thread.name == "disac-cu-worker" and thread.native_id is not None:
            clocks["unit thread"] = _cpu_seconds(f"/proc/self/task/{thread.native_id}/stat")
    pool = cu._pool
    for index, proc in enumerate(pool.processes if pool is not None else ()):
        clocks[f"worker {index}"] = _cpu_seconds(f"/proc/{proc.pid}/stat")
    return clocks


def workers_throughput(name, workers, frames, repeats, seed=0, cpu_out=None):
    """{workers: [frames/s per repeat]} of blocks.central_unit (full search, designed precoders at Γ_c = 10 dB):
    the modes interleaved run by run (side by side under the same load). Each unit is warmed up first (its
    workers started, HELLOs seen, 4 frames per worker localised: every worker's localiser grid built), then
    ``frames`` frames are fed at once and timed until the last is accounted for. ``cpu_out`` (a dict): filled
    with {workers: [{clock: CPU ms per frame}]} of the timed runs (_unit_cpu_clocks)."""
    from gnuradio.disac.blocks.central_unit import central_unit

    scn = scenario.load_scenario(name)
    wc, wr = node_cmd.resolve_precoders(scn, "designed", 10.0)
    rng = np.random.default_rng(seed)
    # one per frame number: a snapshot fed under another frame's number would not fit the X_m the unit
    # regenerates for it (the search would then run to its iteration limit on a model that cannot fit)
    snapshots = [phy_snapshot(scn, wc, wr, f, seed, seed + 1, rng) for f in range(4 * max(workers) + frames)]
    rates = {w: [] for w in workers}
    for _ in range(repeats):
        for w in workers:
            cu = central_unit(scn, seed, wc, wr, workers=w, queue_depth=frames + 8 * w, status_interval_s=0,
                              keep_estimates=1)
            cu.start()
            try:
                deadline = time.monotonic() + 300
                while w > 1 and cu.status()["workers_seen"] < w:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"--workers {w}: only {cu.status()['workers_seen']} workers started")
                    time.sleep(0.01)
                _cu_run(cu, scn, snapshots, 0, 4 * w)
                before = _unit_cpu_clocks(cu)
                elapsed = _cu_run(cu, scn, snapshots, 4 * w, frames)
                after = _unit_cpu_clocks(cu)
                status = cu.status()
                if status["frames_localised"] != 4 * w + frames:
                    raise RuntimeError(f"--workers {w}: frames not all localised: {status}")
            finally:
                cu.stop()
            rates[w].append(frames / elapsed)
            if cpu_out is not None:
                cpu_out.setdefault(w, []).append({k: 1e3 * (after[k] - before[k]) / frames for k in after})
    return rates


def predicted_ratio(one, pool):
    """The --workers 2 / --workers 1 throughput ratio on two free cores from measured CPU per frame (ms) of the
    two runs ({clock: ms}, _unit_cpu_clocks): one worker thread runs at 1/max(its thread, the rest of the unit)
    (two threads on two cores); two worker processes at min(2/(everything), 1/(the unit's serial thread),
    2/(the workers)) — the unit's share (input path, prepare, TASK/RESULT, finish) takes CPU from the workers."""
    thread_one = one["unit thread"]
    rate_one = 1.0 / max(thread_one, one["unit"] - thread_one)
    workers = sum(v for k, v in pool.items() if k.startswith("worker "))
    rate_two = min(2.0 / (pool["unit"] + workers), 1.0 / pool["unit thread"], 2.0 / workers)
    return rate_two / rate_one


def _bare_searches(name, frames, start_at, out):
    """A spawn child: ``frames`` full searches of FrameEstimator in a loop from wall time start_at; puts the
    frames/s."""
    import gnuradio as gr_pkg

    gr_pkg.__path__.insert(0, os.path.join(HERE, "..", "python"))
    scn = scenario.load_scenario(name)
    layout = ofdm.layout_from_scenario(scn)
    wc0, wr0 = ofdm.default_precoders(layout, scn.per_antenna_power)
    wc = np.broadcast_to(wc0, (scn.num_nodes,) + wc0.shape)
    wr = np.broadcast_to(wr0, (scn.num_nodes,) + wr0.shape)
    table = fusion.PrecoderTable(layout)
    table.set_start(0, wc, wr)
    est = fusion.FrameEstimator(scn, 0, localizer.Localizer.from_scenario(scn))
    rng = np.random.default_rng(0)
    sets = [fusion.FrameSet(f, {n: y[n] for n in range(scn.num_nodes)}, {n: 0 for n in range(scn.num_nodes)}, 0.0,
                            precoder_ids={n: 0 for n in range(scn.num_nodes)})
            for f, y in enumerate(phy_snapshot(scn, wc, wr, f, 0, 1, rng) for f in range(4))]
    est.estimate(sets[0], table)
    while time.time() < start_at:
        time.sleep(0.001)
    t0 = time.perf_counter()
    for i in range(frames):
        est.estimate(sets[i % len(sets)], table)
    out.put(frames / (time.perf_counter() - t0))


def parallel_ceiling(name, frames):
    """frames/s of two bare search loops in two processes started together, over one alone (same run): what the
    machine gives two processes at this moment — the ceiling of any two-worker ratio, without the unit."""
    ctx = multiprocessing.get_context("spawn")
    rates = []
    for count in (1, 2):
        out = ctx.Queue()
        start_at = time.time() + 10.0  # after the children's imports and grid builds
        procs = [ctx.Process(target=_bare_searches, args=(name, frames, start_at, out)) for _ in range(count)]
        for proc in procs:
            proc.start()
        rates.append(sum(out.get(timeout=900) for _ in procs))
        for proc in procs:
            proc.join()
    return rates[1] / rates[0]


def bench_workers(frames, repeats):
    print(f"\n== 4. central unit throughput with localisation workers (issue 16): full search, {frames} frames fed "
          f"at once, {repeats} interleaved runs per mode; load average {_loadavg()}")
    print("   CPU ms per frame measured in the same runs (median): unit = the whole unit process (input path, prepare, "
          "TASK/RESULT, finish; the search too with one worker thread), thread = its localisation thread, workers = "
          "the worker processes together")
    print(f"{'scenario':12} {'workers':>7} {'frames/s (median)':>17} {'runs':>24} {'ratio to 1':>10} {'unit':>6} "
          f"{'thread':>6} {'workers':>7}")
    for name in ("paper", "four-nodes"):
        cpu = {}
        rates = workers_throughput(name, (1, 2), frames, repeats, cpu_out=cpu)
        one = float(np.median(rates[1]))
        medians = {w: {k: float(np.median([run[k] for run in runs])) for k in runs[0]} for w, runs in cpu.items()}
        for w, values in rates.items():
            used = medians[w]
            workers_ms = sum(v for k, v in used.items() if k.startswith("worker "))
            print(f"{name:12} {w:7d} {np.median(values):17.2f} {' '.join(f'{v:.2f}' for v in values):>24} "
                  f"{np.median(values) / one:10.2f} {used['unit']:6.2f} {used['unit thread']:6.2f} "
                  f"{workers_ms:7.2f}", flush=True)
        print(f"{name:12} predicted on two free cores from these CPU figures: --workers 2 / 1 = "
              f"{predicted_ratio(medians[1], medians[2]):.2f} (target {TARGET_WORKERS_RATIO})", flush=True)
        print(f"{name:12} the machine's ceiling now: two bare search processes / one = "
              f"{parallel_ceiling(name, frames):.2f} (load {_loadavg()})", flush=True)
    print(f"   load average after: {_loadavg()}")


def workers_cpu_budget(name, frames, seed=0):
    """CPU seconds per frame (time.process_time, one thread: what load does not change much) of each part of the
    pool's path: the unit's share (wire decode, prepare, TASK encode, RESULT decode, the estimate) and a worker's
    (TASK decode, search, RESULT encode), against the thread path (decode, prepare, search). Returns the dict
    and the throughput ratio two workers can reach on two free cores (Amdahl with the unit's share serial)."""
    from gnuradio.disac.core import localise_tasks

    scn = scenario.load_scenario(name)
    wc, wr = node_cmd.resolve_precoders(scn, "designed", 10.0)
    table = fusion.PrecoderTable(ofdm.layout_from_scenario(scn))
    table.set_start(0, wc, wr)
    est = fusion.FrameEstimator(scn, seed, localizer.Localizer.from_scenario(scn))
    est.crb_m2(table, 0)
    config = localise_tasks.localiser_config(est.localizer)
    runner = localise_tasks.TaskRunner(1)
    runner.localizer(config)  # the worker's localiser grid, built once per worker (not per frame)
    rng = np.random.default_rng(seed)
    parts = dict.fromkeys(("wire", "prepare", "task_encode", "result_decode", "worker", "search"), 0.0)
    clock = time.process_time
    for f in range(frames):
        y = phy_snapshot(scn, wc, wr, f, seed, seed + 1, rng)
        messages = [wire.encode(wire.SnapshotMessage(n, f, 0, 0, 0, y[n])) for n in range(scn.num_nodes)]
        t0 = clock()
        decoded = [wire.decode(m) for m in messages]
        t1 = clock()
        fs = fusion.FrameSet(f, {m.node_id: m.snapshot for m in decoded}, {m.node_id: 0 for m in decoded}, 0.0,
                             precoder_ids={m.node_id: 0 for m in decoded})
        inputs, crb = est.prepare(fs, table)
        t2 = clock()
        data = localise_tasks.encode_task(localise_tasks.Task(
            1, f, 0, 0, 0, config, inputs.rx_nodes, inputs.tx_nodes, np.stack([inputs.snapshots[n] for n in inputs.rx_nodes]),
            np.stack([inputs.frames[m] for m in inputs.tx_nodes]), est.num_targets))
        t3 = clock()
        answer = localise_tasks.encode_result(runner.run(localise_tasks.decode_task(data)))
        t4 = clock()
        result = localise_tasks.decode_result(answer)
        est.estimate_from_search(inputs, crb, result.positions_m, result.residual, result.converged)
        t5 = clock()
        est.localise(inputs, crb)  # the thread path's search, for its cost
        t6 = clock()
        for key, dt in zip(parts, (t1 - t0, t2 - t1, t3 - t2, t5 - t4, t4 - t3, t6 - t5)):
            parts[key] += dt / frames
    unit = parts["wire"] + parts["prepare"] + parts["task_encode"] + parts["result_decode"]
    thread = parts["wire"] + parts["prepare"] + parts["search"]
    rate_one = 1.0 / thread
    rate_two = min(2.0 / (unit + parts["worker"]), 1.0 / unit, 2.0 / parts["worker"])
    return parts, rate_two / rate_one


def bench_workers_cpu(frames):
    print(f"\n== 5. CPU per frame of the worker path (process_time, ms; {frames} frames; load average {_loadavg()})")
    print(f"{'scenario':12} {'wire':>6} {'prepare':>8} {'task enc':>8} {'res dec':>8} {'worker':>8} {'search':>8} "
          f"{'2 workers on 2 free cores':>26}")
    for name in ("paper", "four-nodes"):
        parts, ratio = workers_cpu_budget(name, frames)
        print(f"{name:12} " + " ".join(f"{1e3 * parts[k]:{w}.2f}" for k, w in zip(parts, (6, 8, 8, 8, 8, 8)))
              + f" {ratio:25.2f}x", flush=True)


def _loadavg():
    try:
        with open("/proc/loadavg") as handle:
            return " ".join(handle.read().split()[:3])
    except OSError:
        return "?"


TARGET_WORKERS_RATIO = 1.8  # issue 16: --workers 2 throughput ≥ 1.8× one worker
TARGET_MS_PER_FRAME = 20.0  # issue 6: ≤ 20 ms per frame on one core


def bench_rows(quick=False):
    """The figures as rows for `disac bench` (dicts: figure, value, unit, target, goal): the central unit's
    latency per frame (designed precoders, scenario SNR) and the snapshot throughput of the paper scenario
    against the real-time frame rate at its bandwidth (B / frame length)."""
    frames = 10 if quick else 50
    rows = []
    for name in (("paper",) if quick else ("paper", "four-nodes")):
        scn = scenario.load_scenario(name)
        wc, wr = node_cmd.resolve_precoders(scn, "designed", 10.0)
        for search in ("full", "track"):
            times, _, _, _ = latency(scn, wc, wr, search, frames)
            rows.append({"figure": f"central unit latency, {name}, {search} search, median of {frames} frames",
                         "value": float(np.median(times)), "unit": "ms/frame", "target": TARGET_MS_PER_FRAME,
                         "goal": "max"})
    paper = scenario.load_scenario("paper")
    layout = ofdm.layout_from_scenario(paper)
    shape = (paper.rx_antennas, paper.subcarriers, paper.symbols_per_frame)
    rate, mb_s, _, _ = throughput(shape, 0.5 if quick else 2.0)
    rows.append({"figure": f"snapshot throughput node → CU, {shape}, vs real time at B (1 node)", "value": rate,
                 "unit": "frames/s", "target": paper.bandwidth_hz / layout.frame_len, "goal": "min"})
    rows.append({"figure": f"snapshot throughput node → CU, {shape}", "value": mb_s, "unit": "MB/s",
                 "target": None, "goal": None})
    frames = 12 if quick else 40
    cpu = {}
    rates = workers_throughput("paper", (1, 2), frames, 1 if quick else 3, cpu_out=cpu)
    one, two = float(np.median(rates[1])), float(np.median(rates[2]))
    medians = {w: {k: float(np.median([run[k] for run in runs])) for k in runs[0]} for w, runs in cpu.items()}
    rows.append({"name": f"central unit throughput, paper, full search, --workers 2 ({frames} frames)", "value": two,
                 "unit": "frames/s", "anchor": "--workers 1 (one worker thread), same run", "anchor_value": one,
                 "ratio": two / one, "target": TARGET_WORKERS_RATIO * one, "goal": "min",
                 "load_average": _loadavg()})
    rows.append({"name": "central unit --workers 2 ratio on 2 free cores, from the CPU the runs used (paper)",
                 "value": predicted_ratio(medians[1], medians[2]), "unit": "x", "target": TARGET_WORKERS_RATIO,
                 "goal": "min", "serial_share_ms": medians[2]["unit"], "load_average": _loadavg()})
    _, reachable = workers_cpu_budget("paper", 4 if quick else 10)
    rows.append({"name": "central unit --workers 2 ratio on 2 free cores, from the CPU per frame (paper)",
                 "value": reachable, "unit": "x", "target": TARGET_WORKERS_RATIO, "goal": "min"})
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=50, help="frames per latency measurement")
    parser.add_argument("--mse-frames", type=int, default=100, help="frames for the MSE/CRB beside the latency")
    parser.add_argument("--mse-snr-db", type=float, default=30.0)
    parser.add_argument("--curve", action="store_true", help="also the MSE/CRB vs SNR table (a few minutes)")
    parser.add_argument("--curve-trials", type=int, default=300)
    parser.add_argument("--curve-snr-db", type=float, nargs="+", default=[-15, -10, -5, 0, 5, 10, 20, 30])
    parser.add_argument("--throughput-seconds", type=float, default=2.0)
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--workers", action="store_true",
                        help="only the throughput with --workers 1 and 2 side by side (section 4)")
    parser.add_argument("--workers-frames", type=int, default=40, help="frames per --workers run (default 40)")
    parser.add_argument("--workers-repeats", type=int, default=3, help="interleaved runs per mode (default 3)")
    args = parser.parse_args()
    if args.workers:
        bench_workers_cpu(args.workers_frames)
        bench_workers(args.workers_frames, args.workers_repeats)
        return
    if not args.skip_latency:
        bench_latency(args.frames, args.mse_frames, args.mse_snr_db)
    if args.curve:
        bench_curve(args.curve_trials, args.curve_snr_db)
    bench_throughput(args.throughput_seconds)
    bench_workers_cpu(args.workers_frames)
    bench_workers(args.workers_frames, args.workers_repeats)


if __name__ == "__main__":
    main()
