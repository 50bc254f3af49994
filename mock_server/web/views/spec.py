"""``GET /_mock/openapi.json``: the mock's OpenAPI document, built on the first request and kept; beside it,
``GET /_mock/scalekit-openapi.json``: Scalekit's published document of the REST API, as shipped."""

from __future__ import annotations

import json
import threading

from flask import Blueprint, Response, current_app

from ..openapi import build_openapi
from .render import control

bp = Blueprint("spec", __name__, url_prefix="/_mock")

# Where an app keeps its serialized document (app.extensions, beside the control plane).
EXTENSION = "scalekit_mock.openapi"
_build_lock = threading.Lock()


@bp.get("/openapi.json")
def openapi() -> Response:
    return Response(document_text(), mimetype="application/json")


@bp.get("/scalekit-openapi.json")
def published_openapi() -> Response:
    # The very file the API answers from (fixtures/, or the --fixtures directory's copy), byte for byte.
    return Response(control().fixtures.openapi_path.read_bytes(), mimetype="application/json")


def document_text() -> str:
    """The document as JSON, built once per app: 444 operations cost too much to build at start or per request."""
    extensions = current_app.extensions
    text: str | None = extensions.get(EXTENSION)
    if text is None:
        with _build_lock:
            text = extensions.get(EXTENSION)
            if text is None:
                text = json.dumps(build_openapi(control()), separators=(",", ":"))
                extensions[EXTENSION] = text
    return text
