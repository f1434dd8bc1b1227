# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Licensing of the module (issue 12, item 4): GPL-3.0-or-later, as GNU Radio.

- LICENSE is the full GPL version 3 text (as Debian ships it in /usr/share/common-licenses/GPL-3);
- every source file of the checkout carries `SPDX-License-Identifier: GPL-3.0-or-later` in its first
  lines (`tools/spdx.py --check`; `tools/spdx.py` adds the missing headers);
- tools/spdx.py itself, on scratch files: the header lands after a shebang and a coding line, a
  Python module keeps its docstring, YAML and TOML still parse to the same data, a second run changes
  nothing, --check fails before and passes after, and a file under another licence is left alone.
- CITATION.cff and MANIFEST.md name the same licence.
"""
import ast
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

SOURCE_DIR = Path(__file__).resolve().parents[1]
SPDX = SOURCE_DIR / "tools" / "spdx.py"
ID = "SPDX-License-Identifier: GPL-3.0-or-later"


def spdx(*args, cwd=SOURCE_DIR):
    return subprocess.run([sys.executable, str(SPDX), *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def test_license_is_the_full_gpl3_text():
    text = (SOURCE_DIR / "LICENSE").read_text()
    assert text.startswith("                    GNU GENERAL PUBLIC LICENSE\n                       Version 3, 29 June 2007")
    assert "END OF TERMS AND CONDITIONS" in text and "How to Apply These Terms to Your New Programs" in text
    debian = Path("/usr/share/common-licenses/GPL-3")
    if debian.exists():  # the reference copy on Debian
        assert text == debian.read_text()


def test_citation_and_manifest_name_the_licence():
    citation = yaml.safe_load((SOURCE_DIR / "CITATION.cff").read_text())
    assert citation["license"] == "GPL-3.0-or-later"
    manifest = (SOURCE_DIR / "MANIFEST.md").read_text().split("\n---\n")[0]
    assert yaml.safe_load(manifest)["license"] == "GPL-3.0-or-later"


def test_every_source_file_carries_the_spdx_header():
    # Fails until the integrator has run tools/spdx.py on the merged tree (see CHANGELOG).
    result = spdx("--check")
    assert result.returncode == 0, result.stdout + result.stderr
    listed = spdx("--list").stdout.split()
    for expected in ("CMakeLists.txt", "tools/setup.sh", "apps/disac", "python/disac/__init__.py", "CITATION.cff"):
        assert expected in listed, f"{expected} is not checked by tools/spdx.py"


SCRATCH = {
    "script.py": '#!/usr/bin/env python3\n# -*- coding: utf-8 -*-\n"""Doc of the script."""\nprint("hi")\n',
    "module.py": '"""Doc of the module."""\nVALUE = 1\n',
    "empty/__init__.py": "",
    "run.sh": "#!/usr/bin/env bash\nset -e\necho hi\n",
    "launcher": "#!/usr/bin/env python3\nimport sys\n",
    "CMakeLists.txt": "cmake_minimum_required(VERSION 3.16)\nproject(x LANGUAGES NONE)",
    "block.block.yml": "id: disac_x\nlabel: X\ncategory: '[D-ISAC]'\n",
    "scenario.toml": "[scenario]\nname = \"paper\"\n",
    "other.py": "# SPDX-License-Identifier: MIT\nX = 2\n",
    "notes.md": "# Title\n",
    "flowgraph.grc": "options:\n  parameters: {}\n",
}


def test_the_tool_on_scratch_files(tmp_path):
    for name, text in SCRATCH.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    os.chmod(tmp_path / "run.sh", 0o755)
    before = spdx("--root", tmp_path, "--check")
    assert before.returncode == 1
    assert "no SPDX-License-Identifier: script.py" in before.stdout
    assert "another licence than GPL-3.0-or-later: other.py (MIT)" in before.stdout
    assert sorted(spdx("--root", tmp_path, "--list").stdout.split()) == sorted(
        n for n in SCRATCH if not n.endswith((".md", ".grc")))

    assert spdx("--root", tmp_path, "--year", "2026").returncode == 0
    after = {name: (tmp_path / name).read_text() for name in SCRATCH}
    header = f"# Copyright 2026 The gr-disac authors\n# {ID}\n"
    assert after["script.py"] == ('#!/usr/bin/env python3\n# -*- coding: utf-8 -*-\n' + header
                                  + '"""Doc of the script."""\nprint("hi")\n')
    assert ast.get_docstring(ast.parse(after["module.py"])) == "Doc of the module."
    assert after["run.sh"].startswith("#!/usr/bin/env bash\n" + header)
    assert os.access(tmp_path / "run.sh", os.X_OK)
    assert after["launcher"].startswith("#!/usr/bin/env python3\n" + header)
    assert after["empty/__init__.py"] == header
    assert after["CMakeLists.txt"] == header + SCRATCH["CMakeLists.txt"] + "\n"
    assert yaml.safe_load(after["block.block.yml"]) == yaml.safe_load(SCRATCH["block.block.yml"])
    assert tomllib.loads(after["scenario.toml"]) == tomllib.loads(SCRATCH["scenario.toml"])
    for untouched in ("other.py", "notes.md", "flowgraph.grc"):
        assert after[untouched] == SCRATCH[untouched]

    assert spdx("--root", tmp_path).returncode == 0  # idempotent: a second run changes nothing
    assert {name: (tmp_path / name).read_text() for name in SCRATCH} == after
    (tmp_path / "other.py").unlink()
    checked = spdx("--root", tmp_path, "--check")
    assert checked.returncode == 0, checked.stdout
