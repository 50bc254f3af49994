"""What a run of a conformance suite found, for either suite: one ``CheckResult`` per check in a ``SuiteReport``.

The client suite checks a client through its driver, the provider suite checks a server (the mock, or
a live Scalekit environment); both report the same way. What was checked is the report's ``subject``:
it names itself in the report's header, JSON and JUnit properties.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

OUTCOMES = ("passed", "failed", "skipped", "error")
MUST, SHOULD = "MUST", "SHOULD"


class CheckFailure(Exception):
    """A check found its subject breaking the rule; ``message`` says how, with evidence."""

    def __init__(self, check_id: str, message: str) -> None:
        super().__init__(f"{check_id}: {message}")
        self.check_id = check_id
        self.message = message


class Subject(Protocol):
    """What a suite checked: a client's driver, or a provider."""

    def describe(self) -> str:
        """The report's header line."""

    def to_json(self, command: str) -> dict[str, Any]:
        """The report's JSON members saying what was checked, e.g. ``{"driver": {...}}``."""

    def properties(self) -> list[tuple[str, str]]:
        """JUnit XML properties."""


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check: ``passed``, ``failed``, ``skipped`` or ``error`` (a driver, target or suite
    problem)."""

    id: str
    level: str
    outcome: str
    message: str = ""
    duration: float = 0.0

    @property
    def reason(self) -> str:
        """The message's first line, for a table cell."""
        return self.message.splitlines()[0] if self.message else ""

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "level": self.level, "outcome": self.outcome, "message": self.message,
                "duration": round(self.duration, 3)}


@dataclass
class SuiteReport:
    """Every result of a run, what was checked, and the verdict as an exit code."""

    subject: Subject
    command: str
    results: list[CheckResult] = field(default_factory=list)
    strict: bool = False
    duration: float = 0.0
    startup_error: str | None = None  # the run could not start at all (no driver, no target): no check ran
    suite: str = "client"

    @property
    def driver(self) -> Subject:
        """The client suite's name for the subject: the driver's self-description."""
        return self.subject

    def result(self, check_id: str) -> CheckResult:
        for result in self.results:
            if result.id == check_id:
                return result
        raise KeyError(f"no result for check {check_id!r} in this report")

    @property
    def exit_code(self) -> int:
        """0 conforming; 1 a MUST check failed (or a SHOULD one, when strict); 2 a driver, target or suite error."""
        if self.startup_error is not None or any(r.outcome == "error" for r in self.results):
            return 2
        if any(r.outcome == "failed" and (r.level == MUST or self.strict) for r in self.results):
            return 1
        return 0

    def summary(self) -> dict[str, Any]:
        counts = {outcome: sum(r.outcome == outcome for r in self.results) for outcome in OUTCOMES}
        verdict = {0: "conforming", 1: "not conforming", 2: "error"}[self.exit_code]
        return {**counts, "total": len(self.results), "strict": self.strict, "exit_code": self.exit_code,
                "verdict": verdict, "duration": round(self.duration, 3)}

    def to_json(self) -> dict[str, Any]:
        return {**self.subject.to_json(self.command), "checks": [r.to_json() for r in self.results],
                "summary": self.summary()}
