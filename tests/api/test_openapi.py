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
