# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""The frame tags of the PHY blocks: the C++ extension gnuradio.disac._native and the Python path give the same
tags (offsets, keys, values, srcid) written by isac_tx and the same fields read by node_rx / user_rx; and the
extension is built and used wherever tools/setup.sh built it.

How a test knows setup built it: tools/setup.sh copies the extension beside the source tree's package
(python/disac/_native*.so, what `from gnuradio.disac import _native` finds under conftest.py) together with
python/disac/_native_status.txt, "built <sha256 of native/>" or "not built: <why>" (no compiler, ...). Built:
it must import, take GNU Radio's gateways and PMTs, be the path in use (unless DISAC_NATIVE=0) and come from
today's native/ sources. Not built, or never set up (no status file): there is no extension, the Python path
is in use, and the native half of the comparisons below has nothing to compare (the status test pins that this
happens only where setup did not build it).
"""

import hashlib
import os
import pathlib
import subprocess
import sys

import numpy as np
import pmt
import pytest
from gnuradio import blocks, gr

from gnuradio.disac.blocks import _native_tags, tags
from gnuradio.disac.blocks.isac_tx import isac_tx
from gnuradio.disac.core import ofdm
from gnuradio.disac.core.scenario import load_scenario

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "python" / "disac"
STATUS_FILE = PACKAGE / "_native_status.txt"


def native_sources_hash():
    """sha256 of native/ as tools/setup.sh computes it (find | sort | sha256sum | sha256sum)."""
    lines = []
    for path in sorted((p.relative_to(ROOT).as_posix() for p in (ROOT / "native").rglob("*") if p.is_file()),
                       key=lambda s: s.encode()):
        lines.append(f"{hashlib.sha256((ROOT / path).read_bytes()).hexdigest()}  {path}\n")
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def test_extension_is_built_and_used_where_setup_built_it():
    copies = sorted(PACKAGE.glob("_native*.so"))
    if not STATUS_FILE.exists():  # never set up: no extension may be there (setup writes both or neither)
        assert not copies, f"{copies} without {STATUS_FILE.name}: not copied by tools/setup.sh (run it again)"
        assert _native_tags.native_module is None and not _native_tags.use_native
        return
    status = STATUS_FILE.read_text().strip()
    if status.startswith("not built"):
        assert not copies, f"{copies} beside a status saying {status!r}"
        assert _native_tags.native_module is None and not _native_tags.use_native
        assert _native_tags.status().startswith("Python")
        return
    assert status.startswith("built "), f"{STATUS_FILE}: {status!r}: expected 'built <hash>' or 'not built: …'"
    assert _native_tags.native_module is not None, f"setup built the extension, yet: {_native_tags.native_error}"
    assert pathlib.Path(_native_tags.native_module.__file__).parent == PACKAGE
    assert status.split()[1] == native_sources_hash(), \
        "python/disac/_native*.so was built from other native/ sources: run tools/setup.sh again"
    assert _native_tags.use_native == (os.environ.get(_native_tags.NATIVE_ENV, "").strip() != "0")


@pytest.mark.parametrize("setting", ["0", "1", ""])
def test_the_environment_variable_picks_the_path(setting):
    # read once at import, in a fresh interpreter (gnuradio.disac from this tree, as conftest.py makes it)
    env = dict(os.environ, **{_native_tags.NATIVE_ENV: setting})
    probe = ("import conftest; from gnuradio.disac.blocks import _native_tags as n; "
             "print(n.use_native, n.native_module is not None)")
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120)  # (an import on a loaded machine: seconds; 120 s is generous)
    assert result.returncode == 0, result.stderr
    use_native, built = (word == "True" for word in result.stdout.split()[-2:])
    assert built == (_native_tags.native_module is not None)
    assert use_native == (built and setting != "0")


def test_bad_native_setting_is_named(monkeypatch):
    monkeypatch.setenv(_native_tags.NATIVE_ENV, "yes")
    with pytest.raises(ValueError, match="DISAC_NATIVE='yes': accepted: 0"):
        _native_tags._native_setting()


# ---- writing: isac_tx's tags ---------------------------------------------------------------------------

SCENARIO = load_scenario("paper")
LAYOUT = ofdm.layout_from_scenario(SCENARIO)


def isac_tx_tags(native, monkeypatch, frames, switch):
    """The tags on stream 0 of isac_tx (node 1, start-up set id 2^40 + 7) over ``frames`` frames: [tag_t]. With
    ``switch``, a precoder message (version 9, id 2^62 + 5) is handled before the run starts, so it applies from
    frame 0 (a message in flight would land at a frame the scheduler picks)."""
    monkeypatch.setattr(_native_tags, "use_native", native)
    tb = gr.top_block()
    wc, wr = ofdm.default_precoders(LAYOUT, SCENARIO.per_antenna_power)
    tx = isac_tx(SCENARIO, 1, 3, wc, wr, frames, precoder_id=(1 << 40) + 7)
    if switch:
        tx.handle_precoder(tags.precoder_to_pmt(0.5 * wc, 0.5 * wr, 9, precoder_id=(1 << 62) + 5))
    sink = blocks.vector_sink_c()
    tb.connect((tx, 0), sink)
    for i in range(1, SCENARIO.tx_antennas):
        tb.connect((tx, i), blocks.null_sink(gr.sizeof_gr_complex))
    tb.run()
    return sink.tags()


@pytest.mark.parametrize("switch", [False, True])
def test_isac_tx_tags_are_the_same_from_both_paths(monkeypatch, switch):
    frames = 1300  # several work() calls (65536-sample buffers hold ~600 frames of 108 samples)
    version, identity = (9, (1 << 62) + 5) if switch else (0, (1 << 40) + 7)
    python_tags = isac_tx_tags(False, monkeypatch, frames, switch)
    # what they must be: one per frame at f·frame_len, key FRAME_TAG_KEY, srcid PMT_F, tags.frame_tag_value
    assert [t.offset for t in python_tags] == [f * LAYOUT.frame_len for f in range(frames)]
    for f, t in enumerate(python_tags):
        assert pmt.equal(t.value, tags.frame_tag_value(f, 1, version, identity)), (f, pmt.write_string(t.value))
        assert pmt.eq(t.key, tags.frame_tag_key()) and pmt.equal(t.srcid, pmt.PMT_F)
    if _native_tags.native_module is None:
        return  # no extension here (test_extension_is_built_and_used_where_setup_built_it says why that is right)
    native_tags = isac_tx_tags(True, monkeypatch, frames, switch)
    assert len(native_tags) == len(python_tags)
    for a, b in zip(native_tags, python_tags):  # tag by tag: offset, key, value, srcid
        assert a.offset == b.offset and pmt.equal(a.key, b.key) and pmt.equal(a.srcid, b.srcid)
        assert pmt.equal(a.value, b.value), (a.offset, pmt.write_string(a.value), pmt.write_string(b.value))


# ---- reading: node_rx's and user_rx's tags -------------------------------------------------------------

class frame_tag_reader(gr.sync_block):
    """Reads each call's frame tags both ways (_native_tags.frame_tags with the path in use, and the Python
    path) and keeps both results."""

    def __init__(self):
        gr.sync_block.__init__(self, name="frame_tag_reader", in_sig=[np.complex64], out_sig=None)
        self.native, self.python = [], []

    def work(self, input_items, output_items):
        count = len(input_items[0])
        self.native.append(_native_tags.frame_tags(self.gateway, count))
        self.python.append(_native_tags.python_frame_tags(self.gateway, count))
        return count


def read_both(tag_list, samples=5000, native=True, monkeypatch=None):
    monkeypatch.setattr(_native_tags, "use_native", native)
    tb = gr.top_block()
    source = blocks.vector_source_c(np.zeros(samples, np.complex64), False, 1, tag_list)
    reader = frame_tag_reader()
    tb.connect(source, reader)
    tb.run()
    return reader


def tag(offset, value, key=tags.FRAME_TAG_KEY):
    return gr.tag_utils.python_to_tag((offset, pmt.intern(key), value, pmt.PMT_F))


def concatenated(results):
    return [np.concatenate([r[k] for r in results]) for k in range(5)]


def test_frame_tags_read_the_same_from_both_paths(monkeypatch):
    # new and pre-issue-11 (3-element) tags, a large id and version, another key that must be left out
    tag_list = [tag(10 * i, tags.frame_tag_value(100 + i, i % 3, (1 << 40) + i, (1 << 62) + i)) for i in range(300)]
    tag_list += [tag(3001 + 7 * i, pmt.make_tuple(pmt.from_uint64(900 + i), pmt.from_long(2), pmt.from_long(-i)))
                 for i in range(50)]
    tag_list.append(tag(4000, pmt.intern("not a frame tag"), key="other"))
    reader = read_both(tag_list, native=_native_tags.native_module is not None, monkeypatch=monkeypatch)
    native, python = concatenated(reader.native), concatenated(reader.python)
    offsets, frames, nodes, versions, ids = python
    assert offsets.tolist() == [10 * i for i in range(300)] + [3001 + 7 * i for i in range(50)]
    assert frames.tolist() == list(range(100, 400)) + list(range(900, 950))
    assert nodes.tolist() == [i % 3 for i in range(300)] + [2] * 50
    assert versions.tolist() == [(1 << 40) + i for i in range(300)] + [-i for i in range(50)]
    assert ids.tolist() == [(1 << 62) + i for i in range(300)] + [tags.START_SET_ID] * 50
    for a, b in zip(native, python):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    assert [c.dtype for c in python] == [np.uint64, np.uint64, np.int64, np.int64, np.int64]


def test_a_tag_of_another_layout_is_read_the_python_way(monkeypatch):
    # a frame number given as a long (not uint64): the Python path reads it (parse_frame_tag), the extension
    # hands such a window back to it (None) instead of guessing
    odd = pmt.make_tuple(pmt.from_long(5), pmt.from_long(1), pmt.from_long(2), pmt.from_long(3))
    tag_list = [tag(0, tags.frame_tag_value(4, 1, 2, 3)), tag(20, odd)]
    reader = read_both(tag_list, samples=100, native=_native_tags.native_module is not None,
                       monkeypatch=monkeypatch)
    native, python = concatenated(reader.native), concatenated(reader.python)
    assert python[1].tolist() == [4, 5] and python[4].tolist() == [3, 3]
    for a, b in zip(native, python):
        assert np.array_equal(a, b)
    if _native_tags.native_module is not None:
        probe = frame_tag_window_probe(tag_list)
        assert probe == [None]


def frame_tag_window_probe(tag_list):
    """The extension's own answer for each call over ``tag_list`` (None: not the usual layout)."""
    class probe_block(gr.sync_block):
        def __init__(self):
            gr.sync_block.__init__(self, name="probe", in_sig=[np.complex64], out_sig=None)
            self.answers = []

        def work(self, input_items, output_items):
            self.answers.append(_native_tags.native_module.frame_tags_in_window(
                self.gateway, 0, 0, len(input_items[0]), tags.frame_tag_key()))
            return len(input_items[0])

    tb = gr.top_block()
    block = probe_block()
    tb.connect(blocks.vector_source_c(np.zeros(100, np.complex64), False, 1, tag_list), block)
    tb.run()
    return block.answers


def test_native_rejects_bad_arguments_with_their_value():
    if _native_tags.native_module is None:
        assert not _native_tags.use_native  # nothing to call (see the status test)
        return
    native = _native_tags.native_module

    class bad_caller(gr.sync_block):
        def __init__(self):
            gr.sync_block.__init__(self, name="bad_caller", in_sig=None, out_sig=[np.complex64])
            self.errors = []

        def work(self, input_items, output_items):
            for args in ((5, 0, 10, 0, 1, 0, 0, 0), (0, 0, 0, 0, 1, 0, 0, 0), (0, 0, 10, 0, -1, 0, 0, 0)):
                try:
                    native.add_frame_tags(self.gateway, *args, tags.frame_tag_key())
                except (ValueError, IndexError) as error:
                    self.errors.append(str(error))
            return -1

    tb = gr.top_block()
    block = bad_caller()
    tb.connect(block, blocks.null_sink(gr.sizeof_gr_complex))
    tb.run()
    assert block.errors == ["output 5: accepted: 0 … 0", "frame_len = 0: accepted: a frame length ≥ 1 sample",
                            "count = -1: accepted: a number of frames ≥ 0"]


# ---- copying: comm_channel's tags to every user ------------------------------------------------------------

def comm_channel_tags(native, monkeypatch, frames):
    """The tags on each user's output of comm_channel (noise off) fed frame tags on input 0 and a frame-keyed tag
    on input 1 (which must not be copied): [[tag_t] per user]."""
    from gnuradio.disac.blocks.comm_channel import comm_channel

    monkeypatch.setattr(_native_tags, "use_native", native)
    tb = gr.top_block()
    channel = comm_channel(SCENARIO, channel_seed=1, noise=False)
    samples = frames * LAYOUT.frame_len
    first = [tag(f * LAYOUT.frame_len, tags.frame_tag_value(f, 0, 3, (1 << 41) + f)) for f in range(frames)]
    for i in range(LAYOUT.num_nodes * LAYOUT.tx_antennas):
        tag_list = first if i == 0 else ([tag(5, tags.frame_tag_value(77, 1, 0, 0))] if i == 1 else [])
        tb.connect(blocks.vector_source_c(np.zeros(samples, np.complex64), False, 1, tag_list), (channel, i))
    sinks = [blocks.vector_sink_c() for _ in range(SCENARIO.num_users)]
    for u, sink in enumerate(sinks):
        tb.connect((channel, u), sink)
    tb.run()
    return [sink.tags() for sink in sinks]


def test_comm_channel_copies_the_frame_tags_to_every_user_the_same_from_both_paths(monkeypatch):
    frames = 1300  # several work() calls
    python_tags = comm_channel_tags(False, monkeypatch, frames)
    for user_tags in python_tags:  # what they must be: input 0's frame tags only, unchanged, on every output
        assert [t.offset for t in user_tags] == [f * LAYOUT.frame_len for f in range(frames)]
        for f, t in enumerate(user_tags):
            assert pmt.equal(t.value, tags.frame_tag_value(f, 0, 3, (1 << 41) + f)) and pmt.eq(t.key, tags.frame_tag_key())
    if _native_tags.native_module is None:
        return  # no extension here (test_extension_is_built_and_used_where_setup_built_it says why that is right)
    native_tags = comm_channel_tags(True, monkeypatch, frames)
    for native_user, python_user in zip(native_tags, python_tags):
        assert len(native_user) == len(python_user)
        for a, b in zip(native_user, python_user):
            assert a.offset == b.offset and pmt.equal(a.key, b.key) and pmt.equal(a.srcid, b.srcid)
            assert pmt.equal(a.value, b.value)
