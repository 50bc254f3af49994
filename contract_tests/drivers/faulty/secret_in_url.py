"""Faulty: puts the credentials in the token URL's query string as well as in the form body.

Query strings end up in access logs and proxies. Caught by FMT-SECRET-NOT-IN-URL; the form body
is still right, so the token request itself succeeds.
"""

from __future__ import annotations

from urllib.parse import urlencode

import httpx

from ..reference_client import ScalekitClient, ScalekitError
from ._driver import serve


class SecretInUrlClient(ScalekitClient):
    def _post_token(self) -> httpx.Response:
        url = f"{self._base}/oauth/token?{urlencode(self._credentials)}"  # the bug: the secret in the URL
        try:
            return self._http.post(url, data=self._credentials)
        except httpx.TimeoutException as exc:
            raise ScalekitError(None, "timed out fetching a token") from exc
        except httpx.TransportError as exc:
            raise ScalekitError(None, f"transport error fetching a token: {type(exc).__name__}") from exc


if __name__ == "__main__":
    serve(SecretInUrlClient, "secret in the token URL")
