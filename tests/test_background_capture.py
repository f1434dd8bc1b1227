# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""The clear-scene capture's beyond-CP tap model (core.impairment_trials.capture_tap_shifts, docs/interference.md
§6): the per-link masks of core.interference.learn_background with as many band-limited shifts per mask as the
capture's length pays for (up to five instead of three), which is what left node 1 of the paper lab its +1.7 dB
learning residual (the clutter just past the prefix, whose cut the three-point interpolation misses)."""

import numpy as np
import pytest

from gnuradio.disac.core import impairment_trials as trials, interference, ofdm
from gnuradio.disac.core.scenario import load_scenario

SEED = 3


def test_three_shifts_are_the_fixed_taps_of_before_and_more_fill_each_mask():
    # the paper's CP = 20, L = 16 (masks 1 … 16) and a longer symbol (masks to CP + 4)
    for cp, nsub in ((20, 16), (16, 64)):
        count = min(nsub, cp + 4)
        np.testing.assert_array_equal(interference.mask_tap_delays(cp, count, 3),
                                      interference.default_tap_delays(cp, nsub))
        delays = interference.mask_tap_delays(cp, count, 5)
        masks = [interference._mask_count(t, cp) for t in delays]
        assert sorted(set(masks)) == list(range(1, count + 1))
        for mask in range(1, count + 1):  # five shifts spread evenly over [CP + M − 1, CP + M]
            shifts = sorted(abs(t) for t, m in zip(delays, masks) if m == mask)
            np.testing.assert_allclose(shifts, cp + mask - 1 + np.array([0, 0.25, 0.5, 0.75, 1.0]), atol=2e-6)
    for bad in (0, -1):
        with pytest.raises(ValueError, match="shifts"):
            interference.mask_tap_delays(20, 16, bad)


def test_the_capture_takes_as_many_shifts_as_its_length_pays_for():
    """The taps' estimation error σ²·Mt·T/(F·L_active) kept ≤ −10 dB re σ², T = shifts × L (the most masks a link
    can learn): on the paper lab's sizes (Mt = 6, L = 16, 12 active bins) three shifts (as before) below 320 frames per node, four from 320, five from 400; without
    guards (16 bins) four from 240, five from 300."""
    assert [trials.capture_tap_shifts(f, 6, 20, 16, 12) for f in (100, 200, 319, 320, 399, 400, 600)] == [3, 3, 3, 4, 4, 5, 5]
    assert [trials.capture_tap_shifts(f, 6, 20, 16, 16) for f in (200, 239, 240, 299, 300)] == [3, 3, 4, 4, 5]


def test_the_lab_clutter_past_the_prefix_is_learned_to_below_the_noise():
    """The paper lab (seed 3, its drawn 5 Hz CFO, the drawn impairments as the calibration), a noise-free clear-scene
    capture of 400 frames per node (capture_background, what `--background auto` runs; five shifts per mask at this
    length): what the learned background leaves at each node (residual_excess_db, the model error re σ² with no
    noise to hide it). Measured: −12.5 / −11.1 dB; with the three shifts of before −9.5 / −3.4 dB (100 frames per
    node; node 1's clutter at 20.4 … 21 and 29.7 … 36.9 samples into its window: with the noise, its +1.7 dB); and
    +20.7 / +20.5 dB, nothing flagged, before the capture waited for the front ends to settle (its lead was 8
    frames: the RF canceller still tuned through the first block). −8 dB is the bound asserted (≤ +0.7 dB of noise
    power). Measured with stop 19's fixed masks (all 16 on every link); the per-link masks of the merge with the
    three-node work keep it under the bound (the test)."""
    air = load_scenario("paper").with_impairments({"preset": "lab", "seed": SEED})
    calibration = trials.truth_calibration(air)
    lay = ofdm.layout_from_scenario(air.without_impairments())
    wc, wr = ofdm.default_precoders(lay, air.per_antenna_power)
    wc, wr = np.stack([wc] * 2), np.stack([wr] * 2)
    background = trials.capture_background(air, wc, wr, SEED, SEED + 1, calibration, first_frame=100,
                                           frames_per_node=400, noise=False)
    assert background.tap_delays is not None and len(background.tap_delays) % 5 == 0  # five shifts per mask
    assert list(background.beyond_cp_flags) == [True, True]
    assert max(background.residual_excess_db) < -8.0, background.residual_excess_db


# ---- the capture's own length ("auto", docs/interference.md §4 "The capture's length") ---------------------------

def _paper_lab(seed=4):
    air = load_scenario("paper").with_impairments({"preset": "lab", "seed": seed})
    lay = ofdm.layout_from_scenario(air.without_impairments())
    wc, wr = ofdm.default_precoders(lay, air.per_antenna_power)
    return air, trials.truth_calibration(air), np.stack([wc] * 2), np.stack([wr] * 2)


def _learned(residual_db, flagged, masks=0, frames_per_node=200, n_nodes=2, mt=6, active=12):
    """A Background as learn_background returns one, with only what the decision looks at set: the learning residual
    and beyond-CP flags per node, and (masks > 0) beyond-CP taps whose fits held ``masks`` masks at most."""
    nsub, mr = 16, 2
    taps = np.ones((n_nodes, mr, n_nodes * mt)) if masks else None
    record = {"frames_per_node": frames_per_node, "requested": "auto", "tap_shifts": 5 if masks else None,
              "masks": masks, "active_subcarriers": active, "symbols": 1, "extended_from": None, "reason": ""}
    return interference.Background(np.zeros((n_nodes, nsub, mr, n_nodes * (mt + 1)), complex), mt,
                                   n_nodes * frames_per_node, 1.0, np.zeros((n_nodes, n_nodes)),
                                   np.asarray(residual_db, float), np.where(flagged, 9.5, -0.1), 20,
                                   np.array([21.0]) if masks else None, taps, None, record)


def test_the_length_decision_reads_only_what_the_capture_learned():
    """capture_length_decision is a function of the learned Background and its capture record (masks found, the
    layout's active bins and symbols) — no scenario, no air: Backgrounds built by hand give the documented rule."""
    decide = trials.capture_length_decision
    assert decide(_learned([0.2, 0.3], [False, False]), 200) == (200, "")  # nothing beyond the prefix: the base
    assert decide(_learned([3.0, 4.0], [False, False]), 200)[0] == 200  # a floor (e.g. an ADC's) without flags: kept
    assert decide(_learned([0.5, 0.9], [True, True], masks=7), 200)[0] == 200  # 6·5·7/(200·12) = −10.6 dB: paid
    # 7 masks at 60 frames: five shifts want 6·5·7/(0.1·12) = 175 → 180 (whole blocks of 20 learnable frames)
    need, reason = decide(_learned([0.5, 0.9], [True, True], masks=7, frames_per_node=60), 60)
    assert need == 180 and "7 beyond-CP masks" in reason
    # an unlearned background at a flagged node: twice the frames; again only while that lowered it by ≥ 0.5 dB
    need, reason = decide(_learned([0.1, 3.1], [False, True], masks=15, active=50), 200)
    assert need == 400 and "+3.10 dB" in reason
    assert decide(_learned([0.1, 3.1], [False, True], masks=15, frames_per_node=400, active=50), 400, 3.4)[0] == 400
    assert decide(_learned([0.1, 3.1], [False, True], masks=15, frames_per_node=400, active=50), 400, 4.0)[0] == 800
    assert decide(_learned([0.1, 3.0], [True, True], masks=15, frames_per_node=800, active=50), 800)[0] == 800  # the cap


def test_the_auto_loop_extends_from_its_captures_and_falls_back_to_three_shifts():
    """_auto_capture sees nothing but what each capture returns: a capture that learns +3.1 dB at 200 frames per
    node and +0.5 dB at 400 is extended once; one that stays at +3.0 dB is extended once (no gain: stop) and then
    learned with three shifts, whose lower residual is kept."""
    asked = []

    def capture(levels):
        def run(frames):
            asked.append(frames)
            background = _learned([0.1, levels[frames]], [True, True], masks=15, frames_per_node=frames, active=50)
            three = _learned([0.1, 0.9], [True, True], masks=21, frames_per_node=frames, active=50)
            return frames, background, lambda shifts: three, np.ones((4, 2, 6, 16, 1))
        return run

    result, background = trials._auto_capture(capture({200: 3.1, 400: 0.5}))
    assert asked == [200, 400] and result == 400 and background.capture["extended_from"] == 200
    assert background.capture["tap_shifts"] == 5 and background.capture["frames_per_node"] == 400
    assert background.capture["requested"] == "auto" and "200 → 400" in background.capture["reason"]
    asked.clear()
    result, background = trials._auto_capture(capture({200: 3.0, 400: 3.0}))
    assert asked == [200, 400] and result == 400
    assert background.capture["tap_shifts"] == 3 and max(background.residual_excess_db) == 0.9  # the fallback
    asked.clear()
    result, background = trials._auto_capture(capture({200: 0.8}))
    assert asked == [200] and background.capture["extended_from"] is None


def test_the_auto_capture_continues_the_same_stream():
    """run_with_auto_background_capture from a short base (60 frames per node) on the paper lab: the masks found
    want 180 frames for five shifts (and node 1 keeps +2.2 dB), so the capture continues to 180 and the trials follow
    it, 300 frames later (the gap before them unchanged). The longer stream's first blocks are the very samples the
    decision was made on (bit for bit: per-frame draws, causal air and receivers): the capture continued, not a
    second run. Measured: residual +0.49 / +0.79 dB at 180 against +0.34 / +2.21 dB at 60."""
    air, calibration, wc, wr = _paper_lab()
    frames, _, background = trials.run_with_auto_background_capture(air, wc, wr, 200, 4, 4, 5, calibration,
                                                                    base_frames_per_node=60)
    assert background.capture["extended_from"] == 60 and background.frames_per_node == 180, background.capture
    assert background.capture["tap_shifts"] == 5 and max(background.residual_excess_db) < 1.2
    np.testing.assert_array_equal(frames, np.arange(200, 204) + 300)  # 2 × 6 more blocks of 25 frames
    start = int(trials.background_capture_frames(200 - trials.background_capture_room(2, 60) + 1, 2, 60)[0][0])
    short = trials._capture_run(air, wc, wr, np.arange(200, 204), 4, 5, calibration, 60, None, {}, start)[1]
    long = trials._capture_run(air, wc, wr, frames, 4, 5, calibration, 180, None, {}, start)[1]
    np.testing.assert_array_equal(short, long[:len(short)])


def test_the_decision_never_reads_the_impairments():
    """The same capture learned with the receive side given the air's scenario with its [impairments], without them,
    or with another table entirely: the same Background and the same length decision, to the last bit (the decision
    reads the learned residual, flags and masks only)."""
    air, calibration, wc, wr = _paper_lab()
    _, snaps, x, rx = trials._capture_run(air, wc, wr, np.arange(600, 602), 4, 5, calibration, 60, None, {}, 25)
    results = []
    for receive_side in (rx, air, load_scenario("paper").with_impairments({"preset": "ideal"})):
        background = trials._learn_capture(snaps, x, receive_side, calibration, 60, "auto")
        results.append((background, trials.capture_length_decision(background, 60)))
    for background, decision in results[1:]:
        np.testing.assert_array_equal(background.coefficients, results[0][0].coefficients)
        np.testing.assert_array_equal(background.taps, results[0][0].taps)
        assert background.capture == results[0][0].capture and decision == results[1][1]
    assert results[0][1][0] == 180  # this 60-frame capture would be extended (the previous test)


def test_airs_without_beyond_cp_taps_keep_the_base_length_and_explicit_lengths_are_kept():
    """The ideal air (a capture forced on it) learns no beyond-CP taps and keeps the base 200 frames per node; an
    explicit length is exactly that length even where "auto" would extend (60 frames on the paper lab)."""
    air, calibration, wc, wr = _paper_lab()
    ideal = trials.capture_background(load_scenario("paper").without_impairments(), wc, wr, 4, 5, None, first_frame=100)
    assert ideal.frames_per_node == 200 and ideal.frames_used == 400 and ideal.taps is None
    assert ideal.capture["extended_from"] is None and ideal.capture["requested"] == "auto"
    explicit = trials.capture_background(air, wc, wr, 4, 5, calibration, first_frame=100, frames_per_node=60)
    assert explicit.frames_per_node == 60 and explicit.frames_used == 120 and explicit.capture["requested"] == 60
    assert trials.capture_length_decision(explicit, 60)[0] > 60  # auto would have captured more
    with pytest.raises(ValueError, match="auto"):
        trials.run_with_background_capture(air, wc, wr, np.arange(900, 902), 4, 5, calibration, "auto")


def test_the_capture_length_option_and_its_record_round_trip(tmp_path):
    for value, expected in (("auto", "auto"), ("AUTO", "auto"), (None, "auto"), ("400", 400), (400, 400),
                            (np.int64(7), 7)):
        assert trials.background_frames_option(value) == expected
    for bad in (0, -3, "abc", "1.5", 1.5, True, "-2", "²", ""):
        with pytest.raises(ValueError, match="accepted: auto, or a whole number"):
            trials.background_frames_option(bad)
    background = _learned([0.5, 0.9], [True, True], masks=7)
    path = tmp_path / "background.json"
    background.save(path)
    again = interference.load_background(path)
    assert again.capture == background.capture and again.frames_per_node == 200
    assert again.summary()["capture"]["tap_shifts"] == 5


def test_the_cli_accepts_auto_and_names_a_bad_length():
    import argparse

    from gnuradio.disac.apps import cli, cli_interference

    parser = argparse.ArgumentParser()
    cli_interference.add_background_arguments(parser)
    assert parser.parse_args([]).background_frames == "auto"
    assert parser.parse_args(["--background-frames", "400"]).background_frames == "400"
    air, calibration, wc, wr = _paper_lab()
    for bad in ("0", "many"):
        with pytest.raises(cli.UsageError, match=f"--background-frames '{bad}'"):
            cli_interference.resolve_suppressor(air, parser.parse_args(["--background-frames", bad]), wc, wr, 4, 5,
                                                calibration)
