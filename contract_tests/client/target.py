"""What a client run points the driver at: a local mock, or a live environment through a journaling proxy.

In live mode (``--live``) the suite starts the mock as a proxy (``MockServer(upstream=URL)``) in
front of the environment named by ``SCALEKIT_ENVIRONMENT_URL``, with the real ``SCALEKIT_CLIENT_ID``
and ``SCALEKIT_CLIENT_SECRET``; the driver gets the proxy's URL and those credentials. Every request
reaches the real service, the proxy journals it, and plays what the real service cannot be asked
for (faults, revocation, a moved clock). The proxy forwards at most ``LIVE_BUDGET`` requests per
check (the mock is reset before each one), so a run never hammers a sandbox, whatever the client does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from mock_server import MockConfig, MockError, MockServer

from .driver import DriverInfo
from .timing import Timing

MOCK = "mock"
ENV_URL, ENV_ID, ENV_SECRET = "SCALEKIT_ENVIRONMENT_URL", "SCALEKIT_CLIENT_ID", "SCALEKIT_CLIENT_SECRET"
LIVE_BUDGET = 25  # requests forwarded per check: CACHE-CONCURRENT-COLD against a client without single flight needs 16
LIVE_TIMEOUT = 10.0  # seconds for each phase of an upstream request; then the driver's client gets a 504


class TargetError(Exception):
    """The live environment cannot be used: settings missing or wrong, or it does not hand out a token."""


def live_config(environ: Mapping[str, str]) -> MockConfig:
    """The proxy in front of the environment the ``SCALEKIT_*`` variables name, with their real client."""
    missing = [name for name in (ENV_URL, ENV_ID, ENV_SECRET) if not environ.get(name)]
    if missing:
        raise TargetError(f"--live needs {', '.join(missing)}: the environment URL and the real client id and "
                          f"secret (Scalekit dashboard, API config) of the sandbox to run against")
    try:
        config = MockConfig(upstream=environ[ENV_URL], upstream_budget=LIVE_BUDGET, upstream_timeout=LIVE_TIMEOUT)
        return config.with_env(environ)  # the real client: named to the driver, and redacted in the journal
    except MockError as exc:
        raise TargetError(f"--live: {exc}") from exc


def target_server(live: bool, environ: Mapping[str, str], *, grpc: bool = False, tls: bool = False) -> MockServer:
    """The server a run starts: a fresh mock, or the proxy in front of the live environment (with the
    gRPC face and/or TLS when asked: the proxy relays REST only)."""
    try:
        return MockServer(live_config(environ), tls=tls, grpc=grpc) if live else MockServer(grpc=grpc, tls=tls)
    except MockError as exc:
        raise TargetError(str(exc)) from exc


def check_upstream(proxy: MockServer) -> None:
    """One token request through the proxy before any driver starts: an environment that cannot be reached,
    fails TLS, hangs, refuses the credentials or answers something else than a token is one clear error."""
    timeout = 2 * proxy.config.upstream_timeout + 5  # the proxy answers 504 well before this
    form = {"grant_type": "client_credentials", "client_id": proxy.client_id, "client_secret": proxy.client_secret}
    try:
        answer = httpx.post(f"{proxy.url}/oauth/token", data=form, timeout=timeout)
    except httpx.HTTPError as exc:
        raise TargetError(f"the proxy in front of {proxy.upstream} did not answer: {type(exc).__name__}") from exc
    entries = proxy.journal(endpoint="token", limit=1)
    outcome = entries[0]["outcome"] if entries else "no journal entry"
    if answer.status_code == 200 and outcome == "issued":
        return
    upstream = entries[0]["extra"].get("upstream", {}) if entries else {}
    detail = upstream.get("detail") or answer.headers.get("content-type", "no content type")
    hint = {"invalid_client": "check SCALEKIT_CLIENT_ID and SCALEKIT_CLIENT_SECRET",
            "upstream_tls": "is it an https:// URL of an https server?",
            "upstream_not_json": "is SCALEKIT_ENVIRONMENT_URL a Scalekit environment?"}.get(outcome, "")
    raise TargetError(f"the live environment {proxy.upstream} did not hand out a token: {answer.status_code} "
                      f"{outcome} ({detail})" + (f"; {hint}" if hint else ""))


@dataclass(frozen=True)
class DriverOnTarget(DriverInfo):
    """The report's subject: the driver's self-description, what the run checked it against, and in which time.

    ``target`` is ``"mock"`` or the live environment's URL; ``upstream_requests`` how many requests
    reached that environment (always 0 against the mock). ``timing``: virtual or real time, and the real time
    waited (``None`` when the run did not start).
    """

    target: str = MOCK
    upstream_requests: int = 0
    timing: Timing | None = field(default=None, compare=False)

    @classmethod
    def of(cls, info: DriverInfo, server: MockServer, timing: Timing | None = None) -> DriverOnTarget:
        return cls(info.name, info.version, info.capabilities, info.unavailable, server.upstream or MOCK,
                   server.upstream_requests, timing)

    @property
    def live(self) -> bool:
        return self.target != MOCK

    def target_text(self) -> str:
        if not self.live:
            return "target: mock (a local mock of Scalekit on 127.0.0.1)"
        return (f"target: live {self.target} (through a journaling proxy; {self.upstream_requests} requests "
                f"forwarded to it)")

    def describe(self) -> str:
        time = f"\n{self.timing.describe()}" if self.timing is not None else ""
        return f"{super().describe()}\n{self.target_text()}{time}"

    def to_json(self, command: str) -> dict[str, Any]:
        target = {"mode": "live" if self.live else MOCK, "url": self.target if self.live else None,
                  "upstream_requests": self.upstream_requests}
        data = {**super().to_json(command), "target": target}
        if self.timing is not None:
            timing = self.timing
            data["time"] = {"mode": timing.mode, "reason": timing.reason, "token_lifetime": timing.scale.lifetime,
                            "waited": {check: round(s, 3) for check, s in timing.waited.items()},
                            "added_seconds": round(timing.added, 3)}
        return data

    def properties(self) -> list[tuple[str, str]]:
        time = [] if self.timing is None else [("time.mode", self.timing.mode),
                                               ("time.added_seconds", f"{self.timing.added:.3f}")]
        return [*super().properties(), ("target.mode", "live" if self.live else MOCK),
                ("target.url", self.target if self.live else ""), ("target.upstream_requests",
                                                                   str(self.upstream_requests)), *time]
