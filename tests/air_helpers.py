# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Helpers several test files share: a random small scenario, random covariances and the normalised FIM
error for the FIM tests, a sensing channel's streaming fast path run over a whole stream, and the bench
scripts some tests read (bench_module)."""

import importlib
import os
import sys

import numpy as np

from gnuradio.disac.core import ofdm, scenario


BENCH_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench")


def bench_module(name):
    """bench/<name>.py imported as a module (e.g. "bench_beamformer": its circle case and JSON rows)."""
    if BENCH_DIR not in sys.path:
        sys.path.insert(0, BENCH_DIR)
    return importlib.import_module(name)


def random_scenario(seed, tx_antennas=3, rx_antennas=5):
    """N = 3 nodes, K = 2 targets, 2 users, Mt ≠ Mr (3 and 5 by default), L = 8, B = 20 MHz, random amplitude
    phases, positions drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    data = {
        "name": f"random-{seed}",
        "nodes": {"positions_m": rng.uniform(-150, 150, (3, 2)).tolist(), "tx_antennas": tx_antennas,
                  "rx_antennas": rx_antennas, "per_antenna_power": 0.7},
        "ofdm": {"bandwidth_hz": 20e6, "subcarriers": 8, "cyclic_prefix": 128, "symbols_per_frame": 1},
        "targets": {"positions_m": rng.uniform(-80, 80, (2, 2)).tolist(), "snr_db": 10.0, "noise_power": 2.0,
                    "amplitude_phase": "random", "seed": seed},
        "users": {"positions_m": rng.uniform(-150, 150, (2, 2)).tolist()},
    }
    return scenario.scenario_from_dict(data)


def random_complex(rng, shape):
    """Unit-power circular complex Gaussian draws of ``shape``."""
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) / np.sqrt(2)


def random_covariances(rng, scn, rank=None):
    """Random PSD R_n (N, Mt, Mt), of full rank unless `rank` is given."""
    w = random_complex(rng, (scn.num_nodes, scn.tx_antennas, rank or scn.tx_antennas))
    return np.einsum("naj,nbj->nab", w, w.conj())


def normalised_error(estimate, reference):
    """max_ij |E_ij − F_ij| / sqrt(F_ii F_jj): the error on the unit-diagonal scale of F, so that entries
    in s⁻², rad⁻², m⁻² and amplitude⁻² are compared alike."""
    d = np.sqrt(np.diag(reference))
    return np.max(np.abs(estimate - reference) / np.outer(d, d))


def write_time_stream(channel, x, cuts=None):
    """SensingChannel.write_time over the whole stream x (N·Mt, count), in calls cut at ``cuts`` (symbol
    boundaries; streaming), → (Mr, count) complex64."""
    count = x.shape[1]
    out = np.zeros((channel.scenario.rx_antennas, count), dtype=np.complex64)
    cuts = [0, count] if cuts is None else cuts
    for a, b in zip(cuts, cuts[1:]):
        part = np.zeros((out.shape[0], b - a), dtype=np.complex64)
        channel.write_time(np.ascontiguousarray(x[:, a:b]), a, list(part))
        out[:, a:b] = part
    return out


def ofdm_streams(scenario, frames, seed=1, silent_nodes=()):
    """Exact OFDM transmit streams of every node with random precoders, (N·Mt, F·frame_len) complex64, and the
    frequency-domain frames X (F, N, Mt, L, P); nodes in ``silent_nodes`` send nothing."""
    layout = ofdm.layout_from_scenario(scenario)
    gen = ofdm.FrameGenerator(layout, seed=seed)
    rng = np.random.default_rng(seed + 1)
    n, mt, u = scenario.num_nodes, scenario.tx_antennas, scenario.num_users
    wc = rng.standard_normal((n, mt, u)) + 1j * rng.standard_normal((n, mt, u))
    wr = rng.standard_normal((n, mt, mt)) + 1j * rng.standard_normal((n, mt, mt))
    for m in silent_nodes:
        wc[m], wr[m] = 0, 0
    x = np.stack([np.concatenate([wc[m], wr[m]], axis=1) @ gen.stream_time(frames, m).astype(complex)
                  for m in range(n)], axis=1)  # (F, N, Mt, frame_len)
    x = np.moveaxis(x.reshape(len(frames), n * mt, -1), 0, 1).reshape(n * mt, -1).astype(np.complex64)
    x_freq = np.stack([ofdm.transmitted_frames(layout, seed, frames, m, wc[m], wr[m]) for m in range(n)], axis=1)
    return x, x_freq
