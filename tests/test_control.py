"""The control plane's two faces: each operation through ``MockServer`` and through ``/_mock/`` has the same effect."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jwt
import pytest
import requests
from helpers import call_api, get_token, token_response

from mock_server import ControlError, MockServer
from mock_server.core.data import load_fixtures

FIXTURES = load_fixtures()
API_ERRORS = FIXTURES.errors["api"]
ORGS = "/api/v1/organizations"


def start_kid(server: MockServer) -> str:
    """The kid of the key the mock started with (generated for this run), that a reset returns to."""
    return server.control.keys.initial.kid


class HttpFace:
    """The control plane over HTTP, with the method names of ``MockServer``; errors raise ``ControlError``."""

    def __init__(self, server: MockServer) -> None:
        self.base = server.url + "/_mock"

    def call(self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None) -> Any:
        if body is None and method != "GET":  # the control plane takes JSON requests only (CSRF)
            body = {}
        response = requests.request(method, self.base + path, json=body, params=params, timeout=10)
        assert response.headers["Content-Type"] == "application/json"
        payload = response.json()
        if response.status_code >= 400:
            assert set(payload) == {"error"} and isinstance(payload["error"], str) and payload["error"]
            raise ControlError(payload["error"], response.status_code)
        assert response.status_code in (200, 201)
        return payload

    def reset(self) -> None:
        self.call("POST", "/reset")

    def now(self) -> float:
        return float(self.call("GET", "/clock")["now"])

    def advance_clock(self, seconds: float) -> float:
        return float(self.call("POST", "/clock/advance", {"seconds": seconds})["now"])

    def set_clock(self, timestamp: float) -> float:
        return float(self.call("POST", "/clock/set", {"now": timestamp})["now"])

    def put_client(self, spec: dict[str, Any]) -> Any:
        body = {k: v for k, v in spec.items() if k != "client_id"}
        return self.call("PUT", f"/clients/{spec['client_id']}", body)

    def remove_client(self, client_id: str) -> None:
        self.call("DELETE", f"/clients/{client_id}")

    def rotate_keys(self, grace_seconds: float | None = None) -> str:
        body = {} if grace_seconds is None else {"grace_seconds": grace_seconds}
        return str(self.call("POST", "/keys/rotate", body)["kid"])

    def revoke(self, *, jti: str | None = None, token: str | None = None) -> str:
        body = {k: v for k, v in (("jti", jti), ("token", token)) if v is not None}
        return str(self.call("POST", "/revoke", body)["revoked"])

    def revoke_all(self) -> int:
        return int(self.call("POST", "/revoke", {"all": True})["revoked_up_to"])

    def add_fault(self, kind: str, **spec: Any) -> dict[str, Any]:
        result: dict[str, Any] = self.call("POST", "/faults", {"kind": kind, **spec})
        return result

    def clear_faults(self) -> None:
        self.call("DELETE", "/faults")

    def journal(self, **filters: Any) -> list[dict[str, Any]]:
        params = {k: v for k, v in filters.items() if v is not None}
        entries: list[dict[str, Any]] = self.call("GET", "/journal", params=params)["entries"]
        return entries

    def clear_journal(self) -> None:
        self.call("DELETE", "/journal")


@pytest.fixture(params=["python", "http"])
def face(request: pytest.FixtureRequest, scalekit_mock: MockServer) -> Any:
    """The same operations through ``MockServer`` methods or through ``/_mock/`` requests."""
    return scalekit_mock if request.param == "python" else HttpFace(scalekit_mock)


def assert_api_error(response: requests.Response, key: str) -> None:
    assert (response.status_code, response.json()["message"]) == (API_ERRORS[key]["status"], API_ERRORS[key]["message"])


def claims(token: str) -> dict[str, Any]:
    decoded: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return decoded


def published_kids(server: MockServer) -> list[str]:
    response = requests.get(server.url + "/keys", timeout=10)
    assert response.status_code == 200
    return [k["kid"] for k in response.json()["keys"]]


def http_clock(server: MockServer) -> dict[str, float]:
    clock: dict[str, float] = requests.get(server.url + "/_mock/clock", timeout=10).json()
    return clock


# -- reset --------------------------------------------------------------------------------------


def test_reset_restores_initial_state(face: Any, scalekit_mock: MockServer) -> None:
    # Given a mock changed in every way the control plane allows
    initial_clients = scalekit_mock.control.list_clients()
    limited = scalekit_mock.limited_client
    assert limited is not None
    token = get_token(scalekit_mock)
    created = requests.post(scalekit_mock.url + ORGS, json={"display_name": "Temporary"},
                            headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert created.status_code == 201  # CreateOrganization answers 201 Created, as the published document says
    org_id = created.json()["organization"]["id"]
    face.put_client({"client_id": "svc_extra", "client_secret": "extra-secret"})
    face.remove_client(limited.client_id)
    face.advance_clock(1_000)
    face.revoke_all()
    face.rotate_keys(grace_seconds=0)
    face.add_fault("status", endpoint="keys", preset="unavailable")
    assert call_api(scalekit_mock, token).status_code == 401
    assert scalekit_mock.journal() != []
    # When
    face.reset()
    # Then every part is back to where it started
    assert scalekit_mock.control.clock.offset == 0.0
    assert http_clock(scalekit_mock)["offset"] == 0.0
    assert scalekit_mock.control.list_clients() == initial_clients
    assert scalekit_mock.journal() == []
    assert scalekit_mock.control.list_faults() == []
    assert published_kids(scalekit_mock) == [start_kid(scalekit_mock)]  # the keys fault is gone too
    assert call_api(scalekit_mock, token).status_code == 200  # not revoked, old key, clock back
    assert call_api(scalekit_mock, token, f"{ORGS}/{org_id}").status_code == 404
    assert token_response(scalekit_mock, limited.client_id, limited.client_secret).status_code == 200
    assert token_response(scalekit_mock, "svc_extra", "extra-secret").status_code == 401


# -- clock --------------------------------------------------------------------------------------


def test_clock_advance_reads_back_through_both_faces(face: Any, scalekit_mock: MockServer) -> None:
    before = scalekit_mock.now()
    now = face.advance_clock(3_600)
    assert now == pytest.approx(before + 3_600, abs=5)
    assert http_clock(scalekit_mock)["offset"] == 3_600.0
    assert http_clock(scalekit_mock)["now"] == pytest.approx(now, abs=5)
    assert scalekit_mock.now() == pytest.approx(now, abs=5)
    assert face.now() == pytest.approx(now, abs=5)


def test_clock_advance_past_exp_expires_token(face: Any, scalekit_mock: MockServer) -> None:
    token = get_token(scalekit_mock)
    exp = claims(token)["exp"]
    face.advance_clock(exp - scalekit_mock.now() - 5)
    assert call_api(scalekit_mock, token).status_code == 200
    face.advance_clock(10)
    assert_api_error(call_api(scalekit_mock, token), "token_expired")


def test_clock_set_jumps_and_tokens_follow(face: Any, scalekit_mock: MockServer) -> None:
    target = 2_000_000_000.0
    assert face.set_clock(target) == pytest.approx(target, abs=5)
    assert http_clock(scalekit_mock)["now"] == pytest.approx(target, abs=5)
    token = get_token(scalekit_mock)
    issued = claims(token)
    assert target <= issued["iat"] <= target + 5
    assert issued["exp"] - issued["iat"] == FIXTURES.token["lifetime_seconds"]
    face.set_clock(issued["exp"] + 1)
    assert_api_error(call_api(scalekit_mock, token), "token_expired")


# -- clients ------------------------------------------------------------------------------------


def test_put_client_new_client_gets_token(face: Any, scalekit_mock: MockServer) -> None:
    face.put_client({"client_id": "svc_new", "client_secret": "new-secret-1", "scopes": ["organizations:read"]})
    token = get_token(scalekit_mock, "svc_new", "new-secret-1")
    assert (claims(token)["client_id"], claims(token)["scopes"]) == ("svc_new", ["organizations:read"])
    assert call_api(scalekit_mock, token).status_code == 200
    listed = requests.get(scalekit_mock.url + "/_mock/clients", timeout=10)
    assert "svc_new" in [c["client_id"] for c in listed.json()["clients"]]
    assert "new-secret-1" not in listed.text


def test_put_client_token_lifetime_as_an_integral_float_is_an_integer(face: Any, scalekit_mock: MockServer) -> None:
    # JSON and the OpenAPI document's "integer" count 300.0 as an integer (schemathesis sends such values).
    face.put_client({"client_id": "svc_short", "client_secret": "short-secret-1", "token_lifetime": 300.0})
    issued = claims(get_token(scalekit_mock, "svc_short", "short-secret-1"))
    assert issued["exp"] - issued["iat"] == 300
    with pytest.raises(ControlError):
        scalekit_mock.put_client({"client_id": "svc_short", "client_secret": "s", "token_lifetime": 300.5})


def test_put_client_replacing_secret_invalidates_old(face: Any, scalekit_mock: MockServer) -> None:
    client_id, old_secret = scalekit_mock.client_id, scalekit_mock.client_secret
    face.put_client({"client_id": client_id, "client_secret": "rotated-secret"})
    refused = token_response(scalekit_mock, client_id, old_secret)
    assert (refused.status_code, refused.json()["error"]) == (401, "invalid_client")
    assert token_response(scalekit_mock, client_id, "rotated-secret").status_code == 200


def test_remove_client_refuses_its_token_requests(face: Any, scalekit_mock: MockServer) -> None:
    limited = scalekit_mock.limited_client
    assert limited is not None
    assert token_response(scalekit_mock, limited.client_id, limited.client_secret).status_code == 200
    face.remove_client(limited.client_id)
    refused = token_response(scalekit_mock, limited.client_id, limited.client_secret)
    assert (refused.status_code, refused.json()["error"]) == (401, "invalid_client")
    assert limited.client_id not in [c["client_id"] for c in scalekit_mock.control.list_clients()]
    assert token_response(scalekit_mock).status_code == 200  # the others stay


# -- keys ---------------------------------------------------------------------------------------


def test_rotate_keys_default_grace_publishes_both(face: Any, scalekit_mock: MockServer) -> None:
    old_token = get_token(scalekit_mock)
    kid = face.rotate_keys()
    assert kid != start_kid(scalekit_mock) and kid.startswith(FIXTURES.token["kid_prefix"])
    assert published_kids(scalekit_mock) == [kid, start_kid(scalekit_mock)]
    new_token = get_token(scalekit_mock)
    assert jwt.get_unverified_header(new_token)["kid"] == kid
    assert call_api(scalekit_mock, old_token).status_code == 200
    assert call_api(scalekit_mock, new_token).status_code == 200


def test_rotate_keys_without_grace_drops_old_key(face: Any, scalekit_mock: MockServer) -> None:
    old_token = get_token(scalekit_mock)
    kid = face.rotate_keys(grace_seconds=0)
    assert published_kids(scalekit_mock) == [kid]
    assert_api_error(call_api(scalekit_mock, old_token), "invalid_token")
    assert call_api(scalekit_mock, get_token(scalekit_mock)).status_code == 200


def test_rotate_keys_grace_ends_on_virtual_clock(face: Any, scalekit_mock: MockServer) -> None:
    old_token = get_token(scalekit_mock)
    kid = face.rotate_keys(grace_seconds=60)
    assert call_api(scalekit_mock, old_token).status_code == 200
    face.advance_clock(61)
    assert published_kids(scalekit_mock) == [kid]
    assert_api_error(call_api(scalekit_mock, old_token), "invalid_token")


# -- revocation ---------------------------------------------------------------------------------


@pytest.mark.parametrize("by", ["jti", "token"])
def test_revoke_one_token(face: Any, scalekit_mock: MockServer, by: str) -> None:
    first, second = get_token(scalekit_mock), get_token(scalekit_mock)
    jti = claims(first)["jti"]
    revoked = face.revoke(jti=jti) if by == "jti" else face.revoke(token=first)
    assert revoked == jti
    assert_api_error(call_api(scalekit_mock, first), "token_expired")
    assert call_api(scalekit_mock, second).status_code == 200


def test_revoke_all_spares_later_tokens(face: Any, scalekit_mock: MockServer) -> None:
    earlier = [get_token(scalekit_mock), get_token(scalekit_mock)]
    face.revoke_all()
    for token in earlier:
        assert_api_error(call_api(scalekit_mock, token), "token_expired")
    assert call_api(scalekit_mock, get_token(scalekit_mock)).status_code == 200


# -- faults and journal -------------------------------------------------------------------------


def test_fault_queued_and_cleared_through_either_face(face: Any, scalekit_mock: MockServer) -> None:
    added = face.add_fault("status", endpoint="token", preset="unavailable", count=2)
    assert (added["kind"], added["status"], added["count"]) == ("status", 503, 2)
    listed = requests.get(scalekit_mock.url + "/_mock/faults", timeout=10).json()["faults"]
    assert [(f["id"], f["remaining"]) for f in listed] == [(added["id"], 2)]
    assert token_response(scalekit_mock).status_code == 503
    assert scalekit_mock.control.list_faults()[0]["remaining"] == 1
    face.clear_faults()
    assert requests.get(scalekit_mock.url + "/_mock/faults", timeout=10).json()["faults"] == []
    assert token_response(scalekit_mock).status_code == 200


def test_journal_filters_through_either_face(face: Any, scalekit_mock: MockServer) -> None:
    token = get_token(scalekit_mock)
    assert call_api(scalekit_mock, token).status_code == 200
    assert call_api(scalekit_mock, "not-a-token", f"{ORGS}/org_1").status_code == 401
    assert requests.get(scalekit_mock.url + "/keys", timeout=10).status_code == 200
    entries = face.journal()
    assert [(e["endpoint"], e["status"]) for e in entries] == [
        ("token", 200), ("api", 200), ("api", 401), ("keys", 200)]
    seqs = [e["seq"] for e in entries]
    assert [e["seq"] for e in face.journal(path="/oauth/token")] == seqs[:1]
    assert [e["seq"] for e in face.journal(path=ORGS)] == seqs[1:2]  # exact
    assert [e["seq"] for e in face.journal(path="/api/*")] == seqs[1:3]  # prefix
    assert [e["seq"] for e in face.journal(endpoint="api")] == seqs[1:3]
    assert [e["seq"] for e in face.journal(status=401)] == seqs[2:3]
    assert [e["seq"] for e in face.journal(since=seqs[1])] == seqs[2:]
    assert [e["seq"] for e in face.journal(limit=2)] == seqs[2:]
    assert [e["seq"] for e in face.journal(endpoint="api", status=200)] == seqs[1:2]
    face.clear_journal()
    assert face.journal() == []
    assert scalekit_mock.journal() == []


# -- bad input ----------------------------------------------------------------------------------

BOTH_FACES_BAD: list[tuple[str, Callable[[Any], Any], int]] = [
    ("negative advance", lambda f: f.advance_clock(-1), 400),
    ("advance to year 10000", lambda f: f.advance_clock(1e12), 400),
    ("set before 1970", lambda f: f.set_clock(-1), 400),
    ("unknown client delete", lambda f: f.remove_client("svc_nobody"), 404),
    ("client without secret", lambda f: f.put_client({"client_id": "svc_x", "client_secret": ""}), 400),
    ("client unknown field", lambda f: f.put_client({"client_id": "svc_x", "client_secret": "s", "colour": 1}), 400),
    ("client scopes not a list", lambda f: f.put_client({"client_id": "svc_x", "client_secret": "s",
                                                         "scopes": "organizations:read"}), 400),
    ("negative grace", lambda f: f.rotate_keys(grace_seconds=-5), 400),
    ("revoke nothing", lambda f: f.revoke(), 400),
    ("revoke a non-JWT", lambda f: f.revoke(token="not-a-jwt"), 400),
    ("unknown fault kind", lambda f: f.add_fault("explode"), 400),
    ("fault without status", lambda f: f.add_fault("status"), 400),
    ("fault count zero", lambda f: f.add_fault("status", status=503, count=0), 400),
    ("fault unknown field", lambda f: f.add_fault("drop", colour="red"), 400),
    ("hang beyond max", lambda f: f.add_fault("hang", seconds=FIXTURES.faults["hang_max_seconds"] + 1), 400),
]


@pytest.mark.parametrize(("operation", "status"), [(op, st) for _, op, st in BOTH_FACES_BAD],
                         ids=[name for name, _, _ in BOTH_FACES_BAD])
def test_bad_control_input_refused_by_both_faces(face: Any, scalekit_mock: MockServer,
                                                 operation: Callable[[Any], Any], status: int) -> None:
    with pytest.raises(ControlError) as caught:
        operation(face)
    assert caught.value.status == status
    # And nothing changed
    assert scalekit_mock.control.clock.offset == 0.0
    assert scalekit_mock.control.list_faults() == []
    assert published_kids(scalekit_mock) == [start_kid(scalekit_mock)]
    assert [c["client_id"] for c in scalekit_mock.control.list_clients()] == [
        c["client_id"] for c in FIXTURES.clients]
    assert scalekit_mock.control.errors == []


RAW_BAD: list[tuple[str, str, str | bytes | None, int]] = [
    ("POST", "/clock/advance", "not json", 400),
    ("POST", "/clock/advance", "[1]", 400),
    ("POST", "/clock/advance", "null", 400),
    ("POST", "/clock/advance", '{"seconds": 1', 400),
    ("POST", "/clock/advance", "{}", 400),
    ("POST", "/clock/advance", '{"seconds": "10"}', 400),
    ("POST", "/clock/advance", '{"seconds": true}', 400),
    ("POST", "/clock/advance", '{"seconds": -1}', 400),
    ("POST", "/clock/advance", '{"seconds": NaN}', 400),
    ("POST", "/clock/advance", '{"seconds": Infinity}', 400),
    ("POST", "/clock/advance", '{"seconds": 1e300}', 400),
    ("POST", "/clock/advance", '{"seconds": 1' + "0" * 400 + "}", 400),
    ("POST", "/clock/advance", b'\xff\xfe{"seconds": 1}', 400),
    ("POST", "/clock/advance", "[" * 50_000 + "]" * 10, 400),
    ("POST", "/clock/advance", '{"seconds": ' + "[" * 30_000 + "]" * 30_000 + "}", 400),
    ("POST", "/clock/set", '{"now": "soon"}', 400),
    ("POST", "/clock/set", '{"now": -1}', 400),
    ("POST", "/clock/set", '{"now": NaN}', 400),
    ("POST", "/clock/set", '{"now": 1e300}', 400),
    ("PUT", "/clients/svc_x", '{"client_secret": 5}', 400),
    ("PUT", "/clients/svc_x", '{"client_secret": "s", "colour": "red"}', 400),
    ("PUT", "/clients/svc_x", '{"client_id": "svc_y", "client_secret": "s"}', 400),
    ("PUT", "/clients/svc_x", '{"client_secret": "s", "token_lifetime": "60"}', 400),
    ("PUT", "/clients/svc_x", '["client_secret"]', 400),
    ("PUT", "/clients/bad%20id", '{"client_secret": "s"}', 400),
    ("PUT", "/clients/" + "x" * 200, '{"client_secret": "s"}', 400),
    ("DELETE", "/clients/svc_nobody", None, 404),
    ("POST", "/keys/rotate", '{"grace_seconds": "1"}', 400),
    ("POST", "/keys/rotate", '{"grace_seconds": -1}', 400),
    ("POST", "/keys/rotate", '{"grace_seconds": NaN}', 400),
    ("POST", "/revoke", "{}", 400),
    ("POST", "/revoke", '{"jti": 5}', 400),
    ("POST", "/revoke", '{"token": ["a"]}', 400),
    ("POST", "/revoke", '{"token": "abc"}', 400),
    ("POST", "/revoke", '{"all": "yes"}', 400),
    ("POST", "/faults", "{}", 400),
    ("POST", "/faults", '{"kind": "explode"}', 400),
    ("POST", "/faults", '{"kind": "status", "status": 503, "colour": 1}', 400),
    ("POST", "/faults", '{"kind": "status", "status": 503, "count": 1.5}', 400),
    ("POST", "/faults", '{"kind": "status", "status": 503, "headers": {"X-A": "a\\r\\nX-B: 1"}}', 400),
    ("POST", "/faults", '{"kind": "status", "status": 503, "headers": {"Content-Length": "9"}}', 400),
    ("POST", "/faults", '{"kind": "delay", "seconds": NaN}', 400),
    ("POST", "/faults", '{"kind": "malformed_token", "endpoint": "api"}', 400),
    ("POST", "/faults", "x" * 70_000, 413),
    ("GET", "/journal?limit=abc", None, 400),
    ("GET", "/journal?status=--1", None, 400),
    ("GET", "/journal?status=%C2%B2", None, 400),
    ("GET", "/journal?since=1.5", None, 400),
    ("GET", "/journal?limit=" + "9" * 40, None, 400),
    ("GET", "/nowhere", None, 404),
    ("POST", "/clock/warp", "{}", 404),
    ("PATCH", "/reset", None, 405),
    ("DELETE", "/clock", None, 405),
]


@pytest.mark.parametrize(("method", "path", "body", "status"), RAW_BAD,
                         ids=[f"{m} {p[:30]} {str(b)[:30]}" for m, p, b, _ in RAW_BAD])
def test_bad_control_request_answers_json_error(scalekit_mock: MockServer, method: str, path: str,
                                                body: str | bytes | None, status: int) -> None:
    response = requests.request(method, scalekit_mock.url + "/_mock" + path, data=body, timeout=10,
                                headers={"Content-Type": "application/json"})
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/json"
    payload = response.json()
    assert set(payload) == {"error"} and isinstance(payload["error"], str) and payload["error"]
    assert scalekit_mock.control.errors == []
    assert scalekit_mock.control.clock.offset == 0.0
    assert scalekit_mock.control.list_faults() == []
    assert published_kids(scalekit_mock) == [start_kid(scalekit_mock)]


def test_control_requests_ignore_faults(scalekit_mock: MockServer) -> None:
    scalekit_mock.add_fault("drop", endpoint="any", count=5)
    for method, path in [("GET", "/state"), ("GET", "/clock"), ("GET", "/faults"), ("GET", "/journal")]:
        assert requests.request(method, scalekit_mock.url + "/_mock" + path, timeout=10).status_code == 200
    assert scalekit_mock.control.list_faults()[0]["remaining"] == 5


def test_state_summarises_control_plane(scalekit_mock: MockServer) -> None:
    scalekit_mock.advance_clock(10)
    scalekit_mock.add_fault("delay", seconds=0.1, endpoint="keys")
    state = requests.get(scalekit_mock.url + "/_mock/state", timeout=10).json()
    assert state["issuer"] == scalekit_mock.url
    assert state["clock_offset"] == 10.0
    assert state["keys"] == [start_kid(scalekit_mock)]
    assert [c["client_id"] for c in state["clients"]] == [c["client_id"] for c in FIXTURES.clients]
    assert [f["kind"] for f in state["faults"]] == ["delay"]
    assert scalekit_mock.control.state() == {**state, "now": pytest.approx(state["now"], abs=5)}
