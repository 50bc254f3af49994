"""The REST face: what the server (through its ASGI dispatcher) calls for every request but gRPC calls.

The dispatcher hands over a token or API request as a ``Request`` built from the ASGI scope (``serve``), every other
one as a WSGI environ (``__call__``, which is also the app ``create_app`` gives another WSGI server). Every request
first passes the Host check of ``pipeline/guard.py`` (DNS rebinding; a refusal in its family's error shape,
unjournaled). Control-plane requests (``/_mock/``, ``/``) go straight to the Flask app (which applies the guard's
CSRF rules), unjournaled. Every other request is a ``Request`` and runs through the one pipeline
(``pipeline/pipeline.py``): the token endpoint and the protected API are served without Flask (hot paths), keys and
discovery by Flask's views, and in proxy mode all of them by the ``Proxy``. Errors are rendered by
``reply.error_reply`` (a ``status`` or ``redirect`` fault: its own answer). A ``drop`` or ``hang`` fault raises the
server's drop error, so the server closes the connection without an answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from ..core.control import ControlPlane
from ..core.errors import ApiError, HttpError, OAuthError
from ..core.faults import Fault
from ..core.journal import JournalEntry
from ..pipeline.api import api_endpoint
from ..pipeline.guard import Guard
from ..pipeline.oauth import token_endpoint
from ..pipeline.pipeline import FaultAnswer, Pipeline, Target
from ..pipeline.request import Request
from .rest import Reply, error_reply, json_reply
from .wsgi_keys import ENTRY, status_line

if TYPE_CHECKING:  # imported by the server only in proxy mode: mock mode never loads httpx
    from ..pipeline.proxy import Proxy

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
HOT_FAMILIES = frozenset({"token", "api"})  # served without Flask: the server hands them over as a ``Request``


def classify(path: str) -> str:
    """Which endpoint family a path belongs to (what faults and journal filters name)."""
    if path == "/oauth/token":
        return "token"
    if path in ("/keys", "/.well-known/jwks.json"):
        return "keys"
    if path in ("/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"):
        return "discovery"
    if path.startswith("/_mock/") or path in ("/_mock", "/"):  # "/": the index, pointing at the control plane
        return "control"
    return "api"


class JournalMiddleware:
    """Wraps the Flask app: every request but the control plane's goes through the pipeline."""

    def __init__(self, app: WSGIApp, control: ControlPlane, log: Callable[[JournalEntry], None] | None = None,
                 proxy: Proxy | None = None) -> None:
        self.app = app
        self.control = control
        self.pipeline = Pipeline(control, log)
        self.proxy = proxy
        # No Host check until a server is started (MockServer.start sets its own); the control token from the start.
        self.guard = Guard(control_token=control.config.control_token)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        family = classify(environ.get("PATH_INFO", "") or "/")
        if family == "control" and self.guard.host_allowed(environ.get("HTTP_HOST", "")):
            return self.app(environ, start_response)  # its CSRF rules: web/app.py, once the route is known
        return _send(self.serve(Request.from_environ(environ), family, environ), start_response)

    def serve(self, request: Request, family: str, environ: dict[str, Any] | None = None, *,
              may_block: bool = True) -> Reply:
        """Answer a request of any family but the control plane's (whose refused ``Host`` is answered here too).
        ``environ`` is the request's WSGI environ, for Flask's views (keys, discovery): the server hands over the
        hot families (``HOT_FAMILIES``) without one. ``may_block=False``: served on an event loop
        (``computes_only``), so delay, hang and drop faults stay queued for a later request."""
        host = request.header("host")
        if not self.guard.host_allowed(host):
            return self.misdirected(family, host)
        entry = self.pipeline.entry(request, family)
        return self.pipeline.run(entry, lambda: Target(family, request.method, request.path, request.query),
                                 lambda fault: self._endpoint(family, request, environ, entry, fault),
                                 self.render, _status, may_block=may_block)  # drop, hang: pipeline.Dropped

    def computes_only(self, method: str) -> bool:
        """Whether an API request (REST or gRPC) with this REST ``method`` is computation only, so that a server
        may answer it on its event loop rather than hop to a thread (which costs more than the answer).

        Only while nothing can make it wait: no fault queued (one may delay or hang it), the published document and
        the store loaded (the first call reads them: longer than the control plane may wait), no upstream to relay
        to, no request log that may block (one that writes its lines itself, to a pipe nobody reads: ``serve``'s
        ``cli.RequestLog`` says ``blocks = False``), and nothing to wait for from other processes:
        a shared state (``core/redis_state.py``) applies a write, and counts a rate-limited request, through Redis;
        its reads are this process's own. A fault queued in between is left for the next request (``may_block``)."""
        control = self.control
        log = self.pipeline.log
        return (not control.faults and self.proxy is None and (log is None or getattr(log, "blocks", True) is False)
                and control.resources.loaded
                and (not control.backend.shared or (method == "GET" and control.rate_limiter.limit is None)))

    def _endpoint(self, family: str, request: Request, environ: dict[str, Any] | None, entry: JournalEntry,
                  fault: Fault | None) -> Reply:
        if self.proxy is not None:
            return self.proxy.serve(family, request, entry, fault)
        if family == "token":
            return token_endpoint(self.control, request, entry, fault)
        if family == "api":
            return api_endpoint(self.control, request, entry)
        assert environ is not None, f"the {family} family is served by Flask's views, from a WSGI environ"
        environ[ENTRY] = entry  # keys and discovery: Flask's views (their errors name the entry's outcome)
        return call_wsgi(self.app, environ)

    def misdirected(self, family: str, host: str) -> Reply:
        """A request whose Host does not name the mock (421), in its family's error shape."""
        if family == "control":
            return json_reply({"error": self.guard.host_refusal(host)}, 421)
        error = OAuthError("misdirected") if family == "token" else ApiError("misdirected")
        return error_reply(self.control.fixtures, error, None)

    def render(self, error: HttpError, entry: JournalEntry) -> Reply:
        """The REST face's errors: the documented body (``reply.error_reply``), or a status fault's own answer."""
        if isinstance(error, FaultAnswer):
            return self.pipeline.status_reply(error.fault, error.headers)
        return error_reply(self.control.fixtures, error, entry)


def _status(reply: Reply) -> int:
    return reply.status


def _send(reply: Reply, start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response(status_line(reply.status), reply.head())
    return [reply.body]


def call_wsgi(app: Callable[..., Any], environ: dict[str, Any]) -> Reply:
    """Run a WSGI app to completion: its status, headers and whole body as a ``Reply`` (Content-Type apart;
    its Content-Length kept, which a HEAD answer needs)."""
    started: list[Any] = []
    written: list[bytes] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
        started[:] = [int(status.split(" ", 1)[0]), headers]
        return written.append  # the legacy write() callable

    result = app(environ, start_response)
    try:
        body = b"".join([*written, *result])
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    status, headers = started
    content_type = next((v for k, v in headers if k.lower() == "content-type"), "")
    return Reply(status, body, content_type, [(k, v) for k, v in headers if k.lower() != "content-type"])
