"""The client conformance suite as pytest tests: one per check, against ``--scalekit-driver "CMD"``.

Run: ``pytest --pyargs contract_tests --scalekit-driver "python -m contract_tests.drivers.reference"``.
Without ``--scalekit-driver`` every test is skipped.
"""

from __future__ import annotations

import pytest

from contract_tests.client.checks import IDS
from contract_tests.client.results import SuiteReport


@pytest.mark.parametrize("check_id", IDS)
def test_client_check(check_id: str, scalekit_conformance_report: SuiteReport | None) -> None:
    report = scalekit_conformance_report
    if report is None:
        pytest.skip("no --scalekit-driver given: pass --scalekit-driver \"CMD\" to check a client through its driver")
    try:
        result = report.result(check_id)
    except KeyError:
        pytest.skip(f"{check_id} was not selected (--scalekit-only)")
    if result.outcome == "skipped":
        pytest.skip(result.message)
    if result.outcome == "error":
        pytest.fail(f"{check_id}: driver or protocol error: {result.message}", pytrace=False)
    if result.outcome == "failed" and result.level == "SHOULD" and not report.strict:
        pytest.xfail(f"{check_id} (SHOULD, required only with --scalekit-strict): {result.message}")
    if result.outcome == "failed":
        pytest.fail(f"{check_id} ({result.level}): {result.message}", pytrace=False)
