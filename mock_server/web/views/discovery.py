"""Key and discovery documents: ``/keys``, ``/.well-known/jwks.json``, OpenID configuration, RFC 8414 metadata."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from ...core.control import ControlPlane
from .render import control, json_response

bp = Blueprint("discovery", __name__)


@bp.get("/keys")
@bp.get("/.well-known/jwks.json")
def jwks() -> Response:
    return json_response(control().jwks(), headers={"Cache-Control": "public, max-age=300"})


def authorization_server(plane: ControlPlane) -> dict[str, Any]:
    """What both discovery documents say of the one authorization server: its URLs, and what its token endpoint
    takes (the grant; client authentication in the form or by HTTP Basic, as ``pipeline/oauth.py`` reads it)."""
    issuer = plane.policy.issuer
    return {
        "issuer": issuer,
        "token_endpoint": f"{issuer}/oauth/token",
        "jwks_uri": f"{issuer}/keys",
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "scopes_supported": sorted({plane.policy.full_access_scope} | plane.routes.all_permissions),
    }


@bp.get("/.well-known/openid-configuration")
def openid_configuration() -> Response:
    return json_response({
        **authorization_server(control()),
        "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["token"],
        "claims_supported": ["iss", "sub", "aud", "client_id", "jti", "iat", "nbf", "exp", "oid", "scopes"],
    })


@bp.get("/.well-known/oauth-authorization-server")
def oauth_authorization_server() -> Response:
    """RFC 8414 metadata, where some OAuth libraries look for the token endpoint (without it, they guess). No
    grant of this server uses an authorization endpoint, so there is none, and no response type either: the
    REQUIRED ``response_types_supported`` is empty (RFC 7591 2.1: client_credentials uses no response type)."""
    return json_response({**authorization_server(control()), "response_types_supported": []})
