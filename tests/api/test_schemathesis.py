"""Property-based contract test: every operation of /openapi.json, fed data generated from its own schema by
schemathesis, answers without a 5xx and as documented (status code, content type, response schema, headers).

Bounded and deterministic: a few derandomized examples per operation, in process against the Chalice app
(requests go through a transport adapter into ``chalice.test.Client``, as API Gateway's proxy events would),
one moto for the whole module, and a real signed-in user so protected operations run past the 401.
"""

from __future__ import annotations

import io
import json
import os
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

# Not yet part of `make test`: on this shared 2-core machine some operations take 10-45 s for 3 examples
# (PATCH /auth/me 45 s), far over the 2-3 minute budget for the module. Run with LIGHTBOX_SCHEMATHESIS=1
# until the slow generation is found and MAX_EXAMPLES is tuned; then drop this mark.
pytestmark = pytest.mark.skipif(
    os.environ.get("LIGHTBOX_SCHEMATHESIS") != "1", reason="schemathesis run is opt-in until it fits its time budget"
)

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

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
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


@pytest.fixture(scope="module")
def stack():
    """One moto and one app for every operation of the module, with a verified, signed-in user."""
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
            accounts.create_admin("fuzz@example.com", "fuzzer", PASSWORD)
            session = requests.Session()
            session.mount(BASE_URL, ChaliceAdapter(client))
            yield session
        aws.reset()


def _token(session: requests.Session) -> str:
    """A fresh login per operation: an operation may log the user out (logout-all) or change its password."""
    r = session.post(f"{BASE_URL}/auth/login", json={"login": "fuzzer", "password": PASSWORD})
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


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
    headers = {}
    if case.operation.definition.raw.get("security"):
        headers["Authorization"] = f"Bearer {_token(stack)}"
    case.call_and_validate(base_url=BASE_URL, session=stack, headers=headers, checks=CHECKS)


def test_the_document_is_what_the_app_serves(stack):
    served = stack.get(f"{BASE_URL}/openapi.json").json()
    assert json.dumps(served, sort_keys=True) == json.dumps(_document(), sort_keys=True)
