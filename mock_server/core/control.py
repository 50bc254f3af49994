"""The control plane: the one implementation of everything a test can steer or read back.

The ``/_mock/`` HTTP endpoints and the ``MockServer`` methods are thin faces over this class.
It knows nothing of Flask or HTTP. In proxy mode (``MockConfig.upstream``) it refuses what only the
upstream can do (its clients, its keys) and keeps what the proxy decides itself (``relay.py``).
"""

from __future__ import annotations

import functools
import math
import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .clients import Client, ClientRegistry, client_from_mapping, client_from_state, client_state
from .clock import BACKWARD, VirtualClock
from .config import MockConfig
from .contract import load_contract
from .data import Fixtures, RouteRow, load_fixtures
from .errors import ConfigError, ControlError
from .faults import JOURNALED, Fault, FaultQueue, fault_from_mapping
from .journal import Journal, Redactor, fingerprint
from .keys import KeyRing, SigningKey, process_key
from .ratelimit import RateLimiter, requests_per_minute
from .relay import Relay, unverified_claims
from .resource_api import ApiResources
from .routes import RouteTable
from .state import StateBackend, open_state
from .tokens import Revocations, TokenIssuer, TokenPolicy, TokenVerifier


@functools.lru_cache(maxsize=4)
def _route_table(fixtures: Fixtures) -> RouteTable:
    """The routes table, and the published document's other bindings of its RPCs (``users:external/...``)."""
    def extra() -> list[RouteRow]:
        return load_contract(fixtures.openapi_path, fixtures.routes).extra_rows(fixtures.routes)
    return RouteTable(fixtures.routes, fixtures.auth_policies, extra)


@functools.lru_cache(maxsize=4)
def _fixture_key(fixtures: Fixtures) -> SigningKey:
    """The key shipped in the package (``signing_key: "fixture"``): the same in every install, so insecure."""
    return SigningKey.from_pem(fixtures.token["default_key"]["kid"], fixtures.default_key_pem(), trusted=True)


def default_clients(fixtures: Fixtures) -> tuple[Client, ...]:
    return tuple(client_from_mapping(c) for c in fixtures.clients)


class ControlPlane:
    """Clock, clients, keys, revocation, faults and journal of one mock environment."""

    def __init__(self, config: MockConfig | None = None, issuer: str | None = None,
                 fixtures: Fixtures | None = None, clock: VirtualClock | None = None,
                 backend: StateBackend | None = None) -> None:
        self.config = config or MockConfig()
        overrides = Path(self.config.fixtures_dir) if self.config.fixtures_dir else None
        self.fixtures = fixtures or load_fixtures(overrides)
        self.clock = clock or VirtualClock()
        self.routes = _route_table(self.fixtures)
        # Where the state lives (state.py): this process, or Redis, shared with other processes.
        self.backend = backend or open_state(self.config.state, self.config.journal_size)
        self.keys = KeyRing(self._start_key())
        self.revocations = Revocations()
        self.issuer = TokenIssuer(self.keys, self.backend.sequence)
        self.clients = ClientRegistry(self._initial_clients())
        self.verifier = TokenVerifier(self.keys, self.revocations, self.clients.known)
        self.faults = FaultQueue()
        self.rate_limiter = RateLimiter(self.fixtures.rate_limit, self.clock.now, self.config.rate_limit)
        self.journal: Journal = self.backend.journal
        # Redacted wherever they occur in the journal and the log: every client secret, and the control token.
        token = self.config.control_token
        self._seen_secrets = {c.client_secret for c in self.clients.all()} | ({token} if token else set())
        self.redactor = Redactor(lambda: self._seen_secrets)
        self.resources = ApiResources(self)
        self.errors: list[BaseException] = []
        # The second origin's URL, started on first need: set by the server (MockServer.start), None without one.
        self.second_origin: Callable[[], str] | None = None
        self._release = threading.Event()
        self.policy = TokenPolicy.from_fixture("http://127.0.0.1", self.fixtures.token, self.config.token_lifetime)
        upstream = self.config.upstream
        self.relay = Relay(upstream, self.config.upstream_budget) if upstream else None  # None: mock mode
        self.set_issuer(issuer or self.config.issuer or f"http://{self.config.host}:{self.config.port}")
        self.backend.bind({name: getattr(self, "_apply_" + name) for name in COMMANDS})

    def _start_key(self) -> Callable[[], SigningKey]:
        """Where the start key comes from: a key file or the fixture key, read now (a bad file fails the start),
        else this process's generated key, made on first need (``keys.process_key``)."""
        path, prefix = self.config.signing_key_file, self.fixtures.token["kid_prefix"]
        if self.config.signing_key == "fixture":
            key = _fixture_key(self.fixtures)
        elif path is not None:
            try:
                pem = Path(path).read_bytes()
            except OSError as exc:
                raise ConfigError(f"cannot read signing key file {path}: {exc}") from exc
            key = SigningKey.from_pem(prefix + "10000000000000001", pem)
        elif self.backend.shared:  # one key for every process of the environment, made by the first
            shared = self.backend.shared_key(lambda: SigningKey.generate(prefix))
            return lambda: shared
        else:
            return lambda: process_key(prefix)
        return lambda: key

    def _initial_clients(self) -> tuple[Client, ...]:
        return self.config.clients if self.config.clients is not None else default_clients(self.fixtures)

    def set_issuer(self, issuer: str) -> None:
        """The environment URL: tokens' ``iss``, checked on every API call."""
        self.policy = TokenPolicy.from_fixture(issuer.rstrip("/"), self.fixtures.token, self.config.token_lifetime)

    # -- time ---------------------------------------------------------------------------------
    def now(self) -> float:
        return self.clock.now()

    def advance_clock(self, seconds: float) -> float:
        if seconds > MAX_ADVANCE:  # a fixed range, so that the OpenAPI document can state it
            raise ControlError(f"'seconds' must be at most {MAX_ADVANCE:.0f} (317 years)")
        if not math.isfinite(seconds) or not _in_clock_range(self.now() + max(seconds, 0)):
            raise ControlError(f"the clock must stay between 0 and {MAX_TIME:.0f} (year 9999)")
        if seconds < 0:
            raise ControlError(BACKWARD)
        self.backend.submit("advance_clock", seconds)  # a move, not a time: two moves from two processes add up
        return self.now()

    def _apply_advance_clock(self, seconds: float) -> None:
        self.clock.advance(seconds)

    def set_clock(self, timestamp: float) -> float:
        if not _in_clock_range(timestamp):
            raise ControlError(f"'now' must be a Unix time from 0 to {MAX_TIME:.0f} (year 9999)")
        self.backend.submit("set_clock_offset", self.clock.offset_for(timestamp), timestamp)
        return self.now()

    def _apply_set_clock_offset(self, offset: float, timestamp: float | None = None) -> None:
        self.clock.set_offset(offset)
        if timestamp is not None:  # set back before a counted request: the rate limit's window starts anew
            self.rate_limiter.clock_set(timestamp)

    # -- proxy mode ---------------------------------------------------------------------------
    def _mock_only(self, what: str, why: str) -> None:
        """Refuse, in proxy mode, an operation only the upstream environment could carry out."""
        if self.relay is not None:
            raise ControlError(f"{what} is not possible in proxy mode: {why} (upstream {self.relay.upstream})", 409)

    # -- clients ------------------------------------------------------------------------------
    def put_client(self, spec: Mapping[str, Any] | Client) -> Client:
        """Add a client, or replace the one with the same id."""
        self._mock_only("adding or replacing a client (PUT /_mock/clients/{id})", NOT_OUR_CLIENTS)
        client = spec if isinstance(spec, Client) else client_from_mapping(spec)
        self.backend.submit("put_client", client_state(client))
        return client

    def _apply_put_client(self, state: Mapping[str, Any]) -> None:
        client = client_from_state(state)
        self._seen_secrets = self._seen_secrets | {client.client_secret, *client.other_secrets}
        self.clients.put(client)

    def remove_client(self, client_id: str) -> None:
        """Remove a client: its secrets get ``invalid_client``, and the tokens it was issued follow the rule for
        deleted clients, as an organization client deleted over the API (``retire_tokens_of``)."""
        self._mock_only("removing a client (DELETE /_mock/clients/{id})", NOT_OUR_CLIENTS)
        if self.clients.get(client_id) is None:
            raise ControlError(f"no client '{client_id}'", status=404)
        self.backend.submit("remove_client", client_id, self.issuer.last_sequence)

    def _apply_remove_client(self, client_id: str, last_token: int) -> None:
        self.clients.remove(client_id)
        self.retire_tokens_of(client_id, last_token)

    def retire_tokens_of(self, client_id: str, last_token: int) -> str:
        """Apply ``organization_clients.tokens_of_deleted`` of fixtures/resources.json (inferred: undocumented) to
        the tokens issued up to ``last_token`` to a client that is gone: ``rejected`` (401 Invalid token) or
        ``valid_until_expiry``. Returns the rule."""
        rule = str(self.fixtures.resources["organization_clients"]["tokens_of_deleted"])
        if rule == "rejected":
            self.revocations.revoke_client(client_id, last_token)
            self.backend.sequence.fence()
        return rule

    def list_clients(self) -> list[dict[str, Any]]:
        self._mock_only("listing the clients (GET /_mock/clients)", NOT_OUR_CLIENTS)
        return [c.public() for c in self.clients.all()]

    # -- keys and revocation ------------------------------------------------------------------
    def rotate_keys(self, grace_seconds: float | None = None) -> str:
        """Sign with a new key from now on; the old one stays in the JWKS for ``grace_seconds``
        (default from the fixtures; 0 drops it at once, so its tokens stop verifying)."""
        self._mock_only("rotating the signing key (POST /_mock/keys/rotate)",
                        "the upstream signs its tokens with keys the proxy does not hold")
        grace = self.fixtures.token["key_grace_seconds"] if grace_seconds is None else grace_seconds
        if math.isnan(grace) or grace < 0:
            raise ControlError("grace_seconds must not be negative")
        key = SigningKey.generate(self.fixtures.token["kid_prefix"])
        self.backend.submit("rotate_key", key.kid, key.pem().decode(), self.now(), grace)
        return key.kid

    def _apply_rotate_key(self, kid: str, pem: str, now: float, grace: float) -> None:
        self.keys.rotate(SigningKey.from_pem(kid, pem.encode(), trusted=True), now, grace)

    def jwks(self) -> dict[str, Any]:
        return self.keys.jwks(self.now())

    def revoke(self, *, jti: str | None = None, token: str | None = None) -> str:
        """Revoke one token, named by its ``jti`` or given whole; API calls with it get 401 Token expired."""
        if token is not None:
            jti = _unverified_jti(token)
        if not jti:
            raise ControlError("name the token to revoke by 'jti' or 'token'")
        self.backend.submit("revoke", [jti])
        return jti

    def _apply_revoke(self, jtis: list[str]) -> None:
        self.revocations.revoke_many(jtis)

    def revoke_all(self) -> int:
        """Revoke every token issued so far; returns the last revoked sequence number (in proxy mode,
        where the upstream numbers its tokens, the number of relayed tokens revoked)."""
        if self.relay is not None:
            jtis = self.relay.tokens.jtis()
            self.backend.submit("revoke", list(jtis))
            return len(jtis)
        last = self.issuer.last_sequence
        self.backend.submit("revoke_up_to", last)
        return last

    def _apply_revoke_up_to(self, last: int) -> None:
        self.revocations.revoke_up_to(last)
        self.backend.sequence.fence()

    # -- faults -------------------------------------------------------------------------------
    def add_fault(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        fault = self._fault(0, spec)  # checked here; numbered in the order the environment applies them
        if fault.kind == "redirect" and fault.location is None:
            self.second_origin_url()  # started now, so that the first redirected request does not wait for it
        return self.backend.submit("add_fault", dict(spec))  # type: ignore[no-any-return]

    def _fault(self, fault_id: int, spec: Mapping[str, Any]) -> Fault:
        return fault_from_mapping(fault_id, spec, self.fixtures.faults["presets"],
                                  float(self.fixtures.faults["hang_max_seconds"]))

    def _apply_add_fault(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        return self.faults.add(self._fault(self.faults.next_id(), spec)).describe()

    def take_fault(self, family: str, method: str, path: str, skip: frozenset[str]) -> Fault | None:
        """The first queued fault for this request, counted down (exactly once in the whole environment)."""
        if not self.faults:  # the common case: nothing queued, nothing to ask anyone
            return None
        return self.backend.submit("take_fault", family, method, path, sorted(skip),  # type: ignore[no-any-return]
                                 wait_all=False)

    def _apply_take_fault(self, family: str, method: str, path: str, skip: list[str]) -> Fault | None:
        return self.faults.take(family, method, path, frozenset(skip))

    def second_origin_url(self) -> str:
        """Where a redirect fault sends clients by default: another origin on 127.0.0.1 that journals what reaches
        it (``endpoint: "foreign"``), started on first need."""
        if self.second_origin is None:
            raise ControlError("a redirect fault without 'location' sends clients to the second origin, which only a "
                               "started MockServer serves: give 'location'", 409)
        return self.second_origin()

    def list_faults(self) -> list[dict[str, Any]]:
        return self.faults.pending()

    def clear_faults(self) -> None:
        self.backend.submit("clear_faults")

    def _apply_clear_faults(self) -> None:
        self.faults.clear()

    @property
    def release_event(self) -> threading.Event:
        """Set when hung and delayed requests must let go (reset or stop)."""
        return self._release

    # -- rate limit ---------------------------------------------------------------------------
    def set_rate_limit(self, limit: Any) -> dict[str, Any]:
        """Limit the API to ``limit`` requests per minute on the virtual clock (``None``: no limit), counting
        from an empty window; the new rate-limit state."""
        self.backend.submit("set_rate_limit", requests_per_minute(limit))
        return self.rate_limit()

    def _apply_set_rate_limit(self, limit: int | None) -> None:
        self.rate_limiter.set(limit)

    def admit(self, family: str) -> bool:
        """Whether the rate limit lets a request of ``family`` through now (counted once in the environment)."""
        if family not in self.rate_limiter.families:
            return True
        return self.backend.submit("admit", family, self.now(), wait_all=False)  # type: ignore[no-any-return]

    def _apply_admit(self, family: str, now: float) -> bool:
        return self.rate_limiter.admit(family, now)

    def rate_limit(self) -> dict[str, Any]:
        """The limit (``requests_per_minute``, ``None`` when off), what counts, and the current window."""
        return self.rate_limiter.state()

    # -- journal ------------------------------------------------------------------------------
    def journal_entries(self, **filters: Any) -> list[dict[str, Any]]:
        endpoint = filters.get("endpoint")
        if endpoint is not None and endpoint not in JOURNALED:  # a typo must not read as "no such requests"
            raise ControlError(f"'endpoint' must be one of: {', '.join(JOURNALED)} (not {str(endpoint)[:40]!r})")
        return self.journal.entries(**filters)

    def clear_journal(self) -> None:
        self.backend.submit("sync")  # what every process answered so far is in the journal, then goes
        self.journal.clear()

    def _apply_sync(self) -> None:
        """Nothing changes: a process applies it once its journal holds every request it answered before."""
        self.journal.flush()

    # -- whole state --------------------------------------------------------------------------
    def reset(self) -> None:
        """Back to the initial state: clock, clients, keys, revocations, faults, rate limit, journal, data."""
        self.backend.submit("reset")
        self.journal.clear()
        self.errors.clear()
        if self.relay is not None:
            self.relay.reset()

    def _apply_reset(self) -> None:
        released, self._release = self._release, threading.Event()
        released.set()
        self.clock.reset()
        self.clients.replace_all(self._initial_clients())
        self.keys.reset()
        self.revocations.reset()
        self.faults.clear()
        self.rate_limiter.set(self.config.rate_limit)
        self.journal.flush()
        self.resources.reset()

    def api_call(self, rpc: str, method: str, template: str, message: Mapping[str, Any]) -> Any:
        """An API call that changes resources, applied by the whole environment in one order: the time, a seed for
        what it generates and the last token issued are fixed here, so every process computes the same."""
        return self.backend.submit("api_call", rpc, method, template, dict(message), self.now(),
                                 os.urandom(16).hex(), self.issuer.last_sequence)

    def _apply_api_call(self, rpc: str, method: str, template: str, message: dict[str, Any], now: float,
                        seed: str, last_token: int) -> Any:
        route = self.routes.find(rpc, method, template)
        with self.clock.pinned(now):
            return self.resources.apply(route, message, seed, last_token)

    def shutdown(self) -> None:
        self._release.set()
        self.backend.close()

    def state(self) -> dict[str, Any]:
        """Everything at a glance; in proxy mode no clients or keys (the upstream's), and ``upstream`` set."""
        now, relay = self.now(), self.relay
        return {"issuer": self.policy.issuer, "now": now, "clock_offset": self.clock.offset,
                "clients": [] if relay else self.list_clients(),
                "keys": [] if relay else [k.kid for k in self.keys.published(now)],
                "faults": self.list_faults(), "rate_limit": self.rate_limit(),
                "journal": {"size": self.journal.size, "last_seq": self.journal.last_seq()},
                "state": self.backend.describe(),
                "upstream": relay.state() if relay else None}

    def token_summary(self, token: str) -> dict[str, Any]:
        """What the journal records of a bearer token: a fingerprint, and its jti/exp if readable
        (in proxy mode with ``iat``/``exp`` on the virtual clock, see ``relay.py``)."""
        if self.relay is not None:
            return self.relay.tokens.summary(token)
        summary: dict[str, Any] = {"fingerprint": fingerprint(token)}
        claims = unverified_claims(token)
        for name in ("jti", "iat", "exp"):
            if name in claims:
                summary[name] = claims[name]
        return summary



# What the environment's state changes by: each is applied by ``_apply_<name>`` (state.py).
COMMANDS = ("advance_clock", "set_clock_offset", "put_client", "remove_client", "rotate_key", "revoke", "revoke_up_to",
            "add_fault", "take_fault", "clear_faults", "set_rate_limit", "admit", "sync", "reset", "api_call")
NOT_OUR_CLIENTS = "the upstream environment's clients are managed in its dashboard, not through the proxy"
MAX_TIME = 253402300799.0  # 9999-12-31T23:59:59Z: beyond it timestamps no longer render as dates
MAX_ADVANCE = 1e10  # seconds per advance_clock(): from real time, the clock stays below MAX_TIME


def _in_clock_range(timestamp: float) -> bool:
    """Whether the virtual clock may read ``timestamp`` (NaN and infinities never: tokens need integers)."""
    return math.isfinite(timestamp) and 0 <= timestamp <= MAX_TIME


def _unverified_jti(token: str) -> str | None:
    jti = unverified_claims(token).get("jti")
    return jti if isinstance(jti, str) else None
