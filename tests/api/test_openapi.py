"""/openapi.json describes every route the app serves, with request and response shapes; /docs renders it."""

from __future__ import annotations

from openapi_spec_validator import validate


def test_openapi_lists_every_route_with_shapes(api, app):
    r = api.get("/openapi.json")
    assert r.status_code == 200
    doc = r.data
    validate(doc)
    operation_ids = [op["operationId"] for ops in doc["paths"].values() for op in ops.values()]
    assert len(operation_ids) == len(set(operation_ids))
    served = {(path, method.lower()) for path, methods in app.routes.items() for method in methods}
    assert {(path, "options") for path in doc["paths"]} <= served  # CORS preflight on every path, not documented
    served = {(path, method) for path, method in served if method != "options"}
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    assert served == documented
    login = doc["paths"]["/auth/login"]["post"]
    body_ref = login["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    body = doc["components"]["schemas"][body_ref.rsplit("/", 1)[1]]
    assert set(body["required"]) == {"login", "password"}
    assert {"200", "400", "401", "403", "429"} <= set(login["responses"])
    me = doc["paths"]["/auth/me"]["get"]
    assert me["security"] == [{"bearer": []}]
    out_ref = me["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert "email_verified" in doc["components"]["schemas"][out_ref.rsplit("/", 1)[1]]["properties"]
    search_params = {p["name"] for p in doc["paths"]["/auth/search"]["get"]["parameters"]}
    assert {"q", "limit", "cursor"} <= search_params


def test_docs_page_is_human_readable(api):
    r = api.get("/docs")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    assert b"/auth/login" in r.body and b"<h1>" in r.body


def test_path_variables_are_deployable_on_api_gateway(app):
    """API Gateway allows one variable name per position under a parent (/users/{a} beside /users/{b}/x fails)."""
    children: dict[tuple[str, ...], set[str]] = {}
    for path in app.routes:
        parts = tuple(p for p in path.split("/") if p)
        for depth, part in enumerate(parts):
            if part.startswith("{"):
                children.setdefault(parts[:depth], set()).add(part)
    clashes = {"/" + "/".join(parent): names for parent, names in children.items() if len(names) > 1}
    assert not clashes, clashes


def test_route_manifest_is_current():
    """app.py mounts routes from the generated manifest; it must match the @route declarations exactly."""
    import pathlib

    from chalicelib.api import routing

    current = pathlib.Path(routing.__file__).with_name("manifest.py").read_text()
    assert current == routing.manifest_source(), "chalicelib/api/manifest.py is stale: run `make routes`"


def test_api_function_imports_no_blueprint_until_a_request_needs_it():
    """Cold start: importing app loads no blueprint module, pydantic, Pillow, Stripe or the X-Ray SDK."""
    import subprocess
    import sys

    code = (
        "import app, sys; print(' '.join(m for m in sys.modules if m.startswith(('chalicelib.api.', 'pydantic',"
        " 'PIL', 'stripe', 'aws_xray_sdk'))))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**__import__("os").environ, "LIGHTBOX_STAGE": "dev"},
    ).stdout.split()
    assert set(loaded) <= {"chalicelib.api.routing", "chalicelib.api.manifest"}, loaded
