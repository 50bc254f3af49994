"""The one reader of ``Authorization`` headers: Bearer tokens and HTTP Basic client credentials; and the name of
the header that carries the control plane's token.

The token endpoint, the API, the proxy and the journal's redactor all read credentials here, so a header is
understood the same way wherever it arrives.
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import unquote_plus

# The control plane's token (pipeline/guard.py): a header of its own, so that it is never taken for, or sent as,
# an API token.
CONTROL_TOKEN_HEADER = "X-Scalekit-Mock-Control-Token"


class BadCredentials(ValueError):
    """An ``Authorization`` header that names the Basic scheme but whose credentials cannot be read."""


def bearer_token(authorization: str) -> str | None:
    """The token of an ``Authorization: Bearer …`` header; ``None`` when there is none (or another scheme)."""
    scheme, _, value = authorization.strip().partition(" ")
    token = value.strip()
    return token if scheme.lower() == "bearer" and token else None


def basic_credentials(authorization: str) -> tuple[str, str] | None:
    """``(user, password)`` of an ``Authorization: Basic …`` header, form-decoded as RFC 6749 2.3.1 asks;
    ``None`` for another scheme; ``BadCredentials`` when they cannot be read."""
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError) as exc:
        raise BadCredentials("the Basic credentials are not valid base64 of UTF-8") from exc
    user, sep, password = decoded.partition(":")
    if not sep:
        raise BadCredentials("the Basic credentials need 'client_id:client_secret'")
    return unquote_plus(user), unquote_plus(password)
