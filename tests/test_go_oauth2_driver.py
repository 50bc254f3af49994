"""golang.org/x/oauth2/clientcredentials (Debian's 0.3.0, unmodified) behind ``contract_tests/drivers/go-x-oauth2/``:
it is built offline from Debian's packages, speaks the driver protocol, cannot move its clock, and so is judged in
real time, as the library really behaves.

Needs ``go`` and ``golang-golang-x-oauth2-dev`` (``apt-get install golang-go golang-golang-x-oauth2-dev``):
without them the tests skip with the reason, unless ``SCALEKIT_REQUIRE_DRIVERS=1`` (as CI sets it).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from contract_tests.client.runner import run_suite
from contract_tests.client.target import DriverOnTarget
from contract_tests.drivers import go_oauth2, install
from contract_tests.drivers.catalog import by_key
from contract_tests.drivers.install import REQUIRE_ENV, drivers_required
from mock_server.server import MockServer

ROOT = Path(__file__).resolve().parents[1]
LIST_ORGS = {"method": "GET", "path": "/api/v1/organizations?page_size=10"}


@pytest.fixture(scope="module")
def command() -> str:
    """The driver command, once it is built; else a skip (a failure under SCALEKIT_REQUIRE_DRIVERS=1)."""
    missing = go_oauth2.missing()
    if missing is not None:
        if drivers_required():
            pytest.fail(f"{missing} ({REQUIRE_ENV}=1 requires the golang.org/x/oauth2 driver)")
        pytest.skip(missing)
    go_oauth2.build()  # the first build compiles for several seconds: not within a driver's start-up deadline
    return by_key("go-x-oauth2").command


def test_driver_speaks_the_protocol_and_says_why_it_cannot_move_its_clock(command: str,
                                                                          scalekit_mock: MockServer) -> None:
    requests = [{"op": "hello"}, {"op": "new_client"}, {"op": "call", **LIST_ORGS},
                {"op": "call_concurrently", "count": 3, **LIST_ORGS}, {"op": "advance_time", "seconds": 60},
                {"op": "shutdown"}]
    lines = "".join(json.dumps({"id": n, **r}) + "\n" for n, r in enumerate(requests, 1))
    done = subprocess.run(shlex.split(command), input=lines, capture_output=True, text=True, timeout=60, cwd=ROOT,
                          env={**os.environ, **scalekit_mock.env}, check=False)
    assert done.returncode == 0, done.stderr
    hello, created, call, concurrent, advance, shutdown = [json.loads(line) for line in done.stdout.splitlines()]
    assert [a["id"] for a in (hello, created, call, concurrent, advance, shutdown)] == list(range(1, 7))
    assert (hello["name"], hello["capabilities"]) == ("golang.org/x/oauth2 clientcredentials", ["concurrent"])
    assert re.fullmatch(rf"{re.escape(go_oauth2.library_version())} \(go1\.\d+\)", hello["version"]), hello
    assert "time.Now()" in hello["unavailable"]["advance_time"]
    assert created == {"id": 2, "ok": True} and call["ok"] and call["status"] == 200 and "organizations" in call["body"]
    assert [r["status"] for r in concurrent["results"]] == [200, 200, 200]
    assert not advance["ok"] and advance["error"]["type"] == "unsupported"
    assert shutdown == {"id": 6, "ok": True}
    # One token served every call (ReuseTokenSource), sent in HTTP Basic (the auto-detected style's first try).
    [token] = scalekit_mock.journal(endpoint="token")
    assert token["status"] == 200 and token["headers"]["authorization"].startswith("Basic ")


@pytest.mark.slow
def test_the_suite_judges_it_in_real_time(command: str) -> None:
    checks = ["CACHE-CONCURRENT-COLD", "REFRESH-BEFORE-EXPIRY", "REFRESH-REVOKED", "ERR-TRANSIENT-503"]
    report = run_suite(command, only=checks)
    outcomes = {r.id: r.outcome for r in report.results}
    # Its token source single-flights and refreshes 10 s ahead of expires_in, but never on a 401, and a failed
    # token request is resent once at once with the credentials moved (the auth-style probe), never retried.
    assert outcomes == {"CACHE-CONCURRENT-COLD": "passed", "REFRESH-BEFORE-EXPIRY": "passed",
                        "REFRESH-REVOKED": "failed", "ERR-TRANSIENT-503": "failed"}, report.results
    assert "an auth-style probe, as golang.org/x/oauth2 resends" in report.result("ERR-TRANSIENT-503").message
    assert isinstance(report.subject, DriverOnTarget) and report.subject.timing is not None
    timing = report.subject.timing
    assert timing.real and timing.reason == "the driver does not offer advance_time"
    assert list(timing.waited) == ["REFRESH-BEFORE-EXPIRY"] and 14 <= timing.added < 16


def test_without_go_the_driver_says_why_and_install_skips_it_unless_drivers_are_required(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    launched = subprocess.run([sys.executable, "-m", "contract_tests.drivers.go_oauth2"], capture_output=True,
                              text=True, timeout=60, cwd=ROOT, env={**os.environ, "PATH": ""}, check=False)
    assert launched.returncode == go_oauth2.EXIT_NOT_BUILT
    assert "cannot be built: go is not on PATH (apt-get install golang-go golang-golang-x-oauth2-dev)" in \
        launched.stderr

    monkeypatch.setattr(go_oauth2, "missing", lambda: "go is not on PATH")
    monkeypatch.delenv(REQUIRE_ENV, raising=False)
    assert install.build_go() == 0
    assert "notice: not building the golang.org/x/oauth2 driver (its tests will skip)" in capsys.readouterr().err
    monkeypatch.setenv(REQUIRE_ENV, "1")
    assert install.build_go() == 1
    assert f"{REQUIRE_ENV}=1 requires the golang.org/x/oauth2 driver" in capsys.readouterr().err


def test_an_edited_driver_is_built_afresh(command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    built = go_oauth2.binary()
    assert built.is_file() and command.endswith("contract_tests.drivers.go_oauth2")
    edited = tmp_path / "driver.go"
    edited.write_text(go_oauth2.SOURCE.read_text(encoding="utf-8") + "\n// edited\n", encoding="utf-8")
    monkeypatch.setattr(go_oauth2, "SOURCE", edited)
    assert go_oauth2.binary() != built and not go_oauth2.binary().exists()
