"""What the control plane keeps in proxy mode: the upstream's tokens it relayed, and how much it forwarded.

The proxy cannot sign or verify the upstream's tokens, but it reads their claims (unverified) to
decide what the real service cannot be asked for: revocation, and expiry on the virtual clock. A
token's ``iat``/``exp`` are placed on the virtual clock when it is relayed (shifted by the clock's
offset at that moment), so a token fetched after ``advance_clock(86400)`` is fresh, as in mock mode,
while one fetched before it is past its ``exp``. No I/O here: ``pipeline/proxy.py`` does the forwarding.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Mapping
from typing import Any

import jwt

from .journal import fingerprint

_SHIFTED = ("iat", "exp")


def unverified_claims(token: str) -> dict[str, Any]:
    """A JWT's claims without checking its signature (``{}`` when it is no JWT)."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return {}
    return claims if isinstance(claims, dict) else {}


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class RelayedTokens:
    """The clock offset at which each relayed token was issued, by ``jti`` (a bounded record, oldest out)."""

    def __init__(self, size: int = 10_000) -> None:
        self._offsets: collections.OrderedDict[str, float] = collections.OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def issued(self, token: str, offset: float, response: Mapping[str, Any]) -> dict[str, Any]:
        """Note a token the upstream just issued; return what the journal records of it."""
        claims = unverified_claims(token)
        jti = claims.get("jti")
        if isinstance(jti, str):
            with self._lock:
                self._offsets[jti] = offset
                self._offsets.move_to_end(jti)
                if len(self._offsets) > self._size:
                    self._offsets.popitem(last=False)
        summary = _summary(token, claims, offset)
        expires_in = response.get("expires_in")
        if _number(expires_in):
            summary["expires_in"] = expires_in
        return summary

    def summary(self, token: str, claims: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """A bearer token as the journal records it: fingerprint, jti, and iat/exp on the virtual clock.

        A token the proxy never saw issued keeps the upstream's times (offset 0). ``claims``: the
        token's unverified claims, when the caller has already read them.
        """
        claims = unverified_claims(token) if claims is None else claims
        jti = claims.get("jti")
        with self._lock:
            offset = self._offsets.get(jti, 0.0) if isinstance(jti, str) else 0.0
        return _summary(token, claims, offset)

    def jtis(self) -> list[str]:
        with self._lock:
            return list(self._offsets)

    def reset(self) -> None:
        with self._lock:
            self._offsets.clear()


def _summary(token: str, claims: Mapping[str, Any], offset: float) -> dict[str, Any]:
    summary: dict[str, Any] = {"fingerprint": fingerprint(token)}
    if isinstance(claims.get("jti"), str):
        summary["jti"] = claims["jti"]
    for name in _SHIFTED:
        if _number(claims.get(name)):
            summary[name] = int(claims[name] + offset)
    return summary


class Relay:
    """Proxy mode's state: the upstream URL, the tokens relayed, and the requests forwarded (with a budget).

    ``forwarded`` counts every request sent upstream since the proxy started (a reset does not clear
    it: it is what a run cost the real service); ``budget`` bounds those sent between two resets.
    """

    def __init__(self, upstream: str, budget: int | None = None) -> None:
        self.upstream = upstream
        self.budget = budget
        self.tokens = RelayedTokens()
        self.forwarded = 0
        self._since_reset = 0
        self._lock = threading.Lock()

    def take(self) -> bool:
        """Count one request about to go upstream; ``False`` (and not counted) when the budget is spent."""
        with self._lock:
            if self.budget is not None and self._since_reset >= self.budget:
                return False
            self._since_reset += 1
            self.forwarded += 1
            return True

    def reset(self) -> None:
        self.tokens.reset()
        with self._lock:
            self._since_reset = 0

    def state(self) -> dict[str, Any]:
        with self._lock:
            return {"url": self.upstream, "forwarded": self.forwarded, "forwarded_since_reset": self._since_reset,
                    "budget": self.budget}
