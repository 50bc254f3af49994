"""The Scalekit API's protobuf messages for the gRPC face, from the descriptor set ``fixtures/scalekit-v1.binpb``.

``scripts/build_descriptor_set.py`` builds the set from the official Python SDK's descriptors; the mock reads only
the set. It is loaded once per process, into a descriptor pool of its own: the SDK, where a test imports it in
the same process, registers the same names in protobuf's default pool. A message and its JSON form map with
protobuf's own ``json_format``, proto field names, as grpc-gateway emits them: the answer the REST face sends as
JSON is the one the gRPC face sends as protobuf.

Importing protobuf and loading the set take tens of milliseconds, more than a server start: ``faces/grpc.py``
imports this module on the first call, so a server that is never called over gRPC never pays for it.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory
from google.protobuf.message import DecodeError, Message

from ..core.data import fixtures_dir
from ..core.errors import ApiError
from ..core.jsontext import compact

DESCRIPTOR_SET = "scalekit-v1.binpb"


@dataclass(frozen=True, eq=False)  # one per RPC of a catalog: its identity is its hash (the encodings' cache key)
class Rpc:
    """The request and response message classes of one RPC."""

    request: type[Message]
    response: type[Message]

    def decode_request(self, data: bytes) -> dict[str, Any]:
        """The request message in its JSON form (int64 as strings, enums by name, unset fields left out)."""
        try:
            message = self.request.FromString(data)
        except DecodeError as exc:
            raise ApiError("invalid_argument", message=f"the request message is not valid protobuf: {exc}") from exc
        try:
            return json_format.MessageToDict(message, preserving_proto_field_name=True)
        except (json_format.Error, ValueError, TypeError) as exc:
            # Well-formed, yet with no JSON form: a NaN in a Struct, a Timestamp past the year 9999.
            raise ApiError("invalid_argument", message=f"the request message has no JSON form: {exc}") from exc

    def encode_response(self, message: dict[str, Any]) -> bytes:
        """The response message from its JSON form; a field the message lacks is ignored. A value that does not
        fit its field raises ``json_format.ParseError``: the mock's own bug, kept for ``MockServer.check()``.

        Clients read the same resources again and again, and ``ParseDict`` costs several times the JSON text of
        the answer: encodings are kept by that text (a bounded cache, so a changed resource is a new entry)."""
        return self._encode(compact(message))

    @functools.lru_cache(maxsize=512)  # noqa: B019 - an Rpc lives as long as the process's catalog
    def _encode(self, text: bytes) -> bytes:
        return json_format.Parse(text, self.response(), ignore_unknown_fields=True).SerializeToString()


class Catalog:
    """The messages of a descriptor set, and the pair of each RPC (looked up once per RPC)."""

    def __init__(self, serialized_set: bytes) -> None:
        self.pool = descriptor_pool.DescriptorPool()
        # The set leaves descriptor.proto out (it changes with each protobuf release): the runtime's own.
        self.pool.AddSerializedFile(descriptor_pb2.DESCRIPTOR.serialized_pb)
        for file in descriptor_pb2.FileDescriptorSet.FromString(serialized_set).file:
            self.pool.Add(file)
        # An RPC of the routes table that the set lacks reads any well-formed message and answers an empty one.
        empty = self.message_class("google.protobuf.Empty")
        self._unknown = Rpc(empty, empty)
        self._rpcs: dict[str, Rpc] = {}
        self._status = self.message_class("google.rpc.Status")
        self._any = self.message_class("google.protobuf.Any")
        self._error_info = self.message_class("scalekit.v1.errdetails.ErrorInfo")

    def message_class(self, full_name: str) -> type[Message]:
        return message_factory.GetMessageClass(self.pool.FindMessageTypeByName(full_name))

    def rpc(self, name: str) -> Rpc:
        """The messages of ``name`` (``scalekit.v1.organizations.OrganizationService/GetOrganization``)."""
        found = self._rpcs.get(name)
        if found is None:
            found = self._rpcs[name] = self._find(name)
        return found

    def covers(self, name: str) -> bool:
        """Whether the set has the RPC ``name`` (else it is served with empty messages)."""
        return self.rpc(name) is not self._unknown

    def _find(self, name: str) -> Rpc:
        try:
            method = self.pool.FindMethodByName(name.replace("/", "."))
        except KeyError:
            return self._unknown
        return Rpc(message_factory.GetMessageClass(method.input_type),
                   message_factory.GetMessageClass(method.output_type))

    def status_details(self, code: int, message: str, type_url: str, error_code: str) -> bytes:
        """A ``google.rpc.Status`` carrying Scalekit's ``ErrorInfo`` under ``type_url``: what the
        ``grpc-status-details-bin`` trailer holds (the Python SDK reads the error code from there)."""
        detail = self._any(type_url=type_url, value=self._error_info(error_code=error_code).SerializeToString())
        return self._status(code=code, message=message, details=[detail]).SerializeToString()


_LOADING = threading.Lock()


def catalog() -> Catalog:
    """The catalog of the shipped descriptor set, loaded on first use (first calls on two threads: one load)."""
    with _LOADING:
        return _shipped()


@functools.cache
def _shipped() -> Catalog:
    return Catalog((fixtures_dir() / DESCRIPTOR_SET).read_bytes())
