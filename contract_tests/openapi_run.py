"""Schemathesis over the mock's own OpenAPI document, shared by ``test_openapi.py`` and the provider check
PROV-OPENAPI: the route sample, real tokens where the document can only say "a token this mock issued",
and one generated case run against a freshly reset mock.

The app runs in process (schemathesis's WSGI transport): no socket and no thread, about a millisecond a
request, and an unexpected exception inside the mock surfaces through ``MockServer.check()``. The mock
is reset before and after every case, so whatever a case did to it (a queued fault, a moved clock, a
rotated key, a revoked token, a removed client) never reaches the next one.

Operations covered: all of the token endpoint, keys, discovery, the organizations service and the
control plane; of the other API routes, a deterministic pairwise sample (see ``sampled_routes``).
``SCALEKIT_MOCK_ALL_ROUTES=1`` runs every route.
"""

from __future__ import annotations

import functools
import itertools
import os
from collections.abc import Callable, Mapping
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.core.result import Ok
from schemathesis.filters import HasAPIOperation

from mock_server import MockServer

Case = schemathesis.Case[Any]

OPENAPI_PATH = "/_mock/openapi.json"
ORGANIZATIONS = "scalekit.v1.organizations.OrganizationService/"
# Both, as schemathesis's pytest face runs. (mypy checks for Python 3.10, where StrEnum members read as str.)
MODES: tuple[schemathesis.GenerationMode, ...] = (schemathesis.GenerationMode("positive"),
                                                   schemathesis.GenerationMode("negative"))


def load_schema(server: MockServer) -> schemathesis.BaseSchema:
    """The mock's document, with schemathesis calling the mock's WSGI app directly (no server needed)."""
    return schemathesis.openapi.from_wsgi(OPENAPI_PATH, server.app)


def run_settings(max_examples: int) -> settings:
    """Small per operation, because the operations add up; deterministic, so a failure reproduces."""
    return settings(max_examples=max_examples, derandomize=True, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))


def features(definition: Mapping[str, Any], path: str, method: str) -> tuple[Any, ...]:
    """What the mock's API view can tell apart between two routes."""
    return (definition.get("x-scalekit-policy"), method, "requestBody" in definition, "{" in path, ":" in path,
            "{remainder}" in path, bool(definition.get("x-scalekit-permissions")))


def pairs(values: tuple[Any, ...]) -> set[tuple[Any, ...]]:
    return {(i, a, j, b) for (i, a), (j, b) in itertools.combinations(enumerate(values), 2)}


def route_pairs(raw_schema: Mapping[str, Any]) -> list[tuple[str, set[tuple[Any, ...]]]]:
    """Every API route's rpc with the pairs of its features, in table order."""
    return [(op["x-scalekit-rpc"], pairs(features(op, path, method)))
            for path, item in raw_schema["paths"].items() for method, op in item.items() if "x-scalekit-rpc" in op]


def sampled_routes(raw_schema: Mapping[str, Any]) -> frozenset[str]:
    """The rpcs of a pairwise-covering sample of the API routes, plus every organizations route.

    The view treats two routes alike but for a few features (auth policy, method, whether they take a
    body, have path parameters, a ``:verb`` or a ``**``, and name permissions), so the sample holds,
    for every two features, a route with each pair of their values, picked greedily in table order:
    about a dozen routes besides the organizations service.
    """
    routes = route_pairs(raw_schema)
    missing = set().union(*(found for _, found in routes))
    picked = {rpc for rpc, _ in routes if rpc.startswith(ORGANIZATIONS)}
    for rpc, found in routes:
        missing -= found if rpc in picked else set()
    while missing:
        rpc, found = max(routes, key=lambda route: len(route[1] & missing))  # the first best, in table order
        picked.add(rpc)
        missing -= found
    return frozenset(picked)


class Selection:
    """Which operations a run covers: every non-API operation, and the sampled API routes."""

    def __init__(self, schema: schemathesis.BaseSchema) -> None:
        self.schema = schema

    @functools.cached_property
    def routes(self) -> frozenset[str]:
        return sampled_routes(self.schema.raw_schema)

    def selected(self, ctx: HasAPIOperation) -> bool:
        rpc = ctx.operation.definition.raw.get("x-scalekit-rpc")
        return rpc is None or os.environ.get("SCALEKIT_MOCK_ALL_ROUTES") == "1" or rpc in self.routes

    def secured(self, ctx: HasAPIOperation) -> bool:
        return self.selected(ctx) and bool(ctx.operation.definition.raw.get("security"))


def fetch_bearer_token(server: MockServer) -> str:
    """An access token of the full-access default client; it stays valid across resets (same key, same clock)."""
    client = server.default_client
    response = server.app.test_client().post("/oauth/token", data={
        "grant_type": "client_credentials", "client_id": client.client_id, "client_secret": client.client_secret})
    if response.status_code != 200:
        raise AssertionError(f"the mock issued no token: {response.get_data(as_text=True)}")
    token: str = response.get_json()["access_token"]
    return token


def with_real_tokens(case: Case, token: str) -> None:
    """Put a token the mock issued where the document can only say "a token this mock issued".

    Like the id of an existing resource, such a value cannot be drawn from a schema: a random string
    is rightly refused, and the check that schema-valid data is accepted would blame the mock.
    """
    body = case.body
    if case.operation.path == "/_mock/revoke" and isinstance(body, dict) and isinstance(body.get("token"), str):
        case.body = {**body, "token": token}


def run_case(server: MockServer, case: Case, token: str, headers: dict[str, str] | None = None) -> None:
    """One generated case, every built-in check, against a mock in its initial state."""
    server.reset()
    with_real_tokens(case, token)
    try:
        case.call_and_validate(headers=headers)
        server.check()
    finally:
        server.reset()


def _failure(label: str, exc: BaseException) -> str:
    lines = [line for line in str(exc).splitlines() if line.strip()]
    return f"{label}: {type(exc).__name__}: " + "\n    ".join(lines[:12])


def _run_operation(run: Callable[[Case], None], strategy: st.SearchStrategy[Case], limit: settings) -> None:
    @limit
    @given(case=strategy)
    def test(case: Case) -> None:
        run(case)

    test()


def run_stateless(server: MockServer, *, max_examples: int = 5) -> list[str]:
    """Every selected operation with generated (valid and invalid) input, without and with a valid token.

    Returns one message per operation that failed a check (empty: no failure).
    """
    schema = load_schema(server)
    selection = Selection(schema)
    token = fetch_bearer_token(server)
    failures: list[str] = []
    for result in schema.include(selection.selected).get_all_operations():
        if not isinstance(result, Ok):
            failures.append(f"an operation of the document cannot be tested: {result.err()}")
            continue
        operation = result.ok()
        strategy = st.one_of(*(operation.as_strategy(mode) for mode in MODES))
        auth = {"Authorization": f"Bearer {token}"}
        for headers in (None, auth) if operation.definition.raw.get("security") else (None,):
            try:
                _run_operation(functools.partial(run_case, server, token=token, headers=headers), strategy,
                               run_settings(max_examples))
            except Exception as exc:  # noqa: BLE001 - any failure of a generated case is reported, not raised
                failures.append(_failure(f"{operation.label}{' (with a token)' if headers else ''}", exc))
    return failures


# The operations the document links (openapi.py ``_link``): the stateful phase chains only these. The
# rest of the control plane stays out: a fault queued in one step (a hang, a drop) would hit the next.
LINKED_OPERATIONS = ("issueToken", "ListOrganization", "GetOrganization", "CreateOrganization", "mock_putClient",
                     "mock_removeClient", "mock_revoke")


def run_stateful(server: MockServer, *, max_examples: int = 10, steps: int = 6) -> list[str]:
    """Schemathesis's stateful phase over the linked operations: a token used as the bearer of the next call,
    an organization created then fetched, a client added then used and removed, a token revoked.

    Each scenario starts from a reset mock; calls to secured operations carry the full-access token
    unless a link gave them one. Returns the failures (empty: none).
    """
    schema = load_schema(server).include(operation_id=list(LINKED_OPERATIONS))
    token = fetch_bearer_token(server)

    class Machine(schema.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            server.reset()

        def teardown(self) -> None:
            server.reset()

        def before_call(self, case: Case) -> None:
            with_real_tokens(case, token)
            body = case.body
            known = {c["client_id"] for c in server.control.list_clients()}
            if case.operation.path == "/oauth/token" and isinstance(body, dict) and body.get("client_id") not in known:
                # Random credentials only ever get 401, and a 401 links nowhere: chain from a real token.
                client = server.default_client
                case.body = {**body, "client_id": client.client_id, "client_secret": client.client_secret}
            # A token a link passed on (a JWT) is kept; a generated bearer is replaced by a valid one.
            given = str(case.headers.get("Authorization", ""))
            if case.operation.definition.raw.get("security"):
                if not given.startswith("Bearer eyJ"):
                    case.headers["Authorization"] = f"Bearer {token}"
                # Valid credentials, as the stateless run's explicit headers: the ignored_auth check then
                # probes without them and with bad ones, instead of taking them for generated ones.
                case._has_explicit_auth = True

        def validate_response(self, response: Any, case: Case, additional_checks: Any = None,
                              **kwargs: Any) -> None:
            super().validate_response(response, case, additional_checks, **kwargs)
            server.check()

    try:
        Machine.run(settings=settings(run_settings(max_examples), stateful_step_count=steps))
    except Exception as exc:  # noqa: BLE001 - a failing scenario is reported, not raised
        return [_failure("stateful phase", exc)]
    return []
