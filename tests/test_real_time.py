"""Real time: the time-dependent checks judge a client as virtual time does, and the report says which time ran.

In virtual time both clocks jump (``advance_time``); in real time the suite waits while both run, on 15 s tokens
(``contract_tests/client/timing.py``). The comparison runs the reference client's eight time-dependent checks and
three faulty drivers' (each caught by one of them) in both times, and wants the same verdicts. Its real-time runs
go side by side: they sleep far more than they work, about a minute of waiting in all.
"""

from __future__ import annotations

import shlex
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from contract_tests.client import report as render
from contract_tests.client.checks import CATALOGUE, TIME
from contract_tests.client.context import CheckContext, Client, Launcher, RunLog, SuiteOptions
from contract_tests.client.driver import DriverOutput, DriverProcess
from contract_tests.client.results import SuiteReport
from contract_tests.client.runner import UsageError, run_suite
from contract_tests.client.target import DriverOnTarget
from contract_tests.client.timing import REAL, REAL_SCALE, VIRTUAL, Timing, choose
from contract_tests.html_report import html
from mock_server.server import MockServer

TIME_CHECKS = [c.id for c in CATALOGUE if c.needs >= TIME]
BUDGET = 180.0  # seconds of real waiting a whole run may add
# driver -> the time-dependent checks run against it -> the verdict each must get, in either time
CASES: dict[str, dict[str, str]] = {
    "reference": dict.fromkeys(TIME_CHECKS, "passed"),
    "faulty.no_margin": {"REFRESH-BEFORE-EXPIRY": "failed", "REFRESH-MARGIN": "failed"},
    "faulty.zero_margin": {"REFRESH-BEFORE-EXPIRY": "passed", "REFRESH-MARGIN": "failed"},
    "faulty.cache_forever": {"REFRESH-AFTER-LIFETIME": "failed", "CACHE-STAMPEDE-AT-EXPIRY": "failed"},
}


def command(name: str) -> str:
    return shlex.join([sys.executable, "-m", f"contract_tests.drivers.{name}"])


def test_auto_is_virtual_time_only_for_a_driver_that_moves_its_clock() -> None:
    assert (choose("auto", ("advance_time", "concurrent")).mode, choose("auto", ("concurrent",)).mode) == (
        VIRTUAL, REAL)
    forced = choose("real", ("advance_time",))
    assert (forced.mode, forced.reason) == (REAL, "asked for, though the driver offers advance_time")
    assert choose("virtual", ()).mode == VIRTUAL  # its time-dependent checks are then skipped
    assert choose("auto", (), live=True).mode == VIRTUAL  # a live environment's tokens cannot be shortened


def test_real_time_is_refused_against_a_live_environment_and_an_unknown_time_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="real time needs the local mock"):
        run_suite(command("reference"), live=True, time="real", environ={})
    with pytest.raises(UsageError, match="time must be one of auto, virtual, real"):
        run_suite(command("reference"), time="sundial")


def test_real_time_never_sleeps_through_a_timeline_stated_for_virtual_time() -> None:
    # Given a real-time context for a time-dependent check (no driver started: the wait needs none)
    mock = MockServer()
    check = next(c for c in CATALOGUE if c.id == "REFRESH-AFTER-LIFETIME")
    launcher = Launcher([], mock, SuiteOptions(), RunLog())
    timing = Timing(REAL, "asked for")
    ctx = CheckContext(check, mock, launcher, timing=timing)
    idle = Client(ctx, DriverProcess(["true"], {}, op_timeout=1, output=DriverOutput("unused", "")))
    # Then its client was given short tokens, a day's wait is refused, and a short one is waited and counted
    assert mock.control.clients.get(mock.client_id).token_lifetime == REAL_SCALE.lifetime
    with pytest.raises(ValueError, match=r"asked to wait 86460 s of real time \(at most 17 s\)"):
        ctx.advance(idle, 86400 + 60)
    ctx.advance(idle, 0.05)
    assert 0.05 <= timing.added < 1 and list(timing.waited) == ["REFRESH-AFTER-LIFETIME"]
    assert ctx.events[-1]["kind"] == "clock" and "real time" in ctx.events[-1]["note"]


# label -> (driver, the time-dependent checks run against it): the reference client's in two halves, so that its
# real-time runs take half as long side by side
JOBS = {"reference, first half": ("reference", TIME_CHECKS[:len(TIME_CHECKS) // 2]),
        "reference, second half": ("reference", TIME_CHECKS[len(TIME_CHECKS) // 2:]),
        **{name: (name, list(checks)) for name, checks in CASES.items() if name != "reference"}}


def run_both(driver: str, checks: list[str]) -> tuple[SuiteReport, SuiteReport]:
    """The checks in virtual time, then in real time (forced: every driver here offers advance_time)."""
    return (run_suite(command(driver), only=checks, time="virtual"),
            run_suite(command(driver), only=checks, time="real"))


@pytest.fixture(scope="module")
def runs() -> dict[str, tuple[SuiteReport, SuiteReport]]:
    """Each job's (virtual, real) reports, every job at once."""
    with ThreadPoolExecutor(max_workers=len(JOBS)) as pool:
        futures = {label: pool.submit(run_both, *job) for label, job in JOBS.items()}
        return {label: future.result() for label, future in futures.items()}


def outcomes(reports: list[SuiteReport]) -> dict[str, str]:
    return {r.id: r.outcome for report in reports for r in report.results}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CASES))
def test_real_time_gives_the_verdicts_virtual_time_gives(
        name: str, runs: dict[str, tuple[SuiteReport, SuiteReport]]) -> None:
    pairs = [runs[label] for label, (driver, _) in JOBS.items() if driver == name]
    messages = "\n".join(f"{r.id} ({r.outcome}): {r.message}" for _, real in pairs for r in real.results)

    assert outcomes([virtual for virtual, _ in pairs]) == CASES[name]
    assert outcomes([real for _, real in pairs]) == CASES[name], messages


@pytest.mark.slow
def test_the_report_says_real_time_ran_and_what_it_added(runs: dict[str, tuple[SuiteReport, SuiteReport]]) -> None:
    halves = [runs["reference, first half"][1], runs["reference, second half"][1]]
    timings = [r.subject.timing for r in halves if isinstance(r.subject, DriverOnTarget) and r.subject.timing]
    virtual, real = runs["reference, first half"]
    [timing, _] = timings
    assert timing.real and list(timing.waited) == JOBS["reference, first half"][1]
    # No check waits longer than a lifetime and a little; the whole catalogue adds less than the budget.
    assert all(max(t.waited.values()) < REAL_SCALE.longest_wait + 1 for t in timings)
    assert 0 < sum(t.added for t in timings) <= BUDGET
    line = (f"time: real (asked for, though the driver offers advance_time; 15 s tokens): 4 checks waited, adding "
            f"{timing.added:.1f} s")
    assert line in render.table(real) and line in render.markdown(real) and line in html(real)
    assert real.to_json()["time"]["mode"] == "real" and real.to_json()["time"]["token_lifetime"] == 15
    assert "time: virtual (asked for): both clocks jump" in render.table(virtual)


# The reference client without advance_time (its clock left alone).
FIXED_CLOCK_DRIVER = """\
import sys
from contract_tests import driverkit
from contract_tests.drivers.reference import ReferenceAdapter
class FixedClock(ReferenceAdapter):
    fake_clock = False
sys.exit(driverkit.run(FixedClock()))
"""


def test_the_pytest_face_takes_the_time_to_run_in(pytester: pytest.Pytester, tmp_path: Path) -> None:
    script = tmp_path / "fixed_clock.py"
    script.write_text(FIXED_CLOCK_DRIVER, encoding="utf-8")
    # In virtual time a driver that cannot move its clock has the time-dependent MUST check skipped: a failed test
    result = pytester.runpytest_subprocess("--pyargs", "contract_tests.test_client_conformance", "-p",
                                           "no:cacheprovider", "--scalekit-driver", f"{sys.executable} {script}",
                                           "--scalekit-time", "virtual", "--scalekit-only", "REFRESH-AFTER-LIFETIME")
    result.assert_outcomes(failed=1, skipped=len(CATALOGUE) - 1)
    result.stdout.fnmatch_lines(["*REFRESH-AFTER-LIFETIME (MUST) did not run*or run it in real time (--time real)*"])
