"""Faulty: never caches, so every API call fetches a new token. Caught by CACHE-SEQUENTIAL."""

from __future__ import annotations

from ..reference_client import ScalekitClient
from ._driver import serve


class NoCacheClient(ScalekitClient):
    def _current_token(self) -> str:
        return self._fetch().value  # the bug: a fresh token per call; the cache is never read


if __name__ == "__main__":
    serve(NoCacheClient, "never caches the token")
