"""Faulty: retries an API call answered 503 at once, again and again (capped at 20 only so it terminates).

Caught by ERR-API-TRANSIENT-503 (a 503 from the API surfaced, or retried after at least 0.1 s, with at most
4 API calls): an unavailable API must be backed off from, not hammered.
"""

from __future__ import annotations

from typing import Any

from ..reference_client import ScalekitClient, ScalekitError, _message
from ._driver import serve

CAP = 20


class ApiRetryStorm503Client(ScalekitClient):
    def request(self, method: str, path: str, json: Any = None) -> Any:
        token = self._current_token()
        for _ in range(CAP):
            response = self._send(method, path, json, token)
            if response.status_code != 503:  # the bug: an unavailable API retried at once, with no backoff
                break
        if not response.is_success:
            raise ScalekitError(response.status_code, _message(response))
        return response.json() if response.content else None


if __name__ == "__main__":
    serve(ApiRetryStorm503Client, "retries an API 503 at once")
