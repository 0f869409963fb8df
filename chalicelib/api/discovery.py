"""Creator discovery: GET /creators/{user_id} (the public card), GET /creators/{user_id}/posts.

See chalicelib/services/discovery.py and docs/creators.md.
"""

from __future__ import annotations

from typing import Any

from chalicelib.api.photos import PhotoPage
from chalicelib.api.routing import PublicCtx, route
from chalicelib.api.schema_base import Out, PageQuery
from chalicelib.pagination import decode, encode
from chalicelib.services import discovery, photos

TAGS = ("creators",)


class PlanOut(Out):
    price_cents: int
    currency: str


class CreatorOut(Out):
    user_id: str
    username: str
    display_name: str | None
    verified: bool
    plan: PlanOut | None
    subscriber_count: int
    post_count: int


@route("/creators/{user_id}", "GET", response=CreatorOut, auth="optional", tags=TAGS, responses=(404,))
def creator(ctx: PublicCtx, user_id: str) -> dict[str, Any]:
    """A creator's public card: verified badge, monthly plan, subscriber and post counts."""
    return discovery.creator_view(user_id)


@route(
    "/creators/{user_id}/posts",
    "GET",
    query=PageQuery,
    response=PhotoPage,
    auth="optional",
    tags=TAGS,
    responses=(404,),
)
def posts(ctx: PublicCtx[None, PageQuery], user_id: str) -> PhotoPage:
    """A creator's media, newest first; premium items the caller is not entitled to come back ``locked``."""
    who = ctx.principal.user_id if ctx.principal else "anonymous"
    scope = f"creator-posts:{user_id}:{who}"
    results = discovery.posts_query(user_id, ctx.query.limit, decode(scope, ctx.query.cursor))
    keys = list(results)
    cursor = encode(scope, results.last_evaluated_key) if len(keys) >= ctx.query.limit else None
    found = photos.photos_by_ids([k.photo_id for k in keys])
    return PhotoPage(items=photos.views(ctx.principal, found, discovery=True), next_cursor=cursor)
