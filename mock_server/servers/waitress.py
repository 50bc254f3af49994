"""What the mock changes of waitress: its own refusals, its parser, and the threads control requests run on.

Waitress rejects some requests itself (a control character in a header value, a lowercase method,
oversized headers) with a ``text/plain`` page. The mock answers every request with the body shape
of its endpoint family instead, so a client under test never meets an answer of another kind. Its parser
also refuses a request framed twice (``StrictParser``), and control-plane requests get threads of their own
(``ControlPlaneThreads``): a data plane full of hung requests never keeps ``/_mock/reset`` from releasing them.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote_to_bytes

from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser, ParsingError
from waitress.task import ErrorTask, ThreadedTaskDispatcher

from ..core.bodies import api_error_body, oauth_error_body
from ..core.data import Fixtures
from ..faces.wsgi import classify
from ..pipeline.request import SMUGGLING, framed_twice


def protocol_error_body(fixtures: Fixtures, path: str, status: int, detail: str) -> dict[str, Any]:
    """The body for a request refused at the HTTP level, shaped like its endpoint family's errors."""
    family = classify(path)
    if family == "control":
        return {"error": detail}
    if family == "token" and status < 500:
        return oauth_error_body(fixtures, "invalid_request")
    return api_error_body(fixtures, "invalid_argument" if status < 500 else "internal")


def request_path(request: Any) -> str:
    """The request's path, read from the request line when waitress gave up before splitting it."""
    path = getattr(request, "path", None)
    if isinstance(path, str) and path:
        return path
    parts = (getattr(request, "first_line", None) or b"").split(b" ")
    target = parts[1] if len(parts) > 1 else b"/"
    return unquote_to_bytes(target.split(b"?", 1)[0]).decode("latin-1")


_LINES = re.compile(rb"\r?\n")


class StrictParser(HTTPRequestParser):  # type: ignore[misc]
    """Waitress's parser, refusing a request framed twice (waitress itself lets Transfer-Encoding win)."""

    def parse_header(self, header_plus: bytes) -> None:
        lines = _LINES.split(header_plus)
        if framed_twice({line.split(b":", 1)[0].strip().lower() for line in lines[1:]}):
            self.first_line = lines[0]  # so that the refusal has the body shape of the request's endpoint
            raise ParsingError(SMUGGLING)
        super().parse_header(header_plus)


def json_error_channel(fixtures: Fixtures) -> type[Any]:
    """A waitress channel class whose own error answers carry the mock's JSON bodies."""

    class JsonErrorTask(ErrorTask):  # type: ignore[misc]
        def execute(self) -> None:
            error = self.request.error
            payload = protocol_error_body(fixtures, request_path(self.request), error.code,
                                          f"{error.reason}: {error.body}")
            body = json.dumps(payload, separators=(",", ":")).encode()
            self.status = f"{error.code} {error.reason}"
            self.response_headers.append(("Content-Type", "application/json"))
            self.set_close_on_finish()
            self.content_length = len(body)
            self.write(body)

    class JsonErrorChannel(HTTPChannel):  # type: ignore[misc]
        error_task_class = JsonErrorTask
        parser_class = StrictParser

    return JsonErrorChannel


class ControlPlaneThreads:
    """Routes the waitress server's control-plane requests (``/_mock/``, ``/``) to threads of their own."""

    def __init__(self, server: Any, threads: int = 2) -> None:
        self.dispatcher = ThreadedTaskDispatcher()
        self.dispatcher.set_thread_count(threads)
        self._data = server.add_task
        server.add_task = self.add_task  # waitress hands every ready channel to server.add_task

    def add_task(self, channel: Any) -> None:
        requests = getattr(channel, "requests", None)
        path = getattr(requests[0], "path", None) if requests else None
        if isinstance(path, str) and classify(path) == "control":
            self.dispatcher.add_task(channel)
        else:
            self._data(channel)

    def shutdown(self) -> None:
        self.dispatcher.shutdown(cancel_pending=True, timeout=5)
