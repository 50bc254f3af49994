"""The request every face hands the pipeline: one transport-neutral value, and the one way to read credentials.

An ASGI scope (the mock's server), a WSGI environ (``create_app`` under another server) and a gRPC call all become a
``Request`` before anything looks at them; the endpoints, the journal and the faults read only this. Its body is read
once, by the server, up to ``MAX_BODY_BYTES``; ``length`` keeps what the client declared, so an oversized body is
refused (413) by the endpoint that needs it without being held in memory.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from ..core.errors import ApiError, OAuthError

MAX_BODY_BYTES = 64 * 1024  # every face, every endpoint: the Scalekit API's bodies are small
SMUGGLING = "Content-Length and Transfer-Encoding together (RFC 9112 6.1)"


def framed_twice(header_names: set[bytes]) -> bool:
    """A request framed by both Content-Length and Transfer-Encoding. Every server refuses it and closes the
    connection (RFC 9112 6.1): a proxy in front of the mock may have read another body out of it (smuggling)."""
    return b"content-length" in header_names and b"transfer-encoding" in header_names


@dataclass(frozen=True)
class Request:
    """Method, path, query, headers (names lower-case, in order), body, and which wire it came over."""

    method: str
    path: str
    query: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    length: int = 0  # the body's declared length; > MAX_BODY_BYTES when it was too large to keep
    transport: str = "http"  # or "grpc"
    target: str = ""  # the request target as sent (path and query, still encoded), for forwarding
    _first: dict[str, str] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name, value in self.headers:
            self._first.setdefault(name, value)

    def header(self, name: str) -> str:
        """The first value of a header, or ``""`` (gRPC metadata may repeat a key: the first one counts)."""
        return self._first.get(name.lower(), "")

    def repeated(self, name: str) -> bool:
        return sum(1 for key, _ in self.headers if key == name.lower()) > 1

    @property
    def mimetype(self) -> str:
        return self.header("content-type").split(";", 1)[0].strip().lower()

    @functools.cached_property
    def args(self) -> dict[str, str]:
        """Query parameters, the first value of each (parsed once)."""
        args: dict[str, str] = {}
        for key, value in parse_qsl(self.query, keep_blank_values=True):
            args.setdefault(key, value)
        return args

    @property
    def too_large(self) -> bool:
        return self.length > MAX_BODY_BYTES or self.length < 0

    def read_body(self, error: type[ApiError] | type[OAuthError], key: str) -> bytes:
        """The body; ``error(key)`` with status 413 when it was too large (or its length invalid)."""
        if self.too_large:
            raise error(key, "the body is too large or its length is invalid", status=413)
        return self.body

    @classmethod
    def from_environ(cls, environ: Mapping[str, Any]) -> Request:
        """A WSGI request, its body read here (at most ``MAX_BODY_BYTES``)."""
        raw = str(environ.get("CONTENT_LENGTH") or "0")
        length = int(raw) if raw.isdigit() else -1
        body: bytes = environ["wsgi.input"].read(length) if 0 < length <= MAX_BODY_BYTES else b""
        headers = [(key[5:].replace("_", "-").lower(), str(value)) for key, value in environ.items()
                   if key.startswith("HTTP_")]
        if environ.get("CONTENT_TYPE"):
            headers.append(("content-type", str(environ["CONTENT_TYPE"])))
        path = str(environ.get("PATH_INFO", "") or "/")
        query = str(environ.get("QUERY_STRING", ""))
        return cls(str(environ.get("REQUEST_METHOD", "GET")), path, query, tuple(headers), body, length,
                   target=str(environ.get("REQUEST_URI") or ""))

    @classmethod
    def from_asgi(cls, scope: Mapping[str, Any], body: bytes, too_big: int = 0) -> Request:
        """An HTTP request as the ASGI server hands it, read as its WSGI environ would be (``from_environ``): the path
        decoded as Latin-1, a repeated header's values joined by ", " (a repeated Content-Type: the last), ``_`` in
        a name read as ``-``. ``too_big``: the declared length of a body longer than ``MAX_BODY_BYTES``, not kept."""
        headers: dict[str, str] = {}
        content_type = None
        for raw_name, raw_value in scope["headers"]:
            name, value = raw_name.decode("latin-1").lower().replace("_", "-"), raw_value.decode("latin-1")
            if name == "content-type":
                content_type = value
            elif name != "content-length":
                headers[name] = f"{headers[name]}, {value}" if name in headers else value
        if content_type:
            headers["content-type"] = content_type
        path = scope["path"]
        return cls(scope["method"], path if path.isascii() else path.encode("utf-8").decode("latin-1"),
                   scope["query_string"].decode("latin-1"), tuple(headers.items()), b"" if too_big else body,
                   too_big or len(body))

    @classmethod
    def from_grpc(cls, path: str, metadata: Iterable[tuple[bytes, bytes]], body: bytes) -> Request:
        """A gRPC call: its path (``/package.Service/Method``), its metadata as HTTP/2 sent it, its body."""
        headers = tuple((bytes(k).decode("latin-1").lower(), bytes(v).decode("latin-1")) for k, v in metadata)
        return cls("POST", path, headers=headers, body=body, length=len(body), transport="grpc")

    def first_values(self) -> Iterable[tuple[str, str]]:
        """The headers the journal records: one value per name (the first)."""
        return self._first.items()
