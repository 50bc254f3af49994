"""Faulty: follows redirects on the token request, so a 307 re-posts the form, client secret included, to the
other origin the Location names (httpx drops only the Authorization header on a cross-origin redirect, not the body).

Caught by SEC-SECRET-NOT-REDIRECTED: a redirect must not take the credentials along.
"""

from __future__ import annotations

import httpx

from ..reference_client import ScalekitClient, ScalekitError
from ._driver import serve


class FollowsRedirectWithSecretClient(ScalekitClient):
    def _post_token(self) -> httpx.Response:
        try:
            # The bug: redirects followed on the token request, wherever they point.
            return self._http.post(self._base + "/oauth/token", data=self._credentials, follow_redirects=True)
        except httpx.TimeoutException as exc:
            raise ScalekitError(None, "timed out fetching a token") from exc
        except httpx.TransportError as exc:
            raise ScalekitError(None, f"transport error fetching a token: {type(exc).__name__}") from exc


if __name__ == "__main__":
    serve(FollowsRedirectWithSecretClient, "follows token-endpoint redirects with the secret")
