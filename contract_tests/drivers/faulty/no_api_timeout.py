"""Faulty: sets no timeout on API calls (token requests keep theirs), so an API that never answers hangs the
call indefinitely.

Caught by ERR-API-HANG.
"""

from __future__ import annotations

from typing import Any

import httpx

from ..reference_client import ScalekitClient, ScalekitError
from ._driver import serve


class NoApiTimeoutClient(ScalekitClient):
    def _send(self, method: str, path: str, json: Any, token: str) -> httpx.Response:
        try:  # the bug: timeout=None waits for an API answer forever
            return self._http.request(method, self._base + path, json=json,
                                      headers={"Authorization": f"Bearer {token}"}, timeout=None)
        except httpx.TransportError as exc:
            raise ScalekitError(None, f"transport error calling {path}: {type(exc).__name__}") from exc


if __name__ == "__main__":
    serve(NoApiTimeoutClient, "no timeout on API calls")
