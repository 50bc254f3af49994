"""Load generators: wrk when installed, else keep-alive ``http.client`` connections in processes."""

from __future__ import annotations

import http.client
import json
import math
import multiprocessing
import re
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .report import BenchError, Load, LoadResult, Request

_WRK_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_wrk(text: str) -> LoadResult:
    """Read wrk's summary: completed requests, run time, non-2xx answers and socket errors."""
    done = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m|h)\b", text)
    if done is None:
        raise BenchError(f"cannot read wrk's output:\n{text}")
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return LoadResult(int(done.group(1)), float(done.group(2)) * _WRK_UNITS[done.group(3)],
                      int(bad.group(1)) if bad else 0, sum(map(int, sockets.groups())) if sockets else 0)


def _lua(value: str | None) -> str:
    return "nil" if not value else json.dumps(value, ensure_ascii=True)


def wrk_script(plan: list[Request]) -> str:
    """A wrk script sending the plan round-robin (built in ``init``, once wrk has set the Host header)."""
    rows = []
    for r in plan:
        headers = ", ".join(f"[{_lua(k)}] = {_lua(v)}" for k, v in r.headers.items())
        rows.append(f"{{{_lua(r.method)}, {_lua(r.path)}, {{{headers}}}, {_lua(r.body)}}}")
    return (f"local plan = {{{', '.join(rows)}}}\nlocal built, i = {{}}, 0\n"
            "function init(args)\n  for _, r in ipairs(plan) do\n"
            "    built[#built + 1] = wrk.format(r[1], r[2], r[3], r[4])\n  end\nend\n"
            "function request()\n  i = i % #built + 1\n  return built[i]\nend\n")


def wrk_load(url: str, plan: list[Request], connections: int, seconds: float) -> LoadResult:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(wrk_script(plan))
    try:
        cmd = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, math.ceil(seconds))}s", "--timeout", "10s",
               "-s", script.name, url]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, check=False)
    finally:
        Path(script.name).unlink()
    if done.returncode != 0:
        raise BenchError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    return parse_wrk(done.stdout)


def _py_connection(port: int, plan: list[Request], seconds: float) -> tuple[int, int, int]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    done = bad = errors = 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        r = plan[(done + errors) % len(plan)]
        try:
            conn.request(r.method, r.path, body=r.body or None, headers=r.headers)
            response = conn.getresponse()
            response.read()
        except (OSError, http.client.HTTPException):
            errors += 1
            conn.close()  # http.client reconnects on the next request
            continue
        done, bad = done + 1, bad + (not 200 <= response.status < 300)
    conn.close()
    return done, bad, errors


def _py_process(port: int, plan: list[Request], threads: int, seconds: float, out: Any) -> None:
    totals: list[tuple[int, int, int]] = []
    workers = [threading.Thread(target=lambda: totals.append(_py_connection(port, plan, seconds)))
               for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    out.put(tuple(map(sum, zip(*totals, strict=True))))


def python_load(url: str, plan: list[Request], connections: int, seconds: float) -> LoadResult:
    """Keep-alive connections spread over processes (never the server's GIL); generator-bound."""
    ctx, port = multiprocessing.get_context("spawn"), urlsplit(url).port or 80
    nprocs = max(1, min(connections, multiprocessing.cpu_count()))
    out = ctx.Queue()
    shares = [connections // nprocs + (i < connections % nprocs) for i in range(nprocs)]
    procs = [ctx.Process(target=_py_process, args=(port, plan, n, seconds, out)) for n in shares]
    for proc in procs:
        proc.start()
    parts = [out.get(timeout=seconds + 60) for _ in procs]
    for proc in procs:
        proc.join()
    return LoadResult(sum(p[0] for p in parts), seconds, sum(p[1] for p in parts), sum(p[2] for p in parts))


def pick_load(name: str) -> tuple[Load, str]:
    if name == "wrk" or (name == "auto" and shutil.which("wrk")):
        if not shutil.which("wrk"):
            raise BenchError("wrk is not installed")
        return wrk_load, "wrk (1 thread)"
    return python_load, "python http.client in processes: figures are GENERATOR-BOUND"


def drive(load: Load, url: str, plan: list[Request], total: int, connections: int = 16) -> LoadResult:
    """Send at least ``total`` requests, in runs sized from the rate seen so far (at most 10 s each)."""
    result = LoadResult(0, 0.0)
    while result.requests < total:
        left = total - result.requests
        seconds = 1.0 if not result.rate else min(10.0, max(1.0, left / result.rate))
        part = load(url, plan, connections, seconds)
        if not part.requests:
            raise BenchError(f"no request completed: {part.problems()}")
        result += part
    return result
