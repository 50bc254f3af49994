"""The one server interface the mock runs on.

``MockServer`` knows only this: a server is made for an app (``make_server``), ``start()``ed in a background
thread, answers on ``port`` with ``scheme``, holds its ``tls`` files, and is ``stop()``ped promptly whatever is
in flight (the control plane releases hung requests first). ``error`` is an exception the serving thread died
of, for ``MockServer.check()``.

Every mode (plain HTTP/1.1 and h2c, ``--grpc``, ``--tls``) runs on uvicorn with its zttp protocol
(``uvicorn_server.py``) serving the ASGI dispatcher (``asgi.py``). Why that server, and what else was measured:
docs/benchmarks.md, "Server candidates".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from flask import Flask

    from ..core.config import MockConfig
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


def make_server(app: Flask, config: MockConfig) -> Server:
    """A server for ``app`` on ``config.host:config.port`` (0: a free port), bound now, not yet serving."""
    from .uvicorn_server import UvicornServer

    return UvicornServer(app, config)
