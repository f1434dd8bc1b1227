# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""ZeroMQ links of gr-disac: address checks, socket set-up and optional CURVE security, in one place.

Every link between processes (node → central unit snapshots, beamformer server ↔ clients, precoder
and estimate publications) is made here, so that address validation, socket options and security
are the same everywhere.

Security: ``LinkSecurity.open()`` (the default) sends in the clear and says so once at start-up;
``LinkSecurity.curve(...)`` turns on ZeroMQ CURVE (authenticated encryption, Curve25519). A binding
side is a CURVE *server* with its own secret key and a file of allowed client public keys (one Z85
key per line, then an optional comment); a connecting side is a CURVE *client* with its own key pair and the
server's public key. A peer whose key is not listed gets nothing through: the ZAP handler refuses the
handshake before any message is delivered. Keys are made by `disac keys` (zmq.auth certificate files).

Sockets are made by make_socket and closed by close (the last CURVE server socket of a context stops
its authenticator, so blocks sharing zmq.Context.instance() do not stop each other's); an open tcp://
or ipc:// socket logs once per address that it is open (inproc:// cannot be reached from outside the
process, so it does not).
"""

import dataclasses
import logging
import os
import itertools
import re
import threading

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator

LOG = logging.getLogger("gnuradio.disac.net")

_ADDRESS = re.compile(r"^(tcp://(\*|\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.\-]+):(\*|\d{1,5})|ipc://[^\s]+|inproc://[^\s]+)$")
_Z85_KEY = re.compile(r"^[0-9a-zA-Z.\-:+=^!/*?&<>()\[\]{}@%$#]{40}$")


class LinkError(ValueError):
    """A bad address, key or key file; the message names it and says what is accepted."""


def check_address(address, bind, name="address"):
    """Return the address if ZeroMQ can use it, else LinkError naming the parameter, the value and what
    is accepted. A binding socket may leave the tcp port to the system ('*' or 0)."""
    if not isinstance(address, str) or not _ADDRESS.match(address):
        raise LinkError(f"{name} = {address!r}: expected tcp://HOST:PORT, ipc://PATH or inproc://NAME "
                        "(a ZeroMQ endpoint such as tcp://127.0.0.1:5555)")
    if address.startswith("tcp://"):
        port = address.rsplit(":", 1)[1]
        if port in ("*", "0") and not bind:
            raise LinkError(f"{name} = {address!r}: a connecting socket needs a port number, not '{port}'")
        if port != "*" and not 0 <= int(port) < 65536:
            raise LinkError(f"{name} = {address!r}: port must be from 1 to 65535 (or '*' / 0 when binding)")
        if address.startswith("tcp://*") and not bind:
            raise LinkError(f"{name} = {address!r}: a connecting socket needs a host, not '*'")
    return address


def read_key(value, what):
    """A Z85 public key given as the 40 characters or as a zmq.auth certificate/key file path."""
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    text = str(value).strip()
    if _Z85_KEY.match(text):
        return text.encode("ascii")
    try:
        public, _ = zmq.auth.load_certificate(text)
    except (OSError, ValueError) as exc:
        raise LinkError(f"{what} {value!r}: neither a 40-character Z85 key nor a readable key file ({exc})") from None
    return public


def read_secret(path, what):
    """(public, secret) from a zmq.auth secret certificate file (`disac keys` writes NAME.key_secret)."""
    try:
        public, secret = zmq.auth.load_certificate(str(path))
    except (OSError, ValueError) as exc:
        raise LinkError(f"{what} {str(path)!r}: not a readable secret key file ({exc})") from None
    if not secret:
        raise LinkError(f"{what} {str(path)!r}: holds no secret key (use the .key_secret file from `disac keys`)")
    return public, secret


def read_allowed_keys(path):
    """The set of allowed client public keys: one Z85 key per line (anything after it is a comment);
    blank lines and lines starting with '# ' are skipped."""
    try:
        with open(path, encoding="ascii") as handle:
            lines = handle.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise LinkError(f"allowed keys file {str(path)!r}: cannot be read ({exc})") from None
    keys = set()
    for number, line in enumerate(lines, 1):
        # Z85 keys may contain '#': a comment line starts with '#' and a space, and text after the
        # key (separated by white space) is a comment too
        stripped = line.strip()
        if not stripped or stripped == "#" or stripped.startswith(("# ", "#\t")):
            continue
        text = stripped.split()[0]
        if not _Z85_KEY.match(text):
            raise LinkError(f"allowed keys file {str(path)!r}, line {number}: {text!r} is not a 40-character Z85 key")
        keys.add(text.encode("ascii"))
    return frozenset(keys)


_NODE_BINDING = re.compile(r"^node=(\d{1,9})$")


def read_key_bindings(path):
    """The node ids bound to allowed keys: {public key (Z85 bytes): node id}. A key line of the allowed
    keys file binds its key to node N with a word ``node=N`` after the key (``KEY node=0  # north mast``);
    a key without it is allowed but bound to no node. LinkError naming a line with a bad binding or two
    bindings of one key."""
    try:
        with open(path, encoding="ascii") as handle:
            lines = handle.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise LinkError(f"allowed keys file {str(path)!r}: cannot be read ({exc})") from None
    bindings = {}
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if not stripped or stripped == "#" or stripped.startswith(("# ", "#\t")):
            continue
        words = stripped.split()
        for word in words[1:]:
            if word.startswith("#"):
                break
            if word.startswith("node="):
                match = _NODE_BINDING.match(word)
                if not match:
                    raise LinkError(f"allowed keys file {str(path)!r}, line {number}: {word!r}: expected node=N "
                                    "with N a node id (0, 1, …)")
                key = words[0].encode("ascii")
                node = int(match.group(1))
                if bindings.get(key, node) != node:
                    raise LinkError(f"allowed keys file {str(path)!r}, line {number}: key {words[0]} is bound to "
                                    f"node {bindings[key]} and node {node}: one key, one node")
                bindings[key] = node
    return bindings


def sender_key(frame):
    """The CURVE public key (Z85 bytes) a received zmq.Frame came from, or None (open link, or unknown)."""
    try:
        user = frame.get("User-Id")
    except (zmq.ZMQError, AttributeError, TypeError):
        return None
    if isinstance(user, str):
        user = user.encode("ascii", "replace")
    return user if user and _Z85_KEY.match(user.decode("ascii", "replace")) else None


SECURITY_MODES = ("open", "curve")


@dataclasses.dataclass(frozen=True)
class LinkSecurity:
    """How a link authenticates: mode "open" or "curve" (see the module docstring).

    One LinkSecurity serves every socket of a peer: a socket that binds uses secret_key_file and
    allowed_keys_file (it is the CURVE server), a socket that connects uses secret_key_file and
    server_public_key (it is a CURVE client).
    """

    mode: str = "open"
    secret_key_file: str = ""  # own key pair (server and client)
    server_public_key: str = ""  # client only: the server's public key (Z85 or key file)
    allowed_keys_file: str = ""  # server only: allowed client public keys

    @classmethod
    def open(cls):
        return cls()

    @classmethod
    def curve(cls, secret_key_file, server_public_key="", allowed_keys_file=""):
        return cls("curve", str(secret_key_file), str(server_public_key), str(allowed_keys_file))

    @classmethod
    def from_parameters(cls, security="open", secret_key_file="", server_public_key="", allowed_keys_file=""):
        """The security of a block's parameters (GRC or Python); LinkError naming a bad one."""
        if security not in SECURITY_MODES:
            raise LinkError(f"security = {security!r}: accepted: 'open' or 'curve'")
        for name, value in (("secret_key_file", secret_key_file), ("server_public_key", server_public_key),
                            ("allowed_keys_file", allowed_keys_file)):
            if not isinstance(value, (str, os.PathLike)):
                raise LinkError(f"{name} = {value!r}: accepted: a file path (or '')")
        if security == "open":
            return cls()
        if not str(secret_key_file):
            raise LinkError("secret_key_file = '': security 'curve' needs this peer's secret key file "
                            "(`disac keys NAME` writes NAME.key_secret)")
        return cls.curve(secret_key_file, server_public_key, allowed_keys_file)

    def with_server_key(self, server_public_key):
        """The same security for a connection to another server (its public key)."""
        return dataclasses.replace(self, server_public_key=str(server_public_key))

    def __post_init__(self):
        if self.mode not in SECURITY_MODES:
            raise LinkError(f"security mode {self.mode!r}: expected 'open' or 'curve'")


class _AllowList:
    """ZAP credentials provider: a client key is allowed iff it is in the set."""

    def __init__(self, keys):
        self.keys = keys
        self.refused = 0

    def callback(self, domain, key):
        allowed = key in self.keys
        if not allowed:
            self.refused += 1
            # a refused client retries its handshake every ~0.1 s: the first ones, then one line every 1000th
            if self.refused <= 10 or self.refused % 1000 == 0:
                LOG.warning("CURVE (%s): refused client #%d: key %s is not in the allowed list", domain,
                            self.refused, key.decode("ascii", "replace"))
        return allowed


_AUTHENTICATORS = {}  # context id -> [ThreadAuthenticator, set of ids of the CURVE server sockets using it]
_SERVER_SOCKETS = {}  # socket id -> (context id, _AllowList)
_AUTH_LOCK = threading.Lock()
_DOMAINS = itertools.count()


def _authenticator(context, keys, sock):
    """A new ZAP domain with its allow list on the context's authenticator (started on first use), for
    server socket ``sock`` (net.close(sock) gives it back)."""
    with _AUTH_LOCK:
        entry = _AUTHENTICATORS.get(id(context))
        if entry is None:
            auth = ThreadAuthenticator(context, log=LOG)
            auth.start()
            entry = _AUTHENTICATORS[id(context)] = [auth, set()]
        domain = f"disac-{next(_DOMAINS)}"  # one per server socket: its own allow list
        allow = _AllowList(keys)
        entry[0].configure_curve_callback(domain=domain, credentials_provider=allow)
        entry[1].add(id(sock))
        _SERVER_SOCKETS[id(sock)] = (id(context), allow)
        return domain


def refused(sock):
    """How many clients a CURVE server socket refused (their key was not allowed); 0 for other sockets."""
    with _AUTH_LOCK:
        entry = _SERVER_SOCKETS.get(id(sock))
    return entry[1].refused if entry else 0


def close(sock):
    """Close a socket made by make_socket; the last CURVE server socket of a context also stops the
    context's authenticator (the context is often shared: zmq.Context.instance())."""
    if sock is None:
        return
    stop = None
    with _AUTH_LOCK:
        entry = _SERVER_SOCKETS.pop(id(sock), None)
        if entry is not None:
            users = _AUTHENTICATORS.get(entry[0])
            if users is not None:
                users[1].discard(id(sock))
                if not users[1]:
                    stop = _AUTHENTICATORS.pop(entry[0])[0]
    sock.close()
    if stop is not None:
        stop.stop()


def release(context):
    """Stop the CURVE authenticator of a context (if any), whoever uses it; call before terminating a
    context of one's own, or context.term() waits for ever on the authenticator's own socket."""
    with _AUTH_LOCK:
        entry = _AUTHENTICATORS.pop(id(context), None)
        for key in [k for k, (ctx, _) in _SERVER_SOCKETS.items() if ctx == id(context)]:
            del _SERVER_SOCKETS[key]
    if entry is not None:
        entry[0].stop()


_OPEN_LOGGED = set()


def make_socket(context, socket_type, address, bind, security=None, name="address", options=None, private=False):
    """A ZeroMQ socket bound or connected to ``address`` with the given security.

    ``name`` is the parameter or option the address came from (errors and logs name it); ``options``
    are socket options set before bind/connect ({zmq.SNDHWM: 1000, …}; zmq.SUBSCRIBE takes bytes).
    Returns (socket, endpoint): the endpoint is the address actually bound (a tcp port '*' or 0 is
    resolved). Sockets linger 0 ms on close unless ``options`` say otherwise, so that a process never
    hangs on a peer that went away. An open tcp:// or ipc:// socket logs once per (name, address) that
    it is open; inproc:// does not (no other process can reach it), nor does a ``private`` one (an ipc:// path in a
    directory only this user can enter: blocks._localise_pool.is_private_ipc).
    Close it with net.close (which also stops an authenticator nobody uses any more).
    """
    security = security or LinkSecurity.open()
    check_address(address, bind, name)
    sock = context.socket(socket_type)
    sock.setsockopt(zmq.LINGER, 0)
    try:
        for option, value in (options or {}).items():
            sock.setsockopt(option, value)
        if security.mode == "curve":
            public, secret = read_secret(security.secret_key_file, f"{name}: secret key file")
            sock.curve_publickey, sock.curve_secretkey = public, secret
            if bind:
                if not security.allowed_keys_file:
                    raise LinkError(f"{name} = {address!r}: a CURVE server (a socket that binds) needs an allowed "
                                    "keys file (allowed_keys_file, --curve-allow)")
                domain = _authenticator(context, read_allowed_keys(security.allowed_keys_file), sock)
                sock.zap_domain = domain.encode()
                sock.curve_server = True
            else:
                if not security.server_public_key:
                    raise LinkError(f"{name} = {address!r}: a CURVE client (a socket that connects) needs the "
                                    "server's public key (server_public_key, --curve-server-key)")
                sock.curve_serverkey = read_key(security.server_public_key, f"{name}: server public key")
        elif not private and not address.startswith("inproc://") and (name, address) not in _OPEN_LOGGED:
            # inproc:// never leaves the process: nobody outside can reach it, so there is nothing to secure
            _OPEN_LOGGED.add((name, address))
            LOG.warning("%s %s is OPEN: no authentication or encryption (use CURVE keys from `disac keys`)",
                        name, address)
        if bind:
            sock.bind(address)
            endpoint = sock.getsockopt(zmq.LAST_ENDPOINT).decode()
        else:
            sock.connect(address)
            endpoint = address
    except zmq.ZMQError as exc:
        close(sock)
        raise LinkError(f"{name} = {address!r}: cannot {'bind' if bind else 'connect'} ({exc})") from None
    except Exception:
        close(sock)
        raise
    return sock, endpoint


class KeysExistError(LinkError):
    """create_keys found a key file it would overwrite (the message names it)."""


def create_keys(directory, name, force=False):
    """Write NAME.key (public) and NAME.key_secret into directory; return (public_path, secret_path).

    The secret file is created with mode 0600 (os.open with O_EXCL, then fchmod before a byte is
    written: it never exists with a wider mode, whatever the umask). An existing NAME.key or
    NAME.key_secret is kept (KeysExistError naming it) unless ``force``; then each file is written to
    a new 0600/0644 file beside it and renamed over the old one. The format is zmq.auth's certificate.
    """
    if not re.match(r"^[A-Za-z0-9_.\-]{1,64}$", name or ""):
        raise LinkError(f"key name {name!r}: expected 1 to 64 letters, digits, '_', '.' or '-'")
    os.makedirs(directory, exist_ok=True)
    public_path = os.path.join(str(directory), f"{name}.key")
    secret_path = os.path.join(str(directory), f"{name}.key_secret")
    if not force:
        for path in (secret_path, public_path):
            if os.path.lexists(path):
                raise KeysExistError(f"{path} exists: a key pair is not overwritten (peers holding the old public "
                                     "key would be shut out); give --force to replace it")
    public, secret = (key.decode("ascii") for key in zmq.curve_keypair())
    curve = f'curve\n    public-key = "{public}"\n'
    _write_new_file(secret_path, 0o600, "#   ZeroMQ CURVE **Secret** Certificate (disac keys)\n"
                    "#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.\n\nmetadata\n"
                    + curve + f'    secret-key = "{secret}"\n', force)
    _write_new_file(public_path, 0o644, "#   ZeroMQ CURVE Public Certificate (disac keys)\n"
                    "#   Exchange securely, or use a secure mechanism to verify the contents\n"
                    "#   of this file after exchange. Store public certificates in your home\n"
                    "#   directory, in the .curve subdirectory.\n\nmetadata\n" + curve, force)
    return public_path, secret_path


def _write_new_file(path, mode, text, replace):
    """Write text to a file created with exactly ``mode``: at ``path`` (O_EXCL: never over an existing
    file), or with ``replace`` to a new file beside it renamed over it (atomic)."""
    target = path + f".new-{os.getpid()}" if replace else path
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), mode)
    try:  # from here on, target is a file this call created
        os.fchmod(fd, mode)  # the umask may have removed bits of mode; it never added any
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            fd = None
            handle.write(text)
        if replace:
            os.replace(target, path)
    except BaseException:
        if fd is not None:
            os.close(fd)
        try:
            os.unlink(target)
        except OSError:
            pass
        raise
