# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""The calibration file of docs/air-model.md §3: round trip, gauges, window offsets, and every validation error."""

import json

import numpy as np
import pytest

from gnuradio.disac.core import calibration as cal
from gnuradio.disac.core.scenario import load_scenario


def _example(n=3, mr=4, mt=2, seed=1):
    rng = np.random.default_rng(seed)
    g = lambda *s: (1 + 0.1 * rng.standard_normal(s)) * np.exp(1j * rng.uniform(-np.pi, np.pi, s))  # noqa: E731
    return cal.Calibration(
        rx_gains=g(n, mr), tx_gains=g(n, mt), rx_delay_samples=rng.uniform(40, 170, n),
        tx_delay_samples=rng.normal(0, 0.5, n), cfo_hz=rng.normal(0, 5, n), sample_rate_hz=1e7,
        scenario="test", method="direct_path", radio="usrp", serials=[f"S{i}" for i in range(n)],
        center_freq_hz=3.5e9, tx_gain_db=20.0, rx_gain_db=None, frequency_grid="centred", frames_used=20,
        created_utc="2026-12-01T11:00:00+00:00",
        residuals=cal.CalibrationResiduals(0.1, 0.2, 0.01, 0.02, 0.003, None,
                                           links=({"tx": 0, "rx": 1, "timing_ns": 0.002},)))


def test_round_trip_is_exact_and_the_document_is_spec_shaped(tmp_path):
    c = _example()
    path = c.save(tmp_path / "c.json")
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["format"] == "gr-disac-calibration" and doc["version"] == 1
    assert doc["device"] == {"radio": "usrp", "serials": ["S0", "S1", "S2"]}
    assert set(doc["nodes"][0]) == {"node_id", "rx_gains", "tx_gains", "rx_delay_samples", "tx_delay_samples", "cfo_hz"}
    assert len(doc["nodes"][1]["rx_gains"]) == 4 and len(doc["nodes"][1]["rx_gains"][0]) == 2
    assert doc["residuals"]["cfo_hz_rms"] is None and doc["residuals"]["links"][0]["rx"] == 1
    back = cal.load_calibration(path)
    # float64 → JSON (repr, 17 digits) → float64 is exact
    for key in ("rx_gains", "tx_gains", "rx_delay_samples", "tx_delay_samples", "cfo_hz"):
        np.testing.assert_array_equal(getattr(back, key), getattr(c, key))
    assert back.to_dict() == c.to_dict()


def test_window_offset_is_the_floor_of_the_smallest_link_delay():
    c = _example()
    d = c.link_delay_samples()
    assert d.shape == (3, 3) and d[1, 2] == c.tx_delay_samples[2] + c.rx_delay_samples[1]
    for n in range(3):
        off = c.window_offset_samples(n)
        assert isinstance(off, int)
        assert np.all(d[n] - off >= 0) and np.min(d[n] - off) < 1
    with pytest.raises(cal.CalibrationError, match="node 3"):
        c.window_offset_samples(3)


def test_normalised_keeps_every_link_and_sets_the_gauges():
    c = _example()
    g = c.normalised()
    np.testing.assert_allclose(g.link_delay_samples(), c.link_delay_samples(), atol=1e-12)
    assert g.tx_delay_samples[0] == 0 and g.cfo_hz[0] == 0
    np.testing.assert_allclose(np.diff(g.cfo_hz), np.diff(c.cfo_hz), atol=1e-12)
    np.testing.assert_allclose(np.mean(np.abs(g.rx_gains), axis=1), 1, atol=1e-12)
    np.testing.assert_allclose(np.angle(g.tx_gains[:, 0]), 0, atol=1e-12)
    # each node's gains change by one complex factor only
    ratio = g.rx_gains / c.rx_gains
    np.testing.assert_allclose(ratio / ratio[:, :1], 1, atol=1e-12)


def test_identity_fits_its_scenario():
    s = load_scenario("paper")
    c = cal.identity_calibration(s)
    assert c.check_scenario(s) is c
    assert c.method == "identity" and c.rx_gains.shape == (2, 16) and c.tx_gains.shape == (2, 6)
    assert all(c.window_offset_samples(n) == 0 for n in range(2))
    other = load_scenario("four-nodes")
    with pytest.raises(cal.CalibrationError, match="N = 4 nodes"):
        c.check_scenario(other)


def _write(tmp_path, doc):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


@pytest.mark.parametrize("edit, message", [
    (lambda d: d.update(version=2), r"version = 2: accepted: 1"),
    (lambda d: d.update(format="other"), r"format = 'other'"),
    (lambda d: d["nodes"][1]["rx_gains"].pop(), r"nodes\[1\]\.rx_gains = '3 antennas': accepted: 4 antennas"),
    (lambda d: d["nodes"][0]["tx_gains"].__setitem__(0, [0.0, 0.0]), r"tx_gains\[0, 0\].*magnitude ≥"),
    (lambda d: d["nodes"][2].update(cfo_hz="5"), r"nodes\[2\]\.cfo_hz = '5': accepted: a finite number"),
    (lambda d: d["nodes"][2].update(node_id=5), r"nodes\[2\]\.node_id = 5"),
    (lambda d: d.update(method="magic"), r"method = 'magic'"),
    (lambda d: d.update(frequency_grid="upper"), r"frequency_grid = 'upper'"),
    (lambda d: d["device"].update(serials=["a"]), r"device\.serials"),
    (lambda d: d.update(extra=1), r"extra = 1"),
    (lambda d: d["residuals"].update(timing_ns_rms=[1]), r"residuals\.timing_ns_rms"),
    (lambda d: d["residuals"]["links"].append({"tx": 7, "rx": 0, "timing_ns": 1.0}), r"node ids 0 … 2"),
    (lambda d: d.update(sample_rate_hz=-1.0), r"sample_rate_hz = -1.0"),
])
def test_bad_files_are_refused_naming_the_value(tmp_path, edit, message):
    doc = _example().to_dict()
    edit(doc)
    with pytest.raises(cal.CalibrationError, match=message):
        cal.load_calibration(_write(tmp_path, doc))


def test_non_finite_numbers_and_broken_files_are_refused(tmp_path):
    text = _example().to_json().replace('"cfo_hz": ', '"cfo_hz": NaN, "x": ', 1)
    path = tmp_path / "nan.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(cal.CalibrationError, match="NaN is not a finite number"):
        cal.load_calibration(path)
    path.write_text("{", encoding="utf-8")
    with pytest.raises(cal.CalibrationError, match="not valid JSON"):
        cal.load_calibration(path)
    with pytest.raises(cal.CalibrationError, match="cannot be read"):
        cal.load_calibration(tmp_path / "missing.json")
    with pytest.raises(cal.CalibrationError, match=r"rx_delay_samples\[1\] = inf"):
        c = _example()
        cal.Calibration(c.rx_gains, c.tx_gains, [0.0, np.inf, 0.0], c.tx_delay_samples, c.cfo_hz, 1e7)


def test_a_wrong_size_against_the_scenario_is_refused(tmp_path):
    s = load_scenario("paper")
    c = cal.identity_calibration(s)
    doc = c.to_dict()
    for node in doc["nodes"]:
        node["rx_gains"] = node["rx_gains"][:8]
    with pytest.raises(cal.CalibrationError, match="8 receive antennas per node': accepted: Mr = 16"):
        cal.load_calibration(_write(tmp_path, doc), scenario=s)
