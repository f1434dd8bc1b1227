# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""`disac keys NAME`: make a CURVE key pair for one peer of a gr-disac link (docs/deployment.md).

Writes NAME.key (public, give it to the peers) and NAME.key_secret (keep it on this host; created with
mode 0600) into --dir, and prints the public key; a server lists its clients' public keys, one per
line, in its allowed keys file (--allow-file appends this one). An existing key pair is never
overwritten without --force (its peers would be shut out): the command names the file and exits 2.
"""

from .. import net
from .cli import UsageError, add_option


def register(subparsers):
    parser = subparsers.add_parser("keys", help="make a CURVE key pair for authenticated, encrypted links",
                                   description="Write NAME.key and NAME.key_secret (mode 0600) for one peer of a "
                                               "CURVE link; an existing pair is kept unless --force.")
    parser.add_argument("name", help="a name for this peer, e.g. node1, cu, bf-server")
    add_option(parser, "--dir", default="keys", help="folder for NAME.key and NAME.key_secret (default ./keys)")
    add_option(parser, "--allow-file", help="also append the public key to this allowed keys file")
    add_option(parser, "--force", action="store_true",
               help="replace an existing key pair of this name (default: refuse, exit status 2)")
    parser.set_defaults(func=run)


def run(args):
    try:
        public_path, secret_path = net.create_keys(args.dir, args.name, force=args.force)
        public = net.read_key(public_path, "public key file").decode()
    except net.KeysExistError as exc:
        raise UsageError(f"{exc}") from None
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
