#!/usr/bin/env bash
# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
# Set up a Debian 12 machine for gr-disac; safe to run again (a ready machine takes seconds).
#
#   1. Debian packages (GNU Radio 3.10, CMake, the venv module, a C++ compiler and pybind11-dev for the
#      one C++ extension), installed only if one is missing;
#   2. the virtual environment ./.venv (or $DISAC_VENV), made from /usr/bin/python3 with
#      --system-site-packages so that Debian's GNU Radio stays importable;
#   3. the PyPI packages of requirements.txt (and, with --test, requirements-test.txt), as wheels
#      only, each file installed only when it changed since its last successful install (its sha256
#      is kept in <venv>/.requirements.sha256, <venv>/.requirements-test.sha256);
#   4. a check that GNU Radio and cvxpy import together, numpy is still 1.x and scipy is the venv's;
#   5. gr-disac itself built with CMake and installed into the venv (<venv>/bin/disac, and
#      `from gnuradio import disac` anywhere), redone only when the module's files changed; with it the C++
#      extension gnuradio.disac._native (native/: the frame tags of the PHY blocks in C++; without a
#      compiler the blocks take the Python path, same tags, slower), also copied beside the source tree's
#      package (python/disac/_native*.so and _native_status.txt, gitignored) for pytest from the checkout;
#   6. GNU Radio started the usual way, by the user running this script, finds it: the venv's GRC
#      block folder in ~/.gnuradio/config.conf (local_blocks_path) and the venv's site-packages for
#      /usr/bin/python3 (~/.local/lib/python3.11/site-packages/gr-disac.pth), see
#      tools/gr_user_config.py. Skipped with --no-user-config.
#
#   tools/setup.sh [--test] [--no-user-config]
#   tools/setup.sh --uninstall     # undo step 6 (then `rm -rf .venv` removes the rest)
#
# Run as root (or with sudo available) on a new machine; no input is asked.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${DISAC_VENV:-$ROOT/.venv}"
SYSTEM_PYTHON=/usr/bin/python3
USER_CONFIG_TOOL="$ROOT/tools/gr_user_config.py"

# GNU Radio 3.10 (runtime, grcc, Qt GUI blocks; gnuradio-dev: its CMake modules, headers and gr_modtool), GTK's
# introspection data for the GRC window, pyzmq, PyYAML, CMake, and the venv module with its pip. A C++
# compiler (build-essential) and pybind11-dev (2.10.3, the pybind11 Debian built GNU Radio's bindings with)
# for the one C++ extension, native/; every PyPI package is a wheel.
# xvfb and xauth: a virtual display for the tests that lay out GRC's canvas and for the GUI screenshot
# (xvfb-run). Recommends are not installed: this is the tested set.
APT_PACKAGES=(
    gnuradio gnuradio-dev gir1.2-gtk-3.0 python3-zmq python3-numpy python3-yaml cmake python3-venv
    python3-pip-whl xvfb xauth build-essential pybind11-dev
)

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: ERROR: %s\n' "$*" >&2; exit 1; }

with_test=0
user_config=1
for arg in "$@"; do
    case "$arg" in
        --test) with_test=1 ;;
        --no-user-config) user_config=0 ;;
        --uninstall)
            "$SYSTEM_PYTHON" "$USER_CONFIG_TOOL" uninstall
            say "GNU Radio's user configuration restored; remove the venv with: rm -rf $VENV"
            exit 0 ;;
        -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | grep -v -e '^set ' -e 'SPDX-License' -e '^# Copyright' \
                       | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option $arg (accepted: --test, --no-user-config, --uninstall, --help)" ;;
    esac
done

REQUIREMENT_FILES=("$ROOT/requirements.txt")
((with_test)) && REQUIREMENT_FILES+=("$ROOT/requirements-test.txt")
for requirements in "${REQUIREMENT_FILES[@]}"; do
    [[ -f "$requirements" ]] || die "$requirements not found (run tools/setup.sh from a gr-disac checkout)"
done
if [[ -r /etc/debian_version && "$(cut -d. -f1 /etc/debian_version)" != 12 ]]; then
    say "warning: tested on Debian 12; this is Debian $(cat /etc/debian_version)"
fi

# --- 1. Debian packages ----------------------------------------------------------------------------
missing=()
for package in "${APT_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$package")
    fi
done
if ((${#missing[@]})); then
    say "installing Debian packages: ${missing[*]}"
    command -v apt-get >/dev/null || die "apt-get not found: this script sets up Debian 12 only"
    SUDO=()
    if [[ "$(id -u)" != 0 ]]; then
        command -v sudo >/dev/null || die "Debian packages missing (${missing[*]}) and not root: run as root"
        SUDO=(sudo)
    fi
    export DEBIAN_FRONTEND=noninteractive
    "${SUDO[@]}" apt-get update -q || die "apt-get update failed"
    "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" \
        || die "apt-get install failed for: ${missing[*]}"
else
    say "Debian packages: all ${#APT_PACKAGES[@]} present"
fi
[[ -x "$SYSTEM_PYTHON" ]] || die "$SYSTEM_PYTHON not found"
"$SYSTEM_PYTHON" -c "from gnuradio import gr" 2>/dev/null \
    || die "Debian's GNU Radio does not import under $SYSTEM_PYTHON (package gnuradio broken?)"

# --- 2. virtual environment ------------------------------------------------------------------------
if [[ -e "$VENV" && ! -x "$VENV/bin/python" ]]; then
    die "$VENV exists but has no bin/python: remove it and run again"
fi
if [[ ! -x "$VENV/bin/python" ]]; then
    say "creating the virtual environment $VENV (from $SYSTEM_PYTHON, --system-site-packages)"
    "$SYSTEM_PYTHON" -m venv --system-site-packages "$VENV" || die "could not create $VENV"
    rm -f "$VENV"/.requirements*.sha256
else
    # a venv made from another Python (pyenv, conda, no system site-packages) cannot see GNU Radio
    grep -qx "include-system-site-packages = true" "$VENV/pyvenv.cfg" \
        && "$VENV/bin/python" -c "import sys; sys.exit(sys.base_prefix != '/usr')" \
        || die "$VENV is not a --system-site-packages venv of $SYSTEM_PYTHON: remove it and run again"
    say "virtual environment: $VENV"
fi

# --- 3. PyPI packages ------------------------------------------------------------------------------
# Wheels only (--only-binary=:all:): a package without a wheel for this Python fails here with pip's
# message instead of needing a compiler. The stamps are written after the check below passes.
new_stamps=()
for requirements in "${REQUIREMENT_FILES[@]}"; do
    name="$(basename "$requirements")"
    stamp="$VENV/.${name%.txt}.sha256"
    wanted_hash="$(sha256sum "$requirements" | cut -d' ' -f1)"
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$wanted_hash" ]]; then
        say "PyPI packages: up to date with $name"
    else
        say "installing PyPI packages from $name (a few minutes on a new machine)"
        rm -f "$stamp"
        "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input -q --only-binary=:all: \
            -r "$requirements" || die "pip install -r $name failed"
        new_stamps+=("$stamp=$wanted_hash")
    fi
done

# --- 4. check --------------------------------------------------------------------------------------
check_output="$("$VENV/bin/python" - 2>&1 <<'PY'
import sys
import numpy
from gnuradio import gr
import clarabel
import cvxpy
import scipy
import dask, distributed, pyarrow.parquet  # the sweeps (pyarrow 26 would install and then fail here on numpy 1.x)

major = int(numpy.__version__.split(".")[0])
if major != 1:
    raise SystemExit(f"numpy {numpy.__version__} in the venv: GNU Radio 3.10 needs numpy 1.x "
                     f"(something upgraded it; pin numpy in requirements.txt)")
if not scipy.__file__.startswith(sys.prefix):
    raise SystemExit(f"scipy {scipy.__version__} comes from {scipy.__file__}, not from the venv's pinned "
                     f"copy (requirements.txt): cvxpy needs scipy >= 1.13")
print(f"GNU Radio {gr.version()}, numpy {numpy.__version__}, scipy {scipy.__version__}, cvxpy {cvxpy.__version__}, "
      f"clarabel {clarabel.__version__}, "
      f"dask {dask.__version__}, pyarrow {pyarrow.__version__}")
PY
)" || die "the venv check failed: $check_output"
for entry in "${new_stamps[@]}"; do
    echo "${entry#*=}" > "${entry%%=*}"
done
say "Python: $check_output"

# --- 5. gr-disac into the venv ---------------------------------------------------------------------
INSTALL_STAMP="$VENV/.gr-disac-install.sha256"
# (the copies of the extension and its status beside the source tree's package are outputs, not sources)
source_hash="$(cd "$ROOT" && find CMakeLists.txt cmake apps grc native python/disac -type f \
        ! -path '*/__pycache__/*' ! -name '*.pyc' ! -path 'python/disac/_native*' -print0 | LC_ALL=C sort -z \
        | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)"
# the hash of the extension's sources alone, as tests/test_native_tags.py computes it (it fails on a stale copy)
native_hash="$(cd "$ROOT" && find native -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum \
        | sha256sum | cut -d' ' -f1)"
NATIVE_STATUS="$VENV/.gr-disac-native-status"
site_dir="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')"
if [[ -x "$VENV/bin/disac" && -f "$INSTALL_STAMP" && "$(cat "$INSTALL_STAMP")" == "$source_hash" \
        && -f "$NATIVE_STATUS" ]]; then
    say "gr-disac: installed in the venv, up to date"
else
    say "gr-disac: CMake build and install into $VENV"
    rm -f "$INSTALL_STAMP"
    build_dir="$(mktemp -d "${TMPDIR:-/tmp}/gr-disac-setup.XXXXXX")"
    trap 'rm -rf "$build_dir"' EXIT
    # remove the previous install first, so a module deleted from the tree does not linger
    rm -rf "$site_dir/gnuradio/disac"
    { cmake -S "$ROOT" -B "$build_dir" -DPYTHON_EXECUTABLE="$VENV/bin/python" -DCMAKE_INSTALL_PREFIX="$VENV" \
        && cmake --build "$build_dir" && cmake --install "$build_dir"; } >"$build_dir/log" 2>&1 \
        || { cat "$build_dir/log" >&2; die "CMake build/install of gr-disac into $VENV failed (log above)"; }
    installed_at="$(cd "$build_dir" && "$VENV/bin/python" -c 'from gnuradio import disac; print(disac.__file__)')" \
        || die "gr-disac installed into $VENV but 'from gnuradio import disac' fails"
    [[ "$installed_at" == "$site_dir/gnuradio/disac/__init__.py" ]] \
        || die "'from gnuradio import disac' resolves to $installed_at, not to the venv's install"
    # the C++ extension: built (then it must import and take GNU Radio's blocks and PMTs), or why not
    native_files=("$site_dir"/gnuradio/disac/_native*.so)
    if [[ -f "${native_files[0]}" ]]; then
        native_check="$(cd "$build_dir" && DISAC_NATIVE=1 "$VENV/bin/python" -c \
            'from gnuradio.disac.blocks import _native_tags as n; print(n.status()); raise SystemExit(not n.use_native)' 2>&1)" \
            || die "the C++ extension gnuradio.disac._native was built but is not used: $native_check"
        echo "built $native_hash" > "$NATIVE_STATUS"
        say "gr-disac: C++ extension built and used ($native_check)"
    else
        reason="$(sed -n 's/.*_native NOT built (\(.*\)): .*/\1/p' "$build_dir/log" | head -n 1)"
        echo "not built: ${reason:-see the CMake configure output}" > "$NATIVE_STATUS"
        say "gr-disac: C++ extension NOT built (${reason:-see the CMake output}): the blocks use the Python path"
    fi
    echo "$source_hash" > "$INSTALL_STAMP"
fi
# the source tree's package (pytest from the checkout, conftest.py) gets the venv's extension and its status
rm -f "$ROOT"/python/disac/_native*.so "$ROOT/python/disac/_native_status.txt"
native_files=("$site_dir"/gnuradio/disac/_native*.so)
if [[ -f "${native_files[0]}" ]]; then
    cp "${native_files[0]}" "$ROOT/python/disac/"
fi
cp "$NATIVE_STATUS" "$ROOT/python/disac/_native_status.txt"

# --- 6. GNU Radio started the usual way finds gr-disac (this user) ---------------------------------
blocks_dir="$VENV/share/gnuradio/grc/blocks"
if ((user_config)); then
    venv_site="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')"
    "$SYSTEM_PYTHON" "$USER_CONFIG_TOOL" install --python-dir "$venv_site" --blocks-dir "$blocks_dir" \
        | sed 's/^/setup: /' || die "could not set up GNU Radio's user configuration (tools/gr_user_config.py)"
    say "ready: $VENV/bin/disac; gnuradio-companion, grcc and python3 find gr-disac (undo: tools/setup.sh --uninstall)"
else
    say "ready: $VENV/bin/disac, GRC blocks in $blocks_dir (--no-user-config: GRC_BLOCKS_PATH needed, see README)"
fi
