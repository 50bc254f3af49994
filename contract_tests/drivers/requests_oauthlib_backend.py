"""Conformance driver for requests-oauthlib's ``OAuth2Session`` with oauthlib's ``BackendApplicationClient``.

It judges requests-oauthlib (and oauthlib under it), used the way its "Backend Application Flow"
documentation shows: ``OAuth2Session(client=BackendApplicationClient(client_id=...))``, one
``fetch_token(token_url=..., client_id=..., client_secret=...)`` when the client is built, then plain
``session.get(...)`` calls. oauthlib stamps the token with ``expires_at`` from ``expires_in`` and
``time.time()`` (which time-machine moves) and refuses to send it once that has passed
(``TokenExpiredError``); the client-credentials flow has no refresh token, so the session has no
documented way to get a new one by itself. The driver adds no retry, refresh or timeout of its own:
what the suite finds is the library's behaviour.

oauthlib refuses plain http (``InsecureTransportError``) unless ``OAUTHLIB_INSECURE_TRANSPORT`` is set,
and this driver never sets it: run it against the mock served over TLS (``scalekit-conformance
client --tls``, which passes the throwaway CA in ``REQUESTS_CA_BUNDLE``/``SSL_CERT_FILE``), or set the
variable in the environment that starts it.

Run it with ``python -m contract_tests.drivers.requests_oauthlib_backend``.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

from ..driverkit import (
    Adapter,
    ClientFailure,
    classify_exception,
    failure_for_status,
    json_body,
    missing_extra,
    run,
)

try:  # the client under test comes with the drivers extra
    from oauthlib.oauth2 import (
        BackendApplicationClient,
        InsecureTransportError,
        MissingTokenError,
        OAuth2Error,
        TokenExpiredError,
    )
    from requests_oauthlib import OAuth2Session
except ImportError as exc:
    missing_extra("contract_tests.drivers.requests_oauthlib_backend", exc)


@dataclass(frozen=True)
class Client:
    session: OAuth2Session
    base_url: str


class RequestsOAuthlibAdapter(Adapter):
    name = "requests-oauthlib OAuth2Session (BackendApplicationClient)"
    version = f"{version('requests-oauthlib')} (oauthlib {version('oauthlib')})"

    def make_client(self, env: Mapping[str, str]) -> Client:
        base_url = env["SCALEKIT_ENVIRONMENT_URL"]
        client_id = env["SCALEKIT_CLIENT_ID"]
        session = OAuth2Session(client=BackendApplicationClient(client_id=client_id))
        session.fetch_token(token_url=f"{base_url}/oauth/token", client_id=client_id,
                            client_secret=env["SCALEKIT_CLIENT_SECRET"])
        return Client(session, base_url)

    def call(self, client: Client, method: str, path: str, body: Any) -> tuple[int, Any]:
        response = client.session.request(method, client.base_url + path, json=body)
        return response.status_code, json_body(response)

    def classify(self, exc: BaseException) -> ClientFailure:
        if isinstance(exc, MissingTokenError):
            # requests-oauthlib parses the token response whatever its status: an error page or an answer
            # without access_token (a 503, a 429, an HTML 500, a broken 200) all end here
            return ClientFailure(None, "invalid_response", f"{type(exc).__name__}: {exc}")
        if isinstance(exc, TokenExpiredError):
            # raised locally: the token's expires_at has passed and the session cannot get a new one
            return ClientFailure(None, "other", f"{type(exc).__name__}: the cached token has expired (no request "
                                                "was sent)")
        if isinstance(exc, InsecureTransportError):
            return ClientFailure(None, "other", f"{type(exc).__name__}: oauthlib refuses plain http; serve the "
                                                "mock over https (--tls)")
        if isinstance(exc, OAuth2Error):
            # an RFC 6749 §5.2 error body from the token endpoint: oauthlib's class for the error code carries
            # the status §5.2 gives it (invalid_client 401, the others 400); the HTTP status is not kept
            return failure_for_status(exc.status_code, f"token endpoint: {type(exc).__name__}: {exc.error}: "
                                                       f"{exc.description}")
        return classify_exception(exc)



if __name__ == "__main__":
    sys.exit(run(RequestsOAuthlibAdapter()))
