# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Overlap check of GRC flowgraphs with GRC's own block sizes: loads each .grc with GRC's Gtk canvas
classes (so a block's box is what GRC draws: title, visible parameters, ports; its comment too) and lists
every pair of boxes that intersect. Needs a display (tests run it under xvfb-run).

    python tests/grc_layout.py examples/*.grc      exit status 1 if any boxes overlap
"""
import itertools
import sys

import gi

gi.require_version("Gtk", "3.0")
gi.require_version("PangoCairo", "1.0")
from gi.repository import Gtk  # noqa: E402
from gnuradio import gr  # noqa: E402
from gnuradio.grc.gui.Platform import Platform  # noqa: E402
from gnuradio.grc.gui.canvas import flowgraph as canvas_flowgraph  # noqa: E402


def boxes(platform, path):
    """[(name, (x0, y0, x1, y1))] of every block and block comment of one flowgraph, as GRC lays them out."""
    flow_graph = platform.make_flow_graph(path)
    flow_graph.rewrite()
    flow_graph.validate()
    out = []
    for block in flow_graph.blocks:
        block.create_labels()
        block.create_shapes()
        out.append((block.name, block.get_extents()))
        comment = block.get_extents_comment()
        if comment[2] > comment[0]:
            out.append((block.name + " (comment)", comment))
    return out


def overlaps(named_boxes):
    return [(a, b) for (a, ba), (b, bb) in itertools.combinations(named_boxes, 2)
            if ba[0] < bb[2] and bb[0] < ba[2] and ba[1] < bb[3] and bb[1] < ba[3]]


def main(paths):
    platform = Platform(version=gr.version(), version_parts=(gr.major_version(), gr.api_version(),
                                                             gr.minor_version()),
                        prefs=gr.prefs(), install_prefix=gr.prefix())
    platform.build_library()
    # GRC's canvas wants its application and main window (for a context menu): a bare application here
    app = Gtk.Application(application_id="org.gnuradio.disac.layoutcheck")
    app.register(None)
    Gtk.Application.get_default = staticmethod(lambda: app)
    canvas_flowgraph._ContextMenu = lambda main_window: None
    found = 0
    for path in paths:
        for a, b in overlaps(boxes(platform, path)):
            print(f"{path}: {a} overlaps {b}")
            found += 1
    print(f"{len(paths)} flowgraphs, {found} overlaps")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
