#!/usr/bin/python3
# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Make GNU Radio started the usual way (`gnuradio-companion`, `grcc`, `python3 flowgraph.py`) see a
gr-disac install, for the current user ($HOME), without any environment variable.

    gr_user_config.py install --python-dir DIR [--python-dir DIR ...] --blocks-dir DIR
    gr_user_config.py uninstall
    gr_user_config.py status

`install` does two things, both idempotent (a second run changes nothing):
1. GRC's block path: DIR is added to `local_blocks_path` in the [grc] section of
   ~/.gnuradio/config.conf (GNU Radio's per-user preferences; `local_blocks_path` adds to the system's
   block folders, `global_blocks_path` would replace them). The file is edited line by line: every
   other line, comment and setting stays as it was; a path already there is not added twice.
2. The Python side: /usr/bin/python3 (the interpreter of gnuradio-companion, grcc, the flowgraphs
   GRC runs, and of `python3 script.py`) gets the venv's site-packages through one file,
   `gr-disac.pth`, in the user's site-packages (`python3 -m site --user-site`). Its single line runs
   `site.addsitedir(DIR)` only when the interpreter is not itself a virtual environment
   (sys.prefix == sys.base_prefix), so other venvs of the user are left alone, and only for folders
   that exist (a removed venv makes it a no-op). The venv's folders come after the user's own
   site-packages and before /usr/local and Debian's dist-packages: /usr/bin/python3 then resolves
   every package exactly as the venv does.

`uninstall` removes our folders from `local_blocks_path` (other entries stay) and deletes
gr-disac.pth. `status` prints what is in place. Only the standard library is used.
"""
import argparse
import os
import re
import site
import sys

PTH_NAME = "gr-disac.pth"
SECTION = "grc"
OPTION = "local_blocks_path"
# the .pth line (a .pth line starting with "import" is executed by site.py at start-up)
# (map/filter, not a comprehension: site.py exec()s the line, and a comprehension's scope would not
# see the names imported by it)
PTH_TEMPLATE = ("import os, site, sys; sys.prefix == sys.base_prefix and "
                "list(map(site.addsitedir, filter(os.path.isdir, {dirs!r})))\n")
PTH_MARKER = "# written by gr-disac tools/setup.sh (tools/gr_user_config.py); `tools/setup.sh --uninstall` removes it\n"


def config_path():
    return os.path.join(os.path.expanduser("~"), ".gnuradio", "config.conf")


def pth_path():
    return os.path.join(site.getusersitepackages(), PTH_NAME)


_SECTION_RE = re.compile(r"^\s*\[([^\]]+)\]\s*$")
_OPTION_RE = re.compile(r"^(\s*)" + OPTION + r"(\s*[=:]\s*)(.*?)\s*$")


def _split_paths(value):
    return [p for p in value.split(os.pathsep) if p.strip()]


def edit_blocks_path(lines, add=(), remove=()):
    """The lines of a config file with `local_blocks_path` of [grc] given folders added / removed.

    Pure function (list of lines in, list of lines out), every other line kept verbatim."""
    out = []
    in_section = False
    section_seen = option_seen = False
    for line in lines:
        match = _SECTION_RE.match(line)
        if match:
            if in_section and not option_seen and add:  # [grc] ended without the option
                out.append(f"{OPTION} = {os.pathsep.join(add)}\n")
                option_seen = True
            in_section = match.group(1).strip() == SECTION
            section_seen = section_seen or in_section
            out.append(line)
            continue
        option = _OPTION_RE.match(line) if in_section else None
        if option and not option_seen:
            option_seen = True
            paths = [p for p in _split_paths(option.group(3)) if p not in remove]
            paths += [p for p in add if p not in paths]
            out.append(f"{option.group(1)}{OPTION}{option.group(2)}{os.pathsep.join(paths)}\n")
            continue
        out.append(line)
    if add and not option_seen:
        if not section_seen:
            if out and not out[-1].endswith("\n"):
                out[-1] += "\n"
            out.append(f"[{SECTION}]\n")
        out.append(f"{OPTION} = {os.pathsep.join(add)}\n")
    return out


def read_lines(path):
    try:
        with open(path, encoding="utf-8") as f:
            return f.readlines()
    except FileNotFoundError:
        return []


def write_if_changed(path, lines):
    old = read_lines(path)
    if old == lines and os.path.exists(path):
        return False
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.writelines(lines)
    os.replace(tmp, path)
    return True


def read_pth_dirs():
    """The folders the current gr-disac.pth adds ([] if none)."""
    for line in read_lines(pth_path()):
        match = re.search(r"os\.path\.isdir, (\(.*\))\)\)\)$", line.strip())
        if match:
            import ast

            return list(ast.literal_eval(match.group(1)))
    return []


def install(python_dirs, blocks_dir):
    for d in list(python_dirs) + [blocks_dir]:
        if not os.path.isabs(d) or not os.path.isdir(d):
            raise SystemExit(f"gr_user_config: {d!r} is not an existing absolute folder")
    if not site.ENABLE_USER_SITE:
        raise SystemExit("gr_user_config: this Python ignores the user site-packages "
                         "(python -s, PYTHONNOUSERSITE or a different user): cannot add gr-disac.pth")
    # replace our folders of a previous install (another venv location) rather than pile them up
    old_blocks = [d for d in read_pth_blocks_dirs() if d != blocks_dir]
    changed_conf = write_if_changed(config_path(), edit_blocks_path(read_lines(config_path()),
                                                                    add=[blocks_dir], remove=old_blocks))
    pth_lines = [PTH_MARKER, f"# blocks: {blocks_dir}\n", PTH_TEMPLATE.format(dirs=tuple(python_dirs))]
    changed_pth = write_if_changed(pth_path(), pth_lines)
    print(f"GRC block path ({config_path()}): {blocks_dir} " + ("added" if changed_conf else "already there"))
    print(f"Python path ({pth_path()}): {', '.join(python_dirs)} " + ("added" if changed_pth else "already there"))
    replaced = shadowed(python_dirs)
    if replaced:
        print("for /usr/bin/python3 these Debian packages are now the venv's (as inside the venv): "
              + ", ".join(f"{name} {debian} -> {ours}" for name, debian, ours in replaced))


def shadowed(python_dirs, system_dirs=("/usr/local/lib/python3/dist-packages", "/usr/lib/python3/dist-packages")):
    """(name, Debian's version, the added folders' version) of every distribution in both."""
    from importlib import metadata

    def versions(dirs):
        found = {}
        for dist in metadata.distributions(path=list(dirs)):
            name = (dist.metadata["Name"] or "").lower().replace("_", "-")
            found.setdefault(name, dist.version)
        return found

    ours, system = versions(python_dirs), versions(system_dirs)
    return sorted((name, system[name], ours[name]) for name in ours if name in system and name != "pip")


def read_pth_blocks_dirs():
    for line in read_lines(pth_path()):
        if line.startswith("# blocks: "):
            return [line[len("# blocks: "):].strip()]
    return []


def uninstall():
    blocks = read_pth_blocks_dirs()
    if blocks and os.path.exists(config_path()):
        if write_if_changed(config_path(), edit_blocks_path(read_lines(config_path()), remove=blocks)):
            print(f"removed {blocks[0]} from {OPTION} in {config_path()}")
    if os.path.exists(pth_path()):
        os.remove(pth_path())
        print(f"removed {pth_path()}")
    if not blocks:
        print("nothing of gr-disac in the user's GNU Radio configuration")


def status():
    print(f"{pth_path()}: " + (", ".join(read_pth_dirs()) if os.path.exists(pth_path()) else "absent"))
    value = ""
    in_section = False
    for line in read_lines(config_path()):
        match = _SECTION_RE.match(line)
        if match:
            in_section = match.group(1).strip() == SECTION
        elif in_section and _OPTION_RE.match(line):
            value = _OPTION_RE.match(line).group(3)
    print(f"{config_path()} [{SECTION}] {OPTION} = {value}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    p_install = commands.add_parser("install", help="add the block folder and the Python folders")
    p_install.add_argument("--python-dir", action="append", required=True,
                           help="a site-packages folder for /usr/bin/python3 (repeatable)")
    p_install.add_argument("--blocks-dir", required=True, help="a folder of GRC block YAML")
    commands.add_parser("uninstall", help="undo install")
    commands.add_parser("status", help="show what is in place")
    args = parser.parse_args(argv)
    if args.command == "install":
        install([os.path.abspath(d) for d in args.python_dir], os.path.abspath(args.blocks_dir))
    elif args.command == "uninstall":
        uninstall()
    else:
        status()


if __name__ == "__main__":
    sys.exit(main())
