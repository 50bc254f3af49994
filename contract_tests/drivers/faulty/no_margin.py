"""Faulty: refreshes with no margin, using the token for its whole JWT lifetime (``exp - iat``).

That lifetime is one second longer than ``expires_in`` (86400 against 86399), so a call made just
after ``expires_in`` has run out still sends the old token. Caught by REFRESH-BEFORE-EXPIRY.
"""

from __future__ import annotations

import dataclasses

import httpx
import jwt

from ..reference_client import ScalekitClient, _Token
from ._driver import serve


class NoMarginClient(ScalekitClient):
    def _parse(self, response: httpx.Response, started: float) -> _Token:
        token = super()._parse(response, started)
        claims = jwt.decode(token.value, options={"verify_signature": False})
        lifetime = float(claims["exp"]) - float(claims["iat"])
        return dataclasses.replace(token, refresh_at=started + lifetime)  # the bug: no margin, past expires_in


if __name__ == "__main__":
    serve(NoMarginClient, "no refresh margin")
