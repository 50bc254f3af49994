"""What a check works with: the mock, driver processes, the journal of the check, and how it fails.

A check is a function taking a ``CheckContext``. It drives the client through ``ctx.client()``,
steers the mock through ``ctx.mock``, reads what happened from ``ctx.journal()``, and fails by
raising ``CheckFailure`` (``ctx.fail(message)``) with evidence in the message. It never returns a
verdict.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from time import monotonic
from typing import Any, NoReturn, TypeVar

from mock_server import MockServer

from ..results import CheckFailure
from .driver import CallResult, DriverError, DriverInfo, DriverOutput, DriverProcess, ProtocolError
from .evidence import JournalView
from .timeline import Event, answer_event, journal_events, merge, no_answer_event, step_event
from .timing import AUTO, Scale, Timing

T = TypeVar("T")
LIST_PATH = "/api/v1/organizations?page_size=10"
# How long a spare driver process may wait for its check (Launcher), in seconds: no longer than a long check keeps
# its own process, so that a client clock that drifts while idle (a fake Date ticked by a timer, as @sinonjs/
# fake-timers' shouldAdvanceTime does, lags real time by about 1 %) drifts no further than it would within a check.
SPARE_MAX_AGE = 10.0


class NotApplicable(Exception):
    """Raised by ``CheckContext.not_applicable``: the check cannot apply to this client by design."""


@dataclass(frozen=True)
class Check:
    """One entry of the catalogue. ``rationale`` is one line naming its source."""

    id: str
    level: str
    rationale: str
    run: Callable[[CheckContext], None]
    needs: frozenset[str] = frozenset()
    not_live: str = ""  # why it cannot run against a live environment through the proxy ("": it can)


@dataclass(frozen=True)
class SuiteOptions:
    """How a run treats the driver: deadlines, and whether one process serves every check."""

    op_timeout: float = 30.0
    hang_bound: float = 10.0
    reuse_driver: bool = False
    strict: bool = False
    time: str = AUTO  # how time-dependent checks let time pass: auto, virtual or real (timing.py)


@dataclass
class RunLog:
    """What a whole run collects for the leak checks: every driver's output, every token issued."""

    outputs: list[DriverOutput] = field(default_factory=list)
    issued: set[str] = field(default_factory=set)


class Launcher:
    """Starts driver processes pointed at the mock, recording their output in the run log.

    It keeps ``ahead`` processes spawned ahead (the runner sets how many, from the checks still to come): each
    launch takes the oldest of these *spares* and spawns another, with the mock's own secret, so that start-ups
    (an interpreter and its imports) overlap the checks running now instead of delaying the next ones. A spare is
    sent nothing until a launch takes it and says ``hello``: it is as fresh as a process started then. (The run's
    ``probe`` waits as the first spare, having answered only ``hello``.) One that has exited, or has waited longer
    than ``SPARE_MAX_AGE``, is killed unused and a process started in its place; ``close`` ends those left.
    """

    def __init__(self, argv: Sequence[str], mock: MockServer, options: SuiteOptions, log: RunLog) -> None:
        self.argv = list(argv)
        self.mock = mock
        self.options = options
        self.log = log
        self.ahead = 0
        self._spares: list[tuple[DriverProcess, dict[str, str], float]] = []  # process, env, spawned at; oldest first

    def launch(self, label: str, *, secret: str | None = None) -> DriverProcess:
        secret = self.mock.client_secret if secret is None else secret
        env = self._env(secret)
        driver = self._take_spare(env) or self._spawn(env)
        driver.output.label = label
        self.log.outputs.append(driver.output)
        self._spawn_spares()
        if not driver.sent:  # the probe has said hello already
            driver.hello()
        return driver

    def probe(self) -> DriverInfo:
        """What the driver says of itself (``hello``), from a process then kept as the first spare."""
        env = self._env(self.mock.client_secret)
        driver = self._spawn(env)
        self._spares.insert(0, (driver, env, monotonic()))
        self._spawn_spares()
        return driver.hello()

    def close(self) -> None:
        """End the spares left: the probe is shut down, the others, never sent an op, are killed."""
        spares, self._spares = self._spares, []
        for driver, _, _ in spares:
            if driver.sent:
                driver.close()
            else:
                driver.kill()

    def _env(self, secret: str) -> dict[str, str]:
        return {"SCALEKIT_ENVIRONMENT_URL": self.mock.url.rstrip("/"), "SCALEKIT_CLIENT_ID": self.mock.client_id,
                "SCALEKIT_CLIENT_SECRET": secret, **self.mock.trust_env}

    def _spawn(self, env: dict[str, str]) -> DriverProcess:
        output = DriverOutput("spare", env["SCALEKIT_CLIENT_SECRET"])
        driver = DriverProcess(self.argv, env, op_timeout=self.options.op_timeout, output=output)
        driver.spawn()
        return driver

    def _spawn_spares(self) -> None:
        env = self._env(self.mock.client_secret)
        while len(self._spares) < self.ahead:
            try:
                self._spares.append((self._spawn(env), env, monotonic()))
            except ProtocolError:  # the command cannot start: the next launch, spawning it anew, says so in its check
                return

    def _take_spare(self, env: dict[str, str]) -> DriverProcess | None:
        """The oldest usable spare, if they suit a launch with ``env`` (another secret's launch leaves them)."""
        while self._spares and self._spares[0][1] == env:
            driver, _, spawned = self._spares.pop(0)
            if driver.alive and monotonic() - spawned <= SPARE_MAX_AGE:
                return driver
            driver.kill()
        return None


class CheckContext:
    """One check's run: its drivers, its slice of the journal, its transcript of driver ops."""

    def __init__(self, check: Check, mock: MockServer, launcher: Launcher, shared: DriverProcess | None = None,
                 capabilities: Sequence[str] = (), *, timing: Timing) -> None:
        self.check = check
        self.mock = mock
        self.launcher = launcher
        self.options = launcher.options
        self.run_log = launcher.log
        self.shared = shared
        self.capabilities = frozenset(capabilities)
        self.timing = timing
        self.time_dependent = "advance_time" in check.needs
        self.transcript: list[str] = []
        self.events: list[Event] = []  # the suite's side of the timeline since the last reset
        self._earlier: tuple[tuple[Event, ...], int] = ((), 0)  # the last segment before a reset, its mark
        self._owned: list[DriverProcess] = []
        self._mark = 0
        self.reset_mock()

    # -- failing ------------------------------------------------------------------------------
    def fail(self, message: str) -> NoReturn:
        raise CheckFailure(self.check.id, message)

    def not_applicable(self, reason: str) -> NoReturn:
        """End the check as skipped because it cannot apply to this client by design (an API redirect to a client
        calling the API over gRPC, which has none): such a skip never leaves the run incomplete."""
        raise NotApplicable(reason)

    # -- the mock -----------------------------------------------------------------------------
    @property
    def live(self) -> bool:
        """Whether the mock is a proxy in front of a live environment (its clients and keys not ours)."""
        return self.mock.upstream is not None

    def reset_mock(self) -> None:
        """Back to a fresh mock; the journal of this check starts here (after collecting its tokens)."""
        self._collect()
        current = self._current() if self._mark else ()
        if current:  # a reset within the check: the timeline keeps what came before if nothing follows
            self._earlier = (current, self._mark)
        self.events = []
        self.mock.reset()
        # Requests still in flight (a released hang) may land in the journal after the reset: the
        # mark keeps them out of this check's view, since their sequence numbers are older.
        self._mark = self.mock.control.journal.next_seq()
        lifetime = self.scale.lifetime
        if self.time_dependent and lifetime is not None:  # real time: a timeline of seconds, not of a day
            self.give_tokens(lifetime, note="real time: short tokens")

    def give_tokens(self, lifetime: int, note: str = "") -> None:
        """From here on the client's tokens last ``lifetime`` seconds (exp - iat; ``expires_in`` one less)."""
        self.mock.put_client({"client_id": self.mock.client_id, "client_secret": self.mock.client_secret,
                              "token_lifetime": lifetime})
        self.mock_step("put_client", token_lifetime=lifetime, **({"note": note} if note else {}))

    # -- time ---------------------------------------------------------------------------------
    @property
    def scale(self) -> Scale:
        """The durations this run's time-dependent checks state their timelines in."""
        return self.timing.scale

    @property
    def lifetime(self) -> int:
        """The lifetime (exp - iat) of the tokens a time-dependent check's client gets, in seconds."""
        return self.scale.lifetime or self.mock.control.policy.lifetime_seconds

    @property
    def clock_moves(self) -> bool:
        """Whether clocks can jump at no cost (virtual time, with a driver that moves its clock): a check
        that would wait for long stretches (STATE-MACHINE's random ones) moves time only then."""
        return not self.timing.real and "advance_time" in self.capabilities

    def advance(self, client: Client, seconds: float) -> None:
        """Let ``seconds`` pass on both clocks: in virtual time the client's clock (``advance_time``) and the
        mock's jump forward together; in real time the suite waits while both run."""
        if self.timing.real:
            if seconds > self.scale.longest_wait:  # a timeline not stated in the run's scale: a suite bug
                raise ValueError(f"{self.check.id} asked to wait {seconds:g} s of real time (at most "
                                 f"{self.scale.longest_wait} s)")
            self.timing.wait(self.check.id, seconds)
            self.mock_step("wait", seconds=seconds, note="real time: the suite waited while both clocks ran")
            return
        client.advance_time(seconds)
        self.mock.advance_clock(seconds)
        self.mock_step("advance_clock", seconds=seconds)

    def journal(self) -> JournalView:
        return JournalView(self.mock.journal(since=self._mark))

    def mock_step(self, action: str, **fields: Any) -> None:
        """Note a control-plane step in the transcript, between the driver ops it came between."""
        self.transcript.append(json.dumps({"mock": action, **fields}))
        self.events.append(step_event(action, fields, self.mock.control.now()))

    def timeline(self) -> tuple[Event, ...]:
        """What happened since the last reset (or, when nothing did, in the segment before it: a check that
        resets the mock last, to release hung requests, keeps its events), in order on the mock's clock."""
        current = self._current()
        earlier, start = self._earlier
        if current or not earlier:
            return current
        # Requests the reset released (a hang) are journaled as they end: after the reset, with older numbers.
        late = [e for e in self.mock.journal(since=start) if int(e["seq"]) < self._mark]
        return merge(journal_events(late), earlier)

    def _current(self) -> tuple[Event, ...]:
        return merge(journal_events(self.mock.journal(since=self._mark)), self.events)

    # -- drivers ------------------------------------------------------------------------------
    def client(self, *, secret: str | None = None) -> Client:
        """The client under test: the shared driver when reusing one, else a fresh process.

        A different ``secret`` always gets a process of its own (the environment is read at start).
        """
        if self.shared is not None and self.shared.alive and secret is None:
            client = Client(self, self.shared)
            self.align_clock(client)
            return client
        driver = self.launcher.launch(self.check.id, secret=secret)
        self._owned.append(driver)
        return Client(self, driver)

    def align_clock(self, client: Client) -> None:
        """After a mock reset, move the mock's clock to where a reused driver's clock has got to."""
        offset = client.driver.clock_offset - self.mock.control.clock.offset
        if offset > 0:
            self.mock.advance_clock(offset)

    def close(self) -> None:
        """Stop the drivers this check started and collect the tokens it saw issued."""
        self._collect()
        for driver in self._owned:
            driver.close()
        self._owned.clear()

    def _collect(self) -> None:
        if self._mark:
            self.run_log.issued |= self.journal().issued_fingerprints()


class Client:
    """The client under test as a check uses it: driver ops that fail the check on misuse."""

    def __init__(self, ctx: CheckContext, driver: DriverProcess) -> None:
        self.ctx = ctx
        self.driver = driver

    @property
    def client_id(self) -> str:
        return self.ctx.mock.client_id

    def _note(self) -> None:
        self.ctx.transcript.append(self.driver.sent[-1])

    def _op(self, op: str, send: Callable[[], T], **fields: Any) -> T:
        """Send one op, noting it and the client's answer (or that none came) on the check's timeline."""
        events, now, secret = self.ctx.events, self.ctx.mock.control.now, self.driver.output.secret
        events.append({"kind": "op", "time": now(), "op": op, **fields})
        try:
            result = send()
        except DriverError as exc:
            events.append(no_answer_event(op, exc, secret, now()))
            raise
        self._note()
        events.append(answer_event(op, result if isinstance(result, (CallResult, list)) else None, secret, now()))
        return result

    def new_client(self, *, accept_failure: bool = False, timeout: float | None = None) -> CallResult:
        """``new_client``; a failure fails the check unless ``accept_failure`` (bad credentials)."""
        result = self._op("new_client", lambda: self.driver.new_client(timeout=timeout))
        if not result.succeeded and not accept_failure:
            self.ctx.fail(f"new_client failed: {result.describe()}\n{self.ctx.journal().describe()}")
        return result

    def call(self, path: str = LIST_PATH, *, timeout: float | None = None) -> CallResult:
        return self._op("call", lambda: self.driver.call("GET", path, timeout=timeout), path=path)

    def call_ok(self, what: str, path: str = LIST_PATH) -> CallResult:
        """A call that must succeed; its failure fails the check with the journal as evidence."""
        result = self.call(path)
        if not result.succeeded:
            journal = self.ctx.journal()
            self.ctx.fail(f"{what} failed: {result.describe()}\nrequests ({journal.counts()}):\n{journal.describe()}")
        return result

    def call_concurrently(self, count: int, path: str = LIST_PATH) -> list[CallResult]:
        return self._op("call_concurrently", lambda: self.driver.call_concurrently(count, "GET", path), path=path,
                        count=count)

    def advance_time(self, seconds: float) -> None:
        self._op("advance_time", lambda: self.driver.advance_time(seconds), seconds=seconds)
