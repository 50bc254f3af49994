"""Conformance driver for Scalekit's official Python SDK (``scalekit-sdk-python``), unmodified.

Run it with ``python -m contract_tests.drivers.python_sdk``, against the mock's gRPC face over TLS
(``scalekit-conformance client --grpc --tls --driver ...``): the SDK always speaks gRPC over TLS
(``grpc.secure_channel`` on the environment URL's host), and trusts the mock's throwaway CA through
``GRPC_DEFAULT_SSL_ROOTS_FILE_PATH`` (grpc) and ``REQUESTS_CA_BUNDLE`` (requests, for its token
request), which the suite sets.

The client is used as the SDK's README shows an application using it::

    client = ScalekitClient(env_url, client_id, client_secret)   # fetches its token right here
    client.organization.list_organizations(page_size=10)
    client.organization.get_organization("org_1")

Everything about tokens is the SDK's own: it fetches one eagerly in the constructor (so
``new_client`` fails early on bad credentials), never reads ``expires_in``, and re-authenticates
when a call comes back UNAUTHENTICATED (``CoreClient.grpc_exec``: up to 2 re-fetches, 3 attempts);
UNAVAILABLE is retried with a jittered backoff. This driver adds no retry and no refresh.

``advance_time`` moves ``time.time()`` in this process (time-machine, through driverkit). The SDK
keeps no expiry of its own, so it sees nothing change: it learns that its token expired only when
the mock answers ``16 UNAUTHENTICATED: Token expired``. That is the SDK's behaviour being judged,
so the capability is offered. (grpc's Python layer turns a call timeout into an absolute deadline
from ``time.time()``; after a forward jump that deadline is just further away for the C core.)

Failures map to the protocol's errors by the SDK's exception: a gRPC status code becomes the HTTP
status it stands for (16 -> 401 unauthenticated, 7 -> 403 permission_denied, 14 -> 503, 8 -> 429,
5 -> 404 ...), DEADLINE_EXCEEDED a timeout, a failed connection a transport error; an HTTP answer
of the token endpoint keeps its status (401 -> unauthenticated). Messages are built from the
exception's class, its code and the server's message only, and scrubbed of the secret and of
anything shaped like a JWT, since the suite scans them.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import sys
import threading
from collections.abc import Mapping
from importlib import metadata
from typing import Any
from urllib.parse import parse_qs, urlsplit

# grpc's C core logs at ERROR by default; never let an inherited setting turn on its (header-dumping)
# tracers in the process whose stderr the suite scans for tokens.
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
os.environ.pop("GRPC_TRACE", None)

from ..driverkit import Adapter, ClientFailure, classify_exception, failure_for_status, missing_extra, run

try:  # the SDK (and grpc) come with the drivers extra; grpc after the environment above: it reads it when it loads
    import grpc
    from scalekit import ScalekitClient
    from scalekit.common.exceptions import ScalekitException, ScalekitServerException
except ImportError as exc:
    missing_extra("contract_tests.drivers.python_sdk", exc)

# protobuf ships without type information; reached through importlib so mypy sees Any.
json_format: Any = importlib.import_module("google.protobuf.json_format")

SDK_DISTRIBUTION = "scalekit-sdk-python"
ORGANIZATIONS = "/api/v1/organizations"

# gRPC status code (number) -> the HTTP status grpc-gateway answers for it.
GRPC_TO_HTTP: dict[int, int] = {
    1: 499,  # CANCELLED
    2: 500,  # UNKNOWN
    3: 400,  # INVALID_ARGUMENT
    5: 404,  # NOT_FOUND
    6: 409,  # ALREADY_EXISTS
    7: 403,  # PERMISSION_DENIED
    8: 429,  # RESOURCE_EXHAUSTED
    9: 400,  # FAILED_PRECONDITION
    10: 409,  # ABORTED
    11: 400,  # OUT_OF_RANGE
    12: 501,  # UNIMPLEMENTED
    13: 500,  # INTERNAL
    14: 503,  # UNAVAILABLE
    15: 500,  # DATA_LOSS
    16: 401,  # UNAUTHENTICATED
}
DEADLINE_EXCEEDED = 4

# What grpc-core says when no answer came from the server at all (its own UNAVAILABLE/UNKNOWN).
_TRANSPORT_WORDS = ("failed to connect", "connection refused", "connection reset", "socket closed",
                    "broken pipe", "handshake", "ssl", "tls", "certificate", "dns resolution", "unreachable",
                    "connection attempt timed out", "goaway", "stream removed", "endpoint closing")
# The SDK wraps a requests timeout of its token request as a synthetic 504 with this reason.
_SYNTHETIC_TIMEOUT_REASON = "GATEWAY_TIMEOUT"

MIN_SECRET_LENGTH = 8  # a shorter "secret" is no real one, and would blank out ordinary words
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]+\.?[A-Za-z0-9_-]*")
_BEARER = re.compile(r"(?i)(bearer\s+)\S+")


def scrub(message: str, secret: str | None) -> str:
    """The message without the client secret, a bearer credential or anything shaped like a JWT."""
    if secret and len(secret) >= MIN_SECRET_LENGTH:
        message = message.replace(secret, "<secret>")
    message = _JWT.sub("<token>", message)
    return _BEARER.sub(r"\1<token>", message)


def sdk_version() -> str:
    try:
        return metadata.version(SDK_DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "unknown"


def to_json(response: Any) -> Any:
    """The REST JSON shape of an SDK response: grpc's ``with_call`` answer is ``(message, call)``."""
    if isinstance(response, tuple):
        response = response[0]
    return json_format.MessageToDict(response, preserving_proto_field_name=True,
                                     always_print_fields_with_no_presence=True)


def _code_number(code: Any) -> int | None:
    """The number of a ``grpc.StatusCode`` (its value is ``(number, name)``)."""
    value = getattr(code, "value", None)
    if isinstance(value, tuple) and value and isinstance(value[0], int):
        return value[0]
    return None


def _code_name(code: Any) -> str:
    return str(getattr(code, "name", code))


class PythonSdkAdapter(Adapter):
    name = "scalekit-sdk-python"
    version = sdk_version()
    concurrent = True  # one ScalekitClient (one grpc channel) is meant to be shared by an application's threads

    def __init__(self) -> None:
        self.secret: str | None = None
        self._lock = threading.Lock()
        self._clients: list[Any] = []

    # -- building and calling -----------------------------------------------------------------
    def make_client(self, env: Mapping[str, str]) -> Any:
        self.secret = env.get("SCALEKIT_CLIENT_SECRET")
        if threading.current_thread() is threading.main_thread():
            # new_client: the previous client is dropped, so close its channel (no call is in flight
            # between ops). A client built on a pool thread (the first of concurrent calls after a
            # failed new_client) may still be in use by a sibling: those are closed at exit.
            self.close_all()
        client = ScalekitClient(env["SCALEKIT_ENVIRONMENT_URL"], env["SCALEKIT_CLIENT_ID"],
                                env["SCALEKIT_CLIENT_SECRET"])
        with self._lock:
            self._clients.append(client)
        return client

    def call(self, client: Any, method: str, path: str, body: Any) -> tuple[int, Any]:
        parts = urlsplit(path)
        segments = [s for s in parts.path.split("/") if s]
        if method.upper() == "GET" and parts.path.rstrip("/") == ORGANIZATIONS:
            query = parse_qs(parts.query)
            page_size = int(query["page_size"][0]) if "page_size" in query else None
            page_token = query["page_token"][0] if "page_token" in query else None
            return 200, to_json(client.organization.list_organizations(page_size=page_size, page_token=page_token))
        if method.upper() == "GET" and len(segments) == 4 and "/" + "/".join(segments[:3]) == ORGANIZATIONS:
            return 200, to_json(client.organization.get_organization(segments[3]))
        raise ClientFailure(None, "unsupported", f"{method} {parts.path} has no scalekit-sdk-python method in this "
                                                 f"driver (only GET {ORGANIZATIONS} and GET {ORGANIZATIONS}/{{id}})")

    def close_all(self) -> None:
        with self._lock:
            clients, self._clients = self._clients, []
        for client in clients:
            channel = getattr(getattr(client, "core_client", None), "grpc_secure_channel", None)
            if channel is not None:
                channel.close()

    # -- failures -----------------------------------------------------------------------------
    def classify(self, exc: BaseException) -> ClientFailure:
        failure = self._classify(exc)
        return ClientFailure(failure.status, failure.type, scrub(failure.message, self.secret))

    def _classify(self, exc: BaseException) -> ClientFailure:
        if isinstance(exc, ClientFailure):
            return exc
        if isinstance(exc, ScalekitServerException):
            origin = exc.args[0] if exc.args else None
            if isinstance(origin, grpc.RpcError):
                return self._grpc_failure(exc, origin)
            return self._token_endpoint_failure(exc, origin)
        if isinstance(exc, ScalekitException):
            # The SDK's wrapper of anything else: a requests error of its token request, or whatever
            # escaped a gRPC call. Judge what it wraps.
            inner = exc.args[0] if exc.args else None
            if isinstance(inner, BaseException):
                found = self._classify(inner)
                return ClientFailure(found.status, found.type, f"{type(exc).__name__}({found.message})")
            return ClientFailure(None, "other", f"{type(exc).__name__}")
        if isinstance(exc, grpc.RpcError):  # not expected past the SDK, but judged the same way
            return self._grpc_failure(exc, exc)
        if type(exc).__module__.startswith(("requests", "urllib3")):
            names = {cls.__name__ for cls in type(exc).__mro__}
            if names & {"Timeout", "ReadTimeout", "ConnectTimeout"}:
                return ClientFailure(None, "timeout", f"{type(exc).__name__} on the token request")
            if names & {"ConnectionError", "SSLError", "ProxyError", "ChunkedEncodingError"}:
                return ClientFailure(None, "transport", f"{type(exc).__name__}: {exc}")
        return classify_exception(exc)

    def _grpc_failure(self, exc: BaseException, error: Any) -> ClientFailure:
        code = getattr(exc, "grpc_status", None)
        if code is None:
            code_fn = getattr(error, "code", None)
            code = code_fn() if callable(code_fn) else None
        number = _code_number(code)
        server_message = getattr(exc, "message", None)
        if server_message is None:
            details_fn = getattr(error, "details", None)
            server_message = details_fn() if callable(details_fn) else ""
        message = f"{type(exc).__name__}: gRPC {number} {_code_name(code)}: {server_message or ''}".rstrip(": ")
        if number == DEADLINE_EXCEEDED:
            return ClientFailure(None, "timeout", message)
        if number in (14, 2) and self._no_answer(error, str(server_message or "")):
            return ClientFailure(None, "transport", message)
        if number is not None and number in GRPC_TO_HTTP:
            return failure_for_status(GRPC_TO_HTTP[number], message)
        return ClientFailure(None, "other", message)

    @staticmethod
    def _no_answer(error: Any, details: str) -> bool:
        """Whether grpc-core made this status up itself (the connection failed) rather than the server."""
        trailing_fn = getattr(error, "trailing_metadata", None)
        trailing = trailing_fn() if callable(trailing_fn) else None
        if trailing:  # the server answered with trailers of its own
            return False
        lowered = details.lower()
        return any(word in lowered for word in _TRANSPORT_WORDS)

    def _token_endpoint_failure(self, exc: ScalekitServerException, response: Any) -> ClientFailure:
        """An HTTP answer of ``POST /oauth/token`` the SDK refused (or its synthetic 504 for a timeout)."""
        status = getattr(response, "status_code", None)
        reason = getattr(response, "reason", None)
        if status == 504 and reason == _SYNTHETIC_TIMEOUT_REASON:
            return ClientFailure(None, "timeout", f"{type(exc).__name__}: the token request timed out")
        detail = ""
        try:
            answer = json.loads(getattr(response, "text", "") or "")
        except ValueError:
            answer = None
        if isinstance(answer, dict):
            detail = " ".join(str(answer[k]) for k in ("error", "error_description", "message") if k in answer)
        message = f"{type(exc).__name__}: token endpoint HTTP {status}{': ' + detail if detail else ''}"
        if isinstance(status, int) and 100 <= status <= 599:
            return failure_for_status(status, message)
        return ClientFailure(None, "other", message)


def main() -> int:
    adapter = PythonSdkAdapter()
    try:
        return run(adapter)
    finally:
        adapter.close_all()


if __name__ == "__main__":
    sys.exit(main())
