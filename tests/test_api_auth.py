"""The protected API: authentication and authorization of bearer tokens, routing, organizations."""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import json
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mock_server.server import MockServer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _json(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


ERRORS: dict[str, Any] = _json("errors.json")
TOKEN: dict[str, Any] = _json("token.json")
POLICIES: dict[str, str] = _json("auth_policies.json")["policies"]
ORGS: dict[str, Any] = {"organizations": _json("resources.json")["seed"]["organizationsOrganization"]}
DOCUMENTED = {op["operationId"].split("_", 1)[0] + "/" + op["operationId"].split("_", 1)[1].rstrip("0123456789")
              for item in _json("scalekit-openapi.json")["paths"].values() for op in item.values()}
CLIENTS: list[dict[str, Any]] = _json("clients.json")["clients"]
ENV_CLIENT = next(c for c in CLIENTS if c["scopes"] is None)
ORG_CLIENT = next(c for c in CLIENTS if c["scopes"] is not None)
ROUTES: list[dict[str, str]] = list(csv.DictReader(
    (FIXTURES / "routes.tsv").read_text(encoding="utf-8").splitlines(), delimiter="\t"))
ROUTE_BY_RPC = {r["rpc"]: r for r in ROUTES}
PARAM = re.compile(r"\{[^}]*\}")
ORG_SERVICE = "scalekit.v1.organizations.OrganizationService/"


def api_error(key: str) -> dict[str, Any]:
    """The exact ``google.rpc.Status`` body the fixtures give for ``key``."""
    spec = ERRORS["api"][key]
    return {"code": spec["code"], "message": spec["message"],
            "details": [{"@type": ERRORS["error_info_type"], "error_code": spec["error_code"]}]}


def policy_of(row: dict[str, str]) -> str:
    return POLICIES.get(row["auth_type"], "client")


def route_path(rpc: str, value: str = "x") -> str:
    """The path of an RPC of the routes table, every path parameter (and ``**``) set to ``value``."""
    return PARAM.sub(value, ROUTE_BY_RPC[rpc]["path_template"]).replace("**", value)


def access_token(server: MockServer, client: dict[str, Any] = ENV_CLIENT, **extra: str) -> str:
    data = {"grant_type": "client_credentials", "client_id": client["client_id"],
            "client_secret": client["client_secret"], **extra}
    response = requests.post(f"{server.url}/oauth/token", data=data, timeout=10)
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def call(server: MockServer, method: str, path: str, token: str | None = None, **kwargs: Any) -> requests.Response:
    headers = dict(kwargs.pop("headers", {}))
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return requests.request(method, f"{server.url}{path}", headers=headers, timeout=10, **kwargs)


def list_orgs(server: MockServer, token: str | None, **params: str) -> requests.Response:
    return call(server, "GET", route_path(ORG_SERVICE + "ListOrganization"), token, params=params)


# -- forging tokens ----------------------------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def assemble(header: dict[str, Any], claims: dict[str, Any], sign: Callable[[bytes], bytes]) -> str:
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    return f"{signing_input}.{b64url(sign(signing_input.encode('ascii')))}"


def mock_kid(server: MockServer) -> str:
    return server.control.keys.current.kid


@cache
def stranger_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def real_claims(server: MockServer, client: dict[str, Any] = ENV_CLIENT) -> dict[str, Any]:
    """Claims a genuine token of ``client`` carries (so a forgery differs only where it means to)."""
    claims: dict[str, Any] = jwt.decode(access_token(server, client), options={"verify_signature": False})
    return claims


def signed_by_mock_key(server: MockServer, claims: dict[str, Any], kid: str | None = None) -> str:
    """Claims signed with the mock's own signing key (taken from its internals, as no client could)."""
    key = server.control.keys.current
    return jwt.encode(claims, key.private_key, algorithm="RS256", headers={"kid": kid or key.kid})


def published_public_pem(server: MockServer) -> bytes:
    jwks = jwt.PyJWKSet.from_dict(requests.get(f"{server.url}/keys", timeout=10).json())
    public = jwks[mock_kid(server)].key
    pem: bytes = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return pem


def tampered(token: str, **changes: Any) -> str:
    """The token with its payload changed (``None`` deletes a claim) and the original signature kept."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    for name, value in changes.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return f"{header}.{b64url(json.dumps(claims).encode())}.{signature}"


# -- the documented errors ---------------------------------------------------------------------------

LIST_PATH = route_path(ORG_SERVICE + "ListOrganization")


@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": ""},
    {"Authorization": "Bearer"},
    {"Authorization": "Bearer "},
    {"Authorization": "Bearer      "},
    {"Authorization": "Basic " + base64.b64encode(f"{ENV_CLIENT['client_id']}:x".encode()).decode()},
    {"Authorization": "Token abc.def.ghi"},
], ids=["none", "empty", "bearer-alone", "bearer-space", "bearer-spaces", "basic", "other-scheme"])
def test_api_without_bearer_token_is_token_empty(scalekit_mock: MockServer, headers: dict[str, str]) -> None:
    response = call(scalekit_mock, "GET", LIST_PATH, headers=headers)

    assert response.status_code == 401
    assert response.json() == api_error("token_empty")


def test_api_valid_token_is_accepted(scalekit_mock: MockServer) -> None:
    response = list_orgs(scalekit_mock, access_token(scalekit_mock))

    assert response.status_code == 200
    assert response.json()["total_size"] == len(ORGS["organizations"])


def test_api_token_past_exp_on_the_mock_clock_is_token_expired(scalekit_mock: MockServer) -> None:
    # Given a token, still good a few seconds before its exp
    token = access_token(scalekit_mock)
    scalekit_mock.advance_clock(TOKEN["lifetime_seconds"] - 5)
    assert list_orgs(scalekit_mock, token).status_code == 200

    # When the mock clock passes exp
    scalekit_mock.advance_clock(10)
    response = list_orgs(scalekit_mock, token)

    # Then the API answers Token expired, and a fresh token works again
    assert response.status_code == 401
    assert response.json() == api_error("token_expired")
    assert list_orgs(scalekit_mock, access_token(scalekit_mock)).status_code == 200


def test_api_short_lived_client_token_expires_at_its_own_lifetime(scalekit_mock: MockServer) -> None:
    short = {"client_id": "skc_short", "client_secret": "short-secret", "token_lifetime": 60}
    scalekit_mock.put_client(short)
    token = access_token(scalekit_mock, short)

    scalekit_mock.advance_clock(61)

    assert list_orgs(scalekit_mock, token).json() == api_error("token_expired")


def test_api_revoked_token_is_token_expired(scalekit_mock: MockServer) -> None:
    # Given two tokens
    revoked, other = access_token(scalekit_mock), access_token(scalekit_mock)

    # When one is revoked
    scalekit_mock.revoke(token=revoked)

    # Then only that one is refused, as Token expired
    response = list_orgs(scalekit_mock, revoked)
    assert response.status_code == 401
    assert response.json() == api_error("token_expired")
    assert list_orgs(scalekit_mock, other).status_code == 200


def test_api_revoke_all_refuses_earlier_tokens_only(scalekit_mock: MockServer) -> None:
    earlier = access_token(scalekit_mock)

    scalekit_mock.revoke_all()

    assert list_orgs(scalekit_mock, earlier).json() == api_error("token_expired")
    assert list_orgs(scalekit_mock, access_token(scalekit_mock)).status_code == 200


def test_api_organization_client_lacking_permission_is_forbidden(scalekit_mock: MockServer) -> None:
    # Given the organization client, which may read organizations but not write them
    create = ROUTE_BY_RPC[ORG_SERVICE + "CreateOrganization"]
    assert "organizations:write" in create["required_permissions"].split(",")
    assert "organizations:write" not in ORG_CLIENT["scopes"]
    token = access_token(scalekit_mock, ORG_CLIENT)

    # When it creates an organization, and when it lists them
    denied = call(scalekit_mock, "POST", create["path_template"], token, json={"display_name": "Nope"})
    allowed = list_orgs(scalekit_mock, token)

    # Then the write is Insufficient permissions and the read succeeds
    assert denied.status_code == 403
    assert denied.json() == api_error("forbidden")
    assert allowed.status_code == 200


def test_api_full_access_token_narrowed_by_scope_is_forbidden_beyond_it(scalekit_mock: MockServer) -> None:
    token = access_token(scalekit_mock, scope="organizations:read")

    response = call(scalekit_mock, "POST", route_path(ORG_SERVICE + "CreateOrganization"), token,
                    json={"display_name": "Nope"})

    assert response.status_code == 403
    assert response.json() == api_error("forbidden")


def test_api_either_listed_permission_suffices(scalekit_mock: MockServer) -> None:
    # GetOrganization lists organizations_read and organizations:read
    get = ROUTE_BY_RPC[ORG_SERVICE + "GetOrganization"]
    assert get["required_permissions"].split(",") == ["organizations_read", "organizations:read"]
    scalekit_mock.put_client({"client_id": "m2morg_legacy", "client_secret": "legacy-secret",
                              "scopes": ["organizations_read"]})
    token = access_token(scalekit_mock, {"client_id": "m2morg_legacy", "client_secret": "legacy-secret"})

    response = call(scalekit_mock, "GET", route_path(get["rpc"], ORGS["organizations"][0]["id"]), token)

    assert response.status_code == 200


def test_api_not_client_route_is_forbidden_even_for_full_access(scalekit_mock: MockServer) -> None:
    rpc = ORG_SERVICE + "GetPortalLinks"
    assert policy_of(ROUTE_BY_RPC[rpc]) == "not_client"
    path = route_path(rpc, ORGS["organizations"][0]["id"])

    with_token = call(scalekit_mock, "GET", path, access_token(scalekit_mock))
    without = call(scalekit_mock, "GET", path)

    assert with_token.status_code == 403
    assert with_token.json() == api_error("forbidden")
    assert without.json() == api_error("token_empty")


@pytest.mark.parametrize("rpc", [r["rpc"] for r in ROUTES if policy_of(r) == "none"])
def test_api_route_with_policy_none_needs_no_token(scalekit_mock: MockServer, rpc: str) -> None:
    row = ROUTE_BY_RPC[rpc]

    response = call(scalekit_mock, row["http_method"], route_path(rpc), json={} if row["body_field"] else None)

    assert response.status_code == 200
    assert response.json() == {}


# -- attacks on the token ----------------------------------------------------------------------------


def test_api_token_signed_with_the_real_key_is_accepted(scalekit_mock: MockServer) -> None:
    # The control case of the attacks below: the forging helpers make tokens the mock accepts.
    token = signed_by_mock_key(scalekit_mock, real_claims(scalekit_mock))

    assert list_orgs(scalekit_mock, token).status_code == 200


def _none_alg(server: MockServer) -> str:
    header = {"alg": "none", "typ": "JWT", "kid": mock_kid(server)}
    return assemble(header, real_claims(server), lambda _: b"")


def _hs256_with_public_pem(server: MockServer) -> str:
    header = {"alg": "HS256", "typ": "JWT", "kid": mock_kid(server)}
    secret = published_public_pem(server)
    return assemble(header, real_claims(server), lambda data: hmac.new(secret, data, hashlib.sha256).digest())


def _stranger_same_kid(server: MockServer) -> str:
    return jwt.encode(real_claims(server), stranger_key(), algorithm="RS256", headers={"kid": mock_kid(server)})


def _unknown_kid(server: MockServer) -> str:
    return signed_by_mock_key(server, real_claims(server), kid="snk_1")


def _no_kid(server: MockServer) -> str:
    return jwt.encode(real_claims(server), server.control.keys.current.private_key, algorithm="RS256")


def _wrong_iss(server: MockServer) -> str:
    return signed_by_mock_key(server, {**real_claims(server), "iss": "https://other-env.scalekit.dev"})


def _iss_with_trailing_slash(server: MockServer) -> str:
    return signed_by_mock_key(server, {**real_claims(server), "iss": server.url.rstrip("/") + "/"})


def _tampered_scopes_removed(server: MockServer) -> str:
    return tampered(access_token(server, ORG_CLIENT), scopes=None)


def _tampered_exp(server: MockServer) -> str:
    token = access_token(server)
    return tampered(token, exp=jwt.decode(token, options={"verify_signature": False})["exp"] + 1)


def _tampered_sub(server: MockServer) -> str:
    return tampered(access_token(server, ORG_CLIENT), sub=ENV_CLIENT["client_id"], client_id=ENV_CLIENT["client_id"])


def _signature_stripped(server: MockServer) -> str:
    return access_token(server).rsplit(".", 1)[0] + "."


def _signature_of_another_token(server: MockServer) -> str:
    first, second = access_token(server), access_token(server)
    return first.rsplit(".", 1)[0] + "." + second.rsplit(".", 1)[1]


ATTACKS: dict[str, Callable[[MockServer], str]] = {
    "garbage": lambda _: "garbage",
    "two-parts": lambda _: "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0",
    "four-parts": lambda server: access_token(server) + ".extra",
    "alg-none": _none_alg,
    "hs256-with-public-key-pem": _hs256_with_public_pem,
    "rs256-other-key-same-kid": _stranger_same_kid,
    "unknown-kid": _unknown_kid,
    "no-kid": _no_kid,
    "wrong-iss": _wrong_iss,
    "iss-trailing-slash": _iss_with_trailing_slash,
    "tampered-scopes-removed": _tampered_scopes_removed,
    "tampered-exp": _tampered_exp,
    "tampered-sub": _tampered_sub,
    "signature-stripped": _signature_stripped,
    "signature-of-another-token": _signature_of_another_token,
}


@pytest.mark.parametrize("forge", ATTACKS.values(), ids=ATTACKS.keys())
def test_api_forged_token_is_invalid(scalekit_mock: MockServer, forge: Callable[[MockServer], str]) -> None:
    token = forge(scalekit_mock)

    response = list_orgs(scalekit_mock, token)

    assert response.status_code == 401
    assert response.json() == api_error("invalid_token")


@pytest.mark.parametrize("claim", ["iss", "sub", "exp", "iat"])
def test_api_token_missing_a_required_claim_is_invalid(scalekit_mock: MockServer, claim: str) -> None:
    claims = real_claims(scalekit_mock)
    del claims[claim]

    response = list_orgs(scalekit_mock, signed_by_mock_key(scalekit_mock, claims))

    assert response.status_code == 401
    assert response.json() == api_error("invalid_token")


def test_api_token_not_yet_valid_is_invalid(scalekit_mock: MockServer) -> None:
    claims = real_claims(scalekit_mock)
    later = claims["iat"] + 3600

    response = list_orgs(scalekit_mock, signed_by_mock_key(scalekit_mock, {**claims, "nbf": later, "iat": later}))

    assert response.status_code == 401
    assert response.json() == api_error("invalid_token")


# -- key rotation ------------------------------------------------------------------------------------


def jwks_kids(server: MockServer) -> list[str]:
    return [k["kid"] for k in requests.get(f"{server.url}/keys", timeout=10).json()["keys"]]


def test_api_rotation_with_grace_keeps_old_tokens_and_signs_with_the_new_key(scalekit_mock: MockServer) -> None:
    # Given a token signed with the first key
    old_token = access_token(scalekit_mock)
    old_kid = jwt.get_unverified_header(old_token)["kid"]

    # When the keys rotate with the default grace period
    new_kid = scalekit_mock.rotate_keys()
    new_token = access_token(scalekit_mock)

    # Then both keys are published, new tokens carry the new kid, and both tokens work
    assert new_kid != old_kid
    assert re.fullmatch(r"snk_\d+", new_kid)
    assert jwt.get_unverified_header(new_token)["kid"] == new_kid
    assert set(jwks_kids(scalekit_mock)) == {old_kid, new_kid}
    assert list_orgs(scalekit_mock, old_token).status_code == 200
    assert list_orgs(scalekit_mock, new_token).status_code == 200


def test_api_rotation_without_grace_drops_the_old_key(scalekit_mock: MockServer) -> None:
    old_token = access_token(scalekit_mock)
    old_kid = jwt.get_unverified_header(old_token)["kid"]

    new_kid = scalekit_mock.rotate_keys(grace_seconds=0)

    assert jwks_kids(scalekit_mock) == [new_kid]
    response = list_orgs(scalekit_mock, old_token)
    assert response.status_code == 401
    assert response.json() == api_error("invalid_token")
    assert old_kid not in jwks_kids(scalekit_mock)
    assert list_orgs(scalekit_mock, access_token(scalekit_mock)).status_code == 200


def test_api_rotation_grace_ends_on_the_mock_clock(scalekit_mock: MockServer) -> None:
    old_token = access_token(scalekit_mock)
    scalekit_mock.rotate_keys(grace_seconds=60)
    assert list_orgs(scalekit_mock, old_token).status_code == 200

    scalekit_mock.advance_clock(61)

    assert list_orgs(scalekit_mock, old_token).json() == api_error("invalid_token")


# -- routing -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/no-such-thing", "/api/v2/organizations", "/api/v1/organizations/a/b/c/d/e",
                                  "/api", "/oauth/authorize"])
def test_api_unknown_path_is_not_found(scalekit_mock: MockServer, path: str) -> None:
    response = call(scalekit_mock, "GET", path, access_token(scalekit_mock))

    assert response.status_code == 404
    assert response.json() == api_error("not_found")


@pytest.mark.parametrize("path", ["/", "/_mock/", "/_mock"])
def test_the_root_points_to_the_endpoints_control_plane_and_docs(scalekit_mock: MockServer, path: str) -> None:
    response = requests.get(scalekit_mock.url + path, timeout=10)

    assert response.status_code == 200
    index = response.json()
    assert index["environment_url"] == scalekit_mock.url
    assert index["token_endpoint"] == f"{scalekit_mock.url}/oauth/token"
    assert index["control_plane"] == f"{scalekit_mock.url}/_mock/" and "docs/control-plane.md" in index["docs"]
    assert scalekit_mock.journal() == []  # like the control plane, not journaled


@pytest.mark.parametrize(("method", "path"), [("PUT", LIST_PATH), ("DELETE", LIST_PATH),
                                              ("POST", route_path(ORG_SERVICE + "ListOrganization") + ":search")])
def test_api_known_path_wrong_method_is_method_not_allowed(scalekit_mock: MockServer, method: str, path: str) -> None:
    response = call(scalekit_mock, method, path, access_token(scalekit_mock))

    assert response.status_code == 405
    assert response.json() == api_error("method_not_allowed")


def test_api_every_route_of_the_table_is_served(scalekit_mock: MockServer) -> None:
    # Given a full-access token and a sample value for every path parameter (a real organization id)
    sample = ORGS["organizations"][0]["id"]
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {access_token(scalekit_mock)}"
    scalekit_mock.clear_journal()

    # When every route of the table is called with its method
    wrong = []
    for row in ROUTES:
        path = route_path(row["rpc"], sample)
        response = session.request(row["http_method"], f"{scalekit_mock.url}{path}", timeout=10)
        documented = row["rpc"].split(".")[-1] in DOCUMENTED
        # routes of the published document answer from the resources (test_resources.py): a sample id may name
        # nothing (404) and an empty body lack a required field (400); the others answer an empty message
        allowed = {403} if policy_of(row) == "not_client" else ({200, 201, 400, 404} if documented else {200})
        if response.status_code not in allowed or (response.status_code == 200 and not documented
                                                   and response.json() != {}):
            wrong.append(f"{row['http_method']} {path} ({row['rpc']}): {response.status_code}, wanted {allowed}")

    # Then each answers as its policy says, served by its own RPC
    assert wrong == []
    served = [e["extra"].get("rpc") for e in scalekit_mock.journal(endpoint="api")]
    assert served == [row["rpc"] for row in ROUTES]
    assert len(ROUTES) == 444
