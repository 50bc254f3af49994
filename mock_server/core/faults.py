"""Faults: one-shot behaviours queued by a test and consumed by the next matching requests."""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .errors import ControlError

FINAL_STATUSES = (200, 599)  # what a status fault may answer (a 1xx is no final answer)
FAMILIES = ("token", "api", "keys", "discovery")  # the mock's endpoint families: what faults and rate limits name
ENDPOINTS = (*FAMILIES, "any")  # what a fault may name
# What a journal entry's ``endpoint`` may be: the mock's families, and ``foreign`` for a request that reached the
# second origin (a redirect fault's default target, servers/second_origin.py). No fault or rate limit names it.
JOURNALED = (*FAMILIES, "foreign")
KINDS = ("status", "delay", "drop", "hang", "malformed_token", "token_expired", "forbidden", "redirect")
# RFC 9110 15.4: the redirections a client may follow automatically. 307 is the default: it keeps the method and
# the body, so a client that follows it re-posts a token request's form, client secret included (RFC 9700 4.12).
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
DEFAULT_REDIRECT_STATUS = 307
MALFORMED = ("not_json", "missing_access_token", "expires_in_string", "expires_in_absurd")
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")  # an RFC 9110 token
_HEADER_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*\Z")  # no control characters; Latin-1 only
# What a redirect fault's ``location`` may be: an absolute http(s) URL, printable ASCII, with a host (a name, IPv4 or
# a bracketed IPv6 address), maybe a port, then a path, query or fragment. (Unanchored: the OpenAPI document anchors
# it its own way.)
LOCATION_PATTERN = r"https?://(?:[A-Za-z0-9._~-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?(?:[/?#][!-~]*)?"
_LOCATION = re.compile(LOCATION_PATTERN + r"\Z")
_FRAMING_HEADERS = frozenset({"connection", "content-length", "keep-alive", "proxy-authenticate",
                              "proxy-authorization", "te", "trailers", "transfer-encoding", "upgrade"})


BLOCKING = frozenset({"delay", "hang", "drop"})  # faults that wait, or end the exchange from the serving thread
# Faults a gRPC call never takes (left queued for the next HTTP request): gRPC has no redirects, a call's HTTP
# status is 200 whatever happens, and a client meeting a 3xx fails the call instead of following it.
HTTP_ONLY = frozenset({"redirect"})


@dataclass(frozen=True)
class Fault:
    """What to do to the next ``count`` requests to ``endpoint`` (optionally only under ``path``).

    ``status`` faults answer ``status`` with a preset body (``preset``) or the given ``body``;
    ``delay`` waits ``seconds`` then serves normally; ``drop`` closes the connection with no
    response; ``hang`` answers nothing for ``seconds`` (or until reset), then drops;
    ``malformed_token`` answers a broken 200 (``variant``); ``token_expired`` and ``forbidden``
    force that error on an API call; ``redirect`` answers ``status`` (a 3xx, default 307) with a
    ``Location``: ``location``, or by default the same path and query on the second origin. gRPC calls
    never take a redirect (``HTTP_ONLY``).
    """

    id: int
    kind: str
    endpoint: str = "any"
    path: str | None = None
    method: str | None = None
    count: int = 1
    status: int | None = None
    preset: str | None = None
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    variant: str | None = None
    location: str | None = None

    def matches(self, endpoint: str, method: str, path: str) -> bool:
        return ((self.endpoint == "any" or self.endpoint == endpoint)
                and (self.method is None or self.method == method)
                and (self.path is None or path.startswith(self.path)))

    def describe(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if v not in (None, {}, 0.0) or k in ("id", "count")}
        out["headers"] = dict(self.headers)
        return out


def _number(spec: Mapping[str, Any], name: str, default: float, low: float, high: float) -> float:
    value = spec.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ControlError(f"'{name}' must be a number from {low} to {high}")
    return float(value)


def fault_from_mapping(fault_id: int, spec: Mapping[str, Any], presets: Mapping[str, Any], hang_max: float) -> Fault:
    """Validate a fault as given to the control plane (JSON-like) and build it."""
    known = {"kind", "endpoint", "path", "method", "count", "status", "preset", "body", "headers", "seconds", "variant",
             "location"}
    unknown = set(spec) - known
    if unknown:
        raise ControlError(f"unknown fault field(s): {', '.join(sorted(unknown))}")
    kind = spec.get("kind")
    if kind not in KINDS:
        raise ControlError(f"'kind' must be one of: {', '.join(KINDS)}")
    default_endpoint = {"malformed_token": "token", "token_expired": "api", "forbidden": "api"}.get(kind, "any")
    endpoint = spec.get("endpoint", default_endpoint)
    if endpoint not in ENDPOINTS:
        raise ControlError(f"'endpoint' must be one of: {', '.join(ENDPOINTS)}")
    if kind == "malformed_token" and endpoint != "token":
        raise ControlError("a malformed_token fault applies to the token endpoint only")
    if kind in ("token_expired", "forbidden") and endpoint != "api":
        raise ControlError(f"a {kind} fault applies to API calls only")
    if "location" in spec and kind != "redirect":
        raise ControlError("'location' applies to redirect faults only")
    path, method = spec.get("path"), spec.get("method")
    if path is not None and (not isinstance(path, str) or not path.startswith("/")):
        raise ControlError("'path' must be a string starting with '/'")
    if method is not None and (not isinstance(method, str) or not method.isalpha()):
        raise ControlError("'method' must be an HTTP method name")
    count = int(_number(spec, "count", 1, 1, 1_000_000))
    if spec.get("count", 1) != count:
        raise ControlError("'count' must be a whole number")
    headers = spec.get("headers", {})
    if not isinstance(headers, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
        raise ControlError("'headers' must be an object of strings")
    for name, value in headers.items():
        # What the HTTP server cannot send (or must set itself) would break the answer instead of faking one.
        if not _HEADER_NAME.match(name) or not _HEADER_VALUE.match(value) or name.lower() in _FRAMING_HEADERS:
            raise ControlError(f"header {name!r}: not a valid header name and Latin-1 value, or one the server sets")
    fault = Fault(fault_id, kind, endpoint, path, method.upper() if method else None, count,
                  headers=headers, body=spec.get("body"))
    return _with_kind_fields(fault, spec, presets, hang_max)


def _with_kind_fields(fault: Fault, spec: Mapping[str, Any], presets: Mapping[str, Any], hang_max: float) -> Fault:
    if fault.kind == "redirect":
        return _redirect(fault, spec)
    if fault.kind == "status":
        preset = spec.get("preset")
        if preset is not None and (not isinstance(preset, str) or preset not in presets):
            raise ControlError(f"'preset' must be one of: {', '.join(presets)}")
        status = _whole(spec.get("status", presets[preset]["status"] if preset else None))
        low, high = FINAL_STATUSES
        if isinstance(status, bool) or not isinstance(status, int) or not low <= status <= high:
            # 1xx are interim answers: no server can send one as the final answer of a request.
            raise ControlError(f"a status fault needs 'status' ({low}-{high}: a final answer) or a 'preset'")
        return replace(fault, status=status, preset=preset)
    if fault.kind in ("delay", "hang"):
        default = hang_max if fault.kind == "hang" else 1.0
        return replace(fault, seconds=_number(spec, "seconds", default, 0, hang_max))
    if fault.kind == "malformed_token":
        variant = spec.get("variant", "not_json")
        if variant not in MALFORMED:
            raise ControlError(f"'variant' must be one of: {', '.join(MALFORMED)}")
        return replace(fault, variant=variant)
    return fault


def _whole(status: Any) -> Any:
    """JSON (and the OpenAPI document's "integer") counts 503.0 as an integer."""
    return int(status) if isinstance(status, float) and status.is_integer() else status


def _redirect(fault: Fault, spec: Mapping[str, Any]) -> Fault:
    status = _whole(spec.get("status", DEFAULT_REDIRECT_STATUS))
    if isinstance(status, bool) or status not in REDIRECT_STATUSES:
        raise ControlError(f"a redirect fault's 'status' must be one of: {', '.join(map(str, REDIRECT_STATUSES))}")
    if any(name.lower() == "location" for name in fault.headers):
        raise ControlError("a redirect fault sets its Location itself: give 'location', not a header")
    location = spec.get("location")
    if location is not None and not (isinstance(location, str) and _LOCATION.match(location)):
        raise ControlError("'location' must be an absolute http(s) URL with a host, in printable ASCII")
    return replace(fault, status=status, location=location)


class FaultQueue:
    """Queued faults in order; the first one matching a request is consumed by it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._remaining: dict[int, int] = {}
        self._ids = itertools.count(1)

    def next_id(self) -> int:
        return next(self._ids)

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
            self._remaining[fault.id] = fault.count
        return fault

    def take(self, endpoint: str, method: str, path: str, skip: frozenset[str] = frozenset()) -> Fault | None:
        """The first queued fault for this request, counted down; faults of a kind in ``skip`` are left for
        a later request."""
        if not self._faults:  # the common case costs no lock
            return None
        with self._lock:
            for fault in self._faults:
                if fault.kind not in skip and fault.matches(endpoint, method, path):
                    self._remaining[fault.id] -= 1
                    if self._remaining[fault.id] <= 0:
                        self._faults.remove(fault)
                        del self._remaining[fault.id]
                    return fault
        return None

    def __bool__(self) -> bool:
        """Whether any fault is queued (read without the lock: a hint, ``take`` decides)."""
        return bool(self._faults)

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [{**f.describe(), "remaining": self._remaining[f.id]} for f in self._faults]

    def clear(self) -> None:
        with self._lock:
            self._faults, self._remaining = [], {}
