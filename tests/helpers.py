"""Small helpers shared by the project's tests: HTTP to a MockServer on 127.0.0.1, and a child process's output."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import IO, Any

import requests

from mock_server import MockServer

ORGS = "/api/v1/organizations"


def token_response(server: MockServer, client_id: str | None = None, secret: str | None = None,
                   **extra: str) -> requests.Response:
    """POST /oauth/token with the given (default: the server's default) credentials."""
    data = {"grant_type": "client_credentials", "client_id": client_id or server.client_id,
            "client_secret": secret or server.client_secret, **extra}
    return requests.post(server.url + "/oauth/token", data=data, timeout=10)


def get_token(server: MockServer, client_id: str | None = None, secret: str | None = None) -> str:
    """A fresh access token (the request must succeed)."""
    response = token_response(server, client_id, secret)
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def call_api(server: MockServer, token: str, path: str = ORGS, **kwargs: Any) -> requests.Response:
    """GET an API path with the token as bearer (``kwargs`` go to ``requests.get``, e.g. ``params``)."""
    return requests.get(server.url + path, headers={"Authorization": f"Bearer {token}"}, timeout=10, **kwargs)


def wait_until(condition: Callable[[], bool], seconds: float, every: float = 0.01) -> None:
    """Poll, bounded, until the state a test needs shows (no sleep standing in for an event)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {seconds} s")
        time.sleep(every)


def read_lines(stream: IO[str] | None, until: str) -> list[str]:
    """A child's lines up to and including the first that starts with ``until`` (an error if the stream ends
    first; bound the wait with a watchdog that kills the child)."""
    assert stream is not None
    lines: list[str] = []
    while not lines or not lines[-1].startswith(until):
        line = stream.readline()
        if not line:
            raise AssertionError(f"the child ended before a line starting {until!r}: {lines}")
        lines.append(line)
    return lines
