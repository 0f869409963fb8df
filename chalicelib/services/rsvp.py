"""RSVPs to events: ``going`` or ``interested``, bounded by the event's ``capacity``, and the attendee listing.

Who may RSVP: public and unlisted events, anyone logged in; private ones, their members (and staff). Everyone
else gets 404, so a private event's existence does not leak, except a pending invitee, who may read the event
and gets 403 ``invitation_not_accepted``: they accept first (which makes them a viewer member). A user blocked
by the host (or who blocked the host) gets 403 ``blocked``. The host does not RSVP (409 ``is_host``): the host
attends their own event without taking a seat, and counts as an attendee for ratings.

Withdrawing (``DELETE``) needs no access: whoever has an RSVP row may withdraw it (until the event has ended),
so no seat is stranded by a lost membership, a block or a visibility change. A user who loses their way into
a private event before it ends loses their RSVP with it (:func:`access_lost`, one row): declining its
invitation, or being removed from (or leaving) its members; an event made private drops the RSVPs of all who
are not its members, in a job (:func:`on_event_visibility_changed`).

Capacity: ``going`` needs a free seat, ``going_count < capacity`` checked by DynamoDB in the transaction that
writes the RSVP (``models/rsvp.py``), so under any concurrency exactly the free seats are taken and the others
get 409 ``event_full``. ``interested`` never needs a seat. Lowering ``capacity`` below ``going_count`` is
allowed: nobody is dropped, and nobody new gets ``going`` until enough have left.

Once the event has ended (``ended_at``) RSVPs are frozen (409 ``event_ended``): they are who went, which is
what ratings rely on. Replays are idempotent: the same status again changes nothing and answers the same.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from chalicelib.errors import ConflictError, ForbiddenError, NotFoundError
from chalicelib.models import rsvp as store
from chalicelib.models.base import now
from chalicelib.models.events import Event, event_by_id
from chalicelib.models.rsvp import FAILED, Rsvp
from chalicelib.pagination import decode, page
from chalicelib.services import blocks
from chalicelib.services import events as events_service

# An event without ``ends_at`` ends this long after ``starts_at``; one with neither time never ends.
DEFAULT_DURATION = timedelta(hours=24)
_ATTEMPTS = 5  # re-reads when the caller's own RSVP changed between the read and the write


def ended_at(event: Event) -> datetime | None:
    """When the event is over: ``ends_at``, else ``starts_at`` + DEFAULT_DURATION, else never (None)."""
    if event.ends_at is not None:
        return event.ends_at
    if event.starts_at is not None:
        return event.starts_at + DEFAULT_DURATION
    return None


def has_ended(event: Event, at: datetime | None = None) -> bool:
    end = ended_at(event)
    return end is not None and end <= (at or now())


def counts(event: Event) -> tuple[int, int]:
    """(going, interested) of an event row already read (missing reads as 0)."""
    return max(0, int(event.going_count or 0)), max(0, int(event.interested_count or 0))


def _open_event(principal: Any, event_id: str) -> Event:
    event, role = events_service.access(principal, event_id, consistent=True)
    if event.visibility == "private" and role is None and not principal.is_staff:
        raise ForbiddenError(  # readable only through a pending invitation
            "Accept the invitation before you RSVP.", code="invitation_not_accepted"
        )
    if principal.user_id == event.owner_id:
        raise ConflictError("You host this event; hosts attend without an RSVP.", code="is_host")
    if has_ended(event):
        raise ConflictError("The event has ended; RSVPs are closed.", code="event_ended")
    blocks.require_not_blocked(principal.user_id, event.owner_id, "You cannot RSVP to this user's events.")
    return event


def _rsvp_changed(event: Event, user_id: str, status: str | None) -> None:
    """The one place an RSVP change (status None: cancelled) has committed: members and invitees get an
    ``event.updated`` frame with ``change: "rsvp"`` from here (inline for a few, else an ``event.updated`` job)."""
    from chalicelib.services import event_updates

    event_updates.publish(event.event_id, "rsvp")


def set_rsvp(principal: Any, event_id: str, status: str) -> tuple[Rsvp, Event]:
    """Answer ``going`` or ``interested``; the RSVP and the event as they are now. 409 ``event_full`` when
    ``going`` finds no free seat (a user already going keeps their seat)."""
    if status not in store.STATUSES:
        raise ValueError(status)
    event = _open_event(principal, event_id)
    user_id = principal.user_id
    for _ in range(_ATTEMPTS):
        previous = store.rsvp_of(event.event_id, user_id)
        if previous is not None and previous.status == status:
            return previous, event
        codes, row = store.change(event.event_id, user_id, previous.status if previous else None, status)
        if not codes:
            fresh = event_by_id(event.event_id, consistent=True) or event
            if fresh.visibility == "private" and not principal.is_staff and access_lost(fresh, user_id):
                # Made private (or the caller removed) while this answer was on its way, perhaps after the
                # visibility job had passed: it goes again, as the job would have withdrawn it.
                raise NotFoundError("No such event.")
            _rsvp_changed(fresh, user_id, status)
            return row, fresh
        if codes[0] == FAILED:
            continue  # the caller's RSVP changed meanwhile (another device): read it again
        if codes[1] == FAILED:
            if event_by_id(event.event_id, consistent=True) is None:
                raise NotFoundError("No such event.")
            raise ConflictError("The event is full.", code="event_full", details={"status": "no seat left"})
        raise NotFoundError("No such user.")
    raise ConflictError("Your RSVP changed concurrently; retry.", code="contention")


def cancel_rsvp(principal: Any, event_id: str) -> bool:
    """Withdraw the caller's RSVP (its seat frees at once); False if there was none (still a 204). Whoever has
    an RSVP may withdraw it, whatever their access now; without one, the event must be readable (else 404)."""
    user_id = principal.user_id
    if store.rsvp_of(event_id, user_id) is None:
        events_service.access(principal, event_id)
        return False
    event = event_by_id(event_id, consistent=True)
    if event is not None and has_ended(event):
        raise ConflictError("The event has ended; RSVPs are closed.", code="event_ended")
    return withdraw(event_id, user_id)


def access_lost(event: Event, user_id: str, *, announce: bool = True) -> bool:
    """``user_id`` no longer may read the event (declined its invitation, left or was removed): if it is private
    and not over, their RSVP goes (one row), so they hold no seat they cannot see. Ended events keep theirs."""
    if event.visibility != "private" or has_ended(event) or user_id == event.owner_id:
        return False
    if events_service.member_role(event, user_id) is not None:
        return False  # still a member (e.g. added by the owner while invited)
    return withdraw(event.event_id, user_id, announce=announce)


def withdraw(event_id: str, user_id: str, *, announce: bool = True) -> bool:
    """Remove ``user_id``'s RSVP to the event, if any, and free its seat (one row, its own counting
    transaction); False if there was none. Members and invitees get the ``rsvp`` frame (unless ``announce`` is
    False: a caller withdrawing many sends one for all)."""
    for _ in range(_ATTEMPTS):
        previous = store.rsvp_of(event_id, user_id)
        if previous is None:
            return False
        codes, _ = store.change(event_id, user_id, previous.status, None)
        if not codes:
            event = event_by_id(event_id) if announce else None
            if event is not None:
                _rsvp_changed(event, user_id, None)
            return True
        if codes[0] == FAILED:
            continue
        if codes[1] == FAILED:  # the event is gone: its job removes the rows, this one now
            previous.delete()
            return True
        raise NotFoundError("No such user.")
    raise ConflictError("Your RSVP changed concurrently; retry.", code="contention")


def attended(event: Event, user_id: str) -> bool:
    """Whether ``user_id`` went to the event: its host, or RSVP ``going`` (one GetItem)."""
    if user_id == event.owner_id:
        return True
    row = store.rsvp_of(event.event_id, user_id)
    return row is not None and row.status == "going"


def attendees(
    principal: Any, event_id: str, status: str | None, limit: int, cursor: str | None
) -> tuple[list[Rsvp], str | None]:
    """The event's RSVPs, ``going`` first (then oldest answer first), or only ``status``; for those who may
    read the event (404 otherwise). The host is the event's ``owner``, not listed here."""
    events_service.access(principal, event_id)
    key = f"events:attendees:{event_id}:{status or 'all'}"
    return page(key, store.attendees(event_id, status, limit, decode(key, cursor)), limit)


# ---- background jobs (chalicelib/jobs/registry.py) ----------------------------------------------------------


def on_user_deleted(payload: dict[str, Any], cursor: Any, limit: int) -> Any:
    """``user.deleted``: withdraw the user's RSVPs, so their seats free (each in its own counting
    transaction, whatever the event's end; a row already gone or changed is simply read again next run)."""
    user_id = payload["user_id"]
    rows = store.rsvps_of_user(user_id, limit)
    for row in rows:
        codes, _ = store.change(row.event_id, user_id, row.status, None)
        if codes and codes[0] != FAILED and codes[1] == FAILED:  # the event is gone: its job removes the row
            row.delete()
    return {} if len(rows) >= limit else None


def on_event_visibility_changed(payload: dict[str, Any], cursor: Any, limit: int) -> Any:
    """``event.visibility_changed``: an event made private (and not over) keeps the RSVPs of its members only;
    each other one is withdrawn like :func:`access_lost` (its own counting transaction, so the seat frees, and
    the ``rsvp`` frame). It reads the event as it is now, so a late or repeated job converges: an event made
    public again keeps everyone. The cursor is the attendee index's page key."""
    event = event_by_id(payload["event_id"], consistent=True)
    if event is None or event.visibility != "private" or has_ended(event):
        return None
    found = store.attendees(event.event_id, None, limit, (cursor or {}).get("key"))
    rows = list(found)
    # Deleting rows behind the page key is safe (DynamoDB resumes after the key, present or not); a row whose
    # status changed mid-run may be visited twice, and withdrawing it again does nothing.
    withdrawn = [row.user_id for row in rows if access_lost(event, row.user_id, announce=False)]
    if withdrawn:
        _rsvp_changed(event, withdrawn[0], None)  # one frame for the page
    last = found.last_evaluated_key
    return {"key": last} if len(rows) >= limit and last else None


def on_event_deleted(payload: dict[str, Any], cursor: Any, limit: int) -> Any:
    """``event.deleted``: the RSVP rows of the deleted event, a chunk at a time."""
    return {} if store.delete_rsvps(payload["event_id"], limit) >= limit else None
