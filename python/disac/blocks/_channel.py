"""The work() body shared by the synthetic channel blocks: model, then AWGN, on whole OFDM symbols."""

import numpy as np

from ..core import channels


def run_channel(block, input_items, output_items, noise_power):
    """Apply block.model to whole OFDM symbols of the inputs and add AWGN (when block.noise); returns the
    number of output samples produced (0 when less than one symbol is there)."""
    lay = block.layout
    count = (len(output_items[0]) // lay.symbol_len) * lay.symbol_len
    if count == 0:
        return 0
    x = np.stack([item[:count] for item in input_items])
    block.model.write_time(x, block.nitems_written(0), output_items)  # complex64 fast path of apply_time
    if block.noise:
        noise = channels.awgn(block._rng, count, len(output_items), noise_power)
        for index, out in enumerate(output_items):
            out[:count] += noise[index]
    return count
