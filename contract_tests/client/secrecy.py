"""SEC-*: neither the client secret nor an access token ever reaches the driver's output.

These checks run last and scan the output of every driver process of the run (the other checks'
included), after provoking the error paths where clients tend to log too much.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from urllib.parse import quote, quote_plus

from mock_server import fingerprint

from .context import CheckContext
from .driver import JWT, DriverOutput, redact
from .evidence import plural
from .failures import WRONG_SECRET

SHOWN = 8


def _lines(output: DriverOutput) -> Iterator[tuple[str, int, str]]:
    for stream, lines in (("stdout", output.stdout), ("stderr", output.stderr)):
        for number, line in enumerate(lines, 1):
            yield stream, number, line


def _provoke(ctx: CheckContext) -> None:
    """Calls down the paths where secrets and tokens get logged: retries, refusals, refreshes, bad credentials."""
    client = ctx.client()
    for kind, spec in (("status", {"endpoint": "token", "preset": "server_error_html"}), ("forbidden", {}),
                       ("token_expired", {})):
        ctx.mock.add_fault(kind, count=1, **spec)
        ctx.mock_step("add_fault", kind=kind, count=1, **spec)
        client.new_client(accept_failure=True)
        client.call()
    ctx.mock.clear_faults()
    wrong = ctx.client(secret=WRONG_SECRET)
    wrong.new_client(accept_failure=True)
    wrong.call()
    ctx.close()  # the drivers exit, so everything they printed has been read


def _forms(secret: str, client_id: str) -> set[str]:
    """The shapes a secret takes in a log line: as is, URL-encoded, inside HTTP Basic credentials."""
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {secret, quote_plus(secret), quote(secret, safe=""), basic}


def secret_not_logged(ctx: CheckContext) -> None:
    """SEC-SECRET-NOT-LOGGED: no driver process of the run printed its client secret (stdout or stderr)."""
    _provoke(ctx)
    client_id = ctx.mock.client_id
    findings = []
    for output in ctx.run_log.outputs:
        forms = _forms(output.secret, client_id)
        for stream, number, line in _lines(output):
            if any(form in line for form in forms):
                shown = redact(line, sorted(forms, key=len, reverse=True))[:200]
                findings.append(f"  driver of {output.label}, {stream} line {number}: {shown}")
    if findings:
        ctx.fail(f"the client secret appeared {plural(len(findings), 'time')} in driver output (shown with the secret "
                 f"replaced by {fingerprint(ctx.mock.client_secret)} or its own fingerprint):\n"
                 + "\n".join(findings[:SHOWN]) + _more(findings))


def token_not_logged(ctx: CheckContext) -> None:
    """SEC-TOKEN-NOT-LOGGED: no access token the mock issued in this run appears in any driver's output."""
    _provoke(ctx)
    issued = ctx.run_log.issued
    findings = []
    for output in ctx.run_log.outputs:
        for stream, number, line in _lines(output):
            leaked = [m for m in JWT.findall(line) if fingerprint(m) in issued]
            if leaked:
                shown = redact(line, [])[:200]
                findings.append(f"  driver of {output.label}, {stream} line {number}: {shown}")
    if findings:
        ctx.fail(f"access tokens issued by the mock ({len(issued)} in this run) appeared "
                 f"{plural(len(findings), 'time')} in driver output (shown as fingerprints):\n"
                 + "\n".join(findings[:SHOWN]) + _more(findings))


def _more(findings: list[str]) -> str:
    return f"\n  … and {len(findings) - SHOWN} more" if len(findings) > SHOWN else ""
