# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Seeing targets through the interference (issue 14, SPEC14 §3): the static background of every link —
the direct paths between the nodes, each node's own TX → RX leakage (self-coupling) and static clutter —
learned over frames after per-link de-rotation, and subtracted from every frame before the targets are
searched; a flag for echoes beyond the cyclic prefix. Pure numpy; docs/interference.md gives the
measurements behind every decision.

The model (after the calibration of docs/air-model.md §3 is applied: every link's residual delay is gone,
the model frames X_m carry the transmit chains' magnitudes and delays). Node n's snapshot of frame f is

    Y_n,f[:, l, p] = Σ_m α_mn,f · ( H_mn[l] X_m,f[:, l, p] + h_mn[l] )  +  targets  +  noise

* H_mn[l] (Mr × Mt, per subcarrier) is everything static on link m → n that is linear in node m's frame:
  the direct path (its true gains, angles and delay, whatever calibration residual is left), the
  clutter's echoes and, for m = n, the self-coupling matrix C_n (with its own delay and filtering). A
  full matrix per subcarrier, so no assumption on the geometry, the gains or the leakage's response is
  needed — only that it is static.
* h_mn[l] (Mr,) is the static part that does not depend on this frame's data: the echo of the frame's
  front (preamble and pilots, the same every frame) that paths longer than the cyclic prefix drag into
  the first symbol's window.
* α_mn,f is the link's phase in frame f: e^{j(φ_m − φ_n)} of the two oscillators (per frame, or per run
  with drift); for m = n the node's own oscillator cancels, but the calibration's CFO correction (ε̂_n, in
  the gauge of node 0) turns the node's own leakage slowly: learned per frame as well. The noncoherent
  nodes have no common phase over frames; the direct path, +50 dB above any echo, gives it: the de-rotation.

Learning (``learn_background``) alternates: α from the known direct-path geometry first (core.localizer
known_paths: the line of sight's angles and delay are geometry the receiver may read), then H, h by least
squares over all frames and symbols (per rx node and subcarrier: N·(Mt + 1) unknowns from F·P
observations), then α of every frame given H, h (phase only, unit modulus), and so on (ITERATIONS).

Suppressing (``Suppressor.apply``) per frame: the columns c_mn,f = H_mn X_m,f + h_mn are known, their
amplitudes α_mn,f are fitted by least squares (N complex unknowns per rx node and frame — the per-frame
de-rotation) and the fit is subtracted: a projection onto N known columns, which is what makes the
result independent of the interference's level (the +50 dB direct path and a +100 dB leakage leave the
same residual: the background's estimation error, σ²·N(Mt + 1)/(F·P) per resource element).

Static targets are as static as clutter: a background learned while targets are in the scene eats their
echoes. Decided (as deployed radars do): the background is learned from a capture with the scene clear
(``background_frames`` of the trials, `disac calibrate`-like), stored (``Background.save``) beside the
calibration; moving targets would allow learning on line, not done here.

Beyond the cyclic prefix: an echo whose delay passes the CP leaks each subcarrier into its neighbours
(the FFT window cuts the delayed symbol: inter-carrier interference). The learning residual is regressed
on the neighbouring subcarriers' data X_m[:, l ± 1]: the energy they explain, against what noise alone
explains, is the flag (``Background.beyond_cp_db``, ``beyond_cp_flags``); it comes from samples only. At a
flagged node the window's truncation is learned too: taps g_mn,τ on U_τ(X_m), the frame's own core samples
shifted by τ and masked to the first ⌈τ − CP⌉ window samples (_truncation_signals), three shifts per mask, for
the masks at which the learning residual's time profile steps, per link (_link_masks; docs/interference.md §4:
the receiver's geometry does not bound where clutter is, the samples show it).
"""

import dataclasses
import json
import math

import numpy as np

from . import geometry

ITERATIONS = 3
# a node's learned background counts as "beyond-CP interference present" when the neighbouring
# subcarriers explain this many dB more of the learning residual than noise would (5 σ of the χ² is
# ~0.2 dB at the sizes here: 3 dB is unmistakable)
BEYOND_CP_FLAG_DB = 3.0
# singular values below this fraction of the largest are dropped in the least-squares fits (inactive bins:
# X = 0; regressors collinear through the users' common data)
_RCOND = 1e-10
# the beyond-CP model (docs/interference.md §4): band-limited shifts learned per mask length M (the first M window
# samples from the previous symbol), equally spaced over the mask's delay interval, ends included. Measured (L = 64,
# the truncation of delays drawn in CP … CP + 39 fitted over 300 frames, residual against the truncation's own
# energy, worst / mean): one integer tap per delay −11 / −17 dB, 1 shift −14 / −20 dB, 2 (ends) −20 / −27 dB,
# 3 (ends and middle) −45 / −50 dB
TAP_SHIFTS_PER_MASK = 3
# which masks a link learns: where the learning residual's time profile steps (_step_masks) by more than
# _PROFILE_SIGMAS standard errors, the means of w samples either side compared for each w of _PROFILE_WINDOWS
# (1: a spike, two masks a sample apart; 4: a weak step); _TAP_PASSES rounds of detecting and fitting (weaker
# steps show once the strong ones are fitted)
_PROFILE_SIGMAS = 5.0
_PROFILE_WINDOWS = (1, 4)
_TAP_PASSES = 4
FORMAT = "gr-disac-background"
VERSION = 1


@dataclasses.dataclass(frozen=True)
class Background:
    """The static background of every link, learned by ``learn_background``.

    coefficients (N_rx, L, Mr, N_tx·(Mt + 1)) complex: for rx node n and subcarrier l, [H_0n[l], …,
    H_(N−1)n[l], h_0n[l], …, h_(N−1)n[l]] (the data part of every transmitter, then the static parts).
    link_power_db (N_rx, N_tx): the learned background's power per resource element and rx antenna on each
    link, in dB above the noise power (what the suppressor removes). residual_excess_db (N_rx,): the
    learning residual against the noise the receiver expects (> 0: an unmodelled floor: quantisation,
    echoes beyond the CP, a moving scatterer). beyond_cp_db (N_rx,): the neighbouring-subcarrier energy
    in that residual against what its own floor would explain (module docstring)."""

    coefficients: np.ndarray
    tx_antennas: int
    frames_used: int
    noise_power: float
    link_power_db: np.ndarray
    residual_excess_db: np.ndarray
    beyond_cp_db: np.ndarray
    # echoes beyond the cyclic prefix (learned only at the nodes whose learning residual flags them): the
    # samples a path of delay τ > CP takes from the previous symbol instead of the circular continuation,
    # tap_delays (T,) samples, taps (N_rx, Mr, N_tx·Mt·T) or None (module docstring)
    cyclic_prefix: int = 0
    tap_delays: object = None
    taps: object = None
    # (N_rx, L) the receive delay ramps the node receivers applied to the snapshots (the calibration's
    # e^{+j2π f_l (r_n − w_n)/fs}; None: none): the prefix cuts the window before them
    rx_ramps: object = None
    # the clear-scene capture this was learned from (core.impairment_trials: capture_record), None when unknown (a
    # background learned directly, or a file from before): {"frames_per_node": frames per transmitting node,
    # "requested": "auto" or the explicit count, "tap_shifts": band-limited shifts per beyond-CP mask (None without
    # taps), "extended_from": the base length an auto capture started at (None: not extended), "reason": why}
    capture: object = None

    @property
    def num_nodes(self):
        return self.coefficients.shape[0]

    @property
    def frames_per_node(self):
        """Clear-scene frames per transmitting node of the capture (capture["frames_per_node"]; else frames_used / N,
        what a node-by-node capture gives)."""
        if isinstance(self.capture, dict) and self.capture.get("frames_per_node") is not None:
            return int(self.capture["frames_per_node"])
        return int(self.frames_used) // max(self.num_nodes, 1)

    def link_masks(self):
        """(N_rx, N_tx) lists of the beyond-CP masks M (window samples from the previous symbol) each link m → n
        learned taps at (empty without taps): what the learning found in the samples (_link_masks)."""
        n_nodes = self.num_nodes
        out = [[[] for _ in range(n_nodes)] for _ in range(n_nodes)]
        if self.taps is None or self.tap_delays is None:
            return out
        counts = np.array([_mask_count(d, self.cyclic_prefix) for d in self.tap_delays])
        taps = np.asarray(self.taps).reshape(n_nodes, -1, n_nodes, self.tx_antennas, len(self.tap_delays))
        for n in range(n_nodes):
            for m in range(n_nodes):
                on = np.any(taps[n, :, m] != 0, axis=(0, 1))
                out[n][m] = sorted({int(v) for v in counts[on]})
        return out

    @property
    def beyond_cp_flags(self):
        """(N,) bool: nodes whose background shows the leakage of echoes beyond the cyclic prefix."""
        return np.asarray(self.beyond_cp_db) > BEYOND_CP_FLAG_DB

    def summary(self):
        """The learning's figures for the apps' JSON ``interference`` object."""
        return {"frames_used": int(self.frames_used),
                "link_power_db": np.round(np.asarray(self.link_power_db, float), 2).tolist(),
                "residual_excess_db": np.round(np.asarray(self.residual_excess_db, float), 2).tolist(),
                "beyond_cp_db": np.round(np.asarray(self.beyond_cp_db, float), 2).tolist(),
                "beyond_cp_nodes": [int(n) for n in np.nonzero(self.beyond_cp_flags)[0]],
                "beyond_cp_count": int(np.sum(self.beyond_cp_flags)),
                "beyond_cp_taps": None if self.tap_delays is None else len(self.tap_delays),
                "frames_per_node": self.frames_per_node,
                "capture": None if self.capture is None else dict(self.capture)}

    def save(self, path):
        """A JSON file (UTF-8; complex values as [re, im]) to keep beside the calibration file."""
        c = np.asarray(self.coefficients)
        doc = {"format": FORMAT, "version": VERSION, "tx_antennas": int(self.tx_antennas),
               "frames_used": int(self.frames_used), "noise_power": float(self.noise_power),
               "shape": list(c.shape), "coefficients": np.stack([c.real, c.imag], -1).reshape(-1, 2).tolist(),
               "link_power_db": np.asarray(self.link_power_db, float).tolist(),
               "residual_excess_db": np.asarray(self.residual_excess_db, float).tolist(),
               "beyond_cp_db": np.asarray(self.beyond_cp_db, float).tolist(),
               "cyclic_prefix": int(self.cyclic_prefix),
               "tap_delays": None if self.tap_delays is None else np.asarray(self.tap_delays, float).tolist(),
               "taps": None if self.taps is None else _pairs(self.taps),
               "taps_shape": None if self.taps is None else list(np.shape(self.taps)),
               "rx_ramps": None if self.rx_ramps is None else _pairs(self.rx_ramps),
               "rx_ramps_shape": None if self.rx_ramps is None else list(np.shape(self.rx_ramps)),
               "capture": None if self.capture is None else dict(self.capture)}
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(doc, handle)


def load_background(path):
    """A Background from ``Background.save``'s file; ValueError naming what is wrong."""
    with open(path, encoding="utf-8") as handle:
        doc = json.load(handle)
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError(f"{path}: not a {FORMAT} file (format = {doc.get('format') if isinstance(doc, dict) else doc!r})")
    if doc.get("version") != VERSION:
        raise ValueError(f"{path}: version {doc.get('version')!r}; accepted: {VERSION}")
    shape = tuple(int(v) for v in doc["shape"])
    pairs = np.asarray(doc["coefficients"], float)
    if len(shape) != 4 or pairs.shape != (int(np.prod(shape)), 2):
        raise ValueError(f"{path}: coefficients of {pairs.shape} do not fit shape {shape}")
    coefficients = (pairs[:, 0] + 1j * pairs[:, 1]).reshape(shape)
    return Background(coefficients, int(doc["tx_antennas"]), int(doc["frames_used"]), float(doc["noise_power"]),
                      np.asarray(doc["link_power_db"]), np.asarray(doc["residual_excess_db"]),
                      np.asarray(doc["beyond_cp_db"]), int(doc.get("cyclic_prefix", 0)),
                      None if doc.get("tap_delays") is None else np.asarray(doc["tap_delays"], float),
                      _unpairs(doc.get("taps"), doc.get("taps_shape")),
                      _unpairs(doc.get("rx_ramps"), doc.get("rx_ramps_shape")),
                      _capture_record(path, doc.get("capture")))


def _capture_record(path, record):
    """A saved capture record (Background.capture): None or a dict whose frames_per_node is a whole number ≥ 1."""
    if record is None:
        return None
    frames = record.get("frames_per_node") if isinstance(record, dict) else None
    if isinstance(frames, bool) or not isinstance(frames, int) or frames < 1:
        raise ValueError(f"{path}: capture = {record!r}: expected an object with frames_per_node a whole number ≥ 1")
    return dict(record)


def _pairs(values):
    c = np.asarray(values, complex)
    return np.stack([c.real, c.imag], -1).reshape(-1, 2).tolist()


def _unpairs(pairs, shape):
    if pairs is None:
        return None
    pairs = np.asarray(pairs, float)
    return (pairs[:, 0] + 1j * pairs[:, 1]).reshape(tuple(int(v) for v in shape))


def _regressors(frames, alpha):
    """Z (F, L, P, N·(Mt + 1)): α_m,f·X_m,f[:, l, p] for every transmitter, then α_m,f (the static parts).
    frames (F, N, Mt, L, P), alpha (F, N)."""
    f_count, n_tx, mt, nsub, nsym = frames.shape
    data = alpha[:, :, None, None, None] * frames  # (F, N, Mt, L, P)
    data = data.transpose(0, 3, 4, 1, 2).reshape(f_count, nsub, nsym, n_tx * mt)
    on_air = np.any(frames != 0, axis=(2, 3, 4))  # (F, N): a silent transmitter has no static part either
    static = np.broadcast_to((alpha * on_air)[:, None, None, :], (f_count, nsub, nsym, n_tx))
    return np.concatenate([data, static], axis=3)


def _columns(coefficients_n, frames, taps_n=None, cyclic_prefix=0, tap_delays=None, ramp=None):
    """c (F, N, Mr, L, P): the background column of every transmitter m for one rx node (α = 1):
    H_mn X_m,f + h_mn (+ the beyond-CP taps' part). coefficients_n (L, Mr, N·(Mt + 1)), frames (F, N, Mt, L, P),
    taps_n (Mr, N·Mt·T) or None."""
    f_count, n_tx, mt, nsub, nsym = frames.shape
    h = coefficients_n[:, :, :n_tx * mt].reshape(nsub, -1, n_tx, mt)  # (L, Mr, N, Mt)
    static = coefficients_n[:, :, n_tx * mt:]  # (L, Mr, N)
    on_air = np.any(frames != 0, axis=(2, 3, 4))  # (F, N)
    data = np.einsum("lrmi,fmilp->fmrlp", h, frames, optimize=True)
    out = data + on_air[:, :, None, None, None] * static.transpose(2, 1, 0)[None, :, :, :, None]
    if taps_n is not None:
        u = _truncation_signals(frames, cyclic_prefix, tap_delays, ramp)  # (F, N, Mt, T, L, P)
        g = np.asarray(taps_n).reshape(-1, n_tx, mt, len(tap_delays))  # (Mr, N, Mt, T)
        out = out + np.einsum("rmit,fmitlp->fmrlp", g, u, optimize=True)
    return out


def _truncation_signals(frames, cyclic_prefix, tap_delays, ramp=None):
    """U (F, N, Mt, T, L, P): for each tap delay τ > CP, the spectrum of what the FFT window of a path of delay
    τ misses against the circular model d(τ)·X: u_τ[t] = −x[(t − τ) mod L] for the first τ − CP samples
    (those come from the previous symbol, whose static part the background's h_mn holds). x = the core
    samples of X (ifft, as the node receiver's orthonormal fft)."""
    nsub = frames.shape[3]
    bins = np.arange(nsub)  # the model grid f_l = l·B/L (geometry.delay_steering): its band-limited shift
    out = np.zeros(frames.shape[:3] + (len(tap_delays),) + frames.shape[3:], complex)
    for j, tau in enumerate(tap_delays):
        count = min(nsub, _mask_count(tau, cyclic_prefix))
        if count <= 0:
            continue
        shift = abs(float(tau))
        spectrum = frames * np.exp(-2j * np.pi * bins * shift / nsub)[:, None]
        if ramp is not None:  # back to the window as the prefix cut it (before the receiver's delay ramp)
            spectrum = spectrum / ramp[:, None]
        shifted = np.fft.ifft(spectrum, axis=3, norm="ortho")
        u = np.zeros_like(shifted)
        u[:, :, :, :count] = -shifted[:, :, :, :count]
        cut = np.fft.fft(u, axis=3, norm="ortho")
        out[:, :, :, j] = cut if ramp is None else cut * ramp[:, None]
    return out


def _learn_taps(y, z, v):
    """Taps (Mr, R) of the beyond-CP regressors v (F, L, P, R) jointly with the per-subcarrier model z (F, L, P,
    Q): z projected out per subcarrier (Frisch–Waugh), then one least-squares fit over all subcarriers (normal
    equations: these paths are clutter, tens of dB above the noise, not the leakage)."""
    f_count, nsub, nsym, q = z.shape
    r = v.shape[3]
    gram = np.zeros((r, r), complex)
    cross = np.zeros((r, y.shape[1]), complex)
    for l in range(nsub):
        a = z[:, l].reshape(-1, q)
        b = v[:, l].reshape(-1, r)
        yl = y[:, :, l].transpose(0, 2, 1).reshape(-1, y.shape[1])  # (FP, Mr)
        pa = np.linalg.pinv(a, rcond=_RCOND)
        b_res = b - a @ (pa @ b)
        y_res = yl - a @ (pa @ yl)
        gram += np.conj(b_res.T) @ b_res
        cross += np.conj(b_res.T) @ y_res
    load = 1e-9 * np.trace(gram).real / max(r, 1) + 1e-300
    return np.linalg.solve(gram + load * np.eye(r), cross).T


def _mask_count(tau, cyclic_prefix):
    """M, the window samples a tap takes from the previous symbol: ⌈τ − CP⌉ for a delay τ > 0; a negative entry
    −(CP + M − 1) of default_tap_delays is the shift CP + M − 1 with mask M (the left end of mask M's interval)."""
    tau = float(tau)
    if tau < 0:  # −τ: the left end of mask M = ceil(−τ − CP) + 1
        return int(round(-tau - int(cyclic_prefix))) + 1
    return int(math.ceil(tau - int(cyclic_prefix) - 1e-9))


def default_tap_delays(cyclic_prefix, subcarriers):
    """The fixed beyond-CP tap set of stop 19 (masks M = 1 … min(L, CP + 4), three shifts each), still accepted
    as learn_background's explicit ``tap_delays`` (every link then learns all of them). The default is now
    per link, from the samples (learn_background: _link_masks)."""
    count = min(int(subcarriers), int(cyclic_prefix) + 4)
    cp = int(cyclic_prefix)
    # for every mask M (the first M window samples from the previous symbol: delays in (CP + M − 1, CP + M]),
    # three band-limited shifts at CP + M − 1 (written −(CP + M − 1): same shift, mask M), CP + M − ½, CP + M
    out = []
    for mask in range(1, count + 1):
        out += [-(cp + mask - 1) if mask > 1 else -(cp + 0.0) - 1e-6, cp + mask - 0.5, cp + mask]
    return np.asarray(out, float)


def mask_tap_delays(cyclic_prefix, masks, shifts=TAP_SHIFTS_PER_MASK):
    """The tap delays of masks M = 1 … ``masks`` (a count, or a sequence of masks), ``shifts`` band-limited shifts
    each, equally spaced over the mask's delay interval [CP + M − 1, CP + M] ends included (1: its middle), in
    the order (M, shift). The left end CP + M − 1 is written −(CP + M − 1) (the same shift with mask M;
    _mask_count), for M = 1 −(CP + 10⁻⁶)."""
    cp, shifts = int(cyclic_prefix), int(shifts)
    if shifts < 1:
        raise ValueError(f"shifts = {shifts!r}: accepted: an integer ≥ 1 (band-limited shifts per mask)")
    offsets = np.array([-0.5]) if shifts == 1 else np.linspace(-1.0, 0.0, shifts)
    chosen = range(1, int(masks) + 1) if np.ndim(masks) == 0 else [int(v) for v in masks]
    out = []
    for mask in chosen:
        for offset in offsets:
            tau = cp + mask + float(offset)
            out.append(tau if offset > -1.0 else (-(cp + 1e-6) if mask == 1 else -float(cp + mask - 1)))
    return np.asarray(out, float)


def _time_profile(residual, ramp=None):
    """(F, L): the learning residual's energy per window sample (mean over rx antennas and symbols), the
    snapshots taken back to the window as the prefix cut it (before the receiver's delay ramp)."""
    r = residual if ramp is None else residual / np.asarray(ramp)[None, None, :, None]
    return np.mean(np.abs(np.fft.ifft(r, axis=2, norm="ortho")) ** 2, axis=(1, 3))


def _step_masks(profile, samples_per_point):
    """The masks M (sorted ints in 1 … L − 1) at which ``profile`` (L,) changes level between window samples
    M − 1 and M: the means of the w samples on either side (each w of _PROFILE_WINDOWS) differ by more than
    _PROFILE_SIGMAS standard errors — each point a mean of ``samples_per_point`` independent |r|² (std = mean;
    count frames × symbols, not antennas: an echo reaches every rx antenna through one steering vector) — at the
    local maxima of that score (a step raises it over the ±w samples whose windows straddle it), each with M ± 1
    (the receiver's fractional delay ramp smears a step over a sample). An echo of mask M raises the samples
    before M — or lowers them: its part the per-subcarrier fit takes spreads over the window. A step at M = L
    (a delay past CP + L) would wrap onto sample 0: not seen."""
    profile = np.asarray(profile, float)
    count = max(float(samples_per_point), 1.0)
    nsub = len(profile)
    out = set()
    for width in _PROFILE_WINDOWS:
        score = np.zeros(nsub)
        for mask in range(1, nsub):
            head = profile[max(0, mask - width):mask]
            tail = profile[mask:mask + width]
            se = math.sqrt(head.mean() ** 2 / (len(head) * count) + tail.mean() ** 2 / (len(tail) * count))
            score[mask] = abs(head.mean() - tail.mean()) / max(se, 1e-300)
        for mask in np.nonzero(score > _PROFILE_SIGMAS)[0]:
            if score[mask] >= score[max(1, mask - 1):mask + 2].max():
                out.update(v for v in (mask - 1, mask, mask + 1) if 1 <= v < nsub)
    return sorted(int(v) for v in out)


def _transmitter_groups(frames):
    """[(transmitters, frame indices)]: the capture's frames grouped so that no transmitter is on in two groups
    (the connected components of 'on in the same frame'): the least-squares fits separate exactly over them (a
    transmitter's regressors are zero where it is silent). The node-by-node capture gives one group per node."""
    on = np.any(frames != 0, axis=(2, 3, 4))  # (F, N)
    n_tx = on.shape[1]
    parent = list(range(n_tx))

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for row in on:
        lit = np.nonzero(row)[0]
        for m in lit[1:]:
            parent[root(int(m))] = root(int(lit[0]))
    groups = {}
    for m in range(n_tx):
        if on[:, m].any():
            groups.setdefault(root(m), []).append(m)
    out = []
    for members in groups.values():
        rows = np.nonzero(on[:, members].any(axis=1))[0]
        out.append((members, rows))
    return out


def _link_masks(residual, frames, ramp, groups, rx_antennas):
    """{transmitter: masks (set of ints)} for one rx node from a learning residual (module docstring;
    docs/interference.md §4): the level steps of the residual's time profile over the frames of the
    transmitter's group (_step_masks); a group of several transmitters gives each of them its steps."""
    nsym = frames.shape[4]
    profile = _time_profile(residual, ramp)  # (F, L)
    masks = {}
    for members, rows in groups:
        steps = set(_step_masks(profile[rows].mean(axis=0), len(rows) * nsym))
        for m in members:
            masks[m] = steps
    return masks


def _learn_link_taps(y, frames, alpha, cyclic_prefix, delays, masks, ramp=None, groups=None):
    """(taps (Mr, N·Mt·T) in Background.taps' order (m, i, τ), their part of y (F, Mr, L, P)): the beyond-CP taps
    of every transmitter m at the delays whose mask is in masks[m] (a set of ints; the others stay zero), learned
    jointly with the per-subcarrier background (_learn_taps), group by group (``groups``: default
    _transmitter_groups(frames); the transmitters of groups not given get zero taps and no part)."""
    f_count, n_tx, mt, nsub, nsym = frames.shape
    mr = y.shape[1]
    n_taps = len(delays)
    taps = np.zeros((mr, n_tx, mt, n_taps), complex)
    part = np.zeros_like(y)
    counts = np.array([_mask_count(d, cyclic_prefix) for d in delays])
    for members, rows in (_transmitter_groups(frames) if groups is None else groups):
        chosen = {m: np.nonzero(np.isin(counts, sorted(masks.get(m, ()))))[0] for m in members}
        chosen = {m: sel for m, sel in chosen.items() if len(sel)}
        if not chosen:
            continue
        x = frames[rows]
        blocks = []
        for m, sel in chosen.items():
            u = _truncation_signals(x[:, [m]], cyclic_prefix, delays[sel], ramp)[:, 0]  # (Fg, Mt, T_m, L, P)
            u = u * alpha[rows, m][:, None, None, None, None]
            blocks.append(u.transpose(0, 3, 4, 1, 2).reshape(len(rows), nsub, nsym, -1))
        v = np.concatenate(blocks, axis=3)
        z = _regressors(x, alpha[rows])
        columns = [m * mt + i for m in members for i in range(mt)] + [n_tx * mt + m for m in members]
        g = _learn_taps(y[rows], z[..., columns], v)  # (Mr, R)
        part[rows] = np.einsum("rq,flpq->frlp", g, v, optimize=True)
        start = 0
        for m, sel in chosen.items():
            width = mt * len(sel)
            taps[:, m, :, sel] = g[:, start:start + width].reshape(mr, mt, len(sel)).transpose(2, 0, 1)
            start += width
    return taps.reshape(mr, -1), part


def _least_squares(y, z):
    """H (L, Mr, Q) minimising Σ_{f,p} ‖y[f, :, l, p] − H[l] z[f, l, p]‖². y (F, Mr, L, P), z (F, L, P, Q).
    Through the pseudo-inverse of the regressors (an SVD per subcarrier), not the normal equations: the
    regressors can be nearly collinear (the users' data are common to every node's frame) and the
    background can sit 100 dB above the noise, where squaring the condition number would leave a residual
    of the background's own level × 10⁻⁶."""
    return _least_squares_with_variance(y, z)[0]


def _least_squares_with_variance(y, z):
    """(H (L, Mr, Q), v (L, Q)): _least_squares and each coefficient's error variance per unit noise power,
    v[l, q] = Σ_s |pinv(Z_l)[q, s]|² (white noise of power σ² gives var(Ĥ[l, r, q]) = σ²·v[l, q])."""
    f_count, nsub, nsym, q = z.shape
    zz = z.transpose(1, 0, 2, 3).reshape(nsub, f_count * nsym, q)  # (L, FP, Q)
    yy = y.transpose(2, 0, 3, 1).reshape(nsub, f_count * nsym, y.shape[1])  # (L, FP, Mr)
    pinv = np.linalg.pinv(zz, rcond=_RCOND)  # (L, Q, FP)
    return (pinv @ yy).transpose(0, 2, 1), np.sum(np.abs(pinv) ** 2, axis=2)


# the learned background keeps, per link and subcarrier, only the singular components of H_mn[l] (Mr × Mt)
# above this multiple of the largest one noise alone would give, √(σ²v)·(√Mr + √Mt) (a noise-only Mr × Mt
# matrix's edge), and a static part h_mn[l] only when its energy passes noise's mean + 5 std: what is not
# significant is estimation noise, and subtracting it would add that noise to every frame (measured: on
# three-nodes with +50 dB direct paths the raw background cost +0.45 dB of noise, the pruned one ~0.1 dB)
_SINGULAR_EDGE_FACTOR = 1.2
_STATIC_SIGMAS = 5.0


def _prune(coef, variance, sigma2, n_tx, mt):
    """coef (L, Mr, Q) with its insignificant parts set to zero (above); variance (L, Q) per unit noise."""
    out = coef.copy()
    nsub, mr, _ = coef.shape
    for m in range(n_tx):
        block = slice(m * mt, (m + 1) * mt)
        u, s, vh = np.linalg.svd(coef[:, :, block], full_matrices=False)  # (L, Mr, k), (L, k), (L, k, Mt)
        edge = np.sqrt(sigma2 * np.mean(variance[:, block], axis=1)) * (math.sqrt(mr) + math.sqrt(mt))
        keep = s > _SINGULAR_EDGE_FACTOR * edge[:, None]
        out[:, :, block] = (u * (s * keep)[:, None, :]) @ vh
        q = n_tx * mt + m
        energy = np.sum(np.abs(coef[:, :, q]) ** 2, axis=1)
        noise = sigma2 * variance[:, q] * mr
        out[:, :, q] *= (energy > noise + _STATIC_SIGMAS * np.sqrt(mr) * sigma2 * variance[:, q])[:, None]
    return out


def _fit_amplitudes(y, columns):
    """Least-squares amplitudes a (F, N) of the N columns (F, N, D) in y (F, D) (pseudo-inverse: a column
    that is zero, or collinear with another, gets no amplitude of its own)."""
    pinv = np.linalg.pinv(columns.transpose(0, 2, 1), rcond=_RCOND)  # (F, N, D)
    return (pinv @ y[..., None])[..., 0]


def direct_path_columns(node_positions_m, rx, frames, rx_antennas, bandwidth_hz):
    """g (F, N, Mr, L, P): the line of sight m → rx of every transmitter (zero for m = rx) at its known
    geometry with unit amplitude, a_r(θ_rx,m) ⊗ (a_t^T(θ_m,rx) X_m ⊙ d^T(|p_m − p_rx|/c)), as issue 13's
    localiser models it (core.localizer.known_paths); frames (F, N, Mt, L, P)."""
    nodes = np.asarray(node_positions_m, float)
    f_count, n_tx, mt, nsub, nsym = frames.shape
    theta = geometry.angles_rad(nodes, nodes)  # [n, m]: angle of p_m from p_n
    tau = geometry.distances_m(nodes, nodes) / geometry.SPEED_OF_LIGHT_M_S
    out = np.zeros((f_count, n_tx, rx_antennas, nsub, nsym), complex)
    for m in range(n_tx):
        if m == rx:
            continue
        a_r = geometry.ula_steering(theta[rx, m], rx_antennas)
        a_t = geometry.ula_steering(theta[m, rx], mt)
        d = geometry.delay_steering(tau[rx, m], nsub, bandwidth_hz)
        beam = np.einsum("i,filp->flp", a_t, frames[:, m]) * d[None, :, None]
        out[:, m] = a_r[None, :, None, None] * beam[:, None]
    return out


def _initial_phases(y, frames, node_positions_m, rx, rx_antennas, bandwidth_hz, noise_power):
    """α (F, N) to start from: the phase of each link's direct path fitted at its known geometry when it
    stands clearly above the noise (10 dB in the fitted column), else 1 (per-run oscillators without drift
    need no de-rotation; per-frame ones without a direct path cannot be de-rotated: their background
    averages out, and the suppressor then removes nothing on that link)."""
    f_count, n_tx = frames.shape[:2]
    alpha = np.ones((f_count, n_tx), complex)
    if n_tx < 2:
        return alpha
    g = direct_path_columns(node_positions_m, rx, frames, rx_antennas, bandwidth_hz)
    others = [m for m in range(n_tx) if m != rx]
    # the node's own leakage (up to 100 dB above an echo, any Mr × Mt matrix) would swamp the fit: both
    # sides are first projected, per frame and rx antenna, off the span of the node's own frame X_rx
    own = frames[:, rx].reshape(f_count, frames.shape[2], -1)  # (F, Mt, LP)
    pinv = np.linalg.pinv(own, rcond=_RCOND)  # (F, LP, Mt)

    def off_own(v):  # (F, Mr, L, P) → the same with each row's component in span(X_rx) removed
        rows = v.reshape(f_count, rx_antennas, -1)
        return (rows - (rows @ pinv) @ own).reshape(f_count, -1)

    y_off = off_own(y)
    g_off = np.stack([off_own(g[:, m]) for m in others], axis=1)
    a = _fit_amplitudes(y_off, g_off)
    g = g.reshape(f_count, n_tx, -1)
    energy = np.abs(a) ** 2 * np.sum(np.abs(g_off) ** 2, axis=2)
    total = np.sum(np.abs(y_off) ** 2, axis=1)  # (F,)
    on_air = np.any(frames[:, others] != 0, axis=(2, 3, 4))  # (F, N − 1)
    # a direct path: its known-geometry column stands above the noise AND holds a good part of what the node
    # receives besides its own leakage (a background that merely projects onto it is no phase reference)
    strong = np.array([(np.median(energy[on_air[:, j], j]) > 10 * noise_power
                        and np.median(energy[on_air[:, j], j] / np.maximum(total[on_air[:, j]], 1e-300)) > 0.25)
                       if on_air[:, j].any() else False for j in range(len(others))])
    for j, m in enumerate(others):
        if strong[j]:
            alpha[:, m] = np.exp(1j * np.angle(a[:, j]))
    return alpha


def learn_background(snapshots, frames, noise_power, node_positions_m, bandwidth_hz, iterations=ITERATIONS,
                     cyclic_prefix=None, tap_delays=None, rx_ramps=None, tap_shifts=TAP_SHIFTS_PER_MASK):
    """The Background of every link from a capture with the scene clear (module docstring).

    snapshots (F, N, Mr, L, P): every node's calibrated snapshots; frames (F, N, Mt, L, P): the central
    unit's model frames X_m of those frames (with the calibration's tx factors); noise_power σ² (the
    scenario's: what the receiver expects); node_positions_m (N, 2) and bandwidth_hz: geometry, for the
    direct paths' phases. cyclic_prefix (samples; None: no beyond-CP model): where a node's learning residual
    flags echoes beyond the prefix (beyond_cp_db > BEYOND_CP_FLAG_DB), beyond-CP taps are learned there too: by
    default per link at the masks its learning residual shows (_link_masks, mask_tap_delays' shifts), or every
    link at the given ``tap_delays`` (e.g. default_tap_delays, stop 19's fixed set). ``tap_shifts``: the per-link
    masks' band-limited shifts each (mask_tap_delays; more model a cut more finely and cost more regressors: the
    clear-scene capture of core.impairment_trials takes as many as its length pays for, capture_tap_shifts).
    ValueError when the capture is too short to be identified."""
    y_all = np.asarray(snapshots, complex)
    x_all = np.asarray(frames, complex)
    if y_all.ndim != 5 or x_all.ndim != 5 or y_all.shape[0] != x_all.shape[0] or y_all.shape[1] != x_all.shape[1]:
        raise ValueError(f"snapshots {y_all.shape} / frames {x_all.shape}: expected (F, N, Mr, L, P) and "
                         "(F, N, Mt, L, P) of the same frames and nodes")
    f_count, n_nodes, mr, nsub, nsym = y_all.shape
    mt = x_all.shape[2]
    q = n_nodes * (mt + 1)
    if f_count * nsym < 2 * q:
        raise ValueError(f"background capture of {f_count} frames × {nsym} symbols: at least "
                         f"{-(-2 * q // nsym)} frames are needed to learn N·(Mt + 1) = {q} coefficients per "
                         "subcarrier (twice as many observations as unknowns)")
    sigma2 = float(noise_power)
    coefficients = np.empty((n_nodes, nsub, mr, q), complex)
    link_power = np.empty((n_nodes, n_nodes))
    excess = np.empty(n_nodes)
    beyond = np.empty(n_nodes)
    active = np.any(x_all != 0, axis=(0, 1, 2, 4))  # (L,) the bins the transmitters use
    given = None if tap_delays is None else np.asarray(tap_delays, float)
    # the default grid: masks up to L (a link's own masks come from its residual, _link_masks), trimmed below
    delays = None if cyclic_prefix is None else (
        mask_tap_delays(cyclic_prefix, nsub, tap_shifts) if given is None else given)
    taps = None
    groups = _transmitter_groups(x_all)
    for n in range(n_nodes):
        y = y_all[:, n]
        alpha = _initial_phases(y, x_all, node_positions_m, n, mr, bandwidth_hz, sigma2)
        alpha = _alternate(y, x_all, alpha, iterations)
        if not np.allclose(alpha, 1.0):  # keep the de-rotation only if it fits better than none (per-run oscillators)
            ones = np.ones_like(alpha)
            if _fit_residual(y, x_all, ones) <= _fit_residual(y, x_all, alpha):
                alpha = ones
        coef, variance = _least_squares_with_variance(y, _regressors(x_all, alpha))
        coef = _prune(coef, variance, sigma2, n_nodes, mt)
        coefficients[n] = coef
        c = _columns(coef, x_all)  # (F, N, Mr, L, P)
        fitted = np.einsum("fm,fmrlp->frlp", alpha, c)
        residual = y - fitted
        link_power[n] = [_db(v / sigma2) for v in np.mean(np.abs(c[:, :, :, active]) ** 2, axis=(0, 2, 3, 4))]
        dof = max(f_count * mr * int(active.sum()) * nsym - mr * int(active.sum()) * q - f_count * (n_nodes - 1), 1)
        floor = float(np.sum(np.abs(residual[:, :, active]) ** 2)) / dof
        excess[n] = _db(floor / sigma2)
        beyond[n] = _neighbour_leakage_db(residual, x_all, alpha, active, floor, sigma2)
        if delays is not None and beyond[n] > BEYOND_CP_FLAG_DB:
            ramp = None if rx_ramps is None else np.asarray(rx_ramps)[n]
            if given is None:  # the masks from the residual's steps, again after each fit (weaker steps show)
                masks = {m: set() for m in range(n_nodes)}
                passes = _TAP_PASSES
            else:
                masks = {m: set(range(1, nsub + 1)) for m in range(n_nodes)}
                passes = 1
            learned = 0
            taps_n = np.zeros((mr, n_nodes * mt * len(delays)), complex)
            part = np.zeros_like(y)
            for _ in range(passes):
                if given is None:
                    found = _link_masks(residual, x_all, ramp, groups, mr)
                    changed = {m for m in found if not found[m] <= masks[m]}
                    if not changed:
                        break
                    for m in found:
                        masks[m] |= found[m]
                    # only the groups whose masks grew are learned again: the fits separate exactly over groups
                    again = [(members, rows) for members, rows in groups if changed & set(members)]
                else:
                    again = groups
                new_taps, new_part = _learn_link_taps(y, x_all, alpha, cyclic_prefix, delays, masks, ramp, again)
                new_taps = new_taps.reshape(mr, n_nodes, -1)
                taps_n = taps_n.reshape(mr, n_nodes, -1)
                for members, rows in again:
                    taps_n[:, members] = new_taps[:, members]
                    part[rows] = new_part[rows]
                taps_n = taps_n.reshape(mr, -1)
                learned = int(np.count_nonzero(np.any(taps_n != 0, axis=0)))
                coef, variance = _least_squares_with_variance(y - part, _regressors(x_all, alpha))
                coef = _prune(coef, variance, sigma2, n_nodes, mt)
                residual = y - part - np.einsum("fm,fmrlp->frlp", alpha, _columns(coef, x_all))
                if taps is None:
                    taps = np.zeros((n_nodes, mr, taps_n.shape[1]), complex)
                taps[n] = taps_n
                coefficients[n] = coef
            if learned:
                floor = float(np.sum(np.abs(residual[:, :, active]) ** 2)) / max(dof - learned, 1)
                excess[n] = _db(floor / sigma2)
    if taps is not None and given is None:  # the grid (ordered by mask) trimmed to the longest mask any link learned
        per_delay = np.any(taps.reshape(n_nodes, mr, n_nodes, mt, len(delays)) != 0, axis=(0, 1, 2, 3))
        counts = np.array([_mask_count(d, cyclic_prefix) for d in delays])
        keep = int(np.sum(counts <= counts[per_delay].max())) if per_delay.any() else 0
        taps = taps.reshape(n_nodes, mr, n_nodes, mt, len(delays))[..., :keep].reshape(n_nodes, mr, -1)
        delays = delays[:keep]
        if not keep:
            taps = None
    return Background(coefficients, mt, f_count, sigma2, link_power, excess, beyond,
                      int(cyclic_prefix or 0), delays if taps is not None else None, taps,
                      None if rx_ramps is None else np.asarray(rx_ramps, complex))


def _alternate(y, x_all, alpha, iterations):
    """The alternation of learn_background: least squares of the background given the link phases α, then α
    (phase only, every link incl. the node's own) given the background; returns α."""
    f_count, n_nodes = x_all.shape[:2]
    for _ in range(max(0, int(iterations) - 1)):
        if n_nodes < 2 and np.allclose(alpha, 1.0):
            break
        coef = _least_squares(y, _regressors(x_all, alpha))
        c = _columns(coef, x_all).reshape(f_count, n_nodes, -1)
        a = _fit_amplitudes(y.reshape(f_count, -1), c)
        # phase only; the node's own link too: its TX and RX share one oscillator, but the calibration's CFO
        # correction (docs/air-model.md §3: ε̂_n relative to node 0's gauge) turns its leakage and monostatic
        # clutter by 2π·ε̂_n·t in the snapshots
        alpha = np.exp(1j * np.angle(a))
    return alpha


def _fit_residual(y, x_all, alpha):
    """‖y − background fit‖² with the link phases α."""
    z = _regressors(x_all, alpha)
    coef = _least_squares(y, z)
    fitted = np.einsum("lrq,flpq->frlp", coef, z, optimize=True)
    return float(np.sum(np.abs(y - fitted) ** 2))


def _neighbour_leakage_db(residual, frames, alpha, active, floor, noise_power):
    """dB by which the data of the neighbouring subcarriers X_m[:, l ± 1] explain more of the learning
    residual than its own floor would (a least-squares fit per subcarrier; under a white floor the explained
    energy is floor·(number of regressors) per rx antenna and subcarrier)."""
    z = _regressors(frames, alpha)
    n_tx, mt = frames.shape[1], frames.shape[2]
    data = z[..., :n_tx * mt]
    neighbours = np.concatenate([np.roll(data, 1, axis=1), np.roll(data, -1, axis=1)], axis=3)
    coef = _least_squares(residual, neighbours)
    explained = np.einsum("lrq,flpq->frlp", coef, neighbours, optimize=True)
    energy = float(np.sum(np.abs(explained[:, :, active]) ** 2))
    # against the larger of the residual's own floor and the noise the receiver expects: a noise-free capture
    # (`disac loopback`'s air) has only rounding left, which is not an echo beyond the prefix
    expected = max(floor, noise_power) * residual.shape[1] * int(active.sum()) * neighbours.shape[3]
    if expected <= 1e-30 * max(energy, 1e-300):  # a noise-free capture: no floor to compare with
        return 0.0 if energy <= 0 else _DB_LIMIT
    return _db(energy / expected)


_DB_LIMIT = 300.0


def _db(ratio):
    """10·log10(ratio), clamped to ±300 dB (a noise-free capture: JSON has no infinities)."""
    return float(np.clip(10 * np.log10(max(float(ratio), 1e-30)), -_DB_LIMIT, _DB_LIMIT))


@dataclasses.dataclass
class SuppressionStats:
    """Running figures of a Suppressor: frames processed and the energy removed per rx node (sum over
    frames of ‖y‖² before and after), for the apps' JSON."""

    frames: int = 0
    energy_in: np.ndarray = None
    energy_out: np.ndarray = None

    def as_dict(self):
        if not self.frames:
            return {"frames": 0, "suppressed_db": None}
        ratio = np.asarray(self.energy_in) / np.maximum(np.asarray(self.energy_out), 1e-300)
        return {"frames": int(self.frames), "suppressed_db": [round(_db(r), 2) for r in ratio]}


class Suppressor:
    """Subtracts a Background from every frame: per rx node, the N columns H_mn X_m,f + h_mn with their
    amplitudes fitted by least squares (the per-frame de-rotation; module docstring)."""

    def __init__(self, background):
        if not isinstance(background, Background):
            raise ValueError(f"background = {background!r}: expected a core.interference.Background")
        self.background = background
        self.stats = SuppressionStats(0, np.zeros(background.num_nodes), np.zeros(background.num_nodes))

    def apply(self, snapshots, frames):
        """Cleaned snapshots {n: (Mr, L, P)} of one frame. snapshots {rx node: Y_n (Mr, L, P)}, frames {tx
        node: X_m (Mt, L, P)} (the model frames, every node); a transmitter missing from ``frames`` keeps
        its background in the data (it cannot be regenerated)."""
        bg = self.background
        n_nodes, mt = bg.num_nodes, bg.tx_antennas
        shape = None
        for x in frames.values():
            shape = np.shape(x)
            break
        if shape is None:
            return dict(snapshots)
        x_all = np.zeros((1, n_nodes, mt) + tuple(shape[1:]), complex)
        present = []
        for m, x in frames.items():
            x_all[0, m] = x
            present.append(m)
        out = {}
        for n, y in snapshots.items():
            y = np.asarray(y, complex)
            taps_n = None if bg.taps is None else bg.taps[n]
            ramp = None if bg.rx_ramps is None else bg.rx_ramps[n]
            c = _columns(bg.coefficients[n], x_all, taps_n, bg.cyclic_prefix, bg.tap_delays, ramp)[0]  # (N, Mr, L, P)
            # the static parts of absent transmitters are still subtractable; their data parts are not:
            # zero frames leave only h_mn in their columns, which is what remains of them here
            cols = c.reshape(n_nodes, -1)[None]
            a = _fit_amplitudes(y.reshape(1, -1), cols)[0]
            cleaned = y - np.tensordot(a, c, axes=(0, 0))
            out[n] = cleaned.astype(np.asarray(snapshots[n]).dtype if np.iscomplexobj(snapshots[n]) else complex)
            self.stats.energy_in[n] += float(np.sum(np.abs(y) ** 2))
            self.stats.energy_out[n] += float(np.sum(np.abs(cleaned) ** 2))
        self.stats.frames += 1
        return out

    def summary(self):
        return {"method": "background", **self.background.summary(), **self.stats.as_dict()}


def self_coupling_per_frame(snapshots, frames, rx):
    """The alternative measured in docs/interference.md: node rx's leakage C (Mr × Mt) fitted and projected
    out in this frame alone (Mt unknowns per rx antenna out of L·P samples) — no learning, but Mt of
    every antenna's L·P dimensions lost per frame. snapshots {n: (Mr, L, P)}, frames {m: (Mt, L, P)}."""
    y = np.asarray(snapshots[rx], complex)
    x = np.asarray(frames[rx], complex).reshape(frames[rx].shape[0], -1)  # (Mt, LP)
    yy = y.reshape(y.shape[0], -1)
    coef = np.linalg.lstsq(x.T, yy.T, rcond=None)[0].T  # (Mr, Mt)
    return (yy - coef @ x).reshape(y.shape)


def free_space_los_gain_db(distance_m, carrier_hz, tx_gain_dbi=0.0, rx_gain_dbi=0.0):
    """10·log10(G_t G_r λ² / (4π d)²), the line of sight's power gain (SPEC14 §1's link budget)."""
    lam = geometry.SPEED_OF_LIGHT_M_S / float(carrier_hz)
    return tx_gain_dbi + rx_gain_dbi + 20 * math.log10(lam / (4 * math.pi * float(distance_m)))


def background_image(background, node_positions_m, bandwidth_hz, region_m, step_m=5.0):
    """A radar image of what the background holds besides the direct paths and the leakage (the static
    clutter the suppressor removes), from the learned coefficients and the geometry only: for every point q
    of the region, Σ_links |Σ_l d_l*(τ_nq + τ_mq) a_r^H(θ_nq) H'_mn[l] a_t*(θ_mq)|² / (Mr·Mt·L)², with H'_mn
    the link's background less its direct path (the best fit of the known line of sight, m ≠ n) and less its
    part flat over the subcarriers (m = n: the leakage at the node's own delay). Returns (xs, ys, image
    (len(xs), len(ys)) in dB above the image's median), for `disac demo`'s map."""
    nodes = np.asarray(node_positions_m, float)
    coef = np.asarray(background.coefficients)
    n_nodes, nsub, mr, _ = coef.shape
    mt = background.tx_antennas
    x0, x1, y0, y1 = (float(v) for v in region_m)
    xs = np.arange(x0, x1 + step_m / 2, step_m)
    ys = np.arange(y0, y1 + step_m / 2, step_m)
    grid = np.stack(np.meshgrid(xs, ys, indexing="ij"), axis=-1).reshape(-1, 2)
    theta = geometry.angles_rad(nodes, grid)  # (N, G)
    tau = geometry.one_way_delays_s(nodes, grid)
    ar = geometry.ula_steering(theta, mr)  # (N, G, Mr)
    at = geometry.ula_steering(theta, mt)
    between = geometry.angles_rad(nodes, nodes)
    distance = geometry.distances_m(nodes, nodes) / geometry.SPEED_OF_LIGHT_M_S
    image = np.zeros(len(grid))
    for n in range(n_nodes):
        for m in range(n_nodes):
            h = coef[n, :, :, m * mt:(m + 1) * mt]  # (L, Mr, Mt)
            if not np.any(h):
                continue
            if m != n:  # the line of sight's best fit at its known geometry, taken out
                g = (geometry.delay_steering(distance[n, m], nsub, bandwidth_hz)[:, None, None]
                     * np.outer(geometry.ula_steering(between[n, m], mr), geometry.ula_steering(between[m, n], mt))[None])
                h = h - (np.vdot(g, h) / np.vdot(g, g)) * g
            else:
                h = h - h.mean(axis=0, keepdims=True)
            d = geometry.delay_steering(tau[n] + tau[m], nsub, bandwidth_hz)  # (G, L)
            beam = np.einsum("gr,lri,gi->gl", np.conj(ar[n]), h, np.conj(at[m]), optimize=True)
            image += np.abs(np.sum(beam * np.conj(d), axis=1)) ** 2
    image /= (mr * mt * nsub) ** 2
    image = 10 * np.log10(np.maximum(image, 1e-300) / max(float(np.median(image)), 1e-300))
    return xs, ys, image.reshape(len(xs), len(ys))
