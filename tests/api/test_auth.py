"""Auth and accounts: every route of the contract's "Auth and accounts" table, with the security rules."""

from __future__ import annotations

import base64
import json
import threading
import time

import jwt
import pytest

from tests.conftest import PASSWORD, last_code, sent_emails
from tests.jobs import drain

SECRET = "test-secret-key-of-sufficient-length-0123456789"


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


# ---- signup and verification -------------------------------------------------------------------------------


def test_duplicate_email_and_username_conflict_case_insensitively(api, make_user):
    make_user("bob")
    r = api.post("/auth/signup", {"email": "BOB@example.com", "username": "other", "password": PASSWORD})
    assert r.status_code == 409 and r.data["error"]["code"] == "email_taken"
    r = api.post("/auth/signup", {"email": "new@example.com", "username": "BoB", "password": PASSWORD})
    assert r.status_code == 409 and r.data["error"]["code"] == "username_taken"


def test_concurrent_signups_for_one_username_create_exactly_one(api):
    results = []

    def signup(i):
        r = api.post("/auth/signup", {"email": f"racer{i}@example.com", "username": "racer", "password": PASSWORD})
        results.append(r.status_code)

    threads = [threading.Thread(target=signup, args=(i,)) for i in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(results) == [201] + [409] * 7


def test_weak_passwords_are_refused_with_the_field_named(api):
    for weak in ("short1", "aaaaaaaaaaaa", "password123", "xxcarol-the-greatxx"):
        r = api.post(
            "/auth/signup",
            {
                "email": "carol@example.com",
                "username": "carol-the-great".replace("-", "_"),
                "password": weak.replace("-", "_"),
            },
        )
        assert r.status_code == 400, weak
        assert r.data["error"]["code"] == "validation_error" and "password" in r.data["error"]["details"]


def test_otp_wrong_code_attempt_limit_and_expiry(api, make_user, monkeypatch):
    user = make_user("dora", verify=False)
    good = last_code(user["email"])
    wrong = "000000" if good != "000000" else "111111"
    for _ in range(5):
        r = api.post("/auth/verify-email", {"email": user["email"], "code": wrong})
        assert r.status_code == 400 and r.data["error"]["code"] == "invalid_code"
    r = api.post("/auth/verify-email", {"email": user["email"], "code": good})
    assert r.status_code == 400 and r.data["error"]["code"] == "too_many_attempts"

    # a new code (after the cooldown) works; an expired one does not
    from chalicelib.models.users import Otp
    from chalicelib.services import otp as otp_service

    Otp.get(f"verify_email#{user['id']}").update(actions=[Otp.sent_at.set(0)])
    assert api.post("/auth/resend-email-otp", {"email": user["email"]}).status_code == 202
    fresh = last_code(user["email"])
    Otp.get(f"verify_email#{user['id']}").update(actions=[Otp.valid_until.set(int(time.time()) - 1)])
    assert api.post("/auth/verify-email", {"email": user["email"], "code": fresh}).status_code == 400
    Otp.get(f"verify_email#{user['id']}").update(actions=[Otp.sent_at.set(0)])
    assert api.post("/auth/resend-email-otp", {"email": user["email"]}).status_code == 202
    assert api.post("/auth/verify-email", {"email": user["email"], "code": last_code(user["email"])}).status_code == 200
    assert otp_service  # imported module used above


def test_new_codes_do_not_reset_the_daily_guess_budget(api, make_user):
    from chalicelib.models.users import Otp

    user = make_user("budget")
    key = f"password_reset#{user['id']}"
    sent = []
    for _ in range(7):
        before = len(sent_emails())
        assert api.post("/auth/password/forgot", {"email": user["email"]}).status_code == 202
        sent.append(len(sent_emails()) - before)
        Otp.get(key).update(actions=[Otp.sent_at.set(Otp.get(key).sent_at - 3600)])  # past the cooldown
    assert sent == [1, 1, 1, 1, 1, 0, 0]  # five codes a day, then silence (same 202: nothing to enumerate)
    assert Otp.get(key).issued_today == 5


def test_otp_is_stored_hashed(api, make_user):
    user = make_user("eddie", verify=False)
    from chalicelib.models.users import Otp

    row = Otp.get(f"verify_email#{user['id']}")
    from chalicelib.services import otp

    code = last_code(user["email"])
    assert row.code_hash == otp._hash(row.key, code)  # the HMAC is what is kept
    # and the code is nowhere in clear (a substring search of the whole row, hashes and timestamps included, would
    # hit the code's digits by chance now and then: only the text attributes are searched)
    assert code not in {str(v) for v in row.attribute_values.values()}
    assert code not in row.key and code not in (row.payload or "")


def test_resend_is_silent_for_unknown_and_respects_cooldown(api, make_user):
    before = len(sent_emails())
    r = api.post("/auth/resend-email-otp", {"email": "nobody@example.com"})
    assert r.status_code == 202
    assert len(sent_emails()) == before
    user = make_user("fay", verify=False)
    count = len(sent_emails())
    assert api.post("/auth/resend-email-otp", {"email": user["email"]}).status_code == 202
    assert len(sent_emails()) == count  # within the cooldown: same answer, no new mail


# ---- login, tokens, sessions -------------------------------------------------------------------------------


def test_login_failures_are_identical_for_unknown_and_wrong_password(api, make_user):
    make_user("gus")
    a = api.post("/auth/login", {"login": "gus", "password": "wrong password!"})
    b = api.post("/auth/login", {"login": "nobody-here", "password": "wrong password!"})
    assert a.status_code == b.status_code == 401
    assert a.data == b.data


def test_login_rate_limit_per_account(api, make_user):
    make_user("hal")
    for _ in range(5):
        assert api.post("/auth/login", {"login": "hal", "password": "nope nope nope"}).status_code == 401
    r = api.post("/auth/login", {"login": "hal", "password": PASSWORD})
    assert r.status_code == 429 and r.data["error"]["code"] == "rate_limited"
    assert 0 < int(r.headers["Retry-After"]) <= 900


def test_parallel_guesses_cannot_exceed_the_limit(api, make_user, monkeypatch):
    """Attempts are counted before the (slow) password check, so concurrent guesses cannot all slip past."""
    import threading

    from chalicelib.services import passwords

    make_user("racy")
    real_verify = passwords.verify

    def slow_verify(password_hash, password):
        import time

        time.sleep(0.3)  # production argon2 takes this long; the race window is the check
        return real_verify(password_hash, password)

    monkeypatch.setattr(passwords, "verify", slow_verify)
    from chalicelib.services import accounts

    statuses = []

    def guess(i):
        try:
            accounts.login("racy", f"wrong guess {i}", source_ip=f"10.0.0.{i}")
        except Exception as exc:  # any error: the domain error's status is what we record
            statuses.append(getattr(exc, "status", 500))

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(20)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert statuses.count(401) == 5 and statuses.count(429) == 15


def test_a_successful_login_does_not_count_against_the_limit(api, make_user):
    make_user("often")
    for _ in range(8):
        assert api.post("/auth/login", {"login": "often", "password": PASSWORD}).status_code == 200


def test_one_locked_account_does_not_lock_out_the_venue(api, make_user):
    """Everyone behind one address (an event's Wi-Fi): alice's five wrong passwords lock alice only."""
    make_user("alice")
    make_user("bobby")
    for _ in range(5):
        assert api.post("/auth/login", {"login": "alice", "password": "nope nope nope"}).status_code == 401
    for _ in range(10):  # refused attempts on a locked account do not count against the address either
        assert api.post("/auth/login", {"login": "alice", "password": PASSWORD}).status_code == 429
    assert api.post("/auth/login", {"login": "bobby", "password": PASSWORD}).status_code == 200
    assert api.post("/auth/login", {"login": "bobby", "password": "typo typo typo"}).status_code == 401


def test_a_spray_across_many_accounts_from_one_address_is_eventually_429(api, make_user):
    from chalicelib.config import get_settings
    from chalicelib.errors import RateLimitedError, UnauthorizedError
    from chalicelib.services import accounts

    make_user("ivy")
    limit = get_settings().login_max_failures_per_ip
    assert limit >= 10 * get_settings().login_max_failures  # for sprays, far above one account's limit
    for i in range(limit):  # one wrong guess on each of many accounts, from the test client's address
        with pytest.raises(UnauthorizedError):
            accounts.login(f"sprayed{i}", "Summer2026!", source_ip="127.0.0.1")
    r = api.post("/auth/login", {"login": "ivy", "password": PASSWORD})
    assert r.status_code == 429 and r.data["error"]["code"] == "rate_limited"
    assert 0 < int(r.headers["Retry-After"]) <= 900
    with pytest.raises(RateLimitedError):
        accounts.login("sprayed-next", "Summer2026!", source_ip="127.0.0.1")
    # other addresses are not affected
    assert accounts.login("ivy", PASSWORD, source_ip="10.1.2.3").user.username == "ivy"


def test_tokens_carry_required_claims(make_user):
    user = make_user("jay")
    access, refresh = claims_of(user["access"]), claims_of(user["refresh"])
    for claims, typ in ((access, "access"), (refresh, "refresh")):
        assert {"sub", "role", "iat", "exp", "jti", "iss", "aud", "typ"} <= set(claims)
        assert claims["typ"] == typ and claims["sub"] == user["id"]
    assert access["exp"] - access["iat"] == 900
    assert refresh["exp"] - refresh["iat"] == 30 * 24 * 3600


def _forge(claims: dict, key: str = SECRET, alg: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=alg)


def _alg_none(claims: dict) -> str:
    def seg(d):
        return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()

    return f"{seg({'alg': 'none', 'typ': 'JWT'})}.{seg(claims)}."


def test_token_verification_rejects_tampering(api, make_user):
    user = make_user("kim")
    good = claims_of(user["access"])
    assert api.post("/auth/token/verify", {"token": user["access"]}).status_code == 200
    bad_tokens = {
        "alg none": _alg_none(good),
        "wrong key": _forge(good, key="another-secret-key-of-sufficient-length-xx"),
        "wrong audience": _forge({**good, "aud": "someone-else"}),
        "wrong issuer": _forge({**good, "iss": "evil"}),
        "expired": _forge({**good, "iat": good["iat"] - 4000, "exp": good["iat"] - 3000}),
        "refresh used as access": user["refresh"],
        "missing jti": _forge({k: v for k, v in good.items() if k != "jti"}),
        "tampered payload": user["access"].split(".")[0]
        + "."
        + base64.urlsafe_b64encode(json.dumps({**good, "role": "admin"}).encode()).rstrip(b"=").decode()
        + "."
        + user["access"].split(".")[2],
        "garbage": "not.a.jwt",
    }
    for name, token in bad_tokens.items():
        assert api.post("/auth/token/verify", {"token": token}).status_code == 401, name
        r = api.get("/auth/me", token=token)
        assert r.status_code == 401 and r.data["error"]["code"] in ("invalid_token", "token_expired"), name


def test_missing_or_malformed_authorization_header(api):
    assert api.get("/auth/me").status_code == 401
    assert api.get("/auth/me", headers={"Authorization": "Basic abc"}).status_code == 401
    assert api.get("/auth/me", headers={"Authorization": "Bearer "}).status_code == 401


def test_refresh_rotates_and_replay_revokes_the_family(api, make_user):
    user = make_user("lea")
    r1 = api.post("/auth/token/refresh", {"refresh_token": user["refresh"]})
    assert r1.status_code == 200
    new_refresh, new_access = r1.data["refresh_token"], r1.data["access_token"]
    assert new_refresh != user["refresh"]
    assert api.get("/auth/me", token=new_access).status_code == 200

    replay = api.post("/auth/token/refresh", {"refresh_token": user["refresh"]})
    assert replay.status_code == 401 and replay.data["error"]["code"] == "refresh_token_reused"
    # the whole family is gone: the newest refresh token and the access tokens too
    assert api.post("/auth/token/refresh", {"refresh_token": new_refresh}).status_code == 401
    assert api.get("/auth/me", token=new_access).status_code == 401
    assert api.get("/auth/me", token=user["access"]).status_code == 401


def test_replay_does_not_touch_other_sessions(api, make_user):
    user = make_user("moe")
    other = api.post("/auth/login", {"login": "moe", "password": PASSWORD}).data
    api.post("/auth/token/refresh", {"refresh_token": user["refresh"]})
    api.post("/auth/token/refresh", {"refresh_token": user["refresh"]})
    assert api.get("/auth/me", token=other["access_token"]).status_code == 200


def test_logout_revokes_only_that_family(api, make_user):
    user = make_user("ned")
    other = api.post("/auth/login", {"login": "ned", "password": PASSWORD}).data
    assert api.post("/auth/logout", {"refresh_token": user["refresh"]}).status_code == 204
    assert api.get("/auth/me", token=user["access"]).status_code == 401
    assert api.post("/auth/token/refresh", {"refresh_token": user["refresh"]}).status_code == 401
    assert api.get("/auth/me", token=other["access_token"]).status_code == 200
    assert api.post("/auth/logout", {"refresh_token": "garbage"}).status_code == 401


def test_logout_all_revokes_every_session(api, make_user):
    user = make_user("ola")
    other = api.post("/auth/login", {"login": "ola", "password": PASSWORD}).data
    assert api.post("/auth/logout-all", token=user["access"]).status_code == 204
    for token in (user["access"], other["access_token"]):
        assert api.get("/auth/me", token=token).status_code == 401
    for token in (user["refresh"], other["refresh_token"]):
        assert api.post("/auth/token/refresh", {"refresh_token": token}).status_code == 401
    assert api.post("/auth/login", {"login": "ola", "password": PASSWORD}).status_code == 200


# ---- profile, search ---------------------------------------------------------------------------------------


def test_patch_me_and_public_profile(api, make_user):
    user = make_user("pia")
    r = api.patch("/auth/me", {"display_name": "Pia Zürich 📷", "bio": "Shoots weddings"}, token=user["access"])
    assert r.status_code == 200 and r.data["display_name"] == "Pia Zürich 📷"
    for ref in (user["id"], "pia", "PIA"):
        r = api.get(f"/users/{ref}")
        assert r.status_code == 200 and r.data["bio"] == "Shoots weddings"
        assert "email" not in r.data and "password_hash" not in r.data
    assert api.get("/users/nobody").status_code == 404
    me = api.get("/users/me", token=user["access"])
    assert me.status_code == 200 and me.data["username"] == "pia" and "email" not in me.data


def test_search_by_username_and_display_name_prefix_with_pagination(api, make_user):
    for name in ("sam", "samira", "sammy", "sandy"):
        make_user(name)
    token = make_user("zed")["access"]
    api.patch("/auth/me", {"display_name": "Samuel Zed"}, token=token)
    r = api.get("/auth/search?q=sam", token=token)
    assert r.status_code == 200
    names = {u["username"] for u in r.data["items"]}
    assert names == {"sam", "samira", "sammy", "zed"}
    assert all("email" not in u for u in r.data["items"])
    assert {u["username"] for u in api.get("/auth/search?q=s", token=token).data["items"]} >= {"sandy", "sam"}

    page1 = api.get("/auth/search?q=sam&limit=2", token=token).data
    assert len(page1["items"]) == 2 and page1["next_cursor"]
    page2 = api.get(f"/auth/search?q=sam&limit=2&cursor={page1['next_cursor']}", token=token).data
    assert {u["username"] for u in page1["items"] + page2["items"]} == {"sam", "samira", "sammy", "zed"}

    forged = page1["next_cursor"][:-2] + ("AA" if not page1["next_cursor"].endswith("AA") else "BB")
    r = api.get(f"/auth/search?q=sam&limit=2&cursor={forged}", token=token)
    assert r.status_code == 400 and r.data["error"]["code"] == "invalid_cursor"
    r = api.get(f"/auth/search?q=san&limit=2&cursor={page1['next_cursor']}", token=token)
    assert r.status_code == 400  # a cursor only works for the listing that minted it


# ---- credentials -------------------------------------------------------------------------------------------


def test_password_change_keeps_this_session_and_ends_others(api, make_user):
    user = make_user("quin")
    other = api.post("/auth/login", {"login": "quin", "password": PASSWORD}).data
    r = api.post(
        "/auth/password/change",
        {"old_password": "wrong one!!", "new_password": "a brand new secret"},
        token=user["access"],
    )
    assert r.status_code == 403
    r = api.post(
        "/auth/password/change", {"old_password": PASSWORD, "new_password": "a brand new secret"}, token=user["access"]
    )
    assert r.status_code == 204
    assert api.get("/auth/me", token=user["access"]).status_code == 200
    assert api.get("/auth/me", token=other["access_token"]).status_code == 401
    assert api.post("/auth/login", {"login": "quin", "password": PASSWORD}).status_code == 401
    assert api.post("/auth/login", {"login": "quin", "password": "a brand new secret"}).status_code == 200


def test_forgot_and_reset_password(api, make_user):
    user = make_user("rex")
    before = len(sent_emails())
    assert api.post("/auth/password/forgot", {"email": "ghost@example.com"}).status_code == 202
    assert len(sent_emails()) == before
    assert api.post("/auth/password/forgot", {"email": user["email"]}).status_code == 202
    assert "reset" in sent_emails()[-1]["subject"].lower()
    code = last_code(user["email"])
    r = api.post(
        "/auth/password/reset",
        {
            "email": user["email"],
            "code": "999999" if code != "999999" else "000000",
            "new_password": "reset to this one",
        },
    )
    assert r.status_code == 400
    weak = api.post("/auth/password/reset", {"email": user["email"], "code": code, "new_password": "short"})
    assert weak.status_code == 400 and "new_password" in weak.data["error"]["details"]  # and the code survives
    r = api.post("/auth/password/reset", {"email": user["email"], "code": code, "new_password": "reset to this one"})
    assert r.status_code == 204
    assert api.get("/auth/me", token=user["access"]).status_code == 401
    assert api.post("/auth/login", {"login": "rex", "password": "reset to this one"}).status_code == 200
    # the code is single use
    r = api.post("/auth/password/reset", {"email": user["email"], "code": code, "new_password": "and another one"})
    assert r.status_code == 400


def test_reset_checks_the_code_before_the_password_so_weak_passwords_reveal_no_account(api, make_user):
    from chalicelib.models.users import Otp

    user = make_user("rita")
    assert api.post("/auth/password/forgot", {"email": user["email"]}).status_code == 202
    code = last_code(user["email"])
    wrong = "999999" if code != "999999" else "000000"
    answers = [
        api.post("/auth/password/reset", {"email": email, "code": wrong, "new_password": password})
        for email in (user["email"], "nobody-at-all@example.com")
        for password in ("short", "a perfectly fine passphrase")
    ]
    assert {(r.status_code, json.dumps(r.data, sort_keys=True)) for r in answers} == {
        (400, json.dumps(answers[0].data, sort_keys=True))
    }
    assert answers[0].data["error"]["code"] == "invalid_code"
    assert Otp.get(f"password_reset#{user['id']}").attempts == 2  # each wrong code spent an attempt

    # the right code with a weak password: the policy answers (to the code's holder), the attempt is spent,
    # and the code survives for a better password
    weak = api.post("/auth/password/reset", {"email": user["email"], "code": code, "new_password": "short"})
    assert weak.status_code == 400 and "new_password" in weak.data["error"]["details"]
    assert Otp.get(f"password_reset#{user['id']}").attempts == 3
    ok = api.post("/auth/password/reset", {"email": user["email"], "code": code, "new_password": "reset to this one"})
    assert ok.status_code == 204


def test_reset_past_the_attempt_limit_answers_like_an_unknown_email(api, make_user):
    user = make_user("ruth")
    assert api.post("/auth/password/forgot", {"email": user["email"]}).status_code == 202
    code = last_code(user["email"])
    wrong = "999999" if code != "999999" else "000000"
    for _ in range(6):
        known = api.post("/auth/password/reset", {"email": user["email"], "code": wrong, "new_password": "short"})
    unknown = api.post("/auth/password/reset", {"email": "ghost2@example.com", "code": wrong, "new_password": "short"})
    assert (known.status_code, known.data) == (unknown.status_code, unknown.data)
    # the limit holds: even the right code no longer works
    r = api.post("/auth/password/reset", {"email": user["email"], "code": code, "new_password": "reset to this one"})
    assert r.status_code == 400 and r.data == unknown.data


def test_username_change_cooldown_and_uniqueness(api, make_user):
    make_user("taken")
    user = make_user("uma")
    body = {"password": PASSWORD, "new_username": "TAKEN"}
    r = api.post("/auth/username/change", body, token=user["access"])
    assert r.status_code == 409
    r = api.post("/auth/username/change", {"password": "wrong pass!!", "new_username": "uma2"}, token=user["access"])
    assert r.status_code == 403
    r = api.post("/auth/username/change", {"password": PASSWORD, "new_username": "Uma_New"}, token=user["access"])
    assert r.status_code == 200 and r.data["username"] == "Uma_New"
    assert api.post("/auth/login", {"login": "uma_new", "password": PASSWORD}).status_code == 200
    assert api.get("/users/uma").status_code == 404
    r = api.post("/auth/username/change", {"password": PASSWORD, "new_username": "uma3"}, token=user["access"])
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 29 * 24 * 3600
    # the old name is free again
    r = api.post("/auth/signup", {"email": "x@example.com", "username": "uma", "password": PASSWORD})
    assert r.status_code == 201


def test_email_change_with_otp_to_new_address(api, make_user):
    make_user("vic2")
    user = make_user("vic")
    r = api.post("/auth/email/change", {"password": PASSWORD, "new_email": "vic2@example.com"}, token=user["access"])
    assert r.status_code == 409
    r = api.post("/auth/email/change", {"password": PASSWORD, "new_email": "victor@example.org"}, token=user["access"])
    assert r.status_code == 202
    assert sent_emails()[-1]["to"] == ["victor@example.org"]
    r = api.post("/auth/email/verify", {"code": last_code("victor@example.org")}, token=user["access"])
    assert r.status_code == 200 and r.data["email"] == "victor@example.org"
    assert api.post("/auth/login", {"login": "victor@example.org", "password": PASSWORD}).status_code == 200
    assert api.post("/auth/login", {"login": user["email"], "password": PASSWORD}).status_code == 401
    r = api.post("/auth/signup", {"email": user["email"], "username": "newvic", "password": PASSWORD})
    assert r.status_code == 201  # the old address was released


def test_delete_account(api, make_user):
    user = make_user("wes")
    assert api.delete("/users/me", {"password": "not it at all"}, token=user["access"]).status_code == 403
    assert api.delete("/users/me", {"password": PASSWORD}, token=user["access"]).status_code == 204
    assert api.get("/auth/me", token=user["access"]).status_code == 401
    assert api.post("/auth/token/refresh", {"refresh_token": user["refresh"]}).status_code == 401
    assert api.get(f"/users/{user['id']}").status_code == 404
    assert api.post("/auth/login", {"login": "wes", "password": PASSWORD}).status_code == 401
    searcher = make_user("xia")
    assert all(u["username"] != "wes" for u in api.get("/auth/search?q=wes", token=searcher["access"]).data["items"])
    # The claims stay taken until the deletion job has removed everything, then they are free.
    again = {"email": user["email"], "username": "wes", "password": PASSWORD}
    assert api.post("/auth/signup", again).status_code == 409
    drain()
    assert api.post("/auth/signup", again).status_code == 201


# ---- roles -------------------------------------------------------------------------------------------------


def test_roles_admin_grants_staff_staff_grants_photographer(api, make_user):
    from chalicelib.services import accounts

    accounts.create_admin("root@example.com", "root", PASSWORD)
    admin = api.post("/auth/login", {"login": "root", "password": PASSWORD}).data["access_token"]
    staff = make_user("stef")
    member = make_user("mel")
    assert api.put(f"/users/{staff['id']}/role", {"role": "staff"}, token=member["access"]).status_code == 403
    r = api.put(f"/users/{staff['id']}/role", {"role": "staff"}, token=admin)
    assert r.status_code == 200 and r.data["role"] == "staff"
    assert api.put(f"/users/{member['id']}/role", {"role": "photographer"}, token=staff["access"]).status_code == 200
    assert api.put(f"/users/{member['id']}/role", {"role": "staff"}, token=staff["access"]).status_code == 403
    assert api.put(f"/users/{member['id']}/role", {"role": "emperor"}, token=admin).status_code == 400
    assert api.get("/auth/me", token=member["access"]).data["role"] == "photographer"  # role read live
    r = api.post(
        "/auth/signup", {"email": "s@example.com", "username": "sneaky", "password": PASSWORD, "role": "admin"}
    )
    assert r.status_code == 400


def _admin(api, username: str) -> dict:
    from chalicelib.services import accounts

    user = accounts.create_admin(f"{username}@example.com", username, PASSWORD)
    r = api.post("/auth/login", {"login": username, "password": PASSWORD})
    return {"id": user.user_id, "access": r.data["access_token"]}


def test_only_admins_change_staff(api, make_user):
    admin = _admin(api, "root")
    staff, other_staff, member = make_user("stef"), make_user("stan"), make_user("mel")
    for who in (staff, other_staff):
        assert api.put(f"/users/{who['id']}/role", {"role": "staff"}, token=admin["access"]).status_code == 200
    for role in ("member", "photographer", "creator"):  # staff cannot demote staff ...
        r = api.put(f"/users/{other_staff['id']}/role", {"role": role}, token=staff["access"])
        assert r.status_code == 403, role
    assert api.put(f"/users/{admin['id']}/role", {"role": "member"}, token=staff["access"]).status_code == 403
    assert api.put(f"/users/{member['id']}/role", {"role": "admin"}, token=staff["access"]).status_code == 403
    assert api.get(f"/users/{other_staff['id']}").data["role"] == "staff"
    # ... but admins can
    r = api.put(f"/users/{other_staff['id']}/role", {"role": "member"}, token=admin["access"])
    assert r.status_code == 200 and r.data["role"] == "member"


def test_the_last_admin_cannot_be_demoted(api, make_user):
    first = _admin(api, "first")
    r = api.put(f"/users/{first['id']}/role", {"role": "member"}, token=first["access"])
    assert r.status_code == 409 and r.data["error"]["code"] == "last_admin"
    second = make_user("second")
    assert api.put(f"/users/{second['id']}/role", {"role": "admin"}, token=first["access"]).status_code == 200
    assert api.put(f"/users/{first['id']}/role", {"role": "staff"}, token=second["access"]).status_code == 200
    r = api.put(f"/users/{second['id']}/role", {"role": "member"}, token=second["access"])
    assert r.status_code == 409 and r.data["error"]["code"] == "last_admin"
    r = api.delete("/users/me", {"password": PASSWORD}, token=second["access"])  # nor leave by deletion
    assert r.status_code == 409 and api.get(f"/users/{second['id']}").data["role"] == "admin"


def test_two_admins_demoting_each_other_at_once_leave_one(api, atomic_moto, monkeypatch):
    """Both read the roster (two admins) before either writes: the roster's version lets only one commit."""
    import threading

    from chalicelib.models.users import User, admin_roster
    from chalicelib.services import accounts, tokens

    a, b = _admin(api, "alpha"), _admin(api, "bravo")
    both_read = threading.Barrier(2, timeout=30)

    def roster_then_wait():
        result = admin_roster()
        both_read.wait()
        return result

    monkeypatch.setattr(accounts, "admin_roster", roster_then_wait)
    outcomes: list[int] = []

    def demote(actor: dict, target: dict) -> None:
        try:
            accounts.set_role(tokens.authenticate(actor["access"]), target["id"], "member")
            outcomes.append(200)
        except accounts.ConflictError as exc:
            outcomes.append(exc.status)

    threads = [threading.Thread(target=demote, args=pair) for pair in ((a, b), (b, a))]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(outcomes) == [200, 409]
    assert sorted(User.get(u["id"]).role for u in (a, b)) == ["admin", "member"]


def test_a_self_chosen_creator_is_unverified(api, make_user):
    cleo = make_user("cleo", role="creator")
    me = api.get("/auth/me", token=cleo["access"]).data
    assert me["role"] == "creator" and me["creator_verification"] == "none" and me["creator_verified"] is False
    public = api.get("/users/cleo").data
    assert public["creator_verified"] is False and "creator_verification" not in public

    from chalicelib.errors import ForbiddenError
    from chalicelib.services import accounts, tokens

    with pytest.raises(ForbiddenError):
        accounts.require_verified_creator(tokens.authenticate(cleo["access"]))


def test_cli_create_admin(aws_mock, capsys):
    from chalicelib import cli
    from chalicelib.models.users import user_by_login

    assert cli.main(["create-admin", "--email", "boss@example.com", "--username", "boss", "--password", PASSWORD]) == 0
    user = user_by_login("boss")
    assert user.role == "admin" and user.email_verified
    assert cli.main(["create-admin", "--email", "boss@example.com", "--username", "boss2", "--password", PASSWORD]) == 1


@pytest.mark.parametrize("path", ["/auth/me", "/auth/search?q=a", "/auth/logout-all"])
def test_protected_routes_need_a_token(api, path):
    method = "POST" if path.endswith("logout-all") else "GET"
    r = api.call(method, path)
    assert r.status_code == 401 and r.data["error"]["code"] == "unauthorized"
