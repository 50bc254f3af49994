"""The suite's driver launcher keeps processes started ahead of their checks (spares), and a spare is as good as a
process started when its check begins: sent nothing until taken, taken only for the same environment, logged for
the check that takes it, replaced when stale or dead, and never left running."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
from helpers import wait_until

from contract_tests.client import context
from contract_tests.client.context import Launcher, RunLog, SuiteOptions
from contract_tests.client.driver import ProtocolError
from contract_tests.client.runner import run_suite
from mock_server import MockServer

REFERENCE = [sys.executable, "-m", "contract_tests.drivers.reference"]


@pytest.fixture
def mock() -> Iterator[MockServer]:
    with MockServer() as server:
        yield server


def _launcher(mock: MockServer, ahead: int, argv: list[str] | None = None, log: RunLog | None = None) -> Launcher:
    launcher = Launcher(argv or REFERENCE, mock, SuiteOptions(), log or RunLog())
    launcher.ahead = ahead
    return launcher


def test_a_spare_is_sent_nothing_until_taken_and_logged_for_the_check_that_takes_it(mock: MockServer) -> None:
    log = RunLog()
    launcher = _launcher(mock, 1, log=log)
    first = launcher.launch("A")
    assert [o.label for o in log.outputs] == ["A"] and len(launcher._spares) == 1
    spare = launcher._spares[0][0]
    assert spare.sent == []
    launcher.ahead = 0
    second = launcher.launch("B")
    assert second is spare and second.sent[0].endswith('"op": "hello"}') and second.info.name
    assert [o.label for o in log.outputs] == ["A", "B"] and launcher._spares == []
    for driver in (first, second):
        driver.close()
    launcher.close()


def test_a_launch_with_another_secret_leaves_the_spare_for_the_next(mock: MockServer) -> None:
    launcher = _launcher(mock, 1)
    first = launcher.launch("A")
    spare = launcher._spares[0][0]
    wrong = launcher.launch("B", secret="wrong")
    assert wrong is not spare and wrong.output.secret == "wrong" and launcher._spares[0][0] is spare
    third = launcher.launch("C")
    assert third is spare
    for driver in (first, wrong, third):
        driver.close()
    launcher.close()
    assert launcher._spares == [] and not any(d.alive for d in (first, wrong, third))


def test_a_stale_spare_is_killed_and_replaced(mock: MockServer, monkeypatch: pytest.MonkeyPatch) -> None:
    launcher = _launcher(mock, 1)
    first = launcher.launch("A")
    stale = launcher._spares[0][0]
    spawned = launcher._spares[0][2]
    monkeypatch.setattr(context, "monotonic", lambda: spawned + context.SPARE_MAX_AGE + 1)  # it has waited too long
    launcher.ahead = 0
    second = launcher.launch("B")
    assert second is not stale and not stale.alive and second.info.name
    for driver in (first, second):
        driver.close()


def test_a_driver_that_cannot_start_fails_its_launch_as_before(mock: MockServer) -> None:
    launcher = _launcher(mock, 2, ["/nonexistent/driver"])
    with pytest.raises(ProtocolError, match="cannot start the driver"):
        launcher.launch("A")
    assert launcher._spares == []


def test_a_driver_that_exits_at_once_is_reported_as_before(mock: MockServer) -> None:
    launcher = _launcher(mock, 1, [sys.executable, "-c", "pass"])
    with pytest.raises(ProtocolError, match=r"exited \(code 0\) before answering 'hello'"):
        launcher.launch("A")
    spare = launcher._spares[0][0]
    wait_until(lambda: not spare.alive, 10)  # the spare exits the same way: a fresh process takes its place
    with pytest.raises(ProtocolError, match=r"exited \(code 0\) before answering 'hello'"):
        launcher.launch("B")
    launcher.close()


def test_the_probe_serves_the_first_launch_with_its_one_hello(mock: MockServer) -> None:
    log = RunLog()
    launcher = _launcher(mock, 1, log=log)
    info = launcher.probe()
    assert "advance_time" in info.capabilities and len(launcher._spares) == 1
    probe = launcher._spares[0][0]
    first = launcher.launch("FIRST")
    assert first is probe and len(first.sent) == 1 and [o.label for o in log.outputs] == ["FIRST"]
    first.close()
    launcher.close()


def test_a_probe_never_taken_is_shut_down(mock: MockServer) -> None:
    launcher = _launcher(mock, 0)
    launcher.probe()
    probe = launcher._spares[0][0]
    launcher.close()
    assert not probe.alive and probe.sent[-1].endswith('"op": "shutdown"}')


def _references() -> set[str]:
    listed = subprocess.run(["pgrep", "-f", "contract_tests.drivers.reference"], capture_output=True, text=True)
    return set(listed.stdout.split())


def test_a_run_leaves_no_spare_running() -> None:
    before = _references()
    report = run_suite(" ".join(REFERENCE), only=["FMT-TOKEN-REQUEST", "CACHE-SEQUENTIAL", "STATE-MACHINE"])
    assert [r.outcome for r in report.results] == ["passed"] * 3
    assert _references() <= before
