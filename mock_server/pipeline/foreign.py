"""What reached the second origin: one journal entry per request, ``endpoint: "foreign"``, redacted like every other.

A redirect fault sends clients to another origin (``servers/second_origin.py``) to see what they take along. Before
the request is redacted, it is searched for what must never leave the mock's origin: a client secret the mock knows
(in the path, the query, a header, HTTP Basic credentials or the body, as sent or form-decoded) and a token the
mock handed out (a JWT the journal shows issued). The entry keeps the answers (``extra.carried_secret``,
``extra.carried_token``) and the fingerprints of what was found (``extra.carried``), never the values.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote_plus

from ..core.credentials import BadCredentials, basic_credentials
from ..core.journal import JournalEntry, jwts_in
from .oauth import FORM
from .pipeline import Pipeline
from .request import Request

FOREIGN = "foreign"  # the journal family of the second origin's requests (core/faults.JOURNALED)
ANSWER_STATUS = 404  # the second origin serves nothing: whatever a client expected there, it does not get it
BODY_KEPT = 2048  # characters of a body that is not a form, kept (redacted) in ``extra.body``


def record_foreign(pipeline: Pipeline, request: Request, origin: str) -> JournalEntry:
    """Journal a request that reached the second origin at ``origin``, answered ``ANSWER_STATUS``."""
    control = pipeline.control
    readings = _readings(request)
    secrets = control.redactor.secrets_in(readings)
    tokens = jwts_in(readings) & _issued(pipeline)
    entry = pipeline.entry(request, FOREIGN)
    body = request.body.decode("utf-8", "replace")
    if request.mimetype == FORM:
        entry.form = control.redactor.fields(parse_qsl(body, keep_blank_values=True))
    elif body:
        entry.extra["body"] = control.redactor.text(body[:BODY_KEPT])
    entry.extra.update(origin=origin, carried_secret=bool(secrets), carried_token=bool(tokens),
                       carried=sorted(secrets | tokens))
    entry.status, entry.outcome = ANSWER_STATUS, "second_origin"
    pipeline.record(entry)
    return entry


def _readings(request: Request) -> list[str]:
    """Everywhere a request can carry a credential, as sent and decoded: path, query, header values (Basic
    credentials decoded), body."""
    body = request.body.decode("utf-8", "replace")
    readings = [request.path, request.query, unquote_plus(request.query), body, unquote_plus(body)]
    for _, value in request.headers:
        readings.append(value)
        try:
            readings.extend(basic_credentials(value) or ())
        except BadCredentials:
            continue  # not readable as Basic credentials: the value itself is searched
    return readings


def _issued(pipeline: Pipeline) -> set[str]:
    """Fingerprints of the tokens the mock handed out, as far as the journal remembers (a token request's
    ``issued``)."""
    entries = pipeline.control.journal.entries(endpoint="token")
    return {str(e["issued"]["fingerprint"]) for e in entries if e.get("issued")}
