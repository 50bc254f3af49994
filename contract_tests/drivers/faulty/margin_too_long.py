"""Faulty: refreshes a fixed 5 minutes before ``expires_in`` runs out, however short the lifetime.

With 24 h tokens that is a careful margin; with 300 s tokens (``expires_in: 299``) every token is due
as soon as it arrives, so the client fetches a new one for every call. Caught by
CACHE-SHORT-LIFETIME-REUSE; REFRESH-SHORT-LIFETIME (it does refresh) and the 24 h checks still pass.
"""

from __future__ import annotations

import dataclasses

import httpx

from ..reference_client import ScalekitClient, _Token
from ._driver import serve

FIXED_MARGIN = 300.0


class MarginTooLongClient(ScalekitClient):
    def _parse(self, response: httpx.Response, started: float) -> _Token:
        token = super()._parse(response, started)
        lifetime = min(float(response.json()["expires_in"]), self._max_lifetime)
        # the bug: a fixed margin, not scaled to the lifetime (min(60 s, expires_in / 10))
        return dataclasses.replace(token, refresh_at=started + lifetime - FIXED_MARGIN)


if __name__ == "__main__":
    serve(MarginTooLongClient, "a fixed 5-minute refresh margin")
