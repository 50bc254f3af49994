"""Faulty: no 401 handling, so a revoked token is never replaced before it expires.

Caught by REFRESH-REVOKED. It still refreshes from ``expires_in``, so REFRESH-AFTER-LIFETIME passes.
"""

from __future__ import annotations

from typing import Any

from ..reference_client import ScalekitClient, ScalekitError, _message
from ._driver import serve


class No401RetryClient(ScalekitClient):
    def request(self, method: str, path: str, json: Any = None) -> Any:
        response = self._send(method, path, json, self._current_token())
        if not response.is_success:  # the bug: a 401 is final, and the rejected token stays cached
            raise ScalekitError(response.status_code, _message(response))
        return response.json() if response.content else None


if __name__ == "__main__":
    serve(No401RetryClient, "no retry on 401")
