"""Faulty: retries an API call answered 429 at once, again and again (capped at 20 only so it terminates).

Caught by ERR-API-RATE-LIMITED (at most 4 API calls, at least 0.1 s apart): a rate-limited API must be
backed off from, not hammered.
"""

from __future__ import annotations

from typing import Any

from ..reference_client import ScalekitClient, ScalekitError, _message
from ._driver import serve

CAP = 20


class Retry429StormClient(ScalekitClient):
    def request(self, method: str, path: str, json: Any = None) -> Any:
        token = self._current_token()
        for _ in range(CAP):
            response = self._send(method, path, json, token)
            if response.status_code != 429:  # the bug: a rate limit retried at once, with no cap worth the name
                break
        if not response.is_success:
            raise ScalekitError(response.status_code, _message(response))
        return response.json() if response.content else None


if __name__ == "__main__":
    serve(Retry429StormClient, "retries 429 at once")
