"""The official Node SDK (``@scalekit-sdk/node``, unmodified) behind ``contract_tests/drivers/node-sdk/driver.mjs``:
it speaks the driver protocol, and the client suite, against the mock's gRPC face, judges it as the SDK
really behaves: list/get calls with a cached bearer, a new token after a 401 "Token expired", a 403 surfaced
as permission_denied; and the lazy first fetch (its first RPC goes out without a token) caught.

Needs ``node`` and the driver's ``node_modules`` (``python -m contract_tests.drivers.install``): without them
the tests skip with the reason, unless ``SCALEKIT_REQUIRE_DRIVERS=1`` (as CI sets it), which makes them fail.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from contract_tests.client.results import SuiteReport
from contract_tests.client.runner import run_suite
from contract_tests.drivers import install
from contract_tests.drivers.install import REQUIRE_ENV, drivers_required

ROOT = Path(__file__).resolve().parents[1]
DRIVER_DIR = ROOT / "contract_tests" / "drivers" / "node-sdk"
DRIVER = DRIVER_DIR / "driver.mjs"
SDK_PACKAGE = DRIVER_DIR / "node_modules" / "@scalekit-sdk" / "node" / "package.json"
NODE = shutil.which("node")

# The checks the SDK passes (the "done means"), and the one it is known to fail, in one suite run.
PASSES = ("CACHE-SEQUENTIAL", "FMT-BEARER-HEADER", "REFRESH-REVOKED", "ERR-FORBIDDEN")
KNOWN_FAILURE = "CACHE-NO-TOKENLESS-CALL"


def _missing() -> str | None:
    if NODE is None:
        return "node is not on PATH"
    if not SDK_PACKAGE.is_file():
        return (f"{DRIVER_DIR.relative_to(ROOT)}/node_modules is missing: run "
                "`python -m contract_tests.drivers.install` (needs npm)")
    return None


@pytest.fixture(scope="module")
def command() -> str:
    """The driver command, once node and the SDK are there; else a skip (a failure under SCALEKIT_REQUIRE_DRIVERS=1)."""
    missing = _missing()
    if missing is not None:
        if drivers_required():
            pytest.fail(f"{missing} ({REQUIRE_ENV}=1 requires the Node SDK driver)")
        pytest.skip(missing)
    return shlex.join([str(NODE), str(DRIVER)])


@pytest.fixture(scope="module")
def report(command: str) -> SuiteReport:
    return run_suite(command, only=[*PASSES, KNOWN_FAILURE], grpc=True)


def _converse(command: str, requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Send ``requests`` (ids 1..n) to one driver process; its answers, once the framing is checked."""
    lines = "".join(json.dumps({"id": n, **r}) + "\n" for n, r in enumerate(requests, 1))
    # Nothing listens on port 9: the ops sent here never reach the network.
    env = {**os.environ, "SCALEKIT_ENVIRONMENT_URL": "http://127.0.0.1:9", "SCALEKIT_CLIENT_ID": "skc_1",
           "SCALEKIT_CLIENT_SECRET": "test_driverSecret"}
    done = subprocess.run(shlex.split(command), input=lines, capture_output=True, text=True, env=env,
                          timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    assert [a["id"] for a in answers] == list(range(1, len(requests) + 1)), done.stdout
    assert "test_driverSecret" not in done.stdout + done.stderr
    return answers


def test_driver_names_the_installed_sdk_and_refuses_what_it_does_not_map(command: str) -> None:
    installed = json.loads(SDK_PACKAGE.read_text(encoding="utf-8"))
    hello, new_client, users, post, advanced, shutdown = _converse(command, [
        {"op": "hello"},
        {"op": "new_client"},
        {"op": "call", "method": "GET", "path": "/api/v1/users"},
        {"op": "call", "method": "POST", "path": "/api/v1/organizations", "body": {"display_name": "x"}},
        {"op": "advance_time", "seconds": 86400},
        {"op": "shutdown"},
    ])

    assert hello == {"id": 1, "ok": True, "name": "@scalekit-sdk/node", "version": installed["version"],
                     "capabilities": ["advance_time", "concurrent"]}
    assert installed["version"] == "2.11.0"
    assert new_client == {"id": 2, "ok": True}
    for answer in (users, post):
        assert answer["ok"] is False and answer["error"]["type"] == "unsupported", answer
        assert answer["error"]["status"] is None
    assert advanced == {"id": 5, "ok": True} and shutdown == {"id": 6, "ok": True}


def test_the_driver_keeps_to_the_protocol_in_every_check(report: SuiteReport) -> None:
    errors = {r.id: r.message for r in report.results if r.outcome == "error"}
    assert errors == {}


@pytest.mark.parametrize("check_id", PASSES)
def test_sdk_passes(report: SuiteReport, check_id: str) -> None:
    result = report.result(check_id)
    assert result.outcome == "passed", f"{check_id} {result.outcome}: {result.message}"


def test_sdk_sends_its_first_call_without_a_token(report: SuiteReport) -> None:
    result = report.result(KNOWN_FAILURE)
    assert result.outcome == "failed", (
        f"@scalekit-sdk/node 2.11.0 fetches its token lazily: its first RPC goes out with no Authorization, "
        f"is answered UNAUTHENTICATED, and only then does it authenticate; {KNOWN_FAILURE} should catch that, "
        f"but it {result.outcome}: {result.message}")


def test_install_finds_the_node_sdk_project_and_judges_staleness_by_the_lock_file(tmp_path: Path) -> None:
    assert DRIVER_DIR in install.npm_projects()
    project = tmp_path / "some-driver"
    (project / "node_modules").mkdir(parents=True)
    lock = project / "package-lock.json"
    lock.write_text("{}", encoding="utf-8")
    marker = project / "node_modules" / ".package-lock.json"
    marker.write_text("{}", encoding="utf-8")
    os.utime(lock, (1_000, 1_000))
    os.utime(marker, (2_000, 2_000))
    assert install.npm_projects(tmp_path) == [project]
    assert not install.is_stale(project)
    os.utime(lock, (3_000, 3_000))  # the lock file changed after the last install
    assert install.is_stale(project)
    shutil.rmtree(project / "node_modules")
    assert install.is_stale(project)


def test_install_without_npm_is_a_notice_unless_drivers_are_required(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "some-driver").mkdir()
    (tmp_path / "some-driver" / "package-lock.json").write_text("{}", encoding="utf-8")
    monkeypatch.setattr(install, "DRIVERS", tmp_path)
    monkeypatch.setattr(shutil, "which", lambda name: None)  # install.py looks npm up through shutil.which

    monkeypatch.delenv(REQUIRE_ENV, raising=False)
    assert install.main([]) == 0
    [notice] = [line for line in capsys.readouterr().err.splitlines() if "npm" in line]  # (go is missing too)
    assert "npm is not on PATH" in notice and "some-driver" in notice

    monkeypatch.setenv(REQUIRE_ENV, "1")
    assert install.main([]) == 1
    assert f"{REQUIRE_ENV}=1" in capsys.readouterr().err
