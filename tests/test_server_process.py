"""The server as a process, in every mode (plain, ``grpc``, ``tls``; uvicorn in all).

What only a process shows: the descriptors and memory of connections a client closed come back, and SIGTERM
stops the server promptly while hung requests hold every worker. Bounded in count and time, loopback only.
"""

from __future__ import annotations

import concurrent.futures
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from helpers import wait_until

MODES = {"plain": [], "grpc": ["--grpc"], "tls": ["--tls"]}
CONNECTIONS, WARM_UP, HUNG, WORKERS = 3000, 300, 50, 8
FD_SLACK, RSS_SLACK_KIB = 8, 16 * 1024  # what a leak would blow past: hypercorn held ~200 KB per closed TLS connection


@dataclass
class Served:
    process: subprocess.Popen[str]
    url: str
    ca_file: str | None

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def http(self, timeout: float = 10) -> httpx.Client:
        verify = ssl.create_default_context(cafile=self.ca_file) if self.ca_file else True
        return httpx.Client(base_url=self.url, verify=verify, timeout=timeout)

    def descriptors(self) -> int:
        return len(os.listdir(f"/proc/{self.process.pid}/fd"))

    def rss_kib(self) -> int:
        with open(f"/proc/{self.process.pid}/status") as status:
            line = next(line for line in status if line.startswith("VmRSS:"))
        return int(line.split()[1])


@pytest.fixture(params=list(MODES))
def served(request: pytest.FixtureRequest) -> Iterator[Served]:
    command = [sys.executable, "-m", "mock_server.cli", "serve", "--port", "0", "--quiet", "--threads", str(WORKERS),
               *MODES[request.param]]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        exports = {}
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("export "):
                name, _, value = line.removeprefix("export ").strip().partition("=")
                exports[name] = value
            if line.startswith("# the mock's own endpoints"):
                break
        yield Served(process, exports["SCALEKIT_ENVIRONMENT_URL"], exports.get("SSL_CERT_FILE"))
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)


def _one_request_per_connection(served: Served, count: int) -> None:
    """``count`` keep-alive connections, each sending one request, reading its answer and closing (8 at a time)."""
    context = ssl.create_default_context(cafile=served.ca_file) if served.ca_file else None
    request = b"GET /.well-known/jwks.json HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n"

    def one(_: int) -> None:
        raw = socket.create_connection(("127.0.0.1", served.port), timeout=10)
        with context.wrap_socket(raw, server_hostname="127.0.0.1") if context else raw as conn:
            conn.sendall(request)
            assert conn.recv(65536).startswith(b"HTTP/1.1 200")

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(one, range(count)))


def test_closed_connections_give_their_descriptors_and_memory_back(served: Served) -> None:
    # Given a warmed-up server (its pools, caches and allocator arenas filled)
    _one_request_per_connection(served, WARM_UP)
    wait_until(lambda: served.descriptors() <= _settled(served), 10)
    fds, rss = served.descriptors(), served.rss_kib()
    # When 3,000 more clients each open a keep-alive connection, make a request and close it
    _one_request_per_connection(served, CONNECTIONS)
    # Then the server lets go of every one of them
    wait_until(lambda: served.descriptors() <= fds + FD_SLACK, 10)
    grown = served.rss_kib() - rss
    assert grown <= RSS_SLACK_KIB, f"RSS grew {grown} KiB over {CONNECTIONS} closed connections"


def _settled(served: Served) -> int:
    """The descriptor count once closed connections are gone: what it is now, unless it keeps falling."""
    before = served.descriptors()
    time.sleep(0.2)  # not standing in for an event: sampling a count the server gives no signal for
    return min(before, served.descriptors())


def test_sigterm_stops_the_server_within_two_seconds_while_requests_hang(served: Served) -> None:
    # Given 50 hang faults taken by 50 requests: more than every worker the data plane has
    with served.http() as control:
        assert control.post("/_mock/faults", json={"kind": "hang", "endpoint": "token", "count": HUNG,
                                                  "seconds": 120}).status_code in (200, 201)
    with concurrent.futures.ThreadPoolExecutor(max_workers=HUNG) as pool:
        hung = [pool.submit(_hang_one, served) for _ in range(HUNG)]
        wait_until(lambda: _pending(served) <= HUNG - WORKERS, 20)  # every worker holds a hung request
        # When the server gets SIGTERM
        started = time.monotonic()
        served.process.send_signal(signal.SIGTERM)
        served.process.wait(10)
        stopped_in = time.monotonic() - started
        # Then it exits within 2 s, and every hung client sees its connection end (none waits for its timeout)
        done, not_done = concurrent.futures.wait(hung, timeout=5)
    assert stopped_in <= 2, f"SIGTERM took {stopped_in:.1f} s"
    assert served.process.returncode == 0
    assert not not_done, f"{len(not_done)} client(s) still waiting after the server stopped"
    assert {f.result() for f in done} <= {"closed", 503}, [f.result() for f in done]


def _hang_one(served: Served) -> int | str:
    with served.http(timeout=15) as http:
        try:
            answer = http.post("/oauth/token", data={"grant_type": "client_credentials",
                                                     "client_id": "x", "client_secret": "y"})
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.ConnectError):
            return "closed"
        return answer.status_code


def _pending(served: Served) -> int:
    with served.http(timeout=5) as control:
        faults = control.get("/_mock/faults").json()["faults"]
    return sum(f["remaining"] for f in faults)
