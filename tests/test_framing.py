"""Requests framed twice: Content-Length and Transfer-Encoding together get 400 and a closed connection.

RFC 9112 6.1: a server MAY reject such a request, and MUST close the connection after answering it, since a
proxy in front of the server may have framed it the other way (request smuggling). The mock's server (uvicorn's
zttp parser) does both in every mode, with a body in the shape of the endpoint family's errors.
"""

from __future__ import annotations

import json
import socket
import ssl
from collections.abc import Iterator

import pytest

from mock_server import MockServer

MODES = {"plain": {}, "grpc": {"grpc": True}, "tls": {"tls": True}}
SMUGGLED = (b"POST /oauth/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")


@pytest.fixture(scope="module", params=list(MODES))
def mock(request: pytest.FixtureRequest) -> Iterator[MockServer]:
    with MockServer(**MODES[request.param]) as server:
        yield server


def _connect(mock: MockServer) -> socket.socket:
    raw = socket.create_connection(("127.0.0.1", mock.port), timeout=5)
    if mock.ca_file is None:
        return raw
    context = ssl.create_default_context(cafile=mock.ca_file)
    context.set_alpn_protocols(["http/1.1"])
    return context.wrap_socket(raw, server_hostname="127.0.0.1")


def _read_until_closed(conn: socket.socket) -> tuple[bytes, bool]:
    """Everything the server sends, and whether it closed the connection (rather than leaving it open)."""
    data = b""
    try:
        while chunk := conn.recv(65536):
            data += chunk
    except TimeoutError:
        return data, False
    return data, True


@pytest.mark.parametrize("twice", [SMUGGLED, SMUGGLED.replace(b"Transfer-Encoding", b"transfer-encoding")],
                         ids=["canonical", "lower-case"])
def test_content_length_with_transfer_encoding_is_400_and_closes(mock: MockServer, twice: bytes) -> None:
    with _connect(mock) as conn:
        conn.sendall(twice)
        data, closed = _read_until_closed(conn)
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.split(b" ", 2)[1] == b"400", data[:300]
    assert json.loads(body)["error"] == "invalid_request"  # the token endpoint's body shape
    assert closed, "the connection must be closed after a request framed twice"
    assert mock.journal() == []  # refused before it reached an endpoint


def _read_answer(conn: socket.socket) -> bytes:
    """One whole answer (its head and Content-Length body) from a kept-alive connection."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    while len(body) < length:
        body += conn.recv(65536)
    return head


def test_a_request_framed_once_keeps_its_connection(mock: MockServer) -> None:
    form = b"grant_type=client_credentials"
    request = (b"POST /oauth/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
               b"Content-Length: " + str(len(form)).encode() + b"\r\n\r\n" + form)
    with _connect(mock) as conn:
        # The same connection answers twice: invalid_request (no credentials) does not close it
        for _ in range(2):
            conn.sendall(request)
            assert _read_answer(conn).split(b" ", 2)[1] == b"400"
