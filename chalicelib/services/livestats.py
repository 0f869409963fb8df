"""Live photo stats over WebSocket.

Client -> server: ``{"action": "subscribe", "photo_id"}`` / ``{"action": "unsubscribe", "photo_id"}``; only a photo
the connection's user may read can be subscribed to (otherwise an error frame, ``not_found``).
Server -> subscribers: ``{"type": "photo.stats", "photo_id", "like_count", "comment_count"}`` after every like,
unlike, comment and comment deletion, and ``{"type": "comment", "photo_id", "comment"}`` for a new comment.

Publishing runs after the write has committed and is best effort: it costs one Query when nobody watches the
photo, a failure is logged and never fails the request that caused it, and a subscription whose connection is
gone, or whose login has ended, is deleted when a push finds it so.

Revocation and size: each subscription keeps the login its connection was opened with, and a push reads the
watchers' revocation state in one BatchGet per page before it sends, so a socket of an ended login gets no
frames. At most ``fanout_inline_max`` watchers are served inline; the rest go to ``push.fanout`` jobs, which
check each connection's login again when they deliver.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.config import get_settings
from chalicelib.errors import NotFoundError, UnauthorizedError, ValidationError
from chalicelib.logs import get_logger
from chalicelib.models import engagement as store
from chalicelib.models.photos import Photo
from chalicelib.realtime import push
from chalicelib.realtime.handlers import action

log = get_logger(__name__)


def _photo_id(frame: dict[str, Any]) -> str:
    photo_id = frame.get("photo_id")
    if not isinstance(photo_id, str) or not photo_id.strip():
        raise ValidationError("Say which photo: photo_id.", details={"photo_id": "required"})
    return photo_id.strip()


def _principal(user_id: str):
    from chalicelib.models.users import user_by_id
    from chalicelib.services.tokens import Principal

    user = user_by_id(user_id)
    if user is None:
        raise UnauthorizedError("This account no longer exists.")
    return Principal(user_id=user.user_id, role=user.role, family_id="", user=user)


def stats_frame(photo: Photo) -> dict[str, Any]:
    return {
        "type": "photo.stats",
        "photo_id": photo.photo_id,
        "like_count": int(photo.like_count or 0),
        "comment_count": int(photo.comment_count or 0),
    }


@action("subscribe")
def subscribe(connection_id: str, user_id: str, frame: dict[str, Any]) -> dict[str, Any]:
    """Watch a photo the user may read; the reply carries the current counts."""
    from chalicelib.services import photos

    photo_id = _photo_id(frame)
    if not store.plausible_id(photo_id):
        raise NotFoundError("No such photo.")
    from chalicelib.models.realtime import connection_by_id

    photo, _, _ = photos.readable_photo(_principal(user_id), photo_id)
    connection = connection_by_id(connection_id)
    if connection is None:
        raise UnauthorizedError("This connection is not registered.")
    generation = connection.session_gen
    store.subscribe(photo_id, connection_id, user_id, connection.family_id, generation)
    return {**stats_frame(photo), "type": "subscribed"}


@action("unsubscribe")
def unsubscribe(connection_id: str, user_id: str, frame: dict[str, Any]) -> dict[str, Any]:
    photo_id = _photo_id(frame)
    store.unsubscribe(photo_id, connection_id)
    return {"type": "unsubscribed", "photo_id": photo_id}


def publish_stats(photo_id: str) -> None:
    _publish(photo_id, [])


def publish_comment(photo_id: str, comment: dict[str, Any]) -> None:
    _publish(photo_id, [{"type": "comment", "photo_id": photo_id, "comment": comment}])


def _publish(photo_id: str, frames: list[dict[str, Any]]) -> None:
    try:
        if not get_settings().ws_endpoint:
            return
        rows = store.subscriber_rows(photo_id)
        if not rows:
            return
        try:
            photo = Photo.get(photo_id, consistent_read=True)
        except Photo.DoesNotExist:
            return
        frames = [*frames, stats_frame(photo)]
        bound = max(1, get_settings().fanout_inline_max)
        inline, rest = rows[:bound], rows[bound:]
        if rest:
            push.defer([r.connection_id for r in rest], frames)
        live, ended = _live(inline)
        gone = _fan_out(live, frames)
        if gone or ended:
            store.drop_subscriptions(photo_id, [*gone, *ended])
    except Exception:  # best effort: the write that caused this has committed and must not fail
        log.exception("live update for photo %s not published", photo_id)


def _live(rows: list[store.PhotoSubscription]) -> tuple[list[str], list[str]]:
    """(connections whose login is valid, those whose login has ended): one BatchGet of the distinct users."""
    from chalicelib.services import tokens

    states = tokens.login_states({r.user_id for r in rows})
    live = {r.connection_id for r in rows if states[r.user_id].alive(r.family_id, r.session_gen)}
    return [r.connection_id for r in rows if r.connection_id in live], [
        r.connection_id for r in rows if r.connection_id not in live
    ]


def _fan_out(connection_ids: list[str], frames: list[dict[str, Any]]) -> list[str]:
    """Send the frames, in order, to every connection (bounded concurrency); return the gone connections."""
    if not connection_ids:
        return []

    def deliver(connection_id: str) -> str | None:
        try:
            for frame in frames:
                if not push.send(connection_id, frame):
                    return connection_id
        except (BotoCoreError, ClientError):
            log.warning("push to connection %s failed", connection_id, exc_info=True)
        return None

    if len(connection_ids) == 1:
        results = [deliver(connection_ids[0])]
    else:
        with ThreadPoolExecutor(max_workers=min(push.MAX_PARALLEL, len(connection_ids))) as pool:
            results = list(pool.map(deliver, connection_ids))
    return [c for c in results if c]
