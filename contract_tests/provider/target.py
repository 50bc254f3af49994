"""What the provider checks run against: the mock (with its control plane) or a live Scalekit environment.

A ``Target`` holds the environment URL and the credentials, and what the checks that need more can use:
a client lacking a permission (``limited``), the route it may not call (``forbidden_route``), a token
past its expiry (``expired_token``). Against the mock these come from its control plane; against a live
environment from environment variables, read in one place (``Target.from_env``). Secrets and tokens
never show in a target's ``repr`` or report.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from mock_server import MockServer, fingerprint

MOCK, LIVE = "mock", "live"
# The GET route every check that needs a working API call uses (organizations:read).
API_ROUTE = "/api/v1/organizations?page_size=10"
# A GET route the default limited client of fixtures/clients.json (organizations:read only) may not call.
FORBIDDEN_ROUTE = "/api/v1/users?page_size=10"

ENV_URL, ENV_ID, ENV_SECRET = "SCALEKIT_ENVIRONMENT_URL", "SCALEKIT_CLIENT_ID", "SCALEKIT_CLIENT_SECRET"
ENV_LIMITED_ID, ENV_LIMITED_SECRET = "SCALEKIT_LIMITED_CLIENT_ID", "SCALEKIT_LIMITED_CLIENT_SECRET"
ENV_FORBIDDEN_ROUTE, ENV_EXPIRED_TOKEN = "SCALEKIT_FORBIDDEN_ROUTE", "SCALEKIT_EXPIRED_TOKEN"


class TargetError(Exception):
    """The target cannot be used: bad settings, or it cannot be reached or is no Scalekit environment."""


@dataclass(frozen=True)
class Credentials:
    """A client id and its secret; the secret never shows in a repr."""

    client_id: str
    client_secret: str = field(repr=False)


@dataclass(frozen=True)
class Target:
    """An environment to check, with what it offers beyond the base credentials."""

    url: str
    credentials: Credentials
    mode: str = LIVE
    limited: Credentials | None = None
    forbidden_route: str = FORBIDDEN_ROUTE
    expired_token: str | None = field(default=None, repr=False)
    mock: MockServer | None = field(default=None, repr=False, compare=False)  # the control plane, in mock mode

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            raise TargetError(f"the environment URL must be an http(s) URL like https://acme.scalekit.dev, "
                              f"not {self.url!r}")
        if self.url.endswith("/"):
            object.__setattr__(self, "url", self.url.rstrip("/"))  # frozen: normalized once, here
        if not self.forbidden_route.startswith("/api/"):
            raise TargetError(f"the forbidden route must be an API path like {FORBIDDEN_ROUTE}, "
                              f"not {self.forbidden_route!r}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Target:
        """A live target from ``SCALEKIT_*`` variables (the limited client and the expired token are optional)."""
        missing = [name for name in (ENV_URL, ENV_ID, ENV_SECRET) if not environ.get(name)]
        if missing:
            raise TargetError(f"live mode needs {', '.join(missing)} (the environment URL and the credentials "
                              f"from the Scalekit dashboard, API config)")
        limited_id, limited_secret = environ.get(ENV_LIMITED_ID), environ.get(ENV_LIMITED_SECRET)
        if bool(limited_id) != bool(limited_secret):
            raise TargetError(f"set both {ENV_LIMITED_ID} and {ENV_LIMITED_SECRET}, or neither")
        limited = Credentials(limited_id, limited_secret) if limited_id and limited_secret else None
        return cls(environ[ENV_URL].strip(), Credentials(environ[ENV_ID].strip(), environ[ENV_SECRET].strip()), LIVE,
                   limited, environ.get(ENV_FORBIDDEN_ROUTE) or FORBIDDEN_ROUTE,
                   environ.get(ENV_EXPIRED_TOKEN, "").strip() or None)

    @classmethod
    def for_mock(cls, mock: MockServer, forbidden_route: str = FORBIDDEN_ROUTE) -> Target:
        """A running mock: its default clients, and its control plane for what a live target cannot be asked."""
        limited = mock.limited_client
        return cls(mock.url, Credentials(mock.client_id, mock.client_secret), MOCK,
                   Credentials(limited.client_id, limited.client_secret) if limited else None,
                   forbidden_route, mock=mock)

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every value a report or recording must never show in clear."""
        values = [self.credentials.client_secret, self.limited.client_secret if self.limited else "",
                  self.expired_token or ""]
        return tuple(v for v in values if v)

    # What the report says of its subject (contract_tests.results.Subject): never a secret or a token.
    def describe(self) -> str:
        limited = f"limited client {self.limited.client_id}" if self.limited else "no limited client"
        expired = "an expired token" if self.expired_token or self.mode == MOCK else "no expired token"
        return f"target: {self.mode} {self.url} (client {self.credentials.client_id}; {limited}; {expired})"

    def to_json(self, command: str) -> dict[str, Any]:
        return {"target": {
            "mode": self.mode, "url": self.url, "client_id": self.credentials.client_id,
            "limited_client_id": self.limited.client_id if self.limited else None,
            "forbidden_route": self.forbidden_route,
            "expired_token": fingerprint(self.expired_token) if self.expired_token else None, "command": command}}

    def properties(self) -> list[tuple[str, str]]:
        return [("target.mode", self.mode), ("target.url", self.url),
                ("target.client_id", self.credentials.client_id)]
