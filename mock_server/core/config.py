"""The mock's configuration: defaults first, then a config file, then the environment, then flags."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .clients import Client, client_from_mapping
from .errors import ConfigError, ControlError
from .ratelimit import requests_per_minute


@dataclass(frozen=True)
class MockConfig:
    """How a mock is set up. ``clients`` ``None`` means the default clients of ``fixtures/``."""

    host: str = "127.0.0.1"
    port: int = 0
    issuer: str | None = None
    token_lifetime: int | None = None
    clients: tuple[Client, ...] | None = None
    journal_size: int = 10_000
    threads: int = 8  # the data plane's worker threads (the control plane has its own)
    signing_key_file: str | None = None  # a PEM key to sign with, instead of one generated per run
    signing_key: str = "generated"  # or "fixture": the key shipped in the package (deterministic, insecure)
    log_requests: bool = False
    fixtures_dir: str | None = None  # files here replace the shipped fixtures of the same name
    upstream: str | None = None  # proxy mode: forward token, keys, discovery and API requests to this environment
    upstream_timeout: float = 10.0  # seconds for each phase of an upstream request (connect, write, read)
    upstream_budget: int | None = None  # proxy mode: at most this many requests forwarded between two resets
    grpc: bool = False  # serve the gRPC face too (HTTP/2 calls, on the same port)
    tls: bool = False  # serve HTTPS (ALPN h2, http/1.1) with a throwaway CA, or with tls_cert/tls_key
    tls_cert: str | None = None  # a PEM certificate chain to serve instead of a throwaway one (implies tls)
    tls_key: str | None = None  # its PEM private key
    allowed_hosts: tuple[str, ...] = ()  # more Host names to answer to, bound to loopback (pipeline/guard.py)
    rate_limit: int | None = None  # requests per minute to the API (core/ratelimit.py); None: no limit
    # What /_mock/ requests must carry (pipeline/guard.py); MockServer makes one when bound beyond loopback.
    control_token: str | None = field(default=None, repr=False)
    # Where the environment's state lives (core/state.py): None in this process, or redis://HOST:PORT/DB, shared by
    # every mock pointed at it (serve --workers).
    state: str | None = field(default=None, repr=False)  # a Redis URL may hold a password
    reuse_port: bool = False  # bind with SO_REUSEPORT: several processes listen on one port (serve --workers)

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"port must be from 0 to 65535, not {self.port}")
        if self.token_lifetime is not None and not 2 <= self.token_lifetime <= 10**8:
            raise ConfigError("token lifetime must be from 2 to 100000000 seconds")
        if not 1 <= self.journal_size <= 10**7:
            raise ConfigError("journal size must be from 1 to 10000000 entries")
        if not 1 <= self.threads <= 256:
            raise ConfigError("threads must be from 1 to 256")
        issuer = self.issuer
        if issuer is not None and (not issuer.startswith(("http://", "https://")) or issuer.endswith("/")):
            raise ConfigError("issuer must be an http(s) URL without a trailing slash")
        if self.upstream is not None:
            object.__setattr__(self, "upstream", upstream_url(self.upstream))  # frozen: normalized once, here
        if not 0 < self.upstream_timeout <= 300:
            raise ConfigError("upstream timeout must be more than 0 and at most 300 seconds")
        if self.upstream_budget is not None and self.upstream_budget < 1:
            raise ConfigError("upstream budget must be at least 1 request")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ConfigError("tls_cert and tls_key go together: a certificate and its private key")
        if self.tls_cert is not None:
            object.__setattr__(self, "tls", True)
        object.__setattr__(self, "allowed_hosts", allowed_host_names(self.allowed_hosts))  # frozen: once, here
        try:  # frozen: normalized once, here
            object.__setattr__(self, "rate_limit", requests_per_minute(self.rate_limit, "rate_limit"))
        except ControlError as exc:
            raise ConfigError(str(exc)) from exc
        if self.grpc and self.upstream is not None:
            raise ConfigError("the gRPC face is not available in proxy mode (the proxy relays REST only)")
        if self.state is not None:
            _check_state_url(self.state, self.upstream)
        if self.signing_key not in SIGNING_KEYS:
            raise ConfigError(f"signing_key must be one of {', '.join(SIGNING_KEYS)} (not {self.signing_key[:40]!r})")
        if self.signing_key == "fixture" and self.signing_key_file is not None:
            raise ConfigError("signing_key 'fixture' and signing_key_file exclude each other: give one")
        if self.control_token is not None and not _CONTROL_TOKEN.fullmatch(self.control_token):
            raise ConfigError("the control token must be 16 to 512 visible ASCII characters, without spaces "
                              "(it travels in an HTTP header; short ones could be guessed)")

    def with_env(self, environ: Mapping[str, str] | None = None, defaults: tuple[Client, ...] = ()) -> MockConfig:
        """Take the client from ``SCALEKIT_CLIENT_ID``/``SCALEKIT_CLIENT_SECRET`` when both are set,
        so one ``.env`` configures the mock and the app; it replaces the default environment client."""
        env = os.environ if environ is None else environ
        client_id, secret = env.get("SCALEKIT_CLIENT_ID"), env.get("SCALEKIT_CLIENT_SECRET")
        if not client_id or not secret:
            return self
        try:
            mine = client_from_mapping({"client_id": client_id, "client_secret": secret})
        except ControlError as exc:
            raise ConfigError(f"SCALEKIT_CLIENT_ID/SCALEKIT_CLIENT_SECRET: {exc}") from exc
        others = tuple(c for c in (self.clients or defaults) if c.scopes is not None and c.client_id != client_id)
        return replace(self, clients=(mine, *others))

    @classmethod
    def from_file(cls, path: str | Path, base: MockConfig | None = None) -> MockConfig:
        """Read a JSON config file: any field of this class, ``clients`` as a list of objects."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise ConfigError(f"cannot read config file {path}: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"config file {path}: must hold a JSON object")
        return cls.from_mapping(data, base or cls(), source=str(path))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], base: MockConfig, source: str = "config") -> MockConfig:
        names = {f.name: f for f in fields(cls)}
        unknown = set(data) - set(names)
        if unknown:
            raise ConfigError(f"{source}: unknown field(s): {', '.join(sorted(unknown))}")
        changes: dict[str, Any] = {}
        for key, value in data.items():
            if key == "clients":
                changes[key] = _clients(value, source)
            elif _FIELD_TYPES[key](value):
                changes[key] = value
            else:
                raise ConfigError(f"{source}: '{key}' has the wrong type")
        try:
            return replace(base, **changes)
        except ConfigError as exc:
            raise ConfigError(f"{source}: {exc}") from exc


SIGNING_KEYS = ("generated", "fixture")  # "fixture": fixtures/token.json default_key, the same in every install
_CONTROL_TOKEN = re.compile(r"[\x21-\x7e]{16,512}")


def upstream_url(url: str) -> str:
    """The upstream environment URL, checked: http(s), a host, no query or fragment; no trailing slash."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ConfigError(f"upstream must be an http(s) URL of an environment, like https://acme.scalekit.dev, "
                          f"not {url!r}")
    try:
        parts.port  # noqa: B018 - raises on a port that is no number or out of range
    except ValueError as exc:
        raise ConfigError(f"upstream {url!r}: {exc}") from exc
    return urlunsplit(parts).rstrip("/")


def allowed_host_names(names: Any) -> tuple[str, ...]:
    """The ``allowed_hosts`` checked: host names or addresses (no scheme, port or path), lower-case, once each."""
    if isinstance(names, str) or not all(isinstance(n, str) for n in names):
        raise ConfigError("allowed_hosts must be a list of host names")
    checked: list[str] = []
    for raw in names:
        name = raw.strip().lower()
        bare = name[1:-1] if name.startswith("[") and name.endswith("]") else name
        if not re.fullmatch(r"[a-z0-9._-]{1,253}|[0-9a-f:.]{2,45}", bare) or (":" in bare and bare.count(":") < 2):
            raise ConfigError(f"allowed host {raw!r}: give a host name or address, without scheme, port or path")
        checked.append(bare)
    return tuple(dict.fromkeys(checked))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_FIELD_TYPES: dict[str, Callable[[Any], bool]] = {
    "host": lambda v: isinstance(v, str),
    "port": _is_int,
    "issuer": lambda v: v is None or isinstance(v, str),
    "token_lifetime": lambda v: v is None or _is_int(v),
    "journal_size": _is_int,
    "threads": _is_int,
    "signing_key_file": lambda v: v is None or isinstance(v, str),
    "signing_key": lambda v: isinstance(v, str),
    "log_requests": lambda v: isinstance(v, bool),
    "fixtures_dir": lambda v: v is None or isinstance(v, str),
    "upstream": lambda v: v is None or isinstance(v, str),
    "upstream_timeout": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "upstream_budget": lambda v: v is None or _is_int(v),
    "grpc": lambda v: isinstance(v, bool),
    "tls": lambda v: isinstance(v, bool),
    "tls_cert": lambda v: v is None or isinstance(v, str),
    "tls_key": lambda v: v is None or isinstance(v, str),
    "allowed_hosts": lambda v: isinstance(v, list) and all(isinstance(n, str) for n in v),
    "rate_limit": lambda v: v is None or _is_int(v),
    "control_token": lambda v: v is None or isinstance(v, str),
}


def _clients(value: Any, source: str) -> tuple[Client, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, dict) for v in value):
        raise ConfigError(f"{source}: 'clients' must be a non-empty list of objects")
    try:
        return tuple(client_from_mapping(v) for v in value)
    except ControlError as exc:
        raise ConfigError(f"{source}: {exc}") from exc


def _check_state_url(url: str, upstream: str | None) -> None:
    if urlsplit(url).scheme not in ("redis", "rediss", "unix"):
        raise ConfigError("state must be a Redis URL: redis://HOST:PORT/DB, rediss://… (TLS) or unix:///PATH")
    if upstream is not None:
        raise ConfigError("a shared state is for mocks, not for proxy mode (the upstream holds the state)")
