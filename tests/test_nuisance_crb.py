# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""The position CRB with nuisance parameters (core/fim.py NuisanceFimMap, position_crb_with_nuisance_m2; issue 14,
docs/fim-derivation.md §8): the bound a receiver that suppresses the direct paths and the self-coupling can reach.

Proved against the noiseless model itself, not against fim.py: the mean of eq. (3)/(5) (core/model.py) plus the
direct path of every link m ≠ n (known geometry, unknown complex β_nm) plus every node's leakage C_n x_n (unknown
Mr × Mt, known delay), written out here from geometry.py; its derivatives by central differences give a Fisher
information that the analytic expected FIM must equal for frames whose per-subcarrier sample covariance is exactly
blockdiag(R_1 … R_N) (so the conditional and the expected FIM coincide, no Monte-Carlo error). Then: the bound
≥ the paper's and equal without nuisance, the Schur complement equals the xy block of the full inverse, a rank-1
design stays bounded (pseudo-inverse), and the rise on the paper and the three-node scenarios (printed: run with -s).
"""

import dataclasses
import os

import air_helpers
from air_helpers import normalised_error, random_complex, random_covariances
import numpy as np
import pytest

from gnuradio.disac.core import fim, geometry, model, ofdm, scenario

# Central-difference steps and their errors: see tests/test_fim.py (position 1e-4 m: ≈ 2e-9 relative; μ is linear
# in every amplitude and nuisance, so only rounding, ~1e-13, remains there). FD_RTOL as tests/test_fim.py: the
# errors are ≤ ~1e-7, so it passes with two orders of margin and fails for any wrong factor, sign or missing term.
STEP_POSITION_M, STEP_AMPLITUDE_REL = 1e-4, 1e-3
FD_RTOL = 1e-5
# Identities of floating-point algebra (two ways to the same inverse, the same matrix with an empty nuisance set):
# unit-diagonal FIMs with condition numbers ≤ ~1e4 here lose ≤ ~1e-12; 1e-8 still fails for any real change.
IDENTITY_RTOL = 1e-8
SCENARIO_DIR = os.path.join(os.path.dirname(__file__), "..", "examples", "scenarios")


def random_scenario(seed):
    """Mt = 2 ≠ Mr = 3 (small: every entry of C is a parameter)."""
    return air_helpers.random_scenario(seed, tx_antennas=2, rx_antennas=3)


def exact_covariance_frames(rng, covariances, subcarriers, symbols):
    """Frames (N, Mt, L, P) with Σ_p x_{m,l,p} x_{m',l,p}^H = P·R_m δ_mm' on EVERY subcarrier: the conditional FIM
    of these frames is exactly the expected FIM of eq. (10) (docs/fim-derivation.md §3), P ≥ N·Mt."""
    N, mt, _ = covariances.shape
    roots = []
    for R in covariances:
        w, v = np.linalg.eigh(R)
        roots.append(v * np.sqrt(np.clip(w, 0, None)))
    frames = np.zeros((N, mt, subcarriers, symbols), complex)
    for l in range(subcarriers):
        q, _ = np.linalg.qr(random_complex(rng, (symbols, N * mt)))  # orthonormal columns
        rows = np.sqrt(symbols) * q.T  # (N·Mt, P), orthonormal rows × √P
        for m in range(N):
            frames[m, :, l, :] = roots[m] @ rows[m * mt:(m + 1) * mt]
    return frames


def mean_with_nuisance(geom, targets_m, b, beta, coupling, frames, coupling_delay_s):
    """μ of eq. (3)/(5) + Σ_{m≠n} β_nm d(|p_n − p_m|/c) a_r(∠p_m from p_n) a_t^T(∠p_n from p_m) x_m + d(τ_sc) C_n x_n."""
    nodes = geom.node_positions_m
    theta = geometry.angles_rad(nodes, targets_m)
    tau = geometry.one_way_delays_s(nodes, targets_m)
    mu = model.sensing_mean(theta, tau, b, frames, geom.rx_antennas, geom.bandwidth_hz)
    L, B = geom.subcarriers, geom.bandwidth_hz
    between = geometry.angles_rad(nodes, nodes)
    distance = geometry.distances_m(nodes, nodes)
    for n in range(geom.num_nodes):
        for m in range(geom.num_nodes):
            if m != n:
                d = geometry.delay_steering(distance[n, m] / geometry.SPEED_OF_LIGHT_M_S, L, B)
                a_r = geometry.ula_steering(between[n, m], geom.rx_antennas)
                a_t = geometry.ula_steering(between[m, n], geom.tx_antennas)
                mu[n] += beta[n, m] * np.einsum("r,t,l,tlp->rlp", a_r, a_t, d, frames[m])
        d_sc = geometry.delay_steering(coupling_delay_s, L, B)
        mu[n] += np.einsum("rt,l,tlp->rlp", coupling[n], d_sc, frames[n])
    return mu


def finite_difference_fim(geom, frames, beta, coupling, coupling_delay_s):
    """(2/σ²) Re Σ D^H D from central differences in [x, y, b_R, b_I, β_R, β_I, C_R, C_I] (the order of fim.py)."""
    N, K = geom.num_nodes, geom.num_targets
    q0, b0 = np.array(geom.target_positions_m, float), geom.amplitudes
    links = fim.direct_path_links(N)
    beta_vec = np.array([beta[n, m] for n, m in links])
    c_vec = coupling.reshape(-1)
    x0 = np.concatenate([q0[:, 0], q0[:, 1], b0.real.ravel(), b0.imag.ravel(), beta_vec.real, beta_vec.imag,
                         c_vec.real, c_vec.imag])
    sizes = np.cumsum([K, K, b0.size, b0.size, len(links), len(links), c_vec.size, c_vec.size])

    def mean(x):
        parts = np.split(x, sizes[:-1])
        q = np.stack([parts[0], parts[1]], axis=1)
        b = (parts[2] + 1j * parts[3]).reshape(b0.shape)
        bt = np.zeros((N, N), complex)
        for (n, m), value in zip(links, parts[4] + 1j * parts[5]):
            bt[n, m] = value
        C = (parts[6] + 1j * parts[7]).reshape(coupling.shape)
        return mean_with_nuisance(geom, q, b, bt, C, frames, coupling_delay_s)

    scale = max(np.max(np.abs(b0)), np.max(np.abs(beta_vec)) if len(links) else 0.0, np.max(np.abs(c_vec)))
    steps = np.concatenate([np.full(2 * K, STEP_POSITION_M), np.full(len(x0) - 2 * K, STEP_AMPLITUDE_REL * scale)])
    D = []
    for i, h in enumerate(steps):
        e = np.zeros_like(x0)
        e[i] = h
        D.append(((mean(x0 + e) - mean(x0 - e)) / (2 * h)).ravel())
    D = np.array(D)
    return (2.0 / geom.noise_power) * np.real(D.conj() @ D.T)


CASES = {
    "paper": lambda: scenario.load_scenario("paper"),
    "random-N3": lambda: random_scenario(5),
}


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("guards", [0, 3])
def test_nuisance_fim_matches_finite_differences_of_the_model(name, guards):
    """The analytic F([Θ; η]) equals the Fisher information of the model with direct paths and leakage, by finite
    differences, with and without guard/DC bins (the frames are then empty there, as the transmitter sends them)."""
    scn = CASES[name]()
    rng = np.random.default_rng(21)
    N, mt, mr = scn.num_nodes, scn.tx_antennas, scn.rx_antennas
    symbols = N * mt  # the least P with an exact per-subcarrier covariance for every node at once
    mask = ofdm.active_subcarrier_mask(scn.subcarriers, guards, dc_null=guards > 0)
    geom = dataclasses.replace(fim.SensingGeometry.from_scenario(scn), symbols=symbols, active_subcarriers=mask)
    R = random_covariances(rng, scn)
    frames = exact_covariance_frames(rng, R, scn.subcarriers, symbols) * mask[None, None, :, None]
    beta = 30 * random_complex(rng, (N, N))  # values do not matter (μ is linear in η); nonzero anyway
    coupling = 100 * random_complex(rng, (N, mr, mt))
    delay = 0.35 / scn.bandwidth_hz  # a fractional-sample leakage delay: d(τ_sc) is not trivial
    F_fd = finite_difference_fim(geom, frames, beta, coupling, delay)
    nmap = fim.NuisanceFimMap(geom, direct_paths=True, self_coupling=True, self_coupling_delay_s=delay)
    F = nmap.fim_theta(R)
    assert F.shape == F_fd.shape == (fim.theta_size(N, scn.num_targets) + fim.nuisance_size(geom),) * 2
    assert normalised_error(F, F_fd) < FD_RTOL
    # and the Θ block is the paper's expected FIM (the nuisances add rows, they change no existing entry)
    theta = fim.theta_size(N, scn.num_targets)
    assert normalised_error(F[:theta, :theta], fim.FimMap(geom).fim_theta(R)) < IDENTITY_RTOL


SCENARIOS = {
    "paper": lambda: scenario.load_scenario("paper"),
    "single-node": lambda: scenario.load_scenario("fig5-single-m6"),
    "three-nodes": lambda: scenario.load_scenario(os.path.join(SCENARIO_DIR, "three-nodes.toml")),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_nuisance_bound_is_above_the_paper_bound_and_equal_without_nuisance(name):
    scn = SCENARIOS[name]()
    geom = fim.SensingGeometry.from_scenario(scn)
    rng = np.random.default_rng(7)
    for R in (fim.isotropic_covariances(scn.num_nodes, scn.tx_antennas, scn.per_antenna_power),
              random_covariances(rng, scn)):
        paper = fim.crb_report(geom, R).crb_position_m2
        none = fim.position_crb_with_nuisance_m2(geom, R, direct_paths=False, self_coupling=False)
        dp = fim.position_crb_with_nuisance_m2(geom, R, direct_paths=True, self_coupling=False)
        sc = fim.position_crb_with_nuisance_m2(geom, R, direct_paths=False, self_coupling=True)
        both = fim.position_crb_with_nuisance_m2(geom, R)
        assert none == pytest.approx(paper, rel=IDENTITY_RTOL)
        # more unknowns never add information: each set's bound ≥ its subsets' (rounding allowance only)
        for lower, upper in ((paper, dp), (paper, sc), (dp, both), (sc, both)):
            assert upper >= lower * (1 - IDENTITY_RTOL)
        if scn.num_nodes == 1:  # no link between nodes: no direct path, exactly the paper's bound
            assert dp == pytest.approx(paper, rel=IDENTITY_RTOL)


def test_schur_complement_equals_the_xy_block_of_the_full_inverse():
    """With full-rank R every nuisance is identifiable: the Schur-complement bound is the xy block of F([Θ; η])^{-1}."""
    scn = random_scenario(8)
    geom = fim.SensingGeometry.from_scenario(scn)
    R = random_covariances(np.random.default_rng(3), scn)
    nmap = fim.NuisanceFimMap(geom, self_coupling_delay_s=0.2 / scn.bandwidth_hz)
    F = nmap.fim_theta(R)
    inverse = np.linalg.inv(F)
    K = scn.num_targets
    reference = float(np.trace(inverse[:2 * K, :2 * K]))
    total, per_target = nmap.position_crb_m2(R)
    assert total == pytest.approx(reference, rel=IDENTITY_RTOL)
    assert sum(per_target) == pytest.approx(total, rel=IDENTITY_RTOL)


def test_rank_one_design_keeps_a_finite_bound_and_matches_the_limit_of_full_rank():
    """A designed beam R_n = w wᴴ leaves C_n only partly identifiable (C_n w): the pseudo-inverse drops the rest, and
    the bound is the limit of R_n + εI as ε → 0 (ε = 1e-7 of the power: the limit's error is O(ε) relative)."""
    scn = scenario.load_scenario("paper")
    geom = fim.SensingGeometry.from_scenario(scn)
    R1 = random_covariances(np.random.default_rng(4), scn, rank=1)
    nmap = fim.NuisanceFimMap(geom)
    total, _ = nmap.position_crb_m2(R1)
    assert total is not None and np.isfinite(total)
    assert total >= fim.crb_report(geom, R1).crb_position_m2
    eps = 1e-7 * np.trace(R1[0]).real / scn.tx_antennas
    near, _ = nmap.position_crb_m2(R1 + eps * np.eye(scn.tx_antennas))
    assert total == pytest.approx(near, rel=1e-4)


def test_nothing_towards_a_target_is_unbounded_not_an_error():
    scn = scenario.load_scenario("paper")
    geom = fim.SensingGeometry.from_scenario(scn)
    assert fim.position_crb_with_nuisance_m2(geom, np.zeros((scn.num_nodes, scn.tx_antennas, scn.tx_antennas))) is None


def test_bad_self_coupling_delay_is_a_clear_error():
    geom = fim.SensingGeometry.from_scenario(scenario.load_scenario("paper"))
    with pytest.raises(ValueError, match="self_coupling_delay_s = -1.0"):
        fim.NuisanceFimMap(geom, self_coupling_delay_s=-1.0)


@pytest.mark.parametrize("name", ["paper", "three-nodes"])
def test_how_much_the_bound_rises(name):
    """The figures for the issue (pytest -s prints them): isotropic R = P_T·I, leakage at the calibrated zero delay.
    Asserted only as bounds of the algebra (finite, ≥ the paper's); the values are reported, not pinned."""
    scn = SCENARIOS[name]()
    geom = fim.SensingGeometry.from_scenario(scn)
    R = fim.isotropic_covariances(scn.num_nodes, scn.tx_antennas, scn.per_antenna_power)
    paper = fim.crb_report(geom, R).crb_position_m2
    rows = {"direct paths": (True, False), "self-coupling": (False, True), "both": (True, True)}
    print(f"\n{name}: paper CRB {paper:.6g} m² (RMSE ≥ {paper ** 0.5:.4g} m)")
    for label, (dp, sc) in rows.items():
        value = fim.position_crb_with_nuisance_m2(geom, R, direct_paths=dp, self_coupling=sc)
        assert value is not None and value >= paper * (1 - IDENTITY_RTOL)
        print(f"  with {label:14s}: {value:.6g} m², ×{value / paper:.4f} ({10 * np.log10(value / paper):+.2f} dB)")
    for frames in (10, 100):  # the leakage static over that many frames, estimated from all of them
        value = fim.position_crb_with_nuisance_m2(geom, R, self_coupling_frames=frames)
        assert value >= paper * (1 - IDENTITY_RTOL)
        print(f"  both, C_n static over {frames:3d} frames: {value:.6g} m², ×{value / paper:.4f}")


def test_crb_command_reports_the_nuisance_bound_beside_the_paper_one(capsys):
    import json

    from gnuradio.disac.apps.cli import main
    assert main(["crb", "paper", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    scn = scenario.load_scenario("paper")
    geom = fim.SensingGeometry.from_scenario(scn)
    R = fim.isotropic_covariances(scn.num_nodes, scn.tx_antennas, scn.per_antenna_power)
    assert data["crb_with_nuisance_m2"] == pytest.approx(fim.position_crb_with_nuisance_m2(geom, R), rel=1e-12)
    assert data["crb_with_nuisance_m2"] > data["crb_position_m2"]
    assert sum(data["crb_with_nuisance_per_target_m2"]) == pytest.approx(data["crb_with_nuisance_m2"], rel=1e-12)
    assert data["nuisance"] == {"direct_path_links": 2, "self_coupling_nodes": 2,
                                "parameters": 2 * 2 + 2 * 2 * 16 * 6, "self_coupling_delay_s": 0.0,
                                "self_coupling_frames": 1.0}
    assert main(["crb", "paper", "--json", "--self-coupling-frames", "100"]) == 0
    static = json.loads(capsys.readouterr().out)
    assert data["crb_position_m2"] < static["crb_with_nuisance_m2"] < data["crb_with_nuisance_m2"]
    assert static["crb_with_nuisance_m2"] == pytest.approx(
        fim.position_crb_with_nuisance_m2(geom, R, self_coupling_frames=100), rel=1e-12)


def test_static_self_coupling_over_frames_matches_the_joint_fim_of_those_frames():
    """C_n the same over F frames (Θ and β new each frame): the bound of one frame's positions equals the xy block
    of the inverse of the joint FIM of F frames, built block by block (frames independent given the parameters:
    block-diagonal in the per-frame parameters, C's information summed); it falls with F towards the bound with
    C known (= direct paths only), which a huge F reaches to the pseudo-inverse's rounding."""
    scn = random_scenario(9)
    geom = fim.SensingGeometry.from_scenario(scn)
    R = random_covariances(np.random.default_rng(5), scn)
    nmap = fim.NuisanceFimMap(geom, self_coupling_delay_s=0.1 / scn.bandwidth_hz)
    F1 = nmap.fim_theta(R)
    c = 2 * scn.num_nodes * scn.rx_antennas * scn.tx_antennas
    per = F1.shape[0] - c  # Θ and β: per frame
    frames = 3
    joint = np.zeros((frames * per + c,) * 2)
    for f in range(frames):
        rows = np.r_[f * per:(f + 1) * per]
        joint[np.ix_(rows, rows)] = F1[:per, :per]
        joint[np.ix_(rows, np.r_[frames * per:frames * per + c])] = F1[:per, per:]
        joint[np.ix_(np.r_[frames * per:frames * per + c], rows)] = F1[per:, :per]
    joint[frames * per:, frames * per:] = frames * F1[per:, per:]
    K = scn.num_targets
    reference = float(np.trace(np.linalg.inv(joint)[:2 * K, :2 * K]))
    total, _ = nmap.position_crb_m2(R, self_coupling_frames=frames)
    assert total == pytest.approx(reference, rel=1e-7)  # two inversions of a condition ~1e6 matrix: ~1e-10
    bounds = [nmap.position_crb_m2(R, self_coupling_frames=f)[0] for f in (1, 2, 10, 100)]
    assert all(a > b for a, b in zip(bounds, bounds[1:]))
    known = fim.position_crb_with_nuisance_m2(geom, R, direct_paths=True, self_coupling=False)
    assert nmap.position_crb_m2(R, self_coupling_frames=1e9)[0] == pytest.approx(known, rel=1e-5)
    with pytest.raises(ValueError, match="self_coupling_frames = 0"):
        nmap.position_crb_m2(R, self_coupling_frames=0)
