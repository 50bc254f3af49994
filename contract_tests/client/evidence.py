"""Reading the mock's journal as evidence: which requests a client made, with which tokens.

Kept free of I/O (it reads journal entries already fetched) so that what a check concludes from a
journal can be tested without a server or a driver.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


def plural(count: int, noun: str) -> str:
    """``1 token request``, ``4 API calls``."""
    return f"{count} {noun}" + ("" if count == 1 else "s")


# Token responses the client never received a usable token from (the mock issued one, but broke the answer).
UNDELIVERED = frozenset({"malformed:not_json", "malformed:missing_access_token"})
BROKEN = "malformed:"  # the outcome of a token response a malformed_token fault broke (journal ``outcome``)
CREDENTIAL_FIELDS = ("client_id", "client_secret")  # the form fields carrying client credentials
FOREIGN = "foreign"  # the journal family of what reached the mock's second origin (a redirect fault's target)


@dataclass(frozen=True)
class Request:
    """One journal entry, with the questions the checks ask of it."""

    entry: Mapping[str, Any]

    @property
    def seq(self) -> int:
        return int(self.entry["seq"])

    @property
    def time(self) -> float:
        return float(self.entry["time"])

    @property
    def endpoint(self) -> str:
        return str(self.entry.get("endpoint", ""))

    @property
    def status(self) -> int:
        return int(self.entry.get("status") or 0)

    @property
    def outcome(self) -> str:
        return str(self.entry.get("outcome") or "")

    @property
    def authorization(self) -> str | None:
        value = self.entry.get("headers", {}).get("authorization")
        return value if isinstance(value, str) else None

    @property
    def bearer(self) -> str | None:
        """The fingerprint of the Bearer credential this request carried, if it carried one."""
        scheme, _, credential = (self.authorization or "").partition(" ")
        return credential.strip() or None if scheme.lower() == "bearer" else None

    @property
    def issued(self) -> Mapping[str, Any] | None:
        issued = self.entry.get("issued")
        return issued if isinstance(issued, dict) else None

    @property
    def delivered(self) -> bool:
        """Whether this token request handed the client a token (a 200 carrying one)."""
        return self.issued is not None and self.status == 200 and self.outcome not in UNDELIVERED

    @property
    def credentials(self) -> tuple[str, str, str] | None:
        """Where a token request carried its client credentials: ``("basic", client_id, secret fingerprint)`` for
        HTTP Basic, ``("body", …)`` for the form; None when the journal does not show them (no Basic header, and
        no form read: a fault answered before the body was parsed)."""
        scheme, _, credential = (self.authorization or "").partition(" ")
        if scheme.lower() == "basic":
            client_id, _, secret = credential.strip().partition(":")  # the journal keeps "id:fp:…"
            return "basic", client_id, secret
        form = self.form
        if form is not None and form.get("client_secret"):
            return "body", (form.get("client_id") or [""])[0], form["client_secret"][0]
        return None

    @property
    def carried_secret(self) -> bool:
        """Whether this request, at the second origin, carried a client secret (the mock searched it in clear)."""
        return bool((self.entry.get("extra") or {}).get("carried_secret"))

    @property
    def carried_token(self) -> bool:
        """Whether this request, at the second origin, carried a token the mock had handed out."""
        return bool((self.entry.get("extra") or {}).get("carried_token"))

    @property
    def form(self) -> Mapping[str, list[str]] | None:
        form = self.entry.get("form")
        return form if isinstance(form, dict) else None

    def moves_credentials_of(self, earlier: Request) -> bool:
        """Whether this token request is ``earlier`` sent again with only the client credentials moved between
        HTTP Basic and the form body (golang.org/x/oauth2's auth-style probe resends a failed request so):
        same method, path and query, the same client id and secret, the other form fields the same where both
        forms are known."""
        mine, theirs = self.credentials, earlier.credentials
        if self.endpoint != "token" or earlier.endpoint != "token" or mine is None or theirs is None:
            return False
        if mine[0] == theirs[0] or mine[1:] != theirs[1:]:
            return False
        same = all(self.entry.get(key) == earlier.entry.get(key) for key in ("method", "path", "query"))
        if self.form is None or earlier.form is None:
            return same
        rest = [{k: v for k, v in form.items() if k not in CREDENTIAL_FIELDS} for form in (self.form, earlier.form)]
        return same and rest[0] == rest[1]

    @property
    def issued_as(self) -> str:
        """How a token request's token reached the client, for reports: "issued", or how a broken response
        carried it (a ``malformed_token`` fault)."""
        if self.outcome in UNDELIVERED:  # the broken body carries no token: the client never saw it
            return "minted but not sent (a broken response)"
        if self.outcome.startswith(BROKEN):
            return "sent in a broken response"
        return "issued"

    def describe(self, tokens: Mapping[str, str] | None = None) -> str:
        """``#12 GET /api/v1/organizations -> 401 token_expired, bearer T1 (fp:…)`` for a failure message."""
        extra = self.entry.get("extra") or {}
        where = str(extra.get("origin", "")) if self.endpoint == FOREIGN else ""  # another origin: named in full
        text = f"#{self.seq} {self.entry.get('method')} {where}{self.entry.get('path')} -> {self.status or 'no answer'}"
        if self.outcome:
            text += f" {self.outcome}"
        detail = extra.get("detail")
        if detail:
            text += f" ({detail})"
        if self.endpoint == "token" and self.issued is not None:
            name = _name(str(self.issued.get("fingerprint")), tokens)
            text += f", issued {name}" if self.issued_as == "issued" else f", {name} {self.issued_as}"
        elif self.endpoint == FOREIGN:
            text += ", " + self._carried(tokens or {})
        elif self.endpoint != "token":
            text += f", bearer {_name(self.bearer, tokens)}" if self.bearer else ", no bearer token"
        return text

    def _carried(self, tokens: Mapping[str, str]) -> str:
        """What a request at the second origin carried: ``carried the client secret (fp:…) and token T1 (fp:…)``."""
        found = [str(fp) for fp in (self.entry.get("extra") or {}).get("carried") or ()]
        named = [_name(fp, tokens) for fp in found if fp in tokens]
        secrets = ", ".join(fp for fp in found if fp not in tokens)
        parts = [f"the client secret ({secrets})"] if self.carried_secret else []
        if self.carried_token:
            parts.append(f"token {', '.join(named)}" if named else "a token the mock issued")
        return "carried " + " and ".join(parts) if parts else "carried no secret and no token the mock issued"


def _name(fp: str | None, tokens: Mapping[str, str] | None) -> str:
    label = (tokens or {}).get(fp or "")
    return f"{label} ({fp})" if label else str(fp)


class JournalView:
    """The requests of one check (or one example), in the order they reached the mock."""

    def __init__(self, entries: Iterable[Mapping[str, Any]]) -> None:
        self.requests = sorted((Request(e) for e in entries if e.get("endpoint") != "control"), key=lambda r: r.seq)

    def __iter__(self) -> Iterator[Request]:
        return iter(self.requests)

    def __len__(self) -> int:
        return len(self.requests)

    @property
    def token_requests(self) -> list[Request]:
        return [r for r in self.requests if r.endpoint == "token"]

    @property
    def api_calls(self) -> list[Request]:
        return [r for r in self.requests if r.endpoint == "api"]

    @property
    def foreign(self) -> list[Request]:
        """The requests that reached the mock's second origin (where a redirect fault sent the client)."""
        return [r for r in self.requests if r.endpoint == FOREIGN]

    def after(self, seq: int) -> JournalView:
        """The requests that started after the request numbered ``seq`` (or a mark from ``mark``)."""
        view = JournalView(())
        view.requests = [r for r in self.requests if r.seq > seq]
        return view

    def delivered(self, client_id: str | None = None) -> dict[str, Mapping[str, Any]]:
        """Tokens handed to the client (optionally only those issued to ``client_id``), by fingerprint."""
        found: dict[str, Mapping[str, Any]] = {}
        for r in self.token_requests:
            if r.delivered and r.issued is not None and client_id in (None, r.entry.get("client_id")):
                found[str(r.issued["fingerprint"])] = r.issued
        return found

    def issued_fingerprints(self) -> set[str]:
        return {str(r.issued["fingerprint"]) for r in self.token_requests if r.issued is not None}

    def token_names(self) -> dict[str, str]:
        """Short names for the tokens issued here (``T1``, ``T2`` …), to make messages readable."""
        names: dict[str, str] = {}
        for r in self.token_requests:
            if r.issued is not None:
                names.setdefault(str(r.issued["fingerprint"]), f"T{len(names) + 1}")
        return names

    def latest_delivered(self, before_seq: int | None = None) -> Request | None:
        picked = [r for r in self.token_requests if r.delivered and (before_seq is None or r.seq < before_seq)]
        return picked[-1] if picked else None

    def describe(self, requests: Sequence[Request] | None = None, limit: int = 12) -> str:
        """A numbered list of requests (all by default) for a failure message, cut at ``limit``."""
        shown = list(self.requests if requests is None else requests)
        if not shown:
            return "  (no requests reached the mock)"
        names = self.token_names()
        lines = [f"  {r.describe(names)}" for r in shown[:limit]]
        if len(shown) > limit:
            lines.append(f"  … and {len(shown) - limit} more")
        return "\n".join(lines)

    def counts(self) -> str:
        return f"{plural(len(self.token_requests), 'token request')}, {plural(len(self.api_calls), 'API call')}"
