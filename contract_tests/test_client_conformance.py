"""The client conformance suite as pytest tests: one per check, against ``--scalekit-driver "CMD"``.

Run: ``pytest --pyargs contract_tests --scalekit-driver "python -m contract_tests.drivers.reference"``.
Without ``--scalekit-driver`` every test is skipped.
"""

from __future__ import annotations

import pytest

from contract_tests.client.checks import IDS
from contract_tests.client.results import SuiteReport
from contract_tests.pytest_plugin import judge


@pytest.mark.parametrize("check_id", IDS)
def test_client_check(check_id: str, scalekit_conformance_report: SuiteReport | None) -> None:
    report = scalekit_conformance_report
    if report is None:
        pytest.skip("no --scalekit-driver given: pass --scalekit-driver \"CMD\" to check a client through its driver")
    if check_id not in {r.id for r in report.results}:
        pytest.skip(f"{check_id} was not selected (--scalekit-only)")
    judge(report, check_id, subject="driver")
