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

The sample, the real tokens and the case runner live in ``contract_tests/openapi_run.py``, shared with
the provider suite's PROV-OPENAPI check.
"""

from __future__ import annotations

import functools
from typing import Any

import schemathesis

from contract_tests.openapi_run import (
    Selection,
    features,
    fetch_bearer_token,
    load_schema,
    pairs,
    run_case,
    run_settings,
    run_stateful,
)
from mock_server import MockServer

Case = schemathesis.Case[Any]

SERVER = MockServer()  # never started: schemathesis calls its WSGI app directly
schema = load_schema(SERVER)
SELECTION = Selection(schema)

# Small per operation, because the 400-odd operations add up; deterministic, so a failure reproduces.
RUN_SETTINGS = run_settings(max_examples=8)


@functools.lru_cache(maxsize=1)
def bearer_token() -> str:
    """An access token of the full-access default client (valid across resets)."""
    return fetch_bearer_token(SERVER)


@schema.include(SELECTION.selected).parametrize()
@RUN_SETTINGS
def test_mock_answers_as_documented(case: Case) -> None:
    # Given the mock in its initial state, when a generated request (auth generated too) is sent,
    # then every check passes.
    run_case(SERVER, case, bearer_token())


@schema.include(SELECTION.secured).parametrize()
@RUN_SETTINGS
def test_mock_answers_authenticated_calls_as_documented(case: Case) -> None:
    # Given a valid token of the full-access client, the success paths (and the 403s of routes
    # closed to client credentials) are exercised; after a success, the ignored_auth check probes
    # the operation once without a token and once with a bad one, which must get 401.
    run_case(SERVER, case, bearer_token(), headers={"Authorization": f"Bearer {bearer_token()}"})


def test_route_sample_covers_every_pair_of_features() -> None:
    # The sample is a real subset, holds the routes that answer data, and misses no pair of features.
    picked = SELECTION.routes
    assert any(rpc.endswith("/ListOrganization") for rpc in picked)
    assert len(picked) < len(SERVER.control.routes.routes) // 4
    every, covered = set(), set()
    for path, item in schema.raw_schema["paths"].items():
        for method, op in item.items():
            if "x-scalekit-rpc" in op:
                found = pairs(features(op, path, method))
                every |= found
                covered |= found if op["x-scalekit-rpc"] in picked else set()
    assert covered == every


def test_mock_follows_its_links_statefully() -> None:
    # Given the document's links (a token used as the next call's bearer, an organization created then
    # fetched, a client added then used and removed), random chains of linked calls pass every check.
    assert run_stateful(MockServer(), max_examples=10) == []
