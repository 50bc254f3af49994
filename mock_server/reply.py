"""Requests and replies of the hot endpoints (token and API), without Flask, and the one error renderer.

The token endpoint and the protected API are served straight from the WSGI layer: they are what
clients hit thousands of times, and Flask's per-request machinery would cost more than the work
itself. Everything else (discovery, keys, the control plane) is Flask. Both use ``error_reply``,
so every error body comes from one place.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from .bodies import api_error_body, oauth_error_body
from .data import Fixtures
from .errors import ApiError, HttpError, OAuthError
from .journal import JournalEntry

MAX_BODY_BYTES = 64 * 1024
NO_STORE = (("Cache-Control", "no-store"), ("Pragma", "no-cache"))


@dataclass
class Reply:
    """A response to send: status, headers and the encoded body."""

    status: int
    body: bytes
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)


def json_reply(payload: Any, status: int = 200, headers: Any = ()) -> Reply:
    return Reply(status, json.dumps(payload, separators=(",", ":")).encode(), headers=list(headers))


def error_reply(fixtures: Fixtures, error: HttpError, entry: JournalEntry | None) -> Reply:
    """The one renderer of every endpoint error body, from ``fixtures/errors.json``."""
    if isinstance(error, OAuthError):
        status = error.status or fixtures.errors["oauth"][error.key]["status"]
        body = oauth_error_body(fixtures, error.key)
        headers = [*NO_STORE, *error.headers.items()]
    else:
        assert isinstance(error, ApiError)
        status = error.status or fixtures.errors["api"][error.key]["status"]
        body = api_error_body(fixtures, error.key)
        headers = list(error.headers.items())
    if entry is not None:
        entry.outcome = error.key
        if error.detail:
            entry.extra["detail"] = error.detail
    return json_reply(body, status, headers)


class Request:
    """The little of a WSGI request the hot endpoints need."""

    def __init__(self, environ: dict[str, Any]) -> None:
        self.environ = environ
        self.method: str = environ.get("REQUEST_METHOD", "GET")
        self.path: str = environ.get("PATH_INFO", "") or "/"
        self._args: dict[str, str] | None = None

    def header(self, name: str) -> str:
        """A request header (``Authorization`` → ``HTTP_AUTHORIZATION``), or ``""``."""
        value: str = self.environ.get("HTTP_" + name.upper().replace("-", "_"), "")
        return value

    @property
    def mimetype(self) -> str:
        return str(self.environ.get("CONTENT_TYPE", "")).split(";", 1)[0].strip().lower()

    @property
    def args(self) -> dict[str, str]:
        """Query parameters, first value of each."""
        if self._args is None:
            self._args = {}
            for key, value in parse_qsl(self.environ.get("QUERY_STRING", ""), keep_blank_values=True):
                self._args.setdefault(key, value)
        return self._args

    def body(self, error: type[ApiError] | type[OAuthError], key: str) -> bytes:
        """The whole body, at most ``MAX_BODY_BYTES``; larger → ``error(key)`` with status 413."""
        raw = self.environ.get("CONTENT_LENGTH") or "0"
        length = int(raw) if raw.isdigit() else -1
        if length < 0 or length > MAX_BODY_BYTES:
            raise error(key, "the body is too large or its length is invalid", status=413)
        data: bytes = self.environ["wsgi.input"].read(length) if length else b""
        return data
