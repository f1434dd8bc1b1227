#!/usr/bin/env bash
# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
# Set up (tools/setup.sh --test: the runtime and the test requirements) and run every test of gr-disac:
#   1. CMake configure + build in a temporary build tree, the qa_*.py files through ctest (GR_ADD_TEST,
#      PYTHON_EXECUTABLE = the venv's python);
#   2. what tools/setup.sh installed, from outside the source tree: the venv's `disac` command, and
#      GNU Radio started the usual way (plain grcc, then python3 on the generated flowgraph, with only
#      PATH and HOME in the environment: tests/grc/disac_plain.grc);
#   3. pytest over tests/ and python/disac (test_*.py; the qa_ files are ctest's).
# Extra arguments go to pytest, e.g. `tools/test.sh -k scenario`. Exits non-zero if anything fails,
# including a pytest run that collected no test (pytest's exit status 5).
#
# ctest and pytest run DISAC_TEST_WORKERS tests at a time (default 2: CI's machine has 2 cores; 1 runs
# everything one after the other). pytest's workers are pytest-xdist's (`-n N --dist loadgroup`): the tests
# that share a module-scoped fixture run on one worker, in order (conftest.py). Every test picks its own
# ports (the system's), folders (tmp_path) and inproc names, so two at once cannot collide. Each test process
# gets OPENBLAS_NUM_THREADS=1 (unless set): two workers on two cores, and BLAS threads on top would only
# compete for them.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export DISAC_VENV="${DISAC_VENV:-$ROOT/.venv}"
PY="$DISAC_VENV/bin/python"

say() { printf 'test: %s\n' "$*"; }

WORKERS="${DISAC_TEST_WORKERS:-2}"
[[ "$WORKERS" =~ ^[1-9][0-9]*$ ]] \
    || { say "DISAC_TEST_WORKERS = '$WORKERS': expected a whole number of tests at a time, 1 or more"; exit 2; }
export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}"

bash "$ROOT/tools/setup.sh" --test

BUILD="$(mktemp -d "${TMPDIR:-/tmp}/gr-disac-build.XXXXXX")"
SCRATCH="$(mktemp -d "${TMPDIR:-/tmp}/gr-disac-cwd.XXXXXX")"
trap 'rm -rf "$BUILD" "$SCRATCH"' EXIT

# --- 1. CMake build and ctest ----------------------------------------------------------------------
say "cmake configure + build in $BUILD"
if ! cmake -S "$ROOT" -B "$BUILD" -DPYTHON_EXECUTABLE="$PY" -DCMAKE_INSTALL_PREFIX="$DISAC_VENV" \
        >"$BUILD/configure.log" 2>&1; then
    cat "$BUILD/configure.log" >&2
    say "FAILED: cmake configure"
    exit 1
fi
if ! cmake --build "$BUILD" -j 2 >"$BUILD/build.log" 2>&1; then
    cat "$BUILD/build.log" >&2
    say "FAILED: cmake build"
    exit 1
fi
say "ctest (qa_*.py), $WORKERS at a time"
ctest_status=0
(cd "$BUILD" && ctest -j "$WORKERS" --output-on-failure --no-tests=error --output-junit "$BUILD/ctest.xml") \
    || ctest_status=$?

# --- 2. the venv's install (made by tools/setup.sh) runs from outside the source tree --------------
install_status=0
if ! (cd "$SCRATCH" && "$DISAC_VENV/bin/disac" scenario show paper >"$BUILD/smoke.log" 2>&1); then
    cat "$BUILD/smoke.log" >&2
    say "the installed $DISAC_VENV/bin/disac does not run from outside the source tree"
    install_status=1
fi
plain_env=(env -i "PATH=/usr/local/bin:/usr/bin:/bin" "HOME=$HOME")
if ! (cd "$SCRATCH" && "${plain_env[@]}" grcc -o "$SCRATCH" "$ROOT/tests/grc/disac_plain.grc" \
        && "${plain_env[@]}" python3 "$SCRATCH/disac_plain.py") >"$BUILD/plain-grc.log" 2>&1; then
    cat "$BUILD/plain-grc.log" >&2
    say "GNU Radio started the usual way (grcc, python3; no environment variable) does not find gr-disac"
    install_status=1
fi

# --- 3. pytest --------------------------------------------------------------------------------------
parallel=()
if ((WORKERS > 1)); then
    parallel=(-n "$WORKERS" --dist loadgroup)
fi
# In ROUNDS separate pytest processes, one after the other, each over a share of the test files: GNU Radio
# 3.10 never frees a flowgraph that holds Python blocks, so every in-process flowgraph a test runs keeps its
# buffers (one System V shared-memory segment each) until its process ends. One process over the whole
# suite held ~3 000 of the machine's 4 096 segments (kernel.shmmni) by its end and a second run beside it
# failed with "shmget: No space left on device"; a process per round frees them between rounds. Three rounds
# were enough until the suite grew to ~1 340 tests: then a round's two workers held ~1 500 segments when two tests
# that run whole systems in other processes (~240 a flowgraph) ran beside them, and a third passed the limit
# (3 780 measured); four rounds, and those tests one at a time (the gnuradio_system marker, conftest.py).
ROUNDS="${DISAC_TEST_ROUNDS:-4}"
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] \
    || { say "DISAC_TEST_ROUNDS = '$ROUNDS': expected a whole number of pytest processes, 1 or more"; exit 2; }
mapfile -t test_files < <(cd "$ROOT" && ls tests/test_*.py | sort)
pytest_status=0
collected_any=0
reports=()
for ((round = 0; round < ROUNDS; round++)); do
    paths=()
    for ((i = round; i < ${#test_files[@]}; i += ROUNDS)); do paths+=("${test_files[i]}"); done
    ((round == ROUNDS - 1)) && paths+=(python/disac)
    ((${#paths[@]})) || continue
    say "pytest round $((round + 1))/$ROUNDS (${#paths[@]} paths), $WORKERS at a time"
    status=0
    # --durations: the slowest tests in CI's log, for whoever keeps the run short next
    (cd "$ROOT" && "$PY" -m pytest -q "${parallel[@]}" --durations=10 --junitxml="$BUILD/pytest-$round.xml" \
        "${paths[@]}" "$@") || status=$?
    reports+=("$BUILD/pytest-$round.xml")
    if ((status == 5)); then
        continue  # this round's share had no test matching the arguments; only all rounds empty fails
    fi
    collected_any=1
    ((status)) && pytest_status=$status
done
if ((!collected_any)); then
    pytest_status=5
    say "pytest collected no test (exit status 5): counted as a failure"
fi

if ((ctest_status || install_status || pytest_status)); then
    say "FAILED: ctest status $ctest_status, install status $install_status, pytest status $pytest_status"
fi
# one closing line for both runners, counted from their JUnit reports: "tests: N passed, N failed"
"$PY" - "$BUILD/ctest.xml" "${reports[@]}" <<'PY' || true
import sys
import xml.etree.ElementTree as ET

passed = failed = skipped = 0
for path in sys.argv[1:]:
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        continue  # that runner did not get to write its report: its exit status already counts
    for suite in ([root] if root.tag == "testsuite" else root.iter("testsuite")):
        total = int(suite.get("tests", 0))
        bad = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
        skip = int(suite.get("skipped", 0)) + int(suite.get("disabled", 0) or 0)
        passed += total - bad - skip
        failed += bad
        skipped += skip
print(f"tests: {passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
PY

if ((ctest_status || install_status || pytest_status)); then
    exit 1
fi
