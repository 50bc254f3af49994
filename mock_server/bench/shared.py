"""The shared state's cost and the workers' gain: the same token and protected-API loads on a mock with its state in
memory, in Redis with one worker, and in Redis with ``--workers 2``, measured in interleaved slices.

The bench starts its own ``redis-server`` (Debian's package) on 127.0.0.1; without one the figures are not measured
and the report says why.
"""

from __future__ import annotations

import functools
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

from .children import CLI_CHILD, ServedMock, end_process, plans
from .cpu import machine_busy, process_cpu
from .report import BenchError, Load, LoadResult, Report, Request

SETUPS = {"memory": (), "redis": ("--state", "{redis}"), "redis_w2": ("--state", "{redis}", "--workers", "2")}
LABELS = {"memory": "state in memory", "redis": "state in Redis", "redis_w2": "state in Redis, --workers 2"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_redis(port: int, directory: str) -> subprocess.Popen[bytes]:
    """A ``redis-server`` on 127.0.0.1:``port`` without persistence, answering once this returns."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise BenchError("redis-server is not installed (apt-get install redis-server)")
    process = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
                                "no", "--dir", directory], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
                conn.sendall(b"PING\r\n")
                if conn.recv(16).startswith(b"+PONG"):
                    return process
        except OSError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            raise BenchError(f"redis-server did not start on port {port}")
        time.sleep(0.02)


@contextmanager
def served_redis() -> Iterator[tuple[str, int]]:
    """A ``redis-server`` for the run: its URL and its process id."""
    with tempfile.TemporaryDirectory(prefix="scalekit-mock-bench-redis-") as directory:
        port = free_port()
        process = start_redis(port, directory)
        try:
            yield f"redis://127.0.0.1:{port}", process.pid
        finally:
            process.kill()
            process.wait(10)


@contextmanager
def served_cli(*args: str) -> Iterator[ServedMock]:
    """``scalekit-mock serve --port 0 --quiet ARGS`` in a child process, once it prints its URL."""
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen([sys.executable, "-c", CLI_CHILD, "serve", "--port", "0", "--quiet", *args],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors)
        try:
            yield ServedMock(process.pid, _port(process, errors))
        finally:
            end_process(process)


def _port(process: subprocess.Popen[bytes], errors: object) -> int:
    assert process.stdout is not None
    for raw in process.stdout:
        line = raw.decode(errors="replace")
        if line.startswith("export SCALEKIT_ENVIRONMENT_URL="):
            return int(line.strip().rsplit(":", 1)[1])
    errors.seek(0)  # type: ignore[attr-defined]
    raise BenchError(f"the mock did not start: {errors.read()[-2000:].decode(errors='replace')}")  # type: ignore


def _sixteen(load: Load, url: str, requests: list[Request], seconds: float) -> LoadResult:
    return load(url, requests, 16, seconds)


@dataclass
class CpuUse:
    """Where the machine's CPU time went during a setup's slices, in seconds: the mock's processes (``serve`` and its
    workers), Redis, and the whole machine (the rest is the load generator and whatever else ran)."""

    wall: float = 0.0
    mock: float = 0.0
    redis: float = 0.0
    machine: float = 0.0

    def cores(self) -> str:
        """Each share in cores of the machine (2.0 = two cores busy), as the figures' note says it."""
        if self.wall <= 0:
            return ""
        rest = max(0.0, self.machine - self.mock - self.redis)
        idle = max(0.0, os.cpu_count() or 1) - self.machine / self.wall
        return (f"cores busy: the mock {self.mock / self.wall:.2f}, Redis {self.redis / self.wall:.2f}, the load "
                f"generator and the rest {rest / self.wall:.2f}, idle {max(0.0, idle):.2f}")


def measure_shared(report: Report, load: Load, seconds: float, rounds: int) -> None:
    """Token and protected-API rates at 16 connections for each setup, in ``rounds`` interleaved slices; with each,
    where the CPU time went (the workers' gain is bounded by the cores the load generator and Redis leave)."""
    if shutil.which("redis-server") is None:
        report.meta["shared_state"] = "not measured: redis-server is not installed (apt-get install redis-server)"
        return
    with ExitStack() as stack:
        redis, redis_pid = stack.enter_context(served_redis())
        jobs: dict[str, tuple[int, Callable[[float], LoadResult]]] = {}
        for number, (setup, args) in enumerate(SETUPS.items()):
            served = stack.enter_context(served_cli(*(a.replace("{redis}", f"{redis}/{number}") for a in args)))
            plan = plans(served.port)
            for kind, requests in (("token", plan["token"]), ("api_protected", plan["protected"])):
                jobs[f"{kind}_c16_{setup}"] = served.pid, functools.partial(_sixteen, load, served.url, requests)
        totals = dict.fromkeys(jobs, LoadResult(0, 0.0))
        use = {key: CpuUse() for key in jobs}
        for _ in range(rounds):
            for key, (pid, job) in jobs.items():
                before = time.monotonic(), process_cpu(pid), process_cpu(redis_pid), machine_busy()
                totals[key] += job(seconds / rounds)
                after = time.monotonic(), process_cpu(pid), process_cpu(redis_pid), machine_busy()
                spent = [b - a for a, b in zip(before, after, strict=True)]
                slot = use[key]
                slot.wall, slot.mock, slot.redis, slot.machine = (
                    slot.wall + spent[0], slot.mock + spent[1], slot.redis + spent[2], slot.machine + spent[3])
    for key, total in totals.items():
        kind, _, setup = key.rpartition("_c16_")
        what = "token" if kind == "token" else "protected API"
        figure = report.add_load(key, f"{what}, 16 conns, {LABELS[setup]}", total)
        figure.note = "; ".join(part for part in (figure.note, use[key].cores()) if part)
    for kind in ("token", "api_protected"):
        ratio = report.compare(f"{kind}_c16_redis", f"{kind}_c16_memory")
        report.judge(f"{kind}_c16_redis", ">= 85%", ratio >= 0.85)
        gain = report.compare(f"{kind}_c16_redis_w2", f"{kind}_c16_redis")
        if kind == "api_protected":
            report.judge(f"{kind}_c16_redis_w2", ">= 150%", gain >= 1.5)
