"""Names of the per-request values the outer WSGI layer hands to the views, and the status line."""

from __future__ import annotations

from http import HTTPStatus

ENTRY = "scalekit_mock.entry"


def status_line(status: int) -> str:
    """``"401 Unauthorized"``: the standard reason phrase (some SDKs read the status from it)."""
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Unknown"
