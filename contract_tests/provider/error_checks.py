"""Provider checks of the errors: the token endpoint's (RFC 6749 5.2) and the API's (google.rpc.Status).

The expected texts are those of the shipped ``fixtures/errors.json``; a failure says which entry and
what its source is (documented, or inferred), so that a difference with a live environment points at
the line to correct.
"""

from __future__ import annotations

from collections.abc import Sequence

from .context import ProviderContext
from .observe import json_type
from .probe import Exchange


def _oauth_error(ctx: ProviderContext, case: str, allowed: Sequence[tuple[int, str]]) -> None:
    """The answer is one of the allowed (status, RFC 6749 error code) pairs, with an RFC 6749 5.2 body."""
    ex = ctx.exchange(case)
    body = ctx.json_object(ex, sorted({status for status, _ in allowed}))
    problems = []
    if (ex.status, body.get("error")) not in allowed:
        wanted = " or ".join(f"{status} with error {error!r}" for status, error in allowed)
        problems.append(f"{ex.status} with error {ctx.show(body.get('error'))}, expected {wanted} "
                        f"({ctx.source_note('oauth', allowed[0][1])})")
    if "error_description" in body and not isinstance(body["error_description"], str):
        problems.append(f"error_description is {json_type(body['error_description'])}, expected a string")
    ctx.require(ex, problems)


def wrong_secret(ctx: ProviderContext) -> None:
    _oauth_error(ctx, "token-wrong-secret", [(401, "invalid_client")])


def unknown_client(ctx: ProviderContext) -> None:
    _oauth_error(ctx, "token-unknown-client", [(401, "invalid_client")])


def missing_fields(ctx: ProviderContext) -> None:
    _oauth_error(ctx, "token-missing-grant-type", [(400, "invalid_request")])
    # RFC 6749 5.2 allows both for a request without client authentication.
    _oauth_error(ctx, "token-missing-secret", [(400, "invalid_request"), (401, "invalid_client")])


def unsupported_grant_type(ctx: ProviderContext) -> None:
    _oauth_error(ctx, "token-unsupported-grant-type", [(400, "unsupported_grant_type")])


def _status_problems(ctx: ProviderContext, ex: Exchange, key: str, exact_message: bool) -> list[str]:
    """What differs from the google.rpc.Status body of ``errors.json`` ``api.<key>``."""
    spec, body = ctx.api_error_spec(key), ex.data
    note = ctx.source_note("api", key)
    problems = []
    if body.get("code") != spec["code"]:
        problems.append(f"code is {ctx.show(body.get('code'))}, expected {spec['code']} ({note})")
    message = body.get("message")
    if not isinstance(message, str):
        problems.append(f"message is {json_type(message)}, expected a string")
    elif exact_message and message != spec["message"]:
        problems.append(f"message is {message!r}, expected {spec['message']!r} ({note})")
    details = body.get("details")
    infos = [d for d in details if isinstance(d, dict) and d.get("@type") == ctx.expected.errors["error_info_type"]] \
        if isinstance(details, list) else []
    if not infos:
        problems.append(f"details holds no {ctx.expected.errors['error_info_type']} (ErrorInfo)")
    elif infos[0].get("error_code") != spec["error_code"]:
        problems.append(f"ErrorInfo.error_code is {ctx.show(infos[0].get('error_code'))}, expected "
                        f"{spec['error_code']!r} ({note})")
    return problems


def _api_error(ctx: ProviderContext, case: str, key: str, *, exact_message: bool = True) -> None:
    ex = ctx.exchange(case)
    ctx.json_object(ex, int(ctx.api_error_spec(key)["status"]))
    ctx.require(ex, _status_problems(ctx, ex, key, exact_message))


def api_ok(ctx: ProviderContext) -> None:
    ctx.json_object(ctx.exchange("api-ok"), 200)


def no_token(ctx: ProviderContext) -> None:
    _api_error(ctx, "api-no-token", "token_empty")


def malformed_token(ctx: ProviderContext) -> None:
    # The message of this answer is not documented: only its status and shape are checked.
    _api_error(ctx, "api-malformed-token", "invalid_token", exact_message=False)


def tampered_token(ctx: ProviderContext) -> None:
    _api_error(ctx, "api-tampered-token", "invalid_token", exact_message=False)


def expired_token(ctx: ProviderContext) -> None:
    _api_error(ctx, "api-expired-token", "token_expired")


def forbidden(ctx: ProviderContext) -> None:
    _api_error(ctx, "api-forbidden", "forbidden")


def revoked_token(ctx: ProviderContext) -> None:
    _api_error(ctx, "api-revoked-token", "token_expired")
