"""Faulty: trusts ``expires_in`` whatever its size, and computes the expiry with ``datetime`` arithmetic.

``timedelta(seconds=18446744064486179580)`` (the docs' Postman collection's saved ``expires_in``) raises
``OverflowError``, which nothing handles: the call that fetched the token fails. Caught by
ERR-ABSURD-EXPIRES-IN; with any sane ``expires_in`` it behaves as the reference client.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import httpx

from ..reference_client import ScalekitClient, _Token
from ._driver import serve


class TrustsExpiresInClient(ScalekitClient):
    def _parse(self, response: httpx.Response, started: float) -> _Token:
        token = super()._parse(response, started)
        expires_in = int(response.json()["expires_in"])
        # the bug: the lifetime is not capped, and timedelta overflows on an absurd one
        expires_at = datetime.fromtimestamp(started, timezone.utc) + timedelta(seconds=expires_in)
        margin = timedelta(seconds=min(self._max_margin, expires_in / 10))
        return dataclasses.replace(token, refresh_at=(expires_at - margin).timestamp())


if __name__ == "__main__":
    serve(TrustsExpiresInClient, "trusts an uncapped expires_in")
