"""Docs stay true: every table and index the models define is described in docs/data-model.md."""

from __future__ import annotations

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_every_table_and_index_is_documented():
    from chalicelib.resources import table_definitions

    doc = (ROOT / "docs" / "data-model.md").read_text()
    documented = set(re.findall(r"`([a-z_]+)`", doc))
    for table in table_definitions():
        name = table["TableName"].split("-", 2)[2]
        assert name in documented, f"table {name} is not in docs/data-model.md"
        for index in table["GlobalSecondaryIndexes"]:
            assert index["IndexName"] in documented, f"{name}.{index['IndexName']} is not in docs/data-model.md"


def test_readme_shows_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    assert "make dev" in readme and "make test" in readme
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci
