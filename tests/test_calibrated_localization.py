# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Issue 13's localisation "done when": each impairment alone and "lab" all together, on the paper scenario
(with a reference reflector: N = 2 needs it, docs/air-model.md §3) and on tests/scenarios/three_nodes_calibration.toml
(N = 3, calibrated from the direct paths alone):

* with calibration (engineer cal's estimator on a 20-frame calibration capture of the same run, applied as
  docs/air-model.md §3 by core.calibration_apply: node_rx, isac_tx, the central unit), the localisation RMSE is
  ≤ 1.10 × the ideal-channel RMSE of the same seeds (or of √CRB when that is higher: a reference run below
  the bound is luck), with 0 failed frames;
* without calibration the same run fails or degrades, and the test prints by how much;
* the ideal preset gives today's results; the receive side given scenario.without_impairments() gives the
  same result (it never reads the impairments, docs/air-model.md §0);
* the corrections themselves (node_rx, isac_tx, the localiser's known paths) against numpy expectations;
* one flowgraph-level run of the whole chain (isac_tx → sensing channel → node_rx → ZeroMQ → central unit).

The trials are core-level (core.impairment_trials: the same transmitter, radio, channel, delay operator
and correction code as the blocks; faster than flowgraphs), at the scenarios' own target SNR (0 dB, the
paper's). There a channel gain error of 1 dB and a 5 Hz CFO cost the uncalibrated localiser nothing
measurable (the noise dominates that model error; the per-frame amplitudes absorb the CFO's phase): the
test states it and prints the figure; at 20–30 dB the gain errors do degrade it, and
test_gain_corrections_restore_the_ideal_at_high_snr (30 dB) shows the corrections undo them (with the drawn
gains as the calibration: the estimator's own accuracy at 20 dB is engineer cal's, see the report).
Every run is seeded.
"""

import math

import numpy as np
import pytest

from gnuradio.disac.core import (calibration_apply, channels, impairment_trials as trials, localizer, model,
                                 ofdm)
from gnuradio.disac.core.calibration import Calibration
from gnuradio.disac.core.scenario import load_scenario

HERE = __import__("os").path.dirname(__file__)
THREE_NODES = __import__("os").path.join(HERE, "scenarios", "three_nodes_calibration.toml")
FRAMES = 60  # trial frames per run; with the noise shared by the runs the ratio scatters by ~±5 %
SEED = 3
# Each impairment alone at the "lab" figure (the issue's), and "lab" all together: issue 13's lab air, which issue 14
# named "lab-sync" when "lab" gained the interference and dynamic range of issue 14 (their done-when tests are
# issue 14's: tests/test_interference_localization.py). The direct paths are on
# in every case: they are what the nodes calibrate from (N = 3) and what every deployment has; "direct_path"
# is that case alone. The CFO case runs per-run oscillator phases, the only ones from which a CFO can be
# measured (core.calibration_estimator).
CASES = {
    "timing_offset": {"timing_offset_ns": 50.0},
    "latency": {"latency_samples": {"min": 46.0, "max": 165.0}},
    "rx_phase": {"rx_phase_deg": "uniform"},
    "tx_phase": {"tx_phase_deg": "uniform"},
    "rx_gain": {"rx_gain_db": 1.0},
    "tx_gain": {"tx_gain_db": 1.0},
    "cfo": {"cfo_hz": 5.0, "node_phase": "per_run"},
    "direct_path": {},
    "lab": {"preset": "lab-sync"},
}
ALONE = dict(CASES, direct_path={"direct_path": True})  # without calibration each impairment alone: its own degradation
CASES = {name: dict(table, direct_path=True) for name, table in CASES.items()}
# What "degrade" means without calibration: the RMSE grows by at least 2× or frames fail. Except (None: the
# test prints the figure only): the CFO of a shared reference (5 Hz) turns a 10.8 µs frame by 3·10⁻⁴ rad,
# which the unknown per-frame amplitudes absorb (×1.00); ±1 dB gains are ~12 % amplitude errors, below the
# noise at 0 dB on the targets' echoes (×1.0 on three-nodes), but not on the paper's 20 dB reflector, whose
# mismodelled echo then leaks (×1.5 rx, frames fail for tx); test_gain_corrections_restore_the_ideal_at_high_snr
# asserts the gains' degradation where it is clear.
# A GPSDO-class timing offset (50 ns RMS, 0.5 sample) keeps every echo inside the prefix: on three-nodes it
# costs +57 % RMSE without failing a frame (on the paper scenario the mismodelled reflector fails every frame).
MIN_DEGRADATION = {"rx_gain": None, "tx_gain": None, "cfo": None, "timing_offset": 1.3}


def _with_reflector(scenario, position_m, snr_db=20.0):
    """The scenario with a [calibration] reference reflector at position_m, SNR P_T·N²·β²/σ² = snr_db."""
    beta = math.sqrt(10 ** (snr_db / 10) * scenario.noise_power / (scenario.per_antenna_power * scenario.num_nodes ** 2))
    return scenario.replace(reflector_m=np.asarray(position_m, float), reflector_amplitude=beta)


def paper_with_reflector():
    """The paper scenario with a reference reflector at [−100, 0] m (9.8 samples monostatic from both nodes,
    next to the 9.4-sample direct path: every known path inside the prefix)."""
    return _with_reflector(load_scenario("paper"), [-100.0, 0.0])


SCENARIOS = {"paper": paper_with_reflector, "three-nodes": lambda: load_scenario(THREE_NODES)}


@pytest.fixture(scope="module", params=list(SCENARIOS))
def scenario(request):
    return SCENARIOS[request.param]()


@pytest.fixture(scope="module")
def ideal_reference(scenario):
    """run_trials' ideal-air reference of the done-when runs, computed once per scenario: run_trials' own
    ideal run (its with_ideal branch) depends on the scenario, the seeds, the frames, the precoders and the
    search only, never on the impairment table or the calibration mode, so it is the same run, to the bit,
    for every case of a scenario (it was recomputed 9 times per scenario)."""
    reference = trials.run_trials(scenario, None, "none", FRAMES, SEED, search="track")
    return {key: reference[key] for key in ("rmse_ideal_m", "failed_ideal")}


# ---- the done-when ----------------------------------------------------------------------------------

@pytest.mark.parametrize("case", list(CASES))
def test_calibrated_localisation_matches_the_ideal_channel(scenario, ideal_reference, case):
    table = dict(CASES[case], seed=SEED)
    calibrated = trials.run_trials(scenario, table, "estimated", FRAMES, SEED, search="track", with_ideal=False)
    calibrated.update(rmse_ideal_m=ideal_reference["rmse_ideal_m"], failed_ideal=ideal_reference["failed_ideal"])
    none = trials.run_trials(scenario, dict(ALONE[case], seed=SEED), "none", FRAMES, SEED, search="track",
                             with_ideal=False)
    ideal, crb = calibrated["rmse_ideal_m"], calibrated["crb_m"]
    # the reference is the plain ideal air of the same seeds (issue 13): the transmitter undoes the chains'
    # phases only and backs nothing off, the central unit models their magnitudes (core.calibration_apply)
    print(f"\n{scenario.name} {case}: RMSE calibrated {calibrated['rmse_m']:.4f} m, ideal {ideal:.4f} m "
          f"(ratio {calibrated['rmse_m'] / ideal:.3f}), √CRB {crb:.4f} m; "
          f"uncalibrated (alone) {none['rmse_m']:.4f} m = {none['rmse_m'] / ideal:.2f} × ideal, failed {none['failed']}/"
          f"{FRAMES}; residuals {calibrated['calibration']['residuals']}")
    assert calibrated["failed"] == 0 and calibrated["failed_ideal"] == 0
    assert calibrated["rmse_m"] <= 1.10 * max(ideal, crb), calibrated
    minimum = MIN_DEGRADATION.get(case, 2.0)
    if minimum is not None:
        assert none["failed"] > 0 or none["rmse_m"] >= minimum * ideal, none


@pytest.mark.parametrize("case", ["rx_gain", "tx_gain"])
def test_gain_corrections_restore_the_ideal_at_high_snr(case):
    """At a 30 dB target SNR ±1 dB channel gains degrade the uncalibrated localiser (×1.5 … ×10 here); node_rx's
    and isac_tx's corrections with the drawn gains as the calibration give the ideal RMSE back (for tx gains:
    the chains' phases undone at the transmitter, their magnitudes in the central unit's model)."""
    s = load_scenario(THREE_NODES)
    table = {"rx_gain": {"rx_gain_db": 1.0}, "tx_gain": {"tx_gain_db": 1.0}}[case] | {"seed": SEED}  # gains alone
    fixed = trials.run_trials(s, table, "truth", FRAMES, SEED, snr_db=30.0, search="track")
    none = trials.run_trials(s, table, "none", FRAMES, SEED, snr_db=20.0, search="track", with_ideal=False)
    print(f"\n{case} at 30 dB: calibrated {fixed['rmse_m']:.4f} m, ideal {fixed['rmse_ideal_m']:.4f} m, "
          f"uncalibrated {none['rmse_m']:.4f} m")
    assert fixed["failed"] == 0 and fixed["rmse_m"] <= 1.10 * fixed["rmse_ideal_m"]
    assert none["rmse_m"] >= 1.5 * fixed["rmse_ideal_m"]


def test_the_ideal_preset_gives_todays_results(scenario):
    """"ideal" (and no table) = today's air: noise-off snapshots equal eq. (3)/(5) with the channel's phases
    to ≤ 1e-4 (complex64 arithmetic), and the trials are bit-identical with and without the table."""
    frames = np.arange(5, 9)
    wc, wr = ofdm.default_precoders(ofdm.layout_from_scenario(scenario), scenario.per_antenna_power)
    wc, wr = [wc] * scenario.num_nodes, [wr] * scenario.num_nodes
    s = scenario.replace(reflector_m=None, reflector_amplitude=0.0)  # eq. 3/5 has the targets only
    snaps = trials.receive_snapshots(s.with_impairments("ideal"), wc, wr, frames, 0, 1, noise=False)
    lay = ofdm.layout_from_scenario(s)
    x = np.stack([ofdm.transmitted_frames(lay, 0, frames, m, wc[m], wr[m]) for m in range(s.num_nodes)], axis=1)
    amps = channels.linked_amplitudes(s.target_amplitudes(), channels.node_phases_rad(1, frames, s.num_nodes))
    for i in range(len(frames)):
        mu = model.scenario_sensing_mean(s, x[i], amps[i])
        assert np.linalg.norm(snaps[i] - mu) / np.linalg.norm(mu) <= 1e-4
    a = trials.run_trials(scenario, {"preset": "ideal"}, "none", 6, SEED, with_ideal=False)
    b = trials.run_trials(scenario, None, "none", 6, SEED, with_ideal=False)
    np.testing.assert_array_equal(a["errors_m"], b["errors_m"])


def test_the_receive_side_never_reads_the_impairments(scenario):
    """The node receivers' processing and the central unit's estimator given the scenario with the "lab"
    table or without it: the same estimates, to the last bit."""
    air = scenario.with_impairments({"preset": "lab-sync", "seed": SEED})
    cal = trials.truth_calibration(air)
    lay = ofdm.layout_from_scenario(scenario)
    wc, wr = ofdm.default_precoders(lay, scenario.per_antenna_power)
    wc, wr = [wc] * scenario.num_nodes, [wr] * scenario.num_nodes
    frames = np.arange(40, 44)
    snaps = trials.receive_snapshots(air, wc, wr, frames, SEED, SEED + 1, cal)
    with_table = trials.localise_frames(air, snaps, frames, wc, wr, SEED, cal)
    without = trials.localise_frames(air.without_impairments(), snaps, frames, wc, wr, SEED, cal)
    np.testing.assert_array_equal(with_table.positions_m, without.positions_m)


# ---- the corrections, against numpy ------------------------------------------------------------------

def random_calibration(scenario, seed=0, cfo_hz=(0.0, 40.0, -25.0)):
    rng = np.random.default_rng(seed)
    n, mt, mr = scenario.num_nodes, scenario.tx_antennas, scenario.rx_antennas

    def gains(m):
        return 10 ** (rng.normal(0, 1, (n, m)) / 20) * np.exp(2j * np.pi * rng.random((n, m)))
    return Calibration(rx_gains=gains(mr), tx_gains=gains(mt), rx_delay_samples=rng.uniform(40, 160, n),
                       tx_delay_samples=np.r_[0.0, rng.uniform(-1, 1, n - 1)], cfo_hz=np.array(cfo_hz[:n]),
                       sample_rate_hz=scenario.bandwidth_hz)


def test_node_rx_applies_the_receive_corrections():
    """node_rx with a calibration = numpy: per frame f, the samples × e^{+j2π ε t} (t = (f·frame_len + w_n +
    index)/fs) before the FFT, then Y / ĝ_rx · e^{+j2π f_l (r_n − w_n)/fs}; without one, today's snapshot."""
    from gnuradio import blocks, gr

    from gnuradio.disac.blocks import tags
    from gnuradio.disac.blocks.node_rx import node_rx

    s = load_scenario("paper")
    lay = ofdm.layout_from_scenario(s)
    cal = random_calibration(s)
    node, frames = 1, [7, 8, 9]
    rng = np.random.default_rng(5)
    samples = (rng.standard_normal((s.rx_antennas, 3 * lay.frame_len))
               + 1j * rng.standard_normal((s.rx_antennas, 3 * lay.frame_len))).astype(np.complex64)
    results = {}
    for key, calibration in (("none", ""), ("cal", cal)):
        tb = gr.top_block()
        rx = node_rx(s, node, calibration=calibration)
        store = blocks.message_debug()
        frame_tags = [gr.tag_utils.python_to_tag((i * lay.frame_len, tags.frame_tag_key(),
                                                  tags.frame_tag_value(f, node, 0), pmt_nil()))
                      for i, f in enumerate(frames)]
        sources = [blocks.vector_source_c(samples[r].tolist(), False, 1, frame_tags if r == 0 else [])
                   for r in range(s.rx_antennas)]
        for r, src in enumerate(sources):
            tb.connect(src, (rx, r))
        tb.msg_connect((rx, tags.SNAPSHOT_PORT), (store, "store"))
        tb.run()
        snaps = [snap for i in range(store.num_messages()) for snap in tags.snapshots_from_pmt(store.get_message(i))]
        results[key] = np.stack([snap.samples for snap in snaps])
    core = (lay.front_len + lay.cyclic_prefix + np.arange(lay.subcarriers)[:, None]
            + lay.symbol_len * np.arange(lay.data_symbols)[None, :])
    w = cal.window_offset_samples(node)
    freq = ofdm.bin_frequencies_hz(lay.subcarriers, s.bandwidth_hz)
    for i, f in enumerate(frames):
        y = samples[:, i * lay.frame_len + core].astype(complex)  # (Mr, L, P)
        np.testing.assert_allclose(results["none"][i], np.fft.fft(y, axis=1, norm="ortho"), atol=1e-5)
        t = (f * lay.frame_len + w + core) / s.bandwidth_hz
        expected = np.fft.fft(y * np.exp(2j * np.pi * cal.cfo_hz[node] * t), axis=1, norm="ortho")
        expected *= (np.exp(2j * np.pi * freq * (cal.rx_delay_samples[node] - w) / s.bandwidth_hz)[None, :]
                     / cal.rx_gains[node][:, None])[:, :, None]
        # complex64 samples and FFT: ~1e-6 relative on values of order 1–3
        np.testing.assert_allclose(results["cal"][i], expected, atol=2e-5)


def pmt_nil():
    import pmt
    return pmt.PMT_NIL


def test_isac_tx_applies_the_transmit_corrections_within_the_power_limit():
    """isac_tx with a calibration = numpy: x_i · ĝ*_tx[m, i]/|ĝ_tx[m, i]| · e^{−j2π ε_m j/fs}: the chains'
    phases undone, unit modulus, so every antenna is driven with exactly the design's power (no back-off,
    tx_scale 1.0); frame tags unchanged."""
    from gnuradio import blocks, gr

    from gnuradio.disac.blocks.isac_tx import isac_tx

    s = load_scenario("paper")
    lay = ofdm.layout_from_scenario(s)
    cal = random_calibration(s, 1)
    node, frames = 1, 5
    wc, wr = ofdm.default_precoders(lay, s.per_antenna_power)
    outputs, scales = {}, {}
    for key, calibration in (("none", ""), ("cal", cal)):
        tb = gr.top_block()
        tx = isac_tx(s, node, 0, wc, wr, frames, calibration=calibration)
        sinks = [blocks.vector_sink_c() for _ in range(s.tx_antennas)]
        for i, sink in enumerate(sinks):
            tb.connect((tx, i), sink)
        tb.run()
        outputs[key] = np.array([sink.data() for sink in sinks])
        scales[key] = tx.tx_scale
    gains = cal.tx_gains[node]
    j = np.arange(frames * lay.frame_len)
    expected = ((np.conj(gains) / np.abs(gains))[:, None] * outputs["none"]
                * np.exp(-2j * np.pi * cal.cfo_hz[node] * j / s.bandwidth_hz)[None])
    np.testing.assert_allclose(outputs["cal"], expected, atol=2e-5)  # complex64 path
    # per antenna the same power as the design's to complex64 rounding (~1e-6 relative): nothing backed off
    np.testing.assert_allclose(np.mean(np.abs(outputs["cal"]) ** 2, axis=1),
                               np.mean(np.abs(outputs["none"]) ** 2, axis=1), rtol=1e-5)
    assert scales == {"none": 1.0, "cal": 1.0}
    d, scale = calibration_apply.tx_precompensation(cal, node, wc, wr, s.per_antenna_power)
    np.testing.assert_allclose(np.abs(d), 1.0, rtol=1e-12)
    assert scale == 1.0


def test_the_central_unit_models_the_transmit_chains_magnitudes():
    """An air with transmit chain gains and phases only, calibrated with the drawn gains themselves (no gauge:
    ĝ = g): the calibrated noise-free snapshots equal eq. (3)/(5) with the model's X_m[i] × |g_m,i| (what
    core.calibration_apply.model_tx_factors puts on it; the transmitter undid the phases) to ≤ 1e-4
    (complex64 arithmetic), and miss it by far more without the magnitudes (±1 dB: ~10 % of the field)."""
    s = load_scenario(THREE_NODES)
    air = s.with_impairments({"tx_gain_db": 1.0, "tx_phase_deg": "uniform", "seed": SEED})
    imp = air.impairments
    cal = Calibration(rx_gains=np.ones((s.num_nodes, s.rx_antennas), complex), tx_gains=imp.tx_gains,
                      rx_delay_samples=np.zeros(s.num_nodes), tx_delay_samples=np.zeros(s.num_nodes),
                      cfo_hz=np.zeros(s.num_nodes), sample_rate_hz=s.bandwidth_hz)
    lay = ofdm.layout_from_scenario(s)
    wc, wr = ofdm.default_precoders(lay, s.per_antenna_power)
    wc, wr = [wc] * s.num_nodes, [wr] * s.num_nodes
    frames = np.arange(5, 8)
    snaps = trials.receive_snapshots(air, wc, wr, frames, 0, 1, cal, noise=False)
    x = np.stack([ofdm.transmitted_frames(lay, 0, frames, m, wc[m], wr[m]) for m in range(s.num_nodes)], axis=1)
    factors = calibration_apply.model_tx_factors(cal, s.subcarriers, s.bandwidth_hz)  # (N, Mt, L)
    np.testing.assert_allclose(np.abs(factors), np.broadcast_to(np.abs(imp.tx_gains)[:, :, None], factors.shape),
                               rtol=1e-12)
    amps = channels.linked_amplitudes(s.target_amplitudes(), channels.node_phases_rad(1, frames, s.num_nodes))
    for i in range(len(frames)):
        mu = model.scenario_sensing_mean(s, x[i] * factors[:, :, :, None], amps[i])
        bare = model.scenario_sensing_mean(s, x[i], amps[i])
        assert np.linalg.norm(snaps[i] - mu) / np.linalg.norm(mu) <= 1e-4
        assert np.linalg.norm(snaps[i] - bare) / np.linalg.norm(bare) > 1e-2


def test_the_localiser_projects_out_direct_paths_and_the_reflector():
    """A frame with strong direct paths (30 dB per RE) and a reflector (20 dB): the search without known
    paths locks on to them; with them projected out (core.localizer.known_paths) the targets are found
    within 1 m (5·√CRB here), and with no known paths the result is today's bit for bit."""
    s = _with_reflector(trials.trial_stats.scenario_at_snr(load_scenario("paper"), 20.0), [-100.0, 0.0])
    air = s.with_impairments({"direct_path": True})
    lay = ofdm.layout_from_scenario(s)
    wc, wr = ofdm.default_precoders(lay, s.per_antenna_power)
    wc, wr = [wc] * s.num_nodes, [wr] * s.num_nodes
    frames = np.array([3])
    snaps = trials.receive_snapshots(air, wc, wr, frames, 0, 1)
    x = {m: ofdm.transmitted_frames(lay, 0, frames, m, wc[m], wr[m])[0] for m in range(s.num_nodes)}
    y = {n: snaps[0, n] for n in range(s.num_nodes)}
    plain = localizer.Localizer.from_scenario(s).localize(y, x, 2)
    known = localizer.Localizer.from_scenario(s, direct_paths=True, reflector=True).localize(y, x, 2)
    err_plain = np.linalg.norm(trials.trial_stats.matched_errors(plain.positions_m, s.target_positions_m), axis=1)
    err_known = np.linalg.norm(trials.trial_stats.matched_errors(known.positions_m, s.target_positions_m), axis=1)
    assert err_plain.max() > 7.5 and err_known.max() < 1.0, (err_plain, err_known)
    empty = localizer.Localizer(s.node_positions_m, s.tx_antennas, s.rx_antennas, s.subcarriers, s.bandwidth_hz,
                                localizer.default_search_region(s), paths=())
    np.testing.assert_array_equal(empty.localize(y, x, 2).positions_m, plain.positions_m)


# ---- the whole chain as a flowgraph -----------------------------------------------------------------

def run_flowgraph(air, calibration, frames, seed=SEED, channel_seed=SEED + 1):
    """Every node as blocks: isac_tx (calibration) → synthetic_radio_tx → the air (sensing_channel of every rx
    node, noise on) → synthetic_radio_rx → rx_frame_tagger (rx_time framing, the calibrated offset) → node_rx
    (calibration) → snapshot_push → ZeroMQ inproc → central_node (calibration, known paths, tracker). The
    receive side gets air.without_impairments(). Returns (estimates {frame: Estimate}, status)."""
    import time

    from gnuradio import blocks, gr

    from gnuradio.disac.blocks import tags
    from gnuradio.disac.blocks.isac_tx import isac_tx
    from gnuradio.disac.blocks.node_rx import node_rx
    from gnuradio.disac.blocks.rx_frame_tagger import rx_frame_tagger
    from gnuradio.disac.blocks.sensing_channel import sensing_channel
    from gnuradio.disac.blocks.snapshot_push import snapshot_push
    from gnuradio.disac.blocks.synthetic_radio_rx import synthetic_radio_rx
    from gnuradio.disac.blocks.synthetic_radio_tx import synthetic_radio_tx
    from gnuradio.disac.hier import system
    from gnuradio.disac.hier.central_node import central_node

    rx_side = air.without_impairments()
    n_nodes, mt, mr = air.num_nodes, air.tx_antennas, air.rx_antennas
    cal = calibration if calibration is not None else ""
    epoch = tags.SYNTHETIC_EPOCH_S
    address = f"inproc://disac-calibrated-{time.monotonic_ns()}"
    tb = gr.top_block()
    central = central_node(rx_side, seed, None, None, timeout_s=3600.0, queue_depth=frames + 1, address=address,
                           bind=True, status_interval_s=0, keep_estimates=frames, calibration=cal)
    lead = 4  # frames the transmitters run beyond the last one received: the air's latencies delay them
    radios = []
    for m in range(n_nodes):
        tx = isac_tx(air, m, seed, None, None, frames + lead, calibration=cal)
        radio = synthetic_radio_tx(air, m, epoch)
        for i in range(mt):
            tb.connect((tx, i), (radio, i))
        radios.append(radio)
        system.keep(tb, tx, radio)
    for n in range(n_nodes):
        channel = sensing_channel(air, n, channel_seed, noise=True)
        for m, radio in enumerate(radios):
            for i in range(mt):
                tb.connect((radio, i), (channel, m * mt + i))
        radio_rx = synthetic_radio_rx(air, n, epoch, label_offset_samples=channel.label_offset_samples)
        offset = 0 if calibration is None else calibration.window_offset_samples(n)
        tagger = rx_frame_tagger(rx_side, n, max_frames=frames, offset_samples=offset, epoch_s=epoch)
        rx = node_rx(rx_side, n, frames_per_message=8, calibration=cal)
        push = snapshot_push(address, False, "push", frames + 16)
        for r in range(mr):
            tb.connect((channel, r), (radio_rx, r))
            tb.connect((radio_rx, r), (tagger, r))
            tb.connect((tagger, r), (rx, r))
        tb.msg_connect((rx, tags.SNAPSHOT_PORT), (push, tags.SNAPSHOT_PORT))
        system.keep(tb, channel, radio_rx, tagger, rx, push)
    sink = blocks.message_debug()
    tb.msg_connect((central, "estimate"), (sink, "store"))
    system.keep(tb, central, sink)
    system.run_until_released(tb, central, frames)
    return {e.frame: e for e in central.estimates}, central.status()


def test_the_whole_chain_as_a_flowgraph_localises_on_the_lab_air():
    """The N = 3 scenario on the "lab" air (every impairment but overflows, direct paths on), the calibration
    estimated from a capture of that air (core: engineer cal's estimator): the flowgraph localises every
    frame within the gate, with an RMSE at the level of the core-level trials of the same air (≤ 1.5 × the
    ideal-air √CRB-level figure measured there: 12 frames of independent noise scatter by ~±20 %), the
    tracker reports "ok" and no jump; the same flowgraph without a calibration misses every target."""
    s = load_scenario(THREE_NODES)
    air = s.with_impairments({"preset": "lab-sync", "seed": SEED})
    calibration = trials.estimate_calibration(air, SEED, SEED + 1).calibration
    frames = 12
    estimates, status = run_flowgraph(air, calibration, frames)
    errors = np.array([trials.trial_stats.matched_errors(np.asarray(estimates[f].positions_m), s.target_positions_m)
                       for f in sorted(estimates)])
    rmse = float(np.sqrt(np.mean(np.sum(errors ** 2, axis=(1, 2)))))
    reference = trials.run_trials(s, {"preset": "lab-sync", "seed": SEED}, "none", 12, SEED, with_ideal=True)
    print(f"\nflowgraph, lab air, calibrated: RMSE {rmse:.4f} m over {len(estimates)} frames; ideal air (core) "
          f"{reference['rmse_ideal_m']:.4f} m, √CRB {reference['crb_m']:.4f} m; status calibration="
          f"{status['calibration']} jumps={status['calibration_jumps']}")
    assert len(estimates) == frames and status["frames_localised"] == frames
    assert np.all(np.linalg.norm(errors, axis=2) < trials.trial_stats.default_gate_m(s))
    assert rmse <= 1.5 * reference["rmse_ideal_m"]
    assert status["calibration"] == "ok" and status["calibration_jumps"] == 0
    uncalibrated, status_none = run_flowgraph(air, None, 4)
    errors_none = np.array([trials.trial_stats.matched_errors(np.asarray(e.positions_m), s.target_positions_m)
                            for e in uncalibrated.values()])
    assert status_none["calibration"] == "none"
    assert np.all(np.linalg.norm(errors_none, axis=2).max(axis=1) > trials.trial_stats.default_gate_m(s))


# ---- the central unit's tracker, the apps ------------------------------------------------------------

def test_the_central_unit_flags_a_calibration_jump_within_10_frames():
    """The central unit with a calibration, fed frames whose air matches it ("ok", no jump), then frames from
    an air whose latencies changed (a radio restart after the calibration): calibration_jumps counts one
    jump and the status field says "jump" within 10 frames."""
    from gnuradio.disac.blocks.central_unit import central_unit
    from gnuradio.disac.core import fusion

    s = load_scenario(THREE_NODES)
    air = s.with_impairments({"preset": "lab-sync", "seed": SEED})
    cal = trials.truth_calibration(air)
    restarted = s.with_impairments({"preset": "lab-sync", "seed": SEED, "latency_samples": list(
        air.impairments.latency_samples + [0.0, 0.37, -0.21])})  # new latencies on nodes 2 and 3
    cu = central_unit(s, SEED, calibration=cal, status_interval_s=0)
    lay = ofdm.layout_from_scenario(s)
    wc, wr = ofdm.default_precoders(lay, s.per_antenna_power)
    wc, wr = [wc] * s.num_nodes, [wr] * s.num_nodes
    assert cu.status()["calibration"] == "none"  # no frame checked yet

    def feed(scenario_air, frames):
        snaps = trials.receive_snapshots(scenario_air, wc, wr, frames, SEED, SEED + 1, cal)
        states = []
        for i, f in enumerate(frames):
            frame_set = fusion.FrameSet(int(f), {n: snaps[i, n] for n in range(s.num_nodes)},
                                        {n: 0 for n in range(s.num_nodes)}, 0.0,
                                        precoder_ids={n: 0 for n in range(s.num_nodes)})
            cu.process_frame(frame_set, None)
            states.append(cu.status()["calibration"])
        return states

    assert feed(air, np.arange(10, 16)) == ["ok"] * 6 and cu.status()["calibration_jumps"] == 0
    states = feed(restarted, np.arange(16, 26))
    assert "jump" in states and states.index("jump") < 10, states
    status = cu.status()
    assert status["calibration_jumps"] == 1 and status["frames_localised"] == 16 and status["worker_errors"] == 0


def run_cli(*argv):
    import json
    import os
    import subprocess
    import sys

    root = os.path.dirname(HERE)
    wrapper = ("import runpy, sys, gnuradio; "
               f"gnuradio.__path__.insert(0, {os.path.join(root, 'python')!r}); "
               f"sys.argv[0] = 'disac'; runpy.run_path({os.path.join(root, 'apps', 'disac')!r}, run_name='__main__')")
    proc = subprocess.run([sys.executable, "-c", wrapper, *argv], capture_output=True, text=True, timeout=900,
                          env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    if "--json" not in argv:
        return proc
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def test_localize_and_loopback_take_impairments_and_report_the_calibration(tmp_path):
    """`disac localize --impairments lab --calibration auto` and `disac loopback --impairments ideal
    --calibration FILE` run and report the calibration object (method, residuals from the fit, jumps,
    state); `--impairments ideal` gives today's numbers exactly; a bad value is a usage error naming it."""
    auto = run_cli("localize", THREE_NODES, "--trials", "3", "--snr-db", "10", "--precoders", "random",
                   "--impairments", "lab-sync", "--calibration", "auto", "--json")
    cal = auto["calibration"]
    assert cal["method"] == "direct_path" and cal["residuals"]["timing_ns_rms"] < 0.1, cal
    assert cal["state"] == "ok" and cal["jumps"] == 0 and auto["failures"] == 0, auto
    plain = run_cli("localize", THREE_NODES, "--trials", "3", "--snr-db", "10", "--precoders", "random", "--json")
    ideal = run_cli("localize", THREE_NODES, "--trials", "3", "--snr-db", "10", "--precoders", "random",
                    "--impairments", "ideal", "--json")
    # the same samples in another process: GNU Radio's chunks change the complex64 rounding (~1e-7 relative,
    # seen as 2.3e-7 on the MSE), so "today's numbers" means equal to 1e-5 relative, far below any change of model
    assert ideal["mse_m2"] == pytest.approx(plain["mse_m2"], rel=1e-5) and plain["calibration"]["state"] == "none"
    path = tmp_path / "cal.json"
    trials.truth_calibration(load_scenario(THREE_NODES).with_impairments("ideal")).save(str(path))
    loop = run_cli("loopback", THREE_NODES, "--frames", "4", "--precoders", "random", "--impairments", "ideal",
                   "--calibration", str(path), "--json")
    assert loop["calibration"]["method"] == "truth" and loop["snapshot_model_error_rel"] <= 1e-4
    bad = run_cli("localize", THREE_NODES, "--trials", "1", "--snr-db", "10", "--impairments", "lab-ish")
    assert bad.returncode != 0 and "--impairments lab-ish" in bad.stderr and "Traceback" not in bad.stderr
    bad = run_cli("loopback", THREE_NODES, "--frames", "1", "--calibration", str(tmp_path / "missing.json"))
    assert bad.returncode != 0 and "--calibration" in bad.stderr and "Traceback" not in bad.stderr
