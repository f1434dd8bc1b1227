#!/usr/bin/env python3
# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Licence headers (SPDX) on every source file of gr-disac; idempotent.

    tools/spdx.py            # add the header where it is missing (tracked files of the checkout)
    tools/spdx.py --check    # list the files without it; exit status 1 if any
    tools/spdx.py --list     # the files this tool looks at
    tools/spdx.py [--check] PATH ...   # only these files

The header, in the file's comment syntax (all the file types here use `#`), as GNU Radio's own files
carry it:

    # Copyright <year> The gr-disac authors
    # SPDX-License-Identifier: GPL-3.0-or-later

It goes at the top, after a `#!` line and a PEP 263 `# -*- coding` line where there is one (both must
stay first), so a Python module's docstring stays its first statement and a script stays runnable.
A file that already names an SPDX licence in its first lines is left alone (a different licence
than GPL-3.0-or-later is reported by --check, never rewritten).

Files: Python (.py, and scripts whose `#!` names python), shell (.sh, `#!` sh/bash), CMake
(CMakeLists.txt, .cmake, .cmake.in), YAML (.yml, .yaml: the GRC block definitions and the tree),
CITATION.cff, TOML (the scenarios), requirements*.txt. Not the .grc flowgraphs: GRC rewrites the whole
file on every save and would drop the header, so they are covered by LICENSE; neither Markdown nor
data files (JSON, images). The file list is `git ls-files` (tracked files), or, outside a git
checkout, every file under the root except build trees, venvs and caches. The test inputs of
tests/scenarios/ are left out: the tests pin their text (a TOML error's line number).
"""
import argparse
import datetime
import os
import re
import subprocess
import sys

LICENSE_ID = "GPL-3.0-or-later"
HOLDER = "The gr-disac authors"
# a comment line naming the licence (a mention in a docstring does not count)
SPDX_RE = re.compile(r"^\s*#\s*SPDX-License-Identifier:\s*([A-Za-z0-9.+-]+(?:\s+(?:OR|AND|WITH)\s+[A-Za-z0-9.+-]+)*)")
HEAD_LINES = 15  # the SPDX line must be within the first lines (after a shebang/coding line)
CODING_RE = re.compile(r"^[ \t\f]*#.*?coding[:=][ \t]*[-\w.]+")  # PEP 263
SUFFIXES = (".py", ".sh", ".cmake", ".cmake.in", ".yml", ".yaml", ".cff", ".toml")
# test inputs whose exact text the tests pin (e.g. the line number in a TOML error message)
EXCLUDED_PREFIXES = ("tests/scenarios/",)
SKIPPED_DIRS = {".git", ".venv", "build", "__pycache__", ".pytest_cache", ".hypothesis", "demo-out", "out"}


def is_source(path, rel=""):
    if rel.replace(os.sep, "/").startswith(EXCLUDED_PREFIXES):
        return False
    name = os.path.basename(path)
    if name == "CMakeLists.txt" or name.endswith(SUFFIXES):
        return True
    if re.fullmatch(r"requirements(-[\w-]+)?\.txt", name):
        return True
    if "." in name:
        return False
    try:
        with open(path, "rb") as f:
            first = f.readline(200)
    except OSError:
        return False
    return first.startswith(b"#!") and re.search(rb"python|\bsh\b|bash", first) is not None


def tracked_files(root):
    """Files of the checkout at root: git's tracked files, or a walk when root is not a git checkout."""
    try:
        out = subprocess.run(["git", "-C", root, "ls-files", "-z"], capture_output=True, check=True).stdout
        return sorted(p for p in out.decode().split("\0") if p and os.path.isfile(os.path.join(root, p)))
    except (OSError, subprocess.CalledProcessError):
        files = []
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if d not in SKIPPED_DIRS and not d.startswith("build-")]
            files += [os.path.relpath(os.path.join(dirpath, f), root) for f in filenames]
        return sorted(files)


def header(year, holder=HOLDER):
    return [f"# Copyright {year} {holder}\n", f"# SPDX-License-Identifier: {LICENSE_ID}\n"]


def preamble_length(lines):
    """How many leading lines must stay first: a shebang, then a coding declaration (line 1 or 2)."""
    n = 0
    if lines and lines[0].startswith("#!"):
        n = 1
    if len(lines) > n and n < 2 and CODING_RE.match(lines[n]):
        n += 1
    return n


def licence_of(lines):
    for line in lines[:HEAD_LINES]:
        match = SPDX_RE.search(line)
        if match:
            return match.group(1)
    return None


def with_header(text, year):
    """The text with the header added (unchanged if it already names an SPDX licence)."""
    lines = text.splitlines(keepends=True)
    if licence_of(lines) is not None:
        return text
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    n = preamble_length(lines)
    return "".join(lines[:n] + header(year) + lines[n:])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", help="files to treat (default: every source file of the checkout)")
    parser.add_argument("--root", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        help="the checkout (default: the one holding this tool)")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file lacks the header")
    parser.add_argument("--list", action="store_true", help="print the files considered and exit")
    parser.add_argument("--year", type=int, default=datetime.date.today().year, help="for new headers")
    args = parser.parse_args(argv)

    root = os.path.abspath(args.root)
    if args.paths:
        files = [os.path.relpath(os.path.abspath(p), root) for p in args.paths]
    else:
        files = [p for p in tracked_files(root) if is_source(os.path.join(root, p), p)]
    if args.list:
        print("\n".join(files))
        return 0
    missing, foreign, changed = [], [], []
    for rel in files:
        path = os.path.join(root, rel)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        licence = licence_of(text.splitlines())
        if licence is None:
            missing.append(rel)
            if not args.check:
                mode = os.stat(path).st_mode
                with open(path, "w", encoding="utf-8") as f:
                    f.write(with_header(text, args.year))
                os.chmod(path, mode)
                changed.append(rel)
        elif licence != LICENSE_ID:
            foreign.append(f"{rel} ({licence})")
    if args.check:
        for rel in missing:
            print(f"no SPDX-License-Identifier: {rel}")
        for item in foreign:
            print(f"another licence than {LICENSE_ID}: {item}")
        print(f"spdx: {len(files) - len(missing) - len(foreign)} of {len(files)} files carry "
              f"SPDX-License-Identifier: {LICENSE_ID}" + ("" if not missing else "; run tools/spdx.py to add it"))
        return 1 if missing or foreign else 0
    for item in foreign:
        print(f"left alone, another licence: {item}")
    print(f"spdx: header added to {len(changed)} files, {len(files) - len(changed)} already had one")
    return 0


if __name__ == "__main__":
    sys.exit(main())
