"""The mock in a child process: the entry points run by ``python -c``, and the requests sent to the served mock."""

from __future__ import annotations

import http.client
import json
import select
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import urlencode

from ..server import MockServer
from ..servers.uvicorn_server import Listener
from .report import BenchError, Request

FORM = "application/x-www-form-urlencoded"
SERVE_CHILD = "from mock_server.bench.children import _serve_child; _serve_child()"
START_CHILD = "from mock_server.bench.children import _start_child; _start_child()"
IMPORT_CHILD = "import time; t = time.perf_counter(); import mock_server; print(time.perf_counter() - t)"
FLOOR_CHILD = "import sys, mock_server; print('imported', flush=True); sys.stdin.read()"
CLI_CHILD = "import sys; from mock_server.cli import main; sys.exit(main(sys.argv[1:]))"


def _serve_child() -> None:
    """Child entry: a default mock on the port in argv (0: any), with the gRPC face when argv[2] is ``grpc``;
    prints its port, stops when stdin closes."""
    server = MockServer(port=int(sys.argv[1]), grpc=sys.argv[2:3] == ["grpc"]).start()
    print(server.port, flush=True)
    sys.stdin.read()
    server.stop()


@dataclass(frozen=True)
class ServedMock:
    pid: int
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def end_process(proc: subprocess.Popen[bytes]) -> None:
    """Close the child's stdin (it stops on that), then terminate it, then kill it."""
    steps: list[Callable[[], object]] = [proc.stdin.close if proc.stdin else proc.poll, proc.terminate, proc.kill]
    for step in steps:
        step()
        try:
            proc.wait(10)
            return
        except subprocess.TimeoutExpired:
            continue


def _read_port(proc: subprocess.Popen[bytes], errors: IO[bytes]) -> int:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 60)
    line = proc.stdout.readline().strip() if ready else b""
    if not line.isdigit():
        errors.seek(0)
        raise BenchError(f"the mock did not start: {errors.read()[-2000:].decode(errors='replace')}")
    return int(line)


@contextmanager
def served_mock(grpc: bool = False) -> Iterator[ServedMock]:
    """A default mock in its own process, so the load generator never shares its GIL (``grpc``: with the
    gRPC face on)."""
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen([sys.executable, "-c", SERVE_CHILD, "0", *(["grpc"] if grpc else [])],
                                stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=errors)
        try:
            yield ServedMock(proc.pid, _read_port(proc, errors))
        finally:
            end_process(proc)


def send(port: int, r: Request, timeout: float = 10.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(r.method, r.path, body=r.body or None, headers=r.headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def token_request(mock: MockServer) -> Request:
    body = urlencode({"grant_type": "client_credentials", "client_id": mock.client_id,
                      "client_secret": mock.client_secret})
    return Request("POST", "/oauth/token", {"Content-Type": FORM}, body)


def plans(port: int) -> dict[str, list[Request]]:
    """The benchmark's requests, from the fixtures: each is checked to answer 200 first."""
    mock = MockServer()  # never started: it only tells the default client, routes and organizations
    token = token_request(mock)
    status, body = send(port, token)
    if status != 200:
        raise BenchError(f"the token request got {status}: {body[:300]!r}")
    org = mock.control.fixtures.resources["seed"]["organizationsOrganization"][0]["id"]
    route = mock.control.routes.by_rpc("scalekit.v1.organizations.OrganizationService/GetOrganization")
    assert route is not None
    bearer = {"Authorization": f"Bearer {json.loads(body)['access_token']}"}
    protected = Request("GET", route.row.template.replace("{id}", org), bearer)
    opened = next(r for r in mock.control.routes.routes
                  if r.policy == "none" and r.row.method == "GET" and "{" not in r.row.template)
    unauthenticated = Request("GET", opened.row.template)
    for r in (protected, unauthenticated):
        status, body = send(port, r)
        if status != 200:
            raise BenchError(f"{r.method} {r.path} got {status}: {body[:300]!r}")
    return {"token": [token], "protected": [protected], "open": [unauthenticated],
            "mixed": [token, protected, unauthenticated]}


# -- start times, measured in a fresh child process -----------------------------------------------
async def _hello(scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


def _first_answer(port: int) -> None:
    """One GET answered on a new connection: a server counts as started when it has served. The discovery
    document, not the keys: the process's signing key is made on first need (a token or the JWKS), a cost the
    "launch to first token" figure holds."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(b"GET /.well-known/openid-configuration HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        if not conn.recv(64).startswith(b"HTTP/1.1 200"):
            raise BenchError("the first request after start was not answered 200")


def _bare_start() -> float:
    """The floor under ``MockServer.start``: the mock's server (uvicorn in a thread) for a trivial ASGI app,
    from start to its first answer."""
    began = time.perf_counter()
    server = Listener(_hello, "127.0.0.1", 0, None)
    server.start()
    _first_answer(server.port)
    elapsed = time.perf_counter() - began
    server.stop()
    return elapsed


def _mock_start() -> float:
    began = time.perf_counter()
    server = MockServer().start()
    _first_answer(server.port)
    elapsed = time.perf_counter() - began
    server.stop()
    return elapsed


def _start_child() -> None:
    """Child entry: the first ``MockServer().start()`` of the process, the median of later ones, and
    the median bare start, each to its first answer, in ms, as JSON."""
    count = int(sys.argv[1])
    cold = _mock_start()
    warm = [_mock_start() for _ in range(count)]
    bare = [_bare_start() for _ in range(count)]
    print(json.dumps({"cold": cold * 1000, "warm": statistics.median(warm) * 1000,
                      "bare": statistics.median(bare) * 1000}))


def child_output(code: str, *args: str) -> str:
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise BenchError(f"a measuring child process failed: {done.stderr[-2000:]}")
    return done.stdout
