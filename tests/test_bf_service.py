# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""The beamformer service (core.bf_service, pure) and the `disac bf-server` / `disac bf-request` commands.

What is checked: a good request puts a design in force under version 1, 2, … with the numbers of the
core's own designer; a repeated request does not bump the version; an infeasible threshold (40 dB on the
paper scenario, above its largest common SINR of ~32.7 dB) is reported and the set in force stays; every
kind of bad request (not JSON, too large, wrong types, NaN/Inf, unknown objective, solver, preset, field,
bad CSI, oversize inline scenario) gets "bad_request" with a message naming the field and changes
nothing; what-if designs (another scenario, apply false) are answered but never put in force; CSI replaces
the scenario's channels; fuzzed bytes never make ``handle`` raise. Last, the two commands as a user runs
them: a bf-server process and bf-request clients over tcp://127.0.0.1.
"""

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gnuradio.disac.apps.cli import main
from gnuradio.disac.core import bf_service
from gnuradio.disac.core.beamformer import BeamformerDesigner
from gnuradio.disac.core.scenario import PRESETS, load_scenario, scenario_to_toml
from gnuradio.disac.core.sinr import sinr_from_beamformers, to_db

PAPER = load_scenario("paper")
# The SDR meets each SINR constraint to the solver's tolerance (1e-7 relative gap and feasibility), and the
# rank-1 extraction of eq. (19) keeps each user's signal term: 1e-3 dB is far above that and far below any
# change of design that matters.
SINR_TOL_DB = 1e-3


def request(service, **fields):
    return service.handle(json.dumps(fields).encode())


@pytest.fixture(scope="module")
def served():
    """A service on the paper scenario with version 1 in force (Γ_c = 10 dB); tests that change it make their own."""
    service = bf_service.BeamformerService("paper", sinr_db=10.0)
    first = service.solve_initial()
    assert first.status == "optimal" and first.version == 1 and first.published
    return service


@pytest.fixture(scope="module")
def fuzzed():
    """A service of its own for the fuzz tests: generated requests that happen to be good change its state."""
    service = bf_service.BeamformerService("paper", sinr_db=10.0)
    service.solve_initial()
    return service


# ---- good requests and versions ---------------------------------------------------------------

def test_good_request_is_put_in_force_with_the_core_designers_numbers():
    service = bf_service.BeamformerService("paper", sinr_db=10.0)
    assert service.version == 0 and service.precoders_in_force() is None
    reply = request(service, sinr_db=15)
    fields = reply.fields
    assert set(fields) == set(bf_service.REPLY_FIELDS)
    assert fields["status"] == "optimal" and fields["version"] == 1 and fields["applied"] is True and reply.published
    assert fields["scenario"] == "paper" and fields["objective"] == "position" and fields["solver"] == "clarabel"
    assert fields["sinr_threshold_db"] == 15.0 and fields["solve_time_s"] > 0
    assert len(fields["sinr_extracted_db"]) == 3
    assert min(fields["sinr_extracted_db"]) >= 15 - SINR_TOL_DB

    # the second frame is the wire PrecoderMessage of version 1, and the JSON frame round-trips
    frames = reply.frames()
    assert len(frames) == 2
    decoded_fields, message = bf_service.reply_from_frames(frames)
    assert decoded_fields == json.loads(frames[0])
    assert message.version == 1
    assert message.comm_precoders.shape == (2, 6, 3) and message.radar_precoders.shape == (2, 6, 6)
    np.testing.assert_array_equal(message.comm_precoders, service.precoders_in_force().comm_precoders)

    # the same numbers as the core's designer (same problem, same deterministic interior-point solver:
    # 1e-6 relative leaves room for nothing but floating-point order)
    direct = BeamformerDesigner(PAPER).solve(15.0)
    assert fields["crb_position_bound_m2"] == pytest.approx(direct.crb_position_bound_m2, rel=1e-6)
    assert fields["crb_position_extracted_m2"] == pytest.approx(direct.crb_position_extracted_m2, rel=1e-6)
    sinr = to_db(sinr_from_beamformers(PAPER.user_channels(), message.comm_precoders, message.radar_precoders,
                                       PAPER.user_noise_power))
    np.testing.assert_allclose(sinr, fields["sinr_extracted_db"], atol=1e-9)


def test_versions_increase_and_a_repeated_request_changes_nothing():
    service = bf_service.BeamformerService("paper", sinr_db=10.0)
    assert service.solve_initial().version == 1
    second = request(service, sinr_db=14)
    assert (second.version, second.published) == (2, True)
    again = request(service, sinr_db=14)
    assert again.status == "optimal" and again.version == 2 and not again.published
    assert again.fields["applied"] is True and again.fields["message"].startswith("unchanged")
    assert again.fields["solve_time_s"] == 0.0 and again.precoders is service.precoders_in_force()
    third = service.set_sinr_db(11.5)
    assert (third.version, third.published, third.fields["sinr_threshold_db"]) == (3, True, 11.5)
    # an empty request asks for the design in force
    current = request(service)
    assert current.version == 3 and current.fields["sinr_threshold_db"] == 11.5 and not current.published
    # a request changing only the objective re-solves with the threshold in force
    paper_objective = request(service, objective="paper")
    assert paper_objective.version == 4 and paper_objective.fields["sinr_threshold_db"] == 11.5
    assert service.counters["published"] == 4
    with pytest.raises(ValueError, match="sinr_db = nan: expected a finite number of dB from -40 to 60"):
        service.set_sinr_db(float("nan"))


def test_infeasible_threshold_is_reported_and_the_last_good_set_stays():
    service = bf_service.BeamformerService("paper", sinr_db=10.0)
    good = service.solve_initial()
    kept = service.precoders_in_force()
    reply = request(service, sinr_db=40)  # the paper scenario's largest common SINR is ~32.7 dB
    assert reply.status == "infeasible" and reply.version == 1 and not reply.published
    assert reply.fields["applied"] is False and reply.precoders is None and len(reply.frames()) == 1
    assert reply.fields["crb_position_bound_m2"] is None and reply.fields["sinr_extracted_db"] is None
    assert "40 dB" in reply.fields["message"] and "version 1 stays in force" in reply.fields["message"]
    assert service.precoders_in_force() is kept and service.version == 1
    assert service.settings_in_force()["sinr_db"] == 10.0
    # the slider path behaves the same, and the next good design takes the next version
    assert service.set_sinr_db(40.0).status == "infeasible" and service.version == 1
    assert service.counters["infeasible"] == 2
    nxt = service.set_sinr_db(12.0)
    assert nxt.version == good.version + 1 and nxt.published


def test_largest_common_sinr_on_request(served):
    reply = request(served, sinr_db=40, max_sinr=True)
    assert reply.status == "infeasible"
    # bisection to 0.01 dB around the paper scenario's ~32.7 dB (DESIGN.md §6)
    assert 32.0 < reply.fields["max_common_sinr_db"] < 33.5


# ---- bad requests -----------------------------------------------------------------------------

BAD_REQUESTS = [
    ("not JSON", b"sinr_db=10", "not valid JSON"),
    ("not UTF-8", b'{"sinr_db": 10}\xff', "not UTF-8"),
    ("too large", b'{"sinr_db": 10, "pad": "' + b"x" * 70000 + b'"}', "the limit is 65536 bytes"),
    ("not an object", b"[10]", "a JSON list, expected a JSON object"),
    ("NaN", b'{"sinr_db": NaN}', "NaN is not valid JSON"),
    ("Infinity", b'{"sinr_db": -Infinity}', "-Infinity is not valid JSON"),
    ("overflow to inf", b'{"sinr_db": 1e400}', "sinr_db = inf: expected a finite number of dB from -40 to 60"),
    ("string threshold", b'{"sinr_db": "10"}', "sinr_db = '10': expected a finite number"),
    ("bool threshold", b'{"sinr_db": true}', "sinr_db = True: expected a finite number"),
    ("out of range", b'{"sinr_db": 61}', "sinr_db = 61.0: expected a finite number of dB from -40 to 60"),
    ("unknown objective", b'{"objective": "crb"}', "objective = 'crb': expected one of 'position', 'paper'"),
    ("objective type", b'{"objective": 3}', "objective = 3: expected one of"),
    ("unknown solver", b'{"solver": "mosek"}', "solver = 'mosek': expected one of 'clarabel', 'scs'"),
    ("apply type", b'{"apply": "yes"}', "apply = 'yes': expected true or false"),
    ("unknown field", b'{"sinr": 10}', "field 'sinr': unknown; accepted fields: sinr_db"),
    ("duplicate field", b'{"sinr_db": 10, "sinr_db": 20}', "field 'sinr_db' appears more than once"),
    ("unknown preset", b'{"scenario": "paperr"}', "scenario = 'paperr': not a preset name"),
    ("file path", b'{"scenario": "/etc/hostname"}', "file paths are not read"),
    ("scenario type", b'{"scenario": 5}', "scenario = 5: expected a preset name"),
    ("bad inline scenario", b'{"scenario": {"name": "x"}}', "scenario: [nodes]: missing table"),
    ("csi shape", b'{"csi": {"real": [[[1]]], "imag": [[[1]]]}}', "csi.real: a list of 1, expected a list of 2"),
    ("csi keys", b'{"csi": [1, 2]}', "csi = [1, 2]: expected an object"),
    ("csi entry", json.dumps({"csi": {"real": [[["a"] * 6] * 3] * 2, "imag": [[[0] * 6] * 3] * 2}}).encode(),
     "csi.real[0][0][0] = 'a': expected a finite number"),
    ("csi zero channel", json.dumps({"csi": {"real": [[[0] * 6] * 3] * 2, "imag": [[[0] * 6] * 3] * 2}}).encode(),
     "csi: channel of node 0 to user 0 is all zero"),
]


@pytest.mark.parametrize("data, fragment", [case[1:] for case in BAD_REQUESTS], ids=[case[0] for case in BAD_REQUESTS])
def test_bad_request_is_named_and_changes_nothing(served, data, fragment):
    kept, bad_before = served.precoders_in_force(), served.counters["bad_requests"]
    reply = served.handle(data)
    assert reply.status == "bad_request" and not reply.published and reply.precoders is None
    assert fragment in reply.fields["message"], reply.fields["message"]
    assert reply.version == 1 and served.version == 1 and served.precoders_in_force() is kept
    assert served.counters["bad_requests"] == bad_before + 1
    frames = reply.frames()
    assert len(frames) == 1 and json.loads(frames[0])["status"] == "bad_request"


def test_inline_scenario_beyond_the_limits_is_refused(served):
    big = json.loads(json.dumps(PRESETS["four-nodes"]))
    big["nodes"]["positions_m"].append([0.0, 190.0])  # N = 5 > 4
    reply = request(served, scenario=big)
    assert reply.status == "bad_request"
    assert "num_nodes = 5: an inline scenario is solved only up to 4" in reply.fields["message"]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300))
def test_fuzzed_bytes_never_raise(fuzzed, data):
    reply = fuzzed.handle(data)  # never raises; bytes that happen to be a good request are answered
    assert reply.status in ("bad_request", "optimal", "optimal_inaccurate", "infeasible")
    json.loads(reply.frames()[0])


_JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
                            lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
                            max_leaves=12)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.sampled_from(["objective", "solver", "scenario", "csi", "apply", "max_sinr", "x"]),
                       _JSON_VALUES, max_size=3))
def test_fuzzed_request_objects_never_raise(fuzzed, obj):
    # no sinr_db among the keys: fuzzing exercises validation, not hundreds of solves
    reply = fuzzed.handle(json.dumps(obj).encode())
    assert reply.status in ("bad_request", "optimal", "optimal_inaccurate", "infeasible")


# ---- what-if designs and CSI ------------------------------------------------------------------

def test_what_if_designs_are_answered_but_never_put_in_force(served):
    kept = served.precoders_in_force()
    preset = request(served, scenario="fig4", sinr_db=10)
    assert preset.status == "optimal" and preset.fields["applied"] is False and not preset.published
    assert preset.fields["scenario"] == "fig4" and preset.version == 1 and served.precoders_in_force() is kept
    assert preset.precoders.version == 0  # 0: not a published version
    assert preset.precoders.comm_precoders.shape == (2, 6, 1) and preset.precoders.radar_precoders.shape == (2, 6, 6)
    # the same scenario inline, as TOML text and as a JSON object: the same problem, the same answer
    # (deterministic solver; 1e-6 relative for floating-point order)
    as_toml = request(served, scenario=scenario_to_toml(load_scenario("fig4")), sinr_db=10)
    as_object = request(served, scenario=PRESETS["fig4"], sinr_db=10)
    for reply in (as_toml, as_object):
        assert reply.status == "optimal" and not reply.published and reply.version == 1
        assert reply.fields["crb_position_bound_m2"] == pytest.approx(preset.fields["crb_position_bound_m2"], rel=1e-6)
    # apply false on the deployed scenario
    dry = request(served, sinr_db=13, apply=False)
    assert dry.status == "optimal" and not dry.published and dry.precoders.version == 0 and served.version == 1


def test_csi_replaces_the_scenarios_channels():
    service = bf_service.BeamformerService("paper", sinr_db=10.0)
    rng = np.random.default_rng(7)
    h = (rng.standard_normal((2, 3, 6)) + 1j * rng.standard_normal((2, 3, 6))) / np.sqrt(2)
    reply = request(service, csi={"real": h.real.tolist(), "imag": h.imag.tolist()})
    assert reply.status == "optimal" and reply.version == 1
    wc, wr = reply.precoders.comm_precoders, reply.precoders.radar_precoders
    on_csi = to_db(sinr_from_beamformers(h, wc, wr, PAPER.user_noise_power))
    assert np.min(on_csi) >= 10 - SINR_TOL_DB  # designed for these channels
    np.testing.assert_allclose(on_csi, reply.fields["sinr_extracted_db"], atol=1e-9)
    on_los = to_db(sinr_from_beamformers(PAPER.user_channels(), wc, wr, PAPER.user_noise_power))
    assert np.min(on_los) < 10 - 1.0  # and not for the scenario's line-of-sight channels
    # the CSI stays part of the deployed design: a new threshold re-solves on it; "csi": null reverts
    assert service.settings_in_force()["csi"] is True
    moved = service.set_sinr_db(12.0)
    on_csi = to_db(sinr_from_beamformers(h, moved.precoders.comm_precoders, moved.precoders.radar_precoders,
                                         PAPER.user_noise_power))
    assert moved.version == 2 and np.min(on_csi) >= 12 - SINR_TOL_DB
    reverted = request(service, csi=None)
    assert reverted.version == 3 and service.settings_in_force()["csi"] is False


def test_constructor_rejects_bad_settings():
    with pytest.raises(ValueError, match="objective = 'crb'"):
        bf_service.BeamformerService("paper", objective="crb")
    with pytest.raises(ValueError, match="sinr_db = 99.0"):
        bf_service.BeamformerService("paper", sinr_db=99)


# ---- the commands -----------------------------------------------------------------------------

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_RUN_CLI = ("import runpy, sys, gnuradio; "
            f"gnuradio.__path__.insert(0, {os.path.join(ROOT, 'python')!r}); "
            "runpy.run_module('gnuradio.disac.apps.cli', run_name='__main__', alter_sys=True)")


def test_bf_server_and_bf_request_over_tcp(capsys, tmp_path):
    """A bf-server process on a free port; bf-request clients ask it; SIGTERM ends it cleanly."""
    server = subprocess.Popen([sys.executable, "-c", _RUN_CLI, "bf-server", "paper", "--bind", "tcp://127.0.0.1:0",
                               "--sinr-db", "10", "--duration-s", "60", "--json"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        first = json.loads(server.stdout.readline())  # the process prints its endpoints first
        assert first["event"] == "listening" and first["bind"].startswith("tcp://127.0.0.1:")
        address = first["bind"]
        save = tmp_path / "w.npz"
        assert main(["bf-request", address, "--sinr-db", "12", "--json", "--save", str(save), "--timeout-s", "60"]) == 0
        reply = json.loads(capsys.readouterr().out)
        # the server's start-up design is version 1, this one version 2
        assert reply["status"] == "optimal" and reply["version"] == 2 and reply["applied"] is True
        with np.load(save) as saved:
            assert saved["Wc"].shape == (2, 6, 3) and saved["Wr"].shape == (2, 6, 6) and int(saved["version"]) == 2
        assert main(["bf-request", address, "--sinr-db", "40"]) == 1
        text = capsys.readouterr().out
        assert text.startswith("infeasible:") and "version in force: 2" in text
        assert main(["bf-request", address, "--scenario", "fig4", "--json"]) == 0
        what_if = json.loads(capsys.readouterr().out)
        assert what_if["scenario"] == "fig4" and what_if["applied"] is False and what_if["version"] == 2
        # one status line per event; the server posts it before replying, the printer block prints it soon
        # after (readline ends at the latest when --duration-s stops the server)
        events = [json.loads(server.stdout.readline() or "null") for _ in range(4)]
    finally:
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=30)
    assert server.returncode == 0, err
    assert out == ""  # nothing but the JSON lines read above
    assert [e["status"] for e in events] == ["optimal", "optimal", "infeasible", "optimal"]
    assert [e["version"] for e in events] == [1, 2, 2, 2]


def test_bf_request_without_server_and_with_bad_arguments(capsys):
    assert main(["bf-request", "tcp://127.0.0.1:9", "--timeout-s", "0.3"]) == 1
    assert "no reply from tcp://127.0.0.1:9 within 0.3 s" in capsys.readouterr().err
    assert main(["bf-request", "not-an-endpoint", "--timeout-s", "0.3"]) == 2
    assert "expected a ZeroMQ endpoint" in capsys.readouterr().err
    assert main(["bf-request", "tcp://127.0.0.1:9", "--scenario", "no/such.toml"]) == 2
    assert "not a preset" in capsys.readouterr().err
