# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Command-line applications of gr-disac (the `disac` command and its subcommands)."""
