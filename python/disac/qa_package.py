#!/usr/bin/env python3
# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Package checks for gnuradio.disac, run by ctest from the build tree's copy of the package.

What it checks: `from gnuradio import disac` resolves to the copy ctest is meant to test (the build
tree's test_modules when run by ctest); the pure-maths core imports without loading any of GNU Radio
(checked in a fresh interpreter, since this process has already loaded gnuradio.gr); every block named
in disac._BLOCKS resolves to an object with that name.
"""
import os
import subprocess
import sys

from gnuradio import gr, gr_unittest

from gnuradio import disac

# the interpreter-level check: import the core in a clean process and list what got loaded
CORE_IMPORT_PROBE = (
    "import sys, json\n"
    "import gnuradio.disac.core, gnuradio.disac.core.scenario, gnuradio.disac.core.geometry\n"
    "import gnuradio.disac.core.model, gnuradio.disac.core.sinr\n"
    "print(json.dumps({'disac': gnuradio.disac.__file__,\n"
    "                  'loaded': sorted(m for m in sys.modules if m.startswith(('gnuradio.', 'pmt')))}))\n"
)


class qa_package(gr_unittest.TestCase):

    def test_001_import_resolves_to_tested_copy(self):
        package_dir = os.path.dirname(os.path.abspath(disac.__file__))
        self.assertEqual(os.path.basename(package_dir), "disac")
        self.assertEqual(os.path.basename(os.path.dirname(package_dir)), "gnuradio")
        # under ctest the package under test is the build tree copy (GR_ADD_TEST puts
        # <build>/test_modules first on PYTHONPATH), never an older installed gr-disac
        here = os.path.dirname(os.path.abspath(__file__))
        self.assertEqual(package_dir, here)
        self.assertRegex(disac.__version__, r"^\d+\.\d+\.\d+")

    def test_002_core_does_not_load_gnuradio(self):
        import json

        result = subprocess.run([sys.executable, "-c", CORE_IMPORT_PROBE], capture_output=True,
                                text=True, env=os.environ.copy(), timeout=120)
        self.assertEqual(result.returncode, 0, msg=result.stderr)
        report = json.loads(result.stdout.strip().splitlines()[-1])
        self.assertEqual(os.path.dirname(report["disac"]), os.path.dirname(os.path.abspath(disac.__file__)))
        loaded = report["loaded"]
        self.assertIn("gnuradio.disac.core.scenario", loaded)
        # the core may use the gnuradio namespace package and gnuradio.disac itself, nothing else
        foreign = [m for m in loaded if not m.startswith("gnuradio.disac")]
        self.assertEqual(foreign, [], msg=f"the core loaded GNU Radio modules: {foreign}")

    def test_003_every_block_resolves(self):
        for name, module in disac._BLOCKS.items():
            with self.subTest(block=name):
                block = getattr(disac, name)
                self.assertEqual(block.__name__, name)
                self.assertTrue(block.__module__.startswith("gnuradio.disac."), msg=block.__module__)
        with self.assertRaises(AttributeError):
            getattr(disac, "no_such_block")

    def test_004_gnuradio_runtime_usable(self):
        # the interpreter ctest uses (PYTHON_EXECUTABLE, the venv) must run a flowgraph, not only import
        from gnuradio import blocks

        data = [complex(i, -i) for i in range(16)]
        tb = gr.top_block()
        src = blocks.vector_source_c(data)
        dst = blocks.vector_sink_c()
        tb.connect(src, dst)
        tb.run()
        self.assertEqual(list(dst.data()), data)


if __name__ == "__main__":
    gr_unittest.run(qa_package)
