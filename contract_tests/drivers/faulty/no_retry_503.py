"""Faulty: surfaces a 5xx from the token endpoint at once instead of retrying it.

Caught by ERR-TRANSIENT-503. A 429 is still retried after its Retry-After.
"""

from __future__ import annotations

import httpx

from ..reference_client import ScalekitClient, ScalekitError
from ._driver import serve


class NoRetry503Client(ScalekitClient):
    def _post_token(self) -> httpx.Response:
        response = super()._post_token()
        if response.status_code >= 500:  # the bug: a transient outage is treated as final
            raise ScalekitError(response.status_code, "token request failed")
        return response


if __name__ == "__main__":
    serve(NoRetry503Client, "no retry on 503")
