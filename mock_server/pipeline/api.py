"""The protected API: every route of the routes table, authenticated and authorized like Scalekit's.

Served without Flask (a hot path); errors are raised as ``ApiError`` and rendered by ``error_reply``.
"""

from __future__ import annotations

import json
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
    if route.policy != "none":
        token = authenticate(plane, request, entry)
        if route.policy == "not_client" or not route.allows(token.scopes):
            raise ApiError("forbidden", f"{route.rpc} needs {' or '.join(route.row.permissions) or 'a session'}")
    body = answer(plane, route, request)
    entry.outcome = "ok"
    return json_reply(body)


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


def answer(plane: ControlPlane, route: Route, request: Request) -> Any:
    """The success body: sample data for the organizations routes, ``{}`` elsewhere."""
    orgs = plane.organizations
    if not route.rpc.startswith("scalekit.v1.organizations.OrganizationService/"):
        return {}
    name = route.method_name
    if name == "ListOrganization":
        return orgs.page(_page_size(request), request.args.get("page_token", ""))
    params = route.pattern.match(request.path)
    if name == "GetOrganization" and params:
        return orgs.get(params.group("id"))
    if name == "CreateOrganization":
        return orgs.create(_json_body(request), plane.now())
    return {}


def _page_size(request: Request) -> int | None:
    raw = request.args.get("page_size", "")
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9:  # not "²": isdigit() but no int()
        raise ApiError("invalid_argument", "page_size must be a whole number")
    return int(raw)


def _json_body(request: Request) -> Any:
    try:
        return json.loads(request.read_body(ApiError, "invalid_argument"))
    except (ValueError, RecursionError) as exc:  # ValueError includes UnicodeDecodeError
        raise ApiError("invalid_argument", "the body must be JSON") from exc
