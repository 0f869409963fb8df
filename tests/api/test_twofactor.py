"""Two-factor authentication (TOTP, RFC 6238): setup, enable, the login challenge, verify, replay refusal,
recovery codes, disabling, rate limits and races. The service's clock (``twofactor.epoch``) is held still
and moved by the tests, and codes are computed with pyotp for the step they mean."""

from __future__ import annotations

import threading

import pyotp
import pytest

from tests.conftest import PASSWORD

STEP = 30


@pytest.fixture
def clock(monkeypatch):
    """The two-factor service's clock: held at the middle of a TOTP step, moved with ``clock.advance``."""
    from chalicelib.services import twofactor

    class Clock:
        now = (twofactor.epoch() // STEP) * STEP + 15

        def __call__(self, dt=None):
            return self.now

        def advance(self, seconds: int) -> None:
            self.now += seconds

    c = Clock()
    monkeypatch.setattr(twofactor, "epoch", c)
    return c


def _code(secret: str, clock, steps: int = 0) -> str:
    return pyotp.TOTP(secret).at(clock.now + steps * STEP)


def _login(api, user: dict, **extra):
    return api.post("/auth/login", {"login": user["username"], "password": user["password"], **extra})


def _enable(api, user: dict, clock) -> tuple[str, list[str]]:
    r = api.post("/auth/2fa/setup", token=user["access"])
    assert r.status_code == 200, r.body
    secret = r.data["secret"]
    r = api.post("/auth/2fa/enable", {"code": _code(secret, clock)}, token=user["access"])
    assert r.status_code == 200, r.body
    clock.advance(STEP)  # the enabling code's step is spent
    return secret, r.data["recovery_codes"]


@pytest.fixture
def secured(api, make_user, clock):
    user = make_user("secured")
    secret, recovery = _enable(api, user, clock)
    return {**user, "secret": secret, "recovery": recovery}


def _challenge(api, user: dict, **extra) -> str:
    r = _login(api, user, **extra)
    assert r.status_code == 200, r.body
    assert r.data["two_factor_required"] is True and "access_token" not in r.data
    return r.data["challenge_token"]


def test_setup_returns_a_secret_and_an_otpauth_uri_and_replaces_a_pending_one(api, make_user, clock):
    user = make_user("alice")
    first = api.post("/auth/2fa/setup", token=user["access"])
    assert first.status_code == 200
    uri = first.data["otpauth_uri"]
    assert uri.startswith("otpauth://totp/Lightbox:alice%40example.com?") and "issuer=Lightbox" in uri
    assert f"secret={first.data['secret']}" in uri
    parsed = pyotp.parse_uri(uri)
    assert parsed.secret == first.data["secret"] and parsed.issuer == "Lightbox"
    second = api.post("/auth/2fa/setup", token=user["access"])
    assert second.data["secret"] != first.data["secret"]
    # Not on until enabled: the login still answers tokens, and the old pending secret no longer enables.
    assert _login(api, user).data["access_token"]
    r = api.post("/auth/2fa/enable", {"code": _code(first.data["secret"], clock)}, token=user["access"])
    assert r.status_code == 400 and r.data["error"]["code"] == "invalid_code"
    assert api.get("/auth/me", token=user["access"]).data["two_factor_enabled"] is False


def test_enable_returns_ten_distinct_recovery_codes_stored_hashed(api, make_user, clock):
    from chalicelib.models.twofactor import TwoFactor

    user = make_user("bob")
    assert api.post("/auth/2fa/enable", {"code": "123456"}, token=user["access"]).status_code == 409  # no setup
    secret, recovery = _enable(api, user, clock)
    assert len(recovery) == 10 and len(set(recovery)) == 10
    assert all(len(c) == 11 and c[5] == "-" for c in recovery)
    me = api.get("/auth/me", token=user["access"]).data
    assert me["two_factor_enabled"] is True and "secret" not in me
    row = TwoFactor.get(user["id"])
    stored = " ".join(str(v) for v in row.recovery_codes.as_dict().values())
    assert all(c.replace("-", "") not in stored and c not in stored for c in recovery)
    # Already on: setup and enable are 409, and the secret is never answered again.
    r = api.post("/auth/2fa/setup", token=user["access"])
    assert r.status_code == 409 and r.data["error"]["code"] == "two_factor_enabled" and secret not in r.body.decode()
    assert api.post("/auth/2fa/enable", {"code": _code(secret, clock)}, token=user["access"]).status_code == 409


def test_login_answers_a_challenge_and_verify_completes_it(api, secured, clock):
    token = _challenge(api, secured)
    r = api.post("/auth/2fa/verify", {"challenge_token": token, "code": _code(secured["secret"], clock)})
    assert r.status_code == 200, r.body
    assert r.data["access_token"] and r.data["refresh_token"] and r.data["user"]["username"] == "secured"
    assert r.data["user"]["two_factor_enabled"] is True
    assert api.get("/auth/me", token=r.data["access_token"]).status_code == 200
    # The challenge is spent, even with a fresh code.
    clock.advance(STEP)
    again = api.post("/auth/2fa/verify", {"challenge_token": token, "code": _code(secured["secret"], clock)})
    assert again.status_code == 401 and again.data["error"]["code"] == "invalid_challenge"


def test_a_code_is_never_accepted_twice_nor_an_older_one_of_the_window(api, secured, clock):
    secret = secured["secret"]
    current = _code(secret, clock)
    previous = _code(secret, clock, -1)  # still inside the window (valid_window=1)
    first = api.post("/auth/2fa/verify", {"challenge_token": _challenge(api, secured), "code": current})
    assert first.status_code == 200
    token = _challenge(api, secured)
    replay = api.post("/auth/2fa/verify", {"challenge_token": token, "code": current})
    assert replay.status_code == 401 and replay.data["error"]["code"] == "code_already_used"
    older = api.post("/auth/2fa/verify", {"challenge_token": token, "code": previous})
    assert older.status_code == 401 and older.data["error"]["code"] == "code_already_used"
    # The refused attempts did not spend the challenge: the next step's code completes it.
    nxt = api.post("/auth/2fa/verify", {"challenge_token": token, "code": _code(secret, clock, 1)})
    assert nxt.status_code == 200


def test_the_previous_step_is_accepted_for_clock_drift_and_farther_codes_never(api, secured, clock):
    secret = secured["secret"]
    clock.advance(STEP)  # the enabling step is two behind now: the previous step is unused
    token = _challenge(api, secured)
    accepted = {_code(secret, clock, step) for step in (-1, 0, 1)}
    for far in (-3, -2, 2, 3):
        if _code(secret, clock, far) in accepted:  # two steps may share a code (about 1 in 170,000 tests)
            continue
        r = api.post("/auth/2fa/verify", {"challenge_token": token, "code": _code(secret, clock, far)})
        assert r.status_code == 401 and r.data["error"]["code"] in ("invalid_code", "code_already_used"), far
    assert api.post("/auth/2fa/verify", {"challenge_token": token, "code": _code(secret, clock, -1)}).status_code == 200
    # A phone running ahead: the next step's code, then nothing older than it.
    token = _challenge(api, secured)
    r = api.post("/auth/2fa/verify", {"challenge_token": token, "code": _code(secret, clock, 1)})
    assert r.status_code == 200
    r = api.post("/auth/2fa/verify", {"challenge_token": _challenge(api, secured), "code": _code(secret, clock)})
    assert r.status_code == 401 and r.data["error"]["code"] == "code_already_used"


def test_a_wrong_code_is_refused_clearly(api, secured, clock):
    token = _challenge(api, secured)
    good = _code(secured["secret"], clock)
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"
    for code in (wrong, "abcdef", "12345", "ZZZZZ-ZZZZZ"):
        r = api.post("/auth/2fa/verify", {"challenge_token": token, "code": code})
        assert r.status_code == 401 and r.data["error"]["code"] == "invalid_code", (code, r.body)


def test_a_recovery_code_works_once(api, secured, clock):
    code = secured["recovery"][0]
    r = api.post("/auth/2fa/verify", {"challenge_token": _challenge(api, secured), "code": code.lower()})
    assert r.status_code == 200, r.body
    r = api.post("/auth/2fa/verify", {"challenge_token": _challenge(api, secured), "code": code})
    assert r.status_code == 401 and r.data["error"]["code"] == "invalid_code"
    # The others still work, typed without the dash.
    r = api.post(
        "/auth/2fa/verify",
        {"challenge_token": _challenge(api, secured), "code": secured["recovery"][1].replace("-", "")},
    )
    assert r.status_code == 200


def test_cookie_mode_is_remembered_by_the_challenge(api, secured, clock):
    token = _challenge(api, secured, session="cookie")
    r = api.post("/auth/2fa/verify", {"challenge_token": token, "code": _code(secured["secret"], clock)})
    assert r.status_code == 200 and "refresh_token" not in r.data and r.data["access_token"]
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith("lightbox_refresh=") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    # The challenge answer itself sets no cookie.
    assert "Set-Cookie" not in _login(api, secured, session="cookie").headers


def test_expired_forged_and_malformed_challenges_are_refused(api, secured, clock):
    code = _code(secured["secret"], clock)
    token = _challenge(api, secured)
    for forged in ("tfc_" + "A" * 43, "not-a-token", token[:-1] + ("A" if token[-1] != "A" else "B")):
        r = api.post("/auth/2fa/verify", {"challenge_token": forged, "code": code})
        assert r.status_code == 401 and r.data["error"]["code"] == "invalid_challenge"
    clock.advance(301)
    r = api.post("/auth/2fa/verify", {"challenge_token": token, "code": _code(secured["secret"], clock)})
    assert r.status_code == 401 and r.data["error"]["code"] == "challenge_expired"
    for body in ({"challenge_token": token}, {"code": code}, {"challenge_token": token, "code": 123456}):
        r = api.post("/auth/2fa/verify", body)
        assert r.status_code == 400 and r.data["error"]["code"] == "validation_error"


def test_verify_attempts_are_rate_limited_like_logins(api, secured, clock):
    token = _challenge(api, secured)
    good = _code(secured["secret"], clock)
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"
    statuses = [api.post("/auth/2fa/verify", {"challenge_token": token, "code": wrong}).status_code for _ in range(5)]
    assert statuses == [401] * 5
    r = api.post("/auth/2fa/verify", {"challenge_token": token, "code": good})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    # A new login does not reset the budget of the account either.
    r = api.post("/auth/2fa/verify", {"challenge_token": _challenge(api, secured), "code": good})
    assert r.status_code == 429


def test_two_verifies_of_one_code_at_once_let_exactly_one_in(api, secured, clock, monkeypatch):
    from chalicelib.models import twofactor as model
    from chalicelib.services import twofactor

    code = _code(secured["secret"], clock)
    tokens = [_challenge(api, secured), _challenge(api, secured)]
    both_read = threading.Barrier(2, timeout=30)
    real = model.two_factor_of

    def read_then_wait(user_id):
        row = real(user_id)
        both_read.wait()  # both have checked the code against the same last_step before either writes
        return row

    monkeypatch.setattr(twofactor, "two_factor_of", read_then_wait)
    statuses: list[int] = []

    def verify(token: str) -> None:
        statuses.append(api.post("/auth/2fa/verify", {"challenge_token": token, "code": code}).status_code)

    threads = [threading.Thread(target=verify, args=(t,)) for t in tokens]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(statuses) == [200, 401]


def test_two_verifies_of_one_challenge_at_once_let_exactly_one_in(api, secured, clock, monkeypatch):
    from chalicelib.models import twofactor as model
    from chalicelib.services import twofactor

    token = _challenge(api, secured)
    codes = [_code(secured["secret"], clock), secured["recovery"][0]]
    both_read = threading.Barrier(2, timeout=30)
    real = model.two_factor_of

    def read_then_wait(user_id):
        row = real(user_id)
        both_read.wait()
        return row

    monkeypatch.setattr(twofactor, "two_factor_of", read_then_wait)
    statuses: list[int] = []

    def verify(code: str) -> None:
        statuses.append(api.post("/auth/2fa/verify", {"challenge_token": token, "code": code}).status_code)

    threads = [threading.Thread(target=verify, args=(c,)) for c in codes]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(statuses) == [200, 401]


def test_disable_needs_the_password_and_a_code(api, secured, clock):
    access = secured["access"]
    code = _code(secured["secret"], clock)
    for body in ({"password": "wrong password!", "code": code}, {"code": code}):  # none: only without one
        r = api.delete("/auth/2fa", body, token=access)
        assert r.status_code == 403 and r.data["error"]["code"] == "invalid_password"
    r = api.delete(
        "/auth/2fa", {"password": PASSWORD, "code": "000000" if code != "000000" else "111111"}, token=access
    )
    assert r.status_code == 400 and r.data["error"]["code"] == "invalid_code"
    assert api.get("/auth/me", token=access).data["two_factor_enabled"] is True
    assert _login(api, secured).data["two_factor_required"] is True
    r = api.delete("/auth/2fa", {"password": PASSWORD, "code": code}, token=access)
    assert r.status_code == 204, r.body
    assert api.get("/auth/me", token=access).data["two_factor_enabled"] is False
    assert _login(api, secured).data["access_token"]
    r = api.delete("/auth/2fa", {"password": PASSWORD, "code": code}, token=access)
    assert r.status_code == 409 and r.data["error"]["code"] == "two_factor_not_enabled"
    # Set up again from scratch: a new secret.
    assert api.post("/auth/2fa/setup", token=access).data["secret"] != secured["secret"]


def test_disable_with_a_recovery_code_and_a_replayed_totp_code(api, secured, clock):
    access = secured["access"]
    spent = _code(secured["secret"], clock, -1)  # the enabling code's step
    r = api.delete("/auth/2fa", {"password": PASSWORD, "code": spent}, token=access)
    assert r.status_code == 400 and r.data["error"]["code"] == "code_already_used"
    r = api.delete("/auth/2fa", {"password": PASSWORD, "code": secured["recovery"][3]}, token=access)
    assert r.status_code == 204


def test_a_challenge_of_an_account_that_turned_two_factor_off_meanwhile_is_refused(api, secured, clock):
    token = _challenge(api, secured)
    code = _code(secured["secret"], clock)
    assert api.delete("/auth/2fa", {"password": PASSWORD, "code": code}, token=secured["access"]).status_code == 204
    clock.advance(STEP)
    r = api.post("/auth/2fa/verify", {"challenge_token": token, "code": _code(secured["secret"], clock)})
    assert r.status_code == 401 and r.data["error"]["code"] == "invalid_challenge"


def test_a_challenge_issued_before_a_suspension_is_refused_at_verify(api, make_user, secured, clock):
    from tests.moderation_kit import promote

    staff = promote(make_user, "staffer", "staff")
    token = _challenge(api, secured)
    assert api.post(f"/staff/users/{secured['id']}/suspend", {}, token=staff["access"]).status_code == 200
    r = api.post("/auth/2fa/verify", {"challenge_token": token, "code": _code(secured["secret"], clock)})
    assert r.status_code == 403 and r.data["error"]["code"] == "account_suspended", r.body
    assert "access_token" not in r.data


def test_routes_need_a_token_and_bad_input_is_a_400(api, make_user):
    for method, path in (("POST", "/auth/2fa/setup"), ("POST", "/auth/2fa/enable"), ("DELETE", "/auth/2fa")):
        assert api.call(method, path, {"code": "123456", "password": "x"}).status_code == 401
    user = make_user("carol")
    for body in ({}, {"code": ""}, {"code": "1" * 33}, {"code": 123456}, {"code": "123456", "extra": 1}):
        r = api.post("/auth/2fa/enable", body, token=user["access"])
        assert r.status_code == 400 and r.data["error"]["code"] == "validation_error", body
    for body in ({"password": PASSWORD}, {"password": "", "code": "123456"}, {"password": 1, "code": "123456"}):
        r = api.delete("/auth/2fa", body, token=user["access"])
        assert r.status_code == 400 and r.data["error"]["code"] == "validation_error", body
