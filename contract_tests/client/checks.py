"""The catalogue of client checks: stable IDs, levels, rationales with their sources, and what they need.

The IDs are a public contract (reports, ``--only``, faulty drivers written against them): never
rename one. The order is the run order; the SEC-*-NOT-LOGGED checks come last because they scan the output
of every driver process the run started. ``not_live`` says why a check is skipped against a live
environment (``--live``); a check that runs there differently says so in its docstring (ERR-FORBIDDEN).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..results import MUST, SHOULD, CheckFailure
from . import caching, failures, hangs, redirects, refresh, secrecy, statemachine, wire
from .context import Check, CheckContext

TIME = frozenset({"advance_time"})
CONCURRENT = frozenset({"concurrent"})

CATALOGUE: tuple[Check, ...] = (
    Check("FMT-TOKEN-REQUEST", MUST, "RFC 6749 §4.4.2/§2.3.1 and the seed docs: POST /oauth/token, form-encoded, "
          "grant_type=client_credentials, credentials in the body or HTTP Basic", wire.token_request),
    Check("FMT-SECRET-NOT-IN-URL", MUST, "RFC 6749 §2.3.1 (credentials MUST NOT be in the request URI) and the seed "
          "docs' 'never expose your client secret'", wire.secret_not_in_url),
    Check("FMT-BEARER-HEADER", MUST, "RFC 6750 §2.1 and the seed docs: 'Authorization: Bearer <token>' with the "
          "current token", wire.bearer_header),
    Check("CACHE-SEQUENTIAL", MUST, "seed docs: one token serves calls until it expires (24 h); scalekit-facts: "
          "every official SDK caches it", caching.sequential),
    Check("CACHE-SHORT-LIFETIME-REUSE", SHOULD, "RFC 6749 §5.1 (expires_in is the lifetime) and the seed docs: a "
          "token serves calls until it expires, however short its lifetime; a refresh margin scaled to expires_in, "
          "not a fixed one as long as the lifetime", caching.short_lifetime_reuse, TIME,
          not_live="it needs a client with 300 s tokens, and the proxy cannot change the real client's token "
          "lifetime (put_client is refused in proxy mode)"),
    Check("CACHE-CONCURRENT-COLD", SHOULD, "scalekit-facts: the Go and Java SDKs single-flight the token fetch; "
          "a cold cache must not stampede the token endpoint", caching.concurrent_cold, CONCURRENT),
    Check("CACHE-STAMPEDE-AT-EXPIRY", SHOULD, "scalekit-facts: the Go and Java SDKs single-flight the token fetch "
          "(every fetch, refreshes too); as on a cold cache, an expired token must not stampede the token endpoint",
          caching.stampede_at_expiry, TIME | CONCURRENT),
    Check("CACHE-NO-TOKENLESS-CALL", SHOULD, "seed docs (401 Token empty) and scalekit-facts (the Node SDK's "
          "first RPC goes out with no token): fetch first, then call", caching.no_tokenless_call),
    Check("REFRESH-AFTER-LIFETIME", MUST, "seed docs: tokens expire after 24 h; request a new one",
          refresh.after_lifetime, TIME),
    Check("REFRESH-BEFORE-EXPIRY", SHOULD, "seed docs: 'request a new token before the current one expires', "
          "tracked with expires_in (86399; the JWT's exp is iat + 86400)", refresh.before_expiry, TIME),
    Check("REFRESH-MARGIN", SHOULD, "seed docs: 'request a new token before the current one expires'; RFC 6749 "
          "§5.1: expires_in counts from the response, so a token kept to its last second arrives expired",
          refresh.margin, TIME),
    Check("REFRESH-SHORT-LIFETIME", SHOULD, "RFC 6749 §5.1 and the seed docs: expires_in is the lifetime; "
          "do not assume 24 h", refresh.short_lifetime, TIME,
          not_live="it needs a client with 300 s tokens, and the proxy cannot change the real client's token "
          "lifetime (put_client is refused in proxy mode)"),
    Check("REFRESH-CLOCK-SKEW", SHOULD, "RFC 6749 §5.1: expires_in is relative to the response; the JWT's exp "
          "is on the server's clock, which may run ahead", refresh.clock_skew, TIME),
    Check("REFRESH-REVOKED", MUST, "seed docs: 401 Token expired means 'request a new access token'; "
          "scalekit-facts: every SDK re-authenticates on 401", refresh.revoked),
    Check("ERR-INVALID-CREDENTIALS", MUST, "seed docs: 401 Invalid credentials; RFC 6749 §5.2 invalid_client "
          "is final, not to be retried in a loop", failures.invalid_credentials),
    Check("ERR-FORBIDDEN", MUST, "seed docs: 403 Insufficient permissions; scalekit-facts: PERMISSION_DENIED is "
          "never retried", failures.forbidden),
    Check("ERR-PERSISTENT-401", MUST, "scalekit-facts: SDKs bound their re-auth on 401 (1 to 3 re-fetches)",
          failures.persistent_401),
    Check("ERR-TRANSIENT-503", SHOULD, "scalekit-facts: UNAVAILABLE is retried with jittered exponential backoff",
          failures.transient_503),
    Check("ERR-RATE-LIMITED-429", SHOULD, "RFC 9110 §10.2.3 Retry-After; RFC 6585 §4 429 Too Many Requests",
          failures.rate_limited_429),
    Check("ERR-API-RATE-LIMITED", MUST, "scalekit-facts (rate limits: 429 RATE_LIMITED with no Retry-After; "
          "clients must back off exponentially and cap retries); RFC 6585 §4", failures.api_rate_limited),
    Check("ERR-API-TRANSIENT-503", SHOULD, "scalekit-facts: UNAVAILABLE is retried with jittered exponential "
          "backoff (1 s doubling, cap 30 s; the Node SDK makes 3 retries); only UNAUTHENTICATED calls for a new "
          "token", failures.api_transient_503),
    Check("ERR-TRANSIENT-SAFE", MUST, "RFC 6749 §5.1: only a 200 carries a token; an error page is never one",
          failures.transient_safe),
    Check("ERR-MALFORMED-TOKEN-RESPONSE", MUST, "RFC 6749 §5.1 (access_token REQUIRED, JSON body); scalekit-facts: "
          "expires_in is an integer", failures.malformed_token_response),
    Check("ERR-ABSURD-EXPIRES-IN", MUST, "scalekit-facts (Added 2026-12-01): the docs' Postman collection saved "
          "a token response with expires_in 18446744064486179580; RFC 6749 §5.1: the token still expires",
          failures.absurd_expires_in, TIME),
    Check("ERR-TOKEN-ENDPOINT-HANG", MUST, "seed docs: the token endpoint is a network dependency; a call must "
          "not hang on it forever", hangs.token_endpoint_hang),
    Check("ERR-API-HANG", MUST, "seed docs: the API is a network dependency, as the token endpoint is; "
          "scalekit-facts: the Python SDK 2.19 added a per-call gRPC timeout; a call must not hang forever",
          hangs.api_hang),
    Check("STATE-MACHINE", MUST, "seed docs' token management rules under random interleavings of calls, "
          "expiry, revocation, key rotation and outages", statemachine.state_machine,
          not_live="its random sequences, replayed while shrinking, would send hundreds of requests to the real "
          "service, and it rotates keys, which the proxy cannot; the events it plays are the proxy's anyway: "
          "run it against the mock"),
    Check("SEC-SECRET-NOT-REDIRECTED", MUST, "seed docs: 'never expose your client secret'; RFC 9700 §4.12: a 307 "
          "makes the client resend its POSTed credentials to the Location (why an authorization server MUST NOT "
          "answer so); RFC 6749 §3.2: the token request carries clear-text credentials, for the token endpoint only",
          redirects.secret_not_redirected),
    Check("SEC-TOKEN-NOT-REDIRECTED", MUST, "RFC 6750 §5.3: 'client implementations MUST ensure that bearer tokens "
          "are not leaked to unintended parties'; RFC 6749 §10.3: an access token is shared only with the "
          "authorization server and the resource servers it is valid for; seed docs: 'never expose tokens'",
          redirects.token_not_redirected),
    Check("SEC-SECRET-NOT-LOGGED", MUST, "seed docs: 'never expose your client secret'; store it securely",
          secrecy.secret_not_logged),
    Check("SEC-TOKEN-NOT-LOGGED", SHOULD, "seed docs: 'never expose tokens'; RFC 6750 §5: a bearer token is a "
          "credential to keep from disclosure", secrecy.token_not_logged),
)

IDS = tuple(check.id for check in CATALOGUE)

__all__ = ["CATALOGUE", "IDS", "MUST", "SHOULD", "Check", "CheckContext", "CheckFailure",
           "UnknownCheck", "select"]


class UnknownCheck(ValueError):
    """``--only``/``--skip`` named a check that is not in the catalogue."""


def _known(ids: Iterable[str]) -> list[str]:
    wanted = [i.strip().upper() for i in ids if i.strip()]
    unknown = [i for i in wanted if i not in IDS]
    if unknown:
        raise UnknownCheck(f"unknown check id(s): {', '.join(unknown)} (see --list)")
    return wanted


def select(only: Sequence[str] | None = None, skip: Sequence[str] | None = None) -> list[Check]:
    """The checks to run, in catalogue order: ``only`` these (all by default) minus ``skip``."""
    chosen = set(_known(only)) if only else set(IDS)
    chosen -= set(_known(skip or ()))
    return [check for check in CATALOGUE if check.id in chosen]
