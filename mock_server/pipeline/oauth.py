"""``POST /oauth/token``: the client-credentials grant, as Scalekit serves it (no Flask: a hot path)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from ..core.control import ControlPlane
from ..core.credentials import BadCredentials, basic_credentials
from ..core.errors import OAuthError
from ..core.faults import Fault
from ..core.journal import JournalEntry
from ..faces.rest import NO_STORE, Reply, json_reply
from .request import Request

FORM = "application/x-www-form-urlencoded"


def token_endpoint(plane: ControlPlane, request: Request, entry: JournalEntry, fault: Fault | None) -> Reply:
    """Authenticate the client and issue a token; errors are raised as ``OAuthError``."""
    if request.method != "POST":
        raise OAuthError("method_not_allowed", f"{request.method} is not allowed", {"Allow": "POST"})
    fields = _read_form(plane, request, entry)
    basic = _basic_credentials(request)
    client_id, secret = _credentials(fields, basic)
    entry.client_id = client_id
    client = plane.clients.authenticate(client_id, secret)
    if client is None:
        headers = {"WWW-Authenticate": 'Basic realm="scalekit"'} if basic else {}
        raise OAuthError("invalid_client", "unknown client or wrong secret", headers)
    scopes = _granted_scopes(plane, fields.get("scope"), client.scopes)
    issued = plane.issuer.issue(plane.policy, client, scopes, plane.now())
    entry.issued = issued.summary()
    entry.outcome = "issued"
    if fault is not None and fault.kind == "malformed_token":
        return malformed_reply(plane, fault, issued.access_token, entry)
    return json_reply(issued.response(plane.policy.token_type, plane.policy.response_fields), 200, NO_STORE)


def _read_form(plane: ControlPlane, request: Request, entry: JournalEntry) -> dict[str, str]:
    """Parse the form body strictly: one value per field, UTF-8, the right content type."""
    if request.mimetype != FORM:
        raise OAuthError("invalid_request", f"Content-Type must be {FORM}")
    try:
        text = request.read_body(OAuthError, "invalid_request").decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text), errors="strict")
    except (UnicodeDecodeError, ValueError) as exc:
        raise OAuthError("invalid_request", "the body is not a valid UTF-8 form") from exc
    entry.form = plane.redactor.fields(pairs)
    fields: dict[str, str] = {}
    for key, value in pairs:
        if key in fields:
            raise OAuthError("invalid_request", f"field '{key}' is repeated")
        fields[key] = value
    grant = fields.get("grant_type")
    if not grant:
        raise OAuthError("invalid_request", "grant_type is required")
    if grant != "client_credentials":
        raise OAuthError("unsupported_grant_type", f"grant_type {grant!r} is not supported")
    return fields


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    """HTTP Basic client authentication (RFC 6749 2.3.1); a stale Bearer header is ignored here."""
    try:
        return basic_credentials(request.header("Authorization"))
    except BadCredentials as exc:
        raise OAuthError("invalid_request", str(exc)) from exc


def _credentials(fields: dict[str, str], basic: tuple[str, str] | None) -> tuple[str, str]:
    if basic is not None:
        if "client_secret" in fields:
            raise OAuthError("invalid_request", "use one client authentication method, not Basic and the body")
        if fields.get("client_id", basic[0]) != basic[0]:
            raise OAuthError("invalid_request", "client_id in the body differs from the Basic user")
        return basic
    client_id, secret = fields.get("client_id"), fields.get("client_secret")
    if not client_id or not secret:
        raise OAuthError("invalid_request", "client_id and client_secret are required")
    return client_id, secret


def _granted_scopes(plane: ControlPlane, requested: str | None,
                    allowed: tuple[str, ...] | None) -> tuple[str, ...] | None:
    """The token's scopes: all the client has when none are asked, else the asked subset.

    ``None`` is full access (environment clients); asking a full-access client for
    permissions narrows its token to them.
    """
    asked = tuple(dict.fromkeys((requested or "").split()))
    full = plane.policy.full_access_scope
    if not asked or (allowed is None and asked == (full,)):
        return allowed
    pool = plane.routes.all_permissions if allowed is None else frozenset(allowed)
    bad = [s for s in asked if s not in pool and s != full]
    if bad:
        raise OAuthError("invalid_scope", f"not allowed: {' '.join(bad)}")
    narrowed = tuple(s for s in asked if s != full)
    return narrowed if narrowed or allowed is not None else None


def malformed_reply(plane: ControlPlane, fault: Fault, access_token: str | None, entry: JournalEntry) -> Reply:
    """The broken 200 of a ``malformed_token`` fault; variants that carry a token carry ``access_token``."""
    spec: dict[str, Any] = plane.fixtures.faults["malformed_token_responses"][fault.variant or "not_json"]
    entry.outcome = f"malformed:{fault.variant}"
    if "text" in spec:
        return Reply(200, spec["text"].encode(), spec["content_type"], list(NO_STORE))
    body = dict(spec.get("json") or {})
    if "json_with_token" in spec:
        body = {"access_token": access_token, **spec["json_with_token"]}
    return Reply(200, json.dumps(body).encode(), spec["content_type"], list(NO_STORE))
