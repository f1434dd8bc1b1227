"""`disac node SCENARIO --node N --connect ADDR …`: one ISAC node as its own process (synthetic radio).

The node runs the PHY chain of one receiving node and ships its snapshots to the central unit:

    isac_tx (every node m, seed, precoders) → sensing_channel (rx node N, channel seed, AWGN)
        → frame clock → node_rx (N) → snapshot_push (ZeroMQ PUSH/PUB, --connect or --bind)

Synthetic radio: the air is simulated in the process, so the node runs every node's transmitter (its
echoes reach node N); the frames, the oscillator phases and the noise are functions of the seeds and
the frame number only, so a node process produces exactly the snapshots of the single-process chain
(`disac localize`, same seeds). `--radio usrp` is issue 7's.

Frame clock (synthetic radio only): with --frame-rate R, frame f leaves the receiver at
--epoch + f/R (Unix seconds; default: when the node starts), as a radio's frame counter driven by a
shared time reference would; frames whose time has passed go at once. A node started late (or
restarted) therefore catches up from frame 0 at full speed (the central unit counts those snapshots as
late) and then runs in step with the others. --frames F stops the node after frame F−1, so the process
ends by itself. At the end it prints one JSON line of counters (sent, dropped, rejected, bytes_sent).

Precoders (--precoders): "default" (core.ofdm.default_precoders), "random" (seeded, as `disac
loopback --precoders random`), "designed" (core.beamformer at --sinr-db), or the path of a file holding
one core.wire PRECODERS message (every node's W_c, W_r). The central unit must use the same.
"""

import os
import sys
import time

import numpy as np

from ..core import ofdm, wire
from ..core.scenario import PRESETS, load_scenario
from .cli import UsageError, finite_float, print_json

PRECODER_CHOICES = ("default", "random", "designed")


def register(subparsers):
    parser = subparsers.add_parser("node", help="run one ISAC node (synthetic radio) that sends its snapshots "
                                   "to a central unit over ZeroMQ")
    parser.add_argument("scenario", help=f"a preset ({', '.join(PRESETS)}) or a TOML file")
    parser.add_argument("--node", type=int, required=True, help="this node's id, 0 … N−1")
    add_link_arguments(parser, "the central unit's snapshot address")
    parser.add_argument("--pattern", choices=("push", "pub"), default="push", help="ZeroMQ pattern (default push)")
    parser.add_argument("--radio", choices=("synthetic",), default="synthetic", help="radio (synthetic only, for now)")
    add_chain_arguments(parser)
    parser.add_argument("--frame-rate", type=finite_float("--frame-rate", 0.0, 1e6), default=10.0,
                        help="frames per second of the frame clock (0: as fast as possible; default 10)")
    parser.add_argument("--epoch", type=finite_float("--epoch", 0.0), default=None,
                        help="Unix time (s) of frame 0 on the shared frame clock (default: now)")
    parser.set_defaults(func=run_command)


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
    there: keep warnings and errors only (they go to stderr)."""
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
                     pattern="push", hwm=1000, frame_rate=0.0, epoch_s=None, transmitters=None):
    """Add the chain of the receiving ``nodes`` to top block ``tb``: every transmitter (or the given
    ``transmitters``), each node's sensing channel (AWGN on), frame clock (frame_rate > 0), node_rx and
    snapshot_push to ``address``. Returns (transmitters, push blocks)."""
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
    pushes = []
    for n in nodes:
        channel = sensing_channel(s, n, channel_seed, noise=True)
        receiver = node_rx(s, n)
        push = snapshot_push(address, bind, pattern, hwm)
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


def run_command(args):
    from gnuradio import gr

    quiet_gnuradio_info()
    scenario = load_checked_scenario(args.scenario)
    if not 0 <= args.node < scenario.num_nodes:
        raise UsageError(f"--node {args.node}: accepted: 0 … {scenario.num_nodes - 1} (scenario {scenario.name!r})")
    if args.frames < 0:
        raise UsageError(f"--frames {args.frames}: accepted: 0 (no end) or a positive number of frames")
    if args.frames == 0 and args.frame_rate == 0:
        raise UsageError("--frames 0 with --frame-rate 0 would run flat out for ever: give a frame rate or a count")
    wc, wr = resolve_precoders(scenario, args.precoders, args.sinr_db, args.seed)
    channel_seed = args.seed + 1 if args.channel_seed is None else args.channel_seed
    tb = gr.top_block(f"disac_node_{args.node}")
    try:
        _, (push,) = build_node_chain(
            tb, scenario, [args.node], wc, wr, args.frames, args.seed, channel_seed,
            args.bind or args.connect, bind=bool(args.bind), pattern=args.pattern,
            frame_rate=args.frame_rate, epoch_s=args.epoch)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    print(f"disac node {args.node}: {scenario.name}, sending to {push.endpoint} ({args.pattern}), "
          f"{args.frames or 'endless'} frames at {args.frame_rate:g} frames/s", file=sys.stderr, flush=True)
    tb.start()
    try:
        tb.wait()
    except KeyboardInterrupt:
        tb.stop()
        tb.wait()
    print_json(dict(push.counters(), node=args.node, frames=args.frames))
    sys.stdout.flush()
    return 0
