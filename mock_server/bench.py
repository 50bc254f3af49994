"""``scalekit-mock bench``: how fast the mock issues tokens and serves the API, starts, and how its memory holds.

Machines are shared and noisy, so every figure is printed beside the anchor it is judged against,
measured in the same run: compare ratios within one run, never absolute times across runs.
"""

from __future__ import annotations

import argparse
import http.client
import importlib.util
import json
import math
import multiprocessing
import os
import re
import select
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlencode, urlsplit

import jwt
from waitress.server import create_server

from .config import MockConfig
from .errors import MockError
from .server import MockServer

FORM = "application/x-www-form-urlencoded"
SERVE_CHILD = "from mock_server.bench import _serve_child; _serve_child()"
START_CHILD = "from mock_server.bench import _start_child; _start_child()"
IMPORT_CHILD = "import time; t = time.perf_counter(); import mock_server; print(time.perf_counter() - t)"
FLOOR_CHILD = "import sys, mock_server; print('imported', flush=True); sys.stdin.read()"
CLI_CHILD = "import sys; from mock_server.cli import main; sys.exit(main(sys.argv[1:]))"
GROWTH_LIMIT = 0.10  # RSS may grow this much over the warm-up figure and still count as flat
NOISE_LIMIT = 0.10  # above this share of the CPUs used by other processes, a run is flagged as unreliable


class BenchError(MockError):
    """The benchmark could not run (the mock did not start or did not issue a token)."""


@dataclass(frozen=True)
class Request:
    """One request of a load plan; a plan is sent round-robin on every connection."""

    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""


@dataclass(frozen=True)
class LoadResult:
    """What a load generator saw: answers, seconds, and answers or sockets that went wrong."""

    requests: int
    seconds: float
    non_2xx: int = 0
    socket_errors: int = 0

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    def __add__(self, other: LoadResult) -> LoadResult:
        return LoadResult(self.requests + other.requests, self.seconds + other.seconds,
                          self.non_2xx + other.non_2xx, self.socket_errors + other.socket_errors)

    def problems(self) -> str:
        """Empty when every request got a 2xx answer; otherwise what makes the figure suspect."""
        if not self.non_2xx and not self.socket_errors:
            return ""
        return f"SUSPECT: {self.non_2xx} non-2xx answers, {self.socket_errors} socket errors"


Load = Callable[[str, list[Request], int, float], LoadResult]  # (url, plan, connections, seconds)


@dataclass
class Figure:
    """One measured figure; ``anchor`` names the figure of the same run it is compared with."""

    label: str
    value: float
    unit: str
    anchor: str = ""
    ratio: float | None = None
    target: str = ""
    result: str = ""
    note: str = ""


@dataclass(frozen=True)
class Options:
    """What to measure and how long: ``duration`` seconds per throughput figure, ``requests`` for memory."""

    duration: float = 5.0
    requests: int = 100_000
    warmup: int = MockConfig().journal_size  # fill the journal ring before the first reading
    rounds: int = 3
    warm_starts: int = 20
    generator: str = "auto"
    json_path: str | None = None


class Report:
    """The figures of one run, in the order measured, with run-wide facts in ``meta``."""

    def __init__(self) -> None:
        self.figures: dict[str, Figure] = {}
        self.meta: dict[str, Any] = {"cpus": multiprocessing.cpu_count(), "python": sys.version.split()[0]}

    def add(self, key: str, label: str, value: float, unit: str, note: str = "") -> Figure:
        self.figures[key] = Figure(label, value, unit, note=note)
        return self.figures[key]

    def add_load(self, key: str, label: str, result: LoadResult, unit: str = "req/s") -> Figure:
        figure = self.add(key, label, result.rate, unit, f"{result.requests:,} in {result.seconds:.1f} s")
        if result.problems():
            figure.result, figure.note = "SUSPECT", f"{figure.note}; {result.problems()}"
        return figure

    def compare(self, key: str, anchor: str) -> float:
        figure, base = self.figures[key], self.figures[anchor].value
        figure.anchor, figure.ratio = anchor, (figure.value / base if base else None)
        return figure.ratio or 0.0

    def judge(self, key: str, target: str, ok: bool) -> None:
        figure = self.figures[key]
        verdict = "PASS" if ok else "MISS"
        figure.target, figure.result = target, (f"SUSPECT/{verdict}" if figure.result else verdict)

    def to_json(self) -> dict[str, Any]:
        return {"meta": self.meta, "figures": {k: asdict(f) for k, f in self.figures.items()}}


# -- raw signing ----------------------------------------------------------------------------------
def _signing_setup() -> tuple[dict[str, Any], Any, str]:
    """The claims, key and kid the mock signs with: one token issued as the endpoint does, read back."""
    mock = MockServer()
    plane = mock.control
    token = plane.issuer.issue(plane.policy, mock.default_client, None, plane.now()).access_token
    kid = str(jwt.get_unverified_header(token)["kid"])
    return jwt.decode(token, options={"verify_signature": False}), plane.keys.current.private_key, kid


def _sign_for(seconds: float, ready: Callable[[], Any]) -> LoadResult:
    """Sign for ``seconds`` after ``ready()`` returns: signatures made, seconds taken."""
    claims, key, kid = _signing_setup()
    ready()
    count, began = 0, time.perf_counter()
    while time.perf_counter() - began < seconds:
        jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})
        count += 1
    return LoadResult(count, time.perf_counter() - began)


def _sign_process(seconds: float, barrier: Any, out: Any) -> None:
    out.put(_sign_for(seconds, barrier.wait))


def _parallel(parts: list[LoadResult]) -> LoadResult:
    """Workers that ran side by side: their counts add up over the time they shared."""
    return LoadResult(sum(p.requests for p in parts), statistics.fmean(p.seconds for p in parts))


def sign_in_threads(seconds: float, n: int) -> LoadResult:
    barrier, parts = threading.Barrier(n), []
    threads = [threading.Thread(target=lambda: parts.append(_sign_for(seconds, barrier.wait))) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return _parallel(parts)


def sign_in_processes(seconds: float, n: int) -> LoadResult:
    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=_sign_process, args=(seconds, barrier, out)) for _ in range(n)]
    for proc in procs:
        proc.start()
    parts = [out.get(timeout=seconds + 60) for _ in procs]
    for proc in procs:
        proc.join()
    return _parallel(parts)


# -- load generators ------------------------------------------------------------------------------
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


# -- the mock in a child process ------------------------------------------------------------------
def _serve_child() -> None:
    """Child entry: a default mock on the port in argv (0: any); prints its port, stops when stdin closes."""
    server = MockServer(port=int(sys.argv[1])).start()
    print(server.port, flush=True)
    sys.stdin.read()
    server.stop()


@dataclass(frozen=True)
class ServedMock:
    pid: int
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _end(proc: subprocess.Popen[bytes]) -> None:
    """Close the child's stdin (it stops on that), then terminate it, then kill it."""
    steps: list[Callable[[], object]] = [proc.stdin.close if proc.stdin else proc.poll, proc.terminate, proc.kill]
    for step in steps:
        step()
        try:
            proc.wait(10)
            return
        except subprocess.TimeoutExpired:
            continue


def _read_port(proc: subprocess.Popen[bytes], errors: IO[bytes]) -> int:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 60)
    line = proc.stdout.readline().strip() if ready else b""
    if not line.isdigit():
        errors.seek(0)
        raise BenchError(f"the mock did not start: {errors.read()[-2000:].decode(errors='replace')}")
    return int(line)


@contextmanager
def served_mock() -> Iterator[ServedMock]:
    """A default mock in its own process, so the load generator never shares its GIL."""
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen([sys.executable, "-c", SERVE_CHILD, "0"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=errors)
        try:
            yield ServedMock(proc.pid, _read_port(proc, errors))
        finally:
            _end(proc)


def send(port: int, r: Request, timeout: float = 10.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(r.method, r.path, body=r.body or None, headers=r.headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def token_request(mock: MockServer) -> Request:
    body = urlencode({"grant_type": "client_credentials", "client_id": mock.client_id,
                      "client_secret": mock.client_secret})
    return Request("POST", "/oauth/token", {"Content-Type": FORM}, body)


def plans(port: int) -> dict[str, list[Request]]:
    """The benchmark's requests, from the fixtures: each is checked to answer 200 first."""
    mock = MockServer()  # never started: it only tells the default client, routes and organizations
    token = token_request(mock)
    status, body = send(port, token)
    if status != 200:
        raise BenchError(f"the token request got {status}: {body[:300]!r}")
    org = mock.control.fixtures.organizations["organizations"][0]["id"]
    route = mock.control.routes.by_rpc("scalekit.v1.organizations.OrganizationService/GetOrganization")
    assert route is not None
    bearer = {"Authorization": f"Bearer {json.loads(body)['access_token']}"}
    protected = Request("GET", route.row.template.replace("{id}", org), bearer)
    opened = next(r for r in mock.control.routes.routes
                  if r.policy == "none" and r.row.method == "GET" and "{" not in r.row.template)
    unauthenticated = Request("GET", opened.row.template)
    for r in (protected, unauthenticated):
        status, body = send(port, r)
        if status != 200:
            raise BenchError(f"{r.method} {r.path} got {status}: {body[:300]!r}")
    return {"token": [token], "protected": [protected], "open": [unauthenticated],
            "mixed": [token, protected, unauthenticated]}


# -- throughput: signing and HTTP, interleaved ---------------------------------------------------
LABELS = {"sign_one_core": "RS256 sign, 1 thread", "sign_two_threads": "RS256 sign, 2 threads",
          "sign_two_processes": "RS256 sign, 2 processes", "token_c1": "token, 1 conn",
          "token_c16": "token, 16 conns", "api_open_c16": "open API, 16 conns",
          "api_protected_c16": "protected API, 16 conns"}


def throughput_jobs(load: Load, served: ServedMock) -> dict[str, Callable[[float], LoadResult]]:
    plan = plans(served.port)
    return {"sign_one_core": lambda s: _sign_for(s, lambda: None),
            "sign_two_threads": lambda s: sign_in_threads(s, 2),
            "sign_two_processes": lambda s: sign_in_processes(s, 2),
            "token_c1": lambda s: load(served.url, plan["token"], 1, s),
            "token_c16": lambda s: load(served.url, plan["token"], 16, s),
            "api_open_c16": lambda s: load(served.url, plan["open"], 16, s),
            "api_protected_c16": lambda s: load(served.url, plan["protected"], 16, s)}


def measure_throughput(report: Report, load: Load, seconds: float, rounds: int) -> None:
    """Every rate in ``rounds`` slices taken in turn, so both sides of a ratio sample the same noise."""
    with served_mock() as served:
        jobs = throughput_jobs(load, served)
        totals = dict.fromkeys(jobs, LoadResult(0, 0.0))
        for _ in range(rounds):
            for key, job in jobs.items():
                totals[key] += job(seconds / rounds)
    for key in ("sign_one_core", "sign_two_threads", "sign_two_processes"):
        report.add_load(key, LABELS[key], totals.pop(key), "sign/s")
    best = max(("sign_two_threads", "sign_two_processes"), key=lambda k: report.figures[k].value)
    report.add("sign_two_core", "RS256 sign, two-core", report.figures[best].value, "sign/s",
               f"the higher of 2 threads and 2 processes: {LABELS[best]}")
    for key, total in totals.items():
        report.add_load(key, LABELS[key], total)
    for key in ("sign_two_threads", "sign_two_processes"):
        report.compare(key, "sign_one_core")
    report.compare("token_c1", "sign_two_core")
    one_core = report.figures["token_c1"].value / report.figures["sign_one_core"].value
    report.figures["token_c1"].note += f"; {one_core:.1%} of the one-core sign rate"
    report.judge("token_c16", ">= 40%", report.compare("token_c16", "sign_two_core") >= 0.40)
    report.judge("api_protected_c16", ">= 80%", report.compare("api_protected_c16", "api_open_c16") >= 0.80)


# -- start times ----------------------------------------------------------------------------------
def _hello(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]


def _bare_waitress_start() -> float:
    """The floor under ``MockServer.start``: a waitress server for a trivial app, in a thread."""
    began = time.perf_counter()
    server = create_server(_hello, host="127.0.0.1", port=0, threads=MockConfig().threads)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    elapsed = time.perf_counter() - began
    server.trigger.pull_trigger(lambda: [channel.handle_close() for channel in list(server._map.values())])
    server.task_dispatcher.shutdown(cancel_pending=True, timeout=5)
    thread.join(5)
    return elapsed


def _mock_start() -> float:
    began = time.perf_counter()
    server = MockServer().start()
    elapsed = time.perf_counter() - began
    server.stop()
    return elapsed


def _start_child() -> None:
    """Child entry: the first ``MockServer().start()`` of the process, the median of later ones, and
    the median bare-waitress start, in ms, as JSON."""
    count = int(sys.argv[1])
    cold = _mock_start()
    warm = [_mock_start() for _ in range(count)]
    bare = [_bare_waitress_start() for _ in range(count)]
    print(json.dumps({"cold": cold * 1000, "warm": statistics.median(warm) * 1000,
                      "bare": statistics.median(bare) * 1000}))


def _child_output(code: str, *args: str) -> str:
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise BenchError(f"a measuring child process failed: {done.stderr[-2000:]}")
    return done.stdout


def measure_start(report: Report, warm_starts: int) -> None:
    report.add("import", "import mock_server", float(_child_output(IMPORT_CHILD)) * 1000, "ms",
               "in a fresh process; not part of the start figures")
    times = json.loads(_child_output(START_CHILD, str(warm_starts)))
    report.add("bare_start", "bare waitress start", times["bare"], "ms", f"median of {warm_starts}")
    report.add("start_cold", "MockServer start, cold", times["cold"], "ms", "first in a fresh process, imports done")
    report.add("start_warm", "MockServer start, warm", times["warm"], "ms", f"median of {warm_starts} later starts")
    for key in ("start_cold", "start_warm"):
        report.compare(key, "bare_start")
        report.judge(key, "<= 20 ms", report.figures[key].value <= 20.0)


# -- launch to first token ------------------------------------------------------------------------
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
        _end(proc)


def _launch_to_token(cmd: list[str], env: dict[str, str], port: int, request: Request) -> float:
    began = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        return _first_token(proc, port, request, began)
    finally:
        proc.terminate()  # the CLI stops on SIGTERM, the MockServer entry too
        _end(proc)


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


# -- memory ---------------------------------------------------------------------------------------
def status_mib(pid: int, field_name: str = "VmRSS") -> float:
    """A memory figure of ``/proc/<pid>/status`` (kB there), in MiB."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError as exc:
        raise BenchError(f"cannot read the server's memory: {exc}") from exc
    found = re.search(rf"^{field_name}:\s+(\d+) kB", text, re.MULTILINE)
    if found is None:
        raise BenchError(f"/proc/{pid}/status has no {field_name}")
    return int(found.group(1)) / 1024


def measure_memory(report: Report, load: Load, warmup: int, total: int) -> None:
    with served_mock() as served:
        mixed = plans(served.port)["mixed"]
        idle = status_mib(served.pid)
        warm = drive(load, served.url, mixed, warmup) if warmup else LoadResult(0, 0.0)
        warm_rss = status_mib(served.pid)
        after = drive(load, served.url, mixed, total)
        after_rss, peak = status_mib(served.pid), status_mib(served.pid, "VmHWM")
    report.add("rss_idle", "RSS idle", idle, "MiB", "after start and 3 check requests")
    report.add_load("mixed_c16", "mixed, 16 conns", warm + after).note += " (token, protected, open)"
    report.add("rss_warm", "RSS after warm-up", warm_rss, "MiB",
               f"after {warm.requests:,} mixed requests; the journal ring holds {MockConfig().journal_size:,}")
    rss = report.add("rss_after", f"RSS after {after.requests:,} more", after_rss, "MiB",
                     f"growth {after_rss - warm_rss:+.1f} MiB over the warm-up RSS; peak {peak:.1f} MiB")
    if after.problems():
        rss.result, rss.note = "SUSPECT", f"{rss.note}; {after.problems()}"
    ratio = report.compare("rss_after", "rss_warm")
    report.judge("rss_after", f"growth <= {GROWTH_LIMIT:.0%}", ratio <= 1 + GROWTH_LIMIT)


# -- noise from other processes -------------------------------------------------------------------
def cpu_snapshot() -> tuple[float, float, float]:
    """(wall time, busy CPU seconds of the whole machine, CPU seconds of this process and its reaped children)."""
    ticks = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    busy = (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # all but idle and iowait
    own = os.times()
    return time.monotonic(), busy, own.user + own.system + own.children_user + own.children_system


def others_share(before: tuple[float, float, float], after: tuple[float, float, float]) -> float:
    """The share of the machine's CPU time that processes outside this run used between two snapshots."""
    wall, busy, own = (b - a for a, b in zip(before, after, strict=True))
    return max(0.0, busy - own) / (wall * multiprocessing.cpu_count()) if wall > 0 else 0.0


# -- the command ----------------------------------------------------------------------------------
def _value(figure: Figure) -> str:
    places = 0 if figure.unit.endswith("/s") else 1
    return f"{figure.value:,.{places}f} {figure.unit}"


def render(report: Report) -> str:
    """The figures as a table, then the notes, then how the run was made."""
    rows = [("figure", "value", "anchor", "ratio", "target", "result")]
    for f in report.figures.values():
        anchor = report.figures[f.anchor].label if f.anchor else ""
        rows.append((f.label, _value(f), anchor, "" if f.ratio is None else f"{f.ratio:.1%}", f.target, f.result))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "-" * max(map(len, lines)))
    lines += ["", "notes:"] + [f"  {f.label}: {f.note}" for f in report.figures.values() if f.note]
    steps = report.meta.get("others_by_step", {})
    lines += [f"  run: {', '.join(f'{k}={v}' for k, v in report.meta.items() if k != 'others_by_step')}",
              f"  CPU share used by other processes: {', '.join(f'{k} {v:.0%}' for k, v in steps.items())}"]
    if report.meta["generator"].startswith("python"):
        lines += ["NOTE: wrk was not used: the Python load generator shares these CPUs and saturates first, so the "
                  "HTTP figures are GENERATOR-BOUND (a floor on the mock's speed, not its measure)"]
    if report.meta.get("others_cpu_share", 0) > NOISE_LIMIT:
        lines += [f"WARNING: other processes used {report.meta['others_cpu_share']:.0%} of the CPUs during the run: "
                  "even the ratios are unreliable; run again on a quiet machine"]
    return "\n".join(lines)


def run(options: Options) -> Report:
    report = Report()
    load, report.meta["generator"] = pick_load(options.generator)
    report.meta.update(duration_s=options.duration, rounds=options.rounds, requests=options.requests,
                       warmup=options.warmup)
    steps: list[tuple[str, Callable[[], None]]] = [
        ("signing and HTTP throughput", lambda: measure_throughput(report, load, options.duration, options.rounds)),
        ("start time", lambda: measure_start(report, options.warm_starts)),
        ("launch to first token", lambda: measure_first_token(report, options.rounds)),
        (f"memory over {options.requests:,} requests", lambda: measure_memory(report, load, options.warmup,
                                                                               options.requests)),
    ]
    first = cpu_snapshot()
    for name, step in steps:
        before = cpu_snapshot()
        step()
        after = cpu_snapshot()
        share = report.meta.setdefault("others_by_step", {})[name] = round(others_share(before, after), 3)
        print(f"bench: {name}: {after[0] - before[0]:.1f} s; other processes used {share:.0%} of the CPUs",
              file=sys.stderr, flush=True)
    report.meta["others_cpu_share"] = round(others_share(first, cpu_snapshot()), 3)
    return report


def parse_options(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(prog="scalekit-mock bench", description=__doc__.splitlines()[0].strip("`"))
    parser.add_argument("--duration", type=float, help="seconds per throughput figure (default 5; quick 1)")
    parser.add_argument("--requests", type=int, help="requests for the memory figure (default 100000; quick 10000)")
    parser.add_argument("--warmup", type=int, default=Options.warmup, help="warm-up requests before the first RSS")
    parser.add_argument("--rounds", type=int, help="interleaved slices per rate (default 3; quick 1)")
    parser.add_argument("--quick", action="store_true", help="short runs, for a smoke test")
    parser.add_argument("--generator", choices=("auto", "wrk", "python"), default="auto", help="load generator")
    parser.add_argument("--json", dest="json_path", metavar="PATH", help="also write every figure as JSON")
    args = parser.parse_args(argv)
    quick = Options(duration=1.0, requests=10_000, rounds=1, warm_starts=5) if args.quick else Options()
    options = replace(quick, warmup=args.warmup, generator=args.generator, json_path=args.json_path,
                      rounds=quick.rounds if args.rounds is None else args.rounds,
                      duration=quick.duration if args.duration is None else args.duration,
                      requests=quick.requests if args.requests is None else args.requests)
    if options.duration <= 0 or options.requests < 1 or options.rounds < 1 or options.warmup < 0:
        parser.error("--duration, --requests and --rounds must be positive, --warmup not negative")
    return options


def main(argv: list[str] | None = None) -> int:
    """Run every measurement and print the table; 0 when it ran (targets missed or not), 2 when it could not."""
    try:
        options = parse_options(argv)
    except SystemExit as exc:  # argparse's way out: 0 for --help, 2 for a usage error
        return exc.code if isinstance(exc.code, int) else 2
    try:
        report = run(options)
    except MockError as exc:
        print(f"scalekit-mock bench: {exc}", file=sys.stderr)
        return 2
    print(render(report))
    if options.json_path:
        Path(options.json_path).write_text(json.dumps(report.to_json(), indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
