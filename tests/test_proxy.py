"""Proxy mode: the mock as a journaling proxy in front of a 'sandbox' (a second mock, in its own process).

The sandbox is ``python -m mock_server.cli serve`` started once for the module with credentials of its
own; its control plane (``/_mock/``) tells what reached it, so every "not forwarded" is checked on the
upstream's side. Bad upstreams are local too: a closed port, a plain-HTTP port behind an https://
URL, a server that never answers, a server that answers HTML. Everything binds 127.0.0.1.
"""

from __future__ import annotations

import base64
import gzip
import http.server
import io
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from helpers import ORGS, call_api, get_token, token_response

from contract_tests.cli import main as conformance_main
from contract_tests.client import report as render
from contract_tests.client import target
from contract_tests.client.checks import IDS
from contract_tests.client.results import SuiteReport
from contract_tests.client.runner import run_suite
from contract_tests.client.target import LIVE_BUDGET, DriverOnTarget
from mock_server import Client, ControlError, MockConfig, MockServer, fingerprint
from mock_server.cli import main
from mock_server.core.bodies import api_error_body
from mock_server.pipeline.proxy import UpstreamAnswer, forward_headers, relay_headers
from mock_server.pipeline.request import Request

SANDBOX_ID = "skc_70000000000000001"
SANDBOX_SECRET = "test_sandboxSecretNotTheMocksDefault0000001"
TIMEOUT = 0.5  # the proxy's upstream timeout in these tests

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def sandbox() -> Iterator[str]:
    """An independently started mock acting as the real sandbox; yields its URL."""
    port = free_port()
    env = {**os.environ, "SCALEKIT_CLIENT_ID": SANDBOX_ID, "SCALEKIT_CLIENT_SECRET": SANDBOX_SECRET}
    process = subprocess.Popen([sys.executable, "-m", "mock_server.cli", "serve", "--port", str(port), "--quiet"],
                               env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None
    line = process.stdout.readline()  # printed once it listens
    assert line.startswith("# scalekit-mock serving"), line + process.communicate(timeout=10)[1]
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.communicate(timeout=10)


def upstream_journal(sandbox: str, **params: Any) -> list[dict[str, Any]]:
    answer = requests.get(f"{sandbox}/_mock/journal", params=params, timeout=10)
    entries: list[dict[str, Any]] = answer.json()["entries"]
    return entries


@pytest.fixture(scope="module")
def shared_proxy(sandbox: str) -> Iterator[MockServer]:
    with MockServer(upstream=sandbox, clients=(Client(SANDBOX_ID, SANDBOX_SECRET),), upstream_timeout=5.0) as server:
        yield server


@pytest.fixture
def proxy(shared_proxy: MockServer, sandbox: str) -> Iterator[MockServer]:
    """The proxy in front of the sandbox, both reset."""
    requests.post(f"{sandbox}/_mock/reset", json={}, timeout=10).raise_for_status()
    shared_proxy.reset()
    yield shared_proxy
    shared_proxy.check()


def direct(sandbox: str, method: str, path: str, **kwargs: Any) -> requests.Response:
    return requests.request(method, sandbox + path, timeout=10, **kwargs)


# -- relaying ------------------------------------------------------------------------------------
def test_proxy_relays_the_upstreams_token_unchanged(proxy: MockServer, sandbox: str) -> None:
    response = token_response(proxy)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store" and response.headers["Pragma"] == "no-cache"
    body = response.json()
    assert body["expires_in"] == 86399 and body["token_type"] == "Bearer"
    # The upstream issued it (its issuer, its signature): the proxy signed nothing and rewrote nothing.
    keys = direct(sandbox, "GET", "/keys").json()
    key = jwt.PyJWK(keys["keys"][0]).key
    claims = jwt.decode(body["access_token"], key, algorithms=["RS256"], options={"verify_aud": False})
    assert claims["iss"] == sandbox and claims["client_id"] == SANDBOX_ID
    # The upstream got the request as the client sent it.
    [seen] = upstream_journal(sandbox, endpoint="token")
    assert seen["form"] == {"grant_type": ["client_credentials"], "client_id": [SANDBOX_ID],
                            "client_secret": [fingerprint(SANDBOX_SECRET)]}
    assert seen["headers"]["user-agent"].startswith("python-requests/") and seen["issued"]["jti"] == claims["jti"]


@pytest.mark.parametrize(("method", "path", "kwargs"), [
    ("GET", f"{ORGS}?page_size=10", {}),
    ("GET", f"{ORGS}/org_404", {}),
    ("PATCH", ORGS, {}),
    ("POST", ORGS, {"json": {"display_name": 7}}),
    ("GET", "/no/such/route", {}),
], ids=["list", "not-found", "method-not-allowed", "bad-body", "unknown-route"])
def test_proxy_relays_api_answers_byte_for_byte(proxy: MockServer, sandbox: str, method: str, path: str,
                                                kwargs: dict[str, Any]) -> None:
    token = get_token(proxy)
    headers = {"Authorization": f"Bearer {token}"}
    through = requests.request(method, proxy.url + path, headers=headers, timeout=10, **kwargs)
    requests.post(f"{sandbox}/_mock/reset", json={}, timeout=10)  # the same sample data for the direct call
    straight = direct(sandbox, method, path, headers=headers, **kwargs)
    assert (through.status_code, through.content) == (straight.status_code, straight.content)
    for name in ("Content-Type", "Allow"):
        assert through.headers.get(name) == straight.headers.get(name)


def test_proxy_relays_the_request_body(proxy: MockServer, sandbox: str) -> None:
    headers = {"Authorization": f"Bearer {get_token(proxy)}"}
    created = requests.post(proxy.url + ORGS, json={"display_name": "Proxied"}, headers=headers, timeout=10)
    assert created.status_code == 201 and created.json()["organization"]["display_name"] == "Proxied"
    [seen] = upstream_journal(sandbox, endpoint="api")
    assert seen["method"] == "POST" and seen["headers"]["content-type"] == "application/json"
    listed = direct(sandbox, "GET", f"{ORGS}?page_size=100", headers=headers).json()
    assert "Proxied" in [org["display_name"] for org in listed["organizations"]]


def test_proxy_relays_non_ascii_header_bytes(proxy: MockServer, sandbox: str) -> None:
    response = requests.get(proxy.url + "/keys", headers={"X-Tenant": "caf\u00e9"}, timeout=10)
    assert response.status_code == 200
    [seen] = upstream_journal(sandbox)
    assert seen["headers"]["x-tenant"] == "caf\u00e9"


def test_proxy_relays_the_upstreams_errors(proxy: MockServer, sandbox: str) -> None:
    wrong = token_response(proxy, secret="test_wrong")
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    basic = base64.b64encode(f"{SANDBOX_ID}:test_wrong".encode()).decode()
    basic_wrong = requests.post(proxy.url + "/oauth/token", data={"grant_type": "client_credentials"},
                                headers={"Authorization": f"Basic {basic}"}, timeout=10)
    assert basic_wrong.headers["WWW-Authenticate"] == 'Basic realm="scalekit"'
    empty = requests.get(proxy.url + ORGS, timeout=10)
    assert empty.status_code == 401 and empty.json()["message"] == "Token empty"
    assert [e["outcome"] for e in upstream_journal(sandbox)] == ["invalid_client", "invalid_client", "token_empty"]
    assert [e["outcome"] for e in proxy.journal()] == ["invalid_client", "invalid_client", "token_empty"]


def test_proxy_serves_the_upstreams_keys_and_discovery(proxy: MockServer, sandbox: str) -> None:
    paths = ("/keys", "/.well-known/jwks.json", "/.well-known/openid-configuration",
             "/.well-known/oauth-authorization-server")
    through = [requests.get(proxy.url + path, timeout=10) for path in paths]
    assert [e["endpoint"] for e in proxy.journal()] == ["keys", "keys", "discovery", "discovery"]
    assert [e["path"] for e in upstream_journal(sandbox)] == list(paths)
    for path, answer in zip(paths, through, strict=True):
        assert (answer.status_code, answer.content) == (200, direct(sandbox, "GET", path).content)


def test_proxy_journal_notes_the_upstream_and_no_secret(proxy: MockServer) -> None:
    token = get_token(proxy)
    assert call_api(proxy, token).status_code == 200
    issued, call = proxy.journal()
    assert issued["extra"]["upstream"]["status"] == 200 and call["extra"]["upstream"]["status"] == 200
    assert all(0 <= e["extra"]["upstream"]["latency"] < 5 for e in (issued, call))
    jti = jwt.decode(token, options={"verify_signature": False})["jti"]
    assert issued["issued"]["jti"] == jti and call["token"]["jti"] == jti
    assert issued["issued"]["fingerprint"] == call["token"]["fingerprint"] == fingerprint(token)
    assert call["client_id"] == issued["client_id"] == SANDBOX_ID and call["outcome"] == "ok"
    text = json.dumps(proxy.journal())
    assert SANDBOX_SECRET not in text and token not in text and token.split(".")[1] not in text
    assert proxy.control.state()["upstream"]["forwarded_since_reset"] == 2


# -- what the proxy answers itself ---------------------------------------------------------------
@pytest.mark.parametrize(("kind", "spec", "endpoint", "status"), [
    ("status", {"endpoint": "token", "preset": "unavailable"}, "token", 503),
    ("status", {"endpoint": "token", "preset": "server_error_html"}, "token", 500),
    ("malformed_token", {"variant": "not_json"}, "token", 200),
    ("malformed_token", {"variant": "missing_access_token"}, "token", 200),
    ("forbidden", {}, "api", 403),
    ("token_expired", {}, "api", 401),
    ("status", {"endpoint": "api", "preset": "rate_limited"}, "api", 429),
])
def test_proxy_plays_faults_instead_of_forwarding(proxy: MockServer, sandbox: str, kind: str, spec: dict[str, Any],
                                                  endpoint: str, status: int) -> None:
    token = get_token(proxy) if endpoint == "api" else ""
    proxy.add_fault(kind, **spec)
    response = token_response(proxy) if endpoint == "token" else call_api(proxy, token)
    assert response.status_code == status
    if kind in ("forbidden", "token_expired"):
        assert response.json() == api_error_body(proxy.control.fixtures, kind)
    faulted = proxy.journal()[-1]
    assert faulted["fault"]["kind"] == kind and "upstream" not in faulted["extra"]
    assert upstream_journal(sandbox, endpoint=endpoint) == []  # played by the proxy, never forwarded


def test_proxy_malformed_expires_in_string_wraps_the_upstreams_token(proxy: MockServer, sandbox: str) -> None:
    proxy.add_fault("malformed_token", variant="expires_in_string")
    body = token_response(proxy).json()
    assert body["expires_in"] == "86399"
    assert call_api(proxy, body["access_token"]).status_code == 200  # a real token of the upstream
    assert [e["outcome"] for e in upstream_journal(sandbox)] == ["issued", "ok"]
    assert proxy.journal()[0]["outcome"] == "malformed:expires_in_string"


def test_proxy_delays_then_forwards(proxy: MockServer, sandbox: str) -> None:
    proxy.add_fault("delay", endpoint="token", seconds=0.3)
    started = time.monotonic()
    assert token_response(proxy).status_code == 200
    assert time.monotonic() - started >= 0.3 and len(upstream_journal(sandbox)) == 1


def test_proxy_redirects_to_its_own_second_origin_without_forwarding(proxy: MockServer, sandbox: str) -> None:
    proxy.add_fault("redirect", endpoint="token")
    data = {"grant_type": "client_credentials", "client_id": SANDBOX_ID, "client_secret": SANDBOX_SECRET}
    answer = requests.post(proxy.url + "/oauth/token", data=data, timeout=10, allow_redirects=False)
    location = answer.headers["Location"]
    assert answer.status_code == 307 and location == proxy.control.second_origin_url() + "/oauth/token"
    assert requests.post(location, data=data, timeout=10).status_code == 404
    assert upstream_journal(sandbox) == []
    [entry] = proxy.journal(endpoint="foreign")
    assert entry["extra"]["carried_secret"] and SANDBOX_SECRET not in json.dumps(proxy.journal())


@pytest.mark.parametrize("kind", ["drop", "hang"])
def test_proxy_drops_and_hangs_without_forwarding(proxy: MockServer, sandbox: str, kind: str) -> None:
    proxy.add_fault(kind, endpoint="token", seconds=0.3) if kind == "hang" else proxy.add_fault(kind)
    with pytest.raises(requests.ConnectionError):
        token_response(proxy)
    assert upstream_journal(sandbox) == [] and proxy.journal()[-1]["outcome"] == kind


@pytest.mark.parametrize("face", ["python", "http"])
def test_proxy_answers_a_revoked_token_itself(proxy: MockServer, sandbox: str, face: str) -> None:
    token = get_token(proxy)
    assert call_api(proxy, token).status_code == 200
    if face == "python":
        proxy.revoke(token=token)
    else:
        requests.post(f"{proxy.url}/_mock/revoke", json={"token": token}, timeout=10).raise_for_status()
    refused = call_api(proxy, token)
    assert refused.status_code == 401
    assert refused.json() == api_error_body(proxy.control.fixtures, "token_expired")
    assert proxy.journal()[-1]["outcome"] == "token_expired" and "upstream" not in proxy.journal()[-1]["extra"]
    assert len(upstream_journal(sandbox, endpoint="api")) == 1  # only the call before the revocation
    assert call_api(proxy, get_token(proxy)).status_code == 200  # a new token is not revoked


def test_proxy_revoke_all_revokes_the_tokens_it_relayed(proxy: MockServer) -> None:
    first, second = get_token(proxy), get_token(proxy)
    answer = requests.post(f"{proxy.url}/_mock/revoke", json={"all": True}, timeout=10).json()
    assert answer == {"revoked_tokens": 2}
    assert [call_api(proxy, t).status_code for t in (first, second, get_token(proxy))] == [401, 401, 200]


def test_proxy_expires_tokens_on_its_virtual_clock(proxy: MockServer, sandbox: str) -> None:
    old = get_token(proxy)
    proxy.advance_clock(86400)
    expired = call_api(proxy, old)
    assert expired.status_code == 401 and expired.json()["message"] == "Token expired"
    assert "exp is past on the proxy's clock" in proxy.journal()[-1]["extra"]["detail"]
    assert upstream_journal(sandbox, endpoint="api") == []
    # A token fetched after the clock moved sits on the moved clock: fresh, and forwarded.
    new = get_token(proxy)
    assert call_api(proxy, new).status_code == 200
    real_exp = jwt.decode(new, options={"verify_signature": False})["exp"]
    assert proxy.journal(endpoint="token")[-1]["issued"]["exp"] == real_exp + 86400
    assert len(upstream_journal(sandbox, endpoint="api")) == 1


# -- what the proxy refuses ----------------------------------------------------------------------
REFUSED = [
    ("adding or replacing a client", lambda s: s.put_client({"client_id": "skc_1", "client_secret": "x"}), "PUT",
     "/clients/skc_1", {"client_secret": "x"}),
    ("removing a client", lambda s: s.remove_client(SANDBOX_ID), "DELETE", f"/clients/{SANDBOX_ID}", None),
    ("listing the clients", lambda s: s.control.list_clients(), "GET", "/clients", None),
    ("rotating the signing key", lambda s: s.rotate_keys(0), "POST", "/keys/rotate", {"grace_seconds": 0}),
]


@pytest.mark.parametrize(("operation", "call", "method", "path", "body"), REFUSED, ids=[r[3] for r in REFUSED])
def test_proxy_refuses_what_only_the_upstream_can_do(proxy: MockServer, operation: str, call: Any, method: str,
                                                     path: str, body: Any) -> None:
    with pytest.raises(ControlError, match=f"^{operation} \\(.*\\) is not possible in proxy mode") as refused:
        call(proxy)
    assert refused.value.status == 409
    answer = requests.request(method, f"{proxy.url}/_mock{path}", json={} if body is None else body,
                              timeout=10)  # JSON only (CSRF), even with nothing to send
    assert answer.status_code == 409 and answer.json()["error"] == str(refused.value)
    assert str(proxy.upstream) in str(refused.value)


def test_proxy_state_names_the_upstream_and_mock_mode_does_not(proxy: MockServer, sandbox: str) -> None:
    get_token(proxy)
    state = requests.get(f"{proxy.url}/_mock/state", timeout=10).json()
    assert state["upstream"]["url"] == sandbox and state["upstream"]["forwarded_since_reset"] == 1
    assert state["clients"] == [] and state["keys"] == []
    with MockServer() as mock:
        assert mock.control.state()["upstream"] is None and mock.upstream is None and mock.upstream_requests == 0


def test_proxy_budget_bounds_what_reaches_the_upstream(sandbox: str) -> None:
    requests.post(f"{sandbox}/_mock/reset", json={}, timeout=10)
    with MockServer(upstream=sandbox, upstream_budget=2) as proxy:
        statuses = [requests.get(proxy.url + "/keys", timeout=10).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        assert proxy.journal()[-1]["outcome"] == "budget_spent" and len(upstream_journal(sandbox)) == 2
        proxy.reset()
        assert requests.get(proxy.url + "/keys", timeout=10).status_code == 200
        assert proxy.upstream_requests == 3


# -- bad upstreams -------------------------------------------------------------------------------
class _HtmlHandler(http.server.BaseHTTPRequestHandler):
    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = b"<html><body>Welcome to the captive portal</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args: Any) -> None:
        pass  # keep the test output clean


@pytest.fixture
def html_upstream() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _HtmlHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def plaintext_upstream() -> Iterator[str]:
    """Answers every connection at once with a plain-HTTP 400 (what a TLS client gets from an http:// port)."""
    listener = socket.create_server(("127.0.0.1", 0))

    def answer() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return  # closed: the test is over
            with connection:
                connection.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

    threading.Thread(target=answer, daemon=True).start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    listener.close()


@pytest.fixture
def silent_upstream() -> Iterator[str]:
    """Accepts connections and never answers."""
    listener = socket.create_server(("127.0.0.1", 0))
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    listener.close()


@pytest.mark.parametrize(("which", "status", "outcome"), [
    ("closed", 502, "upstream_unreachable"),
    ("tls", 502, "upstream_tls"),
    ("silent", 504, "upstream_timeout"),
])
def test_proxy_bad_upstream_is_a_clean_gateway_error(request: pytest.FixtureRequest, which: str, status: int,
                                                     outcome: str) -> None:
    if which == "closed":
        upstream = f"http://127.0.0.1:{free_port()}"
    elif which == "tls":
        upstream = str(request.getfixturevalue("plaintext_upstream")).replace("http://", "https://")
    else:
        upstream = str(request.getfixturevalue("silent_upstream"))
    with MockServer(upstream=upstream, upstream_timeout=TIMEOUT) as proxy:
        started = time.monotonic()
        response = token_response(proxy)
        assert time.monotonic() - started < 4 * TIMEOUT + 1  # never a hang
        key = "gateway_timeout" if status == 504 else "bad_gateway"
        assert response.status_code == status and response.json() == api_error_body(proxy.control.fixtures, key)
        [entry] = proxy.journal()
        assert entry["outcome"] == outcome and entry["status"] == status
        assert entry["extra"]["upstream"]["error"] == outcome.removeprefix("upstream_")
        proxy.check()


def test_proxy_relays_a_non_json_answer_and_notes_it(html_upstream: str) -> None:
    with MockServer(upstream=html_upstream, upstream_timeout=TIMEOUT) as proxy:
        response = token_response(proxy)
        assert response.status_code == 200 and response.headers["Content-Type"] == "text/html"
        assert b"captive portal" in response.content
        assert proxy.journal()[-1]["outcome"] == "upstream_not_json" and proxy.journal()[-1]["issued"] is None


# -- headers, without I/O ------------------------------------------------------------------------
def test_forward_headers_drop_hop_by_hop_and_host() -> None:
    environ = {"HTTP_HOST": "127.0.0.1:1", "HTTP_CONNECTION": "keep-alive, X-Private", "HTTP_X_PRIVATE": "1",
               "HTTP_AUTHORIZATION": "Bearer t", "HTTP_KEEP_ALIVE": "5", "HTTP_USER_AGENT": "sdk/1",
               "HTTP_EXPECT": "100-continue",
               "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": "2", "wsgi.input": io.BytesIO(b"{}")}
    forwarded = forward_headers(Request.from_environ(environ))
    assert sorted(forwarded) == [("Authorization", "Bearer t"), ("Content-Type", "application/json"),
                                 ("User-Agent", "sdk/1")]


def test_relay_headers_split_content_type_and_drop_framing() -> None:
    content_type, headers = relay_headers([("content-type", "application/json"), ("transfer-encoding", "chunked"),
                                           ("content-length", "9"), ("retry-after", "1"), ("set-cookie", "a=b")])
    assert content_type == "application/json" and headers == [("retry-after", "1"), ("set-cookie", "a=b")]


def test_upstream_answer_reads_a_gzipped_token_response_for_the_journal() -> None:
    body = {"access_token": "eyJ.e30.x", "expires_in": 299}
    raw = gzip.compress(json.dumps(body).encode())
    answer = UpstreamAnswer(200, [("Content-Encoding", "gzip"), ("Content-Type", "application/json")], raw, 0.1)
    assert answer.json() == body
    assert UpstreamAnswer(200, [("Content-Encoding", "gzip")], b"not gzip", 0.1).json() is None
    assert UpstreamAnswer(200, [], b"<html>", 0.1).json() is None


# -- the CLI -------------------------------------------------------------------------------------
def test_proxy_command_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["proxy", "--help"])
    out = capsys.readouterr().out
    assert stop.value.code == 0 and "--upstream URL" in out and "--budget N" in out


@pytest.mark.parametrize(("argv", "message"), [
    (["proxy", "--upstream", "ftp://example.com"], "upstream must be an http(s) URL"),
    (["proxy", "--upstream", "https://example.com?x=1"], "upstream must be an http(s) URL"),
    (["proxy", "--upstream", "http://127.0.0.1:1", "--timeout", "0"], "upstream timeout"),
    (["proxy"], "name the environment to forward to"),
])
def test_proxy_command_bad_input_exits_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SCALEKIT_ENVIRONMENT_URL", raising=False)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_proxy_command_prints_the_url_export_and_never_the_secret(proxy: MockServer, sandbox: str) -> None:
    env = {**os.environ, "SCALEKIT_ENVIRONMENT_URL": sandbox, "SCALEKIT_CLIENT_ID": SANDBOX_ID,
           "SCALEKIT_CLIENT_SECRET": SANDBOX_SECRET}
    process = subprocess.Popen([sys.executable, "-m", "mock_server.cli", "proxy", "--port", "0"], env=env,
                               text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(4)]
        url = lines[1].strip().removeprefix("export SCALEKIT_ENVIRONMENT_URL=")
        assert lines[0].startswith(f"# scalekit-mock proxying {sandbox} on http://127.0.0.1:") and url != sandbox
        body = requests.post(f"{url}/oauth/token", timeout=10, data={
            "grant_type": "client_credentials", "client_id": SANDBOX_ID, "client_secret": SANDBOX_SECRET}).json()
        assert requests.get(url + ORGS, headers={"Authorization": f"Bearer {body['access_token']}"},
                            timeout=10).status_code == 200
    finally:
        process.terminate()
        out, err = process.communicate(timeout=10)
    text = "".join(lines) + out + err
    assert SANDBOX_SECRET not in text and body["access_token"] not in text
    assert "POST /oauth/token 200 issued" in err and "upstream=200" in err
    assert len(upstream_journal(sandbox)) == 2


def test_proxy_config_reads_upstream_and_credentials_from_the_environment() -> None:
    config = MockConfig(upstream="https://acme.scalekit.dev/").with_env(
        {"SCALEKIT_CLIENT_ID": SANDBOX_ID, "SCALEKIT_CLIENT_SECRET": SANDBOX_SECRET})
    assert config.upstream == "https://acme.scalekit.dev"
    assert config.clients is not None and config.clients[0].client_secret == SANDBOX_SECRET


# -- the client suite against a live environment (the sandbox) -----------------------------------
REFERENCE = f"{sys.executable} -m contract_tests.drivers.reference"
NOT_LIVE = {"REFRESH-SHORT-LIFETIME", "CACHE-SHORT-LIFETIME-REUSE", "STATE-MACHINE"}


def live_env(upstream: str) -> dict[str, str]:
    return {**os.environ, "SCALEKIT_ENVIRONMENT_URL": upstream, "SCALEKIT_CLIENT_ID": SANDBOX_ID,
            "SCALEKIT_CLIENT_SECRET": SANDBOX_SECRET}


@pytest.fixture(scope="module")
def live_report(sandbox: str) -> tuple[SuiteReport, list[dict[str, Any]]]:
    """One full live run of the reference driver against the sandbox, and the requests the sandbox saw."""
    requests.post(f"{sandbox}/_mock/reset", json={}, timeout=10).raise_for_status()
    report = run_suite(REFERENCE, live=True, environ=live_env(sandbox))
    return report, upstream_journal(sandbox)


def test_live_run_of_the_reference_driver_conforms(live_report: tuple[SuiteReport, list[dict[str, Any]]]) -> None:
    report, _ = live_report
    assert report.exit_code == 0, render.table(report) + "\n" + render.details(report)
    skipped = {r.id: r.message for r in report.results if r.outcome == "skipped"}
    assert set(skipped) == NOT_LIVE
    assert all(m.startswith("not run against a live environment: ") for m in skipped.values())
    assert {r.id for r in report.results if r.outcome == "passed"} == set(IDS) - NOT_LIVE


def test_live_run_reports_its_target_and_the_real_requests(
        live_report: tuple[SuiteReport, list[dict[str, Any]]], sandbox: str, tmp_path: Path) -> None:
    report, seen = live_report
    assert isinstance(report.subject, DriverOnTarget)
    # The count reported is what reached the sandbox, and it is small and bounded.
    assert report.subject.upstream_requests == len(seen) > 0
    # At most what the README and docs/conformance.md say a run of the reference client sends (measured: a check
    # that sends more must say so there), and far below the proxy's cap.
    said = re.search(r"reference client sends\s+\*\*(\d+) requests\*\*", README)
    assert said is not None, "the README says how many real requests a live run sends"
    documented = int(said.group(1))
    assert len(seen) <= documented < LIVE_BUDGET * (len(IDS) - len(NOT_LIVE)) + 1
    data = report.to_json()
    assert data["target"] == {"mode": "live", "url": sandbox, "upstream_requests": len(seen)}
    assert data["driver"]["name"] == "scalekit-mock reference client"
    assert f"target: live {sandbox} (through a journaling proxy; {len(seen)} requests" in render.table(report)
    assert f"target: live {sandbox}" in render.markdown(report)
    properties = {p.get("name"): p.get("value") for p in ET.fromstring(render.junit_xml(report)).iter("property")}
    assert properties["target.mode"] == "live" and properties["target.upstream_requests"] == str(len(seen))
    everything = json.dumps(data) + render.table(report) + render.details(report)
    assert SANDBOX_SECRET not in everything


@pytest.mark.parametrize(("faulty", "check_id"), [
    ("no_cache", "CACHE-SEQUENTIAL"),
    ("no_401_retry", "REFRESH-REVOKED"),
    ("refresh_on_403", "ERR-FORBIDDEN"),  # adapted: the proxy plays the 403
])
def test_live_run_catches_a_faulty_driver_as_the_mock_does(sandbox: str, faulty: str, check_id: str) -> None:
    driver = f"{sys.executable} -m contract_tests.drivers.faulty.{faulty}"
    live_run = run_suite(driver, only=[check_id], live=True, environ=live_env(sandbox))
    mock_run = run_suite(driver, only=[check_id])
    live, mock = live_run.result(check_id), mock_run.result(check_id)
    assert (live.outcome, mock.outcome) == ("failed", "failed")
    assert live.reason == mock.reason  # the same finding, in the same words
    assert mock_run.to_json()["target"] == {"mode": "mock", "url": None, "upstream_requests": 0}
    assert "target: mock" in render.table(mock_run)


@pytest.mark.parametrize(("which", "expected"), [
    ("closed", "502 upstream_unreachable"),
    ("tls", "502 upstream_tls"),
    ("silent", "504 upstream_timeout"),
    ("html", "200 upstream_not_json"),
    ("wrong secret", "401 invalid_client"),
])
def test_live_run_with_a_bad_upstream_is_one_clear_error(request: pytest.FixtureRequest,
                                                         monkeypatch: pytest.MonkeyPatch, which: str,
                                                         expected: str) -> None:
    monkeypatch.setattr(target, "LIVE_TIMEOUT", TIMEOUT)
    upstream = {"closed": lambda: f"http://127.0.0.1:{free_port()}",
                "tls": lambda: str(request.getfixturevalue("plaintext_upstream")).replace("http:", "https:"),
                "silent": lambda: str(request.getfixturevalue("silent_upstream")),
                "html": lambda: str(request.getfixturevalue("html_upstream")),
                "wrong secret": lambda: str(request.getfixturevalue("sandbox"))}[which]()
    environ = {**live_env(upstream), **({"SCALEKIT_CLIENT_SECRET": "test_wrong"} if which == "wrong secret" else {})}
    started = time.monotonic()
    report = run_suite(REFERENCE, live=True, environ=environ)
    assert time.monotonic() - started < 4 * TIMEOUT + 2  # no driver was started, nothing hung
    assert report.exit_code == 2 and report.startup_error is not None
    assert report.startup_error.startswith(f"the target cannot be used: the live environment {upstream} did not "
                                           f"hand out a token: {expected}")
    assert {r.outcome for r in report.results} == {"error"}
    # One attempt (the check of the target before any driver starts), answered or not.
    assert isinstance(report.subject, DriverOnTarget) and report.subject.upstream_requests == 1


def test_conformance_cli_live_needs_the_real_environment(monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("SCALEKIT_ENVIRONMENT_URL", "SCALEKIT_CLIENT_ID", "SCALEKIT_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    assert conformance_main(["client", "--driver", REFERENCE, "--live"]) == 2
    err = capsys.readouterr().err
    assert "--live needs SCALEKIT_ENVIRONMENT_URL, SCALEKIT_CLIENT_ID, SCALEKIT_CLIENT_SECRET" in err


def test_conformance_cli_live_writes_the_target_in_its_reports(
        sandbox: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name, value in live_env(sandbox).items():
        if name.startswith("SCALEKIT_"):
            monkeypatch.setenv(name, value)
    path = tmp_path / "report.json"
    code = conformance_main(["client", "--driver", REFERENCE, "--live", "--only", "FMT-TOKEN-REQUEST",
                             "--report-json", str(path)])
    assert code == 0 and f"target: live {sandbox}" in capsys.readouterr().out
    target = json.loads(path.read_text())["target"]
    assert target["mode"] == "live" and target["url"] == sandbox and target["upstream_requests"] == 3


def test_pytest_face_runs_the_client_checks_live(pytester: pytest.Pytester, sandbox: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in live_env(sandbox).items():
        if name.startswith("SCALEKIT_"):
            monkeypatch.setenv(name, value)
    requests.post(f"{sandbox}/_mock/reset", json={}, timeout=10).raise_for_status()
    result = pytester.runpytest_subprocess("--pyargs", "contract_tests.test_client_conformance", "-v", "-rs",
                                           "-p", "no:cacheprovider", "--scalekit-driver", REFERENCE,
                                           "--scalekit-live", "--scalekit-only", "REFRESH-REVOKED,STATE-MACHINE")
    result.stdout.fnmatch_lines(["*test_client_check?REFRESH-REVOKED? PASSED*",
                                 "*SKIPPED*not run against a live environment: its random sequences*"])
    assert result.ret == 0
    assert len(upstream_journal(sandbox, endpoint="api")) >= 2  # the calls went to the sandbox
