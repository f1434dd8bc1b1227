# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""The calibration estimator (core/calibration_estimator.py) on captures of known truth.

The captures here come from ``spec_air_capture``, a sample-by-sample implementation of docs/air-model.md §2 written
in this test file from the spec alone (not the air engineer's channel): true band-limited delays of each
OFDM symbol's trigonometric polynomial (τ + D_mn, D_mn = δ_m − δ_n + λ_n/fs), per-channel tx/rx gains,
per-node CFO on the transmit and receive samples, per-frame or per-run oscillator phases (the phase of
the transmitted symbol's frame), the direct path, the reference reflector, the targets and AWGN before
the rx gain. The truth (core.impairments.Impairments) is read by the tests only; the estimator is given
``scenario.without_impairments()``.

Tolerances are the issue's "done when" figures: residual channel phase ≤ 2° RMS, timing ≤ 0.1 ns
(0.001 sample at 10 MHz) RMS, against the truth.
"""

import os

import numpy as np
import pytest

from gnuradio.disac.core import calibration_estimator as est
from gnuradio.disac.core import channels, geometry, model, ofdm
from gnuradio.disac.core.calibration import CalibrationError
from gnuradio.disac.core.scenario import load_scenario

C = geometry.SPEED_OF_LIGHT_M_S
SEED = 7  # the transmitters' data seed
CHANNEL_SEED = 11


def spec_phases(scenario, imp, frames):
    """φ_n per frame (F, N) per docs/air-model.md §2: per_frame = today's node_phases_rad; per_run = φ_0 + 2π·drift/360·t_f."""
    lay = ofdm.layout_from_scenario(scenario)
    if imp.node_phase == "per_run":
        start = channels.node_phases_rad(CHANNEL_SEED, [0], scenario.num_nodes)[0]
        t = np.asarray(frames, float)[:, None] * lay.frame_len / scenario.bandwidth_hz
        return start[None] + 2 * np.pi * imp.phase_drift_deg_per_s[None] / 360 * t
    return channels.node_phases_rad(CHANNEL_SEED, frames, scenario.num_nodes)


def spec_paths(scenario, imp):
    """(tx, rx, delay_s, θ_tx, θ_rx, amplitude) of every path of the air: targets, direct paths, reflector."""
    nodes = np.asarray(scenario.node_positions_m)
    out = []
    theta = scenario.target_angles_rad()
    tau = scenario.target_delays_s()
    b = scenario.target_amplitudes()
    for n in range(scenario.num_nodes):
        for m in range(scenario.num_nodes):
            for k in range(scenario.num_targets):
                out.append((m, n, tau[m, k] + tau[n, k], theta[m, k], theta[n, k], b[n, m, k]))
    if imp.direct_path:
        beta = np.sqrt(10 ** (imp.direct_path_snr_db / 10) * scenario.noise_power / scenario.per_antenna_power)
        ang = geometry.angles_rad(nodes, nodes)
        for n in range(scenario.num_nodes):
            for m in range(scenario.num_nodes):
                if m != n:
                    out.append((m, n, np.linalg.norm(nodes[m] - nodes[n]) / C, ang[m, n], ang[n, m], beta))
    if scenario.reflector_m is not None:
        q = np.asarray(scenario.reflector_m)[None]
        t1, a1 = geometry.one_way_delays_s(nodes, q)[:, 0], geometry.angles_rad(nodes, q)[:, 0]
        for n in range(scenario.num_nodes):
            for m in range(scenario.num_nodes):
                out.append((m, n, t1[m] + t1[n], a1[m], a1[n], scenario.reflector_amplitude))
    return out


def spec_air_capture(scenario, total_frames, first_index, length, noise=True, noise_seed=3, precoders=None,
                     imp=None, extra_delay_samples=None, schedule=None, tx_cfo_correction_hz=None):
    """Every node's received samples (labels first_index … first_index + length − 1) of a run whose nodes
    send frames 0 … total_frames − 1 with ``precoders`` (default: the calibration set; or {node: (W_c, W_r)}),
    per docs/air-model.md §2; with
    a ``schedule`` (est.CalibrationSchedule) node m is silent outside its turn.
    extra_delay_samples: optional (N_rx, N_tx) added to D (a timing jump for the tracker tests);
    tx_cfo_correction_hz: a calibrated transmitter's e^{−j2πε̂_m t} (N,)."""
    imp = scenario.impairments if imp is None else imp
    lay = ofdm.layout_from_scenario(scenario)
    fs = scenario.bandwidth_hz
    sl, cp, L = lay.symbol_len, lay.cyclic_prefix, lay.subcarriers
    fn = ofdm.bin_frequencies_hz(L, fs) / fs
    frames = np.arange(total_frames)
    phases = spec_phases(scenario, imp, frames)  # (F, N)
    d_link = imp.link_delay_samples(fs)  # [n, m]
    if extra_delay_samples is not None:
        d_link = d_link + extra_delay_samples
    spectra = []
    for m in range(scenario.num_nodes):
        pre = precoders.get(m) if isinstance(precoders, dict) else precoders
        x = est.transmitted_samples(scenario, SEED, frames, m, pre)  # (Mt, T)
        if schedule is not None:
            silent = np.array([schedule.transmitter_of(f) != m for f in frames])
            x = x.reshape(scenario.tx_antennas, total_frames, -1)
            x[:, silent] = 0
            x = x.reshape(scenario.tx_antennas, -1)
        sym = x.reshape(scenario.tx_antennas, -1, sl)
        spectra.append(np.fft.fft(sym[..., cp:], axis=-1, norm="ortho"))  # (Mt, S, L)
    labels = first_index + np.arange(length)
    rng = np.random.default_rng(noise_seed)
    captures = {}
    for n in range(scenario.num_nodes):
        field = np.zeros((scenario.rx_antennas, length), dtype=complex)
        for (m, rx, tau, th_t, th_r, amp) in spec_paths(scenario, imp):
            if rx != n:
                continue
            u = labels - (tau * fs + d_link[n, m])  # the transmitter's local time (samples)
            s = np.floor(u / sl).astype(int)
            ok = (s >= 0) & (s < spectra[m].shape[1])
            local = u - s * sl - cp
            beam = np.einsum("i,isl->sl", geometry.ula_steering(th_t, scenario.tx_antennas) * imp.tx_gains[m],
                             spectra[m])
            value = np.zeros(length, dtype=complex)
            sv = s[ok]
            value[ok] = np.sum(beam[sv] * np.exp(2j * np.pi * np.outer(local[ok], fn)), axis=1) / np.sqrt(L)
            frame_of = np.clip(s, 0, total_frames * lay.frame_symbols - 1) // lay.frame_symbols
            value *= np.exp(1j * (phases[frame_of, m] - phases[frame_of, n]))  # the tx symbol's frame
            tx_cfo = imp.cfo_hz[m] - (0.0 if tx_cfo_correction_hz is None else tx_cfo_correction_hz[m])
            value *= np.exp(2j * np.pi * tx_cfo * u / fs)  # tx CFO at the transmitter's local time
            field += amp * np.outer(geometry.ula_steering(th_r, scenario.rx_antennas), value)
        if noise:
            field += np.sqrt(scenario.noise_power / 2) * (rng.standard_normal(field.shape)
                                                          + 1j * rng.standard_normal(field.shape))
        y = imp.rx_gains[n][:, None] * field * np.exp(-2j * np.pi * imp.cfo_hz[n] * labels / fs)[None]
        captures[n] = est.ReceivedCapture(y, first_index)
    return captures


def calibration_capture(scenario, frames_per_node=12, **kwargs):
    """(schedule, captures, max_lag) of a calibration run: the nodes take turns, each receiver records from
    label 0 to the end of the schedule."""
    lay = ofdm.layout_from_scenario(scenario)
    max_lag = 300
    # this spec air keeps its reflector in view all the time (no background pass: test_calibration_lab.py plays it)
    schedule = est.CalibrationSchedule.for_search(scenario, frames_per_node, max_lag, background=False)
    total = schedule.total_frames
    caps = spec_air_capture(scenario, total, 0, total * lay.frame_len, schedule=schedule, **kwargs)
    return schedule, caps, max_lag


def truth_errors(scenario, fit):
    """(rx phase °RMS, tx phase °RMS, link timing ns RMS, rx gain dB RMS) against the truth, gauges removed."""
    imp = scenario.impairments
    cal = fit.calibration

    def phase_err(est_g, true_g):
        ratio = est_g / true_g
        ratio = ratio / np.mean(ratio, axis=1, keepdims=True)  # a common per-node factor is a gauge
        return np.degrees(np.sqrt(np.mean(np.angle(ratio) ** 2))), 20 * np.log10(np.abs(ratio))
    rx_deg, rx_db = phase_err(cal.rx_gains, imp.rx_gains)
    tx_deg, _ = phase_err(cal.tx_gains, imp.tx_gains)
    timing = (cal.link_delay_samples() - imp.link_delay_samples(scenario.bandwidth_hz)) / scenario.bandwidth_hz * 1e9
    return rx_deg, tx_deg, float(np.sqrt(np.mean(timing ** 2))), float(np.sqrt(np.mean(rx_db ** 2)))


LAB_PER_RUN = {"preset": "lab", "seed": 5, "node_phase": "per_run", "phase_drift_deg_per_s": 20.0, "cfo_hz": 50.0}


def test_the_spec_air_without_impairments_is_the_model():
    """The test's own air is eq. (3)/(5): with the ideal table and no noise, the snapshots at offset 0 equal
    core.model.sensing_mean with the oscillator phases (to complex64 rounding)."""
    s = load_scenario("paper")
    lay = ofdm.layout_from_scenario(s)
    total, frames = 4, np.arange(1, 4)
    caps = spec_air_capture(s, total, 0, total * lay.frame_len, noise=False)
    wc, wr = est.calibration_precoders(s)
    x = np.stack([ofdm.transmitted_frames(lay, SEED, frames, m, wc, wr) for m in range(2)], axis=1)  # (F, N, ...)
    phases = spec_phases(s, s.impairments, frames)
    for j, f in enumerate(frames):
        amps = channels.linked_amplitudes(s.target_amplitudes(), phases[j:j + 1])[0]
        want = model.sensing_mean(s.target_angles_rad(), s.target_delays_s(), amps, x[j], s.rx_antennas, s.bandwidth_hz)
        for n in range(2):
            got = est.frame_snapshots(caps[n], lay, [f], 0)[0]
            # the frames' samples are regenerated in complex64 (ofdm.FrameGenerator.stream_time): 1e-6 relative
            np.testing.assert_allclose(got, want[n], atol=1e-6 * np.max(np.abs(want)))


@pytest.fixture(scope="module")
def paper_reflector_fit():
    s = load_scenario("paper").with_impairments(LAB_PER_RUN)
    s = s.replace(reflector_m=[-60.0, -20.0], reflector_amplitude=np.sqrt(100 / 4))
    schedule, caps, max_lag = calibration_capture(s)
    fit = est.estimate_calibration(s.without_impairments(), caps, schedule, SEED, max_lag_samples=max_lag)
    return s, caps, schedule, max_lag, fit


def test_n2_with_reflector_meets_the_issue_figures(paper_reflector_fit):
    s, _, _, _, fit = paper_reflector_fit
    assert fit.calibration.method == "direct_path+reflector"
    rx_deg, tx_deg, timing_ns, rx_db = truth_errors(s, fit)
    assert rx_deg <= 2.0 and tx_deg <= 2.0  # the issue's ≤ 2° RMS
    assert timing_ns <= 0.1  # the issue's ≤ 0.1 ns RMS (0.001 sample)
    assert rx_db <= 0.2  # gains: the lab's 1 dB std is removed to well under a tenth
    # CFO differences (per_run phases: measured; the drift is part of the link phase progression)
    imp = s.impairments
    true_diff = (imp.cfo_hz + imp.phase_drift_deg_per_s / 360.0) - (imp.cfo_hz[0] + imp.phase_drift_deg_per_s[0] / 360.0)
    assert fit.cfo_measured
    # 12 frames span 130 µs: at the direct paths' fitted ~58 dB the phase-slope bound is ≈ 1 Hz; 2 Hz is 4 %
    # of the 50 Hz std drawn, and turns a frame by 1.4e-4 rad
    np.testing.assert_allclose(fit.calibration.cfo_hz, true_diff, atol=2.0)
    res = fit.calibration.residuals
    assert res.timing_ns_rms is not None and res.timing_ns_rms < 0.1 and res.cfo_hz_rms < 2.0
    assert len(res.links) == 4  # two direct paths + the reflector on all four links


def test_the_estimator_never_reads_the_impairments(paper_reflector_fit):
    """Given the scenario with its truth (instead of without_impairments()), the result is identical."""
    s, caps, schedule, max_lag, fit = paper_reflector_fit
    again = est.estimate_calibration(s, caps, schedule, SEED, max_lag_samples=max_lag)
    for key in ("rx_gains", "tx_gains", "rx_delay_samples", "tx_delay_samples", "cfo_hz"):
        np.testing.assert_array_equal(getattr(again.calibration, key), getattr(fit.calibration, key))


def test_n3_with_direct_paths_only():
    s = load_scenario("examples/scenarios/three-nodes.toml").with_impairments(LAB_PER_RUN)
    schedule, caps, max_lag = calibration_capture(s, frames_per_node=10)
    fit = est.estimate_calibration(s.without_impairments(), caps, schedule, SEED, max_lag_samples=max_lag)
    assert fit.calibration.method == "direct_path"
    rx_deg, tx_deg, timing_ns, _ = truth_errors(s, fit)
    assert rx_deg <= 2.0 and tx_deg <= 2.0 and timing_ns <= 0.1
    assert len(fit.calibration.residuals.links) == 6  # the N(N − 1) direct paths


def test_n2_without_reflector_is_refused():
    s = load_scenario("paper").with_impairments(LAB_PER_RUN)
    schedule, caps, max_lag = calibration_capture(s, frames_per_node=4)
    with pytest.raises(CalibrationError, match=r"not identifiable.*N = 2 nodes.*reflector_m"):
        est.estimate_calibration(s.without_impairments(), caps, schedule, SEED, max_lag_samples=max_lag)


def test_per_frame_phases_leave_the_cfo_unmeasured_but_the_rest_calibrated():
    s = load_scenario("paper").with_impairments({"preset": "lab", "seed": 2})
    s = s.replace(reflector_m=[-60.0, -20.0], reflector_amplitude=np.sqrt(100 / 4))
    schedule, caps, max_lag = calibration_capture(s, frames_per_node=12)
    fit = est.estimate_calibration(s.without_impairments(), caps, schedule, SEED, max_lag_samples=max_lag)
    assert not fit.cfo_measured and fit.calibration.residuals.cfo_hz_rms is None
    assert np.all(fit.calibration.cfo_hz == 0) and any("CFO not measured" in n for n in fit.notes)
    rx_deg, tx_deg, timing_ns, _ = truth_errors(s, fit)
    assert rx_deg <= 2.0 and tx_deg <= 2.0 and timing_ns <= 0.1


# ---- high target SNR (SPEC16 "cal13"): the targets' echoes as nuisance paths -----------------------------------

def _three_nodes_off_line():
    """tests/scenarios/three_nodes_calibration.toml with its third node at [0, −200] m, the layout stop 18 saw the
    bias on (the file's comment: it was replaced for the localiser's sake): node 3's direct paths arrive at
    sin θ = ±0.92, node 1 ↔ 2's end-fire, and one target's echo on link 1 → 3 sits 0.9 correlated with the direct
    path (0.13 sample, a few degrees away)."""
    s = load_scenario(os.path.join(os.path.dirname(__file__), "scenarios", "three_nodes_calibration.toml"))
    return s.replace(node_positions_m=np.array([[-141.4, 141.4], [-141.4, -141.4], [0.0, -200.0]]))


@pytest.mark.parametrize("snr_db", [20.0, 30.0])
def test_high_target_snr_keeps_the_issue_figures_and_the_residuals_honest(snr_db):
    """At 20–30 dB target SNR the targets' echoes are 14–24 dB over the noise on every link after the array and
    band gains. Before: the nuisance echoes stayed on the search grid (1/64 in sin θ, 1/8 sample: a strong echo
    left a structured residual ~20 dB under itself), the greedy search put nuisance paths on the direct path's own
    cell (end-fire aliasing), and a target echo near a direct path biased the link: on this seed 0.58 ns (20 dB) and
    1.8 ns, 2.3° (30 dB) against the truth while the residuals said 0.11 / 0.41 ns and 0.03–0.06°. The issue's
    done-when at every SNR: ≤ 2° RMS, ≤ 0.1 ns RMS (measured now: 0.010 ns, 0.02°). The residuals must not
    understate the error: the truth's timing error within 4× the reported standard error (the RMS over six links
    of errors that are each one standard error: 4× is a ≥ 3σ margin on the RMS), and no echo left in the residual
    above the search's 15 dB (white noise alone gives ≈ 10.5 dB here)."""
    from gnuradio.disac.core import calibration_air, impairment_trials, trial_stats
    s = trial_stats.scenario_at_snr(_three_nodes_off_line(), snr_db)
    air = s.with_impairments({"preset": "lab-sync", "seed": 1, "direct_path": True})
    fit = impairment_trials.estimate_calibration(air, 1, 2)
    truth = calibration_air.truth_errors(air, fit.calibration)
    assert fit.calibration.method == "direct_path"
    assert truth["rx_phase_deg_rms"] <= 2.0 and truth["tx_phase_deg_rms"] <= 2.0  # the issue's 2° RMS
    assert truth["timing_ns_rms"] <= 0.1  # the issue's 0.1 ns RMS
    res = fit.calibration.residuals
    assert res.timing_ns_std is not None and truth["timing_ns_rms"] <= 4 * res.timing_ns_std
    assert res.unmodelled_echo_db is not None and res.unmodelled_echo_db < est._SCATTERER_SNR_DB
    assert all(link.timing_ns_std is not None and link.unmodelled_echo_db is not None for link in res.links)


def test_the_residuals_flag_what_the_fit_leaves(monkeypatch):
    """With the nuisance search switched off (no target echo fitted), the same 20 dB capture is biased (truth:
    0.66 ns, 0.8° here); the residuals must say so rather than report noise-level figures as before (the model's
    standard errors alone: 0.025°): the mismatch statistic far above the search's 15 dB (measured 33.5 dB), and
    the timing's standard error of the order of the error it misses (measured 0.54 ns against 0.66 ns: the truth
    within 2×)."""
    from gnuradio.disac.core import calibration_air, impairment_trials, trial_stats
    monkeypatch.setattr(est, "_SCATTERER_MAX_PER_LINK", 0)
    s = trial_stats.scenario_at_snr(_three_nodes_off_line(), 20.0)
    air = s.with_impairments({"preset": "lab-sync", "seed": 1, "direct_path": True})
    fit = impairment_trials.estimate_calibration(air, 1, 2)
    truth = calibration_air.truth_errors(air, fit.calibration)
    res = fit.calibration.residuals
    assert truth["timing_ns_rms"] > 0.3  # the bias is there (else the test shows nothing)
    assert res.unmodelled_echo_db > est._SCATTERER_SNR_DB + 10
    assert truth["timing_ns_rms"] <= 2 * res.timing_ns_std


def test_high_target_snr_on_the_paper_scenario_with_a_reflector():
    """The paper scenario with test_calibrated_localization's reflector at (−100, 0) m (its direct paths end-fire,
    the reflector 0.6 correlated with them on the bistatic links), 20 dB target SNR, lab-sync, seed 0: before,
    0.165 ns and 0.53° against the truth (residuals: 0.13 ns, 0.045°); now 0.046 ns and 0.03°. The issue's
    ≤ 2° and ≤ 0.1 ns; the reported standard error within 4× of the truth's error (as above)."""
    from gnuradio.disac.core import calibration_air, impairment_trials, trial_stats
    s = load_scenario("paper").replace(reflector_m=np.array([-100.0, 0.0]), reflector_amplitude=np.sqrt(100 / 4))
    air = trial_stats.scenario_at_snr(s, 20.0).with_impairments({"preset": "lab-sync", "seed": 0, "direct_path": True})
    fit = impairment_trials.estimate_calibration(air, 0, 1)
    truth = calibration_air.truth_errors(air, fit.calibration)
    assert fit.calibration.method == "direct_path+reflector"
    assert truth["rx_phase_deg_rms"] <= 2.0 and truth["tx_phase_deg_rms"] <= 2.0 and truth["timing_ns_rms"] <= 0.1
    assert truth["timing_ns_rms"] <= 4 * fit.calibration.residuals.timing_ns_std


def test_paper_seed_3_noise_is_not_taken_for_a_disagreement():
    """The paper scenario with the reflector at (−100, 0) m, lab-sync + direct paths, impairment seed 3, 10 dB target
    SNR (docs/calibration.md, "High target SNR"). Before SPEC16 "cal13b" the reflector pass's delay on link 2 → 1 was
    0.0018 sample off the direct path's, "4.5 combined standard errors", and the arbitration took the reflector pass's:
    0.106 ns RMS against the truth, over the issue's 0.1 ns. The cause was not an echo but the standard errors: the
    delay's derivative was not projected off the per-frame amplitudes (on the low-IF grid most of it is a phase the
    amplitude absorbs), so both variances were 2.5–3.5× too small in standard error and the Gauss–Newton steps that
    share too short; the 0.0018 was an ordinary noise draw of the reflector pass (its scatter over 8 noise draws
    0.0010 sample RMS, the honest standard error now 0.0008). This air has no clutter: nothing pulls the direct paths,
    so no link may disagree, and the direct paths (8× more precise) carry the bistatic delays. Measured now:
    0.063 ns; the issue's 0.1 ns is the limit, and the reported standard error must cover the truth's error (4×, as
    the tests above)."""
    from gnuradio.disac.core import calibration_air, impairment_trials, trial_stats
    s = load_scenario("paper").replace(reflector_m=np.array([-100.0, 0.0]), reflector_amplitude=np.sqrt(100 / 4))
    air = trial_stats.scenario_at_snr(s, 10.0).with_impairments({"preset": "lab-sync", "seed": 3, "direct_path": True})
    fit = impairment_trials.estimate_calibration(air, 3, 4)
    truth = calibration_air.truth_errors(air, fit.calibration)
    assert fit.calibration.method == "direct_path+reflector"
    assert not any("disagreed" in note for note in fit.notes), fit.notes
    assert truth["timing_ns_rms"] <= 0.1  # the issue's 0.1 ns RMS (0.106 before)
    assert truth["rx_phase_deg_rms"] <= 2.0 and truth["tx_phase_deg_rms"] <= 2.0
    assert truth["timing_ns_rms"] <= 4 * fit.calibration.residuals.timing_ns_std
    # both bistatic links were checked against the reflector pass (found there, well over the 25 dB presence level)
    assert fit.path_snr_db[(0, 1, "reflector_pass")] > 35 and fit.path_snr_db[(1, 0, "reflector_pass")] > 35
