"""Provider checks of the token endpoint's success answer, the access token it carries, the keys and discovery."""

from __future__ import annotations

from typing import Any, TypeGuard

import jwt

from .cases import access_token, token_claims
from .context import ProviderContext
from .observe import json_type

# How far exp - iat may exceed expires_in: Scalekit's documented pair is 86400 and 86399.
EXPIRES_IN_SLACK = 5
# Allowed clock difference between this machine and the target when the signature check reads exp and iat.
LEEWAY_SECONDS = 300
PRIVATE_JWK_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def token_response(ctx: ProviderContext) -> None:
    ex = ctx.exchange("token")
    body = ctx.json_object(ex, 200)
    problems = []
    if ex.media_type != "application/json":
        problems.append(f"content type {ex.media_type or 'missing'}, expected application/json (RFC 6749 5.1)")
    if not isinstance(body.get("access_token"), str) or not body["access_token"]:
        problems.append("access_token is missing or not a non-empty string")
    token_type = body.get("token_type")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        problems.append(f"token_type is {ctx.show(token_type)}, expected 'Bearer'")
    expires_in = body.get("expires_in")
    if not _is_int(expires_in) or expires_in <= 0:
        problems.append(f"expires_in is {ctx.show(expires_in)} ({json_type(expires_in)}), expected a positive "
                        f"JSON integer (the Go SDK fails on a string or a float)")
    ctx.require(ex, problems)


def token_scope(ctx: ProviderContext) -> None:
    ex = ctx.exchange("token")
    body = ctx.json_object(ex, 200)
    if "scope" not in body:
        ctx.fail(f"the token response has no scope field (the documented response has one, e.g. "
                 f"{ctx.expected.token['full_access_scope']!r})\n  {ctx.evidence(ex)}")
    if not isinstance(body["scope"], str):
        ctx.fail(f"scope is {json_type(body['scope'])}, expected a string of space-separated scopes\n  "
                 f"{ctx.evidence(ex)}")


def no_store(ctx: ProviderContext) -> None:
    ex = ctx.exchange("token")
    directives = {part.strip().lower() for part in ex.headers.get("cache-control", "").split(",")}
    if "no-store" not in directives:
        ctx.fail(f"Cache-Control is {ex.headers.get('cache-control', 'absent')!r}: a response carrying a token "
                 f"must say no-store\n  {ctx.evidence(ex)}")


def _jwks(ctx: ProviderContext) -> dict[str, Any]:
    body = ctx.json_object(ctx.exchange("keys"), 200)
    if not isinstance(body.get("keys"), list):
        ctx.fail(f"GET /keys has no keys array, so the token cannot be checked\n  {ctx.evidence(ctx.exchange('keys'))}")
    return body


def _token_header(ctx: ProviderContext) -> dict[str, Any]:
    try:
        return jwt.get_unverified_header(access_token(ctx.probe))
    except jwt.PyJWTError as exc:
        ctx.fail(f"the access_token is not a JWT: {exc}")


def jwt_header(ctx: ProviderContext) -> None:
    header = _token_header(ctx)
    kids = [k.get("kid") for k in _jwks(ctx)["keys"] if isinstance(k, dict)]
    problems = []
    if header.get("alg") != "RS256":
        problems.append(f"alg is {ctx.show(header.get('alg'))}, expected 'RS256'")
    if not isinstance(header.get("kid"), str):
        problems.append("the header has no kid")
    elif header["kid"] not in kids:
        problems.append(f"kid {header['kid']!r} is not among the keys of GET /keys ({', '.join(map(str, kids))})")
    if "typ" in header and header["typ"] != "JWT":
        problems.append(f"typ is {ctx.show(header['typ'])}, expected 'JWT'")
    if problems:
        ctx.fail("; ".join(problems) + f"\n  token header: {ctx.show(header)}")


def jwt_claims(ctx: ProviderContext) -> None:
    claims = token_claims(access_token(ctx.probe))
    expires_in = ctx.exchange("token").data.get("expires_in")
    client_id, issuer = ctx.target.credentials.client_id, ctx.target.url
    problems = []
    if claims.get("iss") != issuer:
        problems.append(f"iss is {claims.get('iss')!r}, expected the environment URL {issuer!r} exactly")
    for name in ("sub", "client_id"):
        if claims.get(name) != client_id:
            problems.append(f"{name} is {ctx.show(claims.get(name))}, expected the client id {client_id!r}")
    iat, exp = claims.get("iat"), claims.get("exp")
    if not _is_int(iat) or not _is_int(exp):
        problems.append(f"iat and exp must be integers (NumericDate), got {json_type(iat)} and {json_type(exp)}")
    elif exp <= iat:
        problems.append(f"exp ({exp}) is not after iat ({iat})")
    elif _is_int(expires_in) and not 0 <= (exp - iat) - expires_in <= EXPIRES_IN_SLACK:
        problems.append(f"exp - iat is {exp - iat} s but expires_in says {expires_in} s: they must agree (expires_in "
                        f"at most {EXPIRES_IN_SLACK} s less, as 86399 for 86400)")
    if problems:
        ctx.fail("; ".join(problems) + f"\n  claims: {sorted(claims)}")


def jwt_signature(ctx: ProviderContext) -> None:
    token = access_token(ctx.probe)
    try:
        key_set = jwt.PyJWKSet.from_dict(_jwks(ctx))
        key = key_set[str(_token_header(ctx).get("kid", ""))]
        jwt.decode(token, key.key, algorithms=["RS256"], issuer=ctx.target.url, leeway=LEEWAY_SECONDS,
                   options={"verify_aud": False, "require": ["iss", "sub", "exp", "iat"]})
    except KeyError:
        ctx.fail("no key of GET /keys has the token's kid, so its signature cannot be checked")
    except jwt.PyJWTError as exc:
        ctx.fail(f"the token does not verify with the key set of GET /keys: {type(exc).__name__}: {exc}")


def jti_unique(ctx: ProviderContext) -> None:
    first, second = (token_claims(access_token(ctx.probe, case)).get("jti") for case in ("token", "token-second"))
    if not isinstance(first, str) or not isinstance(second, str):
        ctx.fail(f"the tokens carry no jti string (got {json_type(first)} and {json_type(second)})")
    if first == second:
        ctx.fail(f"two token requests got tokens with the same jti {ctx.show(first)}")


def jwks(ctx: ProviderContext) -> None:
    ex = ctx.exchange("keys")
    keys = _jwks(ctx)["keys"]
    problems = [] if keys else ["the keys array is empty"]
    for n, key in enumerate(keys):
        if not isinstance(key, dict):
            problems.append(f"keys[{n}] is not an object")
            continue
        problems += _key_problems(ctx, f"keys[{n}] ({key.get('kid', 'no kid')})", key)
    kids = [k.get("kid") for k in keys if isinstance(k, dict)]
    if len(kids) != len(set(kids)):
        problems.append(f"key ids repeat: {kids}")
    ctx.require(ex, problems)


def _key_problems(ctx: ProviderContext, where: str, key: dict[str, Any]) -> list[str]:
    """What is wrong with one JWK: kty must be RSA; use and alg, when present, sig and RS256 (RFC 7517 4)."""
    problems = [f"{where}: {name} is {ctx.show(key.get(name))}, expected {want!r}"
                for name, want in (("kty", "RSA"), ("use", "sig"), ("alg", "RS256"))
                if (name == "kty" or name in key) and key.get(name) != want]
    problems += [f"{where}: {name} is missing or not a string" for name in ("kid", "n", "e")
                 if not isinstance(key.get(name), str)]
    return problems + [f"{where}: publishes the private member {name!r}" for name in PRIVATE_JWK_MEMBERS
                       if name in key]


def discovery(ctx: ProviderContext) -> None:
    ex = ctx.exchange("discovery")
    doc = ctx.json_object(ex, 200)
    base = ctx.target.url
    problems = [f"{name} is {ctx.show(doc.get(name))}, expected {want!r}" for name, want in
                (("issuer", base), ("token_endpoint", f"{base}/oauth/token")) if doc.get(name) != want]
    grants = doc.get("grant_types_supported")
    if grants is not None and "client_credentials" not in grants:
        problems.append(f"grant_types_supported {grants} lacks client_credentials")
    ctx.require(ex, problems)
    served = ctx.exchange("jwks-uri")
    listed = ctx.json_object(served, 200).get("keys")
    kids = {k.get("kid") for k in listed if isinstance(k, dict)} if isinstance(listed, list) else set()
    expected = {k.get("kid") for k in _jwks(ctx)["keys"] if isinstance(k, dict)}
    if kids != expected:
        ctx.fail(f"jwks_uri serves the key ids {sorted(map(str, kids))}, GET /keys {sorted(map(str, expected))}\n  "
                 f"{ctx.evidence(served)}")
