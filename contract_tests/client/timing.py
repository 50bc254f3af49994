"""How a run lets time pass in its time-dependent checks: in virtual time, or in real time.

A time-dependent check (one needing ``advance_time``, ``checks.TIME``) states its timeline in terms of the token
lifetime and of its run's ``Scale`` — "a call; ``expires_in`` - ``margin`` later, a call" — and lets each interval
pass with ``CheckContext.advance``. The run's ``Timing`` says how that happens:

- **virtual time** (the driver offers ``advance_time``): both clocks jump at once, the client's (``advance_time``)
  and the mock's (``advance_clock``), so the mock's 24 h tokens cost nothing to outlive;
- **real time** (the driver does not offer it, or the run asks for it): the suite sleeps while both clocks run on
  their own, and each time-dependent check's client gets ``REAL_SCALE.lifetime`` (15 s) tokens, so that the same
  timeline takes seconds. This is the only place the suite sleeps for time to pass; what it waited is added up
  and reported.

The durations of the two scales are chosen so that a check passes and fails for the same reason on both: a margin
or a skew that the check asks for stays below the careful client's (min(60 s, ``expires_in`` / 10)), and every
interval stays whole seconds from the edges it tests (``exp`` is one second after ``expires_in``); a check that
waits for no expiry (CACHE-SHORT-LIFETIME-REUSE) keeps its tokens' lifetime. What real time cannot reproduce is a
duration a client assumes for itself (a fixed 5-minute margin, a 24 h lifetime): on 15 s tokens it can show in
more checks than in virtual time, whose 24 h tokens agree with it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from .evidence import plural

AUTO, VIRTUAL, REAL = "auto", "virtual", "real"
MODES = (AUTO, VIRTUAL, REAL)


@dataclass(frozen=True)
class Scale:
    """The durations, in seconds, a time-dependent check's timeline is stated in."""

    lifetime: int | None  # the token lifetime each time-dependent check's client gets (None: the mock's, 24 h)
    short_lifetime: int  # the short tokens REFRESH-SHORT-LIFETIME waits out
    reuse_gap: float  # how far apart CACHE-SHORT-LIFETIME-REUSE's calls come (its tokens last 300 s on both scales)
    past: int  # how far past a token's lifetime a step "once it has expired" lands: beyond any margin and latency
    margin: int  # the refresh margin REFRESH-MARGIN asks for
    skew: int  # how far the mock's clock runs ahead of the client's in REFRESH-CLOCK-SKEW

    @property
    def longest_wait(self) -> int:
        """The longest interval a check may wait for in real time: a lifetime and then some (a check stating a
        virtual-time interval of a day is refused rather than slept through)."""
        return max(self.lifetime or 0, self.short_lifetime) + self.past


VIRTUAL_SCALE = Scale(lifetime=None, short_lifetime=300, reuse_gap=30, past=60, margin=5, skew=30)
REAL_SCALE = Scale(lifetime=15, short_lifetime=15, reuse_gap=1.5, past=2, margin=1, skew=3)


@dataclass
class Timing:
    """A run's way of letting time pass, why it was chosen, and the real time it waited, check by check."""

    mode: str  # VIRTUAL or REAL
    reason: str
    waited: dict[str, float] = field(default_factory=dict)  # check id -> seconds slept

    @property
    def real(self) -> bool:
        return self.mode == REAL

    @property
    def scale(self) -> Scale:
        return REAL_SCALE if self.real else VIRTUAL_SCALE

    @property
    def added(self) -> float:
        """The real time the run waited, in seconds."""
        return sum(self.waited.values())

    def wait(self, check_id: str, seconds: float) -> None:
        """Sleep ``seconds`` of real time for ``check_id`` (real time only: the suite's one sleep)."""
        assert self.real, "virtual time never waits"
        started = time.monotonic()
        time.sleep(max(seconds, 0.0))
        self.waited[check_id] = self.waited.get(check_id, 0.0) + time.monotonic() - started

    def describe(self) -> str:
        """The report's line on time."""
        if not self.real:
            return f"time: virtual ({self.reason}): both clocks jump, the client's and the mock's"
        return (f"time: real ({self.reason}; {self.scale.lifetime} s tokens): {plural(len(self.waited), 'check')} "
                f"waited, adding {self.added:.1f} s")


def choose(requested: str, capabilities: tuple[str, ...], *, live: bool = False) -> Timing:
    """The run's timing: ``requested`` (``auto``: virtual when the driver can move its clock, else real). Against a
    live environment only virtual time: the proxy cannot give the real client short tokens."""
    can_move = "advance_time" in capabilities
    if live:
        return Timing(VIRTUAL, "against a live environment, whose token lifetime cannot be shortened")
    if requested == REAL:
        return Timing(REAL, "asked for" + ("" if not can_move else ", though the driver offers advance_time"))
    if requested == VIRTUAL or can_move:
        return Timing(VIRTUAL, "asked for" if requested == VIRTUAL else "the driver offers advance_time")
    return Timing(REAL, "the driver does not offer advance_time")
