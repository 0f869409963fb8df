"""Pure rules of delivery (no AWS): money formatting, splitting an order-level amount between sellers, which items
an archive holds and its fingerprint, and unique file names inside a zip. Unit-tested in tests/unit."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Sequence

# ISO 4217 currencies Stripe treats as zero-decimal (amounts are whole units) and the three-decimal ones.
ZERO_DECIMAL = frozenset(
    ["bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"]
)
THREE_DECIMAL = frozenset(["bhd", "jod", "kwd", "omr", "tnd"])


def minor_exponent(currency: str) -> int:
    code = currency.lower()
    return 0 if code in ZERO_DECIMAL else 3 if code in THREE_DECIMAL else 2


def format_money(amount_minor: int, currency: str) -> str:
    """``1234, "eur"`` -> ``"EUR 12.34"``; ``-500, "usd"`` -> ``"-USD 5.00"``; ``1200, "jpy"`` -> ``"JPY 1,200"``.
    Integer arithmetic only (no floats); thousands separated by commas. ASCII, so a PDF core font can show it."""
    exponent = minor_exponent(currency)
    sign = "-" if amount_minor < 0 else ""
    units, minor = divmod(abs(int(amount_minor)), 10**exponent)
    text = f"{units:,}" + (f".{minor:0{exponent}d}" if exponent else "")
    return f"{sign}{currency.upper()} {text}"


def allocate(total: int, weights: Sequence[int]) -> list[int]:
    """Split ``total`` minor units in proportion to ``weights`` (largest remainder, ties to the earlier weight):
    the parts are integers and sum to ``total`` exactly. All-zero weights split evenly."""
    if not weights:
        return []
    if total == 0:
        return [0] * len(weights)
    basis = list(weights) if any(weights) else [1] * len(weights)
    whole = sum(basis)
    parts = [total * w // whole for w in basis]
    remainders = sorted(range(len(basis)), key=lambda i: (-(total * basis[i] % whole), i))
    for i in remainders[: total - sum(parts)]:
        parts[i] += 1
    return parts


def archive_fingerprint(entries: Iterable[tuple[str, str]]) -> str:
    """The identity of an archive's content: its (item id, variant) pairs, order-independent. A refund removes an
    item, so the fingerprint changes and the old archive no longer matches the order."""
    text = "\n".join(sorted(f"{item_id}:{variant}" for item_id, variant in entries))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


_UNSAFE = re.compile(r"[^\w .()\-]+")


def safe_stem(text: str | None, fallback: str, max_length: int = 80) -> str:
    """A file name stem from a photo title: no path separators, control characters or leading dots."""
    cleaned = unicodedata.normalize("NFC", text or "")
    cleaned = "".join(ch for ch in cleaned if unicodedata.category(ch)[0] != "C")
    cleaned = _UNSAFE.sub("_", cleaned).strip(" ._")[:max_length].strip(" ._")
    return cleaned or fallback


def unique_names(wanted: Iterable[tuple[str, str]]) -> list[str]:
    """``(stem, extension)`` pairs -> names unique case-insensitively: ``a.jpg``, ``a (2).jpg``, ``a (3).jpg``."""
    taken: set[str] = set()
    names = []
    for stem, ext in wanted:
        name = f"{stem}.{ext}"
        n = 1
        while name.lower() in taken:
            n += 1
            name = f"{stem} ({n}).{ext}"
        taken.add(name.lower())
        names.append(name)
    return names


def latin1(text: str | None) -> str:
    """Text a PDF core font (Helvetica, Latin-1) can show: other characters become ``?``."""
    return (text or "").encode("latin-1", "replace").decode("latin-1")
