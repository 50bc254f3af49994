"""Faulty: uses whatever a 200 token response holds, so a malformed one becomes ``Bearer None``.

Caught by ERR-MALFORMED-TOKEN-RESPONSE: the API call goes out with a bogus bearer (its 401 then
makes the client fetch a good token and retry, as the reference client does).
"""

from __future__ import annotations

from typing import Any

import httpx

from ..reference_client import ScalekitClient, _Token
from ._driver import serve


class BogusBearerClient(ScalekitClient):
    def _parse(self, response: httpx.Response, started: float) -> _Token:
        try:
            body: Any = response.json()
        except ValueError:
            body = None
        fields = body if isinstance(body, dict) else {}
        # the bug: nothing is checked; a missing access_token is sent as the string "None"
        expires_in = int(fields.get("expires_in") or 3600)
        return _Token(str(fields.get("access_token")), started + expires_in - min(self._max_margin, expires_in / 10))


if __name__ == "__main__":
    serve(BogusBearerClient, "bogus bearer from a malformed token response")
