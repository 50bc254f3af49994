"""SEC-*-NOT-REDIRECTED: a redirect to another origin never takes the client's credentials along.

The mock answers every token request (or every API call) with a 307 to its second origin: the same path on another
port of 127.0.0.1, so another origin (RFC 6454). A client may surface the redirect as an error, or follow it
without its credentials; it must never deliver its client secret or its bearer token there. What reached the
second origin is in the journal (``endpoint: "foreign"``), with whether it carried a client secret or a token the
mock issued: the mock searched each request in clear before redacting it.

307 keeps the method and the body: a client that follows it re-posts the token request's form, secret included
(why RFC 9700 §4.12 forbids an authorization server to answer a credential-bearing request with a 307). gRPC has
no redirects: a client calling the API over gRPC meets none, and the API check does not apply to it.
"""

from __future__ import annotations

from .context import CheckContext
from .evidence import JournalView, Request

REDIRECT_COUNT = 1000  # every request to the endpoint, for the whole check: a redirect is configuration, not a blip


def secret_not_redirected(ctx: CheckContext) -> None:
    """SEC-SECRET-NOT-REDIRECTED: with the token endpoint redirecting (307) every token request to another origin,
    no request reaching that origin carries the client secret (body, query, header or HTTP Basic). The token request
    may fail, or be followed without credentials; the call's outcome is not judged."""
    _redirect(ctx, "token")
    client = ctx.client()
    client.new_client(accept_failure=True)  # an eager client fetches its token here: it meets the redirect now
    client.call()
    journal = ctx.journal()
    _met_the_redirect(ctx, journal, journal.token_requests, "token request")
    leaked = [r for r in journal.foreign if r.carried_secret]
    if leaked:
        ctx.fail(f"the token endpoint redirected the token request (307) to another origin, and the client sent its "
                 f"client secret there: a redirect must not take the credentials along (surface it as an error, or "
                 f"follow it without them) {_evidence(journal, leaked)}")


def token_not_redirected(ctx: CheckContext) -> None:
    """SEC-TOKEN-NOT-REDIRECTED: with every API call redirected (307) to another origin, no request reaching that
    origin carries a token the mock issued (nor the client secret). The call may fail, or follow the redirect
    without the Authorization header. Not applicable to a client calling the API over gRPC (no redirects there)."""
    _redirect(ctx, "api")
    client = ctx.client()
    client.new_client()
    client.call()
    journal = ctx.journal()
    calls = journal.api_calls
    if calls and all(r.entry.get("transport") == "grpc" for r in calls):
        ctx.not_applicable("the client calls the API over gRPC, which has no redirects (a redirect fault never "
                           "matches a gRPC call)")
    _met_the_redirect(ctx, journal, calls, "API call")
    leaked = [r for r in journal.foreign if r.carried_token or r.carried_secret]
    if leaked:
        ctx.fail(f"the API redirected the call (307) to another origin, and the client sent its bearer token there "
                 f"(RFC 6750 §5.3: it must not leak to unintended parties; drop Authorization on a cross-origin "
                 f"redirect, or do not follow it) {_evidence(journal, leaked)}")


def _redirect(ctx: CheckContext, endpoint: str) -> None:
    ctx.mock.add_fault("redirect", endpoint=endpoint, count=REDIRECT_COUNT)
    ctx.mock_step("add_fault", kind="redirect", endpoint=endpoint, count=REDIRECT_COUNT)


def _met_the_redirect(ctx: CheckContext, journal: JournalView, requests: list[Request], noun: str) -> None:
    """A client that made no request the redirect answered gave the check nothing to judge: that fails it."""
    if not any(r.outcome == "redirect" for r in requests):
        ctx.fail(f"no {noun} met the redirect, so the check saw nothing to judge ({journal.counts()}):\n"
                 f"{journal.describe()}")


def _evidence(journal: JournalView, leaked: list[Request]) -> str:
    return (f"({len(leaked)} of the {len(journal.foreign)} request(s) at the other origin):\n"
            f"{journal.describe(leaked)}\nall requests ({journal.counts()}):\n{journal.describe()}")
