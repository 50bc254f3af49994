"""The shipped drivers: every faulty driver and the Node example speak the protocol, and the client
suite catches each faulty driver's bug with the check named for it in ``faulty.EXPECTED``."""

from __future__ import annotations

import concurrent.futures
import itertools
import json
import os
import queue
import re
import shlex
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from contract_tests.client.checks import IDS
from contract_tests.client.runner import run_suite
from contract_tests.drivers.faulty import EXPECTED
from mock_server.server import MockServer

ROOT = Path(__file__).resolve().parents[1]
NODE_DRIVER = ROOT / "contract_tests" / "drivers" / "node" / "example-driver.mjs"
NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None, reason="node is not on PATH")
ERROR_TYPES = {"unauthenticated", "permission_denied", "http", "transport", "timeout", "invalid_response",
               "unsupported", "other"}
LIST_ORGS = {"op": "call", "method": "GET", "path": "/api/v1/organizations?page_size=10"}
NO_TOKEN_DRIVERS = {"json_token_request"}  # the mock refuses their token requests: every call fails
DEFAULT_SECRET = MockServer().client_secret  # what the suite's own mock hands the drivers


def faulty_command(name: str) -> list[str]:
    return [sys.executable, "-m", f"contract_tests.drivers.faulty.{name}"]


@dataclass(frozen=True)
class Conversation:
    """What one driver process answered to the requests sent it up front."""

    sent: int
    returncode: int
    stdout: str
    stderr: str

    def responses(self) -> list[dict[str, Any]]:
        """The responses, once the framing is checked: one JSON object per line, in order, exit 0."""
        assert self.returncode == 0, self.stderr
        responses = [json.loads(line) for line in self.stdout.splitlines()]
        assert [r["id"] for r in responses] == list(range(1, self.sent + 1)), self.stdout
        assert all(isinstance(r["ok"], bool) for r in responses)
        return responses


def converse(command: list[str], server: MockServer, requests: list[dict[str, Any]]) -> Conversation:
    """Send ``requests`` (ids added) to a fresh driver through to end of input; what came back."""
    lines = "".join(json.dumps({"id": i, **r}) + "\n" for i, r in enumerate(requests, 1))
    done = subprocess.run(command, input=lines, capture_output=True, text=True, timeout=60, cwd=ROOT,
                          env={**os.environ, **server.env}, check=False)
    return Conversation(len(requests), done.returncode, done.stdout, done.stderr)


def assert_error(error: dict[str, Any]) -> None:
    assert set(error) == {"status", "type", "message"}
    assert error["status"] is None or isinstance(error["status"], int)
    assert error["type"] in ERROR_TYPES and isinstance(error["message"], str)


def assert_basic_conversation(responses: list[dict[str, Any]], *, call_succeeds: bool = True) -> None:
    hello, new_client, call, shutdown = responses
    assert hello["ok"] and isinstance(hello["name"], str) and isinstance(hello["version"], str)
    assert set(hello["capabilities"]) <= {"advance_time", "concurrent"}
    assert new_client == {"id": 2, "ok": True}
    if call_succeeds:
        assert call["ok"] and call["status"] == 200 and "organizations" in call["body"], call
    else:
        assert not call["ok"], call
        assert_error(call["error"])
    assert shutdown == {"id": 4, "ok": True}


BASIC = [{"op": "hello"}, {"op": "new_client"}, LIST_ORGS, {"op": "shutdown"}]


@pytest.fixture(scope="module")
def faulty_conversations(scalekit_mock_server: MockServer) -> dict[str, Conversation]:
    """Every faulty driver's basic conversation. Interpreter start-up dominates, so they run side by side."""
    scalekit_mock_server.reset()
    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
        running = {name: pool.submit(converse, faulty_command(name), scalekit_mock_server, BASIC) for name in EXPECTED}
    scalekit_mock_server.check()
    return {name: future.result() for name, future in running.items()}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_faulty_driver_speaks_the_protocol(name: str, faulty_conversations: dict[str, Conversation]) -> None:
    responses = faulty_conversations[name].responses()

    assert_basic_conversation(responses, call_succeeds=name not in NO_TOKEN_DRIVERS)


def test_faulty_drivers_each_have_a_module_and_a_known_check() -> None:
    modules = {p.stem for p in (ROOT / "contract_tests" / "drivers" / "faulty").glob("[!_]*.py")}
    assert modules == set(EXPECTED)
    assert len(EXPECTED) >= 12 and set(EXPECTED.values()) <= set(IDS)


@needs_node
def test_node_driver_speaks_the_protocol(scalekit_mock: MockServer) -> None:
    responses = converse([str(NODE), str(NODE_DRIVER)], scalekit_mock, BASIC).responses()

    assert_basic_conversation(responses)
    assert responses[0]["capabilities"] == ["advance_time", "concurrent"]


class LiveDriver:
    """A driver process talked to one request at a time, every answer awaited with a deadline."""

    def __init__(self, command: list[str], server: MockServer) -> None:
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True, cwd=ROOT, env={**os.environ, **server.env})
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.ids = itertools.count(1)

    def _read(self) -> None:
        for line in self.proc.stdout or ():
            self.lines.put(line)

    def send(self, op: str, **fields: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None
        rid = next(self.ids)
        self.proc.stdin.write(json.dumps({"id": rid, "op": op, **fields}) + "\n")
        self.proc.stdin.flush()
        response: dict[str, Any] = json.loads(self.lines.get(timeout=30))
        assert response["id"] == rid
        return response

    def close(self) -> int:
        self.proc.kill()
        return self.proc.wait(10)


@needs_node
def test_node_driver_shares_one_token_and_moves_its_clock(scalekit_mock: MockServer) -> None:
    driver = LiveDriver([str(NODE), str(NODE_DRIVER)], scalekit_mock)
    try:
        # Given four concurrent calls on a cold cache
        concurrent_calls = driver.send("call_concurrently", count=4, method="GET", path=LIST_ORGS["path"])
        # When both clocks move on by a day, and the driver is asked for an op it does not know
        moved = driver.send("advance_time", seconds=86400)
        scalekit_mock.advance_clock(86400)
        later = driver.send("call", method="GET", path=LIST_ORGS["path"])
        unknown = driver.send("no_such_op")
        assert driver.send("shutdown") == {"id": 5, "ok": True}
        assert driver.proc.wait(10) == 0
    finally:
        driver.close()
    # Then the four calls shared one token, and the call a day later used a new one without a 401 first
    results = concurrent_calls["results"]
    assert len(results) == 4 and all(r["ok"] and r["status"] == 200 for r in results), results
    assert moved == {"id": 2, "ok": True} and later["ok"] and later["status"] == 200
    assert unknown["ok"] is False and unknown["error"]["type"] == "unsupported"
    api = scalekit_mock.journal(endpoint="api")
    assert len(scalekit_mock.journal(endpoint="token")) == 2 and [e["status"] for e in api] == [200] * 5
    assert len({e["token"]["jti"] for e in api[:4]}) == 1 and api[4]["token"]["jti"] != api[0]["token"]["jti"]


# -- with the suite -------------------------------------------------------------------------------

# What each failure message must show: the evidence of the bug, as the journal or the output has it.
EVIDENCE = {
    "no_cache": r"\b10 token requests",
    "margin_too_long": r"made 3 token requests, expected 1",
    "no_single_flight": r"\b[2-8] token requests",
    "no_single_flight_refresh": r"made [2-8] token requests, expected at most 1(?s:.*)POST /oauth/token -> 200",
    "tokenless_first_call": r"GET /api/v1/organizations -> 401 token_empty",
    "cache_forever": r"-> 401 token_expired.*bearer T1",
    "no_margin": r"(?s)200 ok, bearer T1\b.*200 ok, bearer T1\b",
    "zero_margin": r"(?s)5 s before expires_in \(86399 s\).*200 ok, bearer T1\b.*200 ok, bearer T1\b",
    "assume_24h": r"-> 401 token_expired.*bearer T1",
    "no_401_retry": r"401 token_expired \(token revoked\)",
    "json_token_request": r"Content-Type 'application/json'",
    "secret_in_url": r"/oauth/token .*\"client_secret\": \[\"fp:",
    "retry_invalid_credentials": r"\b10 token request",
    "refresh_on_403": r"\b4 API call",
    "unbounded_401_retry": r"\b20 token request",
    "no_retry_503": r"POST /oauth/token -> 503",
    "ignore_retry_after": r"retried 0\.\d+ s after the 429",
    "retry_429_storm": r"\b20 API calls\b.*(?s:.*)-> 429 fault",
    "api_retry_storm_503": r"retried 0\.0\d\d s after it came(?s:.*)GET /api/v1/organizations -> 503 fault",
    "bogus_bearer": r"-> 401 invalid_token",
    "trusts_expires_in": r"OverflowError(?s:.*)POST /oauth/token -> 200 malformed:expires_in_absurd",
    "no_timeout": r"a token endpoint that never answers, 'call' had not returned after 5 s(?s:.*)"
                  r"shorter than 5 s(?s:.*)1 token request held",
    "no_api_timeout": r"an API that never answers, 'call' had not returned after 5 s(?s:.*)give API calls a timeout"
                      r"(?s:.*)1 API call held(?s:.*)POST /oauth/token -> 200 issued",
    "follows_redirect_with_secret": r"-> 307 redirect \(to http://127\.0\.0\.1:\d+/oauth/token\)(?s:.*)"
                                    r"POST http://127\.0\.0\.1:\d+/oauth/token -> 404 second_origin, carried the "
                                    r"client secret \(fp:",
    "bearer_on_redirect": r"GET http://127\.0\.0\.1:\d+/api/v1/organizations -> 404 second_origin, carried token T1 "
                          r"\(fp:",
    "secret_in_log": r"stderr line \d+: POST .*'client_secret': 'fp:",
    "token_in_log": r"stderr line \d+: new access token fp:",
}


# Above the reference client's 3 s timeout, which every faulty driver keeps but for the one bug it has: at this bound
# only a client without a timeout fails the hang checks (at 3 s the reference client failed them too).
HANG_BOUND = 5


@pytest.mark.parametrize(("name", "check_id"), sorted(EXPECTED.items()))
def test_suite_catches_faulty_driver(name: str, check_id: str) -> None:
    report = run_suite(shlex.join(faulty_command(name)), only=[check_id], hang_bound=HANG_BOUND)

    result = report.result(check_id)
    assert result.outcome == "failed", result.message
    assert re.search(EVIDENCE[name], result.message), result.message
    assert DEFAULT_SECRET not in result.message


@pytest.mark.parametrize(("driver", "check_id"), [
    ("contract_tests.drivers.reference", "ERR-TOKEN-ENDPOINT-HANG"),
    ("contract_tests.drivers.reference", "ERR-API-HANG"),
    ("contract_tests.drivers.faulty.no_api_timeout", "ERR-TOKEN-ENDPOINT-HANG"),  # its token requests time out
])
def test_a_client_with_a_timeout_passes_the_hang_checks_at_the_same_bound(driver: str, check_id: str) -> None:
    # The twin of the faulty hang drivers' tests: what fails them there is the missing timeout, not the bound
    report = run_suite(shlex.join([sys.executable, "-m", driver]), only=[check_id], hang_bound=HANG_BOUND)
    assert report.result(check_id).outcome == "passed", report.result(check_id).message


def test_evidence_table_covers_every_faulty_driver() -> None:
    assert set(EVIDENCE) == set(EXPECTED)


@needs_node
def test_node_driver_passes_the_whole_catalogue_strictly() -> None:
    # Its new_client clears all client state, so one process may serve every check (and it is faster).
    report = run_suite(shlex.join([str(NODE), str(NODE_DRIVER)]), strict=True, reuse_driver=True)

    failures = {r.id: f"{r.outcome}: {r.message}" for r in report.results if r.outcome != "passed"}
    assert failures == {}
    assert [r.id for r in report.results] == list(IDS) and report.exit_code == 0
