# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""docs/blocks.md documents every GRC block of grc/: its section, and in it every parameter and message port."""

import pathlib
import re

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]


def sections(text):
    """{block id: section text} for the '## Label (`id`)' headings of docs/blocks.md."""
    parts = re.split(r"^## .*\(`(disac_[a-z_]+)`\)\s*$", text, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2]))


def test_every_grc_block_has_a_section_with_its_parameters_and_ports():
    documented = sections((ROOT / "docs" / "blocks.md").read_text(encoding="utf-8"))
    files = sorted((ROOT / "grc").glob("disac_*.block.yml"))
    assert files, "no block YAML found"
    for path in files:
        block = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert block["id"] in documented, f"{block['id']} ({path.name}) has no section in docs/blocks.md"
        section = documented[block["id"]]
        for parameter in block.get("parameters", []):
            assert f"`{parameter['id']}`" in section, f"{block['id']}: parameter {parameter['id']} undocumented"
        for direction in ("inputs", "outputs"):
            for port in block.get(direction) or []:
                if port["domain"] == "message":
                    assert f"`{port['id']}`" in section, f"{block['id']}: message port {port['id']} undocumented"
        assert "**Bad input**" in section, f"{block['id']}: no 'Bad input' paragraph"


def test_sections_are_only_for_blocks_that_exist():
    documented = sections((ROOT / "docs" / "blocks.md").read_text(encoding="utf-8"))
    ids = {yaml.safe_load(p.read_text(encoding="utf-8"))["id"] for p in (ROOT / "grc").glob("disac_*.block.yml")}
    assert set(documented) <= ids, f"docs/blocks.md documents blocks not in grc/: {set(documented) - ids}"
