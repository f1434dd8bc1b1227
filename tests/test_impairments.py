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
]


@pytest.mark.parametrize("table, parts", BAD_TABLES, ids=[str(t) for t, _ in BAD_TABLES])
def test_bad_tables_are_named_with_what_is_accepted(paper, table, parts):
    """Every problem is a ScenarioError naming the key, the value and what is accepted, whether the table
    comes through the scenario file or the Python API."""
    for attempt in (lambda: imp.draw_impairments(table, N, MT, MR), lambda: paper.with_impairments(table)):
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
    know); the original is unchanged."""
    data = tomllib.loads(scenario_to_toml(paper))
    data["calibration"] = {"reflector_m": [0.0, 60.0]}
    s = scenario_from_dict(data).with_impairments("lab")
    bare = s.without_impairments()
    assert bare.impairments_table == {} and bare.impairments.is_ideal
    assert s.impairments_table == {"preset": "lab"} and not s.impairments.is_ideal
    np.testing.assert_array_equal(bare.reflector_m, s.reflector_m)
    assert bare.reflector_amplitude == s.reflector_amplitude
    assert scenario_to_toml(bare) == scenario_to_toml(s).split("[impairments]")[0] + "[calibration]" + \
        scenario_to_toml(s).split("[calibration]")[1]


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
