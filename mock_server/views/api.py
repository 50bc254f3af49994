"""The protected API: every route of the routes table, authenticated and authorized like Scalekit's."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from ..errors import ApiError
from ..routes import Route
from ..tokens import VerifiedToken
from .render import control, entry, json_response

bp = Blueprint("api", __name__)
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


@bp.route("/", defaults={"path": ""}, methods=METHODS)
@bp.route("/<path:path>", methods=METHODS)
def api(path: str) -> Response:
    plane = control()
    route, path_known = plane.routes.match(request.method, request.path)
    if route is None:
        raise ApiError("method_not_allowed" if path_known else "not_found")
    found = entry()
    if found is not None:
        found.extra["rpc"] = route.rpc
    if route.policy != "none":
        token = authenticate()
        if route.policy == "not_client" or not route.allows(token.scopes):
            raise ApiError("forbidden", f"{route.rpc} needs {' or '.join(route.row.permissions) or 'a session'}")
    if found is not None:
        found.outcome = "ok"
    return json_response(answer(route))


def bearer_token() -> str:
    """The bearer token of the request; a missing, empty or non-Bearer header is 'Token empty'."""
    scheme, _, value = request.headers.get("Authorization", "").strip().partition(" ")
    token = value.strip()
    if scheme.lower() != "bearer" or not token:
        raise ApiError("token_empty")
    return token


def authenticate() -> VerifiedToken:
    plane = control()
    token = bearer_token()
    found = entry()
    if found is not None:
        found.token = plane.token_summary(token)
    verified = plane.verifier.verify(token, plane.policy, plane.now())
    if found is not None:
        found.client_id = str(verified.claims.get("client_id") or verified.claims.get("sub"))
    return verified


def answer(route: Route) -> Any:
    """The success body: sample data for the organizations routes, ``{}`` elsewhere."""
    plane = control()
    orgs = plane.organizations
    name = route.method_name
    if route.rpc.startswith("scalekit.v1.organizations.OrganizationService/"):
        params = route.pattern.match(request.path)
        if name == "ListOrganization":
            return orgs.page(_page_size(), request.args.get("page_token", ""))
        if name == "GetOrganization" and params:
            return orgs.get(params.group("id"))
        if name == "CreateOrganization":
            return orgs.create(_json_body(), plane.now())
    return {}


def _page_size() -> int | None:
    raw = request.args.get("page_size", "")
    if not raw:
        return None
    if not raw.isdigit():
        raise ApiError("invalid_argument", "page_size must be a whole number")
    return int(raw)


def _json_body() -> Any:
    body = request.get_json(force=True, silent=True, cache=False)
    if body is None:
        raise ApiError("invalid_argument", "the body must be JSON")
    return body
