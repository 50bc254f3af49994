"""``run_provider_suite``: the provider checks against a fresh mock, or against a given (live) target.

The run first asks for a token (the ``token`` case): a target that cannot be reached, answers
something other than JSON, or refuses the credentials stops the run there with one message (every
check an ``error``, exit code 2). Then each check in turn; the exchanges they read are made once and
shared, so a live run sends each of its requests once. ``record`` saves every exchange made.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Sequence
from pathlib import Path

from mock_server import MockConfig, MockError, MockServer

from ..results import CheckFailure, CheckResult, OnResult, SuiteReport
from .checks import UnknownCheck, select
from .context import ProviderCheck, ProviderContext
from .observe import Redactor, evidence
from .probe import CaseSkipped, Probe
from .record import write_recording
from .target import Target, TargetError

__all__ = ["UsageError", "run_provider_suite"]


class UsageError(ValueError):
    """The suite was asked something it cannot do (an unknown check, bad settings)."""


def run_provider_suite(target: Target | None = None, *, only: Sequence[str] | None = None,
                       skip: Sequence[str] | None = None, strict: bool = False, timeout: float = 10.0,
                       record: str | Path | None = None, command: str = "",
                       on_result: OnResult | None = None) -> SuiteReport:
    """Run the selected provider checks (all by default) against ``target``, or a fresh mock if ``None``;
    ``on_result`` is told each result as it finishes."""
    try:
        checks = select(only, skip)
    except UnknownCheck as exc:
        raise UsageError(str(exc)) from exc
    if timeout <= 0:
        raise UsageError("the timeout must be positive")
    started = time.monotonic()
    if target is None:
        with MockServer(MockConfig()) as mock:
            report = _run(Target.for_mock(mock), checks, strict, timeout, record, command, on_result)
    else:
        report = _run(target, checks, strict, timeout, record, command, on_result)
    report.duration = time.monotonic() - started
    return report


def _run(target: Target, checks: list[ProviderCheck], strict: bool, timeout: float, record: str | Path | None,
         command: str, on_result: OnResult | None) -> SuiteReport:
    report = SuiteReport(target, command, strict=strict, suite="provider")
    redactor = Redactor(target)
    with Probe(target, timeout) as probe:
        problem = preflight(probe, redactor)
        if problem is not None:
            report.startup_error = problem
            report.results = [CheckResult(c.id, c.level, "error", problem) for c in checks]
            return report
        report.collect(checks, lambda check: _run_check(check, probe, redactor), on_result)
        if record is not None:
            write_recording(Path(record), probe.exchanges.values(), redactor)
    return report


def preflight(probe: Probe, redactor: Redactor) -> str | None:
    """Why the target cannot be checked at all, or ``None``: the token request must get a JSON token."""
    try:
        exchange = probe.exchange("token")
    except TargetError as exc:
        return f"cannot reach {probe.target.url}: {exc}"
    data = exchange.data
    if isinstance(data, dict) and exchange.status == 200 and isinstance(data.get("access_token"), str):
        return None
    if not exchange.is_json:
        return (f"{probe.target.url} does not look like a Scalekit environment: the token request got "
                f"{exchange.status} {exchange.media_type or 'without a content type'}, not JSON\n  "
                f"{evidence(exchange, redactor)}")
    return (f"the token request got no access token (status {exchange.status}): check the environment URL and "
            f"the client id and secret\n  {evidence(exchange, redactor)}")


def _run_check(check: ProviderCheck, probe: Probe, redactor: Redactor) -> CheckResult:
    started = time.monotonic()
    try:
        outcome, message = _outcome(check, ProviderContext(check, probe, redactor))
    except CaseSkipped as exc:  # the check's case cannot be made against this target
        return CheckResult(check.id, check.level, "skipped", str(exc), time.monotonic() - started,
                           not_applicable=exc.not_applicable)
    if probe.target.mock is not None and outcome != "error":
        try:
            probe.target.mock.check()
        except MockError as exc:
            outcome, message = "error", f"{message}\nthe mock itself failed: {exc}".strip()
    return CheckResult(check.id, check.level, outcome, message, time.monotonic() - started)


def _outcome(check: ProviderCheck, ctx: ProviderContext) -> tuple[str, str]:
    try:
        check.run(ctx)
    except CheckFailure as exc:
        return "failed", exc.message
    except CaseSkipped:
        raise  # _run_check reports it, with whether the check can apply here at all
    except TargetError as exc:
        return "error", str(exc)
    except MockError as exc:
        return "error", f"the suite could not steer the mock: {exc}"
    except Exception as exc:  # noqa: BLE001 - a bug in one check must not lose the whole run's results
        return "error", f"the suite failed: {type(exc).__name__}: {exc}\n{traceback.format_exc(limit=-3)}"
    return "passed", ctx.note
