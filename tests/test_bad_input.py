# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Bad input the other tests do not cover yet (issue 8, item 1; docs/reliability.md has the whole table).

* Every block's constructor, given one bad parameter (as GRC or Python passes it), raises ValueError
  naming the parameter and the offending value.
* The security parameters and options of every networked block and app: a mode other than open/curve,
  CURVE without keys, unreadable key files, a bad allowed-keys file.
* Command-line arguments of `disac node`, `disac cu`, `disac bf-server` and `disac bf-request`: exit
  code 2 and one line on stderr naming the option and value, never a traceback.
"""

import pytest

from gnuradio.disac import net
from gnuradio.disac.apps.cli import main


def _blocks():
    from gnuradio.disac.blocks.beamformer_server import beamformer_server
    from gnuradio.disac.blocks.central_unit import central_unit
    from gnuradio.disac.blocks.comm_channel import comm_channel
    from gnuradio.disac.blocks.isac_tx import isac_tx
    from gnuradio.disac.blocks.node_rx import node_rx
    from gnuradio.disac.blocks.precoder_sub import precoder_sub
    from gnuradio.disac.blocks.sensing_channel import sensing_channel
    from gnuradio.disac.blocks.snapshot_push import snapshot_push
    from gnuradio.disac.blocks.user_rx import user_rx

    return locals()


BAD_PARAMETERS = [
    # (block, keyword arguments, what the message must contain: the parameter and its value)
    ("isac_tx", dict(node_id=2), "node_id = 2"),
    ("isac_tx", dict(max_frames=-1), "max_frames = -1"),
    ("isac_tx", dict(scenario="nosuch"), "scenario 'nosuch'"),
    ("sensing_channel", dict(rx_node=3), "rx_node = 3"),
    ("sensing_channel", dict(frequency_grid="middle"), "'middle'"),
    ("comm_channel", dict(num_users=5), "num_users = 5"),
    ("node_rx", dict(frames_per_message=0), "frames_per_message = 0"),
    ("user_rx", dict(user=7), "user = 7"),
    ("user_rx", dict(sync="magic"), "sync = 'magic'"),
    ("snapshot_push", dict(address="tcp://127.0.0.1:0"), "address = 'tcp://127.0.0.1:0': a connecting socket"),
    ("snapshot_push", dict(address="inproc://bad-input", bind=True, hwm=2.5), "hwm = 2.5"),
    ("snapshot_push", dict(address="inproc://bad-input", bind=True, security="tls"), "security = 'tls'"),
    ("central_unit", dict(timeout_s=0), "timeout_s = 0"),
    ("central_unit", dict(status_interval_s=-1), "status_interval_s = -1"),
    ("central_unit", dict(address="tcp://*:5555", bind=False), "address = 'tcp://*:5555'"),
    ("central_unit", dict(address="tcp://127.0.0.1:*", security="curve"), "secret_key_file = ''"),
    ("beamformer_server", dict(objective="crb", bind_address="tcp://127.0.0.1:0"), "objective = 'crb'"),
    ("beamformer_server", dict(pub_address="udp://x:1", bind_address="tcp://127.0.0.1:0"), "pub_address = 'udp://x:1'"),
    ("beamformer_server", dict(time_limit_s=float("nan"), bind_address="tcp://127.0.0.1:0"), "time_limit_s = nan"),
    ("precoder_sub", dict(node_id=5), "node_id = 5"),
    ("precoder_sub", dict(address="ipc://"), "address = 'ipc://'"),
]


@pytest.mark.parametrize("block, kwargs, fragment", BAD_PARAMETERS,
                         ids=[f"{b}-{next(iter(k))}" for b, k, _ in BAD_PARAMETERS])
def test_every_block_constructor_names_the_bad_value(block, kwargs, fragment):
    with pytest.raises(ValueError) as info:
        _blocks()[block](**kwargs)
    assert fragment in str(info.value), str(info.value)


@pytest.fixture(scope="module")
def key_files(tmp_path_factory):
    directory = tmp_path_factory.mktemp("keys")
    public, secret = net.create_keys(directory, "peer")
    bad_allowed = directory / "allowed-bad"
    bad_allowed.write_text("# ok\nshort-key\n")
    return {"public": str(public), "secret": str(secret), "bad_allowed": str(bad_allowed),
            "missing": str(directory / "missing.key_secret")}


def test_key_files_and_keys_are_named(key_files):
    with pytest.raises(net.LinkError, match="secret key file .*missing.key_secret'"):
        net.read_secret(key_files["missing"], "secret key file")
    with pytest.raises(net.LinkError, match="holds no secret key"):
        net.read_secret(key_files["public"], "secret key file")  # the public half given by mistake
    with pytest.raises(net.LinkError, match="'not-a-key': neither a 40-character Z85 key nor a readable key file"):
        net.read_key("not-a-key", "server public key")
    with pytest.raises(net.LinkError, match="line 2: 'short-key' is not a 40-character Z85 key"):
        net.read_allowed_keys(key_files["bad_allowed"])


def cli_cases(keys):
    node = ["node", "paper", "--node", "0", "--connect", "tcp://127.0.0.1:5999"]
    cu = ["cu", "paper", "--bind", "tcp://127.0.0.1:*"]
    server = ["bf-server", "paper", "--bind", "tcp://127.0.0.1:0"]
    request = ["bf-request", "tcp://127.0.0.1:9", "--timeout-s", "0.2"]
    return [
        (node + ["--frames", "-1"], "--frames -1"),
        (node + ["--node", "-1"], "--node -1"),
        (node + ["--frame-rate", "nan"], "--frame-rate"),
        (node + ["--curve-server-key", keys["public"]], "--curve-server-key: CURVE needs --curve-secret FILE"),
        (node + ["--curve-secret", keys["missing"], "--curve-server-key", keys["public"]], "missing.key_secret"),
        (node + ["--curve-secret", keys["secret"]], "needs the server's public key"),
        (node + ["--curve-secret", keys["secret"], "--curve-server-key", "not-a-key"], "'not-a-key'"),
        (node + ["--precoders-from", "tcp://127.0.0.1:*"], "address = 'tcp://127.0.0.1:*'"),
        (cu + ["--timeout", "0"], "--timeout"),
        (cu + ["--frames", "-3"], "--frames -3"),
        (cu + ["--curve-secret", keys["secret"]], "needs an allowed keys file"),
        (cu + ["--curve-secret", keys["secret"], "--curve-allow", keys["bad_allowed"]], "line 2: 'short-key'"),
        (cu + ["--precoders-from", "localhost:5561"], "address = 'localhost:5561'"),
        (["cu", "paper", "--connect", "tcp://127.0.0.1:0"], "address = 'tcp://127.0.0.1:0': a connecting socket"),
        (server + ["--sinr-db", "99"], "--sinr-db"),
        (server + ["--time-limit-s", "-1"], "--time-limit-s"),
        (server + ["--pub", "tcp://127.0.0.1"], "pub_address = 'tcp://127.0.0.1'"),
        (server + ["--curve-secret", keys["secret"]], "needs an allowed keys file"),
        (request + ["--curve-secret", keys["secret"]], "needs the server's public key"),
        (request + ["--curve-allow", keys["bad_allowed"]], "--curve-allow: CURVE needs --curve-secret FILE"),
        (["bf-request", "tcp://*:5560"], "a connecting socket needs a host"),
    ]


def test_command_line_arguments_give_one_line_errors(key_files, capsys):
    for args, fragment in cli_cases(key_files):
        try:
            code = main(args)
        except SystemExit as exc:  # argparse's own checks (type=..., choices) exit 2
            code = exc.code
        err = capsys.readouterr().err
        assert code == 2, (args, err)
        # one line says it all: "disac[ CMD]: error: …" with the option or parameter and its value
        assert any(line.startswith("disac") and " error: " in line and fragment in line
                   for line in err.splitlines()), (args, err)
        assert "Traceback" not in err, (args, err)
