"""The provider suite as pytest tests: one per check, against a fresh mock (so they run in CI), or against
the live environment of the ``SCALEKIT_*`` variables with ``--scalekit-live``.

Run: ``pytest --pyargs contract_tests -k provider`` or ``pytest --pyargs contract_tests --scalekit-live``.
"""

from __future__ import annotations

import pytest

from contract_tests.provider import IDS
from contract_tests.pytest_plugin import judge
from contract_tests.results import SuiteReport


@pytest.mark.parametrize("check_id", IDS)
def test_provider_check(check_id: str, scalekit_provider_selection: list[str], request: pytest.FixtureRequest) -> None:
    if check_id not in scalekit_provider_selection:
        pytest.skip(f"{check_id} was not selected (--scalekit-only)")
    report: SuiteReport = request.getfixturevalue("scalekit_provider_report")  # run once, for the selected checks
    if report.startup_error is not None:
        pytest.fail(f"the target cannot be checked: {report.startup_error}", pytrace=False)
    judge(report, check_id, subject="target")
