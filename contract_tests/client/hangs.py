"""ERR-*-HANG: how the client meets an endpoint that never answers — it gives up within the hang bound.

The bound is real time (a hung socket is not on the virtual clock): ``--hang-bound``, 10 s by default. A
hung request is journaled only once released, so the evidence is the journal read before the reset that
releases them, and how many requests the hang fault has taken.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .context import CheckContext
from .driver import CallResult, DriverTimeout
from .evidence import plural

HANG_COUNT = 1000  # every request to the endpoint, for the whole check


@dataclass(frozen=True)
class Hung:
    """An endpoint a ``hang`` fault holds, as the failure messages name it."""

    endpoint: str  # the fault's endpoint family: "token", "api"
    what: str  # "a token endpoint that never answers"
    requests: str  # "token requests": what needs the timeout
    noun: str  # "token request": one of them, for counts


TOKEN = Hung("token", "a token endpoint that never answers", "token requests", "token request")
API = Hung("api", "an API that never answers", "API calls", "API call")


def token_endpoint_hang(ctx: CheckContext) -> None:
    """ERR-TOKEN-ENDPOINT-HANG: when the token endpoint never answers, ``new_client`` and the call each return
    within the hang bound (10 s by default) instead of hanging, and the call fails."""
    _hang(ctx, TOKEN)


def api_hang(ctx: CheckContext) -> None:
    """ERR-API-HANG: when the API never answers (every API call hangs; the token endpoint answers as usual),
    ``new_client`` and the call each return within the hang bound (10 s by default) instead of hanging, and the
    call fails: API calls need a timeout as much as token requests do."""
    _hang(ctx, API)


def _hang(ctx: CheckContext, hung: Hung) -> None:
    ctx.mock.add_fault("hang", endpoint=hung.endpoint, count=HANG_COUNT)
    ctx.mock_step("add_fault", kind="hang", endpoint=hung.endpoint, count=HANG_COUNT)
    client = ctx.client()
    try:
        _within_bound(ctx, hung, "new_client", lambda timeout: client.new_client(accept_failure=True, timeout=timeout))
        result = _within_bound(ctx, hung, "call", lambda timeout: client.call(timeout=timeout))
        if result.succeeded:
            ctx.fail(f"the call succeeded although it met {hung.what} {_evidence(ctx, hung)}")
    finally:
        ctx.reset_mock()  # releases the hung requests


def _within_bound(ctx: CheckContext, hung: Hung, op: str, send: Callable[[float], CallResult]) -> CallResult:
    """``send`` the op with the hang bound as its deadline; a driver still waiting then fails the check."""
    bound = ctx.options.hang_bound
    try:
        return send(bound)
    except DriverTimeout:
        ctx.fail(f"with {hung.what}, '{op}' had not returned after {bound:g} s, the hang bound (set with "
                 f"--hang-bound), and the driver was killed: give {hung.requests} a timeout shorter than {bound:g} s "
                 f"(or raise the bound if your timeout is deliberate) {_evidence(ctx, hung)}")


def _evidence(ctx: CheckContext, hung: Hung) -> str:
    """The requests answered so far and how many the hang holds (from its fault's count, still queued)."""
    journal = ctx.journal()
    held = sum(f["count"] - f["remaining"] for f in ctx.mock.control.faults.pending()
               if f["kind"] == "hang" and f.get("endpoint") == hung.endpoint)
    answered = journal.describe() if len(journal) else "  (none answered)"
    return (f"({journal.counts()} answered; {plural(held, hung.noun)} held unanswered by the hang, not yet "
            f"journaled):\n{answered}")
