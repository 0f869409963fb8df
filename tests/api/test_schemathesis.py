"""Property-based contract test: every operation of /openapi.json, fed data generated from its own schema by
schemathesis, answers without a 5xx and as documented (status code, content type, response schema, headers).

Bounded and deterministic: schemathesis's coverage phase (boundary and invalid values of every parameter and
body field, deterministic; about 3,000 requests over the 90 operations) plus ``MAX_EXAMPLES`` derandomized
fuzzed cases per operation, no shrinking and no example database. Each case of an operation with a
``{user_id}`` or ``{event_id}`` is sent a second time at the fuzzer's own user and event. In process against
the Chalice app (requests go through a transport adapter into ``chalice.test.Client``, as API Gateway's proxy
events would), one moto for the whole module, and a real signed-in user so protected operations run past the
401.

Time: about a minute of CPU for the module (one core). It was 10-45 s per operation before: a new PynamoDB
connection per transaction (re-parsing botocore's DynamoDB model; fixed in chalicelib/models/base.py) and a
fresh login per example (now one login, renewed only when an operation ended it).
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from urllib3 import HTTPHeaderDict, HTTPResponse

from tests.conftest import PASSWORD

BASE_URL = "http://lightbox.test"
MAX_EXAMPLES = 3
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


def _document() -> dict[str, Any]:
    import app as _app  # noqa: F401  (mounts the routes)
    from chalicelib.api.meta import openapi_document

    return openapi_document()


schema = schemathesis.openapi.from_dict(_document())


class ChaliceAdapter(BaseAdapter):
    """A requests transport that hands each request to ``chalice.test.Client`` (no sockets, no threads)."""

    def __init__(self, client: Any) -> None:
        super().__init__()
        self.client = client

    def send(  # the transport's options (timeouts, TLS, proxies) mean nothing in process
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float | None, float | None] | None = None,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        proxies: dict[str, str] | None = None,
    ) -> requests.Response:
        path = request.path_url
        body = request.body
        if isinstance(body, str):
            body = body.encode()
        result = self.client.http.request(request.method, path, headers=dict(request.headers), body=body or b"")
        response = requests.Response()
        response.status_code = result.status_code
        response.headers = CaseInsensitiveDict(result.headers)
        response._content = result.body or b""
        # schemathesis reads the headers from the urllib3 response underneath
        response.raw = HTTPResponse(
            body=io.BytesIO(response._content),
            headers=HTTPHeaderDict(result.headers),
            status=result.status_code,
            preload_content=False,
        )
        response.url = request.url or ""
        response.request = request
        response.reason = ""
        response.encoding = "utf-8"
        return response

    def close(self) -> None:
        pass


class Caller:
    """The signed-in fuzzer: one real login, reused until an operation ends it (logout, logout-all), then a
    new one. A fresh login per example (argon2 and two rate-limit transactions) was most of this module's
    time."""

    def __init__(self, session: requests.Session, user_id: str) -> None:
        self.session = session
        self.own: dict[str, str] = {"user_id": user_id}  # path parameters that name the fuzzer's own things
        self._token: str | None = None

    def token(self, *, renew: bool = False) -> str:
        if self._token is None or renew:
            r = self.session.post(f"{BASE_URL}/auth/login", json={"login": "fuzzer", "password": PASSWORD})
            assert r.status_code == 200, r.text
            self._token = r.json()["access_token"]
        return self._token


@pytest.fixture(scope="module")
def stack(stripe_process):
    """One moto and one app for every operation of the module, with a verified, signed-in user (and the session's
    localstripe, so payment operations reach a real Stripe API)."""
    from chalice.test import Client
    from moto import mock_aws

    with mock_aws():
        from chalicelib import aws
        from chalicelib.resources import ensure_resources

        aws.reset()
        ensure_resources()
        import app as app_module
        from chalicelib.services import accounts

        with Client(app_module.app, stage_name="test") as client:
            user = accounts.create_admin("fuzz@example.com", "fuzzer", PASSWORD)
            session = requests.Session()
            session.mount(BASE_URL, ChaliceAdapter(client))
            caller = Caller(session, user.user_id)
            event = session.post(
                f"{BASE_URL}/events", json={"name": "Fuzzed", "visibility": "public"}, headers=_bearer(caller.token())
            )
            assert event.status_code == 201, event.text
            caller.own["event_id"] = event.json()["id"]
            yield caller
        aws.reset()


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_as_documented(case, stack):
    _call_and_validate(case, stack)
    # Random ids mostly meet 404s; the same case sent at the fuzzer's own user and event reaches the code
    # behind them (following or blocking oneself, editing one's event with generated bodies).
    own = {name: stack.own[name] for name in case.path_parameters or {} if name in stack.own}
    if own:
        case.path_parameters = {**case.path_parameters, **own}
        _call_and_validate(case, stack)


def _call_and_validate(case: schemathesis.Case, stack: Caller) -> None:
    if not case.operation.definition.raw.get("security"):
        case.call_and_validate(base_url=BASE_URL, session=stack.session, checks=CHECKS)
        return
    response = case.call(base_url=BASE_URL, session=stack.session, headers=_bearer(stack.token()))
    if response.status_code == 401 and response.json()["error"]["code"] in ("session_revoked", "invalid_token"):
        # an earlier case ended the fuzzer's login (logout-all): sign in again and send this case once more
        response = case.call(base_url=BASE_URL, session=stack.session, headers=_bearer(stack.token(renew=True)))
    case.validate_response(response, checks=CHECKS)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_document_is_what_the_app_serves(stack):
    served = stack.session.get(f"{BASE_URL}/openapi.json").json()
    assert json.dumps(served, sort_keys=True) == json.dumps(_document(), sort_keys=True)
