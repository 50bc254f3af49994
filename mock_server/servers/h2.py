"""The HTTP/2 server behind ``--grpc`` and ``--tls``: hypercorn on its own event loop, in a thread.

Waitress (the default) speaks HTTP/1.1 only and no TLS; gRPC needs HTTP/2, and HTTPS needs TLS, so
those modes run hypercorn instead, serving ``AsgiDispatcher``. Cleartext connections may speak HTTP/1.1
or HTTP/2 with prior knowledge (h2c, what the Node SDK uses for an ``http://`` URL); TLS connections
negotiate ``h2`` or ``http/1.1`` by ALPN.

Hypercorn's defaults are changed where SDKs trip on them: it stops answering a connection after 1000
requests (``keep_alive_max_requests``; the 1001st call on an SDK's long-lived HTTP/2 connection would
go unanswered) and closes idle connections after 5 s (SDKs keep theirs open for minutes: the mock allows 5 minutes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
from typing import TYPE_CHECKING, Any, cast

from hypercorn.asyncio import serve
from hypercorn.config import Config

from ..core.errors import MockError
from ..pipeline.pipeline import Dropped
from .tls import TlsFiles, given_files, throwaway_files

if TYPE_CHECKING:
    from ..core.config import MockConfig
    from ..core.control import ControlPlane
    from ..faces.wsgi import JournalMiddleware

LOG = logging.getLogger("scalekit_mock.h2")
# Idle connections are closed after 5 minutes, as Scalekit's backend does (gRPC MaxConnectionIdle, scalekit-facts);
# SDKs reconnect. It also bounds hypercorn's hold on a connection the client closed while idle: its idle task
# waits this long before the connection's file descriptor is released (docs/benchmarks.md, Server candidates).
KEEP_ALIVE_SECONDS = 300
UNLIMITED_REQUESTS = 2**62


class Http2Server:
    """The mock's app on hypercorn (HTTP/1.1, h2c, TLS with ALPN; the gRPC face), in a thread
    (``servers/base.Server``): the TLS files, the ASGI dispatcher and the hypercorn loop."""

    drop_error = Dropped  # what the REST face raises for a drop fault; the dispatcher turns it into a cut answer

    def __init__(self, app: Any, control: ControlPlane, config: MockConfig) -> None:
        from .asgi import AsgiDispatcher

        self.tls: TlsFiles | None = None
        if config.tls:
            hosts = tuple(dict.fromkeys(("localhost", "127.0.0.1", "::1", config.host)))
            self.tls = (given_files(config.tls_cert, config.tls_key) if config.tls_cert and config.tls_key
                        else throwaway_files(hosts))
        self.scheme = "https" if self.tls else "http"
        self._dispatcher = AsgiDispatcher(app, cast("JournalMiddleware", app.wsgi_app), config.threads)
        try:
            self._h2 = H2Server(self._dispatcher, config.host, config.port, self.tls)
        except MockError:
            self._release()
            raise
        self.port = self._h2.port

    @property
    def error(self) -> BaseException | None:
        return self._h2.error

    def start(self) -> None:
        self._h2.start()

    def stop(self) -> None:
        self._h2.stop()
        self._release()

    def _release(self) -> None:
        self._dispatcher.close()
        if self.tls is not None:
            self.tls.remove()


class H2Server:
    """Serve an ASGI app on ``host:port`` (0 picks a free port) until ``stop()``."""

    def __init__(self, app: Any, host: str, port: int, tls: TlsFiles | None) -> None:
        self.app = app
        self.tls = tls
        try:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            self.socket = socket.create_server((host, port), family=family, backlog=1024)
        except OSError as exc:
            raise MockError(f"cannot listen on {host}:{port}: {exc}") from exc
        self.port = int(self.socket.getsockname()[1])
        self.config = _config(self.socket, tls)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None

    def start(self) -> None:
        logging.getLogger("asyncio").addFilter(_NOISE_FILTER)  # once: adding the same filter again is a no-op
        self._thread = threading.Thread(target=self._run, name=f"{THREAD_PREFIX}:{self.port}", daemon=True)
        self._thread.start()
        self._ready.wait(10)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        loop.set_exception_handler(_connection_noise)
        self._loop = loop
        self._stop = asyncio.Event()
        loop.call_soon(self._ready.set)
        try:
            loop.run_until_complete(serve(self.app, self.config, shutdown_trigger=self._stop.wait, mode="asgi"))
        except BaseException as exc:  # noqa: BLE001 - reported through MockServer.check()
            self.error = exc
        finally:
            # Connections still open at shutdown: cancel their tasks and let them unwind before closing.
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def stop(self) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed in between
                loop.call_soon_threadsafe(stop.set)
        if self._thread is not None:
            self._thread.join(10)
        self.socket.close()


class _OwnConnectionNoise(logging.Filter):
    """Drops asyncio's "socket.send() raised exception." from the mock's own loop thread: hypercorn keeps
    writing a stream's answer after its client hung up, and asyncio logs each write to the dead socket.
    Other threads' asyncio logs (an application's own) pass untouched."""

    def filter(self, record: logging.LogRecord) -> bool:
        ours = (record.threadName or "").startswith(THREAD_PREFIX)
        return not ours or record.msg != "socket.send() raised exception."


THREAD_PREFIX = "scalekit-mock-h2"
_NOISE_FILTER = _OwnConnectionNoise()


def _connection_noise(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Errors of single connections (a client hanging up mid-TLS, a reset) are the client's business:
    logged at debug level, not printed to stderr by asyncio's default handler."""
    LOG.debug("connection error: %s", context.get("exception") or context.get("message"))


def _config(sock: socket.socket, tls: TlsFiles | None) -> Config:
    config = Config()
    config.bind = [f"fd://{os.dup(sock.fileno())}"]  # hypercorn closes its copy; ours is closed by stop()
    config.keep_alive_timeout = KEEP_ALIVE_SECONDS
    config.keep_alive_max_requests = UNLIMITED_REQUESTS
    config.graceful_timeout = 1.0
    config.accesslog = None
    config.errorlog = LOG
    if tls is not None:
        config.certfile = tls.cert_file
        config.keyfile = tls.key_file
        config.alpn_protocols = ["h2", "http/1.1"]
    return config
