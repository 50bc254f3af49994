"""Write a conformance driver for a Python client in a few lines.

A driver speaks the JSON-lines protocol of ``docs/driver-protocol.md`` on stdin/stdout. This module
is the protocol loop; you write an ``Adapter`` that builds your client from the environment and
makes one call with it, then call ``run(MyAdapter())``. ``advance_time`` comes for free when
time-machine is installed: it moves ``time.time()`` (and ``datetime.now()``) in the driver process,
so a client that reads the wall clock for token expiry sees time pass.

Stray prints of the client go to stderr, so stdout carries protocol lines only.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
import socket
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from typing import IO, Any, NoReturn

PROTOCOL_VERSION = 1


EXIT_MISSING_EXTRA = 2


def missing_extra(driver: str, exc: ImportError, extra: str = "drivers") -> NoReturn:
    """A driver whose client comes with an extra exits here when the client is not installed: one line on
    stderr saying which extra (the suite shows it as why the driver did not start), exit status 2."""
    print(f"{driver} needs the {extra!r} extra: pip install 'scalekit-mock[{extra}]' ({exc})", file=sys.stderr)
    raise SystemExit(EXIT_MISSING_EXTRA)


class ClientFailure(Exception):
    """The client under test failed a call; reported as ``{"ok": false, "error": ...}``."""

    def __init__(self, status: int | None, type_: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.type = type_
        self.message = message

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "type": self.type, "message": self.message[:500]}


def failure_for_status(status: int, message: str) -> ClientFailure:
    """The protocol's error for an HTTP status the client surfaced."""
    kind = {401: "unauthenticated", 403: "permission_denied"}.get(status, "http")
    return ClientFailure(status, kind, message)


def classify_exception(exc: BaseException) -> ClientFailure:
    """Map a client's exception to the protocol's error types, by class name and common bases."""
    if isinstance(exc, ClientFailure):
        return exc
    names = {cls.__name__.lower() for cls in type(exc).__mro__}
    status = _status_of(exc)
    if any("timeout" in n for n in names) or isinstance(exc, (TimeoutError, socket.timeout)):
        return ClientFailure(None, "timeout", f"{type(exc).__name__}: {exc}")
    if status is not None:
        return failure_for_status(status, f"{type(exc).__name__}: {exc}")
    if any(n in names for n in ("connectionerror", "connecterror", "transporterror", "remoteprotocolerror",
                                "protocolerror", "readerror")) or isinstance(exc, ConnectionError):
        return ClientFailure(None, "transport", f"{type(exc).__name__}: {exc}")
    if isinstance(exc, (ValueError, KeyError, TypeError)) or "jsondecodeerror" in names:
        return ClientFailure(None, "invalid_response", f"{type(exc).__name__}: {exc}")
    return ClientFailure(None, "other", f"{type(exc).__name__}: {exc}")


# RFC 6749 §5.2: the status each token-endpoint error code is answered with. For libraries that keep the
# error code of a failed token request but not its HTTP status.
OAUTH_ERROR_STATUS = {"invalid_client": 401, "invalid_request": 400, "invalid_grant": 400,
                      "unauthorized_client": 400, "unsupported_grant_type": 400, "invalid_scope": 400}


def json_body(response: Any) -> Any:
    """The parsed JSON body of a requests or httpx response; ``None`` for an empty one or a non-JSON error
    answer (a non-JSON 2xx raises ``ValueError``: the client got a response it cannot use)."""
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        if 200 <= response.status_code < 300:
            raise
        return None


def _status_of(exc: BaseException) -> int | None:
    for holder in (exc, getattr(exc, "response", None)):
        for attr in ("status_code", "status", "code"):
            value = getattr(holder, attr, None)
            if isinstance(value, int) and 100 <= value <= 599:
                return value
    return None


class Adapter:
    """What a driver author writes: how to build the client and how to make one call with it."""

    name = "python-client"
    version = "0"
    concurrent = True  # the client may be shared by threads (enables call_concurrently)
    # The client reads expiry from time.time()/datetime.now(), which time-machine moves. Set False for a
    # client timing expiry with time.monotonic() (time-machine can't move it): then no advance_time.
    fake_clock = True

    def make_client(self, env: Mapping[str, str]) -> Any:
        """Build a fresh client (empty token cache) from SCALEKIT_ENVIRONMENT_URL/_CLIENT_ID/_CLIENT_SECRET."""
        raise NotImplementedError

    def call(self, client: Any, method: str, path: str, body: Any) -> tuple[int, Any]:
        """Make the call through the client as an application would; return (status, parsed JSON body).

        Raise (anything) when the client raises: the loop maps it with ``classify``. A non-2xx status
        returned without raising is reported as a failure with that status.
        """
        raise NotImplementedError

    def classify(self, exc: BaseException) -> ClientFailure:
        return classify_exception(exc)



@contextlib.contextmanager
def hidden_modules(*names: str) -> Iterator[None]:
    """Meanwhile, importing any of ``names`` (not imported yet) fails with ImportError, as if not installed: for a
    package whose optional part costs a driver's start-up (time-machine's pytest plugin, httpx's command line).
    They are importable again afterwards."""
    hidden = [name for name in names if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        for name in hidden:
            if sys.modules.get(name, 0) is None:
                del sys.modules[name]

class _Clock:
    """``advance_time`` through time-machine; ``missing`` says why it is not offered, when it is not."""

    def __init__(self, enabled: bool = True) -> None:
        self._traveller: Any = None
        self.missing = ""
        if not enabled:
            self.missing = "the adapter says its client's clock cannot be moved (fake_clock = False)"
            return
        try:
            with hidden_modules("pytest"):  # its plugin: half a driver's start-up, and never used here
                import time_machine
        except ImportError as exc:
            self.missing = f"time-machine cannot be imported in the driver's Python ({exc}): pip install time-machine"
            return
        self._traveller = time_machine.travel(time.time(), tick=True).start()

    @property
    def available(self) -> bool:
        return self._traveller is not None

    def advance(self, seconds: float) -> None:
        self._traveller.shift(seconds)


class Loop:
    """The protocol loop around one adapter."""

    def __init__(self, adapter: Adapter, out: IO[str]) -> None:
        self.adapter = adapter
        self.out = out
        self.clock = _Clock(enabled=adapter.fake_clock)
        self.client: Any = None
        self.handlers: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "hello": self.hello, "new_client": self.new_client, "call": self.call,
            "call_concurrently": self.call_concurrently, "advance_time": self.advance_time,
            "shutdown": lambda _: {}}

    def hello(self, _: dict[str, Any]) -> dict[str, Any]:
        caps = (["advance_time"] if self.clock.available else []) + (["concurrent"] if self.adapter.concurrent else [])
        unavailable = {} if self.clock.available else {"advance_time": self.clock.missing}
        if not self.adapter.concurrent:
            unavailable["concurrent"] = "the adapter says its client is not safe to share between threads"
        return {"name": self.adapter.name, "version": self.adapter.version, "capabilities": caps,
                "unavailable": unavailable}

    def new_client(self, _: dict[str, Any]) -> dict[str, Any]:
        self.client = None
        self.client = self.adapter.make_client(dict(os.environ))
        return {}

    def one_call(self, request: dict[str, Any]) -> dict[str, Any]:
        try:
            if self.client is None:
                self.client = self.adapter.make_client(dict(os.environ))
            status, body = self.adapter.call(self.client, request["method"], request["path"], request.get("body"))
        except Exception as exc:  # noqa: BLE001 - every client failure is reported, never raised
            return {"ok": False, "error": self.adapter.classify(exc).to_json()}
        if not 200 <= status < 300:
            return {"ok": False, "error": failure_for_status(status, f"HTTP {status}").to_json()}
        return {"ok": True, "status": status, "body": body}

    def call(self, request: dict[str, Any]) -> dict[str, Any]:
        return self.one_call(request)

    def call_concurrently(self, request: dict[str, Any]) -> dict[str, Any]:
        if not self.adapter.concurrent:
            raise ClientFailure(None, "unsupported", "this client is not safe to share between threads")
        count = int(request["count"])
        with concurrent.futures.ThreadPoolExecutor(max_workers=count) as pool:
            results = list(pool.map(lambda _: self.one_call(request), range(count)))
        return {"results": results}

    def advance_time(self, request: dict[str, Any]) -> dict[str, Any]:
        if not self.clock.available:
            raise ClientFailure(None, "unsupported", f"advance_time is not offered: {self.clock.missing}")
        self.clock.advance(float(request["seconds"]))
        return {}

    def handle(self, line: str) -> tuple[dict[str, Any], bool]:
        request = json.loads(line)
        op, rid = request.get("op"), request.get("id")
        handler = self.handlers.get(op)
        if handler is None:
            return {"id": rid, "ok": False, "error": {"status": None, "type": "unsupported",
                                                      "message": f"unknown op {op!r}"}}, False
        try:
            result = handler(request)
        except ClientFailure as exc:
            return {"id": rid, "ok": False, "error": exc.to_json()}, False
        except Exception as exc:  # noqa: BLE001 - e.g. new_client failing on bad credentials
            return {"id": rid, "ok": False, "error": self.adapter.classify(exc).to_json()}, False
        if op in ("call",):
            return {"id": rid, **result}, False
        return {"id": rid, "ok": True, **result}, op == "shutdown"


def run(adapter: Adapter, stdin: IO[str] | None = None, stdout: IO[str] | None = None) -> int:
    """Serve the protocol until ``shutdown`` or end of input; returns the exit code."""
    out = stdout or sys.stdout
    sys.stdout = sys.stderr  # stray prints of the client must not corrupt the protocol stream
    loop = Loop(adapter, out)
    for line in stdin or sys.stdin:
        if not line.strip():
            continue
        response, done = loop.handle(line)
        out.write(json.dumps(response) + "\n")
        out.flush()
        if done:
            break
    return 0
