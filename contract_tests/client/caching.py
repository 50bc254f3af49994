"""CACHE-*: one token serves many calls, however they arrive (also with short lifetimes and at refresh), and no
call goes out without one."""

from __future__ import annotations

from .context import CheckContext
from .evidence import plural

SEQUENTIAL_CALLS = 10
CONCURRENT_CALLS = 8
FIRST_TOKEN_DELAY = 0.5
SHORT_LIFETIME = 300  # CACHE-SHORT-LIFETIME-REUSE's tokens, on either scale: it waits for no expiry
SHORT_LIFETIME_CALLS = 3


def sequential(ctx: CheckContext) -> None:
    """CACHE-SEQUENTIAL: 10 calls in a row within one token lifetime need exactly one token request."""
    client = ctx.client()
    client.new_client()
    for n in range(SEQUENTIAL_CALLS):
        client.call_ok(f"call {n + 1} of {SEQUENTIAL_CALLS}")
    journal = ctx.journal()
    tokens = journal.token_requests
    if len(tokens) != 1:
        ctx.fail(f"{SEQUENTIAL_CALLS} sequential calls within a token lifetime made {len(tokens)} token requests, "
                 f"expected exactly 1 ({journal.counts()}):\n{journal.describe(tokens)}")


def short_lifetime_reuse(ctx: CheckContext) -> None:
    """CACHE-SHORT-LIFETIME-REUSE: with 300 s tokens (``expires_in`` 299), three calls 30 s apart share one token.

    The client is given 300 s tokens (``put_client``, as REFRESH-SHORT-LIFETIME); a call, then both clocks move
    30 s, a call, 30 s more, a call: 60 s into a 299 s lifetime, exactly one token request passes. A client whose
    refresh margin is fixed and as long as the lifetime (5 minutes, whatever ``expires_in`` says) finds every
    token due at once and fetches one per call. In real time the tokens keep their 300 s (the check waits for no
    expiry) and the calls come 1.5 s apart.
    """
    lifetime, gap = SHORT_LIFETIME, ctx.scale.reuse_gap
    ctx.give_tokens(lifetime)
    client = ctx.client()
    client.new_client()
    for n in range(SHORT_LIFETIME_CALLS):
        if n:
            ctx.advance(client, gap)
        client.call_ok(f"call {n + 1} of {SHORT_LIFETIME_CALLS} ({n * gap:g} s after the first)")
    journal = ctx.journal()
    tokens = journal.token_requests
    if len(tokens) != 1:
        expires_in = next((t.get("expires_in") for t in journal.delivered().values()), None)
        ctx.fail(f"with {lifetime} s tokens (expires_in {expires_in}), {SHORT_LIFETIME_CALLS} calls "
                 f"{gap:g} s apart made {len(tokens)} token requests, expected 1: the client refreshed "
                 f"a token that had minutes left (is the refresh margin fixed, and as long as the lifetime? scale it "
                 f"to expires_in, e.g. min(60 s, expires_in / 10)):\n{journal.describe()}")


def concurrent_cold(ctx: CheckContext) -> None:
    """CACHE-CONCURRENT-COLD: 8 concurrent calls on a cold cache share one token request (single flight).

    The first token response is held back for half a second, so every caller finds the cache cold
    while the first fetch is in flight, however the threads happen to be scheduled.
    """
    ctx.mock.add_fault("delay", endpoint="token", seconds=FIRST_TOKEN_DELAY, count=1)
    ctx.mock_step("add_fault", kind="delay", endpoint="token", seconds=FIRST_TOKEN_DELAY, count=1)
    client = ctx.client()
    client.new_client()
    results = client.call_concurrently(CONCURRENT_CALLS)
    failed = [f"  call {n + 1}: {r.describe()}" for n, r in enumerate(results) if not r.succeeded]
    journal = ctx.journal()
    if failed:
        ctx.fail(f"{len(failed)} of {CONCURRENT_CALLS} concurrent calls failed:\n" + "\n".join(failed)
                 + f"\nrequests:\n{journal.describe()}")
    tokens = journal.token_requests
    if len(tokens) != 1:
        ctx.fail(f"{CONCURRENT_CALLS} concurrent calls on a cold cache made {len(tokens)} token requests, expected 1 "
                 f"(no single flight: each caller that found no token fetched its own):\n{journal.describe(tokens)}")


def stampede_at_expiry(ctx: CheckContext) -> None:
    """CACHE-STAMPEDE-AT-EXPIRY: once the cached token has expired, 8 concurrent calls share one refresh.

    A call warms the cache; both clocks move past the token's lifetime (exp - iat + 60 s; + 2 s in real time), so
    the token has
    expired whatever margin the client keeps; then 8 calls at once. All must succeed with at most one token
    request among them (single flight at refresh, as CACHE-CONCURRENT-COLD asks on a cold cache). The refresh's
    token response is held back for half a second, so every caller finds the token stale while the first
    refresh is in flight, however the threads happen to be scheduled. A client that refreshes only on a 401
    passes if it single-flights that refresh.
    """
    client = ctx.client()
    client.new_client()
    client.call_ok("the first call")
    journal = ctx.journal()
    first = next(iter(journal.delivered().values()), None)
    if first is None:
        ctx.fail(f"the first call succeeded, but no token was handed out:\n{journal.describe()}")
    lifetime = int(first["exp"]) - int(first["iat"])
    moved = lifetime + ctx.scale.past
    ctx.advance(client, moved)
    ctx.mock.add_fault("delay", endpoint="token", seconds=FIRST_TOKEN_DELAY, count=1)
    ctx.mock_step("add_fault", kind="delay", endpoint="token", seconds=FIRST_TOKEN_DELAY, count=1)
    mark = journal.requests[-1].seq
    results = client.call_concurrently(CONCURRENT_CALLS)
    journal = ctx.journal()
    later = journal.after(mark)
    evidence = (f"after the clocks moved {moved} s ({later.counts()}):\n"
                f"{journal.describe(later.requests, limit=20)}")
    failed = [f"  call {n + 1}: {r.describe()}" for n, r in enumerate(results) if not r.succeeded]
    tokens = later.token_requests
    if failed:
        cause = ("" if tokens else " and no token was requested for them: the client does not replace an expired "
                 "token at all (REFRESH-AFTER-LIFETIME's finding), so its single flight at refresh cannot be judged")
        ctx.fail(f"{len(failed)} of {CONCURRENT_CALLS} concurrent calls after the token expired failed{cause}:\n"
                 + "\n".join(failed) + f"\n{evidence}")
    if len(tokens) > 1:
        ctx.fail(f"{CONCURRENT_CALLS} concurrent calls once the cached token had expired made {len(tokens)} token "
                 f"requests, expected at most 1 (no single flight at refresh: each caller that found the token "
                 f"stale fetched its own; hold the lock, or share the fetch in flight, when refreshing too, not "
                 f"only on a cold cache):\n{evidence}")


def no_tokenless_call(ctx: CheckContext) -> None:
    """CACHE-NO-TOKENLESS-CALL: no API call is sent without a bearer token (to be refused as 'Token empty')."""
    client = ctx.client()
    client.new_client()
    client.call_ok("the first call")
    client.call_ok("the second call")
    journal = ctx.journal()
    bare = [r for r in journal.api_calls if r.bearer is None]
    if bare:
        ctx.fail(f"{len(bare)} of {plural(len(journal.api_calls), 'API call')} went out without a bearer token "
                 f"(the client should fetch a token first, not wait for a 401):\n{journal.describe()}")
