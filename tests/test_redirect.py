"""The ``redirect`` fault and the second origin it sends clients to: the 3xx and its ``Location``, what the second
origin journals (``endpoint: "foreign"``: redacted, with whether a secret or token reached it), and bad specs.

Every request goes to 127.0.0.1; redirects are followed by hand (``allow_redirects=False``), so each test says what
its "client" carries to the other origin.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest
import requests
from helpers import ORGS, get_token
from openapi_schema_validator import OAS31Validator
from openapi_schema_validator import validate as validate_schema

from mock_server import ControlError, MockServer, create_app, fingerprint
from mock_server.web.openapi import build_openapi

FORM = "application/x-www-form-urlencoded"


def form(server: MockServer) -> dict[str, str]:
    return {"grant_type": "client_credentials", "client_id": server.client_id, "client_secret": server.client_secret}


def post_token(server: MockServer, url: str | None = None, **kwargs: Any) -> requests.Response:
    data = kwargs.pop("data", form(server))
    return requests.post(url or server.url + "/oauth/token", data=data, timeout=10, allow_redirects=False, **kwargs)


def get(url: str, token: str | None = None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(url, headers=headers, timeout=10, allow_redirects=False)


def whole_journal(server: MockServer) -> str:
    return json.dumps(server.journal()) + requests.get(server.url + "/_mock/journal", timeout=10).text


def foreign(server: MockServer) -> dict[str, Any]:
    [entry] = server.journal(endpoint="foreign")
    return entry


# -- the redirect -------------------------------------------------------------------------------


def test_token_redirect_is_a_307_to_the_same_target_on_another_origin(scalekit_mock: MockServer) -> None:
    scalekit_mock.add_fault("redirect", endpoint="token")
    response = post_token(scalekit_mock, scalekit_mock.url + "/oauth/token?tenant=a%20b")
    location = response.headers["Location"]
    assert response.status_code == 307 and response.content == b""
    origin = scalekit_mock.control.second_origin_url()
    assert origin.startswith("http://127.0.0.1:") and origin != scalekit_mock.url
    assert location == origin + "/oauth/token?tenant=a%20b"
    entry = scalekit_mock.journal(endpoint="token")[-1]
    assert (entry["status"], entry["outcome"], entry["fault"]["kind"], entry["fault"]["status"]) == (
        307, "redirect", "redirect", 307)
    assert entry["extra"]["detail"] == f"to {location}"
    assert post_token(scalekit_mock).status_code == 200  # one request redirected: count 1


@pytest.mark.parametrize("status", [301, 302, 303, 308, 307.0])
def test_api_redirect_answers_the_status_asked(scalekit_mock: MockServer, status: float) -> None:
    token = get_token(scalekit_mock)
    scalekit_mock.add_fault("redirect", endpoint="api", status=status, headers={"X-Why": "moved"})
    response = get(scalekit_mock.url + ORGS + "?page_size=2", token)
    assert response.status_code == status and response.headers["X-Why"] == "moved"
    assert response.headers["Location"] == scalekit_mock.control.second_origin_url() + ORGS + "?page_size=2"


def test_redirect_to_a_given_location(scalekit_mock: MockServer) -> None:
    scalekit_mock.add_fault("redirect", endpoint="keys", location="https://elsewhere.example/jwks?x=1")
    response = get(scalekit_mock.url + "/keys")
    assert (response.status_code, response.headers["Location"]) == (307, "https://elsewhere.example/jwks?x=1")
    assert scalekit_mock.journal()[-1]["fault"]["location"] == "https://elsewhere.example/jwks?x=1"


def test_redirect_without_a_server_needs_a_location() -> None:
    # An app served some other way has no second origin: a redirect to it is refused, one with a location is not.
    client = create_app().test_client()
    refused = client.post("/_mock/faults", json={"kind": "redirect"})
    assert refused.status_code == 409 and "location" in refused.get_json()["error"]
    accepted = client.post("/_mock/faults", json={"kind": "redirect", "location": "http://127.0.0.1:9/x"})
    assert accepted.status_code == 201 and accepted.get_json()["location"] == "http://127.0.0.1:9/x"


@pytest.mark.parametrize(("spec", "message"), [
    ({"status": 200}, "'status' must be one of: 301, 302, 303, 307, 308"),
    ({"status": 304}, "must be one of"),
    ({"status": True}, "must be one of"),
    ({"status": "307"}, "must be one of"),
    ({"location": "/relative"}, "absolute http(s) URL"),
    ({"location": "ftp://127.0.0.1/x"}, "absolute http(s) URL"),
    ({"location": "http://"}, "absolute http(s) URL"),
    ({"location": "http://127.0.0.1/a b"}, "absolute http(s) URL"),
    ({"location": "http://127.0.0.1/\u00e9"}, "absolute http(s) URL"),
    ({"location": 5}, "absolute http(s) URL"),
    ({"headers": {"location": "http://127.0.0.1/"}}, "give 'location', not a header"),
])
def test_bad_redirect_specs_are_400_with_the_control_planes_error(scalekit_mock: MockServer, spec: dict[str, Any],
                                                                  message: str) -> None:
    response = requests.post(scalekit_mock.url + "/_mock/faults", json={"kind": "redirect", **spec}, timeout=10)
    assert response.status_code == 400 and message in response.json()["error"], response.text
    with pytest.raises(ControlError, match=re.escape(message)):
        scalekit_mock.add_fault("redirect", **spec)
    assert scalekit_mock.control.list_faults() == []


def test_location_is_for_redirects_only(scalekit_mock: MockServer) -> None:
    with pytest.raises(ControlError, match="'location' applies to redirect faults only"):
        scalekit_mock.add_fault("status", status=503, location="http://127.0.0.1/")


# -- what the second origin journals --------------------------------------------------------------


def test_the_secret_re_posted_to_the_second_origin_is_recorded_never_kept(scalekit_mock: MockServer) -> None:
    scalekit_mock.add_fault("redirect", endpoint="token")
    location = post_token(scalekit_mock).headers["Location"]
    # A client that follows the 307 as RFC 9110 lets it: the same method and body, to the other origin.
    response = post_token(scalekit_mock, location)
    assert response.status_code == 404 and response.headers["Content-Type"].startswith("text/plain")
    entry = foreign(scalekit_mock)
    secret = fingerprint(scalekit_mock.client_secret)
    assert (entry["method"], entry["path"], entry["status"], entry["outcome"]) == (
        "POST", "/oauth/token", 404, "second_origin")
    assert entry["extra"] == {"origin": scalekit_mock.control.second_origin_url(), "carried_secret": True,
                              "carried_token": False, "carried": [secret]}
    assert entry["form"] == {"grant_type": ["client_credentials"], "client_id": [scalekit_mock.client_id],
                             "client_secret": [secret]}
    assert scalekit_mock.client_secret not in whole_journal(scalekit_mock)


def test_basic_credentials_and_secrets_in_the_query_count(scalekit_mock: MockServer) -> None:
    scalekit_mock.add_fault("redirect", endpoint="token", count=2)
    location = post_token(scalekit_mock).headers["Location"]
    auth = (scalekit_mock.client_id, scalekit_mock.client_secret)
    post_token(scalekit_mock, location, data={"grant_type": "client_credentials"}, auth=auth)
    requests.get(location, params={"s": scalekit_mock.client_secret}, timeout=10)
    first, second = scalekit_mock.journal(endpoint="foreign")
    assert first["extra"]["carried_secret"] and second["extra"]["carried_secret"]
    assert first["headers"]["authorization"] == f"Basic {scalekit_mock.client_id}:{fingerprint(auth[1])}"
    basic = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    text = whole_journal(scalekit_mock)
    assert scalekit_mock.client_secret not in text and basic not in text


def test_a_bearer_the_mock_issued_is_recorded_as_carried(scalekit_mock: MockServer) -> None:
    token = get_token(scalekit_mock)
    scalekit_mock.add_fault("redirect", endpoint="api")
    location = get(scalekit_mock.url + ORGS, token).headers["Location"]
    assert get(location, token).status_code == 404
    entry = foreign(scalekit_mock)
    assert entry["extra"]["carried_token"] and entry["extra"]["carried"] == [fingerprint(token)]
    assert not entry["extra"]["carried_secret"]
    assert entry["headers"]["authorization"] == f"Bearer {fingerprint(token)}"
    text = whole_journal(scalekit_mock)
    assert token not in text and token.split(".")[2] not in text


def test_a_request_without_credentials_carried_nothing(scalekit_mock: MockServer) -> None:
    scalekit_mock.add_fault("redirect", endpoint="api")
    location = get(scalekit_mock.url + ORGS, get_token(scalekit_mock)).headers["Location"]
    forged = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.c2ln"  # JWT-shaped, but never issued by the mock
    get(location, forged)
    entry = foreign(scalekit_mock)
    assert entry["extra"]["carried"] == [] and not entry["extra"]["carried_token"]
    assert entry["headers"]["authorization"] == f"Bearer {fingerprint(forged)}"


def test_a_json_body_is_kept_redacted(scalekit_mock: MockServer) -> None:
    scalekit_mock.add_fault("redirect", endpoint="api")
    location = get(scalekit_mock.url + ORGS).headers["Location"]
    requests.post(location, json={"note": scalekit_mock.client_secret}, timeout=10)
    entry = foreign(scalekit_mock)
    assert entry["form"] is None and entry["extra"]["carried_secret"]
    assert entry["extra"]["body"] == json.dumps({"note": fingerprint(scalekit_mock.client_secret)})


def test_the_journal_filter_reads_the_second_origin(scalekit_mock: MockServer) -> None:
    scalekit_mock.add_fault("redirect", endpoint="api")
    get(get(scalekit_mock.url + ORGS).headers["Location"])
    over_http = requests.get(scalekit_mock.url + "/_mock/journal", params={"endpoint": "foreign"}, timeout=10)
    assert [e["endpoint"] for e in over_http.json()["entries"]] == ["foreign"]
    assert [e["endpoint"] for e in scalekit_mock.journal(endpoint="api")] == ["api"]


def test_the_second_origin_speaks_tls_when_the_mock_does() -> None:
    with MockServer(tls=True) as mock:
        mock.add_fault("redirect", endpoint="token")
        location = requests.post(mock.url + "/oauth/token", data=form(mock), timeout=10, allow_redirects=False,
                                 verify=mock.ca_file).headers["Location"]
        assert location.startswith("https://127.0.0.1:")
        followed = requests.post(location, data=form(mock), timeout=10, verify=mock.ca_file)
        assert followed.status_code == 404 and foreign(mock)["extra"]["carried_secret"]
        mock.check()


def test_the_second_origin_stops_with_the_mock() -> None:
    mock = MockServer().start()
    mock.add_fault("redirect")
    origin = mock.control.second_origin_url()
    assert get(origin + "/x").status_code == 404
    mock.stop()
    with pytest.raises(requests.ConnectionError):
        get(origin + "/x")
    with pytest.raises(ControlError, match="only a started MockServer"):
        mock.control.add_fault({"kind": "redirect"})



def test_redirect_faults_and_second_origin_entries_match_the_document(scalekit_mock: MockServer) -> None:
    document = build_openapi(scalekit_mock.control)
    scalekit_mock.add_fault("redirect", endpoint="token", count=2)
    scalekit_mock.add_fault("redirect", endpoint="api", status=308, location="https://elsewhere.example/")
    post_token(scalekit_mock, post_token(scalekit_mock).headers["Location"])
    for path, name in (("/_mock/journal", "Journal"), ("/_mock/faults", "FaultList")):
        body = requests.get(scalekit_mock.url + path, timeout=10).json()
        validate_schema(body, {"$ref": f"#/components/schemas/{name}", "components": document["components"]},
                        cls=OAS31Validator)
    assert [e["endpoint"] for e in scalekit_mock.journal()] == ["token", "foreign"]
