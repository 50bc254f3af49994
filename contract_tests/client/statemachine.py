"""STATE-MACHINE: random sequences of calls, clock moves, revocations, key rotations and transient faults.

A Hypothesis ``RuleBasedStateMachine`` drives the client and the mock; after every step it checks:
- every call succeeded unless a fault answered one of its requests;
- the token requests so far stay within what the events justify: 1, plus one per expiry crossed
  (the latest token past half its lifetime), per revocation, per rotation with no grace, per
  injected fault, plus ``count - 1`` for concurrent calls while a refresh was due, plus ``SLACK``;
- no API request carried a token at or after its ``exp`` on the mock's clock.
A failure is shrunk and reported with the driver ops (and mock steps) that replay it, as JSON lines.

Each example gets a fresh driver process, as each check does (docs/driver-protocol.md: some clients keep
their token cache in process-wide state that ``new_client`` cannot clear, and a token carried over from
the previous example would make a failure vanish on replay). With ``--reuse-driver`` one process serves
every example (``new_client`` and a mock reset between them, the clocks realigned), which is faster.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar, NoReturn, TypeVar

from hypothesis import HealthCheck, Phase, Verbosity, settings
from hypothesis import strategies as st
from hypothesis.errors import Flaky
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from .context import CheckContext, Client
from .driver import DriverError, DriverTimeout
from .evidence import plural
from .refresh import expired_uses

T = TypeVar("T")
SLACK = 1
MAX_EXAMPLES = 10
MAX_STEPS = 12
# Multiples of 30 s, so that no run of clock moves ends inside the second before a token's exp, where
# the verdict would hang on sub-second timing (that edge is REFRESH-BEFORE-EXPIRY's, a SHOULD).
ADVANCES = (30, 3600, 43200, 86340, 86460)


class MachineFailure(Exception):
    """An invariant broke; the message carries the transcript of the example that broke it."""


class _Abort(BaseException):
    """Carries a driver error out of Hypothesis at once: a hung or broken driver is not shrunk."""

    def __init__(self, error: DriverError, transcript: list[str]) -> None:
        super().__init__(str(error))
        self.error = error
        self.transcript = transcript


class Budget:
    """How many token requests the events so far justify (without the slack)."""

    def __init__(self) -> None:
        self.justified = 1
        self.expired: set[str] = set()
        self.revoked: set[str] = set()


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
            "ctx": ctx, "shared": shared, "can_advance": "advance_time" in ctx.capabilities,
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
        self.advanced = 0
        self._guard(self.client.new_client)

    def teardown(self) -> None:
        if self.shared is None:  # this example's own process
            self.client.driver.close()

    def _guard(self, step: Callable[[], T]) -> T:
        try:
            return step()
        except DriverError as exc:
            raise _Abort(exc, list(self.ctx.transcript)) from exc

    def fail(self, message: str) -> NoReturn:
        journal = self.ctx.journal()
        raise MachineFailure(f"{message}\nrequests of this example ({journal.counts()}):\n"
                             f"{journal.describe(limit=30)}\nreplay (JSON lines; 'mock' lines are control-plane "
                             f"steps between driver ops):\n" + "\n".join(self.ctx.transcript))

    def _pending(self) -> bool:
        return bool(self.ctx.mock.control.list_faults())

    def _mark(self) -> int:
        return self.ctx.mock.control.journal.last_seq()

    def _fault_played(self, since: int) -> bool:
        """Whether a fault answered a request since the mark: only then may a call fail. (A fault merely
        pending excuses nothing: a client that never goes back to the token endpoint never meets it.)"""
        return any(entry["fault"] for entry in self.ctx.mock.journal(since=since))

    def _latest_token(self) -> Mapping[str, Any] | None:
        latest = self.ctx.journal().latest_delivered()
        return latest.issued if latest is not None else None

    @rule()
    def call(self) -> None:
        mark = self._mark()
        result = self._guard(self.client.call)
        if not result.succeeded and not self._fault_played(mark):
            self.fail(f"a call that met no fault failed: {result.describe()}")

    @precondition(lambda self: self.can_concur)
    @rule(count=st.integers(2, 4))
    def call_concurrently(self, count: int) -> None:
        mark = self._mark()
        refresh_due = len(self.ctx.journal().token_requests) < self.budget.justified
        results = self._guard(lambda: self.client.call_concurrently(count))
        if refresh_due:  # a client without single flight may fetch once per caller here
            self.budget.justified += count - 1
        failed = [r.describe() for r in results if not r.succeeded]
        if failed and not self._fault_played(mark):
            self.fail(f"{len(failed)} of {count} concurrent calls failed and met no fault: {failed[0]}")

    @precondition(lambda self: self.can_advance and self.advanced < self.max_advance)
    @rule(seconds=st.sampled_from(ADVANCES))
    def advance(self, seconds: int) -> None:
        seconds = min(seconds, self.max_advance - self.advanced)
        self._guard(lambda: self.ctx.advance(self.client, seconds))
        self.advanced += seconds
        token = self._latest_token()
        if token is None or token["fingerprint"] in self.budget.expired:
            return
        if self.ctx.mock.now() - int(token["iat"]) >= (int(token["exp"]) - int(token["iat"])) / 2:
            self.budget.expired.add(str(token["fingerprint"]))
            self.budget.justified += 1

    @rule()
    def revoke_current(self) -> None:
        token = self._latest_token()
        if token is None or token["fingerprint"] in self.budget.revoked:
            return
        self.ctx.mock.revoke(jti=str(token["jti"]))
        self.ctx.mock_step("revoke", jti=str(token["jti"]))
        self.budget.revoked.add(str(token["fingerprint"]))
        self.budget.justified += 1

    @rule(grace=st.sampled_from([0, None]))
    def rotate_keys(self, grace: int | None) -> None:
        self.ctx.mock.rotate_keys(grace)
        self.ctx.mock_step("rotate_keys", grace_seconds=grace)
        if grace == 0:
            self.budget.justified += 1

    @precondition(lambda self: not self._pending())
    @rule()
    def transient_fault(self) -> None:
        self.ctx.mock.add_fault("status", endpoint="token", preset="unavailable", count=1)
        self.ctx.mock_step("add_fault", kind="status", endpoint="token", preset="unavailable", count=1)
        self.budget.justified += 1

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
    config = settings(max_examples=MAX_EXAMPLES, stateful_step_count=MAX_STEPS, derandomize=True, deadline=None,
                      database=None, verbosity=Verbosity.quiet, phases=[Phase.generate, Phase.shrink],
                      suppress_health_check=list(HealthCheck), print_blob=False)
    shared = ctx.client() if ctx.shared is not None else None  # see the module's docstring
    try:
        run_state_machine_as_test(ClientMachine.bind(ctx, shared), settings=config)
    except MachineFailure as exc:
        ctx.fail(str(exc))
    except Flaky as exc:
        ctx.fail(f"an invariant broke but did not break again on replay (timing-dependent?): {exc}")
    except _Abort as abort:
        if isinstance(abort.error, DriverTimeout):
            ctx.fail(f"the driver hung: {abort.error}\nreplay:\n" + "\n".join(abort.transcript))
        raise abort.error from None
