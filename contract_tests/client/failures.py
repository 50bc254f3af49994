"""ERR-*: how the client meets failures — bad credentials, missing permissions, outages, broken answers (hangs:
``hangs.py``)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import NoReturn

from .context import CheckContext, Client
from .driver import CallResult, ProtocolError
from .evidence import JournalView, Request, plural

WRONG_SECRET = "test_0000000000wrongSecretForConformance00000"
LIMITED_SCOPES = ["users:read"]
PERSISTENT_401_COUNT = 1000
MIN_BACKOFF = 0.1
MIN_RETRY_AFTER = 0.9  # Retry-After: 1, less a little for timing on a busy machine


def _surfaced(result: CallResult, status: int, kind: str) -> bool:
    return not result.succeeded and (result.surfaced_status == status or result.error_type == kind)


def invalid_credentials(ctx: CheckContext) -> None:
    """ERR-INVALID-CREDENTIALS: with a wrong secret the failure surfaces as 401/unauthenticated after at most
    3 token requests (new_client may already fail: the error surfacing early is fine)."""
    client = ctx.client(secret=WRONG_SECRET)
    early = client.new_client(accept_failure=True)
    result = client.call()
    journal = ctx.journal()
    evidence = f"({journal.counts()}):\n{journal.describe()}"
    if result.succeeded:
        ctx.fail(f"a call with a wrong client secret succeeded {evidence}")
    if not (_surfaced(early, 401, "unauthenticated") or _surfaced(result, 401, "unauthenticated")):
        ctx.fail(f"bad credentials surfaced as new_client {early.describe()} / call {result.describe()}, "
                 f"not as 401/unauthenticated {evidence}")
    if len(journal.token_requests) > 3:
        ctx.fail(f"a rejected secret was sent {len(journal.token_requests)} times (at most 3) {evidence}")


def forbidden(ctx: CheckContext) -> None:
    """ERR-FORBIDDEN: a client lacking organizations:read surfaces 403/permission_denied — not a 401 — after
    at most 2 API calls and 2 token requests (a new token does not grant permissions).

    Against a live environment the real client's scopes cannot be narrowed: the proxy answers every API
    call 403 "Insufficient permissions" itself (a ``forbidden`` fault), which is what the client sees.
    """
    if ctx.live:
        ctx.mock.add_fault("forbidden", count=PERSISTENT_401_COUNT)
        ctx.mock_step("add_fault", kind="forbidden", count=PERSISTENT_401_COUNT)
    else:
        ctx.mock.put_client({"client_id": ctx.mock.client_id, "client_secret": ctx.mock.client_secret,
                             "scopes": LIMITED_SCOPES})
        ctx.mock_step("put_client", scopes=LIMITED_SCOPES)
    client = ctx.client()
    client.new_client()
    result = client.call()
    journal = ctx.journal()
    evidence = f"({journal.counts()}):\n{journal.describe()}"
    if not _surfaced(result, 403, "permission_denied") or result.surfaced_status == 401:
        ctx.fail(f"a call without the needed permission should surface 403/permission_denied; it {result.describe()} "
                 f"{evidence}")
    if len(journal.api_calls) > 2 or len(journal.token_requests) > 2:
        ctx.fail(f"a 403 was retried: at most 2 API calls and 2 token requests {evidence}")


def persistent_401(ctx: CheckContext) -> None:
    """ERR-PERSISTENT-401: an API that keeps answering 401 Token expired is surfaced as 401 after a bounded
    number of refreshes (at most 5 token requests and 6 API calls)."""
    ctx.mock.add_fault("token_expired", count=PERSISTENT_401_COUNT)
    ctx.mock_step("add_fault", kind="token_expired", count=PERSISTENT_401_COUNT)
    client = ctx.client()
    client.new_client()
    result = client.call()
    journal = ctx.journal()
    evidence = f"({journal.counts()}):\n{journal.describe()}"
    if not _surfaced(result, 401, "unauthenticated"):
        ctx.fail(f"with every API call answered 401 the call should surface 401; it {result.describe()} {evidence}")
    if len(journal.token_requests) > 5 or len(journal.api_calls) > 6:
        ctx.fail(f"401s were retried without a tight bound (at most 5 token requests and 6 API calls) {evidence}")


API_RATE_LIMIT_CALLS = 4  # the call and at most 3 retries: Scalekit's docs ask clients to cap their retries


def api_rate_limited(ctx: CheckContext) -> None:
    """ERR-API-RATE-LIMITED: with every API call answered 429 RATE_LIMITED and no Retry-After (what Scalekit's
    per-environment rate limit sends), the client makes at most 4 API calls, waits at least 0.1 s before each
    retry, and fetches no new token for it (a 429 says nothing about the token)."""
    ctx.mock.add_fault("status", endpoint="api", preset="scalekit_rate_limited", count=PERSISTENT_401_COUNT)
    ctx.mock_step("add_fault", kind="status", endpoint="api", preset="scalekit_rate_limited",
                  count=PERSISTENT_401_COUNT)
    client = ctx.client()
    client.new_client()
    client.call()
    journal = ctx.journal()
    evidence = f"({journal.counts()}):\n{journal.describe()}"
    calls = journal.api_calls
    if len(calls) > API_RATE_LIMIT_CALLS:
        ctx.fail(f"a rate-limited API was called {len(calls)} times for one call (a retry storm: at most "
                 f"{API_RATE_LIMIT_CALLS}) {evidence}")
    gaps = [later.time - earlier.time for earlier, later in itertools.pairwise(calls)]
    if gaps and min(gaps) < MIN_BACKOFF:
        ctx.fail(f"a 429 was retried {min(gaps):.3f} s after it came (no Retry-After: back off, at least "
                 f"{MIN_BACKOFF} s) {evidence}")
    if len(journal.token_requests) > 1:
        ctx.fail(f"a 429 from the API made the client fetch {len(journal.token_requests) - 1} new token(s): "
                 f"rate limiting is not a token problem {evidence}")


API_TRANSIENT_CALLS = 4  # the call and at most 3 retries, as the Node SDK makes for UNAVAILABLE


def api_transient_503(ctx: CheckContext) -> None:
    """ERR-API-TRANSIENT-503: one API call answered 503 UNAVAILABLE (the API's own google.rpc.Status body, code
    14: the ``unavailable`` preset): the client either surfaces the error or retries it after a delay of at
    least 0.1 s (backoff), with at most 4 API calls in all for the one call, and fetches no new token because
    of it (a 503 says nothing about the token).

    Only the gap right after the 503 is judged: a later resend answers something else (say, the 401 "Token
    empty" of a tokenless first call), not the outage."""
    ctx.mock.add_fault("status", endpoint="api", preset="unavailable", count=1)
    ctx.mock_step("add_fault", kind="status", endpoint="api", preset="unavailable", count=1)
    client = ctx.client()
    client.new_client()
    result = client.call()
    journal = ctx.journal()
    evidence = f"({journal.counts()}):\n{journal.describe()}"
    calls = journal.api_calls
    refused = next((n for n, r in enumerate(calls) if r.status == 503), None)
    if refused is None:
        ctx.fail(f"expected an API call answered 503; the call {result.describe()} {evidence}")
    if len(calls) > API_TRANSIENT_CALLS:
        ctx.fail(f"one 503 from the API led to {len(calls)} API calls for one call (at most "
                 f"{API_TRANSIENT_CALLS}: the call and 3 retries) {evidence}")
    if refused + 1 < len(calls):
        gap = calls[refused + 1].time - calls[refused].time
        if gap < MIN_BACKOFF:
            ctx.fail(f"the 503 from the API was retried {gap:.3f} s after it came: back off (at least "
                     f"{MIN_BACKOFF} s; Scalekit's SDKs wait about 1 s, doubling) or surface the error {evidence}")
    if len(journal.token_requests) > 1:
        ctx.fail(f"a 503 from the API made the client fetch {len(journal.token_requests) - 1} new token(s): an "
                 f"unavailable API is not a token problem {evidence}")


def _retried_after(ctx: CheckContext, preset: str, status: int, minimum: float, what: str) -> None:
    ctx.mock.add_fault("status", endpoint="token", preset=preset, count=1)
    ctx.mock_step("add_fault", kind="status", endpoint="token", preset=preset, count=1)
    client = ctx.client()
    client.new_client()
    client.call_ok(f"the call after one {status} from the token endpoint")
    journal = ctx.journal()
    refused, retry, probe = _retry_of(journal.token_requests, status, minimum)
    if refused is None:
        ctx.fail(f"expected a {status} then a retried token request:\n{journal.describe()}")
    probed = "" if probe is None else (
        f" (#{probe.seq}, {probe.time - refused.time:.3f} s after the {status}, was the same request with the "
        f"credentials moved {_moved(refused, probe)}: an auth-style probe, as golang.org/x/oauth2 resends a failed "
        f"token request once, counted with the {status} as one attempt)")
    if retry is None and probe is not None:
        ctx.fail(f"the {status} was not retried{probed}; {what}:\n{journal.describe()}")
    if retry is None:
        ctx.fail(f"expected a {status} then a retried token request:\n{journal.describe()}")
    start = refused if probe is None else probe
    gap = retry.time - start.time
    if gap < minimum:
        after = f"the {status}" if probe is None else f"the {status} and its auth-style probe"
        ctx.fail(f"the token request was retried {gap:.3f} s after {after}{probed}; {what}:\n{journal.describe()}")


def _retry_of(tokens: Sequence[Request], status: int, minimum: float
              ) -> tuple[Request | None, Request | None, Request | None]:
    """The first token request answered ``status``, the retry of it, and the auth-style probe between them: a
    resend of the refused request sooner than ``minimum`` with only the credentials moved (Basic / body), which
    is the same attempt made the other way, not a retry (None when there was none)."""
    refused = next((n for n, r in enumerate(tokens) if r.status == status), None)
    if refused is None:
        return None, None, None
    later = list(tokens[refused + 1:])
    probe = None
    if later and later[0].time - tokens[refused].time < minimum and later[0].moves_credentials_of(tokens[refused]):
        probe = later.pop(0)
        if probe.status == 200:  # the probe got the token: nothing was retried
            return tokens[refused], None, probe
    return tokens[refused], (later[0] if later else None), probe


def _moved(refused: Request, probe: Request) -> str:
    places = {"basic": "HTTP Basic", "body": "the form body"}
    before, after = (r.credentials for r in (refused, probe))
    return f"from {places[before[0]]} to {places[after[0]]}" if before and after else "elsewhere"


def transient_503(ctx: CheckContext) -> None:
    """ERR-TRANSIENT-503: one 503 from the token endpoint is retried after a delay (at least 0.1 s) and the call
    succeeds."""
    _retried_after(ctx, "unavailable", 503, MIN_BACKOFF, f"wait at least {MIN_BACKOFF} s (backoff) before retrying")


def rate_limited_429(ctx: CheckContext) -> None:
    """ERR-RATE-LIMITED-429: a 429 with ``Retry-After: 1`` is retried no sooner than about 1 s, then succeeds."""
    _retried_after(ctx, "rate_limited", 429, MIN_RETRY_AFTER, "Retry-After: 1 asks for a second")


TRANSIENT = (("unavailable", 1), ("rate_limited", 1), ("server_error_html", 3))


def transient_safe(ctx: CheckContext) -> None:
    """ERR-TRANSIENT-SAFE: under a 503, a 429 and an HTML 500 from the token endpoint the client succeeds or
    surfaces an error — it neither crashes nor sends an API call with a bearer the mock did not issue."""
    client = ctx.client()
    for preset, count in TRANSIENT:
        ctx.mock.clear_faults()
        ctx.mock.add_fault("status", endpoint="token", preset=preset, count=count)
        ctx.mock_step("add_fault", kind="status", endpoint="token", preset=preset, count=count)
        _survive(ctx, client, f"{count} x {preset} from the token endpoint")
    ctx.mock.clear_faults()
    _no_bogus_bearer(ctx, ctx.journal())


def _survive(ctx: CheckContext, client: Client, what: str) -> None:
    """new_client and a call, either of which may fail; a driver that stops answering fails the check."""
    try:
        client.new_client(accept_failure=True)
        client.call()
    except ProtocolError as exc:
        ctx.fail(f"the client crashed under {what}: {exc}\n{ctx.journal().describe()}")


def _no_bogus_bearer(ctx: CheckContext, journal: JournalView) -> None:
    delivered = journal.delivered()
    bogus = [r for r in journal.api_calls if r.authorization is not None and r.bearer not in delivered]
    if bogus:
        ctx.fail(f"{plural(len(bogus), 'API call')} carried a bearer the mock never handed out (a failed or "
                 f"unusable token response must not become a token):\n{journal.describe()}")


MALFORMED = ("not_json", "missing_access_token", "expires_in_string")
MUST_REJECT = frozenset({"not_json", "missing_access_token"})


def malformed_token_response(ctx: CheckContext) -> None:
    """ERR-MALFORMED-TOKEN-RESPONSE: a token response that is not JSON or has no access_token surfaces an
    error; no variant (nor expires_in as a string) leads to an API call with a bogus bearer."""
    client = ctx.client()
    for variant in MALFORMED:
        ctx.mock.clear_faults()
        ctx.mock.add_fault("malformed_token", variant=variant, count=20)
        ctx.mock_step("add_fault", kind="malformed_token", variant=variant, count=20)
        try:
            client.new_client(accept_failure=True)
            result = client.call()
        except ProtocolError as exc:
            ctx.fail(f"the client crashed on a {variant} token response: {exc}\n{ctx.journal().describe()}")
        if variant in MUST_REJECT and result.succeeded:
            ctx.fail(f"every token response was {variant}, yet the call succeeded:\n{ctx.journal().describe()}")
    ctx.mock.clear_faults()
    _no_bogus_bearer(ctx, ctx.journal())


ABSURD_EXPIRES_IN = 18446744064486179580  # the docs' Postman collection's (fixtures/faults.json expires_in_absurd)


def absurd_expires_in(ctx: CheckContext) -> None:
    """ERR-ABSURD-EXPIRES-IN: one token response says ``expires_in`` 18446744064486179580 (a real token, as
    the docs' Postman collection saved it): the client does not crash and its call succeeds; 24 h + 60 s later
    (15 s + 2 s in real time), past the JWT's ``exp``, a call succeeds too (the client refreshed, at the latest on
    the 401 Token expired).

    A client that caps the lifetime it believes (e.g. at 24 h, or at the JWT's exp - iat) refreshes before the
    second call; one that trusts the value passes if it refreshes on the 401. A crash (e.g. an OverflowError
    from datetime arithmetic on the value), a failed call, or a 401 taken as final fails it.
    """
    ctx.mock.add_fault("malformed_token", variant="expires_in_absurd", count=1)
    ctx.mock_step("add_fault", kind="malformed_token", variant="expires_in_absurd", count=1)
    client = ctx.client()
    cap = "cap the lifetime it believes (e.g. at 24 h, or at the JWT's exp - iat)"
    at_once = f"an absurd expires_in must not break the client: {cap}, and keep arithmetic on it from overflowing"
    later = (f"the client kept the token past its exp on the strength of the absurd expires_in and did not recover "
             f"from the 401 Token expired: {cap}, and fetch a new token on a 401")
    try:
        created = client.new_client(accept_failure=True)  # an eager client meets the token response here
        if not created.succeeded:
            _absurd_failed(ctx, "new_client", created, at_once)
        first = client.call()
        if not first.succeeded:
            _absurd_failed(ctx, "the first call (on the token that came with it)", first, at_once)
        later_by = ctx.lifetime + ctx.scale.past  # past the JWT's exp (iat + the lifetime)
        ctx.advance(client, later_by)
        second = client.call()
        if not second.succeeded:
            _absurd_failed(ctx, f"the call {later_by} s later, past the token's exp,", second,
                           later if second.surfaced_status == 401 else at_once)
    except ProtocolError as exc:
        ctx.fail(f"the client crashed on a token response with expires_in {ABSURD_EXPIRES_IN}: {exc} ({at_once}):\n"
                 f"{ctx.journal().describe()}")


def _absurd_failed(ctx: CheckContext, what: str, result: CallResult, why: str) -> NoReturn:
    ctx.fail(f"after a token response with expires_in {ABSURD_EXPIRES_IN}, {what} failed: {result.describe()}; "
             f"{why}:\n{ctx.journal().describe()}")
