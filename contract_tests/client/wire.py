"""FMT-*: what the client puts on the wire — the token request, the bearer header, no secret in a URL."""

from __future__ import annotations

import json
from collections.abc import Mapping

from mock_server import fingerprint

from .context import CheckContext
from .evidence import JournalView, Request, plural

FORM = "application/x-www-form-urlencoded"


def token_request(ctx: CheckContext) -> None:
    """FMT-TOKEN-REQUEST: every token request is a form POST to /oauth/token with the client_credentials
    grant and the client's credentials in the body or in HTTP Basic."""
    client = ctx.client()
    client.new_client(accept_failure=True)
    client.call()
    journal = ctx.journal()
    misdirected = [r for r in journal if r.endpoint != "token" and "token" in str(r.entry.get("path", "")).lower()]
    if misdirected:
        ctx.fail(f"token requests went to the wrong place (the token endpoint is POST /oauth/token):\n"
                 f"{journal.describe(misdirected)}")
    if not journal.token_requests:
        ctx.fail(f"no request reached POST /oauth/token for a new client's first call; requests:\n{journal.describe()}")
    secret_fp = fingerprint(ctx.mock.client_secret)
    tokens = journal.token_requests
    problems = [f"  #{r.seq}: {why}" for r in tokens for why in _problems(r, ctx.mock.client_id, secret_fp)]
    if problems:
        ctx.fail(f"{plural(len(problems), 'problem')} in {plural(len(tokens), 'token request')}:\n"
                 + "\n".join(problems) + f"\nrequests:\n{journal.describe()}")
    if not any(r.status == 200 for r in journal.token_requests):
        ctx.fail(f"the token endpoint refused every token request:\n{journal.describe(journal.token_requests)}")


def _problems(request: Request, client_id: str, secret_fp: str) -> list[str]:
    entry = request.entry
    found: list[str] = []
    if entry.get("method") != "POST":
        found.append(f"method {entry.get('method')}, not POST")
    content_type = str(entry.get("headers", {}).get("content-type", ""))
    if content_type.split(";")[0].strip().lower() != FORM:
        found.append(f"Content-Type {content_type or '(none)'!r}, not {FORM}")
    form = entry.get("form")
    if not isinstance(form, dict):
        return [*found, "the body was not read as a form"]
    if form.get("grant_type") != ["client_credentials"]:
        found.append(f"grant_type {form.get('grant_type')}, not ['client_credentials']")
    basic = (request.authorization or "").partition(" ")
    in_basic = basic[0].lower() == "basic" and basic[2] == f"{client_id}:{secret_fp}"
    in_body = form.get("client_id") == [client_id] and form.get("client_secret") == [secret_fp]
    if not (in_basic or in_body):
        found.append(f"credentials neither in the body (client_id {form.get('client_id')}, client_secret "
                     f"{form.get('client_secret')}) nor in HTTP Basic (Authorization {request.authorization!r}); "
                     f"expected client_id {client_id} and the secret {secret_fp}")
    return found


def secret_not_in_url(ctx: CheckContext) -> None:
    """FMT-SECRET-NOT-IN-URL: the client secret appears in no request URL (path or query string).

    The mock replaces a known secret by its fingerprint wherever it appears, so a leaked secret shows
    up in the journal as that fingerprint.
    """
    client = ctx.client()
    client.new_client(accept_failure=True)
    client.call()
    client.call()
    secret = ctx.mock.client_secret
    journal = ctx.journal()
    leaks = [r for r in journal if _url_holds(r, secret)]
    if leaks:
        ctx.fail(f"the client secret ({fingerprint(secret)}) appeared in the URL of {len(leaks)} of "
                 f"{plural(len(journal), 'request')} (URLs end up in access logs and proxies):\n"
                 f"{journal.describe(leaks)}\n"
                 f"  URLs: " + "; ".join(f"#{r.seq} {r.entry.get('path')} {json.dumps(r.entry.get('query'))}"
                                         for r in leaks[:5]))
    if not journal.token_requests:
        ctx.fail(f"no token request reached the mock, so there was nothing to look at; requests:\n{journal.describe()}")


def _url_holds(request: Request, secret: str) -> bool:
    url = json.dumps([request.entry.get("path"), request.entry.get("query")])
    return fingerprint(secret) in url or secret in url


def bearer_header(ctx: CheckContext) -> None:
    """FMT-BEARER-HEADER: API calls carry ``Authorization: Bearer <token>``, the most recent token the mock
    issued to this client. (Calls with no Authorization header at all are CACHE-NO-TOKENLESS-CALL's.)"""
    client = ctx.client()
    client.new_client()
    for n in range(3):
        client.call_ok(f"call {n + 1} of 3")
    journal = ctx.journal()
    delivered = journal.delivered(ctx.mock.client_id)
    with_header = [r for r in journal.api_calls if r.authorization is not None]
    if not with_header:
        ctx.fail(f"no API call carried an Authorization header:\n{journal.describe()}")
    problems = [f"  #{r.seq}: {why}" for r in with_header if (why := _bearer_problem(r, journal, delivered))]
    if problems:
        ctx.fail(f"{len(problems)} of {plural(len(with_header), 'API call')} did not carry the current token:\n"
                 + "\n".join(problems) + f"\nrequests:\n{journal.describe()}")


def _bearer_problem(request: Request, journal: JournalView, delivered: Mapping[str, object]) -> str | None:
    scheme = (request.authorization or "").partition(" ")[0]
    if scheme.lower() != "bearer":
        return f"Authorization scheme {scheme!r}, not Bearer"
    if request.bearer is None:
        return "'Authorization: Bearer' with no token"
    if request.bearer not in delivered:
        return f"bearer {request.bearer} is no token the mock issued to this client"
    latest = journal.latest_delivered(before_seq=request.seq)
    if latest is not None and latest.issued is not None and latest.issued["fingerprint"] != request.bearer:
        newest = latest.issued["fingerprint"]
        return f"bearer {request.bearer} is an older token; the newest was {newest} (#{latest.seq})"
    return None
