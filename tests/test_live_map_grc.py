# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""grc/disac_live_map.block.yml in GRC: a QT GUI flowgraph with the live map compiles with grcc without
warnings about the block, the generated code places the block's widget with its GUI hint, and the
generated top block builds headless (QT_QPA_PLATFORM=offscreen) with the widget in its grid layout.

The flowgraph is written here (examples/ belongs to the example flowgraphs); the child process imports
gr-disac from this checkout, as conftest.py does.
"""

import os
import subprocess
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GRC_BLOCKS = os.path.join(ROOT, "grc")
GRCC = "/usr/bin/grcc"
GUI_HINT = "1, 0, 1, 2"  # row 1, column 0, one row, two columns


def flowgraph():
    """The smallest QT GUI flowgraph around a disac_live_map (every input is optional)."""
    return {
        "options": {"parameters": {"id": "live_map_only", "title": "live map only", "generate_options": "qt_gui",
                                   "output_language": "python", "run": "True", "catch_exceptions": "True",
                                   "run_options": "prompt", "window_size": "(1000,1000)", "category": "[GRC Hier Blocks]",
                                   "author": "", "copyright": "", "description": "", "placement": "(0,0)",
                                   "qt_qss_theme": "", "realtime_scheduling": "", "thread_safe_setters": "",
                                   "sizing_mode": "fixed", "max_nouts": "0", "gen_linking": "dynamic",
                                   "gen_cmake": "On", "cmake_opt": "", "hier_block_src_path": ".:",
                                   "run_command": "{python} -u {filename}"},
                    "states": {"coordinate": [8, 8], "rotation": 0, "state": "enabled"}},
        "blocks": [{"name": "live_map_0", "id": "disac_live_map",
                    "parameters": {"scenario": "paper", "wc": "None", "wr": "None", "history_frames": "30",
                                   "n_sigma": "2.0", "update_period_s": "0.2", "title": "''", "gui_hint": GUI_HINT,
                                   "affinity": "", "alias": "", "comment": "", "maxoutbuf": "0", "minoutbuf": "0"},
                    "states": {"coordinate": [200, 100], "rotation": 0, "state": "enabled"}}],
        "connections": [],
        "metadata": {"file_format": 1},
    }


CHILD = """
import sys
import gnuradio
gnuradio.__path__.insert(0, {python_dir!r})
sys.path.insert(0, {out_dir!r})
from PyQt5 import Qt
app = Qt.QApplication(["test"])
import live_map_only
tb = live_map_only.live_map_only()
widget = tb._live_map_0_win
index = tb.top_grid_layout.indexOf(widget)
assert index >= 0, "the live map widget is not in the top grid layout"
print("POSITION", tb.top_grid_layout.getItemPosition(index))
print("N_SIGMA", tb.live_map_0._view.n_sigma, "PERIOD", tb.live_map_0._view.update_period_s, "HISTORY", tb.live_map_0.model.history_frames)
"""


def test_grcc_compiles_and_the_generated_flowgraph_places_the_map(tmp_path):
    grc_file = tmp_path / "live_map_only.grc"
    grc_file.write_text(yaml.safe_dump(flowgraph(), sort_keys=False), encoding="utf-8")
    env = dict(os.environ, GRC_BLOCKS_PATH=GRC_BLOCKS)
    proc = subprocess.run([sys.executable, GRCC, "-o", str(tmp_path), str(grc_file)], capture_output=True, text=True,
                          env=env, timeout=120)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "not connected" not in output and "Missing" not in output, output
    code = (tmp_path / "live_map_only.py").read_text(encoding="utf-8")
    assert "disac.live_map('paper', None, None, 30, 2.0, 0.2, '')" in code
    assert f"self.top_grid_layout.addWidget(self._live_map_0_win, {GUI_HINT})" in code
    child_env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_RUNTIME_DIR=str(tmp_path), OPENBLAS_NUM_THREADS="1")
    child = subprocess.run([sys.executable, "-c", CHILD.format(python_dir=os.path.join(ROOT, "python"),
                                                               out_dir=str(tmp_path))],
                           capture_output=True, text=True, env=child_env, cwd=str(tmp_path), timeout=120)
    assert child.returncode == 0, child.stdout[-2000:] + child.stderr[-2000:]
    assert "POSITION (1, 0, 1, 2)" in child.stdout, child.stdout
    assert "N_SIGMA 2.0 PERIOD 0.2 HISTORY 30" in child.stdout, child.stdout
