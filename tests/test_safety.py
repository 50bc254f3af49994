"""Safe by default: the probes of a web page on the developer's machine, each refused with a clear JSON error.

CSRF (a page's simple cross-origin POST, a foreign ``Origin``), DNS rebinding (a foreign ``Host`` on every family,
gRPC's ``:authority`` too), and a bind beyond loopback (no Host check there, a warning, a usable URL, a control
token: tests/test_safety_tokens.py has the rest of it).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
import requests
from helpers import read_lines

from mock_server import MockServer
from mock_server.cli import CONTROL_TOKEN_ENV
from mock_server.core.bodies import api_error_body, oauth_error_body
from mock_server.core.config import MockConfig
from mock_server.core.credentials import CONTROL_TOKEN_HEADER
from mock_server.core.data import load_fixtures
from mock_server.core.errors import ConfigError
from mock_server.pipeline.guard import Guard, host_name, is_loopback

FIXTURES = load_fixtures(None)
EVIL = "http://evil.example"
LIST_RPC = "/scalekit.v1.organizations.OrganizationService/ListOrganization"
ORGS = "/api/v1/organizations"


def token_form(mock: MockServer) -> dict[str, str]:
    return {"grant_type": "client_credentials", "client_id": mock.client_id, "client_secret": mock.client_secret}


# -- CSRF: the control plane takes JSON from its own origin only -------------------------------------------


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; "
                                          "boundary=x", None], ids=["text", "form", "multipart", "none"])
def test_control_simple_cross_origin_post_is_415_and_changes_nothing(scalekit_mock: MockServer,
                                                                      content_type: str | None) -> None:
    # Given a mock whose clock was moved, and a fault queued
    scalekit_mock.advance_clock(100)
    scalekit_mock.add_fault("status", endpoint="token", preset="unavailable")
    headers = {"Origin": EVIL, **({"Content-Type": content_type} if content_type else {})}

    # When a page posts what a browser sends without a preflight
    reset = requests.post(f"{scalekit_mock.url}/_mock/reset", data=b'{"x": 1}', headers=headers, timeout=10)
    advance = requests.post(f"{scalekit_mock.url}/_mock/clock/advance", data=b'{"seconds": 5}', headers=headers,
                            timeout=10)

    # Then both are refused, naming the media type expected, and the state is unchanged
    for answer in (reset, advance):
        assert answer.status_code == 415
        assert answer.headers["Content-Type"] == "application/json"
        assert set(answer.json()) == {"error"} and "application/json" in answer.json()["error"]
    assert scalekit_mock.control.clock.offset == 100
    assert len(scalekit_mock.control.list_faults()) == 1


@pytest.mark.parametrize(("method", "path"), [("DELETE", "/_mock/faults"), ("DELETE", "/_mock/journal"),
                                              ("PUT", "/_mock/clients/skc_x"), ("POST", "/_mock/revoke")])
def test_control_state_change_without_json_type_is_415(scalekit_mock: MockServer, method: str, path: str) -> None:
    scalekit_mock.add_fault("status", endpoint="token", preset="unavailable")

    answer = requests.request(method, scalekit_mock.url + path, timeout=10)

    assert answer.status_code == 415 and set(answer.json()) == {"error"}
    assert len(scalekit_mock.control.list_faults()) == 1


@pytest.mark.parametrize("headers", [{"Origin": EVIL}, {"Origin": "null"}, {"Origin": "http://127.0.0.1:1"},
                                     {"Origin": "https://localhost"}, {"Sec-Fetch-Site": "cross-site"}],
                         ids=["foreign", "null", "other-port", "other-scheme", "sec-fetch-site"])
def test_control_json_from_another_origin_is_403(scalekit_mock: MockServer, headers: dict[str, str]) -> None:
    scalekit_mock.advance_clock(100)

    answer = requests.post(f"{scalekit_mock.url}/_mock/reset", json={}, headers=headers, timeout=10)

    assert answer.status_code == 403
    assert set(answer.json()) == {"error"} and "origin" in answer.json()["error"].lower()
    assert scalekit_mock.control.clock.offset == 100


def test_control_json_from_its_own_origin_is_served(scalekit_mock: MockServer) -> None:
    scalekit_mock.advance_clock(100)
    own = [scalekit_mock.url, f"http://localhost:{scalekit_mock.port}", f"http://[::1]:{scalekit_mock.port}"]

    for origin in own:
        answer = requests.post(f"{scalekit_mock.url}/_mock/clock/advance", data=b'{"seconds": 1}', timeout=10,
                               headers={"Origin": origin, "Content-Type": "application/json; charset=utf-8",
                                        "Sec-Fetch-Site": "same-origin"})
        assert answer.status_code == 200, (origin, answer.text)
    reset = requests.post(f"{scalekit_mock.url}/_mock/reset", json={}, headers={"Origin": own[0]}, timeout=10)
    assert reset.status_code == 200 and scalekit_mock.control.clock.offset == 0


def test_control_reads_need_no_content_type(scalekit_mock: MockServer) -> None:
    assert requests.get(f"{scalekit_mock.url}/_mock/state", timeout=10).status_code == 200


# -- DNS rebinding: bound to loopback, only Host values that name the mock ---------------------------------


def _probe(mock: MockServer, family: str, host: str) -> requests.Response:
    headers = {"Host": host}
    if family == "token":
        return requests.post(f"{mock.url}/oauth/token", data=token_form(mock), headers=headers, timeout=10)
    if family == "api":
        return requests.get(mock.url + ORGS, headers=headers, timeout=10)
    return requests.get(f"{mock.url}/_mock/state", headers=headers, timeout=10)


def test_foreign_host_is_421_in_each_family_shape(scalekit_mock: MockServer) -> None:
    # Given a fault queued for every request
    scalekit_mock.add_fault("status", endpoint="any", preset="unavailable")

    token, api, control = (_probe(scalekit_mock, f, "evil.example") for f in ("token", "api", "control"))

    assert (token.status_code, token.json()) == (421, oauth_error_body(FIXTURES, "misdirected"))
    assert token.json()["error"] == "invalid_request" and token.headers["Cache-Control"] == "no-store"
    assert (api.status_code, api.json()) == (421, api_error_body(FIXTURES, "misdirected"))
    assert control.status_code == 421 and set(control.json()) == {"error"}
    assert "--allowed-host" in control.json()["error"]
    # Then nothing reached the pipeline: no journal entry, the fault still queued
    assert scalekit_mock.journal() == []
    assert scalekit_mock.control.list_faults()[0]["remaining"] == 1


def test_foreign_host_cannot_change_the_control_plane(scalekit_mock: MockServer) -> None:
    answer = requests.put(f"{scalekit_mock.url}/_mock/clients/skc_evil", json={"client_secret": "s"},
                          headers={"Host": "evil.example:80"}, timeout=10)

    assert answer.status_code == 421
    assert "skc_evil" not in {c.client_id for c in scalekit_mock.control.clients.all()}


@pytest.mark.parametrize("host", ["localhost", "localhost:{port}", "LOCALHOST:{port}", "127.0.0.1", "127.0.0.2:{port}",
                                  "[::1]", "[::1]:{port}", "127.0.0.1:9999", "app.localhost"])
def test_loopback_host_names_are_served(scalekit_mock: MockServer, host: str) -> None:
    answer = _probe(scalekit_mock, "api", host.format(port=scalekit_mock.port))

    assert answer.status_code == 401  # through to the API: no token


def test_request_without_host_is_served(scalekit_mock: MockServer) -> None:
    # HTTP/1.0 needs no Host, and a browser always sends one: this cannot be a rebinding attack.
    with socket.create_connection(("127.0.0.1", scalekit_mock.port), timeout=10) as sock:
        sock.sendall(b"GET /_mock/state HTTP/1.0\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200") or answer.startswith(b"HTTP/1.0 200"), answer[:100]


@pytest.fixture(scope="module")
def allowing() -> Iterator[MockServer]:
    with MockServer(allowed_hosts=("Evil.Example",), grpc=True) as mock:
        yield mock


@pytest.mark.parametrize("family", ["token", "api", "control"])
def test_allowed_host_is_served(allowing: MockServer, family: str) -> None:
    answer = _probe(allowing, family, f"evil.example:{allowing.port}")

    assert answer.status_code == (401 if family == "api" else 200), answer.text
    assert _probe(allowing, family, "other.example").status_code == 421


def test_allowed_host_is_an_own_origin(allowing: MockServer) -> None:
    answer = requests.post(f"{allowing.url}/_mock/reset", json={}, timeout=10,
                           headers={"Origin": f"http://evil.example:{allowing.port}"})

    assert answer.status_code == 200


# -- gRPC: the same rule on :authority ----------------------------------------------------------------------


def _grpc_error(mock: MockServer, authority: str | None) -> grpc.RpcError:
    options: list[tuple[str, Any]] = [("grpc.default_authority", authority)] if authority else []
    with grpc.insecure_channel(f"127.0.0.1:{mock.port}", options=options) as channel:
        call = channel.unary_unary(LIST_RPC)
        with pytest.raises(grpc.RpcError) as caught:
            call(b"", timeout=10)
    return caught.value


@pytest.fixture(scope="module")
def grpc_mock() -> Iterator[MockServer]:
    with MockServer(grpc=True) as mock:
        yield mock


def test_grpc_foreign_authority_is_permission_denied(grpc_mock: MockServer) -> None:
    error = _grpc_error(grpc_mock, "evil.example")

    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error.details() == FIXTURES.errors["api"]["misdirected"]["message"]
    assert grpc_mock.journal() == []


def test_grpc_own_and_allowed_authorities_are_served(grpc_mock: MockServer, allowing: MockServer) -> None:
    # Through to authentication: no token sent
    assert _grpc_error(grpc_mock, None).code() == grpc.StatusCode.UNAUTHENTICATED
    assert _grpc_error(grpc_mock, f"localhost:{grpc_mock.port}").code() == grpc.StatusCode.UNAUTHENTICATED
    assert _grpc_error(allowing, "evil.example").code() == grpc.StatusCode.UNAUTHENTICATED


# -- beyond loopback: no Host check, a warning, a usable URL -----------------------------------------------


@pytest.mark.slow
def test_serve_on_all_interfaces_warns_prints_a_usable_url_and_a_control_token() -> None:
    # Bound to every interface only for this test's moment; spoken to only on 127.0.0.1.
    command = [sys.executable, "-m", "mock_server.cli", "serve", "--host", "0.0.0.0", "--port", "0", "--quiet"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCALEKIT_")}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    watchdog = threading.Timer(60, process.kill)  # a child that never prints ends the reads below with EOF
    watchdog.start()
    try:
        printed = read_lines(process.stdout, until="# the mock's own endpoints")
        warned = read_lines(process.stderr, until=f"export {CONTROL_TOKEN_ENV}=")
        [url] = [line.strip().partition("=")[2] for line in printed
                 if line.startswith("export SCALEKIT_ENVIRONMENT_URL=")]
        assert url.startswith("http://127.0.0.1:") and not url.endswith(":0"), url
        token = warned[-1].strip().partition("=")[2]
        assert len(token) >= 32 and token not in "".join(printed)
        # The control plane wants the token it printed, and says so in its JSON error shape
        refused = requests.get(f"{url}/_mock/state", timeout=10)
        assert refused.status_code == 401 and set(refused.json()) == {"error"}
        assert CONTROL_TOKEN_HEADER in refused.json()["error"] and token not in refused.text
        # The Host check is off: a LAN or container name is legitimate here
        answer = requests.get(f"{url}/_mock/state", headers={"Host": "mock.lan", CONTROL_TOKEN_HEADER: token},
                              timeout=10)
        assert answer.status_code == 200
        # The CSRF rules still hold; the API needs no control token
        assert requests.post(f"{url}/_mock/reset", data="x", headers={CONTROL_TOKEN_HEADER: token},
                             timeout=10).status_code == 415
        assert requests.get(f"{url}{ORGS}", timeout=10).status_code == 401  # Token empty: the API's own rule
    finally:
        watchdog.cancel()
        process.terminate()
        _, stderr = process.communicate(timeout=10)
    stderr = "".join(warned) + stderr
    assert "WARNING: bound to 0.0.0.0, not loopback" in stderr and "control plane" in stderr, stderr
    assert stderr.count(token) == 1  # printed once, never logged


def test_loopback_serve_prints_no_warning() -> None:
    from mock_server.cli import exposure_warning

    assert exposure_warning(MockConfig(host="127.0.0.1"), 8080) is None
    assert exposure_warning(MockConfig(host="::1"), 8080) is None
    warning = exposure_warning(MockConfig(host="::"), 8080)
    assert warning is not None and "port 8080" in warning and "/_mock/" in warning


@pytest.mark.parametrize(("bind", "host"), [("0.0.0.0", "127.0.0.1"), ("::", "[::1]"), ("::1", "[::1]"),
                                            ("192.0.2.7", "192.0.2.7"), ("localhost", "localhost")])
def test_url_host_of_a_bind_is_connectable(bind: str, host: str) -> None:
    from mock_server.server import url_host

    assert url_host(bind) == host


# -- the rules and the config, without a server ------------------------------------------------------------


@pytest.mark.parametrize(("value", "name"), [("localhost:8080", "localhost"), ("[::1]:80", "::1"), ("::1", "::1"),
                                             ("Mock.Test", "mock.test"), ("[::1", "[::1")])
def test_host_name_drops_the_port(value: str, name: str) -> None:
    assert host_name(value) == name


@pytest.mark.parametrize(("bind", "loopback"), [("127.0.0.1", True), ("127.8.9.10", True), ("::1", True),
                                                ("localhost", True), ("0.0.0.0", False), ("::", False),
                                                ("10.0.0.1", False), ("mock.lan", False)])
def test_is_loopback(bind: str, loopback: bool) -> None:
    assert is_loopback(bind) is loopback


def test_guard_off_beyond_loopback_and_issuer_origin_is_own() -> None:
    guard = Guard.for_server(bind="0.0.0.0", scheme="http", port=8080, issuer="https://mock.example.com")

    assert guard.host_allowed("anything.example")
    assert guard.origin_allowed("https://mock.example.com") and guard.origin_allowed("https://mock.example.com:443")
    assert not guard.origin_allowed("http://mock.example.com:8081")
    assert not guard.origin_allowed("http://0.0.0.0:8080")  # "any address" is no origin


def test_guard_issuer_host_is_answered_on_loopback() -> None:
    guard = Guard.for_server(bind="127.0.0.1", scheme="http", port=8080, issuer="http://mock.test:9000")

    assert guard.host_allowed("mock.test:9000") and guard.host_allowed("mock.test")
    assert not guard.host_allowed("evil.example") and not guard.host_allowed("mock.test.evil.example")


def test_allowed_hosts_from_a_config_file_and_the_flag(tmp_path: Any) -> None:
    from mock_server.cli import build_parser, serve_config

    config_file = tmp_path / "mock.json"
    config_file.write_text('{"allowed_hosts": ["mock.test", "[::2]"]}', encoding="utf-8")
    args = build_parser().parse_args(["serve", "--config", str(config_file), "--allowed-host", "Other.Test"])

    assert serve_config(args, {}).allowed_hosts == ("mock.test", "::2", "other.test")


@pytest.mark.parametrize("value", [["http://mock.test"], ["mock.test:8080"], ["mock.test/x"], [""], ["a b"], "mock"])
def test_bad_allowed_hosts_are_refused(value: Any) -> None:
    with pytest.raises(ConfigError, match="allowed"):
        MockConfig.from_mapping({"allowed_hosts": value}, MockConfig())
