"""The API as both faces call it: a route and its request message in, the status and response message out.

An operation of Scalekit's published document is checked against it and answered from the resource store
(``resources.py``); organization clients also change who can get tokens (``org_clients.py``). A route of the
routes table that the document does not cover (340 of them) keeps the mock's older answer: authenticated and
authorized like every route, then an empty message.

The document and the store are loaded on the first API call, so a mock that only issues tokens never pays for
them.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Mapping, MutableMapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from .contract import Contract, Operation, has_field, load_contract, set_field
from .errors import ApiError
from .org_clients import SECRET_RPCS, OrganizationClients
from .org_clients import SERVICE as CLIENT_SERVICE
from .resources import ResourceStore
from .routes import Route

if TYPE_CHECKING:
    from ..pipeline.request import Request
    from .control import ControlPlane


class ApiResources:
    """The published contract, the store of one environment, and its organization clients."""

    def __init__(self, plane: ControlPlane) -> None:
        self.plane = plane
        self._lock = threading.Lock()
        self._store: ResourceStore | None = None
        self._operations: dict[int, Operation | None] = {}
        self.org_clients = OrganizationClients(plane, plane.fixtures.resources["organization_clients"])

    @functools.cached_property
    def contract(self) -> Contract:
        fixtures = self.plane.fixtures  # the same Contract for every mock of the process (load_contract's cache)
        return load_contract(fixtures.openapi_path, fixtures.routes)

    @property
    def store(self) -> ResourceStore:
        if self._store is None:
            with self._lock:
                if self._store is None:
                    store = ResourceStore(self.contract, self.plane.fixtures.resources, self.plane.now)
                    store.body_fields = {r.rpc: r.body_field for r in self.plane.fixtures.routes}
                    self._store = store
        return self._store

    @property
    def loaded(self) -> bool:
        """Whether the published document and the store are loaded (the first API call loads them)."""
        return self._store is not None

    def reset(self) -> None:
        """Back to the seed data (only if the store was ever loaded: otherwise it already is)."""
        if self._store is not None:
            self._store.reset()
        self.org_clients.reset()

    # -- the faces' entry points ----------------------------------------------------------------------
    def rest_message(self, route: Route, request: Request) -> dict[str, Any]:
        """The request message of a REST call, as grpc-gateway builds it: path parameters, the documented query
        parameters and the body (whole, or in the route's body field); a body that is not a JSON object is a
        400. Routes the document does not cover take no message."""
        op = self._operation(route)
        if op is None:
            return {}
        message = self.contract.query_message(op, parse_qsl(request.query, keep_blank_values=True)) \
            if op.query_params else {}
        if route.row.body_field:
            body = _json_object(request.read_body(ApiError, "invalid_argument"))
            if route.row.body_field == "*":
                message.update(body)
            else:
                message[route.row.body_field] = body
        match = route.pattern.match(request.path)
        for name, value in (match.groupdict() if match else {}).items():  # path parameters win over the body
            if "__" in name:
                set_field(message, name.replace("__", "."), value)
            else:
                message[name] = value
        return message

    def call(self, route: Route, message: Mapping[str, Any],
             notes: MutableMapping[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
        """Answer one API call; ``notes`` (the journal entry's extra) hears what a call did beyond its answer."""
        op = self._resolve(route, message)
        if op is None:
            return 200, {}
        if route.rpc not in SECRET_RPCS and not self.store.changes(op):  # a read: this process's copy answers
            return self.store.call(op, message)
        status, answer, note = self.plane.api_call(route.rpc, route.row.method, route.row.template, message)
        if notes is not None:
            notes.update(note)
        return status, answer

    def apply(self, route: Route, message: Mapping[str, Any], seed: str,
              last_token: int) -> tuple[int, dict[str, Any], dict[str, Any]]:
        """A call that changes resources, as the environment applies it (``ControlPlane.api_call``): the status,
        the answer and what the journal notes; ``seed`` for what it generates, ``last_token`` the last token issued
        when it was made (what a deleted client's tokens are retired up to)."""
        op = self._resolve(route, message)
        assert op is not None  # call() submits only operations of the document
        store = self.store
        with store.locked(), self.org_clients.deciding(seed, last_token):
            if route.rpc in SECRET_RPCS:
                return op.success_status, self._client_secret(route, message), {}
            status, answer = store.call(op, message)
            note = self.org_clients.after(route.rpc, message, answer) if route.rpc.startswith(CLIENT_SERVICE) else {}
        return status, answer, note

    def _resolve(self, route: Route, message: Mapping[str, Any]) -> Operation | None:
        op = self._operation(route)
        if op is None or not _sets_all(message, op.path_params):  # gRPC: the message names its binding
            op = self.contract.binding_for(route.rpc, message) or op
        return op

    def _operation(self, route: Route) -> Operation | None:
        """The document's operation of a route (looked up once per route: the API's hot path)."""
        key = id(route)  # routes live as long as their table, which is cached per process
        if key not in self._operations:
            self._operations[key] = self.contract.operation(route.rpc, route.row.method, route.row.template)
        return self._operations[key]

    def _client_secret(self, route: Route, message: Mapping[str, Any]) -> dict[str, Any]:
        """Adding or deleting a secret of an organization client: the client must exist in its organization."""
        store = self.store
        with store.locked():
            client = store.lookup("clientsM2MClient", "client_id", str(message.get("client_id", "")),
                                  {"organizationsOrganization": str(message.get("organization_id", ""))})
            if route.method_name.startswith("Create"):
                return self.org_clients.add_secret(client)
            self.org_clients.remove_secret(client, str(message.get("secret_id", "")))
            return {}


def _sets_all(message: Mapping[str, Any], names: tuple[str, ...]) -> bool:
    """Whether the message sets every one of the path parameters (``has_field``, with a fast path for a plain name)."""
    for name in names:
        value = message.get(name) if "." not in name else None
        if (value is None or value == "") and not has_field(message, name):
            return False
    return True


def _json_object(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}  # grpc-gateway takes an empty body as an empty message
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # ValueError includes UnicodeDecodeError
        raise ApiError("invalid_argument", message="invalid request body: not JSON") from exc
    if not isinstance(body, dict):
        raise ApiError("invalid_argument", message="invalid request body: must be a JSON object")
    return body
