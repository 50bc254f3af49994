"""Faulty: refreshes exactly when ``expires_in`` runs out (fetched + ``expires_in``), with no margin.

It reads ``expires_in`` and counts it on its own clock, so once ``expires_in`` has passed it never sends
the old token (REFRESH-BEFORE-EXPIRY passes, unlike ``no_margin``, which keeps the token to the JWT's
``exp``); but it uses the token to its last second, when latency makes it arrive expired. Caught by
REFRESH-MARGIN.
"""

from __future__ import annotations

import dataclasses

import httpx

from ..reference_client import ScalekitClient, _Token
from ._driver import serve


class ZeroMarginClient(ScalekitClient):
    def _parse(self, response: httpx.Response, started: float) -> _Token:
        token = super()._parse(response, started)
        lifetime = min(float(response.json()["expires_in"]), self._max_lifetime)
        return dataclasses.replace(token, refresh_at=started + lifetime)  # the bug: no margin at all


if __name__ == "__main__":
    serve(ZeroMarginClient, "a zero refresh margin")
