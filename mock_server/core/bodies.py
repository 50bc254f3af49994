"""The documented error bodies, built from ``fixtures/errors.json`` (no Flask needed)."""

from __future__ import annotations

from typing import Any

from .data import Fixtures


def api_error_body(fixtures: Fixtures, key: str) -> dict[str, Any]:
    """A grpc-gateway ``google.rpc.Status`` body for the named API error."""
    spec = fixtures.errors["api"][key]
    return {"code": spec["code"], "message": spec["message"],
            "details": [{"@type": fixtures.errors["error_info_type"], "error_code": spec["error_code"]}]}


def oauth_error_body(fixtures: Fixtures, key: str) -> dict[str, Any]:
    """An RFC 6749 section 5.2 body for the named token-endpoint error."""
    return {"error": key, "error_description": fixtures.errors["oauth"][key]["description"]}
