# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""The `disac` command as a user runs it: a separate process, its exit code, stdout and stderr.

How the subprocess finds this checkout: `python -c WRAPPER ARGS…`, where WRAPPER does what the
root conftest.py does (put the source tree's python/ first on gnuradio.__path__, so that
`gnuradio.disac` is python/disac even when another gr-disac is installed) and then runs the module
exactly as `python -m gnuradio.disac.apps.cli ARGS…` would (runpy.run_module with
run_name="__main__" and alter_sys=True). A PYTHONPATH directory with a gnuradio/disac symlink was
not used: gnuradio/__init__.py appends such directories after its own folder (pkgutil.extend_path),
so a gr-disac installed next to GNU Radio would shadow the source tree. The launcher apps/disac is
run the same way (runpy.run_path). Every subprocess gets a timeout so a hang fails instead of
blocking the run.

What is checked: `--help`; `scenario list`; `scenario show paper` in text, --json and --toml with
the derived quantities recomputed here with numpy; and that bad input (missing file, directory,
invalid TOML, unknown key, unknown preset, an echo beyond the cyclic prefix) ends with exit code 2,
one `disac: error: …` line on stderr that names the problem, nothing on stdout and no traceback.
"""

import json
import math
import os
import subprocess
import sys
import tomllib

import numpy as np
import pytest

from gnuradio.disac.core.scenario import PRESETS, load_scenario

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE_PYTHON = os.path.join(ROOT, "python")
FIXTURES = os.path.join(ROOT, "tests", "scenarios")
C_M_S = 299_792_458.0

_PREAMBLE = (
    "import runpy, sys, gnuradio; "
    f"gnuradio.__path__.insert(0, {SOURCE_PYTHON!r}); "
)
RUN_MODULE = _PREAMBLE + "runpy.run_module('gnuradio.disac.apps.cli', run_name='__main__', alter_sys=True)"
RUN_LAUNCHER = _PREAMBLE + f"sys.argv[0] = 'disac'; runpy.run_path({os.path.join(ROOT, 'apps', 'disac')!r}, run_name='__main__')"


def disac(*args, wrapper=RUN_MODULE):
    """Run `disac ARGS…` in a fresh interpreter; returns the CompletedProcess (text mode)."""
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    return subprocess.run([sys.executable, "-c", wrapper, *args], capture_output=True, text=True,
                          encoding="utf-8", env=env, cwd=ROOT, timeout=60)


def assert_one_line_error(result, *fragments):
    assert result.returncode == 2, result
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("disac: error: ")
    for fragment in fragments:
        assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"


# ---- the wrapper really runs this checkout ---------------------------------------------------

def test_subprocess_uses_the_source_tree():
    probe = _PREAMBLE + "import gnuradio.disac as d; print(d.__file__)"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == os.path.join(SOURCE_PYTHON, "disac", "__init__.py")


# ---- help ------------------------------------------------------------------------------------

@pytest.mark.parametrize("wrapper", [RUN_MODULE, RUN_LAUNCHER], ids=["module", "launcher"])
def test_help(wrapper):
    result = disac("--help", wrapper=wrapper)
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout.startswith("usage: disac")
    assert "scenario" in result.stdout


def test_scenario_show_help_lists_the_presets():
    result = disac("scenario", "show", "--help")
    assert result.returncode == 0
    for name in PRESETS:
        assert name in result.stdout
    assert "--json" in result.stdout and "--toml" in result.stdout


def test_scenario_list():
    result = disac("scenario", "list")
    assert result.returncode == 0 and result.stderr == ""
    listed = [line.split()[0] for line in result.stdout.splitlines()]
    assert listed == list(PRESETS)


# ---- scenario show paper ---------------------------------------------------------------------

def _paper_geometry():
    p = np.array([[-141.4, 141.4], [-141.4, -141.4]])
    q = np.array([[-65.0, 25.0], [50.0, 5.0]])
    u = np.array([[-160.0, -40.0], [150.0, -25.0], [0.0, -150.0]])
    theta_deg = np.degrees(np.arctan2(q[None, :, 1] - p[:, None, 1], q[None, :, 0] - p[:, None, 0]))
    tau_s = np.linalg.norm(q[None] - p[:, None], axis=-1) / C_M_S
    phi_deg = np.degrees(np.arctan2(u[None, :, 1] - p[:, None, 1], u[None, :, 0] - p[:, None, 0]))
    return theta_deg, tau_s, phi_deg


def test_show_paper_text():
    result = disac("scenario", "show", "paper")
    assert result.returncode == 0
    out = result.stdout
    theta_deg, tau_s, phi_deg = _paper_geometry()
    for n in range(2):
        for k in range(2):  # angle and one-way delay of every target from every node
            assert f"node {n + 1}: {theta_deg[n, k]:.2f}° {tau_s[n, k] * 1e6:.4f} µs" in out
        for u in range(3):
            assert f"node {n + 1}: {phi_deg[n, u]:.2f}°" in out
    assert f"β = {math.sqrt(1 / 8):.6g} (target SNR 0.00 dB)" in out
    assert "σ_c² = 0.01 (P_T/σ_c² = 20.00 dB)" in out
    longest_s = 2 * tau_s[1, 1]  # target 2, node 2 → node 2
    assert (f"longest echo: target 2, node 2 → node 2, {longest_s * 1e6:.4f} µs = "
            f"{longest_s * 10e6:.2f} samples (CP 20)") in out
    assert "L/B = 1.600 µs" in out and "CP = 20 samples (2.000 µs)" in out
    # issue 12: the echo past L/B is the paper's set-up by design, nothing the user can act on in a
    # preset: a note in the text (stdout), no warning on stderr
    assert "  note: the echo of target 2, node 2 → node 2 arrives after 1.608 µs" in out
    assert result.stderr == ""


def test_show_paper_json():
    result = disac("scenario", "show", "paper", "--json")
    assert result.returncode == 0
    summary = json.loads(result.stdout)
    theta_deg, tau_s, phi_deg = _paper_geometry()
    d = summary["derived"]
    # JSON carries repr-exact floats; 1e-12 relative covers a different summation order
    np.testing.assert_allclose(d["target_angles_deg"], theta_deg, rtol=1e-12)
    np.testing.assert_allclose(d["target_delays_s"], tau_s, rtol=1e-12)
    np.testing.assert_allclose(d["user_angles_deg"], phi_deg, rtol=1e-12)
    assert d["longest_bistatic_link"] == "target 2, node 2 → node 2"
    assert d["longest_bistatic_delay_s"] == pytest.approx(2 * tau_s[1, 1], rel=1e-12)
    assert d["cyclic_prefix_s"] == pytest.approx(2e-6, rel=1e-12)
    assert d["unambiguous_delay_s"] == pytest.approx(1.6e-6, rel=1e-12)
    assert summary["targets"]["amplitude"] == pytest.approx(math.sqrt(1 / 8), rel=1e-12)
    assert summary["users"]["noise_power"] == pytest.approx(0.01, rel=1e-12)
    assert summary["warnings"] == []  # issue 12: a preset's echo past L/B is a note, not a warning
    assert len(summary["notes"]) == 1 and "target 2, node 2 → node 2" in summary["notes"][0]


def test_show_toml_reads_back_to_the_preset(tmp_path):
    result = disac("scenario", "show", "paper", "--toml")
    assert result.returncode == 0
    tomllib.loads(result.stdout)  # valid TOML
    path = tmp_path / "paper.toml"
    path.write_text(result.stdout, encoding="utf-8")
    again, paper = load_scenario(str(path)), load_scenario("paper")
    assert again.summary() == paper.summary()


def test_show_a_file():
    result = disac("scenario", "show", os.path.join(FIXTURES, "full.toml"))
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout.startswith("scenario full-fixture: N = 3 nodes, K = 3 targets, U = 2 users")


# ---- bad input: exit 2, one line, no traceback -----------------------------------------------

def test_missing_file():
    path = os.path.join(FIXTURES, "no-such-file.toml")
    assert_one_line_error(disac("scenario", "show", path), repr(path), "cannot be read", "No such file")


def test_directory_as_file(tmp_path):
    assert_one_line_error(disac("scenario", "show", str(tmp_path)), "cannot be read", "Is a directory")


def test_invalid_toml():
    assert_one_line_error(disac("scenario", "show", os.path.join(FIXTURES, "bad_syntax.toml")),
                          "bad_syntax.toml", "not valid TOML", "line 4")


def test_unknown_key():
    assert_one_line_error(disac("scenario", "show", os.path.join(FIXTURES, "bad_unknown_key.toml")),
                          "nodes.tx_antenna = 6: unknown key", "accepted in [nodes]:", "tx_antennas")


def test_unknown_preset():
    assert_one_line_error(disac("scenario", "show", "fig6", "--json"),
                          "'fig6'", "unknown preset name", "accepted: " + ", ".join(sorted(PRESETS)))


def test_echo_beyond_cyclic_prefix():
    assert_one_line_error(disac("scenario", "show", os.path.join(FIXTURES, "bad_cyclic_prefix.toml")),
                          "ofdm.cyclic_prefix = 16", "target 2, node 2 → node 2", "16.08 samples",
                          "at least 17 samples")


def test_localize_refuses_a_moving_scene_and_names_disac_track():
    """`disac localize` scores every frame against the t = 0 targets and their CRB: on a scene that moves it would
    report a meaningless MSE, so it refuses it in one line, naming the keys and the command that takes it."""
    result = disac("localize", os.path.join(ROOT, "examples", "scenarios", "moving-targets.toml"), "--trials", "2",
                   "--snr-db", "0")
    assert_one_line_error(result, "moving-targets", "velocities_mps", "disac track")
