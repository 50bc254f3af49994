"""PROV-OPENAPI: the mock's OpenAPI document is part of its contract; schemathesis holds the mock to it.

Stateless: every operation of the document (the token endpoint, keys, discovery, the control plane), with
generated valid and invalid input. Stateful: random chains of the linked operations (a client added then
used and removed, a token revoked). The mock runs in process, reset between cases. A live environment
serves no such document: the check is skipped there. The REST API is PROV-PUBLISHED-OPENAPI's.
"""

from __future__ import annotations

from .context import ProviderContext

STATELESS_EXAMPLES = 8  # per operation, as contract_tests/test_openapi.py
STATEFUL_EXAMPLES, STATEFUL_STEPS = 20, 8


def openapi(ctx: ProviderContext) -> None:
    mock = ctx.target.mock
    if mock is None:
        ctx.skip("the OpenAPI document is the mock's own (/_mock/openapi.json): a live environment serves none",
                 not_applicable=True)
    from ..openapi_run import run_stateful, run_stateless  # schemathesis: imported only when the check runs
    failures = run_stateless(mock, max_examples=STATELESS_EXAMPLES)
    failures += run_stateful(mock, max_examples=STATEFUL_EXAMPLES, steps=STATEFUL_STEPS)
    if failures:
        ctx.fail(f"{len(failures)} failure(s) of the mock against its own document:\n  " + "\n  ".join(failures))
