# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""gr-disac core: the paper's mathematics in pure Python (numpy, scipy, cvxpy).

Nothing in this sub-package imports GNU Radio: every function is usable and testable on its own.
"""
