"""Schemathesis over the mock's own OpenAPI document, shared by ``test_openapi.py`` and the provider check
PROV-OPENAPI: real tokens where the document can only say "a token this mock issued", and one generated case
run against a freshly reset mock.

The app runs in process (schemathesis's WSGI transport): no socket and no thread, about a millisecond a
request, and an unexpected exception inside the mock surfaces through ``MockServer.check()``. The mock
is reset before and after every case, so whatever a case did to it (a queued fault, a moved clock, a
rotated key, a revoked token, a removed client) never reaches the next one.

Operations covered: every one of the document (the token endpoint, keys, discovery and the control plane).
The REST API is the published document's, checked by ``published_run.py``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.core.result import Ok

from mock_server import MockServer, load_fixtures

Case = schemathesis.Case[Any]

OPENAPI_PATH = "/_mock/openapi.json"
FULL_ACCESS_SCOPE: str = load_fixtures().token["full_access_scope"]  # what an environment client holds
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
    is rightly refused, and the check that schema-valid data is accepted would blame the mock. So is a
    token request's random ``scope`` (it must name what the client holds): it asks for full access instead.
    """
    body = case.body
    if case.operation.path == "/_mock/revoke" and isinstance(body, dict) and isinstance(body.get("token"), str):
        case.body = {**body, "token": token}
    if case.operation.path == "/oauth/token" and isinstance(body, dict) and isinstance(body.get("scope"), str):
        case.body = {**body, "scope": FULL_ACCESS_SCOPE}


def run_case(server: MockServer, case: Case, token: str) -> None:
    """One generated case, every built-in check, against a mock in its initial state."""
    server.reset()
    with_real_tokens(case, token)
    try:
        case.call_and_validate()
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
    """Every operation with generated (valid and invalid) input.

    Returns one message per operation that failed a check (empty: no failure).
    """
    schema = load_schema(server)
    token = fetch_bearer_token(server)
    failures: list[str] = []
    for result in schema.get_all_operations():
        if not isinstance(result, Ok):
            failures.append(f"an operation of the document cannot be tested: {result.err()}")
            continue
        operation = result.ok()
        strategy = st.one_of(*(operation.as_strategy(mode) for mode in MODES))
        try:
            _run_operation(functools.partial(run_case, server, token=token), strategy, run_settings(max_examples))
        except Exception as exc:  # noqa: BLE001 - any failure of a generated case is reported, not raised
            failures.append(_failure(operation.label, exc))
    return failures


# The operations the document links (openapi.py ``_link``): the stateful phase chains only these. The
# rest of the control plane stays out: a fault queued in one step (a hang, a drop) would hit the next.
LINKED_OPERATIONS = ("issueToken", "mock_putClient", "mock_removeClient", "mock_revoke")


def run_stateful(server: MockServer, *, max_examples: int = 10, steps: int = 6) -> list[str]:
    """Schemathesis's stateful phase over the linked operations: a client added then used and removed, a token
    revoked.

    Each scenario starts from a reset mock. Returns the failures (empty: none).
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

        def validate_response(self, response: Any, case: Case, additional_checks: Any = None,
                              **kwargs: Any) -> None:
            super().validate_response(response, case, additional_checks, **kwargs)
            server.check()

    try:
        Machine.run(settings=settings(run_settings(max_examples), stateful_step_count=steps))
    except Exception as exc:  # noqa: BLE001 - a failing scenario is reported, not raised
        return [_failure("stateful phase", exc)]
    return []
