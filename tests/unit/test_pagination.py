"""chalicelib.pagination: a cursor is valid only as the exact text minted for its listing."""

from __future__ import annotations

import pytest

from chalicelib import pagination
from chalicelib.errors import ValidationError

B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@pytest.fixture(autouse=True)
def _fixed_secret(monkeypatch):
    monkeypatch.setattr(pagination, "_secret", lambda: b"k" * 32)


def _same_bytes_other_text(part: str) -> str:
    """The base64 text with its last character changed in the spare bits only: it decodes to the same bytes."""
    spare = (6 * len(part)) % 8  # bits of the last character beyond the encoded bytes
    assert spare, "a part without spare bits has no such twin"
    index = B64.index(part[-1])
    return part[:-1] + B64[index ^ 1]


def test_a_cursor_round_trips_for_its_scope_only():
    key = {"pk": "u1", "sk": "2026-12-02T10:00:00Z"}
    cursor = pagination.encode("followers:eve", key)
    assert pagination.decode("followers:eve", cursor) == key
    with pytest.raises(ValidationError):
        pagination.decode("followers:fan0", cursor)


@pytest.mark.parametrize("part", [1, 0], ids=["signature", "payload"])
def test_a_cursor_text_that_decodes_to_the_same_bytes_is_refused(part):
    """base64 ignores a last character's spare bits: a test forging 'xx' onto a cursor that ended in 'xw' got 200
    about once in 256 runs, because the forgery decoded to the very signature it meant to break."""
    cursor = pagination.encode("events:mine", {"pk": "u1x", "sk": "e1"})  # 22-byte payload, 16-byte signature
    parts = cursor.split(".")
    parts[part] = _same_bytes_other_text(parts[part])
    forged = ".".join(parts)
    assert forged != cursor
    assert pagination._unb64(forged.split(".")[part]) == pagination._unb64(cursor.split(".")[part])
    with pytest.raises(ValidationError) as refused:
        pagination.decode("events:mine", forged)
    assert refused.value.code == "invalid_cursor"
