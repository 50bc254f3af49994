"""The gRPC face: every RPC of the routes table, unary, served by the same core as the REST API.

The official SDKs call ``/scalekit.v1.<package>.<Service>/<Method>`` over HTTP/2 on the environment's
host and port. A call is authenticated and authorized exactly like its REST route (same clock,
clients, keys, revocations), plays the faults set for that route's REST method and path, and is
journaled with ``transport: "grpc"``; its journal ``status`` is the HTTP status its gRPC code maps
to (16 → 401, 7 → 403, ...), so checks read both transports alike, and ``extra.grpc_status`` keeps
the code itself.

Errors are gRPC statuses whose ``grpc-status-details-bin`` trailer carries a ``google.rpc.Status``
with the same code and message plus Scalekit's ``ErrorInfo`` (the Python SDK drops the error code
when they differ). A call's request message is decoded to its JSON form and answered by the same resources as
REST (``pipeline/api.answer_rpc``); the answer goes back as the RPC's response message. The messages are those
of the descriptor set built from the official SDK (``messages.py``). This module is transport-free:
``servers/asgi.py`` frames the messages and writes the trailers.
"""

from __future__ import annotations

import base64
import functools
import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ..core.contract import field_value
from ..core.errors import ApiError, HttpError
from ..core.faults import Fault
from ..core.journal import JournalEntry
from ..core.routes import TEMPLATE_PARAM, Route
from ..pipeline.api import answer_rpc, authorize
from ..pipeline.pipeline import Target
from ..pipeline.request import Request

if TYPE_CHECKING:
    from ..core.control import ControlPlane
    from .messages import Catalog, Rpc
    from .wsgi import JournalMiddleware

GRPC_OK = 0
MAX_MESSAGE_BYTES = 4 * 1024 * 1024  # gRPC's default receive limit


@dataclass
class GrpcAnswer:
    """What a call gets: a status, and the response message for a successful one."""

    code: int
    message: str = ""
    payload: bytes | None = None
    details: bytes | None = None  # an encoded google.rpc.Status, for grpc-status-details-bin
    http_status: int = 200  # what the journal records: the HTTP status the code maps to (16 -> 401 ...)

    def trailers(self) -> list[tuple[bytes, bytes]]:
        out = [(b"grpc-status", str(self.code).encode())]
        if self.message:
            out.append((b"grpc-message", quote(self.message, safe=" !#$&'()*+,/:;=?@[]~").encode("ascii")))
        if self.details is not None:
            out.append((b"grpc-status-details-bin", base64.b64encode(self.details).rstrip(b"=")))
        return out

    def body(self) -> bytes:
        """The length-prefixed message of a successful call (flag 0: not compressed), else nothing."""
        if self.payload is None:
            return b""
        return struct.pack(">BI", 0, len(self.payload)) + self.payload


class GrpcFace:
    """Serves one unary call through the pipeline: route and message, fault, authentication, authorization,
    answer; errors as gRPC statuses."""

    def __init__(self, middleware: JournalMiddleware) -> None:
        self.middleware = middleware  # its ``guard`` is set when the server starts
        self.pipeline = middleware.pipeline
        self.control = middleware.control

    def serve(self, path: str, headers: Sequence[tuple[bytes, bytes]], body: bytes,
              may_block: bool = True) -> GrpcAnswer:
        """Answer the call to ``path`` (``/package.Service/Method``); raises ``Dropped`` for a ``drop`` or
        ``hang`` fault (``servers/asgi.py`` then answers ``UNAVAILABLE``, see there).

        ``may_block=False`` (called on the event loop) leaves delay, hang and drop faults queued for a
        later call, which the dispatcher then serves from a thread."""
        # Several values of one key keep the first: the Python SDK sends two ``authorization`` values and the
        # first is its current token.
        request = Request.from_grpc(path, headers, body)
        if not self.middleware.guard.host_allowed(request.header("host")):  # :authority (uvicorn: "host")
            return self._status("misdirected")  # a DNS-rebinding guard: refused before the journal and faults
        entry = self.pipeline.entry(request, "api")
        if request.repeated("authorization"):
            entry.extra["authorization_values"] = "several: the first was used"
        call = _Call(self.control, request, entry, self.catalog)
        answer = self.pipeline.run(entry, call.resolve, call.answer, self._error, _http_status, may_block=may_block)
        entry.extra["grpc_status"] = answer.code
        return answer

    def _error(self, error: HttpError, entry: JournalEntry) -> GrpcAnswer:
        """An error as a gRPC status (a status fault: the API error it stands for), with its details trailer."""
        key = error.key if isinstance(error, ApiError) else "internal"
        if entry.outcome != "fault":
            entry.outcome = key
        if error.detail:
            entry.extra["detail"] = error.detail
        return self._status(key, error.message if isinstance(error, ApiError) else None)

    def _status(self, key: str, message: str | None = None) -> GrpcAnswer:
        """The gRPC status of the API error ``key`` of fixtures/errors.json, with its details trailer; ``message``
        (the field of a 400, the resource of a 404) instead of the fixture's, as on REST."""
        errors = self.control.fixtures.errors
        spec = errors["api"][key]
        code, message = int(spec["code"]), message or str(spec["message"])
        details = self.catalog.status_details(code, message, errors["error_info_type"], str(spec["error_code"]))
        return GrpcAnswer(code, message, details=details, http_status=int(spec.get("status", 500)))

    def computes_only(self, path: str) -> bool:
        """Whether the call to ``path`` is computation only (``JournalMiddleware.computes_only`` for its route's
        REST method, once the messages are loaded), so that the server may answer it on its event loop."""
        if "catalog" not in self.__dict__:
            return False
        route = self.control.routes.by_rpc(path[1:])
        return self.middleware.computes_only(route.row.method if route is not None else "GET")

    @functools.cached_property
    def catalog(self) -> Catalog:
        # Imported on the first call, not with this module: protobuf and the descriptor set cost more than a
        # server start, and a server without gRPC calls never needs them.
        from .messages import catalog

        return catalog()


def _http_status(answer: GrpcAnswer) -> int:
    return answer.http_status


class _Call:
    """One call: what it names (for faults: its REST method and path), its request message and its answer."""

    def __init__(self, plane: ControlPlane, request: Request, entry: JournalEntry, catalog: Catalog) -> None:
        self.plane, self.request, self.entry, self.catalog = plane, request, entry, catalog
        self.route: Route | None = None
        self.rpc: Rpc | None = None
        self.message: dict[str, Any] = {}

    def resolve(self) -> Target:
        route = self.plane.routes.by_rpc(self.request.path[1:])
        if route is None:
            raise ApiError("grpc_unimplemented", f"{self.request.path} is not a method of the Scalekit API")
        self.entry.extra["rpc"] = route.rpc
        self.route, self.rpc = route, self.catalog.rpc(route.rpc)
        self.message = self.rpc.decode_request(unframe(self.request.body))
        return Target("api", route.row.method, _rest_path(route.row.template, self.message))

    def answer(self, _: Fault | None) -> GrpcAnswer:
        route, rpc = self.route, self.rpc
        assert route is not None and rpc is not None
        authorize(self.plane, route, self.request, self.entry)
        response = answer_rpc(self.plane, route, self.message, self.entry)[1]  # its HTTP status (200, 201): OK
        payload = rpc.encode_response(response)
        self.entry.outcome = "ok"
        return GrpcAnswer(GRPC_OK, payload=payload)


def unframe(body: bytes) -> bytes:
    """The one message of a unary request body (5-byte prefix: compressed flag, big-endian length)."""
    if len(body) < 5:
        raise ApiError("invalid_argument", "the request is not a length-prefixed gRPC message")
    compressed, length = struct.unpack(">BI", body[:5])
    if compressed:
        raise ApiError("grpc_unimplemented", "compressed messages are not supported (send grpc-encoding identity)")
    if length != len(body) - 5:
        raise ApiError("invalid_argument", "a unary call carries exactly one message")
    return body[5:]


def _rest_path(template: str, message: dict[str, Any]) -> str:
    """The REST path of the call, for matching faults set on a path: each ``{param}`` (``{a.b}``: a nested
    field) that the message has is filled in, the others are left as they are."""
    def fill(param: re.Match[str]) -> str:
        value = field_value(message, param.group(1))
        return str(value) if isinstance(value, (str, int)) else param.group(0)

    return TEMPLATE_PARAM.sub(fill, template)
