# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""A D-ISAC node on a USRP (gr-uhd): its own transmitter and receiver on one (multi-channel) radio.

    isac_tx (node n) → [band_shift] → radio sink (Mt channels)
            └► tx_frame_log (the precoder version of every frame)
    radio source (Mr channels) → [band_shift] → rx_frame_tagger → node_rx → snapshot_push → central unit
                                                                            └─► message out snapshot

Sample rate = the scenario's bandwidth B, tuned to center_freq_hz on every channel, with tx/rx gains;
10 MHz and PPS from clock_source/time_source (time and frequency synchronisation; no phase
synchronisation: the model absorbs every node's oscillator phase). configure() sets the device time at
a PPS edge to the host's (NTP) second and starts both streams at epoch_s (Unix seconds, the same on
every node), so frame f leaves and is expected at epoch + f·frame_len/B on every node: the rx frame
tagger marks frame f at the received sample the radio's rx_time labels epoch + (f·frame_len +
rx_offset_samples)/B, with the precoder version and set identity the transmitter used for frame f. After
an overflow gr-uhd re-tags rx_time: the frames it cut are dropped and counted (tagger.overflow_partial,
overflow_lost), the later ones placed exactly. The epoch is split into whole seconds and a fraction once
(tags.split_seconds), the same way for the device's start time and for the framing.

Frequency grid: with "low-if" (default) band_shift multiplies the transmit and receive samples by (−1)^n
(a B/2 shift, exact for even L) so the radio's centred band carries the model's d(τ) (blocks/band_shift.py);
with "centred" the samples go out as they are and the central unit must use the centred grid.

The radio object makes the source and sink blocks (UhdRadio: gr-uhd's usrp_source/usrp_sink), so a test
injects stand-ins (tests/test_node_usrp.py). Errors are RadioSetupError (a ValueError) naming the value.
"""

import dataclasses
import time

from gnuradio import gr

from ..blocks import tags
from ..blocks.band_shift import band_shift
from ..blocks.isac_tx import isac_tx
from ..blocks.node_rx import node_rx
from ..blocks.precoder_sub import PRECODERS_PORT as SUB_PORT, precoder_sub
from ..blocks.rx_frame_tagger import rx_frame_tagger
from ..blocks.snapshot_push import snapshot_push
from ..blocks.tx_frame_log import tx_frame_log
from ..core import ofdm
from .synthetic_node import FRAMES_PER_MESSAGE, connect_node_messages

REFERENCE_SOURCES = ("internal", "external", "gpsdo")  # UHD's names for 10 MHz / PPS sources
MIN_EPOCH_LEAD_S = 3.0  # epoch must be this far ahead at start: PPS wait (≤ 1 s) + time set (1 s) + margin
PPS_WAIT_S = 1.5  # a PPS edge must show within this time
SAMPLE_RATE_TOLERANCE = 1e-6  # relative: the radio must run at B (a frame is frame_len samples at B)


class RadioSetupError(ValueError):
    """A radio setting or state that stops a USRP node; the message names the value (as an option)."""


@dataclasses.dataclass(frozen=True)
class UsrpSettings:
    """Everything a USRP node sets on the radio (checked by usrp_settings)."""

    device_args: str
    tx_channels: tuple
    rx_channels: tuple
    sample_rate_hz: float  # = the scenario's bandwidth B
    center_freq_hz: float
    tx_gain_db: float
    rx_gain_db: float
    clock_source: str  # 10 MHz: internal, external, gpsdo
    time_source: str  # PPS: internal, external, gpsdo
    epoch_s: float  # Unix time of frame 0 (both streams start then)
    frequency_grid: str = ofdm.DEFAULT_FREQUENCY_GRID  # low-if: (−1)^n on tx and rx (module docstring)
    rx_offset_samples: int = 0


def usrp_settings(scenario, device_args="", tx_channels=None, rx_channels=None, center_freq_hz=None,
                  tx_gain_db=0.0, rx_gain_db=0.0, clock_source="external", time_source="external", epoch_s=None,
                  frequency_grid=ofdm.DEFAULT_FREQUENCY_GRID, rx_offset_samples=0):
    """Checked UsrpSettings for a scenario; RadioSetupError naming the offending value and what is accepted."""
    mt, mr = scenario.tx_antennas, scenario.rx_antennas
    tx_channels = tuple(range(mt)) if tx_channels is None or len(tx_channels) == 0 else tuple(tx_channels)
    rx_channels = tuple(range(mr)) if rx_channels is None or len(rx_channels) == 0 else tuple(rx_channels)
    for name, channels, count, what in (("--tx-channels", tx_channels, mt, "Mt"),
                                        ("--rx-channels", rx_channels, mr, "Mr")):
        if len(channels) != count:
            listed = ",".join(map(str, channels))
            raise RadioSetupError(f"{name} {listed}: {len(channels)} channel(s), but scenario {scenario.name!r} has "
                                  f"{what} = {count}: give {count} channels, one per antenna")
    if center_freq_hz is None:
        raise RadioSetupError("--radio usrp needs --center-freq-hz HZ (the carrier, e.g. 3.5e9)")
    for name, value in (("--clock-source", clock_source), ("--time-source", time_source)):
        if value not in REFERENCE_SOURCES:
            raise RadioSetupError(f"{name} {value!r}: accepted: {', '.join(REFERENCE_SOURCES)}")
    if epoch_s is None:
        raise RadioSetupError("--radio usrp needs --epoch-s T: the Unix time of frame 0, the same on every node, "
                              f"at least {MIN_EPOCH_LEAD_S:g} s ahead (e.g. $(( $(date +%s) + 15 )))")
    if frequency_grid not in ofdm.FREQUENCY_GRIDS:
        raise RadioSetupError(f"--frequency-grid {frequency_grid!r}: accepted: {', '.join(ofdm.FREQUENCY_GRIDS)}")
    if frequency_grid == "low-if" and scenario.subcarriers % 2:
        raise RadioSetupError(f"--frequency-grid low-if: the B/2 shift needs an even number of subcarriers; scenario "
                              f"{scenario.name!r} has L = {scenario.subcarriers} (use --frequency-grid centred)")
    if rx_offset_samples < 0:
        raise RadioSetupError(f"--rx-offset-samples {rx_offset_samples}: accepted: a whole number of samples ≥ 0")
    return UsrpSettings(str(device_args), tx_channels, rx_channels, float(scenario.bandwidth_hz),
                        float(center_freq_hz), float(tx_gain_db), float(rx_gain_db), clock_source, time_source,
                        float(epoch_s), frequency_grid, int(rx_offset_samples))


class UhdRadio:
    """The real radio: gr-uhd's usrp_sink / usrp_source (fc32 samples, sc16 over the wire)."""

    def __init__(self):
        try:
            from gnuradio import uhd
        except ImportError as exc:
            raise RadioSetupError(f"--radio usrp needs GNU Radio's gr-uhd (`from gnuradio import uhd`): {exc}") from None
        self.uhd = uhd
        self.all_mboards = uhd.ALL_MBOARDS

    def _open(self, make, what, device_args, channels):
        try:
            return make(device_args, self.uhd.stream_args(cpu_format="fc32", otw_format="sc16",
                                                          channels=list(channels)))
        except RuntimeError as exc:
            reason = " ".join(str(exc).split())
            raise RadioSetupError(f"--device-args {device_args!r}: cannot open the USRP {what} on channels "
                                  f"{','.join(map(str, channels))} ({reason})") from None

    def sink(self, device_args, channels):
        return self._open(self.uhd.usrp_sink, "transmitter", device_args, channels)

    def source(self, device_args, channels):
        return self._open(self.uhd.usrp_source, "receiver", device_args, channels)

    def time_spec(self, seconds):
        whole, fraction = tags.split_seconds(seconds)  # the rx framing splits the epoch the same way
        return self.uhd.time_spec(whole, fraction)


def _seconds(time_spec):
    """A UHD time_spec (or a stand-in's float) in seconds."""
    return time_spec.get_real_secs() if hasattr(time_spec, "get_real_secs") else float(time_spec)


def configure_usrp(sink, source, settings, radio, now=time.time, sleep=time.sleep):
    """Set clock and time sources, sample rate, tuning and gains on every channel, the device time, and the
    start time of both streams (settings.epoch_s). Returns a dict of what was set (printed at start-up).

    Time: with an external or GPSDO PPS, wait for a PPS edge, then set the device time at the next edge
    to the host's next whole second (hosts on NTP agree on it to well under 0.5 s, so every node's
    device gets the same second); with an internal time source the device takes the host time now (one
    node, or tests: nodes on different hosts then agree only to the hosts' NTP error)."""
    everything = radio.all_mboards
    source.set_clock_source(settings.clock_source, everything)
    source.set_time_source(settings.time_source, everything)
    rates = {}
    for name, block, channels, gain in (("tx", sink, settings.tx_channels, settings.tx_gain_db),
                                        ("rx", source, settings.rx_channels, settings.rx_gain_db)):
        block.set_samp_rate(settings.sample_rate_hz)
        rates[name] = actual = float(block.get_samp_rate())
        if abs(actual - settings.sample_rate_hz) > SAMPLE_RATE_TOLERANCE * settings.sample_rate_hz:
            raise RadioSetupError(f"the USRP {name} runs at {actual:.6g} S/s, not the scenario's bandwidth "
                                  f"{settings.sample_rate_hz:.6g} Hz: give a master clock rate that B divides "
                                  f"(--device-args \"…,master_clock_rate=…\")")
        for index in range(len(channels)):  # gr-uhd's chan is the index in the stream's channel list
            block.set_center_freq(settings.center_freq_hz, index)
            block.set_gain(gain, index)
    if settings.time_source == "internal":
        source.set_time_now(radio.time_spec(now()), everything)
        time_set = "host time (internal time source: no PPS)"
    else:
        last = _seconds(source.get_time_last_pps())
        deadline = now() + PPS_WAIT_S
        while _seconds(source.get_time_last_pps()) == last:
            if now() > deadline:
                raise RadioSetupError(f"--time-source {settings.time_source}: no PPS edge within {PPS_WAIT_S:g} s: "
                                      "check the PPS cable (or GPS lock), or use --time-source internal for one node")
            sleep(0.01)
        second = round(now()) + 1  # the next edge is the host's next whole second
        source.set_time_next_pps(radio.time_spec(float(second)))
        sleep(1.1)  # the time registers take the value at that edge
        time_set = f"device time {second} s at a PPS edge"
    lead_s = settings.epoch_s - now()
    if lead_s < 0.5:
        raise RadioSetupError(f"--epoch-s {settings.epoch_s:.3f}: the radio was ready {-lead_s:.1f} s too late "
                              f"(frame 0 must be ahead): start every node at least {MIN_EPOCH_LEAD_S:g} s before it")
    start = radio.time_spec(settings.epoch_s)
    sink.set_start_time(start)
    source.set_start_time(start)
    source.set_recv_timeout(lead_s + 1.0, True)  # the first samples come at the epoch
    return {"sample_rate_hz": rates, "center_freq_hz": settings.center_freq_hz, "time": time_set,
            "start_in_s": round(lead_s, 3)}


class usrp_node(gr.hier_block2):
    """One node on a USRP (module docstring). No stream ports.

    Ports (messages)
      precoder  in: precoder sets for the transmitter (isac_tx's ``precoder`` port)
      snapshot  out: the receiver's snapshots

    Parameters
      scenario, node_id, seed, wc, wr, max_frames   as isac_tx (max_frames: also the frames received)
      address, bind, pattern, hwm                    the snapshot link (snapshot_push)
      device_args, tx_channels, rx_channels          UHD device and channels (empty: 0 … Mt−1, 0 … Mr−1)
      center_freq_hz, tx_gain_db, rx_gain_db, clock_source, time_source, epoch_s   set by configure()
      frequency_grid, rx_offset_samples              band shift on/off; received samples before frame 0
      precoders_address, precoders_server_public_key a beamformer server's PUB socket ("" for none)
      security, secret_key_file, server_public_key, allowed_keys_file   the links' security (net.py)
      radio                                          None: UhdRadio(); a test's stand-in otherwise

    Attributes: settings, radio, transmitter, sink, source, tx_log, tagger, receiver, push, precoder_sub.
    configure(now, sleep) applies the settings (configure_usrp) and returns what it set.
    """

    def __init__(self, scenario="paper", node_id=0, seed=0, wc=None, wr=None, max_frames=0,
                 address="tcp://127.0.0.1:5555", bind=False, pattern="push", hwm=1000, device_args="",
                 tx_channels=(), rx_channels=(), center_freq_hz=3.5e9, tx_gain_db=0.0, rx_gain_db=0.0,
                 clock_source="external", time_source="external", epoch_s=None,
                 frequency_grid=ofdm.DEFAULT_FREQUENCY_GRID, rx_offset_samples=0, precoders_address="",
                 security="open", secret_key_file="", server_public_key="", allowed_keys_file="",
                 precoders_server_public_key="", radio=None, frames_per_message=FRAMES_PER_MESSAGE):
        s = tags.as_scenario(scenario)
        gr.hier_block2.__init__(self, f"disac_usrp_node_{int(node_id)}", gr.io_signature(0, 0, 0),
                                gr.io_signature(0, 0, 0))
        self.settings = usrp_settings(s, device_args, tx_channels, rx_channels, center_freq_hz, tx_gain_db,
                                      rx_gain_db, clock_source, time_source, epoch_s, frequency_grid,
                                      rx_offset_samples)
        self.radio = UhdRadio() if radio is None else radio
        self.transmitter = isac_tx(s, node_id, seed, wc, wr, max_frames)
        self.sink = self.radio.sink(self.settings.device_args, self.settings.tx_channels)
        self.source = self.radio.source(self.settings.device_args, self.settings.rx_channels)
        self.tx_log = tx_frame_log()
        self.tagger = rx_frame_tagger(s.without_impairments(), node_id, s.rx_antennas, self.tx_log, max_frames,
                                      rx_offset_samples, tags.split_seconds(self.settings.epoch_s))
        self.receiver = node_rx(s, node_id, frames_per_message=frames_per_message)
        self.push = snapshot_push(address, bind, pattern, hwm, security, secret_key_file, server_public_key,
                                  allowed_keys_file) if address else None
        self.precoder_sub = None
        if precoders_address:
            self.precoder_sub = precoder_sub(precoders_address, s, node_id, security, secret_key_file,
                                             precoders_server_public_key or server_public_key, allowed_keys_file)
        shift = frequency_grid == "low-if"  # (−1)^n: subcarrier l on the air at f_c + (l − L/2)·B/L
        rx_shift = shift and getattr(self.radio, "band_shift", True)  # a replay of synthetic air: no shift
        self.tx_shift = band_shift(s.tx_antennas) if shift else None
        self.rx_shift = band_shift(s.rx_antennas) if rx_shift else None
        self.connect((self.transmitter, 0), self.tx_log)
        for i in range(s.tx_antennas):
            if shift:
                self.connect((self.transmitter, i), (self.tx_shift, i), (self.sink, i))
            else:
                self.connect((self.transmitter, i), (self.sink, i))
        for r in range(s.rx_antennas):
            if rx_shift:
                self.connect((self.source, r), (self.rx_shift, r), (self.tagger, r))
            else:
                self.connect((self.source, r), (self.tagger, r))
            self.connect((self.tagger, r), (self.receiver, r))
        connect_node_messages(self, self.transmitter, self.receiver, self.push)
        if self.precoder_sub is not None:
            self.msg_connect(self.precoder_sub, SUB_PORT, self.transmitter, tags.PRECODER_PORT)

    def configure(self, now=time.time, sleep=time.sleep):
        """Apply the radio settings (configure_usrp); a dict of what was set."""
        return configure_usrp(self.sink, self.source, self.settings, self.radio, now=now, sleep=sleep)

    def frames_done(self):
        """True once the rx framing has passed the last frame asked for, tagged or dropped after an overflow (the
        rx stream never ends by itself)."""
        return bool(self.tagger.max_frames) and self.tagger.frames_accounted >= self.tagger.max_frames
