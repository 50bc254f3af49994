"""The protected API: every route of the routes table, authenticated and authorized like Scalekit's, answered
from the resources (``core/resource_api.py``).

Served without Flask (a hot path); errors are raised as ``ApiError`` and rendered by ``error_reply``.
"""

from __future__ import annotations

from typing import Any, Protocol

from ..core.control import ControlPlane
from ..core.credentials import bearer_token
from ..core.errors import ApiError
from ..core.journal import JournalEntry
from ..core.routes import Route
from ..core.tokens import VerifiedToken
from ..faces.rest import Reply, json_reply
from .request import Request


def api_endpoint(plane: ControlPlane, request: Request, entry: JournalEntry) -> Reply:
    route, path_known = plane.routes.match(request.method, request.path)
    if route is None:
        if not path_known:
            raise ApiError("not_found")
        raise ApiError("method_not_allowed", headers={"Allow": ", ".join(plane.routes.allowed_methods(request.path))})
    entry.extra["rpc"] = route.rpc
    authorize(plane, route, request, entry)
    status, body = answer_rpc(plane, route, plane.resources.rest_message(route, request), entry)
    entry.outcome = "ok"
    return json_reply(body, status)


def authorize(plane: ControlPlane, route: Route, request: HasHeaders, entry: JournalEntry) -> VerifiedToken | None:
    """The caller's token, checked against the route's policy and permissions (``None``: an open route)."""
    if route.policy == "none":
        return None
    token = authenticate(plane, request, entry)
    if route.policy == "not_client" or not route.allows(token.scopes):
        raise ApiError("forbidden", f"{route.rpc} needs {' or '.join(route.row.permissions) or 'a session'}")
    return token


def answer_rpc(plane: ControlPlane, route: Route, message: dict[str, Any],
               entry: JournalEntry) -> tuple[int, dict[str, Any]]:
    """The one answer of an API call, whatever face it came by: ``message`` is the request message in its JSON
    form (proto field names), the result the HTTP status (200, 201) and the response message in that form.
    What the call did beyond its answer (a deleted client's tokens refused) goes to the journal entry."""
    return plane.resources.call(route, message, entry.extra)


class HasHeaders(Protocol):
    """What authentication reads of a request: a REST ``Request`` or a gRPC call's metadata."""

    def header(self, name: str) -> str: ...


def authenticate(plane: ControlPlane, request: HasHeaders, entry: JournalEntry) -> VerifiedToken:
    """The verified token of the request; a missing, empty or non-Bearer header is 'Token empty'."""
    token = bearer_token(request.header("Authorization"))
    if token is None:
        raise ApiError("token_empty")
    try:
        verified = plane.verifier.verify(token, plane.policy, plane.now())
    except ApiError:
        entry.token = plane.token_summary(token)
        raise
    entry.token = verified.summary()
    entry.client_id = str(verified.claims.get("client_id") or verified.claims.get("sub"))
    return verified
