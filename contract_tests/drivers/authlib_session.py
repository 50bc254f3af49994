"""Conformance driver for authlib's requests ``OAuth2Session`` in client-credentials mode.

It judges authlib itself, used the way its documentation shows an application using the
client-credentials grant: a session built with ``token_endpoint`` and ``grant_type``, one
``fetch_token()`` when the client is built, then plain ``session.request(...)`` calls. With those two
settings authlib re-fetches an expired token by itself (``ensure_active_token``: the token counts as
expired ``leeway`` = 60 s before ``expires_at``, computed from ``expires_in`` and ``time.time()``, which
time-machine moves). The driver adds no retry, refresh or timeout of its own: what the suite finds
is authlib's behaviour.

Run it with ``python -m contract_tests.drivers.authlib_session``.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

from ..driverkit import (
    OAUTH_ERROR_STATUS,
    Adapter,
    ClientFailure,
    classify_exception,
    failure_for_status,
    json_body,
    missing_extra,
    run,
)

try:  # the client under test comes with the drivers extra
    from authlib.integrations.base_client import OAuthError, UnsupportedTokenTypeError
    from authlib.integrations.requests_client import OAuth2Session
except ImportError as exc:
    missing_extra("contract_tests.drivers.authlib_session", exc)


@dataclass(frozen=True)
class Client:
    session: OAuth2Session
    base_url: str


class AuthlibSessionAdapter(Adapter):
    name = "authlib OAuth2Session"
    version = version("authlib")

    def make_client(self, env: Mapping[str, str]) -> Client:
        base_url = env["SCALEKIT_ENVIRONMENT_URL"]
        session = OAuth2Session(env["SCALEKIT_CLIENT_ID"], env["SCALEKIT_CLIENT_SECRET"],
                                token_endpoint=f"{base_url}/oauth/token", grant_type="client_credentials")
        session.fetch_token()
        return Client(session, base_url)

    def call(self, client: Client, method: str, path: str, body: Any) -> tuple[int, Any]:
        response = client.session.request(method, client.base_url + path, json=body)
        return response.status_code, json_body(response)

    def classify(self, exc: BaseException) -> ClientFailure:
        if isinstance(exc, UnsupportedTokenTypeError):
            # the stored "token" has no access_token (or an unknown token_type): a token response authlib
            # accepted but cannot use
            return ClientFailure(None, "invalid_response", f"{type(exc).__name__}: {exc}")
        if isinstance(exc, OAuthError):
            # authlib keeps the RFC 6749 §5.2 error code of a failed token request, not its HTTP status
            status = OAUTH_ERROR_STATUS.get(str(exc.error))
            if status is not None:
                return failure_for_status(status, f"token endpoint: {exc}")
            return ClientFailure(None, "other", f"{type(exc).__name__}: {exc}")
        return classify_exception(exc)



if __name__ == "__main__":
    sys.exit(run(AuthlibSessionAdapter()))
