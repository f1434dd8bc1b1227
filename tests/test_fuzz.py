# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fuzzing in every test run (issue 8): the wire decoder and every message handler, a few hundred
hostile inputs each (tests/fuzz_harness.py; bench/fuzz.py runs 100 000), with zero uncaught exceptions
and no input that makes a handler allocate beyond its bound. The central unit's worker path (issue 11:
a localised frame through estimate_to_pmt) gets a sixteenth of them, each a localisation."""

import pytest

import fuzz_harness

INPUTS_PER_TARGET = 400


@pytest.fixture(scope="module")
def results():
    return fuzz_harness.run(INPUTS_PER_TARGET, seed=20261129, trace_allocations=True)


def test_every_target_was_fuzzed(results):
    assert len(results) == 9
    assert all(stats.inputs == (int(INPUTS_PER_TARGET * fuzz_harness.WORKER_SHARE) if name == "central_unit.worker"
                                else INPUTS_PER_TARGET) for name, stats in results.items())


@pytest.mark.parametrize("name", ["wire.decode", "central_unit.handle_wire", "central_unit.handle_snapshot",
                                  "central_unit.handle_precoders", "isac_tx.handle_precoder",
                                  "precoder_sub.handle_frames", "bf_service.handle", "scenario_from_dict",
                                  "central_unit.worker"])
def test_no_crash_and_no_unbounded_allocation(results, name):
    stats = results[name]
    assert stats.crashes == 0, stats.first_crash
    assert stats.big_allocations == 0, stats.largest_allocation_bytes
