"""API clients the mock accepts: credentials, granted scopes, token lifetime, organization."""

from __future__ import annotations

import hmac
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from .errors import ControlError

_CLIENT_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,128}\Z")  # \Z: "$" would let a trailing newline in


@dataclass(frozen=True)
class Client:
    """A client-credentials client.

    ``scopes`` is ``None`` for an environment client with full access (its tokens carry no
    ``scopes`` claim); otherwise the permissions it may be granted. ``token_lifetime`` is
    ``exp - iat`` in seconds, ``None`` for the fixture default.
    """

    client_id: str
    client_secret: str
    scopes: tuple[str, ...] | None = None
    organization_id: str | None = None
    audience: tuple[str, ...] = field(default=())
    token_lifetime: int | None = None
    other_secrets: tuple[str, ...] = ()  # an organization client's further secrets (it may hold several)

    def secret_matches(self, secret: str) -> bool:
        # every secret is compared, so the time taken does not tell which one matched
        matches = [hmac.compare_digest(s.encode(), secret.encode()) for s in (self.client_secret, *self.other_secrets)]
        return any(matches)

    def public(self) -> dict[str, Any]:
        """The client as the control plane shows it: everything but the secret."""
        return {"client_id": self.client_id, "scopes": None if self.scopes is None else list(self.scopes),
                "organization_id": self.organization_id, "audience": list(self.audience),
                "token_lifetime": self.token_lifetime}


def client_state(client: Client) -> dict[str, Any]:
    """Everything of a client, secrets included, as JSON: a command's argument (``state.py``), never shown."""
    return asdict(client)


def client_from_state(data: Mapping[str, Any]) -> Client:
    """The client ``client_state`` wrote."""
    lists = {name: tuple(data[name]) for name in ("audience", "other_secrets")}
    scopes = data["scopes"]
    return Client(**{**data, **lists, "scopes": None if scopes is None else tuple(scopes)})


def _str_list(value: Any, name: str) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v for v in value):
        raise ControlError(f"'{name}' must be a list of non-empty strings")
    return tuple(value)


def client_from_mapping(data: Mapping[str, Any], base: Client | None = None) -> Client:
    """Build a client from JSON-like data, checking every field; ``base`` supplies defaults."""
    unknown = set(data) - {"client_id", "client_secret", "scopes", "organization_id", "audience",
                           "token_lifetime", "description"}
    if unknown:
        raise ControlError(f"unknown client field(s): {', '.join(sorted(unknown))}")
    client_id = data.get("client_id", base.client_id if base else None)
    secret = data.get("client_secret", base.client_secret if base else None)
    if not isinstance(client_id, str) or not _CLIENT_ID.match(client_id):
        raise ControlError("'client_id' must be 1-128 characters of letters, digits, '_', '-' or '.'")
    if not isinstance(secret, str) or not secret or len(secret) > 512:
        raise ControlError("'client_secret' must be a non-empty string of at most 512 characters")
    changes: dict[str, Any] = {"client_id": client_id, "client_secret": secret}
    if "scopes" in data:
        changes["scopes"] = None if data["scopes"] is None else _str_list(data["scopes"], "scopes")
    if "organization_id" in data:
        org = data["organization_id"]
        if org is not None and (not isinstance(org, str) or not org):
            raise ControlError("'organization_id' must be a non-empty string or null")
        changes["organization_id"] = org
    if "audience" in data:
        changes["audience"] = () if data["audience"] is None else _str_list(data["audience"], "audience")
    if "token_lifetime" in data:
        life = data["token_lifetime"]
        if isinstance(life, float) and life.is_integer():
            life = int(life)  # JSON (and the OpenAPI document's "integer") counts 300.0 as an integer
        if life is not None and (isinstance(life, bool) or not isinstance(life, int) or not 2 <= life <= 10**8):
            raise ControlError("'token_lifetime' must be an integer number of seconds from 2 to 100000000, or null")
        changes["token_lifetime"] = life
    return replace(base, **changes) if base else Client(**changes)


class ClientRegistry:
    """The clients a mock accepts; thread-safe, replaced wholesale on reset.

    It also remembers every client id it ever held (removed ones, ones a reset dropped): a token naming any
    other client cannot be one the mock issued, and is refused (``TokenVerifier``).
    """

    def __init__(self, clients: Iterable[Client] = ()) -> None:
        self._lock = threading.Lock()
        self._clients: dict[str, Client] = {c.client_id: c for c in clients}
        self._known = frozenset(self._clients)

    def get(self, client_id: str) -> Client | None:
        return self._clients.get(client_id)

    def known(self, client_id: object) -> bool:
        """Whether this id names a client the environment holds or has held since it started."""
        return client_id in self._known

    def authenticate(self, client_id: str, secret: str) -> Client | None:
        client = self._clients.get(client_id)
        return client if client is not None and client.secret_matches(secret) else None

    def put(self, client: Client) -> None:
        with self._lock:
            self._clients = {**self._clients, client.client_id: client}
            self._known = self._known | {client.client_id}

    def remove(self, client_id: str) -> None:
        with self._lock:
            if client_id not in self._clients:
                raise ControlError(f"no client '{client_id}'", status=404)
            self._clients = {k: v for k, v in self._clients.items() if k != client_id}

    def replace_all(self, clients: Iterable[Client]) -> None:
        with self._lock:
            self._clients = {c.client_id: c for c in clients}
            self._known = self._known | frozenset(self._clients)

    def all(self) -> list[Client]:
        return list(self._clients.values())

    def secrets(self) -> list[str]:
        return [s for c in self._clients.values() for s in (c.client_secret, *c.other_secrets)]
