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
``GetOrganization``, an empty message elsewhere. This module is transport-free: ``asgi.py`` frames
the messages and writes the trailers.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from . import protobuf
from .api import authenticate
from .errors import ApiError
from .faults import BLOCKING, Fault
from .journal import JournalEntry
from .pipeline.request import Request, header_items

if TYPE_CHECKING:
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
    """Serves one unary call: journal entry, fault, authentication, authorization, answer."""

    def __init__(self, middleware: JournalMiddleware) -> None:
        self.middleware = middleware
        self.control = middleware.control

    def serve(self, path: str, headers: Sequence[tuple[bytes, bytes]], body: bytes,
              may_block: bool = True) -> GrpcAnswer:
        """Answer the call to ``path`` (``/package.Service/Method``); raises the middleware's drop error
        for a ``drop`` or ``hang`` fault (``asgi.py`` then answers ``UNAVAILABLE``, see there).

        ``may_block=False`` (called on the event loop) leaves delay, hang and drop faults queued for a
        later call, which the dispatcher then serves from a thread."""
        # Several values of one key keep the first: the Python SDK sends two ``authorization`` values and the
        # first is its current token.
        metadata = Request("POST", path, headers=tuple((k.decode("latin-1").lower(), v.decode("latin-1"))
                                                       for k, v in headers), body=body, length=len(body),
                           transport="grpc")
        entry = self._entry(path, metadata)
        try:
            answer = self._answer(path, metadata, body, entry, frozenset() if may_block else BLOCKING)
        except ApiError as error:
            answer = self._error(error, entry)
        except self.middleware.drop_error:
            raise  # already journaled by the fault
        except Exception as exc:  # noqa: BLE001 - kept for MockServer.check(); the client gets INTERNAL
            self.control.errors.append(exc)
            answer = self._error(ApiError("internal", type(exc).__name__), entry)
        entry.extra["grpc_status"] = answer.code
        if answer.code == GRPC_OK:
            entry.status, entry.outcome = 200, entry.outcome or "ok"
        self.middleware.record(entry)
        return answer

    def _answer(self, path: str, metadata: Request, body: bytes, entry: JournalEntry,
                skip: frozenset[str]) -> GrpcAnswer:
        plane = self.control
        route = plane.routes.by_rpc(path[1:])
        if route is None:
            raise ApiError("grpc_unimplemented", f"{path} is not a method of the Scalekit API")
        entry.extra["rpc"] = route.rpc
        message = unframe(body)
        request = decode_request(route.method_name, message)
        fault = plane.faults.take("api", route.row.method, _rest_path(route.row.template, request), skip)
        if fault is not None:
            entry.fault = fault.describe()
            self._play(fault, entry)
        if route.policy != "none":
            token = authenticate(plane, metadata, entry)
            if route.policy == "not_client" or not route.allows(token.scopes):
                raise ApiError("forbidden", f"{route.rpc} needs {' or '.join(route.row.permissions) or 'a session'}")
        entry.outcome = "ok"
        return GrpcAnswer(GRPC_OK, payload=self._payload(route.method_name, request))

    def _payload(self, method: str, request: dict[str, Any]) -> bytes:
        orgs = self.control.organizations
        if method == "ListOrganization":
            return protobuf.list_organizations_response(
                orgs.page(request.get("page_size") or None, request.get("page_token", "")))
        if method == "GetOrganization":
            return protobuf.get_organization_response(orgs.get(request.get("id", "")))
        return b""

    def _play(self, fault: Fault, entry: JournalEntry) -> None:
        """Delays wait, drops and hangs end the call; forced errors and status faults raise their status."""
        if fault.kind in ("delay", "drop", "hang"):
            self.middleware.play_fault(fault, entry)  # a drop or hang raises the drop error from here
        elif fault.kind in ("token_expired", "forbidden"):
            raise ApiError(fault.kind, "forced by a fault")
        elif fault.kind == "status":
            entry.outcome = "fault"
            raise ApiError(_error_key_for(self.control.fixtures.errors["api"], fault, self.preset_error(fault)),
                           f"status fault {fault.status}")

    def preset_error(self, fault: Fault) -> str | None:
        preset = self.control.fixtures.faults["presets"].get(fault.preset or "", {})
        key = preset.get("api_error")
        return key if isinstance(key, str) else None

    def _error(self, error: ApiError, entry: JournalEntry) -> GrpcAnswer:
        errors = self.control.fixtures.errors
        spec = errors["api"][error.key]
        code, message = int(spec["code"]), str(spec["message"])
        if entry.outcome != "fault":
            entry.outcome = error.key
        if error.detail:
            entry.extra["detail"] = error.detail
        entry.status = int(spec.get("status", 500))
        details = protobuf.status_details(code, message, errors["error_info_type"], str(spec["error_code"]))
        return GrpcAnswer(code, message, details=details)

    def _entry(self, path: str, metadata: Request) -> JournalEntry:
        redact = self.control.redactor
        headers = {name: redact.header(name, value) for name, value in header_items(metadata)}
        entry = JournalEntry(seq=self.control.journal.next_seq(), time=self.control.now(), method="POST",
                             path=redact.text(path), query={}, headers=headers, form=None, endpoint="api",
                             transport="grpc")
        if metadata.repeated("authorization"):
            entry.extra["authorization_values"] = "several: the first was used"
        return entry


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


def _error_key_for(api_errors: dict[str, Any], fault: Fault, preset_key: str | None) -> str:
    """The API error a status fault stands for: its preset's, else the first one with that HTTP status,
    else UNAVAILABLE (what a gRPC client sees of a failing server)."""
    if preset_key is not None and fault.body is None:
        return preset_key
    for key, spec in api_errors.items():
        if spec.get("status") == fault.status:
            return str(key)
    return "unavailable"
