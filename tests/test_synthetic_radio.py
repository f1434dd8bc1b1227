# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""core.synthetic_radio: the CFO phasor keeps its phase at large labels (checked against exact rational
arithmetic), the overflow schedule loses S labels from inside every k-th frame, merges losses that overlap,
and gives the same keep/re-tag marks however the labels are cut into windows (streaming safety)."""

from fractions import Fraction

import numpy as np
import pytest

from gnuradio.disac.core.synthetic_radio import OverflowSchedule, cfo_phasor, cfo_phasor_at

FS = 10e6


def test_cfo_phasor_is_exact_at_large_labels():
    """Label 10^12 (a day at 10 MHz), ε = 4.77 Hz: the exact phase from rational arithmetic vs the phasor;
    a float64 product reduced mod 1 keeps ~1e-9 cycle here (the exp of the raw 2π·ε·t argument would lose
    ~1e-7 rad, still fine, but the reduction is what keeps a week-long run exact)."""
    cfo, labels = 4.77, np.array([0, 1, 10**9 + 7, 10**12 + 3, -(10**11)], dtype=np.int64)
    phasor = cfo_phasor_at(cfo, labels, FS, sign=-1)
    for label, value in zip(labels.tolist(), phasor):
        cycles = Fraction(cfo) * label / Fraction(FS)
        exact = np.exp(-2j * np.pi * float(cycles - (cycles.numerator // cycles.denominator)))
        assert abs(value - exact) < 1e-8
    assert np.array_equal(cfo_phasor(0.0, 5, 4, FS), np.ones(4))
    assert np.array_equal(cfo_phasor(cfo, 10**9, 50, FS), cfo_phasor_at(cfo, np.arange(10**9, 10**9 + 50), FS))


def test_every_kth_frame_loses_s_samples_from_inside_it():
    schedule = OverflowSchedule(every_frames=5, samples_lost=30, frame_len=100, seed=3, node_id=1)
    intervals = schedule.lost_intervals(0, 10_000)
    assert [a // 100 for a, _ in intervals] == list(range(4, 100, 5))  # frames 4, 9, 14, …
    assert all(b - a == 30 for a, b in intervals)
    assert len({a % 100 for a, _ in intervals}) > 5  # seeded positions, not one place
    other_node = OverflowSchedule(5, 30, 100, 3, 0).lost_intervals(0, 10_000)
    assert [a for a, _ in other_node] != [a for a, _ in intervals]  # each radio overflows on its own


def test_overlapping_losses_merge_and_never_is_never():
    schedule = OverflowSchedule(every_frames=1, samples_lost=250, frame_len=100, seed=0, node_id=0)
    assert schedule.lost_intervals(0, 1000)[0][0] < 100 and len(schedule.lost_intervals(0, 1000)) == 1
    keep, _ = OverflowSchedule(0, 1000, 100, 0, 0).kept(-50, 500)
    assert keep.all()
    with pytest.raises(ValueError, match="samples_lost"):
        OverflowSchedule(1, 0, 100, 0, 0)


@pytest.mark.parametrize("cuts", [[1], [7, 100, 3], [1000], [999, 1, 1]])
def test_keep_marks_do_not_depend_on_the_windows(cuts):
    schedule = OverflowSchedule(every_frames=3, samples_lost=140, frame_len=108, seed=11, node_id=0)
    first, total = -40, 5000
    keep, after = schedule.kept(first, total)
    pieces, label, i = [], first, 0
    while label < first + total:
        size = min(cuts[i % len(cuts)], first + total - label)
        pieces.append(schedule.kept(label, size))
        label, i = label + size, i + 1
    assert np.array_equal(np.concatenate([p[0] for p in pieces]), keep)
    assert np.array_equal(np.concatenate([p[1] for p in pieces]), after)
    # a re-tag exactly where a kept sample follows a lost one
    expected = keep & np.concatenate([[False], ~keep[:-1]])
    assert np.array_equal(after, expected)
