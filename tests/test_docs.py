"""Docs stay true: every table and index the models define is described in docs/data-model.md."""

from __future__ import annotations

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _backticked(text: str) -> list[str]:
    """Backticked names outside parentheses (inside them are key attributes and remarks)."""
    return re.findall(r"`([a-z_]+)`", re.sub(r"\([^)]*\)", "", text))


def documented_tables(doc: str) -> dict[str, dict[str, str]]:
    """The rows of data-model.md's tables (| table | key | indexes | TTL | serves |), by table name."""
    rows = {}
    for line in doc.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|", 4)]  # "serves" may hold a "|"
        if len(cells) == 5 and re.fullmatch(r"`[a-z_]+`", cells[0]):
            rows[cells[0].strip("`")] = dict(zip(("key", "indexes", "ttl", "serves"), cells[1:], strict=True))
    return rows


def index_segments(cell: str) -> dict[str, str]:
    """Index name -> its part of the indexes cell (from its name to the next index's name)."""
    names = _backticked(cell)
    starts = [cell.index(f"`{name}`") for name in names]
    return {
        name: cell[start : (starts[i + 1] if i + 1 < len(starts) else len(cell))]
        for i, (name, start) in enumerate(zip(names, starts, strict=True))
    }


def doc_problems(doc: str, tables: list[dict]) -> list[str]:
    """Each table's row names its key attributes, exactly its indexes (each with its key attributes and, when
    KEYS_ONLY, saying so) and its TTL attribute; and no row describes a table that does not exist."""
    rows = documented_tables(doc)
    problems = []
    names = set()
    for table in tables:
        name = table["TableName"].split("-", 2)[2]
        names.add(name)
        row = rows.get(name)
        if row is None:
            problems.append(f"table {name} has no row in docs/data-model.md")
            continue
        keys = [k["AttributeName"] for k in table["KeySchema"]]
        if _backticked(row["key"]) != keys:
            problems.append(f"{name}: key is {keys}, the doc says {_backticked(row['key'])}")
        indexes = {i["IndexName"]: i for i in table["GlobalSecondaryIndexes"]}
        segments = index_segments(row["indexes"])
        if set(segments) != set(indexes):
            problems.append(f"{name}: indexes are {sorted(indexes)}, the doc says {sorted(segments)}")
        projections = {i["Projection"]["ProjectionType"] for i in indexes.values()}
        for index_name, index in indexes.items():
            segment = segments.get(index_name, "")
            if index_name not in segments:
                continue
            attrs = [k["AttributeName"] for k in index["KeySchema"]]
            described = re.search(r"\(([^)]*)\)", segment)
            if not described or [a for a in attrs if a not in described.group(1)]:
                problems.append(f"{name}.{index_name}: the doc does not give its keys {attrs}")
            keys_only = index["Projection"]["ProjectionType"] == "KEYS_ONLY"
            said = "KEYS_ONLY" in (segment if len(projections) > 1 else row["indexes"])
            if keys_only != said:
                problems.append(f"{name}.{index_name}: projection {index['Projection']['ProjectionType']}")
        ttl = table["TimeToLiveAttribute"]
        if _backticked(row["ttl"]) != ([ttl] if ttl else []):
            problems.append(f"{name}: TTL attribute is {ttl}, the doc says {row['ttl']!r}")
    problems += [f"docs/data-model.md describes {name}, which is no table" for name in sorted(set(rows) - names)]
    return problems


def test_every_table_and_index_is_documented_under_its_own_table():
    from chalicelib.resources import table_definitions

    doc = (ROOT / "docs" / "data-model.md").read_text()
    assert doc_problems(doc, table_definitions()) == []


def test_an_index_documented_under_another_table_does_not_count():
    from chalicelib.resources import table_definitions

    doc = (ROOT / "docs" / "data-model.md").read_text()
    tables = table_definitions()
    likes = next(t for t in tables if t["TableName"].endswith("-likes"))
    moved = doc.replace("`by_photo` (photo_id, created_at), ", "")
    moved = moved.replace(
        "| `bookmarks` | `user_id`, `photo_id` | `by_time`",
        "| `bookmarks` | `user_id`, `photo_id` | `by_photo` (photo_id, created_at), `by_time`",
    )
    assert "`by_photo`" in moved and likes
    problems = doc_problems(moved, tables)
    assert "likes: indexes are ['by_photo', 'by_user'], the doc says ['by_user']" in problems
    assert "bookmarks: indexes are ['by_time'], the doc says ['by_photo', 'by_time']" in problems


def test_readme_shows_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    assert "make dev" in readme and "make test" in readme
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci
