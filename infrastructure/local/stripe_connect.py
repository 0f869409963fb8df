"""Stripe Connect (connected accounts, transfers) for localstripe, which has no Connect.

Exactly the calls the payouts port (chalicelib/payments/connect.py) makes, with Stripe's shapes and errors:

- ``POST /v1/accounts`` (``type``, ``email``, ``country``, ``metadata[...]``, ``capabilities[...]``) and
  ``GET /v1/accounts/{id}``;
- ``POST /v1/transfers`` (``amount``, ``currency``, ``destination``, ``metadata[...]``, ``transfer_group``) and
  ``GET /v1/transfers/{id}``. An unknown destination is Stripe's 400 ``resource_missing`` (param
  ``destination``); a destination whose transfers are disabled is 400
  ``insufficient_capabilities_for_transfer``. The platform balance is not modelled (never short).
- ``Idempotency-Key`` honoured as Stripe does on POSTs: the same key again answers the first response (status and
  body) and creates nothing; the same key with other parameters is 400 ``idempotency_error``.
- a test hook, ``POST /_config/connect/accounts/{id}/transfers`` with ``enabled=false|true``, turns an account's
  ``transfers`` capability off or on (a real account loses it when Stripe needs more information).

Objects live in localstripe's own in-memory store (``DELETE /_config/data`` clears them with everything else).
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

PREFIX = "connect:"


def _store() -> Any:
    from localstripe.resources import store

    return store


def _new_id(prefix: str) -> str:
    from localstripe.resources import random_id

    return f"{prefix}_{random_id(24)}"


def _error(
    status: int, message: str, *, code: str | None = None, param: str | None = None, kind: str = "invalid_request_error"
) -> Any:
    from aiohttp import web

    error: dict[str, Any] = {"type": kind, "message": message}
    if code:
        error["code"] = code
    if param:
        error["param"] = param
    return web.json_response({"error": error}, status=status)


async def _params(request: Any) -> dict[str, Any]:
    from localstripe.server import unflatten_data

    form = await request.post()
    return unflatten_data(form) if form else {}


def _idempotent(handler: Any) -> Any:
    """Stripe's idempotency on POST: per API key and Idempotency-Key, the first response is kept."""
    from aiohttp import web

    async def wrapped(request: Any) -> Any:
        key = request.headers.get("Idempotency-Key")
        params = await _params(request)
        if not key:
            return await handler(request, params)
        auth = request.headers.get("Authorization", "")
        slot = f"{PREFIX}idem:{hashlib.sha256((auth + '|' + key).encode()).hexdigest()}"
        fingerprint = hashlib.sha256(f"{request.path}|{json.dumps(params, sort_keys=True)}".encode()).hexdigest()
        found = _store().get(slot)
        if found is not None:
            if found["fingerprint"] != fingerprint:
                return _error(
                    400,
                    "Keys for idempotent requests can only be used with the same parameters they were first used with.",
                    kind="idempotency_error",
                )
            return web.json_response(found["body"], status=found["status"], headers={"Idempotent-Replayed": "true"})
        response = await handler(request, params)
        _store()[slot] = {"fingerprint": fingerprint, "status": response.status, "body": json.loads(response.body)}
        return response

    return wrapped


async def create_account(request: Any, params: dict[str, Any]) -> Any:
    from aiohttp import web

    account_type = params.get("type", "express")
    if account_type not in ("express", "custom", "standard"):
        return _error(400, "Invalid type: must be one of custom, express, or standard", param="type")
    account = {
        "id": _new_id("acct"),
        "object": "account",
        "type": account_type,
        "email": params.get("email"),
        "country": params.get("country", "US"),
        "default_currency": "usd" if params.get("country", "US") == "US" else "eur",
        "metadata": params.get("metadata") or {},
        "capabilities": {"transfers": "active"},
        "charges_enabled": True,
        "payouts_enabled": True,
        "details_submitted": True,
        "livemode": False,
        "created": int(time.time()),
    }
    _store()[f"{PREFIX}account:{account['id']}"] = account
    return web.json_response(account)


async def retrieve_account(request: Any) -> Any:
    from aiohttp import web

    account = _store().get(f"{PREFIX}account:{request.match_info['id']}")
    if account is None:
        return _error(404, f"No such account: '{request.match_info['id']}'", code="resource_missing", param="account")
    return web.json_response(account)


async def create_transfer(request: Any, params: dict[str, Any]) -> Any:
    from aiohttp import web

    try:
        amount = int(params.get("amount", ""))
    except ValueError:
        return _error(400, "Invalid integer: amount", param="amount")
    if amount < 1:
        return _error(400, "This value must be greater than or equal to 1.", param="amount")
    currency = str(params.get("currency", "")).lower()
    if len(currency) != 3:
        return _error(400, "Invalid currency", param="currency")
    destination = params.get("destination")
    account = _store().get(f"{PREFIX}account:{destination}")
    if account is None:
        return _error(400, f"No such destination: '{destination}'", code="resource_missing", param="destination")
    if account["capabilities"].get("transfers") != "active":
        return _error(
            400,
            "Your destination account needs to have at least one of the following capabilities enabled: "
            "transfers, crypto_transfers, legacy_payments",
            code="insufficient_capabilities_for_transfer",
            param="destination",
        )
    transfer = {
        "id": _new_id("tr"),
        "object": "transfer",
        "amount": amount,
        "amount_reversed": 0,
        "currency": currency,
        "destination": destination,
        "metadata": params.get("metadata") or {},
        "transfer_group": params.get("transfer_group"),
        "reversed": False,
        "livemode": False,
        "created": int(time.time()),
    }
    _store()[f"{PREFIX}transfer:{transfer['id']}"] = transfer
    return web.json_response(transfer)


async def retrieve_transfer(request: Any) -> Any:
    from aiohttp import web

    transfer = _store().get(f"{PREFIX}transfer:{request.match_info['id']}")
    if transfer is None:
        return _error(404, f"No such transfer: '{request.match_info['id']}'", code="resource_missing", param="id")
    return web.json_response(transfer)


async def set_transfers_capability(request: Any) -> Any:
    from aiohttp import web

    account = _store().get(f"{PREFIX}account:{request.match_info['id']}")
    if account is None:
        return _error(404, "No such account", code="resource_missing")
    enabled = str((await _params(request)).get("enabled", "true")).lower() != "false"
    account["capabilities"]["transfers"] = "active" if enabled else "inactive"
    _store()[f"{PREFIX}account:{account['id']}"] = account
    return web.json_response(account)


def install(app: Any) -> None:
    """Add this module's routes to localstripe's aiohttp ``app`` (before it starts)."""
    app.router.add_post("/v1/accounts", _idempotent(create_account))
    app.router.add_get("/v1/accounts/{id}", retrieve_account)
    app.router.add_post("/v1/transfers", _idempotent(create_transfer))
    app.router.add_get("/v1/transfers/{id}", retrieve_transfer)
    app.router.add_post("/_config/connect/accounts/{id}/transfers", set_transfers_capability)
