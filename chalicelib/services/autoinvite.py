"""Auto-invite: users set interests, a home and a radius and opt in (``PATCH /auth/me``); a public event with
``auto_invite`` and ``interest_tags`` (and a location) invites, in the ``event.auto_invite`` job, up to
``MAX_INVITES`` opted-in users whose interests overlap its tags and whose home lies within their own radius of
the event.

Found through the index in :mod:`chalicelib.models.autoinvite` (never a Scan): one Query per (tag, precision)
for the event's cell, each candidate checked exactly against its own radius; the cost follows the users indexed
near the event, not all users. Never the same user twice for one event: the invitation row is written with
attribute_not_exists together with the event's ``auto_invited`` counter (conditioned on the cap) in one
transaction. Declined, blocked (either way), members and the owner are skipped.

The index follows the user's settings in the ``user.autoinvite_changed`` job, which rewrites the user's rows
from the user's current row (idempotent: any run converges on the latest settings).
"""

from __future__ import annotations

from typing import Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib import geo
from chalicelib.errors import ValidationError
from chalicelib.models import autoinvite as store
from chalicelib.models import invitations as invitations_store
from chalicelib.models.base import cancellation_codes, new_id
from chalicelib.models.events import Event, EventCounters, EventMember

MAX_INTERESTS = 10
MAX_TERM_LENGTH = 32
MIN_RADIUS_KM, MAX_RADIUS_KM = 1, 500
MAX_CELLS = 12  # index rows per interest; more only near the poles (refused there with 400)
MAX_INVITES = 200  # per event


AutoInvited = EventCounters  # the event row's ``auto_invited`` counter (no version bump)


def normalise_terms(values: list[str]) -> list[str]:
    """Lower-case, trimmed, inner whitespace collapsed, deduplicated (first spelling's order)."""
    return list(dict.fromkeys(" ".join(v.split()).lower() for v in values if v.strip()))


def cover(lat: float, lon: float, radius_km: float) -> tuple[int, list[str]]:
    precision, cells = geo.cells_for_radius(lat, lon, radius_km, min_precision=store.PRECISIONS[0])
    if len(cells) > MAX_CELLS:
        raise ValidationError(
            "This close to a pole, choose a smaller radius.", details={"radius_km": "too large at this latitude"}
        )
    return precision, cells


# ---- the user's settings and their index rows ----------------------------------------------------------------


def update_settings(user: Any, changes: dict[str, Any]) -> Any:
    """Apply ``interests`` (list), ``home`` ({lat, lon} or None), ``radius_km``, ``auto_invite`` from ``changes``;
    the index follows in a job. (``PATCH /auth/me`` writes these with the profile in one update:
    :func:`settings_actions` and :func:`settings_changed` through ``accounts.update_profile``.)"""
    actions = settings_actions(user, changes)
    if not actions:
        return user
    user.update(actions=actions)
    settings_changed(user)
    return user


def settings_actions(user: Any, changes: dict[str, Any]) -> list:
    """The update actions of these settings, validated (400 for a home and radius that cannot be indexed);
    nothing is written."""
    from chalicelib.models.users import User

    actions = []
    if "interests" in changes:
        terms = set(normalise_terms(changes["interests"] or []))
        actions.append(User.interests.set(terms) if terms else User.interests.remove())
    if "home" in changes:
        home = changes["home"]
        actions += (
            [User.home_lat.set(home.lat), User.home_lon.set(home.lon)]
            if home
            else [User.home_lat.remove(), User.home_lon.remove()]
        )
    if "radius_km" in changes:
        radius = changes["radius_km"]
        actions.append(User.radius_km.set(radius) if radius is not None else User.radius_km.remove())
    if "auto_invite" in changes:
        actions.append(User.auto_invite.set(bool(changes["auto_invite"])))
    if not actions:
        return []
    home = changes.get("home")
    lat = home.lat if home else (user.home_lat if "home" not in changes else None)
    lon = home.lon if home else (user.home_lon if "home" not in changes else None)
    radius = changes.get("radius_km", user.radius_km)
    if lat is not None and lon is not None and radius is not None:
        cover(float(lat), float(lon), float(radius))  # refuse what cannot be indexed before writing
    return actions


def settings_changed(user: Any) -> None:
    """After the settings were written: the job that rewrites the user's index rows."""
    from chalicelib import jobs

    jobs.publish(
        "user.autoinvite_changed", f"user.autoinvite_changed:{user.user_id}:{new_id('')}", {"user_id": user.user_id}
    )


def wanted_rows(user: Any) -> list[store.InterestCell]:
    """The index rows the user's current settings call for (none unless opted in with everything set)."""
    if user is None or not user.auto_invite or not user.interests or user.home_lat is None or user.radius_km is None:
        return []
    lat, lon, radius = float(user.home_lat), float(user.home_lon), float(user.radius_km)
    _, cells = geo.cells_for_radius(lat, lon, radius, min_precision=store.PRECISIONS[0])
    return [
        store.InterestCell(
            cell_key=store.cell_key(term, cell), user_id=user.user_id, home_lat=lat, home_lon=lon, radius_km=radius
        )
        for term in sorted(user.interests)
        for cell in cells[:MAX_CELLS]
    ]


def on_settings_changed(payload: dict[str, Any], cursor: Any, limit: int) -> Any:
    """``user.autoinvite_changed`` consumer: rewrite the user's index rows from their row as it is now (at most
    ``MAX_INTERESTS * MAX_CELLS`` rows each way, in batch writes)."""
    from chalicelib.models.users import user_by_id

    user = user_by_id(payload["user_id"], consistent=True)
    rows = wanted_rows(user)
    wanted = {r.cell_key for r in rows}
    store.replace_rows(payload["user_id"], [k for k in store.keys_of_user(payload["user_id"]) if k not in wanted], rows)
    return None


def on_user_deleted(payload: dict[str, Any], cursor: Any, limit: int) -> Any:
    """``user.deleted`` consumer: the user's index rows."""
    store.replace_rows(payload["user_id"], store.keys_of_user(payload["user_id"]), [])
    return None


# ---- events --------------------------------------------------------------------------------------------------


def qualifies(event: Event) -> bool:
    return bool(event.visibility == "public" and event.auto_invite and event.interest_tags and event.geohash)


def request(event: Event, qualified_before: bool = False) -> bool:
    """Publish ``event.auto_invite`` if the event qualifies now and did not before (created, or enabled by a
    PATCH). Keyed by the event's version, so a retried request publishes once."""
    from chalicelib import jobs

    if not qualifies(event) or qualified_before:
        return False
    return jobs.publish(
        "event.auto_invite", f"event.auto_invite:{event.event_id}:{event.version or 0}", {"event_id": event.event_id}
    )


def on_auto_invite(payload: dict[str, Any], cursor: Any, limit: int) -> Any:
    """``event.auto_invite`` consumer: one page (``limit`` rows) of one (tag, precision) cell per run; the
    cursor is the cell's index and the Query's page key. Stops at ``MAX_INVITES``."""
    from chalicelib.models.events import event_by_id

    event = event_by_id(payload["event_id"], consistent=True)
    if event is None or not qualifies(event):
        return None
    keys = [store.cell_key(tag, event.geohash[:p]) for tag in sorted(event.interest_tags) for p in store.PRECISIONS]
    state = cursor or {}
    index = int(state.get("i", 0))
    if index >= len(keys):
        return None
    result = store.users_in(keys[index], limit, state.get("key"))
    rows = list(result)
    lat, lon = float(event.location_lat), float(event.location_lon)
    near = [
        r.user_id
        for r in rows
        if r.user_id != event.owner_id
        and geo.distance_km(float(r.home_lat), float(r.home_lon), lat, lon) <= float(r.radius_km)
    ]
    if not invite_candidates(event, still_wanted(event, near)):
        return None  # the cap is reached
    last = result.last_evaluated_key
    return {"i": index, "key": last} if len(rows) >= limit and last else {"i": index + 1}


def still_wanted(event: Event, user_ids: list[str]) -> list[str]:
    """Those of ``user_ids`` whose own row (one BatchGetItem per page of candidates) still asks for this event:
    opted in, an interest among its tags, home within their radius, not deleted, not suspended. The index rows
    that found them may be stale (a settings change not yet rewritten, or read from the eventually consistent
    index), so they only nominate."""
    from chalicelib.models.users import User

    ids = list(dict.fromkeys(user_ids))
    if not ids:
        return []
    lat, lon = float(event.location_lat), float(event.location_lon)
    tags = set(event.interest_tags or ())
    wanted = set()
    for user in User.batch_get(ids):
        if (
            user.deleted
            or user.suspended
            or not user.auto_invite
            or not tags & set(user.interests or ())
            or user.home_lat is None
            or user.home_lon is None
            or user.radius_km is None
        ):
            continue
        if geo.distance_km(float(user.home_lat), float(user.home_lon), lat, lon) <= float(user.radius_km):
            wanted.add(user.user_id)
    return [u for u in ids if u in wanted]


def invite_candidates(event: Event, user_ids: list[str]) -> bool:
    """Invite those not members, not blocked either way and never invited; False once the cap is reached."""
    from chalicelib.services import blocks, invitations

    ids = list(dict.fromkeys(user_ids))
    if not ids:
        return True
    members = {m.user_id for m in EventMember.batch_get([(event.event_id, u) for u in ids])}
    blocked = blocks.blocked_among(event.owner_id, ids)
    invited: list[str] = []
    capped = False
    for user_id in ids:
        if user_id in members or user_id in blocked:
            continue
        outcome = _invite_one(event.event_id, user_id)
        if outcome == "capped":
            capped = True
            break
        if outcome == "invited":
            invited.append(user_id)
    invitations.notify_invited(event, invited, None)
    return not capped


def _invite_one(event_id: str, user_id: str) -> str:
    """ "invited", "exists" (invited, declined or accepted before) or "capped"."""
    row = invitations_store.new_invitation(event_id, user_id, None, source="auto")
    counter = AutoInvited(event_id=event_id)
    try:
        with TransactWrite(connection=invitations_store.Invitation._get_connection().connection) as tx:
            tx.save(row, condition=invitations_store.Invitation.user_id.does_not_exist())
            tx.update(
                counter,
                actions=[AutoInvited.auto_invited.add(1)],
                condition=AutoInvited.event_id.exists()
                & (AutoInvited.auto_invited.does_not_exist() | (AutoInvited.auto_invited < MAX_INVITES)),
            )
    except TransactWriteError as exc:
        codes = cancellation_codes(exc)
        if codes and codes[0] == "ConditionalCheckFailed":
            return "exists"
        if len(codes) > 1 and codes[1] == "ConditionalCheckFailed":
            return "capped"
        raise
    return "invited"
