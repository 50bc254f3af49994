"""REFRESH-*: the client replaces its token when it expires, before it expires (with a margin), and when it is
revoked.

The time-dependent checks let time pass on the client's clock and the mock's together (``CheckContext.advance``:
both jump in virtual time, the suite waits in real time) by intervals stated in the token's lifetime and the run's
``Scale`` (``timing.py``); the journal then shows which token each call carried.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .context import CheckContext, Client
from .evidence import JournalView, Request, plural


def _first_token(ctx: CheckContext, client: Client) -> Mapping[str, Any]:
    """Make a first call; return the summary (fingerprint, jti, iat, exp, expires_in) of the token it used."""
    client.call_ok("the first call")
    journal = ctx.journal()
    calls = [r for r in journal.api_calls if r.status == 200 and r.bearer]
    token = journal.delivered().get(calls[-1].bearer or "") if calls else None
    if token is None:
        ctx.fail(f"the first call succeeded, but with no token the mock handed out:\n{journal.describe()}")
    return token


def _mark(ctx: CheckContext) -> int:
    requests = ctx.journal().requests
    return requests[-1].seq if requests else 0


def _first_token_sent_again(ctx: CheckContext, early: int) -> tuple[int, list[Request]]:
    """A first call; both clocks move to ``early`` seconds before its ``expires_in`` runs out; a call. Returns
    ``expires_in`` and the API calls after the move that still carried the first token."""
    client = ctx.client()
    client.new_client()
    first = _first_token(ctx, client)
    expires_in = int(first.get("expires_in", int(first["exp"]) - int(first["iat"])))
    mark = _mark(ctx)
    ctx.advance(client, expires_in - early)
    client.call_ok(f"the call expires_in - {early} = {expires_in - early} s later" if early else
                   f"the call expires_in = {expires_in} s later")
    later = ctx.journal().after(mark)
    return expires_in, [r for r in later.api_calls if r.bearer == first["fingerprint"]]


def after_lifetime(ctx: CheckContext) -> None:
    """REFRESH-AFTER-LIFETIME: once the token's lifetime has passed, the next call succeeds with a new token."""
    client = ctx.client()
    client.new_client()
    first = _first_token(ctx, client)
    lifetime = int(first["exp"]) - int(first["iat"])
    mark = _mark(ctx)
    later_by = lifetime + ctx.scale.past
    ctx.advance(client, later_by)
    client.call_ok(f"the call {later_by} s later (the first token's lifetime is {lifetime} s)")
    later = ctx.journal().after(mark)
    ok = [r for r in later.api_calls if r.status == 200]
    if not ok or ok[-1].bearer == first["fingerprint"]:
        ctx.fail(f"after the lifetime had passed the call did not use a new token:\n{ctx.journal().describe()}")


def before_expiry(ctx: CheckContext) -> None:
    """REFRESH-BEFORE-EXPIRY: once ``expires_in`` seconds have passed, the old token is not sent again.

    The mock's ``exp`` is one second after ``expires_in`` (86400 against 86399, as Scalekit's), so a
    client that keeps the token until ``exp`` still succeeds; the journal shows it.
    """
    expires_in, stale = _first_token_sent_again(ctx, 0)
    if stale:
        ctx.fail(f"after expires_in ({expires_in} s) had passed on both clocks, {plural(len(stale), 'call')} "
                 f"still carried the first token (refresh before expires_in runs out, not at exp or on a 401):\n"
                 f"{ctx.journal().describe()}")


def margin(ctx: CheckContext) -> None:
    """REFRESH-MARGIN: the client refreshes some seconds before ``expires_in`` runs out, not at its last moment.

    A call, then both clocks move by ``expires_in`` - 5 s (86394 s; ``expires_in`` - 1 s of a 14 s one in real
    time): the next call must not carry the first token. A token kept until the very second ``expires_in`` runs
    out reaches the server expired once the request's latency (or a clock a little ahead) is added; a margin of a
    few seconds or more (the reference client keeps min(60 s, expires_in / 10)) passes. A client refreshing
    exactly at fetched + ``expires_in`` passes REFRESH-BEFORE-EXPIRY and fails this one.
    """
    early = ctx.scale.margin
    expires_in, stale = _first_token_sent_again(ctx, early)
    if stale:
        ctx.fail(f"{early} s before expires_in ({expires_in} s) ran out, the call still carried the first token: "
                 f"with no refresh margin a token is used until its last second and reaches the server expired "
                 f"once latency is added (refresh ahead of expiry, e.g. min(60 s, expires_in / 10) before):\n"
                 f"{ctx.journal().describe()}")


def short_lifetime(ctx: CheckContext) -> None:
    """REFRESH-SHORT-LIFETIME: with a short token (300 s; 15 s in real time) the client refreshes once its lifetime
    has passed without first meeting a 401."""
    lifetime = ctx.scale.short_lifetime
    ctx.give_tokens(lifetime)
    client = ctx.client()
    client.new_client()
    first = _first_token(ctx, client)
    mark = _mark(ctx)
    ctx.advance(client, lifetime)
    client.call_ok(f"the call {lifetime} s later")
    later = ctx.journal().after(mark)
    refused = [r for r in later.api_calls if r.status == 401 or r.bearer == first["fingerprint"]]
    if refused:
        ctx.fail(f"the token said expires_in {first.get('expires_in')}; {lifetime} s later the client sent the "
                 f"expired token anyway ({plural(len(refused), 'call')}) instead of refreshing first "
                 f"(is expires_in read, or a 24 h lifetime assumed?):\n{ctx.journal().describe()}")


def clock_skew(ctx: CheckContext) -> None:
    """REFRESH-CLOCK-SKEW: with the server's clock a skew ahead (30 s; 3 s in real time), calls around expiry keep
    succeeding and never carry an expired token. A client comparing the JWT's ``exp`` with its own clock gets this
    wrong.

    A call; then both clocks move to two skews before the lifetime ends (60 s), a call; then to a third of a skew
    after it (10 s), a call: on the server's clock the token has expired, on the client's its ``exp`` is still
    ahead."""
    skew = ctx.scale.skew
    client = ctx.client()
    ctx.mock.advance_clock(skew)
    ctx.mock_step("advance_clock", seconds=skew, note=f"the mock only: its clock runs {skew} s ahead")
    client.new_client()
    first = _first_token(ctx, client)
    lifetime = int(first["exp"]) - int(first["iat"])
    before, after = 2 * skew, skew // 3
    ctx.advance(client, lifetime - before)
    client.call_ok(f"the call {lifetime - before} s after the first")
    ctx.advance(client, before + after)
    client.call_ok(f"the call {lifetime + after} s after the first")
    journal = ctx.journal()
    expired = expired_uses(journal)
    if expired:
        ctx.fail(f"with the mock's clock {skew} s ahead of the client's, {plural(len(expired), 'call')} carried "
                 f"a token already past its exp on the server (do not judge expiry by the JWT's exp against the local "
                 f"clock; count expires_in from when the token was fetched):\n{journal.describe()}")


def expired_uses(journal: JournalView) -> list[Request]:
    """API calls that carried a token at or after its ``exp`` on the mock's clock."""
    delivered = journal.delivered()
    return [r for r in journal.api_calls
            if r.bearer in delivered and r.time >= float(delivered[r.bearer or ""].get("exp", float("inf")))]


def revoked(ctx: CheckContext) -> None:
    """REFRESH-REVOKED: a revoked token gets 401 Token expired; the client fetches a new one, retries once and
    the call succeeds."""
    client = ctx.client()
    client.new_client()
    first = _first_token(ctx, client)
    ctx.mock.revoke(jti=str(first["jti"]))
    ctx.mock_step("revoke", jti=str(first["jti"]))
    mark = _mark(ctx)
    result = client.call()
    journal = ctx.journal()
    later = journal.after(mark)
    evidence = f"after the revocation ({later.counts()}):\n{journal.describe(later.requests)}"
    if not result.succeeded:
        ctx.fail(f"the call after the current token was revoked failed: {result.describe()}; {evidence}")
    last = later.api_calls[-1] if later.api_calls else None
    if last is None or last.bearer == first["fingerprint"] or last.bearer not in later.delivered():
        ctx.fail(f"the call after the revocation did not succeed with a new token; {evidence}")
    if len(later.api_calls) > 2 or not 1 <= len(later.token_requests) <= 2:
        ctx.fail(f"expected one refused call, one token request and one retry; {evidence}")
