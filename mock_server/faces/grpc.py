"""The gRPC face: every RPC of the routes table, unary, served by the same core as the REST API.

The official SDKs call ``/scalekit.v1.<package>.<Service>/<Method>`` over HTTP/2 on the environment's
host and port. A call is authenticated and authorized exactly like its REST route (same clock,
clients, keys, revocations), plays the faults set for that route's REST method and path, and is
journaled with ``transport: "grpc"``; its journal ``status`` is the HTTP status its gRPC code maps
to (16 → 401, 7 → 403, ...), so checks read both transports alike, and ``extra.grpc_status`` keeps
the code itself.

Errors are gRPC statuses whose ``grpc-status-details-bin`` trailer carries a ``google.rpc.Status``
with the same code and message plus Scalekit's ``ErrorInfo`` (the Python SDK drops the error code
when they differ). Success returns a protobuf message: sample data for ``ListOrganization`` and
``GetOrganization``, an empty message elsewhere. This module is transport-free: ``servers/asgi.py`` frames
the messages and writes the trailers.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ..core.errors import ApiError, HttpError
from ..core.faults import Fault
from ..core.journal import JournalEntry
from ..core.routes import Route
from ..pipeline.api import authenticate
from ..pipeline.pipeline import Target
from ..pipeline.request import Request
from . import protobuf

if TYPE_CHECKING:
    from ..core.control import ControlPlane
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
        call = _Call(self.control, request, entry)
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
        return self._status(key)

    def _status(self, key: str) -> GrpcAnswer:
        """The gRPC status of the API error ``key`` of fixtures/errors.json, with its details trailer."""
        errors = self.control.fixtures.errors
        spec = errors["api"][key]
        code, message = int(spec["code"]), str(spec["message"])
        details = protobuf.status_details(code, message, errors["error_info_type"], str(spec["error_code"]))
        return GrpcAnswer(code, message, details=details, http_status=int(spec.get("status", 500)))


def _http_status(answer: GrpcAnswer) -> int:
    return answer.http_status


class _Call:
    """One call: what it names (for faults: its REST method and path) and its answer."""

    def __init__(self, plane: ControlPlane, request: Request, entry: JournalEntry) -> None:
        self.plane, self.request, self.entry = plane, request, entry
        self.route: Route | None = None
        self.message: dict[str, Any] = {}

    def resolve(self) -> Target:
        route = self.plane.routes.by_rpc(self.request.path[1:])
        if route is None:
            raise ApiError("grpc_unimplemented", f"{self.request.path} is not a method of the Scalekit API")
        self.entry.extra["rpc"] = route.rpc
        self.route, self.message = route, decode_request(route.method_name, unframe(self.request.body))
        return Target("api", route.row.method, _rest_path(route.row.template, self.message))

    def answer(self, _: Fault | None) -> GrpcAnswer:
        route = self.route
        assert route is not None
        if route.policy != "none":
            token = authenticate(self.plane, self.request, self.entry)
            if route.policy == "not_client" or not route.allows(token.scopes):
                raise ApiError("forbidden", f"{route.rpc} needs {' or '.join(route.row.permissions) or 'a session'}")
        self.entry.outcome = "ok"
        return GrpcAnswer(GRPC_OK, payload=self._payload(route.method_name))

    def _payload(self, method: str) -> bytes:
        orgs, message = self.plane.organizations, self.message
        if method == "ListOrganization":
            return protobuf.list_organizations_response(
                orgs.page(message.get("page_size") or None, message.get("page_token", "")))
        if method == "GetOrganization":
            return protobuf.get_organization_response(orgs.get(message.get("id", "")))
        return b""


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


def decode_request(method: str, message: bytes) -> dict[str, Any]:
    schema = {"ListOrganization": protobuf.LIST_ORGANIZATIONS_REQUEST,
              "GetOrganization": protobuf.GET_ORGANIZATION_REQUEST}.get(method)
    try:
        if schema is None:
            for _ in protobuf.fields(message):  # other methods: any well-formed message will do
                pass
            return {}
        return protobuf.read_message(message, schema)
    except protobuf.DecodeError as exc:
        raise ApiError("invalid_argument", f"the request message is not valid protobuf: {exc}") from exc


def _rest_path(template: str, request: dict[str, Any]) -> str:
    """The REST path of the call, for matching faults set on a path: ``{id}`` filled in when known."""
    if "id" in request and "{id}" in template:
        return template.replace("{id}", str(request["id"]))
    return template
