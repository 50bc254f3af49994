"""The mock's HTTP server: uvicorn with its zttp protocol, on its own event loop, in a thread.

It serves ``AsgiDispatcher`` on one port in every mode: cleartext connections may speak HTTP/1.1 or HTTP/2 with
prior knowledge (h2c, what the Node SDK uses for an ``http://`` URL); TLS connections negotiate ``h2`` or
``http/1.1`` by ALPN; gRPC calls get their trailers. Why uvicorn + zttp (waitress, used before for plain HTTP/1.1,
was slower and has no HTTP/2; hypercorn, used before for HTTP/2, leaked a descriptor per closed connection and
~200 KB per closed TLS connection): docs/benchmarks.md, "Server candidates".

Settings chosen for SDKs and for a prompt stop: idle connections are closed after 5 minutes, as Scalekit's
backend does (gRPC MaxConnectionIdle, scalekit-facts), with no limit on requests per connection; a stop waits
at most ``GRACE_SECONDS`` for requests in flight (the control plane has released hung ones by then).

What the mock changes of uvicorn's zttp protocols (``_Http1``, ``_Http2``, ``_Http``):
- an HTTP/2 connection's writes of one turn of the event loop go out together (``_BatchedWrites``), not one system
  call per response head, body and trailers;
- zttp 0.0.35 with uvicorn 0.54 never ends the body of an HTTP/2 request that has none (HEADERS with END_STREAM,
  i.e. any GET), so the app would wait for it forever; ``_Http2`` ends it (``tests/test_h2_server.py`` holds the
  regression test, so an upstream change that makes the fix unnecessary or ineffective shows);
- a request zttp refuses gets the API's JSON error body, not plain text;
- an HTTP/1.1 connection can be closed with no answer at all, as a ``drop`` fault needs: each connection's
  transport is registered with the dispatcher by its peer address (ASGI itself has no way to do it);
- a connection lost uncleanly (reset, TLS without close_notify) no longer stays in memory until its keep-alive
  timer fires (5 minutes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import unquote_to_bytes

import uvicorn
from uvicorn.protocols.http.auto_zttp_impl import AutoZttpProtocol
from uvicorn.protocols.http.zttp_h2_impl import ZttpH2Protocol
from uvicorn.protocols.http.zttp_impl import ZttpProtocol

from ..core.errors import MockError
from .tls import TlsFiles, given_files, throwaway_files

if TYPE_CHECKING:
    from ..core.config import MockConfig
    from ..faces.wsgi import JournalMiddleware

LOG = logging.getLogger("scalekit_mock.h2")
KEEP_ALIVE_SECONDS = 300
GRACE_SECONDS = 1


class UvicornServer:
    """The mock's app on uvicorn (HTTP/1.1, h2c, TLS with ALPN; the gRPC face), in a thread
    (``servers/base.Server``): the TLS files, the ASGI dispatcher and the uvicorn loop."""

    def __init__(self, app: Any, config: MockConfig) -> None:
        from .asgi import AsgiDispatcher

        self.tls: TlsFiles | None = None
        if config.tls:
            hosts = tuple(dict.fromkeys(("localhost", "127.0.0.1", "::1", config.host)))
            self.tls = (given_files(config.tls_cert, config.tls_key) if config.tls_cert and config.tls_key
                        else throwaway_files(hosts))
        self.scheme = "https" if self.tls else "http"
        self._dispatcher = AsgiDispatcher(app, cast("JournalMiddleware", app.wsgi_app), config.threads, config.grpc)
        try:
            self._h2 = Listener(self._dispatcher, config.host, config.port, self.tls, config.reuse_port)
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


class Listener:
    """Serve an ASGI app on ``host:port`` (0 picks a free port) until ``stop()``."""

    def __init__(self, app: Any, host: str, port: int, tls: TlsFiles | None, reuse_port: bool = False) -> None:
        try:
            self.socket = _listen(host, port, reuse_port)
        except OSError as exc:
            raise MockError(f"cannot listen on {host}:{port}: {exc}") from exc
        self.port = int(self.socket.getsockname()[1])
        self.server = uvicorn.Server(_config(app, tls))
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self.error: BaseException | None = None

    def start(self) -> None:
        _quiet_loggers()
        self._thread = threading.Thread(target=self._run, name=f"{THREAD_PREFIX}:{self.port}", daemon=True)
        self._thread.start()
        self._ready.wait(10)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        loop.set_exception_handler(_connection_noise)
        loop.call_soon(self._ready.set)
        try:
            loop.run_until_complete(self.server.serve(sockets=[self.socket]))
        except BaseException as exc:  # noqa: BLE001 - reported through MockServer.check()
            self.error = exc
        finally:
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(GRACE_SECONDS + 5)
        with contextlib.suppress(OSError):
            self.socket.close()


def _listen(host: str, port: int, reuse_port: bool = False) -> socket.socket:
    """A listening TCP socket made with its protocol named: asyncio turns Nagle's algorithm off (TCP_NODELAY) only
    on connections whose socket says IPPROTO_TCP, and ``socket.create_server`` leaves it 0. Without it every
    answer written in two parts waits ~40 ms for the client's delayed ACK. ``reuse_port``: other processes may listen
    on the same port, and the kernel spreads the connections over them (``serve --workers``)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(1024)
    except OSError:
        sock.close()
        raise
    return sock


class _BatchedWrites:
    """An HTTP/2 connection's transport, whose writes of one turn of the event loop go out in one system call, in
    order. uvicorn writes each response's head, body and trailers as the app sends them, and the calls in flight on
    a connection are answered in the same turn: each write was a ``send`` of its own (three per gRPC call)."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport, self._loop = transport, loop
        self._pending: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(data)

    def writelines(self, lines: Iterable[bytes]) -> None:
        for data in lines:
            self.write(data)

    def flush(self) -> None:
        data, self._pending = b"".join(self._pending), []
        if data and not self._transport.is_closing():  # closed meanwhile (a reset): nothing can be sent
            self._transport.write(data)

    def close(self) -> None:
        self.flush()  # what was written before (a GOAWAY) goes out first
        self._transport.close()

    def __getattr__(self, name: str) -> Any:  # everything else is the transport's own
        return getattr(self._transport, name)


class _Http2(ZttpH2Protocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(cast("asyncio.Transport", _BatchedWrites(transport, self.loop)))

    def handle_request(self, event: Any) -> None:
        super().handle_request(event)
        if getattr(event, "end_stream", False):  # a request without a body: there is none to wait for
            cycle = self.cycles.get(event.stream_id)
            if cycle is not None:
                cycle.more_body = False
                cycle.message_event.set()


_REQUEST_LINE = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,20} (\S{1,8192}) HTTP/")


class _Http1(ZttpProtocol):
    last_path = "/"  # the target of the last request line seen on this connection

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        connections = getattr(self.app, "connections", None)
        if connections is not None and self.client is not None:
            connections[self.client] = transport

    def connection_lost(self, exc: Exception | None) -> None:
        connections = getattr(self.app, "connections", None)
        if connections is not None and self.client is not None:
            connections.pop(self.client, None)
        super().connection_lost(exc)
        # uvicorn cancels the keep-alive timer only when the connection ended cleanly; after a reset or a TLS
        # connection closed without close_notify the timer kept the protocol (and ~250 KB of TLS buffers) alive
        # for the whole keep-alive time (tests/test_server_process.py).
        self._unset_keepalive_if_required()

    def data_received(self, data: bytes) -> None:
        line = _REQUEST_LINE.match(data)
        if line is not None:
            self.last_path = unquote_to_bytes(line.group(1).split(b"?", 1)[0]).decode("latin-1")
        super().data_received(data)

    def send_400_response(self, msg: str) -> None:
        """A request zttp refuses (malformed, or framed twice: RFC 9112 6.1) gets a JSON error body in the shape of
        its endpoint family's errors (its path read from its request line), not zttp's plain text, and the
        connection closed."""
        body = self.app.protocol_error(msg, self.last_path)
        self.conn.send_response(400, [(b"content-type", b"application/json"),
                                      (b"content-length", str(len(body)).encode()), (b"connection", b"close")])
        self.conn.send_data(body)
        self.conn.end_message()
        self.transport.write(self.conn.data_to_send())
        self.transport.close()


class _Http(AutoZttpProtocol):
    """uvicorn's HTTP/1.1-or-HTTP/2 switch, with both sides amended (module docstring, ``_Http1``)."""

    def _switch(self, http2: bool, initial_data: bytes = b"") -> None:
        kind = _Http2 if http2 else _Http1
        protocol = kind(config=self.config, server_state=self.server_state, app_state=self.app_state, _loop=self.loop)
        self.transport.set_protocol(protocol)
        protocol.connection_made(self.transport)
        if initial_data:
            protocol.data_received(initial_data)


def _config(app: Any, tls: TlsFiles | None) -> uvicorn.Config:
    return uvicorn.Config(
        app, http=_Http, ws="none", lifespan="off", interface="asgi3", proxy_headers=False, log_config=None,
        access_log=False,
        timeout_keep_alive=KEEP_ALIVE_SECONDS, timeout_graceful_shutdown=GRACE_SECONDS,
        ssl_certfile=tls.cert_file if tls else None, ssl_keyfile=tls.key_file if tls else None,
        server_header=False, date_header=True)


THREAD_PREFIX = "scalekit-mock-http"


class _ServerNoise(logging.Filter):
    """uvicorn's own lines that say nothing to a mock's user: its start and stop messages (``serve`` prints
    its own), and the missing or cut answer of a ``drop`` fault, which it reports as an app error. Other records
    pass."""

    QUIET = ("Started server process", "Waiting for application", "Application startup", "Uvicorn running",
             "Shutting down", "Waiting for connections", "Waiting for background", "Finished server process",
             "ASGI callable returned without completing response.",
             "ASGI callable returned without starting response.")

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.QUIET)


_NOISE_FILTER = _ServerNoise()


class _OwnConnectionNoise(logging.Filter):
    """Drops asyncio's "socket.send() raised exception." from the mock's own loop thread: a stream's answer may
    still be written after its client hung up, and asyncio logs each write to the dead socket. Other threads'
    asyncio logs (an application's own) pass untouched."""

    def filter(self, record: logging.LogRecord) -> bool:
        ours = (record.threadName or "").startswith(THREAD_PREFIX)
        return not ours or record.msg != "socket.send() raised exception."


_ASYNCIO_FILTER = _OwnConnectionNoise()


def _quiet_loggers() -> None:
    """Adding the same filter again is a no-op."""
    logging.getLogger("uvicorn.error").addFilter(_NOISE_FILTER)
    logging.getLogger("asyncio").addFilter(_ASYNCIO_FILTER)


def _connection_noise(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Errors of single connections (a client hanging up mid-TLS, a reset) are the client's business:
    logged at debug level, not printed to stderr by asyncio's default handler."""
    LOG.debug("connection error: %s", context.get("exception") or context.get("message"))
