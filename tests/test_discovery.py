"""The discovery documents: OpenID configuration and RFC 8414 authorization server metadata, one set of facts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from mock_server import MockServer

RFC8414 = "/.well-known/oauth-authorization-server"
OIDC = "/.well-known/openid-configuration"


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    with MockServer() as mock:
        yield mock


@pytest.fixture
def mock(server: MockServer) -> Iterator[MockServer]:
    server.reset()
    yield server
    server.check()


def document(mock: MockServer, path: str) -> dict[str, Any]:
    answer = requests.get(mock.url + path, timeout=10)
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "application/json"
    body: dict[str, Any] = answer.json()
    return body


def test_metadata_names_the_environment_and_what_its_token_endpoint_takes(mock: MockServer) -> None:
    metadata = document(mock, RFC8414)
    assert metadata["issuer"] == mock.url  # RFC 8414 3.3: identical to the issuer the document is for
    assert metadata["token_endpoint"] == f"{mock.url}/oauth/token" and metadata["jwks_uri"] == f"{mock.url}/keys"
    assert metadata["grant_types_supported"] == ["client_credentials"]
    assert metadata["token_endpoint_auth_methods_supported"] == ["client_secret_post", "client_secret_basic"]
    assert metadata["response_types_supported"] == [] and "authorization_endpoint" not in metadata


def test_metadata_and_openid_configuration_agree(mock: MockServer) -> None:
    metadata, openid = document(mock, RFC8414), document(mock, OIDC)
    shared = set(metadata) - {"response_types_supported"}
    assert {name: metadata[name] for name in shared} == {name: openid[name] for name in shared}


@pytest.mark.parametrize("method", ["client_secret_post", "client_secret_basic"])
def test_token_endpoint_works_with_each_listed_auth_method(mock: MockServer, method: str) -> None:
    metadata = document(mock, RFC8414)
    form = {"grant_type": "client_credentials"}
    if method == "client_secret_post":
        answer = requests.post(metadata["token_endpoint"], timeout=10, data={
            **form, "client_id": mock.client_id, "client_secret": mock.client_secret})
    else:
        answer = requests.post(metadata["token_endpoint"], data=form, auth=(mock.client_id, mock.client_secret),
                               timeout=10)
    assert answer.status_code == 200 and answer.json()["token_type"] == "Bearer"
    keys = requests.get(metadata["jwks_uri"], timeout=10).json()["keys"]
    assert keys and set(metadata["scopes_supported"]) >= {"organizations:read"}


def test_metadata_is_journaled_as_discovery_and_takes_discovery_faults(mock: MockServer) -> None:
    mock.add_fault("status", endpoint="discovery", preset="unavailable")
    assert requests.get(mock.url + RFC8414, timeout=10).status_code == 503
    document(mock, RFC8414)
    assert [(e["endpoint"], e["status"]) for e in mock.journal()] == [("discovery", 503), ("discovery", 200)]


def test_issuer_follows_a_configured_environment_url() -> None:
    with MockServer(issuer="https://acme.scalekit.test") as mock:
        metadata = requests.get(f"http://127.0.0.1:{mock.port}{RFC8414}", timeout=10,
                                headers={"Host": "acme.scalekit.test"}).json()
    assert metadata["issuer"] == "https://acme.scalekit.test"
    assert metadata["token_endpoint"] == "https://acme.scalekit.test/oauth/token"
