"""/health, /openapi.json (generated from the declared schemas) and /docs (a readable rendering of it)."""

from __future__ import annotations

import html
import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from chalice import Response

from chalicelib.api.routing import PublicCtx, load_all, route
from chalicelib.api.schema_base import ErrorOut, Out

if TYPE_CHECKING:
    from pydantic import BaseModel
    from pydantic.json_schema import JsonSchemaMode

_STATUS_TEXT = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No Content",
    302: "Found (redirect to the Location header)",
    400: "Validation error",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict",
    410: "Gone",
    413: "Body too large",
    415: "Body is not JSON",
    429: "Rate limited",
}


class HealthOut(Out):
    status: str


@route("/health", "GET", response=HealthOut, auth=False, tags=("meta",))
def health(ctx: PublicCtx) -> HealthOut:
    """Liveness check."""
    return HealthOut(status="ok")


class StripeConfigOut(Out):
    publishable_key: str | None
    js_url: str


class UploadConfigOut(Out):
    max_photo_bytes: int
    max_video_bytes: int
    content_types: list[str]


class ConfigOut(Out):
    ws_url: str | None
    stripe: StripeConfigOut
    upload: UploadConfigOut


@route("/config", "GET", response=ConfigOut, auth=False, tags=("meta",))
def client_config(ctx: PublicCtx) -> ConfigOut:
    """What a client needs to start: the WebSocket URL, Stripe's publishable key and script, upload limits."""
    from chalicelib.config import get_settings
    from chalicelib.services.photos import UPLOAD_TYPES

    s = get_settings()
    return ConfigOut(
        ws_url=s.ws_url,
        stripe=StripeConfigOut(publishable_key=s.stripe_publishable_key, js_url=s.stripe_js_url),
        upload=UploadConfigOut(
            max_photo_bytes=s.max_upload_bytes,
            max_video_bytes=s.max_video_bytes,
            content_types=sorted(UPLOAD_TYPES),
        ),
    )


@lru_cache(maxsize=1)
def openapi_document() -> dict[str, Any]:
    from pydantic.json_schema import models_json_schema

    registry = load_all()
    models: set[type[BaseModel]] = {ErrorOut}
    for spec in registry:
        models.update(m for m in (spec.body, spec.response) if m is not None)
    ordered = sorted(models, key=lambda m: m.__name__)
    pairs: list[tuple[type[BaseModel], JsonSchemaMode]] = [(m, "validation") for m in ordered]
    keys, schema = models_json_schema(pairs, ref_template="#/components/schemas/{model}")
    refs = {model: entry for (model, _), entry in keys.items()}
    components = schema.get("$defs", {})

    paths: dict[str, dict[str, Any]] = {}
    for spec in registry:
        op: dict[str, Any] = {"operationId": spec.name, "summary": spec.summary, "tags": list(spec.tags)}
        params = [
            {"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
            for n in re.findall(r"{(\w+)}", spec.path)
        ]
        if spec.query is not None:
            qschema = spec.query.model_json_schema()
            required = set(qschema.get("required", []))
            for name, prop in qschema.get("properties", {}).items():
                params.append(
                    {
                        "name": name,
                        "in": "query",
                        "required": name in required,
                        "schema": prop,
                        "description": prop.get("description", ""),
                    }
                )
        if spec.idempotency:
            params.append(
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": spec.idempotency == "required",
                    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                    "description": "Retries with the same key (per caller, 24 h) replay the first response; "
                    "the same key with a different request is 409 idempotency_key_reused, and while the first "
                    "request runs 409 idempotency_key_in_progress.",
                }
            )
        if params:
            op["parameters"] = params
        if spec.body is not None:
            op["requestBody"] = {"required": True, "content": {"application/json": {"schema": refs[spec.body]}}}
        ok: dict[str, Any] = {"description": _STATUS_TEXT.get(spec.status, "OK")}
        if spec.response is not None and spec.status != 204:
            ok["content"] = {"application/json": {"schema": refs[spec.response]}}
        elif spec.content_type != "application/json":
            ok["content"] = {spec.content_type: {"schema": {"type": "string", "format": "binary"}}}
        responses: dict[str, Any] = {str(spec.status): ok}
        for code in (c for c in spec.responses if c < 300 and c != spec.status):  # another success, e.g. 204
            other: dict[str, Any] = {"description": _STATUS_TEXT.get(code, "OK")}
            if spec.response is not None and code != 204:
                other["content"] = {"application/json": {"schema": refs[spec.response]}}
            responses[str(code)] = other
        error_codes = {c for c in spec.responses if c >= 400}
        if spec.body is not None or spec.query is not None or spec.idempotency:
            error_codes.add(400)
        if spec.body is not None:
            error_codes.update((413, 415))
        if spec.idempotency:
            error_codes.add(409)
        if spec.auth:
            error_codes.add(401)
        if spec.roles:
            error_codes.add(403)
        for code in sorted(error_codes):
            responses[str(code)] = {
                "description": _STATUS_TEXT.get(code, "Error"),
                "content": {"application/json": {"schema": refs[ErrorOut]}},
            }
        op["responses"] = responses
        if spec.auth == "optional":
            op["security"] = [{}, {"bearer": []}]
        elif spec.auth:
            op["security"] = [{"bearer": []}]
        paths.setdefault(spec.path, {})[spec.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Lightbox API",
            "version": "1.0.0",
            "description": "Event photo sharing, professional delivery, creator monetization and social.",
        },
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }


@route("/openapi.json", "GET", auth=False, tags=("meta",))
def openapi(ctx: PublicCtx) -> dict[str, Any]:
    """This API's OpenAPI 3.1 document."""
    return openapi_document()


def _render_docs(doc: dict[str, Any]) -> str:
    out = [
        "<!doctype html><html lang=en><meta charset=utf-8><title>Lightbox API</title>",
        "<style>body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}"
        "code,pre{background:#f4f4f4;padding:.1rem .3rem}.m{font-weight:700;display:inline-block;width:4.5rem}"
        "section{border-top:1px solid #ddd;padding:.5rem 0}small{color:#666}</style>",
        f"<h1>{html.escape(doc['info']['title'])}</h1><p>{html.escape(doc['info']['description'])}</p>",
        "<p>Machine-readable: <a href='openapi.json'>openapi.json</a>. Errors are always "
        '<code>{"error": {"code", "message", "details"}}</code>.</p>',
    ]
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            lock = " &#128274;" if op.get("security") else ""
            out.append(
                f"<section><span class=m>{method.upper()}</span><code>{html.escape(path)}</code>{lock}"
                f"<div>{html.escape(op.get('summary', ''))}</div>"
            )
            params = ", ".join(f"{p['name']} ({p['in']})" for p in op.get("parameters", []))
            if params:
                out.append(f"<small>parameters: {html.escape(params)}</small><br>")
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
            if body:
                name = body["$ref"].rsplit("/", 1)[-1]
                fields = doc["components"]["schemas"].get(name, {}).get("properties", {})
                out.append(f"<small>body: {html.escape(', '.join(fields))}</small><br>")
            out.append(f"<small>responses: {', '.join(op['responses'])}</small></section>")
    return "".join(out) + "</html>"


@route("/docs", "GET", auth=False, tags=("meta",))
def docs(ctx: PublicCtx) -> Response:
    """Human-readable API reference."""
    return Response(
        body=_render_docs(openapi_document()), status_code=200, headers={"Content-Type": "text/html; charset=utf-8"}
    )
