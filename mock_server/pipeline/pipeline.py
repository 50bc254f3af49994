"""The one request pipeline: every face (REST over WSGI, gRPC, the proxy) runs its requests through ``Pipeline.run``.

A request goes: its journal entry (``entry``) → what it calls, for fault matching (the face's ``resolve``) →
the first queued fault that matches, played here (``play``: this is where each fault kind's effect is
defined), or else the rate limit, when one is set (``core/ratelimit.py``; a 429 ``rate_limited``) → the endpoint
→ on an error, the face's renderer → the one journal write (``record``). A ``drop``
or ``hang`` fault ends the exchange with ``Dropped``, which each server turns into a closed connection its
own way; an unexpected exception is kept for ``MockServer.check()`` and rendered as the ``internal`` error.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import parse_qsl, quote

from ..core.bodies import api_error_body
from ..core.control import ControlPlane
from ..core.errors import ApiError, HttpError, OAuthError, StateUnavailable
from ..core.faults import BLOCKING, HTTP_ONLY, Fault
from ..core.journal import JournalEntry
from ..faces.rest import Reply
from .request import Request

W = TypeVar("W")  # what a face sends: a ``Reply``, a ``GrpcAnswer``
# The fault kinds a request leaves queued, by (may it block, is it a gRPC call): a call served on an event loop
# never waits, and a gRPC call never takes a redirect.
_LEFT_QUEUED = {(block, grpc): (frozenset() if block else BLOCKING) | (HTTP_ONLY if grpc else frozenset())
                for block in (True, False) for grpc in (True, False)}


class Dropped(ConnectionAbortedError):
    """A ``drop`` or ``hang`` fault: the exchange ends with no answer (already journaled). The mock's server closes
    the connection; another WSGI server running ``create_app`` sees an aborted connection."""


class FaultAnswer(ApiError):
    """A ``status`` or ``redirect`` fault's answer (``headers``: what it adds, a redirect's ``Location``). REST sends
    its status and body as queued; gRPC the API error it stands for."""

    def __init__(self, fault: Fault, key: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(key, f"{fault.kind} fault {fault.status}", headers)
        self.fault = fault


@dataclass(frozen=True)
class Target:
    """What a request calls, as faults name it: the endpoint family, the method and the (REST) path; the query, for
    a redirect to the same target on the second origin."""

    family: str
    method: str
    path: str
    query: str = ""


class Pipeline:
    """Journal, faults, endpoint, errors and the journal write, for the requests of every face."""

    def __init__(self, control: ControlPlane, log: Callable[[JournalEntry], None] | None = None) -> None:
        self.control = control
        self.limiter = control.rate_limiter
        self.log = log

    def entry(self, request: Request, family: str) -> JournalEntry:
        """The request's journal entry, redacted: secrets and tokens never reach the journal in clear."""
        redact = self.control.redactor
        headers = {name: redact.header(name, value) for name, value in request.first_values()}
        query = redact.fields(parse_qsl(request.query, keep_blank_values=True)) if request.query else {}
        return JournalEntry(seq=self.control.journal.next_seq(), time=self.control.now(), method=request.method,
                            path=redact.text(request.path), query=query, headers=headers, form=None,
                            endpoint=family, transport=request.transport)

    def run(self, entry: JournalEntry, resolve: Callable[[], Target], endpoint: Callable[[Fault | None], W],
            render: Callable[[HttpError, JournalEntry], W], status_of: Callable[[W], int], *,
            may_block: bool = True) -> W:
        """Serve one request through ``endpoint`` (errors through ``render``) and journal it once.

        ``may_block=False`` (a call served on an event loop) leaves delay, hang and drop faults queued for a
        later request."""
        try:
            answer = self._serve(entry, resolve, endpoint, may_block)
        except HttpError as error:
            answer = render(error, entry)
        except Dropped:
            raise
        except StateUnavailable:  # the shared state went away mid-request (core/redis_state.py)
            answer = render(_unavailable(entry.endpoint), entry)
        except Exception as exc:  # noqa: BLE001 - kept for MockServer.check(); the client gets a clean 500
            self.control.errors.append(exc)
            answer = render(ApiError("internal", type(exc).__name__), entry)
        entry.status = status_of(answer)
        self.record(entry)
        return answer

    def _serve(self, entry: JournalEntry, resolve: Callable[[], Target], endpoint: Callable[[Fault | None], W],
               may_block: bool) -> W:
        if not self.control.backend.available:
            raise _unavailable(entry.endpoint)
        target = resolve()
        fault = self.control.take_fault(target.family, target.method, target.path,
                                        _LEFT_QUEUED[may_block, entry.transport == "grpc"])
        if fault is not None:
            entry.fault = fault.describe()
            self.play(fault, entry, target)
        elif self.limiter.limit is not None and not self.control.admit(target.family):
            # After the faults: a request a test queued a fault for gets that fault, neither counted nor refused.
            raise ApiError("rate_limited", "past the rate limit (GET /_mock/rate-limit)", dict(self.limiter.headers))
        return endpoint(fault)

    def play(self, fault: Fault, entry: JournalEntry, target: Target) -> None:
        """What each kind of fault does to the request it matched (``malformed_token``: the token endpoint)."""
        release = self.control.release_event
        if fault.kind == "delay":
            release.wait(fault.seconds)
        elif fault.kind in ("drop", "hang"):
            if fault.kind == "hang":
                release.wait(fault.seconds)  # reset() and stop() release it early
            entry.outcome = fault.kind
            self.record(entry)
            raise Dropped(f"fault {fault.id}: {fault.kind}")
        elif fault.kind in ("token_expired", "forbidden"):
            raise ApiError(fault.kind, "forced by a fault", dict(fault.headers))
        elif fault.kind == "status":
            entry.outcome = "fault"
            raise FaultAnswer(fault, self._error_key(fault))
        elif fault.kind == "redirect":
            location = fault.location or self.control.second_origin_url() + _request_target(target)
            entry.outcome = "redirect"
            entry.extra["detail"] = f"to {location}"  # redacted by record(): the query may quote a secret
            raise FaultAnswer(fault, self._error_key(fault), {"Location": location})

    def _error_key(self, fault: Fault) -> str:
        """The API error a status fault stands for where only an error can be sent (gRPC): its preset's, else
        the first with that HTTP status, else UNAVAILABLE (what a gRPC client sees of a failing server)."""
        preset = self.control.fixtures.faults["presets"].get(fault.preset or "", {})
        if isinstance(preset.get("api_error"), str) and fault.body is None:
            return str(preset["api_error"])
        api_errors = self.control.fixtures.errors["api"]
        return next((str(k) for k, spec in api_errors.items() if spec.get("status") == fault.status), "unavailable")

    def status_reply(self, fault: Fault, added: Mapping[str, str] | None = None) -> Reply:
        """A ``status`` or ``redirect`` fault's HTTP answer: its status, with its own body or its preset's, and the
        headers the fault's play ``added`` (a redirect's ``Location``)."""
        assert fault.status is not None
        preset = self.control.fixtures.faults["presets"].get(fault.preset or "", {})
        headers = list({**preset.get("headers", {}), **fault.headers, **(added or {})}.items())
        if fault.body is not None:
            text = fault.body if isinstance(fault.body, str) else json.dumps(fault.body)
            ctype = "text/plain; charset=utf-8" if isinstance(fault.body, str) else "application/json"
        elif "api_error" in preset:
            text = json.dumps(api_error_body(self.control.fixtures, preset["api_error"]))
            ctype = "application/json"
        elif "text" in preset:
            text, ctype = preset["text"], preset.get("content_type", "text/plain; charset=utf-8")
        else:
            text, ctype = "", "text/plain; charset=utf-8"
        return Reply(fault.status, text.encode(), ctype, headers)

    def record(self, entry: JournalEntry) -> None:
        """The journal write, the only one: every answered (or dropped) request passes here once."""
        detail = entry.extra.get("detail")
        if isinstance(detail, str):  # an error detail may quote what the client sent (a secret as a scope)
            entry.extra["detail"] = self.control.redactor.text(detail)
        self.control.journal.record(entry)
        if self.log is not None:
            self.log(entry)


def _unavailable(family: str) -> HttpError:
    """What a request gets while the shared state cannot be reached: 503, in its endpoint's shape."""
    return OAuthError("state_unavailable") if family == "token" else ApiError("state_unavailable")


def _request_target(target: Target) -> str:
    """The path and query of the request, encoded again for a ``Location`` (a WSGI path is decoded, as Latin-1)."""
    path = quote(target.path.encode("latin-1", "replace"), safe="/!$&'()*+,;=:@~-._")
    query = quote(target.query.encode("latin-1", "replace"), safe="/?!$&'()*+,;=:@~-._%")
    return path + ("?" + query if query else "")
