"""The per-environment rate limit (``core/ratelimit.py``): opt-in, on the virtual clock, 429 RATE_LIMITED on REST
and RESOURCE_EXHAUSTED on gRPC, no Retry-After; set by config, CLI flag, ``MockServer`` and ``/_mock/rate-limit``.

No test sleeps: the window moves with ``advance_clock``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from helpers import call_api, get_token, token_response

from mock_server import ConfigError, MockConfig, MockServer
from mock_server.cli import build_parser, main, parse, serve_config
from mock_server.core.bodies import api_error_body
from mock_server.core.data import fixtures_dir, load_fixtures
from mock_server.core.errors import ControlError
from mock_server.core.ratelimit import RateLimiter

ORGS = "/api/v1/organizations"
SPEC = {"families": ["api"], "headers": {}}


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    with MockServer() as mock:
        yield mock


@pytest.fixture
def mock(server: MockServer) -> Iterator[MockServer]:
    server.reset()
    yield server
    server.reset()
    server.check()


def control(mock: MockServer, method: str, body: Any = None, **headers: str) -> requests.Response:
    return requests.request(method, f"{mock.url}/_mock/rate-limit", json=body, timeout=10,
                            headers=headers or None)


# -- the window -------------------------------------------------------------------------------


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_window_slides_over_the_last_60_seconds_and_counts_only_admitted_requests() -> None:
    clock = FakeClock(0.0)
    limiter = RateLimiter(SPEC, clock, 2)
    admitted = []
    for now in (0, 30, 45, 59.9, 60, 61, 90):
        clock.now = now
        admitted.append(limiter.admit("api"))
    # 45 and 59.9 refused (0 and 30 in the window; refusals not counted); at 60 the request at 0 has left it.
    assert admitted == [True, True, False, False, True, False, True]
    assert limiter.state()["in_window"] == 2


def test_families_the_fixture_does_not_name_are_never_counted() -> None:
    limiter = RateLimiter(SPEC, FakeClock(), 1)
    assert all(limiter.admit(family) for family in ("token", "keys", "discovery", "token"))
    assert limiter.admit("api") and not limiter.admit("api")


def test_clock_set_back_starts_a_new_window() -> None:
    clock = FakeClock(10_000.0)
    limiter = RateLimiter(SPEC, clock, 1)
    assert limiter.admit("api") and not limiter.admit("api")
    clock.now = 5_000.0  # set_clock to an earlier time: what was counted lies in the future
    assert limiter.admit("api") and not limiter.admit("api")


def test_times_from_a_shared_log_a_little_out_of_order_are_all_counted() -> None:
    # Given requests whose times reach the log out of order (submitted by two processes in the same millisecond)
    limiter = RateLimiter(SPEC, FakeClock(100.003), 3)
    admitted = [limiter.admit("api", now) for now in (100.002, 100.001, 100.003, 100.000)]
    # Then the window counts them all: an earlier time is not the clock set back
    assert admitted == [True, True, True, False] and limiter.state()["in_window"] == 3


def test_the_clock_set_before_a_counted_request_empties_the_window_and_after_it_does_not() -> None:
    clock = FakeClock(100.0)
    limiter = RateLimiter(SPEC, clock, 1)
    assert limiter.admit("api", 100.0)
    clock.now = 150.0
    limiter.clock_set(150.0)  # later than what was counted: the request at 100 is still in the window
    assert not limiter.admit("api", 150.0)
    clock.now = 50.0
    limiter.clock_set(50.0)  # before it: what was counted lies in the future
    assert limiter.admit("api", 50.0) and limiter.state()["in_window"] == 1


@pytest.mark.parametrize("spec", [{"families": ["api", "web"], "headers": {}}, {"families": "api", "headers": {}},
                                  {"families": ["api"], "headers": {"Retry-After": 1}}, {"families": ["api"]}])
def test_malformed_fixture_is_a_config_error(spec: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match=r"rate_limit\.json"):
        RateLimiter(spec, FakeClock())


def test_exactly_n_of_many_concurrent_requests_are_admitted() -> None:
    limiter, start = RateLimiter(SPEC, FakeClock(), 300), threading.Barrier(16)

    def burst() -> int:
        start.wait(timeout=10)
        return sum(limiter.admit("api") for _ in range(50))

    with ThreadPoolExecutor(16) as pool:
        admitted = sum(pool.map(lambda _: burst(), range(16)))
    assert admitted == 300 and limiter.state()["in_window"] == 300


# -- through the mock -------------------------------------------------------------------------


def test_off_by_default(mock: MockServer) -> None:
    assert mock.control.state()["rate_limit"]["requests_per_minute"] is None
    client = mock.app.test_client()  # in process: the same pipeline, no sockets
    assert {client.get(ORGS).status_code for _ in range(120)} == {401}


def test_trips_at_n_plus_one_within_a_minute_and_recovers_when_the_clock_moves(mock: MockServer) -> None:
    mock.set_rate_limit(3)
    token = get_token(mock)  # the token endpoint is not counted (rate_limit.json families)
    assert [call_api(mock, token).status_code for _ in range(4)] == [200, 200, 200, 429]
    assert mock.control.rate_limit()["in_window"] == 3  # the refused request was not counted
    mock.advance_clock(30)
    assert call_api(mock, token).status_code == 429
    mock.advance_clock(30)  # a minute after the first three: they have left the window
    assert [call_api(mock, token).status_code for _ in range(4)] == [200, 200, 200, 429]
    refused = mock.journal(status=429)
    assert [e["outcome"] for e in refused] == ["rate_limited"] * 3 and refused[0]["endpoint"] == "api"


def test_rest_answer_is_the_documented_429_without_retry_after(mock: MockServer) -> None:
    mock.set_rate_limit(1)
    token = get_token(mock)
    call_api(mock, token)
    answer = call_api(mock, token)
    assert answer.status_code == 429 and answer.headers["Content-Type"] == "application/json"
    assert answer.json() == {"code": 8, "message": "Too many requests", "details": [
        {"@type": "type.googleapis.com/scalekit.v1.errdetails.ErrorInfo", "error_code": "RATE_LIMITED"}]}
    assert answer.json() == api_error_body(mock.control.fixtures, "rate_limited")
    assert "Retry-After" not in answer.headers and not any(h.lower().startswith("x-ratelimit") for h in answer.headers)


def test_unauthenticated_calls_count_and_the_token_endpoint_does_not(mock: MockServer) -> None:
    mock.set_rate_limit(2)
    assert [requests.get(mock.url + ORGS, timeout=10).status_code for _ in range(3)] == [401, 401, 429]
    assert {token_response(mock).status_code for _ in range(5)} == {200}
    assert requests.get(mock.url + "/.well-known/openid-configuration", timeout=10).status_code == 200


def test_a_queued_fault_is_played_and_not_counted(mock: MockServer) -> None:
    mock.set_rate_limit(1)
    token = get_token(mock)
    mock.add_fault("token_expired")
    assert call_api(mock, token).json()["message"] == "Token expired"
    assert mock.control.rate_limit()["in_window"] == 0
    assert call_api(mock, token).status_code == 200
    mock.add_fault("status", endpoint="api", preset="unavailable")
    assert call_api(mock, token).status_code == 503  # the window is full, but the fault answers
    assert call_api(mock, token).status_code == 429


def _override(tmp_path: Path, **changes: Any) -> str:
    spec = {**json.loads((fixtures_dir() / "rate_limit.json").read_text(encoding="utf-8")), **changes}
    (tmp_path / "rate_limit.json").write_text(json.dumps(spec), encoding="utf-8")
    return str(tmp_path)


def test_headers_and_families_are_fixture_data(tmp_path: Path) -> None:
    # A recording that shows a Retry-After, or a token endpoint that counts, is one fixture edit away.
    overrides = _override(tmp_path, families=["api", "token"], headers={"Retry-After": "60"})
    with MockServer(MockConfig(fixtures_dir=overrides, rate_limit=1)) as limited:
        assert token_response(limited).status_code == 200
        answer = token_response(limited)
        assert (answer.status_code, answer.headers.get("Retry-After")) == (429, "60")
        assert answer.json()["details"][0]["error_code"] == "RATE_LIMITED"
        assert limited.control.rate_limit()["families"] == ["api", "token"]


def test_grpc_calls_share_the_window_and_get_resource_exhausted() -> None:
    grpc = pytest.importorskip("grpc", reason="grpcio comes with the 'drivers' extra")
    with MockServer(grpc=True, rate_limit=2) as limited, grpc.insecure_channel(f"127.0.0.1:{limited.port}") as chan:
        token = get_token(limited)
        assert call_api(limited, token).status_code == 200  # REST and gRPC: one environment, one window
        stub = chan.unary_unary("/scalekit.v1.organizations.OrganizationService/ListOrganization")
        metadata = [("authorization", f"Bearer {token}")]
        stub(b"", metadata=metadata, timeout=10)
        with pytest.raises(grpc.RpcError) as refused:
            stub(b"", metadata=metadata, timeout=10)
        assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert refused.value.code().value[0] == 8
        assert b"RATE_LIMITED" in dict(refused.value.trailing_metadata())["grpc-status-details-bin"]
        [entry] = limited.journal(status=429)
        assert (entry["transport"], entry["outcome"], entry["extra"]["grpc_status"]) == ("grpc", "rate_limited", 8)


def test_proxy_plays_the_limit_itself_and_forwards_nothing_refused() -> None:
    with MockServer() as sandbox, MockServer(upstream=sandbox.url, rate_limit=1) as proxy:
        assert [requests.get(proxy.url + ORGS, timeout=10).status_code for _ in range(2)] == [401, 429]
        assert proxy.upstream_requests == 1 and len(sandbox.journal()) == 1


def test_concurrent_requests_over_http_admit_exactly_n(mock: MockServer) -> None:
    mock.set_rate_limit(25)
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda _: requests.get(mock.url + ORGS, timeout=10).status_code, range(40)))
    assert statuses.count(429) == 15 and statuses.count(401) == 25


# -- steering it ------------------------------------------------------------------------------


def test_control_plane_round_trip(mock: MockServer) -> None:
    assert control(mock, "GET").json() == {"requests_per_minute": None, "window_seconds": 60,
                                           "families": ["api"], "in_window": 0}
    assert control(mock, "PUT", {"requests_per_minute": 2}).json()["requests_per_minute"] == 2
    requests.get(mock.url + ORGS, timeout=10)
    assert control(mock, "GET").json()["in_window"] == 1
    assert requests.get(f"{mock.url}/_mock/state", timeout=10).json()["rate_limit"]["requests_per_minute"] == 2
    assert control(mock, "PUT", {"requests_per_minute": 5.0}).json()["in_window"] == 0  # a new window
    assert control(mock, "DELETE", {}).json()["requests_per_minute"] is None
    assert mock.control.rate_limit()["requests_per_minute"] is None


@pytest.mark.parametrize("body", [{}, {"requests_per_minute": None}, {"requests_per_minute": 0},
                                  {"requests_per_minute": -5}, {"requests_per_minute": 1.5},
                                  {"requests_per_minute": "10"}, {"requests_per_minute": True},
                                  {"requests_per_minute": 10**7}, {"requests_per_minute": 10**400},
                                  {"per_minute": 10}, [10]])
def test_bad_input_is_a_400_with_the_control_planes_error(mock: MockServer, body: Any) -> None:
    answer = control(mock, "PUT", body)
    assert answer.status_code == 400 and set(answer.json()) == {"error"}, answer.text
    assert "requests_per_minute" in answer.json()["error"] or "JSON object" in answer.json()["error"]
    assert mock.control.rate_limit()["requests_per_minute"] is None


def test_control_plane_refuses_what_is_not_json(mock: MockServer) -> None:
    answer = requests.put(f"{mock.url}/_mock/rate-limit", data="requests_per_minute=1", timeout=10,
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 415 and mock.control.rate_limit()["requests_per_minute"] is None


def test_python_face_validates_too(mock: MockServer) -> None:
    with pytest.raises(ControlError, match="whole number"):
        mock.set_rate_limit(0)
    assert mock.set_rate_limit(None)["requests_per_minute"] is None


def test_reset_goes_back_to_the_configured_limit_with_an_empty_window() -> None:
    with MockServer(rate_limit=2) as limited:
        requests.get(limited.url + ORGS, timeout=10)
        limited.set_rate_limit(100)
        requests.get(limited.url + ORGS, timeout=10)
        assert requests.post(f"{limited.url}/_mock/reset", json={}, timeout=10).json()["rate_limit"] == {
            "requests_per_minute": 2, "window_seconds": 60, "families": ["api"], "in_window": 0}
        assert [requests.get(limited.url + ORGS, timeout=10).status_code for _ in range(3)] == [401, 401, 429]


def test_reset_turns_off_a_limit_set_at_run_time(mock: MockServer) -> None:
    mock.set_rate_limit(1)
    mock.reset()
    assert mock.control.rate_limit()["requests_per_minute"] is None


# -- config and CLI ---------------------------------------------------------------------------


def test_serve_flag_sets_the_limit() -> None:
    config = serve_config(parse(build_parser(), ["serve", "--rate-limit", "30"]), {})
    assert config.rate_limit == 30
    assert MockServer(config).control.rate_limit()["requests_per_minute"] == 30


@pytest.mark.parametrize("value", ["0", "-1", "abc", "1.5", "", "2000000", "٣"])
def test_serve_flag_must_be_a_positive_whole_number(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["serve", "--rate-limit", value])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "argument --rate-limit: must be a whole number of requests per minute" in err


@pytest.mark.parametrize(("content", "message"), [('{"rate_limit": 0}', "'rate_limit' must be a whole number"),
                                                  ('{"rate_limit": "60"}', "'rate_limit' has the wrong type")])
def test_config_file_rate_limit_is_checked(tmp_path: Path, content: str, message: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "mock.json"
    config.write_text(content)
    assert main(["serve", "--config", str(config)]) == 2
    assert message in capsys.readouterr().err


def test_config_file_sets_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "mock.json"
    path.write_text('{"rate_limit": 120}')
    assert MockConfig.from_file(path).rate_limit == 120
    with pytest.raises(ConfigError, match="from 1 to"):
        MockConfig(rate_limit=-1)
    assert load_fixtures().rate_limit["headers"] == {}  # none documented
