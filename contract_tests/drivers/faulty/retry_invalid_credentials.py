"""Faulty: retries a 401 from the token endpoint (a wrong secret) ten times before giving up.

Caught by ERR-INVALID-CREDENTIALS, which allows at most 3 token requests: bad credentials do not
get better by asking again, and hammering the endpoint can lock the client out.
"""

from __future__ import annotations

import httpx

from ..reference_client import ScalekitClient
from ._driver import serve

ATTEMPTS = 10


class RetryInvalidCredentialsClient(ScalekitClient):
    def _post_token(self) -> httpx.Response:
        response = super()._post_token()
        for _ in range(ATTEMPTS - 1):
            if response.status_code != 401:
                break
            self._sleep(0.05)
            response = super()._post_token()  # the bug: a rejected secret is sent again
        return response


if __name__ == "__main__":
    serve(RetryInvalidCredentialsClient, "retries invalid credentials")
