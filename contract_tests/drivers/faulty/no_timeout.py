"""Faulty: sets no timeout, so a token endpoint that never answers hangs the call indefinitely.

Caught by ERR-TOKEN-ENDPOINT-HANG (and, as its API calls wait forever too, by ERR-API-HANG; no_api_timeout is
the driver meant for that one).
"""

from __future__ import annotations

from typing import Any

import httpx

from ..reference_client import ScalekitClient
from ._driver import serve


class NoTimeoutClient(ScalekitClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._http = httpx.Client(timeout=None)  # the bug: wait for an answer forever


if __name__ == "__main__":
    serve(NoTimeoutClient, "no timeout")
