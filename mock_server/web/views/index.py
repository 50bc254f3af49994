"""``GET /`` and ``GET /_mock/``: what this server is and where everything is, for someone who opens it."""

from __future__ import annotations

from flask import Blueprint, Response

from .render import control, json_response

bp = Blueprint("index", __name__)

DOCS = ("README.md and docs/ of the scalekit-mock source: docs/control-plane.md for /_mock/, "
        "docs/conformance.md for the conformance suite")


@bp.get("/")
@bp.get("/_mock/")
def index() -> Response:
    plane = control()
    issuer = plane.policy.issuer
    return json_response({
        "service": "scalekit-mock: a local mock of a Scalekit environment",
        "environment_url": issuer,
        "token_endpoint": f"{issuer}/oauth/token",
        "jwks_uri": f"{issuer}/keys",
        "discovery": f"{issuer}/.well-known/openid-configuration",
        "api": f"{issuer}/api/v1/",
        "control_plane": f"{issuer}/_mock/",
        "openapi": f"{issuer}/_mock/openapi.json",
        "docs": DOCS,
    })
