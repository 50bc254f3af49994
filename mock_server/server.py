"""``MockServer``: the mock on 127.0.0.1 in a background thread, for tests and tools."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, cast

from waitress.channel import ClientDisconnected
from waitress.server import create_server

from .core.clients import Client
from .core.config import MockConfig
from .core.control import ControlPlane
from .core.errors import MockError
from .core.journal import JournalEntry
from .servers.waitress import ControlPlaneThreads, json_error_channel
from .web.app import create_app

if TYPE_CHECKING:
    from .faces.wsgi import JournalMiddleware
    from .servers.tls import TlsFiles


class ServerError(MockError):
    """An unexpected error happened inside the mock while serving a request."""


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


class MockServer:
    """A running mock environment. Start it, point a client at ``url``, steer it, stop it.

    Every control-plane operation is a method here; the same operations exist under ``/_mock/``.
    With ``upstream=URL`` it is a journaling proxy in front of that environment instead (proxy mode,
    docs/control-plane.md): clients are then the real ones, and operations on clients and keys are
    refused with a ``ControlError``.
    """

    def __init__(self, config: MockConfig | None = None, *, log: Callable[[JournalEntry], None] | None = None,
                 **overrides: Any) -> None:
        from dataclasses import replace

        self.config = replace(config or MockConfig(), **overrides)
        self.control = ControlPlane(self.config)
        drop_error: type[BaseException] = ClientDisconnected
        if self.config.http2:
            from .servers.asgi import DroppedConnection

            drop_error = DroppedConnection
        self.app = create_app(control=self.control, drop_error=drop_error, log=log)
        self._proxy: Any = self.app.extensions["scalekit_mock.proxy"]  # a Proxy in proxy mode, else None
        self._server: Any = None
        self._control_threads: ControlPlaneThreads | None = None
        self._thread: threading.Thread | None = None
        self._h2: Any = None  # the H2Server and its AsgiDispatcher, with --grpc or --tls
        self._dispatcher: Any = None
        self.tls: TlsFiles | None = None

    @property
    def ca_file(self) -> str | None:
        """The CA certificate a client must trust to reach this mock over TLS (``None`` without TLS)."""
        return self.tls.ca_file if self.tls is not None else None

    @property
    def trust_env(self) -> dict[str, str]:
        """With TLS: ``SSL_CERT_FILE``, ``REQUESTS_CA_BUNDLE``, ``GRPC_DEFAULT_SSL_ROOTS_FILE_PATH`` and
        ``NODE_EXTRA_CA_CERTS`` naming ``ca_file`` (empty without TLS)."""
        return self.tls.trust_env() if self.tls is not None else {}

    # -- life cycle ---------------------------------------------------------------------------
    def start(self) -> MockServer:
        if self._server is not None or self._h2 is not None:
            return self
        if self.config.http2:
            return self._start_h2()
        # poll(), not waitress's default select(): select cannot watch a descriptor numbered over 1023, so past
        # about a thousand open connections waitress would stop serving any of them.
        try:
            server = create_server(self.app, host=self.config.host, port=self.config.port,
                                   threads=self.config.threads, ident="scalekit-mock", channel_timeout=300,
                                   cleanup_interval=30, clear_untrusted_proxy_headers=True,
                                   connection_limit=connection_limit(), asyncore_use_poll=True)
        except OSError as exc:
            raise MockError(f"cannot listen on {self.config.host}:{self.config.port}: {exc}") from exc
        server.channel_class = json_error_channel(self.control.fixtures)  # waitress's own 400s in JSON too
        self._control_threads = ControlPlaneThreads(server)
        self._server = server
        # Waitress warns "Task queue depth is N" whenever connections outnumber threads: normal under load.
        logging.getLogger("waitress.queue").setLevel(logging.ERROR)
        self._started(int(server.effective_port), "http")
        self._thread = threading.Thread(target=self._serve, name=f"scalekit-mock:{self.port}", daemon=True)
        self._thread.start()
        return self

    def _started(self, port: int, scheme: str) -> None:
        self.port = port
        host = self.config.host if ":" not in self.config.host else f"[{self.config.host}]"
        self.url = self.config.issuer or f"{scheme}://{host}:{self.port}"
        self.control.set_issuer(self.url)

    def _start_h2(self) -> MockServer:
        from .servers.asgi import AsgiDispatcher
        from .servers.h2 import H2Server
        from .servers.tls import given_files, throwaway_files

        config = self.config
        if config.tls:
            hosts = tuple(dict.fromkeys(("localhost", "127.0.0.1", "::1", config.host)))
            self.tls = (given_files(config.tls_cert, config.tls_key) if config.tls_cert and config.tls_key
                        else throwaway_files(hosts))
        self._dispatcher = AsgiDispatcher(self.app, cast("JournalMiddleware", self.app.wsgi_app), config.threads)
        try:
            self._h2 = H2Server(self._dispatcher, config.host, config.port, self.tls)
        except MockError:
            self._release_h2_resources()
            raise
        self._started(self._h2.port, "https" if self.tls else "http")
        self._h2.start()
        return self

    def _release_h2_resources(self) -> None:
        if self._dispatcher is not None:
            self._dispatcher.close()
            self._dispatcher = None
        if self.tls is not None:
            self.tls.remove()

    def _serve(self) -> None:
        try:
            self._server.run()
        except Exception as exc:  # noqa: BLE001 - reported to the test through check()
            if self._server is not None:
                self.control.errors.append(exc)

    def stop(self) -> None:
        """Release hung requests, close every connection and wait for the serving thread."""
        h2, self._h2 = self._h2, None
        if h2 is not None:
            self.control.shutdown()
            h2.stop()
            if h2.error is not None:
                self.control.errors.append(h2.error)
            self._release_h2_resources()
            return
        server, self._server = self._server, None
        if server is None:
            return
        self.control.shutdown()
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
        if self._control_threads is not None:
            self._control_threads.shutdown()
        if self._thread is not None:
            self._thread.join(5)
        logging.getLogger("waitress").disabled = False
        if self._proxy is not None:
            self._proxy.close()

    def __enter__(self) -> MockServer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def check(self) -> None:
        """Re-raise (once) the first unexpected error raised inside the server since the last check."""
        if self.control.errors:
            errors = list(self.control.errors)
            self.control.errors.clear()
            raise ServerError(f"the mock failed while serving: {errors[0]!r}") from errors[0]

    # -- what a client needs ------------------------------------------------------------------
    @property
    def default_client(self) -> Client:
        """The full-access client (the first configured one if none has full access)."""
        clients = self.control.clients.all()
        return next((c for c in clients if c.scopes is None), clients[0])

    @property
    def client_id(self) -> str:
        return self.default_client.client_id

    @property
    def client_secret(self) -> str:
        return self.default_client.client_secret

    @property
    def limited_client(self) -> Client | None:
        """A client with restricted scopes (the default organization client), if there is one."""
        return next((c for c in self.control.clients.all() if c.scopes is not None), None)

    @property
    def upstream(self) -> str | None:
        """The environment this mock forwards to (proxy mode), or ``None`` (mock mode)."""
        return self.config.upstream

    @property
    def upstream_requests(self) -> int:
        """How many requests this mock has forwarded to its upstream since it started (0 in mock mode)."""
        relay = self.control.relay
        return relay.forwarded if relay is not None else 0

    @property
    def env(self) -> dict[str, str]:
        """The three variables a Scalekit client reads, pointing at this mock."""
        return {"SCALEKIT_ENVIRONMENT_URL": self.url, "SCALEKIT_CLIENT_ID": self.client_id,
                "SCALEKIT_CLIENT_SECRET": self.client_secret}

    # -- the control plane --------------------------------------------------------------------
    def reset(self) -> None:
        self.control.reset()

    def now(self) -> float:
        return self.control.now()

    def advance_clock(self, seconds: float) -> float:
        return self.control.advance_clock(seconds)

    def set_clock(self, timestamp: float) -> float:
        return self.control.set_clock(timestamp)

    def put_client(self, spec: Mapping[str, Any] | Client) -> Client:
        return self.control.put_client(spec)

    def remove_client(self, client_id: str) -> None:
        self.control.remove_client(client_id)

    def rotate_keys(self, grace_seconds: float | None = None) -> str:
        return self.control.rotate_keys(grace_seconds)

    def revoke(self, *, jti: str | None = None, token: str | None = None) -> str:
        return self.control.revoke(jti=jti, token=token)

    def revoke_all(self) -> int:
        return self.control.revoke_all()

    def add_fault(self, kind: str, **spec: Any) -> dict[str, Any]:
        return self.control.add_fault({"kind": kind, **spec})

    def clear_faults(self) -> None:
        self.control.clear_faults()

    def journal(self, **filters: Any) -> list[dict[str, Any]]:
        return self.control.journal_entries(**filters)

    def clear_journal(self) -> None:
        self.control.clear_journal()
