"""Throughput: raw RS256 signing in threads and processes, and HTTP rates, measured in interleaved slices."""

from __future__ import annotations

import json
import multiprocessing
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import jwt

from ..server import MockServer
from .children import ServedMock, plans, send, served_mock
from .grpcload import grpc_generator, grpc_load
from .peer import TOKEN, Peer, choose_peer, served_peer
from .report import Load, LoadResult, Report


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


LABELS = {"token_c16_grpc_face": "token, 16 conns, gRPC face on", "grpc_get_c16": "gRPC GetOrganization, 16 in flight",
          "sign_one_core": "RS256 sign, 1 thread", "sign_two_threads": "RS256 sign, 2 threads",
          "sign_two_processes": "RS256 sign, 2 processes", "token_c1": "token, 1 conn",
          "token_c16": "token, 16 conns", "api_open_c16": "open API, 16 conns",
          "api_protected_c16": "protected API, 16 conns", "peer_token_c1": "oauth2-mock-server token, 1 conn",
          "peer_token_c16": "oauth2-mock-server token, 16 conns"}


def throughput_jobs(load: Load, served: ServedMock) -> dict[str, Callable[[float], LoadResult]]:
    plan = plans(served.port)
    return {"sign_one_core": lambda s: _sign_for(s, lambda: None),
            "sign_two_threads": lambda s: sign_in_threads(s, 2),
            "sign_two_processes": lambda s: sign_in_processes(s, 2),
            "token_c1": lambda s: load(served.url, plan["token"], 1, s),
            "token_c16": lambda s: load(served.url, plan["token"], 16, s),
            "api_open_c16": lambda s: load(served.url, plan["open"], 16, s),
            "api_protected_c16": lambda s: load(served.url, plan["protected"], 16, s)}


def grpc_face_jobs(load: Load, served: ServedMock) -> dict[str, Callable[[float], LoadResult]]:
    """The same token load on a mock serving the gRPC face (uvicorn), and gRPC calls through that face."""
    plan = plans(served.port)
    token = json.loads(send(served.port, plan["token"][0])[1])["access_token"]
    org = plan["protected"][0].path.rsplit("/", 1)[1]
    jobs = {"token_c16_grpc_face": lambda s: load(served.url, plan["token"], 16, s)}
    if grpc_generator() is not None:
        jobs["grpc_get_c16"] = lambda s: grpc_load(served.port, token, org, 16, s)
    return jobs


@contextmanager
def _peer_jobs(load: Load, peer: Peer | str) -> Iterator[dict[str, Callable[[float], LoadResult]]]:
    """The peer's token rates at 1 and 16 connections, while the block runs (none when there is no peer)."""
    if isinstance(peer, str):
        yield {}
        return
    with served_peer(peer) as url:
        yield {"peer_token_c1": lambda s: load(url, [TOKEN], 1, s),
               "peer_token_c16": lambda s: load(url, [TOKEN], 16, s)}


def measure_throughput(report: Report, load: Load, seconds: float, rounds: int, peer_option: str = "auto") -> None:
    """Every rate in ``rounds`` slices taken in turn, so both sides of a ratio sample the same noise."""
    peer = choose_peer(peer_option)
    report.meta["peer"] = peer if isinstance(peer, str) else peer.where
    with served_mock() as served, served_mock(grpc=True) as served_grpc, _peer_jobs(load, peer) as peer_jobs:
        jobs = {**throughput_jobs(load, served), **grpc_face_jobs(load, served_grpc), **peer_jobs}
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
    two_core = report.compare("token_c16", "sign_two_core")
    if "peer_token_c16" in report.figures:
        report.figures["token_c16"].note += f"; {two_core:.1%} of the two-core sign rate"
        report.judge("token_c16", ">= 130%", report.compare("token_c16", "peer_token_c16") >= 1.30)
        report.judge("token_c1", ">= 100%", report.compare("token_c1", "peer_token_c1") >= 1.00)
    else:
        report.figures["token_c16"].note += f"; not judged: no peer ({peer})"
    report.judge("api_protected_c16", ">= 85%", report.compare("api_protected_c16", "api_open_c16") >= 0.85)
    report.compare("token_c16_grpc_face", "token_c16")
    report.figures["token_c16_grpc_face"].note += "; the same server with the gRPC face on: REST should not change"
    if "grpc_get_c16" in report.figures:
        report.judge("grpc_get_c16", ">= 100%", report.compare("grpc_get_c16", "api_protected_c16") >= 1.00)
        report.figures["grpc_get_c16"].unit = "call/s"
        report.figures["grpc_get_c16"].note += (
            "; h2load, 1 connection (as an SDK keeps)" if grpc_generator() == "h2load" else
            "; grpcio client in one process (no h2load): generator-bound, a floor")
    else:
        report.meta["grpc"] = ("not measured: neither h2load (apt-get install nghttp2-client) nor grpcio "
                               "(pip install 'scalekit-mock[drivers]') is installed")
