# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""The initial precoders of a run, by kind: every process of one system (nodes, central unit, users) must
start from the same set, so each builds it from the same kind, seed and Γ_c.

Kinds (the `--precoders` choices of the apps):
  placeholder  core.ofdm.default_precoders at every node (half the power to radar, half to the users;
               what isac_tx uses without precoders); the apps' old name "default" is accepted
  random       random beamformers, each antenna row scaled to P_T, a fraction to the users (seeded)
  designed     the SDR design of core.beamformer at Γ_c (problem 18)
  a file       one core.wire PRECODERS message holding every node's W_c, W_r

Errors are PrecoderSetError (a ValueError) naming the offending value and what is accepted.
"""

import os

import numpy as np

from . import ofdm, wire
from .design_options import DEFAULT_OBJECTIVE

KINDS = ("placeholder", "random", "designed")
OLD_KIND_NAMES = {"default": "placeholder"}  # renamed: "default" was not the default of any command
DEFAULT_COMM_FRACTION = 0.5  # random precoders: share of each antenna's power given to the users


class PrecoderSetError(ValueError):
    """A precoder kind, file or design that cannot give the run's initial precoders."""


def placeholder_precoders(scenario):
    """core.ofdm.default_precoders at every node: (W_c (N, Mt, U), W_r (N, Mt, Mt))."""
    wc, wr = ofdm.default_precoders(ofdm.layout_from_scenario(scenario), scenario.per_antenna_power)
    return np.stack([wc] * scenario.num_nodes), np.stack([wr] * scenario.num_nodes)


def random_precoders(scenario, comm_fraction=DEFAULT_COMM_FRACTION, seed=0):
    """Random W_c (N, Mt, U) and W_r (N, Mt, Mt), rows scaled so that [R_n]_mm = P_T exactly (per RE; with
    guard/DC bins P_T·L/L_a on each active RE, core.ofdm.per_re_power: the same power per sample as the other
    kinds), a fraction ``comm_fraction`` of it in W_c."""
    if not 0.0 <= comm_fraction <= 1.0:
        raise PrecoderSetError(f"--comm-fraction {comm_fraction!r}: accepted: a number in [0, 1]")
    rng = np.random.default_rng(seed)
    n, mt, u = scenario.num_nodes, scenario.tx_antennas, scenario.num_users

    def scaled(shape, power):
        w = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
        return w * np.sqrt(power / np.sum(np.abs(w) ** 2, axis=-1, keepdims=True))

    pt = ofdm.per_re_power(scenario.per_antenna_power, getattr(scenario, "active_subcarriers", None))
    return scaled((n, mt, u), comm_fraction * pt), scaled((n, mt, mt), (1 - comm_fraction) * pt)


def designed_precoders(scenario, sinr_db, objective=DEFAULT_OBJECTIVE):
    """(W_c, W_r) from core.beamformer.design at Γ_c = sinr_db, or PrecoderSetError if it did not solve."""
    try:
        from . import beamformer
    except ImportError as exc:
        raise PrecoderSetError(f"the beamformer (core.beamformer) is not available ({exc}); "
                               "use --precoders random") from None
    result = beamformer.design(scenario, sinr_db, objective=objective)
    if result.status not in ("optimal", "optimal_inaccurate") or result.Wc is None:
        raise PrecoderSetError(f"precoder design at Γ_c = {sinr_db} dB: solver status {result.status!r}"
                               f"{': ' + result.message if getattr(result, 'message', '') else ''}; "
                               "try a lower --sinr-db")
    return np.asarray(result.Wc), np.asarray(result.Wr)


def precoders_from_file(scenario, path):
    """Every node's (W_c, W_r) from a file holding one core.wire PRECODERS message, checked for the scenario."""
    layout = ofdm.layout_from_scenario(scenario)
    n = scenario.num_nodes
    with open(path, "rb") as handle:
        data = handle.read(wire.MAX_MESSAGE_BYTES + 1)
    try:
        message = wire.decode(data)
    except wire.WireError as exc:
        raise PrecoderSetError(f"--precoders {path!r}: not a precoder file: {exc}") from None
    if not isinstance(message, wire.PrecoderMessage):
        raise PrecoderSetError(f"--precoders {path!r}: holds a {type(message).__name__}, expected a PRECODERS message")
    wc, wr = message.comm_precoders, message.radar_precoders
    for m in range(n):
        try:
            ofdm.check_precoders(layout, wc[m] if m < len(wc) else None, wr[m] if m < len(wr) else None)
        except (ofdm.FrameError, TypeError, IndexError) as exc:
            raise PrecoderSetError(f"--precoders {path!r}, node {m + 1}: {exc}") from None
    if len(wc) != n or len(wr) != n:
        raise PrecoderSetError(f"--precoders {path!r}: precoders of {len(wc)} nodes, the scenario has {n}")
    return np.asarray(wc), np.asarray(wr)


def resolve_precoders(scenario, kind, sinr_db=10.0, seed=0, objective=DEFAULT_OBJECTIVE,
                      comm_fraction=DEFAULT_COMM_FRACTION):
    """(W_c (N, Mt, U), W_r (N, Mt, Mt)) for a kind of KINDS (or an old name) or a precoder file."""
    kind = OLD_KIND_NAMES.get(kind, kind)
    if kind == "placeholder":
        return placeholder_precoders(scenario)
    if kind == "random":
        return random_precoders(scenario, comm_fraction, seed)
    if kind == "designed":
        return designed_precoders(scenario, sinr_db, objective)
    if not os.path.isfile(kind):
        raise PrecoderSetError(f"--precoders {kind!r}: accepted: {', '.join(KINDS)}, or a file holding "
                               "a wire PRECODERS message")
    return precoders_from_file(scenario, kind)
