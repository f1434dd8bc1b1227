# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fast search (issue 16 item 3) gives the reference search's estimates (core/localizer.py, search_method).

"reference" is the localiser as it was before issue 16; "full" evaluates the same explained energies on every grid
point and the same Kaufman Jacobian with faster code; "fast" (the default) is "full" with localize's grid start
found coarse to fine. On seeded frames of the paper scenario, four nodes, three nodes, an impaired lab-sync air with
known paths, and detection with an unknown K (core/detection.py, which reads the grid map), the final estimates of
"fast" and "full" equal the reference's to 1e-6 m, and the grid map to ~1e-13 relative.

Why 1e-6 m: the LM stops when a step lowers the cost by < 1e-13 relative, so two implementations whose residuals
differ only by rounding (~1e-15 relative) stop on the same iteration or one apart; a start one grid step away in the
same basin ends within 4e-7 m of the other (measured, 20 frames each on paper and four nodes), well below 1e-6 m,
and the noise-driven error is ≥ 1e-2 m at these SNRs. Measured here: ≤ 2e-7 m on every frame below.
"""

import os

import numpy as np
import pytest

from gnuradio.disac.core import (calibration_apply, detection, impairment_trials as trials, localizer, model, ofdm,
                                 scenario)

HERE = os.path.dirname(os.path.abspath(__file__))
THREE_NODES_CALIBRATION = os.path.join(HERE, "scenarios", "three_nodes_calibration.toml")
THREE_NODES_EXAMPLE = os.path.join(HERE, "..", "examples", "scenarios", "three-nodes.toml")
FOUR_NODES_M = [[-141.4, 141.4], [-141.4, -141.4], [141.4, 141.4], [141.4, -141.4]]
THREE_TARGETS_M = [[-65.0, 25.0], [50.0, 5.0], [10.0, -80.0]]
SAME_ESTIMATE_M = 1e-6  # module docstring
# The grid map: the same sums in another order (whitened signals vs. per-point LDLᴴ solves): float64 rounding,
# ~1e-16 relative observed; 1e-12 leaves four orders of margin and is far below any gap between grid points.
SAME_MAP_REL = 1e-12


def paper():
    return scenario.load_scenario("paper")


def four_nodes():
    return paper().replace(node_positions_m=FOUR_NODES_M, target_positions_m=THREE_TARGETS_M)


def synthetic_frames(scn, count, seed, symbols=None):
    """(x, y) pairs: random unit-power frames, the targets' echoes with random phases (eq. 3), noise at the
    scenario's target SNR — the frames of bench/bench_localizer.py."""
    rng = np.random.default_rng(seed)
    n, mt, nsub = scn.num_nodes, scn.tx_antennas, scn.subcarriers
    nsym = scn.symbols_per_frame if symbols is None else symbols
    out = []
    for _ in range(count):
        x = (rng.standard_normal((n, mt, nsub, nsym)) + 1j * rng.standard_normal((n, mt, nsub, nsym))) / np.sqrt(2)
        b = scn.target_amplitude * np.exp(2j * np.pi * rng.random((n, n, scn.num_targets)))
        y = model.sensing_mean(scn.target_angles_rad(), scn.target_delays_s(), b, x, scn.rx_antennas,
                               scn.bandwidth_hz)
        y = y + np.sqrt(scn.noise_power / 2) * (rng.standard_normal(y.shape) + 1j * rng.standard_normal(y.shape))
        out.append((x, y))
    return out


def localizers(scn, **options):
    return {method: localizer.Localizer.from_scenario(scn, search_method=method, **options)
            for method in localizer.SEARCH_METHODS}


def assert_same_estimates(locs, frames, num_targets, **selection):
    for x, y in frames:
        reference = locs["reference"].localize(y, x, num_targets, **selection)
        for method in ("full", "fast"):
            result = locs[method].localize(y, x, num_targets, **selection)
            gap = np.max(np.abs(result.positions_m - reference.positions_m))
            assert gap <= SAME_ESTIMATE_M, (method, gap)
            assert result.residual == pytest.approx(reference.residual, rel=1e-9)
            assert result.converged == reference.converged


def four_nodes_preset():
    return scenario.load_scenario("four-nodes")  # Mt = 8, P = 2: the benchmark's


@pytest.mark.parametrize("make, frames", [(paper, 20), (four_nodes, 10), (four_nodes_preset, 6)],
                         ids=["paper", "four-nodes-paper-arrays", "four-nodes-preset"])
def test_fast_search_gives_the_reference_estimates(make, frames):
    scn = make()
    assert_same_estimates(localizers(scn), synthetic_frames(scn, frames, seed=16), scn.num_targets)


@pytest.mark.parametrize("path", [THREE_NODES_CALIBRATION, THREE_NODES_EXAMPLE], ids=["calibration", "example"])
def test_three_nodes(path):
    scn = scenario.load_scenario(path)
    assert_same_estimates(localizers(scn), synthetic_frames(scn, 6, seed=3), scn.num_targets)


def test_missing_nodes_and_several_symbols():
    """A receiving node and a transmitter's frame left out, four OFDM symbols: the same estimates."""
    scn = four_nodes()
    locs = localizers(scn)
    frames = synthetic_frames(scn, 4, seed=5, symbols=4)
    assert_same_estimates(locs, frames, scn.num_targets, rx_nodes=[0, 1, 3], tx_nodes=[0, 2, 3])


def test_grid_map_equals_the_reference_on_every_point():
    """The explained energy of every grid point (what detection reads), with subsets of nodes and guard bins."""
    for scn, symbols, rx, tx in ((paper(), 1, None, None), (four_nodes(), 2, [1, 2, 3], [0, 3])):
        x, y = synthetic_frames(scn, 1, seed=9, symbols=symbols)[0]
        active = np.ones(scn.subcarriers, dtype=bool)
        active[[0, scn.subcarriers // 2]] = False  # a DC and a guard bin, as core.ofdm's layouts leave out
        for mask in (None, active):
            fast = localizer.Localizer.from_scenario(scn)
            reference = localizer.Localizer.from_scenario(scn, search_method="reference")
            if mask is not None:
                fast, reference = (localizer.Localizer(scn.node_positions_m, scn.tx_antennas, scn.rx_antennas,
                                                       scn.subcarriers, scn.bandwidth_hz, loc.region_m,
                                                       active_subcarriers=mask, search_method=loc.search_method)
                                   for loc in (fast, reference))
            problem = fast._problem(y, x, rx, tx)
            got = fast._grid_explained_energy(problem, problem.y)
            again = fast._grid_explained_energy(problem, problem.y)  # the frame's cached signals
            want = reference._grid_explained_energy_reference(problem, problem.y)
            assert np.max(np.abs(got - want)) <= SAME_MAP_REL * np.max(want)
            assert np.array_equal(got, again)
            assert int(np.argmax(got)) == int(np.argmax(want))


def test_impaired_lab_sync_air_calibrated_with_known_paths():
    """The three-node calibration scene on the lab-sync air (every impairment but overflows, direct paths on),
    calibrated by the estimator from a capture of that air and applied as the central unit does (the receivers'
    corrections, the model frames' transmit factors), the direct paths projected out as known columns
    (core.localizer.KnownPath): the PHY's snapshots with what is left of the impairments in them.

    Uncalibrated, the localiser misses every target on this air (test_calibrated_localization); there the
    coarse-to-fine start may settle on another of the residue's peaks (docs/localization.md, "Speed"), which is
    why the comparison is made where localisation works."""
    s = scenario.load_scenario(THREE_NODES_CALIBRATION)
    air = s.with_impairments({"preset": "lab-sync", "seed": 3})
    calibration = trials.estimate_calibration(air, 3, 4).calibration
    rx_scenario = air.without_impairments()
    lay = ofdm.layout_from_scenario(rx_scenario)
    wc0, wr0 = ofdm.default_precoders(lay, s.per_antenna_power)
    wc = np.broadcast_to(wc0, (s.num_nodes,) + wc0.shape)
    wr = np.broadcast_to(wr0, (s.num_nodes,) + wr0.shape)
    numbers = np.arange(100, 108)
    snapshots = trials.receive_snapshots(air, wc, wr, numbers, 3, calibration=calibration)
    frames = trials.model_frames(rx_scenario, numbers, wc, wr, 3, calibration=calibration)
    direct, reflector = calibration_apply.known_path_flags("auto", calibration, rx_scenario)
    locs = localizers(rx_scenario, direct_paths=direct, reflector=reflector)
    assert locs["fast"].paths  # the direct paths are known columns
    assert_same_estimates(locs, list(zip(frames, snapshots)), s.num_targets)
    errors = [np.min(np.linalg.norm(locs["fast"].localize(y, x, 2).positions_m[:, None] - s.target_positions_m,
                                    axis=2), axis=0) for x, y in list(zip(frames, snapshots))[:3]]
    assert np.max(errors) < 5.0  # localisation works here (the estimates are near the targets)


def test_detection_with_unknown_k_keeps_its_numbers():
    """core.detection on the grid map: the same K̂, statistics, positions and noise-only maxima."""
    scn = paper().replace(target_positions_m=THREE_TARGETS_M)
    frames = synthetic_frames(scn, 6, seed=21)
    fast = localizer.Localizer.from_scenario(scn)
    reference = localizer.Localizer.from_scenario(scn, search_method="reference")
    for noise_power in (float(scn.noise_power), None):
        for x, y in frames:
            got = detection.detect_targets(fast, y, x, 4, noise_power, 1e-3)
            want = detection.detect_targets(reference, y, x, 4, noise_power, 1e-3)
            assert got.count == want.count == 3
            np.testing.assert_allclose(got.statistics, want.statistics, rtol=1e-9)
            assert np.max(np.abs(got.positions_m - want.positions_m)) <= SAME_ESTIMATE_M
    x_list = [x for x, _ in frames]
    np.testing.assert_allclose(detection.max_statistics_noise_only(fast, x_list, None, None, 12, seed=4),
                               detection.max_statistics_noise_only(reference, x_list, None, None, 12, seed=4),
                               rtol=SAME_MAP_REL)


def test_the_coarse_to_fine_start_is_the_full_grids_best_point():
    """On these frames the coarse-to-fine search starts every target where the full grid does (its 3 × 3
    neighbourhoods of the 4 best coarse points hold the best grid point); measured on 400 more frames per
    scenario in docs/localization.md, "Speed"."""
    for scn in (paper(), four_nodes()):
        fast = localizer.Localizer.from_scenario(scn)
        full = localizer.Localizer.from_scenario(scn, search_method="full")
        for x, y in synthetic_frames(scn, 10, seed=8):
            problem = fast._problem(y, x, None, None)
            assert fast._grid_start(problem, problem.y) == full._grid_start(problem, problem.y)


def test_search_method_is_checked():
    with pytest.raises(ValueError, match="search_method = 'quick'.*'fast', 'full', 'reference'"):
        localizer.Localizer.from_scenario(paper(), search_method="quick")


def test_a_tiny_region_without_coarse_points_searches_every_point():
    """A region whose only coarse point is dropped (a 2 × 2 lattice whose corner is a node: grid points within half
    a step of a node are not searched) falls back to the full grid: the same start as "full"."""
    scn = paper()
    x, y = synthetic_frames(scn, 1, seed=2)[0]
    node = scn.node_positions_m[0]
    step = 7.5
    region = (node[0], node[0] + step, node[1], node[1] + step)
    locs = {method: localizer.Localizer.from_scenario(scn, region_m=region, grid_step_m=step, search_method=method)
            for method in ("fast", "full")}
    assert locs["fast"]._coarse_tables is None and len(locs["fast"].grid_m) == 3
    problem = locs["fast"]._problem(y, x, None, None)
    assert locs["fast"]._grid_start(problem, problem.y) == locs["full"]._grid_start(problem, problem.y)


# The structured evaluation (normal equations on the columns' Kronecker structure) against the QR's: the same sums in
# another order and b̂ from G = AᴴA instead of R of A's QR, so rounding times cond(G) = cond(A)² (≤ ~10 for distinct
# targets here). Measured ≤ 6e-15 relative; 1e-12 leaves a margin of ~100 and is far below what moves the LM.
SAME_LM_REL = 1e-12


@pytest.mark.parametrize("make, rx, tx", [(paper, None, None), (four_nodes_preset, None, None),
                                          (four_nodes, [0, 1, 3], [0, 2, 3]), (four_nodes_preset, [1, 2], [0, 2, 3])],
                         ids=["paper", "four-nodes-preset", "four-nodes-missing-nodes", "preset-missing-nodes"])
def test_structured_evaluation_equals_the_qr(make, rx, tx):
    """Cost, b̂, Jᵀr and JᵀJ of _structured_projection (both its forms: ∂μ explicit at the paper's D = 256, Kronecker
    factors at four nodes' D = 512) equal those of the QR with Kaufman's Jacobian (_position_projection)."""
    scn = make()
    loc = localizer.Localizer.from_scenario(scn)
    rng = np.random.default_rng(11)
    for x, y in synthetic_frames(scn, 2, seed=12):
        problem = loc._problem(y, x, rx, tx)
        for _ in range(3):
            positions = scn.target_positions_m + rng.normal(scale=3.0, size=scn.target_positions_m.shape)
            residual, b_qr, jacobian = loc._position_projection(problem, positions)
            r, jac = localizer._real(residual.reshape(-1)), localizer._real(jacobian())
            cost, normal, b, structured_residual = loc._structured_projection(problem, positions)
            grad, hess = normal()
            assert cost == pytest.approx(r @ r, rel=SAME_LM_REL)
            assert np.max(np.abs(b - b_qr)) <= SAME_LM_REL * np.max(np.abs(b_qr))
            assert np.max(np.abs(structured_residual.reshape(residual.shape) - residual)) <= (
                SAME_LM_REL * np.max(np.abs(residual)))
            assert np.max(np.abs(grad - jac.T @ r)) <= SAME_LM_REL * np.max(np.abs(jac.T @ r))
            assert np.max(np.abs(hess - jac.T @ jac)) <= SAME_LM_REL * np.max(np.abs(jac.T @ jac))


def test_near_collinear_columns_go_to_the_qr():
    """Two targets 1 mm apart: their columns are nearly collinear (cond(G) ≫ 1e8), so the normal equations would lose
    b̂; the structured evaluation hands over to the QR and the LM still gets the QR's cost."""
    scn = paper()
    loc = localizer.Localizer.from_scenario(scn)
    x, y = synthetic_frames(scn, 1, seed=4)[0]
    problem = loc._problem(y, x, None, None)
    positions = np.array([scn.target_positions_m[0], scn.target_positions_m[0] + [1e-3, 0.0]])
    assert loc._structured_projection(problem, positions) == "qr"
    cost, _, _ = loc._fast_evaluation(problem, positions)
    residual, _, _ = loc._position_projection(problem, positions)
    assert cost == pytest.approx(float(np.sum(np.abs(residual) ** 2)), rel=1e-12)


def test_guard_bins_and_several_symbols_give_the_reference_estimates():
    """Guard/DC bins left out (active_subcarriers) and three OFDM symbols (D = Mr·L_active·P = 672: the Kronecker form
    of the normal equations), the same estimates as the reference."""
    scn = paper()
    mask = np.ones(scn.subcarriers, dtype=bool)
    mask[[0, scn.subcarriers // 2]] = False
    locs = {method: localizer.Localizer(scn.node_positions_m, scn.tx_antennas, scn.rx_antennas, scn.subcarriers,
                                        scn.bandwidth_hz, localizer.default_search_region(scn),
                                        active_subcarriers=mask, search_method=method)
            for method in localizer.SEARCH_METHODS}
    assert_same_estimates(locs, synthetic_frames(scn, 3, seed=6, symbols=3), scn.num_targets)
