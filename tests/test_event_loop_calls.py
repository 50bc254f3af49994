"""API calls answered on the server's event loop: only while nothing can make them wait.

A thread hop costs more than a protected call's own work, so the dispatcher (``servers/asgi.py``) answers an API
call on its event loop when ``JournalMiddleware.computes_only`` says it is computation only, and from its thread
pool otherwise. These tests pin down both: each condition that may make a call wait sends it to the pool, and a
plain call is answered on the loop, with the same answer.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from helpers import ORGS, call_api, get_token

from mock_server import MockServer
from mock_server.cli import RequestLog
from mock_server.faces import wsgi as rest_face

POOL = "scalekit-mock-asgi"  # the dispatcher's pool threads are named after it


@pytest.fixture
def mock() -> Iterator[MockServer]:
    server = MockServer().start()
    yield server
    server.stop()


@pytest.fixture
def threads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the threads the protected API's endpoint ran on, in order."""
    seen: list[str] = []
    endpoint = rest_face.api_endpoint

    def recorded(*args: object) -> object:
        seen.append(threading.current_thread().name)
        return endpoint(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(rest_face, "api_endpoint", recorded)
    return seen


def loaded(mock: MockServer) -> str:
    """A token, after the first API call has loaded the published document and the store."""
    token = get_token(mock)
    assert call_api(mock, token).status_code == 200
    assert mock.control.resources.loaded
    return token


def test_a_plain_call_is_answered_on_the_event_loop_once_the_resources_are_loaded(
        mock: MockServer, threads: list[str]) -> None:
    token = get_token(mock)
    first = call_api(mock, token)
    second = call_api(mock, token)

    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert threads[0].startswith(POOL)  # the first call loads the document: longer than the loop may wait
    assert not threads[1].startswith(POOL)


def test_a_queued_fault_sends_calls_to_the_pool_until_it_is_taken(mock: MockServer, threads: list[str]) -> None:
    token = loaded(mock)
    mock.add_fault("status", endpoint="api", status=503, count=1)

    assert call_api(mock, token).status_code == 503
    assert call_api(mock, token).status_code == 200

    assert threads[-2].startswith(POOL)  # it might have been a delay or a hang
    assert not threads[-1].startswith(POOL)


def test_a_blocking_fault_queued_meanwhile_is_left_for_a_call_from_the_pool(mock: MockServer) -> None:
    """The race the check cannot close: a fault queued between ``computes_only`` and the call's own turn. On the
    loop (``may_block=False``) a hang is never taken; the next call, from the pool, takes it."""
    token = loaded(mock)
    request = rest_face.Request("GET", ORGS, headers=(("authorization", f"Bearer {token}"),
                                                      ("host", f"127.0.0.1:{mock.port}")))
    mock.add_fault("hang", endpoint="api", seconds=0.01)

    reply = mock.app.wsgi_app.serve(request, "api", may_block=False)

    assert reply.status == 200
    assert [f["kind"] for f in mock.control.list_faults()] == ["hang"]


def test_each_condition_that_may_make_a_call_wait_keeps_it_off_the_loop(
        mock: MockServer, monkeypatch: pytest.MonkeyPatch) -> None:
    loaded(mock)
    middleware = mock.app.wsgi_app
    assert middleware.computes_only("GET") and middleware.computes_only("POST")

    mock.add_fault("forbidden", endpoint="api")
    assert not middleware.computes_only("GET")
    mock.clear_faults()

    monkeypatch.setattr(middleware.pipeline, "log", lambda entry: None)  # a request log: its pipe may be full
    assert not middleware.computes_only("GET")
    request_log = RequestLog()  # serve's: it writes from a thread of its own, and never blocks
    monkeypatch.setattr(middleware.pipeline, "log", request_log)
    assert middleware.computes_only("GET")
    request_log.close()
    monkeypatch.undo()

    # A shared state: a write goes through Redis and waits for every process, a read is this process's own; a
    # rate limit counts each request through Redis.
    monkeypatch.setattr(mock.control.backend, "shared", True)
    assert middleware.computes_only("GET")
    assert not middleware.computes_only("POST") and not middleware.computes_only("DELETE")
    mock.set_rate_limit(100)
    assert not middleware.computes_only("GET")


def test_before_the_resources_load_nothing_is_computation_only() -> None:
    mock = MockServer()  # never started, never called: the published document is not read yet
    assert not mock.app.wsgi_app.computes_only("GET")
