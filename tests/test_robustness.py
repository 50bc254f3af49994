"""Hostile and heavy use on 127.0.0.1, against every server mode: plain, ``grpc`` and ``tls`` (all uvicorn).

Each test is bounded in count and time and talks only to the loopback: idle and half-sent connections must
not lock normal clients out, and hung requests filling every worker must not keep the control plane from
answering (and from releasing them).
"""

from __future__ import annotations

import concurrent.futures
import resource
import socket
import ssl
import time
from collections.abc import Iterator

import httpx
import pytest
from helpers import wait_until

from mock_server import MockServer

MODES = {"plain": {}, "grpc": {"grpc": True}, "tls": {"tls": True}}
IDLE, SLOW, HUNG = 500, 100, 50


@pytest.fixture(scope="module", autouse=True)
def enough_descriptors() -> Iterator[None]:
    """Both ends of every connection live in this process: raise the soft descriptor limit where it is low."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 4 * (IDLE + SLOW + HUNG) + 512
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))
    if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < wanted:
        pytest.skip(f"needs {wanted} file descriptors; the hard limit is {hard}")
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.fixture(params=list(MODES))
def mock(request: pytest.FixtureRequest) -> Iterator[MockServer]:
    with MockServer(**MODES[request.param]) as server:
        yield server


def client(mock: MockServer, timeout: float = 10) -> httpx.Client:
    verify = ssl.create_default_context(cafile=mock.ca_file) if mock.ca_file else True
    return httpx.Client(base_url=mock.url, verify=verify, timeout=timeout)


def token_request(http: httpx.Client, mock: MockServer) -> httpx.Response:
    return http.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": mock.client_id,
                                           "client_secret": mock.client_secret})


def test_idle_and_half_sent_connections_do_not_lock_clients_out(mock: MockServer) -> None:
    # Given 500 connections that send nothing and 100 that stopped half-way through their headers
    idle = [socket.create_connection(("127.0.0.1", mock.port), timeout=5) for _ in range(IDLE)]
    slow = [socket.create_connection(("127.0.0.1", mock.port), timeout=5) for _ in range(SLOW)]
    try:
        for sock in slow:
            sock.sendall(b"GET /_mock/state HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        # When normal clients come, each on its own connection
        answers = []
        for _ in range(20):
            with client(mock) as http:
                answers.append(token_request(http, mock).status_code)
        # Then every one is answered
        assert answers == [200] * 20
    finally:
        for sock in idle + slow:
            sock.close()


def test_hung_requests_filling_every_worker_leave_the_control_plane_answering(mock: MockServer) -> None:
    # Given 50 hang faults and 50 requests taking them: more than every worker the data plane has
    mock.add_fault("hang", endpoint="token", count=HUNG, seconds=120)
    with concurrent.futures.ThreadPoolExecutor(max_workers=HUNG) as pool:
        hung = [pool.submit(_hang_one, mock) for _ in range(HUNG)]
        workers = mock.config.threads
        wait_until(lambda: _pending_faults(mock) <= HUNG - workers, 20)  # every worker holds a hung request
        # When the control plane is asked for its state, and then to reset, while they hang
        started = time.monotonic()
        with client(mock, timeout=5) as control:
            assert control.get("/_mock/state").status_code == 200
            assert control.post("/_mock/reset", json={}).status_code == 200
        answered_in = time.monotonic() - started
        # Then it answered at once, and the reset released every hung request
        done, not_done = concurrent.futures.wait(hung, timeout=30)
    assert answered_in < 5, f"the control plane took {answered_in:.1f} s behind hung requests"
    assert not not_done, f"{len(not_done)} request(s) still hung after the reset"
    assert all(f.result() in ("dropped", 200) for f in done), [f.result() for f in done]


def _hang_one(mock: MockServer) -> int | str:
    with client(mock, timeout=60) as http:
        try:
            return token_request(http, mock).status_code  # served after the reset: no fault left
        except (httpx.RemoteProtocolError, httpx.ReadError):
            return "dropped"  # a hang ends with the connection closed


def _pending_faults(mock: MockServer) -> int:
    return sum(f["remaining"] for f in mock.control.list_faults())
