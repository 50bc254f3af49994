"""Faulty: posts the token request as JSON instead of a form, which the token endpoint refuses.

Caught by FMT-TOKEN-REQUEST. Every call then fails with the token endpoint's 400, so most other
checks fail too: there is no way to be wrong about the token request and still get a token.
"""

from __future__ import annotations

import httpx

from ..reference_client import ScalekitClient, ScalekitError
from ._driver import serve


class JsonTokenRequestClient(ScalekitClient):
    def _post_token(self) -> httpx.Response:
        try:
            return self._http.post(self._base + "/oauth/token", json=self._credentials)  # the bug: json=, not data=
        except httpx.TimeoutException as exc:
            raise ScalekitError(None, "timed out fetching a token") from exc
        except httpx.TransportError as exc:
            raise ScalekitError(None, f"transport error fetching a token: {type(exc).__name__}") from exc


if __name__ == "__main__":
    serve(JsonTokenRequestClient, "JSON token request body")
