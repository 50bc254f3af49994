"""The one server interface the mock runs on, and the choice of implementation.

``MockServer`` knows only this: a server is made for an app (``make_server``), ``start()``ed in a
background thread, answers on ``port`` with ``scheme``, holds its ``tls`` files, and is ``stop()``ped
promptly whatever is in flight (the control plane releases hung requests first). ``drop_error`` is what the
REST face raises inside the app to make the server close a connection without an answer. ``error`` is an
exception the serving thread died of, for ``MockServer.check()``.

Plain HTTP/1.1 runs on waitress (``waitress.py``); ``--grpc`` or ``--tls`` on uvicorn with zttp (``h2.py``), which
speaks HTTP/2 and TLS. Why these two, and what else was measured: docs/benchmarks.md, "Server candidates".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from flask import Flask

    from ..core.config import MockConfig
    from ..core.control import ControlPlane
    from .tls import TlsFiles


class Server(Protocol):
    """A running (or ready to run) HTTP server for the mock's app."""

    @property
    def port(self) -> int: ...

    @property
    def scheme(self) -> str: ...

    @property
    def tls(self) -> TlsFiles | None: ...

    @property
    def error(self) -> BaseException | None: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...


def server_type(config: MockConfig) -> type[WaitressServer] | type[Http2Server]:
    """The implementation a config needs (its ``drop_error`` is wired into the app before the server exists)."""
    if config.http2:
        from .h2 import Http2Server

        return Http2Server
    from .waitress import WaitressServer

    return WaitressServer


def make_server(app: Flask, control: ControlPlane, config: MockConfig) -> Server:
    """A server for ``app`` on ``config.host:config.port`` (0: a free port), bound now, not yet serving."""
    return server_type(config)(app, control, config)


if TYPE_CHECKING:
    from .h2 import Http2Server
    from .waitress import WaitressServer
