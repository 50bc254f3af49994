"""The journal: every request the mock served, with secrets and tokens replaced by fingerprints."""

from __future__ import annotations

import collections
import functools
import hashlib
import itertools
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from .credentials import CONTROL_TOKEN_HEADER, BadCredentials, basic_credentials

_JWT = re.compile(r"eyJ[A-Za-z0-9_\-]*\.[A-Za-z0-9_\-]*\.[A-Za-z0-9_\-]*")
_SECRET_FIELDS = frozenset({"client_secret", "access_token", "refresh_token", "token", "password"})
_CONTROL_TOKEN = CONTROL_TOKEN_HEADER.lower()


@functools.lru_cache(maxsize=4096)  # clients send the same token many times: hash it once
def fingerprint(value: str) -> str:
    """A short, stable stand-in for a secret or token: enough to tell two apart, useless to an attacker."""
    return "fp:" + hashlib.sha256(value.encode("utf-8", "surrogateescape")).hexdigest()[:12]


class Redactor:
    """Replaces client secrets (known ones, or any value of a secret field) and JWTs with fingerprints."""

    def __init__(self, known_secrets: Callable[[], Iterable[str]]) -> None:
        self._known = known_secrets

    def text(self, value: str) -> str:
        if "eyJ" in value:
            value = _JWT.sub(lambda m: fingerprint(m.group(0)), value)
        for secret in self._known():
            if secret and secret in value:
                value = value.replace(secret, fingerprint(secret))
        return value

    def header(self, name: str, value: str) -> str:
        if name.lower() in ("authorization", "proxy-authorization"):
            scheme, _, credential = value.partition(" ")
            if scheme.lower() == "basic" and credential:
                return f"{scheme} {_basic_fingerprint(credential.strip())}"
            if credential:
                return f"{scheme} {fingerprint(credential.strip())}"
        if name.lower() == _CONTROL_TOKEN:  # right or wrong, a control token is a secret
            return fingerprint(value.strip())
        return self.text(value)

    def fields(self, pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for key, value in pairs:
            out.setdefault(self.text(key), []).append(
                fingerprint(value) if key.lower() in _SECRET_FIELDS else self.text(value))
        return out

    def secrets_in(self, texts: Iterable[str]) -> set[str]:
        """Fingerprints of the known secrets occurring in ``texts``: what a request carried, read before redacting."""
        known = [secret for secret in self._known() if secret]
        return {fingerprint(secret) for text in texts for secret in known if secret in text}


def jwts_in(texts: Iterable[str]) -> set[str]:
    """Fingerprints of the JWT-shaped strings occurring in ``texts``."""
    return {fingerprint(match) for text in texts if "eyJ" in text for match in _JWT.findall(text)}


def _basic_fingerprint(credential: str) -> str:
    try:
        read = basic_credentials(f"Basic {credential}")
    except BadCredentials:
        return fingerprint(credential)
    return f"{read[0]}:{fingerprint(read[1])}" if read else fingerprint(credential)


@dataclass
class JournalEntry:
    """One request as the mock saw and answered it (already redacted)."""

    seq: int
    time: float
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    form: dict[str, list[str]] | None
    endpoint: str
    transport: str = "http"
    client_id: str | None = None
    token: dict[str, Any] | None = None  # the bearer token an API call used
    issued: dict[str, Any] | None = None  # the token a token request got
    status: int = 0
    outcome: str = ""
    fault: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Journal:
    """A bounded ring of entries: memory stays flat however many requests are served."""

    def __init__(self, size: int = 10_000) -> None:
        self._entries: collections.deque[JournalEntry] = collections.deque(maxlen=size)
        self._seq = itertools.count(1)
        self._lock = threading.Lock()

    @property
    def size(self) -> int:
        return self._entries.maxlen or 0

    def next_seq(self) -> int:
        return next(self._seq)

    def record(self, entry: JournalEntry) -> None:
        self._entries.append(entry)  # deque.append is atomic

    def flush(self) -> None:
        """Make every recorded entry readable by every process (nothing to do here: ``redis_state.SharedJournal``)."""

    def entries(self, *, path: str | None = None, endpoint: str | None = None, status: int | None = None,
                since: int | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """Entries in order, filtered: exact ``path`` (or a prefix ending in ``*``), ``endpoint``,
        ``status``, ``since`` (entries with ``seq`` greater than it), the last ``limit``."""
        with self._lock:
            snapshot = list(self._entries)
        picked = [e for e in snapshot if _keep(e, path, endpoint, status, since)]
        if limit is not None:
            picked = picked[-limit:] if limit > 0 else []
        return [e.to_dict() for e in picked]

    def last_seq(self) -> int:
        return self._entries[-1].seq if self._entries else 0

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def _keep(e: JournalEntry, path: str | None, endpoint: str | None, status: int | None, since: int | None) -> bool:
    if path is not None and not (e.path.startswith(path[:-1]) if path.endswith("*") else e.path == path):
        return False
    return ((endpoint is None or e.endpoint == endpoint) and (status is None or e.status == status)
            and (since is None or e.seq > since))
