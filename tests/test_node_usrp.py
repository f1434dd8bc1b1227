# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""`disac node --radio usrp` without a radio: the flowgraph construction with stand-in source/sink blocks.

What is tested here (no USRP on this machine): the wiring of build_usrp_node (channel counts, the
transmitter into the sink, the source through the rx frame tagger into node_rx and out over ZeroMQ, one
snapshot per frame with the right frame number, node id and shape); what configure_usrp sets (clock and
time sources, sample rate = B, tuning and gain on every channel, the PPS wait and time set, the start time
at the epoch) on a recording stand-in with a fake clock; the B/2 shift of --frequency-grid low-if through a
synthetic air with a radio's centred band; one-line errors for bad arguments, and gr-uhd's "no device"
turned into one. Not tested: anything a real USRP does (UHD's timed start, PPS, tuning, gains, latency).
"""

import math
import types

import numpy as np
import pytest
import zmq
from gnuradio import analog, blocks, gr

from gnuradio.disac.apps import cli, node_cmd
from gnuradio.disac.blocks.sensing_channel import sensing_channel
from gnuradio.disac.core import model, ofdm, wire
from gnuradio.disac.core.scenario import load_scenario

C_M_S = 299_792_458.0
EPOCH_S = 1010.0


class FakeClock:
    """Host time that advances only when the code under test sleeps; PPS edges at whole seconds."""

    def __init__(self, start_s=1000.3):
        self.t = start_s

    def now(self):
        return self.t

    def sleep(self, seconds):
        self.t += seconds


class StandInAir(gr.hier_block2):
    """Stands in for the USRP: Mt inputs (the sink), Mr outputs (the source); records every setting call.

    ``inner(self)`` wires the inside (a null sink and noise, or a synthetic channel)."""

    def __init__(self, mt, mr, inner, clock):
        gr.hier_block2.__init__(self, "stand_in_air", gr.io_signature(mt, mt, gr.sizeof_gr_complex),
                                gr.io_signature(mr, mr, gr.sizeof_gr_complex))
        self.calls, self.clock, self.rate = [], clock, None
        inner(self)

    def _record(name):
        def method(self, *args):
            self.calls.append((name,) + args)
        return method

    set_clock_source = _record("set_clock_source")
    set_time_source = _record("set_time_source")
    set_center_freq = _record("set_center_freq")
    set_gain = _record("set_gain")
    set_time_now = _record("set_time_now")
    set_time_next_pps = _record("set_time_next_pps")
    set_start_time = _record("set_start_time")
    set_recv_timeout = _record("set_recv_timeout")

    def set_samp_rate(self, rate):
        self.calls.append(("set_samp_rate", rate))
        self.rate = rate

    def get_samp_rate(self):
        return self.rate

    def get_time_last_pps(self):
        return float(math.floor(self.clock.t))


class StandInRadio:
    """radio for build_usrp_node: sink and source are one StandInAir (a loopback)."""

    all_mboards = "ALL"

    def __init__(self, air):
        self.air, self.opened = air, []

    def sink(self, device_args, channels):
        self.opened.append(("sink", device_args, tuple(channels)))
        return self.air

    def source(self, device_args, channels):
        self.opened.append(("source", device_args, tuple(channels)))
        return self.air

    def time_spec(self, seconds):
        return float(seconds)


def run_node(scenario, air, frames, grid="low-if", seed=0, clock=None):
    """Build, configure and run one stand-in USRP node 0; returns (snapshots by frame, radio, report, node)."""
    clock = clock or FakeClock()
    settings = node_cmd.usrp_settings(scenario, "type=stand-in", None, None, 3.5e9, 10.0, 20.0,
                                      "external", "external", EPOCH_S, grid)
    radio = StandInRadio(air)
    wc, wr = ofdm.default_precoders(ofdm.layout_from_scenario(scenario), scenario.per_antenna_power)
    sock = zmq.Context.instance().socket(zmq.PULL)
    sock.setsockopt(zmq.LINGER, 0)
    port = sock.bind_to_random_port("tcp://127.0.0.1")
    try:
        tb = gr.top_block()
        node = node_cmd.build_usrp_node(tb, scenario, 0, wc, wr, frames, seed, f"tcp://127.0.0.1:{port}",
                                        settings, radio)
        report = node_cmd.configure_usrp(node.sink, node.source, settings, radio, now=clock.now, sleep=clock.sleep)
        tb.run()
        snapshots = {}
        while len(snapshots) < frames and sock.poll(5000):  # bounded wait, generous for a loaded machine
            message = wire.decode(sock.recv())
            snapshots[message.frame_number] = message
    finally:
        sock.close(0)
    return snapshots, radio, report, node


def noise_air(scenario, frames, clock):
    lay = ofdm.layout_from_scenario(scenario)

    def inner(air):
        air.keep = [blocks.null_sink(gr.sizeof_gr_complex) for _ in range(scenario.tx_antennas)]
        for i, sink in enumerate(air.keep):
            air.connect((air, i), sink)
        noise = analog.noise_source_c(analog.GR_GAUSSIAN, 1.0, 3)
        head = blocks.head(gr.sizeof_gr_complex, frames * lay.frame_len)
        air.connect(noise, head)
        for r in range(scenario.rx_antennas):
            air.connect(head, (air, r))
    return StandInAir(scenario.tx_antennas, scenario.rx_antennas, inner, clock)


def test_wiring_counts_and_settings_on_the_paper_scenario():
    scenario = load_scenario("paper")  # N = 2, Mt = 6, Mr = 16, L = 16, P = 1, B = 10 MHz
    frames, clock = 12, FakeClock()
    air = noise_air(scenario, frames, clock)
    snapshots, radio, report, node = run_node(scenario, air, frames, clock=clock)

    assert radio.opened == [("sink", "type=stand-in", tuple(range(6))), ("source", "type=stand-in", tuple(range(16)))]
    # one snapshot per frame, in order, from node 0, the scenario's (Mr, L, P)
    assert sorted(snapshots) == list(range(frames))
    assert all(m.node_id == 0 and m.precoder_version == 0 and m.snapshot.shape == (16, 16, 1)
               for m in snapshots.values())
    assert node.receiver.frames_received == frames and node.tagger.versions_guessed == 0

    calls = air.calls
    assert calls[:2] == [("set_clock_source", "external", "ALL"), ("set_time_source", "external", "ALL")]
    assert [c for c in calls if c[0] == "set_samp_rate"] == [("set_samp_rate", 10e6)] * 2  # tx, rx: rate = B
    freqs = [c for c in calls if c[0] == "set_center_freq"]
    gains = [c for c in calls if c[0] == "set_gain"]
    assert freqs == [("set_center_freq", 3.5e9, i) for i in range(6)] + [("set_center_freq", 3.5e9, r) for r in range(16)]
    assert gains == [("set_gain", 10.0, i) for i in range(6)] + [("set_gain", 20.0, r) for r in range(16)]
    # the PPS edge at 1001 s (fake clock started at 1000.3 s); the time set at the next one, 1002 s
    assert ("set_time_next_pps", 1002.0) in calls
    assert [c for c in calls if c[0] == "set_start_time"] == [("set_start_time", EPOCH_S)] * 2
    assert report["time"].startswith("device time 1002 s") and report["start_in_s"] == pytest.approx(EPOCH_S - clock.t)


def test_internal_time_source_sets_host_time_and_a_late_epoch_is_refused():
    scenario = load_scenario("paper")
    clock = FakeClock(1000.3)
    air = noise_air(scenario, 1, clock)
    radio = StandInRadio(air)
    settings = node_cmd.usrp_settings(scenario, "", None, None, 2.4e9, 0, 0, "internal", "internal", EPOCH_S)
    node_cmd.configure_usrp(air, air, settings, radio, now=clock.now, sleep=clock.sleep)
    assert ("set_time_now", 1000.3, "ALL") in air.calls and not any(c[0] == "set_time_next_pps" for c in air.calls)
    late = dataclass_replace(settings, epoch_s=1000.5)
    with pytest.raises(cli.UsageError, match=r"--epoch-s 1000\.500: the radio was ready"):
        node_cmd.configure_usrp(air, air, late, radio, now=clock.now, sleep=clock.sleep)


def test_missing_pps_and_wrong_sample_rate_are_named():
    scenario = load_scenario("paper")
    clock = FakeClock(1000.3)
    air = noise_air(scenario, 1, clock)
    air.get_time_last_pps = lambda: 999.0  # no edge ever
    settings = node_cmd.usrp_settings(scenario, "", None, None, 2.4e9, epoch_s=EPOCH_S)
    with pytest.raises(cli.UsageError, match="--time-source external: no PPS edge within"):
        node_cmd.configure_usrp(air, air, settings, StandInRadio(air), now=clock.now, sleep=clock.sleep)
    air.get_samp_rate = lambda: 9.8e6  # a radio that cannot make B
    with pytest.raises(cli.UsageError, match=r"runs at 9\.8e\+06 S/s, not the scenario's bandwidth 1e\+07 Hz"):
        node_cmd.configure_usrp(air, air, settings, StandInRadio(air), now=clock.now, sleep=clock.sleep)


def dataclass_replace(settings, **changes):
    import dataclasses

    return dataclasses.replace(settings, **changes)


# ---- the B/2 shift: the model's low-IF d(τ) through a radio's centred band ---------------------------

def one_target_scenario():
    # one node (monostatic link only) and one target: every snapshot is one echo, b·a_r a_tᵀ X d(τ)
    return load_scenario("fig5-single-m6").replace(target_positions_m=[[-65.0, 25.0]])


def centred_air(scenario, clock):
    """The air as a radio sees it: a synthetic sensing channel on the centred grid, noise off."""
    def inner(air):
        air.channel = sensing_channel(scenario, 0, 5, noise=False, frequency_grid="centred")
        for i in range(scenario.tx_antennas):
            air.connect((air, i), (air.channel, i))
        for r in range(scenario.rx_antennas):
            air.connect((air.channel, r), (air, r))
    return StandInAir(scenario.tx_antennas, scenario.rx_antennas, inner, clock)


def low_if_model(scenario, frame, seed=0):
    """The core's noiseless snapshot of a frame on the low-IF grid (eq. 3), node 0, default precoders."""
    layout = ofdm.layout_from_scenario(scenario)
    wc, wr = ofdm.default_precoders(layout, scenario.per_antenna_power)
    x = ofdm.transmitted_frames(layout, seed, [frame], 0, wc, wr)[0][None]  # (N = 1, Mt, L, P)
    return model.sensing_mean(scenario.target_angles_rad(), scenario.target_delays_s(),
                              scenario.target_amplitudes(), x, scenario.rx_antennas, scenario.bandwidth_hz)[0]


def fit_common_factor(measured, reference):
    """(c, relative residual) of measured ≈ c·reference over every RE of every frame."""
    y, r = np.concatenate([m.ravel() for m in measured]), np.concatenate([m.ravel() for m in reference])
    c = np.vdot(r, y) / np.vdot(r, r)
    return c, np.linalg.norm(y - c * r) / np.linalg.norm(y)


def test_half_band_shift_makes_a_centred_radio_band_match_the_low_if_model():
    scenario = one_target_scenario()
    frames = 8
    reference = [low_if_model(scenario, f) for f in range(frames)]

    clock = FakeClock()
    shifted, *_ = run_node(scenario, centred_air(scenario, clock), frames, grid="low-if", clock=clock)
    c, residual = fit_common_factor([shifted[f].snapshot for f in range(frames)], reference)
    # complex64 samples through FFTs and two rotators: errors ~1e-6 relative; 1e-4 leaves room, while the
    # unshifted band below misses by order 1
    assert residual < 1e-4
    tau_s = 2 * np.linalg.norm(scenario.target_positions_m[0] - scenario.node_positions_m[0]) / C_M_S
    # the one phase per echo that b absorbs: e^{jπBτ} (up to the sign of (−1)^n at the frame start)
    assert abs(abs(c * np.exp(-1j * np.pi * scenario.bandwidth_hz * tau_s)) - 1) < 1e-3
    assert min(abs(c * np.exp(-1j * np.pi * scenario.bandwidth_hz * tau_s) - s) for s in (1, -1)) < 1e-3

    clock = FakeClock()
    unshifted, *_ = run_node(scenario, centred_air(scenario, clock), frames, grid="centred", clock=clock)
    _, residual = fit_common_factor([unshifted[f].snapshot for f in range(frames)], reference)
    assert residual > 0.1  # the centred band is not the low-IF model: delays at B·τ = 9.3 samples differ


# ---- command-line validation ----------------------------------------------------------------------

BASE = ["node", "paper", "--node", "0", "--connect", "tcp://127.0.0.1:5999", "--radio", "usrp"]


def cli_error(argv, capsys):
    """The last stderr line of a failing `disac` run (argparse's own errors exit with SystemExit(2))."""
    try:
        code = cli.main(argv)
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    return err[-1]


@pytest.mark.parametrize("extra, fragment", [
    (["--tx-channels", "0,1", "--center-freq-hz", "3.5e9", "--epoch-s", "9e9"],
     "--tx-channels 0,1: 2 channel(s), but scenario 'paper' has Mt = 6: give 6 channels"),
    (["--rx-channels", "0,1,2,3", "--center-freq-hz", "3.5e9", "--epoch-s", "9e9"],
     "--rx-channels 0,1,2,3: 4 channel(s), but scenario 'paper' has Mr = 16: give 16 channels"),
    (["--epoch-s", "9e9"], "--radio usrp needs --center-freq-hz HZ"),
    (["--center-freq-hz", "3.5e9"], "--radio usrp needs --epoch-s T"),
    (["--center-freq-hz", "3.5e9", "--epoch-s", "1000"], "--epoch-s 1000.000:"),
    (["--center-freq-hz", "3.5e9", "--epoch-s", "9e9", "--frame-rate", "5"], "--frame-rate-hz 5: only for the synthetic radio"),
    (["--center-freq-hz", "3.5e9", "--epoch-s", "9e9", "--rx-offset-samples", "-3"], "--rx-offset-samples -3:"),
    (["--tx-channels", "0,a"], "--tx-channels = '0,a': expected channel numbers separated by commas"),
    (["--rx-channels", "0,0"], "--rx-channels = '0,0': expected distinct channel numbers"),
    (["--clock-source", "rubidium"], "invalid choice: 'rubidium'"),
])
def test_bad_usrp_arguments_give_one_line_naming_the_value(extra, fragment, capsys):
    assert fragment in cli_error(BASE + extra, capsys)


def test_usrp_options_on_a_synthetic_node_are_refused(capsys):
    argv = ["node", "paper", "--node", "0", "--connect", "tcp://127.0.0.1:5999", "--center-freq-hz", "3.5e9"]
    assert "--center-freq-hz: only with --radio usrp" in cli_error(argv, capsys)


def test_no_usrp_found_is_one_line_naming_the_device_args(capsys):
    # the real gr-uhd path up to opening the device: 192.0.2.1 is a documentation address, never a radio
    import time

    argv = BASE + ["--device-args", "type=x300,addr=192.0.2.1", "--center-freq-hz", "3.5e9",
                   "--epoch-s", str(time.time() + 60), "--frames", "1"]
    line = cli_error(argv, capsys)
    assert line.startswith("disac: error: --device-args 'type=x300,addr=192.0.2.1': cannot open the USRP")
