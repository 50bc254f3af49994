"""The cases: every HTTP exchange a provider check makes, by a stable name.

A case says what to send; the probe sends it once per run. What came back is what the checks judge,
what ``--record`` saves (one file per case, named after it) and what the drift report compares with
the mock's answer to the same case. Names are a public contract (recording file names): never rename.

Against a live target, cases only read: ``GET`` on the API, token requests on ``/oauth/token``. The
cases that need the mock's control plane (a token made to expire by moving its clock, a revoked
token) get it from ``target.mock``; against a live target they use what was given (an expired token
from an earlier run, a limited client's credentials) or are skipped, saying why.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import jwt

from .probe import CaseSkipped, Probe, Request
from .target import API_ROUTE, ENV_EXPIRED_TOKEN, ENV_LIMITED_ID, ENV_LIMITED_SECRET, TargetError

VALUES, SHAPE = "values", "shape"  # what a recording keeps of a JSON body: the values, or only their types
# Never a real client's secret: what the wrong-secret and unknown-client cases send.
WRONG_SECRET = "test_scalekitConformanceWrongSecret0000000000"
UNKNOWN_CLIENT_ID = "skc_10000000000000000"
UNSUPPORTED_GRANT = "urn:scalekit-conformance:unsupported-grant-type"
MALFORMED_TOKEN = "scalekit-conformance.not-a-jwt"
TAMPER_SECONDS = 10 * 365 * 86400  # a tampered token claims ten more years of validity
EXPIRY_MARGIN = 120  # seconds past its exp before a given token counts as expired (clocks differ)


@dataclass(frozen=True)
class Case:
    """A named exchange: ``prepare`` builds the request (steering the mock first, where it must).

    ``fixture`` names where the mock keeps the facts this answer shows, for the drift report's hints.
    """

    name: str
    summary: str
    prepare: Callable[[Probe], Request]
    fixture: str
    body: str = VALUES


def _form(probe: Probe, **fields: str) -> tuple[tuple[str, str], ...]:
    credentials = probe.target.credentials
    values = {"grant_type": "client_credentials", "client_id": credentials.client_id,
              "client_secret": credentials.client_secret, **fields}
    return tuple((k, v) for k, v in values.items() if v)


def access_token(probe: Probe, case: str = "token") -> str:
    """The access token a token case got (the run's preflight made sure ``token`` got one)."""
    exchange = probe.exchange(case)
    token = exchange.data.get("access_token") if isinstance(exchange.data, dict) else None
    if exchange.status != 200 or not isinstance(token, str):
        which = f"{ENV_LIMITED_ID} and {ENV_LIMITED_SECRET}" if case == "token-limited" else "the client id and secret"
        raise TargetError(f"the {case} request got no access token (status {exchange.status}): check {which}")
    return token


def token_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT, unverified (an empty dict if it is not one)."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return {}
    return claims if isinstance(claims, dict) else {}


def _tampered(token: str) -> str:
    """The token with its claims changed (ten more years) and its signature kept: the signature no longer fits."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["exp"] = int(claims.get("exp", 0)) + TAMPER_SECONDS
    forged = base64.urlsafe_b64encode(json.dumps(claims, separators=(",", ":")).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


def _lifetime(token: str) -> int:
    claims = token_claims(token)
    return int(claims.get("exp", 0)) - int(claims.get("iat", 0))


def _expired_token(probe: Probe) -> str:
    """Live: the token given in SCALEKIT_EXPIRED_TOKEN. Mock: one issued a lifetime ago (its clock moved back)."""
    target, mock = probe.target, probe.target.mock
    if mock is None:
        if target.expired_token is None:
            raise CaseSkipped(f"no expired token: set {ENV_EXPIRED_TOKEN} to a token of this environment "
                              f"saved more than its lifetime ago (e.g. with `scalekit-mock token` yesterday)")
        claims = token_claims(target.expired_token)
        if claims.get("iss") != target.url:
            raise CaseSkipped(f"{ENV_EXPIRED_TOKEN} was not issued by {target.url} (iss {claims.get('iss')!r})")
        exp = claims.get("exp")
        if not isinstance(exp, (int, float)):
            raise CaseSkipped(f"{ENV_EXPIRED_TOKEN} is not a JWT with an exp claim")
        # The one reading of this machine's clock: a token not yet expired here would make a false failure.
        left = exp - time.time()
        if left > -EXPIRY_MARGIN:
            raise CaseSkipped(f"{ENV_EXPIRED_TOKEN} is not expired yet (exp in {left:.0f} s, with a "
                              f"{EXPIRY_MARGIN} s margin for clock differences)")
        return target.expired_token
    lifetime = _lifetime(access_token(probe))
    mock.set_clock(mock.now() - lifetime - 60)
    try:
        return _mock_token(probe, "mint-expired")
    finally:
        mock.reset()  # the clock back to now: the token just issued is past its exp


def _mock_token(probe: Probe, label: str) -> str:
    exchange = probe.token(label, probe.target.credentials.client_id, probe.target.credentials.client_secret)
    token = exchange.data.get("access_token") if isinstance(exchange.data, dict) else None
    if not isinstance(token, str):
        raise TargetError(f"the mock issued no token for {label} (status {exchange.status})")
    return token


def _revoked_token(probe: Probe) -> str:
    mock = probe.target.mock
    if mock is None:
        raise CaseSkipped("revoking a token needs the mock's control plane; a live environment offers no "
                          "way to revoke one machine-to-machine token from outside", not_applicable=True)
    token = _mock_token(probe, "mint-revoked")
    mock.revoke(token=token)
    return token


def _limited_form(probe: Probe) -> tuple[tuple[str, str], ...]:
    limited = probe.target.limited
    if limited is None:
        raise CaseSkipped(f"no limited client: set {ENV_LIMITED_ID} and {ENV_LIMITED_SECRET} to a client "
                          f"lacking the permission of {probe.target.forbidden_route}")
    return _form(probe, client_id=limited.client_id, client_secret=limited.client_secret)


def _jwks_uri(probe: Probe) -> Request:
    discovery = probe.exchange("discovery").data
    uri = discovery.get("jwks_uri") if isinstance(discovery, dict) else None
    if not isinstance(uri, str):
        raise CaseSkipped("the discovery document names no jwks_uri")
    parts, base = urlsplit(uri), urlsplit(probe.target.url)
    if (parts.scheme, parts.netloc) != (base.scheme, base.netloc):
        raise CaseSkipped(f"jwks_uri {uri!r} is not on the environment's host: not fetched")
    return Request("GET", uri)


def _api(path: str, bearer: Callable[[Probe], str | None], kind: str) -> Callable[[Probe], Request]:
    return lambda probe: Request("GET", path, bearer=bearer(probe), bearer_kind=kind)


def _forbidden(probe: Probe) -> Request:
    return Request("GET", probe.target.forbidden_route, bearer=access_token(probe, "token-limited"),
                   bearer_kind="limited")


def _post(**fields: str) -> Callable[[Probe], Request]:
    return lambda probe: Request("POST", "/oauth/token", _form(probe, **fields))


_TOKEN = "token.json"
CATALOGUE: tuple[Case, ...] = (
    Case("token", "POST /oauth/token: client_credentials with the client's id and secret in the form",
         _post(), _TOKEN),
    Case("token-second", "the same token request again (a second token, for jti uniqueness)", _post(), _TOKEN),
    Case("keys", "GET /keys: the JSON Web Key Set", lambda probe: Request("GET", "/keys"), "token.json kid_prefix"),
    Case("discovery", "GET /.well-known/openid-configuration", lambda probe: Request(
        "GET", "/.well-known/openid-configuration"), "mock_server/web/views/discovery.py"),
    Case("jwks-uri", "GET the jwks_uri the discovery document names", _jwks_uri, "token.json kid_prefix"),
    Case("token-wrong-secret", "POST /oauth/token with the client's id and a wrong secret",
         _post(client_secret=WRONG_SECRET), "errors.json oauth.invalid_client"),
    Case("token-unknown-client", "POST /oauth/token with a client id the environment does not know",
         _post(client_id=UNKNOWN_CLIENT_ID, client_secret=WRONG_SECRET), "errors.json oauth.invalid_client"),
    Case("token-missing-grant-type", "POST /oauth/token with the credentials but no grant_type",
         _post(grant_type=""), "errors.json oauth.invalid_request"),
    Case("token-missing-secret", "POST /oauth/token with grant_type and client_id but no client_secret",
         _post(client_secret=""), "errors.json oauth.invalid_request"),
    Case("token-unsupported-grant-type", f"POST /oauth/token with grant_type={UNSUPPORTED_GRANT}",
         _post(grant_type=UNSUPPORTED_GRANT), "errors.json oauth.unsupported_grant_type"),
    Case("api-ok", f"GET {API_ROUTE} with the client's token", _api(API_ROUTE, access_token, "valid"),
         "resources.json seed", SHAPE),
    Case("api-no-token", f"GET {API_ROUTE} with no Authorization header", _api(API_ROUTE, lambda p: None, "none"),
         "errors.json api.token_empty"),
    Case("api-malformed-token", f"GET {API_ROUTE} with a bearer that is not a JWT",
         _api(API_ROUTE, lambda p: MALFORMED_TOKEN, "malformed"), "errors.json api.invalid_token"),
    Case("api-tampered-token", f"GET {API_ROUTE} with the client's token, its exp changed and its signature kept",
         _api(API_ROUTE, lambda p: _tampered(access_token(p)), "tampered"), "errors.json api.invalid_token"),
    Case("api-expired-token", f"GET {API_ROUTE} with a token past its exp",
         _api(API_ROUTE, _expired_token, "expired"), "errors.json api.token_expired"),
    Case("token-limited", "POST /oauth/token with the limited client's credentials",
         lambda probe: Request("POST", "/oauth/token", _limited_form(probe)), "token.json; clients.json"),
    Case("api-forbidden", "GET the forbidden route with the limited client's token", _forbidden,
         "errors.json api.forbidden"),
    Case("api-revoked-token", f"GET {API_ROUTE} with a token the mock revoked (mock only)",
         _api(API_ROUTE, _revoked_token, "revoked"), "errors.json api.token_expired"),
)
CASES: dict[str, Case] = {case.name: case for case in CATALOGUE}
