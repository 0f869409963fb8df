"""Test harness: environment first, then moto, then the app (so every client points at moto)."""

from __future__ import annotations

import os

os.environ.update(
    {
        "LIGHTBOX_STAGE": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_XRAY_SDK_ENABLED": "false",
        "LIGHTBOX_JWT_SECRET": "test-secret-key-of-sufficient-length-0123456789",
        "LIGHTBOX_WS_ENDPOINT": "https://ws.test.local/test",
        "LIGHTBOX_EMAIL_SENDER": "no-reply@lightbox.test",
        # Cheap argon2id for speed; production parameters are the defaults in chalicelib/config.py.
        "LIGHTBOX_ARGON2_TIME_COST": "1",
        "LIGHTBOX_ARGON2_MEMORY_KIB": "1024",
    }
)
for var in ("LIGHTBOX_AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL", "AWS_PROFILE"):
    os.environ.pop(var, None)


# E402 (import not at the top) below: moto and, later, the app must see the environment set above.
import contextlib  # noqa: E402
import json  # noqa: E402
import pathlib  # noqa: E402
import re  # noqa: E402
from collections.abc import Iterator  # noqa: E402

import pytest  # noqa: E402
from moto import mock_aws  # noqa: E402

from infrastructure.local import moto_atomic  # noqa: E402
from tests.stripe_server import stripe_process, stripe_server  # noqa: E402, F401  (localstripe fixtures)

# Every DynamoDB request against moto is atomic, as in DynamoDB, in every test (concurrency tests rely on it).
moto_atomic.install()

EVENTS = pathlib.Path(__file__).parent / "events"


def load_event(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


_TABLES_SNAPSHOT: dict = {}  # moto's DynamoDB tables right after ensure_resources, made once per process


def _restore_tables() -> bool:
    """Put a copy of the empty tables into moto's fresh backend (~15 ms instead of ~1 s of CreateTable calls);
    False the first time, when there is no snapshot yet."""
    import copy

    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    from chalicelib.config import get_settings

    backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][get_settings().region]
    if not _TABLES_SNAPSHOT:
        return False
    backend.tables.update(copy.deepcopy(_TABLES_SNAPSHOT["tables"]))
    return True


def _snapshot_tables() -> None:
    import copy

    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    from chalicelib.config import get_settings

    backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][get_settings().region]
    _TABLES_SNAPSHOT["tables"] = copy.deepcopy(backend.tables)


@pytest.fixture
def aws_mock():
    with mock_aws():
        from chalicelib import aws

        aws.reset()
        from chalicelib.resources import ensure_resources

        if _restore_tables():
            ensure_resources(tables=False)
        else:
            ensure_resources()
            _snapshot_tables()
        yield
        aws.reset()


@pytest.fixture
def app(aws_mock):
    import app as app_module

    return app_module.app


@pytest.fixture
def client(app):
    from chalice.test import Client

    with Client(app, stage_name="test") as c:
        yield c


class Api:
    """A thin JSON helper over chalice.test.Client."""

    def __init__(self, client):
        self.client = client

    def call(
        self,
        method: str,
        path: str,
        body=None,
        token: str | None = None,
        headers: dict | None = None,
        raw: bytes | str | None = None,
    ):
        hdrs = {"Content-Type": "application/json", **(headers or {})}
        if token:
            hdrs["Authorization"] = f"Bearer {token}"
        payload = raw if raw is not None else (json.dumps(body) if body is not None else None)
        response = self.client.http.request(method, path, headers=hdrs, body=payload)
        response.data = (
            json.loads(response.body)
            if response.body and response.headers.get("Content-Type", "").startswith("application/json")
            else None
        )
        return response

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.call("POST", path, body, **kw)

    def patch(self, path, body=None, **kw):
        return self.call("PATCH", path, body, **kw)

    def put(self, path, body=None, **kw):
        return self.call("PUT", path, body, **kw)

    def delete(self, path, body=None, **kw):
        return self.call("DELETE", path, body, **kw)


@pytest.fixture
def api(client):
    return Api(client)


def sent_emails() -> list[dict]:
    from moto.backends import get_backend

    backend = get_backend("ses")["123456789012"]["us-east-1"]
    return [{"to": m.destinations["ToAddresses"], "subject": m.subject, "text": m.body} for m in backend.sent_messages]


def last_code(email: str) -> str:
    for message in reversed(sent_emails()):
        if email in message["to"]:
            return re.search(r"\b(\d{6})\b", message["text"]).group(1)
    raise AssertionError(f"no email to {email}")


PASSWORD = "correct horse battery"


@pytest.fixture
def make_user(api):
    """Sign up (and by default verify and log in) a user; returns a dict with tokens."""
    counter = {"n": 0}

    def make(
        username: str | None = None,
        *,
        verify: bool = True,
        login: bool = True,
        role: str = "member",
        password: str = PASSWORD,
    ) -> dict:
        counter["n"] += 1
        username = username or f"user{counter['n']}"
        email = f"{username}@example.com"
        r = api.post(
            "/auth/signup",
            {
                "email": email,
                "username": username,
                "password": password,
                "display_name": username.title(),
                "role": role,
            },
        )
        assert r.status_code == 201, r.body
        user = {"id": r.data["user"]["id"], "email": email, "username": username, "password": password}
        if verify:
            assert api.post("/auth/verify-email", {"email": email, "code": last_code(email)}).status_code == 200
        if verify and login:
            r = api.post("/auth/login", {"login": username, "password": password})
            assert r.status_code == 200, r.body
            user.update(access=r.data["access_token"], refresh=r.data["refresh_token"])
        return user

    return make


# ---- AWS call counting (botocore event hooks) ----------------------------------------------------------------


class CallCounter:
    """Records "<service>.<Operation>" for every AWS call; calls made inside ``separately(name)`` go to
    ``sections[name]`` instead (e.g. what notifications.notify costs, budgeted on its own)."""

    def __init__(self):
        self.calls: list[str] = []
        self.sections: dict[str, list[str]] = {}
        self._section: str | None = None

    def hook(self, event_name: str, **kwargs):
        _, service, operation = event_name.split(".", 2)  # "before-call.<service>.<Operation>"
        target = self.sections.setdefault(self._section, []) if self._section else self.calls
        target.append(f"{service}.{operation}")

    def separately(self, name: str):
        import contextlib

        @contextlib.contextmanager
        def section():
            previous, self._section = self._section, name
            try:
                yield
            finally:
                self._section = previous

        return section()

    def clear(self):
        self.calls.clear()
        self.sections.clear()

    def measure(self, fn):
        """Run ``fn`` and return (its result, the AWS calls it made)."""
        self.clear()
        result = fn()
        return result, list(self.calls)


@contextlib.contextmanager
def hook_every_client(monkeypatch, hook) -> Iterator[None]:
    """Every botocore client created from now on (boto3's and PynamoDB's) calls ``hook`` before each call; the
    cached clients and model connections are dropped so they are made again, hooked."""
    import botocore.client

    from chalicelib import aws
    from chalicelib.models.registry import all_models

    original = botocore.client.ClientCreator.create_client

    def create_client(self, *args, **kwargs):
        client = original(self, *args, **kwargs)
        client.meta.events.register("before-call.*.*", hook)
        return client

    monkeypatch.setattr(botocore.client.ClientCreator, "create_client", create_client)
    aws.reset()
    for model in all_models():
        model._connection = None
    yield
    for model in all_models():
        model._connection = None


@pytest.fixture
def counter(app, monkeypatch):
    """Every botocore client created from now on (boto3's and PynamoDB's) reports its calls to the counter."""
    counter = CallCounter()
    with hook_every_client(monkeypatch, counter.hook):
        yield counter


@pytest.fixture
def live(monkeypatch):
    """Replace the WebSocket management API with a recorder of the frames each connection would receive."""
    from chalicelib.realtime import push
    from tests.realtime import FakeManagementApi

    fake = FakeManagementApi()
    monkeypatch.setattr(push, "_client", lambda: fake)
    return fake


@pytest.fixture
def atomic_moto():
    """Kept for old call sites: DynamoDB's per-request atomicity is now on for every test
    (infrastructure/local/moto_atomic.py)."""
    assert moto_atomic._installed


@pytest.fixture
def tuned(monkeypatch):
    """Small bounds (chunks of 3 items, 2 recipients inline), so continuations show with little data."""
    from chalicelib.config import get_settings

    def tune(chunk: int = 3, inline: int = 2) -> None:
        monkeypatch.setenv("LIGHTBOX_JOB_CHUNK_SIZE", str(chunk))
        monkeypatch.setenv("LIGHTBOX_FANOUT_INLINE_MAX", str(inline))
        get_settings.cache_clear()

    yield tune
    for var in ("LIGHTBOX_JOB_CHUNK_SIZE", "LIGHTBOX_FANOUT_INLINE_MAX"):
        os.environ.pop(var, None)
    get_settings.cache_clear()


@pytest.fixture(autouse=True)
def _one_rate_window(monkeypatch):
    """Rate counters are fixed windows (15 minutes): a test counting failures across a window boundary would see
    its count restart and fail once in a while. Each test therefore sees one window: ratelimit's clock is held at
    the moment the test started (tests of the window itself may patch it again)."""
    from chalicelib.services import ratelimit

    started = ratelimit.epoch()
    monkeypatch.setattr(ratelimit, "epoch", lambda dt=None: started)


@pytest.fixture(scope="session")
def stack():
    """The real local stack (``make dev``'s devstack on free ports, the web app too once ``web/dist`` is built),
    started once per worker for every end-to-end and browser module (all in ``xdist_group("local_stack")``)."""
    from infrastructure.local.stack import start_stack

    handle = start_stack(timeout=120)
    try:
        yield handle
    finally:
        code = handle.stop()
        assert code == 0, handle.log()[-3000:]
