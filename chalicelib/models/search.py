"""Inverted index for prefix and word search, so no search is a Scan.

- users by username / display-name prefix: pk ``user:<first 1 or 2 chars>``, sk ``<term>#<user_id>``;
  a query of 1 char reads the 1-char bucket, longer queries the 2-char bucket with ``begins_with``.
"""

from __future__ import annotations

from pynamodb.attributes import UnicodeAttribute
from pynamodb.models import Model

from chalicelib.models.base import register, table_meta


@register
class SearchEntry(Model):
    Meta = table_meta("search")

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    entity_id = UnicodeAttribute()


def _user_buckets(term: str) -> list[str]:
    return [f"user:{term[:n]}" for n in (1, 2) if len(term) >= n]


def user_terms(username: str, display_name: str | None) -> set[str]:
    import unicodedata

    terms = {username.lower()}
    if display_name:
        normalized = unicodedata.normalize("NFKC", display_name).casefold()
        terms.update(word for word in normalized.split() if word)
        terms.add(" ".join(normalized.split()))
    return {t[:64] for t in terms if t}


def index_user(user_id: str, old_terms: set[str], new_terms: set[str]) -> None:
    """Replace a user's index rows: remove the stale terms, add the new ones (batched writes)."""
    with SearchEntry.batch_write() as batch:
        for term in old_terms - new_terms:
            for pk in _user_buckets(term):
                batch.delete(SearchEntry(pk=pk, sk=f"{term}#{user_id}"))
        for term in new_terms - old_terms:
            for pk in _user_buckets(term):
                batch.save(SearchEntry(pk=pk, sk=f"{term}#{user_id}", entity_id=user_id))


def users_by_prefix(prefix: str, limit: int, last_key: dict | None):
    bucket = f"user:{prefix[:2]}"
    return SearchEntry.query(bucket, SearchEntry.sk.startswith(prefix), limit=limit, last_evaluated_key=last_key)
