"""Faulty: caches the first token forever; neither its expiry nor a 401 replaces it.

Caught by REFRESH-AFTER-LIFETIME: once the lifetime has passed every call fails with 401. (A client
that ignored expiry but refetched on 401 would recover on the next call, which that check accepts;
REFRESH-BEFORE-EXPIRY is the one that catches it.)
"""

from __future__ import annotations

from ..reference_client import ScalekitClient
from ._driver import serve


class CacheForeverClient(ScalekitClient):
    def _current_token(self) -> str:
        with self._lock:
            if self._token is None:  # the bug: refresh_at is never looked at
                self._token = self._fetch()
            return self._token.value

    def _forget(self, token: str) -> None:
        """The bug, continued: a 401 does not evict the cached token, so the retry resends it."""


if __name__ == "__main__":
    serve(CacheForeverClient, "caches the token forever")
