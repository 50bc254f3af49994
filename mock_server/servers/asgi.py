"""The ASGI application the server runs: gRPC calls to the gRPC face, the rest to the REST face.

uvicorn serves this app (``uvicorn_server.py``). With the gRPC face on (``--grpc``), a request with
``content-type: application/grpc`` over HTTP/2 goes to ``GrpcFace``; every other request goes to the REST face
(``faces/wsgi.JournalMiddleware``): a token or API request as a ``Request`` built from the scope, straight into the
pipeline; the others (keys, discovery, the control plane: Flask's views) as a WSGI environ. Both run on a thread
pool so a delayed or hung request never blocks the event loop; control-plane requests on a pool of their own, so
that hung requests never hold them up. An API call, REST or gRPC, is answered on the loop itself while nothing can
make it wait (``JournalMiddleware.computes_only``: no fault queued, the resources loaded, no upstream, no request
log that may block, nothing to wait for from other processes): its work is then computation (a cached token
check, the store, the encoding) and a thread hop would cost more than it; else it goes to the pool too. A token
request always goes to the pool: signing takes longer than the loop should wait, and runs in parallel there. A
message over 4 MiB (gRPC's own default receive limit) gets RESOURCE_EXHAUSTED without reaching the face (and
without a journal entry).

A ``drop`` fault closes an HTTP/1.1 connection with no answer at all: the server registers each connection's
transport here (``connections``, by peer address), since ASGI has no way to do it. Over HTTP/2, where the
connection carries other streams, the app sends a 502 head promising one body byte and ends: uvicorn resets the
stream. Python clients (httpx, requests) report that as a broken connection; axios reports a 502 with an aborted stream.
A gRPC call gets ``UNAVAILABLE`` with the message "the connection was dropped" (what a gRPC client makes of a
dropped connection, though a client can then not tell it from a server's own UNAVAILABLE), journaled with
outcome ``drop``. Ending an HTTP/2 stream without its trailers would leave the call hanging until its deadline
instead.
"""

from __future__ import annotations

import asyncio
import functools
import io
import sys
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..core.jsontext import compact
from ..faces.grpc import MAX_MESSAGE_BYTES, GrpcAnswer, GrpcFace
from ..faces.rest import Reply, protocol_error_body
from ..faces.wsgi import HOT_FAMILIES, JournalMiddleware, call_wsgi, classify
from ..pipeline.pipeline import Dropped
from ..pipeline.request import MAX_BODY_BYTES, Request

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
GRPC_UNAVAILABLE = 14


Transport = Any  # asyncio.Transport, as the server hands it over


class AsgiDispatcher:
    """The ASGI application: gRPC to the gRPC face, everything else to the REST face."""

    def __init__(self, wsgi_app: Callable[..., Any], middleware: JournalMiddleware, threads: int,
                 grpc: bool = True) -> None:
        self.wsgi_app = wsgi_app
        self.middleware = middleware
        self.grpc = GrpcFace(middleware)
        self.grpc_on = grpc
        self.connections: dict[tuple[str, int], Transport] = {}  # HTTP/1.1 connections by peer, for a drop
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="scalekit-mock-asgi")
        # The control plane's own threads: a pool full of hung requests never keeps /_mock/reset from them.
        self.control_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="scalekit-mock-control")

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.control_pool.shutdown(wait=False, cancel_futures=True)

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "http":  # lifespan is off (uvicorn_server._config); websockets are not served
            if (self.grpc_on and scope.get("http_version") == "2"
                    and _header(scope, b"content-type").startswith(b"application/grpc")):
                await self._grpc(scope, receive, send)
            else:
                await self._rest(scope, receive, send)

    async def _grpc(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        body, too_big = await _read_body(receive, MAX_MESSAGE_BYTES + 5)
        loop = asyncio.get_running_loop()
        if too_big:
            answer = GrpcAnswer(8, "the request message is larger than 4 MiB")  # RESOURCE_EXHAUSTED
        else:
            try:
                if self.grpc.computes_only(scope["path"]):  # no thread hop: see JournalMiddleware.computes_only
                    answer = self.grpc.serve(scope["path"], scope["headers"], body, may_block=False)
                else:
                    answer = await loop.run_in_executor(self.pool, self.grpc.serve, scope["path"], scope["headers"],
                                                        body)
            except Dropped as exc:
                answer = GrpcAnswer(GRPC_UNAVAILABLE, f"the connection was dropped ({exc})")
        await send({"type": "http.response.start", "status": 200, "trailers": True,
                    "headers": [(b"content-type", b"application/grpc")]})
        await send({"type": "http.response.body", "body": answer.body(), "more_body": False})
        await send({"type": "http.response.trailers", "headers": answer.trailers(), "more_trailers": False})

    async def _rest(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        body, too_big = await _read_body(receive, MAX_BODY_BYTES)
        family = classify(scope["path"])
        # The pipeline's own endpoints get the Request straight from the scope; the others a WSGI environ.
        request = Request.from_asgi(scope, body, too_big) if family in HOT_FAMILIES else None
        try:
            if request is not None and family == "api" and self.middleware.computes_only(request.method):
                reply = self.middleware.serve(request, family, may_block=False)
            else:
                job = (functools.partial(self.middleware.serve, request, family) if request is not None
                       else functools.partial(call_wsgi, self.wsgi_app, _environ(scope, body, too_big)))
                pool = self.control_pool if family == "control" else self.pool
                reply = await asyncio.get_running_loop().run_in_executor(pool, job)
        except Dropped:
            transport = self.connections.pop(tuple(scope.get("client") or ()), None)
            if transport is not None:  # HTTP/1.1: closed unanswered
                transport.close()
                return
            await send({"type": "http.response.start", "status": 502, "headers": [(b"content-length", b"1")]})
            return  # HTTP/2: the stream ends short of its promised body, and uvicorn resets it
        await send({"type": "http.response.start", "status": reply.status, "headers": _head(reply)})
        await send({"type": "http.response.body", "body": reply.body, "more_body": False})


    def protocol_error(self, detail: str, path: str) -> bytes:
        """The JSON body of a 400 for a request the HTTP parser refuses (``uvicorn_server._Http1``)."""
        body = protocol_error_body(self.grpc.control.fixtures, classify(path), 400, detail)
        return compact(body)


async def _read_body(receive: Receive, limit: int) -> tuple[bytes, int]:
    """The request body up to ``limit`` bytes, and its whole length when it was longer (else 0)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size <= limit:
            chunks.append(chunk)
        if not message.get("more_body"):
            break
    return b"".join(chunks), (size if size > limit else 0)


def _header(scope: dict[str, Any], name: bytes) -> bytes:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return b""


def _environ(scope: dict[str, Any], body: bytes, too_big: int) -> dict[str, Any]:
    """A WSGI environ for the request. An oversized body keeps its real length in CONTENT_LENGTH (the
    endpoints answer 413 without reading it) and only its first ``MAX_BODY_BYTES`` in the input."""
    server = scope.get("server") or ("127.0.0.1", 0)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"], "SCRIPT_NAME": "",
        "PATH_INFO": scope["path"].encode("utf-8").decode("latin-1"),
        "QUERY_STRING": scope["query_string"].decode("latin-1"),
        "SERVER_NAME": str(server[0]), "SERVER_PORT": str(server[1]),
        "SERVER_PROTOCOL": f"HTTP/{scope['http_version']}", "REMOTE_ADDR": (scope.get("client") or ("", 0))[0],
        "CONTENT_LENGTH": str(too_big or len(body)),
        "wsgi.version": (1, 0), "wsgi.url_scheme": scope.get("scheme", "http"), "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr, "wsgi.multithread": True, "wsgi.multiprocess": False, "wsgi.run_once": False,
    }
    for raw_name, raw_value in scope["headers"]:
        name = raw_name.decode("latin-1").upper().replace("-", "_")
        value = raw_value.decode("latin-1")
        if name == "CONTENT_TYPE":
            environ["CONTENT_TYPE"] = value
        elif name != "CONTENT_LENGTH":
            key = "HTTP_" + name
            environ[key] = f"{environ[key]}, {value}" if key in environ else value
    return environ


def _head(reply: Reply) -> list[tuple[bytes, bytes]]:
    """The ASGI headers of a reply (``Reply.head``: its Content-Type first, a Content-Length), names lower-case."""
    return [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in reply.head()]
