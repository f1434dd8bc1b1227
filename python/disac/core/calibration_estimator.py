# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Calibration estimators (docs/air-model.md §3, issue 13 item 2): per-channel gains, link delays and CFOs from samples.

What the estimator is given, and only that (docs/air-model.md §0): each node's received samples of a calibration
capture, the geometry of the scenario (node positions, arrays, OFDM layout, the reference reflector's
position), the data seed and the calibration precoders. It never reads ``scenario.impairments``
(tests give it ``scenario.without_impairments()`` and get the same result).

The calibration capture (decided here)
--------------------------------------
The nodes take turns (``CalibrationSchedule``): node m sends ``frames_per_node`` consecutive calibration
frames with W_c = 0 and W_r = √P_T·I (``calibration_precoders``: the front symbols are silent and each
transmit antenna sends its own radar stream, orthogonal to the others over a frame, core/ofdm.py, at full
power) while every other node is silent, and silent gaps longer than the timing search separate the
turns. Why turns: a direct path is 30–50 dB stronger than a reference reflector's echo (docs/air-model.md: 30 dB per
RE and antenna against 20 dB over all N² links); with every node on air at once, the other node's direct
path masked the monostatic reflector echoes in the timing search (measured on the paper scenario: the
reflector's correlation peak 20× its median, below a sidelobe of the direct path; alone, it stands out
clearly). A turn of 20 frames is 216 µs of the paper's numerology: N turns cost nothing. The frames are
those of the common schedule (frame f starts at local index f·frame_len), regenerated here from (seed,
node, frame) by core.ofdm. Each receiver hands over its raw received stream (``ReceivedCapture``: Mr × T
samples and the local label index of the first one, i.e. round((rx_time − epoch)·fs)) covering the turns
± ``max_lag_samples``: the link delays D_mn are tens to hundreds of samples (a B210's TX→RX latency), more
than a frame of the paper (108 samples), so framing at offset 0 would not even put the right frame in the
window.

The estimation, in four steps
-----------------------------
1. **Coarse timing (integer samples)**, per link m→n: node n's samples of m's turn correlated with m's known
   transmitted streams over lags |k| ≤ max_lag_samples, each frame on its own and added in power over the
   frames and the Mr×Mt antenna pairs (unknown channel and per-frame oscillator phases do not cancel it);
   the peak is the link's strongest path: the direct path for m ≠ n when the nodes see each other (the
   earliest and by far the strongest), the reflector for m = n.
2. **Framing**: per link an integer window offset that puts its known paths' delays τ + D_mn − o inside the
   cyclic prefix (centred in it), then each frame's P data symbols → snapshots (Mr, L, P) by the
   orthonormal FFT (the node receiver's own framing, core.ofdm).
3. **The fit** (least squares, pure numpy): the known paths of every link (the direct path m ≠ n with its
   geometric delay and angles, the reflector on every link) with the model of docs/air-model.md §2

       Y_mn^f = Σ_q β_q^f · diag(g_rx,n) a_r(θ_q^rx) · [(g_tx,m ⊙ a_t(θ_q^tx))^T X_m^f ⊙ d(τ_q + D_mn − o)]

   (eq. 3 with the channel gains; β_q^f is each path's complex amplitude in frame f, which carries the
   oscillator phases e^{j(φ_m − φ_n)}, free per frame). The initial link channel is the per-frame least
   squares of the whole Mr × Mt matrix on the orthogonal radar streams at the strongest path's delay,
   searched on a 0.05-sample grid; its rank-one factors give initial rx and tx gains. Then alternating
   least squares: rx gains (per antenna over every link into the node), tx gains (per transmitter over its
   links), the amplitudes, and a Gauss–Newton step of every link delay D_mn (the phase slope over the
   subcarriers), until the delays move < 1e-7 sample.
   The targets' echoes are in the data too. They are weaker (0 dB over all links in the paper) but
   coherent with the known paths of their link (the same oscillator phases, and E[X Xᴴ] ∝ I does not
   decorrelate two point paths): left as interference they biased the reflector's delay by 0.005 sample
   (0.5 ns) on the paper scenario. So after a first fit, each link's residual is searched for its strongest
   unknown point echo (rx angle × tx angle × delay on a grid, one amplitude over the frames once the
   link's per-frame phase is removed; while ≥ 15 dB above the noise), which is then fitted as a nuisance
   path with free per-frame amplitudes, and everything is fitted again — one echo per link and round, up to
   4 per link. In every refit the nuisance paths' (sin θ_rx, sin θ_tx, delay) are refined off the grid
   together with the link delay (damped Gauss–Newton, variable projection: ``refine_link``), the sines
   wrapped modulo 2 (a half-wavelength ULA cannot tell sin θ from sin θ ± 2); no nuisance path is searched
   for, or kept, on a known path's own cell (column correlation > 0.99: there it would share the known
   path's energy and, its delay fixed, pull D_mn). Why (SPEC16 "cal13", measured at 20–30 dB target SNR,
   docs/calibration.md "High target SNR"): echoes left on the grid (1/64 in sin θ, 1/8 sample) leave ~1/50
   of their power as a structured residual, nuisance paths found before the refit landed on the direct
   path's own (end-fire) cell, and a target echo 0.9 correlated with a direct path was not searched for
   again: 0.25–0.58 ns and 0.6–0.7° at 20 dB (1.1–1.8 ns, 2.2–2.5° at 30 dB) on a three-node layout,
   against ≤ 0.03 ns and ≤ 0.06° now. What the targets leave sets the residual noise level σ̂² of the fit.
4. **Over all links**: D_mn = t_m + r_n by weighted least squares (weights 1/var from step 3), gauge
   t_0 = 0. Identifiable when the measured links connect every tx to every rx node (docs/air-model.md §3): N ≥ 3
   with direct paths only; N ≤ 2 need the reflector's monostatic echoes. Otherwise CalibrationError.
   CFO: per bistatic link the phase progression of β_q^f across consecutive frames (a frame is
   frame_len/fs = 10.8 µs in the paper: 5 Hz turns a link by 3.4·10⁻⁴ rad within a frame, far below what
   one frame can measure; across a 20-frame turn of 216 µs the straight-line fit of the phases measures
   it to ≈ 0.5 Hz). This needs oscillator phases that continue from frame to frame, as real radios' do
   (the air's node_phase = "per_run"; a phase drift is then part of the measured CFO, as on air). With the
   paper's per-frame random phases (node_phase = "per_frame") the frame-to-frame phase is random: the
   estimator detects this (the coherence |Σ β^{f+1} β^{f*}| / Σ |β^{f+1} β^f| of a link below
   COHERENCE_THRESHOLD), reports the CFO as not measured (cfo_hz = 0, residual None) and says so in
   ``notes``; within such a frame a CFO of a few Hz (even 1 kHz: 0.07 rad over the frame) changes nothing
   the localiser sees beyond the per-frame phase that b absorbs.

On the full "lab" air of issue 14 (docs/calibration.md, "On the full lab air"; measured there)
----------------------------------------------------------------------------------------------
The radios' front end (ADC, AGC, RF canceller: docs/receiver-front-end.md) leaves each node's own leakage ~+40 dB
over σ² and the air adds 50 static clutter scatterers: on a node's own link the reflector's monostatic echo is
~25 dB under that residual, and the issue-13 fit did not find it. So (CalibrationSchedule):

0. **Settle frames and the reflector pass.** Every turn starts with settle_frames that are sent, not fitted (the
   AGC and the canceller settle). With a reference reflector the sequence of turns is played a second time with the
   reflector covered, every node sending its first-pass samples again. On a node's own link all else is static
   and the same in both passes (no oscillator phase of its own, the canceller's weights held), so the link is
   fitted from the **difference of the passes** (``background_difference``): the reflector's echo alone, + 3 dB
   of noise. The links between nodes keep the direct path (gains, delay), and their delay is checked against
   the **reflector pass** (``_reflector_pass_delay``: each first-pass frame projected off its replay, which spans
   the link's static part whatever its phase, and the reflector fitted with that projection in its model): agreed
   (≤ AGREEMENT_SIGMAS combined honest standard errors: the larger of the model's and the sandwich one, the delay's
   derivative taken off the per-frame amplitudes) and the direct path's fit clean (its unmodelled_echo_db under
   _SCATTERER_SNR_DB), the two are averaged by those variances; not (clutter near the line of sight pulls the direct
   path), the reflector pass's delay is used. Without a reflector (N ≥ 3, direct paths only) the clutter's pull
   stays (0.24 ns RMS on three-nodes' lab air, impairment seed 3).
   Only the active bins (``scenario.active_subcarriers``: the transmitter's own layout) enter the fit.

Residuals (what the fit sees, never the truth): rx/tx phase and gain = the RMS over channels of each
channel's standard error from the final LS, the larger of the model's (σ̂² of the fit's residual over the
information of that channel) and the sandwich one (the frames' own scatter of the channel's score: an
unmodelled echo correlated with the channel's derivative shows there, not in σ̂²); timing_ns_rms and
cfo_hz_rms = the RMS of the links' residuals after step 4 (the closure of the links: with N(N − 1) links and
2N − 1 unknowns it sees little of a bias, one degree of freedom for N = 3); timing_ns_std = the RMS over links
of the standard error of each link's solved delay t_m + r_n (the links' standard errors — again the larger of
model and sandwich — through the weighted solve, times the closure's Birge ratio when above 1);
unmodelled_echo_db = the model-mismatch statistic: the strongest point echo still in any link's residual after
the fit, dB over σ̂² (white noise alone: ≈ 10–13 dB, the maximum over ~2.7 million correlated cells; ≥ 15 dB is structure
the fit could not take — an echo beyond the cyclic prefix (not a point path per bin), four per link already, or
on a known path's cell — whose bias the standard errors need not bound); links = each measured link's timing residual, standard error and mismatch statistic.
"""

import dataclasses
import math

import numpy as np

from . import geometry, ofdm
from .calibration import Calibration, CalibrationError, CalibrationResiduals, LinkResidual, gain_gauge, utc_now

DEFAULT_FRAMES = 20
# frames sent before the fitted ones in every turn (CalibrationSchedule): the AGC and an RF canceller settle.
# 20: the paper's lab air calibrates from 16 on with the canceller that keeps tuning five updates after it first
# settles (core/front_end.py; 14 was enough before that and fails since), both chains; 4 frames of margin
DEFAULT_SETTLE_FRAMES = 20
DEFAULT_MAX_LAG_SAMPLES = 1000
# A path counts as present when its fitted SNR (|β|²·‖column‖²/σ̂², per frame, median over frames) is at
# least this: a direct path of docs/air-model.md is ~60 dB here, the reflector ~45 dB, a column that fits target or
# noise leakage only ≲ 15 dB.
PRESENT_SNR_DB = 25.0
# Frame-to-frame coherence of the link amplitudes above which the phase progression is a CFO (per_run
# phases give ≈ 1; per-frame random phases give ≈ 1/√(F − 1), 0.23 for 20 frames).
COHERENCE_THRESHOLD = 0.8
# a link's direct-path delay and its reflector-pass delay agree when they differ by at most this many combined
# standard errors (4: a false disagreement once in ~16 000 links when both are unbiased and the errors honest: the
# larger of the model's and the sandwich one, with the delay's derivative off the per-frame amplitudes — with the
# unprojected model errors of before SPEC16 "cal13b", 2.5–3.5× too small, noise alone disagreed, docs/calibration.md)
AGREEMENT_SIGMAS = 4.0
_FINE_GRID_SAMPLES = np.arange(-1.5, 1.5001, 0.05)
_MAX_ITERATIONS = 60
_DELAY_TOLERANCE_SAMPLES = 1e-7


@dataclasses.dataclass(frozen=True)
class ReceivedCapture:
    """Node n's raw received samples: ``samples`` (Mr, T) complex, ``first_index`` the local label index of
    column 0 (samples since the epoch on node n's rx_time labels; frame f starts at f·frame_len)."""

    samples: np.ndarray
    first_index: int

    def __post_init__(self):
        arr = np.asarray(self.samples)
        if arr.ndim != 2 or not np.issubdtype(arr.dtype, np.number):
            raise CalibrationError(f"capture samples of shape {arr.shape}: accepted: (Mr, T) complex samples")
        if isinstance(self.first_index, bool) or not isinstance(self.first_index, (int, np.integer)):
            raise CalibrationError(f"capture first_index = {self.first_index!r}: accepted: an integer sample index")
        object.__setattr__(self, "samples", arr)
        object.__setattr__(self, "first_index", int(self.first_index))


@dataclasses.dataclass(frozen=True)
class KnownPath:
    """A path whose geometry the receiver knows: kind "direct_path" (m ≠ n) or "reflector"."""

    tx: int
    rx: int
    kind: str
    delay_s: float
    theta_tx_rad: float  # departure angle at node tx's array
    theta_rx_rad: float  # arrival angle at node rx's array


@dataclasses.dataclass(frozen=True)
class CalibrationFit:
    """The estimate and what the fit saw.

    calibration: the Calibration (normalised gauges); link_delays_samples: {(tx, rx): measured D}
    (samples); link_std_samples: their standard errors; path_snr_db: {(tx, rx, kind): fitted SNR (dB,
    median over frames)}; coarse_lags: {(tx, rx): integer lag of the correlation peak}; window_offsets:
    {(tx, rx): the link's window offset o}; cfo_measured: bool; notes: sentences for the user.
    """

    calibration: Calibration
    link_delays_samples: dict
    link_std_samples: dict
    path_snr_db: dict
    coarse_lags: dict
    window_offsets: dict
    cfo_measured: bool
    notes: tuple


def calibration_precoders(scenario):
    """W_c = 0 (Mt × U), W_r = √P_RE·I: every transmit antenna sends its own orthogonal radar stream at the power per
    RE P_RE = P_T (P_T·L/L_a with guard/DC bins, core.ofdm.per_re_power: the DAC's per-sample power stays P_T)."""
    mt = scenario.tx_antennas
    power = ofdm.per_re_power(scenario.per_antenna_power, getattr(scenario, "active_subcarriers", None))
    return (np.zeros((mt, scenario.num_users), dtype=complex), np.sqrt(power) * np.eye(mt, dtype=complex))


def transmitted_samples(scenario, seed, frames, node, precoders=None):
    """Node's transmitted samples of consecutive ``frames`` (Mt, F·frame_len) complex128 (before any radio)."""
    layout = ofdm.layout_from_scenario(scenario)
    wc, wr = calibration_precoders(scenario) if precoders is None else precoders
    wc, wr = ofdm.check_precoders(layout, wc, wr)
    streams = ofdm.frame_generator(layout, int(seed)).stream_time(np.asarray(frames), node).astype(np.complex128)
    x = np.einsum("ik,fkt->ift", np.concatenate([wc, wr], axis=1), streams)
    return x.reshape(layout.tx_antennas, -1)


def known_paths(scenario, direct_path=True, reflector=True):
    """The known paths of every link: the direct path m ≠ n (line of sight) and the reference reflector's
    echo (every link, when the scenario has a reflector). Geometry only (docs/air-model.md §0), from the scenario's
    own geometry functions (the ones the air uses)."""
    n_nodes = scenario.num_nodes
    paths = []
    if direct_path:
        tau = scenario.direct_path_delays_s()  # [n, m]
        ang = scenario.node_angles_rad()  # [a, b] = angle of node b seen from node a
        for n in range(n_nodes):
            for m in range(n_nodes):
                if m != n:
                    paths.append(KnownPath(m, n, "direct_path", float(tau[n, m]), float(ang[m, n]), float(ang[n, m])))
    if reflector and getattr(scenario, "reflector_m", None) is not None:
        tau = scenario.reflector_delays_s()  # [n, m]
        ang = scenario.reflector_angles_rad()  # [n]
        for n in range(n_nodes):
            for m in range(n_nodes):
                paths.append(KnownPath(m, n, "reflector", float(tau[n, m]), float(ang[m]), float(ang[n])))
    return paths


def links_identifiable(links, num_nodes):
    """True when the links {(tx, rx)} determine every t_m + r_n (the bipartite tx/rx graph is connected)."""
    parent = list(range(2 * num_nodes))

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a
    for m, n in links:
        parent[find(m)] = find(num_nodes + n)
    return len({find(a) for a in range(2 * num_nodes)}) == 1


def _refusal(scenario, links, method):
    n = scenario.num_nodes
    have_reflector = getattr(scenario, "reflector_m", None) is not None
    if not links:
        seen = "no direct path and no reflector echo was found in the capture"
    else:
        seen = "the measured links " + ", ".join(f"{m + 1}→{k + 1}" for m, k in sorted(links))
    if n == 1 and not have_reflector:
        why = ("a single node has no direct path, and its own monostatic delay t_1 + r_1 needs an echo of known "
               "geometry: add a reference reflector ([calibration] reflector_m = [x, y])")
    elif n <= 2 and not have_reflector:
        why = (f"with N = {n} node{'s' if n > 1 else ''} the direct paths determine only the sums of the "
               "other nodes' delays (t_m + r_n for m ≠ n), never a node's own monostatic delay t_n + r_n; "
               "add a reference reflector ([calibration] reflector_m = [x, y]) whose monostatic echoes give them")
    elif not links:
        why = ("accepted: direct paths between N ≥ 3 nodes that see each other (on the synthetic air: [impairments] "
               "direct_path = true), or a reference reflector ([calibration] reflector_m)")
    else:
        why = ("they do not connect every transmitter to every receiver, so some t_m + r_n are not determined; "
               "accepted: direct paths between N ≥ 3 nodes, or a reference reflector ([calibration] reflector_m)")
    return CalibrationError(f"calibration by {method} not identifiable: {seen}; {why}")


# ---- step 1: coarse timing ------------------------------------------------------------------------

def _correlation_metric(y, x, lag_first, lag_count, frame_len):
    """Σ_f Σ_{r,i} |Σ_s y[r, f·frame_len + s + u] x*[i, f·frame_len + s]|² for u = lag_first … lag_first +
    lag_count − 1: each frame correlated on its own (FFT) and the frames added in power, because the
    oscillator phases may change from frame to frame (per-frame phases would cancel a coherent sum)."""
    frames = x.shape[1] // frame_len
    span = lag_count + frame_len - 1
    size = 1 << int(math.ceil(math.log2(span + frame_len)))
    starts = lag_first + frame_len * np.arange(frames)
    seg = y[:, starts[:, None] + np.arange(span)[None, :]]  # (Mr, F, span)
    fy = np.fft.fft(seg, size, axis=-1)
    fx = np.conj(np.fft.fft(x.reshape(x.shape[0], frames, frame_len), size, axis=-1))  # (Mt, F, size)
    metric = np.zeros(lag_count)
    for i in range(x.shape[0]):  # the Mt streams, every antenna and frame at once
        corr = np.fft.ifft(fy * fx[i][None], axis=-1)[..., :lag_count]
        metric += np.sum(np.abs(corr) ** 2, axis=(0, 1))
    return metric


# ---- step 2: framing ------------------------------------------------------------------------------

def frame_snapshots(capture, layout, frames, offset_samples):
    """Snapshots (F, Mr, L, P) of ``frames``' data symbols with the frame start shifted by offset_samples."""
    frames = np.asarray(frames).reshape(-1)
    starts = (frames[:, None] * layout.frame_len + layout.front_len + offset_samples
              + np.arange(layout.data_symbols)[None, :] * layout.symbol_len) - capture.first_index
    index = starts[..., None] + np.arange(layout.symbol_len)  # (F, P, CP + L)
    if index.min() < 0 or index.max() >= capture.samples.shape[1]:
        raise CalibrationError(f"calibration capture: frames {int(frames[0])} … {int(frames[-1])} at offset "
                               f"{offset_samples} fall outside the capture of {capture.samples.shape[1]} samples")
    sym = capture.samples[:, index]  # (Mr, F, P, CP + L)
    freq = ofdm.demodulate(sym, layout.cyclic_prefix)  # (Mr, F, P, L)
    return np.transpose(freq, (1, 0, 3, 2))


# ---- step 3: the fit ------------------------------------------------------------------------------



@dataclasses.dataclass(frozen=True)
class CalibrationSchedule:
    """Who transmits when in a calibration capture: the nodes take turns (decided here, see the module
    docstring). A turn of node m is settle_frames + frames_per_node consecutive calibration frames; the first
    settle_frames are sent but not fitted (the receivers' AGC and a node's RF canceller settle on them: the
    canceller of docs/receiver-front-end.md needs ~5–8 frames of its own transmission, then the AGC ~2 more to
    climb back the canceller's 60 dB in its 40 dB steps: measured on the paper's lab air, the two passes of a node's own
    link differ by +95 dB in its first 8 frames, by +4 dB in frames 9–12 and by nothing from frame 13 on), the last frames_per_node are fitted (``frames_of``). The gap_frames between the turns are silent
    for everybody, so no node's turn is masked by another's delayed signal within the timing search.

    With ``background`` the whole sequence of turns is played twice: the first pass with the reference
    reflector in view, then (after a gap) the background pass with it covered, every node sending again the
    very samples of its first-pass turn (``background_frames_of``: the frames whose slots carry that replay).
    What is static on a node's own link (its leakage, the clutter's and the targets' monostatic echoes: the
    same oscillator, no phase of its own) is then the same in both passes, and the difference is the
    reflector's echo alone (docs/calibration.md, "On the full lab air"). Frame numbers here are slots of the
    common schedule (frame f starts at local index f·frame_len); ``source_frame(f)`` is the frame whose
    calibration samples are sent in slot f."""

    num_nodes: int
    frames_per_node: int = DEFAULT_FRAMES
    gap_frames: int = 10
    first_frame: int = 0
    settle_frames: int = 0
    background: bool = False

    def __post_init__(self):
        for key, low in (("num_nodes", 1), ("frames_per_node", 2), ("gap_frames", 0), ("first_frame", 0),
                         ("settle_frames", 0)):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise CalibrationError(f"calibration schedule {key} = {value!r}: accepted: a whole number ≥ {low}")
        if not isinstance(self.background, (bool, np.bool_)):
            raise CalibrationError(f"calibration schedule background = {self.background!r}: accepted: true or false")

    @classmethod
    def for_search(cls, scenario, frames_per_node=DEFAULT_FRAMES, max_lag_samples=DEFAULT_MAX_LAG_SAMPLES,
                   first_frame=0, settle_frames=None, background=None):
        """A schedule whose silent gaps outlast the timing search ±max_lag_samples (plus a symbol).
        settle_frames: default DEFAULT_SETTLE_FRAMES; background: default True when the scenario has a
        reference reflector (its monostatic echo is what the background pass isolates)."""
        layout = ofdm.layout_from_scenario(scenario)
        gap = int(math.ceil((max_lag_samples + layout.symbol_len) / layout.frame_len))
        if settle_frames is None:
            settle_frames = DEFAULT_SETTLE_FRAMES
        if background is None:
            background = getattr(scenario, "reflector_m", None) is not None
        return cls(scenario.num_nodes, frames_per_node, gap, first_frame, int(settle_frames), bool(background))

    @property
    def turn_frames(self):
        """Frames of one turn (settle + fitted)."""
        return self.settle_frames + self.frames_per_node

    @property
    def passes(self):
        return 2 if self.background else 1

    def _turn_start(self, node, pass_index=0):
        return (self.first_frame + self.gap_frames
                + (pass_index * self.num_nodes + node) * (self.turn_frames + self.gap_frames))

    def frames_of(self, node):
        """The frame numbers node ``node`` transmits and the estimator fits, first pass (frames_per_node,)."""
        start = self._turn_start(node) + self.settle_frames
        return np.arange(start, start + self.frames_per_node)

    def background_frames_of(self, node):
        """The slots of the background pass carrying the replay of frames_of(node) (frames_per_node,)."""
        if not self.background:
            raise CalibrationError("calibration schedule without a background pass: background_frames_of has no frames")
        start = self._turn_start(node, 1) + self.settle_frames
        return np.arange(start, start + self.frames_per_node)

    @property
    def background_first_frame(self):
        """The first slot of the background pass (after the first pass's last gap); None without one."""
        return self._turn_start(0, 1) - self.gap_frames if self.background else None

    @property
    def total_frames(self):
        """Frames from frame 0 to the end of the last gap: a capture of labels 0 … total_frames·frame_len
        covers every turn with its search margin."""
        return self.first_frame + self.gap_frames + self.passes * self.num_nodes * (self.turn_frames + self.gap_frames)

    def _slot(self, frame):
        """(node, pass, index within the turn) of a transmitting slot, or None (a gap)."""
        rel = int(frame) - self.first_frame - self.gap_frames
        if rel < 0:
            return None
        turn, within = divmod(rel, self.turn_frames + self.gap_frames)
        pass_index, node = divmod(turn, self.num_nodes)
        if pass_index >= self.passes or within >= self.turn_frames:
            return None
        return node, pass_index, within

    def transmitter_of(self, frame):
        """The node transmitting in ``frame``, or None (a gap)."""
        slot = self._slot(frame)
        return None if slot is None else slot[0]

    def source_frame(self, frame):
        """The frame number whose calibration samples are sent in slot ``frame`` (itself in the first pass, the
        first pass's frame in the background pass), or None (a gap)."""
        slot = self._slot(frame)
        if slot is None:
            return None
        node, _, within = slot
        return int(self._turn_start(node) + within)

    def turn_slots(self, node):
        """[(first slot, source frames (turn_frames,)), …] of node's turns, one per pass."""
        source = np.arange(self._turn_start(node), self._turn_start(node) + self.turn_frames)
        return [(self._turn_start(node, p), source) for p in range(self.passes)]

    def precoders(self, scenario, node, frame):
        """(W_c, W_r) of ``node`` in ``frame``: the calibration set in its turn, zero (silent) otherwise."""
        wc, wr = calibration_precoders(scenario)
        return (wc, wr) if self.transmitter_of(frame) == node else (wc, np.zeros_like(wr))


def background_difference(capture, schedule, frame_len, node):
    """Node ``node``'s capture minus itself one pass later (CalibrationSchedule.background): sample t of the
    result is y[t] − y[t + S], S = the background pass's offset; a ReceivedCapture of the same first label.
    Samples before the first fitted frame of the node's turn are zero: its settle frames are not the same in both
    passes (the front end was settling in the first), and the timing search must not see them."""
    shift = int(schedule.background_frames_of(node)[0] - schedule.frames_of(node)[0]) * int(frame_len)
    y = capture.samples
    if y.shape[1] <= shift:
        raise CalibrationError(
            f"calibration capture of node {node + 1}: {y.shape[1]} samples do not reach its background pass "
            f"({shift} samples later): accepted: a capture covering both passes of the schedule")
    diff = y[:, :y.shape[1] - shift] - y[:, shift:]
    diff[:, :max(0, int(schedule.frames_of(node)[0]) * int(frame_len) - capture.first_index)] = 0
    return ReceivedCapture(diff, capture.first_index)


def coarse_lag(capture, x, tx_first_index, max_lag_samples, frame_len):
    """(lag, peak / median metric): the integer delay of the strongest path of transmitted samples x (Mt, S),
    sent from local index tx_first_index, in this capture (lags |k| ≤ max_lag_samples)."""
    y = capture.samples
    lag_first = tx_first_index - max_lag_samples - capture.first_index
    count = 2 * max_lag_samples + 1
    if lag_first < 0 or lag_first + count - 1 + x.shape[1] > y.shape[1]:
        raise CalibrationError(
            f"calibration capture of labels {capture.first_index} … {capture.first_index + y.shape[1] - 1}: "
            f"accepted: a capture covering labels {tx_first_index - max_lag_samples} … "
            f"{tx_first_index + x.shape[1] + max_lag_samples - 1} (the fitted frames ± max_lag_samples = {max_lag_samples})")
    metric = _correlation_metric(y, x, lag_first, count, frame_len)
    best = int(np.argmax(metric))
    floor = float(np.median(metric)) or 1e-300
    return best - max_lag_samples, float(metric[best] / floor)


class _Link:
    """One link m → n of the fit: its frames' snapshots and transmitted frames, its known paths."""

    def __init__(self, tx, rx, paths, window, y, x, mt, mr):
        self.tx, self.rx, self.paths, self.window = tx, rx, paths, window
        self.y = y.reshape(y.shape[0], y.shape[1], -1)  # (F, Mr, L·P)
        self.x = x  # (F, Mt, L·P)
        self.a_r = np.stack([geometry.ula_steering(p.theta_rx_rad, mr) for p in paths])  # (Q, Mr)
        self.a_t = np.stack([geometry.ula_steering(p.theta_tx_rad, mt) for p in paths])  # (Q, Mt)
        self.strongest = min(range(len(paths)), key=lambda q: (paths[q].kind != "direct_path", paths[q].delay_s))
        self.fixed_delay = [None] * len(paths)  # window delay (samples) of a fitted scatterer; None: τ + D_mn
        self.known = len(paths)  # paths[:known] are the known ones, the rest fitted scatterers

    def add_scatterer(self, theta_rx_rad, theta_tx_rad, window_delay_samples, mt, mr):
        """An unknown echo (a target or clutter) found in the residual, fitted as a nuisance path."""
        self.paths = self.paths + [KnownPath(self.tx, self.rx, "scatterer", float("nan"), theta_tx_rad, theta_rx_rad)]
        self.a_r = np.vstack([self.a_r, geometry.ula_steering(theta_rx_rad, mr)[None]])
        self.a_t = np.vstack([self.a_t, geometry.ula_steering(theta_tx_rad, mt)[None]])
        self.fixed_delay.append(float(window_delay_samples))

    def remove_scatterer(self, q):
        """Drop fitted scatterer q (q ≥ known)."""
        keep = [j for j in range(len(self.paths)) if j != q]
        self.paths = [self.paths[j] for j in keep]
        self.a_r, self.a_t = self.a_r[keep], self.a_t[keep]
        self.fixed_delay = [self.fixed_delay[j] for j in keep]

    def path_parameters(self, q, known_delays):
        """(sin θ_rx, sin θ_tx, window delay) of path q: a known path's window delay from known_delays."""
        if q >= self.known:
            return self.scatterer_parameters(q)
        p = self.paths[q]
        return np.array([math.sin(p.theta_rx_rad), math.sin(p.theta_tx_rad), known_delays[q]])

    def scatterer_parameters(self, q):
        """(sin θ_rx, sin θ_tx, window delay in samples) of fitted scatterer q (q ≥ known)."""
        p = self.paths[q]
        return np.array([math.sin(p.theta_rx_rad), math.sin(p.theta_tx_rad), self.fixed_delay[q]])

    def set_scatterer_parameters(self, q, values, mt, mr):
        """Move fitted scatterer q to (sin θ_rx, sin θ_tx, window delay) = values. A half-wavelength ULA's response
        is periodic in sin θ with period 2 (sin θ and sin θ ± 2 are one direction): the sines are wrapped into
        [−1, 1), so a scatterer found at the grid's end-fire edge can move across it to its true direction."""
        sin_rx, sin_tx = (float((v + 1.0) % 2.0 - 1.0) for v in values[:2])
        theta_rx, theta_tx = math.asin(sin_rx), math.asin(sin_tx)
        self.paths = self.paths[:q] + [KnownPath(self.tx, self.rx, "scatterer", float("nan"), theta_tx, theta_rx)] \
            + self.paths[q + 1:]
        self.a_r[q] = geometry.ula_steering(theta_rx, mr)
        self.a_t[q] = geometry.ula_steering(theta_tx, mt)
        self.fixed_delay[q] = float(values[2])


def _delay_phase(freq_norm, delay_samples, symbols):
    """d(τ) on the grid, repeated for the P symbols: (…, L·P) with RE order l·P + p."""
    d = np.exp(-2j * np.pi * np.multiply.outer(delay_samples, freq_norm))
    return np.repeat(d, symbols, axis=-1)


def estimate_calibration(scenario, captures, schedule, seed, *, method="auto",
                         frequency_grid=ofdm.DEFAULT_FREQUENCY_GRID, max_lag_samples=DEFAULT_MAX_LAG_SAMPLES,
                         radio="synthetic", serials=None, center_freq_hz=None, tx_gain_db=None, rx_gain_db=None):
    """A CalibrationFit from every node's calibration capture (see the module docstring).

    scenario: geometry only is read (pass scenario.without_impairments()); captures: {node: ReceivedCapture}
    for every node, covering the schedule's turns ± max_lag_samples; schedule: the CalibrationSchedule the
    nodes followed; seed: the transmitters' data seed; method: "auto" (the direct paths when they are
    found, the reflector when the scenario has one), "direct_path", "reflector" or "direct_path+reflector".
    """
    methods = ("auto", "direct_path", "reflector", "direct_path+reflector")
    if method not in methods:
        raise CalibrationError(f"calibration method {method!r}: accepted: {', '.join(methods)}")
    n_nodes, mt, mr = scenario.num_nodes, scenario.tx_antennas, scenario.rx_antennas
    if not isinstance(schedule, CalibrationSchedule) or schedule.num_nodes != n_nodes:
        raise CalibrationError(f"calibration schedule {schedule!r}: accepted: a CalibrationSchedule of N = {n_nodes} nodes")
    missing = [n for n in range(n_nodes) if n not in captures]
    if missing:
        raise CalibrationError(f"calibration captures of nodes {[n + 1 for n in missing]} missing: accepted: one per node")
    for n in range(n_nodes):
        if captures[n].samples.shape[0] != mr:
            raise CalibrationError(f"calibration capture of node {n + 1}: {captures[n].samples.shape[0]} receive "
                                   f"channels: accepted: Mr = {mr}")
        if not np.all(np.isfinite(captures[n].samples)):
            raise CalibrationError(f"calibration capture of node {n + 1}: non-finite samples (NaN or infinity): "
                                   "accepted: finite complex samples")
    if isinstance(max_lag_samples, bool) or not isinstance(max_lag_samples, (int, np.integer)) or max_lag_samples < 1:
        raise CalibrationError(f"max_lag_samples = {max_lag_samples!r}: accepted: a whole number ≥ 1")
    has_reflector = getattr(scenario, "reflector_m", None) is not None
    if method in ("reflector", "direct_path+reflector") and not has_reflector:
        raise CalibrationError(f"calibration method {method!r} needs a reference reflector: the scenario has no "
                               "[calibration] reflector_m")
    if n_nodes <= 2 and not has_reflector:  # the direct paths alone can never identify N ≤ 2: say so at once
        raise _refusal(scenario, {(m, n) for m in range(n_nodes) for n in range(n_nodes) if m != n},
                       "direct path" if method == "auto" else method.replace("_", " "))
    layout = ofdm.layout_from_scenario(scenario)
    fs = float(scenario.bandwidth_hz)
    # only the bins the transmitters use (SPEC14 §0: the transmitter's own layout, which the receive side knows)
    active = np.asarray(getattr(scenario, "active_subcarriers", np.ones(layout.subcarriers, bool)), dtype=bool)
    freq_norm = ofdm.bin_frequencies_hz(layout.subcarriers, fs, frequency_grid)[active] / fs
    wc, wr = calibration_precoders(scenario)
    turns = {m: schedule.frames_of(m) for m in range(n_nodes)}
    x_freq = {m: ofdm.transmitted_frames(layout, seed, turns[m], m, wc, wr)[:, :, active, :].reshape(turns[m].size, mt, -1)
              for m in range(n_nodes)}  # (F, Mt, L_active·P)
    # a background pass (the reflector covered, the same samples sent again): each node's own link is taken as
    # the difference of the two passes, which is the reflector's monostatic echo alone (module docstring, step 0)
    link_captures = {(m, n): captures[n] for m in range(n_nodes) for n in range(n_nodes)}
    background = bool(schedule.background) and has_reflector
    if background:
        for n in range(n_nodes):
            link_captures[(n, n)] = background_difference(captures[n], schedule, layout.frame_len, n)
    lags, peaks = {}, {}
    for m in range(n_nodes):
        x = transmitted_samples(scenario, seed, turns[m], m, (wc, wr))
        for n in range(n_nodes):
            lags[(m, n)], peaks[(m, n)] = coarse_lag(link_captures[(m, n)], x, int(turns[m][0]) * layout.frame_len,
                                                     int(max_lag_samples), layout.frame_len)

    def run(paths):
        return _fit(scenario, layout, link_captures, turns, x_freq, lags, freq_norm, paths, active)

    def paths_of(direct, reflector):
        return known_paths(scenario, direct, reflector)

    notes = []
    if background:
        notes.append("the reflector's monostatic echoes were taken from the difference of the capture and its "
                     "background pass (reflector covered): the static leakage, clutter and targets cancel")
    use_direct = n_nodes > 1 and method in ("auto", "direct_path", "direct_path+reflector")
    use_reflector = has_reflector and method in ("auto", "reflector", "direct_path+reflector")
    fit = None
    if use_direct:
        fit = run(paths_of(True, use_reflector))
        weak = [p for p in fit["paths"] if p.kind == "direct_path" and fit["snr_db"][(p.tx, p.rx, p.kind)] < PRESENT_SNR_DB]
        if weak and method == "auto":
            notes.append(f"{len(weak)} of {n_nodes * (n_nodes - 1)} direct paths not found in the capture "
                         f"(fitted SNR < {PRESENT_SNR_DB:g} dB): calibrating without the direct paths")
            fit, use_direct = None, False
        elif weak:
            p = weak[0]
            raise CalibrationError(
                f"calibration by {method}: the direct path node {p.tx + 1} → node {p.rx + 1} was not found in the "
                f"capture (fitted SNR {fit['snr_db'][(p.tx, p.rx, p.kind)]:.1f} dB < {PRESENT_SNR_DB:g} dB): do the "
                "nodes see each other?")
    if fit is None:
        if not use_reflector:
            raise _refusal(scenario, set(), "direct paths" if method == "auto" else method.replace("_", " "))
        fit = run(paths_of(False, True))
    # the reflector must be found where it is needed: with a background pass on the nodes' own links (the
    # bistatic ones have the direct paths; there the reflector is one more known path among the raw clutter)
    weak = [p for p in fit["paths"] if p.kind == "reflector" and fit["snr_db"][(p.tx, p.rx, p.kind)] < PRESENT_SNR_DB
            and (p.tx == p.rx or not (background and use_direct))]
    if weak:
        p = weak[0]
        raise CalibrationError(
            f"calibration: the reflector's echo node {p.tx + 1} → node {p.rx + 1} was not found in the capture "
            f"(fitted SNR {fit['snr_db'][(p.tx, p.rx, p.kind)]:.1f} dB < {PRESENT_SNR_DB:g} dB): is the reflector at "
            f"{np.asarray(scenario.reflector_m).tolist()} m?")
    used = "direct_path+reflector" if use_direct and use_reflector else "direct_path" if use_direct else "reflector"

    # ---- step 4: over all links --------------------------------------------------------------------
    link_d, link_var, link_var_robust = dict(fit["delays"]), dict(fit["delay_var"]), dict(fit["delay_var_robust"])
    if background and use_direct and use_reflector:
        # the links between nodes, checked against the reflector pass, where static interference cancels
        # (_reflector_pass_delay). The direct path (15–20 dB stronger) carries the link's delay only where nothing
        # says it is pulled: its fit's residual clean (the link's unmodelled_echo_db under the search's
        # _SCATTERER_SNR_DB: no structure left whose bias the standard errors need not bound) and its delay within
        # AGREEMENT_SIGMAS combined honest standard errors of the reflector pass's (the larger of the model's and the
        # sandwich one, the delay's derivative off the per-frame amplitudes); then the two are averaged by those
        # variances (the direct path dominates). Otherwise something static the fit does not model (clutter near the
        # line of sight) pulls the direct path, and the reflector pass's delay is used. The direct paths keep giving
        # the gains. Decided in SPEC16 "cal13b" (docs/calibration.md, "High target SNR"): the test used the model
        # variances with unprojected derivatives, 2.5–3.5× too small in standard error on the low-IF grid, so noise
        # alone "disagreed" on a clean air (seed 3: 0.11 ns); with honest errors alone the clutter's pull on the full
        # lab air (0.003–0.005 sample, 2.5–4 honest standard errors) "agreed" and was averaged in (0.12–0.22 ns),
        # while its residual flags it every time (21–24 dB against 11–12 dB on a clean air).
        disagreed = []
        for (m, n) in sorted(link_d):
            if m == n:
                continue
            got = _reflector_pass_delay(scenario, layout, captures[n], schedule, x_freq[m], freq_norm, active, fit, m, n)
            if got is None or got[2] < PRESENT_SNR_DB:
                continue
            d_rp, v_rp, snr_rp, h_rp = got
            fit["snr_db"][(m, n, "reflector_pass")] = snr_rp
            d_dp, v_dp, h_dp = link_d[(m, n)], link_var[(m, n)], link_var_robust[(m, n)]
            clean = fit["unmodelled_echo_db"][(m, n)] < _SCATTERER_SNR_DB
            if clean and abs(d_dp - d_rp) <= AGREEMENT_SIGMAS * math.sqrt(h_dp + h_rp):
                w = 1 / h_dp + 1 / h_rp
                link_d[(m, n)] = (d_dp / h_dp + d_rp / h_rp) / w
                link_var_robust[(m, n)] = 1 / w
                link_var[(m, n)] = v_dp / (h_dp * w)  # step 4's weight, on its scale, shrunk as the honest one is
            else:
                link_d[(m, n)], link_var[(m, n)], link_var_robust[(m, n)] = d_rp, v_rp, h_rp
                disagreed.append(f"{m + 1}→{n + 1} ({(d_dp - d_rp) / fs * 1e9:+.2f} ns"
                                 + ("" if clean else f", residual {fit['unmodelled_echo_db'][(m, n)]:.1f} dB") + ")")
        if disagreed:
            notes.append("the direct path's delay disagreed with the reflector pass, or its fit's residual held echoes "
                         f"it could not model (≥ {_SCATTERER_SNR_DB:g} dB), on links " + ", ".join(disagreed)
                         + ": static echoes near the line of sight pull it; those links' delays are the reflector pass's")
    links = sorted(link_d)
    if not links_identifiable(links, n_nodes):
        raise _refusal(scenario, set(links), used.replace("_", " "))
    rows = np.zeros((len(links), 2 * n_nodes))
    for j, (m, n) in enumerate(links):
        rows[j, m] = 1.0
        rows[j, n_nodes + n] = 1.0
    weights = 1.0 / np.sqrt(np.array([link_var[k] for k in links]))
    d = np.array([link_d[k] for k in links])
    sol, *_ = np.linalg.lstsq(rows[:, 1:] * weights[:, None], d * weights, rcond=None)  # gauge t_0 = 0
    sol = np.concatenate([[0.0], sol])
    t, r = sol[:n_nodes], sol[n_nodes:]
    timing_ns = (d - rows @ sol) / fs * 1e9
    # the standard error of each link's solved delay t_m + r_n (what the receive chain applies), from the links'
    # honest variances (the larger of the model's and the frames' scatter, _fit) through the weighted solve
    # (sandwich: the solve's weights are the model's), scaled by the closure's Birge ratio √(χ²/dof) when the
    # links disagree more than their errors allow
    design = rows[:, 1:] * weights[:, None]
    gain = np.linalg.pinv(design.T @ design) @ design.T * weights[None, :]  # solution = gain @ d
    robust = np.array([link_var_robust[k] for k in links])
    covariance = (gain * robust[None, :]) @ gain.T
    link_std = np.sqrt(np.maximum(np.einsum("ja,ab,jb->j", rows[:, 1:], covariance, rows[:, 1:]), 0.0))
    closure_dof = len(links) - (2 * n_nodes - 1)
    if closure_dof > 0:
        birge = math.sqrt(float(np.sum(((d - rows @ sol) * weights) ** 2)) / closure_dof)
        link_std = link_std * max(1.0, birge)
    link_std_ns = link_std / fs * 1e9

    # ---- CFO from the frame-to-frame phase progression of the bistatic links -------------------------
    cfo, cfo_rms, cfo_measured = np.zeros(n_nodes), None, False
    frame_s = layout.frame_len / fs
    progress, coherence = {}, []
    for (m, n), per_path in fit["amplitudes"].items():
        if m == n:
            continue
        rho = sum(np.sum(b[1:] * np.conj(b[:-1])) for b in per_path)
        mag = sum(np.sum(np.abs(b[1:] * b[:-1])) for b in per_path)
        coherence.append(abs(rho) / mag if mag > 0 else 0.0)
        progress[(m, n)] = (_phase_rate(per_path, float(np.angle(rho))) / (2 * np.pi * frame_s), float(mag))
    if n_nodes == 1:
        cfo_measured, cfo_rms = True, 0.0  # only differences are seen, and cfo_hz[0] = 0 is the gauge
    elif progress and min(coherence) >= COHERENCE_THRESHOLD and _nodes_connected(progress, n_nodes):
        keys = sorted(progress)
        a = np.zeros((len(keys), n_nodes))
        for j, (m, n) in enumerate(keys):
            a[j, m] += 1.0
            a[j, n] -= 1.0
        w = np.sqrt(np.array([progress[k][1] for k in keys]))
        b = np.array([progress[k][0] for k in keys])
        sol_cfo, *_ = np.linalg.lstsq((a * w[:, None])[:, 1:], b * w, rcond=None)
        cfo = np.concatenate([[0.0], sol_cfo])
        cfo_rms = float(np.sqrt(np.mean((b - a @ cfo) ** 2)))
        cfo_measured = True
    elif progress:
        notes.append(f"CFO not measured: the link phases do not continue from frame to frame (coherence "
                     f"{min(coherence):.2f} < {COHERENCE_THRESHOLD}: per-frame oscillator phases), and one frame of "
                     f"{frame_s * 1e6:.1f} µs cannot resolve a few Hz; cfo_hz = 0")
    else:
        notes.append("CFO not measured: no link between two different nodes was fitted")

    def rms_deg(std):
        return float(np.degrees(np.sqrt(np.mean(std ** 2))))

    def rms_db(std):
        return float(20 / np.log(10) * np.sqrt(np.mean(std ** 2)))

    residuals = CalibrationResiduals(
        rx_phase_deg_rms=rms_deg(fit["rx_rel_std"]), tx_phase_deg_rms=rms_deg(fit["tx_rel_std"]),
        rx_gain_db_rms=rms_db(fit["rx_rel_std"]), tx_gain_db_rms=rms_db(fit["tx_rel_std"]),
        timing_ns_rms=float(np.sqrt(np.mean(timing_ns ** 2))), cfo_hz_rms=cfo_rms,
        timing_ns_std=float(np.sqrt(np.mean(link_std_ns ** 2))),
        unmodelled_echo_db=max(fit["unmodelled_echo_db"].values()),
        links=tuple(LinkResidual(m, n, float(v), float(sd), fit["unmodelled_echo_db"].get((m, n)))
                    for (m, n), v, sd in zip(links, timing_ns, link_std_ns)))
    calibration = Calibration(
        rx_gains=fit["g_rx"], tx_gains=fit["g_tx"], rx_delay_samples=r, tx_delay_samples=t, cfo_hz=cfo,
        sample_rate_hz=fs, scenario=scenario.name, method=used, radio=radio, serials=serials,
        center_freq_hz=center_freq_hz, tx_gain_db=tx_gain_db, rx_gain_db=rx_gain_db,
        frequency_grid=frequency_grid, frames_used=int(schedule.frames_per_node * n_nodes), created_utc=utc_now(),
        residuals=residuals).normalised()
    return CalibrationFit(
        calibration=calibration, link_delays_samples=dict(link_d),
        link_std_samples={k: float(np.sqrt(max(v, link_var_robust[k]))) for k, v in link_var.items()},
        path_snr_db=dict(fit["snr_db"]),
        coarse_lags=dict(lags), window_offsets=dict(fit["windows"]), cfo_measured=cfo_measured, notes=tuple(notes))


def _phase_rate(amplitudes, coarse_rad_per_frame):
    """The phase progression (rad per frame) of a link's per-frame amplitudes: the coarse rate from the
    consecutive products, then the weighted straight-line fit of the remaining (unwrapped) phases, which
    uses every frame (variance ∝ 12/F³ rather than 2/F² for the end-to-end difference)."""
    frames = np.arange(len(amplitudes[0]), dtype=float)
    slope_num = slope_den = 0.0
    for b in amplitudes:
        rest = np.unwrap(np.angle(b * np.exp(-1j * coarse_rad_per_frame * frames)))
        w = np.abs(b) ** 2
        fc = frames - np.sum(w * frames) / np.sum(w)
        slope_num += float(np.sum(w * fc * rest))
        slope_den += float(np.sum(w * fc ** 2))
    return coarse_rad_per_frame + slope_num / slope_den


def _nodes_connected(pairs, num_nodes):
    """True when the pairs (m, n) connect every node (only CFO differences ε_m − ε_n are seen)."""
    parent = list(range(num_nodes))

    def find(a):
        while parent[a] != a:
            a = parent[a]
        return a
    for m, n in pairs:
        parent[find(m)] = find(n)
    return len({find(a) for a in range(num_nodes)}) == 1


def _fit(scenario, layout, link_captures, turns, x_freq, lags, freq_norm, paths, active):
    """Steps 2 and 3 for a set of known paths: windows, snapshots (active bins only), initial and final least
    squares. link_captures {(m, n): the capture link m → n is fitted from}."""
    n_nodes, mt, mr = scenario.num_nodes, scenario.tx_antennas, scenario.rx_antennas
    fs = float(scenario.bandwidth_hz)
    cp, symbols = layout.cyclic_prefix, layout.data_symbols
    by_link = {}
    for p in paths:
        by_link.setdefault((p.tx, p.rx), []).append(p)
    links, delays, windows = [], {}, {}
    for (m, n), link_paths in sorted(by_link.items()):
        strongest = min(link_paths, key=lambda p: (p.kind != "direct_path", p.delay_s))
        delays[(m, n)] = lags[(m, n)] - strongest.delay_s * fs  # D_mn from the coarse peak (samples)
        total = np.array([p.delay_s * fs for p in link_paths]) + delays[(m, n)]
        spread = float(total.max() - total.min())
        if spread > cp - 3:
            raise CalibrationError(
                f"calibration: the known paths of link node {m + 1} → node {n + 1} spread over {spread:.1f} samples; "
                f"accepted: at most the cyclic prefix − 3 = {cp - 3} samples (a longer cyclic_prefix, or a reflector "
                "nearer the nodes)")
        window = int(math.floor(total.min() - (cp - spread) / 2))  # the paths centred in the prefix
        windows[(m, n)] = window
        y = frame_snapshots(link_captures[(m, n)], layout, turns[m], window)[:, :, active, :]
        links.append(_Link(m, n, link_paths, window, y, x_freq[m], mt, mr))

    def d_of(link, q):
        if link.fixed_delay[q] is not None:
            return _delay_phase(freq_norm, link.fixed_delay[q], symbols)
        return _delay_phase(freq_norm, link.paths[q].delay_s * fs + delays[(link.tx, link.rx)] - link.window, symbols)

    # ---- initial fine delay and link matrix: per-frame LS of the whole Mr × Mt matrix at the strongest path
    mats = {}
    for link in links:
        gram = link.x @ np.conj(np.swapaxes(link.x, 1, 2))  # (F, Mt, Mt): d(τ) has unit modulus per RE
        base = delays[(link.tx, link.rx)]
        tau = link.paths[link.strongest].delay_s * fs - link.window
        scores, coefs = [], []
        for step in _FINE_GRID_SAMPLES:
            cols = link.x * _delay_phase(freq_norm, tau + base + step, symbols)[None, None, :]
            proj = link.y @ np.conj(np.swapaxes(cols, 1, 2))  # (F, Mr, Mt)
            coef = np.swapaxes(np.linalg.solve(np.conj(gram), np.swapaxes(proj, 1, 2)), 1, 2)  # (F, Mr, Mt)
            scores.append(float(np.real(np.sum(np.conj(coef) * proj))))
            coefs.append(coef)
        best = int(np.argmax(scores))
        delays[(link.tx, link.rx)] = base + _FINE_GRID_SAMPLES[best]
        mats[(link.tx, link.rx)] = coefs[best]

    # ---- initial gains: rank-one factors of the link matrices over the strongest path's steering
    g_rx = np.ones((n_nodes, mr), dtype=complex)
    g_tx = np.ones((n_nodes, mt), dtype=complex)
    for node in range(n_nodes):
        rx_blocks, tx_blocks = [], []
        for link in links:
            q = link.strongest
            steer = np.outer(link.a_r[q], link.a_t[q])
            if link.rx == node:
                rx_blocks.append(np.swapaxes(mats[(link.tx, link.rx)] / steer, 0, 1).reshape(mr, -1))
            if link.tx == node:
                tx_blocks.append((mats[(link.tx, link.rx)] / steer).reshape(-1, mt))
        if rx_blocks:
            g_rx[node] = np.linalg.svd(np.concatenate(rx_blocks, axis=1), full_matrices=False)[0][:, 0]
        if tx_blocks:
            g_tx[node] = np.linalg.svd(np.concatenate(tx_blocks, axis=0), full_matrices=False)[2][0]
    g_rx, g_tx = gain_gauge(g_rx), gain_gauge(g_tx)

    # ---- alternating least squares on the structured model --------------------------------------------
    def columns(link):
        """s_q^f (F, Q, L·P) = (g_tx ⊙ a_t,q)^T X_m^f ⊙ d(T_q)."""
        beams = np.einsum("qi,fik->fqk", g_tx[link.tx][None, :] * link.a_t, link.x)
        return beams * np.stack([d_of(link, q) for q in range(len(link.paths))])[None]

    def amplitudes(link, s):
        """β (F, Q) by LS given gains and delays, and u_q = g_rx ⊙ a_r,q (Q, Mr): Y^f = Σ_q β_q u_q s_q^T."""
        u = g_rx[link.rx][None, :] * link.a_r
        gram = (np.conj(u) @ u.T)[None] * (np.conj(s) @ np.swapaxes(s, 1, 2))  # ⟨u_q s_q, u_q' s_q'⟩
        rhs = np.einsum("qr,frk,fqk->fq", np.conj(u), link.y, np.conj(s))
        return np.linalg.solve(gram, rhs[..., None])[..., 0], u

    def model(beta, u, s):
        return np.einsum("fq,qr,fqk->frk", beta, u, s)

    def delay_jacobian(link, beta, u, s):
        """∂model/∂D_mn: the known paths move with the link delay, fitted scatterers do not."""
        ds = s * np.repeat(-2j * np.pi * freq_norm, symbols)[None, None, :]
        ds[:, link.known:] = 0
        return model(beta, u, ds).reshape(-1)

    def tx_columns(link, beta, u):
        """The model's derivative by g_tx[m, i]: Σ_q β_q u_q ⊗ (a_t,q[i] X_m[i] ⊙ d_q), (F, Mt, Mr·L·P)."""
        out = 0
        for q in range(len(link.paths)):
            out = out + (beta[:, q, None, None, None] * u[q][None, None, :, None]
                         * (link.a_t[q][None, :, None] * link.x * d_of(link, q)[None, None, :])[:, :, None, :])
        return out.reshape(link.x.shape[0], mt, -1)

    def alternate():
        nonlocal g_rx, g_tx
        for iteration in range(_MAX_ITERATIONS):
            num = np.zeros((n_nodes, mr), dtype=complex)
            den = np.zeros((n_nodes, mr))
            for link in links:  # rx gains: per antenna, y_r = g_r Σ_q β_q a_r,q[r] s_q
                s = columns(link)
                beta, _ = amplitudes(link, s)
                z = np.einsum("fq,qr,fqk->frk", beta, link.a_r, s)
                num[link.rx] += np.sum(np.conj(z) * link.y, axis=(0, 2))
                den[link.rx] += np.sum(np.abs(z) ** 2, axis=(0, 2))
            g_rx = gain_gauge(np.where(den > 0, num / np.where(den > 0, den, 1), g_rx))
            lhs = np.zeros((n_nodes, mt, mt), dtype=complex)
            rhs = np.zeros((n_nodes, mt), dtype=complex)
            for link in links:  # tx gains: one LS per transmitter over its links
                s = columns(link)
                beta, u = amplitudes(link, s)
                big = tx_columns(link, beta, u)
                lhs[link.tx] += np.einsum("fak,fbk->ab", np.conj(big), big)
                rhs[link.tx] += np.einsum("fak,fk->a", np.conj(big), link.y.reshape(link.y.shape[0], -1))
            for node in {link.tx for link in links}:
                g_tx[node] = np.linalg.solve(lhs[node], rhs[node])
            g_tx = gain_gauge(g_tx)
            largest = 0.0
            for link in links:
                if len(link.paths) > link.known:  # the link delay and its scatterers' parameters together
                    largest = max(largest, refine_link(link))
                    continue
                # link delay: one Gauss–Newton step on the phase slope over the subcarriers
                s = columns(link)
                beta, u = amplitudes(link, s)
                resid = (link.y - model(beta, u, s)).reshape(-1)
                jac = delay_jacobian(link, beta, u, s)
                step = float(np.clip(np.real(np.vdot(jac, resid)) / np.real(np.vdot(jac, jac)), -0.5, 0.5))
                delays[(link.tx, link.rx)] += step
                largest = max(largest, abs(step))
            if largest < _DELAY_TOLERANCE_SAMPLES and iteration >= 3:
                break

    slope_re = np.repeat(-2j * np.pi * freq_norm, symbols)  # ∂d(τ)/∂τ ÷ d(τ) per RE (τ in samples)
    rx_rate, tx_rate = 1j * np.pi * np.arange(mr), 1j * np.pi * np.arange(mt)  # ∂a(θ)/∂sin θ ÷ a(θ)

    def link_cost(link):
        s = columns(link)
        beta, u = amplitudes(link, s)
        return float(np.sum(np.abs(link.y - model(beta, u, s)) ** 2))

    def refine_link(link):
        """One damped Gauss–Newton step (variable projection: the Jacobian projected off the per-frame amplitudes'
        columns, Kaufman's form) of the link delay D_mn and every fitted scatterer's (sin θ_rx, sin θ_tx, window
        delay). The scatterers come off a grid (_add_scatterers: 1/64 in sin θ, 1/8 sample): left there, a strong
        echo (a target at 20–30 dB) leaves a structured residual of ~20 dB below itself that is not orthogonal to
        the known paths' columns and biases the link's delay and the channel gains (docs/calibration.md, "High
        target SNR"). The largest step taken (samples or sin θ units)."""
        key = (link.tx, link.rx)
        s = columns(link)
        beta, u = amplitudes(link, s)
        frames = link.y.shape[0]
        resid = (link.y - model(beta, u, s)).reshape(frames, -1)
        cost = float(np.sum(np.abs(resid) ** 2))
        cols = [delay_jacobian(link, beta, u, s).reshape(frames, -1)]
        for q in range(link.known, len(link.paths)):
            b = beta[:, q][:, None, None]
            cols.append((b * (u[q] * rx_rate)[None, :, None] * s[:, q][:, None, :]).reshape(frames, -1))
            beams_rate = np.einsum("i,fik->fk", g_tx[link.tx] * link.a_t[q] * tx_rate, link.x)
            ds_tx = beams_rate * _delay_phase(freq_norm, link.fixed_delay[q], symbols)[None]
            cols.append((b * u[q][None, :, None] * ds_tx[:, None, :]).reshape(frames, -1))
            cols.append((b * u[q][None, :, None] * (s[:, q] * slope_re[None])[:, None, :]).reshape(frames, -1))
        jac = np.stack(cols, axis=2)  # (F, Mr·L·P, 1 + 3·scatterers)
        basis = (u.T[None, :, None, :] * np.swapaxes(s, 1, 2)[:, None, :, :]).reshape(frames, -1, s.shape[1])  # (F, ·, Q)
        gram = np.conj(np.swapaxes(basis, 1, 2)) @ basis
        jac = jac - basis @ np.linalg.solve(gram, np.conj(np.swapaxes(basis, 1, 2)) @ jac)
        normal = np.real(np.einsum("fka,fkb->ab", np.conj(jac), jac))
        grad = np.real(np.einsum("fka,fk->a", np.conj(jac), resid))
        scale = np.sqrt(np.maximum(np.diag(normal), 1e-300))
        limits = np.array([0.5] + [0.02, 0.02, 0.25] * (len(link.paths) - link.known))
        old_d = delays[key]
        old = [link.scatterer_parameters(q) for q in range(link.known, len(link.paths))]
        damping = 1e-6
        for _ in range(8):  # Levenberg–Marquardt on the scaled normal equations, until the cost does not grow
            a = normal / np.outer(scale, scale) + damping * np.eye(len(scale))
            step = np.linalg.solve(a, grad / scale) / scale
            step = np.clip(step, -limits, limits)
            delays[key] = old_d + step[0]
            for j, q in enumerate(range(link.known, len(link.paths))):
                link.set_scatterer_parameters(q, old[j] + step[1 + 3 * j:4 + 3 * j], mt, mr)
            try:
                accepted = link_cost(link) <= cost
            except np.linalg.LinAlgError:  # two columns made equal by the step: refused like a growing cost
                accepted = False
            if accepted:
                return float(np.max(np.abs(step)))
            damping *= 10.0
        delays[key] = old_d
        for j, q in enumerate(range(link.known, len(link.paths))):
            link.set_scatterer_parameters(q, old[j], mt, mr)
        return 0.0

    alternate()
    # the targets' echoes are coherent with the known paths of the same link (the same oscillator phases),
    # so they would bias them: the strongest unknown echoes of each link are found in the residual and
    # fitted as nuisance paths, one echo per link and round, each round refitted (its echo's parameters refined,
    # the gains and delays with it):
    # a search on the residual of a fit whose gains the unmodelled echoes still pull finds, after the strongest
    # echo, the known paths' own misfit (measured: nuisance paths on the direct path's cell at 20 dB target SNR);
    # after the refit the next round searches a cleaner residual
    searching = set(range(len(links)))
    for _ in range(_SCATTERER_MAX_PER_LINK):
        added = 0
        for index, link in enumerate(links):
            if index not in searching:  # its last search found nothing above the level: done
                continue
            known_delays = [link.paths[q].delay_s * fs + delays[(link.tx, link.rx)] - link.window
                            for q in range(link.known)]
            new = _add_scatterers(link, columns, amplitudes, model, g_rx, g_tx, freq_norm, symbols, cp, mt, mr,
                                  known_delays, max_new=1)
            added += new
            if not new:
                searching.discard(index)
        if not added:
            break
        alternate()
        # a scatterer the refinement moved into a known path's cell (or onto another scatterer) is dropped and the
        # link refitted: there it only shares the known path's energy and pulls its delay
        dropped = 0
        for link in links:
            known_delays = [link.paths[q].delay_s * fs + delays[(link.tx, link.rx)] - link.window
                            for q in range(link.known)]
            gram = np.einsum("fik,fjk->ij", link.x, np.conj(link.x))
            q = link.known
            while q < len(link.paths):
                mine = link.scatterer_parameters(q)
                if any(_column_correlation(g_rx[link.rx], g_tx[link.tx], gram, freq_norm, mine,
                                           link.path_parameters(j, known_delays)) > _SCATTERER_EXCLUSION
                       for j in range(q)):
                    link.remove_scatterer(q)
                    dropped += 1
                else:
                    q += 1
        if dropped:
            alternate()

    # ---- final amplitudes, noise level, SNRs and standard errors -----------------------------------------
    # Two standard errors of every estimate, and the larger is reported (docs/calibration.md, "What the residuals
    # say"): the model's (σ̂² of the residual taken as white noise) and the sandwich (Huber–White) one from the
    # frames' own scatter (each frame's score, e.g. Re(J_fᴴ r_f) for a delay, squared and summed over the frames,
    # over the information squared). Anything in the residual that correlates with a parameter's derivative and
    # changes from frame to frame (an unmodelled echo: it meets each frame's random symbols) shows in the second,
    # not in the first.
    snr_db, amps, delay_var, delay_var_robust, unmodelled_db = {}, {}, {}, {}, {}
    rx_info = np.zeros((n_nodes, mr))
    rx_energy = np.zeros((n_nodes, mr))
    rx_score2 = np.zeros((n_nodes, mr))
    tx_info = np.zeros((n_nodes, mt, mt), dtype=complex)
    tx_normal = np.zeros((n_nodes, mt, mt), dtype=complex)
    tx_score2 = np.zeros((n_nodes, mt, mt), dtype=complex)
    for link in links:
        s = columns(link)
        beta, u = amplitudes(link, s)
        resid = link.y - model(beta, u, s)
        frames = resid.shape[0]
        # unknowns of this link's data: β per frame and path, its delay, its share of the gains, the scatterers'
        # (sin θ_rx, sin θ_tx, delay)
        dof = resid.size - beta.size - 1 - mr - mt - 3 * (len(link.paths) - link.known)
        sigma2 = float(np.sum(np.abs(resid) ** 2) / max(dof, 1))
        energy = np.sum(np.abs(u) ** 2, axis=1)[None, :] * np.sum(np.abs(s) ** 2, axis=2)  # (F, Q)
        for q, p in enumerate(link.paths[:link.known]):
            snr = np.abs(beta[:, q]) ** 2 * energy[:, q] / sigma2
            snr_db[(p.tx, p.rx, p.kind)] = float(10 * np.log10(max(float(np.median(snr)), 1e-30)))
        amps[(link.tx, link.rx)] = [beta[:, q] for q in range(link.known)]
        jac = delay_jacobian(link, beta, u, s).reshape(frames, -1)
        # the weights of step 4 stay the model's variance (with 6–20 frames the sandwich is itself a χ² of F degrees
        # of freedom, ±50 % at F = 6: it would randomise the weights) of the unprojected derivative: on the low-IF
        # grid it is 2.5–3.5× too small in standard error (the mean frequency's share of the derivative is a phase
        # the amplitudes absorb), a scale the closure's Birge ratio then carries into timing_ns_std; kept so (SPEC16
        # "cal13b" measured every layout of docs/calibration.md on this scale). Everything that judges a delay (the
        # reflector-pass agreement, the reported standard errors) uses the honest one below: the larger of the
        # model's and the sandwich, both for the delay's derivative projected off the per-frame amplitudes' columns
        delay_var[(link.tx, link.rx)] = sigma2 / (2 * float(np.real(np.vdot(jac, jac))))
        # the delay's derivative off the per-frame amplitudes' columns (what the amplitudes cannot absorb)
        basis = (u.T[None, :, None, :] * np.swapaxes(s, 1, 2)[:, None, :, :]).reshape(frames, -1, s.shape[1])
        jac = jac - (basis @ np.linalg.solve(np.conj(np.swapaxes(basis, 1, 2)) @ basis,
                                             np.conj(np.swapaxes(basis, 1, 2)) @ jac[..., None]))[..., 0]
        info = float(np.real(np.vdot(jac, jac)))
        scores = np.real(np.sum(np.conj(jac) * resid.reshape(frames, -1), axis=1))  # (F,)
        delay_var_robust[(link.tx, link.rx)] = max(sigma2 / (2 * info), float(np.sum(scores ** 2)) / info ** 2)
        z = np.einsum("fq,qr,fqk->frk", beta, link.a_r, s)
        rx_info[link.rx] += np.sum(np.abs(z) ** 2, axis=(0, 2)) / sigma2
        rx_energy[link.rx] += np.sum(np.abs(z) ** 2, axis=(0, 2))
        rx_score2[link.rx] += np.sum(np.abs(np.sum(np.conj(z) * resid, axis=2)) ** 2, axis=0)
        big = tx_columns(link, beta, u)
        tx_info[link.tx] += np.einsum("fak,fbk->ab", np.conj(big), big) / sigma2
        tx_normal[link.tx] += np.einsum("fak,fbk->ab", np.conj(big), big)
        h = np.einsum("fak,fk->fa", np.conj(big), resid.reshape(frames, -1))  # each frame's tx-gain score
        tx_score2[link.tx] += np.einsum("fa,fb->ab", h, np.conj(h))
        # the model-mismatch statistic: the strongest point echo still in the residual (dB over σ̂²)
        unmodelled_db[(link.tx, link.rx)] = _add_scatterers(
            link, columns, amplitudes, model, g_rx, g_tx, freq_norm, symbols, cp, mt, mr,
            [link.paths[q].delay_s * fs + delays[(link.tx, link.rx)] - link.window for q in range(link.known)],
            max_new=0, probe=True)
    rx_nodes = sorted({link.rx for link in links})
    tx_nodes = sorted({link.tx for link in links})
    # a complex estimate of variance v: phase std √(v/2)/|g| rad, relative magnitude std √(v/2)/|g|
    rx_var = {n: np.maximum(1 / rx_info[n], rx_score2[n] / rx_energy[n] ** 2) for n in rx_nodes}
    rx_rel = np.concatenate([np.sqrt(rx_var[n] / 2) / np.abs(g_rx[n]) for n in rx_nodes])
    tx_rel = []
    for m in tx_nodes:
        inverse = np.linalg.inv(tx_normal[m])
        sandwich = np.real(np.diag(inverse @ tx_score2[m] @ inverse.conj().T))
        tx_rel.append(np.sqrt(np.maximum(np.real(np.diag(np.linalg.inv(tx_info[m]))), sandwich) / 2) / np.abs(g_tx[m]))
    return {"paths": paths, "delays": {k: delays[k] for k in by_link}, "delay_var": delay_var,
            "delay_var_robust": delay_var_robust, "snr_db": snr_db,
            "amplitudes": amps, "windows": windows, "g_rx": g_rx, "g_tx": g_tx, "rx_rel_std": rx_rel,
            "tx_rel_std": np.concatenate(tx_rel), "unmodelled_echo_db": unmodelled_db}


def _reflector_pass_delay(scenario, layout, capture, schedule, x, freq_norm, active, fit, m, n, iterations=12):
    """(D_mn, its weight's variance, the reflector's fitted SNR dB, its honest variance) of the link m → n between
    two nodes from the reflector pass, or None. The weight's variance is on the scale of step 4's weights (the
    model's with the unprojected derivative, as _fit's delay_var); the honest one judges the delay.

    Each first-pass frame y0_f = α_f (S + R) X_f + noise and its background-pass replay y1_f = α'_f S X_f + noise
    (the same samples sent: S is everything static on the link — direct path, clutter, targets, echoes beyond the
    prefix — R the reflector; α the link's oscillator phase, new per frame) differ by more than a phase, so no
    difference removes S; a projection does: z_f = P⊥(y1_f) y0_f (y0_f off the one vector y1_f) holds α_f P⊥ R X_f
    and the noise, whatever S is. The reflector is fitted to it with the projection in its model, β_f P⊥(y1_f)
    c_f(D) (c_f = the reflector's column with the gains of the main fit: u ⊗ (v^T X_f ⊙ d(τ_r + D − o))), one
    amplitude per frame, D by Gauss–Newton from the main fit's value.

    The delay's derivative is taken off each frame's column before it is used (variable projection, as refine_link
    and the main fit's honest variance): on the low-IF grid (bin frequencies 0 … (L − 1)/L) the derivative
    −j2πf ⊙ c_f is mostly the column itself times −j2π·mean(f), a phase that β_f absorbs. Unprojected (before
    SPEC16 "cal13b"), the Gauss–Newton step was that share too short (8 iterations left a fifth of the way
    undone) and the variance σ̂²/(2‖J‖²) was 2.5–3× too small in standard error (measured on the paper scenario,
    "lab-sync", reflector at (−100, 0) m, 8 noise draws: a scatter of 0.0010 sample RMS against a reported 0.0004),
    so the agreement test of estimate_calibration declared an ordinary noise draw of 4.5 "standard errors" a
    disagreement (docs/calibration.md, "High target SNR": seed 3). The honest variance is the larger of the model's
    (projected) and the sandwich one (the frames' own scatter of the delay's score, as _fit)."""
    fs = float(scenario.bandwidth_hz)
    path = [p for p in known_paths(scenario, False, True) if p.tx == m and p.rx == n]
    if not path:
        return None
    path = path[0]
    symbols = layout.data_symbols
    window = fit["windows"][(m, n)]
    try:
        y0 = frame_snapshots(capture, layout, schedule.frames_of(m), window)[:, :, active, :]
        y1 = frame_snapshots(capture, layout, schedule.background_frames_of(m), window)[:, :, active, :]
    except CalibrationError:
        return None
    frames = y0.shape[0]
    y0 = y0.reshape(frames, -1)
    v = y1.reshape(frames, -1)
    vn = v / np.linalg.norm(v, axis=1, keepdims=True)

    def project(c):  # (F, K): each frame off its background replay
        return c - vn * np.sum(np.conj(vn) * c, axis=1, keepdims=True)
    z = project(y0)
    mt, mr = scenario.tx_antennas, scenario.rx_antennas
    u = fit["g_rx"][n] * geometry.ula_steering(path.theta_rx_rad, mr)
    beam = np.einsum("i,fik->fk", fit["g_tx"][m] * geometry.ula_steering(path.theta_tx_rad, mt), x)  # (F, L·P)
    slope = np.repeat(-2j * np.pi * freq_norm, symbols)
    delay = float(fit["delays"][(m, n)])

    def columns(d):
        col = beam * _delay_phase(freq_norm, path.delay_s * fs + d - window, symbols)[None]
        full = (u[None, :, None] * col[:, None, :]).reshape(frames, -1)
        deriv = (u[None, :, None] * (col * slope[None])[:, None, :]).reshape(frames, -1)
        return project(full), project(deriv)

    def solve(d):
        """β per frame, the residual and the delay's Jacobian off each frame's column (variable projection)."""
        c, dc = columns(d)
        energy = np.real(np.sum(np.conj(c) * c, axis=1))
        beta = np.sum(np.conj(c) * z, axis=1) / energy
        jac = beta[:, None] * dc
        jac = jac - c * (np.sum(np.conj(c) * jac, axis=1) / energy)[:, None]
        return c, energy, beta, z - beta[:, None] * c, jac
    for _ in range(iterations):
        _, _, _, resid, jac = solve(delay)
        step = float(np.real(np.vdot(jac, resid)) / max(np.real(np.vdot(jac, jac)), 1e-300))
        delay += float(np.clip(step, -0.5, 0.5))
        if abs(step) < _DELAY_TOLERANCE_SAMPLES:
            break
    c, energy, beta, resid, jac = solve(delay)
    dof = resid.size - 2 * frames - 1  # β per frame, the projection per frame, the delay
    sigma2 = float(np.sum(np.abs(resid) ** 2) / max(dof, 1))
    info = max(float(np.real(np.vdot(jac, jac))), 1e-300)
    scores = np.real(np.sum(np.conj(jac) * resid, axis=1))  # (F,): each frame's score of the delay
    var_honest = max(sigma2 / (2 * info), float(np.sum(scores ** 2)) / info ** 2)
    _, dc = columns(delay)
    # step 4's weight, on the scale of the main fit's (_fit: the unprojected derivative's model variance)
    var = sigma2 / (2 * max(float(np.real(np.vdot(beta[:, None] * dc, beta[:, None] * dc))), 1e-300))
    snr = float(10 * np.log10(max(float(np.median(np.abs(beta) ** 2 * energy / sigma2)), 1e-30)))
    return delay, var, snr, var_honest


# the nuisance search: sin θ grids of the rx and tx arrays, window delays, and when to stop
_SCATTERER_SIN_GRID = np.linspace(-1, 1, 129)
_SCATTERER_DELAY_STEP_SAMPLES = 0.125
_SCATTERER_MAX_PER_LINK = 4
_SCATTERER_SNR_DB = 15.0
# a grid cell whose column correlates with a known path's or an already fitted scatterer's by more than this
# (|⟨c, c'⟩|/‖c‖‖c'‖, the product of the rx, tx and delay factors) is not searched, and a scatterer refined into one
# is dropped: a nuisance path there only takes a share of the known path's own energy and, its delay fixed while
# the known path moves with D_mn, pulls the link delay (measured: 0.9998 for nuisance paths found on the direct
# path's end-fire cell on three nodes at 20 dB target SNR). Not lower: a target echo 0.895 correlated with a direct
# path (three nodes, link 1 → 3) is a separate path that must be fitted, or it biases the link by 0.003 sample.
_SCATTERER_EXCLUSION = 0.99


def _column_correlation(g_rx, g_tx, gram, freq_norm, first, second):
    """|⟨c, c'⟩| / (‖c‖‖c'‖) of two point paths' columns on a link (the product of the rx, tx and delay factors; the
    tx factor through gram = Σ_f X_f X_fᴴ), each given as (sin θ_rx, sin θ_tx, window delay in samples)."""
    def factors(params):
        u = g_rx * np.exp(1j * np.pi * params[0] * np.arange(g_rx.size))
        v = g_tx * np.exp(1j * np.pi * params[1] * np.arange(g_tx.size))
        return u, v, np.exp(-2j * np.pi * params[2] * freq_norm)
    u0, v0, d0 = factors(first)
    u1, v1, d1 = factors(second)
    c_r = abs(np.vdot(u0, u1)) / (np.linalg.norm(u0) * np.linalg.norm(u1))
    c_t = abs(v0 @ gram @ np.conj(v1)) / math.sqrt(float(np.real(v0 @ gram @ np.conj(v0)) * np.real(v1 @ gram @ np.conj(v1))))
    c_d = abs(np.vdot(d0, d1)) / freq_norm.size
    return float(c_r * c_t * c_d)


def _add_scatterers(link, columns, amplitudes, model, g_rx, g_tx, freq_norm, symbols, cp, mt, mr, known_delays=(),
                    max_new=_SCATTERER_MAX_PER_LINK, probe=False):
    """Greedy search of the link's residual for point echoes (rx angle, tx angle, window delay), each with one
    amplitude across the frames after the link's per-frame phase (that of its strongest known path) is
    removed; those above _SCATTERER_SNR_DB are added to the link as nuisance paths, outside the cells of the
    known paths (at known_delays: window delays in samples) and of the scatterers already there
    (_SCATTERER_EXCLUSION), at most max_new, up to _SCATTERER_MAX_PER_LINK in all. The number added; with probe,
    nothing is added and the strongest echo's statistic is returned instead (dB over σ̂²: the model-mismatch
    statistic of the residuals)."""
    s = columns(link)
    beta, u = amplitudes(link, s)
    resid = link.y - model(beta, u, s)
    frames = resid.shape[0]
    dof = resid.size - beta.size - 1 - mr - mt - 3 * (len(link.paths) - link.known)
    sigma2 = float(np.sum(np.abs(resid) ** 2) / max(dof, 1))
    rot = np.exp(-1j * np.angle(beta[:, link.strongest]))
    work = resid * rot[:, None, None]
    delays = np.arange(0.0, cp + 1e-9, _SCATTERER_DELAY_STEP_SAMPLES)
    d_conj = np.conj(_delay_phase(freq_norm, delays, symbols))  # (T, L·P)
    theta = np.arcsin(_SCATTERER_SIN_GRID)
    ur = g_rx[link.rx][None, :] * geometry.ula_steering(theta, mr)  # (G, Mr)
    vt = g_tx[link.tx][None, :] * geometry.ula_steering(theta, mt)  # (G, Mt)
    gram = np.einsum("fik,fjk->ij", link.x, np.conj(link.x))  # Σ_f X_f X_fᴴ
    norm = (np.sum(np.abs(ur) ** 2, axis=1)[:, None]
            * np.real(np.einsum("gi,ij,gj->g", vt, gram, np.conj(vt)))[None, :])  # (G_r, G_t) ‖c‖²
    excluded = []  # (np.ix_ block of (T, G_r, G_t), mask within it): the cells not searched
    d_one = np.conj(d_conj[:, ::symbols])  # (T, L): one symbol's delay phases
    ur_norm = np.linalg.norm(ur, axis=1)
    vt_energy = np.real(np.einsum("gi,ij,gj->g", np.conj(vt), gram.T, vt))

    def exclude(sin_rx, sin_tx, window_delay):
        """Mark the grid cells whose column correlates with the path (sin_rx, sin_tx, window_delay) above the limit
        (each factor is ≤ 1, so only cells where all three exceed it can: a small block)."""
        u0 = g_rx[link.rx] * np.exp(1j * np.pi * sin_rx * np.arange(mr))
        v0 = g_tx[link.tx] * np.exp(1j * np.pi * sin_tx * np.arange(mt))
        c_r = np.abs(np.conj(ur) @ u0) / (ur_norm * np.linalg.norm(u0))
        c_t = np.abs(np.conj(vt) @ gram.T @ v0) / np.sqrt(vt_energy * np.real(np.conj(v0) @ gram.T @ v0))
        c_d = np.abs(np.conj(d_one) @ np.exp(-2j * np.pi * window_delay * freq_norm)) / freq_norm.size
        ti, ri, gi = (np.flatnonzero(c > _SCATTERER_EXCLUSION) for c in (c_d, c_r, c_t))
        if ti.size and ri.size and gi.size:
            mask = c_d[ti][:, None, None] * c_r[ri][None, :, None] * c_t[gi][None, None, :] > _SCATTERER_EXCLUSION
            excluded.append((np.ix_(ti, ri, gi), mask))
    for q, window_delay in enumerate(known_delays):
        p = link.paths[q]
        exclude(math.sin(p.theta_rx_rad), math.sin(p.theta_tx_rad), window_delay)
    for q in range(link.known, len(link.paths)):
        exclude(*link.scatterer_parameters(q))
    added = 0
    for _ in range(1 if probe else min(int(max_new), _SCATTERER_MAX_PER_LINK - (len(link.paths) - link.known))):
        w = np.einsum("frk,fik->rik", work, np.conj(link.x))  # (Mr, Mt, L·P)
        z = np.moveaxis(w @ d_conj.T, 2, 0)  # (T, Mr, Mt)
        stat = np.abs((np.conj(ur) @ z) @ np.conj(vt).T) ** 2 / norm[None]  # (T, G_r, G_t)
        for block, mask in excluded:
            cells = stat[block]
            cells[mask] = 0.0
            stat[block] = cells
        t, gr, gt = np.unravel_index(int(np.argmax(stat)), stat.shape)
        if probe:
            return float(10 * np.log10(max(float(stat[t, gr, gt]) / sigma2, 1e-30)))
        if stat[t, gr, gt] / sigma2 < 10 ** (_SCATTERER_SNR_DB / 10):
            break
        link.add_scatterer(theta[gr], theta[gt], delays[t], mt, mr)
        exclude(_SCATTERER_SIN_GRID[gr], _SCATTERER_SIN_GRID[gt], delays[t])
        added += 1
        # remove it from the work residual (one amplitude over the frames) before the next search
        col = ur[gr][None, :, None] * ((vt[gt] @ link.x) * np.conj(d_conj[t]))[:, None, :]  # (F, Mr, L·P)
        alpha = np.vdot(col, work) / np.vdot(col, col)
        work = work - alpha * col
    return added
