"""``MockServer``: the mock on 127.0.0.1 in a background thread, for tests and tools."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, cast

from .core.clients import Client
from .core.config import MockConfig
from .core.control import ControlPlane
from .core.credentials import CONTROL_TOKEN_HEADER
from .core.errors import MockError
from .core.journal import JournalEntry
from .pipeline.guard import Guard, is_loopback
from .servers.base import Server, make_server
from .web.app import create_app

if TYPE_CHECKING:
    from .faces.wsgi import JournalMiddleware
    from .servers.second_origin import SecondOrigin
    from .servers.tls import TlsFiles


def url_host(bind: str) -> str:
    """The host of a usable URL for a server bound to ``bind``: "any address" (0.0.0.0, ::) is no address to
    connect to, so its loopback one stands in; an IPv6 address goes in brackets."""
    if bind in ("0.0.0.0", ""):
        return "127.0.0.1"
    if bind == "::":
        return "[::1]"
    return f"[{bind}]" if ":" in bind else bind


class ServerError(MockError):
    """An unexpected error happened inside the mock while serving a request."""


class MockServer:
    """A running mock environment. Start it, point a client at ``url``, steer it, stop it.

    Every control-plane operation is a method here; the same operations exist under ``/_mock/``.
    With ``upstream=URL`` it is a journaling proxy in front of that environment instead (proxy mode,
    docs/control-plane.md): clients are then the real ones, and operations on clients and keys are
    refused with a ``ControlError``.

    Bound beyond loopback, anyone on the network reaches ``/_mock/``: the mock then makes a control token
    (``control_token``) unless the config gives one, and refuses ``/_mock/`` requests without it. Its own methods
    call the control plane in process and need none.

    ``log`` is called with each request's journal entry (already redacted) once it is answered. It is called on the
    server's thread, so a slow one holds requests up: API calls then go to the thread pool, unless the callable says
    it never blocks with an attribute ``blocks = False`` (as ``cli.RequestLog`` does, writing from a thread of its
    own), and they are answered on the event loop.
    """

    def __init__(self, config: MockConfig | None = None, *, log: Callable[[JournalEntry], None] | None = None,
                 **overrides: Any) -> None:
        from dataclasses import replace

        config = replace(config or MockConfig(), **overrides)
        if config.control_token is None and not is_loopback(config.host):
            config = replace(config, control_token=secrets.token_urlsafe(32))
        self.config = config
        self.control = ControlPlane(self.config)
        self.app = create_app(control=self.control, log=log)
        self._proxy: Any = self.app.extensions["scalekit_mock.proxy"]  # a Proxy in proxy mode, else None
        self._server: Server | None = None
        self._second_origin: SecondOrigin | None = None

    @property
    def tls(self) -> TlsFiles | None:
        """The certificate files the server serves (``None`` without TLS)."""
        return self._server.tls if self._server is not None else None

    @property
    def ca_file(self) -> str | None:
        """The CA certificate a client must trust to reach this mock over TLS (``None`` without TLS)."""
        return self.tls.ca_file if self.tls is not None else None

    @property
    def trust_env(self) -> dict[str, str]:
        """With TLS: ``SSL_CERT_FILE``, ``REQUESTS_CA_BUNDLE``, ``GRPC_DEFAULT_SSL_ROOTS_FILE_PATH``,
        ``NODE_EXTRA_CA_CERTS`` and ``CURL_CA_BUNDLE`` naming ``ca_file`` (empty without TLS)."""
        return self.tls.trust_env() if self.tls is not None else {}

    # -- life cycle ---------------------------------------------------------------------------
    def start(self) -> MockServer:
        """Bind and serve in a background thread (``servers/base.py`` chooses the server for the config)."""
        if self._server is not None:
            return self
        config = self.config
        server = make_server(self.app, config)
        self._server = server
        self.port = server.port
        self.url = config.issuer or f"{server.scheme}://{url_host(config.host)}:{self.port}"
        self.control.set_issuer(self.url)
        middleware = cast("JournalMiddleware", self.app.wsgi_app)
        middleware.guard = Guard.for_server(bind=config.host, scheme=server.scheme, port=self.port,
                                            issuer=config.issuer, allowed_hosts=config.allowed_hosts,
                                            control_token=config.control_token)
        from .servers.second_origin import SecondOrigin  # with the server, as make_server imports it: uvicorn

        # Bound by the first redirect fault that needs it (control.second_origin_url), not now: most runs never do.
        self._second_origin = SecondOrigin(middleware.pipeline, server.tls)
        self.control.second_origin = self._second_origin.url
        server.start()
        return self

    def stop(self) -> None:
        """Release hung requests, close every connection and wait for the serving thread."""
        server, self._server = self._server, None
        if server is None:
            return
        self.control.shutdown()
        self.control.second_origin = None
        second, self._second_origin = self._second_origin, None
        if second is not None:
            second.stop()
            if second.error is not None:
                self.control.errors.append(second.error)
        server.stop()
        if server.error is not None:
            self.control.errors.append(server.error)
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
    def control_token(self) -> str | None:
        """What every ``/_mock/`` request must carry, in ``X-Scalekit-Mock-Control-Token`` (``None``: nothing)."""
        return self.config.control_token

    @property
    def control_headers(self) -> dict[str, str]:
        """The headers an HTTP call to this mock's ``/_mock/`` needs besides its JSON body (empty: none)."""
        token = self.config.control_token
        return {CONTROL_TOKEN_HEADER: token} if token is not None else {}

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

    def set_rate_limit(self, requests_per_minute: int | None) -> dict[str, Any]:
        """At most ``requests_per_minute`` API requests per minute of the virtual clock, then 429 (``None``: no
        limit); ``reset()`` goes back to the configured one."""
        return self.control.set_rate_limit(requests_per_minute)

    def journal(self, **filters: Any) -> list[dict[str, Any]]:
        return self.control.journal_entries(**filters)

    def clear_journal(self) -> None:
        self.control.clear_journal()
