"""The documented error bodies, built from ``fixtures/errors.json`` (no Flask needed)."""

from __future__ import annotations

from typing import Any

from .data import Fixtures


def api_error_body(fixtures: Fixtures, key: str, message: str | None = None) -> dict[str, Any]:
    """A grpc-gateway ``google.rpc.Status`` body for the named API error (``message``: instead of the fixture's)."""
    spec = fixtures.errors["api"][key]
    return {"code": spec["code"], "message": message or spec["message"],
            "details": [{"@type": fixtures.errors["error_info_type"], "error_code": spec["error_code"]}]}


def oauth_error_body(fixtures: Fixtures, key: str) -> dict[str, Any]:
    """An RFC 6749 section 5.2 body for the named token-endpoint error (its ``error`` code is the key, unless the
    entry names a standard code of its own: the mock's own refusals keep to RFC 6749's codes)."""
    spec = fixtures.errors["oauth"][key]
    return {"error": spec.get("error", key), "error_description": spec["description"]}
