"""The outer WSGI layer: journals every request and plays connection-level faults.

It sits outside Flask because some faults (a dropped connection, a hang) must never turn into an
HTTP response, and because the journal must see the final status of every answer.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Iterable
from urllib.parse import parse_qsl

from .bodies import api_error_body
from .control import ControlPlane
from .faults import Fault
from .journal import JournalEntry
from .wsgi_keys import ENTRY, FAULT, status_line

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]



def classify(path: str) -> str:
    """Which endpoint family a path belongs to (what faults and journal filters name)."""
    if path == "/oauth/token":
        return "token"
    if path in ("/keys", "/.well-known/jwks.json"):
        return "keys"
    if path == "/.well-known/openid-configuration":
        return "discovery"
    if path.startswith("/_mock/") or path == "/_mock":
        return "control"
    return "api"


class JournalMiddleware:
    """Wraps the Flask app: faults first, then the app, and a journal entry for every answer."""

    def __init__(self, app: WSGIApp, control: ControlPlane, drop_error: type[BaseException] = ConnectionAbortedError,
                 log: Callable[[JournalEntry], None] | None = None) -> None:
        self.app = app
        self.control = control
        self.drop_error = drop_error
        self.log = log

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "") or "/"
        endpoint = classify(path)
        if endpoint == "control":
            return self.app(environ, start_response)
        control = self.control
        method = environ.get("REQUEST_METHOD", "GET")
        entry = self._entry(environ, method, path, endpoint)
        fault = control.faults.take(endpoint, method, path)
        if fault is not None:
            entry.fault = fault.describe()
            early = self._play(fault, environ, entry)
            if early is not None:
                return self._finish(entry, *early, start_response)
        environ[ENTRY] = entry

        def journaling_start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            entry.status = int(status.split(" ", 1)[0])
            self._record(entry)
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        return self.app(environ, journaling_start_response)

    def _entry(self, environ: dict[str, Any], method: str, path: str, endpoint: str) -> JournalEntry:
        redact = self.control.redactor
        headers = {key[5:].replace("_", "-").lower(): redact.header(key[5:], value)
                   for key, value in environ.items() if key.startswith("HTTP_")}
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = redact.text(environ["CONTENT_TYPE"])
        query = environ.get("QUERY_STRING", "")
        return JournalEntry(seq=self.control.journal.next_seq(), time=self.control.now(), method=method,
                            path=redact.text(path), query=redact.fields(parse_qsl(query, keep_blank_values=True)) if query else {},
                            headers=headers, form=None, endpoint=endpoint)

    def _play(self, fault: Fault, environ: dict[str, Any], entry: JournalEntry) -> tuple[int, list[tuple[str, str]], bytes] | None:
        """Apply a fault; return a response to send instead of the app's, or ``None`` to go on."""
        release = self.control.release_event
        if fault.kind == "delay":
            release.wait(fault.seconds)
            return None
        if fault.kind in ("drop", "hang"):
            if fault.kind == "hang":
                release.wait(fault.seconds)
            entry.outcome = fault.kind
            self._record(entry)
            raise self.drop_error(f"fault {fault.id}: {fault.kind}")
        if fault.kind in ("token_expired", "forbidden"):
            entry.outcome = fault.kind
            return self._api_error(fault.kind, fault.headers)
        if fault.kind == "status":
            return self._status(fault)
        environ[FAULT] = fault  # malformed_token: the token view builds the broken answer
        return None

    def _api_error(self, key: str, extra: Any) -> tuple[int, list[tuple[str, str]], bytes]:
        spec = self.control.fixtures.api_error(key)
        body = json.dumps(api_error_body(self.control.fixtures, key)).encode()
        return spec["status"], [("Content-Type", "application/json"), *dict(extra).items()], body

    def _status(self, fault: Fault) -> tuple[int, list[tuple[str, str]], bytes]:
        assert fault.status is not None
        preset = self.control.fixtures.faults["presets"].get(fault.preset or "", {})
        headers = {**preset.get("headers", {}), **fault.headers}
        if fault.body is not None:
            text = fault.body if isinstance(fault.body, str) else json.dumps(fault.body)
            ctype = "text/plain; charset=utf-8" if isinstance(fault.body, str) else "application/json"
        elif "api_error" in preset:
                text, ctype = json.dumps(api_error_body(self.control.fixtures, preset["api_error"])), "application/json"
        elif "text" in preset:
            text, ctype = preset["text"], preset.get("content_type", "text/plain; charset=utf-8")
        else:
            text, ctype = "", "text/plain; charset=utf-8"
        return fault.status, [("Content-Type", ctype), *headers.items()], text.encode()

    def _finish(self, entry: JournalEntry, status: int, headers: list[tuple[str, str]], body: bytes,
                start_response: Callable[..., Any]) -> Iterable[bytes]:
        entry.status = status
        entry.outcome = entry.outcome or "fault"
        self._record(entry)
        start_response(status_line(status), [*headers, ("Content-Length", str(len(body)))])
        return [body]

    def _record(self, entry: JournalEntry) -> None:
        self.control.journal.record(entry)
        if self.log is not None:
            self.log(entry)
