"""What an exchange showed, normalized: the form a recording saves and the drift report compares.

Normalizing takes out everything that is secret, or that differs between two faithful environments
without meaning anything: secrets become ``<secret>``, tokens ``<jwt>``, the environment URL
``{environment_url}``, the client ids ``{client_id}`` and ``{limited_client_id}``, runs of six or more
digits ``<digits>`` (key ids, request ids) and a whole value of 40 or more base64url characters
``<base64url>`` (key moduli, whatever digits they hold by chance). Only
the headers that carry part of the contract are kept. A JWT is kept as its header and the names and
JSON types of its claims, never its values. The API's success body is kept as its shape (the type
of every value), since a sandbox's data is its own.
"""

from __future__ import annotations

import json
import re
from typing import Any

import jwt

from .cases import CASES, SHAPE
from .probe import Exchange
from .target import Target

FORMAT = 1
HEADERS = ("content-type", "cache-control", "pragma", "www-authenticate")
SECRET_FIELDS = frozenset({"client_secret", "access_token", "refresh_token", "id_token"})
EVIDENCE_CHARS = 600

_JWT = re.compile(r"eyJ[A-Za-z0-9_\-]*\.[A-Za-z0-9_\-]*\.[A-Za-z0-9_\-]*")
_DIGITS = re.compile(r"\d{6,}")
_BASE64URL = re.compile(r"[A-Za-z0-9_\-]{40,}")


def json_type(value: Any) -> str:
    """The JSON type name of a parsed value (booleans are not integers here)."""
    if value is None:
        return "null"
    for kind, name in ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"),
                       (list, "array"), (dict, "object")):
        if isinstance(value, kind):
            return name
    return type(value).__name__


class Redactor:
    """Normalizes strings and JSON values for one target (its secrets, URL and client ids)."""

    def __init__(self, target: Target) -> None:
        self._secrets = sorted(target.secrets, key=len, reverse=True)
        names = [(target.url, "{environment_url}"), (target.credentials.client_id, "{client_id}")]
        if target.limited is not None:
            names.append((target.limited.client_id, "{limited_client_id}"))
        self._names = sorted(names, key=lambda pair: len(pair[0]), reverse=True)

    def text(self, value: str) -> str:
        for secret in self._secrets:
            value = value.replace(secret, "<secret>")
        value = _JWT.sub("<jwt>", value)
        if _BASE64URL.fullmatch(value):  # before the digits: a key's modulus holds runs of them, by chance
            return "<base64url>"
        for name, placeholder in self._names:
            value = value.replace(name, placeholder)
        return _DIGITS.sub("<digits>", value)

    def value(self, value: Any, key: str = "") -> Any:
        if isinstance(value, dict):
            return {str(k): self.value(v, str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v) for v in value]
        if isinstance(value, str):
            return "<secret>" if key in SECRET_FIELDS and value and not _JWT.fullmatch(value) else self.text(value)
        return value


def shape(value: Any) -> Any:
    """The types of a JSON value: objects keep their keys, arrays the shape of their first item."""
    if isinstance(value, dict):
        return {str(k): shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return json_type(value)


def _headers(exchange: Exchange, redactor: Redactor) -> dict[str, str]:
    kept: dict[str, str] = {}
    for name in HEADERS:
        if name in exchange.headers:
            value = exchange.headers[name]
            if name == "content-type":
                value = exchange.media_type
            elif name == "cache-control":
                value = ", ".join(sorted(part.strip().lower() for part in value.split(",") if part.strip()))
            kept[name] = redactor.text(value)
    return kept


def jwt_summary(token: str, redactor: Redactor) -> dict[str, Any] | None:
    """A token's header, its claim names with their JSON types, and its lifetime ``exp - iat``."""
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    summary: dict[str, Any] = {"header": redactor.value(header),
                               "claims": {name: json_type(claims[name]) for name in sorted(claims)}}
    if all(json_type(claims.get(n)) == "integer" for n in ("exp", "iat")):
        summary["lifetime"] = claims["exp"] - claims["iat"]
    return summary


def response(exchange: Exchange, redactor: Redactor) -> dict[str, Any]:
    """The normalized answer: status, the headers that matter, the body (or its text), a token's JWT."""
    observed: dict[str, Any] = {"status": exchange.status, "headers": _headers(exchange, redactor)}
    if not exchange.is_json:
        observed["text"] = redactor.text(exchange.text[:EVIDENCE_CHARS])
        return observed
    case = CASES.get(exchange.case)
    observed["body"] = shape(exchange.data) if case is not None and case.body == SHAPE else \
        redactor.value(exchange.data)
    token = exchange.data.get("access_token") if isinstance(exchange.data, dict) else None
    if isinstance(token, str):
        summary = jwt_summary(token, redactor)
        if summary is not None:
            observed["jwt"] = summary
    return observed


def request(exchange: Exchange, redactor: Redactor) -> dict[str, Any]:
    sent = exchange.request
    observed: dict[str, Any] = {"method": sent.method, "path": redactor.text(sent.path), "bearer": sent.bearer_kind}
    if sent.form is not None:
        observed["form"] = {name: redactor.value(value, name) for name, value in sent.form}
    return observed


def observation(exchange: Exchange, redactor: Redactor) -> dict[str, Any]:
    """What a recording saves of one case."""
    case = CASES.get(exchange.case)
    return {"format": FORMAT, "case": exchange.case, "summary": case.summary if case else "",
            "request": request(exchange, redactor), "response": response(exchange, redactor)}


def evidence(exchange: Exchange, redactor: Redactor) -> str:
    """One line for a failure message: what was sent and what came back, secrets and tokens redacted."""
    sent = request(exchange, redactor)
    what = f"form: {', '.join(sent['form'])}" if "form" in sent else f"bearer: {sent['bearer']}"
    got = response(exchange, redactor)
    body = json.dumps(got.get("body"), sort_keys=True) if "body" in got else repr(got.get("text", ""))
    if len(body) > EVIDENCE_CHARS:
        body = body[:EVIDENCE_CHARS] + "…"
    kind = got["headers"].get("content-type", "no content type")
    return f"{sent['method']} {sent['path']} ({what}) -> {exchange.status} {kind} {body}"
