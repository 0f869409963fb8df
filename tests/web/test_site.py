"""The web app's host, as CloudFront serves it in AWS (infrastructure/site.py): the production Content Security
Policy and security headers on every response, a year's immutable cache for the hashed assets and none for the
shell, the app's routes answered with index.html, a missing asset a real 404; and the app loading under that
CSP in Chromium without a single violation."""

from __future__ import annotations

import re

import pytest
import requests
from playwright.sync_api import Page, expect

from infrastructure.local.devstack import WEB_DIST
from infrastructure.web import IMMUTABLE, NO_CACHE, SECURITY_HEADERS, content_security_policy
from tests.web.kit import axe, fill_card, make_user, ui_login

pytestmark = pytest.mark.xdist_group("local_stack")

needs_build = pytest.mark.skipif(not (WEB_DIST / "index.html").is_file(), reason="needs `make web`")


def _get(stack, path: str) -> requests.Response:
    return requests.get(stack.web_url + path, timeout=10)


def _oidc_issuer(stack) -> str | None:
    """The stack's local OIDC issuer (sign in with Google / Apple), when it runs one."""
    return getattr(stack, "oidc_url", None)


def _expected_csp(stack) -> str:
    issuer = _oidc_issuer(stack)
    return content_security_policy(
        api=[stack.api_url, stack.ws_url],
        media=[stack.moto_url],
        stripe_js_url=stack.env["LIGHTBOX_STRIPE_JS_URL"],
        extra_connect=[issuer] if issuer else [],
    )


@needs_build
def test_every_response_carries_the_csp_and_security_headers(stack):
    index = (WEB_DIST / "index.html").read_bytes()
    asset = re.search(rb'src="(/assets/[^"]+\.js)"', index).group(1).decode()
    for path in ("/", "/events/e1", "/app-config.json", asset, "/assets/missing.js"):
        r = _get(stack, path)
        assert r.headers["Content-Security-Policy"] == _expected_csp(stack), path
        for name, value in SECURITY_HEADERS.items():
            assert r.headers[name] == value, (path, name)
    csp = _expected_csp(stack)
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp and "frame-ancestors 'none'" in csp


@needs_build
def test_hashed_assets_are_immutable_and_the_shell_is_never_cached(stack):
    index = (WEB_DIST / "index.html").read_bytes()
    for asset in re.findall(rb'(?:src|href)="(/assets/[^"]+)"', index):
        r = _get(stack, asset.decode())
        assert r.status_code == 200 and r.headers["Cache-Control"] == IMMUTABLE, asset
    root = _get(stack, "/")
    assert root.status_code == 200 and root.headers["Cache-Control"] == NO_CACHE
    assert root.headers["Content-Type"].startswith("text/html") and root.content == index
    config = _get(stack, "/app-config.json")
    assert config.headers["Cache-Control"] == NO_CACHE and config.json()["api_url"] == stack.api_url
    issuer = _oidc_issuer(stack)
    if issuer:  # the sign-in buttons mint their ID tokens there
        assert config.json()["oidc"] == {"local_issuer": issuer, "providers": ["google", "apple"]}


@needs_build
def test_app_routes_get_index_html_and_a_missing_asset_is_a_404(stack):
    index = (WEB_DIST / "index.html").read_bytes()
    for path in ("/login", "/events/e1", "/photos/p1?x=1", "/u/jane.doe"):
        r = _get(stack, path)
        assert r.status_code == 200 and r.content == index, path
        assert r.headers["Cache-Control"] == NO_CACHE, path
    missing = _get(stack, "/assets/missing.js")
    assert missing.status_code == 404 and missing.content != index


CSP_LISTENER = """window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push({ directive: e.violatedDirective, blocked: e.blockedURI, sample: e.sample });
});"""


def test_the_app_loads_under_the_csp_without_violations(page: Page):
    """Playwright's init script runs before the page's own (it is injected, so the CSP does not apply to it)."""
    page.context.add_init_script(CSP_LISTENER)
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text))
    page.goto("/login")
    expect(page.get_by_label("Email or username")).to_be_visible()
    page.get_by_role("link", name="Create an account").click()  # a lazy chunk, loaded under the same policy
    expect(page.get_by_label("Username")).to_be_visible()
    assert page.evaluate("window.__cspViolations") == []
    assert not [m for m in console if "Content Security Policy" in m], console
    # the listener works: an inline script is refused and reported
    page.evaluate("() => { const s = document.createElement('script'); s.textContent = '1'; document.head.append(s); }")
    page.wait_for_function("window.__cspViolations.length > 0")
    assert page.evaluate("window.__cspViolations[0].directive").startswith("script-src")


def test_the_card_element_and_a_card_payment_run_under_the_csp_without_violations(stack, page: Page):
    """Stripe.js (localstripe's fake one here) loaded by a script element, its card element mounted, a card saved
    and charged: the wallet's top-up form, a new user's, which has no saved card and so mounts the element."""
    page.context.add_init_script(CSP_LISTENER)
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text))
    ui_login(page, make_user(stack, "csp"), "/wallet")
    element = page.get_by_test_id("card-element")
    expect(element.get_by_label("Card number")).to_be_visible()
    page.get_by_label("Amount (EUR)").fill("1")
    fill_card(element)
    page.get_by_role("button", name="Top up").click()
    expect(page.get_by_role("status").filter(has_text="Added €1.00 to your wallet")).to_be_visible()
    assert page.evaluate("window.__cspViolations") == []
    assert not [m for m in console if "Content Security Policy" in m], console


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_theme_follows_the_system_setting_and_stays_readable(page: Page, stack, scheme: str):
    """Light and dark come from prefers-color-scheme; axe-core's contrast check passes in both."""
    page.emulate_media(color_scheme=scheme)
    ui_login(page, make_user(stack, "theme"), "/events")
    page.goto("/events")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    background = page.evaluate("() => getComputedStyle(document.documentElement).backgroundColor")
    r, g, b = (int(v) for v in re.findall(r"\d+", background)[:3])
    assert (r + g + b < 150) if scheme == "dark" else (r + g + b > 600), background
    axe(page, context=f"events in the {scheme} theme")
