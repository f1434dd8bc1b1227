# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""The CMake install of gr-disac, checked from outside the source tree (issue 2, "Done when").

One module-scoped fixture configures, builds and installs this checkout into a temporary prefix, the
way a user installs into the venv (`cmake -DCMAKE_INSTALL_PREFIX=...`), with the interpreter running
these tests as PYTHON_EXECUTABLE. The tests then check, in processes started in a temporary folder
with nothing of the source tree on their path:
- every module of python/disac (the qa_ tests aside) and every grc/*.yml is installed where GNU Radio
  expects it (site-packages/gnuradio/disac and share/gnuradio/grc/blocks);
- `from gnuradio import disac` works and resolves to the installed copy;
- the installed `disac` command answers `--help` with every subcommand and `scenario show paper`
  with the scenario the core resolves;
- GRC, pointed at the prefix by GRC_BLOCKS_PATH (the README's "block key not found" fix), searches
  the installed YAML and files every gr-disac block under the [D-ISAC] category.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from gnuradio.disac.apps.cli import build_parser, json_ready
from gnuradio.disac.core.scenario import load_scenario

SOURCE_DIR = Path(__file__).resolve().parents[1]
TIMEOUT_S = 300  # generous bound for a configure/build or a GRC library scan on a loaded 2-core machine


def run(args, cwd, env=None, check=True):
    result = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=TIMEOUT_S)
    if check and result.returncode != 0:
        raise AssertionError(f"{args} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """CMake configure + build + install into a fresh prefix; returns (prefix, site_dir, outside_cwd)."""
    build_dir = tmp_path_factory.mktemp("build")
    prefix = tmp_path_factory.mktemp("prefix")
    run(["cmake", "-S", SOURCE_DIR, "-B", build_dir, f"-DPYTHON_EXECUTABLE={sys.executable}",
         f"-DCMAKE_INSTALL_PREFIX={prefix}"], cwd=build_dir)
    run(["cmake", "--build", build_dir], cwd=build_dir)
    run(["cmake", "--install", build_dir], cwd=build_dir)
    inits = sorted(prefix.glob("lib/python3*/*-packages/gnuradio/disac/__init__.py"))
    assert len(inits) == 1, f"expected one installed gnuradio/disac/__init__.py under {prefix}, found {inits}"
    site_dir = inits[0].parents[2]
    return prefix, site_dir, tmp_path_factory.mktemp("outside")


def outside_env(site_dir, **extra):
    """The environment of a user who put only the prefix's site-packages on PYTHONPATH."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PYTHONPATH"] = str(site_dir)
    # and no GRC block folder from the user's ~/.gnuradio/config.conf (tools/setup.sh adds the venv's)
    env["GR_CONF_GRC_LOCAL_BLOCKS_PATH"] = ""
    env.update(extra)
    return env


def test_every_module_and_yaml_is_installed(installed):
    prefix, site_dir, _ = installed
    package = SOURCE_DIR / "python" / "disac"
    expected = {p.relative_to(package) for p in package.rglob("*.py")
                if not p.name.startswith("qa_") and "__pycache__" not in p.parts}
    got = {p.relative_to(site_dir / "gnuradio" / "disac") for p in (site_dir / "gnuradio" / "disac").rglob("*.py")}
    assert expected, "python/disac has no module"
    assert got == expected
    yml_expected = sorted(p.name for p in (SOURCE_DIR / "grc").glob("*.yml"))
    assert "disac.tree.yml" in yml_expected
    blocks_dir = prefix / "share" / "gnuradio" / "grc" / "blocks"
    assert sorted(p.name for p in blocks_dir.glob("*.yml")) == yml_expected
    assert os.access(prefix / "bin" / "disac", os.X_OK)


def test_import_from_outside_the_tree_uses_the_installed_copy(installed):
    _, site_dir, cwd = installed
    probe = "from gnuradio import disac; print(disac.__file__); print(disac.__version__)"
    out = run([sys.executable, "-c", probe], cwd=cwd, env=outside_env(site_dir)).stdout.split()
    assert Path(out[0]) == site_dir / "gnuradio" / "disac" / "__init__.py"
    import gnuradio.disac

    assert out[1] == gnuradio.disac.__version__


def test_installed_command_help_lists_every_subcommand(installed):
    prefix, site_dir, cwd = installed
    result = run([prefix / "bin" / "disac", "--help"], cwd=cwd, env=outside_env(site_dir))
    assert result.stdout.startswith("usage: disac")
    subparsers = next(a for a in build_parser()._actions if a.dest == "command")
    assert subparsers.choices, "the disac command has no subcommand"
    for name in subparsers.choices:
        assert f"\n    {name}" in result.stdout, f"subcommand {name!r} missing from --help"


def test_installed_command_shows_the_paper_scenario(installed):
    prefix, site_dir, cwd = installed
    disac = prefix / "bin" / "disac"
    scenario = load_scenario("paper")
    text = run([disac, "scenario", "show", "paper"], cwd=cwd, env=outside_env(site_dir))
    assert text.stdout.startswith("scenario paper:")
    assert "Traceback" not in text.stderr
    warnings = [line for line in text.stderr.splitlines() if line.startswith("disac: warning:")]
    assert len(warnings) == len(scenario.warnings)
    # the JSON view must be the core's own summary: same code and inputs, so equal after JSON
    # round-trip (Python writes floats with repr, which reads back exactly)
    shown = json.loads(run([disac, "scenario", "show", "paper", "--json"], cwd=cwd,
                           env=outside_env(site_dir)).stdout)
    assert shown == json.loads(json.dumps(json_ready(scenario.summary())))


GRC_PROBE = """
import json
from gnuradio import gr
from gnuradio.grc.core.platform import Platform

platform = Platform(version=gr.version(), prefs=gr.prefs(),
                    version_parts=(gr.major_version(), gr.api_version(), gr.minor_version()))
platform.build_library()
print(json.dumps({"paths": platform.config.block_paths,
                  "categories": {key: block.category for key, block in platform.blocks.items()},
                  "has_options": "options" in platform.blocks}))
"""


def test_grc_finds_the_installed_blocks(installed):
    prefix, site_dir, cwd = installed
    blocks_dir = prefix / "share" / "gnuradio" / "grc" / "blocks"
    tree = yaml.safe_load((blocks_dir / "disac.tree.yml").read_text())
    assert list(tree) == ["[D-ISAC]"]
    tree_ids = set()

    def collect(entries):
        for entry in entries or []:
            if isinstance(entry, str):
                tree_ids.add(entry)
            else:
                collect(next(iter(entry.values())))

    collect(tree["[D-ISAC]"])
    block_ids = {yaml.safe_load(p.read_text())["id"] for p in blocks_dir.glob("*.block.yml")}
    assert tree_ids <= block_ids, f"the tree lists blocks with no YAML: {sorted(tree_ids - block_ids)}"

    env = outside_env(site_dir, GRC_BLOCKS_PATH=str(blocks_dir), QT_QPA_PLATFORM="offscreen")
    report = json.loads(run([sys.executable, "-c", GRC_PROBE], cwd=cwd, env=env).stdout.splitlines()[-1])
    assert str(blocks_dir) in report["paths"]
    assert report["has_options"], "GRC lost its own blocks"
    for block_id in block_ids:
        assert block_id in report["categories"], f"GRC did not load block {block_id}"
        assert report["categories"][block_id][0] == "D-ISAC", (block_id, report["categories"][block_id])
