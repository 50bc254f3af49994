"""Faulty: follows an API call's redirect by hand, wherever it points, with the bearer token (what an auth hook that
sets Authorization on every request it sees does; httpx alone drops it on a cross-origin redirect).

Caught by SEC-TOKEN-NOT-REDIRECTED: the token must not reach another origin.
"""

from __future__ import annotations

from typing import Any

import httpx

from ..reference_client import ScalekitClient, ScalekitError
from ._driver import serve


class BearerOnRedirectClient(ScalekitClient):
    def _send(self, method: str, path: str, json: Any, token: str) -> httpx.Response:
        response = super()._send(method, path, json, token)
        location = response.headers.get("Location")
        if not response.is_redirect or not location:
            return response
        try:
            # The bug: the Location is followed with the bearer token, whatever origin it names.
            return self._http.request(method, location, json=json, headers={"Authorization": f"Bearer {token}"})
        except httpx.HTTPError as exc:
            raise ScalekitError(None, f"transport error following a redirect: {type(exc).__name__}") from exc


if __name__ == "__main__":
    serve(BearerOnRedirectClient, "follows API redirects with the bearer token")
