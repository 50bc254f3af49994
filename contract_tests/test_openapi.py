"""Schemathesis over the mock's own OpenAPI document: the mock must answer as it documents itself.

Every operation of ``GET /_mock/openapi.json`` is run with every built-in check of schemathesis
(no server error, documented status, content type, headers and body, bad input rejected, good input
accepted, 405 with ``Allow`` for undocumented methods, authentication enforced).

The app runs in process (schemathesis's WSGI transport): no socket and no thread, about a
millisecond a request, and an unexpected exception inside the mock surfaces here through
``MockServer.check()``. The mock is reset before and after every generated case, so whatever a case
did to it (a queued ``hang``, ``delay`` or ``drop`` fault, a moved clock, a rotated key, a revoked
token, a removed client) never reaches the next one: a fault only fires on a later request, and the
only later request of a case is the authentication probe of the same operation. So no 5xx is
injected during the run, and every 5xx is a failure.

Operations covered, and why: all of the token endpoint, keys, discovery, the organizations service
and the control plane. Of the other API routes (most of the 444), a deterministic sample: the view
treats two routes alike but for a few features (auth policy, method, whether they take a body, have
path parameters, a ``:verb`` or a ``**``, and name permissions), so the sample holds, for every two
features, a route with each pair of their values (pairwise coverage, picked greedily in table order:
about a dozen routes besides the organizations service). Running all 444 found nothing more and takes
several times as long; ``SCALEKIT_MOCK_ALL_ROUTES=1`` does it, for when the route handling changes.
"""

from __future__ import annotations

import functools
import itertools
import os
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.filters import HasAPIOperation

from mock_server import MockServer

Case = schemathesis.Case[Any]

OPENAPI_PATH = "/_mock/openapi.json"
ORGANIZATIONS = "scalekit.v1.organizations.OrganizationService/"

SERVER = MockServer()  # never started: schemathesis calls its WSGI app directly
schema = schemathesis.openapi.from_wsgi(OPENAPI_PATH, SERVER.app)

# Small per operation, because the 400-odd operations add up; deterministic, so a failure reproduces.
RUN_SETTINGS = settings(max_examples=8, derandomize=True, deadline=None, database=None,
                        suppress_health_check=list(HealthCheck))


def _features(definition: dict[str, Any], path: str, method: str) -> tuple[Any, ...]:
    """What the mock's API view can tell apart between two routes."""
    return (definition.get("x-scalekit-policy"), method, "requestBody" in definition, "{" in path, ":" in path,
            "{remainder}" in path, bool(definition.get("x-scalekit-permissions")))


def _pairs(features: tuple[Any, ...]) -> set[tuple[Any, ...]]:
    return {(i, a, j, b) for (i, a), (j, b) in itertools.combinations(enumerate(features), 2)}


@functools.lru_cache(maxsize=1)
def _sampled_routes() -> frozenset[str]:
    """The rpcs of a pairwise-covering sample of the API routes, plus every organizations route."""
    routes = [(op["x-scalekit-rpc"], _pairs(_features(op, path, method)))
              for path, item in schema.raw_schema["paths"].items() for method, op in item.items()
              if "x-scalekit-rpc" in op]
    missing = set().union(*(pairs for _, pairs in routes))
    picked = {rpc for rpc, _ in routes if rpc.startswith(ORGANIZATIONS)}
    for rpc, pairs in routes:
        missing -= pairs if rpc in picked else set()
    while missing:
        rpc, pairs = max(routes, key=lambda route: len(route[1] & missing))  # the first best, in table order
        picked.add(rpc)
        missing -= pairs
    return frozenset(picked)


def _selected(ctx: HasAPIOperation) -> bool:
    rpc = ctx.operation.definition.raw.get("x-scalekit-rpc")
    return rpc is None or os.environ.get("SCALEKIT_MOCK_ALL_ROUTES") == "1" or rpc in _sampled_routes()


def _secured(ctx: HasAPIOperation) -> bool:
    return _selected(ctx) and bool(ctx.operation.definition.raw.get("security"))


@functools.lru_cache(maxsize=1)
def bearer_token() -> str:
    """An access token of the full-access default client, fetched from the mock's token endpoint.

    It stays valid across resets: reset brings back the initial signing key and clock.
    """
    client = SERVER.default_client
    response = SERVER.app.test_client().post("/oauth/token", data={
        "grant_type": "client_credentials", "client_id": client.client_id, "client_secret": client.client_secret})
    assert response.status_code == 200, response.get_data(as_text=True)
    token: str = response.get_json()["access_token"]
    return token


def _with_real_tokens(case: Case) -> None:
    """Put a token the mock issued where the document can only say "a token this mock issued".

    Like the id of an existing resource, such a value cannot be drawn from a schema: a random string
    is rightly refused, and the check that schema-valid data is accepted would blame the mock.
    """
    body = case.body
    if case.operation.path == "/_mock/revoke" and isinstance(body, dict) and isinstance(body.get("token"), str):
        case.body = {**body, "token": bearer_token()}


def _run(case: Case, headers: dict[str, str] | None = None) -> None:
    SERVER.reset()
    _with_real_tokens(case)
    try:
        case.call_and_validate(headers=headers)
        SERVER.check()
    finally:
        SERVER.reset()


@schema.include(_selected).parametrize()
@RUN_SETTINGS
def test_mock_answers_as_documented(case: Case) -> None:
    # Given the mock in its initial state, when a generated request (auth generated too) is sent,
    # then every check passes.
    _run(case)


@schema.include(_secured).parametrize()
@RUN_SETTINGS
def test_mock_answers_authenticated_calls_as_documented(case: Case) -> None:
    # Given a valid token of the full-access client, the success paths (and the 403s of routes
    # closed to client credentials) are exercised; after a success, the ignored_auth check probes
    # the operation once without a token and once with a bad one, which must get 401.
    _run(case, headers={"Authorization": f"Bearer {bearer_token()}"})


def test_route_sample_covers_every_pair_of_features() -> None:
    # The sample is a real subset, holds the routes that answer data, and misses no pair of features.
    picked = _sampled_routes()
    assert any(rpc.endswith("/ListOrganization") for rpc in picked)
    assert len(picked) < len(SERVER.control.routes.routes) // 4
    every, covered = set(), set()
    for path, item in schema.raw_schema["paths"].items():
        for method, op in item.items():
            if "x-scalekit-rpc" in op:
                pairs = _pairs(_features(op, path, method))
                every |= pairs
                covered |= pairs if op["x-scalekit-rpc"] in picked else set()
    assert covered == every
