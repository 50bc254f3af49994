"""Faulty: a debug log line on stderr prints the token request's form, client secret included.

Caught by SEC-SECRET-NOT-LOGGED.
"""

from __future__ import annotations

import logging
import sys

import httpx

from ..reference_client import ScalekitClient
from ._driver import serve

log = logging.getLogger("scalekit.faulty")


class SecretInLogClient(ScalekitClient):
    def _post_token(self) -> httpx.Response:
        log.debug("POST %s/oauth/token form=%s", self._base, self._credentials)  # the bug: the form holds the secret
        return super()._post_token()


if __name__ == "__main__":
    log.addHandler(logging.StreamHandler(sys.stderr))
    log.setLevel(logging.DEBUG)
    serve(SecretInLogClient, "logs the client secret")
