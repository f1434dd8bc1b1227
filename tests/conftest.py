# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""tests/: make the shared test helpers (fuzz_harness) importable."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
