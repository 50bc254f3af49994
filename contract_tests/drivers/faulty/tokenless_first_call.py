"""Faulty: lazy like the Node SDK, the first call goes out with no token and the 401 triggers the fetch.

Caught by CACHE-NO-TOKENLESS-CALL. After that first 401 it behaves like the reference client.
"""

from __future__ import annotations

from typing import Any

import httpx

from ..reference_client import ScalekitClient, ScalekitError, _message
from ._driver import serve


class TokenlessFirstCallClient(ScalekitClient):
    def request(self, method: str, path: str, json: Any = None) -> Any:
        if self._token is None:  # the bug: no token yet? try without one, authenticate only when told to
            response = self._send(method, path, json, "")
            if response.status_code != 401:
                if not response.is_success:
                    raise ScalekitError(response.status_code, _message(response))
                return response.json() if response.content else None
        return super().request(method, path, json)

    def _send(self, method: str, path: str, json: Any, token: str) -> httpx.Response:
        if token:
            return super()._send(method, path, json, token)
        try:
            return self._http.request(method, self._base + path, json=json)  # no Authorization header at all
        except httpx.TimeoutException as exc:
            raise ScalekitError(None, f"timed out calling {path}") from exc
        except httpx.TransportError as exc:
            raise ScalekitError(None, f"transport error calling {path}: {type(exc).__name__}") from exc


if __name__ == "__main__":
    serve(TokenlessFirstCallClient, "first call without a token")
