# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Values made ready for JSON: numpy scalars and arrays to Python ones, non-finite floats to null.

One definition for every JSON the project writes (the commands' --json, the figures' data files);
in core because it needs only numpy.
"""

import math


def json_ready(value):
    """Recursively turn numpy values into JSON ones, and non-finite floats into null."""
    import numpy as np

    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_ready(value.tolist())
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value
