"""The one domain exception hierarchy. ``chalicelib.api.routing`` maps it to the contract's error body."""

from __future__ import annotations

from typing import Any


class LightboxError(Exception):
    status = 500
    code = "internal_error"

    def __init__(
        self,
        message: str | None = None,
        *,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message or self.__class__.__doc__ or self.code)
        self.message = message or (self.__class__.__doc__ or self.code).strip()
        self.details = details
        self.headers = headers or {}
        if code:
            self.code = code

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            error["details"] = self.details
        return {"error": error}


class ValidationError(LightboxError):
    """The request is not valid."""

    status = 400
    code = "validation_error"


class BadRequestError(LightboxError):
    """The request cannot be processed."""

    status = 400
    code = "bad_request"


class UnauthorizedError(LightboxError):
    """Authentication is required."""

    status = 401
    code = "unauthorized"


class ForbiddenError(LightboxError):
    """You are not allowed to do this."""

    status = 403
    code = "forbidden"


class NotFoundError(LightboxError):
    """Not found."""

    status = 404
    code = "not_found"


class PaymentRequiredError(LightboxError):
    """The wallet (or another balance the caller pays from) is short: 402 ``insufficient_funds``."""

    status = 402
    code = "insufficient_funds"


class ConflictError(LightboxError):
    """The request conflicts with the current state."""

    status = 409
    code = "conflict"


class GoneError(LightboxError):
    """This resource is no longer available."""

    status = 410
    code = "gone"


class PayloadTooLargeError(LightboxError):
    """The request body is too large."""

    status = 413
    code = "payload_too_large"


class UnsupportedMediaTypeError(LightboxError):
    """The request body must be JSON (Content-Type: application/json)."""

    status = 415
    code = "unsupported_media_type"


class RateLimitedError(LightboxError):
    """Too many requests."""

    status = 429
    code = "rate_limited"

    def __init__(self, message: str | None = None, *, retry_after: float, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = max(1, int(retry_after))
        self.headers["Retry-After"] = str(self.retry_after)
