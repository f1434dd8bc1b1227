# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Issue 14's localisation "done when": the central unit sees the targets through the interference
(core.interference: the static background of every link — direct paths, self-coupling, clutter — learned from a
clear-scene capture after per-link de-rotation and subtracted per frame; docs/interference.md).

The trials are core-level (core.impairment_trials: the same transmitter, air, receive front end — engineer
radio's AGC, ADC and RF canceller — and central-unit code as the blocks), seeded, a few tens of frames each.
Where a reference run shares the noise realisation with the impaired one (the noise is drawn per frame window
from the seed), a ratio of two RMSE of the same frames scatters far less than two independent RMSE would; the
tolerances below are the issue's, and each comment gives the figure measured.

Decided (docs/interference.md): the background is learned from a capture with the scene clear (targets absent,
as a deployment records one), made in the same run as the trials (the front end's canceller holds the same
weights through both). The receive side is given ``scenario.without_impairments()`` only.
"""

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from gnuradio.disac.core import impairment_trials as trials, interference, ofdm
from gnuradio.disac.core.scenario import load_scenario

HERE = os.path.dirname(__file__)
SEED = 3
FRAMES = 30
# the direct paths at free-space level (+52 dB above the mean echo on the paper geometry, +51…53 dB on three-nodes)
FREE_SPACE = {"direct_path": True, "direct_path_db": "free_space"}
# a B210-class TX→RX latency: the RF canceller (engineer radio's) finds its delay from samples; at exactly 0 it
# does not engage (reported to the radio engineer), which no radio has
LATENCY = {"latency_samples": 100.4}


def paper():
    return load_scenario("paper")


def _run(scenario, table, frames=FRAMES, **options):
    return trials.run_trials(scenario, dict(table, seed=SEED), "truth", frames, SEED, search="track", **options)


# ---- the done-when --------------------------------------------------------------------------------

def test_direct_path_and_self_coupling_through_a_12_bit_adc():
    """Direct paths at free-space level + 40 dB antenna isolation (the leakage ~+104 dB above the mean echo)
    + a 12-bit ADC behind the radio's 60 dB RF canceller: RMSE ≤ 1.15 × the interference-free RMSE of the same
    seeds (the same latency and calibration, no direct path, leakage or ADC), 0 failed frames. Without
    suppression (issue 13's receiver: the known direct paths projected out at their geometry) the same run fails
    every frame: the leakage's residual after the canceller (+41 dB over σ²) swamps the echoes."""
    table = dict(FREE_SPACE, isolation_db=40.0, rf_canceller_db=60.0, adc_bits=12, **LATENCY)
    run = _run(paper(), table, suppression="background", reference_table=dict(LATENCY, seed=SEED), with_ideal=False)
    none = _run(paper(), table, suppression="none", with_ideal=False)
    print(f"\nDP+SC+12 bit: suppressed {run['rmse_m']:.4f} m, interference-free {run['rmse_reference_m']:.4f} m "
          f"(ratio {run['ratio_to_reference']:.3f}); without suppression {none['rmse_m']:.1f} m, failed "
          f"{none['failed']}/{FRAMES}; {run['interference']}")
    # measured: ratio 1.087 (30 frames, shared noise), 0 failed: the 12-bit ADC's floor (−10 dB re σ² behind the
    # canceller) and the background's estimation error; bench/interference_curves.py: 1.08 at 12 bits, 1.02 at 14
    assert run["failed"] == 0 and run["failed_reference"] == 0
    assert run["ratio_to_reference"] <= 1.15, run["ratio_to_reference"]
    # measured: 30/30 failed (errors of hundreds of metres)
    assert none["failed"] >= FRAMES // 2, none["failed"]
    assert run["front_end"][0]["canceller_settled"] and run["front_end"][0]["canceller_retunes"] == 0
    # no beyond-CP clutter here: the auto capture keeps its base length (no cost for this air)
    assert run["interference"]["frames_per_node"] == trials.DEFAULT_BACKGROUND_FRAMES_PER_NODE
    assert run["interference"]["capture"]["extended_from"] is None and run["interference"]["beyond_cp_taps"] is None


def test_static_clutter_with_per_run_phases_and_drift():
    """50 static scatterers at 30 dB clutter-to-noise (P_T·Σ|β_c|²/σ² over every link), the nodes' oscillators
    per run with a 10 °/s drift, the direct paths at free-space level: RMSE ≤ 1.20 × the clutter-free (ideal)
    air's of the same seeds, 0 failed frames; without suppression it fails."""
    table = dict(FREE_SPACE, clutter_scatterers=50, clutter_to_noise_db=30.0, node_phase="per_run",
                 phase_drift_deg_per_s=10.0)
    run = _run(paper(), table, suppression="background")
    none = _run(paper(), table, suppression="none", with_ideal=False, frames=10)
    print(f"\nclutter: {run['rmse_m']:.4f} m, clutter-free {run['rmse_ideal_m']:.4f} m (ratio {run['ratio_to_ideal']:.3f}); "
          f"without suppression failed {none['failed']}/10")
    # measured: ratio 0.99 (30 frames), 0 failed
    assert run["failed"] == 0 and run["ratio_to_ideal"] <= 1.20, run["ratio_to_ideal"]
    assert none["failed"] >= 5, none["failed"]  # measured 10/10 (the clutter, +25 dB per RE, is the strongest echo)
    assert run["interference"]["beyond_cp_count"] == 0  # none of these scatterers is beyond the prefix
    assert run["interference"]["frames_per_node"] == trials.DEFAULT_BACKGROUND_FRAMES_PER_NODE  # the base length
    assert run["interference"]["capture"]["extended_from"] is None


def test_clutter_beyond_the_cyclic_prefix():
    """Every scatterer at 1.5 × CP (paper: 30 samples, CP 20) at 20 dB clutter-to-noise: flagged from the samples
    (the neighbouring subcarriers explain the background's residual: beyond_cp_db ≈ +10 dB on both nodes, counted
    in the JSON), and the beyond-CP taps learned there take the floor it leaves from +12 dB over σ² (every frame
    failed without them) to the noise. RMSE rise ≤ 10 % against the same clutter inside the prefix (same seeds)."""
    inside = dict(FREE_SPACE, clutter_scatterers=50, clutter_to_noise_db=20.0, clutter_beyond_cp_fraction=0.0)
    beyond = dict(inside, clutter_beyond_cp_fraction=1.0)
    run_beyond = _run(paper(), beyond, suppression="background", frames=20)
    # the same trial frames (the same noise): the auto capture may have grown before the beyond-CP run's trials
    run_inside = _run(paper(), inside, suppression="background", frames=20, first_frame=run_beyond["first_frame"])
    assert run_inside["first_frame"] == run_beyond["first_frame"]
    rise = run_beyond["rmse_m"] / run_inside["rmse_m"] - 1
    print(f"\nbeyond CP: {run_beyond['rmse_m']:.4f} m vs inside {run_inside['rmse_m']:.4f} m: rise {100 * rise:.1f} %; "
          f"flags {run_beyond['interference']['beyond_cp_db']}; capture {run_beyond['interference']['capture']}")
    assert run_beyond["interference"]["beyond_cp_count"] == 2 and run_inside["interference"]["beyond_cp_count"] == 0
    assert run_beyond["failed"] == 0
    # measured: 1.055 m beyond against 1.130 m inside, −6.6 % (the same trial frames and noise, the two clutter draws
    # differ); the auto capture grew 200 → 300 frames per node there (15 masks in one fit want 300 for five shifts).
    # Before (200 frames, three shifts): 1.1075 m against 1.0959 m, +1.1 %
    assert rise <= 0.10, rise
    assert run_beyond["interference"]["capture"]["tap_shifts"] == 5  # the capture paid for five shifts per mask
    assert max(run_beyond["interference"]["residual_excess_db"]) < 1.0  # measured −0.2 / +0.2 dB (12 dB untreated)


def test_the_lab_preset_on_the_paper_scenario():
    """The "lab" preset — every impairment of issues 13 and 14, its own drawn CFO (5 Hz std: −7.4 and −0.36 Hz at
    seed 4) — on the paper scenario (the drawn impairments as the calibration: N = 2 cannot calibrate from direct
    paths alone) with the DEFAULT background capture ("auto"): RMSE ≤ 1.25 × the ideal air's, 0 failed frames, over
    40 frames. What the default gave before: 1.71 × (the 200-frame capture learned three shifts per beyond-CP mask:
    capture_tap_shifts counted every link's taps as if it learned all L = 16 masks, which 200 frames cannot pay for at
    five; the links learn ≤ 7 — the masks found — which 200 frames pay for: docs/interference.md §4 "The capture's
    length"); only `background_frames_per_node = 400` reached five shifts (1.084 ×, the same again below). Node 1's
    clutter just past the prefix is what three shifts interpolate poorly (+2.65 dB learning residual; +0.45 dB of any
    node-1 figure is the calibration's gain gauge: its noise is σ²·|g/ĝ|²). Seed 4: on its frames the ratio tells
    the receivers apart (seed 3's 40 frames give 0.96 × with three or five shifts). The 3-node scenario:
    test_the_lab_preset_on_three_nodes."""
    scenario = paper()
    seed = 4
    run = trials.run_trials(scenario, {"preset": "lab", "seed": seed}, "truth", 40, seed, search="track")
    info = run["interference"]
    print(f"\nlab paper: {run['rmse_m']:.4f} m, ideal {run['rmse_ideal_m']:.4f} m (ratio {run['ratio_to_ideal']:.3f}), "
          f"failed {run['failed']}; {info}")
    assert run["suppression"] == "background"  # "auto" chose it: the air has issue 14's interference
    assert run["failed"] == 0
    # measured 1.139 × (1.1101 m against 0.9743 m, the ideal air on the same frames); before 1.71 × on these frames;
    # the ratio's scatter between seeds and frame windows is ± 0.15 (docs/interference.md §6)
    assert run["rmse_m"] <= 1.25 * max(run["rmse_ideal_m"], run["crb_m"]), run["ratio_to_ideal"]
    assert info["beyond_cp_count"] == 2  # the preset's beyond-CP clutter (10 % at 1.5 × CP)
    # the auto capture kept its base length (the masks found, ≤ 7 per link, pay for five shifts at 200 frames: taps'
    # error 6·5·7/(200·12) = −10.6 dB re σ²; the learning residual below +1.5 dB) and learned five shifts per mask
    assert info["frames_per_node"] == trials.DEFAULT_BACKGROUND_FRAMES_PER_NODE
    assert info["capture"]["requested"] == "auto" and info["capture"]["extended_from"] is None
    assert info["capture"]["tap_shifts"] == 5 and info["beyond_cp_taps"] % 5 == 0 and info["beyond_cp_taps"] > 0
    # the learning residual near the noise: measured +0.53 / +0.81 dB (three shifts, before: +0.62 / +2.65)
    assert max(info["residual_excess_db"]) < 1.2, info["residual_excess_db"]
    # an explicit length is that length: 400 frames per node, the trials after its longer capture (measured 1.084 ×,
    # residual +0.61 / +0.90 dB: the figures of before, bit for bit — five shifts there already)
    explicit = trials.run_trials(scenario, {"preset": "lab", "seed": seed}, "truth", 40, seed, search="track",
                                 background_frames_per_node=400)
    assert explicit["interference"]["frames_per_node"] == 400 and explicit["interference"]["capture"]["requested"] == 400
    assert explicit["first_frame"] == trials.background_capture_room(2, 400)
    assert explicit["failed"] == 0
    assert explicit["rmse_m"] <= 1.25 * max(explicit["rmse_ideal_m"], explicit["crb_m"]), explicit["ratio_to_ideal"]


def test_the_lab_preset_on_three_nodes():
    """The "lab" preset as it draws (cfo_hz 5 Hz included) on examples/scenarios/three-nodes.toml, the drawn
    impairments as the calibration, the DEFAULT background capture ("auto"): RMSE ≤ 1.25 × max(ideal, √CRB), 0
    failed frames, over 20 frames. The preset's beyond-CP scatterers (10 % at 1.5 × CP monostatic from a node) reach
    36.5 samples past the prefix on the bistatic links (masks 1 … 37); the beyond-CP taps are learned per link at the
    masks where the learning residual's time profile steps (core.interference._link_masks, docs/interference.md §4).
    The auto capture extends itself here: at the base 200 frames per node, five shifts per mask leave node 1 (from 0)
    +3.1 dB over σ² (its far masks' steps go unseen after the first, finer fit), so it captures 200 more frames per
    node (the same stream) and learns +0.51 dB. Before: 200 frames with three shifts, +0.89 dB, 1.087 ×; stop 19's
    masks 1 … CP + 4 on every link: +7.8 / +8.4 dB, 138 × with 1/8 failed; 100 frames per node: 237 ×."""
    scenario = load_scenario(os.path.join(HERE, "..", "examples", "scenarios", "three-nodes.toml"))
    run = trials.run_trials(scenario, {"preset": "lab", "seed": SEED}, "truth", 20, SEED, search="track")
    info = run["interference"]
    print(f"\nlab three-nodes: {run['rmse_m']:.4f} m, ideal {run['rmse_ideal_m']:.4f} m, √CRB {run['crb_m']:.4f} m "
          f"(ratio {run['ratio_to_ideal']:.3f}), failed {run['failed']}; {info}")
    assert run["suppression"] == "background"
    # every node sees beyond-CP clutter (measured beyond_cp_db ≈ +9.5 dB on all three at 200 frames, +12.5 at 400)
    assert info["beyond_cp_count"] == 3, info["beyond_cp_db"]
    # the capture's own decision, from its learning residual: 200 → 400 frames per node, five shifts per mask
    assert info["capture"]["extended_from"] == 200 and info["frames_per_node"] == 400, info["capture"]
    assert "residual" in info["capture"]["reason"] and info["capture"]["tap_shifts"] == 5
    assert run["first_frame"] == trials.background_capture_room(3, 400)  # the trials follow the longer capture
    # the taps take the floor to the noise: measured [−0.10, +0.51, +0.02] dB (+0.89 at node 1 with the 200-frame
    # capture, +7.8 / +8.4 dB at nodes 0, 1 with stop 19's masks); 1.5 dB leaves room for the 12-bit ADC and the
    # background's estimation error, and fails the old model
    assert max(info["residual_excess_db"]) < 1.5, info["residual_excess_db"]
    assert run["failed"] == 0
    # measured: 0.995 × (0.4327 m against the ideal air's 0.4350 m, √CRB 0.424 m; 20 frames, the same noise);
    # 1.087 × before with the 200-frame capture (on its own frames; 1.046 × on these)
    assert run["rmse_m"] <= 1.25 * max(run["rmse_ideal_m"], run["crb_m"]), run["ratio_to_ideal"]


def test_the_ideal_preset_is_unchanged():
    """"ideal" (and issue 13's tables without issue 14's keys): suppression "auto" is "none", the results bit for
    bit those of the issue-13 receiver."""
    s = paper()
    a = trials.run_trials(s, {"preset": "ideal"}, "none", 6, SEED, with_ideal=False)
    b = trials.run_trials(s, None, "none", 6, SEED, with_ideal=False, suppression="none")
    assert a["suppression"] == "none"
    np.testing.assert_array_equal(a["errors_m"], b["errors_m"])
    c = trials.run_trials(s, {"direct_path": True, "seed": SEED}, "truth", 6, SEED, with_ideal=False)
    d = trials.run_trials(s, {"direct_path": True, "seed": SEED}, "truth", 6, SEED, with_ideal=False,
                          suppression="none")
    assert c["suppression"] == "none"
    np.testing.assert_array_equal(c["errors_m"], d["errors_m"])


def test_the_receive_side_never_reads_the_impairments():
    """The background learned and the frames localised with the scenario with its [impairments] or without:
    the same estimates, to the last bit (learn_background and the suppressor take samples and geometry only)."""
    s = paper()
    air = s.with_impairments(dict(FREE_SPACE, clutter_scatterers=20, isolation_db=40.0, rf_canceller_db=60.0,
                                  adc_bits=12, seed=SEED, **LATENCY))
    cal = trials.truth_calibration(air)
    lay = ofdm.layout_from_scenario(air.without_impairments())
    wc, wr = ofdm.default_precoders(lay, s.per_antenna_power)
    wc, wr = np.stack([wc] * 2), np.stack([wr] * 2)
    frames = np.arange(900, 904)
    snaps, background = trials.run_with_background_capture(air, wc, wr, frames, SEED, SEED + 1, cal, 40)
    results = []
    for receive_side in (air, air.without_impairments()):
        result = trials.localise_frames(receive_side, snaps, frames, wc, wr, SEED, cal,
                                        suppressor=interference.Suppressor(background))
        results.append(result.positions_m)
    np.testing.assert_array_equal(results[0], results[1])


# ---- the maths on snapshots built from the model ----------------------------------------------------

def _static_background(level_db, seed, n_nodes=2, mr=8, mt=3, nsub=16):
    """H (N_rx, N_tx, L, Mr, Mt): a random static background at level_db per resource element and antenna."""
    rng = np.random.default_rng([seed, 1])
    h = rng.standard_normal((n_nodes, n_nodes, nsub, mr, mt)) + 1j * rng.standard_normal((n_nodes, n_nodes, nsub, mr, mt))
    return h * math.sqrt(10 ** (level_db / 10) / (2 * mt))


def _synthetic(h, frames, seed, phases=True):
    """(snapshots (F, N, Mr, L, 1) = Σ_m α_mn,f H_mn[l] X_m,f + noise (σ² = 1), frames X (unit power), the
    noise alone): per-frame link phases α_mn,f = e^{j(φ_m − φ_n)} (φ fresh every frame) when ``phases``."""
    rng = np.random.default_rng([seed, 2])
    n_nodes, _, nsub, mr, mt = h.shape
    x = (rng.standard_normal((frames, n_nodes, mt, nsub, 1)) + 1j * rng.standard_normal((frames, n_nodes, mt, nsub, 1))) / math.sqrt(2)
    phi = rng.uniform(0, 2 * np.pi, (frames, n_nodes)) if phases else np.zeros((frames, n_nodes))
    y = np.zeros((frames, n_nodes, mr, nsub, 1), complex)
    for n in range(n_nodes):
        for m in range(n_nodes):
            alpha = np.exp(1j * (phi[:, m] - phi[:, n]))
            y[:, n] += alpha[:, None, None, None] * np.einsum("lri,filp->frlp", h[n, m], x[:, m])
    noise = (rng.standard_normal(y.shape) + 1j * rng.standard_normal(y.shape)) / math.sqrt(2)
    return y + noise, x, noise


NODES = np.array([[0.0, 100.0], [0.0, -100.0]])


@pytest.mark.parametrize("level_db", [30.0, 100.0])
def test_the_background_is_removed_to_its_estimation_error_whatever_its_level(level_db):
    """A static background at +30 or +100 dB over the noise (oscillators per run: no direct path is needed to
    de-rotate; the trials above cover per-frame phases with the direct paths giving them): after learning on 200
    frames the suppressed frames hold the noise plus the background's estimation error (~σ²·N(Mt + 1)/F ≈ −15 dB
    here), independent of the level."""
    h = _static_background(level_db, seed=1)
    y, x, _ = _synthetic(h, 200, seed=1, phases=False)
    background = interference.learn_background(y, x, 1.0, NODES, 10e6)
    assert max(background.residual_excess_db) < 0.5  # the learning residual is the noise (measured +0.0x dB)
    y2, x2, noise = _synthetic(h, 10, seed=2, phases=False)
    suppressor = interference.Suppressor(background)
    left = []
    for f in range(len(x2)):
        out = suppressor.apply({n: y2[f, n] for n in range(2)}, {m: x2[f, m] for m in range(2)})
        left.append(np.mean([np.mean(np.abs(out[n] - noise[f, n]) ** 2) for n in range(2)]))
    excess_db = 10 * math.log10(np.mean(left))
    assert excess_db < -8.0, excess_db  # measured ≈ −13 dB at both levels: the estimation error, not the level
    assert suppressor.summary()["frames"] == 10


def test_background_file_round_trip(tmp_path):
    y, x, _ = _synthetic(_static_background(20.0, seed=2), 40, seed=2)
    background = interference.learn_background(y, x, 1.0, NODES, 10e6)
    path = tmp_path / "background.json"
    background.save(path)
    again = interference.load_background(path)
    np.testing.assert_array_equal(again.coefficients, background.coefficients)
    assert again.frames_used == background.frames_used
    path.write_text(json.dumps({"format": "gr-disac-background", "version": 99}))
    with pytest.raises(ValueError, match="version 99"):
        interference.load_background(path)


def test_a_background_with_beyond_cp_taps_round_trips(tmp_path):
    """The per-link taps keep the file's meaning (tap delays with their masks, _mask_count; version 1): a saved
    Background with taps on some links and zeros on the others loads with the same delays, masks and taps, and
    suppresses a frame to the same bits."""
    y, x, _ = _synthetic(_static_background(20.0, seed=3), 40, seed=3)
    plain = interference.learn_background(y, x, 1.0, NODES, 10e6)
    delays = interference.mask_tap_delays(4, [2, 5])
    rng = np.random.default_rng(5)
    taps = (rng.standard_normal((2, 8, 2 * 3 * len(delays))) + 1j * rng.standard_normal((2, 8, 2 * 3 * len(delays))))
    taps[:, :, :3 * len(delays)] = 0  # transmitter 0: no taps
    background = interference.Background(plain.coefficients, 3, 40, 1.0, plain.link_power_db, plain.residual_excess_db,
                                         plain.beyond_cp_db, 4, delays, taps, None)
    path = tmp_path / "background.json"
    background.save(path)
    again = interference.load_background(path)
    np.testing.assert_array_equal(again.tap_delays, delays)
    assert [interference._mask_count(d, 4) for d in again.tap_delays] == [2, 2, 2, 5, 5, 5]
    np.testing.assert_array_equal(again.taps, taps)
    frame = ({n: y[0, n] for n in range(2)}, {m: x[0, m] for m in range(2)})
    a = interference.Suppressor(background).apply(*frame)
    b = interference.Suppressor(again).apply(*frame)
    for n in range(2):
        np.testing.assert_array_equal(a[n], b[n])


def test_a_short_capture_is_a_clear_error():
    y, x, _ = _synthetic(_static_background(20.0, seed=2), 4, seed=2)
    with pytest.raises(ValueError, match="frames are needed"):
        interference.learn_background(y, x, 1.0, NODES, 10e6)


def test_the_beyond_cp_masks_are_where_the_residual_steps():
    """_step_masks on a residual's time profile (means of 200 exponential |r|² per window sample, as 200 frames
    give): an echo of mask 11 at +6 dB and one of mask 25 at +1.8 dB over the floor (the second a step of 0.5 σ²,
    ~10 standard errors of the 4-sample means) are found, each with its neighbours, and nothing else; a flat
    profile gives no mask (5 standard errors over ~130 tests: a false step has probability ~4e-5). The shifts of
    mask_tap_delays carry their mask (_mask_count), the ends of the interval included."""
    rng = np.random.default_rng(7)
    samples = np.arange(64)
    level = 1.0 + 2.5 * (samples < 11) + 0.5 * (samples < 25)
    found = interference._step_masks(rng.exponential(level, (200, 64)).mean(axis=0), 200)
    assert {11, 25} <= set(found) <= {10, 11, 12, 24, 25, 26}, found
    assert interference._step_masks(rng.exponential(np.ones(64), (200, 64)).mean(axis=0), 200) == []
    delays = interference.mask_tap_delays(24, [1, 7])
    assert [interference._mask_count(d, 24) for d in delays] == [1, 1, 1, 7, 7, 7]
    np.testing.assert_allclose(np.abs(delays), [24 + 1e-6, 24.5, 25, 30, 30.5, 31])


def test_loopback_reports_the_interference():
    """`disac loopback --impairments FILE` on an air with direct paths and clutter: the JSON has the
    ``interference`` object (the suppressor's figures: what was learned and removed, beyond-CP flags) and
    ``crb_with_nuisance_m2`` beside ``crb_position_m2``; what is left besides the echoes is small."""
    table = os.path.join(HERE, "scenarios", "interference_clutter.toml")
    root = os.path.abspath(os.path.join(HERE, ".."))
    wrapper = ("import runpy, sys, gnuradio; "
               f"gnuradio.__path__.insert(0, {os.path.join(root, 'python')!r}); "
               "runpy.run_module('gnuradio.disac.apps.cli', run_name='__main__', alter_sys=True)")
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", PYTHONIOENCODING="utf-8")
    cmd = [sys.executable, "-c", wrapper, "loopback", "--impairments", table, "--frames", "4", "--precoders",
           "random", "--background-frames", "40", "--json"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env, cwd=root)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    info = result["interference"]
    assert info["method"] == "background" and info["frames"] >= 4
    # an explicit --background-frames is that many frames, reported in the JSON and the log
    assert info["frames_per_node"] == 40 and info["capture"]["requested"] == 40, info.get("capture")
    assert "background capture: 40 frames per node" in out.stderr, out.stderr
    assert min(info["suppressed_db"]) > 20.0  # the direct paths (+52 dB) are removed
    assert info["snapshot_model_error_rel"] < 0.3, info  # measured ≈ 0.04 (noise-off air)
    assert result["crb_with_nuisance_m2"] >= result["crb_position_m2"] * (1 - 1e-9)
