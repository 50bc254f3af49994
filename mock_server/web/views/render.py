"""Helpers shared by the Flask views: the control plane, JSON responses, the error renderer."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, request

from ...core.control import ControlPlane
from ...core.errors import HttpError
from ...core.journal import JournalEntry
from ...core.jsontext import compact
from ...faces.rest import error_reply
from ...faces.wsgi_keys import ENTRY, status_line
from ...pipeline.guard import Guard


def control() -> ControlPlane:
    """The control plane of the app serving this request."""
    plane: ControlPlane = current_app.extensions["scalekit_mock"]
    return plane


def guard() -> Guard:
    """The rules of the server serving this app (``JournalMiddleware.guard``, set by ``MockServer.start``)."""
    found = getattr(current_app.wsgi_app, "guard", None)
    return found if isinstance(found, Guard) else Guard()


def entry() -> JournalEntry | None:
    """The journal entry of this request (``None`` for control-plane requests)."""
    found: JournalEntry | None = request.environ.get(ENTRY)
    return found


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    response = Response(compact(payload), status=status_line(status),
                        mimetype="application/json")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def render_http_error(error: HttpError) -> Response:
    """Flask's face of ``reply.error_reply``, the one renderer of every endpoint error body."""
    reply = error_reply(control().fixtures, error, entry())
    response = Response(reply.body, status=status_line(reply.status), mimetype=reply.content_type)
    for name, value in reply.headers:
        response.headers[name] = value
    return response
