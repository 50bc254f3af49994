"""Faulty: single flight on a cold cache only; once the cached token is due, every caller refreshes it.

The lock guards the first fetch, but a token found stale is replaced outside it (a double-checked lock
that checks for "no token" and forgets "an expired one"), so concurrent calls at expiry each fetch their
own token. Caught by CACHE-STAMPEDE-AT-EXPIRY; CACHE-CONCURRENT-COLD still passes.
"""

from __future__ import annotations

from ..reference_client import ScalekitClient
from ._driver import serve


class NoSingleFlightRefreshClient(ScalekitClient):
    def _current_token(self) -> str:
        token = self._token
        if token is None:
            with self._lock:  # single flight for the first token
                if self._token is None:
                    self._token = self._fetch()
                return self._token.value
        if self._clock() >= token.refresh_at:
            token = self._token = self._fetch()  # the bug: the refresh is not under the lock
        return token.value


if __name__ == "__main__":
    serve(NoSingleFlightRefreshClient, "no single flight at refresh")
