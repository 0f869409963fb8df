"""Operator command line: ``python -m chalicelib.cli <command>``.

Works against whatever the environment points at: the local stack (``LIGHTBOX_AWS_ENDPOINT_URL`` set, as
``make dev`` does) or real AWS tables (stage from ``LIGHTBOX_STAGE``, credentials from the usual AWS chain).

  create-admin --email E --username U [--password P]   (password prompted, or LIGHTBOX_ADMIN_PASSWORD)
  seed                                                 demo users of every role (local stack only)
  reindex-photo-search                                 rewrite every ready photo's search rows (backfill)
  backfill-event-types                                 index public events from before event types by type
  backfill-sold-photos                                 mark photos bought in orders before Photo.sold_at existed
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
SEED_USERS = [
    ("admin", "admin"),
    ("staff", "staff"),
    ("phil", "photographer"),
    ("cleo", "creator"),
    ("mia", "member"),
    ("max", "member"),
]


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
            user = accounts.create_verified_user(f"{username}@lightbox.local", username, SEED_PASSWORD, role=role)
            user.update(actions=[User.display_name.set(username.title())])
        _out(f"{username:<10} {role:<13} {SEED_PASSWORD:<20} {username}@lightbox.local")
    _seed_content()
    return 0


def _principal(username: str):
    from chalicelib.models.users import user_by_login
    from chalicelib.services.tokens import Principal

    user = user_by_login(username)
    if user is None:
        raise SystemExit(f"no such user: {username}")
    return Principal(user_id=user.user_id, role=user.role, family_id="seed", user=user)


def _demo_jpeg(index: int) -> bytes:
    import io

    from PIL import Image, ImageDraw

    colours = [(214, 96, 77), (67, 147, 195), (90, 174, 97), (244, 165, 130)]
    image = Image.new("RGB", (1600, 1200), colours[index % len(colours)])
    draw = ImageDraw.Draw(image)
    for step in range(0, 1600, 80):
        draw.line([(step, 0), (1600 - step, 1200)], fill=(255, 255, 255), width=6)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def _seed_content() -> None:
    """A public event by the photographer with a contributor and a viewer, and photos that go through the
    real upload path (presigned POST to S3, then the S3 -> SQS -> processor pipeline of the running stack)."""
    from types import SimpleNamespace

    import requests

    from chalicelib.models.events import events_of_owner
    from chalicelib.services import events, photos
    from chalicelib.services.photos import FileSpec

    phil = _principal("phil")
    if list(events_of_owner(phil.user_id, limit=1)):
        _out("demo event already there")
        return
    event = events.create_event(
        phil,
        name="Harbour Festival",
        visibility="public",
        description="Demo event from `make seed`",
        location=SimpleNamespace(lat=38.7077, lon=-9.1365, name="Lisbon"),
    )
    events.add_member(phil, event.event_id, "mia", "contributor")
    events.add_member(phil, event.event_id, "max", "viewer")
    uploads = [(phil, "Boats at dawn #harbour"), (phil, "Lanterns #festival"), (_principal("mia"), "Crowd #music")]
    for index, (who, caption) in enumerate(uploads):
        data = _demo_jpeg(index)
        [(photo, post)] = photos.create_uploads(
            who, [FileSpec(f"demo{index}.jpg", "image/jpeg", len(data), caption)], event.event_id
        )
        requests.post(
            post["url"], data=post["fields"], files={"file": ("f.jpg", data, "image/jpeg")}, timeout=30
        ).raise_for_status()
    _out(
        f"event 'Harbour Festival' ({event.event_id}): phil owns it, mia contributes, max views; "
        f"{len(uploads)} photos uploaded and processing"
    )


def reindex_photo_search(args: argparse.Namespace) -> int:
    from chalicelib.services import photos

    _out(f"reindexed {photos.reindex_search()} photos")
    return 0


def backfill_event_types(args: argparse.Namespace) -> int:
    from chalicelib.models import events

    _out(f"indexed {events.backfill_public_types()} public events by type")
    return 0


def backfill_sold_photos(args: argparse.Namespace) -> int:
    from chalicelib.services import purchases

    _out(f"marked {purchases.backfill_sold()} photos bought in orders as sold")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m chalicelib.cli", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("create-admin", help="create a verified admin account")
    p.add_argument("--email", required=True)
    p.add_argument("--username", required=True)
    p.add_argument("--password")
    p.set_defaults(func=create_admin)
    p = sub.add_parser("seed", help="demo users (and content) for the local stack")
    p.add_argument("--force", action="store_true")
    p.set_defaults(func=seed)
    p = sub.add_parser("reindex-photo-search", help="rewrite every ready photo's search rows (after the 40-term cap)")
    p.set_defaults(func=reindex_photo_search)
    p = sub.add_parser("backfill-event-types", help="index public events from before event types by their type")
    p.set_defaults(func=backfill_event_types)
    p = sub.add_parser("backfill-sold-photos", help="mark photos bought in orders before Photo.sold_at as sold")
    p.set_defaults(func=backfill_sold_photos)
    args = parser.parse_args(argv)
    from chalicelib import logs

    logs.configure()
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
