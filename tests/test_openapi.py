"""The mock's OpenAPI document: valid OpenAPI 3.1, complete, built from the data, served lazily."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from flask import Flask
from openapi_schema_validator import OAS31Validator
from openapi_schema_validator import validate as validate_schema
from openapi_spec_validator import OpenAPIV31SpecValidator, validate

from mock_server import Client, ControlPlane, MockConfig, create_app
from mock_server.core.bodies import api_error_body, oauth_error_body
from mock_server.core.data import fixtures_dir
from mock_server.web.openapi import build_openapi
from mock_server.web.views.spec import EXTENSION

OPENAPI_PATH, PUBLISHED_PATH = "/_mock/openapi.json", "/_mock/scalekit-openapi.json"
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


@pytest.fixture(scope="module")
def plane() -> ControlPlane:
    return ControlPlane()


@pytest.fixture(scope="module")
def document(plane: ControlPlane) -> dict[str, Any]:
    return build_openapi(plane)


@pytest.fixture
def app(plane: ControlPlane) -> Flask:
    plane.reset()
    return create_app(control=plane)


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, item in document["paths"].items()
            for method, op in item.items() if method in HTTP_METHODS]


def test_openapi_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    validate(document, cls=OpenAPIV31SpecValidator)
    assert document["openapi"].startswith("3.1.")


def test_openapi_operation_ids_are_unique(document: dict[str, Any]) -> None:
    ids = [op["operationId"] for _, _, op in operations(document)]
    assert len(ids) == len(set(ids))


def test_openapi_document_leaves_the_api_to_the_published_one(document: dict[str, Any]) -> None:
    # The REST API is described by Scalekit's own document, served beside this one; this one says so.
    assert not [path for path in document["paths"] if path.startswith("/api/")]
    assert {"/oauth/token", "/keys", "/.well-known/openid-configuration", PUBLISHED_PATH} <= set(document["paths"])
    assert PUBLISHED_PATH in document["info"]["description"]


def test_openapi_document_has_every_control_path_of_the_app(app: Flask, document: dict[str, Any]) -> None:
    # Given the rules Flask serves under /_mock/, each appears in the document with each of its methods.
    rules = [r for r in app.url_map.iter_rules() if r.rule.startswith("/_mock/")]
    assert len(rules) >= 14
    for rule in rules:
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        methods = {m.lower() for m in rule.methods or ()} - {"head", "options"}
        assert path in document["paths"], path
        assert methods <= set(document["paths"][path]), (path, methods)


# The documented error response of each status, per family (500, 503: only injected faults answer them; the API's
# own errors are the published document's), and how many of the fixture's bodies each family has at least.
ERROR_RESPONSES = {
    "api": {429: "ApiRateLimited"},
    "oauth": {400: "OAuthBadRequest", 401: "OAuthInvalidClient", 405: "OAuthMethodNotAllowed"},
}
AT_LEAST = {"api": 1, "oauth": 5}


@pytest.mark.parametrize("family", ["api", "oauth"])
def test_openapi_error_responses_match_the_fixture_bodies(plane: ControlPlane, document: dict[str, Any],
                                                          family: str) -> None:
    # Every error body the mock renders validates against the documented response of its status.
    render = api_error_body if family == "api" else oauth_error_body
    checked = 0
    for key, spec in plane.fixtures.errors[family].items():
        name = ERROR_RESPONSES[family].get(spec["status"])
        if name is None:
            continue
        schema = document["components"]["responses"][name]["content"]["application/json"]["schema"]
        validate_schema(render(plane.fixtures, key), schema, cls=OAS31Validator)
        checked += 1
    assert checked >= AT_LEAST[family]


def test_openapi_json_answers_200_json_and_is_not_journaled(app: Flask, plane: ControlPlane) -> None:
    response = app.test_client().get(OPENAPI_PATH)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["openapi"].startswith("3.1.") and "/oauth/token" in body["paths"]
    assert plane.journal_entries() == []


def test_published_document_is_served_beside_it_as_shipped(app: Flask, plane: ControlPlane) -> None:
    response = app.test_client().get(PUBLISHED_PATH)
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.get_data() == (fixtures_dir() / "scalekit-openapi.json").read_bytes()
    assert response.get_json()["info"]["title"] == "Scalekit APIs"
    assert plane.journal_entries() == []


def test_openapi_document_is_built_on_first_request_then_kept(app: Flask) -> None:
    # Given a new app, no document is built at start; the first request builds it, later ones reuse it.
    assert EXTENSION not in app.extensions
    client = app.test_client()
    first = client.get(OPENAPI_PATH).get_data()
    kept = app.extensions[EXTENSION]
    assert client.get(OPENAPI_PATH).get_data() == first
    assert app.extensions[EXTENSION] is kept


# Requests just outside what the documents allow (this one; the published one for /api/), each of which once
# answered 500 (or was accepted).
OUTSIDE_THE_DOCUMENT = [
    ("GET", "/_mock/journal?status=%C2%B2", None),  # "²".isdigit() is true, int("²") fails
    ("GET", "/api/v1/organizations?page_size=%C2%B2", None),
    ("GET", "/api/v1/organizations?page_token=%C2%B2", None),
    ("POST", "/_mock/clock/advance", {"seconds": 10**400}),  # beyond any float
    ("POST", "/_mock/clock/set", {"now": 10**400}),
    ("POST", "/_mock/keys/rotate", {"grace_seconds": 10**400}),
    ("POST", "/_mock/faults", {"kind": "status", "preset": {}}),  # unhashable preset
    ("PUT", "/_mock/clients/abc%0A", {"client_secret": "s"}),  # "$" matched before a trailing newline
]


@pytest.mark.parametrize(("method", "url", "body"), OUTSIDE_THE_DOCUMENT)
def test_request_outside_the_document_is_400(app: Flask, plane: ControlPlane, method: str, url: str,
                                             body: Any) -> None:
    client = app.test_client()
    default = next(c for c in plane.clients.all() if c.scopes is None)
    token = client.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": default.client_id,
                                              "client_secret": default.client_secret}).get_json()["access_token"]
    response = client.open(url, method=method, json=body, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 400, response.get_data(as_text=True)
    assert plane.errors == []


def test_openapi_document_shows_only_the_published_fixture_secrets(document: dict[str, Any]) -> None:
    # The token form's example uses a default client of fixtures/clients.json; a configured
    # client's secret never appears (the control plane hides secrets everywhere else too).
    fixture_secret = ControlPlane().fixtures.clients[0]["client_secret"]
    assert fixture_secret in json.dumps(document)
    configured = ControlPlane(MockConfig(clients=(Client("skc_1", "configured-secret"),)))
    assert "configured-secret" not in json.dumps(build_openapi(configured))


def test_control_plane_answers_with_data_match_the_document(app: Flask, plane: ControlPlane,
                                                            document: dict[str, Any]) -> None:
    # Given a journal, a pending fault and a rotated key (the contract run resets them away),
    # the control plane's answers still validate against their documented schemas.
    client = app.test_client()
    default = next(c for c in plane.clients.all() if c.scopes is None)
    form = {"grant_type": "client_credentials", "client_id": default.client_id, "client_secret": default.client_secret}
    token = client.post("/oauth/token", data=form).get_json()["access_token"]
    client.post("/oauth/token", data={**form, "client_secret": "wrong"})
    client.get("/api/v1/organizations?page_size=10", headers={"Authorization": f"Bearer {token}"})
    client.get("/api/v1/organizations")
    client.get("/keys")
    client.post("/_mock/faults", json={"kind": "status", "preset": "unavailable", "endpoint": "keys", "count": 2})
    client.get("/keys")
    client.post("/_mock/keys/rotate", json={"grace_seconds": 60})
    for path, name in (("/_mock/journal", "Journal"), ("/_mock/faults", "FaultList"), ("/_mock/state", "State")):
        body = client.get(path).get_json()
        assert body != {}
        validate_schema(body, {"$ref": f"#/components/schemas/{name}", "components": document["components"]},
                        cls=OAS31Validator)
    assert len(client.get("/_mock/journal").get_json()["entries"]) == 6


def test_openapi_links_name_existing_operations_and_parameters(document: dict[str, Any]) -> None:
    # Given the links schemathesis's stateful phase follows, each names a real operation, and each
    # parameter it sets exists there (or is the Authorization header).
    by_id = {op["operationId"]: op for _, _, op in operations(document)}
    links = [link for _, _, op in operations(document) for response in op["responses"].values()
             for link in response.get("links", {}).values()]
    assert len(links) >= 3
    for link in links:
        target = by_id[link["operationId"]]
        names = {f"{p['in']}.{p['name']}" for p in target.get("parameters", [])} | {"header.Authorization"}
        assert set(link.get("parameters", {})) <= names, link
