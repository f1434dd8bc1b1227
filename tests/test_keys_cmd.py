# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""`disac keys` (issue 11, item 4): an existing key pair is never silently overwritten, and the secret key
file has mode 0600 from the moment it exists.

Checked with `disac keys` processes run under a permissive umask (0o000: a file written with plain
open() would be 0666, world-readable): the secret is 0600 and the public key 0644 (what a world-
readable public key should be; the umask can only remove bits from it); the secret was created by
os.open with O_CREAT|O_EXCL and mode 0600, and never chmod-ed afterwards (the process records its own
os.open / os.chmod calls); a second run without --force exits 2 with one line naming the file and
leaves both files byte for byte; --force writes a new pair, with the same modes.
"""

import os
import stat
import subprocess
import sys

from gnuradio.disac import net
from test_multiprocess import ROOT, WRAPPER

# Runs `disac keys` after setting the umask to 0 and recording every os.open and os.chmod/fchmod call
# (path or fd, flags, mode) on stderr, one line each, prefixed "CALL".
_RECORDING = """
import os, sys
os.umask(0)
real_open, real_chmod = os.open, os.chmod
def recording_open(path, flags, mode=0o777, *args, **kwargs):
    sys.stderr.write(f"CALL open {path} {flags} {mode:o}\\n")
    return real_open(path, flags, mode, *args, **kwargs)
def recording_chmod(path, mode, *args, **kwargs):
    sys.stderr.write(f"CALL chmod {path} {mode:o}\\n")
    return real_chmod(path, mode, *args, **kwargs)
os.open, os.chmod = recording_open, recording_chmod
"""


def run_keys(*args):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-c", _RECORDING + WRAPPER, "keys", *args], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=120)


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_secret_is_0600_from_creation_under_a_permissive_umask(tmp_path):
    directory = tmp_path / "keys"
    done = run_keys("cu", "--dir", str(directory))
    assert done.returncode == 0, done.stderr
    secret, public = directory / "cu.key_secret", directory / "cu.key"
    assert mode_of(secret) == 0o600 and mode_of(public) == 0o644
    calls = [line.split() for line in done.stderr.splitlines() if line.startswith("CALL")]
    opens = [c for c in calls if c[1] == "open" and c[2] == str(secret)]
    assert len(opens) == 1, calls
    flags, mode = int(opens[0][3]), int(opens[0][4], 8)
    assert flags & os.O_CREAT and flags & os.O_EXCL and mode == 0o600
    assert not [c for c in calls if c[1] == "chmod"], calls  # never widened, then narrowed
    # a usable pair: the secret's public half is the public file's key
    assert net.read_secret(secret, "secret")[0] == net.read_key(str(public), "public")


def test_an_existing_pair_is_kept_without_force_and_replaced_with_it(tmp_path):
    directory = tmp_path / "keys"
    assert run_keys("cu", "--dir", str(directory)).returncode == 0
    secret, public = directory / "cu.key_secret", directory / "cu.key"
    before = (secret.read_bytes(), public.read_bytes())

    again = run_keys("cu", "--dir", str(directory))
    assert again.returncode == 2
    errors = [line for line in again.stderr.splitlines() if not line.startswith("CALL")]
    assert len(errors) == 1 and str(secret) in errors[0] and "--force" in errors[0], again.stderr
    assert "Traceback" not in again.stderr and again.stdout == ""
    assert (secret.read_bytes(), public.read_bytes()) == before

    # the public file alone is enough to refuse (a half-made pair is not silently completed)
    secret.unlink()
    half = run_keys("cu", "--dir", str(directory))
    assert half.returncode == 2 and str(public) in half.stderr and not secret.exists()

    forced = run_keys("cu", "--dir", str(directory), "--force")
    assert forced.returncode == 0, forced.stderr
    assert public.read_bytes() != before[1] and mode_of(secret) == 0o600 and mode_of(public) == 0o644
    assert net.read_secret(secret, "secret")[0] == net.read_key(str(public), "public")
    assert sorted(os.listdir(directory)) == ["cu.key", "cu.key_secret"]  # no temporary files left
    assert not [line for line in forced.stderr.splitlines() if line.startswith("CALL chmod")]
