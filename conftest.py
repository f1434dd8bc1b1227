# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""pytest from the source tree: make `gnuradio.disac` resolve to python/disac.

GNU Radio's own `gnuradio/__init__.py` extends its package path (pkgutil.extend_path), so an
out-of-tree module can live anywhere; here the source tree's python/ is put first so the tests
exercise this checkout even when an older gr-disac is installed.
"""
import os
import signal
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
_PYTHON_DIR = os.path.join(_HERE, "python")

import gnuradio  # noqa: E402
import pytest  # noqa: E402

if os.path.join(_PYTHON_DIR, "gnuradio") not in gnuradio.__path__:
    # gnuradio.disac -> python/disac: python/ plays the role of a site-packages/gnuradio folder
    gnuradio.__path__.insert(0, _PYTHON_DIR)
sys.modules.pop("gnuradio.disac", None)

# Tests stop their child processes (disac cu, disac node, ...) with SIGINT, Ctrl-C, and wait for them to end.
# pytest started in the background by a script (`tools/test.sh &`, nohup: no job control) ignores SIGINT, and
# an ignored signal stays ignored across fork and exec: every child would ignore Ctrl-C and time out. A
# handled signal is reset to the default at exec, so handling it here gives the children the usual Ctrl-C
# (and pytest itself its KeyboardInterrupt).
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


# ---- parallel runs (tools/test.sh: pytest-xdist, `-n 2 --dist loadgroup`) ------------------------------
# A test that uses a module-scoped (or wider) fixture of the project — a CMake install, a GRC-generated
# loopback run, a cvxpy design — runs on the same worker as the other tests sharing that fixture instance:
# the fixture is built once (as in a serial run), and the tests of a module that relies on the order of its
# tests with it (tests/test_grc_plain.py's uninstall runs last) keep that order. One group per fixture
# instance: a parametrised module fixture (tests/test_calibrated_localization.py's scenario) gives one group
# per parameter. Every other test is scheduled on its own.
_SHARED_SCOPES = ("class", "module", "package", "session")


def _shared_fixture_group(item):
    """The xdist group of a test: its module when it uses a shared fixture defined by the project, plus
    the parameter index of each such fixture that is parametrised; None when it uses none."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return None
    indices = getattr(getattr(item, "callspec", None), "indices", {})
    shared = [name for name in info.names_closure
              if any(d.scope in _SHARED_SCOPES and d.baseid for d in info.name2fixturedefs.get(name, ()))]
    if not shared:  # (baseid "": pytest's own fixtures, e.g. tmp_path_factory)
        return None
    # the parameter index, not its value: every worker must name the group alike
    return item.nodeid.split("::", 1)[0] + "".join(f"::{name}[{indices[name]}]" for name in sorted(shared)
                                                    if name in indices)


# Tests marked gnuradio_system run whole systems of GNU Radio flowgraphs in other processes (a sweep, a Dask
# cluster, node processes): ~240 System V shared-memory segments per flowgraph, which GNU Radio 3.10 keeps until
# its process ends. Two of them at once beside a round's own in-process flowgraphs passed the machine's 4 096
# (kernel.shmmni) in CI ("shmget: No space left on device"), so under --dist loadgroup they share one group: one
# at a time, on one worker.
SYSTEM_GROUP = "gnuradio_system_subprocesses"


def pytest_configure(config):
    config.addinivalue_line("markers", "gnuradio_system: runs GNU Radio systems in other processes; one at a time "
                                       f"under xdist (group {SYSTEM_GROUP})")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    if not config.pluginmanager.hasplugin("xdist"):
        return
    grouped = bool(config.getvalue("loadgroup")) if hasattr(config.option, "loadgroup") else False
    for item in items:
        group = SYSTEM_GROUP if item.get_closest_marker("gnuradio_system") else _shared_fixture_group(item)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))
            if grouped and "@" not in item.nodeid:
                _add_group_suffix(item, group)


def _add_group_suffix(item, group):
    """The "@group" suffix of the node id that xdist's loadgroup scheduler groups by. xdist 3.8 writes it as
    ``item._nodeid = …``, which pytest 9 no longer reads (the id is ``item._id``, a _pytest.nodeid.NodeId): with
    the marker alone nothing was grouped, and a module fixture was built on both workers (tests/test_sinr_switch.py's
    45 s loopback run twice, tests/test_grc.py's 60 s one). Here for both pytest generations."""
    nodeid = f"{item.nodeid}@{group}"
    current = getattr(item, "_id", None)
    if current is not None and type(current).__name__ == "NodeId":
        item._id = type(current).parse(nodeid)
    else:
        item._nodeid = nodeid
