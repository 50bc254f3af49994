"""Bad input from the network: whatever arrives, the mock answers cleanly, in its documented shapes.

The ``@given`` tests share the session's server and reset it inside each example; every example
ends with ``check()`` (no exception inside the server) and a normal token request that must work.
"""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mock_server.server import MockServer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ERRORS: dict[str, Any] = json.loads((FIXTURES / "errors.json").read_text(encoding="utf-8"))
CLIENTS: list[dict[str, Any]] = json.loads((FIXTURES / "clients.json").read_text(encoding="utf-8"))["clients"]
CLIENT = next(c for c in CLIENTS if c["scopes"] is None)
FORM = "application/x-www-form-urlencoded"
GOOD_FORM = urlencode({"grant_type": "client_credentials", "client_id": CLIENT["client_id"],
                       "client_secret": CLIENT["client_secret"]}).encode()
TOKEN_FIELDS = {"access_token", "token_type", "expires_in", "scope"}
MAX_BODY = 64 * 1024
EXAMPLES = settings(derandomize=True, deadline=None, max_examples=100, database=None)


# -- talking to the server without a client library's opinions ---------------------------------------


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def send(server: MockServer, method: str, path: str, body: bytes | None = None,
         headers: list[tuple[str, str | bytes]] | tuple[tuple[str, str | bytes], ...] = (),
         chunked: bool = False) -> Answer:
    """One request over a fresh connection, with exactly the given method, path, headers and body."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for name, value in headers:
            conn.putheader(name, value)
        if chunked:
            conn.putheader("Transfer-Encoding", "chunked")
            conn.endheaders(iter([body or b""]), encode_chunked=True)
        else:
            if body is not None:
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
        response = conn.getresponse()
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        conn.close()


def family_of(path: str) -> str:
    """The endpoint family of a request path, as the server sees it (percent-decoded)."""
    seen = unquote(path.split("?", 1)[0], encoding="latin-1")
    if seen == "/oauth/token":
        return "token"
    if seen == "/_mock" or seen.startswith("/_mock/"):
        return "control"
    return "api"


# -- checks: each raises with a readable message ------------------------------------------------------


def api_error(key: str) -> dict[str, Any]:
    spec = ERRORS["api"][key]
    return {"code": spec["code"], "message": spec["message"],
            "details": [{"@type": ERRORS["error_info_type"], "error_code": spec["error_code"]}]}


def oauth_error(key: str) -> dict[str, str]:
    return {"error": key, "error_description": ERRORS["oauth"][key]["description"]}


def _json_body(answer: Answer, method: str) -> Any:
    assert answer.status < 500, f"server error {answer.status}: {answer.body[:300]!r}"
    assert answer.headers.get("content-type", "").startswith("application/json"), \
        f"{answer.status} answered {answer.headers.get('content-type')!r}: {answer.body[:300]!r}"
    if method == "HEAD":
        assert answer.body == b""
        return None
    return answer.json()


def _allowed_status(fixture_status: int, answer: Answer, *, too_large: bool) -> None:
    # A body over the size limit may be refused as 413 with the family's malformed-request body.
    assert answer.status == fixture_status or (too_large and answer.status == 413), \
        f"status {answer.status} for a body documented with {fixture_status}"


def check_token_answer(answer: Answer, method: str = "POST") -> None:
    """A token response or an RFC 6749 error, exactly as the fixtures word it."""
    body = _json_body(answer, method)
    if body is None:
        return
    if answer.status == 200:
        assert set(body) == TOKEN_FIELDS, f"token response fields {sorted(body)}"
        return
    assert isinstance(body, dict) and set(body) == {"error", "error_description"}, f"not an RFC 6749 error: {body}"
    assert body["error"] in ERRORS["oauth"], f"undocumented error {body['error']!r}"
    assert body == oauth_error(body["error"]), f"error text differs from the fixture: {body}"
    _allowed_status(ERRORS["oauth"][body["error"]]["status"], answer, too_large=body["error"] == "invalid_request")


def check_api_answer(answer: Answer, method: str = "GET") -> None:
    """A success of some route, or a ``google.rpc.Status`` body the fixtures document."""
    body = _json_body(answer, method)
    if body is None or answer.status == 200:
        return
    # the message may name what was wrong (the field of a 400, the resource of a 404): the rest is the fixture's
    key = next((k for k in ERRORS["api"] if api_error(k) == {**body, "message": api_error(k)["message"]}), None)
    assert key is not None and isinstance(body["message"], str), f"not a documented Status body: {body}"
    _allowed_status(ERRORS["api"][key]["status"], answer, too_large=key == "invalid_argument")


def check_control_answer(answer: Answer, method: str = "GET") -> None:
    """A JSON object; on failure exactly ``{"error": "<text>"}``."""
    body = _json_body(answer, method)
    if body is None:
        return
    assert isinstance(body, dict), f"not a JSON object: {body!r}"
    if answer.status >= 400:
        assert set(body) == {"error"} and isinstance(body["error"], str), f"not a control error body: {body}"


CHECKS = {"token": check_token_answer, "api": check_api_answer, "control": check_control_answer}


def check_answer(path: str, method: str, answer: Answer) -> None:
    CHECKS[family_of(path)](answer, method)


def assert_family_error(answer: Answer, family: str, *, api_key: str, oauth_key: str) -> None:
    """The answer is exactly the family's error body: the named fixture entry, or a control error."""
    body = answer.json()
    if family == "control":
        assert set(body) == {"error"} and isinstance(body["error"], str), body
    else:
        assert body == (oauth_error(oauth_key) if family == "token" else api_error(api_key))


def check_still_serving(server: MockServer) -> None:
    """No error inside the server, and a normal token request still succeeds."""
    server.check()
    answer = send(server, "POST", "/oauth/token", GOOD_FORM, [("Content-Type", FORM)])
    assert answer.status == 200, answer.body
    assert set(answer.json()) == TOKEN_FIELDS


def post_token(server: MockServer, body: bytes, content_type: str = FORM,
               headers: tuple[tuple[str, str | bytes], ...] = ()) -> Answer:
    return send(server, "POST", "/oauth/token", body, [("Content-Type", content_type), *headers])


# -- strategies ---------------------------------------------------------------------------------------

FIELD_NAMES = ["grant_type", "client_id", "client_secret", "scope", "", "grant_type[]", "client_id\x00"]


def form_bodies() -> st.SearchStrategy[bytes]:
    """Random bytes, and forms that are almost right: real field names, random values, odd separators."""
    pairs = st.lists(st.tuples(st.sampled_from(FIELD_NAMES) | st.text(max_size=12), st.text(max_size=40)), max_size=6)
    almost = pairs.map(lambda p: urlencode(p).encode())
    glued = st.lists(st.sampled_from([b"=", b"&", b"%", b"%zz", b"+", b";", b"grant_type", b"client_credentials",
                                      CLIENT["client_id"].encode(), b"\xff", b"%ff", b"%00", b"\x00"]), max_size=12)
    return st.binary(max_size=512) | almost | glued.map(b"".join)


def content_types() -> st.SearchStrategy[str]:
    known = st.sampled_from([FORM, FORM + "; charset=utf-8", FORM.upper(), "application/json", "text/plain",
                             "multipart/form-data; boundary=x", "application/x-www-form-urlencoded;;;", "",
                             "*/*", "application/x-www-form-urlencoded; charset=latin-1", "form", ";"])
    token = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-+.*", min_size=1, max_size=12)
    made = st.builds(lambda t, s, p: f"{t}/{s}{p}", token, token, st.sampled_from(["", "; charset=utf-8", "; q=1"]))
    return known | made | st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)


def non_utf8_forms() -> st.SearchStrategy[bytes]:
    """Forms whose bytes (raw, or percent-encoded) are not UTF-8."""
    bad = st.sampled_from([b"\xff", b"\xc3\x28", b"\xe2\x82", b"\xed\xa0\x80", b"\x80", b"\xf8\x88\x80\x80\x80"])
    raw = st.tuples(st.sampled_from([b"client_id=", b"grant_type=client_credentials&client_secret=", b""]), bad,
                    st.binary(max_size=20)).map(b"".join)
    encoded = bad.map(lambda b: GOOD_FORM + b"&scope=" + quote(b).encode())
    return raw | encoded


def json_values() -> st.SearchStrategy[Any]:
    scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10),
                                                                                           inner, max_size=4),
                        max_leaves=10)


def authorization_values() -> st.SearchStrategy[bytes]:
    """Odd ``Authorization`` values, as the raw bytes that go on the wire."""
    printable = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60)
    beyond_latin1 = st.text(alphabet=st.characters(min_codepoint=0x100, max_codepoint=0x10FFFF,
                                                   exclude_categories=["Cs"]), min_size=1, max_size=10)
    controls = st.text(alphabet=st.sampled_from([chr(c) for c in [*range(0x00, 0x09), *range(0x0B, 0x0D),
                                                                   *range(0x0E, 0x20), 0x7F]]), min_size=1, max_size=4)
    schemes = st.sampled_from(["Bearer", "bearer", "BEARER", "Basic", "Token", ""])
    return st.one_of(
        printable.map(str.encode),
        st.tuples(schemes, beyond_latin1).map(lambda t: f"{t[0]} {t[1]}".encode()),
        st.integers(min_value=2, max_value=2000).map(lambda n: b"Bearer" + b" " * n + b"x"),
        st.integers(min_value=1, max_value=2000).map(lambda n: b" " * n),
        st.tuples(controls, printable).map(lambda t: f"Bearer {t[0]}{t[1]}".encode("latin-1")),
        st.tuples(printable, controls).map(lambda t: f"Bearer{t[0]}{t[1]}".encode("latin-1")),
        st.integers(min_value=1000, max_value=60_000).map(lambda n: b"Bearer " + b"eyJ" * (n // 3)),
        st.binary(max_size=40).map(lambda b: b"Bearer " + bytes(c for c in b if c not in b"\r\n")),
    )


def paths() -> st.SearchStrategy[str]:
    """Paths under ``/api/``, ``/oauth/`` and ``/_mock/``: real prefixes, random segments, odd escapes."""
    prefixes = st.sampled_from(["/api/", "/api/v1/", "/api/v1/organizations/", "/oauth/", "/oauth/token",
                                "/_mock/", "/_mock/clients/", "/_mock/clock/", "/_mock/faults", "/_mock"])
    segment = st.text(max_size=12).map(lambda s: quote(s, safe="")) | st.sampled_from(
        ["..", ".", "", "%2F", "%00", "%zz", "%", ":search", "-", "*", "token", "%74oken", "organizations",
         "state", "journal", "x" * 300])
    query = st.sampled_from(["", "?", "?page_size=abc", "?page_size=%ff", "?a=1&a=2", "?status=x", "?limit=-1"])
    return st.builds(lambda p, segs, q: p + "/".join(segs) + q, prefixes, st.lists(segment, max_size=4), query)


def methods() -> st.SearchStrategy[str]:
    standard = st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "CONNECT"])
    return standard | st.from_regex(r"\A[A-Za-z][A-Za-z0-9_-]{0,11}\Z")


# -- the token endpoint -------------------------------------------------------------------------------


@EXAMPLES
@given(body=form_bodies())
def test_token_random_form_body_gets_a_documented_answer(scalekit_mock_server: MockServer, body: bytes) -> None:
    scalekit_mock_server.reset()

    check_token_answer(post_token(scalekit_mock_server, body))

    check_still_serving(scalekit_mock_server)


@EXAMPLES
@given(content_type=content_types())
def test_token_random_content_type_gets_a_documented_answer(scalekit_mock_server: MockServer,
                                                            content_type: str) -> None:
    scalekit_mock_server.reset()

    answer = post_token(scalekit_mock_server, GOOD_FORM, content_type)

    check_token_answer(answer)
    if answer.status == 200:  # only a form may be read as credentials
        assert content_type.split(";", 1)[0].strip().lower() == FORM, content_type
    check_still_serving(scalekit_mock_server)


@EXAMPLES
@given(body=non_utf8_forms())
def test_token_non_utf8_form_is_invalid_request(scalekit_mock_server: MockServer, body: bytes) -> None:
    scalekit_mock_server.reset()

    answer = post_token(scalekit_mock_server, body)

    assert answer.status == 400
    assert answer.json() == oauth_error("invalid_request")
    check_still_serving(scalekit_mock_server)


@EXAMPLES
@given(value=json_values(), content_type=st.sampled_from(["application/json", FORM]))
def test_token_json_body_is_invalid_request(scalekit_mock_server: MockServer, value: Any, content_type: str) -> None:
    scalekit_mock_server.reset()
    body = json.dumps({"grant_type": "client_credentials", "client_id": CLIENT["client_id"],
                       "client_secret": CLIENT["client_secret"], "extra": value}).encode()

    answer = post_token(scalekit_mock_server, body, content_type)

    assert answer.status == 400
    assert answer.json() == oauth_error("invalid_request")
    check_still_serving(scalekit_mock_server)


@EXAMPLES
@given(authorization=authorization_values())
def test_token_odd_authorization_header_gets_a_documented_answer(scalekit_mock_server: MockServer,
                                                                 authorization: bytes) -> None:
    scalekit_mock_server.reset()

    answer = post_token(scalekit_mock_server, GOOD_FORM, headers=(("Authorization", authorization),))

    check_token_answer(answer)
    check_still_serving(scalekit_mock_server)


# -- the protected API --------------------------------------------------------------------------------


@EXAMPLES
@given(authorization=authorization_values())
def test_api_odd_authorization_header_is_refused_cleanly(scalekit_mock_server: MockServer,
                                                         authorization: bytes) -> None:
    scalekit_mock_server.reset()

    answer = send(scalekit_mock_server, "GET", "/api/v1/organizations", headers=[("Authorization", authorization)])

    check_api_answer(answer)
    assert answer.status in (400, 401), answer.status
    check_still_serving(scalekit_mock_server)


@EXAMPLES
@given(body=st.binary(max_size=300) | json_values().map(lambda v: json.dumps(v).encode()),
       content_type=content_types())
def test_api_random_body_to_create_organization_is_answered_cleanly(scalekit_mock_server: MockServer, body: bytes,
                                                                    content_type: str) -> None:
    scalekit_mock_server.reset()
    token = post_token(scalekit_mock_server, GOOD_FORM).json()["access_token"]

    answer = send(scalekit_mock_server, "POST", "/api/v1/organizations", body,
                  [("Authorization", f"Bearer {token}"), ("Content-Type", content_type)])

    check_api_answer(answer, "POST")
    assert answer.status in (200, 400), answer.status
    check_still_serving(scalekit_mock_server)


# -- anywhere -----------------------------------------------------------------------------------------


@settings(EXAMPLES, max_examples=400)
@given(method=methods(), path=paths(), body=st.none() | st.binary(max_size=64))
def test_any_method_and_path_gets_its_family_shape(scalekit_mock_server: MockServer, method: str, path: str,
                                                   body: bytes | None) -> None:
    scalekit_mock_server.reset()

    answer = send(scalekit_mock_server, method, path, body)

    check_answer(path, method, answer)
    check_still_serving(scalekit_mock_server)


FAMILY_PATHS = [("/api/v1/organizations", "api"), ("/oauth/token", "token"), ("/_mock/state", "control")]


@pytest.mark.parametrize("control", ["\x00", "\x01", "\x08", "\x0b", "\x1b", "\x1f", "\x7f"])
@pytest.mark.parametrize(("path", "family"), FAMILY_PATHS, ids=[f for _, f in FAMILY_PATHS])
def test_control_character_in_a_header_is_a_400_in_the_family_shape(scalekit_mock: MockServer, control: str,
                                                                    path: str, family: str) -> None:
    # The server's parser refuses these before the app sees them; the answer still has the family's body.
    answer = send(scalekit_mock, "POST", path, GOOD_FORM,
                  [("Content-Type", FORM), ("Authorization", f"Bearer a{control}b".encode("latin-1"))])

    assert answer.status == 400
    assert_family_error(answer, family, api_key="invalid_argument", oauth_key="invalid_request")
    check_still_serving(scalekit_mock)


@pytest.mark.parametrize(("path", "family"), FAMILY_PATHS, ids=[f for _, f in FAMILY_PATHS])
def test_lowercase_method_is_a_405_in_the_family_shape(scalekit_mock: MockServer, path: str, family: str) -> None:
    # Methods are case-sensitive (RFC 9110 9.1): "post" is a method the mock does not have: 405 with Allow
    answer = send(scalekit_mock, "post", path, GOOD_FORM, [("Content-Type", FORM)])

    assert answer.status == 405 and answer.headers.get("allow"), answer
    check_answer(path, "post", answer)
    check_still_serving(scalekit_mock)


@pytest.mark.parametrize(("path", "family"), [*FAMILY_PATHS, ("/keys", "api")], ids=["api", "token", "control", "keys"])
def test_options_is_a_405_in_the_family_shape(scalekit_mock: MockServer, path: str, family: str) -> None:
    answer = send(scalekit_mock, "OPTIONS", path)

    assert answer.status == 405
    assert_family_error(answer, family, api_key="method_not_allowed", oauth_key="method_not_allowed")


@pytest.mark.parametrize("path", ["/_mock/nothing", "/_mock/clients/x/y", "/_mock/%2e%2e/keys"])
def test_unknown_control_path_is_a_404_control_error(scalekit_mock: MockServer, path: str) -> None:
    answer = send(scalekit_mock, "GET", path)

    assert answer.status == 404
    assert set(answer.json()) == {"error"}


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("size", [MAX_BODY + 1, 4 * 1024 * 1024], ids=["limit+1", "4MiB"])
@pytest.mark.parametrize(("method", "path", "content_type"), [
    ("POST", "/oauth/token", FORM),
    ("POST", "/api/v1/organizations", "application/json"),
    ("PUT", "/_mock/clients/skc_huge", "application/json"),
    ("POST", "/_mock/faults", "application/json"),
], ids=["token", "api-create", "control-client", "control-fault"])
def test_huge_body_is_a_clean_4xx(scalekit_mock: MockServer, method: str, path: str, content_type: str, size: int,
                                  chunked: bool) -> None:
    token = post_token(scalekit_mock, GOOD_FORM).json()["access_token"]
    body = GOOD_FORM + b"&scope=" + b"a" * size if content_type == FORM else json.dumps(
        {"display_name": "x" * size, "client_secret": "s"}).encode()

    answer = send(scalekit_mock, method, path, body, [("Content-Type", content_type),
                                                      ("Authorization", f"Bearer {token}")], chunked=chunked)

    assert 400 <= answer.status < 500, answer.status
    check_answer(path, method, answer)
    check_still_serving(scalekit_mock)
