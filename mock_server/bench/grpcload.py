"""gRPC unary calls through the mock's gRPC face: a grpcio client in a child process, calls kept in flight.

grpcio comes with the ``drivers`` extra; without it the gRPC figure is left out and the report says why.
The client is Python: its own cost per call is of the order of the mock's, so the figure is a floor
(generator-bound), compared in the same run with the REST protected-API rate from wrk.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time

from .children import child_output
from .report import BenchError, LoadResult

GRPC_CHILD = "from mock_server.bench.grpcload import _grpc_child; _grpc_child()"
GET_ORGANIZATION = "/scalekit.v1.organizations.OrganizationService/GetOrganization"


def grpc_available() -> bool:
    return importlib.util.find_spec("grpc") is not None


def grpc_load(port: int, token: str, org_id: str, in_flight: int, seconds: float) -> LoadResult:
    """``GetOrganization`` calls for ``seconds`` with ``in_flight`` outstanding on one HTTP/2 connection."""
    out = json.loads(child_output(GRPC_CHILD, str(port), token, org_id, str(in_flight), str(seconds)))
    return LoadResult(out["ok"], out["seconds"], non_2xx=out["errors"])


def _grpc_child() -> None:
    """Child entry: argv = port, token, organization id, calls in flight, seconds; prints JSON counts."""
    import threading

    import grpc

    from ..protobuf import str_field

    port, token, org_id = sys.argv[1], sys.argv[2], sys.argv[3]
    in_flight, seconds = int(sys.argv[4]), float(sys.argv[5])
    request = str_field(1, org_id)
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
