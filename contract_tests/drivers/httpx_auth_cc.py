"""Conformance driver for httpx-auth's ``OAuth2ClientCredentials`` on an ``httpx.Client``.

It judges httpx-auth itself, used the way its README shows: an ``OAuth2ClientCredentials(token_url,
client_id, client_secret)`` passed as ``auth=`` to httpx, which fetches a token on the first request,
keeps it in the library's process-wide cache (``OAuth2.token_cache``, keyed by token URL and
credentials) and fetches a new one once it is within ``early_expiry`` (30 s) of the expiry computed
from ``expires_in`` and ``datetime.now()`` (time-machine moves it). ``new_client`` builds a new
``httpx.Client`` and auth object; it does not clear that cache (the README shows no way to forget
tokens), which is why the suite's default of one driver process per check matters here. The driver
adds no retry, refresh or timeout of its own: what the suite finds is httpx-auth's behaviour.

Run it with ``python -m contract_tests.drivers.httpx_auth_cc``.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from importlib.metadata import version
from typing import Any

import httpx

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
    from httpx_auth import (
        GrantNotProvided,
        InvalidGrantRequest,
        InvalidToken,
        OAuth2ClientCredentials,
        TokenExpiryNotProvided,
    )
except ImportError as exc:
    missing_extra("contract_tests.drivers.httpx_auth_cc", exc)


# httpx-auth raises InvalidGrantRequest for any error status of the token endpoint without keeping the
# status; its message starts with the RFC 6749 §5.2 error code when the body has one (OAUTH_ERROR_STATUS).
class HttpxAuthAdapter(Adapter):
    name = "httpx-auth OAuth2ClientCredentials"
    version = version("httpx-auth")

    def make_client(self, env: Mapping[str, str]) -> httpx.Client:
        base_url = env["SCALEKIT_ENVIRONMENT_URL"]
        auth = OAuth2ClientCredentials(f"{base_url}/oauth/token", client_id=env["SCALEKIT_CLIENT_ID"],
                                       client_secret=env["SCALEKIT_CLIENT_SECRET"])
        return httpx.Client(base_url=base_url, auth=auth)

    def call(self, client: httpx.Client, method: str, path: str, body: Any) -> tuple[int, Any]:
        response = client.request(method, path, json=body)
        return response.status_code, json_body(response)

    def classify(self, exc: BaseException) -> ClientFailure:
        if isinstance(exc, InvalidGrantRequest):
            # an error status from the token endpoint; the message is the RFC 6749 error (or the body)
            code = str(exc).partition(":")[0].strip()
            status = OAUTH_ERROR_STATUS.get(code)
            if status is not None:
                return failure_for_status(status, f"token endpoint: {exc}")
            return ClientFailure(None, "http", f"token endpoint answered an error status: {exc}")
        if isinstance(exc, (GrantNotProvided, InvalidToken, TokenExpiryNotProvided)):
            # a token response without a usable token; the message is kept short (it quotes the response)
            return ClientFailure(None, "invalid_response", f"{type(exc).__name__}: the token response held no "
                                                           f"usable access_token")
        return classify_exception(exc)



if __name__ == "__main__":
    sys.exit(run(HttpxAuthAdapter()))
