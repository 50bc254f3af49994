"""pytest face of the client conformance suite: ``pytest --pyargs contract_tests --scalekit-driver "CMD"``.

Adds the ``--scalekit-*`` options and the session fixture ``scalekit_conformance_report``, which
runs the selected checks once (so the leak checks see every driver's output) and which
``contract_tests/test_client_conformance.py`` turns into one test per check.
"""

from __future__ import annotations

import pytest

from .client.runner import SuiteReport, run_suite

TEST_NAME = "test_client_check"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("scalekit-conformance", "Scalekit client conformance suite")
    group.addoption("--scalekit-driver", metavar="CMD", default=None,
                    help="driver command of the client under test (runs the client conformance tests)")
    group.addoption("--scalekit-strict", action="store_true", default=False,
                    help="SHOULD checks that fail fail the test (default: xfail)")
    group.addoption("--scalekit-only", action="append", metavar="ID", default=None,
                    help="run only this check (repeatable, or comma-separated)")
    group.addoption("--scalekit-timeout", type=float, default=30.0, metavar="S",
                    help="deadline for each driver op in seconds (default 30)")


def _selected(config: pytest.Config, session: pytest.Session) -> list[str]:
    """The checks to run: --scalekit-only if given, else those whose tests were collected and selected."""
    only = config.getoption("scalekit_only")
    if only:
        return [part for value in only for part in value.split(",") if part.strip()]
    return [str(item.callspec.params["check_id"]) for item in session.items
            if isinstance(item, pytest.Function) and item.originalname == TEST_NAME and hasattr(item, "callspec")]


@pytest.fixture(scope="session")
def scalekit_conformance_report(request: pytest.FixtureRequest) -> SuiteReport | None:
    """The report of one run of the selected client checks, or ``None`` without ``--scalekit-driver``."""
    config = request.config
    driver = config.getoption("scalekit_driver")
    if not driver:
        return None
    return run_suite(driver, only=_selected(config, request.session), strict=config.getoption("scalekit_strict"),
                     op_timeout=config.getoption("scalekit_timeout"))
