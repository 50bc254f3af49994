"""The server with ``--tls`` and ``--grpc``: HTTPS with a throwaway CA, HTTP/2, and REST served as in plain mode."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import httpx
import pytest

from mock_server import MockConfig, MockServer
from mock_server.core.errors import ConfigError
from mock_server.servers.tls import TRUST_VARIABLES, given_files

FORM = {"grant_type": "client_credentials"}


@pytest.fixture(scope="module")
def tls_server() -> Iterator[MockServer]:
    with MockServer(tls=True, grpc=True) as mock:
        yield mock


@pytest.fixture
def mock(tls_server: MockServer) -> Iterator[MockServer]:
    tls_server.reset()
    yield tls_server
    tls_server.check()


def token(mock: MockServer, client: httpx.Client) -> str:
    answer = client.post(mock.url + "/oauth/token", data={**FORM, "client_id": mock.client_id,
                                                          "client_secret": mock.client_secret})
    assert answer.status_code == 200, answer.text
    value: str = answer.json()["access_token"]
    return value


@pytest.mark.parametrize("http2", [False, True], ids=["http/1.1", "h2"])
def test_https_with_the_throwaway_ca(mock: MockServer, http2: bool) -> None:
    assert mock.url.startswith("https://127.0.0.1:") and mock.ca_file is not None
    with httpx.Client(verify=ssl.create_default_context(cafile=mock.ca_file), http2=http2, timeout=10) as client:
        bearer = token(mock, client)
        answer = client.get(mock.url + "/api/v1/organizations", headers={"Authorization": f"Bearer {bearer}"})
        assert answer.status_code == 200 and answer.http_version == ("HTTP/2" if http2 else "HTTP/1.1")
        assert answer.json()["total_size"] == 25
    assert json.loads(_claims(bearer))["iss"] == mock.url
    assert [e["transport"] for e in mock.journal()] == ["http", "http"]


def _claims(jwt: str) -> str:
    import base64

    part = jwt.split(".")[1]
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)).decode()


def test_clients_that_do_not_trust_the_ca_are_refused(mock: MockServer) -> None:
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(mock.url + "/keys", verify=ssl.create_default_context(), timeout=10)


def test_trust_env_names_the_ca_for_every_stack(mock: MockServer) -> None:
    assert mock.trust_env == dict.fromkeys(TRUST_VARIABLES, mock.ca_file)
    assert set(TRUST_VARIABLES) == {"SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH",
                                    "NODE_EXTRA_CA_CERTS", "CURL_CA_BUNDLE"}
    assert MockServer().trust_env == {} and MockServer().ca_file is None


def test_errors_and_faults_over_the_h2_server(mock: MockServer) -> None:
    with httpx.Client(verify=ssl.create_default_context(cafile=mock.ca_file), timeout=10) as client:
        assert client.get(mock.url + "/api/v1/organizations").json()["message"] == "Token empty"
        assert client.get(mock.url + "/nope").status_code == 404
        assert client.delete(mock.url + "/oauth/token").status_code == 405
        big = client.post(mock.url + "/oauth/token", content=b"x" * 70_000,
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert big.status_code == 413 and big.json()["error"] == "invalid_request"
        mock.add_fault("status", endpoint="token", preset="unavailable")
        assert client.post(mock.url + "/oauth/token", data=FORM).status_code == 503
        mock.add_fault("drop", endpoint="token")
        with pytest.raises(httpx.TransportError):
            client.post(mock.url + "/oauth/token", data=FORM)
    with httpx.Client(verify=ssl.create_default_context(cafile=mock.ca_file), timeout=10) as client:
        token(mock, client)  # still serving
    assert [e["outcome"] for e in mock.journal(endpoint="token")][-2:] == ["drop", "issued"]


def test_the_throwaway_files_go_away_with_the_server() -> None:
    mock = MockServer(tls=True).start()
    ca = Path(mock.ca_file or "")
    assert ca.is_file() and (ca.parent / "server-key.pem").stat().st_mode & 0o077 == 0
    mock.stop()
    assert not ca.parent.exists()


def test_given_certificate_files_are_served(tmp_path: Path) -> None:
    with MockServer(tls=True) as first:
        cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
        assert first.tls is not None
        cert.write_bytes(Path(first.tls.cert_file).read_bytes())
        key.write_bytes(Path(first.tls.key_file).read_bytes())
        ca = tmp_path / "ca.pem"
        ca.write_bytes(Path(first.ca_file or "").read_bytes())
    with MockServer(tls_cert=str(cert), tls_key=str(key)) as mock:
        assert mock.url.startswith("https://")
        answer = httpx.get(mock.url + "/keys", verify=ssl.create_default_context(cafile=str(ca)), timeout=10)
        assert answer.status_code == 200
    assert cert.exists()  # given files are the user's: not deleted


def test_given_files_that_are_not_a_certificate_and_its_key_fail_at_start(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a certificate and the key of another certificate, and a "certificate" that is no PEM at all
    with MockServer(tls=True) as one, MockServer(tls=True) as other:
        assert one.tls is not None and other.tls is not None
        cert, key, junk = tmp_path / "cert.pem", tmp_path / "other-key.pem", tmp_path / "junk.pem"
        cert.write_bytes(Path(one.tls.cert_file).read_bytes())
        key.write_bytes(Path(other.tls.key_file).read_bytes())
        junk.write_text("not a certificate\n")
    # Then starting with either is refused with a clear message, before anything listens
    for pair in ((cert, key), (junk, key)):
        with pytest.raises(ConfigError, match="cannot serve TLS with certificate"):
            MockServer(tls_cert=str(pair[0]), tls_key=str(pair[1])).start()
    # And files named relatively are exported absolute: a client may run from another directory
    monkeypatch.chdir(tmp_path)
    with MockServer(tls=True) as source:
        assert source.tls is not None
        Path("c.pem").write_bytes(Path(source.tls.cert_file).read_bytes())
        Path("k.pem").write_bytes(Path(source.tls.key_file).read_bytes())
    files = given_files("c.pem", "k.pem")
    assert files.ca_file == str(tmp_path.resolve() / "c.pem") and Path(files.key_file).is_absolute()


def test_tls_config_is_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="go together"):
        MockConfig(tls_cert="cert.pem")
    with pytest.raises(ConfigError, match="does not exist"):
        given_files(str(tmp_path / "missing.pem"), str(tmp_path / "missing-key.pem"))
    with pytest.raises(ConfigError, match="proxy mode"):
        MockConfig(grpc=True, upstream="https://acme.scalekit.dev")
    assert MockConfig(tls_cert="c", tls_key="k").tls and not MockConfig().tls


def test_serve_prints_the_trust_exports() -> None:
    process = subprocess.Popen([sys.executable, "-m", "mock_server.cli", "serve", "--port", "0", "--tls", "--grpc",
                                "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline()]
        while lines[-1] and not lines[-1].startswith("# the mock's own endpoints"):
            lines.append(process.stdout.readline())
    finally:
        process.terminate()
        process.wait(10)
    assert "with the gRPC face" in lines[0]
    exports = dict(line.removeprefix("export ").strip().split("=", 1) for line in lines if line.startswith("export"))
    assert exports["SCALEKIT_ENVIRONMENT_URL"].startswith("https://127.0.0.1:")
    assert {exports[name] for name in TRUST_VARIABLES} == {exports["SSL_CERT_FILE"]}
    assert exports["SSL_CERT_FILE"].endswith("ca.pem")
    assert process.returncode == 0


def test_a_bodiless_http2_request_is_answered_over_h2c() -> None:
    """zttp 0.0.35 never ends the body of an HTTP/2 request without one (servers/uvicorn_server.py fixes it): a GET over
    h2c or h2 would wait forever. Over TLS, test_https_with_the_throwaway_ca covers it."""
    with MockServer(grpc=True) as plain, httpx.Client(http1=False, http2=True, timeout=5) as client:
        answer = client.get(plain.url + "/.well-known/jwks.json")
        assert answer.status_code == 200 and answer.http_version == "HTTP/2" and answer.json()["keys"]
        answer = client.head(plain.url + "/.well-known/jwks.json")
        assert answer.status_code in (200, 405) and answer.http_version == "HTTP/2"


def test_an_http2_connections_writes_of_one_loop_turn_go_out_together() -> None:
    """uvicorn writes each response's head, body and trailers as they come; the mock's HTTP/2 connections send what
    was written in one turn of the event loop in one piece, in order, and a close sends it before closing."""
    import asyncio

    from mock_server.servers.uvicorn_server import _BatchedWrites

    class Transport:
        def __init__(self) -> None:
            self.writes: list[bytes] = []
            self.closed = False

        def write(self, data: bytes) -> None:
            self.writes.append(data)

        def is_closing(self) -> bool:
            return self.closed

        def close(self) -> None:
            self.closed = True

        def get_extra_info(self, name: str) -> str:
            return f"the transport's {name}"

    async def scenario() -> None:
        sent = Transport()
        batched = _BatchedWrites(cast("asyncio.Transport", sent), asyncio.get_running_loop())
        batched.write(b"head,")
        batched.writelines([b"body,", b"trailers"])
        assert sent.writes == []
        await asyncio.sleep(0)
        assert sent.writes == [b"head,body,trailers"]
        batched.write(b"goaway")
        batched.close()
        assert sent.writes[-1] == b"goaway" and sent.closed
        assert batched.get_extra_info("peername") == "the transport's peername"

    asyncio.run(scenario())


def test_only_the_servers_chatter_is_silenced() -> None:
    import logging

    from mock_server.servers.uvicorn_server import _ServerNoise

    def record(message: str) -> logging.LogRecord:
        return logging.LogRecord("uvicorn.error", logging.ERROR, __file__, 1, message, None, None)

    noise = _ServerNoise()
    assert not noise.filter(record("ASGI callable returned without completing response."))
    assert not noise.filter(record("Uvicorn running on %s://%s:%d (Press CTRL+C to quit)"))
    assert noise.filter(record("Exception in ASGI application\n"))  # a real failure is still seen


def test_only_the_mocks_own_dead_socket_writes_are_silenced() -> None:
    import logging

    from mock_server.servers.uvicorn_server import THREAD_PREFIX, _OwnConnectionNoise

    def record(thread: str, message: str) -> logging.LogRecord:
        entry = logging.LogRecord("asyncio", logging.WARNING, __file__, 1, message, None, None)
        entry.threadName = thread
        return entry

    noise = _OwnConnectionNoise()
    assert not noise.filter(record(f"{THREAD_PREFIX}:8080", "socket.send() raised exception."))
    assert noise.filter(record(f"{THREAD_PREFIX}:8080", "Task was destroyed but it is pending!"))
    assert noise.filter(record("MainThread", "socket.send() raised exception."))  # the application's own
