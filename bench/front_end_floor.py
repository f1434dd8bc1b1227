# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""The receive front end's noise floor (issue 14, docs/receiver-front-end.md): what the ADC adds, over the
thermal noise σ², against ADC bits, with and without the self-coupling of 40 dB isolation and the RF canceller.

One receiving node of the paper scenario (node 0: Mt = 6, Mr = 16, L = 16, CP = 20, σ² = 1): its own transmitter's
frames (core.ofdm.NodeModulator, the default precoders: P_T per antenna) leak into its 16 antennas through
C (Mr × Mt, seeded CN entries) at the level SPEC14 §1 gives for isolation_db (|C|² = mean|b|²·10^(−iso/10) /
mean radar gain: the radar equation on the paper geometry at 3.5 GHz, 1 m² targets, 0 dBi; the air's own
draw of C, core.impairments), delayed by a
lab-like TX→RX latency (core.delay_line, the air's operator), plus CN(0, σ²) thermal noise. That is the
front end's input ahead of the canceller (the echoes are ~σ² per antenna: they do not move the floor and are
left out). The front end (core.front_end: canceller → AGC → ADC → ÷ g) runs FRAMES frames; the figures are
measured over the last half (everything settled), from the truth this script knows:

  q_floor/σ²   the ADC's error (output − its input, ÷ g) over σ², dB: quantisation + clipping noise
  resid/σ²     the leakage left after the RF canceller over σ², dB (what the digital chain still has to remove)
  canc         the cancellation the canceller achieved (true leakage over true residual), dB, and the one it
               reports from its own samples
  SQNR         the ADC's measured signal-to-quantisation-noise ratio beside 6.02·b + 4.77 − backoff

    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/front_end_floor.py [--frames 40] [--isolation-db 40]
        [--depth-db 50] [--backoff-db 12]
    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/front_end_floor.py --backoff   (SQNDR against the AGC backoff)

The load average is printed first (the figures do not depend on it: no timing here).
"""

import argparse
import importlib
import math
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
importlib.import_module("conftest")  # gnuradio.disac from this source tree, as bench/bench_phy.py

from gnuradio.disac.core import delay_line, front_end, ofdm  # noqa: E402
from gnuradio.disac.core.scenario import load_scenario  # noqa: E402

SPEED_OF_LIGHT = 299_792_458.0
CARRIER_HZ, RCS_M2 = 3.5e9, 1.0
LATENCY_SAMPLES = 100.37  # a lab-like TX→RX latency (B210: 46–165 samples), fractional on purpose


def leakage_power_per_element(scenario, isolation_db):
    """|C[r, i]|² per SPEC14 §1: mean|b|²·10^(−iso/10)/mean_k,n,m(radar gain) (the echo levels of the scenario
    kept; the leakage at its physical level relative to them)."""
    lam = SPEED_OF_LIGHT / CARRIER_HZ
    p = np.asarray(scenario.node_positions_m)
    q = np.asarray(scenario.target_positions_m)
    r = np.linalg.norm(p[:, None, :] - q[None, :, :], axis=-1)  # (N, K)
    gain = lam ** 2 * RCS_M2 / ((4 * np.pi) ** 3 * r[:, None, :] ** 2 * r[None, :, :] ** 2)  # (N, N, K)
    b2 = float(np.mean(np.abs(scenario.target_amplitudes()) ** 2))
    return b2 * 10 ** (-isolation_db / 10) / float(np.mean(gain))


def own_transmission(scenario, frames, seed=0):
    lay = ofdm.layout_from_scenario(scenario)
    wc, wr = ofdm.default_precoders(lay, scenario.per_antenna_power)
    return ofdm.NodeModulator(ofdm.frame_generator(lay, seed), 0, wc, wr).samples(np.arange(frames)).astype(complex)


def received(scenario, x, coupling_power, seed=1):
    """(leakage (Mr, T), noise (Mr, T), C): the node's input ahead of the front end, labels 0 … T − 1. C is the
    air's own draw (core.impairments, isolation_db: constant modulus, seeded phases) scaled to coupling_power."""
    rng = np.random.default_rng(seed)
    mr, mt = scenario.rx_antennas, scenario.tx_antennas
    drawn = scenario.with_impairments({"isolation_db": 40.0}).impairments.self_coupling[0]
    c = drawn * np.sqrt(coupling_power / float(np.mean(np.abs(drawn) ** 2)))
    lay = ofdm.layout_from_scenario(scenario)
    line = delay_line.DelayLine(lay.subcarriers, lay.cyclic_prefix, scenario.bandwidth_hz, [LATENCY_SAMPLES] * mt)
    delayed = line.process(x.astype(np.complex64)).astype(complex)  # the air's delay of every TX stream
    noise = np.sqrt(scenario.noise_power / 2) * (rng.standard_normal((mr, x.shape[1]))
                                                 + 1j * rng.standard_normal((mr, x.shape[1])))
    return (c @ delayed if coupling_power else np.zeros((mr, x.shape[1]))), noise, c, delayed


def run(scenario, bits, frames, coupling_power, depth_db, backoff_db, chunk=997):
    """One front end over ``frames`` frames; the figures over the last half."""
    lay = ofdm.layout_from_scenario(scenario)
    x = own_transmission(scenario, frames)
    leak, noise, c, delayed = received(scenario, x, coupling_power)
    v = leak + noise
    fe = front_end.ReceiveFrontEnd(scenario.rx_antennas, lay.frame_len, bits, 1.0, True, backoff_db)
    canc = None
    if depth_db:
        canc = front_end.SelfInterferenceCanceller(scenario.tx_antennas, scenario.rx_antennas, lay.subcarriers,
                                                   lay.cyclic_prefix, lay.frame_len, scenario.bandwidth_hz,
                                                   depth_db=depth_db)
    chain = front_end.NodeFrontEnd(fe, canc)
    chain.push_tx(x)  # the node's own transmission is ahead of its receiver
    total = v.shape[1]
    out = np.zeros_like(v)
    injected = np.zeros_like(v)
    for start in range(0, total, chunk):
        stop = min(total, start + chunk)
        out[:, start:stop] = chain.process(v[:, start:stop], start)
        if chain.last_injected is not None:
            injected[:, start:stop] = chain.last_injected
    half = (frames // 2) * lay.frame_len
    ahead = v[:, half:] - injected[:, half:]  # the ADC's input ÷ g
    residual_leak = leak[:, half:] - injected[:, half:]  # the leakage the canceller left
    sigma2 = scenario.noise_power
    err = out[:, half:] - ahead
    q_floor = float(np.mean(np.abs(err) ** 2)) / sigma2
    sig = float(np.mean(np.abs(ahead) ** 2))
    row = {"bits": bits, "q_floor_db": 10 * math.log10(q_floor),
           "sqnr_db": 10 * math.log10(sig / max(q_floor * sigma2, 1e-300)),
           "clipped": fe.adc_clipped, "gain_db": fe.gain_db}
    if coupling_power:
        leak_p = float(np.mean(np.abs(leak[:, half:]) ** 2))
        res_p = float(np.mean(np.abs(residual_leak) ** 2))
        row["leak_db"] = 10 * math.log10(leak_p / sigma2)
        row["resid_db"] = 10 * math.log10(max(res_p, 1e-300) / sigma2)
        row["canc_true_db"] = 10 * math.log10(leak_p / max(res_p, 1e-300))
        row["canc_reported_db"] = canc.cancellation_db if canc is not None else 0.0
        row["settled_frame"] = canc.first_settled_frame if canc is not None else None
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--isolation-db", type=float, default=40.0)
    parser.add_argument("--depth-db", type=float, default=front_end.DEFAULT_RF_CANCELLER_DB)
    parser.add_argument("--backoff-db", type=float, default=front_end.DEFAULT_AGC_BACKOFF_DB)
    parser.add_argument("--backoff", action="store_true", help="SQNDR against the AGC backoff instead")
    args = parser.parse_args()
    print(f"load average: {open('/proc/loadavg').read().split()[:3]}")
    s = load_scenario("paper")
    coupling = leakage_power_per_element(s, args.isolation_db)
    print(f"paper scenario, node 0: |C|²/σ² per element = {10 * math.log10(coupling / s.noise_power):+.1f} dB "
          f"(isolation {args.isolation_db:g} dB; mean|b|² = {np.mean(np.abs(s.target_amplitudes()) ** 2):.3f})")
    if args.backoff:
        backoffs = [10, 12, 14, 16, 17, 18, 19, 20, 21, 22, 24]
        print("SQNDR (dB) of the ADC on the leakage-dominated input (no canceller), AGC target backoff:")
        print("bits " + "".join(f"{b:>7d}" for b in backoffs) + "   best")
        for bits in (8, 10, 12, 14, 16):
            vals = [run(s, bits, args.frames, coupling, 0, b)["sqnr_db"] for b in backoffs]
            print(f"{bits:4d} " + "".join(f"{v:7.1f}" for v in vals) + f"   {backoffs[int(np.argmax(vals))]} dB")
        print("theory without clipping 6.02·b + 4.77 − backoff: 12 bits at 12 dB = "
              f"{front_end.sqnr_theory_db(12, 12):.1f} dB")
        return
    print(f"AGC backoff {args.backoff_db:g} dB, RF canceller depth {args.depth_db:g} dB, {args.frames} frames "
          "(figures over the last half)")
    header = (f"{'bits':>4} | {'noise only':>10} | {'leak, no canceller':>18} | {'leak + canceller':>16} | "
              f"{'resid/σ²':>8} | {'canc true/reported':>18} | {'settled':>7} | {'SQNR meas/theory':>16}")
    print(header)
    print("-" * len(header))
    for bits in range(8, 17):
        quiet = run(s, bits, args.frames, 0.0, 0, args.backoff_db)
        leaky = run(s, bits, args.frames, coupling, 0, args.backoff_db)
        cancelled = run(s, bits, args.frames, coupling, args.depth_db, args.backoff_db)
        print(f"{bits:4d} | {quiet['q_floor_db']:+8.1f}dB | {leaky['q_floor_db']:+16.1f}dB | "
              f"{cancelled['q_floor_db']:+14.1f}dB | {cancelled['resid_db']:+6.1f}dB | "
              f"{cancelled['canc_true_db']:8.1f} / {cancelled['canc_reported_db']:5.1f}dB | "
              f"{str(cancelled['settled_frame']):>7} | {quiet['sqnr_db']:6.1f} / "
              f"{front_end.sqnr_theory_db(bits, args.backoff_db):5.1f} dB")
    print("q_floor columns: the ADC's error power over σ² (thermal noise); the leakage itself was "
          f"{leaky['leak_db']:+.1f} dB over σ² per antenna")


if __name__ == "__main__":
    main()
