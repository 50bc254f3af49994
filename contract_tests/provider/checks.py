"""The catalogue of provider checks: stable IDs, levels, the source each rests on, and the cases it reads.

The IDs are a public contract (reports, ``--only``, recordings read against them): never rename one.
MUST checks are what the documentation (the seed docs page, scalekit-facts, Scalekit's published OpenAPI
document) or an RFC requires of the service; SHOULD checks what the documentation shows without requiring
it, or what only the mock can be asked. The order is the run order: PROV-OPENAPI and PROV-PUBLISHED-OPENAPI
last, since they reset the mock between cases.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..results import MUST, SHOULD
from . import error_checks as err
from . import openapi_check, published_check
from . import token_checks as tok
from .context import ProviderCheck

CATALOGUE: tuple[ProviderCheck, ...] = (
    ProviderCheck("PROV-TOKEN-RESPONSE", MUST, "seed docs (Token Response); RFC 6749 5.1; scalekit-facts (integer "
                  "expires_in)", "200 JSON with access_token, token_type Bearer and an integer expires_in",
                  tok.token_response, ("token",)),
    ProviderCheck("PROV-TOKEN-SCOPE", SHOULD, "seed docs (the documented response has scope); RFC 6749 5.1 makes "
                  "it optional", "the token response has a scope string", tok.token_scope, ("token",)),
    ProviderCheck("PROV-TOKEN-NO-STORE", MUST, "RFC 6749 5.1 (Cache-Control: no-store on a response with a "
                  "token)", "the token response says Cache-Control: no-store", tok.no_store, ("token",)),
    ProviderCheck("PROV-JWT-HEADER", MUST, "scalekit-facts (header alg RS256, kid snk_…); RFC 7515 4.1.4",
                  "the token is a JWT with alg RS256 and a kid found in GET /keys", tok.jwt_header,
                  ("token", "keys")),
    ProviderCheck("PROV-JWT-CLAIMS", MUST, "scalekit-facts (iss = the environment URL exactly; sub and client_id "
                  "= the client id; exp - iat = 86400 for expires_in 86399)", "iss, sub, client_id, iat and exp as "
                  "documented; exp - iat agrees with expires_in", tok.jwt_claims, ("token",)),
    ProviderCheck("PROV-JWT-SIGNATURE", MUST, "RFC 7515 5.2, RFC 7517; scalekit-facts (keys at GET /keys)",
                  "the token's RS256 signature verifies with the key set, its issuer being the environment",
                  tok.jwt_signature, ("token", "keys")),
    ProviderCheck("PROV-JWT-JTI-UNIQUE", MUST, "RFC 7519 4.1.7 (jti unique); scalekit-facts (jti tkn_…)",
                  "two token requests get tokens with different jti", tok.jti_unique, ("token", "token-second")),
    ProviderCheck("PROV-JWKS", MUST, "RFC 7517 4-5, RFC 7518 6.3.1; scalekit-facts (GET /keys)",
                  "GET /keys is a JWK set of RSA signing keys with kid, n and e, no private member",
                  tok.jwks, ("keys",)),
    ProviderCheck("PROV-DISCOVERY", SHOULD, "scalekit-facts (/.well-known/openid-configuration, used by docs "
                  "and third parties); OpenID Connect Discovery 1.0 3", "issuer and token_endpoint are the "
                  "environment's; jwks_uri serves the keys of GET /keys", tok.discovery,
                  ("discovery", "jwks-uri", "keys")),
    ProviderCheck("PROV-ERR-WRONG-SECRET", MUST, "seed docs (401 Invalid credentials); RFC 6749 5.2 "
                  "(invalid_client)", "a wrong secret gets 401 with error invalid_client", err.wrong_secret,
                  ("token-wrong-secret",)),
    ProviderCheck("PROV-ERR-UNKNOWN-CLIENT", MUST, "seed docs (401 Invalid credentials); RFC 6749 5.2 "
                  "(invalid_client)", "an unknown client id gets 401 with error invalid_client",
                  err.unknown_client, ("token-unknown-client",)),
    ProviderCheck("PROV-ERR-MISSING-FIELDS", MUST, "RFC 6749 5.2 (invalid_request; invalid_client without "
                  "client authentication)", "no grant_type: 400 invalid_request; no client_secret: 400 "
                  "invalid_request or 401 invalid_client", err.missing_fields,
                  ("token-missing-grant-type", "token-missing-secret")),
    ProviderCheck("PROV-ERR-GRANT-TYPE", MUST, "RFC 6749 5.2 (unsupported_grant_type)", "a grant type the "
                  "service does not support gets 400 unsupported_grant_type", err.unsupported_grant_type,
                  ("token-unsupported-grant-type",)),
    ProviderCheck("PROV-API-OK", MUST, "seed docs (Make Authenticated Requests); RFC 6750 2.1", "the client's "
                  "token is accepted: GET /api/v1/organizations answers 200 JSON", err.api_ok, ("api-ok",)),
    ProviderCheck("PROV-API-NO-TOKEN", MUST, "seed docs (401 Token empty); scalekit-facts (the documented "
                  "google.rpc.Status body)", "no token: 401, code 16, message 'Token empty', ErrorInfo "
                  "UNAUTHENTICATED", err.no_token, ("api-no-token",)),
    ProviderCheck("PROV-API-MALFORMED-TOKEN", MUST, "RFC 6750 3.1 (invalid_token: 401); scalekit-facts "
                  "(Status body)", "a bearer that is not a JWT: 401, code 16, ErrorInfo UNAUTHENTICATED",
                  err.malformed_token, ("api-malformed-token",)),
    ProviderCheck("PROV-API-TAMPERED-TOKEN", MUST, "RFC 7515 5.2; RFC 6750 3.1", "the client's token with its "
                  "claims changed (signature kept): 401, code 16, ErrorInfo UNAUTHENTICATED", err.tampered_token,
                  ("token", "api-tampered-token")),
    ProviderCheck("PROV-API-EXPIRED-TOKEN", MUST, "seed docs (401 Token expired)", "a token past its exp: 401, "
                  "code 16, message 'Token expired'", err.expired_token, ("api-expired-token",)),
    ProviderCheck("PROV-API-FORBIDDEN", MUST, "seed docs (403 Insufficient permissions); grpc-gateway mapping "
                  "(403 = code 7)", "a token lacking the route's permission: 403, code 7, message 'Insufficient "
                  "permissions', ErrorInfo PERMISSION_DENIED", err.forbidden, ("token-limited", "api-forbidden")),
    ProviderCheck("PROV-API-REVOKED-TOKEN", SHOULD, "seed docs (401 Token expired: 'request a new access "
                  "token'); inferred for a token no longer accepted", "a revoked token: 401 'Token expired' "
                  "(mock only)", err.revoked_token, ("api-revoked-token",)),
    ProviderCheck("PROV-OPENAPI", MUST, "the mock's own contract: its OpenAPI 3.1 document at "
                  "/_mock/openapi.json", "schemathesis, stateless over every sampled operation and stateful "
                  "over the links: no server error, no schema violation (mock only)", openapi_check.openapi),
    ProviderCheck("PROV-PUBLISHED-OPENAPI", MUST, "Scalekit's published OpenAPI 3.1 document "
                  "(fixtures/scalekit-openapi.json, 111 operations)", "schemathesis over the published document, "
                  "valid and invalid data, stateful over derived links: no server error, no schema violation, no "
                  "undocumented status (live: GET operations only, within a request budget)",
                  published_check.published_openapi),
)

IDS = tuple(check.id for check in CATALOGUE)


class UnknownCheck(ValueError):
    """``--only``/``--skip`` named a check that is not in the catalogue."""


def _known(ids: Iterable[str]) -> list[str]:
    wanted = [i.strip().upper() for i in ids if i.strip()]
    unknown = [i for i in wanted if i not in IDS]
    if unknown:
        raise UnknownCheck(f"unknown provider check id(s): {', '.join(unknown)} (see --list)")
    return wanted


def select(only: Sequence[str] | None = None, skip: Sequence[str] | None = None) -> list[ProviderCheck]:
    """The checks to run, in catalogue order: ``only`` these (all by default) minus ``skip``."""
    chosen = set(_known(only)) if only else set(IDS)
    chosen -= set(_known(skip or ()))
    return [check for check in CATALOGUE if check.id in chosen]
