"""Faulty: ignores ``expires_in`` and assumes every token lasts 24 hours.

Caught by REFRESH-SHORT-LIFETIME: with ``expires_in: 299`` it keeps the token past its expiry and
only replaces it after the API answers 401 (which its retry then repairs).
"""

from __future__ import annotations

import dataclasses

import httpx

from ..reference_client import ScalekitClient, _Token
from ._driver import serve

ASSUMED_LIFETIME = 86400.0


class Assume24hClient(ScalekitClient):
    def _parse(self, response: httpx.Response, started: float) -> _Token:
        token = super()._parse(response, started)
        # the bug: expires_in is not read; a day less the usual margin
        return dataclasses.replace(token, refresh_at=started + ASSUMED_LIFETIME - self._max_margin)


if __name__ == "__main__":
    serve(Assume24hClient, "assumes a 24 h token lifetime")
