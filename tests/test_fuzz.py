"""Fuzzing in every test run (issue 8): the wire decoder and every message handler, a few hundred
hostile inputs each (tests/fuzz_harness.py; bench/fuzz.py runs 100 000), with zero uncaught exceptions
and no input that makes a handler allocate beyond its bound."""

import pytest

import fuzz_harness

INPUTS_PER_TARGET = 400


@pytest.fixture(scope="module")
def results():
    return fuzz_harness.run(INPUTS_PER_TARGET, seed=20261129, trace_allocations=True)


def test_every_target_was_fuzzed(results):
    assert len(results) == 8
    assert all(stats.inputs == INPUTS_PER_TARGET for stats in results.values())


@pytest.mark.parametrize("name", ["wire.decode", "central_unit.handle_wire", "central_unit.handle_snapshot",
                                  "central_unit.handle_precoders", "isac_tx.handle_precoder",
                                  "precoder_sub.handle_frames", "bf_service.handle", "scenario_from_dict"])
def test_no_crash_and_no_unbounded_allocation(results, name):
    stats = results[name]
    assert stats.crashes == 0, stats.first_crash
    assert stats.big_allocations == 0, stats.largest_allocation_bytes
