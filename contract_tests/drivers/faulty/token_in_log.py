"""Faulty: a debug log line on stderr prints every access token it receives.

Caught by SEC-TOKEN-NOT-LOGGED.
"""

from __future__ import annotations

import logging
import sys

import httpx

from ..reference_client import ScalekitClient, _Token
from ._driver import serve

log = logging.getLogger("scalekit.faulty")


class TokenInLogClient(ScalekitClient):
    def _parse(self, response: httpx.Response, started: float) -> _Token:
        token = super()._parse(response, started)
        log.debug("new access token %s", token.value)  # the bug: a bearer token is a credential too
        return token


if __name__ == "__main__":
    log.addHandler(logging.StreamHandler(sys.stderr))
    log.setLevel(logging.DEBUG)
    serve(TokenInLogClient, "logs the access token")
