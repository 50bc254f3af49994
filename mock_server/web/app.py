"""The Flask application of the mock: blueprints, the one error renderer, the journaling layer."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from ..core.config import MockConfig
from ..core.control import ControlPlane
from ..core.credentials import CONTROL_TOKEN_HEADER
from ..core.errors import ApiError, ControlError, HttpError, MockError, OAuthError
from ..core.journal import JournalEntry
from ..faces.wsgi import JournalMiddleware, classify
from ..faces.wsgi_keys import status_line
from ..pipeline.request import MAX_BODY_BYTES
from .views import controlapi, discovery, index, spec
from .views.render import guard, json_response, render_http_error

if TYPE_CHECKING:
    from ..pipeline.proxy import Proxy


# Registering a route compiles it with ast.parse, whose recursion bookkeeping CPython 3.11 keeps per
# interpreter, not per thread (gh-106905): mocks built on two threads at once could fail with
# "SystemError: AST constructor recursion depth mismatch". One app's routes at a time.
_COMPILING = threading.Lock()


def create_app(config: MockConfig | None = None, *, control: ControlPlane | None = None,
               log: Callable[[JournalEntry], None] | None = None, proxy: Proxy | None = None) -> Flask:
    """Build the mock's WSGI app around a control plane (a new one from ``config`` by default).

    In proxy mode (the plane's config names an ``upstream``) requests are forwarded by ``proxy``, one
    made here when none is given (its owner closes it: ``MockServer.stop`` does).
    """
    plane = control or ControlPlane(config or MockConfig())
    if plane.relay is not None and proxy is None:
        from ..pipeline.proxy import Proxy  # only in proxy mode: mock mode never loads httpx

        proxy = Proxy(plane)
    with _COMPILING:  # Flask() adds its static route
        app = Flask("mock_server")
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.config["PROVIDE_AUTOMATIC_OPTIONS"] = False  # OPTIONS gets the family's 405 body, not an empty 200
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.json.compact = True  # type: ignore[attr-defined]
    app.url_map.strict_slashes = False
    app.url_map.merge_slashes = False
    app.extensions["scalekit_mock"] = plane
    with _COMPILING:
        for blueprint in (index.bp, discovery.bp, controlapi.bp, spec.bp):  # token and API: JournalMiddleware's
            app.register_blueprint(blueprint)
    app.before_request(_control_rules)
    app.register_error_handler(HttpError, render_http_error)
    app.register_error_handler(ControlError, _control_error)
    app.register_error_handler(MockError, _control_error)
    app.register_error_handler(HTTPException, _http_exception)
    app.register_error_handler(Exception, _unexpected(plane))
    app.wsgi_app = JournalMiddleware(app.wsgi_app, plane, log, proxy)  # type: ignore[method-assign]
    app.extensions["scalekit_mock.proxy"] = proxy
    return app


def _control_rules() -> Response | None:
    """The control plane's rules (``pipeline/guard.py``): its token, on every ``/_mock/`` request (an unknown path
    too: it answers nothing without one); then the CSRF rules, for a request its routes serve (an unknown path or
    method changes nothing, and keeps its 404 or 405)."""
    if classify(request.path) != "control":
        return None
    rules = guard()
    refusal = rules.token_refusal(request.path, request.headers.get(CONTROL_TOKEN_HEADER, ""))
    if refusal is None and request.routing_exception is None:
        refusal = rules.control_refusal(request.method, request.headers.get("Content-Type", ""),
                                        request.content_length or 0, request.headers.get("Origin", ""),
                                        request.headers.get("Sec-Fetch-Site", ""))
    if refusal is None:
        return None
    return json_response({"error": refusal.message}, refusal.status, dict(refusal.headers))


def _control_error(error: MockError) -> Response:
    status = error.status if isinstance(error, ControlError) else 400
    return json_response({"error": str(error)}, status)


def _http_exception(error: HTTPException) -> Response:
    """Werkzeug's own errors (405, 413, bad request line …), rendered in the endpoint's body shape."""
    family = classify(request.path)
    status = error.code or 500
    # Werkzeug's own headers (a 405's Allow) go with the family's body.
    headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
    if family == "control":
        return json_response({"error": error.description or error.name}, status, headers)
    if family == "token":
        key = "method_not_allowed" if status == 405 else "invalid_request"
        response = render_http_error(OAuthError(key, error.description))
    else:
        key = {404: "not_found", 405: "method_not_allowed"}.get(status, "invalid_argument")
        response = render_http_error(ApiError(key, error.description))
    response.status = status_line(status)
    response.headers.update(headers)
    return response


def _unexpected(plane: ControlPlane) -> Callable[[Exception], Response]:
    def handle(error: Exception) -> Response:
        # Kept for MockServer.check() to re-raise in the test; the client gets a clean 500.
        plane.errors.append(error)
        return render_http_error(ApiError("internal", f"{type(error).__name__}"))

    return handle


