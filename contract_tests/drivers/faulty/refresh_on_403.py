"""Faulty: takes a 403 for a stale token, and refetches and retries three times.

Caught by ERR-FORBIDDEN (at most 2 API calls and 2 token requests): a 403 is about permissions,
which a new token for the same client does not change.
"""

from __future__ import annotations

from typing import Any

from ..reference_client import ScalekitClient, ScalekitError
from ._driver import serve

RETRIES = 3


class RefreshOn403Client(ScalekitClient):
    def request(self, method: str, path: str, json: Any = None) -> Any:
        for _ in range(RETRIES):
            try:
                return super().request(method, path, json)
            except ScalekitError as exc:
                if exc.status != 403:
                    raise
                with self._lock:
                    self._token = None  # the bug: drop a perfectly good token and try again
        return super().request(method, path, json)


if __name__ == "__main__":
    serve(RefreshOn403Client, "refreshes and retries on 403")
