"""Key and discovery documents: ``/keys``, ``/.well-known/jwks.json``, OpenID configuration."""

from __future__ import annotations

from flask import Blueprint, Response

from .render import control, json_response

bp = Blueprint("discovery", __name__)


@bp.get("/keys")
@bp.get("/.well-known/jwks.json")
def jwks() -> Response:
    return json_response(control().jwks(), headers={"Cache-Control": "public, max-age=300"})


@bp.get("/.well-known/openid-configuration")
def openid_configuration() -> Response:
    plane = control()
    issuer = plane.policy.issuer
    return json_response({
        "issuer": issuer,
        "token_endpoint": f"{issuer}/oauth/token",
        "jwks_uri": f"{issuer}/keys",
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["token"],
        "scopes_supported": sorted({plane.policy.full_access_scope} | plane.routes.all_permissions),
        "claims_supported": ["iss", "sub", "aud", "client_id", "jti", "iat", "nbf", "exp", "oid", "scopes"],
    })
