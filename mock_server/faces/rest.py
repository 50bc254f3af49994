"""Replies of the hot endpoints (token and API), without Flask, and the one error renderer.

The token endpoint and the protected API are served straight from the WSGI layer: they are what
clients hit thousands of times, and Flask's per-request machinery would cost more than the work
itself. Everything else (discovery, keys, the control plane) is Flask. Both use ``error_reply``,
so every error body comes from one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..core.bodies import api_error_body, oauth_error_body
from ..core.data import Fixtures
from ..core.errors import ApiError, HttpError, OAuthError
from ..core.journal import JournalEntry
from ..core.jsontext import compact

NO_STORE = (("Cache-Control", "no-store"), ("Pragma", "no-cache"))


@dataclass
class Reply:
    """A response to send: status, headers and the encoded body."""

    status: int
    body: bytes
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)

    def head(self) -> list[tuple[str, str]]:
        """The headers to send: the Content-Type (a relayed answer may have none), the others, and the
        Content-Length unless they hold one (a relayed answer to a HEAD request keeps the upstream's)."""
        content_type = [("Content-Type", self.content_type)] if self.content_type else []
        has_length = any(k.lower() == "content-length" for k, _ in self.headers)
        return [*content_type, *self.headers, *([] if has_length else [("Content-Length", str(len(self.body)))])]


def json_reply(payload: Any, status: int = 200, headers: Any = ()) -> Reply:
    return Reply(status, compact(payload), headers=list(headers))


def error_reply(fixtures: Fixtures, error: HttpError, entry: JournalEntry | None) -> Reply:
    """The one renderer of every endpoint error body, from ``fixtures/errors.json``."""
    if isinstance(error, OAuthError):
        status = error.status or fixtures.errors["oauth"][error.key]["status"]
        body = oauth_error_body(fixtures, error.key)
        headers = [*NO_STORE, *error.headers.items()]
    else:
        assert isinstance(error, ApiError)
        status = error.status or fixtures.errors["api"][error.key]["status"]
        body = api_error_body(fixtures, error.key, error.message)
        headers = list(error.headers.items())
    if entry is not None:
        entry.outcome = error.outcome or error.key
        if error.detail:
            entry.extra["detail"] = error.detail
    return json_reply(body, status, headers)


def protocol_error_body(fixtures: Fixtures, family: str, status: int, detail: str) -> dict[str, Any]:
    """The body for a request a server refuses at the HTTP level (malformed, framed twice, too large), shaped
    like the errors of its endpoint family (``faces.wsgi.classify``; "api" when the path is not known)."""
    if family == "control":
        return {"error": detail}
    if family == "token" and status < 500:
        return oauth_error_body(fixtures, "invalid_request")
    return api_error_body(fixtures, "invalid_argument" if status < 500 else "internal")
