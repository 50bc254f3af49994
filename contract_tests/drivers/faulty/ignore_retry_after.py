"""Faulty: retries a 429 from the token endpoint straight away, ignoring ``Retry-After``.

Caught by ERR-RATE-LIMITED-429. 5xx answers still get the reference client's backoff.
"""

from __future__ import annotations

import httpx

from ..reference_client import ScalekitClient
from ._driver import serve


class IgnoreRetryAfterClient(ScalekitClient):
    def _post_token(self) -> httpx.Response:
        response = super()._post_token()
        for _ in range(self._attempts - 1):
            if response.status_code != 429:
                break
            response = super()._post_token()  # the bug: no wait at all, whatever Retry-After says
        return response


if __name__ == "__main__":
    serve(IgnoreRetryAfterClient, "ignores Retry-After")
