"""Turning errors into their documented bodies, and small helpers shared by the views."""

from __future__ import annotations

from typing import Any

import json

from flask import Response, current_app, request

from ..control import ControlPlane
from ..bodies import api_error_body, oauth_error_body
from ..errors import ApiError, HttpError, OAuthError
from ..journal import JournalEntry
from ..wsgi_keys import ENTRY, status_line


def control() -> ControlPlane:
    """The control plane of the app serving this request."""
    plane: ControlPlane = current_app.extensions["scalekit_mock"]
    return plane


def entry() -> JournalEntry | None:
    """The journal entry of this request (``None`` for control-plane requests)."""
    found: JournalEntry | None = request.environ.get(ENTRY)
    return found


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    response = Response(json.dumps(payload, separators=(",", ":")), status=status_line(status),
                        mimetype="application/json")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def render_http_error(error: HttpError) -> Response:
    """The one renderer of every endpoint error body."""
    fixtures = control().fixtures
    if isinstance(error, OAuthError):
        status = fixtures.errors["oauth"][error.key]["status"]
        body = oauth_error_body(fixtures, error.key)
        headers = {"Cache-Control": "no-store", "Pragma": "no-cache", **error.headers}
    else:
        assert isinstance(error, ApiError)
        status = fixtures.errors["api"][error.key]["status"]
        body = api_error_body(fixtures, error.key)
        headers = dict(error.headers)
    found = entry()
    if found is not None:
        found.outcome = error.key
        if error.detail:
            found.extra["detail"] = error.detail
    return json_response(body, status, headers)
