"""The HTTP side of the provider suite: named exchanges with a target, each made at most once per run.

A check asks the probe for a case by name (``probe.exchange("token")``); the first ask sends the
request, later ones get the same ``Exchange``. So a live run sends each request once however many
checks read its answer, and the run's exchanges are exactly what a recording saves. Requests have a
timeout, bodies a size cap, and any transport failure (unreachable, TLS, timeout) is a ``TargetError``
naming the request, never a traceback.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import httpx

from .target import MOCK, Target, TargetError

USER_AGENT = "scalekit-conformance-provider/0.1"
MAX_BODY_BYTES = 1024 * 1024
NOT_JSON: Any = object()  # the ``data`` of an exchange whose body is not JSON


class CaseSkipped(Exception):
    """The case cannot be made against this target: ``not_applicable`` when it never can by design (it needs the
    mock's control plane), else for a reason the user can fix (a variable not set)."""

    def __init__(self, reason: str, *, not_applicable: bool = False) -> None:
        super().__init__(reason)
        self.not_applicable = not_applicable


@dataclass(frozen=True)
class Request:
    """What a case sends. ``path`` is relative to the environment URL (or absolute); ``bearer_kind`` says
    what the bearer is, for reports (``none``, ``valid``, ``malformed``, ``tampered``, ``expired``, …)."""

    method: str
    path: str
    form: tuple[tuple[str, str], ...] | None = None
    bearer: str | None = field(default=None, repr=False)
    bearer_kind: str = "none"


@dataclass(frozen=True)
class Exchange:
    """One request a case sent and the answer it got (headers with lower-case names)."""

    case: str
    request: Request
    status: int
    headers: dict[str, str]
    text: str
    data: Any = field(default=NOT_JSON, repr=False)

    @property
    def media_type(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    @property
    def is_json(self) -> bool:
        return self.data is not NOT_JSON


def _decode(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return NOT_JSON


class Probe:
    """Makes a run's exchanges with its target (see ``cases.py`` for what each case sends)."""

    def __init__(self, target: Target, timeout: float = 10.0) -> None:
        self.target = target
        self.timeout = timeout
        self.exchanges: dict[str, Exchange] = {}
        self.requests = 0  # every request sent, the mock-only helper requests included
        # Proxies from the environment apply to a live target; never to the mock on 127.0.0.1.
        self._client = httpx.Client(timeout=timeout, follow_redirects=False, trust_env=target.mode != MOCK,
                                    headers={"User-Agent": USER_AGENT})

    def __enter__(self) -> Probe:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def exchange(self, name: str) -> Exchange:
        """The exchange of the named case, made now if it was not yet (``CaseSkipped`` if it cannot be)."""
        from .cases import CASES  # cases build on the probe; the probe only looks them up

        if name not in self.exchanges:
            self.exchanges[name] = self.send(name, CASES[name].prepare(self))
        return self.exchanges[name]

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else self.target.url + path

    def send(self, name: str, request: Request) -> Exchange:
        """Send one request (never a redirect followed); a transport failure is a ``TargetError``."""
        url = self.url(request.path)
        headers = {"Authorization": f"Bearer {request.bearer}"} if request.bearer is not None else {}
        form = dict(request.form) if request.form is not None else None
        try:
            with self._client.stream(request.method, url, data=form, headers=headers) as response:
                self.requests += 1
                body = _read_capped(response)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise TargetError(f"{request.method} {url} failed: {_transport_problem(exc)}") from exc
        text = body.decode(response.encoding or "utf-8", errors="replace")
        return Exchange(name, request, response.status_code, {k.lower(): v for k, v in response.headers.items()},
                        text, _decode(text))

    def token(self, name: str, client_id: str, client_secret: str) -> Exchange:
        """A client-credentials token request, as every Scalekit SDK sends it (form body)."""
        form = (("grant_type", "client_credentials"), ("client_id", client_id), ("client_secret", client_secret))
        return self.send(name, Request("POST", "/oauth/token", form))


def _read_capped(response: httpx.Response) -> bytes:
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise TargetError(f"{response.request.method} {response.request.url} answered more than "
                              f"{MAX_BODY_BYTES} bytes: not a Scalekit API answer")
    return b"".join(chunks)


def _transport_problem(exc: Exception) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return f"no answer in time ({type(exc).__name__})"
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect: {exc}"
    return f"{type(exc).__name__}: {exc}"
