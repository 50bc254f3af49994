"""pytest face of the conformance suites.

Client suite: ``pytest --pyargs contract_tests --scalekit-driver "CMD"``. The session fixture
``scalekit_conformance_report`` runs the selected client checks once (so the leak checks see every
driver's output); ``contract_tests/test_client_conformance.py`` turns it into one test per check.

Provider suite: ``pytest --pyargs contract_tests`` runs the provider checks against a fresh mock;
``--scalekit-live`` against the live environment of the ``SCALEKIT_*`` variables. The session fixture
``scalekit_provider_report`` runs them once; ``contract_tests/test_provider.py`` has one test per check.
"""

from __future__ import annotations

import os

import pytest

from .client.runner import SuiteReport, run_suite
from .provider import IDS as PROVIDER_IDS
from .provider import Target, TargetError, run_provider_suite

TEST_NAME = "test_client_check"
PROVIDER_TEST_NAME = "test_provider_check"


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
    group.addoption("--scalekit-grpc", action="store_true", default=False,
                    help="serve the mock's gRPC face too, for a client calling the API over gRPC")
    group.addoption("--scalekit-tls", action="store_true", default=False,
                    help="serve the mock over HTTPS with a throwaway CA the driver is told to trust")
    group.addoption("--scalekit-live", action="store_true", default=False,
                    help="run the provider checks against the live environment of SCALEKIT_ENVIRONMENT_URL, "
                    "SCALEKIT_CLIENT_ID and SCALEKIT_CLIENT_SECRET instead of a fresh mock (and the client checks "
                    "of --scalekit-driver through a journaling proxy in front of it)")


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
                     op_timeout=config.getoption("scalekit_timeout"), live=config.getoption("scalekit_live"),
                     grpc=config.getoption("scalekit_grpc"), tls=config.getoption("scalekit_tls"))


def _provider_selected(config: pytest.Config, session: pytest.Session) -> list[str]:
    """The provider checks named by --scalekit-only, else those whose tests were collected and selected."""
    only = config.getoption("scalekit_only")
    if only:
        named = [part.strip().upper() for value in only for part in value.split(",")]
        return [check_id for check_id in PROVIDER_IDS if check_id in named]
    return [str(item.callspec.params["check_id"]) for item in session.items if isinstance(item, pytest.Function)
            and item.originalname == PROVIDER_TEST_NAME and hasattr(item, "callspec")]


@pytest.fixture(scope="session")
def scalekit_provider_selection(request: pytest.FixtureRequest) -> list[str]:
    """The IDs of the provider checks this session runs."""
    return _provider_selected(request.config, request.session)


@pytest.fixture(scope="session")
def scalekit_provider_report(request: pytest.FixtureRequest, scalekit_provider_selection: list[str]) -> SuiteReport:
    """The report of one run of the selected provider checks (a fresh mock, or ``--scalekit-live``)."""
    config = request.config
    selected = scalekit_provider_selection
    problem: str | None = None
    try:
        target = Target.from_env(os.environ) if config.getoption("scalekit_live") else None
    except TargetError as exc:
        problem = str(exc)
    if problem is not None:
        pytest.fail(f"--scalekit-live: {problem}", pytrace=False)
    return run_provider_suite(target, only=selected, strict=config.getoption("scalekit_strict"),
                              command="pytest --scalekit-live" if target else "pytest")
