"""The second origin: another port on 127.0.0.1 (so another origin, RFC 6454) where a redirect fault sends clients.

It answers every request 404 and journals it (``pipeline/foreign.py``: ``endpoint: "foreign"``, redacted, with
whether it carried a client secret or a token the mock issued), so a check reads what a client took to another
origin from the one journal. It runs on the mock's own server (``uvicorn_server.Listener``), with the mock's TLS
files when the mock serves TLS (the same scheme: only the port differs). It starts on first need, when a redirect
fault without a ``location`` is queued (a mock that never redirects never pays for it), and stops with the mock.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ..pipeline.foreign import ANSWER_STATUS, record_foreign
from ..pipeline.request import MAX_BODY_BYTES, Request
from .uvicorn_server import Listener

if TYPE_CHECKING:
    from ..pipeline.pipeline import Pipeline
    from .tls import TlsFiles

HOST = "127.0.0.1"  # never beyond loopback, whatever the mock is bound to
ANSWER = b"Not Found: the second origin of scalekit-mock serves nothing; it journals what reaches it.\n"


class SecondOrigin:
    """The second origin of one mock: started by the first ``url()``, stopped by ``stop()``."""

    def __init__(self, pipeline: Pipeline, tls: TlsFiles | None) -> None:
        self._pipeline = pipeline
        self._tls = tls
        self._lock = threading.Lock()
        self._listener: Listener | None = None
        self._url = ""

    def url(self) -> str:
        """Its URL (``http(s)://127.0.0.1:<port>``), started now if it is not yet running."""
        with self._lock:
            if self._listener is None:
                scheme = "https" if self._tls is not None else "http"
                sink = _Sink(self._pipeline)
                listener = Listener(sink, HOST, 0, self._tls)
                sink.origin = self._url = f"{scheme}://{HOST}:{listener.port}"
                listener.start()
                self._listener = listener
            return self._url

    @property
    def error(self) -> BaseException | None:
        """An exception its serving thread died of, for ``MockServer.check()``."""
        return self._listener.error if self._listener is not None else None

    def stop(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
        if listener is not None:
            listener.stop()


Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class _Sink:
    """The ASGI app of the second origin: read the request, journal it, answer 404."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.origin = ""  # its URL, once bound

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body, length = await _body(receive)
        headers = tuple((bytes(k).decode("latin-1").lower(), bytes(v).decode("latin-1")) for k, v in scope["headers"])
        request = Request(scope["method"], scope["path"] or "/", scope["query_string"].decode("latin-1"), headers,
                          body, length)
        try:
            record_foreign(self.pipeline, request, self.origin)
        except Exception as exc:  # noqa: BLE001 - kept for MockServer.check(), as the pipeline keeps its own
            self.pipeline.control.errors.append(exc)
        await send({"type": "http.response.start", "status": ANSWER_STATUS,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                (b"content-length", str(len(ANSWER)).encode())]})
        await send({"type": "http.response.body", "body": ANSWER})

    def protocol_error(self, message: str, path: str) -> bytes:
        """The body of a 400 for a request the server refuses before the app sees it (``uvicorn_server._Http1``)."""
        return json.dumps({"error": message}).encode()


async def _body(receive: Receive) -> tuple[bytes, int]:
    """The body, kept up to ``MAX_BODY_BYTES`` (as the mock's own faces keep it), and its whole length."""
    chunks: list[bytes] = []
    kept = length = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break  # the client went away
        chunk = bytes(message.get("body", b""))
        length += len(chunk)
        if kept + len(chunk) <= MAX_BODY_BYTES:
            chunks.append(chunk)
            kept += len(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks), length
