"""``run_suite``: run the client checks against a driver command and report what each found.

A fresh ``MockServer`` serves the run and is reset before every check. Each check gets a fresh
driver process unless ``reuse_driver`` (for drivers whose ``new_client`` clears everything), spawned
while the checks before it run, so that start-ups do not add up (``Launcher``). A hung
driver fails the check it hung in; a driver that breaks the protocol makes that check an ``error``;
either way the next check starts a fresh process. With ``live`` the server is a journaling proxy in
front of a real environment (``target.py``): checks it cannot serve are skipped, some are adapted. The
time-dependent checks run in virtual or real time (``timing.py``), as the driver's ``hello`` and ``time`` decide.
"""

from __future__ import annotations

import os
import shlex
import traceback
from collections.abc import Mapping, Sequence
from time import monotonic

from mock_server import MockError, MockServer

from ..results import CheckFailure, OnResult
from .checks import Check, select
from .context import CheckContext, Launcher, NotApplicable, RunLog, SuiteOptions
from .driver import DriverError, DriverInfo, DriverProcess, DriverTimeout, ProtocolError
from .results import CheckResult, SuiteReport
from .target import DriverOnTarget, TargetError, check_upstream, target_server
from .timing import AUTO, MODES, REAL, Timing, choose

__all__ = ["CheckResult", "SuiteReport", "UsageError", "run_suite"]

# Driver processes spawned ahead of the checks that will take them (Launcher): two, so that each has two checks'
# time to start up (about 0.3 s for a Python driver; most checks take less) while the machine's second core is idle.
SPARES = 2


class UsageError(ValueError):
    """The suite was asked something it cannot do (an unknown check, an empty driver command)."""


def run_suite(driver: str, *, only: Sequence[str] | None = None, skip: Sequence[str] | None = None,
              strict: bool = False, op_timeout: float = 30.0, hang_bound: float = 10.0,
              reuse_driver: bool = False, live: bool = False, environ: Mapping[str, str] | None = None,
              grpc: bool = False, tls: bool = False, time: str = AUTO,
              on_result: OnResult | None = None) -> SuiteReport:
    """Run the selected checks (all by default) against the driver started by the command ``driver``.

    ``live``: against the environment the ``SCALEKIT_*`` variables of ``environ`` (default
    ``os.environ``) name, through a journaling proxy, instead of a local mock.
    ``grpc``: the mock serves its gRPC face too (for SDKs calling the API over gRPC); ``tls``: over HTTPS
    with a throwaway CA the driver trusts through ``SSL_CERT_FILE`` and its siblings (``MockServer.trust_env``).
    ``time``: how the time-dependent checks let time pass: ``auto`` (virtual time when the driver offers
    ``advance_time``, else real time), ``virtual`` (without ``advance_time`` they are skipped) or ``real``.
    ``on_result`` is told each check's result as it finishes. Ctrl-C ends the run with the checks done so far
    (``report.interrupted``).
    """
    try:
        checks = select(only, skip)
        argv = shlex.split(driver)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    if not argv:
        raise UsageError("the driver command is empty")
    if op_timeout <= 0 or hang_bound <= 0:
        raise UsageError("timeouts must be positive")
    if time not in MODES:
        raise UsageError(f"time must be one of {', '.join(MODES)}, not {time!r}")
    if live and time == REAL:
        raise UsageError("real time needs the local mock: a live environment's token lifetime cannot be shortened")
    options = SuiteOptions(op_timeout=op_timeout, hang_bound=hang_bound, reuse_driver=reuse_driver, strict=strict,
                           time=time)
    try:
        server = target_server(live, os.environ if environ is None else environ, grpc=grpc, tls=tls)
    except TargetError as exc:
        raise UsageError(str(exc)) from exc
    started = monotonic()
    with server as mock:
        report = _Run(argv, mock, options, on_result).run(checks, driver)
    report.duration = monotonic() - started
    return report


class _Run:
    """One run: the driver's self-description, then each check in turn."""

    def __init__(self, argv: list[str], mock: MockServer, options: SuiteOptions,
                 on_result: OnResult | None = None) -> None:
        self.mock = mock
        self.on_result = on_result
        self.options = options
        self.log = RunLog()
        self.launcher = Launcher(argv, mock, options, self.log)
        self.shared: DriverProcess | None = None
        self.live = mock.upstream is not None
        self.timing: Timing | None = None  # chosen once the driver has said what it offers

    def run(self, checks: list[Check], command: str) -> SuiteReport:
        report = SuiteReport(DriverInfo("unknown", "", ()), command, strict=self.options.strict)
        info = self._run(report, checks)
        # The subject names the target and the time too, with the requests forwarded to the target and the real
        # time waited (counted once all is done).
        report.subject = DriverOnTarget.of(info, self.mock, self.timing)
        return report

    def _run(self, report: SuiteReport, checks: list[Check]) -> DriverInfo:
        try:
            return self._run_checks(report, checks)
        finally:
            self.launcher.close()

    def _run_checks(self, report: SuiteReport, checks: list[Check]) -> DriverInfo:
        self._spawn_ahead(len(checks))
        try:
            if self.live:
                check_upstream(self.mock)
            if self.options.reuse_driver:
                self.shared = self.launcher.launch("shared")
                info = self.shared.info
            else:
                info = self.launcher.probe()  # its process serves the first check
        except (DriverError, TargetError) as exc:
            what = "the driver did not start" if isinstance(exc, DriverError) else "the target cannot be used"
            report.startup_error = f"{what}: {exc}"
            report.results = [CheckResult(c.id, c.level, "error", report.startup_error) for c in checks]
            return DriverInfo("unknown", "", ())
        timing = self.timing = choose(self.options.time, info.capabilities, live=self.live)
        after = {check.id: len(checks) - 1 - n for n, check in enumerate(checks)}  # how many checks follow each
        try:
            report.collect(checks, lambda check: self.run_check(check, info, timing, after=after[check.id]),
                           self.on_result)
        finally:
            if self.shared is not None:
                self.shared.close()
        return info

    def run_check(self, check: Check, info: DriverInfo, timing: Timing, *, after: int = 0) -> CheckResult:
        if self.live and check.not_live:
            reason = f"not run against a live environment: {check.not_live}"
            return CheckResult(check.id, check.level, "skipped", reason, not_applicable=True)
        needs = check.needs - {"advance_time"} if timing.real else check.needs  # real time waits instead
        missing = sorted(needs - set(info.capabilities))
        if missing:
            why = info.why_not(missing)
            if "advance_time" in missing and not self.live:  # virtual time was asked for
                why += "; or run it in real time (--time real)"
            return CheckResult(check.id, check.level, "skipped", why)
        started = monotonic()
        self._spawn_ahead(after)
        if self.shared is not None and not self.shared.alive:  # it hung or broke in an earlier check
            self.shared.kill()
            try:
                self.shared = self.launcher.launch("shared")
            except DriverError as exc:
                return CheckResult(check.id, check.level, "error", f"the driver did not restart: {exc}")
        ctx = CheckContext(check, self.mock, self.launcher, self.shared, info.capabilities, timing=timing)
        try:
            outcome, message = self._outcome(check, ctx)
        finally:
            ctx.close()
        outcome, message = self._server_errors(outcome, message)
        # The mock is reset before each check: its journal since the context's mark is this check's alone.
        # A check that ran and was skipped could not apply to the client (NotApplicable): that skip never counts.
        return CheckResult(check.id, check.level, outcome, message, monotonic() - started,
                           not_applicable=outcome == "skipped", timeline=ctx.timeline())

    def _spawn_ahead(self, checks: int) -> None:
        """How many processes launches spawn ahead (Launcher) with ``checks`` checks still to come: none when one
        process serves them all, at most ``SPARES``."""
        self.launcher.ahead = 0 if self.options.reuse_driver else min(checks, SPARES)

    def _outcome(self, check: Check, ctx: CheckContext) -> tuple[str, str]:
        try:
            check.run(ctx)
        except CheckFailure as exc:
            return "failed", exc.message
        except NotApplicable as exc:
            return "skipped", f"not applicable: {exc}"
        except DriverTimeout as exc:
            return "failed", f"the client hung: {exc}"
        except ProtocolError as exc:
            return "error", f"protocol error: {exc}"
        except MockError as exc:
            return "error", f"the suite could not steer the mock: {exc}"
        except Exception as exc:  # noqa: BLE001 - a bug in one check must not lose the whole run's results
            return "error", f"the suite failed: {type(exc).__name__}: {exc}\n{traceback.format_exc(limit=-3)}"
        return "passed", ""

    def _server_errors(self, outcome: str, message: str) -> tuple[str, str]:
        try:
            self.mock.check()
        except MockError as exc:
            return "error", f"{message}\nthe mock itself failed: {exc}".strip()
        return outcome, message
