# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""`disac crb` and `disac design`: the JSON contracts of issue 3, run in-process through cli.main.

Numbers are checked against the core (which tests/test_fim.py and tests/test_beamformer.py prove);
here what matters is that the keys are there, typed, consistent with each other, and that hard or
bad requests give a status or a one-line error instead of a traceback or a NaN.
"""

import json
import math

import numpy as np
import pytest

from gnuradio.disac.apps.cli import main
from gnuradio.disac.core import fim
from gnuradio.disac.core.scenario import load_scenario

CRB_KEYS = {"crb_position_m2", "crb_position_per_target_m2", "crb_paper", "crb_position_aoa_only_m2",
            "crb_position_tof_only_m2"}
DESIGN_KEYS = {"status", "objective", "solver", "sinr_threshold_db", "solve_time_s", "crb_position_bound_m2",
               "crb_position_extracted_m2", "crb_paper_bound", "crb_paper_extracted", "sinr_extracted_db",
               "max_antenna_power"}


def run_json(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr().out
    return code, json.loads(out)


def test_crb_isotropic_json_matches_the_core(capsys):
    code, data = run_json(capsys, "crb", "paper", "--json")
    assert code == 0 and CRB_KEYS <= set(data)
    scenario = load_scenario("paper")
    report = fim.crb_report(fim.SensingGeometry.from_scenario(scenario),
                            fim.isotropic_covariances(2, scenario.tx_antennas, scenario.per_antenna_power))
    assert data["crb_position_m2"] == pytest.approx(report.crb_position_m2, rel=1e-12)
    # the total is the sum over targets, and each kind of information alone is worse than both together
    assert sum(data["crb_position_per_target_m2"]) == pytest.approx(data["crb_position_m2"], rel=1e-12)
    assert data["crb_position_aoa_only_m2"] > data["crb_position_m2"]
    assert data["crb_position_tof_only_m2"] > data["crb_position_m2"]
    assert data["crb_paper"] > data["crb_position_m2"]  # the paper's trace adds the amplitude entries


def test_crb_single_node_reports_unbounded_as_null_and_says_why(capsys):
    code, data = run_json(capsys, "crb", "fig5-single-m6", "--json")
    assert code == 0
    assert data["crb_position_aoa_only_m2"] is None and data["crb_position_tof_only_m2"] is None
    assert data["crb_position_m2"] > 0
    assert main(["crb", "fig5-single-m6"]) == 0
    text = capsys.readouterr().out
    assert "bearing line" in text and "circle" in text and "unbounded" in text


def test_design_json_contract_and_constraints(capsys, tmp_path):
    save = tmp_path / "precoders.npz"
    code, data = run_json(capsys, "design", "paper", "--sinr-db", "20", "--json", "--save", str(save))
    assert code == 0 and DESIGN_KEYS <= set(data)
    assert data["status"] == "optimal" and data["objective"] == "paper" and data["solver"] == "clarabel"
    assert len(data["sinr_extracted_db"]) == 3
    assert min(data["sinr_extracted_db"]) >= 20 - 0.1  # issue 3: Γ_c − 0.1 dB
    assert data["max_antenna_power"] <= 1 + 1e-4  # P_T(1 + 1e-4), P_T = 1
    # the relaxation bounds the extracted solution (solver tolerance 1e-7 relative)
    assert data["crb_position_bound_m2"] <= data["crb_position_extracted_m2"] * (1 + 1e-6)
    with np.load(save, allow_pickle=False) as saved:
        assert saved["Wc"].shape == (2, 6, 3) and saved["Wr"].shape == (2, 6, 6)
        assert np.all(np.isfinite(saved["Wc"]))


def test_design_infeasible_threshold_is_a_status_not_a_crash(capsys):
    code, data = run_json(capsys, "design", "paper", "--sinr-db", "40", "--max-sinr", "--json")
    assert code == 1
    assert data["status"] == "infeasible"
    assert data["crb_position_bound_m2"] is None and data["sinr_extracted_db"] is None
    # the largest common SINR of the paper scenario, 32.7 dB (DESIGN.md §6), found by a 0.01 dB bisection
    assert data["max_common_sinr_db"] == pytest.approx(32.7, abs=0.05)
    assert all(not (isinstance(v, float) and math.isnan(v)) for v in data.values())


@pytest.mark.parametrize("argv, fragment", [
    (["design", "paper", "--sinr-db", "nan"], "--sinr-db = 'nan': expected a finite number"),
    (["design", "paper", "--sinr-db", "500"], "--sinr-db = '500': expected a finite number from -40 to 60"),
    (["design", "paper", "--sinr-db", "10", "--objective", "crb"], "invalid choice: 'crb'"),
    (["design", "paper"], "required: --sinr-db"),
    (["crb", "paper", "--covariance", "designed"], "--covariance designed needs --sinr-db"),
    (["crb", "no-such-preset"], "unknown preset name"),
])
def test_bad_arguments_give_one_line_errors(capsys, argv, fragment):
    try:
        code = main(argv)  # errors found after parsing return 2
    except SystemExit as exc:  # argparse's own checks exit with 2
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert fragment in err and err.count("\n") == 1 and "Traceback" not in err
