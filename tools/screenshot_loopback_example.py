#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Screenshot of the loopback example's own GUI (examples/disac_loopback.grc, compiled by grcc) for docs.

    xvfb-run -a -s "-screen 0 1600x1200x24" .venv/bin/python tools/screenshot_loopback_example.py \
        [--frames 250] [--after-s 22] [--out docs/figures/loopback-example-gui.png]

The flowgraph runs as GRC would run it (the generated script's main()), with one addition: a Qt timer
grabs the window --after-s seconds after start, before End of Run closes it after --frames frames.
"""

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=250)
    parser.add_argument("--frame-rate-hz", type=float, default=10.0)
    parser.add_argument("--after-s", type=float, default=22.0, help="when to grab the window (s after start)")
    parser.add_argument("--out", default=os.path.join(ROOT, "docs", "figures", "loopback-example-gui.png"))
    args = parser.parse_args()

    import gnuradio

    gnuradio.__path__.insert(0, os.path.join(ROOT, "python"))  # this checkout's gr-disac
    out_dir = tempfile.mkdtemp(prefix="disac-loopback-shot-")
    env = dict(os.environ, GRC_BLOCKS_PATH=os.path.join(ROOT, "grc"), GR_CONF_GRC_LOCAL_BLOCKS_PATH="")
    subprocess.run([sys.executable, "/usr/bin/grcc", "-o", out_dir, os.path.join(ROOT, "examples", "disac_loopback.grc")],
                   check=True, env=env, capture_output=True)
    spec = importlib.util.spec_from_file_location("disac_loopback", os.path.join(out_dir, "disac_loopback.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    from PyQt5 import Qt

    class shot(module.disac_loopback):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.resize(1750, 740)  # the .grc's window_size is a hint GRC's Qt template does not apply
            Qt.QTimer.singleShot(int(args.after_s * 1000), self._grab)

        def _grab(self):
            self.grab().save(args.out)
            print(f"saved {args.out}", file=sys.stderr)

    options = module.argument_parser().parse_args(["--frames", str(args.frames), "--frame-rate", str(args.frame_rate_hz)])
    module.main(top_block_cls=shot, options=options)


if __name__ == "__main__":
    main()
