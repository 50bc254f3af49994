"""Faulty: refetches and retries on every 401, with no bound (capped at 20 only so it terminates).

Caught by ERR-PERSISTENT-401 (at most 5 token requests and 6 API calls): an API that keeps
answering 401 must be surfaced, not hammered.
"""

from __future__ import annotations

from typing import Any

from ..reference_client import ScalekitClient, ScalekitError, _message
from ._driver import serve

CAP = 20


class Unbounded401RetryClient(ScalekitClient):
    def request(self, method: str, path: str, json: Any = None) -> Any:
        for _ in range(CAP):
            token = self._current_token()
            response = self._send(method, path, json, token)
            if response.status_code != 401:
                break
            self._forget(token)  # the bug: no retry budget, just another token and another try
        if not response.is_success:
            raise ScalekitError(response.status_code, _message(response))
        return response.json() if response.content else None


if __name__ == "__main__":
    serve(Unbounded401RetryClient, "retries 401 without bound")
