"""pytest face of the conformance suites.

Client suite: ``pytest --pyargs contract_tests --scalekit-driver "CMD"``. The session fixture
``scalekit_conformance_report`` runs the selected client checks once (so the leak checks see every
driver's output); ``contract_tests/test_client_conformance.py`` turns it into one test per check.

Provider suite: ``pytest --pyargs contract_tests`` runs the provider checks against a fresh mock;
``--scalekit-live`` against the live environment of the ``SCALEKIT_*`` variables. The session fixture
``scalekit_provider_report`` runs them once; ``contract_tests/test_provider.py`` has one test per check.

pytest loads this module in every run of an environment where the package is installed: it adds options and
fixtures only, and imports the suites when a fixture is used.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .results import SuiteReport

TEST_NAME = "test_client_check"
PROVIDER_TEST_NAME = "test_provider_check"
PACKAGE = Path(__file__).resolve().parent


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
    group.addoption("--scalekit-time", choices=("auto", "virtual", "real"), default="auto",
                    help="how the time-dependent client checks let time pass: virtual, real (the suite waits, "
                    "about two minutes), or auto (default: virtual when the driver offers advance_time)")
    group.addoption("--scalekit-grpc", action="store_true", default=False,
                    help="serve the mock's gRPC face too, for a client calling the API over gRPC")
    group.addoption("--scalekit-tls", action="store_true", default=False,
                    help="serve the mock over HTTPS with a throwaway CA the driver is told to trust")
    group.addoption("--scalekit-live", action="store_true", default=False,
                    help="run the provider checks against the live environment of SCALEKIT_ENVIRONMENT_URL, "
                    "SCALEKIT_CLIENT_ID and SCALEKIT_CLIENT_SECRET instead of a fresh mock (and the client checks "
                    "of --scalekit-driver through a journaling proxy in front of it)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With ``--scalekit-driver`` the run is about a client: of this package's tests only the client checks
    stay (its provider and OpenAPI tests are about the mock); the user's own tests are left alone."""
    if not config.getoption("scalekit_driver"):
        return
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        ours = item.path.resolve().is_relative_to(PACKAGE)
        is_client_check = isinstance(item, pytest.Function) and item.originalname == TEST_NAME
        (drop if ours and not is_client_check else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


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
    from .client.runner import run_suite

    config = request.config
    driver = config.getoption("scalekit_driver")
    if not driver:
        return None
    return _uninterrupted(run_suite(
        driver, only=_selected(config, request.session), strict=config.getoption("scalekit_strict"),
        op_timeout=config.getoption("scalekit_timeout"), live=config.getoption("scalekit_live"),
        grpc=config.getoption("scalekit_grpc"), tls=config.getoption("scalekit_tls"),
        time=config.getoption("scalekit_time")))


def _uninterrupted(report: SuiteReport) -> SuiteReport:
    """A run that Ctrl-C stopped has no verdict to give the tests: pytest ends as it does on Ctrl-C."""
    if report.interrupted:
        raise KeyboardInterrupt
    return report


def _provider_selected(config: pytest.Config, session: pytest.Session) -> list[str]:
    """The provider checks named by --scalekit-only, else those whose tests were collected and selected."""
    from .provider import IDS as PROVIDER_IDS

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
    from .provider import Target, TargetError, run_provider_suite

    config = request.config
    selected = scalekit_provider_selection
    problem: str | None = None
    try:
        target = Target.from_env(os.environ) if config.getoption("scalekit_live") else None
    except TargetError as exc:
        problem = str(exc)
    if problem is not None:
        pytest.fail(f"--scalekit-live: {problem}", pytrace=False)
    return _uninterrupted(run_provider_suite(target, only=selected, strict=config.getoption("scalekit_strict"),
                                             command="pytest --scalekit-live" if target else "pytest"))


def judge(report: SuiteReport, check_id: str, *, subject: str) -> None:
    """Turn one check's result into the test's outcome: pass, skip (a check that cannot apply here, or one that
    does not count), xfail (a SHOULD failure outside strict mode) or fail. A check that counts towards the verdict
    but did not run fails, naming why: a run that skipped it is not a passing one."""
    result = report.result(check_id)
    if result.outcome == "skipped" and (result.not_applicable or not report.counts(result)):
        pytest.skip(result.message)
    if result.outcome == "skipped":
        pytest.fail(f"{check_id} ({result.level}) did not run, so the verdict is incomplete: {result.message}",
                    pytrace=False)
    if result.outcome == "error":
        pytest.fail(f"{check_id}: {subject} or suite error: {result.message}", pytrace=False)
    if result.outcome == "failed" and not report.counts(result):
        pytest.xfail(f"{check_id} (SHOULD, required only with --scalekit-strict): {result.message}")
    if result.outcome == "failed":
        pytest.fail(f"{check_id} ({result.level}): {result.message}", pytrace=False)
