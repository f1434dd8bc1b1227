# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""pytest from the source tree: make `gnuradio.disac` resolve to python/disac.

GNU Radio's own `gnuradio/__init__.py` extends its package path (pkgutil.extend_path), so an
out-of-tree module can live anywhere; here the source tree's python/ is put first so the tests
exercise this checkout even when an older gr-disac is installed.
"""
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
_PYTHON_DIR = os.path.join(_HERE, "python")

import gnuradio  # noqa: E402

if os.path.join(_PYTHON_DIR, "gnuradio") not in gnuradio.__path__:
    # gnuradio.disac -> python/disac: python/ plays the role of a site-packages/gnuradio folder
    gnuradio.__path__.insert(0, _PYTHON_DIR)
sys.modules.pop("gnuradio.disac", None)
