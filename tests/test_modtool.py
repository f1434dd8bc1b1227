# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""`gr_modtool add` on a copy of the module leaves a module that builds, installs and imports (issue 12).

On a copy of this checkout (no .venv, build trees or caches), Debian's gr_modtool adds a Python sync
block the non-interactive way a developer would:

    gr_modtool add -t sync -l python x --argument-list '' --add-python-qa \
        --license-file tools/license-header.txt --yes

The test then checks what gr_modtool edited (each edit where GNU Radio's template has it): x.py in
the FILES of the package's own GR_PYTHON_INSTALL (not in the sub-packages'), no GR_ADD_TEST line of its
own (the package's qa glob already runs qa_x.py), its import inside the package's import section
(lazy, so the core stays free of GNU Radio), grc/CMakeLists.txt untouched (its glob installs the new
YAML). It fills in the template's placeholders as the developer must (<+numpy.float32+> in x.py is
not Python, the placeholder parameter in disac_x.block.yml not YAML), configures, builds and installs into a temporary prefix with CMake, runs the new qa
file and the package's own qa (which checks that the core does not load GNU Radio) through ctest, and
from outside the tree imports the new block and every existing one from the install, and loads the
new block's YAML in GRC.
"""
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SOURCE_DIR = Path(__file__).resolve().parents[1]
TIMEOUT_S = 300  # a bound for a hung step only, on a loaded 2-core machine
# what the copy leaves out: made by setup, the tests and the build (see .gitignore)
TOP_LEVEL_IGNORED = {".git", ".venv", "build", "out", "figures", "demo-out"}
IGNORED_ANYWHERE = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", ".hypothesis", "build-*")


def run(args, cwd, env=None):
    result = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=TIMEOUT_S)
    if result.returncode != 0:
        raise AssertionError(f"{args} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def ignore(directory, names):
    ignored = set(IGNORED_ANYWHERE(directory, names))
    if Path(directory) == SOURCE_DIR:
        ignored |= TOP_LEVEL_IGNORED & set(names)
    return ignored


@pytest.fixture(scope="module")
def module_copy(tmp_path_factory):
    """(copy, output of gr_modtool): the checkout copied and a block `x` added by gr_modtool."""
    gr_modtool = shutil.which("gr_modtool")
    assert gr_modtool, "gr_modtool not found: it comes with Debian's gnuradio-dev (tools/setup.sh installs it)"
    copy = tmp_path_factory.mktemp("module") / "gr-disac"
    shutil.copytree(SOURCE_DIR, copy, ignore=ignore)
    result = run([gr_modtool, "add", "-t", "sync", "-l", "python", "x", "--argument-list", "",
                  "--add-python-qa", "--license-file", copy / "tools" / "license-header.txt", "--scm-mode", "no",
                  "--yes"], cwd=copy)
    return copy, result.stdout + result.stderr


def test_gr_modtool_edits_the_build_files_where_gnu_radio_has_them(module_copy):
    copy, output = module_copy
    assert "python/disac/x.py" in output and "grc/disac_x.block.yml" in output, output
    cmake = (copy / "python" / "disac" / "CMakeLists.txt").read_text()
    original = (SOURCE_DIR / "python" / "disac" / "CMakeLists.txt").read_text()
    # the package's own install list (the first GR_PYTHON_INSTALL) got x.py, nothing else changed
    first_install = re.search(r"GR_PYTHON_INSTALL\(([^()]*)\)", cmake).group(1)
    assert re.search(r"\sx\.py\s", first_install), first_install
    assert first_install.rstrip().endswith("DESTINATION ${GR_PYTHON_DIR}/gnuradio/disac")
    assert cmake.count("x.py") == 1
    assert cmake.count("GR_ADD_TEST") == original.count("GR_ADD_TEST")  # the qa glob runs qa_x.py
    assert (copy / "grc" / "CMakeLists.txt").read_text() == (SOURCE_DIR / "grc" / "CMakeLists.txt").read_text()
    init = (copy / "python" / "disac" / "__init__.py").read_text()
    assert init.count("from .x import x") == 1
    section = init.index("_GR_MODTOOL_IMPORTS = \"\"\"")
    assert section < init.index("from .x import x") < init.index("\"\"\"", section + 25) < init.index("def __getattr__")
    yml = (copy / "grc" / "disac_x.block.yml").read_text()
    assert "imports: from gnuradio import disac" in yml, "gr_modtool did not see a 3.10 module"
    qa = (copy / "python" / "disac" / "qa_x.py").read_text()
    assert "from gnuradio.disac import x" in qa
    # the short licence header of tools/license-header.txt, which tools/spdx.py --check accepts
    checked = subprocess.run([sys.executable, copy / "tools" / "spdx.py", "--root", copy, "--check",
                              "python/disac/x.py", "python/disac/qa_x.py"], cwd=copy, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout


@pytest.fixture(scope="module")
def installed(module_copy, tmp_path_factory):
    copy, _ = module_copy
    block = copy / "python" / "disac" / "x.py"
    block.write_text(block.read_text().replace("<+numpy.float32+>", "numpy.float32"))  # the developer's part
    # the template's YAML is not YAML until its placeholder parameter ("label: FIX ME:") is filled in
    yml = copy / "grc" / "disac_x.block.yml"
    placeholder = re.compile(r"^parameters:\n- id: parametername_replace_me\n(  .*\n)+", re.MULTILINE)
    assert placeholder.search(yml.read_text()), yml.read_text()
    yml.write_text(placeholder.sub("parameters: []\n", yml.read_text()))
    build_dir = tmp_path_factory.mktemp("build")
    prefix = tmp_path_factory.mktemp("prefix")
    run(["cmake", "-S", copy, "-B", build_dir, f"-DPYTHON_EXECUTABLE={sys.executable}",
         f"-DCMAKE_INSTALL_PREFIX={prefix}"], cwd=build_dir)
    run(["cmake", "--build", build_dir], cwd=build_dir)
    run(["cmake", "--install", build_dir], cwd=build_dir)
    return build_dir, prefix


def test_ctest_runs_the_new_qa_and_the_package_qa(installed):
    build_dir, _ = installed
    result = run(["ctest", "--output-on-failure", "-R", "^qa_(x|package)$"], cwd=build_dir)
    assert "100% tests passed, 0 tests failed out of 2" in result.stdout, result.stdout


PROBE = """
import json, sys
from gnuradio import disac
names = sorted(disac._BLOCKS)
blocks = {name: getattr(disac, name).__module__ for name in names}
print(json.dumps({"file": disac.__file__, "blocks": blocks, "x_in_sig": [str(t) for t in disac.x().in_sig()]}))
"""

GRC_PROBE = """
import json
from gnuradio import gr
from gnuradio.grc.core.platform import Platform
platform = Platform(version=gr.version(), prefs=gr.prefs(),
                    version_parts=(gr.major_version(), gr.api_version(), gr.minor_version()))
platform.build_library()
print(json.dumps(sorted(key for key in platform.blocks if key.startswith("disac_"))))
"""


def test_the_install_imports_the_new_block_and_the_existing_ones(installed, tmp_path):
    _, prefix = installed
    inits = sorted(prefix.glob("lib/python3*/*-packages/gnuradio/disac/__init__.py"))
    assert len(inits) == 1, inits
    site_dir = inits[0].parents[2]
    # the new module is installed once, in the package itself (not in blocks/, core/, apps/, ...)
    assert [p.relative_to(site_dir) for p in prefix.rglob("x.py")] == [Path("gnuradio/disac/x.py")]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "GRC_BLOCKS_PATH")}
    env["PYTHONPATH"] = str(site_dir)
    report = json.loads(run([sys.executable, "-c", PROBE], cwd=tmp_path, env=env).stdout.splitlines()[-1])
    assert Path(report["file"]) == site_dir / "gnuradio" / "disac" / "__init__.py"
    assert report["blocks"]["x"] == "gnuradio.disac.x"
    assert report["x_in_sig"] == ["float32"]  # the filled-in template: one float32 input
    import gnuradio.disac

    for name in gnuradio.disac._BLOCKS:  # every block of this checkout still resolves in the new install
        assert report["blocks"][name] == f"gnuradio.disac.{gnuradio.disac._BLOCKS[name]}"
    blocks_dir = prefix / "share" / "gnuradio" / "grc" / "blocks"
    env["GRC_BLOCKS_PATH"] = str(blocks_dir)
    grc_blocks = json.loads(run([sys.executable, "-c", GRC_PROBE], cwd=tmp_path, env=env).stdout.splitlines()[-1])
    expected = {p.name[:-len(".block.yml")] for p in blocks_dir.glob("*.block.yml")}
    assert "disac_x" in expected
    assert expected <= set(grc_blocks), sorted(expected - set(grc_blocks))
