# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""The work() body shared by the synthetic channel blocks: model, then AWGN, on whole OFDM symbols."""

import numpy as np

from ..core import channels


def _work_array(block, name, shape, dtype):
    """A working array of ``shape`` kept on ``block`` between calls (grown when too small): a fresh multi-MB
    array per call costs its page faults every call."""
    size = int(np.prod(shape))
    buffer = getattr(block, name, None)
    if buffer is None or buffer.size < size:
        buffer = np.empty(size, dtype=dtype)
        setattr(block, name, buffer)
    return buffer[:size].reshape(shape)


def run_channel(block, input_items, output_items, noise_power):
    """Apply block.model to whole OFDM symbols of the inputs and add AWGN (when block.noise); returns the
    number of output samples produced (0 when less than one symbol is there)."""
    lay = block.layout
    count = (len(output_items[0]) // lay.symbol_len) * lay.symbol_len
    if count == 0:
        return 0
    x = _work_array(block, "_input_buffer", (len(input_items), count), np.complex64)
    np.stack([item[:count] for item in input_items], out=x)
    block.model.write_time(x, block.nitems_written(0), output_items)  # complex64 fast path of apply_time
    if block.noise:
        streams = len(output_items)
        buffer = _work_array(block, "_noise_buffer", (2 * count * streams,), np.float32)
        noise = channels.awgn(block._rng, count, streams, noise_power, buffer)
        for index, out in enumerate(output_items):
            out[:count] += noise[index]
    return count
