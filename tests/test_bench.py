"""The benchmark command runs end to end and reports every figure beside its anchor.

Its targets are not asserted: timing belongs in the benchmark's output, not in tests.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import get_token, wait_until

from mock_server import MockServer, bench
from mock_server.bench import grpcload

FIGURES = {"sign_one_core", "sign_two_threads", "sign_two_processes", "sign_two_core", "token_c1", "token_c16",
           "api_open_c16", "api_protected_c16", "import", "bare_start", "start_cold", "start_warm", "launch_floor",
           "first_token", "rss_idle", "mixed_c16", "rss_warm", "rss_after", "token_c16_grpc_face", "grpc_get_c16",
           "peer_token_c1", "peer_token_c16"}
# The shared state's cost and the workers' gain (bench/shared.py): measured where redis-server is (CI installs it).
REDIS = shutil.which("redis-server") is not None
SHARED = {f"{kind}_c16_{setup}" for kind in ("token", "api_protected") for setup in ("memory", "redis", "redis_w2")}
FIGURES |= SHARED if REDIS else set()
ANCHORED = {"token_c16_grpc_face": "token_c16", "grpc_get_c16": "api_protected_c16",
            **({"token_c16_redis": "token_c16_memory", "api_protected_c16_redis": "api_protected_c16_memory",
                "token_c16_redis_w2": "token_c16_redis", "api_protected_c16_redis_w2": "api_protected_c16_redis"}
               if REDIS else {}),
            "token_c1": "peer_token_c1", "token_c16": "peer_token_c16", "api_protected_c16": "api_open_c16",
            "start_cold": "bare_start", "start_warm": "bare_start", "first_token": "launch_floor",
            "rss_after": "rss_warm", "sign_two_threads": "sign_one_core", "sign_two_processes": "sign_one_core"}

WRK_OUTPUT = """Running 5s test @ http://127.0.0.1:8080/
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    12.75ms    5.62ms  63.28ms   82.39%
  3833 requests in 3.00s, 3.33MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 7
Requests/sec:   1277.67
"""


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    # Given a quick run with the shortest durations and a few hundred requests for the memory figure
    path = tmp_path_factory.mktemp("bench") / "bench.json"
    peer = shlex.join([sys.executable, str(Path(__file__).parent / "peer_standin.py")])  # no npm registry in tests
    code = bench.main(["--quick", "--duration", "0.5", "--requests", "300", "--warmup", "100", "--peer", peer,
                       "--json", str(path)])
    # Then it ran, and wrote its figures
    assert code == 0
    report: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return report


def test_bench_quick_reports_every_figure_with_a_positive_value(quick_run: dict[str, Any]) -> None:
    figures = quick_run["figures"]
    assert set(figures) == FIGURES
    assert all(figure["value"] > 0 for figure in figures.values()), figures


@pytest.mark.parametrize(("key", "anchor"), sorted(ANCHORED.items()))
def test_bench_quick_compares_figure_with_its_anchor(quick_run: dict[str, Any], key: str, anchor: str) -> None:
    figure = quick_run["figures"][key]
    assert figure["anchor"] == anchor
    assert quick_run["figures"][anchor]["value"] > 0
    assert figure["ratio"] == pytest.approx(figure["value"] / quick_run["figures"][anchor]["value"])


def test_bench_quick_judges_the_targets(quick_run: dict[str, Any]) -> None:
    judged = {k for k, f in quick_run["figures"].items() if f["target"]}
    assert judged == {"token_c1", "token_c16", "api_protected_c16", "grpc_get_c16", "start_cold", "start_warm",
                      "rss_after", *(("token_c16_redis", "api_protected_c16_redis", "api_protected_c16_redis_w2")
                                     if REDIS else ())}
    assert all(f["result"].split("/")[-1] in ("PASS", "MISS") for k, f in quick_run["figures"].items() if k in judged)


def test_bench_quick_every_request_got_a_2xx_answer(quick_run: dict[str, Any]) -> None:
    suspect = {k: f["note"] for k, f in quick_run["figures"].items() if f["result"].startswith("SUSPECT")}
    assert suspect == {}


def test_parse_wrk_reads_requests_time_and_errors() -> None:
    result = bench.parse_wrk(WRK_OUTPUT)
    assert result == bench.LoadResult(requests=3833, seconds=3.0, non_2xx=7, socket_errors=3)
    assert result.rate == pytest.approx(3833 / 3.0)
    assert "7 non-2xx" in result.problems()


def test_parse_wrk_without_a_summary_raises() -> None:
    with pytest.raises(bench.BenchError):
        bench.parse_wrk("unable to connect to 127.0.0.1:1 Connection refused")


H2LOAD_OUTPUT = """finished in 3.00s, 1152.00 req/s, 141.90KB/s
requests: 3456 total, 3488 started, 3456 done, 3450 succeeded, 4 failed, 1 errored, 1 timeout
status codes: 3460 2xx, 0 3xx, 0 4xx, 0 5xx
"""


def test_parse_h2load_reads_calls_time_and_failures() -> None:
    result = grpcload.parse_h2load(H2LOAD_OUTPUT)
    assert result == bench.LoadResult(requests=3450, seconds=3.0, non_2xx=4, socket_errors=2)
    # the calls in flight when -D ran out (failed and errored): with 16 in flight, 1 of them is the cut
    assert grpcload.parse_h2load(H2LOAD_OUTPUT, 16) == bench.LoadResult(3450, 3.0, non_2xx=3, socket_errors=1)
    with pytest.raises(bench.BenchError):
        grpcload.parse_h2load("connect to 127.0.0.1:1 failed")


def test_the_grpc_check_call_needs_a_response_message() -> None:
    with MockServer(grpc=True) as server:
        token = get_token(server)
        grpcload.check_call(server.port, token, "org_59615193906282635")
        with pytest.raises(bench.BenchError, match="not a GetOrganization answer"):
            grpcload.check_call(server.port, "not-a-token", "org_59615193906282635")


@pytest.mark.skipif(grpcload.grpc_generator() is None, reason="neither h2load nor grpcio is installed")
def test_grpc_load_counts_successful_calls() -> None:
    with MockServer(grpc=True) as server:
        result = grpcload.grpc_load(server.port, get_token(server), "org_59615193906282635", 4, 1.0)
        assert result.requests > 0 and not result.problems()
        calls = server.journal(endpoint="api", limit=100_000)
    assert len(calls) >= result.requests and {e["outcome"] for e in calls} == {"ok"}


@pytest.mark.parametrize("argv", [["--duration", "0"], ["--requests", "-1"], ["--warmup", "-5"], ["--nope"],
                                  ["--steps", "start,nope"], ["--steps", ","]])
def test_main_with_bad_usage_returns_2(argv: list[str]) -> None:
    assert bench.main(argv) == 2


def test_the_bench_runs_only_the_steps_asked_for(tmp_path: Path) -> None:
    # Given a quick run of the start step alone
    path = tmp_path / "bench.json"
    assert bench.main(["--quick", "--steps", "start", "--json", str(path)]) == 0
    # Then it has the start figures and nothing else
    report = json.loads(path.read_text(encoding="utf-8"))
    assert set(report["figures"]) == {"import", "bare_start", "start_cold", "start_warm"}
    assert list(report["meta"]["others_by_step"]) == ["start time"]


def test_python_load_sends_the_plan_and_counts_answers() -> None:
    with MockServer() as server:
        plan = [bench.Request("GET", "/api/v1/authmethods"), bench.Request("GET", "/api/v1/no-such-route")]
        result = bench.python_load(server.url, plan, 2, 0.3)
    assert result.requests > 0
    assert 0 < result.non_2xx < result.requests  # the unknown route answers 404, the open one 200
    assert result.socket_errors == 0


def test_wrk_script_builds_each_request_of_the_plan() -> None:
    script = bench.wrk_script([bench.Request("POST", "/oauth/token", {"Content-Type": bench.FORM}, "a=1&b=\"2\"")])
    row = '{"POST", "/oauth/token", {["Content-Type"] = "application/x-www-form-urlencoded"}, "a=1&b=\\"2\\""}'
    assert row in script
    assert "wrk.format(r[1], r[2], r[3], r[4])" in script


def test_status_mib_reads_this_process_rss() -> None:
    assert bench.status_mib(os.getpid()) > 1.0


def test_the_token_rate_is_judged_against_the_peer(quick_run: dict[str, Any]) -> None:
    figures = quick_run["figures"]
    assert figures["token_c16"]["target"] == ">= 130%" and figures["token_c1"]["target"] == ">= 100%"
    assert quick_run["meta"]["peer"].startswith("--peer ")


def test_without_a_peer_the_bench_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    from mock_server.bench import peer

    assert peer.choose_peer("none") == "none asked for (--peer none)"
    monkeypatch.setattr(peer.shutil, "which", lambda name: None)
    assert "node is not installed" in str(peer.find_peer())
    assert peer.choose_peer("node x.mjs") == peer.Peer(["node", "x.mjs"], "--peer node x.mjs")


@pytest.mark.skipif(not REDIS, reason="redis-server is not installed")
def test_bench_quick_says_where_the_cpu_went_for_each_shared_state_figure(quick_run: dict[str, Any]) -> None:
    for key in SHARED:
        note = quick_run["figures"][key]["note"]
        shares = dict(re.findall(r"(the mock|Redis|the rest|idle) (\d+\.\d\d)", note))
        assert set(shares) == {"the mock", "Redis", "the rest", "idle"}, note
        assert float(shares["the mock"]) > 0, note  # the mock served the load: its processes used the CPU


def test_process_cpu_counts_the_descendants_of_a_process() -> None:
    """What a --workers mock uses is its workers' CPU: children of the serve process."""
    from mock_server.bench.cpu import process_cpu

    spin = "import sys, time\nt = time.process_time()\nwhile time.process_time() - t < 0.3: pass\nsys.stdin.read()"
    parent = subprocess.Popen([sys.executable, "-c", "import subprocess, sys; subprocess.run([sys.executable, '-c', "
                               f"{spin!r}], stdin=sys.stdin); sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        wait_until(lambda: process_cpu(parent.pid) >= 0.29, 20, every=0.05)  # the child's spin, in the parent's tree
        assert process_cpu(2 ** 22 + 12345) == 0.0  # no such process: nothing, and no error
    finally:
        parent.communicate(b"", timeout=20)
