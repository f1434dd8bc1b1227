# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""core.impairments and the scenario's [impairments] / [calibration] tables (docs/air-model.md §1): presets, validation
messages, reproducible draws from the seed, values given per node/channel, the TOML round trip, and the
copies the receive side may be given (without_impairments)."""

import math
import tomllib

import numpy as np
import pytest

from gnuradio.disac.core import impairments as imp
from gnuradio.disac.core.scenario import PRESETS, ScenarioError, load_scenario, scenario_from_dict, scenario_to_toml

N, MT, MR = 2, 6, 16


@pytest.fixture(scope="module")
def paper():
    return load_scenario("paper")


# ---- presets ------------------------------------------------------------------------------------

def test_absent_and_ideal_tables_are_the_ideal_air(paper):
    """No table, an empty one and preset "ideal" all draw the ideal air: zero offsets, exact unit gains."""
    for table in ({}, {"preset": "ideal"}, dict(imp.PRESETS["ideal"])):
        drawn = imp.draw_impairments(table, N, MT, MR)
        assert drawn.is_ideal
        np.testing.assert_array_equal(drawn.link_delay_samples(10e6), np.zeros((N, N)))
        np.testing.assert_array_equal(drawn.rx_gains, np.ones((N, MR)))
        np.testing.assert_array_equal(drawn.tx_gains, np.ones((N, MT)))
    assert paper.impairments_table == {} and paper.impairments.is_ideal
    assert imp.ideal_impairments(3, 4, 5).rx_gains.shape == (3, 5)


def test_lab_preset_holds_the_issues_figures():
    """The issue's figures: GPSDO timing 50 ns, B210 latency 46–165 samples, uniform channel phases, 1 dB gains,
    5 Hz CFO, user delays and direct paths on."""
    lab = imp.PRESETS["lab"]
    assert lab["timing_offset_ns"] == 50 and lab["latency_samples"] == {"min": 46, "max": 165}
    assert lab["rx_phase_deg"] == lab["tx_phase_deg"] == "uniform"
    assert lab["rx_gain_db"] == lab["tx_gain_db"] == 1.0 and lab["cfo_hz"] == 5.0
    assert lab["user_delays"] is True and lab["direct_path"] is True and lab["node_phase"] == "per_frame"
    assert set(imp.PRESETS["ideal"]) == set(lab) == set(imp.KEYS) - {"preset"}
    drawn = imp.draw_impairments({"preset": "lab"}, N, MT, MR)
    assert not drawn.is_ideal and drawn.user_delays and drawn.direct_path
    assert np.all((drawn.latency_samples >= 46) & (drawn.latency_samples <= 165))


def test_lab_statistics_over_many_nodes():
    """Draws follow the stated laws (4000 nodes; bounds ≥ 4 standard errors): timing std 50 ns and CFO std 5 Hz
    within 5 % (std error 1/√(2·4000) ≈ 1.1 %), gains' dB std 1 within 5 %, phases uniform (|mean e^{jψ}| < 0.03,
    std error 1/√(2·64000) ≈ 0.003), latencies uniform on [46, 165] (mean 105.5 ± 0.8: std error 0.54)."""
    nodes = 4000
    drawn = imp.draw_impairments({"preset": "lab"}, nodes, MT, MR)
    assert abs(np.std(drawn.clock_offset_s) / 50e-9 - 1) < 0.05
    assert abs(np.std(drawn.cfo_hz) / 5.0 - 1) < 0.05
    assert abs(np.std(20 * np.log10(np.abs(drawn.rx_gains))) - 1) < 0.05
    assert abs(np.mean(np.exp(1j * np.angle(drawn.tx_gains)))) < 0.03
    assert abs(np.mean(drawn.latency_samples) - 105.5) < 0.8
    assert np.min(drawn.latency_samples) >= 46 and np.max(drawn.latency_samples) <= 165


# ---- reproducibility and given values ------------------------------------------------------------

def test_draws_are_reproducible_from_the_seed_and_independent_per_key():
    a = imp.draw_impairments({"preset": "lab", "seed": 7}, N, MT, MR)
    b = imp.draw_impairments({"preset": "lab", "seed": 7}, N, MT, MR)
    c = imp.draw_impairments({"preset": "lab", "seed": 8}, N, MT, MR)
    for field in ("clock_offset_s", "latency_samples", "rx_gains", "tx_gains", "cfo_hz"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
        assert not np.any(getattr(a, field) == getattr(c, field)), field
    # changing one key leaves every other key's draw as it was (one random stream per quantity)
    d = imp.draw_impairments({"preset": "lab", "seed": 7, "timing_offset_ns": 10.0}, N, MT, MR)
    np.testing.assert_allclose(d.clock_offset_s, a.clock_offset_s / 5)
    np.testing.assert_array_equal(d.cfo_hz, a.cfo_hz)
    np.testing.assert_array_equal(d.rx_gains, a.rx_gains)
    # the scenario draws once per run: the same object every time
    s = load_scenario("paper").with_impairments({"preset": "lab", "seed": 7})
    assert s.impairments is s.impairments
    np.testing.assert_array_equal(s.impairments.rx_gains, a.rx_gains)


def test_given_values_are_used_as_given():
    table = {"timing_offset_ns": [10.0, -25.0], "latency_samples": [50, 60.25], "cfo_hz": [3.0, -4.77],
             "rx_phase_deg": [[90.0] * MR, [-45.0] * MR], "rx_gain_db": [[0.0] * MR, [6.0] * MR],
             "tx_phase_deg": "uniform", "tx_gain_db": [[1.0] * MT, [-1.0] * MT],
             "node_phase": "per_run", "phase_drift_deg_per_s": [0.5, -2.0], "overflow_every_frames": 50,
             "overflow_samples": 123, "direct_path": True, "direct_path_snr_db": 40}
    d = imp.draw_impairments(table, N, MT, MR)
    np.testing.assert_allclose(d.clock_offset_s, [10e-9, -25e-9], rtol=1e-15)  # ns → s: one rounding
    np.testing.assert_array_equal(d.latency_samples, [50, 60.25])
    np.testing.assert_array_equal(d.cfo_hz, [3.0, -4.77])
    np.testing.assert_allclose(np.angle(d.rx_gains[0], deg=True), 90.0)
    np.testing.assert_allclose(np.angle(d.rx_gains[1], deg=True), -45.0)
    np.testing.assert_allclose(np.abs(d.rx_gains[1]), 10 ** (6 / 20))
    np.testing.assert_allclose(np.abs(d.tx_gains[0]), 10 ** (1 / 20))
    np.testing.assert_array_equal(d.phase_drift_deg_per_s, [0.5, -2.0])
    assert (d.node_phase, d.overflow_every_frames, d.overflow_samples, d.direct_path, d.direct_path_snr_db) == (
        "per_run", 50, 123, True, 40.0)
    for arr in (d.clock_offset_s, d.rx_gains):
        with pytest.raises(ValueError):
            arr[0] = 0


def test_link_delay_samples_is_the_spec_formula():
    """D[n, m] = (δ_m − δ_n)·fs + λ_n (monostatic D_nn = λ_n): a path tx m → rx n on node n's labels."""
    d = imp.draw_impairments({"timing_offset_ns": [100.0, -50.0, 0.0], "latency_samples": [46, 100.5, 165]}, 3, MT, MR)
    fs = 10e6
    expected = np.array([[46, -1.5 + 46, -1 + 46], [1.5 + 100.5, 100.5, 0.5 + 100.5], [1 + 165, -0.5 + 165, 165]])
    np.testing.assert_allclose(d.link_delay_samples(fs), expected, atol=1e-9)


# ---- validation ------------------------------------------------------------------------------------

BAD_TABLES = [
    ({"colour": 1}, ["impairments.colour = 1", "unknown key", "accepted in [impairments]:", "timing_offset_ns"]),
    ({"preset": "field"}, ["impairments.preset = 'field'", "expected one of 'ideal', 'lab'"]),
    ({"seed": -1}, ["impairments.seed = -1", "whole number ≥ 0"]),
    ({"seed": 1.5}, ["impairments.seed = 1.5", "whole number"]),
    ({"timing_offset_ns": -5}, ["impairments.timing_offset_ns = -5", "std ≥ 0", "list of N values"]),
    ({"timing_offset_ns": [1.0, 2.0, 3.0]}, ["impairments.timing_offset_ns = [1.0, 2.0, 3.0]", "2 (nodes)", "got 3"]),
    ({"timing_offset_ns": math.nan}, ["impairments.timing_offset_ns = nan", "std ≥ 0"]),
    ({"timing_offset_ns": True}, ["impairments.timing_offset_ns = True", "std ≥ 0"]),
    ({"latency_samples": {"min": 165, "max": 46}}, ["impairments.latency_samples", "min ≤ max"]),
    ({"latency_samples": {"low": 1}}, ["impairments.latency_samples = {'low': 1}", "{min = a, max = b}"]),
    ({"latency_samples": [10, -1]}, ["impairments.latency_samples = [10, -1]", "numbers ≥ 0"]),
    ({"latency_samples": "lots"}, ["impairments.latency_samples = 'lots'", "a number ≥ 0 (samples, all nodes)"]),
    ({"rx_phase_deg": "random"}, ["impairments.rx_phase_deg = 'random'", '"uniform"', "N×Mr list (degrees)"]),
    ({"tx_phase_deg": [[0.0] * MT]}, ["impairments.tx_phase_deg", "2 (nodes) × 6 (Mt channels)", "got 1 × 6"]),
    ({"rx_gain_db": [[0.0] * 15, [0.0] * 15]}, ["impairments.rx_gain_db", "2 (nodes) × 16 (Mr channels)", "got 2 × 15"]),
    ({"rx_gain_db": "uniform"}, ["impairments.rx_gain_db = 'uniform'", "a std ≥ 0 (dB) or an N×Mr list (dB)"]),
    ({"cfo_hz": -1.0}, ["impairments.cfo_hz = -1.0", "std ≥ 0 (Hz"]),
    ({"node_phase": "per_day"}, ["impairments.node_phase = 'per_day'", "expected one of 'per_frame', 'per_run'"]),
    ({"phase_drift_deg_per_s": 1.0}, ["impairments.phase_drift_deg_per_s = 1.0", 'node_phase = "per_run"']),
    ({"overflow_every_frames": -1}, ["impairments.overflow_every_frames = -1", "whole number ≥ 0"]),
    ({"overflow_samples": 0}, ["impairments.overflow_samples = 0", "whole number ≥ 1"]),
    ({"direct_path": 1}, ["impairments.direct_path = 1", "expected true or false"]),
    ({"user_delays": "yes"}, ["impairments.user_delays = 'yes'", "expected true or false"]),
    ({"direct_path_snr_db": 1e308}, ["impairments.direct_path_snr_db = 1e+308", "from -200 to 200"]),
    # issue 14 (docs/air-model.md §5)
    ({"direct_path_db": "los"}, ["impairments.direct_path_db = 'los'", 'or "free_space"']),
    ({"direct_path_db": 300.0}, ["impairments.direct_path_db = 300.0", "from -200 to 200", '"free_space"']),
    ({"carrier_hz": 0}, ["impairments.carrier_hz = 0", "number > 0 (Hz)"]),
    ({"carrier_hz": -3.5e9}, ["impairments.carrier_hz = -3500000000.0", "number > 0 (Hz)"]),
    ({"rcs_m2": 0.0}, ["impairments.rcs_m2 = 0.0", "number > 0 (m²)"]),
    ({"tx_antenna_gain_dbi": "high"}, ["impairments.tx_antenna_gain_dbi = 'high'", "dBi from -100 to 100"]),
    ({"rx_antenna_gain_dbi": 500}, ["impairments.rx_antenna_gain_dbi = 500", "dBi from -100 to 100"]),
    ({"self_coupling_db": "strong"}, ["impairments.self_coupling_db = 'strong'", "from -200 to 200"]),
    ({"isolation_db": -3.0}, ["impairments.isolation_db = -3.0", "from 0 to 200", "inf (no leakage)"]),
    ({"isolation_db": 40.0, "self_coupling_db": 90.0},
     ["impairments.isolation_db = 40.0", "give either impairments.self_coupling_db or impairments.isolation_db"]),
    ({"self_coupling_delay_samples": -1}, ["impairments.self_coupling_delay_samples = -1", "from 0 to 1e+06"]),
    ({"clutter_scatterers": 2.5}, ["impairments.clutter_scatterers = 2.5", "whole number from 0 to 10000"]),
    ({"clutter_scatterers": -1}, ["impairments.clutter_scatterers = -1", "whole number from 0 to 10000"]),
    ({"clutter_to_noise_db": math.inf}, ["impairments.clutter_to_noise_db = inf", "from -200 to 200"]),
    ({"clutter_region_m": [0, 100, 50]}, ["impairments.clutter_region_m = [0, 100, 50]", "[x_min, x_max, y_min, y_max]"]),
    ({"clutter_region_m": [100, 0, 0, 50]}, ["impairments.clutter_region_m = [100, 0, 0, 50]", "x_min < x_max"]),
    ({"clutter_beyond_cp_fraction": 1.5}, ["impairments.clutter_beyond_cp_fraction = 1.5", "share from 0 to 1"]),
    ({"clutter_beyond_cp_factor": 1.0}, ["impairments.clutter_beyond_cp_factor = 1.0", "number > 1"]),
    ({"clutter_positions_m": [[0.0, 1.0], [2.0]]}, ["impairments.clutter_positions_m", "list of [x, y] positions"]),
    ({"clutter_positions_m": [[0.0, 1.0]], "clutter_scatterers": 3},
     ["impairments.clutter_scatterers = 3", "gives 1 positions", "the same count"]),
    ({"adc_bits": 2}, ["impairments.adc_bits = 2", "0 (no ADC model) or a whole number of bits from 4 to 24"]),
    ({"adc_bits": 12.0}, ["impairments.adc_bits = 12.0", "from 4 to 24"]),
    ({"adc_bits": 32}, ["impairments.adc_bits = 32", "from 4 to 24"]),
    ({"adc_full_scale": 0}, ["impairments.adc_full_scale = 0", "number > 0 (the clip level"]),
    ({"agc": "on"}, ["impairments.agc = 'on'", "expected true or false"]),
    ({"agc_backoff_db": -6}, ["impairments.agc_backoff_db = -6", "from 0 to 100"]),
    ({"guard_subcarriers": -2}, ["impairments.guard_subcarriers = -2", "whole number ≥ 0"]),
    ({"guard_subcarriers": 16}, ["impairments.guard_subcarriers = 16", "16 guard bins of ofdm.subcarriers = 16",
                                 "fewer than 16"]),
    ({"guard_fraction": 0.6}, ["impairments.guard_fraction = 0.6", "share from 0 to 0.5"]),
    ({"guard_fraction": 0.25, "guard_subcarriers": 2},
     ["give either impairments.guard_subcarriers or impairments.guard_fraction, not both"]),
    ({"dc_null": 1}, ["impairments.dc_null = 1", "expected true or false"]),
]
# messages that need the scenario's sizes or geometry (the Python API without a scenario cannot check them)
_NEEDS_SCENARIO = ("guard bins of ofdm.subcarriers",)


@pytest.mark.parametrize("table, parts", BAD_TABLES, ids=[str(t) for t, _ in BAD_TABLES])
def test_bad_tables_are_named_with_what_is_accepted(paper, table, parts):
    """Every problem is a ScenarioError naming the key, the value and what is accepted, whether the table
    comes through the scenario file or the Python API."""
    attempts = [lambda: imp.draw_impairments(table, N, MT, MR), lambda: paper.with_impairments(table)]
    if any(needs in part for part in parts for needs in _NEEDS_SCENARIO):
        attempts = attempts[1:]
    for attempt in attempts:
        with pytest.raises(ScenarioError) as info:
            attempt()
        for part in parts:
            assert part in str(info.value)


def test_a_bad_table_in_a_file_fails_the_load(tmp_path, paper):
    path = tmp_path / "bad.toml"
    path.write_text(scenario_to_toml(paper) + "[impairments]\ncfo_hz = 'lots'\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"impairments.cfo_hz = 'lots'"):
        load_scenario(str(path))
    path.write_text("impairments = 3\n" + scenario_to_toml(paper), encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"impairments = 3: expected a table \[impairments\]"):
        load_scenario(str(path))


# ---- load_impairments_table (--impairments PRESET|FILE) -------------------------------------------

def test_load_impairments_table(tmp_path, paper):
    assert imp.load_impairments_table("lab") == {"preset": "lab"}
    bare = tmp_path / "bare.toml"
    bare.write_text('preset = "lab"\ntiming_offset_ns = 10\nlatency_samples = {min = 1, max = 2}\n', encoding="utf-8")
    assert imp.load_impairments_table(str(bare)) == {"preset": "lab", "timing_offset_ns": 10.0,
                                                     "latency_samples": {"min": 1.0, "max": 2.0}}
    whole = tmp_path / "whole.toml"
    whole.write_text(scenario_to_toml(paper) + "[impairments]\ncfo_hz = 2.0\n", encoding="utf-8")
    assert imp.load_impairments_table(str(whole)) == {"cfo_hz": 2.0}
    with pytest.raises(ScenarioError, match="unknown preset name; accepted: ideal, lab"):
        imp.load_impairments_table("field")
    with pytest.raises(ScenarioError, match="cannot be read"):
        imp.load_impairments_table(str(tmp_path / "missing.toml"))
    # sizes are checked when a scenario takes the table
    three = tmp_path / "three.toml"
    three.write_text("cfo_hz = [1.0, 2.0, 3.0]\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match="got 3"):
        paper.with_impairments(imp.load_impairments_table(str(three)))
    assert paper.with_impairments("lab").impairments_table == {"preset": "lab"}


# ---- the scenario API --------------------------------------------------------------------------------

def test_round_trip_writes_the_tables_back(tmp_path, paper):
    """scenario_to_toml writes [impairments] as given (preset not expanded) and [calibration]; loading it gives
    the same table, the same draw, the same reflector."""
    table = {"preset": "lab", "seed": 3, "latency_samples": {"min": 46.0, "max": 165.0},
             "rx_phase_deg": [[float(i) for i in range(MR)], [-1.5] * MR], "cfo_hz": [1.0, -2.0],
             "node_phase": "per_run", "phase_drift_deg_per_s": 0.1, "overflow_every_frames": 50}
    data = tomllib.loads(scenario_to_toml(paper.with_impairments(table)))
    data["calibration"] = {"reflector_m": [0.0, 60.0], "reflector_snr_db": 25.0}
    s = scenario_from_dict(data, "lab-run")
    path = tmp_path / "written.toml"
    path.write_text(scenario_to_toml(s), encoding="utf-8")
    again = load_scenario(str(path))
    assert again.impairments_table == s.impairments_table == table
    np.testing.assert_array_equal(again.reflector_m, [0.0, 60.0])
    assert again.reflector_amplitude == s.reflector_amplitude
    assert again.reflector_snr_db == pytest.approx(25.0)
    for field in ("clock_offset_s", "latency_samples", "rx_gains", "tx_gains", "cfo_hz", "phase_drift_deg_per_s"):
        np.testing.assert_array_equal(getattr(again.impairments, field), getattr(s.impairments, field))
    assert again.summary() == s.summary()
    assert s.summary()["impairments"] == table
    assert s.summary()["calibration"]["reflector_snr_db"] == pytest.approx(25.0)


def test_absent_tables_leave_the_scenario_as_it_was(paper):
    """No [impairments]/[calibration]: the TOML and the JSON summary carry no new section (existing
    contracts unchanged); an explicit ideal table changes no derived quantity."""
    text = scenario_to_toml(paper)
    assert "[impairments]" not in text and "[calibration]" not in text
    assert "impairments" not in paper.summary() and "calibration" not in paper.summary()
    ideal = paper.with_impairments("ideal")
    assert ideal.impairments.is_ideal and ideal.warnings == paper.warnings
    np.testing.assert_array_equal(ideal.bistatic_delays_s(), paper.bistatic_delays_s())
    assert paper.reflector_m is None and paper.reflector_amplitude == 0.0 and paper.reflector_snr_db is None


def test_without_impairments_is_a_copy_for_the_receive_side(paper):
    """without_impairments drops the table and keeps everything else (geometry, the reflector the receivers may
    know) and, since issue 14 (SPEC14 §0: the one change to this test), the transmitter's own bin layout: the lab
    preset's guard_fraction and dc_null, resolved, so the receivers' active subcarriers are the transmitter's; the
    original is unchanged."""
    data = tomllib.loads(scenario_to_toml(paper))
    data["calibration"] = {"reflector_m": [0.0, 60.0]}
    s = scenario_from_dict(data).with_impairments("lab")
    bare = s.without_impairments()
    assert bare.impairments_table == {"guard_fraction": 0.2, "dc_null": True} and bare.impairments.is_ideal
    np.testing.assert_array_equal(bare.active_subcarriers, s.active_subcarriers)
    assert s.impairments_table == {"preset": "lab"} and not s.impairments.is_ideal
    np.testing.assert_array_equal(bare.reflector_m, s.reflector_m)
    assert bare.reflector_amplitude == s.reflector_amplitude
    assert scenario_to_toml(bare) == scenario_to_toml(s).split("[impairments]")[0] + \
        "[impairments]\nguard_fraction = 0.2\ndc_null = true\n[calibration]" + scenario_to_toml(s).split("[calibration]")[1]
    # an air without guard/DC bins: nothing is kept
    plain = paper.with_impairments({"preset": "lab", "guard_subcarriers": 0, "dc_null": False}).without_impairments()
    assert plain.impairments_table == {} and plain.active_subcarriers.all()


def test_reflector_amplitude_and_checks(paper):
    """β_ref from reflector_snr_db has the [targets] definition for one target: P_T·N²·β²/σ² = SNR (default
    20 dB); the position is checked like a target's (not on a node, echo within the cyclic prefix)."""
    data = tomllib.loads(scenario_to_toml(paper))

    def with_calibration(table):
        return scenario_from_dict(dict(data, calibration=table))

    s = with_calibration({"reflector_m": [0.0, 60.0]})
    assert s.reflector_amplitude == pytest.approx(math.sqrt(100 / 4))
    assert with_calibration({"reflector_m": [0.0, 60.0], "reflector_amplitude": 0.5}).reflector_amplitude == 0.5
    tau = s.reflector_delays_s()
    p, q = paper.node_positions_m, np.array([0.0, 60.0])
    np.testing.assert_allclose(s.reflector_angles_rad(), np.arctan2(q[1] - p[:, 1], q[0] - p[:, 0]), rtol=1e-15)
    assert paper.reflector_angles_rad() is None and paper.reflector_delays_s() is None
    assert tau[0, 1] == pytest.approx((np.linalg.norm(q - p[0]) + np.linalg.norm(q - p[1])) / 299_792_458.0)
    for table, message in [
        ({"reflector_snr_db": 20.0}, "calibration.reflector_snr_db = 20.0: needs calibration.reflector_m"),
        ({"reflector_m": [[0.0, 60.0]]}, "calibration.reflector_m = [[0.0, 60.0]]: expected one [x, y] position"),
        ({"reflector_m": [0.0, 60.0], "reflector_snr_db": 1.0, "reflector_amplitude": 1.0}, "not both"),
        ({"reflector_m": [-141.4, 141.4]}, "calibration.reflector_m: reflector 1 at [-141.4, 141.4] is on node 1"),
        ({"reflector_m": [300.0, 0.0]}, "beyond the cyclic prefix ofdm.cyclic_prefix = 20"),
        ({"reflector_m": [0.0, 60.0], "size": 1}, "calibration.size = 1: unknown key"),
    ]:
        with pytest.raises(ScenarioError) as info:
            with_calibration(table)
        assert message in str(info.value)


def test_direct_path_delays(paper):
    """|p_m − p_n|/c between every pair, zero on the diagonal; never longer than a target echo on the same link
    (triangle inequality), so the cyclic-prefix check of the targets covers it."""
    tau = paper.direct_path_delays_s()
    np.testing.assert_allclose(tau[0, 1], 282.8 / 299_792_458.0, rtol=1e-12)
    assert tau[0, 0] == tau[1, 1] == 0
    angles = paper.node_angles_rad()  # [n, m]: node m seen from node n (the paper's pair: one above the other)
    np.testing.assert_allclose(angles[0, 1], -np.pi / 2, rtol=1e-15)
    np.testing.assert_allclose(angles[1, 0], np.pi / 2, rtol=1e-15)
    assert np.all(tau[..., None] <= paper.bistatic_delays_s())


def test_messages_quoted_in_the_docs_are_the_real_ones(paper):
    """docs/scenarios.md quotes three [impairments] messages, "…" standing for a cut; each matches what the
    code prints."""
    import os
    import re
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, "docs", "scenarios.md"), encoding="utf-8") as handle:
        text = handle.read().split("### `[impairments]`", 1)[1].split("### `[calibration]`", 1)[0]
    text = re.sub(r"```.*?```", "", text, flags=re.S)  # code blocks are examples, not quotes
    quoted = [q for q in re.findall(r"`([^`]+)`", text) if q.startswith("impairments.") and " = " in q]
    assert len(quoted) == 3
    produced = []
    for table in ({"latency_samples": {"min": 165, "max": 46}}, {"rx_gain_db": [[0.0] * 15] * 2},
                  {"phase_drift_deg_per_s": 1.0}):
        with pytest.raises(ScenarioError) as info:
            paper.with_impairments(table)
        produced.append(str(info.value))
    for message in quoted:
        pattern = ".*".join(re.escape(part) for part in message.split("…"))
        assert any(re.fullmatch(pattern, p) for p in produced), message


def test_delays_are_bounded(paper):
    """Offsets and latencies beyond 1 ms / 10⁶ samples are refused (a delay line keeps that much history per
    path): far beyond any radio, and the air's memory stays bounded."""
    with pytest.raises(ScenarioError, match=r"impairments.timing_offset_ns = 2000000.0: .*at most 1e\+06"):
        paper.with_impairments({"timing_offset_ns": 2e6})
    with pytest.raises(ScenarioError, match=r"impairments.latency_samples.max = 10000000.0: expected a number from 0 to 1e\+06"):
        paper.with_impairments({"latency_samples": {"min": 0, "max": 1e7}})
    assert paper.with_impairments({"timing_offset_ns": 1e6, "latency_samples": 1e6}).impairments.num_nodes == 2


def test_user_delays_bring_per_subcarrier_pilots_that_the_receivers_copy_keeps():
    """A frequency-selective user channel needs ≥ U + 1 pilot symbols (core.ofdm): a scenario file whose
    [impairments] has user_delays (the lab preset) gets U + 1 when it leaves pilot_symbols out, and so does
    `--impairments` (with_user_pilots); an explicit larger count stays, the copy without [impairments] (the
    receivers') frames the same way, and with_impairments alone never changes the layout."""
    paper = load_scenario("paper")
    assert paper.pilot_symbols == 1
    assert paper.with_impairments("lab").pilot_symbols == 1  # with_impairments keeps the frame layout
    lab = paper.with_impairments("lab").with_user_pilots()
    assert lab.pilot_symbols == paper.num_users + 1
    assert lab.without_impairments().pilot_symbols == lab.pilot_symbols
    assert paper.with_impairments({"user_delays": False, "timing_offset_ns": 10.0}).with_user_pilots() \
        .pilot_symbols == 1
    assert paper.replace(pilot_symbols=6).with_impairments("lab").with_user_pilots().pilot_symbols == 6
    data = dict(PRESETS["paper"], impairments={"preset": "lab"})
    assert scenario_from_dict(data).pilot_symbols == paper.num_users + 1


# ---- issue 14's keys (docs/air-model.md §5) ------------------------------------------------------------

def test_lab_preset_holds_issue_14s_column():
    """SPEC14 §1's lab column: free-space direct paths, 40 dB isolation, 50 clutter scatterers at 30 dB CNR with
    a tenth at 1.5 × CP, a 12-bit ADC with AGC, a fifth of the bins as guards and DC nulled; the ideal column
    asks for none of it."""
    lab, ideal = imp.PRESETS["lab"], imp.PRESETS["ideal"]
    assert lab["direct_path_db"] == "free_space" and lab["isolation_db"] == 40 and lab["self_coupling_db"] is None
    assert (lab["clutter_scatterers"], lab["clutter_to_noise_db"], lab["clutter_beyond_cp_fraction"],
            lab["clutter_beyond_cp_factor"]) == (50, 30, 0.1, 1.5)
    assert (lab["adc_bits"], lab["adc_full_scale"], lab["agc"]) == (12, 1.0, True)
    assert lab["guard_fraction"] == 0.2 and lab["guard_subcarriers"] is None and lab["dc_null"] is True
    assert (lab["carrier_hz"], lab["rcs_m2"], lab["tx_antenna_gain_dbi"], lab["rx_antenna_gain_dbi"]) == (3.5e9, 1, 0, 0)
    assert ideal["direct_path_db"] is None and ideal["isolation_db"] is None and ideal["clutter_scatterers"] == 0
    assert ideal["adc_bits"] == 0 and ideal["guard_subcarriers"] == 0 and ideal["dc_null"] is False
    assert ideal["agc_backoff_db"] == lab["agc_backoff_db"] == 20.0  # the receive front end's measured choice (core/front_end.py)
    drawn = imp.draw_impairments({"preset": "lab"}, N, MT, MR)  # no scenario: the geometry-given fields are None
    assert drawn.clutter_scatterers == 50 and drawn.clutter_positions_m is None and drawn.self_coupling is None
    assert drawn.has_self_coupling and drawn.adc_bits == 12 and drawn.guard_count(16) == 3


def test_is_ideal_is_false_for_each_interference_and_true_for_the_layout_keys():
    """Each air interference alone makes the air non-ideal; guard/DC bins (the transmitter's layout) and the link
    budget's constants do not; an infinite isolation is no leakage."""
    for table in ({"clutter_scatterers": 1}, {"isolation_db": 40.0}, {"self_coupling_db": 90.0}, {"adc_bits": 12},
                  {"direct_path": True, "direct_path_db": "free_space"}):
        assert not imp.draw_impairments(table, N, MT, MR).is_ideal, table
    for table in ({"guard_subcarriers": 4, "dc_null": True}, {"guard_fraction": 0.2}, {"carrier_hz": 28e9},
                  {"isolation_db": math.inf}, {"agc": False, "agc_backoff_db": 3.0}, {"direct_path_db": 50.0}):
        assert imp.draw_impairments(table, N, MT, MR).is_ideal, table


def test_one_form_of_a_pair_replaces_the_presets_other_form():
    """lab + guard_subcarriers = 0: no guards (the preset's guard_fraction goes); lab + self_coupling_db: the
    preset's isolation goes; lab + direct_path_snr_db: issue 13's direct path (the preset's "free_space" goes);
    both forms in one table are an error (tested with the bad tables), and a Python None is written back as the
    TOML value of the same meaning."""
    r = imp.resolve_impairments_table({"preset": "lab", "guard_subcarriers": 0})
    assert r["guard_subcarriers"] == 0 and r["guard_fraction"] is None
    r = imp.resolve_impairments_table({"preset": "lab", "self_coupling_db": 80.0})
    assert r["self_coupling_db"] == 80.0 and r["isolation_db"] is None
    r = imp.resolve_impairments_table({"preset": "lab", "direct_path_snr_db": 30.0})
    assert r["direct_path_db"] is None and r["direct_path_snr_db"] == 30.0
    assert imp.resolve_impairments_table({"preset": "lab"})["direct_path_db"] == "free_space"
    # a whole preset as an explicit table: direct_path_db wins over direct_path_snr_db
    assert imp.draw_impairments(dict(imp.PRESETS["lab"]), N, MT, MR).direct_path_db == "free_space"
    assert imp.validate_impairments_table({"preset": "lab", "isolation_db": None}) == {"preset": "lab",
                                                                                       "isolation_db": math.inf}
    assert imp.validate_impairments_table({"preset": "lab", "guard_fraction": None}) == {"preset": "lab",
                                                                                         "guard_subcarriers": 0}
    assert imp.validate_impairments_table({"preset": "lab", "direct_path_db": None}) == {
        "preset": "lab", "direct_path_snr_db": 30.0}
    assert not imp.draw_impairments({"preset": "lab", "isolation_db": None}, N, MT, MR).has_self_coupling


def test_active_subcarriers_are_the_ofdm_mask_of_the_layout_keys(paper):
    """Scenario.active_subcarriers = core.ofdm.active_subcarrier_mask(L, G, dc_null), G = guard_subcarriers or
    round half up(guard_fraction·L): all True by default, read-only; the lab preset on L = 16: G = round(3.2) = 3
    (bins 8, 9 at the low edge, 7 at the high edge) and DC (bin 0) → 12 active bins."""
    from gnuradio.disac.core import ofdm
    assert paper.active_subcarriers.all() and paper.active_subcarriers.shape == (16,)
    lab = paper.with_impairments("lab")
    np.testing.assert_array_equal(lab.active_subcarriers, ofdm.active_subcarrier_mask(16, 3, True))
    assert np.flatnonzero(~lab.active_subcarriers).tolist() == [0, 7, 8, 9]
    with pytest.raises(ValueError):
        lab.active_subcarriers[1] = False
    np.testing.assert_array_equal(paper.with_impairments({"guard_subcarriers": 5}).active_subcarriers,
                                  ofdm.active_subcarrier_mask(16, 5, False))
    assert (~paper.with_impairments({"guard_fraction": 0.5 / 16}).active_subcarriers).sum() == 1  # 0.5 → 1 (half up)
    with pytest.raises(ScenarioError, match=r"impairments.guard_fraction = 0.5, impairments.dc_null = True: .*no subcarrier"):
        paper.replace(subcarriers=2).with_impairments({"guard_fraction": 0.5, "dc_null": True})


def test_issue_14_draws_are_reproducible_and_have_their_own_streams(paper):
    """Clutter positions, clutter phases, beyond-CP placement and the self-coupling phases each have a stream:
    the same seed draws the same, another seed other values, and changing an issue-13 key (or the CNR, a level)
    moves none of the geometry."""
    table = {"preset": "lab", "seed": 5}
    a = paper.with_impairments(table).impairments
    b = paper.with_impairments(dict(table)).impairments
    c = paper.with_impairments({"preset": "lab", "seed": 6}).impairments
    d = paper.with_impairments(dict(table, cfo_hz=1.0, clutter_to_noise_db=10.0, isolation_db=50.0)).impairments
    for field in ("clutter_positions_m", "clutter_amplitudes", "self_coupling", "direct_path_amplitudes"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert not np.any(a.clutter_positions_m == c.clutter_positions_m)
    assert not np.any(np.angle(a.self_coupling) == np.angle(c.self_coupling))
    np.testing.assert_array_equal(d.clutter_positions_m, a.clutter_positions_m)
    np.testing.assert_allclose(np.angle(d.clutter_amplitudes), np.angle(a.clutter_amplitudes), rtol=1e-15)
    np.testing.assert_allclose(np.angle(d.self_coupling), np.angle(a.self_coupling), rtol=1e-15)
    np.testing.assert_allclose(np.abs(d.self_coupling), np.abs(a.self_coupling) / np.sqrt(10), rtol=1e-12)
    np.testing.assert_array_equal(d.rx_gains, a.rx_gains)


def test_clutter_draw_region_prefix_and_explicit_positions(paper):
    """C − round(f·C) scatterers uniform in the region with every echo within the CP, the rest at monostatic delay
    factor × CP from node (c mod N) in its front half-plane; amplitudes equal, P_T·N²·C·β²/σ² = CNR; explicit
    positions override the draw (their count is the scatterer count) and are checked against the nodes."""
    from gnuradio.disac.core.localizer import default_search_region
    s = paper.with_impairments({"clutter_scatterers": 40, "clutter_beyond_cp_fraction": 0.1, "clutter_to_noise_db": 27.0})
    imp_ = s.impairments
    pos, cp = imp_.clutter_positions_m, s.cyclic_prefix
    delays = imp.clutter_delays_samples(s, pos)  # (N, N, C)
    x0, x1, y0, y1 = default_search_region(paper)
    inside = pos[:36]
    assert np.all((inside[:, 0] >= x0) & (inside[:, 0] <= x1) & (inside[:, 1] >= y0) & (inside[:, 1] <= y1))
    assert np.all(delays[..., :36] <= cp) and np.all(delays[..., 36:].max(axis=(0, 1)) > cp)
    np.testing.assert_array_equal(imp_.clutter_beyond_cp, np.arange(40) >= 36)
    for c in range(36, 40):  # monostatic delay 1.5 × CP from node c mod 2, in front of it (x > node's x)
        owner = (c - 36) % 2
        assert delays[owner, owner, c] == pytest.approx(1.5 * cp, rel=1e-12)
        assert pos[c, 0] > paper.node_positions_m[owner, 0]
    cnr = paper.per_antenna_power * 4 * np.sum(np.abs(imp_.clutter_amplitudes) ** 2) / paper.noise_power
    assert 10 * np.log10(cnr) == pytest.approx(27.0, abs=1e-12)
    assert np.ptp(np.abs(imp_.clutter_amplitudes)) < 1e-15
    given = paper.with_impairments({"clutter_positions_m": [[0.0, 10.0], [600.0, 0.0]]}).impairments
    assert given.clutter_scatterers == 2 and given.clutter_positions_m.tolist() == [[0.0, 10.0], [600.0, 0.0]]
    assert given.clutter_beyond_cp.tolist() == [False, True]
    with pytest.raises(ScenarioError, match=r"impairments.clutter_positions_m: scatterer 1 at \[-141.4, 141.4\] is on node 1"):
        paper.with_impairments({"clutter_positions_m": [[-141.4, 141.4]]})
    with pytest.raises(ScenarioError, match=r"impairments.clutter_region_m = .*no point of the region"):
        paper.with_impairments({"clutter_scatterers": 3, "clutter_region_m": [5000.0, 6000.0, 0.0, 100.0]})


def test_clutter_may_pass_the_prefix_and_targets_may_not(paper):
    """The scenario check lets clutter delays pass the cyclic prefix (Scenario.beyond_cp_paths lists them, from the
    geometry) and still refuses a target echo beyond it."""
    s = paper.with_impairments({"clutter_positions_m": [[0.0, 10.0], [600.0, 0.0]]})
    listed = s.beyond_cp_paths()
    delays = imp.clutter_delays_samples(s, s.impairments.clutter_positions_m)
    assert [(p["rx"], p["tx"], p["index"]) for p in listed] == [(n, m, 1) for n in range(2) for m in range(2)]
    for p in listed:
        assert p["kind"] == "clutter" and p["delay_samples"] == delays[p["rx"], p["tx"], p["index"]] > s.cyclic_prefix
    assert paper.beyond_cp_paths() == () and paper.with_impairments("lab").beyond_cp_paths()
    data = tomllib.loads(scenario_to_toml(s))
    data["targets"]["positions_m"] = [[600.0, 0.0]]
    with pytest.raises(ScenarioError, match="beyond the cyclic prefix"):
        scenario_from_dict(data)


def test_issue_14_keys_round_trip_through_toml(tmp_path, paper):
    """Every new key's TOML form is read back to the same table and draw (inf included)."""
    table = {"preset": "lab", "seed": 2, "direct_path_db": 45.5, "carrier_hz": 2.4e9, "rcs_m2": 10.0,
             "tx_antenna_gain_dbi": 3.0, "rx_antenna_gain_dbi": -1.0, "isolation_db": math.inf,
             "self_coupling_delay_samples": 2.5, "clutter_positions_m": [[10.0, 20.0], [30.0, -40.0]],
             "clutter_to_noise_db": 20.0, "clutter_region_m": [-100.0, 100.0, -50.0, 50.0], "adc_bits": 10,
             "adc_full_scale": 0.5, "agc": False, "agc_backoff_db": 9.0, "guard_subcarriers": 4, "dc_null": False}
    s = paper.with_impairments(table)
    path = tmp_path / "air.toml"
    path.write_text(scenario_to_toml(s), encoding="utf-8")
    again = load_scenario(str(path))
    assert again.impairments_table == table
    assert again.impairments.summary() == s.impairments.summary()
    np.testing.assert_array_equal(again.active_subcarriers, s.active_subcarriers)


def test_lab_sync_is_issue_13s_lab_air():
    """"lab-sync" keeps what issue 13's tests and figures meant by "lab": its column exactly (GPSDO timing,
    B210 latencies, uniform channel phases, 1 dB gains, 5 Hz CFO, user delays, direct paths at 30 dB SNR), and
    every issue-14 key at its ideal value (no clutter, leakage, ADC, guards; the direct path's level from
    direct_path_snr_db)."""
    issue13_lab = {"seed": 0, "timing_offset_ns": 50.0, "latency_samples": {"min": 46.0, "max": 165.0},
                   "rx_phase_deg": "uniform", "tx_phase_deg": "uniform", "rx_gain_db": 1.0, "tx_gain_db": 1.0,
                   "cfo_hz": 5.0, "node_phase": "per_frame", "phase_drift_deg_per_s": 0.0,
                   "overflow_every_frames": 0, "overflow_samples": 1000, "user_delays": True, "direct_path": True,
                   "direct_path_snr_db": 30.0}
    sync = imp.PRESETS["lab-sync"]
    assert {k: sync[k] for k in issue13_lab} == issue13_lab
    assert {k: sync[k] for k in imp.ISSUE14_KEYS} == {k: imp.PRESETS["ideal"][k] for k in imp.ISSUE14_KEYS}
    s = load_scenario("paper").with_impairments("lab-sync")
    assert s.active_subcarriers.all() and s.without_impairments().impairments_table == {}
    assert s.impairments.direct_path_amplitudes[0, 1] == pytest.approx(math.sqrt(1000))
    assert imp.load_impairments_table("lab-sync") == {"preset": "lab-sync"}
