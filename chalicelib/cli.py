"""Operator command line: ``python -m chalicelib.cli <command>``.

Works against whatever the environment points at: the local stack (``LIGHTBOX_AWS_ENDPOINT_URL`` set, as
``make dev`` does) or real AWS tables (stage from ``LIGHTBOX_STAGE``, credentials from the usual AWS chain).

  create-admin --email E --username U [--password P]   (password prompted, or LIGHTBOX_ADMIN_PASSWORD)
  seed                                                 demo users of every role (local stack only)
"""
from __future__ import annotations

import argparse
import getpass
import os
import sys

from chalicelib.config import get_settings
from chalicelib.errors import LightboxError


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def create_admin(args: argparse.Namespace) -> int:
    from chalicelib.services import accounts

    password = args.password or os.environ.get("LIGHTBOX_ADMIN_PASSWORD") or getpass.getpass("Admin password: ")
    try:
        user = accounts.create_admin(args.email, args.username, password)
    except LightboxError as exc:
        sys.stderr.write(f"error: {exc.message} {exc.details or ''}\n")
        return 1
    _out(f"created admin {user.username} ({user.user_id}) in stage {get_settings().stage}")
    return 0


SEED_PASSWORD = "lightbox-demo-pass"
SEED_USERS = [("admin", "admin"), ("staff", "staff"), ("phil", "photographer"), ("cleo", "creator"),
              ("mia", "member"), ("max", "member")]


def seed(args: argparse.Namespace) -> int:
    from chalicelib.models.users import User, user_by_login
    from chalicelib.services import accounts

    settings = get_settings()
    if not settings.aws_endpoint_url and not args.force:
        sys.stderr.write("refusing to seed real AWS tables (no LIGHTBOX_AWS_ENDPOINT_URL); use --force\n")
        return 2
    _out(f"{'username':<10} {'role':<13} {'password':<20} email")
    for username, role in SEED_USERS:
        user = user_by_login(username)
        if user is None:
            user = accounts.create_admin(f"{username}@lightbox.local", username, SEED_PASSWORD)
            user.update(actions=[User.role.set(role), User.display_name.set(username.title())])
        _out(f"{username:<10} {role:<13} {SEED_PASSWORD:<20} {username}@lightbox.local")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chalicelib.cli", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("create-admin", help="create a verified admin account")
    p.add_argument("--email", required=True)
    p.add_argument("--username", required=True)
    p.add_argument("--password")
    p.set_defaults(func=create_admin)
    p = sub.add_parser("seed", help="demo users (and content) for the local stack")
    p.add_argument("--force", action="store_true")
    p.set_defaults(func=seed)
    args = parser.parse_args(argv)
    from chalicelib import logs

    logs.configure()
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
