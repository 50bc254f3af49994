"""Schemathesis over the mock's own OpenAPI document: the mock must answer as it documents itself.

Every operation of ``GET /_mock/openapi.json`` (the token endpoint, keys, discovery and the control plane;
the REST API is the published document's: ``test_published_openapi.py``) is run with every built-in check
of schemathesis (no server error, documented status, content type, headers and body, bad input rejected,
good input accepted, 405 with ``Allow`` for undocumented methods).

The app runs in process (schemathesis's WSGI transport): no socket and no thread, about a
millisecond a request, and an unexpected exception inside the mock surfaces here through
``MockServer.check()``. The mock is reset before and after every generated case, so whatever a case
did to it (a queued ``hang``, ``delay`` or ``drop`` fault, a moved clock, a rotated key, a revoked
token, a removed client) never reaches the next one: a fault only fires on a later request, and a case
sends no other. So no 5xx is injected during the run, and every 5xx is a failure.

The real tokens and the case runner live in ``contract_tests/openapi_run.py``, shared with the provider
suite's PROV-OPENAPI check.
"""

from __future__ import annotations

import functools
from typing import Any

import schemathesis

from contract_tests.openapi_run import fetch_bearer_token, load_schema, run_case, run_settings, run_stateful
from mock_server import MockServer

Case = schemathesis.Case[Any]

SERVER = MockServer()  # never started: schemathesis calls its WSGI app directly
schema = load_schema(SERVER)

# Small per operation, because the operations add up; deterministic, so a failure reproduces.
RUN_SETTINGS = run_settings(max_examples=8)


@functools.lru_cache(maxsize=1)
def bearer_token() -> str:
    """An access token of the full-access default client (valid across resets)."""
    return fetch_bearer_token(SERVER)


@schema.parametrize()
@RUN_SETTINGS
def test_mock_answers_as_documented(case: Case) -> None:
    # Given the mock in its initial state, when a generated request is sent, then every check passes.
    run_case(SERVER, case, bearer_token())


def test_mock_follows_its_links_statefully() -> None:
    # Given the document's links (a client added, then a token for it, then removed; a token revoked),
    # random chains of linked calls pass every check.
    assert run_stateful(MockServer(), max_examples=10) == []
