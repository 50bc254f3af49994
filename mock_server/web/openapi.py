"""The mock's OpenAPI 3.1 document: everything it serves, built from the route table and the fixtures.

Nothing here is listed per API route: the 444 operations come from ``fixtures/routes.tsv``, the error
bodies from ``fixtures/errors.json``, the example credentials from ``fixtures/clients.json``. Only the
organizations routes that answer real data, and the control plane under ``/_mock/``, are described
by hand, because their bodies are code, not data. The document is built on the first request for it
(views/spec.py), never at start.
"""

from __future__ import annotations

from typing import Any

from ..core.control import ControlPlane
from ..core.faults import FAMILIES
from ..core.routes import _PARAM, Route
from .openapi_schemas import SECURITY_SCHEME, Schema, components, json_response, ref_response, ref_schema

OPENAPI_VERSION = "3.1.0"
ORGANIZATION_SERVICE = "scalekit.v1.organizations.OrganizationService"
# The name of the path parameter standing for a grpc-gateway ``**`` (the rest of the path, '/' included).
REMAINDER = "remainder"
# What ``_int_arg`` in views/controlapi.py accepts: an optional '-' and at most 17 digits.
_QUERY_INT: Schema = {"type": "integer", "minimum": -(10**17 - 1), "maximum": 10**17 - 1}


def build_openapi(control: ControlPlane) -> dict[str, Any]:
    """The OpenAPI 3.1 document of a mock: token endpoint, keys, discovery, the API, the control plane."""
    paths: dict[str, dict[str, Any]] = {"/oauth/token": {"post": _token_operation(control)}}
    for path, operation_id in (("/keys", "getKeys"), ("/.well-known/jwks.json", "getJwks")):
        paths[path] = {"get": _get(operation_id, "The JSON Web Key Set that verifies access tokens.", "Jwks",
                                   control)}
    paths["/.well-known/openid-configuration"] = {"get": _get(
        "getOpenIdConfiguration", "Where the token endpoint and the keys are.", "OpenIdConfiguration", control)}
    paths["/.well-known/oauth-authorization-server"] = {"get": _get(
        "getAuthorizationServerMetadata", "Where the token endpoint and the keys are (RFC 8414).",
        "AuthorizationServerMetadata", control)}
    for route in control.routes.routes:
        path, parameters = openapi_path(route.row.template)
        paths.setdefault(path, {})[route.row.method.lower()] = _route_operation(route, parameters, control)
    for path, item in _control_paths().items():
        paths[f"/_mock{path}"] = item
    paths["/"] = {"get": _control("getIndex", "What this server is, and where its endpoints and docs are.", "Index")}
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": "scalekit-mock", "version": "0.1.0",
                 "description": "A local mock of a Scalekit environment: machine-to-machine authentication, "
                                "the REST API's routes, and the mock's own control plane under /_mock/."},
        "paths": paths,
        "components": components(control),
    }


# -- path templates ---------------------------------------------------------------------------------


def openapi_path(template: str) -> tuple[str, list[Schema]]:
    """A grpc-gateway path template as an OpenAPI path and its path parameters.

    ``{name}`` is one path segment; before a ``:verb`` it cannot hold ':' either (the verb would be
    lost), which OpenAPI cannot say in the path, so the parameter's pattern does. ``**`` (the rest of
    the path, any number of segments) becomes the parameter ``{remainder}``, whose value may hold '/'.
    """
    parameters: list[Schema] = []
    for match in _PARAM.finditer(template):
        before_verb = template[match.end():match.end() + 1] == ":"
        pattern = "^[^/:]+$" if before_verb else "^[^/]+$"
        parameters.append(_path_parameter(match.group(1), {"type": "string", "minLength": 1, "pattern": pattern}))
    path = _PARAM.sub(lambda m: "{" + m.group(1) + "}", template)
    if "**" in path:
        path = path.replace("**", "{" + REMAINDER + "}")
        parameters.append(_path_parameter(REMAINDER, {"type": "string", "minLength": 1},
                                          "The rest of the path (grpc-gateway `**`): one or more segments."))
    return path, parameters


def _path_parameter(name: str, schema: Schema, description: str | None = None) -> Schema:
    parameter: Schema = {"name": name, "in": "path", "required": True, "schema": schema}
    if description:
        parameter["description"] = description
    return parameter


# -- the protected API ------------------------------------------------------------------------------


def _route_operation(route: Route, parameters: list[Schema], control: ControlPlane) -> Schema:
    row = route.row
    service, method_name = row.rpc.rsplit("/", 1)
    operation: Schema = {
        "operationId": method_name, "summary": row.rpc, "tags": [service.rsplit(".", 1)[-1]],
        "description": _route_description(route), "x-scalekit-rpc": row.rpc,
        "x-scalekit-auth-type": row.auth_type, "x-scalekit-policy": route.policy,
        "x-scalekit-permissions": list(row.permissions),
        "parameters": parameters, "security": _route_security(route),
    }
    special = _organization_operation(route, control) if service == ORGANIZATION_SERVICE else None
    if special is not None:
        operation.update(special)
    else:
        if row.body_field and row.method in ("POST", "PUT", "PATCH"):
            operation["requestBody"] = {"required": False, "content": {"application/json": {"schema": {
                "description": f"The request's `{row.body_field}` (the mock ignores it)."}}}}
        operation["responses"] = {"200": json_response("The call succeeded (the mock answers `{}`).", "Empty")}
    operation["responses"].update(_route_errors(route, parameters))
    operation["responses"].update(_rate_limited(control, "api"))
    return operation


def _route_description(route: Route) -> str:
    if route.policy == "none":
        return "Needs no token."
    needs = " or ".join(f"`{p}`" for p in route.row.permissions) or "no particular permission"
    if route.policy == "not_client":
        return f"Takes dashboard or session credentials only: a client-credentials token gets 403 ({needs})."
    return f"Needs a client-credentials token with {needs} (an environment client's token has every permission)."


def _route_security(route: Route) -> list[dict[str, list[str]]]:
    """No token, or a bearer token holding any one of the route's permissions (alternatives are OR-ed)."""
    if route.policy == "none":
        return []
    return [{SECURITY_SCHEME: [p]} for p in route.row.permissions] or [{SECURITY_SCHEME: []}]


def _rate_limited(control: ControlPlane, family: str) -> dict[str, Schema]:
    """The 429 of the rate limit (off unless set) on the operations of a family it counts (rate_limit.json)."""
    return {"429": ref_response("ApiRateLimited")} if family in control.rate_limiter.families else {}


def _route_errors(route: Route, parameters: list[Schema]) -> dict[str, Schema]:
    """The documented API errors a route can answer; a path parameter can name nothing, or leave the route."""
    errors: dict[str, Schema] = {}
    if route.policy != "none":
        errors["401"] = ref_response("ApiUnauthenticated")
        if route.policy == "not_client" or route.row.permissions:
            errors["403"] = ref_response("ApiPermissionDenied")
    if parameters:
        errors["404"] = ref_response("ApiNotFound")
        errors["405"] = ref_response("ApiMethodNotAllowed")
    return errors


def _organization_operation(route: Route, control: ControlPlane) -> Schema | None:
    """ListOrganization, GetOrganization and CreateOrganization answer sample data (core/resources.py)."""
    orgs = {"organizations": control.fixtures.resources["seed"]["organizationsOrganization"]}
    paging = control.fixtures.resources["paging"]
    name = route.method_name
    if name == "ListOrganization":
        size: Schema = {"type": "integer", "minimum": paging["min_page_size"], "maximum": paging["max_page_size"],
                        "description": f"absent: {paging['default_page_size']}."}
        # Page tokens are opaque: only the ones this mock handed out are valid. The listed ones are
        # valid whatever the state (organizations are only ever added); others may answer 400.
        token: Schema = {"type": "string", "enum": ["", *(str(i) for i in range(len(orgs["organizations"]) + 1))],
                         "description": "A next_page_token or prev_page_token of an earlier page; empty for the first."}
        return {"parameters": [{"name": "page_size", "in": "query", "schema": size},
                               {"name": "page_token", "in": "query", "schema": token}],
                "responses": {"200": _linked(json_response("A page of organizations.", "ListOrganizationsResponse"),
                                             GetFirstOrganization=_link("GetOrganization", {
                                                 "path.id": "$response.body#/organizations/0/id"}),
                                             NextPage=_link("ListOrganization", {
                                                 "query.page_token": "$response.body#/next_page_token"})),
                              "400": ref_response("ApiInvalidArgument")}}
    if name == "GetOrganization":
        example = orgs["organizations"][0]["id"]
        parameters = [_path_parameter("id", {"type": "string", "minLength": 1, "pattern": "^[^/]+$",
                                             "examples": [example]})]
        return {"parameters": parameters,
                "responses": {"200": json_response("The organization.", "OrganizationResponse")}}
    if name == "CreateOrganization":
        return {"requestBody": {"required": True, "content": {"application/json": {"schema": ref_schema(
                    "CreateOrganizationRequest")}}},
                "responses": {"200": _linked(json_response("The organization created.", "OrganizationResponse"),
                                             GetCreatedOrganization=_link("GetOrganization", {
                                                 "path.id": "$response.body#/organization/id"})),
                              "400": ref_response("ApiInvalidArgument")}}
    return None


# -- token endpoint, keys, discovery ----------------------------------------------------------------


def _token_operation(control: ControlPlane) -> Schema:
    form: Schema = {
        "type": "object", "required": ["grant_type", "client_id", "client_secret"],
        "properties": {"grant_type": {"enum": ["client_credentials"]},
                       "client_id": {"type": "string", "minLength": 1},
                       "client_secret": {"type": "string", "minLength": 1},
                       "scope": {"type": "string", "description": "Space-separated permissions to narrow to."}},
    }
    # The example uses a default client of fixtures/clients.json (published anyway); never a configured one's secret.
    published = {(c["client_id"], c["client_secret"]) for c in control.fixtures.clients}
    client = next((c for c in control.clients.all() if (c.client_id, c.client_secret) in published), None)
    if client is not None:
        form["examples"] = [{"grant_type": "client_credentials", "client_id": client.client_id,
                             "client_secret": client.client_secret}]
    no_store = {"Cache-Control": _header("no-store"), "Pragma": _header("no-cache")}
    return {
        "operationId": "issueToken", "summary": "The client-credentials grant.", "tags": ["oauth"],
        "description": "Credentials go in the form (as every Scalekit SDK sends them) or in HTTP Basic "
                       "(RFC 6749 2.3.1), not both. Any other method answers 405 with `Allow: POST`.",
        "requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": form}}},
        "responses": {"200": _linked({**json_response("An access token.", "TokenResponse"), "headers": no_store},
                                     ListOrganizationsWithIt=_link("ListOrganization", {
                                         "header.Authorization": "Bearer {$response.body#/access_token}"}),
                                     RevokeIt=_link("mock_revoke", body={"token": "$response.body#/access_token"})),
                      "400": ref_response("OAuthBadRequest"), "401": ref_response("OAuthInvalidClient"),
                      **_rate_limited(control, "token")},
    }


def _header(value: str) -> Schema:
    return {"required": True, "schema": {"const": value}}


def _get(operation_id: str, summary: str, schema: str, control: ControlPlane) -> Schema:
    family = "keys" if schema == "Jwks" else "discovery"
    return {"operationId": operation_id, "summary": summary, "tags": [family],
            "responses": {"200": json_response(summary, schema), **_rate_limited(control, family)}}


# -- the control plane ------------------------------------------------------------------------------


def _control_paths() -> dict[str, dict[str, Any]]:
    """Every ``/_mock/`` endpoint of views/controlapi.py and views/spec.py (paths relative to ``/_mock``)."""
    bad = {"400": ref_response("ControlBadRequest")}
    proxied = {"409": ref_response("ControlConflict")}  # refused in proxy mode
    client_id = [_path_parameter("client_id", {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,128}$"})]
    journal_query = [{"name": n, "in": "query", "schema": s} for n, s in (
        ("path", {"type": "string", "description": "An exact path, or a prefix ending in '*'."}),
        ("endpoint", {"enum": list(FAMILIES)}), ("status", _QUERY_INT), ("since", _QUERY_INT), ("limit", _QUERY_INT))]
    return _json_only({
        "/": {"get": _control("getControlIndex", "What this server is, and where its endpoints and docs are.",
                              "Index")},
        "/state": {"get": _control("getState", "The whole state of the mock.", "State")},
        "/reset": {"post": _control("reset", "Back to the initial state; the new state.", "State")},
        "/clock": {"get": _control("getClock", "The mock's clock.", "Clock")},
        "/clock/advance": {"post": _control("advanceClock", "Move the clock forward.", "Clock",
                                            body="AdvanceClockRequest", errors=bad)},
        "/clock/set": {"post": _control("setClock", "Set the clock to a Unix time.", "Clock",
                                        body="SetClockRequest", errors=bad)},
        "/clients": {"get": _control("listClients", "The clients the mock accepts.", "ClientList",
                                     errors=proxied)},
        "/clients/{client_id}": {
            "put": _control("putClient", "Add or replace a client.", "Client", body="ClientSpec",
                            errors={**bad, **proxied}, parameters=client_id, links={
                                "TokenForIt": _link("issueToken", body={
                                    "grant_type": "client_credentials", "client_id": "$request.path.client_id",
                                    "client_secret": "$request.body#/client_secret"}),
                                "RemoveIt": _link("mock_removeClient", {"path.client_id": "$request.path.client_id"})}),
            "delete": _control("removeClient", "Remove a client.", "ClientRemoved", parameters=client_id,
                               errors={"404": ref_response("ControlNotFound"), **proxied}),
        },
        "/keys/rotate": {"post": _control("rotateKeys", "Sign with a new key from now on.", "RotatedKeys",
                                          body="RotateKeysRequest",
                                          errors={**bad, **proxied})},
        "/revoke": {"post": _control("revoke", "Revoke one token, or every token issued so far.", "Revoked",
                                     body="RevokeRequest", errors=bad)},
        "/faults": {
            "get": _control("listFaults", "The faults still queued.", "FaultList"),
            "post": _control("addFault", "Queue a fault for the next matching requests.", "Fault",
                             body="FaultSpec", errors=bad, status="201"),
            "delete": _control("clearFaults", "Drop every queued fault.", "EmptyFaultList"),
        },
        "/rate-limit": {
            "get": _control("getRateLimit", "The rate limit, what it counts and its current window.", "RateLimit"),
            "put": _control("setRateLimit", "Answer requests past some per minute of the mock's clock with 429; "
                            "the window starts empty.", "RateLimit", body="RateLimitRequest", errors=bad),
            "delete": _control("clearRateLimit", "No rate limit.", "RateLimit"),
        },
        "/journal": {
            "get": _control("getJournal", "The requests served, filtered.", "Journal", parameters=journal_query,
                            errors=bad),
            "delete": _control("clearJournal", "Forget the requests served.", "EmptyJournal"),
        },
        "/openapi.json": {"get": _control("getOpenApi", "This document.", "OpenApiDocument")},
    })


def _json_only(paths: dict[str, dict[str, Schema]]) -> dict[str, dict[str, Schema]]:
    """Every state-changing operation takes a JSON body (``{}`` when it needs nothing) and may be refused: 415
    without ``Content-Type: application/json``, 403 from another origin (pipeline/guard.py, CSRF)."""
    for item in paths.values():
        for method, operation in item.items():
            if method not in ("post", "put", "patch", "delete"):
                continue
            body = operation.setdefault("requestBody", {
                "content": {"application/json": {"schema": ref_schema("EmptyRequest")}}})
            body["required"] = True
            operation["responses"].setdefault("400", ref_response("ControlBadRequest"))  # a body, not an object
            operation["responses"].update({"403": ref_response("ControlCrossOrigin"),
                                           "415": ref_response("ControlUnsupportedMediaType")})
    return paths


def _control(operation_id: str, summary: str, schema: str, *, body: str | None = None,
             errors: dict[str, Schema] | None = None, parameters: list[Schema] | None = None,
             status: str = "200", links: dict[str, Schema] | None = None) -> Schema:
    operation: Schema = {"operationId": f"mock_{operation_id}", "summary": summary, "tags": ["control"],
                         "responses": {status: _linked(json_response(summary, schema), **(links or {})),
                                       **(errors or {})}}
    if parameters:
        operation["parameters"] = parameters
    if body is not None:
        operation["requestBody"] = {"required": True,
                                    "content": {"application/json": {"schema": ref_schema(body)}}}
    return operation


# -- links: what one answer gives the next request (schemathesis's stateful phase follows them) ----


def _link(operation_id: str, parameters: dict[str, str] | None = None, body: Schema | None = None) -> Schema:
    link: Schema = {"operationId": operation_id}
    if parameters:
        link["parameters"] = parameters
    if body is not None:
        link["requestBody"] = body
    return link


def _linked(response: Schema, **links: Schema) -> Schema:
    return {**response, "links": links} if links else response
