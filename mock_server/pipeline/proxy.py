"""Proxy mode: forward token, keys, discovery and API requests to an upstream environment, relay its answers.

The proxy is an endpoint of the one pipeline (``pipeline/pipeline.py``): the pipeline journals the request
and plays its fault first, as in mock mode; then ``Proxy.serve`` answers itself only what the upstream
cannot be asked for — a revoked token, a token past its ``exp`` on the
virtual clock (both 401 "Token expired", the mock's body), a ``malformed_token`` fault, a spent
budget — and forwards everything else. Answers are relayed unchanged: status, body bytes (still
content-encoded) and headers, less the hop-by-hop ones. An upstream that cannot be reached, fails
TLS or sends too much is a 502, one too slow a 504, each with the mock's Status body; every upstream
request has a deadline, so a request through the proxy never hangs.
"""

from __future__ import annotations

import json
import re
import ssl
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote

import httpx

from ..core.control import ControlPlane
from ..core.credentials import BadCredentials, basic_credentials, bearer_token
from ..core.errors import ApiError, OAuthError
from ..core.faults import Fault
from ..core.journal import JournalEntry
from ..core.relay import unverified_claims
from ..faces.rest import Reply
from .oauth import FORM, malformed_reply
from .request import Request

MAX_ANSWER_BYTES = 4 * 1024 * 1024
# RFC 9110 7.6.1 hop-by-hop headers, plus what the proxy sets or settles itself: Host, framing, and Expect
# (the server has already answered a 100-continue; the body is here).
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection",
                        "te", "trailer", "trailers", "transfer-encoding", "upgrade", "host", "content-length",
                        "expect"})
_ERROR_KEY = re.compile(r"[a-z][a-z0-9_]{0,39}\Z")


class BudgetSpent(ApiError):
    """The proxy's budget of upstream requests is spent: a 429 from the proxy, nothing forwarded."""

    outcome = "budget_spent"  # not the upstream's own 429

    def __init__(self, budget: int | None) -> None:
        super().__init__("rate_limited", f"the proxy's budget of {budget} upstream requests between two resets is "
                         "spent; nothing was forwarded", {"Retry-After": "1"})


class UpstreamFailure(Exception):
    """No usable answer from the upstream: ``kind`` is unreachable, tls, timeout or too_large."""

    def __init__(self, kind: str, detail: str, latency: float) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail
        self.latency = latency


@dataclass(frozen=True)
class UpstreamAnswer:
    """The upstream's answer as received: status, headers (hop-by-hop ones included) and raw body bytes."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    latency: float

    def header(self, name: str) -> str:
        return next((v for k, v in self.headers if k.lower() == name), "")

    def json(self) -> Any:
        """The body parsed as JSON (decoded first if content-encoded), or ``None`` when it is not JSON."""
        body = self.body
        if self.header("content-encoding"):
            try:
                body = httpx.Response(self.status, headers=self.headers, content=body).content
            except httpx.DecodingError:
                return None
        try:
            return json.loads(body)
        except (ValueError, RecursionError):  # ValueError includes UnicodeDecodeError
            return None


class Upstream:
    """The HTTP client to the upstream environment (httpx, shared by the server's threads)."""

    def __init__(self, base_url: str, timeout: float, transport: httpx.BaseTransport | None = None) -> None:
        self.base = httpx.URL(base_url)
        self.timeout = timeout
        self._http = httpx.Client(timeout=httpx.Timeout(timeout), follow_redirects=False, transport=transport)

    def send(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes) -> UpstreamAnswer:
        """Send one request; the whole answer must arrive within about ``2 * timeout`` seconds."""
        started = time.monotonic()
        prefix = self.base.raw_path.rstrip(b"/") if self.base.raw_path != b"/" else b""
        url = self.base.copy_with(raw_path=prefix + target.encode("latin-1"))
        raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]  # WSGI's strings are Latin-1
        request = httpx.Request(method, url, headers=raw, content=body)
        try:
            # send(), not request(): no client-side headers (Accept-Encoding, User-Agent) are added.
            response = self._http.send(request, stream=True)
            try:
                chunks = self._read(response, started)
            finally:
                response.close()
        except httpx.TimeoutException as exc:
            raise UpstreamFailure("timeout", f"no answer within {self.timeout:g} s", _since(started)) from exc
        except (httpx.TransportError, httpx.InvalidURL) as exc:
            raise UpstreamFailure(_transport_kind(exc), _describe(exc), _since(started)) from exc
        headers_out = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers.raw]
        return UpstreamAnswer(response.status_code, headers_out, b"".join(chunks), _since(started))

    def _read(self, response: httpx.Response, started: float) -> list[bytes]:
        chunks, size, deadline = [], 0, started + 2 * self.timeout
        for chunk in response.iter_raw():
            size += len(chunk)
            if size > MAX_ANSWER_BYTES:
                raise UpstreamFailure("too_large", f"the answer exceeds {MAX_ANSWER_BYTES} bytes", _since(started))
            if time.monotonic() > deadline:  # a server dripping bytes never trips the per-read timeout
                raise UpstreamFailure("timeout", f"the answer took over {2 * self.timeout:g} s", _since(started))
            chunks.append(chunk)
        return chunks

    def close(self) -> None:
        self._http.close()


def _since(started: float) -> float:
    return round(time.monotonic() - started, 4)


def _transport_kind(exc: Exception) -> str:
    """``tls`` when an SSL error is anywhere in the chain (httpx wraps it in a ConnectError), else unreachable."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return "tls"
        seen = seen.__cause__ or seen.__context__
    return "unreachable"


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


# -- headers, without I/O ------------------------------------------------------------------------
def forward_headers(request: Request) -> list[tuple[str, str]]:
    """The request's end-to-end headers, as the upstream should get them (no hop-by-hop ones, no Host)."""
    return _end_to_end((_header_name(name), value) for name, value in request.headers)


def relay_headers(headers: Iterable[tuple[str, str]]) -> tuple[str, list[tuple[str, str]]]:
    """The upstream's answer headers as the client gets them: its Content-Type, and the end-to-end rest."""
    kept = _end_to_end(headers)
    content_type = next((v for k, v in kept if k.lower() == "content-type"), "")
    return content_type, [(k, v) for k, v in kept if k.lower() != "content-type"]


def _end_to_end(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    headers = list(headers)
    named = {part.strip().lower() for k, v in headers if k.lower() == "connection" for part in v.split(",")}
    return [(k, v) for k, v in headers if k.lower() not in HOP_BY_HOP and k.lower() not in named]


def _header_name(name: str) -> str:
    return "-".join(part.capitalize() for part in name.split("-"))


def request_target(request: Request) -> str:
    """The path and query as the client sent them (the raw request target when the server kept it)."""
    if request.target.startswith("/"):
        return request.target
    query = request.query
    return quote(request.path, safe="/:@!$&'()*+,;=-._~%") + (f"?{query}" if query else "")


# -- the proxy -----------------------------------------------------------------------------------
class Proxy:
    """Serves the forwarded endpoint families of a mock in proxy mode (see the module's docstring)."""

    def __init__(self, plane: ControlPlane, upstream: Upstream | None = None) -> None:
        if plane.relay is None:
            raise ValueError("a Proxy needs a control plane in proxy mode (MockConfig.upstream)")
        self.plane = plane
        self.relay = plane.relay
        self.upstream = upstream or Upstream(plane.relay.upstream, plane.config.upstream_timeout)

    def close(self) -> None:
        self.upstream.close()

    def serve(self, endpoint: str, request: Request, entry: JournalEntry, fault: Fault | None) -> Reply:
        """Answer one request of the token, api, keys or discovery family; what the proxy refuses itself is
        raised as an ``HttpError`` (the pipeline renders it)."""
        body = request.read_body(OAuthError if endpoint == "token" else ApiError,
                                 "invalid_request" if endpoint == "token" else "invalid_argument")
        if endpoint == "token":
            self._note_token_request(request, body, entry)
            spec = self._malformed_spec(fault)
            if fault is not None and spec is not None and "json_with_token" not in spec:
                return malformed_reply(self.plane, fault, None, entry)  # no token needed: nothing forwarded
        elif endpoint == "api":
            self._check_bearer(request, entry)
        try:
            answer = self._forward(request, body, entry)
        except UpstreamFailure as failure:
            entry.extra["upstream"] = {"error": failure.kind, "detail": failure.detail, "latency": failure.latency}
            raise UpstreamError(failure) from failure
        return self._relay(endpoint, answer, entry, fault)

    def _malformed_spec(self, fault: Fault | None) -> Mapping[str, Any] | None:
        if fault is None or fault.kind != "malformed_token":
            return None
        spec: Mapping[str, Any] = self.plane.fixtures.faults["malformed_token_responses"][fault.variant or "not_json"]
        return spec

    def _note_token_request(self, request: Request, body: bytes, entry: JournalEntry) -> None:
        """Journal the form (redacted) and the client id, as the mock's token endpoint does."""
        form = request.mimetype == FORM
        fields = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True) if form else []
        if form:
            entry.form = self.plane.redactor.fields(fields)
        client_id = next((v for k, v in fields if k == "client_id"), None)
        entry.client_id = client_id or _basic_user(request.header("Authorization"))

    def _check_bearer(self, request: Request, entry: JournalEntry) -> None:
        """What the proxy decides itself on an API call: revocation, and expiry on the virtual clock."""
        token = bearer_token(request.header("Authorization"))
        if token is None:
            return  # the upstream answers "Token empty" itself
        claims = unverified_claims(token)
        summary = self.relay.tokens.summary(token, claims)
        entry.token = summary
        client_id = claims.get("client_id") or claims.get("sub")
        entry.client_id = client_id if isinstance(client_id, str) else None
        jti, exp = summary.get("jti"), summary.get("exp")
        if isinstance(jti, str) and self.plane.revocations.is_revoked(jti, None):
            raise ApiError("token_expired", "token revoked (answered by the proxy)")
        if exp is not None and exp <= self.plane.now():
            raise ApiError("token_expired", "exp is past on the proxy's clock (answered by the proxy)")

    def _forward(self, request: Request, body: bytes, entry: JournalEntry) -> UpstreamAnswer:
        if not self.relay.take():
            raise BudgetSpent(self.relay.budget)
        answer = self.upstream.send(request.method, request_target(request), forward_headers(request), body)
        entry.extra["upstream"] = {"status": answer.status, "latency": answer.latency}
        return answer

    def _relay(self, endpoint: str, answer: UpstreamAnswer, entry: JournalEntry, fault: Fault | None) -> Reply:
        content_type, headers = relay_headers(answer.headers)
        parsed = answer.json() if endpoint in ("token", "api") else None
        entry.outcome = _outcome(endpoint, answer.status, parsed, self.plane.fixtures.errors["api"])
        if endpoint == "token" and entry.outcome == "issued":
            assert isinstance(parsed, dict)
            token = str(parsed["access_token"])
            entry.issued = self.relay.tokens.issued(token, self.plane.clock.offset, parsed)
            if fault is not None and fault.kind == "malformed_token":
                return malformed_reply(self.plane, fault, token, entry)
        return Reply(answer.status, answer.body, content_type, headers)


def _outcome(endpoint: str, status: int, body: Any, api_errors: Mapping[str, Any]) -> str:
    """A journal outcome for a relayed answer, in the mock's words where the answer allows."""
    if endpoint == "token" and status == 200:
        usable = isinstance(body, dict) and isinstance(body.get("access_token"), str) and body["access_token"]
        return "issued" if usable else ("upstream_not_json" if body is None else "upstream_no_access_token")
    if 200 <= status < 300:
        return "ok" if endpoint == "api" else ""
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, str) and _ERROR_KEY.match(error):
            return error  # RFC 6749 5.2: invalid_client, invalid_request …
        message = body.get("message")
        known = next((k for k, v in api_errors.items() if v["status"] == status and v["message"] == message), None)
        if known is not None:
            return str(known)
    return f"upstream_{status}"


def _basic_user(authorization: str) -> str | None:
    try:
        credentials = basic_credentials(authorization)
    except BadCredentials:
        return None  # the upstream judges them
    return credentials[0] or None if credentials else None


class UpstreamError(ApiError):
    """No usable answer from the upstream: 504 when it was too slow, else 502, with the mock's Status body."""

    def __init__(self, failure: UpstreamFailure) -> None:
        key = "gateway_timeout" if failure.kind == "timeout" else "bad_gateway"
        super().__init__(key, f"upstream {failure.kind}: {failure.detail}")
        self.outcome = f"upstream_{failure.kind}"
