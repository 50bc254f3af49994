"""The outer WSGI layer: journals every request, plays faults, and serves the hot endpoints.

It sits outside Flask because some faults (a dropped connection, a hang) must never turn into an
HTTP response, because the journal must see the final status of every answer, and because the
token endpoint and the protected API are served here directly (see ``reply.py``). Discovery, keys
and the control plane go on to the Flask app. In proxy mode every family but the control plane goes
to the ``Proxy`` instead, after the faults (``proxy.py``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from .api import api_endpoint
from .bodies import api_error_body
from .control import ControlPlane
from .errors import ApiError, HttpError
from .faults import Fault
from .journal import JournalEntry
from .oauth import token_endpoint
from .pipeline.request import Request
from .reply import Reply, error_reply
from .wsgi_keys import ENTRY, status_line

if TYPE_CHECKING:  # imported by the server only in proxy mode: mock mode never loads httpx
    from .proxy import Proxy

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def classify(path: str) -> str:
    """Which endpoint family a path belongs to (what faults and journal filters name)."""
    if path == "/oauth/token":
        return "token"
    if path in ("/keys", "/.well-known/jwks.json"):
        return "keys"
    if path == "/.well-known/openid-configuration":
        return "discovery"
    if path.startswith("/_mock/") or path in ("/_mock", "/"):  # "/": the index, pointing at the control plane
        return "control"
    return "api"


class JournalMiddleware:
    """Faults first, then the endpoint (hot ones here, the rest in Flask), and a journal entry for every answer."""

    def __init__(self, app: WSGIApp, control: ControlPlane, drop_error: type[BaseException] = ConnectionAbortedError,
                 log: Callable[[JournalEntry], None] | None = None, proxy: Proxy | None = None) -> None:
        self.app = app
        self.control = control
        self.drop_error = drop_error
        self.log = log
        self.proxy = proxy

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "") or "/"
        endpoint = classify(path)
        if endpoint == "control":
            return self.app(environ, start_response)
        method = environ.get("REQUEST_METHOD", "GET")
        entry = self._entry(environ, method, path, endpoint)
        fault = self.control.faults.take(endpoint, method, path)
        if fault is not None:
            entry.fault = fault.describe()
            early = self.play_fault(fault, entry)
            if early is not None:
                return self._send(entry, early, start_response)
        if self.proxy is not None:
            return self._send(entry, self._forward(endpoint, environ, entry, fault), start_response)
        if endpoint in ("token", "api"):
            return self._send(entry, self._serve(endpoint, environ, entry, fault), start_response)
        environ[ENTRY] = entry

        def journaling_start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            entry.status = int(status.split(" ", 1)[0])
            self.record(entry)
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        return self.app(environ, journaling_start_response)

    def _serve(self, endpoint: str, environ: dict[str, Any], entry: JournalEntry, fault: Fault | None) -> Reply:
        request = Request.from_environ(environ)
        try:
            if endpoint == "token":
                return token_endpoint(self.control, request, entry, fault)
            return api_endpoint(self.control, request, entry)
        except HttpError as error:
            return error_reply(self.control.fixtures, error, entry)
        except Exception as exc:  # noqa: BLE001 - kept for MockServer.check(); the client gets a clean 500
            self.control.errors.append(exc)
            return error_reply(self.control.fixtures, ApiError("internal", type(exc).__name__), entry)

    def _forward(self, endpoint: str, environ: dict[str, Any], entry: JournalEntry, fault: Fault | None) -> Reply:
        assert self.proxy is not None
        try:
            return self.proxy.serve(endpoint, environ, entry, fault)
        except Exception as exc:  # noqa: BLE001 - kept for MockServer.check(); the client gets a clean 500
            self.control.errors.append(exc)
            return error_reply(self.control.fixtures, ApiError("internal", type(exc).__name__), entry)

    def _entry(self, environ: dict[str, Any], method: str, path: str, endpoint: str) -> JournalEntry:
        redact = self.control.redactor
        headers = {key[5:].replace("_", "-").lower(): redact.header(key[5:], value)
                   for key, value in environ.items() if key.startswith("HTTP_")}
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = redact.text(environ["CONTENT_TYPE"])
        query = environ.get("QUERY_STRING", "")
        return JournalEntry(seq=self.control.journal.next_seq(), time=self.control.now(), method=method,
                            path=redact.text(path),
                            query=redact.fields(parse_qsl(query, keep_blank_values=True)) if query else {},
                            headers=headers, form=None, endpoint=endpoint)

    def play_fault(self, fault: Fault, entry: JournalEntry) -> Reply | None:
        """Apply a fault; return a reply to send instead of the endpoint's, or ``None`` to go on."""
        release = self.control.release_event
        if fault.kind == "delay":
            release.wait(fault.seconds)
            return None
        if fault.kind in ("drop", "hang"):
            if fault.kind == "hang":
                release.wait(fault.seconds)
            entry.outcome = fault.kind
            self.record(entry)
            raise self.drop_error(f"fault {fault.id}: {fault.kind}")
        if fault.kind in ("token_expired", "forbidden"):
            reply = error_reply(self.control.fixtures, ApiError(fault.kind, "forced by a fault"), entry)
            reply.headers.extend(fault.headers.items())
            return reply
        if fault.kind == "status":
            entry.outcome = "fault"
            return self._status(fault)
        return None  # malformed_token: the token endpoint builds the broken answer

    def _status(self, fault: Fault) -> Reply:
        assert fault.status is not None
        preset = self.control.fixtures.faults["presets"].get(fault.preset or "", {})
        headers = list({**preset.get("headers", {}), **fault.headers}.items())
        if fault.body is not None:
            text = fault.body if isinstance(fault.body, str) else json.dumps(fault.body)
            ctype = "text/plain; charset=utf-8" if isinstance(fault.body, str) else "application/json"
        elif "api_error" in preset:
            text, ctype = json.dumps(api_error_body(self.control.fixtures, preset["api_error"])), "application/json"
        elif "text" in preset:
            text, ctype = preset["text"], preset.get("content_type", "text/plain; charset=utf-8")
        else:
            text, ctype = "", "text/plain; charset=utf-8"
        return Reply(fault.status, text.encode(), ctype, headers)

    def _send(self, entry: JournalEntry, reply: Reply, start_response: Callable[..., Any]) -> Iterable[bytes]:
        entry.status = reply.status
        self.record(entry)
        content_type = [("Content-Type", reply.content_type)] if reply.content_type else []  # relayed: maybe none
        start_response(status_line(reply.status), [*content_type, *reply.headers,
                                                    ("Content-Length", str(len(reply.body)))])
        return [reply.body]

    def record(self, entry: JournalEntry) -> None:
        detail = entry.extra.get("detail")
        if isinstance(detail, str):  # an error detail may quote what the client sent (a secret as a scope)
            entry.extra["detail"] = self.control.redactor.text(detail)
        self.control.journal.record(entry)
        if self.log is not None:
            self.log(entry)
