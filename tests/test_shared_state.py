"""One environment, many processes: mocks sharing their state through a real Redis (``--state``, ``--workers``).

Two ``serve`` processes on two ports point at one ``redis-server`` started here, and answer as one environment
(the same issuer, as behind a load balancer): what one is told, the other does at once. Loopback only, bounded in
count and time; the waits poll for a state to show, with a deadline.
"""

from __future__ import annotations

import concurrent.futures
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers import read_lines, wait_until
from redis_server import RedisServer, free_port

from mock_server import MockServer
from mock_server.core.config import MockConfig
from mock_server.core.journal import JournalEntry
from mock_server.core.redis_state import JOURNAL, RedisState

ORGS = "/api/v1/organizations"
JSON = {"Content-Type": "application/json"}


@dataclass
class Served:
    """One mock process: its own address (``url``), and the environment's credentials it printed."""

    process: subprocess.Popen[str]
    url: str
    exports: dict[str, str]

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10)

    def token(self, client_id: str | None = None, secret: str | None = None) -> str:
        data = {"grant_type": "client_credentials", "client_id": client_id or self.exports["SCALEKIT_CLIENT_ID"],
                "client_secret": secret or self.exports["SCALEKIT_CLIENT_SECRET"]}
        answer = httpx.post(self.url + "/oauth/token", data=data, timeout=10)
        assert answer.status_code == 200, answer.text
        return str(answer.json()["access_token"])

    def api(self, token: str, method: str = "GET", path: str = ORGS, **kwargs: Any) -> httpx.Response:
        return httpx.request(method, self.url + path, headers={"Authorization": f"Bearer {token}"}, timeout=10,
                             **kwargs)

    def control(self, method: str, path: str, body: Any = None) -> Any:
        answer = httpx.request(method, self.url + "/_mock/" + path, timeout=10, headers=JSON,
                               content=None if body is None else json.dumps(body))
        assert answer.status_code < 300, answer.text
        return answer.json() if answer.content else None


def serve(state: str, port: int, issuer: str, tmp: Path, *extra: str) -> Served:
    config = tmp / f"mock-{port}.json"
    config.write_text(json.dumps({"issuer": issuer}))
    command = [sys.executable, "-m", "mock_server.cli", "serve", "--port", str(port), "--quiet", "--state", state,
               "--config", str(config), *extra]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = read_lines(process.stdout, "# the mock's own endpoints")
    except AssertionError:
        process.kill()
        raise AssertionError(process.communicate(timeout=10)[1]) from None
    exports = dict(line.removeprefix("export ").strip().split("=", 1) for line in lines if line.startswith("export "))
    return Served(process, f"http://127.0.0.1:{port}", exports)


def stop(served: Served) -> None:
    if served.process.poll() is None:
        served.process.terminate()
    try:
        served.process.wait(10)
    except subprocess.TimeoutExpired:
        served.process.kill()
        served.process.wait(10)


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.remove()


@pytest.fixture(scope="module")
def pair(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, Served]]:
    """Processes A and B: one environment, whose URL (the issuer) is A's address."""
    redis_server.flush()
    tmp = tmp_path_factory.mktemp("shared")
    port_a, port_b = free_port(), free_port()
    issuer = f"http://127.0.0.1:{port_a}"
    a = serve(redis_server.url, port_a, issuer, tmp)
    try:
        b = serve(redis_server.url, port_b, issuer, tmp)
    except BaseException:
        stop(a)
        raise
    yield a, b
    stop(a)
    stop(b)


@pytest.fixture
def ab(pair: tuple[Served, Served]) -> tuple[Served, Served]:
    pair[0].control("POST", "reset", {})
    return pair


def test_a_token_works_on_b_and_both_say_they_share(ab: tuple[Served, Served]) -> None:
    a, b = ab
    assert b.api(a.token()).status_code == 200
    assert a.api(b.token()).status_code == 200
    state = b.control("GET", "state")["state"]
    assert (state["backend"], state["processes"], state["available"]) == ("redis", 2, True)


def test_changes_on_a_take_effect_on_b_at_once(ab: tuple[Served, Served]) -> None:
    a, b = ab
    token, from_b = a.token(), b.token()  # each process numbers its tokens from a block of its own
    a.control("POST", "revoke", {"all": True})
    assert b.api(token).status_code == 401 and a.api(from_b).status_code == 401  # revoked: at once, everywhere
    fresh = b.token()  # from a block above the number revoked
    assert a.api(fresh).status_code == 200 and b.api(fresh).status_code == 200
    a.control("PUT", "clients/shared_client", {"client_secret": "shared-secret-0123456789"})
    assert b.token("shared_client", "shared-secret-0123456789")
    before = b.control("GET", "clock")["now"]
    a.control("POST", "clock/advance", {"seconds": 3600})
    assert b.control("GET", "clock")["now"] - before >= 3600
    token = b.token()
    kid = a.control("POST", "keys/rotate", {"grace_seconds": 0})["kid"]
    assert [k["kid"] for k in b.http().get("/.well-known/jwks.json").json()["keys"]] == [kid]
    assert b.api(token).status_code == 401  # signed with the key that is gone
    assert b.api(a.token()).status_code == 200


def test_api_resources_are_one_store(ab: tuple[Served, Served]) -> None:
    a, b = ab
    token = a.token()
    created = a.api(token, "POST", ORGS, json={"display_name": "Shared Org", "external_id": "ext-shared"})
    assert created.status_code == 201, created.text
    org = created.json()["organization"]["id"]
    assert b.api(token, path=f"{ORGS}/{org}").json()["organization"]["display_name"] == "Shared Org"
    duplicate = b.api(token, "POST", ORGS, json={"display_name": "Again", "external_id": "ext-shared"})
    assert duplicate.status_code == 409
    assert b.api(token, "DELETE", f"{ORGS}/{org}").status_code == 200
    assert a.api(token, path=f"{ORGS}/{org}").status_code == 404


def test_an_organization_client_made_on_a_gets_tokens_on_b(ab: tuple[Served, Served]) -> None:
    a, b = ab
    token = a.token()
    org = a.api(token, "POST", ORGS, json={"display_name": "M2M Org"}).json()["organization"]["id"]
    made = a.api(token, "POST", f"{ORGS}/{org}/clients", json={"name": "worker", "scopes": []}).json()
    client_id, secret = made["client"]["client_id"], made["plain_secret"]
    assert b.token(client_id, secret)
    assert a.api(token, "DELETE", f"{ORGS}/{org}/clients/{client_id}").status_code == 200
    refused = httpx.post(b.url + "/oauth/token", timeout=10, data={
        "grant_type": "client_credentials", "client_id": client_id, "client_secret": secret})
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"


def test_ten_faults_are_taken_exactly_ten_times_across_processes(ab: tuple[Served, Served]) -> None:
    a, b = ab
    a.control("POST", "faults", {"kind": "status", "status": 503, "count": 10, "endpoint": "keys"})
    mark = a.control("GET", "state")["journal"]["last_seq"]

    def get(i: int) -> int:
        return httpx.get((a if i % 2 else b).url + "/.well-known/jwks.json", timeout=10).status_code

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(get, range(100)))
    assert (codes.count(503), codes.count(200)) == (10, 90)
    for reader in (a, b):  # the journal: every request once, in one numbering, whichever process reads it
        entries = reader.control("GET", f"journal?endpoint=keys&since={mark}")["entries"]
        assert len(entries) == 100 and len({e["seq"] for e in entries}) == 100
        assert sum(1 for e in entries if e["fault"]) == 10
    assert a.control("GET", "faults")["faults"] == []


def test_the_rate_limit_counts_requests_to_every_process(ab: tuple[Served, Served]) -> None:
    a, b = ab
    token = a.token()
    a.control("PUT", "rate-limit", {"requests_per_minute": 6})
    codes = [(a if i % 2 else b).api(token).status_code for i in range(10)]
    assert codes == [200] * 6 + [429] * 4
    assert b.api(token).json()["details"][0]["error_code"] == "RATE_LIMITED"


def test_concurrent_requests_to_both_processes_are_admitted_exactly_up_to_the_limit(ab: tuple[Served, Served]) -> None:
    # Given a limit, and 16 threads sending 200 API calls to both processes at once (their times reach the log a
    # little out of order: before, each such time read as the clock set back, and emptied the window)
    a, b = ab
    token = a.token()
    a.control("PUT", "rate-limit", {"requests_per_minute": 50})
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(lambda i: (a if i % 2 else b).api(token).status_code, range(200)))
    # Then exactly the limit is admitted in the minute (the burst takes seconds), and both processes count it
    assert (codes.count(200), codes.count(429)) == (50, 150)
    assert a.control("GET", "rate-limit")["in_window"] == b.control("GET", "rate-limit")["in_window"] == 50


def test_setting_the_clock_back_before_a_counted_request_empties_the_window_everywhere(
        ab: tuple[Served, Served]) -> None:
    a, b = ab
    token = a.token()
    a.control("PUT", "rate-limit", {"requests_per_minute": 2})
    assert [a.api(token).status_code, b.api(token).status_code, a.api(token).status_code] == [200, 200, 429]
    now = a.control("GET", "clock")["now"]
    a.control("POST", "clock/set", {"now": now - 3600})
    token = b.token()  # (the first was issued in what is now the future)
    assert [b.api(token).status_code, a.api(token).status_code, b.api(token).status_code] == [200, 200, 429]


def test_serve_workers_two_processes_on_one_port(redis_server: RedisServer) -> None:
    port = free_port()  # database 1: the module's pair of processes is environment 0
    command = [sys.executable, "-m", "mock_server.cli", "serve", "--port", str(port), "--quiet", "--state",
               redis_server.db(1), "--workers", "2"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = read_lines(process.stdout, "# the mock's own endpoints")
        assert any(line.startswith("# 2 worker processes on port") for line in lines)
        url = f"http://127.0.0.1:{port}"
        served = Served(process, url, dict(line.removeprefix("export ").strip().split("=", 1)
                                           for line in lines if line.startswith("export ")))
        assert served.exports["SCALEKIT_ENVIRONMENT_URL"] == url
        wait_until(lambda: served.control("GET", "state")["state"]["processes"] == 2, 10)
        tokens = [served.token() for _ in range(10)]  # a new connection each: the kernel spreads them
        assert all(served.api(t).status_code == 200 for t in reversed(tokens))
        assert len(served.control("GET", "journal?endpoint=token")["entries"]) == 10
    finally:
        process.terminate()
        assert process.wait(15) == 0


def test_workers_need_a_shared_state() -> None:
    done = subprocess.run([sys.executable, "-m", "mock_server.cli", "serve", "--port", "0", "--workers", "2"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert "--workers N needs --state redis://" in done.stderr and "Traceback" not in done.stderr


def test_an_unreachable_state_fails_the_start_clearly() -> None:
    done = subprocess.run([sys.executable, "-m", "mock_server.cli", "serve", "--port", "0", "--state",
                           f"redis://127.0.0.1:{free_port()}/0"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert "cannot reach the shared state at redis://127.0.0.1:" in done.stderr and "Traceback" not in done.stderr


# -- in one test process: quicker, for what needs no second interpreter ----------------------------------------


def _mock(url: str, issuer: str = "http://127.0.0.1:1") -> MockServer:
    return MockServer(MockConfig(state=url, issuer=issuer)).start()


def test_a_late_joiner_replays_the_environment(redis_server: RedisServer) -> None:
    first = _mock(redis_server.db(2))
    try:
        first.put_client({"client_id": "early", "client_secret": "early-secret-0123456789"})
        first.add_fault("status", status=500, endpoint="keys", count=3)
        first.advance_clock(120)
        late = _mock(redis_server.db(2))
        try:
            assert late.control.clients.get("early") is not None
            assert late.control.list_faults()[0]["remaining"] == 3
            assert abs(late.control.clock.offset - first.control.clock.offset) < 1e-6
        finally:
            late.stop()
    finally:
        first.stop()


def test_redis_going_away_gives_503s_with_a_body_and_the_mock_recovers(tmp_path: Path) -> None:
    store = RedisServer().start()
    mock = _mock(store.url)
    base = f"http://127.0.0.1:{mock.port}"
    try:
        token = httpx.post(base + "/oauth/token", data={
            "grant_type": "client_credentials", "client_id": mock.client_id, "client_secret": mock.client_secret},
            timeout=10).json()["access_token"]
        store.stop()
        wait_until(lambda: not mock.control.backend.available, 10)
        api = httpx.get(base + ORGS, headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert api.status_code == 503
        assert (api.json()["code"], api.json()["details"][0]["error_code"]) == (14, "UNAVAILABLE")
        issued = httpx.post(base + "/oauth/token", data={
            "grant_type": "client_credentials", "client_id": mock.client_id, "client_secret": mock.client_secret},
            timeout=10)
        assert (issued.status_code, issued.json()["error"]) == (503, "temporarily_unavailable")
        control = httpx.get(base + "/_mock/journal", timeout=10)
        assert control.status_code == 503 and "shared state" in control.json()["error"]
        store.start()  # back, empty: a new environment, which the mock joins in its initial state
        wait_until(lambda: mock.control.backend.available, 15)
        fresh = httpx.post(base + "/oauth/token", data={
            "grant_type": "client_credentials", "client_id": mock.client_id, "client_secret": mock.client_secret},
            timeout=10).json()["access_token"]
        assert httpx.get(base + ORGS, headers={"Authorization": f"Bearer {fresh}"}, timeout=10).status_code == 200
        mock.check()
    finally:
        mock.stop()
        store.remove()


def test_stopping_while_a_thread_talks_to_redis_ends_the_thread_quietly(redis_server: RedisServer,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a state whose connection close() takes away in the middle of a read and of a push (what redis-py
    # raises then is not one of its own errors)
    state = RedisState(redis_server.db(3), 10)
    state._available = True

    def closed_under(*_args: Any, **_kwargs: Any) -> Any:
        state._closed.set()
        raise ValueError("I/O operation on closed file.")

    monkeypatch.setattr(state.redis, "xread", closed_under)
    monkeypatch.setattr(state.journal, "flush", closed_under)
    state.journal._pending.set()
    monkeypatch.setattr("mock_server.core.redis_state.FLUSH_WINDOW", 0)
    # When each thread's loop runs, then it returns, with no exception for pytest to report
    state._follow()
    state._closed.clear()
    state.journal.flusher()
    # And the same error while the state is open is not swallowed
    state._closed.clear()
    monkeypatch.setattr(state.redis, "xread", lambda *a, **k: (_ for _ in ()).throw(ValueError("a bug")))
    with pytest.raises(ValueError, match="a bug"):
        state._follow()
    state.redis.close()


def _entry(n: int, **extra: Any) -> JournalEntry:
    return JournalEntry(seq=0, time=float(n), method="GET", path=f"/api/v1/organizations/{n}", query={},
                        headers={}, form=None, endpoint="api", status=200, outcome="ok", extra=extra)


def test_a_journal_buffer_larger_than_one_push_reaches_redis_whole_and_in_order(redis_server: RedisServer) -> None:
    # Given a buffer that grew while Redis was away, past what Redis's Lua can unpack from one call (about 8,000)
    state = RedisState(redis_server.db(4), 10_000)
    try:
        state.redis.flushdb()
        for n in range(1, 9_001):
            state.journal.record(_entry(n))
        # When it is pushed, then every entry is in Redis once, numbered in order, and nothing is left to push
        state.journal.flush()
        assert state.redis.llen(JOURNAL) == 9_000
        assert [json.loads(t)["path"] for t in state.redis.lrange(JOURNAL, 0, 2)] == [
            f"/api/v1/organizations/{n}" for n in (1, 2, 3)]
        assert state.journal._buffer == []
    finally:
        state.redis.close()


def test_a_journal_entry_orjson_refuses_is_still_pushed(redis_server: RedisServer) -> None:
    # Given an entry with an integer past 64 bits (orjson's limit) beside an ordinary one
    state = RedisState(redis_server.db(5), 100)
    try:
        state.redis.flushdb()
        state.journal.record(_entry(1, big=2 ** 70, when=Path("/x")))
        state.journal.record(_entry(2))
        state.journal.flush()
        # Then both are in the journal, the big one exact and what JSON cannot hold as its text
        first, second = (json.loads(t) for t in state.redis.lrange(JOURNAL, 0, -1))
        assert first["extra"] == {"big": 2 ** 70, "when": "/x"}
        assert second["path"] == "/api/v1/organizations/2"
    finally:
        state.redis.close()
