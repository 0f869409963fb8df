"""Route declaration: validation, authentication, error mapping and the OpenAPI registry in one place.

Handlers are declared with :func:`route` and receive a :class:`RequestCtx` typed by the route's schemas:
``Ctx[Body, Query]`` on authenticated routes (``ctx.principal`` is a :class:`Principal`) and
``PublicCtx[Body, Query]`` on ``auth=False`` or ``auth="optional"`` routes (a ``Principal | None``); a
route without a body or a query leaves that parameter out or passes ``None``::

    @route("/auth/login", "POST", body=LoginIn, response=TokenOut, auth=False)
    def login(ctx: PublicCtx[LoginIn]) -> TokenOut:
        return auth.login(ctx.body.login, ctx.body.password, source_ip=ctx.source_ip)

Blueprint modules (``chalicelib.api.MODULES``) are loaded lazily: ``app.py`` registers every route from the
generated ``chalicelib/api/manifest.py`` with a thin view that imports the route's module on its first
request. A request therefore pays only for its own module's schemas and services, and the WebSocket and
processor functions pay for none. After adding or changing a route run ``make routes``; a test fails
while the manifest is stale.

Domain errors (:mod:`chalicelib.errors`) raised anywhere below become the contract's JSON error body here;
anything else propagates to Chalice, which logs it, and :func:`normalize_error_middleware` turns Chalice's
own error bodies (500, 405, 415) into the same contract shape.
"""

from __future__ import annotations

import functools
import importlib
import json
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeAlias

from chalice import Response
from typing_extensions import TypeVar

from chalicelib.errors import (
    ForbiddenError,
    LightboxError,
    NotFoundError,
    PayloadTooLargeError,
    UnauthorizedError,
    UnsupportedMediaTypeError,
    ValidationError,
)
from chalicelib.logs import get_logger, request_id_var

if TYPE_CHECKING:
    from pydantic import BaseModel

    from chalicelib.services.tokens import Principal

log = get_logger(__name__)


@dataclass(frozen=True)
class RouteSpec:
    path: str
    method: str
    name: str
    summary: str
    tags: tuple[str, ...]
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    response: type[BaseModel] | None
    status: int
    auth: bool | str
    roles: tuple[str, ...]
    responses: tuple[int, ...]
    idempotency: str | None = None  # None | "accepted" | "required": the Idempotency-Key header
    content_type: str = "application/json"  # of the success response (a binary type: the handler returns bytes)


REGISTRY: list[RouteSpec] = []
HANDLERS: dict[tuple[str, str], Callable[..., Response]] = {}
MAX_PATH_PARAM = 256
CONTENT_TYPES = ["application/json", "text/plain", "application/x-www-form-urlencoded"]
# Binary response types (besides Chalice's defaults: images, zip, octet-stream ...). Chalice base64-encodes a
# bytes body of such a type for API Gateway, and `chalice package` lists them as the REST API's binary media
# types, so API Gateway returns the bytes. A request must then Accept the type (or */*, as browsers do): Chalice
# answers 400 otherwise. Handlers return ``chalice.Response(body=<bytes>, headers={"Content-Type": ...})``.
BINARY_TYPES = ("application/pdf",)  # invoices (chalicelib/api/delivery.py)
_app: Any = None


def current_request() -> Any:
    return _app.current_request


# Covariant: handlers only read their context (the router fills it in), so a Ctx[LoginIn] is also a
# PublicCtx[object, object] for a helper that reads only the caller.
PrincipalT = TypeVar("PrincipalT", bound="Principal | None", default="Principal", covariant=True)
BodyT = TypeVar("BodyT", default=None, covariant=True)
QueryT = TypeVar("QueryT", default=None, covariant=True)


@dataclass
class RequestCtx(Generic[PrincipalT, BodyT, QueryT]):
    """What a handler gets: the caller, the body and the query validated by the route's schemas."""

    request: Any
    principal: PrincipalT
    body: BodyT
    query: QueryT
    path: dict[str, str] = field(default_factory=dict)

    @property
    def user_id(self) -> str:
        if self.principal is None:
            raise UnauthorizedError("A bearer access token is required.", code="unauthorized")
        return self.principal.user_id

    @property
    def source_ip(self) -> str:
        identity = (self.request.context or {}).get("identity") or {}
        return identity.get("sourceIp") or "unknown"

    @property
    def user_agent(self) -> str:
        return (self.request.headers or {}).get("user-agent", "")[:256]


# An authenticated route's context, and that of a public (auth=False) or auth="optional" route.
Ctx: TypeAlias = RequestCtx["Principal", BodyT, QueryT]
PublicCtx: TypeAlias = RequestCtx["Principal | None", BodyT, QueryT]
AnyCtx: TypeAlias = RequestCtx["Principal | None", object, object]  # for helpers shared by routes


def _field_name(loc: Iterable[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query")]
    return ".".join(parts) or "body"


def validation_details(exc: Any) -> dict[str, str]:
    details: dict[str, str] = {}
    for err in exc.errors(include_url=False, include_input=False):
        if err.get("type") == "json_invalid":
            details["body"] = "Malformed JSON"
            continue
        details.setdefault(_field_name(err.get("loc", ())), err.get("msg", "invalid"))
    return details


def _parse_body(model: type[BaseModel], raw: bytes | None) -> Any:
    from pydantic import ValidationError as PydanticValidationError

    raw = raw or b""
    if not raw.strip():
        raw = b"{}"
    try:
        return model.model_validate_json(raw)
    except PydanticValidationError as exc:
        raise ValidationError("The request body is not valid.", details=validation_details(exc)) from None
    except UnicodeDecodeError:
        raise ValidationError("The request body is not valid UTF-8.", details={"body": "Invalid UTF-8"}) from None


def _parse_query(model: type[BaseModel], params: dict[str, str] | None) -> Any:
    from pydantic import ValidationError as PydanticValidationError

    try:
        return model.model_validate(dict(params or {}))
    except PydanticValidationError as exc:
        raise ValidationError("The query string is not valid.", details=validation_details(exc)) from None


def _bearer_token(request: Any) -> str:
    header = (request.headers or {}).get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise UnauthorizedError("A bearer access token is required.", code="unauthorized")
    return token.strip()


def error_response(exc: LightboxError) -> Response:
    headers: dict[str, str | list[str]] = {"Content-Type": "application/json", **exc.headers}
    return Response(body=exc.body(), status_code=exc.status, headers=headers)


def _to_body(result: Any) -> Any:
    if hasattr(result, "model_dump"):
        return result.model_dump(mode="json")
    return result


def _to_response(result: Any, status: int) -> Response:
    if isinstance(result, Response):
        return result
    if status == 204:
        return Response(body="", status_code=204)
    headers: dict[str, str | list[str]] = {"Content-Type": "application/json"}
    return Response(body=_to_body(result), status_code=status, headers=headers)


# ---- request checks in the order a request meets them: who, then what ---------------------------------------


def _authenticate(ctx: RequestCtx[Any, Any, Any], auth: bool | str, roles: tuple[str, ...]) -> None:
    """Protected routes authenticate before anything about the request is validated (401 before 400/413/415)."""
    request = ctx.request
    if not auth or (auth == "optional" and not (request.headers or {}).get("authorization")):
        return
    from chalicelib.services import tokens

    ctx.principal = tokens.authenticate(_bearer_token(request))
    if roles and ctx.principal.role not in roles:
        raise ForbiddenError("Your role does not allow this.")


def _is_json(content_type: str) -> bool:
    return content_type.split(";", 1)[0].strip().lower() == "application/json"


def _read_body(model: type, request: Any) -> Any:
    """A JSON route takes a body only as ``application/json`` (415 otherwise, a missing type included)."""
    raw = request.raw_body
    if raw and not _is_json((request.headers or {}).get("content-type", "")):
        raise UnsupportedMediaTypeError(
            "Send the body as JSON with Content-Type: application/json.",
            details={"content_type": "must be application/json"},
        )
    if raw and len(raw) > _max_body():
        raise PayloadTooLargeError(f"The request body exceeds {_max_body()} bytes.")
    return _parse_body(model, raw)


# ---- Idempotency-Key -------------------------------------------------------------------------------------


IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_IDEMPOTENCY_KEY = 255


def idempotency_key(request: Any, mode: str | None) -> str | None:
    """The route's ``Idempotency-Key``: None when the route takes none or (if only accepted) none was sent."""
    if mode is None:
        return None
    value = (request.headers or {}).get(IDEMPOTENCY_HEADER.lower())
    if value is None:
        if mode == "required":
            raise ValidationError(
                "This route requires an Idempotency-Key header.", details={IDEMPOTENCY_HEADER: "required"}
            )
        return None
    if not 1 <= len(value) <= MAX_IDEMPOTENCY_KEY or not value.isprintable() or value != value.strip():
        raise ValidationError(
            "The Idempotency-Key header is not valid.",
            details={IDEMPOTENCY_HEADER: f"1 to {MAX_IDEMPOTENCY_KEY} printable characters, no surrounding spaces"},
        )
    return value


def _run_idempotent(ctx: Ctx, path: str, key: str, run: Callable[[], Response]) -> Response:
    from chalicelib.services import idempotency

    request_fingerprint = idempotency.fingerprint(
        ctx.request.method,
        path.format(**ctx.path) if ctx.path else path,
        dict(ctx.request.query_params or {}),
        _to_body(ctx.body),
    )
    try:
        return idempotency.run(ctx.user_id, key, request_fingerprint, run)
    except LightboxError as exc:
        return error_response(exc)


# ---- CORS for the web app's origins (LIGHTBOX_APP_ORIGINS) -------------------------------------------------


CORS_ALLOW_HEADERS = "Authorization, Content-Type, Idempotency-Key, X-Requested-With"
CORS_EXPOSE_HEADERS = "Retry-After, X-Request-Id, Idempotent-Replayed"
CORS_MAX_AGE = "600"


def allowed_origin(headers: Any) -> str | None:
    """The request's ``Origin`` if it is one of the configured web app origins (compared exactly)."""
    from chalicelib.config import get_settings

    origin = (headers or {}).get("origin")
    return origin if origin and origin in get_settings().app_origins else None


def cors_middleware(event: Any, get_response: Callable[[Any], Response]) -> Response:
    """Every response varies by Origin; an allowed origin gets credentials-mode CORS headers, others none."""
    response = get_response(event)
    headers: dict[str, str | list[str]] = dict(response.headers or {})
    previous = headers.get("Vary", "")
    vary = [v.strip() for v in (previous if isinstance(previous, str) else ",".join(previous)).split(",") if v.strip()]
    headers["Vary"] = ", ".join([*vary, "Origin"] if "Origin" not in vary else vary)
    origin = allowed_origin(getattr(event, "headers", None))
    if origin is not None:
        headers["Access-Control-Allow-Origin"] = origin
        headers["Access-Control-Allow-Credentials"] = "true"  # the web app's refresh token is an HttpOnly cookie
        headers["Access-Control-Expose-Headers"] = CORS_EXPOSE_HEADERS
    response.headers = headers
    return response


def _preflight_view(methods: Iterable[str]) -> Callable[..., Response]:
    allow = ", ".join(sorted({*methods, "OPTIONS"}))

    def preflight(**_path_params: str) -> Response:
        headers: dict[str, str | list[str]] = {"Allow": allow}
        if allowed_origin(current_request().headers) is not None:
            headers.update(
                {
                    "Access-Control-Allow-Methods": allow,
                    "Access-Control-Allow-Headers": CORS_ALLOW_HEADERS,
                    "Access-Control-Max-Age": CORS_MAX_AGE,
                }
            )
        return Response(body="", status_code=204, headers=headers)

    return preflight


def route(
    path: str,
    method: str,
    *,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    status: int = 200,
    auth: bool | str = True,
    roles: Iterable[str] = (),
    summary: str = "",
    tags: Iterable[str] = (),
    responses: Iterable[int] = (),
    idempotency: str | None = None,
    content_type: str = "application/json",
) -> Callable:
    """Declare an API route.

    ``auth``: True (a valid access token is required), False (public), or "optional" (public, but a token
    that is sent must be valid and identifies the caller). ``roles`` restricts the route to those roles.
    ``idempotency``: "accepted" (an ``Idempotency-Key`` header, when sent, makes retries replay the first
    response) or "required" (a missing key is 400); authenticated routes only, the key is per caller.
    """
    roles = tuple(roles)
    if idempotency not in (None, "accepted", "required"):
        raise ValueError(f"idempotency must be None, 'accepted' or 'required', not {idempotency!r}")
    if idempotency and auth is not True:
        raise ValueError("Idempotency-Key needs an authenticated route: keys are scoped to the caller")

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        REGISTRY.append(
            RouteSpec(
                path=path,
                method=method.upper(),
                name=view.__name__,
                summary=summary or (view.__doc__ or "").strip().split("\n")[0],
                tags=tuple(tags),
                body=body,
                query=query,
                response=response,
                status=status,
                auth=auth,
                roles=roles,
                responses=tuple(responses),
                idempotency=idempotency,
                content_type=content_type,
            )
        )

        @functools.wraps(view)
        def handler(**path_params: str) -> Response:
            request = current_request()
            ctx: RequestCtx[Any, Any, Any] = RequestCtx(request, None, None, None, path_params)
            try:
                _authenticate(ctx, auth, roles)  # first: an anonymous caller learns nothing about the input
                if any(len(value) > MAX_PATH_PARAM for value in path_params.values()):
                    raise NotFoundError("Not found.")  # no id or token is this long; DynamoDB would refuse the key
                if body is not None:
                    ctx.body = _read_body(body, request)
                if query is not None:
                    ctx.query = _parse_query(query, request.query_params)
                key = idempotency_key(request, idempotency)
            except LightboxError as exc:
                return error_response(exc)

            def run() -> Response:
                try:
                    result = view(ctx, **path_params)
                except LightboxError as exc:
                    return error_response(exc)
                return _to_response(result, status)

            if key is None:
                return run()
            return _run_idempotent(ctx, path, key, run)

        HANDLERS[(path, method.upper())] = handler
        return handler

    return decorator


def mount(app: Any) -> None:
    """Register every route of the manifest on ``app`` (each view imports its module on first use), an
    OPTIONS preflight route per path and the CORS middleware."""
    global _app
    from chalicelib.api.manifest import ROUTES

    _app = app
    app.api.binary_types.extend(t for t in BINARY_TYPES if t not in app.api.binary_types)
    methods: dict[str, list[str]] = {}
    for path, method, module in ROUTES:
        app.route(path, methods=[method], content_types=CONTENT_TYPES, name=f"{method.lower()}_{path}")(
            _lazy_view(path, method, module)
        )
        methods.setdefault(path, []).append(method)
    # CORS preflight: an OPTIONS route per path (packaged as a Lambda proxy method, so API Gateway passes it
    # to the app; Chalice's own CORSConfig is one static origin per route), and headers on every response.
    for path, path_methods in methods.items():
        app.route(path, methods=["OPTIONS"], name=f"options_{path}")(_preflight_view(path_methods))
    app.register_middleware(cors_middleware, "http")


def _lazy_view(path: str, method: str, module: str) -> Callable[..., Response]:
    def view(**path_params: str) -> Response:
        handler = HANDLERS.get((path, method))
        if handler is None:
            importlib.import_module(module)
            handler = HANDLERS[(path, method)]  # KeyError: the manifest is stale (make routes)
        return handler(**path_params)

    return view


def load_all() -> list[RouteSpec]:
    """Import every blueprint module (for /openapi.json and tests); returns the full registry."""
    from chalicelib.api import MODULES

    for module in MODULES:
        importlib.import_module(module)
    return REGISTRY


def manifest_source() -> str:
    routes = sorted((s.path, s.method, _module_of(s)) for s in load_all())
    # Double-quoted (json.dumps) so that `ruff format` leaves the generated file as it is.
    lines = [
        f"    ({json.dumps(path)}, {json.dumps(method)}, {json.dumps(module)})," for path, method, module in routes
    ]
    return (
        '"""Generated by `make routes` (python -m chalicelib.api.routing) from the @route declarations in\n'
        'chalicelib.api.MODULES. Do not edit; tests/api/test_openapi.py fails while it is stale."""\n\n'
        "ROUTES: tuple[tuple[str, str, str], ...] = (\n" + "\n".join(lines) + "\n)\n"
    )


def _module_of(spec: RouteSpec) -> str:
    return HANDLERS[(spec.path, spec.method)].__module__


def _max_body() -> int:
    from chalicelib.config import get_settings

    return get_settings().max_body_bytes


_CHALICE_CODES = {
    400: "bad_request",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    500: "internal_error",
    502: "bad_gateway",
    504: "timeout",
}


def normalize_error_middleware(event: Any, get_response: Callable[[Any], Response]) -> Response:
    """Bind the request id to the logs and give Chalice's own error bodies the contract's shape."""
    context = getattr(event, "context", None) or {}
    request_id = context.get("requestId") or str(uuid.uuid4())
    token = request_id_var.set(request_id)
    try:
        response = get_response(event)
        body = response.body
        if response.status_code >= 400 and isinstance(body, dict) and "Code" in body and "error" not in body:
            status = response.status_code
            message = body.get("Message") or "Request failed"
            if status >= 500:
                message = "An internal error occurred. Quote the request id if you report it."
            response.body = {
                "error": {
                    "code": _CHALICE_CODES.get(status, "error"),
                    "message": message,
                    "details": {"request_id": request_id},
                }
            }
            response.headers = {**(response.headers or {}), "Content-Type": "application/json"}
        response.headers = {**(response.headers or {}), "X-Request-Id": request_id}
        return response
    finally:
        request_id_var.reset(token)


if __name__ == "__main__":
    import pathlib
    import sys

    from chalicelib.api import routing  # the imported module, whose registry the blueprints fill (not __main__)

    target = pathlib.Path(__file__).with_name("manifest.py")
    target.write_text(routing.manifest_source())
    sys.stdout.write(f"wrote {target} ({len(routing.REGISTRY)} routes)\n")
