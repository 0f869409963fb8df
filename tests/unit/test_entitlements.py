"""The entitlement decision as a table of cases: plain data in, a decision out. No moto, no AWS."""

from __future__ import annotations

import pytest

from chalicelib.services.entitlements import (
    ALL,
    ANONYMOUS,
    FULL,
    NONE,
    PREVIEW,
    WATERMARKED,
    Caller,
    EventPolicy,
    Facts,
    Grants,
    Item,
    decide,
    decide_page,
)

UPLOADER = Caller("u_uploader")
STAFF = Caller("u_staff", is_staff=True)
STRANGER = Caller("u_stranger")

PRIVATE = EventPolicy("private")
PRIVATE_WM = EventPolicy("private", viewer_variants="watermarked")
PUBLIC = EventPolicy("public")
PUBLIC_WM = EventPolicy("public", public_variants="watermarked")
UNLISTED = EventPolicy("unlisted")


def photo(**kw) -> Item:
    return Item(**{"photo_id": "p1", "owner_id": "u_uploader", **kw})


def event_photo(**kw) -> Item:
    return photo(**{"event_id": "e1", **kw})


CASES = [
    # (name, caller, item, facts, variants, listed, locked)
    ("uploader sees all", UPLOADER, photo(), Facts(), ALL, True, False),
    ("uploader sees own processing photo", UPLOADER, photo(status="processing"), Facts(), ALL, True, False),
    ("uploader sees own rejected photo", UPLOADER, photo(status="rejected"), Facts(), ALL, True, False),
    ("staff see processing photos", STAFF, event_photo(status="processing"), Facts(PRIVATE), ALL, True, False),
    ("anonymous: public photo", ANONYMOUS, photo(), Facts(), FULL, True, False),
    ("anonymous: private photo", ANONYMOUS, photo(visibility="private"), Facts(), NONE, False, False),
    ("anonymous: processing public photo", ANONYMOUS, photo(status="processing"), Facts(), NONE, False, False),
    # events
    ("event owner", STRANGER, event_photo(), Facts(PRIVATE, "owner"), ALL, True, False),
    ("contributor", STRANGER, event_photo(), Facts(PRIVATE, "contributor"), ALL, True, False),
    ("viewer", STRANGER, event_photo(), Facts(PRIVATE, "viewer"), FULL, True, False),
    ("viewer, watermarked policy", STRANGER, event_photo(), Facts(PRIVATE_WM, "viewer"), WATERMARKED, True, False),
    ("outsider, private event", STRANGER, event_photo(), Facts(PRIVATE), NONE, False, False),
    ("outsider, public event", STRANGER, event_photo(), Facts(PUBLIC), FULL, True, False),
    ("outsider, public watermarked", ANONYMOUS, event_photo(), Facts(PUBLIC_WM), WATERMARKED, True, False),
    ("outsider, unlisted event: readable, not listed", STRANGER, event_photo(), Facts(UNLISTED), FULL, False, False),
    ("event gone", STRANGER, event_photo(), Facts(None, None), NONE, False, False),
    # 2.6: before ready only the uploader and staff
    (
        "event owner, processing",
        STRANGER,
        event_photo(status="processing"),
        Facts(PRIVATE, "owner"),
        NONE,
        False,
        False,
    ),
    (
        "contributor, rejected",
        STRANGER,
        event_photo(status="rejected"),
        Facts(PRIVATE, "contributor"),
        NONE,
        False,
        False,
    ),
    ("viewer, pending", STRANGER, event_photo(status="pending_upload"), Facts(PRIVATE, "viewer"), NONE, False, False),
    # drafts: the uploader and staff only, whatever else would grant it
    ("uploader sees own draft", UPLOADER, photo(published=False), Facts(), ALL, True, False),
    ("staff see drafts", STAFF, event_photo(published=False), Facts(PRIVATE), ALL, True, False),
    ("anonymous: public draft", ANONYMOUS, photo(published=False), Facts(), NONE, False, False),
    ("event owner: draft", STRANGER, event_photo(published=False), Facts(PUBLIC, "owner"), NONE, False, False),
    (
        "share link, draft",
        ANONYMOUS,
        photo(published=False),
        Facts(grants=Grants(share=frozenset({"original"}), purchased=FULL, assigned=True)),
        NONE,
        False,
        False,
    ),
    # share links: exactly the shared variant, never listed
    (
        "share link, private photo",
        ANONYMOUS,
        photo(visibility="private"),
        Facts(grants=Grants(share=frozenset({"original"}))),
        frozenset({"original"}),
        False,
        False,
    ),
    (
        "share link, processing photo",
        ANONYMOUS,
        photo(status="processing"),
        Facts(grants=Grants(share=frozenset({"original"}))),
        NONE,
        False,
        False,
    ),
    (
        "share link adds to public",
        ANONYMOUS,
        photo(),
        Facts(grants=Grants(share=frozenset({"original"}))),
        FULL | {"original"},
        True,
        False,
    ),
    # access policy restricts what public policy and viewer membership give
    ("paid, public photo, anonymous", ANONYMOUS, photo(access="paid"), Facts(), PREVIEW, True, True),
    ("paid, public event, outsider", STRANGER, event_photo(access="paid"), Facts(PUBLIC), PREVIEW, True, True),
    ("subscribers, viewer", STRANGER, event_photo(access="subscribers"), Facts(PRIVATE, "viewer"), PREVIEW, True, True),
    (
        "subscribers, subscribed",
        STRANGER,
        photo(access="subscribers"),
        Facts(grants=Grants(subscribed=True)),
        FULL,
        True,
        False,
    ),
    (
        "paid, subscribed is not enough",
        STRANGER,
        photo(access="paid"),
        Facts(grants=Grants(subscribed=True)),
        PREVIEW,
        True,
        True,
    ),
    ("paid, purchased", STRANGER, photo(access="paid"), Facts(grants=Grants(purchased=FULL)), FULL, True, False),
    (
        "paid, private photo: nothing to preview",
        STRANGER,
        photo(access="paid", visibility="private"),
        Facts(),
        NONE,
        False,
        False,
    ),
    ("paid, uploader", UPLOADER, photo(access="paid"), Facts(), ALL, True, False),
    ("paid, contributor", STRANGER, event_photo(access="paid"), Facts(PRIVATE, "contributor"), ALL, True, False),
    (
        "paid, share link still gives its variant",
        ANONYMOUS,
        photo(access="paid"),
        Facts(grants=Grants(share=frozenset({"watermarked"}))),
        PREVIEW | {"watermarked"},
        True,
        True,
    ),
    # client assignment and purchases (professional delivery, next issue)
    (
        "assigned client, private event",
        STRANGER,
        event_photo(),
        Facts(PRIVATE, grants=Grants(assigned=True)),
        WATERMARKED,
        True,
        False,
    ),
    (
        "assigned client who bought original",
        STRANGER,
        event_photo(),
        Facts(PRIVATE, grants=Grants(assigned=True, purchased=frozenset({"original"}))),
        WATERMARKED | {"original"},
        True,
        False,
    ),
    (
        "assigned client, processing",
        STRANGER,
        event_photo(status="processing"),
        Facts(PRIVATE, grants=Grants(assigned=True)),
        NONE,
        False,
        False,
    ),
]


@pytest.mark.parametrize(
    ("name", "caller", "item", "facts", "variants", "listed", "locked"), CASES, ids=[c[0] for c in CASES]
)
def test_decision_table(name, caller, item, facts, variants, listed, locked):
    decision = decide(caller, item, facts)
    assert (decision.variants, decision.listed, decision.locked) == (variants, listed, locked)
    assert decide(caller, item, facts) == decision  # pure: same facts, same answer


def test_discovery_drops_what_is_readable_but_not_listed():
    items = [event_photo(photo_id="unlisted"), event_photo(photo_id="public", event_id="e2")]
    facts = {"unlisted": Facts(UNLISTED), "public": Facts(PUBLIC)}
    opened = decide_page(STRANGER, items, facts)
    found = decide_page(STRANGER, items, facts, discovery=True)
    assert opened["unlisted"].variants == FULL and not found["unlisted"].visible
    assert found["public"].variants == FULL


def test_grants_combine():
    combined = Grants(share=frozenset({"original"})) | Grants(assigned=True) | Grants(purchased=frozenset({"large"}))
    assert combined == Grants(share=frozenset({"original"}), assigned=True, purchased=frozenset({"large"}))


# ---- premium items: videos and locked cases --------------------------------------------------------------

VIDEO_ONLY = frozenset({"poster", "stream"})
PREMIUM_CASES = [
    # (name, caller, item, facts, variants, listed, locked)
    ("subscribers, anonymous", ANONYMOUS, photo(access="subscribers"), Facts(), PREVIEW, True, True),
    ("subscribers, member not subscribed", STRANGER, photo(access="subscribers"), Facts(), PREVIEW, True, True),
    (
        "subscribers, subscribed, in a public watermarked event: the event's policy still applies",
        STRANGER,
        event_photo(access="subscribers"),
        Facts(PUBLIC_WM, grants=Grants(subscribed=True)),
        WATERMARKED,
        True,
        False,
    ),
    (
        "paid, public watermarked event, outsider: preview only",
        STRANGER,
        event_photo(access="paid"),
        Facts(PUBLIC_WM),
        PREVIEW,
        True,
        True,
    ),
    (
        "paid, private event, outsider: nothing",
        STRANGER,
        event_photo(access="paid"),
        Facts(PRIVATE),
        NONE,
        False,
        False,
    ),
    (
        "subscribers, private photo, subscribed: private stays private",
        STRANGER,
        photo(access="subscribers", visibility="private"),
        Facts(grants=Grants(subscribed=True)),
        NONE,
        False,
        False,
    ),
    ("paid, not ready, anonymous", ANONYMOUS, photo(access="paid", status="processing"), Facts(), NONE, False, False),
    ("paid, staff", STAFF, photo(access="paid"), Facts(), ALL, True, False),
    (
        "paid, event owner",
        STRANGER,
        event_photo(access="paid"),
        Facts(PRIVATE, "owner"),
        ALL,
        True,
        False,
    ),
]


@pytest.mark.parametrize(
    ("name", "caller", "item", "facts", "variants", "listed", "locked"),
    PREMIUM_CASES,
    ids=[c[0] for c in PREMIUM_CASES],
)
def test_premium_decision_table(name, caller, item, facts, variants, listed, locked):
    decision = decide(caller, item, facts)
    assert (decision.variants, decision.listed, decision.locked) == (variants, listed, locked)


@pytest.mark.parametrize("access", ["subscribers", "paid"])
@pytest.mark.parametrize("event", [None, PUBLIC, PUBLIC_WM, UNLISTED])
@pytest.mark.parametrize("role", [None, "viewer"])
@pytest.mark.parametrize("subscribed", [False, True])
def test_a_locked_item_never_gets_a_clean_variant(access, event, role, subscribed):
    """Whatever the event, role or subscription: when the decision says locked, only the preview variants
    (a video's clip and blurred frame) are allowed, never its poster, stream, sizes or original."""
    item = event_photo(access=access) if event else photo(access=access)
    decision = decide(STRANGER, item, Facts(event, role if event else None, Grants(subscribed=subscribed)))
    if decision.locked:
        assert decision.variants == PREVIEW
        assert not decision.variants & (VIDEO_ONLY | {"original", "large", "medium", "thumb", "watermarked"})
    else:
        assert access == "subscribers" and subscribed  # the one way in without a purchase


def test_a_subscription_to_one_creator_unlocks_nothing_of_another():
    """Grants are per item: the page's subscription source marks only items of creators the caller follows
    with an active subscription, so another creator's item decides with no grant."""
    mine = Item(photo_id="p1", owner_id="u_a", access="subscribers")
    theirs = Item(photo_id="p2", owner_id="u_b", access="subscribers")
    decisions = decide_page(
        STRANGER, [mine, theirs], {"p1": Facts(grants=Grants(subscribed=True)), "p2": Facts()}, discovery=True
    )
    assert not decisions["p1"].locked and decisions["p1"].variants == FULL
    assert decisions["p2"].locked and decisions["p2"].variants == PREVIEW


def test_a_purchase_unlocks_a_paid_video_whole():
    decision = decide(STRANGER, photo(access="paid"), Facts(grants=Grants(purchased=FULL)))
    assert not decision.locked and decision.variants >= VIDEO_ONLY and not decision.variants & PREVIEW


def test_a_draft_is_never_public():
    from chalicelib.services.entitlements import is_public

    assert is_public(photo(), None) and not is_public(photo(published=False), None)
    assert is_public(event_photo(), PUBLIC) and not is_public(event_photo(published=False), PUBLIC)
