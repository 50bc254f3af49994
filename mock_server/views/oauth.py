"""``POST /oauth/token``: the client-credentials grant, as Scalekit serves it."""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

from flask import Blueprint, Response, json, request

from ..errors import OAuthError
from ..faults import Fault
from ..tokens import IssuedToken
from ..wsgi_keys import FAULT
from .render import control, entry, json_response

bp = Blueprint("oauth", __name__)

FORM = "application/x-www-form-urlencoded"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@bp.route("/oauth/token", methods=["POST"])
def token() -> Response:
    fields, basic = _read_request()
    client_id, secret = _credentials(fields, basic)
    plane = control()
    client = plane.clients.authenticate(client_id, secret)
    found = entry()
    if found is not None:
        found.client_id = client_id
    if client is None:
        headers = {"WWW-Authenticate": 'Basic realm="scalekit"'} if basic else {}
        raise OAuthError("invalid_client", "unknown client or wrong secret", headers)
    scopes = _granted_scopes(fields.get("scope"), client.scopes)
    issued = plane.issuer.issue(plane.policy, client, scopes, plane.now())
    if found is not None:
        found.issued = {**plane.token_summary(issued.access_token), "expires_in": issued.expires_in}
        found.outcome = "issued"
    fault = request.environ.get(FAULT)
    if isinstance(fault, Fault):
        return _malformed(fault, issued)
    return json_response(issued.response(plane.policy.token_type), 200, NO_STORE)


@bp.route("/oauth/token", methods=["GET", "PUT", "PATCH", "DELETE", "OPTIONS"])
def token_wrong_method() -> Response:
    raise OAuthError("method_not_allowed", f"{request.method} is not allowed", {"Allow": "POST"})


def _read_request() -> tuple[dict[str, str], tuple[str, str] | None]:
    """Parse the form body strictly: one value per field, UTF-8, the right content type."""
    if request.mimetype != FORM:
        raise OAuthError("invalid_request", f"Content-Type must be {FORM}")
    try:
        text = request.get_data(cache=False).decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text), errors="strict")
    except (UnicodeDecodeError, ValueError) as exc:
        raise OAuthError("invalid_request", "the body is not a valid UTF-8 form") from exc
    found = entry()
    if found is not None:
        found.form = control().redactor.fields(pairs)
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
    return fields, _basic_credentials()


def _basic_credentials() -> tuple[str, str] | None:
    """HTTP Basic client authentication (RFC 6749 2.3.1); a stale Bearer header is ignored here."""
    scheme, _, value = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError) as exc:
        raise OAuthError("invalid_request", "the Basic credentials are not valid base64 of UTF-8") from exc
    user, sep, password = decoded.partition(":")
    if not sep:
        raise OAuthError("invalid_request", "the Basic credentials need 'client_id:client_secret'")
    return unquote_plus(user), unquote_plus(password)


def _credentials(fields: dict[str, str], basic: tuple[str, str] | None) -> tuple[str, str]:
    in_body = "client_id" in fields or "client_secret" in fields
    if basic is not None:
        if in_body and "client_secret" in fields:
            raise OAuthError("invalid_request", "use one client authentication method, not Basic and the body")
        if fields.get("client_id", basic[0]) != basic[0]:
            raise OAuthError("invalid_request", "client_id in the body differs from the Basic user")
        return basic
    client_id, secret = fields.get("client_id"), fields.get("client_secret")
    if not client_id or not secret:
        raise OAuthError("invalid_request", "client_id and client_secret are required")
    return client_id, secret


def _granted_scopes(requested: str | None, allowed: tuple[str, ...] | None) -> tuple[str, ...] | None:
    """The token's scopes: all the client has when none are asked, else the asked subset.

    ``None`` is full access (environment clients); asking a full-access client for
    permissions narrows its token to them.
    """
    asked = tuple(dict.fromkeys((requested or "").split()))
    plane = control()
    full = plane.policy.full_access_scope
    if not asked or (allowed is None and asked == (full,)):
        return allowed
    known = plane.routes.all_permissions | {full}
    pool = known if allowed is None else set(allowed) | {full}
    bad = [s for s in asked if s not in pool]
    if bad:
        raise OAuthError("invalid_scope", f"not allowed: {' '.join(bad)}")
    narrowed = tuple(s for s in asked if s != full)
    return narrowed if narrowed or allowed is not None else None


def _malformed(fault: Fault, issued: IssuedToken) -> Response:
    spec: dict[str, Any] = control().fixtures.faults["malformed_token_responses"][fault.variant or "not_json"]
    found = entry()
    if found is not None:
        found.outcome = f"malformed:{fault.variant}"
    if "text" in spec:
        return Response(spec["text"], 200, content_type=spec["content_type"], headers=NO_STORE)
    body = dict(spec.get("json") or {})
    if "json_with_token" in spec:
        body = {"access_token": issued.access_token, **spec["json_with_token"]}
    return Response(json.dumps(body), 200, content_type=spec["content_type"], headers=NO_STORE)
