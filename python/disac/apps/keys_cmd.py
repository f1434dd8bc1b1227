"""`disac keys NAME`: make a CURVE key pair for one peer of a gr-disac link (docs/deployment.md).

Writes NAME.key (public, give it to the peers) and NAME.key_secret (keep it on this host, mode 0600)
into --dir, and prints the public key; a server lists its clients' public keys, one per line, in its
allowed keys file (--allow-file appends this one).
"""

from .. import net
from .cli import UsageError


def register(subparsers):
    parser = subparsers.add_parser("keys", help="make a CURVE key pair for authenticated, encrypted links")
    parser.add_argument("name", help="a name for this peer, e.g. node1, cu, bf-server")
    parser.add_argument("--dir", default="keys", help="folder for NAME.key and NAME.key_secret (default ./keys)")
    parser.add_argument("--allow-file", help="also append the public key to this allowed keys file")
    parser.set_defaults(func=run)


def run(args):
    try:
        public_path, secret_path = net.create_keys(args.dir, args.name)
        public = net.read_key(public_path, "public key file").decode()
    except (net.LinkError, OSError) as exc:
        raise UsageError(str(exc)) from None
    if args.allow_file:
        try:
            with open(args.allow_file, "a", encoding="ascii") as handle:
                handle.write(f"{public}  # {args.name}\n")
        except OSError as exc:
            raise UsageError(f"--allow-file {args.allow_file!r}: cannot be written ({exc.strerror})") from None
    print(f"public key  {public}")
    print(f"written     {public_path} (give to peers), {secret_path} (keep secret)")
    if args.allow_file:
        print(f"allowed     appended to {args.allow_file}")
    return 0
