"""Start times: ``MockServer.start`` against a bare server start, and launch to first token against the
import floor."""

from __future__ import annotations

import http.client
import importlib.util
import json
import os
import socket
import statistics
import subprocess
import sys
import time

from ..server import MockServer
from .children import (
    CLI_CHILD,
    FLOOR_CHILD,
    IMPORT_CHILD,
    SERVE_CHILD,
    START_CHILD,
    child_output,
    end_process,
    send,
    token_request,
)
from .report import BenchError, Report, Request


def measure_start(report: Report, warm_starts: int) -> None:
    report.add("import", "import mock_server", float(child_output(IMPORT_CHILD)) * 1000, "ms",
               "in a fresh process; not part of the start figures")
    times = json.loads(child_output(START_CHILD, str(warm_starts)))
    report.add("bare_start", "bare server start", times["bare"], "ms",
               f"uvicorn in a thread for a trivial app, to its first answer; median of {warm_starts}")
    report.add("start_cold", "MockServer start, cold", times["cold"], "ms",
               "first in a fresh process, imports done; to its first answer")
    report.add("start_warm", "MockServer start, warm", times["warm"], "ms",
               f"median of {warm_starts} later starts; to the first answer")
    for key in ("start_cold", "start_warm"):
        report.compare(key, "bare_start")
        report.judge(key, "<= 20 ms", report.figures[key].value <= 20.0)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _first_token(proc: subprocess.Popen[bytes], port: int, request: Request, began: float) -> float:
    while time.perf_counter() - began < 30:
        if proc.poll() is not None:
            raise BenchError(f"the server exited ({proc.returncode}) before issuing a token")
        try:
            status, body = send(port, request, timeout=5)
        except (OSError, http.client.HTTPException):
            time.sleep(0.002)  # not listening yet
            continue
        if status != 200:
            raise BenchError(f"the first token request got {status}: {body[:300]!r}")
        return time.perf_counter() - began
    raise BenchError("no token within 30 s of launching the server")


def _launch_to_import(env: dict[str, str]) -> float:
    """Launch until ``import mock_server`` is done: the floor under any way of starting the mock."""
    began = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", FLOOR_CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, env=env)
    try:
        assert proc.stdout is not None
        proc.stdout.readline()
        return time.perf_counter() - began
    finally:
        end_process(proc)


def _launch_to_token(cmd: list[str], env: dict[str, str], port: int, request: Request) -> float:
    began = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        return _first_token(proc, port, request, began)
    finally:
        proc.terminate()  # the CLI stops on SIGTERM, the MockServer entry too
        end_process(proc)


def measure_first_token(report: Report, tries: int) -> None:
    cli = importlib.util.find_spec("mock_server.cli") is not None
    request = token_request(MockServer())
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCALEKIT_")}  # default clients only
    floors, firsts = [], []
    for _ in range(tries):
        port = _free_port()
        args = ["-c", CLI_CHILD, "serve", "--port", str(port)] if cli else ["-c", SERVE_CHILD, str(port)]
        floors.append(_launch_to_import(env))
        firsts.append(_launch_to_token([sys.executable, *args], env, port, request))
    how = "scalekit-mock serve (mock_server.cli)" if cli else "no mock_server/cli.py yet: python -c MockServer entry"
    report.add("launch_floor", "launch + import floor", statistics.median(floors) * 1000, "ms",
               f"python -c 'import mock_server' until imported; median of {tries}")
    report.add("first_token", "launch to first token", statistics.median(firsts) * 1000, "ms",
               f"{how}; median of {tries}")
    report.compare("first_token", "launch_floor")
