"""The journal: what it records of each request, that it never holds a secret or token in clear, its
bound and its filters; and the ``Redactor`` and ``fingerprint`` that keep secrets out of it."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote_plus

import jwt
import pytest
import requests
from helpers import call_api, get_token, token_response

from mock_server import MockServer, fingerprint
from mock_server.core.journal import Journal, JournalEntry, Redactor

ORGS = "/api/v1/organizations"
SPECIAL_SECRET = "s3cr3t/with+special=chars&more%20"  # changed by form and URL encoding


def whole_journal(server: MockServer) -> str:
    """Everything either face of the journal shows, as text."""
    over_http = requests.get(server.url + "/_mock/journal", timeout=10).text
    return json.dumps(server.journal()) + over_http


# -- what an entry holds ------------------------------------------------------------------------


def test_journal_records_token_request(scalekit_mock: MockServer) -> None:
    scalekit_mock.advance_clock(5_000)
    response = requests.post(scalekit_mock.url + "/oauth/token?probe=1", timeout=10, headers={"X-Trace": "abc"},
                             data={"grant_type": "client_credentials", "client_id": scalekit_mock.client_id,
                                   "client_secret": scalekit_mock.client_secret})
    assert response.status_code == 200
    token = response.json()["access_token"]
    [entry] = scalekit_mock.journal()
    assert entry["time"] == pytest.approx(time.time() + 5_000, abs=5)  # virtual time
    assert (entry["method"], entry["path"], entry["endpoint"], entry["status"], entry["outcome"]) == (
        "POST", "/oauth/token", "token", 200, "issued")
    assert entry["query"] == {"probe": ["1"]}
    assert entry["headers"]["x-trace"] == "abc"
    assert entry["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert entry["form"] == {"grant_type": ["client_credentials"], "client_id": [scalekit_mock.client_id],
                             "client_secret": [fingerprint(scalekit_mock.client_secret)]}
    assert entry["client_id"] == scalekit_mock.client_id
    token_claims = jwt.decode(token, options={"verify_signature": False})
    assert entry["issued"]["fingerprint"] == fingerprint(token)
    assert (entry["issued"]["jti"], entry["issued"]["exp"]) == (token_claims["jti"], token_claims["exp"])
    assert entry["token"] is None and entry["fault"] is None


def test_journal_records_api_call_with_token_used(scalekit_mock: MockServer) -> None:
    token = get_token(scalekit_mock)
    assert call_api(scalekit_mock, token, params={"page_size": "15"}).status_code == 200
    entry = scalekit_mock.journal()[-1]
    token_claims = jwt.decode(token, options={"verify_signature": False})
    assert (entry["method"], entry["path"], entry["endpoint"], entry["status"], entry["outcome"]) == (
        "GET", ORGS, "api", 200, "ok")
    assert entry["query"] == {"page_size": ["15"]}
    assert entry["form"] is None and entry["issued"] is None
    assert entry["token"]["fingerprint"] == fingerprint(token)
    assert (entry["token"]["jti"], entry["token"]["exp"]) == (token_claims["jti"], token_claims["exp"])
    assert entry["client_id"] == scalekit_mock.client_id
    assert entry["headers"]["authorization"] == f"Bearer {fingerprint(token)}"
    assert entry["extra"]["rpc"] == "scalekit.v1.organizations.OrganizationService/ListOrganization"


@pytest.mark.parametrize(("token", "outcome"), [("expired", "token_expired"), ("garbage", "invalid_token")])
def test_journal_records_refused_api_call(scalekit_mock: MockServer, token: str, outcome: str) -> None:
    real = get_token(scalekit_mock)
    used = real if token == "expired" else real[:-4] + "AAAA"
    if token == "expired":
        scalekit_mock.advance_clock(10**6)
    assert call_api(scalekit_mock, used).status_code == 401
    entry = scalekit_mock.journal()[-1]
    assert (entry["status"], entry["outcome"]) == (401, outcome)
    assert entry["token"]["fingerprint"] == fingerprint(used)


def test_journal_seq_grows_and_times_follow_virtual_clock(scalekit_mock: MockServer) -> None:
    requests.get(scalekit_mock.url + "/keys", timeout=10)
    scalekit_mock.advance_clock(100)
    requests.get(scalekit_mock.url + "/keys", timeout=10)
    first, second = scalekit_mock.journal()
    assert second["seq"] == first["seq"] + 1
    assert second["time"] - first["time"] == pytest.approx(100, abs=5)


def test_control_requests_not_journaled(scalekit_mock: MockServer) -> None:
    base = scalekit_mock.url + "/_mock"
    requests.get(base + "/state", timeout=10)
    requests.post(base + "/clock/advance", json={"seconds": 1}, timeout=10)
    requests.get(base + "/journal", timeout=10)
    requests.get(base + "/nowhere", timeout=10)
    assert scalekit_mock.journal() == []
    requests.get(scalekit_mock.url + "/keys", timeout=10)
    assert [e["path"] for e in scalekit_mock.journal()] == ["/keys"]


# -- no secret or token in clear ----------------------------------------------------------------


def _secret_in_form(server: MockServer, secret: str) -> None:
    assert token_response(server, "svc_journal", secret).status_code == 200


def _secret_in_query(server: MockServer, secret: str) -> None:
    requests.post(server.url + "/oauth/token", params={"client_secret": secret, "other": secret}, timeout=10,
                  data={"grant_type": "client_credentials", "client_id": "svc_journal", "client_secret": secret})


def _secret_in_basic(server: MockServer, secret: str) -> None:
    credentials = (quote_plus("svc_journal"), quote_plus(secret))  # form-encoded first (RFC 6749 2.3.1)
    response = requests.post(server.url + "/oauth/token", auth=credentials, timeout=10,
                             data={"grant_type": "client_credentials"})
    assert response.status_code == 200


def _secret_in_header(server: MockServer, secret: str) -> None:
    requests.get(server.url + "/keys", headers={"X-Client-Secret": secret, "Cookie": f"s={secret}"}, timeout=10)


def _secret_in_path(server: MockServer, secret: str) -> None:
    requests.get(server.url + f"{ORGS}/{secret}", timeout=10)


def _secret_as_scope(server: MockServer, secret: str) -> None:  # an app that mixed up its arguments
    assert token_response(server, "svc_journal", secret, scope=secret).status_code == 400


def _secret_as_grant_type(server: MockServer, secret: str) -> None:
    data = {"grant_type": secret, "client_id": "svc_journal", "client_secret": secret}
    assert requests.post(server.url + "/oauth/token", data=data, timeout=10).status_code == 400


def _secret_as_field_name(server: MockServer, secret: str) -> None:
    data = {"grant_type": "client_credentials", "client_id": "svc_journal", secret: "x", "client_secret": secret}
    requests.post(server.url + "/oauth/token", data=data, timeout=10)


def _secret_repeated(server: MockServer, secret: str) -> None:
    data = [("grant_type", "client_credentials"), ("client_id", "svc_journal"), ("client_secret", secret),
            ("client_secret", secret)]
    assert requests.post(server.url + "/oauth/token", data=data, timeout=10).status_code == 400


SECRET_SENDERS: list[Callable[[MockServer, str], None]] = [
    _secret_in_form, _secret_in_query, _secret_in_basic, _secret_in_header, _secret_in_path, _secret_as_scope,
    _secret_as_grant_type, _secret_as_field_name, _secret_repeated]


@pytest.mark.parametrize("secret", ["journal-secret-0123456789", SPECIAL_SECRET])
@pytest.mark.parametrize("send", SECRET_SENDERS, ids=[s.__name__.strip("_") for s in SECRET_SENDERS])
def test_journal_never_holds_client_secret(scalekit_mock: MockServer, send: Callable[[MockServer, str], None],
                                           secret: str) -> None:
    scalekit_mock.put_client({"client_id": "svc_journal", "client_secret": secret})
    send(scalekit_mock, secret)
    assert scalekit_mock.journal() != []
    text = whole_journal(scalekit_mock)
    basic = [base64.b64encode(f"svc_journal:{s}".encode()).decode() for s in (secret, quote_plus(secret))]
    for form in (secret, json.dumps(secret)[1:-1], quote_plus(secret), *basic):
        assert form not in text


def test_journal_never_holds_default_client_secret(scalekit_mock: MockServer) -> None:
    token_response(scalekit_mock)
    requests.post(scalekit_mock.url + "/oauth/token", auth=(scalekit_mock.client_id, scalekit_mock.client_secret),
                  data={"grant_type": "client_credentials"}, timeout=10)
    requests.get(scalekit_mock.url + "/keys", params={"s": scalekit_mock.client_secret}, timeout=10)
    assert len(scalekit_mock.journal()) == 3
    assert scalekit_mock.client_secret not in whole_journal(scalekit_mock)


def _token_in_authorization(server: MockServer, token: str) -> None:
    assert call_api(server, token).status_code == 200


def _token_in_query(server: MockServer, token: str) -> None:
    requests.get(server.url + ORGS, params={"access_token": token, "t": token}, timeout=10)


def _token_in_header(server: MockServer, token: str) -> None:
    requests.get(server.url + "/keys", headers={"X-Token": token, "Cookie": f"session={token}"}, timeout=10)


def _token_in_path(server: MockServer, token: str) -> None:
    requests.get(server.url + f"{ORGS}/{token}", timeout=10)


def _token_expired(server: MockServer, token: str) -> None:
    server.advance_clock(10**6)
    assert call_api(server, token).status_code == 401


def _token_revoked(server: MockServer, token: str) -> None:
    server.revoke(token=token)
    assert call_api(server, token).status_code == 401


def _token_after_rotation(server: MockServer, token: str) -> None:
    server.rotate_keys(grace_seconds=0)
    assert call_api(server, token).status_code == 401


def _token_as_basic(server: MockServer, token: str) -> None:
    requests.get(server.url + ORGS, headers={"Authorization": f"Basic {token}"}, timeout=10)


def _token_in_form(server: MockServer, token: str) -> None:
    token_response(server, scope=token)


TOKEN_SENDERS: list[Callable[[MockServer, str], None]] = [
    _token_in_authorization, _token_in_query, _token_in_header, _token_in_path, _token_expired, _token_revoked,
    _token_after_rotation, _token_as_basic, _token_in_form]


@pytest.mark.parametrize("send", TOKEN_SENDERS, ids=[s.__name__.strip("_") for s in TOKEN_SENDERS])
def test_journal_never_holds_token(scalekit_mock: MockServer, send: Callable[[MockServer, str], None]) -> None:
    token = get_token(scalekit_mock)
    send(scalekit_mock, token)
    assert len(scalekit_mock.journal()) >= 2
    text = whole_journal(scalekit_mock)
    assert token not in text
    for part in token.split(".")[1:]:  # neither the claims nor the signature alone
        assert part not in text


# -- fingerprints -------------------------------------------------------------------------------


def test_journal_fingerprints_stable_and_short(scalekit_mock: MockServer) -> None:
    first, second = get_token(scalekit_mock), get_token(scalekit_mock)
    for token in (first, first, second):
        assert call_api(scalekit_mock, token).status_code == 200
    issued = [e["issued"]["fingerprint"] for e in scalekit_mock.journal(endpoint="token")]
    used = [e["token"]["fingerprint"] for e in scalekit_mock.journal(endpoint="api")]
    assert issued == [fingerprint(first), fingerprint(second)]
    assert used == [issued[0], issued[0], issued[1]]
    assert issued[0] != issued[1]
    assert all(len(fp) <= 16 for fp in issued)


# -- the ring and the filters -------------------------------------------------------------------


def test_journal_ring_keeps_only_last_entries() -> None:
    with MockServer(journal_size=5) as server:
        for n in range(20):
            requests.get(server.url + "/keys", params={"n": str(n)}, timeout=10)
        entries = server.journal()
        state = requests.get(server.url + "/_mock/state", timeout=10).json()
    assert [e["query"]["n"] for e in entries] == [[str(n)] for n in range(15, 20)]
    assert [e["seq"] for e in entries] == list(range(16, 21))
    assert state["journal"] == {"size": 5, "last_seq": 20}


def test_journal_filters(scalekit_mock: MockServer) -> None:
    token = get_token(scalekit_mock)
    call_api(scalekit_mock, token)
    call_api(scalekit_mock, token, f"{ORGS}/org_nope")
    call_api(scalekit_mock, "bad", ORGS)
    requests.get(scalekit_mock.url + "/.well-known/openid-configuration", timeout=10)
    entries = scalekit_mock.journal()
    seqs = [e["seq"] for e in entries]
    assert [(e["path"], e["status"]) for e in entries] == [
        ("/oauth/token", 200), (ORGS, 200), (f"{ORGS}/org_nope", 404), (ORGS, 401),
        ("/.well-known/openid-configuration", 200)]

    def picked(**filters: Any) -> list[int]:
        return [e["seq"] for e in scalekit_mock.journal(**filters)]

    assert picked(path=ORGS) == [seqs[1], seqs[3]]
    assert picked(path=ORGS + "*") == seqs[1:4]
    assert picked(path="/api/v1/organizations/*") == [seqs[2]]
    assert picked(path="*") == seqs
    assert picked(path="/nothing") == []
    assert picked(endpoint="discovery") == [seqs[4]]
    assert picked(endpoint="token") == [seqs[0]]
    assert picked(status=200) == [seqs[0], seqs[1], seqs[4]]
    assert picked(status=401) == [seqs[3]]
    assert picked(since=seqs[2]) == seqs[3:]
    assert picked(since=seqs[-1]) == []
    assert picked(since=0) == seqs
    assert picked(limit=2) == seqs[3:]
    assert picked(limit=100) == seqs
    assert picked(limit=0) == []
    assert picked(path=ORGS + "*", status=200) == [seqs[1]]
    assert picked(endpoint="api", since=seqs[1], limit=1) == [seqs[3]]


# -- Journal, Redactor and fingerprint without a server ------------------------------------------


def entry(seq: int, path: str = "/keys", endpoint: str = "keys", status: int = 200) -> JournalEntry:
    return JournalEntry(seq=seq, time=float(seq), method="GET", path=path, query={}, headers={}, form=None,
                        endpoint=endpoint, status=status)


def test_journal_unit_bounded_and_filtered() -> None:
    journal = Journal(size=3)
    for seq in range(1, 6):
        journal.record(entry(seq, status=200 if seq % 2 else 500))
    assert journal.size == 3 and journal.last_seq() == 5
    assert [e["seq"] for e in journal.entries()] == [3, 4, 5]
    assert [e["seq"] for e in journal.entries(status=500)] == [4]
    journal.clear()
    assert journal.entries() == [] and journal.last_seq() == 0


def test_fingerprint_shape() -> None:
    value = "eyJhbGciOiJSUzI1NiJ9.e30.c2ln"
    assert fingerprint(value) == "fp:" + hashlib.sha256(value.encode()).hexdigest()[:12]
    assert fingerprint(value) == fingerprint(value)
    assert fingerprint(value) != fingerprint(value + "x")
    assert len(fingerprint("x" * 10_000)) == 15


def test_fingerprint_of_undecodable_text() -> None:
    assert fingerprint("\udcff").startswith("fp:")  # a surrogate-escaped byte from a raw header


SECRET = "test_secret_value_1234"
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
REDACTOR = Redactor(lambda: [SECRET, ""])


@pytest.mark.parametrize(("value", "expected"), [
    (f"before {SECRET} after", f"before {fingerprint(SECRET)} after"),
    (f"{SECRET}{SECRET}", fingerprint(SECRET) * 2),
    (f"x={JWT};y", f"x={fingerprint(JWT)};y"),
    ("nothing secret here", "nothing secret here"),
    ("", ""),
])
def test_redactor_text(value: str, expected: str) -> None:
    assert REDACTOR.text(value) == expected


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(("name", "value", "expected"), [
    ("Authorization", f"Bearer {JWT}", f"Bearer {fingerprint(JWT)}"),
    ("authorization", "Bearer opaque-token", f"Bearer {fingerprint('opaque-token')}"),
    ("AUTHORIZATION", f"Basic {b64('svc:' + SECRET)}", f"Basic svc:{fingerprint(SECRET)}"),
    ("Authorization", f"Basic {b64('svc:unknown-pw')}", f"Basic svc:{fingerprint('unknown-pw')}"),
    ("Authorization", "Basic !!notbase64!!", f"Basic {fingerprint('!!notbase64!!')}"),
    ("Authorization", f"Basic {b64('no-colon')}", f"Basic {fingerprint(b64('no-colon'))}"),
    ("Proxy-Authorization", "Digest abc", f"Digest {fingerprint('abc')}"),
    ("X-Custom", f"k={SECRET}", f"k={fingerprint(SECRET)}"),
    ("X-Custom", JWT, fingerprint(JWT)),
    ("Accept", "application/json", "application/json"),
])
def test_redactor_header(name: str, value: str, expected: str) -> None:
    assert REDACTOR.header(name, value) == expected


def test_redactor_fields() -> None:
    pairs = [("client_secret", "any-unknown-secret"), ("access_token", "opaque"), ("Password", "pw"),
             ("note", f"has {SECRET}"), (SECRET, "as a key"), ("client_id", "svc"), ("client_id", "svc2")]
    assert REDACTOR.fields(pairs) == {
        "client_secret": [fingerprint("any-unknown-secret")], "access_token": [fingerprint("opaque")],
        "Password": [fingerprint("pw")], "note": [f"has {fingerprint(SECRET)}"],
        fingerprint(SECRET): ["as a key"], "client_id": ["svc", "svc2"]}


def test_redactor_reads_known_secrets_on_each_call() -> None:
    known: list[str] = []
    redactor = Redactor(lambda: known)
    assert redactor.text("late-secret") == "late-secret"
    known.append("late-secret")
    assert redactor.text("late-secret") == fingerprint("late-secret")
