# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""OFDM ISAC frames: layout, QPSK data, pilots, preamble, radar streams, IFFT + cyclic prefix (paper eq. 1).

Frame layout (one frame = ``frame_symbols`` OFDM symbols of ``cyclic_prefix + L`` samples each)::

    | preamble (1) | pilot (1) | P sensing/data symbols (scenario.symbols_per_frame) |
    '----- front: users only -----'------------- X_n = W_c,n S_c + W_r,n S_r,n ----------'

* **Front symbols** (``preamble_symbols`` + ``pilot_symbols``, one each by default) carry only the users'
  streams, precoded by W_c,n, with the radar streams off. The preamble lets a user receiver find the
  frame start without tags (cross-correlation with every user stream's known preamble); the pilots let
  user u estimate its effective channel. The front symbols are **not** part of the sensing snapshot:
  the node receiver and the central unit use only the P sensing/data symbols.
* **Pilot designs** (``FrameLayout.pilot_design``, decided by the layout's ``pilot_symbols`` K, which
  the scenario fixes: ``[ofdm] pilot_symbols``, so transmitters, channels, receivers and the central unit
  agree):
  - "flat" (K ≤ U; the default K = 1 is today's layout): user u on subcarrier l of pilot symbol k:
    c_{k,l}·e^{j2π u l / L}, |c| = 1, orthogonal between users over the L subcarriers (U ≤ L). User u
    estimates ONE gain per frame, g_u = Σ_n e^{jφ_n} h_{n,u}^H w_{c,n,u}, averaged over the L·K pilot
    REs (noise σ_c²/(L·K)). Valid for a flat channel only: every node seen at the same delay (to a
    small fraction of a sample), as in the ideal air.
  - "per-subcarrier" (K ≥ U + 1): user u on pilot symbol k, subcarrier l: c_{k,l}·e^{j2π u k / K}, an
    orthogonal (DFT) cover over the K pilot symbols, so on EVERY subcarrier the users' pilots are
    orthogonal. User u estimates its channel per subcarrier, g_u[l] = Σ_n e^{jφ_n} h_{n,u}^H w_{c,n,u}
    e^{−j2π f_l D_{n,u}} (noise σ_c²/K), for ANY per-node delay D_{n,u} ≥ 0 up to the cyclic prefix
    (beyond it the FFT window takes the previous symbol: inter-symbol interference, as on air), i.e. any
    delay spread the CP allows, with no assumption on how the delays are spaced. The K − U unused codes
    carry noise only: the receiver's σ_c² estimate. Limits: the channel must hold still over the frame
    (oscillator phases are per frame; a residual CFO ε rotates it by 2π·ε·frame_len/B over the frame, 5.6e-4
    rad at 5 Hz for the paper's frame), and the K pilot symbols cost K·(CP + L) samples per frame.
    Scenarios whose air is frequency-selective (``[impairments] user_delays`` or node clock offsets)
    should set ``pilot_symbols ≥ U + 1``; the comm channel warns when they do not.
* **Sensing/data symbols**: on every resource element (RE) (subcarrier l, symbol p) node n sends
  x = W_c,n s_c + W_r,n s_r,n (eq. 1), with E[s sᴴ] = I per RE, so that the per-subcarrier transmit
  covariance is R_n = W_c W_cᴴ + W_r W_rᴴ (the matrix the SDR designs; the per-antenna power
  constraint of eq. 18d holds per subcarrier).
  - S_c (U × L·P): unit-power QPSK, the same at every node (CoMP), a function of (seed, frame number)
    only, so the central unit and the user receivers regenerate it.
  - S_r,n (Mt × L·P): radar streams, exactly orthogonal between nodes over a frame:
    S_r,n S_r,mᴴ = 0 (n ≠ m) and = L·P·I (n = m). They are √(L·P) times Mt rows (node n's block) of
    a Haar-random unitary drawn from a seeded codebook of RADAR_CODEBOOK_SIZE unitaries (index hashed
    from the frame number; a codebook keeps the per-frame cost free of any QR), times a per-frame random
    quarter-turn phase (1, j, −1, −j) on each RE (so frames do not repeat).
    This needs L·P ≥ N·Mt (checked). The REs of the codebook entry are also rotated cyclically by a
    per-frame random amount, which makes E[s_r s_rᴴ] = I exactly on every RE. The radar streams are drawn independently of the data, so
    E[S_c S_r,nᴴ] = 0 and E‖S_c S_r,nᴴ‖_F² = U·Mt·L·P exactly: every entry of S_c S_r,nᴴ has rms
    √(L·P), i.e. 1/√(L·P) relative to the L·P on the diagonal of S_r,n S_r,nᴴ (the paper's
    "uncorrelated" assumption; not exactly orthogonal per frame).
* RE ordering: a frame's L·P REs are indexed j = l·P + p, so a (…, L·P) array reshapes to (…, L, P),
  the (Mt, L, P) layout of core.model.
* **Guard and DC bins** (issue 14; ``FrameLayout.active_subcarriers``, from ``scenario.active_subcarriers``:
  ``active_subcarrier_mask`` is the one definition): the transmitter puts NOTHING on an inactive bin — no data,
  no pilot, no preamble, no radar stream (exact zeros in the frequency domain). The radar codebook is drawn
  over the L_a·P ACTIVE REs (L_a active bins), so the nodes' streams stay exactly orthogonal over what is
  sent, S_r,n S_r,mᴴ = L_a·P·I δ_nm, and the rotation over the active REs keeps E[s_r s_rᴴ] = I on every
  active RE: this needs L_a·P ≥ N·Mt (checked). The "flat" pilots' DFT cover runs over the active bins
  (e^{j2π u a/L_a} on the a-th active bin; U ≤ L_a). Power (decided): ``per_antenna_power`` P_T is the
  power per antenna per SAMPLE, what a DAC/PA limits (with an orthonormal FFT, the sum of the per-RE powers
  over the L bins over L); the unused bins' share goes to the used ones, so an active RE carries
  P_T·L/L_a (``per_re_power``, ``FrameLayout.re_power_scale``): the SDR's eq. (18d) is [R_n]_ii ≤ P_T·L/L_a
  on every active RE, ``default_precoders`` scale likewise, and every antenna's sample power stays P_T. A
  fixed per-RE power would instead leave the DAC's range unused by L_a/L (−0.97 dB at the lab preset's 20 %
  guards) and make every guard configuration a different transmit power. Without guard/DC bins nothing
  changes (the same arrays, bit for bit).

OFDM convention: orthonormal FFT (``norm="ortho"``): a sample's power equals an RE's power, so AWGN of
variance σ² per time sample is CN(0, σ²) per RE (the noise of eq. 5), and P_T per antenna is per sample
and per RE alike. Subcarrier l sits at frequency f_l = l·B/L (the synthetic band is taken as [0, B),
"low-IF"), matching the model's d(τ) = exp(−j2π l (B/L) τ). Over the air a radio's band is centred, so
bins l ≥ L/2 are at negative frequency (l − L)·B/L: ``bin_frequencies_hz(…, grid="centred")`` is the one
place that knows this; a central unit working on radio data must use the same grid for d(τ).

Every random quantity is a pure function of (seed, stream, frame number, index) through a counter-based
hash (splitmix64), vectorised over frames: any node's X_m of any frame is regenerated by
``transmitted_frames(layout, seed, frames, node, Wc, Wr)`` from (seed, node id, frame number, W_c,m,
W_r,m) — this is how the central unit knows X_m.

Two implementations of the transmitted samples share these draws: ``FrameGenerator.stream_time`` (the
reference: plain, float64 precoding by the caller) and ``NodeModulator`` (the transmitter block's fast
complex64 path, tested equal to it).
"""

import dataclasses
import functools

import numpy as np
import scipy.fft

# Resource elements use unit-power QPSK: (±1 ± j)/√2; bit pair (b0, b1) → ((1 − 2b0) + j(1 − 2b1))/√2.
QPSK_SCALE = 1 / np.sqrt(2)
RADAR_CODEBOOK_SIZE = 64
FREQUENCY_GRIDS = ("low-if", "centred")
PILOT_FLAT = "flat"
PILOT_PER_SUBCARRIER = "per-subcarrier"
DEFAULT_FREQUENCY_GRID = "low-if"
_QUARTER_TURNS = np.array([1, 1j, -1, -1j])
# the same two tables in complex64 for the fast transmitter path (NodeModulator): QPSK by 2-bit code
# (bit 0 = b0, bit 1 = b1, as qpsk()) and the quarter turns
_QPSK_BY_CODE_C64 = (QPSK_SCALE * np.array([1 + 1j, -1 + 1j, 1 - 1j, -1 - 1j])).astype(np.complex64)
_QUARTER_TURNS_C64 = _QUARTER_TURNS.astype(np.complex64)

# hash streams (arbitrary distinct constants): one per random quantity
_STREAM_DATA = 0x0D47A
_STREAM_RADAR_INDEX = 0x5A1EC
_STREAM_RADAR_PHASE = 0x9A5E
_STREAM_PREAMBLE = 0x9EA
_STREAM_PILOT = 0x9170
_FIXED_SEQUENCE_SEED = 0x0D15AC  # preamble and pilots are fixed by the layout, not by the data seed


class FrameError(ValueError):
    """A frame layout or a frame request that cannot be served; the message names the value."""


# ---- counter-based random numbers --------------------------------------------------------------

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1, _MIX2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_SHIFTS = (np.uint64(30), np.uint64(27), np.uint64(31))
_INDEX_STEP = np.uint64(0xD1B54A32D192ED03)


def _splitmix64(x):
    """The splitmix64 finaliser on a uint64 array (wrapping arithmetic; numpy does not check overflow of
    integer arrays). In place on a new array and one scratch array: two allocations instead of a dozen
    temporaries, which matters at ~10^6 hashes per second in the transmitter and for the central unit's
    small per-frame arrays, where each numpy call's overhead is the cost."""
    z = np.add(np.asarray(x, dtype=np.uint64), _GOLDEN)
    scratch = np.right_shift(z, _SHIFTS[0])
    z ^= scratch
    z *= _MIX1
    np.right_shift(z, _SHIFTS[1], out=scratch)
    z ^= scratch
    z *= _MIX2
    np.right_shift(z, _SHIFTS[2], out=scratch)
    z ^= scratch
    return z


_U64_MASK = (1 << 64) - 1
# below this many frames the per-frame keys are hashed as Python integers (a few µs per frame) rather than by
# numpy (a few µs per call whatever the size): the central unit regenerates one frame at a time
_SCALAR_FRAMES = 16
# FrameGenerator.frame_draws keeps the last frames' draws up to this size of S_c (a frame or a few; not a batch)
_CACHED_DRAWS_BYTES = 1 << 22


def _splitmix64_int(z):
    """splitmix64 of one Python integer (0 … 2^64 − 1): the same function as _splitmix64, bit for bit."""
    z = (z + 0x9E3779B97F4A7C15) & _U64_MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _U64_MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _U64_MASK
    return z ^ (z >> 31)


@functools.lru_cache(maxsize=256)
def _stream_key(seed, stream):
    """The key of (seed, stream) that hash_uint64 mixes every frame number into (a pure function: cached)."""
    key = _splitmix64_int(int(seed) & _U64_MASK)
    return _splitmix64_int(key ^ (int(stream) & _U64_MASK))


@functools.lru_cache(maxsize=64)
def _index_offsets(count):
    """index · _INDEX_STEP (wrapping) for index 0 … count − 1, read-only (cached per count)."""
    offsets = np.arange(count, dtype=np.uint64) * _INDEX_STEP
    offsets.setflags(write=False)
    return offsets


def hash_uint64(seed, stream, frames, count):
    """uint64 hashes (F, count) of (seed, stream, frame number, index 0…count−1); pure and vectorised.

    hash = splitmix64(splitmix64(key ^ splitmix64(frame)) + index·step), key = splitmix64(splitmix64(seed) ^
    stream) (all mod 2^64); the per-frame part is computed on Python integers for a few frames (same values)."""
    key = _stream_key(seed, stream)
    frames = np.asarray(frames, dtype=np.int64).reshape(-1)
    if frames.size <= _SCALAR_FRAMES:
        per_frame = np.array([_splitmix64_int(key ^ _splitmix64_int(f & _U64_MASK)) for f in frames.tolist()],
                             dtype=np.uint64)
    else:
        per_frame = _splitmix64(np.uint64(key) ^ _splitmix64(frames.astype(np.uint64)))
    return _splitmix64(np.add(per_frame[:, None], _index_offsets(int(count))[None, :]))


def hash_uniform(seed, stream, frames, count):
    """Uniform [0, 1) floats (F, count) from hash_uint64 (53-bit mantissa)."""
    return (hash_uint64(seed, stream, frames, count) >> np.uint64(11)).astype(np.float64) * 2.0**-53


# ---- layout ------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class FrameLayout:
    """Sizes of one frame; see the module docstring for the layout. Validated on construction."""

    subcarriers: int  # L
    cyclic_prefix: int  # samples
    data_symbols: int  # P: sensing/data OFDM symbols (scenario.symbols_per_frame)
    num_users: int  # U
    tx_antennas: int  # Mt
    num_nodes: int  # N
    preamble_symbols: int = 1
    pilot_symbols: int = 1  # K; K ≥ U + 1 selects the per-subcarrier pilot design (module docstring)
    # the bins the transmitter uses (active_subcarrier_mask; issue 14): None = all L, else a tuple of L bools
    # (hashable: layouts key the frame-generator cache). An (L,) bool array is accepted and normalised.
    active_subcarriers: object = None

    def __post_init__(self):
        for name in ("subcarriers", "data_symbols", "num_users", "tx_antennas", "num_nodes", "pilot_symbols"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise FrameError(f"frame layout {name} = {value!r}: accepted: an integer ≥ 1")
        for name in ("cyclic_prefix", "preamble_symbols"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < 0:
                raise FrameError(f"frame layout {name} = {value!r}: accepted: an integer ≥ 0")
        self._normalise_active_subcarriers()
        if self.active_subcarriers is None:
            if self.num_users > self.subcarriers:
                raise FrameError(
                    f"frame layout: U = {self.num_users} users need U ≤ L = {self.subcarriers} subcarriers "
                    "for orthogonal pilots; use more subcarriers")
            self._check_radar_rows(self.data_res, f"L·P = {self.subcarriers}·{self.data_symbols}", "resource elements",
                                   "L·P ≥ N·Mt (raise symbols_per_frame or subcarriers)")
            return
        active = self.active_subcarrier_count
        if self.pilot_design == PILOT_FLAT and self.num_users > active:
            raise FrameError(
                f"frame layout: U = {self.num_users} users need U ≤ L_active = {active} active subcarriers "
                f"(of L = {self.subcarriers}) for orthogonal pilots; accepted: fewer guard/DC bins, more "
                "subcarriers, or pilot_symbols ≥ U + 1")
        self._check_radar_rows(self.active_res, f"L_active·P = {active}·{self.data_symbols}",
                               f"active resource elements (L = {self.subcarriers}, {self.subcarriers - active} "
                               "guard/DC bins)", "L_active·P ≥ N·Mt (raise symbols_per_frame or subcarriers, or use "
                               "fewer guard/DC bins)")

    def _check_radar_rows(self, resource_elements, count_text, unit_text, accepted_text):
        """The N·Mt radar streams must be orthogonal over the frame's (active) resource elements: FrameError if not."""
        rows = self.num_nodes * self.tx_antennas
        if resource_elements < rows:
            raise FrameError(
                f"frame layout: radar streams of N·Mt = {self.num_nodes}·{self.tx_antennas} = {rows} rows cannot be "
                f"orthogonal over {count_text} = {resource_elements} {unit_text}; accepted: {accepted_text}")

    def _normalise_active_subcarriers(self):
        mask = self.active_subcarriers
        if mask is None:
            return
        array = np.asarray(mask)
        if array.shape != (self.subcarriers,) or array.dtype != bool:
            raise FrameError(f"frame layout active_subcarriers = {mask!r}: accepted: None or {self.subcarriers} "
                             "bools (core.ofdm.active_subcarrier_mask)")
        if not array.any():
            raise FrameError("frame layout active_subcarriers: no subcarrier is active; accepted: at least one")
        object.__setattr__(self, "active_subcarriers", None if array.all() else tuple(bool(v) for v in array))

    @property
    def active_mask(self):
        """(L,) bool: the bins in use (all True without guard/DC bins)."""
        if self.active_subcarriers is None:
            return np.ones(self.subcarriers, dtype=bool)
        return np.array(self.active_subcarriers, dtype=bool)

    @property
    def active_subcarrier_count(self):
        """L_active."""
        return self.subcarriers if self.active_subcarriers is None else int(sum(self.active_subcarriers))

    @property
    def active_res(self):
        """Resource elements of the sensing/data part that carry anything, L_active·P (= data_res without guards)."""
        return self.active_subcarrier_count * self.data_symbols

    @property
    def active_re_indices(self):
        """Indices j = l·P + p of the active REs among the data_res of a frame (increasing)."""
        return np.flatnonzero(np.repeat(self.active_mask, self.data_symbols))

    @property
    def re_power_scale(self):
        """L / L_active: the per-RE power on an active bin relative to the per-sample power (module docstring,
        "Guard and DC bins": a DAC's total is fixed, so the unused bins' share goes to the used ones)."""
        return self.subcarriers / self.active_subcarrier_count

    @property
    def pilot_design(self):
        """"flat" (one gain per frame; K ≤ U) or "per-subcarrier" (orthogonal cover over K ≥ U + 1 pilot
        symbols: a channel per subcarrier for any delay spread up to the cyclic prefix); module docstring."""
        return PILOT_PER_SUBCARRIER if self.pilot_symbols > self.num_users else PILOT_FLAT

    @property
    def symbol_len(self):
        """Samples per OFDM symbol, cyclic prefix included."""
        return self.cyclic_prefix + self.subcarriers

    @property
    def front_symbols(self):
        """Preamble + pilot symbols ahead of the sensing/data symbols."""
        return self.preamble_symbols + self.pilot_symbols

    @property
    def frame_symbols(self):
        return self.front_symbols + self.data_symbols

    @property
    def frame_len(self):
        """Samples per frame."""
        return self.frame_symbols * self.symbol_len

    @property
    def front_len(self):
        """Samples before the first sensing/data symbol."""
        return self.front_symbols * self.symbol_len

    @property
    def data_res(self):
        """Resource elements of the sensing/data part, L·P."""
        return self.subcarriers * self.data_symbols

    def frame_of_symbols(self, first_sample, symbols):
        """Frame number of each of ``symbols`` OFDM symbols starting at absolute sample ``first_sample``
        (a symbol start)."""
        return (first_sample // self.symbol_len + np.arange(symbols)) // self.frame_symbols


def layout_from_scenario(scenario, preamble_symbols=1, pilot_symbols=None):
    """The FrameLayout of a core.scenario.Scenario (P = scenario.symbols_per_frame; K = the scenario's
    ``pilot_symbols``, 1 when it has none, unless ``pilot_symbols`` is given)."""
    if pilot_symbols is None:
        pilot_symbols = getattr(scenario, "pilot_symbols", 1)
    return FrameLayout(
        subcarriers=scenario.subcarriers, cyclic_prefix=scenario.cyclic_prefix,
        data_symbols=scenario.symbols_per_frame, num_users=scenario.num_users,
        tx_antennas=scenario.tx_antennas, num_nodes=scenario.num_nodes,
        preamble_symbols=preamble_symbols, pilot_symbols=pilot_symbols,
        active_subcarriers=getattr(scenario, "active_subcarriers", None))


def per_re_power(per_antenna_power, active_subcarriers):
    """The power per active RE and antenna, P_T·L/L_active, of a transmitter whose per-sample power per antenna is
    P_T (the scenario's per_antenna_power): the constraint of eq. (18d) on an active bin (module docstring,
    "Guard and DC bins"). ``active_subcarriers``: a FrameLayout, an (L,) bool mask (e.g. scenario.active_subcarriers)
    or None. Exactly ``per_antenna_power`` without guard/DC bins."""
    if isinstance(active_subcarriers, FrameLayout):
        active_subcarriers = active_subcarriers.active_subcarriers
    if active_subcarriers is None:
        return per_antenna_power
    mask = np.asarray(active_subcarriers, dtype=bool)
    if mask.all():
        return per_antenna_power
    return per_antenna_power * (mask.size / int(mask.sum()))


# ---- frequency grid and OFDM modulation --------------------------------------------------------

def bin_frequencies_hz(subcarriers, bandwidth_hz, grid=DEFAULT_FREQUENCY_GRID):
    """Baseband frequency of FFT bin l: l·B/L ("low-if", the model's d(τ)) or centred ((l − L)·B/L for l ≥ L/2)."""
    if grid not in FREQUENCY_GRIDS:
        raise FrameError(f"frequency grid {grid!r}: accepted: {', '.join(FREQUENCY_GRIDS)}")
    bins = np.arange(subcarriers)
    if grid == "centred":
        bins = np.where(bins >= subcarriers // 2 + subcarriers % 2, bins - subcarriers, bins)
    return bins * (bandwidth_hz / subcarriers)


def delay_phases(delay_s, subcarriers, bandwidth_hz, grid=DEFAULT_FREQUENCY_GRID):
    """exp(−j2π f_l τ) per bin, shape delay.shape + (L,): d(τ) of eq. 3 on the chosen grid."""
    f = bin_frequencies_hz(subcarriers, bandwidth_hz, grid)
    return np.exp(-2j * np.pi * np.multiply.outer(delay_s, f))


def active_subcarrier_mask(subcarriers, guard_subcarriers=0, dc_null=False):
    """(L,) bool: the FFT bins a transmitter uses (issue 14: band edges and DC are unusable on real front ends).

    Bins are FFT indices, the same on both grids: bin 0 is DC on the centred (radio) grid, the band edges are
    the bins around L/2. ``guard_subcarriers`` G bins are left empty at the edges: ceil(G/2) at the low edge
    (from the most negative centred frequency, bin L − ceil(L/2) … upward) and floor(G/2) at the high edge
    (from the highest positive frequency downward); ``dc_null`` leaves bin 0 empty. All True by default."""
    if isinstance(subcarriers, bool) or not isinstance(subcarriers, (int, np.integer)) or subcarriers < 1:
        raise FrameError(f"subcarriers = {subcarriers!r}: accepted: an integer ≥ 1")
    if (isinstance(guard_subcarriers, bool) or not isinstance(guard_subcarriers, (int, np.integer))
            or not 0 <= guard_subcarriers < subcarriers):
        raise FrameError(f"guard_subcarriers = {guard_subcarriers!r}: accepted: an integer 0 … {subcarriers - 1}")
    mask = np.ones(int(subcarriers), dtype=bool)
    low_edge = subcarriers // 2 + subcarriers % 2  # the most negative centred frequency (bin_frequencies_hz)
    low, high = -(-guard_subcarriers // 2), guard_subcarriers // 2
    mask[low_edge:low_edge + low] = False
    mask[low_edge - high:low_edge] = False
    if dc_null:
        mask[0] = False
    if not mask.any():
        raise FrameError(f"guard_subcarriers = {guard_subcarriers}, dc_null = {dc_null}: no subcarrier of "
                         f"{subcarriers} is left; accepted: fewer guards")
    mask.setflags(write=False)
    return mask


def modulate(freq, cyclic_prefix):
    """OFDM symbols (…, L) → time samples (…, CP + L): orthonormal IFFT, cyclic prefix prepended."""
    core = np.fft.ifft(freq, axis=-1, norm="ortho")
    if cyclic_prefix == 0:
        return core
    length = core.shape[-1]
    # periodic extension: the prefix may be longer than L (the paper scenario: CP 20, L 16)
    return core[..., np.arange(-cyclic_prefix, length) % length]


def demodulate(time, cyclic_prefix):
    """Time samples (…, CP + L) → OFDM symbols (…, L): prefix dropped, orthonormal FFT."""
    return np.fft.fft(time[..., cyclic_prefix:], axis=-1, norm="ortho")


def qpsk(bits):
    """Unit-power QPSK from bit pairs (…, 2): ((1 − 2b0) + j(1 − 2b1))/√2."""
    bits = np.asarray(bits)
    return QPSK_SCALE * ((1 - 2 * bits[..., 0].astype(np.float64)) + 1j * (1 - 2 * bits[..., 1].astype(np.float64)))


# S_c by 2-bit code (bit 0 = b0, bit 1 = b1, as FrameGenerator.data_codes), made by qpsk() itself: a table look-up
# gives the very values qpsk() computes, bit for bit
_QPSK_BY_CODE = qpsk(np.array([[code & 1, code >> 1] for code in range(4)]))
_QPSK_BY_CODE.setflags(write=False)


def qpsk_bits(symbols):
    """Hard QPSK decisions (…) → bit pairs (…, 2), the inverse of qpsk()."""
    symbols = np.asarray(symbols)
    return np.stack([symbols.real < 0, symbols.imag < 0], axis=-1).astype(np.uint8)


# ---- the frame generator -----------------------------------------------------------------------

class FrameGenerator:
    """All symbols of the frames of one layout and data seed; every method is vectorised over frames.

    Arrays of user streams are (F, U, …); radar streams of all nodes are (F, N·Mt, …), node m owning
    rows m·Mt … (m+1)·Mt − 1.
    """

    def __init__(self, layout, seed):
        self.layout = layout
        self.seed = int(seed)
        lay = layout
        # fixed front sequences (unit modulus, so every user stream has unit power per RE)
        pre = hash_uint64(_FIXED_SEQUENCE_SEED, _STREAM_PREAMBLE, [0], lay.num_users * lay.preamble_symbols * lay.subcarriers)
        bits = np.stack([pre & np.uint64(1), (pre >> np.uint64(1)) & np.uint64(1)], axis=-1)
        self.preamble = qpsk(bits).reshape(lay.num_users, lay.preamble_symbols, lay.subcarriers)
        if lay.active_subcarriers is not None:  # nothing on guard/DC bins (issue 14)
            self.preamble = self.preamble * lay.active_mask
        pil = hash_uint64(_FIXED_SEQUENCE_SEED, _STREAM_PILOT, [0], lay.pilot_symbols * lay.subcarriers)
        cover = qpsk(np.stack([pil & np.uint64(1), (pil >> np.uint64(1)) & np.uint64(1)], axis=-1))
        cover = cover.reshape(lay.pilot_symbols, lay.subcarriers)
        self.pilots = user_pilots(lay, cover)
        front = np.concatenate([self.preamble, self.pilots], axis=1)  # (U, front, L)
        self.front_time = modulate(front, lay.cyclic_prefix).reshape(lay.num_users, lay.front_len).astype(np.complex64)
        # radar codebook: Haar unitaries' first N·Mt columns, (C, L_active·P, N·Mt): over the ACTIVE REs only
        # (= L·P without guard/DC bins), so the nodes' streams are orthogonal over what is transmitted
        rng = np.random.default_rng([self.seed, _STREAM_RADAR_INDEX])
        shape = (RADAR_CODEBOOK_SIZE, lay.active_res, lay.num_nodes * lay.tx_antennas)
        gauss = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
        q, r = np.linalg.qr(gauss)
        diag = np.diagonal(r, axis1=-2, axis2=-1)
        q = q * (diag / np.abs(diag))[:, None, :]  # phase fix: Haar distributed
        self._codebook = np.sqrt(lay.active_res) * np.swapaxes(q, 1, 2)  # (C, N·Mt, L_a·P), rows orthogonal
        self._radar_rows = {}
        self._active_res = None if lay.active_subcarriers is None else lay.active_re_indices
        self._re = np.arange(lay.active_res)
        # the node-independent draws of the last frames asked for ((frame numbers' bytes, draws): one tuple,
        # replaced whole, so threads sharing this cached generator read a consistent pair); the central unit
        # regenerates every node's X_m of one frame in turn (transmitted_frames), the draws once per frame
        self._last_draws = (None, None)

    # -- data --------------------------------------------------------------------------------
    def data_codes(self, frames):
        """2-bit QPSK codes (F, U, L·P) of S_c, a function of (seed, frame number) only: bit 0 is b0, bit 1 b1."""
        lay = self.layout
        h = hash_uint64(self.seed, _STREAM_DATA, frames, lay.num_users * lay.data_res)
        return (h & np.uint64(3)).astype(np.uint8).reshape(-1, lay.num_users, lay.data_res)

    def data_bits(self, frames):
        """QPSK bits (F, U, L, P, 2) of S_c, a function of (seed, frame number) only."""
        lay = self.layout
        codes = self.data_codes(frames)
        bits = np.stack([codes & 1, codes >> 1], axis=-1)
        return bits.reshape(-1, lay.num_users, lay.subcarriers, lay.data_symbols, 2)

    def data_symbols(self, frames):
        """S_c as (F, U, L, P) unit-power QPSK, zero on guard/DC bins (their bits are drawn but never sent)."""
        lay = self.layout
        symbols = _QPSK_BY_CODE[self.data_codes(frames)].reshape(-1, lay.num_users, lay.subcarriers, lay.data_symbols)
        if lay.active_subcarriers is not None:
            symbols = symbols * lay.active_mask[:, None]
        return symbols

    def frame_draws(self, frames):
        """(S_c (F, U, L, P), radar_draws(frames)) of these frame numbers, read-only; what every node's frame of
        them shares. The last request is kept, so the N nodes' X_m of one frame (transmitted_frames) draw once."""
        frames = np.asarray(frames, dtype=np.int64).reshape(-1)
        key = frames.tobytes()
        cached_key, draws = self._last_draws
        if cached_key != key:
            draws = (self.data_symbols(frames),) + tuple(self.radar_draws(frames))
            for array in draws:
                array.setflags(write=False)
            if draws[0].nbytes <= _CACHED_DRAWS_BYTES:  # (a long offline batch is not kept alive)
                self._last_draws = (key, draws)
        return draws

    def radar_symbols(self, frames):
        """S_r of all nodes, (F, N·Mt, L, P): rows orthogonal over a frame, each of squared norm L_a·P (L·P without
        guard/DC bins); zero on the inactive REs."""
        lay = self.layout
        index, shift, quarter = self.radar_draws(frames)
        res = lay.active_res
        columns = (np.arange(res)[None, :] + shift[:, None]) % res
        s_r = np.take_along_axis(self._codebook[index], columns[:, None, :], axis=-1)
        if self._active_res is None:
            s_r = s_r * _QUARTER_TURNS[quarter][:, None, :]
        else:  # active RE j of the codebook goes to the frame's j-th active RE
            full = np.zeros(s_r.shape[:2] + (lay.data_res,), dtype=s_r.dtype)
            full[:, :, self._active_res] = s_r * _QUARTER_TURNS[quarter[:, self._active_res]][:, None, :]
            s_r = full
        return s_r.reshape(-1, lay.num_nodes * lay.tx_antennas, lay.subcarriers, lay.data_symbols)

    def radar_draws(self, frames):
        """The per-frame draws of S_r: codebook index (F,), RE rotation (F,), quarter-turn codes (F, L·P).

        Frame f's S_r is √(L·P)·Q[index] with its REs rotated (RE j takes column (j + shift) mod L·P)
        and RE j multiplied by j^quarter[j]. With guard/DC bins the same over the L_a·P active REs: the a-th
        active RE takes column (a + shift) mod L_a·P (shift < L_a·P) and the quarter turn of its own RE index.
        """
        lay = self.layout
        h = hash_uint64(self.seed, _STREAM_RADAR_INDEX, frames, 2)
        index = (h[:, 0] % np.uint64(RADAR_CODEBOOK_SIZE)).astype(np.intp)
        # a random cyclic rotation of the REs: averaged over the L·P rotations, column j of any matrix with
        # orthonormal rows has covariance Q Qᴴ / (L·P) · L·P = I, so E[s_r s_rᴴ] = I exactly on every RE
        shift = (h[:, 1] % np.uint64(lay.active_res)).astype(np.intp)
        # a random quarter-turn per RE (table look-up, no trigonometry per frame)
        quarter = (hash_uint64(self.seed, _STREAM_RADAR_PHASE, frames, lay.data_res) & np.uint64(3)).astype(np.intp)
        return index, shift, quarter

    def node_radar_symbols(self, frames, node, draws=None):
        """S_r,node, (F, Mt, L, P): rows node·Mt … (node + 1)·Mt − 1 of radar_symbols, the same values bit for bit,
        gathered for this node alone. ``draws``: radar_draws(frames) if the caller has them."""
        lay = self.layout
        mt = lay.tx_antennas
        self._check_node(node)
        index, shift, quarter = self.radar_draws(frames) if draws is None else draws
        res = lay.active_res
        columns = self._re[None, :] + shift[:, None]
        columns[columns >= res] -= res  # (j + shift) mod L_a·P: shift < L_a·P
        rows = np.arange(node * mt, (node + 1) * mt)
        s_r = self._codebook[index[:, None, None], rows[None, :, None], columns[:, None, :]]  # (F, Mt, L_a·P)
        if self._active_res is None:
            s_r = s_r * _QUARTER_TURNS[quarter][:, None, :]
        else:  # as radar_symbols: active RE j of the codebook goes to the frame's j-th active RE
            full = np.zeros(s_r.shape[:2] + (lay.data_res,), dtype=s_r.dtype)
            full[:, :, self._active_res] = s_r * _QUARTER_TURNS[quarter[:, self._active_res]][:, None, :]
            s_r = full
        return s_r.reshape(-1, mt, lay.subcarriers, lay.data_symbols)

    def _check_node(self, node):
        if not 0 <= int(node) < self.layout.num_nodes:
            raise FrameError(f"node id {node!r}: accepted: 0 … {self.layout.num_nodes - 1}")

    # -- whole frames ----------------------------------------------------------------------------
    def stream_time(self, frames, node):
        """Time-domain streams of whole frames before precoding, (F, U + Mt, frame_len) complex64.

        Rows 0…U−1: user streams (preamble, pilots, then S_c); rows U…U+Mt−1: node's radar streams
        (zero in the front symbols). Precoding is linear and per sample, so x = [W_c W_r] @ streams
        gives the node's transmitted samples (eq. 1 on every RE).
        """
        lay = self.layout
        frames = np.asarray(frames).reshape(-1)
        f = frames.size
        out = np.zeros((f, lay.num_users + lay.tx_antennas, lay.frame_len), dtype=np.complex64)
        out[:, :lay.num_users, :lay.front_len] = self.front_time
        data = np.swapaxes(self.data_symbols(frames), -1, -2)  # (F, U, P, L)
        radar = np.swapaxes(self.node_radar_symbols(frames, node), -1, -2)  # (F, Mt, P, L)
        both = np.concatenate([data, radar], axis=1)
        out[:, :, lay.front_len:] = modulate(both, lay.cyclic_prefix).reshape(f, -1, lay.frame_len - lay.front_len)
        return out


    def radar_rows(self, node):
        """Node's codebook as rows per RE, twice over: (C·2·L·P, Mt) complex64,
        row c·2LP + j = √(L·P)·Q[c][:, j mod L·P] (L_a·P in place of L·P with guard/DC bins: active REs).

        A frame's rotated S_r,node is then rows c·2LP + shift + j, j = 0 … L·P − 1 (one gather, no modulo).
        Cached per node.
        """
        self._check_node(node)
        rows = self._radar_rows.get(int(node))
        if rows is None:
            lay = self.layout
            mt = lay.tx_antennas
            node_rows = np.swapaxes(self._codebook[:, node * mt:(node + 1) * mt, :], 1, 2)  # (C, L·P, Mt)
            rows = np.concatenate([node_rows, node_rows], axis=1).reshape(-1, mt).astype(np.complex64)
            self._radar_rows[int(node)] = rows
        return rows


class NodeModulator:
    """The transmitter's fast path: node n's samples x_n = W_c,n s_c + W_r,n s_r,n (eq. 1) of whole frames.

    Same values as ``[W_c W_r] @ FrameGenerator.stream_time(frames, node)`` (the reference; equal to float32
    rounding, tests/test_ofdm.py), computed in complex64 with few passes over memory, because a Python
    transmitter must make ≥ 10 MS/s per antenna (issue 5 benchmark; measured gains in bench/bench_phy.py):
    * the front symbols (users only) are the same every frame: W_c times them is precomputed here;
    * the sensing/data symbols are precoded in the frequency domain (L·P REs per frame instead of
      P·(CP + L) samples): the users' QPSK by table look-up, the radar streams by one gather from
      FrameGenerator.radar_rows, both precoded by one matrix product, antenna-major;
    * one single-precision IFFT (scipy.fft; numpy's computes in complex128) for all frames and antennas,
      written straight into the output streams, the cyclic prefix copied there from the symbol's tail;
    * working arrays are kept between calls (fresh multi-100-kB arrays cost page faults every call).
    """

    def __init__(self, generator, node, wc, wr):
        generator._check_node(node)
        self.generator = generator
        self.node = int(node)
        lay = self.layout = generator.layout
        wc, wr = check_precoders(lay, wc, wr)
        self.weights = np.concatenate([wc, wr], axis=1).astype(np.complex64)  # (Mt, U + Mt)
        self.front = (wc @ generator.front_time).astype(np.complex64)  # (Mt, front_len)
        self._rows_t = np.ascontiguousarray(generator.radar_rows(node).T)  # (Mt, C·2·L_a·P)
        self._re = np.arange(lay.active_res)
        self._active_res = None if lay.active_subcarriers is None else lay.active_re_indices
        self._inactive_res = None if lay.active_subcarriers is None else np.flatnonzero(
            ~np.repeat(lay.active_mask, lay.data_symbols))
        self._capacity = 0

    def _buffers(self, frames):
        lay = self.layout
        if frames > self._capacity:
            self._capacity = frames
            k = lay.num_users + lay.tx_antennas
            self._streams = np.empty((k, frames * lay.active_res), dtype=np.complex64)
            self._x = np.empty((lay.tx_antennas, frames * lay.active_res), dtype=np.complex64)
            if self._active_res is not None:  # the frame's REs, guard/DC REs staying exactly zero
                self._x_full = np.zeros((lay.tx_antennas, frames, lay.data_res), dtype=np.complex64)
        n = frames * lay.active_res
        return self._streams[:, :n], self._x[:, :n]

    def frequency_frames(self, frames):
        """X_n of the sensing/data REs, (Mt, F, L, P) complex64 (a working array, overwritten by the next call)."""
        lay, gen = self.layout, self.generator
        frames = np.asarray(frames).reshape(-1)
        u, res = lay.num_users, lay.active_res
        active = self._active_res
        streams, x = self._buffers(frames.size)  # [s_c; s_r,n] per active RE, (U + Mt, F·L_a·P)
        codes = gen.data_codes(frames)  # (F, U, L·P)
        if active is not None:
            codes = codes[:, :, active]
        np.take(_QPSK_BY_CODE_C64, np.swapaxes(codes, 0, 1).reshape(u, -1), out=streams[:u], mode="clip")
        index, shift, quarter = gen.radar_draws(frames)
        rows = ((index * (2 * res) + shift)[:, None] + self._re[None, :]).reshape(-1)  # (F·L_a·P,)
        np.take(self._rows_t, rows, axis=1, out=streams[u:], mode="clip")
        streams[u:] *= _QUARTER_TURNS_C64[(quarter if active is None else quarter[:, active]).reshape(-1)]
        np.matmul(self.weights, streams, out=x)  # eq. (1) on every (active) RE, one GEMM
        if active is not None:
            full = self._x_full[:, :frames.size]
            full[:, :, self._inactive_res] = 0  # (write() may let the IFFT overwrite its input)
            full[:, :, active] = x.reshape(lay.tx_antennas, frames.size, res)
            x = full
        return x.reshape(lay.tx_antennas, frames.size, lay.subcarriers, lay.data_symbols)

    def write(self, frames, outputs):
        """Write the frames' samples into ``outputs`` (Mt arrays of ≥ F·frame_len complex64, e.g. GNU Radio's)."""
        lay = self.layout
        f = np.asarray(frames).size
        cp, length = lay.cyclic_prefix, lay.subcarriers
        time = scipy.fft.ifft(self.frequency_frames(frames), axis=2, norm="ortho", overwrite_x=True)
        for antenna, out in enumerate(outputs):
            frame_view = out[:f * lay.frame_len].reshape(f, lay.frame_len)
            frame_view[:, :lay.front_len] = self.front[antenna]
            data = frame_view[:, lay.front_len:].reshape(f, lay.data_symbols, lay.symbol_len)
            data[..., cp:] = np.swapaxes(time[antenna], 1, 2)
            end = cp  # cyclic prefix: sample t < CP equals sample t + L (periodic, also when CP > L)
            while end > 0:
                begin = max(0, end - length)
                data[..., begin:end] = data[..., begin + length:end + length]
                end = begin

    def samples(self, frames):
        """The frames' samples, (Mt, F·frame_len) complex64 (for tests and offline use)."""
        f = np.asarray(frames).size
        out = np.empty((self.layout.tx_antennas, f * self.layout.frame_len), dtype=np.complex64)
        self.write(frames, list(out))
        return out


def user_pilots(layout, cover):
    """The users' pilots (U, K, L), |pilot| = 1, from the unit-modulus scrambling ``cover`` (K, L):

    "flat" design: user u's pilot is cover·e^{j2π u l / L}, orthogonal between users over the L subcarriers
    of each pilot symbol; "per-subcarrier": cover·e^{j2π u k / K}, orthogonal between users over the K pilot
    symbols on every subcarrier (module docstring).
    """
    users = np.arange(layout.num_users)
    if layout.pilot_design == PILOT_PER_SUBCARRIER:
        k = np.arange(layout.pilot_symbols)
        pilots = cover[None] * np.exp(2j * np.pi * np.outer(users, k) / layout.pilot_symbols)[:, :, None]
        return pilots if layout.active_subcarriers is None else pilots * layout.active_mask
    if layout.active_subcarriers is None:
        sub = np.arange(layout.subcarriers)
        return cover[None] * np.exp(2j * np.pi * np.outer(users, sub) / layout.subcarriers)[:, None, :]
    # guard/DC bins: the DFT cover runs over the L_a active bins (e^{j2π u a / L_a} on the a-th active bin), so
    # the users stay orthogonal over what is sent; nothing on the inactive bins
    mask = layout.active_mask
    count = int(mask.sum())
    phase = np.zeros((layout.num_users, layout.subcarriers), dtype=complex)
    phase[:, mask] = np.exp(2j * np.pi * np.outer(users, np.arange(count)) / count)
    return cover[None] * phase[:, None, :]


@functools.lru_cache(maxsize=16)
def frame_generator(layout, seed):
    """A cached FrameGenerator for (layout, seed)."""
    return FrameGenerator(layout, seed)


def check_precoders(layout, wc, wr):
    """W_c (Mt × U) and W_r (Mt × Mt) as complex arrays, or FrameError naming the bad shape or value."""
    mt, u = layout.tx_antennas, layout.num_users
    wc, wr = np.asarray(wc), np.asarray(wr)
    if wc.shape != (mt, u):
        raise FrameError(f"W_c shape {wc.shape}: accepted: (Mt, U) = ({mt}, {u})")
    if wr.shape != (mt, mt):
        raise FrameError(f"W_r shape {wr.shape}: accepted: (Mt, Mt) = ({mt}, {mt})")
    if not (np.all(np.isfinite(wc)) and np.all(np.isfinite(wr))):
        raise FrameError("precoder has non-finite entries (NaN or inf): accepted: finite complex numbers")
    return wc.astype(np.complex128), wr.astype(np.complex128)


def default_precoders(layout, per_antenna_power):
    """A placeholder precoder until a designed one arrives: half the power to radar (W_r = √(P_T/2)·I),
    half shared equally by the users on every antenna (W_c = √(P_T/(2U))), so [R]_mm = P_T (per RE; with
    guard/DC bins P_T·L/L_a on each active RE, per_re_power: the same power per sample)."""
    mt, u = layout.tx_antennas, layout.num_users
    per_antenna_power = per_re_power(per_antenna_power, layout)
    wc = np.full((mt, u), np.sqrt(per_antenna_power / (2 * u)), dtype=np.complex128)
    wr = np.sqrt(per_antenna_power / 2) * np.eye(mt, dtype=np.complex128)
    return wc, wr


def transmitted_frames(layout, seed, frames, node, wc, wr):
    """X_m of the sensing/data symbols, (F, Mt, L, P) frequency domain: W_c S_c + W_r S_r,m (eq. 1).

    Regenerated from (seed, node id, frame numbers, W_c,m, W_r,m): what node ``node`` sent in those
    frames if it used these precoders (the transmitter tags every frame with its precoder version).
    """
    gen = frame_generator(layout, int(seed))
    wc, wr = check_precoders(layout, wc, wr)
    s_c, *draws = gen.frame_draws(frames)  # shared by the nodes' frames (the last frames' draws are kept)
    s_r = gen.node_radar_symbols(frames, node, draws)
    return np.einsum("iu,fulp->filp", wc, s_c) + np.einsum("ij,fjlp->filp", wr, s_r)
