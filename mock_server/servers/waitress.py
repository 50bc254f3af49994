"""What the mock changes of waitress: its own refusals, its parser, and the threads control requests run on.

Waitress rejects some requests itself (a control character in a header value, a lowercase method,
oversized headers) with a ``text/plain`` page. The mock answers every request with the body shape
of its endpoint family instead, so a client under test never meets an answer of another kind. Its parser
also refuses a request framed twice (``StrictParser``), and control-plane requests get threads of their own
(``ControlPlaneThreads``): a data plane full of hung requests never keeps ``/_mock/reset`` from releasing them.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_to_bytes

from waitress.channel import ClientDisconnected, HTTPChannel
from waitress.parser import HTTPRequestParser, ParsingError
from waitress.server import create_server
from waitress.task import ErrorTask, ThreadedTaskDispatcher

from ..core.data import Fixtures
from ..core.errors import MockError
from ..faces.rest import protocol_error_body
from ..faces.wsgi import classify
from ..pipeline.request import SMUGGLING, framed_twice

if TYPE_CHECKING:
    from ..core.config import MockConfig
    from ..core.control import ControlPlane
    from .tls import TlsFiles


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
            payload = protocol_error_body(fixtures, classify(request_path(self.request)), error.code,
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


class WaitressServer:
    """The mock's app on waitress (plain HTTP/1.1), in a thread (``servers/base.Server``)."""

    drop_error = ClientDisconnected  # raised inside the app, it makes waitress close the connection unanswered
    scheme = "http"
    tls: TlsFiles | None = None

    def __init__(self, app: Any, control: ControlPlane, config: MockConfig) -> None:
        # poll(), not waitress's default select(): select cannot watch a descriptor numbered over 1023, so past
        # about a thousand open connections waitress would stop serving any of them.
        try:
            server = create_server(app, host=config.host, port=config.port, threads=config.threads,
                                   ident="scalekit-mock", channel_timeout=300, cleanup_interval=30,
                                   clear_untrusted_proxy_headers=True, connection_limit=connection_limit(),
                                   asyncore_use_poll=True)
        except OSError as exc:
            raise MockError(f"cannot listen on {config.host}:{config.port}: {exc}") from exc
        server.channel_class = json_error_channel(control.fixtures)  # waitress's own 400s in JSON too
        self._control_threads = ControlPlaneThreads(server)
        self._server = server
        self.port = int(server.effective_port)
        self.error: BaseException | None = None
        self._thread: threading.Thread | None = None
        # Waitress warns "Task queue depth is N" whenever connections outnumber threads: normal under load.
        logging.getLogger("waitress.queue").setLevel(logging.ERROR)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._serve, name=f"scalekit-mock:{self.port}", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        try:
            self._server.run()
        except Exception as exc:  # noqa: BLE001 - reported to the test through MockServer.check()
            self.error = exc

    def stop(self) -> None:
        """Close every connection, stop the threads, wait for the serving thread (each step bounded)."""
        server = self._server
        done = threading.Event()

        def close_all() -> None:
            for channel in list(server._map.values()):
                channel.handle_close()
            done.set()

        logging.getLogger("waitress").disabled = True
        try:
            server.trigger.pull_trigger(close_all)
        except OSError:
            # The trigger is already closed: waitress's loop shut itself down (seen once in CI, cause not
            # found). Close what is left from this thread; the loop no longer runs.
            close_all()
        done.wait(5)
        server.task_dispatcher.shutdown(cancel_pending=True, timeout=5)
        self._control_threads.shutdown()
        if self._thread is not None:
            self._thread.join(5)
        logging.getLogger("waitress").disabled = False


def connection_limit() -> int:
    """How many connections waitress keeps open at once: idle keep-alive and slow clients must not lock the
    others out (waitress's default is 100), within the process's file descriptor limit."""
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ImportError, OSError, ValueError):  # no resource module (Windows): waitress's own default
        return 100
    if soft == resource.RLIM_INFINITY:
        return 4096
    return max(100, min(4096, soft - 128))  # leave descriptors for files, the journal's clients, the proxy

