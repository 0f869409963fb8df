"""The one entitlement decision: which variants of a photo may this caller see, and is it listed for them?

``decide`` is a PURE function of plain facts (no I/O, no models, no clock): the facts for a whole page are
gathered first, one query or batch read per grant source (:mod:`chalicelib.services.photos_access`), then
decided photo by photo. See docs/entitlements.md for the table of cases and the cost per page.

Grant sources and what each gives (a union), before the item's access policy restricts it:
- uploader and staff ........................... everything, original included, whatever the status
- event owner and contributors .................. everything, original included (once ready)
- event viewers ................................. the event's ``viewer_variants`` policy
- public policy: public/unlisted events, public
  photos outside events ......................... the event's ``public_variants`` policy (``full`` outside events)
- a share link .................................. exactly the variant it was made for
- client assignment (next) ...................... thumb and watermarked
- purchase (next) ............................... the variants bought
- subscription (next) ........................... unlocks ``subscribers`` items of that creator

Restrictions:
- before ``ready`` only the uploader and staff see a photo at all (rejection reason included);
- a draft (``published`` false) likewise: no other grant (event role, public policy, share link, purchase,
  assignment, subscription) shows it, and it is never public (so it is kept out of the public indexes);
- an item's access policy ``subscribers|paid`` cuts what viewer membership and public policy would give down
  to ``preview`` (``locked``) unless a subscription (``subscribers``) or a purchase unlocks it. Ownership, event
  roles that may contribute, share links, assignments and purchases are explicit grants and are not cut.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Variant = str
Access = Literal["free", "subscribers", "paid"]

READY = "ready"
# Videos share the names: thumb/medium/large are their poster frame's sizes, ``poster`` the frame, ``stream`` the
# playable rendition; ``preview`` is a photo's blurred, watermarked image or a video's short watermarked clip, and
# ``preview_poster`` a video's blurred, watermarked frame (shown as ``urls.poster`` to a caller it is locked for).
ALL: frozenset[Variant] = frozenset(
    {"thumb", "medium", "large", "watermarked", "original", "poster", "stream", "preview", "preview_poster"}
)
FULL: frozenset[Variant] = frozenset({"thumb", "medium", "large", "watermarked", "poster", "stream"})
WATERMARKED: frozenset[Variant] = frozenset({"thumb", "watermarked"})  # a video under this policy: its thumb only
PREVIEW: frozenset[Variant] = frozenset({"preview", "preview_poster"})
NONE: frozenset[Variant] = frozenset()
POLICY = {"full": FULL, "watermarked": WATERMARKED}
ACCESS_POLICIES: tuple[Access, ...] = ("free", "subscribers", "paid")
EVENT_ROLES = ("owner", "contributor", "viewer")


@dataclass(frozen=True)
class Caller:
    user_id: str | None = None
    is_staff: bool = False


ANONYMOUS = Caller()


@dataclass(frozen=True)
class EventPolicy:
    """What of an event matters to the decision."""

    visibility: str  # public | unlisted | private
    viewer_variants: str = "full"
    public_variants: str = "full"


@dataclass(frozen=True)
class Item:
    """What of a photo matters to the decision."""

    photo_id: str
    owner_id: str
    status: str = READY
    event_id: str | None = None
    visibility: str = "public"  # photos outside events: public | private
    access: Access = "free"
    published: bool = True  # False: a draft (the uploader and staff only)


@dataclass(frozen=True)
class Grants:
    """What the per-page grant sources found for one item (all empty by default: absent sources cost nothing)."""

    share: frozenset[Variant] = NONE  # a valid share link presented with this request
    assigned: bool = False  # client assignment (professional delivery)
    purchased: frozenset[Variant] = NONE  # variants bought (a pay-per-view purchase buys FULL)
    subscribed: bool = False  # an active subscription to the item's owner

    def __or__(self, other: Grants) -> Grants:
        return Grants(
            share=self.share | other.share,
            assigned=self.assigned or other.assigned,
            purchased=self.purchased | other.purchased,
            subscribed=self.subscribed or other.subscribed,
        )


NO_GRANTS = Grants()


@dataclass(frozen=True)
class Facts:
    """Everything known about one item for one caller."""

    event: EventPolicy | None = None  # the item's event (None outside events, or when it is gone)
    role: str | None = None  # the caller's role in that event: owner | contributor | viewer | None
    grants: Grants = field(default=NO_GRANTS)


@dataclass(frozen=True)
class Decision:
    variants: frozenset[Variant]  # what the caller may see (signed URLs are made for these only)
    listed: bool  # may appear in discovery listings (search, by owner, tagged-in, feed) for this caller
    locked: bool = False  # premium item shown as a preview only

    @property
    def visible(self) -> bool:
        return bool(self.variants)


DENIED = Decision(NONE, listed=False)


def is_public(item: Item, event: EventPolicy | None) -> bool:
    """Whether anonymous callers may discover it: its place in the public listings."""
    if not item.published:
        return False
    if item.event_id:
        return event is not None and event.visibility == "public"
    return item.visibility == "public"


def decide(caller: Caller, item: Item, facts: Facts) -> Decision:
    """The decision for one item. Pure: the same inputs always give the same answer."""
    if caller.is_staff or (caller.user_id is not None and caller.user_id == item.owner_id):
        return Decision(ALL, listed=True)
    if item.status != READY or not item.published:
        return DENIED  # only the uploader and staff see a photo before it is processed, or while a draft
    event, role, grants = facts.event, facts.role, facts.grants
    if item.event_id and event is None:
        return DENIED  # the event is gone
    if role in ("owner", "contributor"):
        return Decision(ALL, listed=True)
    audience: frozenset[Variant] = NONE  # what membership as a viewer and public policy give
    if event is not None:
        if role == "viewer":
            audience |= POLICY.get(event.viewer_variants or "full", FULL)
        if event.visibility in ("public", "unlisted"):
            audience |= POLICY.get(event.public_variants or "full", FULL)
    elif item.visibility == "public":
        audience |= FULL
    locked = False
    if audience and item.access != "free":
        unlocked = bool(grants.purchased) or (item.access == "subscribers" and grants.subscribed)
        if not unlocked:
            audience, locked = PREVIEW, True
    granted = audience | grants.share | grants.purchased
    if grants.assigned:
        granted |= WATERMARKED
    if grants.purchased or grants.assigned:
        locked = False
    listed = role is not None or grants.assigned or is_public(item, event)
    return Decision(frozenset(granted), listed=bool(granted) and listed, locked=locked)


def decide_page(
    caller: Caller, items: list[Item], facts: dict[str, Facts], *, discovery: bool = False
) -> dict[str, Decision]:
    """``decide`` for a page. ``discovery``: listings that find photos (search, by owner, tagged-in, feed)
    rather than open a known event or link also require the item to be listed for the caller."""
    out = {}
    for item in items:
        decision = decide(caller, item, facts.get(item.photo_id, Facts()))
        out[item.photo_id] = DENIED if discovery and not decision.listed else decision
    return out
