# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""bench/impairment_curves.py's --merge (the full-length curves of docs/calibration.md were run as three parallel
processes, one sweep each, and combined): the merged results are one run's, and runs that are not parts of one run
are refused, naming the file and the key. No sweep is run here (they take minutes): the parts are written by hand."""

import importlib.util
import json
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def curves():
    spec = importlib.util.spec_from_file_location("impairment_curves", os.path.join(ROOT, "bench", "impairment_curves.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def part(tmp_path, name, sweeps, **changes):
    run = {"scenario": "paper", "trials": 200, "seed": 0, "quick": False, "calibration_mode": "estimated",
           "sinr_db": 10.0, "sinr_frames": 200, "pilot_symbols": 4, "reflector_m": [-60.0, -20.0],
           "sweeps": sweeps, "command": f"python bench/impairment_curves.py --only {' '.join(sweeps)}", "complete": True}
    run.update(changes)
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(run))
    return str(path)


def test_merge_gives_one_run_in_the_sweeps_order(curves, tmp_path):
    a = part(tmp_path, "a", {"cfo": [{"value": 0.0}]})
    b = part(tmp_path, "b", {"timing": [{"value": 0.0}], "overflow": [{"value": 0}]})
    merged = curves.merge_results([a, b])
    assert list(merged["sweeps"]) == ["timing", "cfo", "overflow"]  # SWEEPS' order, whatever the files' order
    assert merged["trials"] == 200 and merged["complete"] is True
    assert "--only cfo" in merged["command"] and "--only timing overflow" in merged["command"]


@pytest.mark.parametrize("changes, message", [
    ({"trials": 40}, "has trials = 40"),  # a quick part must not be mixed into a full-length table
    ({"complete": False}, "unfinished run"),  # a checkpoint of a run still going
])
def test_merge_refuses_parts_of_different_runs(curves, tmp_path, changes, message):
    a = part(tmp_path, "a", {"cfo": [{"value": 0.0}]})
    b = part(tmp_path, "b", {"timing": [{"value": 0.0}]}, **changes)
    with pytest.raises(SystemExit, match=message):
        curves.merge_results([a, b])


def test_merge_refuses_a_sweep_twice(curves, tmp_path):
    a = part(tmp_path, "a", {"cfo": [{"value": 0.0}]})
    b = part(tmp_path, "b", {"cfo": [{"value": 10.0}]})
    with pytest.raises(SystemExit, match="sweep 'cfo' in more than one run"):
        curves.merge_results([a, b])
