"""Faulty: no single flight, so concurrent calls on a cold cache each fetch their own token.

Caught by CACHE-CONCURRENT-COLD. Sequential calls still share one cached token.
"""

from __future__ import annotations

from ..reference_client import ScalekitClient
from ._driver import serve


class NoSingleFlightClient(ScalekitClient):
    def _current_token(self) -> str:
        token = self._token
        if token is None or self._clock() >= token.refresh_at:
            token = self._token = self._fetch()  # the bug: no lock, every thread that finds no token fetches one
        return token.value


if __name__ == "__main__":
    serve(NoSingleFlightClient, "no single flight on a cold cache")
