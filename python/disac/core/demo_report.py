# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""The report of `disac demo`: the summary dict (its JSON keys are a contract, see apps/demo_cmd.py), the
table printed on a terminal and the map (PNG): nodes, users, targets, every frame's estimates and the
3-σ CRB ellipses. Pure numpy/matplotlib on the results of a run; matplotlib is imported only to draw.
"""

import math

import numpy as np

from . import fim, fusion
from .trial_stats import matched_errors


def position_covariances_m2(scenario, wc, wr):
    """Per-target 2×2 CRB matrices of (x_k, y_k), from F(Θ)^-1 (eq. 11–12), for the map's ellipses."""
    geometry = fim.SensingGeometry.from_scenario(scenario)
    fim_map = fim.FimMap(geometry)
    F = fim_map.fim_theta(fusion.transmit_covariances(wc, wr))
    K = scenario.num_targets
    try:
        inverse = np.linalg.inv(F)
    except np.linalg.LinAlgError:
        return np.full((K, 2, 2), np.nan)
    return np.array([[[inverse[k, k], inverse[k, K + k]], [inverse[K + k, k], inverse[K + k, K + k]]]
                     for k in range(K)])


def summarise(scenario, sinr_db, wc, wr, designed_db, estimates, users, counts, elapsed_s):
    truth = np.asarray(scenario.target_positions_m)
    crb = fusion.position_crb_per_target_m2(fim.SensingGeometry.from_scenario(scenario), wc, wr)
    frames = sorted(estimates)
    if frames:
        matched = np.array([matched_errors(np.asarray(estimates[f].positions_m), truth) for f in frames])
        mean_error = matched.mean(axis=0)
        rmse = np.sqrt(np.mean(np.sum(matched ** 2, axis=2), axis=0))
        overall = math.sqrt(float(np.mean(np.sum(matched ** 2, axis=(1, 2)))))
    else:
        mean_error = np.full(truth.shape, np.nan)
        rmse = np.full(len(truth), np.nan)
        overall = math.nan
    return {
        "scenario": scenario.name, "sinr_threshold_db": sinr_db, "frames": len(frames),
        "targets": [{"true_m": truth[k].tolist(), "estimate_m": (truth[k] + mean_error[k]).tolist(),
                     "crb_m2": float(crb[k]), "rmse_m": float(rmse[k])} for k in range(len(truth))],
        "rmse_m": overall,
        "users": [{"sinr_designed_db": float(designed_db[u]), "sinr_measured_db": float(user.measured_sinr_db()),
                   "ber": float(user.ber())} for u, user in enumerate(users)],
        **counts, "elapsed_s": elapsed_s,
    }


def print_table(summary, stream=None):
    s = summary
    print(f"D-ISAC demo: scenario {s['scenario']}, Γ_c = {s['sinr_threshold_db']:g} dB, {s['frames']} frames "
          f"localised in {s['elapsed_s']:.1f} s", file=stream)
    print("  target   true position (m)       mean estimate (m)        RMSE (m)   √CRB (m)  RMSE/√CRB", file=stream)
    for k, t in enumerate(s["targets"]):
        root_crb = math.sqrt(t["crb_m2"]) if math.isfinite(t["crb_m2"]) else math.nan
        print(f"  {k + 1:<6d}   [{t['true_m'][0]:8.2f}, {t['true_m'][1]:8.2f}]   "
              f"[{t['estimate_m'][0]:9.3f}, {t['estimate_m'][1]:9.3f}]   {t['rmse_m']:8.4f}   {root_crb:8.4f}   "
              f"{t['rmse_m'] / root_crb:8.3f}", file=stream)
    print("  user     SINR designed (dB)   SINR measured (dB)   BER", file=stream)
    for u, user in enumerate(s["users"]):
        print(f"  {u + 1:<6d}   {user['sinr_designed_db']:18.2f}   {user['sinr_measured_db']:18.2f}   "
              f"{user['ber']:.2e}", file=stream)
    print(f"  frames   sent {s['frames_sent']}, received {s['frames_received']}, localised {s['frames_localised']}, "
          f"skipped {s['frames_skipped']}", file=stream)


def attach_interference_layers(summary, scenario, background):
    """Put the map's issue-14 layers into ``summary["_map_layers"]`` (popped before the JSON is written): the
    direct paths (every node pair, with the learned background's level of the link in dB above the noise)
    and the image of the clutter the suppressor removed (core.interference.background_image)."""
    from . import interference, localizer

    region = localizer.default_search_region(scenario)
    xs, ys, image = interference.background_image(background, scenario.node_positions_m, scenario.bandwidth_hz,
                                                  region, step_m=max(2.0, (region[1] - region[0]) / 150))
    power = np.asarray(background.link_power_db, float)
    pairs = [(m, n, float(power[n, m])) for n in range(scenario.num_nodes) for m in range(scenario.num_nodes)
             if m < n]
    summary["_map_layers"] = {"direct_paths": pairs, "clutter_image": (xs, ys, image)}


def draw_map(scenario, summary, estimates, covariances, path, layers=None):
    """Nodes, users, targets, every frame's estimates and the 3-σ CRB ellipses (magnified to be seen); with
    ``layers`` (attach_interference_layers) also the direct paths and the image of the clutter removed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, zoom) = plt.subplots(1, 2, figsize=(11, 5), gridspec_kw={"width_ratios": [1.3, 1]})
    nodes, targets, users = scenario.node_positions_m, scenario.target_positions_m, scenario.user_positions_m
    if layers:
        xs, ys, image = layers["clutter_image"]
        shown = np.clip(image, 0, None)
        mesh = ax.pcolormesh(xs, ys, shown.T, cmap="Greys", shading="auto", alpha=0.6,
                             vmin=0, vmax=max(float(np.max(shown)), 1.0))
        fig.colorbar(mesh, ax=ax, fraction=0.04, pad=0.01, label="clutter removed (dB over median)")
        for i, (m, n, level) in enumerate(layers["direct_paths"]):
            ax.plot([nodes[m, 0], nodes[n, 0]], [nodes[m, 1], nodes[n, 1]], c="tab:orange", lw=1.2, ls="--",
                    label="direct paths (removed)" if i == 0 else None)
            middle = (nodes[m] + nodes[n]) / 2
            ax.annotate(f"{level:.0f} dB", middle, fontsize=7, color="tab:orange")
    ax.scatter(nodes[:, 0], nodes[:, 1], marker="^", s=90, c="tab:blue", label="ISAC nodes")
    ax.scatter(users[:, 0], users[:, 1], marker="s", s=60, c="tab:green", label="users")
    ax.scatter(targets[:, 0], targets[:, 1], marker="x", s=90, c="tab:red", label="targets (true)")
    points = np.concatenate([np.asarray(estimates[f].positions_m) for f in sorted(estimates)]) if estimates else None
    if points is not None:
        ax.scatter(points[:, 0], points[:, 1], s=4, c="k", alpha=0.3, label="estimates (every frame)")
    for n, p in enumerate(nodes):
        ax.annotate(f"node {n + 1}", p, textcoords="offset points", xytext=(5, 5))
    for u, p in enumerate(users):
        ax.annotate(f"user {u + 1}\n{summary['users'][u]['sinr_measured_db']:.1f} dB", p,
                    textcoords="offset points", xytext=(5, -22), fontsize=8)
    ax.set_aspect("equal")
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    ax.set_title("scene")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    # zoom on the first target: estimates and the 3σ ellipse of its CRB
    k = 0
    centre = targets[k]
    if points is not None:
        own = np.array([np.asarray(estimates[f].positions_m)[np.argmin(
            np.linalg.norm(np.asarray(estimates[f].positions_m) - centre, axis=1))] for f in sorted(estimates)])
        zoom.scatter(own[:, 0], own[:, 1], s=6, c="k", alpha=0.5, label="estimates")
    cov = covariances[k]
    if np.all(np.isfinite(cov)):
        values, vectors = np.linalg.eigh(0.5 * (cov + cov.T))
        angle = np.linspace(0, 2 * np.pi, 200)
        circle = np.stack([np.cos(angle), np.sin(angle)])
        ellipse = vectors @ (3 * np.sqrt(np.clip(values, 0, None))[:, None] * circle)
        zoom.plot(centre[0] + ellipse[0], centre[1] + ellipse[1], c="tab:red", label="3σ CRB ellipse")
    zoom.scatter([centre[0]], [centre[1]], marker="x", s=90, c="tab:red", label="true")
    zoom.set_aspect("equal")
    zoom.set_title(f"target {k + 1}: RMSE {summary['targets'][k]['rmse_m']:.3f} m, "
                   f"√CRB {math.sqrt(summary['targets'][k]['crb_m2']):.3f} m")
    zoom.set_xlabel("x (m)")
    zoom.grid(alpha=0.3)
    zoom.legend(fontsize=8)
    fig.suptitle(f"D-ISAC demo, {scenario.name}, Γ_c = {summary['sinr_threshold_db']:g} dB, "
                 f"{summary['frames']} frames")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
