"""The local web host's ``/app-config.json`` and CSP name the OIDC issuer only when the stack runs one."""

from __future__ import annotations

from infrastructure.local.web_host import site_config
from infrastructure.web import content_security_policy


def test_app_config_names_the_local_issuer_only_when_given():
    assert site_config("http://127.0.0.1:8000") == {"api_url": "http://127.0.0.1:8000"}
    assert site_config("http://127.0.0.1:8000", "http://127.0.0.1:8440") == {
        "api_url": "http://127.0.0.1:8000",
        "oidc": {"local_issuer": "http://127.0.0.1:8440", "providers": ["google", "apple"]},
    }


def test_the_issuer_origin_is_in_connect_src_only():
    csp = content_security_policy(
        api=["http://127.0.0.1:8000"],
        media=["http://127.0.0.1:5000"],
        stripe_js_url="http://127.0.0.1:8420/js.stripe.com/v3/",
        extra_connect=["http://127.0.0.1:8440"],
    )
    directives = dict(d.split(" ", 1) for d in csp.split("; "))
    assert "http://127.0.0.1:8440" in directives["connect-src"].split()
    assert "8440" not in directives["script-src"] and "8440" not in directives["img-src"]
