# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""The choices of the SDR beamformer (core/beamformer.py), in a module that loads no solver.

Command-line parsers and request validators read these without importing cvxpy (which costs about a
second), and core/beamformer.py takes them from here: one definition each.
"""

OBJECTIVES = ("position", "paper", "achievable")
# One default for every command and the beamformer server: the paper's own objective tr(F(Θ)^-1) of
# problem (18); "position" (the x,y block only) is the other choice; "achievable" (issue 15) minimises the
# position CRB of the phase-conditional FIM averaged over oscillator phase sets, the floor of the bound an
# estimator can reach with CoMP data (core.design_achievable, docs/beamforming.md §8).
DEFAULT_OBJECTIVE = "paper"
SOLVERS = ("clarabel", "scs")
FORMULATIONS = ("decomposed", "one_lmi", "literal")
EXTRACTIONS = ("paper", "keep_covariance")
# Clarabel is the default: on the paper scenario it converges in ~15 interior-point iterations, where
# SCS needs thousands of first-order iterations and stalls near the largest feasible threshold
# (bench/bench_beamformer.py prints both; docs/beamforming.md has the figures).
DEFAULT_SOLVER = "clarabel"
# Thresholds accepted by a solve and searched for the largest common SINR, in dB.
MIN_SINR_DB, MAX_SINR_DB = -40.0, 60.0
# Status of a solve that the designer's time limit stopped (no answer either way; the set in force stays).
TIMEOUT_STATUS = "solver_timeout"
