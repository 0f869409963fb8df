"""Base classes and shared types for the declared request/response schemas (pydantic v2).

``defer_build`` keeps model construction out of the cold start: a schema's validator is built the first
time a request uses it. Bodies are strict (no "123" -> 123 coercion, unknown fields refused); query strings
arrive as text, so query schemas coerce. The user and auth schemas (and ``EmailStr``, which loads
``pydantic.networks``) are in ``schemas``, so that a route that uses none of them does not build them.
"""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

T = TypeVar("T")


def _no_control_chars(value: str) -> str:
    import unicodedata

    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co") and ch not in "\n\t" for ch in value):
        raise ValueError("must not contain control or invisible formatting characters")
    if not value.strip():
        raise ValueError("must not be blank")
    return value.strip()


CleanText = Annotated[str, AfterValidator(_no_control_chars)]
Username = Annotated[
    str,
    Field(
        min_length=3,
        max_length=30,
        pattern=r"^[A-Za-z0-9_](?:[A-Za-z0-9_.]*[A-Za-z0-9_])?$",
        description="3-30 ASCII letters, digits, '_' or '.' (not at the ends)",
    ),
]


class Body(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", defer_build=True, str_strip_whitespace=False)


class Query(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)


class Out(BaseModel):
    model_config = ConfigDict(defer_build=True)


class PageQuery(Query):
    limit: int = Field(20, ge=1, le=100, description="Page size (1-100)")
    cursor: str | None = Field(None, max_length=2048, description="Opaque cursor from the previous page")


class Page(Out, Generic[T]):
    items: list[T]
    next_cursor: str | None


class ErrorDetail(Out):
    code: str
    message: str
    details: dict | None = None


class ErrorOut(Out):
    error: ErrorDetail
