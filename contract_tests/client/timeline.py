"""A check's timeline: what the mock journaled and what the suite did and heard, in order on the mock's clock.

Each event is a plain dict with a ``kind`` and a ``time`` (the mock's virtual clock, a Unix time):

- ``token`` / ``api`` / ``request``: a request the mock journaled (``seq``, ``method``, ``path``, ``status``,
  ``outcome``; ``issued`` (and ``issued_as``: how it reached the client) or ``bearer`` as fingerprints;
  ``fault`` when a fault answered it);
- ``op``: an op the suite sent the driver; ``answer``: what the client answered (``ok``, ``status``,
  ``error_type``, ``text``), or that it did not;
- ``clock``: the mock's clock moved ``seconds`` forward (``time`` is when, before the move): a jump (virtual
  time), or the suite's wait (real time, ``note`` says so);
- ``fault``: a fault queued on the mock; ``mock``: another control-plane step (revocation, key rotation, …).

Kept free of I/O so the HTML report can be tested on hand-built events. Journal entries hold fingerprints
only; what a driver answered is redacted (its secret and any JWT fingerprinted) before it is kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .driver import CallResult, redact
from .evidence import Request

Event = dict[str, Any]
ANSWER_TEXT = 160  # characters of a client's answer kept


def journal_events(entries: Iterable[Mapping[str, Any]]) -> list[Event]:
    """The requests of a journal as timeline events (control-plane requests left out)."""
    return [_request(Request(e)) for e in entries if e.get("endpoint") != "control"]


def _request(r: Request) -> Event:
    kind = r.endpoint if r.endpoint in ("token", "api") else "request"
    event: Event = {"kind": kind, "time": r.time, "seq": r.seq, "method": str(r.entry.get("method", "")),
                    "path": str(r.entry.get("path", "")), "status": r.status, "outcome": r.outcome,
                    "endpoint": r.endpoint}
    if kind == "token":
        event["issued"] = str(r.issued["fingerprint"]) if r.issued is not None else None
        event["issued_as"] = r.issued_as
        event["delivered"] = r.delivered
    elif kind == "api":
        event["bearer"] = r.bearer
        if r.bearer is None and r.authorization:
            event["authorization"] = r.authorization.partition(" ")[0]  # the scheme only
    fault = r.entry.get("fault")
    if isinstance(fault, dict):
        event["fault"] = describe_fault(fault)
    detail = (r.entry.get("extra") or {}).get("detail")
    if detail:
        event["detail"] = str(detail)
    return event


def describe_fault(fault: Mapping[str, Any]) -> str:
    """``status 503 (unavailable)``, ``malformed_token not_json``, ``hang``: a fault in a few words."""
    words = [str(fault.get("kind", "fault"))]
    for key in ("status", "preset", "variant", "seconds"):
        if fault.get(key) is not None:
            words.append(f"{fault[key]}" + (" s" if key == "seconds" else ""))
    return " ".join(words)


def step_event(action: str, fields: Mapping[str, Any], now: float) -> Event:
    """The event of a control-plane step the check noted (``CheckContext.mock_step``) just after taking it."""
    if action in ("advance_clock", "wait"):  # a wait (real time) moved the mock's clock as much
        seconds = float(fields.get("seconds", 0))
        return {"kind": "clock", "time": now - seconds, "seconds": seconds, "note": str(fields.get("note", ""))}
    if action == "add_fault":
        spec = {k: v for k, v in fields.items() if k != "kind"}
        return {"kind": "fault", "time": now, "fault": describe_fault({"kind": fields.get("kind"), **spec}),
                "endpoint": str(fields.get("endpoint", "api")), "count": fields.get("count")}
    details = ", ".join(f"{k}={v}" for k, v in fields.items())
    return {"kind": "mock", "time": now, "action": action, "details": details}


def answer_event(op: str, result: CallResult | Sequence[CallResult] | None, secret: str, now: float) -> Event:
    """What the client answered to ``op``: one call's result, a concurrent batch's, or a plain ok."""
    if result is None:
        return {"kind": "answer", "time": now, "op": op, "ok": True, "status": None, "error_type": None, "text": "ok"}
    if isinstance(result, CallResult):
        return {"kind": "answer", "time": now, "op": op, "ok": result.succeeded, "status": result.status
                if result.succeeded else result.surfaced_status, "error_type": result.error_type,
                "text": redact(result.describe(), [secret])[:ANSWER_TEXT]}
    failed = [r for r in result if not r.succeeded]
    text = f"{len(result) - len(failed)} of {len(result)} ok"
    if failed:
        text += "; first failure: " + redact(failed[0].describe(), [secret])[:ANSWER_TEXT]
    return {"kind": "answer", "time": now, "op": op, "ok": not failed, "status": None,
            "error_type": failed[0].error_type if failed else None, "text": text}


def no_answer_event(op: str, error: Exception, secret: str, now: float) -> Event:
    """The driver gave no usable answer to ``op`` (it hung, or broke the protocol)."""
    text = redact(f"no answer: {type(error).__name__}: {error}", [secret])[:ANSWER_TEXT]
    return {"kind": "answer", "time": now, "op": op, "ok": False, "status": None, "error_type": "no_answer",
            "text": text}


def merge(journal: Iterable[Event], suite: Iterable[Event]) -> tuple[Event, ...]:
    """Both sides in order of time; at the same instant the suite's events (noted in order) come first."""
    return tuple(sorted([*suite, *journal], key=lambda e: float(e["time"])))
