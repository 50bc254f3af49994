"""``POST /oauth/token``: the client-credentials grant, its tokens and every error it answers with."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import jwt
import pytest
import requests

from mock_server.server import MockServer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ERRORS: dict[str, Any] = json.loads((FIXTURES / "errors.json").read_text(encoding="utf-8"))
TOKEN: dict[str, Any] = json.loads((FIXTURES / "token.json").read_text(encoding="utf-8"))
CLIENTS: list[dict[str, Any]] = json.loads((FIXTURES / "clients.json").read_text(encoding="utf-8"))["clients"]
ENV_CLIENT = next(c for c in CLIENTS if c["scopes"] is None)
ORG_CLIENT = next(c for c in CLIENTS if c["scopes"] is not None)
LIFETIME = TOKEN["lifetime_seconds"]
EXPIRES_IN = LIFETIME - TOKEN["expires_in_shortfall"]
STANDARD_CLAIMS = {"iss", "sub", "client_id", "jti", "iat", "nbf", "exp"}


def oauth_error(key: str) -> dict[str, str]:
    """The exact RFC 6749 error body the fixtures give for ``key``."""
    return {"error": key, "error_description": ERRORS["oauth"][key]["description"]}


def basic(client_id: str, secret: str) -> str:
    """An HTTP Basic header value as RFC 6749 2.3.1 builds it: form-urlencode, then base64."""
    raw = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


def credentials(client: dict[str, Any], **extra: str) -> dict[str, str]:
    return {"grant_type": "client_credentials", "client_id": client["client_id"],
            "client_secret": client["client_secret"], **extra}


def post_token(server: MockServer, data: Any = None, **kwargs: Any) -> requests.Response:
    return requests.post(f"{server.url}/oauth/token", data=data, timeout=10, **kwargs)


def issue(server: MockServer, client: dict[str, Any] = ENV_CLIENT, **extra: str) -> dict[str, Any]:
    response = post_token(server, credentials(client, **extra))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def claims_of(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def jwks_kids(server: MockServer) -> list[str]:
    return [k["kid"] for k in requests.get(f"{server.url}/keys", timeout=10).json()["keys"]]


# -- success -----------------------------------------------------------------------------------------


def test_token_success_body_is_exactly_the_documented_fields(scalekit_mock: MockServer) -> None:
    response = post_token(scalekit_mock, credentials(ENV_CLIENT))

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "Bearer"
    assert type(body["expires_in"]) is int
    assert body["expires_in"] == EXPIRES_IN == 86399
    assert body["scope"] == TOKEN["full_access_scope"]
    assert isinstance(body["access_token"], str)
    assert body["access_token"].count(".") == 2


def test_token_jwt_header_names_a_published_rs256_key(scalekit_mock: MockServer) -> None:
    token = issue(scalekit_mock)["access_token"]

    header = jwt.get_unverified_header(token)

    assert header["alg"] == "RS256"
    assert header["typ"] == "JWT"
    assert re.fullmatch(r"snk_\d+", header["kid"])
    assert header["kid"] in jwks_kids(scalekit_mock)


def test_token_claims_of_the_environment_client(scalekit_mock: MockServer) -> None:
    before = int(scalekit_mock.now())
    claims = claims_of(issue(scalekit_mock)["access_token"])

    assert set(claims) == STANDARD_CLAIMS  # full access: no scopes, no oid, no aud
    assert claims["iss"] == scalekit_mock.url.rstrip("/")
    assert not claims["iss"].endswith("/")
    assert claims["sub"] == claims["client_id"] == ENV_CLIENT["client_id"]
    assert re.fullmatch(r"tkn_\d+", claims["jti"])
    assert before <= claims["iat"] <= int(scalekit_mock.now())
    assert claims["nbf"] == claims["iat"]
    assert claims["exp"] - claims["iat"] == LIFETIME == 86400


def test_token_claims_of_the_organization_client(scalekit_mock: MockServer) -> None:
    body = issue(scalekit_mock, ORG_CLIENT)
    claims = claims_of(body["access_token"])

    assert set(claims) == STANDARD_CLAIMS | {"scopes", "oid"}
    assert claims["sub"] == claims["client_id"] == ORG_CLIENT["client_id"]
    assert claims["scopes"] == ORG_CLIENT["scopes"]
    assert claims["oid"] == ORG_CLIENT["organization_id"]
    assert body["scope"] == " ".join(ORG_CLIENT["scopes"])


def test_token_jti_is_unique_across_tokens(scalekit_mock: MockServer) -> None:
    jtis = [claims_of(issue(scalekit_mock, client)["access_token"])["jti"] for client in [ENV_CLIENT, ORG_CLIENT] * 10]

    assert len(set(jtis)) == 20


def test_token_aud_only_when_the_client_has_an_audience(scalekit_mock: MockServer) -> None:
    # Given a client with an audience next to the default one without
    with_aud = {"client_id": "skc_audience", "client_secret": "aud-secret", "audience": ["https://api.example.com"]}
    scalekit_mock.put_client(with_aud)

    # When each gets a token
    aud_claims = claims_of(issue(scalekit_mock, with_aud)["access_token"])
    plain_claims = claims_of(issue(scalekit_mock)["access_token"])

    # Then only the first carries aud, as a list
    assert aud_claims["aud"] == ["https://api.example.com"]
    assert "aud" not in plain_claims


@pytest.mark.parametrize("client", [ENV_CLIENT, ORG_CLIENT], ids=["environment", "organization"])
def test_token_signature_verifies_with_the_jwks(scalekit_mock: MockServer, client: dict[str, Any]) -> None:
    token = issue(scalekit_mock, client)["access_token"]
    jwks = jwt.PyJWKSet.from_dict(requests.get(f"{scalekit_mock.url}/keys", timeout=10).json())

    key = jwks[jwt.get_unverified_header(token)["kid"]]
    claims = jwt.decode(token, key.key, algorithms=["RS256"], issuer=scalekit_mock.url.rstrip("/"))

    assert claims["sub"] == client["client_id"]


# -- client authentication ---------------------------------------------------------------------------


def test_token_credentials_via_http_basic(scalekit_mock: MockServer) -> None:
    response = post_token(scalekit_mock, {"grant_type": "client_credentials"},
                          headers={"Authorization": basic(ENV_CLIENT["client_id"], ENV_CLIENT["client_secret"])})

    assert response.status_code == 200
    assert claims_of(response.json()["access_token"])["sub"] == ENV_CLIENT["client_id"]


def test_token_basic_credentials_are_form_urlencoded_before_base64(scalekit_mock: MockServer) -> None:
    # Given a secret with characters that form-urlencoding changes (':', '+', ' ', '%', '&', non-ASCII)
    secret = "s:e+c r%et&=é/"
    scalekit_mock.put_client({"client_id": "skc_basic.enc-1", "client_secret": secret})

    # When it is sent encoded as RFC 6749 2.3.1 says, and then raw (base64 of the plain text)
    encoded = post_token(scalekit_mock, {"grant_type": "client_credentials"},
                         headers={"Authorization": basic("skc_basic.enc-1", secret)})
    raw = base64.b64encode(f"skc_basic.enc-1:{secret}".encode()).decode()
    unencoded = post_token(scalekit_mock, {"grant_type": "client_credentials"},
                           headers={"Authorization": f"Basic {raw}"})

    # Then only the encoded form authenticates ('+' decodes to a space)
    assert encoded.status_code == 200, encoded.text
    assert unencoded.status_code == 401


def test_token_basic_with_matching_client_id_in_body(scalekit_mock: MockServer) -> None:
    response = post_token(scalekit_mock, {"grant_type": "client_credentials", "client_id": ENV_CLIENT["client_id"]},
                          headers={"Authorization": basic(ENV_CLIENT["client_id"], ENV_CLIENT["client_secret"])})

    assert response.status_code == 200


def test_token_stale_bearer_header_is_ignored(scalekit_mock: MockServer) -> None:
    response = post_token(scalekit_mock, credentials(ENV_CLIENT), headers={"Authorization": "Bearer x"})

    assert response.status_code == 200
    assert claims_of(response.json()["access_token"])["sub"] == ENV_CLIENT["client_id"]


def test_token_extra_sdk_headers_are_accepted(scalekit_mock: MockServer) -> None:
    headers = {"x-sdk-version": "Scalekit-Python/2.21.0", "x-api-version": "20250101", "User-Agent": "sdk/1"}

    response = post_token(scalekit_mock, credentials(ENV_CLIENT), headers=headers)

    assert response.status_code == 200


# -- lifetime and scope ------------------------------------------------------------------------------


def test_token_per_client_lifetime(scalekit_mock: MockServer) -> None:
    short = {"client_id": "skc_short_lived", "client_secret": "short-secret", "token_lifetime": 300}
    scalekit_mock.put_client(short)

    body = issue(scalekit_mock, short)
    claims = claims_of(body["access_token"])

    assert body["expires_in"] == 299
    assert claims["exp"] - claims["iat"] == 300


def test_token_scope_subset_narrows_a_full_access_token(scalekit_mock: MockServer) -> None:
    body = issue(scalekit_mock, scope="organizations:read")

    assert body["scope"] == "organizations:read"
    assert claims_of(body["access_token"])["scopes"] == ["organizations:read"]


def test_token_scope_subset_narrows_a_limited_client(scalekit_mock: MockServer) -> None:
    two = {"client_id": "m2morg_two", "client_secret": "two-secret", "organization_id": "org_1",
           "scopes": ["organizations:read", "organizations:write"]}
    scalekit_mock.put_client(two)

    full = claims_of(issue(scalekit_mock, two)["access_token"])
    narrowed = issue(scalekit_mock, two, scope="organizations:write")

    assert full["scopes"] == ["organizations:read", "organizations:write"]
    assert narrowed["scope"] == "organizations:write"
    assert claims_of(narrowed["access_token"])["scopes"] == ["organizations:write"]


def test_token_full_access_scope_keeps_full_access(scalekit_mock: MockServer) -> None:
    body = issue(scalekit_mock, scope=TOKEN["full_access_scope"])

    assert body["scope"] == TOKEN["full_access_scope"]
    assert "scopes" not in claims_of(body["access_token"])


@pytest.mark.parametrize(("client", "scope"), [
    (ORG_CLIENT, "organizations:write"),
    (ORG_CLIENT, "organizations:read organizations:write"),
    (ORG_CLIENT, "no_such:permission"),
    (ENV_CLIENT, "no_such:permission"),
    (ENV_CLIENT, "organizations:read no_such:permission"),
], ids=["beyond-client", "partly-beyond-client", "unknown-org", "unknown-env", "partly-unknown-env"])
def test_token_scope_not_allowed_is_invalid_scope(scalekit_mock: MockServer, client: dict[str, Any],
                                                  scope: str) -> None:
    response = post_token(scalekit_mock, credentials(client, scope=scope))

    assert response.status_code == 400
    assert response.json() == oauth_error("invalid_scope")


# -- errors ------------------------------------------------------------------------------------------

BAD_CLIENTS = {
    "wrong-secret": (ENV_CLIENT["client_id"], "test_wrong"),
    "unknown-client": ("skc_00000000000000000", ENV_CLIENT["client_secret"]),
    "org-id-with-env-secret": (ORG_CLIENT["client_id"], ENV_CLIENT["client_secret"]),
}


@pytest.mark.parametrize(("client_id", "secret"), BAD_CLIENTS.values(), ids=BAD_CLIENTS.keys())
def test_token_bad_credentials_in_body_are_invalid_client(scalekit_mock: MockServer, client_id: str,
                                                          secret: str) -> None:
    data = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}

    response = post_token(scalekit_mock, data)

    assert response.status_code == 401
    assert response.reason == "Unauthorized"
    assert response.json() == oauth_error("invalid_client")
    assert response.headers["Cache-Control"] == "no-store"
    assert "WWW-Authenticate" not in response.headers


@pytest.mark.parametrize(("client_id", "secret"), BAD_CLIENTS.values(), ids=BAD_CLIENTS.keys())
def test_token_bad_credentials_in_basic_are_invalid_client_with_challenge(scalekit_mock: MockServer,
                                                                          client_id: str, secret: str) -> None:
    response = post_token(scalekit_mock, {"grant_type": "client_credentials"},
                          headers={"Authorization": basic(client_id, secret)})

    assert response.status_code == 401
    assert response.reason == "Unauthorized"
    assert response.json() == oauth_error("invalid_client")
    assert response.headers["WWW-Authenticate"].startswith("Basic ")


def test_token_removed_client_is_invalid_client(scalekit_mock: MockServer) -> None:
    scalekit_mock.remove_client(ORG_CLIENT["client_id"])

    response = post_token(scalekit_mock, credentials(ORG_CLIENT))

    assert response.status_code == 401
    assert response.json() == oauth_error("invalid_client")


ENV_BASIC = basic(ENV_CLIENT["client_id"], ENV_CLIENT["client_secret"])
FORM_CT = {"Content-Type": "application/x-www-form-urlencoded"}
INVALID_REQUESTS: dict[str, dict[str, Any]] = {
    "missing-grant_type": {"data": {"client_id": ENV_CLIENT["client_id"],
                                    "client_secret": ENV_CLIENT["client_secret"]}},
    "empty-grant_type": {"data": credentials(ENV_CLIENT, grant_type="")},
    "missing-client_id": {"data": {"grant_type": "client_credentials", "client_secret": ENV_CLIENT["client_secret"]}},
    "missing-client_secret": {"data": {"grant_type": "client_credentials", "client_id": ENV_CLIENT["client_id"]}},
    "empty-client_secret": {"data": credentials(ENV_CLIENT, client_secret="")},
    "empty-body": {"data": b"", "headers": FORM_CT},
    "json-body": {"json": credentials(ENV_CLIENT)},
    "form-text-as-text-plain": {"data": "grant_type=client_credentials", "headers": {"Content-Type": "text/plain"}},
    "repeated-client_id": {"data": [*credentials(ENV_CLIENT).items(), ("client_id", ENV_CLIENT["client_id"])]},
    "repeated-grant_type": {"data": [*credentials(ENV_CLIENT).items(), ("grant_type", "client_credentials")]},
    "basic-and-body-secret": {"data": credentials(ENV_CLIENT), "headers": {"Authorization": ENV_BASIC}},
    "basic-and-other-body-client_id": {"data": {"grant_type": "client_credentials", "client_id": "skc_other"},
                                       "headers": {"Authorization": ENV_BASIC}},
    "basic-not-base64": {"data": {"grant_type": "client_credentials"}, "headers": {"Authorization": "Basic !!!"}},
    "basic-without-colon": {"data": {"grant_type": "client_credentials"},
                            "headers": {"Authorization": "Basic " + base64.b64encode(b"nocolon").decode()}},
    "non-utf8-body": {"data": b"grant_type=client_credentials&client_id=\xff\xfe", "headers": FORM_CT},
}


@pytest.mark.parametrize("request_kwargs", INVALID_REQUESTS.values(), ids=INVALID_REQUESTS.keys())
def test_token_malformed_request_is_invalid_request(scalekit_mock: MockServer, request_kwargs: dict[str, Any]) -> None:
    response = post_token(scalekit_mock, **request_kwargs)

    assert response.status_code == 400
    assert response.json() == oauth_error("invalid_request")
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("grant", ["password", "authorization_code", "refresh_token", "CLIENT_CREDENTIALS"])
def test_token_other_grant_is_unsupported_grant_type(scalekit_mock: MockServer, grant: str) -> None:
    response = post_token(scalekit_mock, credentials(ENV_CLIENT, grant_type=grant))

    assert response.status_code == 400
    assert response.json() == oauth_error("unsupported_grant_type")


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_token_other_method_is_405_with_allow_post(scalekit_mock: MockServer, method: str) -> None:
    response = requests.request(method, f"{scalekit_mock.url}/oauth/token", data=credentials(ENV_CLIENT), timeout=10)

    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"
    assert response.json() == oauth_error("method_not_allowed")

