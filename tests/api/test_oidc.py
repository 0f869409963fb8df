"""Sign in with Google and Apple (POST /auth/oidc/{provider}, /auth/identities) against a real issuer: the local
stack's ``infrastructure/local/oidc_issuer.py``, started in process on a free port and reached over HTTP. PyJWT
verifies for real; nothing of it is mocked."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator

import jwt
import pytest
import requests

from infrastructure.local.common import free_port
from infrastructure.local.oidc_issuer import DEFAULT_CLIENT_IDS, new_key, serve
from tests.api.test_twofactor import STEP, _code
from tests.api.test_twofactor import clock as two_factor_clock  # noqa: F401 - a fixture
from tests.conftest import PASSWORD, last_code
from tests.jobs import drain

CSRF = {"X-Requested-With": "lightbox"}


class Issuer:
    def __init__(self, url: str, state) -> None:
        self.url = url
        self.state = state

    def mint(self, provider: str = "google", **claims) -> str:
        body = {"email": "ana@example.com", "sub": "g-100", **claims}
        r = requests.post(f"{self.url}/{provider}/id-token", json=body, timeout=5)
        assert r.status_code == 200, r.text
        return r.json()["id_token"]

    def jwks_requests(self, provider: str = "google") -> int:
        return requests.get(f"{self.url}/_oidc/stats", timeout=5).json()["jwks_requests"][provider]

    def rotate(self, provider: str = "google") -> str:
        return requests.post(f"{self.url}/{provider}/rotate-key", timeout=5).json()["kid"]

    def kid(self, provider: str = "google") -> str:
        return self.state.providers[provider].keys[-1][0]

    def claims(self, provider: str = "google", **extra) -> dict:
        """What the issuer would put in a good token (to sign with something else)."""
        return jwt.decode(self.mint(provider, **extra), options={"verify_signature": False})


@pytest.fixture(scope="module")
def issuer_server() -> Iterator[Issuer]:
    server, state = serve(0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield Issuer(f"http://127.0.0.1:{server.server_address[1]}", state)
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def issuer(issuer_server: Issuer, monkeypatch) -> Iterator[Issuer]:
    from chalicelib.config import get_settings
    from chalicelib.services import oidc

    for provider in ("google", "apple"):
        monkeypatch.setenv(
            f"LIGHTBOX_OIDC_{provider.upper()}_DISCOVERY_URL",
            f"{issuer_server.url}/{provider}/.well-known/openid-configuration",
        )
        audiences = f"other-client,{DEFAULT_CLIENT_IDS[provider]}"  # a list: the issuer's is the second
        monkeypatch.setenv(f"LIGHTBOX_OIDC_{provider.upper()}_CLIENT_IDS", audiences)
    get_settings.cache_clear()
    oidc.reset_caches()
    yield issuer_server
    monkeypatch.undo()
    get_settings.cache_clear()
    oidc.reset_caches()


def sign_in(api, token: str, provider: str = "google", **body):
    return api.post(f"/auth/oidc/{provider}", {"id_token": token, **body})


def owner(provider: str, sub: str) -> str | None:
    from chalicelib.models.identities import owner_of

    return owner_of(provider, sub)


def account_with_email(email: str) -> str | None:
    from chalicelib.models.users import user_id_by_claim

    return user_id_by_claim("email", email)


# ---- first and later sign-ins ------------------------------------------------------------------------------


def test_a_first_sign_in_creates_a_verified_account_without_a_password(api, issuer):
    r = sign_in(api, issuer.mint(email="ana.maria+photos@example.com", sub="g-1", name="Ana María"))
    assert r.status_code == 200, r.body
    assert r.data["token_type"] == "Bearer" and r.data["refresh_token"] and r.data["expires_in"] > 0
    user = r.data["user"]
    assert user["username"] == "ana.maria" and user["display_name"] == "Ana María"
    assert user["email"] == "ana.maria+photos@example.com" and user["email_verified"] is True
    me = api.get("/auth/me", token=r.data["access_token"])
    assert me.status_code == 200 and me.data["id"] == user["id"]
    assert owner("google", "g-1") == user["id"]
    # No password: a password login is refused like a wrong one.
    for login in ("ana.maria", "ana.maria+photos@example.com"):
        refused = api.post("/auth/login", {"login": login, "password": PASSWORD})
        assert refused.status_code == 401 and refused.data["error"]["code"] == "invalid_credentials"

    # The second sign-in (a new token, another email even) reaches the same account.
    again = sign_in(api, issuer.mint(email="ana.new@example.com", sub="g-1"))
    assert again.status_code == 200 and again.data["user"]["id"] == user["id"]
    assert account_with_email("ana.new@example.com") is None


def test_the_first_sign_in_links_to_the_account_with_that_verified_email(api, issuer, make_user):
    bob = make_user("bob")
    r = sign_in(api, issuer.mint(email="BOB@example.com".lower(), sub="g-bob"))
    assert r.status_code == 200 and r.data["user"]["id"] == bob["id"] and r.data["user"]["username"] == "bob"
    items = api.get("/auth/identities", token=r.data["access_token"]).data["items"]
    assert [(i["provider"], i["email"]) for i in items] == [("google", "bob@example.com")]
    assert items[0]["linked_at"].endswith("Z")
    assert api.post("/auth/login", {"login": "bob", "password": PASSWORD}).status_code == 200  # still works


def test_an_account_whose_email_was_never_verified_is_not_linked(api, issuer, make_user):
    carl = make_user("carl", verify=False)
    r = sign_in(api, issuer.mint(email=carl["email"], sub="g-carl"))
    assert r.status_code == 409 and r.data["error"]["code"] == "email_not_verified"
    assert owner("google", "g-carl") is None
    # Its owner proves the address with a password reset (which verifies it); then the sign-in links.
    assert api.post("/auth/password/forgot", {"email": carl["email"]}).status_code == 202
    reset = {"email": carl["email"], "code": last_code(carl["email"]), "new_password": "a new long passphrase"}
    assert api.post("/auth/password/reset", reset).status_code == 204
    r = sign_in(api, issuer.mint(email=carl["email"], sub="g-carl"))
    assert r.status_code == 200 and r.data["user"]["id"] == carl["id"]


def test_a_taken_username_gets_a_suffix(api, issuer, make_user):
    make_user("dana")
    r = sign_in(api, issuer.mint(email="dana@elsewhere.example", sub="g-dana"))
    assert r.status_code == 200
    username = r.data["user"]["username"]
    assert username.startswith("dana") and username != "dana" and 3 <= len(username) <= 30


@pytest.mark.parametrize(
    "email,expected",
    [
        ("x@example.com", "user_x"),
        ("..émile..@example.com", "emile"),
        ("a-b c@example.com", "a_b_c"),
        ("a" * 40 + "@example.com", "a" * 30),
    ],
)
def test_usernames_derived_from_emails_follow_the_username_rules(email, expected):
    import re

    from chalicelib.services.oidc import username_candidates

    candidates = username_candidates(email)
    assert candidates[0] == expected
    for candidate in candidates:
        assert re.fullmatch(r"[A-Za-z0-9_](?:[A-Za-z0-9_.]*[A-Za-z0-9_])?", candidate) and 3 <= len(candidate) <= 30


def test_apple_private_relay_addresses_and_string_booleans(api, issuer):
    relay = "x7yzq2@privaterelay.appleid.com"
    token = issuer.mint("apple", email=relay, sub="001234.abcdef")
    assert jwt.decode(token, options={"verify_signature": False})["email_verified"] == "true"  # as Apple sends it
    r = sign_in(api, token, "apple")
    assert r.status_code == 200, r.body
    assert r.data["user"]["email"] == relay and r.data["user"]["username"] == "x7yzq2"
    assert owner("apple", "001234.abcdef") == r.data["user"]["id"]
    assert owner("apple", "001234.ABCDEF") is None  # sub is case-sensitive

    unverified = sign_in(api, issuer.mint("apple", email="z@example.com", sub="002", email_verified=False), "apple")
    assert unverified.status_code == 403 and unverified.data["error"]["code"] == "email_not_verified"
    assert owner("apple", "002") is None


def test_concurrent_first_sign_ins_of_one_identity_make_one_account(api, issuer):
    token = issuer.mint(email="racer@example.com", sub="g-race")
    results = []

    def go():
        results.append(sign_in(api, token))

    threads = [threading.Thread(target=go) for _ in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert [r.status_code for r in results] == [200] * 4, [r.body for r in results]
    assert len({r.data["user"]["id"] for r in results}) == 1
    assert owner("google", "g-race") == results[0].data["user"]["id"]


# ---- tokens that are refused -------------------------------------------------------------------------------


def _b64(data: dict | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _forged(issuer: Issuer) -> str:
    """A good token's claims and the issuer's kid, signed with another RSA key."""
    _, other_key = new_key()
    return jwt.encode(issuer.claims(email="eve@example.com", sub="g-eve"), other_key, "RS256", {"kid": issuer.kid()})


def _hs256(issuer: Issuer) -> str:
    """Key confusion: HS256 keyed with the provider's public key (as a naive verifier would check it)."""
    import hashlib
    import hmac

    keys = requests.get(f"{issuer.url}/google/jwks", timeout=5).json()["keys"]
    jwk = next(k for k in keys if k["kid"] == issuer.kid())
    head = _b64({"alg": "HS256", "typ": "JWT", "kid": issuer.kid()})
    body = _b64(issuer.claims(email="eve@example.com", sub="g-eve"))
    signature = hmac.new(json.dumps(jwk).encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64(signature)}"


def _none(issuer: Issuer) -> str:
    head = _b64({"alg": "none", "typ": "JWT", "kid": issuer.kid()})
    return f"{head}.{_b64(issuer.claims(email='eve@example.com', sub='g-eve'))}."


EVE = {"email": "eve@example.com", "sub": "g-eve"}
REFUSED = {
    "forged signature": (_forged, {}, "signature"),
    "expired past the leeway": (lambda i: i.mint(**EVE, expires_in=-90), {}, "expired"),
    "wrong audience": (lambda i: i.mint(**EVE, aud="someone-else"), {}, "audience"),
    "wrong issuer": (
        lambda i: i.mint(**EVE, iss="https://accounts.google.com"),
        {},
        "issuer",
    ),
    "alg none": (_none, {}, "algorithm"),
    "alg HS256": (_hs256, {}, "algorithm"),
    "nonce mismatch": (lambda i: i.mint(**EVE, nonce="n-1"), {"nonce": "n-2"}, "nonce"),
    "nonce in the token, none sent": (lambda i: i.mint(**EVE, nonce="n-1"), {}, "nonce"),
    "nonce sent, none in the token": (lambda i: i.mint(**EVE), {"nonce": "n-1"}, "nonce"),
    "another provider's token": (lambda i: i.mint("apple", **EVE), {}, "unknown_key"),
    "malformed": (lambda i: "not.a.jwt", {}, "malformed"),
    "garbage": (lambda i: "x" * 500, {}, "malformed"),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_refused_tokens_are_401_and_create_nothing(api, issuer, case):
    make_token, extra, reason = REFUSED[case]
    r = sign_in(api, make_token(issuer), **extra)
    assert r.status_code == 401, (case, r.body)
    assert r.data["error"]["code"] == "invalid_id_token" and r.data["error"]["details"] == {"id_token": reason}
    assert owner("google", "g-eve") is None and account_with_email("eve@example.com") is None


def test_leeway_and_a_matching_nonce_are_accepted(api, issuer):
    r = sign_in(api, issuer.mint(email="late@example.com", sub="g-late", expires_in=-30))  # within 60 s
    assert r.status_code == 200, r.body
    r = sign_in(api, issuer.mint(email="nonce@example.com", sub="g-nonce", nonce="n-ok"), nonce="n-ok")
    assert r.status_code == 200, r.body


def test_an_unknown_kid_refreshes_the_jwks_once_per_cooldown(api, issuer, monkeypatch):
    from chalicelib.services import oidc

    clock = {"now": 1000.0}
    monkeypatch.setattr(oidc, "_clock", lambda: clock["now"])
    assert sign_in(api, issuer.mint(email="kim@example.com", sub="g-kim")).status_code == 200
    base = issuer.jwks_requests()
    _, stranger = new_key()
    made_up = jwt.encode(issuer.claims(email="eve@example.com", sub="g-eve"), stranger, "RS256", {"kid": "made-up"})

    # Within the cooldown, unknown kids never fetch; past it, the first fetches once and the rest do not.
    for _ in range(3):
        assert sign_in(api, made_up).data["error"]["details"] == {"id_token": "unknown_key"}
    assert issuer.jwks_requests() == base
    clock["now"] += oidc.JWKS_REFRESH_COOLDOWN + 1
    for _ in range(5):
        assert sign_in(api, made_up).status_code == 401
    assert issuer.jwks_requests() == base + 1

    # A real rotation: the new kid is fetched (once) after the cooldown and accepted.
    issuer.rotate()
    clock["now"] += oidc.JWKS_REFRESH_COOLDOWN + 1
    assert sign_in(api, issuer.mint(email="kim@example.com", sub="g-kim")).status_code == 200
    assert sign_in(api, issuer.mint(email="kim@example.com", sub="g-kim")).status_code == 200
    assert issuer.jwks_requests() == base + 2


def test_unknown_unconfigured_and_unreachable_providers(api, issuer, monkeypatch):
    from chalicelib.config import get_settings
    from chalicelib.services import oidc

    token = issuer.mint(email="fay@example.com", sub="g-fay")
    r = sign_in(api, token, "facebook")
    assert r.status_code == 404 and r.data["error"]["code"] == "unknown_provider"

    monkeypatch.setenv("LIGHTBOX_OIDC_GOOGLE_CLIENT_IDS", "")
    get_settings.cache_clear()
    r = sign_in(api, token)
    assert r.status_code == 503 and r.data["error"]["code"] == "identity_provider_not_configured"

    monkeypatch.setenv("LIGHTBOX_OIDC_GOOGLE_CLIENT_IDS", DEFAULT_CLIENT_IDS["google"])
    monkeypatch.setenv("LIGHTBOX_OIDC_GOOGLE_DISCOVERY_URL", f"http://127.0.0.1:{free_port()}/nothing-here")
    monkeypatch.setenv("LIGHTBOX_OIDC_TIMEOUT", "1")
    get_settings.cache_clear()
    oidc.reset_caches()
    r = sign_in(api, token)
    assert r.status_code == 503 and r.data["error"]["code"] == "identity_provider_unavailable"
    assert owner("google", "g-fay") is None


# ---- sessions ----------------------------------------------------------------------------------------------


def test_cookie_session_mode_works_as_for_login(api, issuer):
    r = sign_in(api, issuer.mint(email="gus@example.com", sub="g-gus"), session="cookie")
    assert r.status_code == 200 and "refresh_token" not in r.data and r.data["access_token"]
    set_cookie = r.headers["Set-Cookie"]
    assert set_cookie.startswith("lightbox_refresh=") and "HttpOnly" in set_cookie and "SameSite=Strict" in set_cookie
    cookie = set_cookie.split(";", 1)[0]
    refreshed = api.post("/auth/token/refresh", headers={"Cookie": cookie, **CSRF})
    assert refreshed.status_code == 200 and refreshed.data["access_token"]


def test_logout_all_ends_a_federated_session(api, issuer):
    r = sign_in(api, issuer.mint(email="hal@example.com", sub="g-hal"))
    assert api.post("/auth/logout-all", token=r.data["access_token"]).status_code == 204
    assert api.post("/auth/token/refresh", {"refresh_token": r.data["refresh_token"]}).status_code == 401


# ---- linked identities -------------------------------------------------------------------------------------


def test_identities_listed_and_unlinked_but_never_the_last_way_in(api, issuer):
    first = sign_in(api, issuer.mint(email="ivy@example.com", sub="g-ivy"))
    token = first.data["access_token"]
    r = api.delete("/auth/identities/google", token=token)
    assert r.status_code == 409 and r.data["error"]["code"] == "last_login_method"
    assert owner("google", "g-ivy") == first.data["user"]["id"]

    # Apple with the same (verified) email links to the same account.
    apple = sign_in(api, issuer.mint("apple", email="ivy@example.com", sub="a-ivy"), "apple")
    assert apple.data["user"]["id"] == first.data["user"]["id"]
    listed = api.get("/auth/identities", token=token).data["items"]
    assert [i["provider"] for i in listed] == ["apple", "google"]

    assert api.delete("/auth/identities/google", token=token).status_code == 204
    assert [i["provider"] for i in api.get("/auth/identities", token=token).data["items"]] == ["apple"]
    assert owner("google", "g-ivy") is None
    assert api.delete("/auth/identities/google", token=token).status_code == 404
    assert api.delete("/auth/identities/facebook", token=token).status_code == 404
    assert api.delete("/auth/identities/apple", token=token).status_code == 409
    # Signing in with Google again links it again (the email is the account's, and verified).
    again = sign_in(api, issuer.mint(email="ivy@example.com", sub="g-ivy"))
    assert again.status_code == 200 and again.data["user"]["id"] == first.data["user"]["id"]


def test_two_unlinks_at_once_leave_one_way_in(api, issuer):
    first = sign_in(api, issuer.mint(email="jo@example.com", sub="g-jo"))
    sign_in(api, issuer.mint("apple", email="jo@example.com", sub="a-jo"), "apple")
    token = first.data["access_token"]
    results: dict[str, int] = {}

    def unlink(provider: str) -> None:
        results[provider] = api.delete(f"/auth/identities/{provider}", token=token).status_code

    threads = [threading.Thread(target=unlink, args=(p,)) for p in ("google", "apple")]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(results.values()) == [204, 409]
    assert len(api.get("/auth/identities", token=token).data["items"]) == 1


def test_an_account_with_a_password_may_unlink_its_only_identity(api, issuer, make_user):
    kay = make_user("kay")
    sign_in(api, issuer.mint(email=kay["email"], sub="g-kay"))
    assert api.delete("/auth/identities/google", token=kay["access"]).status_code == 204
    assert api.get("/auth/identities", token=kay["access"]).data == {"items": []}


def test_password_routes_tell_a_passwordless_account_to_set_one(api, issuer):
    r = sign_in(api, issuer.mint(email="lea@example.com", sub="g-lea"))
    token = r.data["access_token"]
    for method, path, body in (
        ("POST", "/auth/password/change", {"old_password": "anything", "new_password": "a new long passphrase"}),
        ("DELETE", "/users/me", {"password": "anything"}),
        ("POST", "/auth/username/change", {"password": "anything", "new_username": "lea2"}),
        ("POST", "/auth/email/change", {"password": "anything", "new_email": "lea2@example.com"}),
    ):
        refused = api.call(method, path, body, token=token)
        assert refused.status_code == 403 and refused.data["error"]["code"] == "password_not_set", path
    # Setting one through the emailed reset code: then password login and unlinking the identity work.
    assert api.post("/auth/password/forgot", {"email": "lea@example.com"}).status_code == 202
    reset = {"email": "lea@example.com", "code": last_code("lea@example.com"), "new_password": "a new long passphrase"}
    assert api.post("/auth/password/reset", reset).status_code == 204
    login = api.post("/auth/login", {"login": "lea@example.com", "password": "a new long passphrase"})
    assert login.status_code == 200
    assert api.delete("/auth/identities/google", token=login.data["access_token"]).status_code == 204


def test_a_passwordless_account_turns_two_factor_off_with_the_code_alone(api, issuer, two_factor_clock):  # noqa: F811
    clock = two_factor_clock
    r = sign_in(api, issuer.mint(email="tom@example.com", sub="g-tom"))
    token = r.data["access_token"]
    secret = api.post("/auth/2fa/setup", token=token).data["secret"]
    enabled = api.post("/auth/2fa/enable", {"code": _code(secret, clock)}, token=token)
    assert enabled.status_code == 200, enabled.body
    clock.advance(STEP)
    assert sign_in(api, issuer.mint(email="tom@example.com", sub="g-tom")).data["two_factor_required"] is True
    wrong = "000000" if _code(secret, clock) != "000000" else "111111"
    r = api.delete("/auth/2fa", {"code": wrong}, token=token)
    assert r.status_code == 400 and r.data["error"]["code"] == "invalid_code"
    assert api.get("/auth/me", token=token).data["two_factor_enabled"] is True
    # A password sent anyway changes nothing: there is none to check.
    r = api.delete("/auth/2fa", {"password": "anything", "code": _code(secret, clock)}, token=token)
    assert r.status_code == 204, r.body
    assert api.get("/auth/me", token=token).data["two_factor_enabled"] is False
    assert sign_in(api, issuer.mint(email="tom@example.com", sub="g-tom")).data["access_token"]


def test_a_suspended_account_is_refused_and_nothing_is_linked(api, issuer, make_user):
    from chalicelib.models.users import User
    from tests.moderation_kit import promote

    staff = promote(make_user, "staffer", "staff")
    linked, unlinked = make_user("sue"), make_user("sam")
    assert sign_in(api, issuer.mint(email=linked["email"], sub="g-sue")).status_code == 200
    for user in (linked, unlinked):
        assert api.post(f"/staff/users/{user['id']}/suspend", {}, token=staff["access"]).status_code == 200
    # Already linked (the claim names the account) and found by its email (it would be linked): both 403.
    for email, sub in ((linked["email"], "g-sue"), (unlinked["email"], "g-sam")):
        r = sign_in(api, issuer.mint(email=email, sub=sub))
        assert r.status_code == 403 and r.data["error"]["code"] == "account_suspended", r.body
    assert owner("google", "g-sam") is None
    assert dict(User.get(unlinked["id"], consistent_read=True).identities) == {}
    # Reinstated: still nothing linked until the next sign-in, which links it.
    assert api.post(f"/staff/users/{unlinked['id']}/reinstate", {}, token=staff["access"]).status_code == 200
    sam = api.post("/auth/login", {"login": "sam", "password": PASSWORD}).data["access_token"]
    assert api.get("/auth/identities", token=sam).data == {"items": []}
    assert sign_in(api, issuer.mint(email=unlinked["email"], sub="g-sam")).data["user"]["id"] == unlinked["id"]


def test_a_deleted_account_releases_its_identities(api, issuer, make_user):
    mo = make_user("moe")
    linked = sign_in(api, issuer.mint(email=mo["email"], sub="g-mo"))
    assert linked.data["user"]["id"] == mo["id"]
    assert api.delete("/users/me", {"password": PASSWORD}, token=mo["access"]).status_code == 204
    refused = sign_in(api, issuer.mint(email=mo["email"], sub="g-mo"))
    assert refused.status_code == 401 and refused.data["error"]["code"] == "account_deleted"
    drain()
    fresh = sign_in(api, issuer.mint(email=mo["email"], sub="g-mo"))
    assert fresh.status_code == 200 and fresh.data["user"]["id"] != mo["id"]


def test_hostile_strings_are_clear_4xx_errors(api, issuer):
    from tests.api.test_bad_input import NASTY_STRINGS

    weird_headers = [{"alg": "RS256", "kid": k} for k in (123, {"x": 1}, ["a"], "", "k" * 300)] + [{"alg": ["RS256"]}]
    tokens = [*NASTY_STRINGS, *(f"{_b64(h)}.{_b64({'sub': 1})}.c2ln" for h in weird_headers), "a.b.c", "..", "e30.e30."]
    good = issuer.mint(email="nia@example.com", sub="g-nia", nonce="n")
    for provider in ("google", "apple"):
        for value in tokens:
            r = sign_in(api, value, provider)
            assert 400 <= r.status_code < 500 and r.data["error"]["code"] in ("validation_error", "invalid_id_token"), (
                value[:40],
                r.body,
            )
        for nonce in NASTY_STRINGS:
            r = sign_in(api, good, nonce=nonce)
            assert 400 <= r.status_code < 500 and r.data["error"]["code"] in ("validation_error", "invalid_id_token")
    assert owner("google", "g-nia") is None


def test_request_costs_are_bounded_and_never_scan(api, issuer, counter):
    """A sign-in of a known identity: its claim, its user, the session; a first one: the identity and email claims,
    one transaction (user and claims), the search index, the session and its last_activity_at (written at most
    once per 15 minutes, so a repeat sign-in skips it); listing: the authenticating GetItem."""
    first = sign_in(api, issuer.mint(email="oli@example.com", sub="g-oli"))
    token = first.data["access_token"]
    budgets = {
        "first sign-in": (lambda: sign_in(api, issuer.mint(email="pia@example.com", sub="g-pia")), 200, 6),
        "known identity": (lambda: sign_in(api, issuer.mint(email="oli@example.com", sub="g-oli")), 200, 3),
        "list": (lambda: api.get("/auth/identities", token=token), 200, 1),
    }
    for name, (call, status, budget) in budgets.items():
        response, calls = counter.measure(call)
        assert response.status_code == status, (name, response.body)
        assert not any(c.endswith(".Scan") for c in calls), (name, calls)
        assert len([c for c in calls if c.startswith("dynamodb.")]) <= budget, (name, calls)
