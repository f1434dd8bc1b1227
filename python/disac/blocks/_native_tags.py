# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""The frame tags of a whole work() call: the C++ extension gnuradio.disac._native when it is there, else the
Python path (the same tags: offsets, keys, values, srcid; tests/test_native_tags.py).

Why C++: at L = 16 a frame is 108 samples, 5.4 µs at 20 MS/s, and one tag costs about that much in pybind calls
(building its value, add_item_tag; reading one back). isac_tx's tags and node_rx/user_rx's tag reading cannot get
to 20 MS/s in Python; in C++ a tag costs well under a microsecond (bench/bench_phy.py --native both).

Which path: the extension is used when it imports and passes a PMT from Python's pmt module (it shares GNU
Radio's pybind11 types; a build against another pybind11 would not), unless the environment variable
``DISAC_NATIVE`` is ``0`` (read once, when this module is imported: the Python path everywhere, e.g. to compare).
``DISAC_NATIVE=1`` (or unset) uses the extension when it is there. ``status()`` says which path is in use and why.

Where the extension comes from: tools/setup.sh builds it with CMake (native/) into the venv's install, and
copies it beside this package's source (python/disac/_native*.so, with python/disac/_native_status.txt saying
it was built and from which sources) so that pytest from the source tree uses it too.
"""

import os

import numpy as np

from . import _fast_pmt, tags

NATIVE_ENV = "DISAC_NATIVE"


def _native_setting():
    value = os.environ.get(NATIVE_ENV, "").strip()
    if value not in ("", "0", "1"):
        raise ValueError(f"{NATIVE_ENV}={value!r}: accepted: 0 (the Python path), 1 or unset (the C++ extension "
                         "gnuradio.disac._native when it is built)")
    return value != "0"


def _load_native():
    """(the extension module or None, why not)."""
    try:
        from .. import _native
    except ImportError as error:
        return None, f"gnuradio.disac._native does not import ({error}): not built (tools/setup.sh builds it)"
    import pmt
    try:
        _native.is_pmt(pmt.PMT_T)
    except TypeError:
        return None, ("gnuradio.disac._native imports but does not take GNU Radio's PMTs: it was built against "
                      "another pybind11 than GNU Radio's (Debian's pybind11-dev)")
    return _native, ""


native_module, native_error = _load_native()
wanted = _native_setting()
# the path in use: read by the functions below at each call (a test may set it to compare both)
use_native = native_module is not None and wanted


def status():
    """One line: which path the frame tags take and why."""
    if use_native:
        return f"C++ extension ({native_module.__file__})"
    if native_module is not None:
        return f"Python ({NATIVE_ENV}=0; the C++ extension is built)"
    return f"Python ({native_error})"


# ---- adding the frame tags of a call (isac_tx) -------------------------------------------------------------

def add_frame_tags(gateway, start_offset, frame_len, first_frame, count, node_id, precoder_version, precoder_id):
    """Adds ``count`` frame tags on output 0 of the block whose ``gateway`` (a Python block's self.gateway) is in
    work(): at offsets start_offset + i·frame_len, values tags.frame_tag_value(first_frame + i, node_id,
    precoder_version, precoder_id)."""
    if use_native:
        native_module.add_frame_tags(gateway, 0, int(start_offset), int(frame_len), int(first_frame), int(count),
                                     int(node_id), int(precoder_version), int(precoder_id), tags.frame_tag_key())
    else:
        python_add_frame_tags(gateway, start_offset, frame_len, first_frame, count, node_id, precoder_version,
                              precoder_id)


def python_add_frame_tags(gateway, start_offset, frame_len, first_frame, count, node_id, precoder_version,
                          precoder_id):
    """The Python path of add_frame_tags: ≈ 5 µs of pybind calls a tag (value and add_item_tag)."""
    key = tags.frame_tag_key()
    add_item_tag = gateway.add_item_tag  # bound once
    offsets = range(int(start_offset), int(start_offset) + int(count) * int(frame_len), int(frame_len))
    frames = range(int(first_frame), int(first_frame) + int(count))
    for offset, value in zip(offsets, tags.frame_tag_values(frames, node_id, precoder_version, precoder_id)):
        add_item_tag(0, offset, key, value)


# ---- reading the frame tags of a call (node_rx, user_rx) -------------------------------------------------

def frame_tags(gateway, count):
    """The frame tags on input 0 among the ``count`` items this work() call reads, in order: (absolute offsets,
    frame numbers: np.uint64; node ids, precoder versions, precoder set ids: np.int64), as
    _fast_pmt.frame_tag_fields reads them (a 3-element tag of before issue 11: the start-up set's id)."""
    if use_native:
        found = native_module.frame_tags_in_window(gateway, 0, 0, int(count), tags.frame_tag_key())
        if found is not None:
            return found
        # a tag of another layout: the Python path reads it (or says what is wrong with it)
    return python_frame_tags(gateway, count)


def python_frame_tags(gateway, count):
    """The Python path of frame_tags: get_tags_in_window, then the values read in bulk (≈ 2 µs a tag)."""
    found = gateway.get_tags_in_window(0, 0, int(count), tags.frame_tag_key())
    offsets = np.array([tag.offset for tag in found], dtype=np.uint64)
    return (offsets,) + tuple(_fast_pmt.frame_tag_fields([tag.value for tag in found]))


# ---- copying the frame tags of a call to other outputs (comm_channel) ----------------------------------------

def copy_frame_tags(gateway, outputs, count):
    """Copies the frame tags on input 0 among the ``count`` items this work() call reads to each output of
    ``outputs`` (same offset, key, value, srcid)."""
    if use_native:
        native_module.copy_tags(gateway, 0, [int(o) for o in outputs], 0, int(count), tags.frame_tag_key())
    else:
        python_copy_frame_tags(gateway, outputs, count)


def python_copy_frame_tags(gateway, outputs, count):
    """The Python path of copy_frame_tags: ≈ 2 µs a tag read, ≈ 2.5 µs a tag added."""
    found = gateway.get_tags_in_window(0, 0, int(count), tags.frame_tag_key())
    add_item_tag = gateway.add_item_tag
    for output in outputs:
        for tag in found:
            add_item_tag(int(output), tag.offset, tag.key, tag.value, tag.srcid)
