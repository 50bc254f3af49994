"""STATE-MACHINE: random sequences of calls, clock moves, revocations, key rotations and transient faults.

A Hypothesis ``RuleBasedStateMachine`` drives the client and the mock (clock moves only in virtual time: in real
time its random ones would take minutes per example, so it plays the rest; the refresh checks judge expiry there);
after every step it checks:
- every call succeeded unless a fault answered one of its requests;
- the token requests so far stay within what the events justify: 1, plus one per expiry crossed
  (a token the client holds past half its lifetime), per revocation, per rotation with no grace, per
  injected fault, plus ``count - 1`` for concurrent calls while a refresh was due, plus ``SLACK``;
- no API request carried a token at or after its ``exp`` on the mock's clock.
A failure is shrunk and reported with the driver ops (and mock steps) that replay it, as JSON lines.

The same client gets the same verdict run after run (tests/test_statemachine_determinism.py), so nothing
the machine decides hangs on timing. Its rules act on the tokens the client holds (``Holding``), read from
the journal: the ones its latest successful calls carried — every one of a concurrent step's, since which of
them a client without single flight keeps is a thread race — and any handed to it since. No precondition
reads the mock, so the steps Hypothesis draws follow from its seed alone; the budget follows from the steps
and from whether the client fetched, not from how many requests a stampede happened to make. Hypothesis
stops at the first failure instead of looking for more for ten seconds of wall-clock time.

A stampede (concurrent callers each fetching a token, on a cold cache or at a refresh) is therefore within the
budget here, on purpose: without a held-back token response, how many callers stampede is a thread race, so
counting it would make the verdict hang on timing, and it would count again a bug that two checks name
deterministically — CACHE-CONCURRENT-COLD (a cold cache) and CACHE-STAMPEDE-AT-EXPIRY (an expired token), which
hold the token response back so that the stampede shows whatever the scheduling. STATE-MACHINE stays about
the invariants that hold whatever the threads do.

Each example gets a fresh driver process, as each check does (docs/driver-protocol.md: some clients keep
their token cache in process-wide state that ``new_client`` cannot clear, and a token carried over from
the previous example would make a failure vanish on replay), spawned while the example before runs. With
``--reuse-driver`` one process serves every example (``new_client`` and a mock reset between them, the clocks
realigned), which is faster.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, NoReturn, TypeVar

from hypothesis import HealthCheck, Phase, Verbosity, settings
from hypothesis import strategies as st
from hypothesis.errors import Flaky
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from ..results import CheckFailure
from .context import CheckContext, Client
from .driver import DriverError, DriverTimeout
from .evidence import JournalView, plural
from .refresh import expired_uses

T = TypeVar("T")
SLACK = 1
MAX_EXAMPLES = 10
MAX_STEPS = 12
# Multiples of 30 s, so that no run of clock moves ends inside the second before a token's exp, where
# the verdict would hang on sub-second timing (that edge is REFRESH-BEFORE-EXPIRY's, a SHOULD).
ADVANCES = (30, 3600, 43200, 86340, 86460)
SETTINGS = settings(max_examples=MAX_EXAMPLES, stateful_step_count=MAX_STEPS, derandomize=True, database=None,
                    deadline=None, report_multiple_bugs=False, verbosity=Verbosity.quiet,
                    phases=[Phase.generate, Phase.shrink], suppress_health_check=list(HealthCheck),
                    print_blob=False)
# Hypothesis leaves run_state_machine_as_test unannotated: called through a typed name, mypy --strict accepts it.
_run_machine: Callable[..., None] = run_state_machine_as_test
# One run at a time in a process (the matrix runs two drivers' suites in threads side by side): Hypothesis parses
# source as a run starts, and CPython 3.11's ast.parse in two threads at once can raise "SystemError: AST
# constructor recursion depth mismatch" (python/cpython#106905), which made the check an error 1 time in 50.
_ONE_RUN_AT_A_TIME = threading.Lock()


class MachineFailure(Exception):
    """An invariant broke; the message carries the transcript of the example that broke it."""


class _Abort(BaseException):
    """Carries a driver error out of Hypothesis at once: a hung or broken driver is not shrunk."""

    def __init__(self, error: DriverError, transcript: list[str]) -> None:
        super().__init__(str(error))
        self.error = error
        self.transcript = transcript


class Budget:
    """How many token requests the events so far justify (without the slack), counted from the steps alone."""

    def __init__(self) -> None:
        self.justified = 1
        self.refresh_due = True  # an event asked for a new token and the client has not been handed one since
        self.expired: set[str] = set()  # tokens whose passing half their lifetime is counted
        self.revoked: set[str] = set()

    def justify(self) -> None:
        self.justified += 1
        self.refresh_due = True


class Holding:
    """Which tokens the client may hold, from the journal, and when each was handed out (in seconds moved).

    They are the tokens its latest successful calls carried and any handed to it since those calls began.
    After concurrent calls by a client without single flight that is every token the stampede fetched: one
    of them is the one it kept (the last thread to store its token also sent it), and which one is a race.
    """

    def __init__(self) -> None:
        self.carried: frozenset[str] = frozenset()
        self.since = 0  # the newest request before the step whose calls carried them
        self.handed_at: dict[str, int] = {}  # fingerprint -> seconds the clocks had moved when it was handed out

    def note(self, journal: JournalView, mark: int, advanced: int) -> bool:
        """What the step that began after request ``mark`` shows; returns whether it handed the client a token."""
        delivered = journal.delivered()
        for fp in delivered:
            self.handed_at.setdefault(fp, advanced)
        step = journal.after(mark)
        carried = frozenset(r.bearer for r in step.api_calls if 200 <= r.status < 300 and r.bearer in delivered)
        if carried:
            self.carried, self.since = carried, mark
        return bool(step.delivered())

    def tokens(self, journal: JournalView) -> dict[str, Mapping[str, Any]]:
        """The tokens held, by fingerprint, in the order they were handed out."""
        held = self.carried.union(journal.after(self.since).delivered())
        return {fp: token for fp, token in journal.delivered().items() if fp in held}

    def age(self, fp: str, advanced: int) -> int:
        return advanced - self.handed_at.get(fp, 0)


class ClientMachine(RuleBasedStateMachine):
    """The rules and invariants; ``bind`` makes a subclass for one check's context and driver."""

    ctx: ClassVar[CheckContext]
    shared: ClassVar[Client | None]  # the one client of every example (--reuse-driver), else None
    can_advance: ClassVar[bool]
    can_concur: ClassVar[bool]
    max_advance: ClassVar[int]

    @classmethod
    def bind(cls, ctx: CheckContext, shared: Client | None) -> type[ClientMachine]:
        return type("BoundClientMachine", (cls,), {
            "ctx": ctx, "shared": shared, "can_advance": ctx.clock_moves,
            "can_concur": "concurrent" in ctx.capabilities,
            "max_advance": 2 * ctx.mock.control.policy.lifetime_seconds})

    def __init__(self) -> None:
        super().__init__()
        ctx = self.ctx
        ctx.reset_mock()
        ctx.transcript.clear()
        self.client: Client = self.shared if self.shared is not None else self._guard(ctx.client)
        ctx.align_clock(self.client)
        ctx.mock_step("reset")
        self.budget = Budget()
        self.holding = Holding()
        self.advanced = 0
        self._step(lambda: self._guard(self.client.new_client))

    def teardown(self) -> None:
        if self.shared is None:  # this example's own process
            self.client.driver.close()

    def _guard(self, step: Callable[[], T]) -> T:
        try:
            return step()
        except DriverError as exc:
            raise _Abort(exc, list(self.ctx.transcript)) from exc

    def _step(self, ops: Callable[[], T]) -> tuple[T, int]:
        """Run driver ops; note what they show of the tokens held. Returns their result and the mark before them."""
        mark = self._mark()
        result = ops()
        if self.holding.note(self.ctx.journal(), mark, self.advanced):
            self.budget.refresh_due = False
        return result, mark

    def fail(self, message: str) -> NoReturn:
        journal = self.ctx.journal()
        raise MachineFailure(f"{message}\nrequests of this example ({journal.counts()}):\n"
                             f"{journal.describe(limit=30)}\nreplay (JSON lines; 'mock' lines are control-plane "
                             f"steps between driver ops):\n" + "\n".join(self.ctx.transcript))

    def _mark(self) -> int:
        """The newest request so far, by number (concurrent requests are journaled as they end, out of order)."""
        requests = self.ctx.journal().requests
        return requests[-1].seq if requests else 0

    def _fault_played(self, since: int) -> bool:
        """Whether a fault answered a request since the mark: only then may a call fail. (A fault merely
        pending excuses nothing: a client that never goes back to the token endpoint never meets it.)"""
        return any(r.entry.get("fault") for r in self.ctx.journal().after(since))

    @rule()
    def call(self) -> None:
        result, mark = self._step(lambda: self._guard(self.client.call))
        if not result.succeeded and not self._fault_played(mark):
            self.fail(f"a call that met no fault failed: {result.describe()}")

    @precondition(lambda self: self.can_concur)
    @rule(count=st.integers(2, 4))
    def call_concurrently(self, count: int) -> None:
        if self.budget.refresh_due:  # a client without single flight may fetch once per caller here: the
            # stampede is CACHE-CONCURRENT-COLD's and CACHE-STAMPEDE-AT-EXPIRY's to judge (see the module's docstring)
            self.budget.justified += count - 1
        results, mark = self._step(lambda: self._guard(lambda: self.client.call_concurrently(count)))
        failed = [r.describe() for r in results if not r.succeeded]
        if failed and not self._fault_played(mark):
            self.fail(f"{len(failed)} of {count} concurrent calls failed and met no fault: {failed[0]}")

    @precondition(lambda self: self.can_advance and self.advanced < self.max_advance)
    @rule(seconds=st.sampled_from(ADVANCES))
    def advance(self, seconds: int) -> None:
        seconds = min(seconds, self.max_advance - self.advanced)
        self._guard(lambda: self.ctx.advance(self.client, seconds))
        self.advanced += seconds
        held = self.holding.tokens(self.ctx.journal())
        if any(self.holding.age(fp, self.advanced) >= (int(token["exp"]) - int(token["iat"])) / 2
               for fp, token in held.items() if fp not in self.budget.expired):
            self.budget.expired.update(held)
            self.budget.justify()

    @rule()
    def revoke_current(self) -> None:
        held = [token for fp, token in self.holding.tokens(self.ctx.journal()).items()
                if fp not in self.budget.revoked]
        for token in held:
            self.ctx.mock.revoke(jti=str(token["jti"]))
            self.ctx.mock_step("revoke", jti=str(token["jti"]))
            self.budget.revoked.add(str(token["fingerprint"]))
        if held:
            self.budget.justify()

    @rule(grace=st.sampled_from([0, None]))
    def rotate_keys(self, grace: int | None) -> None:
        self.ctx.mock.rotate_keys(grace)
        self.ctx.mock_step("rotate_keys", grace_seconds=grace)
        if grace == 0:
            self.budget.justify()

    @rule()
    def transient_fault(self) -> None:
        # One at a time. A rule, not a precondition, skips it: a precondition reading the mock would change
        # which steps Hypothesis draws whenever the client's behaviour (or a race in it) did.
        if self.ctx.mock.control.list_faults():
            return
        self.ctx.mock.add_fault("status", endpoint="token", preset="unavailable", count=1)
        self.ctx.mock_step("add_fault", kind="status", endpoint="token", preset="unavailable", count=1)
        self.budget.justify()

    @invariant()
    def token_requests_justified(self) -> None:
        made = len(self.ctx.journal().token_requests)
        allowed = self.budget.justified + SLACK
        if made > allowed:
            self.fail(f"{made} token requests where the events justify at most {allowed} (1 + expiries + "
                      f"revocations + grace-0 rotations + faults + concurrency, slack {SLACK})")

    @invariant()
    def no_expired_token_sent(self) -> None:
        expired = expired_uses(self.ctx.journal())
        if expired:
            self.fail(f"{plural(len(expired), 'API call')} carried a token past its exp on the mock's clock, "
                      f"first #{expired[0].seq}")


def state_machine(ctx: CheckContext) -> None:
    """STATE-MACHINE: the invariants above hold over random sequences of events (bounded, derandomized)."""
    shared = ctx.client() if ctx.shared is not None else None  # see the module's docstring
    ahead = ctx.launcher.ahead
    if shared is None:  # each example takes a fresh process: spawn the next ahead, even when no check follows
        ctx.launcher.ahead = max(ahead, 1)
    try:
        with _ONE_RUN_AT_A_TIME:
            _run_machine(ClientMachine.bind(ctx, shared), settings=SETTINGS)
    except MachineFailure as exc:
        ctx.fail(str(exc))
    except Flaky as exc:
        seen = _seen_failure(exc)
        if seen is None:  # the steps drawn differed on replay, or the suite broke: the suite's error, not the client's
            raise
        ctx.fail(f"{seen}\n(replayed, the same steps did not break it again: the client is timing-dependent)")
    except _Abort as abort:
        if isinstance(abort.error, DriverTimeout):
            ctx.fail(f"the driver hung: {abort.error}\nreplay:\n" + "\n".join(abort.transcript))
        raise abort.error from None
    finally:
        ctx.launcher.ahead = ahead


def _seen_failure(exc: Flaky) -> str | None:
    """The failure Hypothesis saw once and not when it replayed the example: a failure all the same (the client
    broke an invariant, and the steps do not hang on timing, so the client's behaviour did)."""
    for seen in getattr(exc, "exceptions", ()):
        if isinstance(seen, CheckFailure):
            return seen.message
        if isinstance(seen, MachineFailure):
            return str(seen)
    return None
