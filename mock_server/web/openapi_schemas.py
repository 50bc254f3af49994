"""The components of the mock's OpenAPI document: body schemas and error responses.

Error bodies come from ``fixtures/errors.json``; the rest describes what the views answer and accept.
"""

from __future__ import annotations

from typing import Any

from ..core.control import MAX_ADVANCE, MAX_TIME, ControlPlane
from ..core.data import Fixtures
from ..core.faults import (
    _FRAMING_HEADERS,
    DEFAULT_REDIRECT_STATUS,
    ENDPOINTS,
    FAMILIES,
    FINAL_STATUSES,
    LOCATION_PATTERN,
    MALFORMED,
    REDIRECT_STATUSES,
)
from ..core.ratelimit import MAX_REQUESTS_PER_MINUTE, WINDOW_SECONDS

Schema = dict[str, Any]

NULLABLE_STR: Schema = {"type": ["string", "null"]}
_STRINGS: Schema = {"type": "array", "items": {"type": "string"}}


def components(control: ControlPlane) -> dict[str, Any]:
    """The ``components`` object: schemas and error responses."""
    return {"schemas": _schemas(control), "responses": _error_responses(control.fixtures)}


def ref_response(name: str) -> Schema:
    return {"$ref": f"#/components/responses/{name}"}


def ref_schema(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def json_response(description: str, schema: str) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": ref_schema(schema)}}}


def _object(properties: dict[str, Schema], *, required: list[str] | None = None, closed: bool = True) -> Schema:
    """An object schema; ``closed`` when the server answers (or accepts) no other field."""
    schema: Schema = {"type": "object", "properties": properties,
                      "required": list(properties) if required is None else required}
    if closed:
        schema["additionalProperties"] = False
    return schema


def _error_responses(fixtures: Fixtures) -> dict[str, Schema]:
    """Every documented error body, from fixtures/errors.json, one response per status and family."""
    api = [("ApiRateLimited", 429)]  # the rate limit's answer, on every family it counts
    oauth = [("OAuthBadRequest", 400), ("OAuthInvalidClient", 401), ("OAuthMethodNotAllowed", 405)]
    control_error = _object({"error": {"type": "string"}})
    responses = {name: _error_response(f"google.rpc.Status ({status})", _api_error(fixtures, status))
                 for name, status in api}
    responses.update({name: _error_response(f"RFC 6749 5.2 error ({status})", _oauth_error(fixtures, status))
                      for name, status in oauth})
    responses["ControlBadRequest"] = _error_response("The control-plane request was not understood.", control_error)
    responses["ControlNotFound"] = _error_response("No such thing in the control plane.", control_error)
    responses["ControlConflict"] = _error_response("Not possible in proxy mode (the upstream's clients and keys are "
                                                   "its own).", control_error)
    responses["ControlCrossOrigin"] = _error_response("Refused: the request came from another origin (its Origin is "
                                                      "not the mock's, or Sec-Fetch-Site: cross-site).", control_error)
    responses["ControlNoSecondOrigin"] = _error_response(
        "A redirect fault without 'location' sends clients to the second origin, which only a started MockServer "
        "serves.", control_error)
    responses["ControlUnsupportedMediaType"] = _error_response(
        "Refused: a request that changes state must be sent with Content-Type: application/json.", control_error)
    return responses


def _error_response(description: str, schema: Schema) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _api_error(fixtures: Fixtures, status: int) -> Schema:
    specs = [s for s in fixtures.errors["api"].values() if s["status"] == status]
    info = _object({"@type": {"const": fixtures.errors["error_info_type"]},
                    "error_code": {"enum": sorted({s["error_code"] for s in specs})}})
    return _object({"code": {"enum": sorted({s["code"] for s in specs})},
                    "message": {"enum": sorted({s["message"] for s in specs})},
                    "details": {"type": "array", "minItems": 1, "maxItems": 1, "items": info}})


def _oauth_error(fixtures: Fixtures, status: int) -> Schema:
    specs = {k: s for k, s in fixtures.errors["oauth"].items() if s["status"] == status}
    return _object({"error": {"enum": sorted({s.get("error", k) for k, s in specs.items()})},
                    "error_description": {"enum": sorted({s["description"] for s in specs.values()})}})


def _schemas(control: ControlPlane) -> dict[str, Schema]:
    return {**_token_schemas(control), **_control_schemas(control.fixtures),
            "EmptyRequest": {"type": "object", "description": "Any JSON object (send {}): the operation reads "
                             "nothing from it, but the control plane takes JSON requests only."}}


def _token_schemas(control: ControlPlane) -> dict[str, Schema]:
    kid = {"type": "string", "pattern": "^" + control.fixtures.token["kid_prefix"]}
    jwk = _object({"use": {"const": "sig"}, "kty": {"const": "RSA"}, "kid": kid, "alg": {"const": "RS256"},
                   "n": {"type": "string"}, "e": {"type": "string"}})
    token_fields: dict[str, Schema] = {"access_token": {"type": "string", "minLength": 1},
                                       "token_type": {"const": control.policy.token_type},
                                       "expires_in": {"type": "integer", "minimum": 1}, "scope": {"type": "string"}}
    discovery = {name: {"type": "string"} for name in ("issuer", "token_endpoint", "jwks_uri")}
    discovery.update({name: _STRINGS for name in (
        "grant_types_supported", "token_endpoint_auth_methods_supported",
        "token_endpoint_auth_signing_alg_values_supported", "id_token_signing_alg_values_supported",
        "response_types_supported", "scopes_supported", "claims_supported")})
    metadata = {name: discovery[name] for name in (
        "issuer", "token_endpoint", "jwks_uri", "grant_types_supported", "token_endpoint_auth_methods_supported",
        "scopes_supported")}
    return {
        "TokenResponse": _object({name: token_fields[name] for name in control.policy.response_fields}),
        "Jwks": _object({"keys": {"type": "array", "minItems": 1, "items": jwk}}),
        "OpenIdConfiguration": _object(discovery),
        # No authorization endpoint, so no response type (views/discovery.py).
        "AuthorizationServerMetadata": _object({**metadata, "response_types_supported": {**_STRINGS, "maxItems": 0}}),
    }


def _fault_specs(fixtures: Fixtures) -> Schema:
    """What ``faults.fault_from_mapping`` accepts, one alternative per kind."""
    hang_max = float(fixtures.faults["hang_max_seconds"])
    common: dict[str, Schema] = {
        "endpoint": {"enum": list(ENDPOINTS)}, "path": {"type": ["string", "null"], "pattern": "^/"},
        "method": {"type": ["string", "null"], "pattern": "^[A-Za-z]+$"},
        "count": {"type": "integer", "minimum": 1, "maximum": 1_000_000},
        "headers": _fault_headers(), "body": {},
    }
    seconds = {"seconds": {"type": "number", "minimum": 0, "maximum": hang_max}}
    extra: dict[str, dict[str, Schema]] = {
        "status": {"status": {"type": "integer", "minimum": FINAL_STATUSES[0], "maximum": FINAL_STATUSES[1]},
                   "preset": {"enum": [*sorted(fixtures.faults["presets"]), None]}},
        "delay": seconds, "hang": seconds, "drop": {},
        "malformed_token": {"endpoint": {"const": "token"}, "variant": {"enum": list(MALFORMED)}},
        "token_expired": {"endpoint": {"const": "api"}}, "forbidden": {"endpoint": {"const": "api"}},
        "redirect": {"status": {"enum": list(REDIRECT_STATUSES), "default": DEFAULT_REDIRECT_STATUS},
                     "location": {"type": ["string", "null"], "pattern": f"^{LOCATION_PATTERN}$",
                                  "description": "Where to send the client; by default (null) the same path and "
                                  "query on the second origin, whose requests are journaled as endpoint 'foreign'."},
                     "headers": _fault_headers(also=frozenset({"location"}))},
    }
    alternatives = []
    for kind, fields in extra.items():
        alternative = _object({"kind": {"const": kind}, **common, **fields}, required=["kind"])
        if kind == "status":
            # A status, or a preset that names one.
            alternative["anyOf"] = [{"required": ["status"]},
                                    {"required": ["preset"], "properties": {"preset": {"type": "string"}}}]
        alternatives.append(alternative)
    return {"oneOf": alternatives}


def _fault_headers(also: frozenset[str] = frozenset()) -> Schema:
    """What faults.py lets a fault answer with: RFC 9110 names, Latin-1 values, none the server sets (nor those
    ``also`` names: a redirect's Location is its own field)."""
    framing = "|".join("".join(f"[{c.upper()}{c}]" if c.isalpha() else c for c in name)
                       for name in sorted(_FRAMING_HEADERS | also))
    return {"type": "object", "propertyNames": {"pattern": f"^(?!(?:{framing})$)[!#$%&'*+\\-.^_`|~0-9A-Za-z]+$"},
            "additionalProperties": {"type": "string", "pattern": "^[\\t\\x20-\\x7e\\x80-\\xff]*$"}}


def _control_schemas(fixtures: Fixtures) -> dict[str, Schema]:
    number, count = {"type": "number"}, {"type": "integer", "minimum": 0}
    limit = {"type": "integer", "minimum": 1, "maximum": MAX_REQUESTS_PER_MINUTE}
    non_empty = {"type": "array", "items": {"type": "string", "minLength": 1}}
    client = _object({"client_id": {"type": "string"}, "scopes": {**_STRINGS, "type": ["array", "null"]},
                      "organization_id": NULLABLE_STR, "audience": _STRINGS,
                      "token_lifetime": {"type": ["integer", "null"]}})
    spec = _object({"client_secret": {"type": "string", "minLength": 1, "maxLength": 512},
                    "scopes": {**non_empty, "type": ["array", "null"]},
                    "organization_id": {"type": ["string", "null"], "minLength": 1},
                    "audience": {**non_empty, "type": ["array", "null"]},
                    "token_lifetime": {"type": ["integer", "null"], "minimum": 2, "maximum": 10**8},
                    "description": {"description": "Any note; the mock ignores it."}}, required=["client_secret"])
    fault = _object({"id": count, "kind": {"type": "string"}, "endpoint": {"enum": list(ENDPOINTS)},
                     "path": {"type": "string"}, "method": {"type": "string"}, "count": count,
                     "status": {"type": "integer"}, "preset": {"type": "string"}, "body": {},
                     "headers": {"type": "object", "additionalProperties": {"type": "string"}},
                     "seconds": number, "variant": {"type": "string"}, "location": {"type": "string"}},
                    required=["id", "kind", "endpoint", "count", "headers"])
    pending = {**fault, "properties": {**fault["properties"], "remaining": count},
               "required": [*fault["required"], "remaining"]}
    nullable_object = {"type": ["object", "null"]}
    entry = _object({
        "seq": count, "time": number, "method": {"type": "string"}, "path": {"type": "string"},
        "query": {"type": "object", "additionalProperties": _STRINGS},
        "headers": {"type": "object", "additionalProperties": {"type": "string"}},
        "form": {"type": ["object", "null"], "additionalProperties": _STRINGS}, "endpoint": {"type": "string"},
        "transport": {"type": "string"}, "client_id": NULLABLE_STR, "token": nullable_object,
        "issued": nullable_object, "status": count, "outcome": {"type": "string"}, "fault": nullable_object,
        "extra": {"type": "object"}})
    return {
        "Clock": _object({"now": number, "offset": number}),
        # A clock already moved near MAX_TIME (year 9999) also refuses less than MAX_ADVANCE.
        "AdvanceClockRequest": _object({"seconds": {"type": "number", "minimum": 0, "maximum": MAX_ADVANCE}},
                                       closed=False),
        "SetClockRequest": _object({"now": {"type": "number", "minimum": 0, "maximum": MAX_TIME}}, closed=False),
        "Client": client,
        "ClientList": _object({"clients": {"type": "array", "items": ref_schema("Client")}}),
        "ClientSpec": spec,
        "ClientRemoved": _object({"removed": {"type": "string"}}),
        "RotateKeysRequest": _object({"grace_seconds": {"type": "number", "minimum": 0}}, required=[], closed=False),
        "RotatedKeys": _object({"kid": {"type": "string"}, "keys": {**_STRINGS, "minItems": 1}}),
        "RevokeRequest": {"type": "object", "anyOf": [
            {"properties": {"all": {"const": True}}, "required": ["all"]},
            {"properties": {"all": {"not": {"const": True}}, "jti": {"type": "string", "minLength": 1}},
             "required": ["jti"], "not": {"required": ["token"]}},
            # Beside a token, a jti must be a string or null too (views/controlapi.py).
            {"properties": {"all": {"not": {"const": True}}, "jti": NULLABLE_STR, "token": {
                "type": "string", "description": "A token this mock issued (its jti is revoked)."}},
             "required": ["token"]}]},
        "Revoked": {"oneOf": [_object({"revoked_up_to": {"type": "integer"}}),
                              _object({"revoked_tokens": {"type": "integer", "minimum": 0,
                                                          "description": "Proxy mode: relayed tokens revoked."}}),
                              _object({"revoked": {"type": "string"}})]},
        "FaultSpec": _fault_specs(fixtures),
        "Fault": fault,
        "FaultList": _object({"faults": {"type": "array", "items": pending}}),
        "EmptyFaultList": _object({"faults": {"type": "array", "maxItems": 0}}),
        "RateLimit": _object({
            "requests_per_minute": {**limit, "type": ["integer", "null"], "description": "null: no limit."},
            "window_seconds": {"const": WINDOW_SECONDS},
            "families": {"type": "array", "items": {"enum": list(FAMILIES)}},
            "in_window": {**count, "description": "The requests the sliding window holds now (refused ones never)."}}),
        "RateLimitRequest": _object({"requests_per_minute": limit}, closed=False),
        "JournalEntry": entry,
        "Journal": _object({"entries": {"type": "array", "items": ref_schema("JournalEntry")}}),
        "EmptyJournal": _object({"entries": {"type": "array", "maxItems": 0}}),
        "State": _object({
            "issuer": {"type": "string"}, "now": number, "clock_offset": number,
            "clients": {"type": "array", "items": ref_schema("Client")}, "keys": _STRINGS,
            "faults": {"type": "array", "items": pending}, "rate_limit": ref_schema("RateLimit"),
            "journal": _object({"size": count, "last_seq": count}),
            "state": {"description": "Where the environment's state lives: this process (memory), or Redis, shared by "
                                     "every mock pointed at it (--state, --workers).",
                      "oneOf": [_object({"backend": {"const": "memory"}}),
                                _object({"backend": {"const": "redis"}, "url": {"type": "string"},
                                         "process": {"type": "string"},
                                         "processes": {"type": ["integer", "null"], "minimum": 0},
                                         "available": {"type": "boolean"}})]},
            "upstream": {"description": "Proxy mode: the upstream and the requests forwarded to it; null in mock "
                                        "mode (where clients and keys are listed).",
                         "oneOf": [{"type": "null"}, _object({"url": {"type": "string"}, "forwarded": count,
                                                              "forwarded_since_reset": count,
                                                              "budget": {"type": ["integer", "null"]}})]}}),
        "Index": _object({name: {"type": "string"} for name in (
            "service", "environment_url", "token_endpoint", "jwks_uri", "discovery", "api", "control_plane", "openapi",
            "docs")}),
        "OpenApiDocument": _object({"openapi": {"type": "string"}, "paths": {"type": "object"}}, closed=False),
    }
