"""openid-client v6 (unmodified) plus the token cache an application writes around it, behind
``contract_tests/drivers/node-openid-client/driver.mjs``: it speaks the driver protocol, and the suite judges the two
together: one token for sequential and concurrent calls, refreshed ahead of ``expires_in``; nothing on a 401.

Needs ``node`` and the driver's ``node_modules`` (``python -m contract_tests.drivers.install``): without them the
tests skip with the reason, unless ``SCALEKIT_REQUIRE_DRIVERS=1`` (as CI sets it), which makes them fail.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess

import pytest

from contract_tests.client.results import SuiteReport
from contract_tests.client.runner import run_suite
from contract_tests.drivers.catalog import NODE_OPENID_CLIENT_DIR, by_key
from contract_tests.drivers.install import REQUIRE_ENV, drivers_required
from mock_server.server import MockServer

LIBRARY_PACKAGE = NODE_OPENID_CLIENT_DIR / "node_modules" / "openid-client" / "package.json"
LIST_ORGS: dict[str, object] = {"method": "GET", "path": "/api/v1/organizations?page_size=10"}
# What the cache gets right, and the 401 it does nothing about (neither does openid-client), in one suite run.
PASSES = ("FMT-TOKEN-REQUEST", "CACHE-CONCURRENT-COLD", "CACHE-STAMPEDE-AT-EXPIRY", "REFRESH-MARGIN",
          "ERR-MALFORMED-TOKEN-RESPONSE")
KNOWN_FAILURE = "REFRESH-REVOKED"


@pytest.fixture(scope="module")
def command() -> str:
    """The driver command, once node and openid-client are there; else a skip (a failure under
    SCALEKIT_REQUIRE_DRIVERS=1)."""
    missing = by_key("node-openid-client").missing()
    if missing is not None:
        if drivers_required():
            pytest.fail(f"{missing} ({REQUIRE_ENV}=1 requires the openid-client driver)")
        pytest.skip(missing)
    return by_key("node-openid-client").command


@pytest.fixture(scope="module")
def report(command: str) -> SuiteReport:
    return run_suite(command, only=[*PASSES, KNOWN_FAILURE])


def test_driver_names_the_pinned_library_and_sends_one_token_for_concurrent_calls(
        command: str, scalekit_mock: MockServer) -> None:
    requests: list[dict[str, object]] = [
        {"op": "hello"}, {"op": "new_client"}, {"op": "call_concurrently", "count": 4, **LIST_ORGS},
        {"op": "advance_time", "seconds": 86400}, {"op": "call", **LIST_ORGS}, {"op": "shutdown"}]
    lines = "".join(json.dumps({"id": n, **r}) + "\n" for n, r in enumerate(requests, 1))
    done = subprocess.run(shlex.split(command), input=lines, capture_output=True, text=True, timeout=60,
                          env={**os.environ, **scalekit_mock.env}, check=False)
    assert done.returncode == 0, done.stderr
    hello, created, concurrent, advanced, later, shutdown = [json.loads(line) for line in done.stdout.splitlines()]
    installed = json.loads(LIBRARY_PACKAGE.read_text(encoding="utf-8"))["version"]
    assert installed == "6.9.0"
    assert hello == {"id": 1, "ok": True, "name": "openid-client clientCredentialsGrant",
                     "version": f"{installed} (+ app token cache)", "capabilities": ["advance_time", "concurrent"]}
    assert created == {"id": 2, "ok": True} and advanced == {"id": 4, "ok": True} and shutdown == {"id": 6, "ok": True}
    assert [r["status"] for r in concurrent["results"]] == [200] * 4 and later["ok"], (concurrent, later)
    # One token for the four concurrent calls (sent in the form: ClientSecretPost), a second one a day later.
    tokens = scalekit_mock.journal(endpoint="token")
    assert [t["status"] for t in tokens] == [200, 200]
    assert all("authorization" not in {k.lower() for k in t["headers"]} for t in tokens)
    assert {a["headers"]["authorization"].split()[0] for a in scalekit_mock.journal(endpoint="api")} == {"Bearer"}


def test_the_driver_keeps_to_the_protocol_in_every_check(report: SuiteReport) -> None:
    assert {r.id: r.message for r in report.results if r.outcome == "error"} == {}


@pytest.mark.parametrize("check_id", PASSES)
def test_openid_client_with_an_app_cache_passes(report: SuiteReport, check_id: str) -> None:
    result = report.result(check_id)
    assert result.outcome == "passed", f"{check_id} {result.outcome}: {result.message}"


def test_nothing_fetches_a_new_token_after_a_401(report: SuiteReport) -> None:
    result = report.result(KNOWN_FAILURE)
    assert result.outcome == "failed", (
        f"openid-client keeps no token and the app cache trusts expiresIn(): a revoked token is sent until it "
        f"expires; {KNOWN_FAILURE} should catch that, but it {result.outcome}: {result.message}")
