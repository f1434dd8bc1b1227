"""`disac node SCENARIO --node N --connect ADDR …`: one ISAC node as its own process (synthetic radio or USRP).

Synthetic radio (--radio synthetic, the default): the node runs the PHY chain of one receiving node and
ships its snapshots to the central unit:

    isac_tx (every node m, seed, precoders) → sensing_channel (rx node N, channel seed, AWGN)
        → frame clock → node_rx (N) → snapshot_push (ZeroMQ PUSH/PUB, --connect or --bind)

The air is simulated in the process, so the node runs every node's transmitter (its echoes reach node
N); the frames, the oscillator phases and the noise are functions of the seeds and the frame number
only, so a node process produces exactly the snapshots of the single-process chain (`disac localize`,
same seeds).

USRP (--radio usrp, gr-uhd): the node's own transmitter and receiver on one (multi-channel) USRP:

    isac_tx (node N) → [half-band shift] → usrp_sink (--tx-channels, Mt of them)
    usrp_source (--rx-channels, Mr of them) → [half-band shift] → rx frame tagger → node_rx (N) → snapshot_push

Sample rate = the scenario's bandwidth B, tuned to --center-freq on every channel, --tx-gain/--rx-gain;
10 MHz and PPS from --clock-source/--time-source (time and frequency synchronisation; no phase
synchronisation: the model absorbs every node's oscillator phase). The device time is set at a PPS edge
to the host's (NTP) second, and both streams start at --epoch (Unix seconds, the same on every node), so
frame f leaves and is expected at epoch + f·frame_len/B on every node: the rx frame tagger marks frame f
at received sample f·frame_len + --rx-offset-samples (the node's own transmitter clock, as the synthetic
sensing channel's forwarded tags do), with the precoder version its transmitter used for frame f.

Frequency grid: the core's delay steering d(τ) puts subcarrier l at l·B/L ("low-if"); a radio's baseband
at rate B spans [−B/2, B/2) ("centred": bins l ≥ L/2 at (l − L)·B/L). With --frequency-grid low-if (the
default) the node multiplies its transmit and receive samples by (−1)^n (a B/2 shift, exact for even L):
subcarrier l is then on the air at f_c + (l − L/2)·B/L, so a delay τ gives d_l(τ)·e^{jπBτ} — the model's
d(τ) times one phase per echo, which the unknown amplitude b_{n,m}^k absorbs. The central unit then uses
the model as it is (`disac cu` needs no option). With --frequency-grid centred the samples go out as they
are and the central unit must use core.ofdm.bin_frequencies_hz(…, grid="centred") for d(τ), which
core.localizer does not do yet (the synthetic sensing_channel has frequency_grid="centred" to emulate it).
docs/deployment.md has the whole set-up.

The construction is build_usrp_node(…, radio=…): the radio object makes the source and sink blocks, so a
test injects stand-ins (tests/test_node_usrp.py); configure_usrp(…) applies rate, tuning, gains and time.

Frame clock (synthetic radio only): with --frame-rate R, frame f leaves the receiver at
--epoch + f/R (Unix seconds; default: when the node starts), as a radio's frame counter driven by a
shared time reference would; frames whose time has passed go at once. A node started late (or
restarted) therefore catches up from frame 0 at full speed (the central unit counts those snapshots as
late) and then runs in step with the others. --frames F stops the node after frame F−1, so the process
ends by itself. At the end it prints one JSON line of counters (sent, dropped, rejected, bytes_sent).

Precoders (--precoders): "default" (core.ofdm.default_precoders), "random" (seeded, as `disac
loopback --precoders random`), "designed" (core.beamformer at --sinr-db), or the path of a file holding
one core.wire PRECODERS message (every node's W_c, W_r). The central unit must use the same. With
--precoders-from ADDR the node also subscribes to a beamformer server's PUB socket (blocks.precoder_sub)
and each new set replaces the precoders at the next frame boundary.

Security (python/disac/net.py, docs/deployment.md): without options every link is open (said on stderr at
start-up). --curve-secret FILE (this node's NAME.key_secret from `disac keys`) turns on ZeroMQ CURVE
on every socket: a connecting socket needs the server's public key (--curve-server-key for the central
unit, --precoders-server-key for the beamformer server, default --curve-server-key), a binding socket
the allowed client keys (--curve-allow FILE).
"""

import bisect
import dataclasses
import math
import os
import sys
import threading
import time

import numpy as np

from ..core import ofdm, wire
from ..core.scenario import PRESETS, load_scenario
from .cli import UsageError, finite_float, print_json

PRECODER_CHOICES = ("default", "random", "designed")
RADIOS = ("synthetic", "usrp")
REFERENCE_SOURCES = ("internal", "external", "gpsdo")  # UHD's names for 10 MHz / PPS sources
DEFAULT_FRAME_RATE = 10.0  # frames per second of the synthetic radio's frame clock
MIN_EPOCH_LEAD_S = 3.0  # --epoch must be this far ahead at start: PPS wait (≤ 1 s) + time set (1 s) + margin
PPS_WAIT_S = 1.5  # a PPS edge must show within this time
SAMPLE_RATE_TOLERANCE = 1e-6  # relative: the radio must run at B (a frame is frame_len samples at B)


# node_rx batches the frames it finishes in one call into one message (snapshot_push sends one wire
# message per frame all the same): the per-message cost (~10 µs) is what kept L = 16 from real time
# (docs/blocks.md, node_rx). Nothing waits for a batch to fill, so latency is unchanged.
FRAMES_PER_MESSAGE = 64

def register(subparsers):
    parser = subparsers.add_parser("node", help="run one ISAC node (synthetic radio or USRP) that sends its "
                                   "snapshots to a central unit over ZeroMQ")
    parser.add_argument("scenario", help=f"a preset ({', '.join(PRESETS)}) or a TOML file")
    parser.add_argument("--node", type=int, required=True, help="this node's id, 0 … N−1")
    add_link_arguments(parser, "the central unit's snapshot address")
    parser.add_argument("--pattern", choices=("push", "pub"), default="push", help="ZeroMQ pattern (default push)")
    parser.add_argument("--radio", choices=RADIOS, default="synthetic", help="synthetic (default) or usrp (gr-uhd)")
    add_chain_arguments(parser)
    parser.add_argument("--precoders-from", metavar="ADDR", default="",
                        help="also take precoder sets from a beamformer server's PUB socket (tcp://host:5561)")
    add_curve_arguments(parser, precoders_link=True)
    parser.add_argument("--frame-rate", type=finite_float("--frame-rate", 0.0, 1e6), default=None,
                        help=f"synthetic radio: frames per second of the frame clock (0: as fast as possible; "
                        f"default {DEFAULT_FRAME_RATE:g}); a USRP runs at its sample rate")
    parser.add_argument("--epoch", type=finite_float("--epoch", 0.0), default=None,
                        help="Unix time (s) of frame 0, the same on every node (synthetic: default now; "
                        f"usrp: required, at least {MIN_EPOCH_LEAD_S:g} s ahead)")
    parser.add_argument("--frequency-grid", choices=ofdm.FREQUENCY_GRIDS, default=ofdm.DEFAULT_FREQUENCY_GRID,
                        help="low-if (default: the model's d(τ); usrp: a B/2 shift on tx and rx) or centred "
                        "(the radio's own band; the central unit must use the centred grid)")
    usrp = parser.add_argument_group("USRP (--radio usrp)")
    usrp.add_argument("--device-args", default="", help='UHD device arguments, e.g. "type=x300,addr=192.168.10.2"')
    usrp.add_argument("--tx-channels", type=channel_list("--tx-channels"), default=None, metavar="LIST",
                      help="USRP transmit channels, one per antenna, e.g. 0,1,2,3,4,5 (default 0 … Mt−1)")
    usrp.add_argument("--rx-channels", type=channel_list("--rx-channels"), default=None, metavar="LIST",
                      help="USRP receive channels, one per antenna (default 0 … Mr−1)")
    usrp.add_argument("--center-freq", type=finite_float("--center-freq", 1e3, 1e11), default=None, metavar="HZ",
                      help="carrier frequency in Hz (required with --radio usrp)")
    usrp.add_argument("--tx-gain", type=finite_float("--tx-gain", -10.0, 100.0), default=0.0, metavar="DB",
                      help="transmit gain in dB on every channel (default 0)")
    usrp.add_argument("--rx-gain", type=finite_float("--rx-gain", -10.0, 100.0), default=0.0, metavar="DB",
                      help="receive gain in dB on every channel (default 0)")
    usrp.add_argument("--clock-source", choices=REFERENCE_SOURCES, default="external",
                      help="10 MHz reference (default external; gpsdo for a GPS-disciplined oscillator)")
    usrp.add_argument("--time-source", choices=REFERENCE_SOURCES, default="external",
                      help="PPS (default external; internal: host time, one node only)")
    usrp.add_argument("--rx-offset-samples", type=int, default=0, metavar="S",
                      help="receive samples to skip before frame 0: the measured tx→rx latency of the "
                      "radios (default 0)")
    parser.set_defaults(func=run_command)


def add_curve_arguments(parser, precoders_link=False):
    """--curve-secret, --curve-server-key, --curve-allow (and --precoders-server-key): net.LinkSecurity."""
    group = parser.add_argument_group("security (ZeroMQ CURVE, keys from `disac keys`; default: open links)")
    group.add_argument("--curve-secret", metavar="FILE", default="",
                       help="this peer's secret key file (NAME.key_secret): turns CURVE on for every socket")
    group.add_argument("--curve-server-key", metavar="KEY|FILE", default="",
                       help="the public key (40 Z85 characters or a .key file) of the server a socket connects to")
    group.add_argument("--curve-allow", metavar="FILE", default="",
                       help="allowed client public keys, one per line, for the sockets this process binds")
    if precoders_link:
        group.add_argument("--precoders-server-key", metavar="KEY|FILE", default="",
                           help="the beamformer server's public key for --precoders-from (default --curve-server-key)")


def security_from_args(args):
    """(security of the main links, security of the --precoders-from link) from add_curve_arguments'
    options; UsageError for an option given without --curve-secret."""
    from .. import net

    given = [f"--{name.replace('_', '-')}" for name in ("curve_server_key", "curve_allow", "precoders_server_key")
             if getattr(args, name, "")]
    if not args.curve_secret:
        if given:
            raise UsageError(f"{', '.join(given)}: CURVE needs --curve-secret FILE (this peer's secret key file)")
        return net.LinkSecurity.open(), net.LinkSecurity.open()
    security = net.LinkSecurity.curve(args.curve_secret, args.curve_server_key, args.curve_allow)
    precoders_key = getattr(args, "precoders_server_key", "") or args.curve_server_key
    return security, security.with_server_key(precoders_key)


def add_link_arguments(parser, what):
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--connect", metavar="ADDR", help=f"connect to {what} (tcp://host:port, ipc://path)")
    group.add_argument("--bind", metavar="ADDR", help=f"bind {what} here (tcp://*:port, ipc://path)")


def add_chain_arguments(parser):
    """Options every process of one system must share: seeds, precoders, frames."""
    parser.add_argument("--seed", type=int, default=0, help="data seed (default 0)")
    parser.add_argument("--channel-seed", type=int, default=None, help="channel seed (default: seed + 1)")
    parser.add_argument("--precoders", default="random", metavar="KIND|FILE",
                        help="default, random (default), designed, or a file with a wire PRECODERS message")
    parser.add_argument("--sinr-db", type=finite_float("--sinr-db", -50.0, 60.0), default=10.0,
                        help="with --precoders designed: the SINR threshold Γ_c (dB, default 10)")
    parser.add_argument("--frames", type=int, default=100, help="frames to run, 0 for no end (default 100)")


def channel_list(name):
    """An argparse type: comma-separated USRP channel numbers (distinct, ≥ 0), else a message naming the value."""
    import argparse

    def parse(text):
        try:
            channels = tuple(int(part) for part in text.split(","))
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} = {text!r}: expected channel numbers separated by "
                                             "commas, e.g. 0,1,2,3") from None
        if any(c < 0 for c in channels) or len(set(channels)) != len(channels):
            raise argparse.ArgumentTypeError(f"{name} = {text!r}: expected distinct channel numbers ≥ 0")
        return channels
    return parse


def resolve_precoders(scenario, kind, sinr_db=10.0, seed=0):
    """(W_c (N, Mt, U), W_r (N, Mt, Mt)) for --precoders KIND|FILE; UsageError naming a bad value."""
    layout = ofdm.layout_from_scenario(scenario)
    n = scenario.num_nodes
    if kind == "default":
        wc, wr = ofdm.default_precoders(layout, scenario.per_antenna_power)
        return np.stack([wc] * n), np.stack([wr] * n)
    if kind == "random":
        from .loopback_cmd import random_precoders

        return random_precoders(scenario, 0.5, seed)
    if kind == "designed":
        from .loopback_cmd import designed_precoders

        return designed_precoders(scenario, sinr_db)
    if not os.path.isfile(kind):
        raise UsageError(f"--precoders {kind!r}: accepted: {', '.join(PRECODER_CHOICES)}, or a file holding "
                         "a wire PRECODERS message")
    with open(kind, "rb") as handle:
        data = handle.read(wire.MAX_MESSAGE_BYTES + 1)
    try:
        message = wire.decode(data)
    except wire.WireError as exc:
        raise UsageError(f"--precoders {kind!r}: not a precoder file: {exc}") from None
    if not isinstance(message, wire.PrecoderMessage):
        raise UsageError(f"--precoders {kind!r}: holds a {type(message).__name__}, expected a PRECODERS message")
    wc, wr = message.comm_precoders, message.radar_precoders
    for m in range(n):
        try:
            ofdm.check_precoders(layout, wc[m] if m < len(wc) else None, wr[m] if m < len(wr) else None)
        except (ofdm.FrameError, TypeError, IndexError) as exc:
            raise UsageError(f"--precoders {kind!r}, node {m}: {exc}") from None
    if len(wc) != n or len(wr) != n:
        raise UsageError(f"--precoders {kind!r}: precoders of {len(wc)} nodes, the scenario has {n}")
    return np.asarray(wc), np.asarray(wr)


def quiet_gnuradio_info():
    """GNU Radio logs block set-up at level info on stdout, which would mix with the JSON these apps print
    there: keep warnings and errors only, and send them to stderr (GR_CONF_LOG_LOG_FILE is read when
    GNU Radio's runtime loads, i.e. unless this process has loaded it already)."""
    os.environ.setdefault("GR_CONF_LOG_LOG_FILE", "stderr")
    from gnuradio import gr

    gr.logging().set_default_level(gr.log_levels.warn)


def load_checked_scenario(name):
    scenario = load_scenario(name)
    try:
        ofdm.layout_from_scenario(scenario)
    except ofdm.FrameError as exc:
        raise UsageError(f"scenario {scenario.name!r}: {exc}") from None
    return scenario


def frame_clock_block(layout, frame_rate, epoch_s):
    """A pass-through stream block that lets frame f out no earlier than epoch_s + f/frame_rate."""
    from gnuradio import gr

    class frame_clock(gr.sync_block):
        """Synthetic radio's frame clock: whole frames, each released at its time (see module docstring)."""

        def __init__(self):
            gr.sync_block.__init__(self, name="disac_frame_clock", in_sig=[np.complex64], out_sig=[np.complex64])
            self.set_output_multiple(layout.frame_len)

        def work(self, input_items, output_items):
            first = self.nitems_written(0) // layout.frame_len
            due = int(np.floor((time.time() - epoch_s) * frame_rate)) + 1 - first  # frames whose time came
            count = min(len(output_items[0]) // layout.frame_len, max(due, 0)) * layout.frame_len
            if count == 0:
                wait = epoch_s + first / frame_rate - time.time()
                time.sleep(min(max(wait, 0.001), 0.05))
                return 0
            output_items[0][:count] = input_items[0][:count]
            return count

    return frame_clock()


def build_node_chain(tb, scenario, nodes, wc, wr, frames, seed, channel_seed, address, bind=False,
                     pattern="push", hwm=1000, frame_rate=0.0, epoch_s=None, transmitters=None,
                     frequency_grid=ofdm.DEFAULT_FREQUENCY_GRID, precoder_address="", security=None,
                     precoder_security=None):
    """Add the chain of the receiving ``nodes`` to top block ``tb``: every transmitter (or the given
    ``transmitters``), each node's sensing channel (AWGN on, ``frequency_grid``), frame clock
    (frame_rate > 0), node_rx and snapshot_push to ``address``; with ``precoder_address`` a precoder_sub
    feeding every transmitter. ``security``, ``precoder_security``: net.LinkSecurity of the snapshot and
    precoder links (None: open). Returns (transmitters, push blocks)."""
    from ..blocks.isac_tx import isac_tx
    from ..blocks.node_rx import node_rx
    from ..blocks.sensing_channel import sensing_channel
    from ..blocks.snapshot_push import snapshot_push

    s = scenario
    layout = ofdm.layout_from_scenario(s)
    mt = s.tx_antennas
    # Python blocks must outlive the flowgraph run: keep every one referenced from the top block
    keep = tb.__dict__.setdefault("disac_blocks", [])
    if transmitters is None:
        transmitters = [isac_tx(s, m, seed, wc[m], wr[m], frames) for m in range(s.num_nodes)]
    if precoder_address:
        keep.append(_connect_precoder_sub(tb, s, precoder_address, transmitters, -1, precoder_security))
    pushes = []
    for n in nodes:
        channel = sensing_channel(s, n, channel_seed, noise=True, frequency_grid=frequency_grid)
        receiver = node_rx(s, n, frames_per_message=FRAMES_PER_MESSAGE)
        push = snapshot_push(address, bind, pattern, hwm, *_security_parameters(security))
        for m, tx in enumerate(transmitters):
            for i in range(mt):
                tb.connect((tx, i), (channel, m * mt + i))
        if frame_rate > 0:
            clock = frame_clock_block(layout, frame_rate, time.time() if epoch_s is None else epoch_s)
            tb.connect((channel, 0), clock, (receiver, 0))
            keep.append(clock)
        else:
            tb.connect((channel, 0), (receiver, 0))
        for r in range(1, s.rx_antennas):
            tb.connect((channel, r), (receiver, r))
        tb.msg_connect((receiver, "snapshot"), (push, "snapshot"))
        pushes.append(push)
        keep += [channel, receiver, push]
    keep += list(transmitters)
    return transmitters, pushes


def _security_parameters(security):
    """A net.LinkSecurity (or None: open) as the blocks' four parameters."""
    if security is None:
        return ("open", "", "", "")
    return (security.mode, security.secret_key_file, security.server_public_key, security.allowed_keys_file)


def _connect_precoder_sub(tb, scenario, address, transmitters, node_id, security=None):
    from ..blocks import tags
    from ..blocks.precoder_sub import PRECODERS_PORT, precoder_sub

    sub = precoder_sub(address, scenario, node_id, *_security_parameters(security))
    for tx in transmitters:
        tb.msg_connect((sub, PRECODERS_PORT), (tx, tags.PRECODER_PORT))
    return sub


# ---- USRP ---------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class UsrpSettings:
    """Everything `disac node --radio usrp` sets on the radio (checked by usrp_settings)."""

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
    """Checked UsrpSettings for a scenario; UsageError naming the offending value and what is accepted."""
    mt, mr = scenario.tx_antennas, scenario.rx_antennas
    tx_channels = tuple(range(mt)) if tx_channels is None else tuple(tx_channels)
    rx_channels = tuple(range(mr)) if rx_channels is None else tuple(rx_channels)
    for name, channels, count, what in (("--tx-channels", tx_channels, mt, "Mt"),
                                        ("--rx-channels", rx_channels, mr, "Mr")):
        if len(channels) != count:
            listed = ",".join(map(str, channels))
            raise UsageError(f"{name} {listed}: {len(channels)} channel(s), but scenario {scenario.name!r} has "
                             f"{what} = {count}: give {count} channels, one per antenna")
    if center_freq_hz is None:
        raise UsageError("--radio usrp needs --center-freq HZ (the carrier, e.g. 3.5e9)")
    for name, value in (("--clock-source", clock_source), ("--time-source", time_source)):
        if value not in REFERENCE_SOURCES:
            raise UsageError(f"{name} {value!r}: accepted: {', '.join(REFERENCE_SOURCES)}")
    if epoch_s is None:
        raise UsageError("--radio usrp needs --epoch T: the Unix time of frame 0, the same on every node, "
                         f"at least {MIN_EPOCH_LEAD_S:g} s ahead (e.g. $(( $(date +%s) + 15 )))")
    if frequency_grid not in ofdm.FREQUENCY_GRIDS:
        raise UsageError(f"--frequency-grid {frequency_grid!r}: accepted: {', '.join(ofdm.FREQUENCY_GRIDS)}")
    if frequency_grid == "low-if" and scenario.subcarriers % 2:
        raise UsageError(f"--frequency-grid low-if: the B/2 shift needs an even number of subcarriers; scenario "
                         f"{scenario.name!r} has L = {scenario.subcarriers} (use --frequency-grid centred)")
    if rx_offset_samples < 0:
        raise UsageError(f"--rx-offset-samples {rx_offset_samples}: accepted: a whole number of samples ≥ 0")
    return UsrpSettings(str(device_args), tx_channels, rx_channels, float(scenario.bandwidth_hz),
                        float(center_freq_hz), float(tx_gain_db), float(rx_gain_db), clock_source, time_source,
                        float(epoch_s), frequency_grid, int(rx_offset_samples))


class UhdRadio:
    """The real radio: gr-uhd's usrp_sink / usrp_source (fc32 samples, sc16 over the wire)."""

    def __init__(self):
        try:
            from gnuradio import uhd
        except ImportError as exc:
            raise UsageError(f"--radio usrp needs GNU Radio's gr-uhd (`from gnuradio import uhd`): {exc}") from None
        self.uhd = uhd
        self.all_mboards = uhd.ALL_MBOARDS

    def _open(self, make, what, device_args, channels):
        try:
            return make(device_args, self.uhd.stream_args(cpu_format="fc32", otw_format="sc16",
                                                          channels=list(channels)))
        except RuntimeError as exc:
            reason = " ".join(str(exc).split())
            raise UsageError(f"--device-args {device_args!r}: cannot open the USRP {what} on channels "
                             f"{','.join(map(str, channels))} ({reason})") from None

    def sink(self, device_args, channels):
        return self._open(self.uhd.usrp_sink, "transmitter", device_args, channels)

    def source(self, device_args, channels):
        return self._open(self.uhd.usrp_source, "receiver", device_args, channels)

    def time_spec(self, seconds):
        whole = math.floor(seconds)
        return self.uhd.time_spec(int(whole), float(seconds - whole))


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
            raise UsageError(f"the USRP {name} runs at {actual:.6g} S/s, not the scenario's bandwidth "
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
                raise UsageError(f"--time-source {settings.time_source}: no PPS edge within {PPS_WAIT_S:g} s: "
                                 "check the PPS cable (or GPS lock), or use --time-source internal for one node")
            sleep(0.01)
        second = round(now()) + 1  # the next edge is the host's next whole second
        source.set_time_next_pps(radio.time_spec(float(second)))
        sleep(1.1)  # the time registers take the value at that edge
        time_set = f"device time {second} s at a PPS edge"
    lead_s = settings.epoch_s - now()
    if lead_s < 0.5:
        raise UsageError(f"--epoch {settings.epoch_s:.3f}: the radio was ready {-lead_s:.1f} s too late "
                         f"(frame 0 must be ahead): start every node at least {MIN_EPOCH_LEAD_S:g} s before it")
    start = radio.time_spec(settings.epoch_s)
    sink.set_start_time(start)
    source.set_start_time(start)
    source.set_recv_timeout(lead_s + 1.0, True)  # the first samples come at the epoch
    return {"sample_rate_hz": rates, "center_freq_hz": settings.center_freq_hz, "time": time_set,
            "start_in_s": round(lead_s, 3)}


def tx_frame_log_block(capacity=4096):
    """A sink on the transmitter's antenna-0 stream that records which precoder version each frame used."""
    from gnuradio import gr

    from ..blocks import tags

    class tx_frame_log(gr.sync_block):
        """Precoder version per frame from isac_tx's frame tags: (first frame, version) at every change."""

        def __init__(self):
            gr.sync_block.__init__(self, name="disac_tx_frame_log", in_sig=[np.complex64], out_sig=None)
            self.first_frames, self.versions = [], []  # change points, sorted by frame
            self.latest_frame = -1
            self.finished = False
            self._lock = threading.Lock()

        def work(self, input_items, output_items):
            count = len(input_items[0])
            for tag in self.get_tags_in_window(0, 0, count, tags.frame_tag_key()):
                frame, _, version = tags.parse_frame_tag(tag.value)
                with self._lock:
                    if not self.versions or self.versions[-1] != version:
                        self.first_frames.append(frame)
                        self.versions.append(version)
                        if len(self.versions) > capacity:
                            del self.first_frames[0], self.versions[0]
                    self.latest_frame = max(self.latest_frame, frame)
            return count

        def stop(self):
            self.finished = True
            return True

        def last_version(self):
            with self._lock:
                return self.versions[-1] if self.versions else 0

        def version_of(self, frame):
            """The version frame ``frame`` went out with; None when the log has not reached that frame yet."""
            with self._lock:
                if frame > self.latest_frame and not self.finished:
                    return None
                i = bisect.bisect_right(self.first_frames, frame) - 1
                return self.versions[max(i, 0)] if self.versions else 0

    return tx_frame_log()


def rx_frame_tagger_block(layout, node_id, rx_antennas, tx_log, max_frames=0, offset_samples=0):
    """Mr streams in and out: frame tags at received sample offset_samples + f·frame_len (frame f), with the
    version the transmitter used (tx_log); other tags (e.g. the USRP's rx_time) are dropped. Stops after
    max_frames frames (0: never)."""
    from gnuradio import gr

    from ..blocks import tags

    class rx_frame_tagger(gr.sync_block):
        """A USRP node's receive frame timing: the common epoch makes frame f start at f·frame_len."""

        def __init__(self):
            gr.sync_block.__init__(self, name="disac_rx_frame_tagger", in_sig=[np.complex64] * rx_antennas,
                                   out_sig=[np.complex64] * rx_antennas)
            self.set_tag_propagation_policy(gr.TPP_DONT)
            self.frames_tagged = 0
            self.versions_guessed = 0
            self._waited_s = 0.0

        def work(self, input_items, output_items):
            count = len(output_items[0])
            start = self.nitems_written(0)
            end_sample = offset_samples + max_frames * layout.frame_len if max_frames else None
            if end_sample is not None:
                count = min(count, end_sample - start)
                if count <= 0:
                    return -1  # WORK_DONE: every frame asked for has been received
            first = max(0, -(-(start - offset_samples) // layout.frame_len))
            last = (start + count - 1 - offset_samples) // layout.frame_len  # frames starting in this window
            for frame in range(first, last + 1):
                version = tx_log.version_of(frame)
                if version is None:  # the log lags the receiver: wait for it, briefly
                    if self._waited_s < 0.5:
                        count = offset_samples + frame * layout.frame_len - start
                        if count == 0:
                            time.sleep(0.001)
                            self._waited_s += 0.001
                            return 0
                        break
                    version = tx_log.last_version()
                    self.versions_guessed += 1
                self._waited_s = 0.0
                self.add_item_tag(0, offset_samples + frame * layout.frame_len, tags.frame_tag_key(),
                                  tags.frame_tag_value(frame, node_id, version))
                self.frames_tagged += 1
            for r in range(rx_antennas):
                output_items[r][:count] = input_items[r][:count]
            return count

    return rx_frame_tagger()


@dataclasses.dataclass
class UsrpNode:
    """The blocks of one USRP node (build_usrp_node)."""

    transmitter: object
    sink: object
    source: object
    tx_log: object
    tagger: object
    receiver: object
    push: object
    precoder_sub: object = None


def build_usrp_node(tb, scenario, node_id, wc, wr, frames, seed, address, settings, radio, bind=False,
                    pattern="push", hwm=1000, precoder_address="", security=None, precoder_security=None):
    """Add one USRP node to top block ``tb`` (module docstring): isac_tx → [(−1)^n] → radio.sink(...),
    radio.source(...) → [(−1)^n] → rx frame tagger → node_rx → snapshot_push. ``radio`` makes the sink
    and source (UhdRadio, or a test's stand-in with the same methods); wc, wr are this node's initial
    W_c (Mt × U), W_r (Mt × Mt). Radio settings are applied by configure_usrp, not here."""
    from gnuradio import blocks

    from ..blocks.isac_tx import isac_tx
    from ..blocks.node_rx import node_rx
    from ..blocks.snapshot_push import snapshot_push

    s = scenario
    layout = ofdm.layout_from_scenario(s)
    keep = tb.__dict__.setdefault("disac_blocks", [])
    shift = settings.frequency_grid == "low-if"
    tx = isac_tx(s, node_id, seed, wc, wr, frames)
    sink = radio.sink(settings.device_args, settings.tx_channels)
    source = radio.source(settings.device_args, settings.rx_channels)
    tx_log = tx_frame_log_block()
    tagger = rx_frame_tagger_block(layout, node_id, s.rx_antennas, tx_log, frames, settings.rx_offset_samples)
    receiver = node_rx(s, node_id, frames_per_message=FRAMES_PER_MESSAGE)
    push = snapshot_push(address, bind, pattern, hwm, *_security_parameters(security))
    tb.connect((tx, 0), tx_log)
    for i in range(s.tx_antennas):
        if shift:  # (−1)^n: subcarrier l on the air at f_c + (l − L/2)·B/L
            rotator = blocks.rotator_cc(math.pi)
            tb.connect((tx, i), rotator, (sink, i))
            keep.append(rotator)
        else:
            tb.connect((tx, i), (sink, i))
    for r in range(s.rx_antennas):
        if shift:
            rotator = blocks.rotator_cc(math.pi)
            tb.connect((source, r), rotator, (tagger, r))
            keep.append(rotator)
        else:
            tb.connect((source, r), (tagger, r))
        tb.connect((tagger, r), (receiver, r))
    tb.msg_connect((receiver, "snapshot"), (push, "snapshot"))
    sub = _connect_precoder_sub(tb, s, precoder_address, [tx], node_id, precoder_security) if precoder_address else None
    keep += [tx, tx_log, tagger, receiver, push] + ([sub] if sub is not None else [])
    return UsrpNode(tx, sink, source, tx_log, tagger, receiver, push, sub)


# ---- the command --------------------------------------------------------------------------------

def run_command(args):
    quiet_gnuradio_info()
    from gnuradio import gr

    scenario = load_checked_scenario(args.scenario)
    if not 0 <= args.node < scenario.num_nodes:
        raise UsageError(f"--node {args.node}: accepted: 0 … {scenario.num_nodes - 1} (scenario {scenario.name!r})")
    if args.frames < 0:
        raise UsageError(f"--frames {args.frames}: accepted: 0 (no end) or a positive number of frames")
    if args.radio == "usrp":
        return run_usrp(args, scenario)
    usrp_only = [name for name, value in (("--device-args", args.device_args), ("--tx-channels", args.tx_channels),
                                          ("--rx-channels", args.rx_channels), ("--center-freq", args.center_freq))
                 if value]
    if usrp_only:
        raise UsageError(f"{', '.join(usrp_only)}: only with --radio usrp (this node is synthetic)")
    frame_rate = DEFAULT_FRAME_RATE if args.frame_rate is None else args.frame_rate
    if args.frames == 0 and frame_rate == 0:
        raise UsageError("--frames 0 with --frame-rate 0 would run flat out for ever: give a frame rate or a count")
    security, precoder_security = security_from_args(args)
    wc, wr = resolve_precoders(scenario, args.precoders, args.sinr_db, args.seed)
    channel_seed = args.seed + 1 if args.channel_seed is None else args.channel_seed
    tb = gr.top_block(f"disac_node_{args.node}")
    try:
        _, (push,) = build_node_chain(
            tb, scenario, [args.node], wc, wr, args.frames, args.seed, channel_seed,
            args.bind or args.connect, bind=bool(args.bind), pattern=args.pattern,
            frame_rate=frame_rate, epoch_s=args.epoch, frequency_grid=args.frequency_grid,
            precoder_address=args.precoders_from, security=security, precoder_security=precoder_security)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    print(f"disac node {args.node}: {scenario.name}, sending to {push.endpoint} ({args.pattern}, "
          f"{security.mode}), {args.frames or 'endless'} frames at {frame_rate:g} frames/s", file=sys.stderr,
          flush=True)
    tb.start()
    try:
        tb.wait()
    except KeyboardInterrupt:
        tb.stop()
        tb.wait()
    print_json(dict(push.counters(), node=args.node, frames=args.frames))
    sys.stdout.flush()
    return 0


def run_usrp(args, scenario, radio=None):
    """`disac node --radio usrp`: build, configure, run until --frames frames were received (or Ctrl-C)."""
    from gnuradio import gr

    if args.frame_rate is not None:
        raise UsageError(f"--frame-rate {args.frame_rate:g}: only for the synthetic radio; a USRP runs at the "
                         "scenario's sample rate")
    settings = usrp_settings(scenario, args.device_args, args.tx_channels, args.rx_channels, args.center_freq,
                             args.tx_gain, args.rx_gain, args.clock_source, args.time_source, args.epoch,
                             args.frequency_grid, args.rx_offset_samples)
    if settings.epoch_s - time.time() < MIN_EPOCH_LEAD_S:
        raise UsageError(f"--epoch {settings.epoch_s:.3f}: {settings.epoch_s - time.time():.1f} s from now; "
                         f"accepted: at least {MIN_EPOCH_LEAD_S:g} s ahead (the radio needs a PPS edge and a "
                         "second to set its time)")
    if args.frequency_grid == "centred":
        print("disac node: --frequency-grid centred: the central unit must use the centred grid for d(τ); "
              "`disac cu` (core.localizer) uses the low-IF grid", file=sys.stderr, flush=True)
    security, precoder_security = security_from_args(args)
    wc, wr = resolve_precoders(scenario, args.precoders, args.sinr_db, args.seed)
    radio = radio or UhdRadio()
    tb = gr.top_block(f"disac_node_{args.node}_usrp")
    try:
        node = build_usrp_node(tb, scenario, args.node, wc[args.node], wr[args.node], args.frames, args.seed,
                               args.bind or args.connect, settings, radio, bind=bool(args.bind),
                               pattern=args.pattern, precoder_address=args.precoders_from, security=security,
                               precoder_security=precoder_security)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    report = configure_usrp(node.sink, node.source, settings, radio)
    print(f"disac node {args.node}: {scenario.name} on USRP {settings.device_args!r}, tx {settings.tx_channels}, "
          f"rx {settings.rx_channels}, {settings.sample_rate_hz:g} S/s at {settings.center_freq_hz:g} Hz, "
          f"{report['time']}, frame 0 in {report['start_in_s']:g} s; sending to {node.push.endpoint}",
          file=sys.stderr, flush=True)
    finished = threading.Event()
    tb.start()
    waiter = threading.Thread(target=lambda: (tb.wait(), finished.set()), daemon=True)
    waiter.start()
    try:
        # the receive stream never ends by itself: stop once the tagger has passed the last frame
        while not finished.wait(0.1):
            if args.frames and node.tagger.frames_tagged >= args.frames:
                time.sleep(0.2)  # let node_rx and snapshot_push finish the last frame
                break
    except KeyboardInterrupt:
        pass
    tb.stop()
    tb.wait()
    print_json(dict(node.push.counters(), node=args.node, frames=args.frames,
                    frames_received=node.receiver.frames_received, versions_guessed=node.tagger.versions_guessed))
    sys.stdout.flush()
    return 0
