// Copyright 2026 The gr-disac authors
// SPDX-License-Identifier: GPL-3.0-or-later
//
// gnuradio.disac._native: the per-frame tag work of the PHY blocks in one call per work().
//
// A frame of 108 samples (L = 16) lasts 5.4 us at 20 MS/s, and one frame tag costs about as much in Python
// pybind calls (building the value, add_item_tag): isac_tx cannot reach 20 MS/s in Python. These functions
// do the same work in C++ for all the frames of a call. The Python fallback (blocks/_native_tags.py) gives
// the very same tags; blocks/_native_tags.py says when this module is used.
//
// The blocks are Python blocks: their `gateway` is a gr::block_gateway made by GNU Radio's own bindings
// (gr_python). This module is built with the pybind11 GNU Radio was built with (Debian's pybind11-dev 2.10),
// so both share pybind11's type registry and a gateway (and a PMT) passes from Python as a gr::block (a
// pmt::pmt_t). The tag calls of gr::block are protected (a block adds its own tags); the `access` struct
// below reaches them the standard way (a pointer to member named through a derived class), on the block
// whose work() is calling: the same calls the gateway's Python bindings make.

#include <gnuradio/block.h>
#include <gnuradio/tags.h>
#include <pmt/pmt.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

namespace py = pybind11;

namespace {

struct access : gr::block {
    static void add_tag(gr::block& block, unsigned int output, const gr::tag_t& tag)
    {
        void (gr::block::*add)(unsigned int, const gr::tag_t&) = &access::add_item_tag;
        (block.*add)(output, tag);
    }
    static void get_tags(gr::block& block, std::vector<gr::tag_t>& found, unsigned int input,
                                   uint64_t rel_start, uint64_t rel_end, const pmt::pmt_t& key)
    {
        void (gr::block::*get)(std::vector<gr::tag_t>&, unsigned int, uint64_t, uint64_t, const pmt::pmt_t&) =
            &access::get_tags_in_window;
        (block.*get)(found, input, rel_start, rel_end, key);
    }
};

void check_port(gr::block& block, unsigned int port, bool output)
{
    const int ports = output ? block.output_signature()->max_streams() : block.input_signature()->max_streams();
    if (ports >= 0 && static_cast<int>(port) >= ports) // (-1: any number of streams)
        throw std::out_of_range(std::string(output ? "output" : "input") + " " + std::to_string(port) +
                                ": accepted: 0 … " + std::to_string(ports - 1));
}

// Adds `count` frame tags on `output`: offsets start_offset + i·frame_len, key `key`, values the PMT tuples
// (frame: uint64 first_frame + i, node id: long, precoder version: long, precoder id: long) of
// tags.frame_tag_value; the node, version and id PMTs are made once and shared, as tags.frame_tag_values does.
// srcid PMT_F, as the gateway's add_item_tag gives by default.
void add_frame_tags(gr::block& block, unsigned int output, uint64_t start_offset, uint64_t frame_len,
                    uint64_t first_frame, int64_t count, int64_t node_id, int64_t precoder_version,
                    int64_t precoder_id, const pmt::pmt_t& key)
{
    if (count < 0)
        throw std::invalid_argument("count = " + std::to_string(count) + ": accepted: a number of frames ≥ 0");
    if (frame_len == 0)
        throw std::invalid_argument("frame_len = 0: accepted: a frame length ≥ 1 sample");
    if (!pmt::is_symbol(key))
        throw std::invalid_argument("key " + pmt::write_string(key) + ": accepted: a PMT symbol");
    check_port(block, output, true);
    const pmt::pmt_t node = pmt::from_long(node_id);
    const pmt::pmt_t version = pmt::from_long(precoder_version);
    const pmt::pmt_t identity = pmt::from_long(precoder_id);
    gr::tag_t tag;
    tag.key = key;
    tag.srcid = pmt::PMT_F;
    py::gil_scoped_release no_gil; // (pure C++ from here: the other Python blocks may run meanwhile)
    for (int64_t i = 0; i < count; ++i) {
        tag.offset = start_offset + static_cast<uint64_t>(i) * frame_len;
        tag.value = pmt::make_tuple(pmt::from_uint64(first_frame + static_cast<uint64_t>(i)), node, version, identity);
        access::add_tag(block, output, tag);
    }
}

using FrameTagArrays = std::tuple<py::array_t<uint64_t>, py::array_t<uint64_t>, py::array_t<int64_t>,
                                  py::array_t<int64_t>, py::array_t<int64_t>>;

// The frame tags (key `key`) on `input` in the window [rel_start, rel_end) of the items this call reads, as
// arrays (absolute offsets, frames: uint64; node ids, precoder versions, precoder ids: int64), in
// get_tags_in_window's order. None when a value is not a frame tag as tags.frame_tag_value makes it (a tuple
// of 3 or 4: uint64, then integers; a 3-element tag has the start-up set's id, 0): the caller then reads the
// window the Python way (blocks/_native_tags.py), which says what is wrong with it.
std::optional<FrameTagArrays> frame_tags_in_window(gr::block& block, unsigned int input, uint64_t rel_start,
                                                   uint64_t rel_end, const pmt::pmt_t& key)
{
    check_port(block, input, false);
    std::vector<gr::tag_t> found;
    std::vector<uint64_t> offsets, frames;
    std::vector<int64_t> nodes, versions, ids;
    {
        py::gil_scoped_release no_gil;
        access::get_tags(block, found, input, rel_start, rel_end, key);
        const size_t n = found.size();
        offsets.reserve(n), frames.reserve(n), nodes.reserve(n), versions.reserve(n), ids.reserve(n);
        for (const gr::tag_t& tag : found) {
            const pmt::pmt_t& value = tag.value;
            if (!pmt::is_tuple(value))
                return std::nullopt;
            const size_t length = pmt::length(value);
            if (length != 3 && length != 4)
                return std::nullopt;
            const pmt::pmt_t frame = pmt::tuple_ref(value, 0);
            if (!pmt::is_uint64(frame))
                return std::nullopt;
            int64_t fields[3] = { 0, 0, 0 }; // node id, version, precoder id (0: START_SET_ID)
            for (size_t k = 1; k < length; ++k) {
                const pmt::pmt_t field = pmt::tuple_ref(value, k);
                if (!pmt::is_integer(field))
                    return std::nullopt;
                fields[k - 1] = pmt::to_long(field);
            }
            offsets.push_back(tag.offset);
            frames.push_back(pmt::to_uint64(frame));
            nodes.push_back(fields[0]), versions.push_back(fields[1]), ids.push_back(fields[2]);
        }
    }
    auto array = [](const auto& values) {
        using T = typename std::decay_t<decltype(values)>::value_type;
        py::array_t<T> out(values.size());
        std::copy(values.begin(), values.end(), out.mutable_data());
        return out;
    };
    return FrameTagArrays(array(offsets), array(frames), array(nodes), array(versions), array(ids));
}

// Copies the tags with key `key` on `input` in the window [rel_start, rel_end) of the items this call reads to
// each output of `outputs`, at the same offsets, key, value and srcid (the comm channel: each frame tag of its
// input 0 on every user's output, for user_rx). Returns the number of tags copied per output.
size_t copy_tags(gr::block& block, unsigned int input, const std::vector<unsigned int>& outputs, uint64_t rel_start,
                 uint64_t rel_end, const pmt::pmt_t& key)
{
    check_port(block, input, false);
    for (unsigned int output : outputs)
        check_port(block, output, true);
    std::vector<gr::tag_t> found;
    py::gil_scoped_release no_gil;
    access::get_tags(block, found, input, rel_start, rel_end, key);
    for (unsigned int output : outputs)
        for (const gr::tag_t& tag : found)
            access::add_tag(block, output, tag);
    return found.size();
}

} // namespace

PYBIND11_MODULE(_native, m)
{
    m.doc() = "gr-disac's per-frame tag work in C++ (see blocks/_native_tags.py; same tags as the Python path)";
    m.def("add_frame_tags", &add_frame_tags, py::arg("block"), py::arg("output"), py::arg("start_offset"),
          py::arg("frame_len"), py::arg("first_frame"), py::arg("count"), py::arg("node_id"),
          py::arg("precoder_version"), py::arg("precoder_id"), py::arg("key"),
          "Add `count` frame tags to output `output` of `block` (a Python block's gateway) at start_offset + "
          "i·frame_len, values tags.frame_tag_value(first_frame + i, node_id, precoder_version, precoder_id).");
    m.def("frame_tags_in_window", &frame_tags_in_window, py::arg("block"), py::arg("input"), py::arg("rel_start"),
          py::arg("rel_end"), py::arg("key"),
          "(offsets, frames, node ids, precoder versions, precoder ids) arrays of the frame tags in a window of "
          "the items this work() call reads, or None when one is not a frame tag of the usual layout.");
    m.def("copy_tags", &copy_tags, py::arg("block"), py::arg("input"), py::arg("outputs"), py::arg("rel_start"),
          py::arg("rel_end"), py::arg("key"),
          "Copy the tags (key `key`) of a window of input `input` to each output in `outputs` (same offset, key, "
          "value, srcid); the number copied per output.");
    m.def("is_pmt", [](const pmt::pmt_t&) { return true; }, py::arg("value"),
          "True: a PMT from Python's pmt module passed (this module shares GNU Radio's pybind11 types).");
}
