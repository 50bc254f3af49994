"""Organization M2M clients are real clients: what the API creates can get tokens at ``/oauth/token``.

A client created with ``POST /api/v1/organizations/{organization_id}/clients`` joins the mock's clients with a
new secret (its tokens carry ``oid`` and the scopes it was given); ``.../secrets`` adds one, deleting a secret
or the client takes it away again (``/oauth/token`` then answers ``invalid_client``). Tokens already issued to
a deleted client follow ``fixtures/resources.json`` (``organization_clients.tokens_of_deleted``, inferred) and
the journal entry of the deleting call says which rule applied.

The secrets exist only here and in the responses that hand them out: the stored resource keeps each secret's
id, times and last four characters, as the API shows them.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import string
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from .clients import Client
from .errors import ApiError
from .resources import Item, rfc3339

if TYPE_CHECKING:
    from .control import ControlPlane

SERVICE = "scalekit.v1.clients.ClientService/"
SECRET_RPCS = frozenset(SERVICE + m for m in ("CreateOrganizationClientSecret", "DeleteOrganizationClientSecret"))
_BASE62 = string.ascii_letters + string.digits


def _base62(seed: str, salt: str, length: int) -> str:
    """``length`` letters and digits drawn from SHA-256 of the seed (a secret, 128 random bits): the same for every
    process that applies the call, unguessable to anyone else. Bytes past the last multiple of 62 are skipped, so
    each character is uniform."""
    chars: list[str] = []
    for block in itertools.count():
        digest = hashlib.sha256(f"{seed}:{salt}:{block}".encode()).digest()
        chars.extend(_BASE62[b % 62] for b in digest if b < 248)
        if len(chars) >= length:
            return "".join(chars[:length])
    raise AssertionError("unreachable")


class OrganizationClients:
    """Keeps the client registry in step with the API's organization clients."""

    def __init__(self, plane: ControlPlane, rules: Mapping[str, Any]) -> None:
        self.plane, self.rules = plane, rules
        self._secrets: dict[str, dict[str, str]] = {}  # client id -> secret id -> secret
        self._seed, self._last_token = "", -1

    @contextlib.contextmanager
    def deciding(self, seed: str, last_token: int) -> Iterator[None]:
        """Meanwhile, secrets come from ``seed`` and a deleted client's tokens are retired up to ``last_token``: what
        the call's submitter fixed, so that every process of a shared environment makes the same (``state.py``).
        The caller holds the store's lock."""
        self._seed, self._last_token = seed, last_token
        try:
            yield
        finally:
            self._seed, self._last_token = "", -1

    def reset(self) -> None:
        self._secrets.clear()

    def after(self, rpc: str, message: Mapping[str, Any], answer: Item) -> dict[str, Any]:
        """Apply an organization-client call that succeeded to the registry; what the journal should note."""
        method = rpc[len(SERVICE):] if rpc.startswith(SERVICE) else ""
        if method == "CreateOrganizationClient":
            client = answer["client"]
            secret, meta = self._new_secret(client["client_id"])
            client["secrets"] = [meta]
            answer["plain_secret"] = secret
            self._register(client)
        elif method == "UpdateOrganizationClient":
            self._register(answer["client"])
        elif method == "DeleteOrganizationClient":
            return self._forget(str(message.get("client_id", "")))
        return {}

    def add_secret(self, client: Item) -> Item:
        """``CreateOrganizationClientSecret``: a new secret for a stored client; the response message."""
        secret, meta = self._new_secret(client["client_id"])
        client["secrets"] = [*client.get("secrets", []), meta]
        self._register(client)
        return {"plain_secret": secret, "secret": meta}

    def remove_secret(self, client: Item, secret_id: str) -> None:
        """``DeleteOrganizationClientSecret``: 404 for a secret the client does not have."""
        held = self._secrets.get(client["client_id"], {})
        if secret_id not in held:
            raise ApiError("not_found", message="client secret not found")
        del held[secret_id]
        client["secrets"] = [s for s in client.get("secrets", []) if s.get("id") != secret_id]
        self._register(client)

    def _new_secret(self, client_id: str) -> tuple[str, dict[str, Any]]:
        secret = self.rules["secret_prefix"] + _base62(self._seed or os.urandom(16).hex(), client_id,
                                                       int(self.rules["secret_length"]))
        secret_id = self.plane.resources.store.new_id(self.rules["secret_id_prefix"])
        self._secrets.setdefault(client_id, {})[secret_id] = secret
        now = rfc3339(self.plane.now())
        return secret, {"id": secret_id, "create_time": now, "update_time": now, "secret_suffix": secret[-4:]}

    def _register(self, client: Item) -> None:
        """The registry's client for the stored one: its secrets, scopes, audience and lifetime."""
        held = list(self._secrets.get(client["client_id"], {}).values())
        if not held:  # no secret left: it can no longer authenticate
            if self.plane.clients.get(client["client_id"]) is not None:
                self.plane.clients.remove(client["client_id"])
            return
        expiry = str(client.get("expiry") or "")
        self.plane.put_client(Client(client["client_id"], held[0], tuple(client.get("scopes", ())),
                                     client.get("organization_id") or None, tuple(client.get("audience", ())),
                                     int(expiry) if expiry.isdigit() and 2 <= int(expiry) <= 10**8 else None,
                                     tuple(held[1:])))

    def _forget(self, client_id: str) -> dict[str, Any]:
        self._secrets.pop(client_id, None)
        if self.plane.clients.get(client_id) is not None:
            self.plane.clients.remove(client_id)
        rule = self.plane.retire_tokens_of(client_id, self._last_token)
        return {"tokens_of_deleted_client": f"{rule} (fixtures/resources.json, inferred)"}
