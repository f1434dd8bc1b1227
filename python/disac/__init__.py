"""gr-disac: noncoherent distributed integrated sensing and communication (D-ISAC) for GNU Radio 3.10.

``from gnuradio import disac`` gives the GNU Radio blocks by name (``disac.isac_tx`` …). Blocks are
imported on first use, so that ``gnuradio.disac.core`` (the pure-maths core) never loads GNU Radio.
"""

import importlib

__version__ = "0.1.0"

# block name -> module inside this package that defines it (filled in as blocks are added)
_BLOCKS = {}


def __getattr__(name):
    module = _BLOCKS.get(name)
    if module is None:
        raise AttributeError(f"module 'gnuradio.disac' has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def __dir__():
    return sorted(list(globals()) + list(_BLOCKS))
