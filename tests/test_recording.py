# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""SigMF record and replay (issue 13, item 5): a synthetic node's receive streams recorded, replayed through
the USRP node's receive chain (hier.replay_radio), give the very snapshots the live node gave; `disac node
--record DIR` then `--radio replay:DIR` do the same end to end over ZeroMQ; a recording is a test fixture:
its metadata round-trips (time labels exactly, the scenario without impairments, the calibration, the
ground truth under its own key only)."""

import json
import threading

import numpy as np
import pytest
import zmq
from gnuradio import blocks, gr

from gnuradio.disac.apps import cli
from gnuradio.disac.blocks import tags
from gnuradio.disac.blocks.sigmf_record import sigmf_record
from gnuradio.disac.core import ofdm, recording, wire
from gnuradio.disac.core.scenario import load_scenario, scenario_from_dict, scenario_to_toml
from gnuradio.disac.hier import system, usrp_node
from gnuradio.disac.hier.replay_radio import ReplayRadio

FRAMES = 6


def collect_snapshots(debug):
    """{frame: Y} of the snapshot messages a message_debug stored."""
    found = {}
    for i in range(debug.num_messages()):
        for snapshot in tags.snapshots_from_pmt(debug.get_message(i)):
            found[int(snapshot.frame)] = np.array(snapshot.samples)
    return found


def live_node_with_recorder(scenario, node, directory):
    """The single-process synthetic system with node ``node`` receiving, its receive streams recorded."""
    wc, wr = ofdm.default_precoders(ofdm.layout_from_scenario(scenario), scenario.per_antenna_power)
    wc, wr = np.broadcast_to(wc, (scenario.num_nodes,) + wc.shape), np.broadcast_to(wr, (scenario.num_nodes,) + wr.shape)
    tb = gr.top_block()
    _, nodes, _ = system.add_synthetic_nodes(tb, scenario, [node], wc, wr, FRAMES, 0, 1, address="")
    recorder = sigmf_record(scenario, node, directory, "synthetic", ground_truth=True)
    for r in range(scenario.rx_antennas):  # what the synthetic radio hands the receiver, rx_time tags included
        tb.connect((nodes[node].radio_rx, r), (recorder, r))
    debug = blocks.message_debug()
    tb.msg_connect((nodes[node], tags.SNAPSHOT_PORT), (debug, "store"))
    tb.run()
    return collect_snapshots(debug), recorder, (wc, wr)


def replayed_node(scenario, node, directory, precoders):
    wc, wr = precoders
    radio = ReplayRadio(directory, scenario, node)
    settings = usrp_node.usrp_settings(scenario, "replay", None, None, 0.0, 0.0, 0.0, "internal", "internal",
                                       radio.epoch_s, radio.frequency_grid)
    tb = gr.top_block()
    built = usrp_node.usrp_node(scenario, node, 0, wc[node], wr[node], FRAMES, "", radio=radio,
                                center_freq_hz=settings.center_freq_hz, epoch_s=settings.epoch_s,
                                frequency_grid=settings.frequency_grid, clock_source="internal", time_source="internal")
    tb.connect(built)
    debug = blocks.message_debug()
    tb.msg_connect((built, tags.SNAPSHOT_PORT), (debug, "store"))
    tb.run()  # ends by itself: the recording and the transmitter's frames are finite
    return collect_snapshots(debug), built


def test_a_replayed_recording_gives_the_live_snapshots(tmp_path):
    scenario = load_scenario("paper")
    live, recorder, precoders = live_node_with_recorder(scenario, 1, tmp_path)
    assert sorted(live) == list(range(FRAMES))
    frame_len = ofdm.layout_from_scenario(scenario).frame_len
    assert recorder.samples_recorded >= FRAMES * frame_len
    replayed, built = replayed_node(scenario, 1, tmp_path, precoders)
    assert built.rx_shift is None  # synthetic air is on the model's grid: no B/2 shift on replay
    assert sorted(replayed) == sorted(live)
    for frame in live:  # the same samples through the same FFTs: bit-identical, no tolerance needed
        np.testing.assert_array_equal(replayed[frame], live[frame])


def test_the_metadata_is_a_fixture_that_round_trips(tmp_path):
    scenario = load_scenario("paper")
    calibration = {"format": "gr-disac-calibration", "version": 1, "method": "reflector",
                   "nodes": [{"node_id": 0, "cfo_hz": 1.5}]}
    truth = {"impairments": {"preset": "lab", "seed": 7, "timing_offset_ns": 50.0}}
    writer = recording.RecordingWriter(tmp_path, 0, 2, 1e7, scenario_to_toml(scenario), "synthetic",
                                       epoch=(1_800_000_000, 0.5), calibration=calibration, ground_truth=truth)
    labels = [(0, (1_800_000_000, 0.5)), (250, (1_800_000_000, 0.5 + 1250 / 1e7))]  # 1000 samples lost at 250
    samples = (np.arange(1000) + 1j).astype(np.complex64).reshape(2, 500)
    writer.label(*labels[0][:1], *labels[0][1])
    writer.append(samples[:, :250])
    writer.label(labels[1][0], *labels[1][1])
    writer.append(samples[:, 250:])
    writer.close()

    reader = recording.RecordingReader(tmp_path, 0)
    assert reader.labels == labels  # exact (integer seconds and fraction kept apart)
    np.testing.assert_array_equal(reader.read(0, 500), samples)
    assert (reader.num_channels, reader.num_samples, reader.sample_rate_hz) == (2, 500, 1e7)
    assert reader.calibration == calibration and reader.epoch == (1_800_000_000, 0.5)
    assert reader.radio == "synthetic"
    import tomllib
    assert scenario_to_toml(scenario_from_dict(tomllib.loads(reader.scenario_toml), scenario.name)) == \
        scenario_to_toml(scenario)
    meta = json.loads(reader.meta_path.read_text())
    assert meta["global"][recording.GROUND_TRUTH_KEY] == truth  # the truth, only under its own key
    assert "impairments" not in tomllib.loads(reader.scenario_toml)
    assert [a["disac:samples_lost"] for a in meta["annotations"]] == [1000]
    assert [c["core:global_index"] for c in meta["captures"]] == [0, 1250]
    # the sigmf package reads it as any SigMF recording
    import sigmf
    handle = sigmf.sigmffile.fromfile(str(reader.meta_path))
    np.testing.assert_array_equal(handle.read_samples()[:, 1], samples[1])
    with pytest.raises(recording.RecordingError, match="ground_truth: only a recording of the synthetic air"):
        recording.RecordingWriter(tmp_path / "usrp", 0, 2, 1e7, "", "usrp", ground_truth=truth)


def pull_socket():
    sock = zmq.Context.instance().socket(zmq.PULL)
    sock.setsockopt(zmq.LINGER, 0)
    return sock, sock.bind_to_random_port("tcp://127.0.0.1")


def run_node_cli(argv, sock, frames):
    """Run `disac node …` in a thread, the snapshots it sends ({frame: array}) and its exit code."""
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("code", cli.main(argv)))
    thread.start()
    snapshots = {}
    while len(snapshots) < frames and sock.poll(20000):  # bounded wait, generous for a loaded machine
        message = wire.decode(sock.recv())
        snapshots[message.frame_number] = np.array(message.snapshot)
    thread.join(120)
    assert not thread.is_alive()
    return snapshots, result.get("code")


def test_cli_record_then_replay_sends_the_same_snapshots(tmp_path, capsys):
    frames = 4
    sock, port = pull_socket()
    try:
        common = ["node", "paper", "--node-number", "2", "--connect", f"tcp://127.0.0.1:{port}", "--frames", str(frames)]
        live, code = run_node_cli(common + ["--frame-rate-hz", "0", "--record", str(tmp_path)], sock, frames)
        assert code == 0
        report = json.loads(capsys.readouterr().out)  # the one JSON object the node prints
        assert report["recording"]["meta"].endswith("node-2.sigmf-meta") and report["recording"]["error"] is None
        replayed, code = run_node_cli(common + ["--radio", f"replay:{tmp_path}"], sock, frames)
        assert code == 0
        report = json.loads(capsys.readouterr().out)  # the one JSON object the node prints
    finally:
        sock.close(0)
    assert report["replay"]["radio"] == "synthetic" and report["frames"] == frames
    assert (report["overflow_partial"], report["overflow_lost"], report["rx_time_jumps"]) == (0, 0, 0)
    assert sorted(live) == sorted(replayed) == list(range(frames))
    for frame in live:
        np.testing.assert_array_equal(replayed[frame], live[frame])


@pytest.mark.parametrize("extra, fragment", [
    (["--radio", "replay:"], "--radio 'replay:': accepted: synthetic, usrp or replay:DIR"),
    (["--radio", "replay:/nonexistent/dir"], "no SigMF recording '/nonexistent/dir/node-1.sigmf-meta'"),
    (["--radio", "replay:/tmp", "--record", "/tmp/x"], "--record: not with --radio replay:DIR"),
])
def test_bad_replay_arguments_give_one_line_naming_the_value(extra, fragment, capsys):
    try:
        code = cli.main(["node", "paper", "--node-number", "1", "--connect", "tcp://127.0.0.1:5999"] + extra)
    except SystemExit as exc:
        code = exc.code
    assert code == 2
    assert fragment in capsys.readouterr().err.strip().splitlines()[-1]


def test_record_into_a_file_is_one_line_naming_it(tmp_path, capsys):
    target = tmp_path / "file"
    target.write_text("")
    argv = ["node", "paper", "--node-number", "1", "--connect", "tcp://127.0.0.1:5999", "--frames", "1",
            "--record", str(target)]
    try:
        code = cli.main(argv)
    except SystemExit as exc:
        code = exc.code
    assert code == 2
    assert f"--record {target}: recording directory '{target}' is a file" in capsys.readouterr().err


def test_a_recording_written_by_the_sigmf_package_reads_with_its_datetime_captures(tmp_path):
    """Any SigMF recording replays: one written with the sigmf package (no disac keys) gives its samples and
    its core:datetime captures as time labels (to the microsecond its ISO string holds)."""
    import sigmf
    from sigmf import SigMFFile

    samples = (np.arange(2 * 300) * (1 + 1j)).astype(np.complex64).reshape(300, 2)
    samples.tofile(tmp_path / "node-1.sigmf-data")
    meta = SigMFFile(data_file=str(tmp_path / "node-1.sigmf-data"), global_info={
        "core:datatype": "cf32_le", "core:sample_rate": 1e7, "core:num_channels": 2,
        "core:version": sigmf.__specification__})
    meta.add_capture(0, {"core:datetime": "2027-01-15T08:00:00.250000Z"})
    meta.add_capture(120, {"core:datetime": "2027-01-15T08:00:01.000001Z"})
    meta.tofile(str(tmp_path / "node-1"))
    reader = recording.RecordingReader(tmp_path, 0)
    assert reader.labels == [(0, (1_800_000_000, 0.25)), (120, (1_800_000_001, 0.000001))]
    np.testing.assert_array_equal(reader.read(0, 300), samples.T)
    assert reader.scenario_toml is None and reader.calibration is None and reader.radio is None
