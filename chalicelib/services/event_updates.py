"""Live event updates: the owner, the members and the pending invitees of an event get
``{"type": "event.updated", "event_id": ..., "change": "updated" | "deleted" | "rsvp"}`` on their WebSocket
connections when it changes (PATCH), is deleted, or an RSVP changes.

One publisher, :func:`publish`: up to ``fanout_inline_max`` recipients are served inline (two bounded Queries
find out); beyond that an ``event.updated`` job pages through the members, then the invitees, a chunk per run,
at most one per event and change in each ``COALESCE_SECONDS`` window (its id holds the window, and a second
publish of an id is a no-op), so a burst of RSVPs to a big event is one fan-out, not one per RSVP (a change
made after that window's job ran is announced with the next one; the frame only says "re-read").
A PATCH never fans out inline: its outbox row commits in the event's update transaction (:func:`outbox_row`)
and one job is enqueued (no extra DynamoDB call). A deletion is announced by the ``event.deleted`` consumers
that remove the members and the invitations, each to the chunk it is about to delete (the rows are the only
record of who they were). Frames are best effort and may be repeated by a redelivered job; clients re-read.
"""

from __future__ import annotations

import time
from typing import Any

from chalicelib.config import get_settings
from chalicelib.logs import get_logger
from chalicelib.models import events as events_store
from chalicelib.models import invitations as invitations_store
from chalicelib.models.invitations import PENDING

log = get_logger(__name__)
CHANGES = ("updated", "deleted", "rsvp")
JOB = "event.updated"
COALESCE_SECONDS = 5  # beyond the inline bound, one job per event and change per this many seconds


def frame(event_id: str, change: str) -> dict[str, Any]:
    return {"type": "event.updated", "event_id": event_id, "change": change}


def send_now(event_id: str, change: str, user_ids: list[str]) -> int:
    """Push the frame to each user's live connections now (best effort); returns how many were delivered."""
    from chalicelib.realtime import push

    delivered = 0
    for user_id in dict.fromkeys(user_ids):
        delivered += push.send_to_user(user_id, frame(event_id, change))
    return delivered


def publish(event_id: str, change: str) -> None:
    """Tell the event's owner, members and pending invitees that it changed: inline when they are few, else in
    an ``event.updated`` job."""
    if change not in CHANGES:
        raise ValueError(f"unknown change {change!r}")
    event = events_store.event_by_id(event_id)
    if event is None:
        return
    bound = max(1, get_settings().fanout_inline_max)
    members = [m.user_id for m in events_store.members_of(event_id, limit=bound + 1)]
    invited = list(invitations_store.invitations_of_event(event_id, limit=bound + 1))
    if len(members) + len(invited) > bound:
        from chalicelib import jobs

        bucket = int(time.time() // COALESCE_SECONDS)  # a burst of RSVPs is one job (publish: once per id)
        jobs.publish(JOB, f"{JOB}:{event_id}:{change}:t{bucket}", {"event_id": event_id, "change": change})
        return
    send_now(event_id, change, [event.owner_id, *members, *(i.user_id for i in invited if i.status == PENDING)])


def outbox_row(event_id: str, change: str, version: int):
    """The ``event.updated`` outbox row to commit in the transaction of the change (keyed by the event's new
    version, so a retried request publishes once). It is written as dispatched: call :func:`dispatch` after
    the commit, which sends its job without another write (and, only if sending fails, leaves the row to the
    relay)."""
    from chalicelib import jobs

    row = jobs.outbox_row(JOB, f"{JOB}:{event_id}:{change}:v{version}", {"event_id": event_id, "change": change})
    row.undispatched = None
    row.dispatched = True
    return row


def dispatch(row) -> None:
    from chalicelib import jobs
    from chalicelib.models.jobs import UNDISPATCHED, JobEvent

    try:
        jobs.enqueue([jobs.Job(row.type, row.event_id, name) for name in jobs.registry.consumers_of(row.type)])
    except Exception:
        log.warning("event.updated not sent; the relay will send it", exc_info=True)
        JobEvent(event_id=row.event_id).update(
            actions=[JobEvent.dispatched.set(False), JobEvent.undispatched.set(UNDISPATCHED)],
            condition=JobEvent.event_id.exists(),
        )


def on_updated(payload: dict[str, Any], cursor: Any, limit: int) -> Any:
    """``event.updated`` consumer: the owner and a page of members per run, then a page of pending invitees
    per run (the cursor holds the phase and the Query's page key)."""
    event_id, change = payload["event_id"], payload["change"]
    state = cursor or {}
    if state.get("phase") != "invitees":
        event = events_store.event_by_id(event_id)
        if event is None:
            return None  # deleted meanwhile: its deletion is announced on its own
        rows = events_store.members_of(event_id, limit, state.get("key"))
        members = [m.user_id for m in rows]
        send_now(event_id, change, ([] if state else [event.owner_id]) + members)
        last = rows.last_evaluated_key
        return {"phase": "members", "key": last} if len(members) >= limit and last else {"phase": "invitees"}
    rows = invitations_store.invitations_of_event(event_id, limit, state.get("key"))
    found = list(rows)
    send_now(event_id, change, [r.user_id for r in found if r.status == PENDING])
    last = rows.last_evaluated_key
    return {"phase": "invitees", "key": last} if len(found) >= limit and last else None
