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
"""

import dataclasses
import logging
import os
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


def check_address(address, bind):
    """Return the address if ZeroMQ can use it, else LinkError naming it and what is accepted."""
    if not isinstance(address, str) or not _ADDRESS.match(address):
        raise LinkError(f"address {address!r}: expected tcp://HOST:PORT, ipc://PATH or inproc://NAME")
    if address.startswith("tcp://"):
        port = address.rsplit(":", 1)[1]
        if port == "*" and not bind:
            raise LinkError(f"address {address!r}: a connecting socket needs a port number, not '*'")
        if port != "*" and not 0 < int(port) < 65536:
            raise LinkError(f"address {address!r}: port must be from 1 to 65535")
        if address.startswith("tcp://*") and not bind:
            raise LinkError(f"address {address!r}: a connecting socket needs a host, not '*'")
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


@dataclasses.dataclass(frozen=True)
class LinkSecurity:
    """How a link authenticates: mode "open" or "curve" (see the module docstring)."""

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

    def __post_init__(self):
        if self.mode not in ("open", "curve"):
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
            LOG.warning("CURVE: refused a client whose key is not in the allowed list")
        return allowed


_AUTHENTICATORS = {}  # context id -> (ThreadAuthenticator, {domain: _AllowList})
_AUTH_LOCK = threading.Lock()


def _authenticator(context, domain, keys):
    with _AUTH_LOCK:
        entry = _AUTHENTICATORS.get(id(context))
        if entry is None:
            auth = ThreadAuthenticator(context, log=LOG)
            auth.start()
            entry = _AUTHENTICATORS[id(context)] = (auth, {})
        auth, lists = entry
        allow = lists.get(domain)
        if allow is None:
            allow = lists[domain] = _AllowList(keys)
            auth.configure_curve_callback(domain=domain, credentials_provider=allow)
        return allow


def release(context):
    """Stop the CURVE authenticator of a context (if any); call before closing or terminating it,
    or context.term() waits for ever on the authenticator's own socket."""
    with _AUTH_LOCK:
        entry = _AUTHENTICATORS.pop(id(context), None)
    if entry is not None:
        entry[0].stop()


def make_socket(context, socket_type, address, bind, security=None, name="link"):
    """A ZeroMQ socket bound or connected to ``address`` with the given security.

    Returns (socket, endpoint): the endpoint is the address actually bound (a tcp port '*' is resolved).
    Sockets linger 0 ms on close so that a process never hangs on a peer that went away.
    """
    security = security or LinkSecurity.open()
    check_address(address, bind)
    sock = context.socket(socket_type)
    sock.setsockopt(zmq.LINGER, 0)
    try:
        if security.mode == "curve":
            public, secret = read_secret(security.secret_key_file, f"{name}: secret key file")
            sock.curve_publickey, sock.curve_secretkey = public, secret
            if bind:
                if not security.allowed_keys_file:
                    raise LinkError(f"{name}: a CURVE server needs an allowed keys file")
                domain = f"disac-{name}-{address}"
                _authenticator(context, domain, read_allowed_keys(security.allowed_keys_file))
                sock.zap_domain = domain.encode()
                sock.curve_server = True
            else:
                if not security.server_public_key:
                    raise LinkError(f"{name}: a CURVE client needs the server's public key")
                sock.curve_serverkey = read_key(security.server_public_key, f"{name}: server public key")
        else:
            LOG.warning("%s on %s is OPEN: no authentication or encryption (use CURVE keys from `disac keys`)",
                        name, address)
        if bind:
            sock.bind(address)
            endpoint = sock.getsockopt(zmq.LAST_ENDPOINT).decode()
        else:
            sock.connect(address)
            endpoint = address
    except zmq.ZMQError as exc:
        sock.close(0)
        raise LinkError(f"{name}: cannot {'bind' if bind else 'connect'} {address!r}: {exc}") from None
    except Exception:
        sock.close(0)
        raise
    return sock, endpoint


def create_keys(directory, name):
    """Write NAME.key (public) and NAME.key_secret into directory; return (public_path, secret_path)."""
    if not re.match(r"^[A-Za-z0-9_.\-]{1,64}$", name or ""):
        raise LinkError(f"key name {name!r}: expected 1 to 64 letters, digits, '_', '.' or '-'")
    os.makedirs(directory, exist_ok=True)
    public, secret = zmq.auth.create_certificates(directory, name)
    os.chmod(secret, 0o600)
    return public, secret
