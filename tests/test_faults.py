"""Faults: queued behaviours consumed in order by the next matching requests, and journaled.

The delay and hang tests wait in real time (a fault's whole point is what a client's timeout sees),
so they use fractions of a second; the 300 s hang is released by ``reset()`` from another thread.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from typing import Any

import pytest
import requests
from helpers import get_token, token_response

from contract_tests.client.failures import ABSURD_EXPIRES_IN
from mock_server import ControlError, MockServer
from mock_server.core.data import load_fixtures

FIXTURES = load_fixtures()
ERRORS = FIXTURES.errors
PRESETS = FIXTURES.faults["presets"]
MALFORMED = FIXTURES.faults["malformed_token_responses"]
HANG_MAX = FIXTURES.faults["hang_max_seconds"]
ORGS = "/api/v1/organizations"
ORG = "/api/v1/organizations/org_59615193906282635"  # in fixtures/organizations.json


def api_error_body(key: str) -> dict[str, Any]:
    """The google.rpc.Status body the fixtures describe for an API error."""
    spec = ERRORS["api"][key]
    return {"code": spec["code"], "message": spec["message"],
            "details": [{"@type": ERRORS["error_info_type"], "error_code": spec["error_code"]}]}


def send(server: MockServer, token: str, method: str, path: str) -> requests.Response:
    """A request of the kind a client makes: a token request, an API call or a keys/discovery read."""
    if path == "/oauth/token":
        return token_response(server)
    body = {"display_name": "Faulty"} if method == "POST" else None
    return requests.request(method, server.url + path, json=body, timeout=10,
                            headers={"Authorization": f"Bearer {token}"})


def assert_still_serving(server: MockServer) -> None:
    assert requests.get(server.url + "/keys", timeout=10).status_code == 200
    assert token_response(server).status_code == 200


def last_entry(server: MockServer) -> dict[str, Any]:
    entries = server.journal()
    assert entries
    return entries[-1]


# -- status faults ------------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ["token", "api"])
def test_status_preset_unavailable(scalekit_mock: MockServer, endpoint: str) -> None:
    token = get_token(scalekit_mock)
    scalekit_mock.add_fault("status", endpoint=endpoint, preset="unavailable")
    response = send(scalekit_mock, token, "POST" if endpoint == "token" else "GET",
                    "/oauth/token" if endpoint == "token" else ORGS)
    assert response.status_code == PRESETS["unavailable"]["status"] == 503
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == api_error_body("unavailable")
    entry = last_entry(scalekit_mock)
    assert (entry["status"], entry["outcome"], entry["fault"]["kind"], entry["fault"]["preset"]) == (
        503, "fault", "status", "unavailable")
    assert_still_serving(scalekit_mock)


def test_status_preset_rate_limited_has_retry_after(scalekit_mock: MockServer) -> None:
    scalekit_mock.add_fault("status", endpoint="token", preset="rate_limited")
    response = token_response(scalekit_mock)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == PRESETS["rate_limited"]["headers"]["Retry-After"] == "1"
    assert response.json() == api_error_body("rate_limited")
    assert last_entry(scalekit_mock)["fault"]["preset"] == "rate_limited"
    assert_still_serving(scalekit_mock)


def test_status_preset_server_error_html(scalekit_mock: MockServer) -> None:
    scalekit_mock.add_fault("status", endpoint="api", preset="server_error_html")
    response = send(scalekit_mock, get_token(scalekit_mock), "GET", ORGS)
    assert response.status_code == 500
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.text == PRESETS["server_error_html"]["text"]
    assert response.text.startswith("<!DOCTYPE html>")
    entry = last_entry(scalekit_mock)
    assert (entry["path"], entry["status"], entry["outcome"], entry["fault"]["preset"]) == (
        ORGS, 500, "fault", "server_error_html")
    assert_still_serving(scalekit_mock)


@pytest.mark.parametrize(("body", "content_type", "expected_text"), [
    ({"error": "custom", "n": [1, 2]}, "application/json", json.dumps({"error": "custom", "n": [1, 2]})),
    ("upstream went away", "text/plain; charset=utf-8", "upstream went away"),
])
def test_status_fault_with_explicit_body(scalekit_mock: MockServer, body: Any, content_type: str,
                                         expected_text: str) -> None:
    scalekit_mock.add_fault("status", endpoint="keys", status=502, body=body, headers={"X-Fault": "yes"})
    response = requests.get(scalekit_mock.url + "/keys", timeout=10)
    assert response.status_code == 502
    assert response.headers["Content-Type"] == content_type
    assert response.headers["X-Fault"] == "yes"
    assert response.text == expected_text
    entry = last_entry(scalekit_mock)
    assert (entry["status"], entry["outcome"], entry["fault"]["body"]) == (502, "fault", body)
    assert_still_serving(scalekit_mock)


def test_status_fault_with_preset_and_other_status(scalekit_mock: MockServer) -> None:
    scalekit_mock.add_fault("status", endpoint="discovery", preset="unavailable", status=504)
    response = requests.get(scalekit_mock.url + "/.well-known/openid-configuration", timeout=10)
    assert (response.status_code, response.json()) == (504, api_error_body("unavailable"))


def test_status_fault_status_written_as_an_integral_float_is_an_integer(scalekit_mock: MockServer) -> None:
    # JSON and the OpenAPI document's "integer" count 504.0 as an integer (schemathesis sends such values).
    scalekit_mock.add_fault("status", endpoint="discovery", preset="unavailable", status=504.0)
    response = requests.get(scalekit_mock.url + "/.well-known/openid-configuration", timeout=10)
    assert response.status_code == 504
    with pytest.raises(ControlError):
        scalekit_mock.add_fault("status", endpoint="discovery", status=504.5)


# -- matching, counting, ordering ---------------------------------------------------------------

MATCHING = [
    # (fault fields, an unaffected request, an affected request)
    ({"endpoint": "token"}, ("GET", ORGS), ("POST", "/oauth/token")),
    ({"endpoint": "api"}, ("POST", "/oauth/token"), ("GET", ORGS)),
    ({"endpoint": "keys"}, ("GET", "/.well-known/openid-configuration"), ("GET", "/.well-known/jwks.json")),
    ({"endpoint": "discovery"}, ("GET", "/keys"), ("GET", "/.well-known/openid-configuration")),
    ({"endpoint": "api", "path": "/api/v1/organizations/"}, ("GET", ORGS), ("GET", ORG)),
    ({"endpoint": "api", "method": "POST"}, ("GET", ORGS), ("POST", ORGS)),
    ({"endpoint": "any", "method": "get", "path": "/keys"}, ("POST", "/oauth/token"), ("GET", "/keys")),
]


@pytest.mark.parametrize(("fields", "unaffected", "affected"), MATCHING,
                         ids=[json.dumps(f) for f, _, _ in MATCHING])
def test_fault_applies_to_matching_requests_only(scalekit_mock: MockServer, fields: dict[str, Any],
                                                 unaffected: tuple[str, str], affected: tuple[str, str]) -> None:
    token = get_token(scalekit_mock)
    added = scalekit_mock.add_fault("status", status=418, **fields)
    # A request the fault does not match is served normally and leaves the fault queued
    response = send(scalekit_mock, token, *unaffected)
    assert response.status_code in (200, 201)
    assert last_entry(scalekit_mock)["fault"] is None
    assert [f["id"] for f in scalekit_mock.control.list_faults()] == [added["id"]]
    # The matching one gets the fault and consumes it
    assert send(scalekit_mock, token, *affected).status_code == 418
    assert last_entry(scalekit_mock)["fault"]["id"] == added["id"]
    assert scalekit_mock.control.list_faults() == []
    # Then it is normal again
    assert send(scalekit_mock, token, *affected).status_code in (200, 201)


@pytest.mark.parametrize("count", [1, 3])
def test_fault_count_honoured(scalekit_mock: MockServer, count: int) -> None:
    scalekit_mock.add_fault("status", endpoint="token", preset="unavailable", count=count)
    for remaining in range(count, 0, -1):
        assert [f["remaining"] for f in scalekit_mock.control.list_faults()] == [remaining]
        assert token_response(scalekit_mock).status_code == 503
    assert scalekit_mock.control.list_faults() == []
    assert token_response(scalekit_mock).status_code == 200
    assert [e["status"] for e in scalekit_mock.journal()] == [503] * count + [200]


def test_faults_consumed_in_queue_order(scalekit_mock: MockServer) -> None:
    keys_fault = scalekit_mock.add_fault("status", endpoint="keys", status=502)
    scalekit_mock.add_fault("status", endpoint="token", preset="unavailable")
    scalekit_mock.add_fault("status", endpoint="token", preset="rate_limited")
    scalekit_mock.add_fault("malformed_token", variant="missing_access_token")
    statuses = [token_response(scalekit_mock) for _ in range(4)]
    assert [r.status_code for r in statuses] == [503, 429, 200, 200]
    assert "access_token" not in statuses[2].json() and "access_token" in statuses[3].json()
    # The keys fault queued first was skipped over, not consumed
    assert [f["id"] for f in scalekit_mock.control.list_faults()] == [keys_fault["id"]]
    assert requests.get(scalekit_mock.url + "/keys", timeout=10).status_code == 502


# -- delay, drop, hang --------------------------------------------------------------------------


def test_delay_fault_answers_late(scalekit_mock: MockServer) -> None:
    scalekit_mock.add_fault("delay", endpoint="token", seconds=0.2)
    started = time.monotonic()
    response = token_response(scalekit_mock)
    elapsed = time.monotonic() - started
    assert response.status_code == 200 and "access_token" in response.json()
    assert elapsed >= 0.2
    entry = last_entry(scalekit_mock)
    assert (entry["fault"]["kind"], entry["fault"]["seconds"], entry["outcome"]) == ("delay", 0.2, "issued")


def test_drop_fault_closes_connection_without_response(scalekit_mock: MockServer) -> None:
    scalekit_mock.add_fault("drop", endpoint="keys")
    connection = http.client.HTTPConnection("127.0.0.1", scalekit_mock.port, timeout=10)
    try:
        connection.request("GET", "/keys")
        with pytest.raises(http.client.RemoteDisconnected):
            connection.getresponse()
    finally:
        connection.close()
    entry = last_entry(scalekit_mock)
    assert (entry["path"], entry["outcome"], entry["fault"]["kind"], entry["status"]) == ("/keys", "drop", "drop", 0)
    assert_still_serving(scalekit_mock)


def test_drop_fault_seen_by_requests_as_connection_error(scalekit_mock: MockServer) -> None:
    scalekit_mock.add_fault("drop", endpoint="token")
    with pytest.raises(requests.ConnectionError):
        token_response(scalekit_mock)
    assert last_entry(scalekit_mock)["outcome"] == "drop"
    assert_still_serving(scalekit_mock)


def test_hang_fault_answers_nothing_then_drops(scalekit_mock: MockServer) -> None:
    scalekit_mock.add_fault("hang", endpoint="token", seconds=0.3)
    started = time.monotonic()
    with pytest.raises(requests.ConnectionError):
        token_response(scalekit_mock)
    elapsed = time.monotonic() - started
    assert 0.3 <= elapsed < 5
    entry = last_entry(scalekit_mock)
    assert (entry["outcome"], entry["fault"]["kind"], entry["fault"]["seconds"]) == ("hang", "hang", 0.3)
    assert_still_serving(scalekit_mock)


def test_hang_fault_at_max_released_by_reset_from_another_thread(scalekit_mock: MockServer) -> None:
    added = scalekit_mock.add_fault("hang", endpoint="keys")
    assert added["seconds"] == HANG_MAX == 300
    releaser = threading.Timer(0.3, scalekit_mock.reset)
    releaser.start()
    started = time.monotonic()
    try:
        with pytest.raises(requests.ConnectionError):
            requests.get(scalekit_mock.url + "/keys", timeout=10)
    finally:
        releaser.join()
    assert time.monotonic() - started < 3
    assert [e["outcome"] for e in scalekit_mock.journal()] == ["hang"]  # recorded when let go, after the reset
    assert_still_serving(scalekit_mock)


# -- malformed token responses, forced API errors -----------------------------------------------


def test_malformed_token_not_json(scalekit_mock: MockServer) -> None:
    scalekit_mock.add_fault("malformed_token", variant="not_json")
    response = token_response(scalekit_mock)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == MALFORMED["not_json"]["content_type"] == "application/json"
    assert response.text == MALFORMED["not_json"]["text"]
    with pytest.raises(ValueError):
        json.loads(response.text)
    assert last_entry(scalekit_mock)["outcome"] == "malformed:not_json"
    assert_still_serving(scalekit_mock)


def test_malformed_token_missing_access_token(scalekit_mock: MockServer) -> None:
    scalekit_mock.add_fault("malformed_token", variant="missing_access_token")
    response = token_response(scalekit_mock)
    assert response.status_code == 200
    assert response.json() == MALFORMED["missing_access_token"]["json"]
    assert "access_token" not in response.json()
    assert last_entry(scalekit_mock)["outcome"] == "malformed:missing_access_token"
    assert_still_serving(scalekit_mock)


def test_malformed_token_expires_in_string(scalekit_mock: MockServer) -> None:
    scalekit_mock.add_fault("malformed_token", variant="expires_in_string")
    response = token_response(scalekit_mock)
    assert response.status_code == 200
    body = response.json()
    assert body["expires_in"] == "86399" and isinstance(body["expires_in"], str)
    assert {k: body[k] for k in ("token_type", "scope")} == {"token_type": "Bearer", "scope": "openid"}
    # The token itself is real
    api = requests.get(scalekit_mock.url + ORGS, headers={"Authorization": f"Bearer {body['access_token']}"},
                       timeout=10)
    assert api.status_code == 200
    assert scalekit_mock.journal()[0]["outcome"] == "malformed:expires_in_string"



def test_malformed_token_expires_in_absurd(scalekit_mock: MockServer) -> None:
    # The docs' Postman collection's saved expires_in: larger than any 64-bit signed integer, on a real token
    scalekit_mock.add_fault("malformed_token", variant="expires_in_absurd")
    response = token_response(scalekit_mock)
    assert response.status_code == 200
    body = response.json()
    assert body["expires_in"] == ABSURD_EXPIRES_IN == MALFORMED["expires_in_absurd"]["json_with_token"]["expires_in"]
    assert '"expires_in": 18446744064486179580' in response.text  # a JSON integer, not a float
    api = requests.get(scalekit_mock.url + ORGS, headers={"Authorization": f"Bearer {body['access_token']}"},
                       timeout=10)
    assert api.status_code == 200
    entry = scalekit_mock.journal()[0]
    assert entry["outcome"] == "malformed:expires_in_absurd"
    assert entry["issued"]["exp"] - entry["issued"]["iat"] == 86400  # the token is an ordinary one

@pytest.mark.parametrize(("kind", "status"), [("token_expired", 401), ("forbidden", 403)])
def test_forced_api_error_on_next_call(scalekit_mock: MockServer, kind: str, status: int) -> None:
    token = get_token(scalekit_mock)
    scalekit_mock.add_fault(kind)
    assert token_response(scalekit_mock).status_code == 200  # not a token-endpoint fault
    response = send(scalekit_mock, token, "GET", ORGS)
    assert response.status_code == status == ERRORS["api"][kind]["status"]
    assert response.json() == api_error_body(kind)
    entry = last_entry(scalekit_mock)
    assert (entry["outcome"], entry["fault"]["kind"], entry["status"]) == (kind, kind, status)
    assert send(scalekit_mock, token, "GET", ORGS).status_code == 200


def test_forced_api_error_carries_fault_headers(scalekit_mock: MockServer) -> None:
    scalekit_mock.add_fault("token_expired", headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    response = send(scalekit_mock, get_token(scalekit_mock), "GET", ORGS)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'


def test_reset_clears_queued_faults(scalekit_mock: MockServer) -> None:
    scalekit_mock.add_fault("drop", count=10)
    scalekit_mock.reset()
    assert_still_serving(scalekit_mock)
