#!/usr/bin/env python3
# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Screenshot of the live map (disac_live_map) on the loopback system, for docs/figures/loopback-gui.png.

Builds the synthetic D-ISAC system from the very blocks GRC shows: the precoders designed by the SDR
(core.beamformer, Γ_c = --sinr-db, position objective), every node's transmitter (isac_tx), its sensing
channel (echoes, oscillator phases, AWGN) and receiver (node_rx) pushing snapshots over inproc:// ZeroMQ
(snapshot_push) to the central unit, the comm channel to every user receiver (user_rx); the central unit's
estimates and the users' metrics feed a live_map inside a Qt window. After --frames frames have been
localised and measured, the window is grabbed and saved as a PNG, and the flowgraph stops.

Run it under Xvfb (Debian package `xvfb`), as a researcher's desktop would show it:

    xvfb-run -a -s "-screen 0 1600x1100x24" /work/main/.venv/bin/python tools/screenshot_live_map.py

(without an X server it falls back to Qt's offscreen platform and says so). The run is deterministic in
its seeds; the picture's numbers are those of the readout at the moment of the grab.
"""

import argparse
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def import_this_checkout():
    """`gnuradio.disac` from this checkout's python/ (as the tests' conftest does), whatever is installed."""
    import gnuradio

    gnuradio.__path__.insert(0, os.path.join(ROOT, "python"))


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", default="paper", help="preset or TOML file (default paper)")
    parser.add_argument("--frames", type=int, default=100, help="frames to localise before the grab (default 100)")
    parser.add_argument("--sinr-db", type=float, default=10.0, help="SINR threshold of the design (dB, default 10)")
    parser.add_argument("--seed", type=int, default=0, help="data seed; the channel seed is seed + 1")
    parser.add_argument("--history-frames", type=int, default=50, help="frames of estimates drawn (default 50)")
    parser.add_argument("--size", default="1500x950", help="window size WxH in pixels (default 1500x950)")
    parser.add_argument("--timeout-s", type=float, default=300.0, help="give up after this long (default 300 s)")
    parser.add_argument("--out", default=os.path.join(ROOT, "docs", "figures", "loopback-gui.png"),
                        help="PNG to write (default docs/figures/loopback-gui.png)")
    args = parser.parse_args(argv)
    if args.frames < 1:
        parser.error(f"--frames {args.frames}: accepted: a positive number of frames")
    try:
        args.width, args.height = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        parser.error(f"--size {args.size!r}: accepted: WIDTHxHEIGHT, e.g. 1500x950")
    return args


def build(scenario, wc, wr, frames, seed, channel_seed, live):
    """The loopback top block with ``live`` (a live_map) fed by the central unit and the users."""
    from gnuradio import gr

    from gnuradio.disac.blocks import tags
    from gnuradio.disac.blocks.central_unit import central_unit
    from gnuradio.disac.blocks.comm_channel import comm_channel
    from gnuradio.disac.blocks.isac_tx import isac_tx
    from gnuradio.disac.blocks.node_rx import node_rx
    from gnuradio.disac.blocks.sensing_channel import sensing_channel
    from gnuradio.disac.blocks.snapshot_push import snapshot_push
    from gnuradio.disac.blocks.user_rx import user_rx

    s = scenario
    mt = s.tx_antennas
    address = f"inproc://disac-screenshot-{os.getpid()}"
    tb = gr.top_block("disac_loopback_gui")
    # the central unit binds first (inproc needs the binding side before a connect); it keeps every frame
    cu = central_unit(s, seed, wc, wr, timeout_s=3600.0, queue_depth=frames + 1, address=address, bind=True,
                      status_interval_s=0, keep_estimates=frames)
    transmitters = [isac_tx(s, m, seed, wc[m], wr[m], frames) for m in range(s.num_nodes)]
    comm = comm_channel(s, channel_seed, noise=True)
    users = [user_rx(s, u, seed) for u in range(s.num_users)]
    keep = [cu, comm, live] + transmitters + users
    for n in range(s.num_nodes):
        channel = sensing_channel(s, n, channel_seed, noise=True)
        receiver = node_rx(s, n, frames_per_message=16)
        push = snapshot_push(address, False, "push", frames + 16)
        for m, tx in enumerate(transmitters):
            for i in range(mt):
                tb.connect((tx, i), (channel, m * mt + i))
        for r in range(s.rx_antennas):
            tb.connect((channel, r), (receiver, r))
        tb.msg_connect((receiver, tags.SNAPSHOT_PORT), (push, "snapshot"))
        keep += [channel, receiver, push]
    for m, tx in enumerate(transmitters):
        for i in range(mt):
            tb.connect((tx, i), (comm, m * mt + i))
    for u, user in enumerate(users):
        tb.connect((comm, u), (user, 0))
        tb.msg_connect((user, tags.METRICS_PORT), (live, "metrics"))
    tb.msg_connect((cu, "estimate"), (live, "estimate"))
    tb.disac_blocks = keep  # Python blocks must outlive the run
    return tb


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if not os.environ.get("DISPLAY") and not os.environ.get("QT_QPA_PLATFORM"):
        print("screenshot: no X display: using Qt's offscreen platform (run under xvfb-run for Xvfb)", file=sys.stderr)
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    import_this_checkout()
    from PyQt5 import QtCore, QtWidgets

    app = QtWidgets.QApplication(["disac_loopback_gui"])
    import numpy as np

    from gnuradio.disac.blocks.live_map import live_map
    from gnuradio.disac.core.beamformer import BeamformerDesigner
    from gnuradio.disac.core.scenario import load_scenario

    scenario = load_scenario(args.scenario)
    started = time.monotonic()
    result = BeamformerDesigner(scenario, objective="position").solve(args.sinr_db)
    if not result.ok:
        print(f"screenshot: the design at Γ_c = {args.sinr_db:g} dB is {result.status}", file=sys.stderr)
        return 2
    wc, wr = np.asarray(result.Wc), np.asarray(result.Wr)
    print(f"screenshot: designed in {time.monotonic() - started:.1f} s", file=sys.stderr)

    window = QtWidgets.QWidget()
    window.setWindowTitle(f"D-ISAC loopback · {scenario.name}")
    layout = QtWidgets.QVBoxLayout(window)
    live = live_map(scenario, wc, wr, args.history_frames, 3.0, 0.2,
                    f"D-ISAC loopback · {scenario.name} · Γ_c = {args.sinr_db:g} dB")
    layout.addWidget(live.widget())
    window.resize(args.width, args.height)
    window.show()
    tb = build(scenario, wc, wr, args.frames, args.seed, args.seed + 1, live)
    outcome = {}

    def poll():
        model = live.model
        snap = model.snapshot()
        users_done = all(u is not None and u["frames"] >= args.frames for u in snap["users"])
        if snap["frames_localised"] >= args.frames and users_done:
            timer.stop()
            app.processEvents()
            live.refresh(force=True)
            app.processEvents()
            os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
            outcome["saved"] = window.grab().save(args.out, "PNG")
            outcome["snap"] = snap
            app.quit()
        elif time.monotonic() - started > args.timeout_s:
            timer.stop()
            outcome["timeout"] = snap
            app.quit()

    timer = QtCore.QTimer()
    timer.timeout.connect(poll)
    timer.start(100)
    tb.start()
    app.exec_()
    tb.stop()
    tb.wait()
    if "timeout" in outcome:
        snap = outcome["timeout"]
        print(f"screenshot: timed out after {args.timeout_s:g} s with {snap['frames_localised']} frames localised",
              file=sys.stderr)
        return 1
    if not outcome.get("saved"):
        print(f"screenshot: could not write {args.out}", file=sys.stderr)
        return 1
    snap = outcome["snap"]
    rmse = ", ".join(f"T{k + 1} {r:.3f} m (√CRB {np.sqrt(c):.3f} m)"
                     for k, (r, c) in enumerate(zip(snap["rmse_m"], snap["crb_m2"])))
    sinrs = ", ".join(f"user {u + 1} {e['sinr_measured_db']:.2f}/{e['sinr_designed_db']:.2f} dB BER {e['ber']:.1e}"
                      for u, e in enumerate(snap["users"]))
    print(f"screenshot: {args.out}: {snap['frames_localised']} frames; RMSE {rmse}; SINR measured/designed {sinrs}; "
          f"{time.monotonic() - started:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
