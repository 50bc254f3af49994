"""gRPC unary calls through the mock's gRPC face: ``GetOrganization`` kept in flight on one HTTP/2 connection at a time.

The load comes from h2load (nghttp2, C) when installed: it posts the framed request with the gRPC headers over h2c
and counts answers, on a new connection every ``CALLS_PER_CONNECTION`` calls. Every gRPC answer is HTTP 200, so
before the run one call is checked to carry a response message (an error has none). Without h2load a grpcio client
in a child process does the same; it is Python, so its own cost per call is of the order of the mock's and the
figure is a floor (the report says which generator ran). With neither, the figure is left out.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from .children import child_output
from .report import BenchError, LoadResult

GRPC_CHILD = "from mock_server.bench.grpcload import _grpc_child; _grpc_child()"
GET_ORGANIZATION = "/scalekit.v1.organizations.OrganizationService/GetOrganization"
# zttp 0.0.35 ends an HTTP/2 connection after 4,096 streams (GOAWAY ENHANCE_YOUR_CALM, "retired stream history
# limit"), and h2load does not reconnect: one run of h2load sends fewer calls than that.
CALLS_PER_CONNECTION = 4_000


def grpc_generator() -> str | None:
    """``"h2load"``, ``"grpcio"`` or ``None``: what can send gRPC load here."""
    if shutil.which("h2load"):
        return "h2load"
    if importlib.util.find_spec("grpc") is not None:
        return "grpcio"
    return None


def request_message(org_id: str) -> bytes:
    """The ``GetOrganizationRequest`` of ``org_id``."""
    # Not imported with this module: the bench's children import it, and a mock child must not carry protobuf
    # (its import time, its memory) unless it serves gRPC.
    from ..faces.messages import catalog

    return catalog().rpc(GET_ORGANIZATION[1:]).request(id=org_id).SerializeToString()


def framed_request(org_id: str) -> bytes:
    """A ``GetOrganizationRequest`` as a unary gRPC body: flag 0, big-endian length, the message."""
    message = request_message(org_id)
    return struct.pack(">BI", 0, len(message)) + message


def grpc_load(port: int, token: str, org_id: str, in_flight: int, seconds: float) -> LoadResult:
    """``GetOrganization`` calls for ``seconds`` with ``in_flight`` outstanding on one HTTP/2 connection."""
    if grpc_generator() == "h2load":
        return h2load_grpc(port, token, org_id, in_flight, seconds)
    out = json.loads(child_output(GRPC_CHILD, str(port), token, org_id, str(in_flight), str(seconds)))
    return LoadResult(out["ok"], out["seconds"], non_2xx=out["errors"])


def check_call(port: int, token: str, org_id: str) -> None:
    """One call over h2c with prior knowledge: it must come back with a response message."""
    with httpx.Client(http1=False, http2=True, timeout=10) as client:
        answer = client.post(f"http://127.0.0.1:{port}{GET_ORGANIZATION}", content=framed_request(org_id),
                             headers={"content-type": "application/grpc", "te": "trailers",
                                      "authorization": f"Bearer {token}"})
    if answer.status_code != 200 or len(answer.content) <= 5:
        raise BenchError(f"the gRPC check call got HTTP {answer.status_code} and {len(answer.content)} body bytes, "
                         "not a GetOrganization answer")


def parse_h2load(text: str, in_flight: int = 0) -> LoadResult:
    """Read h2load's summary: requests done, the time they took, failures and non-2xx answers. When its duration
    (``-D``) runs out, h2load closes the connection and counts the calls then in flight as failed and errored:
    up to ``in_flight`` of those are the cut, not the server's failures."""
    finished = re.search(r"finished in ([\d.]+)(ms|s),", text)
    done = re.search(r"requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, "
                     r"(\d+) timeout", text)
    if finished is None or done is None:
        raise BenchError(f"cannot read h2load's output:\n{text[-2000:]}")
    seconds = float(finished.group(1)) / (1000 if finished.group(2) == "ms" else 1)
    _, succeeded, failed, errored, timeouts = map(int, done.groups())
    cut = min(failed, errored, in_flight)
    return LoadResult(succeeded, seconds, non_2xx=failed - cut, socket_errors=errored - cut + timeouts)


def h2load_grpc(port: int, token: str, org_id: str, in_flight: int, seconds: float) -> LoadResult:
    """Runs of ``CALLS_PER_CONNECTION`` calls, each on a connection of its own (as a client reconnects after the
    server's GOAWAY), until ``seconds`` have passed: the time is h2load's own, connecting included."""
    check_call(port, token, org_id)
    with tempfile.NamedTemporaryFile("wb", suffix=".bin", delete=False) as body:
        body.write(framed_request(org_id))
    try:
        cmd = ["h2load", "-c", "1", "-m", str(in_flight), "-t", "1", "-n", str(CALLS_PER_CONNECTION),
               "-d", body.name, "-H", "content-type: application/grpc", "-H", "te: trailers",
               "-H", f"authorization: Bearer {token}", f"http://127.0.0.1:{port}{GET_ORGANIZATION}"]
        result = LoadResult(0, 0.0)
        while result.seconds < seconds:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
            if done.returncode != 0:
                raise BenchError(f"h2load failed: {done.stderr[-2000:]}")
            result += parse_h2load(done.stdout)  # -n: no call is cut short
    finally:
        Path(body.name).unlink()
    return result


def _grpc_child() -> None:
    """Child entry: argv = port, token, organization id, calls in flight, seconds; prints JSON counts."""
    import threading

    import grpc

    port, token, org_id = sys.argv[1], sys.argv[2], sys.argv[3]
    in_flight, seconds = int(sys.argv[4]), float(sys.argv[5])
    request = request_message(org_id)
    metadata = [("authorization", f"Bearer {token}")]
    counts = {"ok": 0, "errors": 0}
    lock = threading.Lock()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = channel.unary_unary(GET_ORGANIZATION, request_serializer=None, response_deserializer=None)
        stub(request, metadata=metadata, timeout=10)  # connected and warm before the clock starts
        deadline = time.perf_counter() + seconds
        began = time.perf_counter()
        outstanding = threading.Semaphore(in_flight)

        def finished(future: grpc.Future) -> None:
            with lock:
                counts["ok" if future.code() == grpc.StatusCode.OK else "errors"] += 1
            outstanding.release()

        while time.perf_counter() < deadline:
            outstanding.acquire()
            stub.future(request, metadata=metadata, timeout=10).add_done_callback(finished)
        for _ in range(in_flight):  # wait for the last calls
            outstanding.acquire()
        elapsed = time.perf_counter() - began
    if counts["ok"] == 0:
        raise BenchError("no gRPC call succeeded")
    print(json.dumps({**counts, "seconds": elapsed}))
