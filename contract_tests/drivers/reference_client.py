"""A careful Scalekit API client: the example a client author reads first.

It does what the conformance suite checks, and nothing clever beyond it:
- one token for many calls, fetched once even when many threads ask at the same time;
- refresh before expiry, from ``expires_in`` and the client's own clock, with a margin scaled to the
  lifetime (min(60 s, expires_in / 10)); a lifetime longer than a day is believed to be a day (the
  docs' Postman collection saved ``expires_in: 18446744064486179580``; Scalekit's tokens last 24 h);
- on a 401 for a token it believed valid, fetch a new token and retry the call once;
- retry a 429/5xx from the token endpoint a bounded number of times with a delay (honouring
  ``Retry-After``), never retry bad credentials or a 403;
- time out every request, and reject a token response it cannot use.
The secret and the tokens never reach a log or an exception message.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

RETRYABLE = frozenset({429, 500, 502, 503, 504})
MAX_LIFETIME = 86400.0  # seconds: the longest token lifetime believed, whatever expires_in says


class ScalekitError(Exception):
    """An API or token call failed; ``status`` is the HTTP status, or None when there was no answer."""

    def __init__(self, status: int | None, message: str) -> None:
        super().__init__(f"{status}: {message}" if status else message)
        self.status = status


class InvalidTokenResponse(ScalekitError):
    """The token endpoint answered 200 with something that is not a usable token."""


@dataclass(frozen=True)
class _Token:
    value: str
    refresh_at: float  # on the client's clock


class ScalekitClient:
    """Calls the Scalekit REST API with client-credentials tokens it fetches, caches and refreshes."""

    def __init__(self, environment_url: str, client_id: str, client_secret: str, *, timeout: float = 3.0,
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep,
                 token_attempts: int = 3, max_margin: float = 60.0, max_lifetime: float = MAX_LIFETIME) -> None:
        self._base = environment_url.rstrip("/")
        self._credentials = {"grant_type": "client_credentials", "client_id": client_id,
                             "client_secret": client_secret}
        self._http = httpx.Client(timeout=timeout)
        self._clock, self._sleep = clock, sleep
        self._attempts, self._max_margin, self._max_lifetime = token_attempts, max_margin, max_lifetime
        self._token: _Token | None = None
        self._lock = threading.Lock()

    def request(self, method: str, path: str, json: Any = None) -> Any:
        """Make an API call; return the parsed JSON body or raise ``ScalekitError``."""
        token = self._current_token()
        response = self._send(method, path, json, token)
        if response.status_code == 401:
            # The server no longer accepts a token we believed valid (revoked, rotated key): once more.
            self._forget(token)
            response = self._send(method, path, json, self._current_token())
        if not response.is_success:
            raise ScalekitError(response.status_code, _message(response))
        return response.json() if response.content else None

    def _send(self, method: str, path: str, json: Any, token: str) -> httpx.Response:
        try:
            return self._http.request(method, self._base + path, json=json,
                                      headers={"Authorization": f"Bearer {token}"})
        except httpx.TimeoutException as exc:
            raise ScalekitError(None, f"timed out calling {path}") from exc
        except httpx.TransportError as exc:
            raise ScalekitError(None, f"transport error calling {path}: {type(exc).__name__}") from exc

    def _current_token(self) -> str:
        with self._lock:  # single flight: one fetch however many threads need a token
            if self._token is None or self._clock() >= self._token.refresh_at:
                self._token = self._fetch()
            return self._token.value

    def _forget(self, token: str) -> None:
        with self._lock:
            if self._token is not None and self._token.value == token:
                self._token = None

    def _fetch(self) -> _Token:
        for attempt in range(1, self._attempts + 1):
            started = self._clock()
            response = self._post_token()
            if response.status_code == 200:
                return self._parse(response, started)
            if response.status_code not in RETRYABLE or attempt == self._attempts:
                raise ScalekitError(response.status_code, f"token request failed: {_message(response)}")
            self._sleep(_delay(response, attempt))
        raise AssertionError("unreachable")

    def _post_token(self) -> httpx.Response:
        try:
            return self._http.post(self._base + "/oauth/token", data=self._credentials)
        except httpx.TimeoutException as exc:
            raise ScalekitError(None, "timed out fetching a token") from exc
        except httpx.TransportError as exc:
            raise ScalekitError(None, f"transport error fetching a token: {type(exc).__name__}") from exc

    def _parse(self, response: httpx.Response, started: float) -> _Token:
        try:
            body = response.json()
        except ValueError as exc:
            raise InvalidTokenResponse(200, "token response is not JSON") from exc
        value, kind, expires_in = (body.get("access_token"), body.get("token_type"),
                                   body.get("expires_in")) if isinstance(body, dict) else (None, None, None)
        if not isinstance(value, str) or not value or any(c.isspace() for c in value):
            raise InvalidTokenResponse(200, "token response has no usable access_token")
        if not isinstance(kind, str) or kind.lower() != "bearer":
            raise InvalidTokenResponse(200, "token response is not a Bearer token")
        if isinstance(expires_in, bool) or not isinstance(expires_in, int) or expires_in <= 0:
            raise InvalidTokenResponse(200, "token response has no integer expires_in")
        lifetime = min(float(expires_in), self._max_lifetime)  # an absurd expires_in is not believed
        margin = min(self._max_margin, lifetime / 10)
        return _Token(value, started + lifetime - margin)

    def close(self) -> None:
        self._http.close()


def _delay(response: httpx.Response, attempt: int) -> float:
    retry_after = response.headers.get("Retry-After", "")
    if retry_after.isdigit():
        return min(float(retry_after), 30.0)
    return min(0.25 * 2.0 ** (attempt - 1), 5.0) * random.uniform(0.8, 1.2)


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    if isinstance(body, dict):
        return str(body.get("message") or body.get("error_description") or body.get("error") or response.status_code)
    return f"HTTP {response.status_code}"
