"""CACHE-*: one token serves many calls, however they arrive, and no call goes out without one."""

from __future__ import annotations

from .context import CheckContext
from .evidence import plural

SEQUENTIAL_CALLS = 10
CONCURRENT_CALLS = 8
FIRST_TOKEN_DELAY = 0.5


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
