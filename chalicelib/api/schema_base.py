"""Base classes for the declared request/response schemas (pydantic v2).

``defer_build`` keeps model construction out of the cold start: a schema's validator is built the first
time a request uses it. Bodies are strict (no "123" -> 123 coercion, unknown fields refused); query strings
arrive as text, so query schemas coerce.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Body(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", defer_build=True, str_strip_whitespace=False)


class Query(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)


class Out(BaseModel):
    model_config = ConfigDict(defer_build=True)


class PageQuery(Query):
    limit: int = Field(20, ge=1, le=100, description="Page size (1-100)")
    cursor: str | None = Field(None, max_length=2048, description="Opaque cursor from the previous page")


class ErrorDetail(Out):
    code: str
    message: str
    details: dict | None = None


class ErrorOut(Out):
    error: ErrorDetail
