"""The mock's OpenAPI 3.1 document: the token endpoint, keys, discovery and the control plane under ``/_mock/``.

The REST API is not in it: Scalekit's published document describes it, and the mock serves that one
beside this one, byte for byte as shipped, at ``/_mock/scalekit-openapi.json`` (views/spec.py; the contract
run over it is ``contract_tests/published_run.py``). The error bodies come from ``fixtures/errors.json``, the
example credentials from ``fixtures/clients.json``; the control plane is described by hand, because its
bodies are code, not data. The document is built on the first request for it (views/spec.py), never at start.
"""

from __future__ import annotations

from typing import Any

from ..core.control import ControlPlane
from ..core.credentials import CONTROL_TOKEN_HEADER
from ..core.faults import JOURNALED
from .openapi_schemas import Schema, components, json_response, ref_response, ref_schema

OPENAPI_VERSION = "3.1.0"
PUBLISHED_DOCUMENT = "/_mock/scalekit-openapi.json"
# What ``_int_arg`` in views/controlapi.py accepts: an optional '-' and at most 17 digits.
_QUERY_INT: Schema = {"type": "integer", "minimum": -(10**17 - 1), "maximum": 10**17 - 1}


def build_openapi(control: ControlPlane) -> dict[str, Any]:
    """The OpenAPI 3.1 document of a mock: token endpoint, keys, discovery, the control plane."""
    paths: dict[str, dict[str, Any]] = {"/oauth/token": {"post": _token_operation(control)}}
    for path, operation_id in (("/keys", "getKeys"), ("/.well-known/jwks.json", "getJwks")):
        paths[path] = {"get": _get(operation_id, "The JSON Web Key Set that verifies access tokens.", "Jwks",
                                   control)}
    paths["/.well-known/openid-configuration"] = {"get": _get(
        "getOpenIdConfiguration", "Where the token endpoint and the keys are.", "OpenIdConfiguration", control)}
    paths["/.well-known/oauth-authorization-server"] = {"get": _get(
        "getAuthorizationServerMetadata", "Where the token endpoint and the keys are (RFC 8414).",
        "AuthorizationServerMetadata", control)}
    for path, item in _control_paths().items():
        paths[f"/_mock{path}"] = item
    paths["/"] = {"get": _control("getIndex", "What this server is, and where its endpoints and docs are.", "Index")}
    parts = components(control)
    if control.config.control_token is not None:
        _require_control_token(paths, parts)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": "scalekit-mock", "version": "0.1.0",
                 "description": "A local mock of a Scalekit environment: machine-to-machine authentication and "
                                "the mock's own control plane under /_mock/. The REST API is described by "
                                f"Scalekit's published OpenAPI document, served beside this one at "
                                f"{PUBLISHED_DOCUMENT}."},
        "paths": paths,
        "components": parts,
    }


def _require_control_token(paths: dict[str, dict[str, Any]], parts: dict[str, Any]) -> None:
    """A mock with a control token (bound beyond loopback, or given one) wants it on every ``/_mock/`` request
    (pipeline/guard.py); the document of a mock without one declares nothing, as nothing is asked."""
    parts["securitySchemes"] = {"mockControlToken": {
        "type": "apiKey", "in": "header", "name": CONTROL_TOKEN_HEADER,
        "description": "This mock's control token (serve prints one it makes; MockServer.control_token)."}}
    parts["responses"]["ControlUnauthorized"] = {
        "description": "Refused: the control token is missing or wrong.",
        "content": {"application/json": {"schema": {"type": "object", "properties": {"error": {"type": "string"}},
                                                    "required": ["error"], "additionalProperties": False}}}}
    for path, item in paths.items():
        if path.startswith("/_mock/"):
            for operation in item.values():
                operation["security"] = [{"mockControlToken": []}]
                operation["responses"]["401"] = ref_response("ControlUnauthorized")


# -- token endpoint, keys, discovery ----------------------------------------------------------------


def _token_operation(control: ControlPlane) -> Schema:
    form: Schema = {
        "type": "object", "required": ["grant_type", "client_id", "client_secret"],
        "properties": {"grant_type": {"enum": ["client_credentials"]},
                       "client_id": {"type": "string", "minLength": 1},
                       "client_secret": {"type": "string", "minLength": 1},
                       "scope": {"type": "string", "description": "Space-separated permissions to narrow to."}},
        # Other parameters are ignored, but none may come twice (RFC 6749 3.2), as a list would.
        "additionalProperties": {"type": ["string", "number", "boolean", "null"]},
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
                                     RevokeIt=_link("mock_revoke", body={"token": "$response.body#/access_token"})),
                      "400": ref_response("OAuthBadRequest"), "401": ref_response("OAuthInvalidClient"),
                      **_rate_limited(control, "token")},
    }


def _rate_limited(control: ControlPlane, family: str) -> dict[str, Schema]:
    """The 429 of the rate limit (off unless set) on the operations of a family it counts (rate_limit.json)."""
    return {"429": ref_response("ApiRateLimited")} if family in control.rate_limiter.families else {}


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
        ("endpoint", {"enum": list(JOURNALED)}), ("status", _QUERY_INT), ("since", _QUERY_INT), ("limit", _QUERY_INT))]
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
                             body="FaultSpec", errors={**bad, "409": ref_response("ControlNoSecondOrigin")},
                             status="201"),
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
        "/scalekit-openapi.json": {"get": _control(
            "getScalekitOpenApi", "Scalekit's published OpenAPI document of the REST API, as shipped "
            "(fixtures/scalekit-openapi.json), beside this one.", "OpenApiDocument")},
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


def _path_parameter(name: str, schema: Schema) -> Schema:
    return {"name": name, "in": "path", "required": True, "schema": schema}


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
