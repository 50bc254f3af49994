"""The published API's resources over REST: what is created can be read, listed, updated and deleted, for every
collection of Scalekit's document; bad input, unknown ids and conflicts answer the documented Status bodies; an
organization client created over the API gets tokens.

The mock's WSGI app is called in process (no socket): each test gets a fresh, reset mock.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from werkzeug.test import Client

from mock_server import MockServer
from mock_server.core.data import fixtures_dir

DOCUMENT = json.loads((fixtures_dir() / "scalekit-openapi.json").read_text(encoding="utf-8"))
RESOURCES = json.loads((fixtures_dir() / "resources.json").read_text(encoding="utf-8"))
SEED_ORG = RESOURCES["seed"]["organizationsOrganization"][0]["id"]
SEED_USER = RESOURCES["seed"]["usersUser"][0]["id"]
REGISTRY: Registry[Any] = Registry().with_resource("urn:doc", Resource.opaque(DOCUMENT))


def conforms(value: Any, schema_name: str) -> list[str]:
    """What is wrong with ``value`` as the document's schema ``schema_name`` (nothing: [])."""
    validator = Draft202012Validator({"$ref": f"urn:doc#/components/schemas/{schema_name}"}, registry=REGISTRY)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(value)]


class Api:
    """The mock's API, called in process with a full-access token; every answer checked against the document."""

    def __init__(self, mock: MockServer) -> None:
        self.mock, self.client = mock, Client(mock.app)
        self.token = self.token_for(mock.client_id, mock.client_secret).json["access_token"]

    def token_for(self, client_id: str, secret: str) -> Any:
        return self.client.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": client_id,
                                                      "client_secret": secret})

    def __call__(self, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
        response = self.client.open(path, method=method, json=body,
                                    headers={"Authorization": f"Bearer {token or self.token}"})
        assert response.content_type == "application/json"
        if response.status_code < 300:
            schema = _response_schema(method, path.split("?")[0], response.status_code)
            assert schema is None or conforms(response.json, schema) == [], (method, path, response.json)
        return response


def _pattern(template: str) -> str:
    """A template as a regex: a parameter before a ``:verb`` stops at the colon (a permission name may hold one)."""
    return re.sub(r"\{[^}]+\}(?=:)", "[^/:]+", re.sub(r"\{[^}]+\}(?!:)", "[^/]+", template))


def _response_schema(method: str, path: str, status: int) -> str | None:
    templates = sorted(DOCUMENT["paths"], key=lambda t: -len(re.sub(r"\{[^}]+\}", "", t)))  # literal ones first
    for template in templates:
        item = DOCUMENT["paths"][template]
        if method.lower() in item and re.fullmatch(_pattern(template), path):
            content = item[method.lower()]["responses"].get(str(status))
            assert content is not None, f"{method} {path} answered {status}, which the document does not list"
            ref = content.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref")
            return str(ref).rsplit("/", 1)[-1] if ref else None
    raise AssertionError(f"{method} {path} is not an operation of the document")


@pytest.fixture
def api() -> Iterator[Api]:
    mock = MockServer()
    yield Api(mock)
    mock.check()


@dataclass(frozen=True)
class Story:
    """One collection's create -> get -> list -> update -> delete, as an application would tell it."""

    name: str
    create: tuple[str, dict[str, Any]]  # the collection path, the body
    wrapper: str  # the response field holding the resource
    key: str  # the resource field its item path names
    item: str  # the item path, with {key}
    listing: str | None  # the list path and its array field
    list_field: str
    update: tuple[str, dict[str, Any]] | None  # the method and body


ORG = f"/api/v1/organizations/{SEED_ORG}"
STORIES = [
    Story("organizations", ("/api/v1/organizations", {"display_name": "Stark Industries", "external_id": "stark"}),
          "organization", "id", "/api/v1/organizations/{key}", "/api/v1/organizations?page_size=100",
          "organizations", ("PATCH", {"display_name": "Stark Enterprises"})),
    Story("users", (f"{ORG}/users", {"email": "tony@stark.example", "user_profile": {"first_name": "Tony"},
                                     "membership": {"roles": [{"name": "admin"}]}}),
          "user", "id", "/api/v1/users/{key}", f"{ORG}/users", "users", ("PATCH", {"metadata": {"team": "iron"}})),
    Story("roles", ("/api/v1/roles", {"name": "editor", "display_name": "Editor"}), "role", "name",
          "/api/v1/roles/{key}", "/api/v1/roles", "roles", ("PUT", {"display_name": "Chief Editor"})),
    Story("organization roles", (f"{ORG}/roles", {"name": "auditor", "display_name": "Auditor"}), "role", "name",
          f"{ORG}/roles/{{key}}", f"{ORG}/roles", "roles", ("PUT", {"description": "Reads the logs"})),
    Story("permissions", ("/api/v1/permissions", {"name": "write:reports", "description": "Write reports"}),
          "permission", "name", "/api/v1/permissions/{key}", "/api/v1/permissions", "permissions",
          ("PUT", {"name": "write:reports", "description": "Write and publish reports"})),
    Story("organization clients", (f"{ORG}/clients", {"name": "CI deployer", "scopes": ["deploy:write"]}),
          "client", "client_id", f"{ORG}/clients/{{key}}", f"{ORG}/clients", "clients",
          ("PATCH", {"description": "Deploys from CI"})),
    Story("domains", (f"{ORG}/domains", {"domain": "stark.example"}), "domain", "id", f"{ORG}/domains/{{key}}",
          f"{ORG}/domains", "domains", None),
    Story("MCP configs", ("/api/v1/mcp/configs", {"name": "daily-summary"}), "config", "id",
          "/api/v1/mcp/configs/{key}", "/api/v1/mcp/configs", "configs", ("PUT", {"description": "Sums up a day"})),
]


@pytest.mark.parametrize("story", STORIES, ids=[s.name for s in STORIES])
def test_a_created_resource_can_be_read_listed_updated_and_deleted(api: Api, story: Story) -> None:
    path, body = story.create
    created = api("POST", path, body)
    assert created.status_code in (200, 201), created.json
    resource = created.json[story.wrapper]
    key = resource[story.key]
    assert all(resource[k] == v for k, v in body.items() if k in resource)
    item = story.item.format(key=key)

    assert api("GET", item).json[story.wrapper] == resource
    if story.listing:
        assert key in [r[story.key] for r in api("GET", story.listing).json[story.list_field]]
    if story.update:
        method, change = story.update
        updated = api(method, item, change).json[story.wrapper]
        assert all(updated[k] == v for k, v in change.items())
        assert api("GET", item).json[story.wrapper] == updated
    assert api("DELETE", item).status_code == 200
    gone = api("GET", item)
    assert gone.status_code == 404 and gone.json["code"] == 5
    if story.listing:
        assert key not in [r[story.key] for r in api("GET", story.listing).json[story.list_field]]


def test_ids_have_scalekit_shapes_and_times_are_the_mock_clock(api: Api) -> None:
    api.mock.set_clock(1_800_000_000)
    api.token = api.token_for(api.mock.client_id, api.mock.client_secret).json["access_token"]  # on the new clock
    org = api("POST", "/api/v1/organizations", {"display_name": "Wayne"}).json["organization"]
    user = api("POST", f"/api/v1/organizations/{org['id']}/users", {"email": "b@wayne.example"}).json["user"]
    client = api("POST", f"/api/v1/organizations/{org['id']}/clients", {"name": "batch"}).json

    assert re.fullmatch(r"org_\d+", org["id"]) and re.fullmatch(r"usr_\d+", user["id"])
    assert re.fullmatch(r"m2morg_\d+", client["client"]["client_id"])
    assert re.fullmatch(r"sks_\d+", client["client"]["secrets"][0]["id"])
    assert org["create_time"] == org["update_time"] == "2027-01-15T08:00:00Z"
    assert user["memberships"][0]["organization_id"] == org["id"]


def test_lists_page_with_tokens_and_total_size(api: Api) -> None:
    total = len(RESOURCES["seed"]["organizationsOrganization"])
    seen: list[str] = []
    token = ""
    while True:
        page = api("GET", f"/api/v1/organizations?page_size=10&page_token={token}").json
        assert page["total_size"] == total and len(page["organizations"]) <= 10
        seen += [o["id"] for o in page["organizations"]]
        token = page["next_page_token"]
        if not token:
            break
    assert seen == [o["id"] for o in RESOURCES["seed"]["organizationsOrganization"]]


@pytest.mark.parametrize(("query", "message"), [
    ("page_size=5", "invalid page_size: must be from 10 to 100"),
    ("page_size=101", "invalid page_size: must be from 10 to 100"),
    ("page_size=abc", "invalid page_size: 'abc' is not an integer"),
    ("page_token=xyz", "invalid page_token: not one this server issued"),
    ("page_token=9999", "invalid page_token: past the end of the list"),
])
def test_bad_paging_is_invalid_argument_naming_the_parameter(api: Api, query: str, message: str) -> None:
    response = api("GET", f"/api/v1/organizations?{query}")

    assert response.status_code == 400
    assert response.json["code"] == 3 and response.json["message"] == message
    assert response.json["details"][0]["error_code"] == "INVALID_ARGUMENT"


@pytest.mark.parametrize(("body", "message"), [
    ({}, "invalid display_name: value is required"),
    ({"display_name": ""}, "invalid display_name: value is required"),
    ({"display_name": 5}, "invalid display_name: must be of type string"),
    ({"display_name": "ok", "metadata": {"k": 1}}, "invalid metadata.k: must be of type string"),
    ({"display_name": "ok", "logo_url": "http://x.example/logo.png"}, "invalid logo_url: must match ^https://"),
])
def test_a_body_that_breaks_the_document_is_invalid_argument_naming_the_field(api: Api, body: Any,
                                                                              message: str) -> None:
    response = api("POST", "/api/v1/organizations", body)

    assert response.status_code == 400
    assert response.json == {"code": 3, "message": message, "details": [
        {"@type": "type.googleapis.com/scalekit.v1.errdetails.ErrorInfo", "error_code": "INVALID_ARGUMENT"}]}


@pytest.mark.parametrize("raw", [b"not json", b"[1, 2]", b'"text"'])
def test_a_body_that_is_not_a_json_object_is_invalid_argument(api: Api, raw: bytes) -> None:
    response = api.client.post("/api/v1/organizations", data=raw, content_type="application/json",
                               headers={"Authorization": f"Bearer {api.token}"})

    assert response.status_code == 400 and response.json["code"] == 3


def test_unknown_fields_are_ignored_as_grpc_gateway_does(api: Api) -> None:
    created = api("POST", "/api/v1/organizations", {"display_name": "Oscorp", "no_such_field": [1]})

    assert created.status_code == 201
    assert "no_such_field" not in created.json["organization"]


def test_a_duplicate_unique_field_is_a_conflict(api: Api) -> None:
    api("POST", "/api/v1/organizations", {"display_name": "A", "external_id": "same"})

    response = api("POST", "/api/v1/organizations", {"display_name": "B", "external_id": "same"})

    assert response.status_code == 409
    assert response.json["code"] == 6 and "external_id" in response.json["message"]


@pytest.mark.parametrize("path", ["/api/v1/organizations/org_0", "/api/v1/users/usr_0", "/api/v1/roles/nobody",
                                  "/api/v1/organizations/org_0/users", f"{ORG}/clients/m2morg_0",
                                  "/api/v1/sessions/ses_0"])
def test_an_unknown_id_is_not_found(api: Api, path: str) -> None:
    response = api("GET", path)

    assert response.status_code == 404
    assert response.json["code"] == 5 and response.json["message"].endswith("not found")


def test_users_are_scoped_by_their_memberships(api: Api) -> None:
    other = api("POST", "/api/v1/organizations", {"display_name": "Other"}).json["organization"]["id"]
    user = api("POST", f"/api/v1/organizations/{other}/users", {"email": "m@x.example"}).json["user"]["id"]

    def members(org: str) -> list[str]:
        return [u["id"] for u in api("GET", f"/api/v1/organizations/{org}/users").json["users"]]

    assert user in members(other) and user not in members(SEED_ORG)
    added = api("POST", f"/api/v1/memberships/organizations/{SEED_ORG}/users/{user}", {"roles": [{"name": "member"}]})
    assert added.status_code == 201
    assert {m["organization_id"] for m in added.json["user"]["memberships"]} == {other, SEED_ORG}
    assert user in members(SEED_ORG)
    assert api("POST", f"/api/v1/memberships/organizations/{SEED_ORG}/users/{user}", {}).status_code == 409
    assert api("DELETE", f"/api/v1/memberships/organizations/{SEED_ORG}/users/{user}").status_code == 200
    assert user not in members(SEED_ORG)
    assert api("GET", f"/api/v1/users/{user}").status_code == 200  # the user stays, in its other organization


def test_get_by_external_id_and_search(api: Api) -> None:
    org = api("POST", "/api/v1/organizations", {"display_name": "Ext", "external_id": "tenant-42"}).json
    user = api("POST", f"{ORG}/users", {"email": "zed@search.example", "external_id": "u-42"}).json["user"]

    assert api("GET", "/api/v1/organizations:external/tenant-42").json == org
    assert api("GET", "/api/v1/users:external/u-42").json["user"]["id"] == user["id"]
    assert [u["id"] for u in api("GET", "/api/v1/users:search?query=zed@").json["users"]] == [user["id"]]
    assert [o["id"] for o in api("GET", "/api/v1/organizations?external_id=tenant-42").json["organizations"]] == \
        [org["organization"]["id"]]


def test_actions_change_the_resource_their_path_names(api: Api) -> None:
    connection = RESOURCES["seed"]["connectionsConnection"][0]["id"]
    enabled = api("PATCH", f"{ORG}/connections/{connection}:disable")

    assert enabled.status_code == 200
    assert api("GET", f"{ORG}/connections/{connection}").json["connection"]["enabled"] is False
    settings = api("PATCH", f"{ORG}/settings", {"features": [{"name": "sso", "enabled": True}]}).json
    assert settings["organization"]["id"] == SEED_ORG
    assert api("GET", ORG).json["organization"]["settings"]["features"] == [{"name": "sso", "enabled": True}]
    assert api("PATCH", "/api/v1/organizations/org_0/settings", {}).status_code == 404


def test_an_organization_client_created_over_the_api_gets_tokens(api: Api) -> None:
    created = api("POST", f"{ORG}/clients", {"name": "deployer", "scopes": ["deploy:write"]}).json
    client_id, secret = created["client"]["client_id"], created["plain_secret"]

    issued = api.token_for(client_id, secret)

    assert issued.status_code == 200
    claims = jwt.decode(issued.json["access_token"], options={"verify_signature": False})
    assert (claims["client_id"], claims["oid"], claims["scopes"]) == (client_id, SEED_ORG, ["deploy:write"])
    assert secret not in json.dumps(api.mock.journal())  # the secret the API handed out stays out of the journal


def test_secrets_of_an_organization_client_come_and_go(api: Api) -> None:
    created = api("POST", f"{ORG}/clients", {"name": "rotator"}).json
    client_id, first = created["client"]["client_id"], created["plain_secret"]
    first_id = created["client"]["secrets"][0]["id"]
    second = api("POST", f"{ORG}/clients/{client_id}/secrets")
    assert second.status_code == 201 and second.json["plain_secret"] != first

    assert api("DELETE", f"{ORG}/clients/{client_id}/secrets/{first_id}").status_code == 200

    assert api.token_for(client_id, first).status_code == 401
    assert api.token_for(client_id, second.json["plain_secret"]).status_code == 200
    assert [s["id"] for s in api("GET", f"{ORG}/clients/{client_id}").json["client"]["secrets"]] == \
        [second.json["secret"]["id"]]
    assert api("DELETE", f"{ORG}/clients/{client_id}/secrets/{first_id}").status_code == 404


def test_a_deleted_organization_client_can_no_longer_authenticate_and_its_tokens_are_refused(api: Api) -> None:
    created = api("POST", f"{ORG}/clients", {"name": "short-lived"}).json
    client_id, secret = created["client"]["client_id"], created["plain_secret"]
    token = api.token_for(client_id, secret).json["access_token"]

    assert api("DELETE", f"{ORG}/clients/{client_id}").status_code == 200

    refused = api.token_for(client_id, secret)
    assert refused.status_code == 401 and refused.json["error"] == "invalid_client"
    call = api("GET", "/api/v1/organizations", token=token)
    assert call.status_code == 401 and call.json["message"] == "Invalid token"  # tokens_of_deleted: rejected
    deleting = [e for e in api.mock.journal(endpoint="api") if e["method"] == "DELETE"][-1]
    assert deleting["extra"]["tokens_of_deleted_client"].startswith("rejected")


def test_reset_returns_to_the_seed_data(api: Api) -> None:
    org = api("POST", "/api/v1/organizations", {"display_name": "Temporary"}).json["organization"]["id"]
    api("DELETE", f"/api/v1/users/{SEED_USER}")

    api.mock.reset()

    assert api("GET", f"/api/v1/organizations/{org}").status_code == 404
    assert api("GET", f"/api/v1/users/{SEED_USER}").status_code == 200


@pytest.mark.parametrize("collection", sorted(RESOURCES["seed"]))
def test_the_seed_data_is_valid_for_the_document(collection: str) -> None:
    for item in RESOURCES["seed"][collection]:
        assert conforms({k: v for k, v in item.items() if k != "_scope"}, collection) == []


def test_an_update_merges_nested_messages_and_replaces_maps(api: Api) -> None:
    user = api("POST", f"{ORG}/users", {"email": "merge@x.example", "metadata": {"a": "1", "b": "2"},
                                        "user_profile": {"first_name": "Grace", "last_name": "Hopper"}}).json["user"]

    updated = api("PATCH", f"/api/v1/users/{user['id']}", {"user_profile": {"first_name": "Amazing"},
                                                          "metadata": {"c": "3"}}).json["user"]

    assert (updated["user_profile"]["first_name"], updated["user_profile"]["last_name"]) == ("Amazing", "Hopper")
    assert updated["metadata"] == {"c": "3"}  # a map field is one path of the mask: replaced whole


@pytest.mark.parametrize(("method", "path", "body", "message"), [
    ("GET", "/api/v1/users:search", None, "invalid query: value is required"),
    ("GET", "/api/v1/logs/authentication/requests?start_time=", None, "invalid start_time: must be a valid date-time"),
    ("POST", "/api/v1/organizations", {"display_name": "x", "logo_url": "https://\u0084"},
     "invalid logo_url: must be a valid uri"),
    ("POST", "/api/v1/passwordless/email/send", {"email": "a@b.example", "expires_in": 2**63},
     "invalid expires_in: must be a valid int64"),
    ("PATCH", f"{ORG}/session-policy", {"idle_session_timeout": 2**31}, None),
])
def test_what_protobuf_would_refuse_is_invalid_argument(api: Api, method: str, path: str, body: Any,
                                                        message: str | None) -> None:
    # grpc-gateway decodes into protobuf: integers keep their width, timestamps are RFC 3339
    response = api(method, path, body)

    assert response.status_code == 400 and response.json["code"] == 3
    assert message is None or response.json["message"] == message
