"""Cookie session mode (browsers): ``POST /auth/login`` with ``session: "cookie"`` sets the refresh token as
an ``HttpOnly; SameSite=Strict`` cookie scoped to ``/auth`` (``Secure`` outside the local stage) instead of
returning it in the body, so page scripts never see it. ``/auth/token/refresh`` and ``/auth/logout`` read it
when the body names no ``refresh_token``; then the header ``X-Requested-With: lightbox`` is required (a
header a cross-site form cannot send, and that a cross-origin script can send only after a CORS preflight),
else ``403 csrf_header_required``. Refresh rotates the cookie; logout and a refused refresh clear it.

Body mode (the default, for apps) is unchanged: a refresh token in the body wins over any cookie.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import urlparse

from chalice import Response

from chalicelib import config
from chalicelib.errors import ForbiddenError, UnauthorizedError, ValidationError

COOKIE = "lightbox_refresh"
CSRF_HEADER = "X-Requested-With"
CSRF_VALUE = "lightbox"


def _path(request: Any) -> str:
    """``/auth`` under wherever clients reach the API: the configured public URL's path, or API Gateway's
    stage on its own domain (``/prod/auth``), else the root."""
    settings = config.get_settings()
    if settings.public_api_url:
        prefix = urlparse(settings.public_api_url).path.rstrip("/")
    else:
        context = request.context or {}
        domain, stage = context.get("domainName") or "", context.get("stage") or ""
        prefix = f"/{stage}" if domain.endswith(".amazonaws.com") and stage else ""
    return f"{prefix}/auth"


def _cookie(request: Any, value: str, max_age: int) -> str:
    parts = [f"{COOKIE}={value}", f"Path={_path(request)}", f"Max-Age={max_age}", "HttpOnly", "SameSite=Strict"]
    if config.get_settings().stage != "local":
        parts.append("Secure")
    return "; ".join(parts)


def set_header(request: Any, refresh_token: str) -> str:
    return _cookie(request, refresh_token, config.get_settings().refresh_token_ttl)


def clear_header(request: Any) -> str:
    return _cookie(request, "", 0)


def _from_cookie(request: Any) -> str | None:
    raw = (request.headers or {}).get("cookie", "")
    if not raw:
        return None
    jar: SimpleCookie = SimpleCookie()
    with contextlib.suppress(CookieError):
        jar.load(raw)
    morsel = jar.get(COOKIE)
    return morsel.value if morsel is not None and morsel.value else None


def refresh_token_of(request: Any, body_token: str | None) -> tuple[str, bool]:
    """(the refresh token, whether it came from the cookie). The body's wins; the cookie needs the header."""
    if body_token:
        return body_token, False
    token = _from_cookie(request)
    if token is None:
        raise ValidationError(
            "Send the refresh token in the body, or the session cookie.",
            details={"refresh_token": "Field required (or the session cookie)"},
        )
    if (request.headers or {}).get(CSRF_HEADER.lower()) != CSRF_VALUE:
        raise ForbiddenError(
            f"Requests with the session cookie must send the header {CSRF_HEADER}: {CSRF_VALUE}.",
            code="csrf_header_required",
        )
    return token, True


@contextlib.contextmanager
def cleared_when_refused(request: Any, from_cookie: bool) -> Iterator[None]:
    """A cookie whose token was refused (spent, revoked, expired) is cleared in the 401 answer."""
    try:
        yield
    except UnauthorizedError as exc:
        if from_cookie:
            exc.headers["Set-Cookie"] = clear_header(request)
        raise


def respond(request: Any, out: Any, *, refresh_token: str | None, status: int = 200) -> Response:
    """The JSON answer without ``refresh_token``, which goes into the cookie instead (None: clear it)."""
    headers: dict[str, str | list[str]] = {
        "Set-Cookie": set_header(request, refresh_token) if refresh_token else clear_header(request)
    }
    if out is None:
        return Response(body="", status_code=status, headers=headers)
    body = out.model_dump(mode="json")
    body.pop("refresh_token", None)
    return Response(body=body, status_code=status, headers={"Content-Type": "application/json", **headers})
