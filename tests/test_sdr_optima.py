# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""The SDR optima of today's formulation, recorded before issue 16 changed the build, and asserted since.

RECORDED holds, per preset, objective and Γ_c, the bound of the objective's own metric (fim.py's CRB at the
solver's R: crb_position_bound_m2 or crb_paper_bound) and the solver's optimal value (problem.value / P_T)
as the code at commit 1dc5f48 (before issue 16) computed them with Clarabel, produced by

    cd <tree at 1dc5f48> && OPENBLAS_NUM_THREADS=1 /work/main/.venv/bin/python tests/test_sdr_optima.py --record

(this file's `record()` uses only the public API that existed then). The test re-solves the same points
with today's default formulation and asserts both to 1e-6 relative (issue 16, Done when). CIRCLE_RECORDED: the
same for the issue's N = 8 case, `tests/test_sdr_optima.py --record-circle` at e82f3a7.
"""

import json
import os
import sys

import pytest

PRESET_POINTS = {"paper": (0.0, 10.0, 20.0, 30.0), "four-nodes": (0.0, 20.0, 30.0)}
OBJECTIVES = ("position", "paper")

# fmt: off
RECORDED = {
    "paper/position/0": {"status": "optimal", "bound": 0.13476570961022558, "value": 0.13476573995206848},
    "paper/position/10": {"status": "optimal", "bound": 0.1395829768069407, "value": 0.1395830428052509},
    "paper/position/20": {"status": "optimal", "bound": 0.16980192378614778, "value": 0.1698019819497167},
    "paper/position/30": {"status": "optimal", "bound": 0.2131997709935895, "value": 0.21319995547161857},
    "paper/paper/0": {"status": "optimal", "bound": 0.13740825049002778, "value": 0.13740828907587174},
    "paper/paper/10": {"status": "optimal", "bound": 0.14228090514892394, "value": 0.14228100372892255},
    "paper/paper/20": {"status": "optimal", "bound": 0.17310323563022223, "value": 0.1731032587569951},
    "paper/paper/30": {"status": "optimal", "bound": 0.21734902788735358, "value": 0.2173494370440795},
    "four-nodes/position/0": {"status": "optimal", "bound": 0.10611481911202306, "value": 0.10611502809290359},
    "four-nodes/position/20": {"status": "optimal", "bound": 0.12107080132915325, "value": 0.12107103612539256},
    "four-nodes/position/30": {"status": "optimal", "bound": 0.12771570785229386, "value": 0.12771573243401396},
    "four-nodes/paper/0": {"status": "optimal", "bound": 0.11085227217854489, "value": 0.11085286771587205},
    "four-nodes/paper/20": {"status": "optimal", "bound": 0.12724288323184207, "value": 0.12724301485572123},
    "four-nodes/paper/30": {"status": "optimal_inaccurate", "bound": 0.13376779912649314, "value": 0.13377030780523042},
}
# The N = 8 case (bench/bench_beamformer.py's circle_scenario(8): N = 8 nodes on a 200 m circle,
# Mt = Mr = 8, K = 2, U = 3), recorded with the tree at e82f3a7 (before the position objective's warm solve was
# sped up: R_n ⪰ 0 through a free PSD variable, Y_m an auxiliary variable) by `record_circle()` below.
CIRCLE_NODES = 8
CIRCLE_RECORDED = {
    "circle-8/position/20": {"status": "optimal", "bound": 0.046687593234508364, "value": 0.04668770753107657},
    "circle-8/paper/20": {"status": "optimal", "bound": 0.0557509983956785, "value": 0.05575105741376659},
}
# fmt: on


def record_circle():
    """Solve the circle case at 20 dB with the tree's default formulation and print CIRCLE_RECORDED as JSON."""
    import air_helpers  # here, not at the top: bench_beamformer imports this file for RECORDED alone
    bench = air_helpers.bench_module("bench_beamformer")
    scn = bench.circle_scenario(CIRCLE_NODES)
    out = {}
    for objective in OBJECTIVES:
        designer = bench.beamformer.BeamformerDesigner(scn, objective=objective, solver="clarabel")
        result = designer.solve(20.0)
        bound = result.crb_position_bound_m2 if objective == "position" else result.crb_paper_bound
        out[f"circle-{CIRCLE_NODES}/{objective}/20"] = {"status": result.status, "bound": bound,
                                                         "value": designer.problem.value / scn.per_antenna_power}
    print(json.dumps(out, indent=1))


def record():
    """Solve every point with the tree's default formulation and print RECORDED as JSON."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
    from disac.core import beamformer, scenario
    out = {}
    for preset, points in PRESET_POINTS.items():
        scn = scenario.load_scenario(preset)
        for objective in OBJECTIVES:
            designer = beamformer.BeamformerDesigner(scn, objective=objective, solver="clarabel")
            for gamma_db in points:
                result = designer.solve(gamma_db)
                bound = result.crb_position_bound_m2 if objective == "position" else result.crb_paper_bound
                out[f"{preset}/{objective}/{gamma_db:g}"] = {
                    "status": result.status, "bound": bound,
                    "value": designer.problem.value / scn.per_antenna_power}
                print(preset, objective, gamma_db, out[f"{preset}/{objective}/{gamma_db:g}"], file=sys.stderr,
                      flush=True)
    print(json.dumps(out, indent=1))


# The agreement with today's optima. Clarabel stops at 1e-7 relative gap and feasibility
# (beamformer._SOLVER_OPTIONS); two exact reformulations of one SDP then land within a few 1e-7 of each other
# on the objective, so 1e-6 holds with margin and still fails for any formulation that changes the problem
# (a dropped term moves the bound by ≥ 1e-3). A point recorded as optimal_inaccurate (Clarabel stopped at its
# reduced tolerances, 5e-5 on the gap) is held to 1e-4 instead: its recorded figure is itself only that good.
# What the pin holds (issue 16, third pass; docs/beamforming.md): the recorded figures lie up to 4.2e-6 (bound) and
# 8.8e-6 (value) above the SDP's optimum solved to 1e-9 with iterative refinement (`bench/bench_beamformer.py
# --solver-study --all-points`), so 1e-6 pins Clarabel's iterate path: exact reformulations with the same cones keep
# it (≤ 1e-8), while a change of path (tolerances, the objective's scale, chordal decomposition) moves the answer by
# up to ~1e-5, even towards the optimum.
OPTIMUM_RTOL = 1e-6
INACCURATE_RTOL = 1e-4


def _solve_all(preset, objective):
    from gnuradio.disac.core import beamformer, scenario
    scn = scenario.load_scenario(preset)
    designer = beamformer.BeamformerDesigner(scn, objective=objective, solver="clarabel")
    out = {}
    for gamma_db in PRESET_POINTS[preset]:
        result = designer.solve(gamma_db)
        bound = result.crb_position_bound_m2 if objective == "position" else result.crb_paper_bound
        value = designer.problem.value / scn.per_antenna_power if result.ok else None
        out[gamma_db] = (result.status, bound, value)
    return out


@pytest.mark.parametrize("preset", list(PRESET_POINTS))
@pytest.mark.parametrize("objective", OBJECTIVES)
def test_optima_equal_the_recorded_ones(preset, objective):
    for gamma_db, (status, bound, value) in _solve_all(preset, objective).items():
        recorded = RECORDED[f"{preset}/{objective}/{gamma_db:g}"]
        rtol = OPTIMUM_RTOL if recorded["status"] == "optimal" and status == "optimal" else INACCURATE_RTOL
        assert status in ("optimal", "optimal_inaccurate"), (preset, objective, gamma_db, status)
        assert bound == pytest.approx(recorded["bound"], rel=rtol), (preset, objective, gamma_db)
        assert value == pytest.approx(recorded["value"], rel=rtol), (preset, objective, gamma_db)


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_circle_of_eight_optima_equal_the_recorded_ones(objective):
    """The N = 8 case of issue 16's Done when, whose warm solve the transmit frame and the direct R_n ⪰ 0 LMI sped
    up: the same optimum (bound and value) as before that change, to OPTIMUM_RTOL (observed ≤ 2e-8)."""
    import air_helpers  # here, not at the top: bench_beamformer imports this file for RECORDED alone
    bench = air_helpers.bench_module("bench_beamformer")
    scn = bench.circle_scenario(CIRCLE_NODES)
    designer = bench.beamformer.BeamformerDesigner(scn, objective=objective, solver="clarabel")
    result = designer.solve(20.0)
    recorded = CIRCLE_RECORDED[f"circle-{CIRCLE_NODES}/{objective}/20"]
    assert result.status == recorded["status"] == "optimal", result.message
    bound = result.crb_position_bound_m2 if objective == "position" else result.crb_paper_bound
    assert bound == pytest.approx(recorded["bound"], rel=OPTIMUM_RTOL)
    assert designer.problem.value / scn.per_antenna_power == pytest.approx(recorded["value"], rel=OPTIMUM_RTOL)


if __name__ == "__main__" and "--record" in sys.argv:
    record()
if __name__ == "__main__" and "--record-circle" in sys.argv:
    record_circle()
