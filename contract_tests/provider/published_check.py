"""PROV-PUBLISHED-OPENAPI: Scalekit's published OpenAPI document is the REST API's contract; schemathesis holds
the target to it (``contract_tests/published_run.py``, the document as read in ``published_spec.py``).

Against the mock: every phase (examples, coverage, fuzzing with valid and invalid data, stateful over the
derived and inferred links), every operation, every built-in check, in process. Against a live environment:
the GET operations only, one valid and one invalid case each, within a request budget
(``SCALEKIT_PUBLISHED_OPENAPI_BUDGET``), with the token of the run's ``token`` case. The report (cases,
operations covered, each check's counts, every failure with an example, the excused ones) is the result's
message either way; any failure or error fails the check.
"""

from __future__ import annotations

from .context import ProviderContext


def published_openapi(ctx: ProviderContext) -> None:
    from ..published_run import run_against_mock, run_live  # schemathesis: imported only when the check runs

    mock = ctx.target.mock
    if mock is not None:
        report = run_against_mock(mock)
        text = report.render()
    else:
        token = ctx.exchange("token").data["access_token"]  # the preflight's: a live run asks for no other
        report = run_live(ctx.target.url, token, timeout=ctx.probe.timeout)
        text = ctx.redactor.text(report.render())  # a sandbox's answers may hold its secrets and data
    if not report.passed:
        ctx.fail(text)
    ctx.note = text
