"""What a run of a conformance suite found, for either suite: one ``CheckResult`` per check in a ``SuiteReport``.

The client suite checks a client through its driver, the provider suite checks a server (the mock, or
a live Scalekit environment); both report the same way. What was checked is the report's ``subject``:
it names itself in the report's header, JSON and JUnit properties.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

OUTCOMES = ("passed", "failed", "skipped", "error")
MUST, SHOULD = "MUST", "SHOULD"

# The exit codes of both suites' commands (docs/conformance.md, docs/provider-contract.md).
EXIT_CONFORMING, EXIT_NOT_CONFORMING, EXIT_ERROR, EXIT_INCOMPLETE = 0, 1, 2, 3
EXIT_INTERRUPTED = 130  # Ctrl-C or SIGTERM: the checks done so far are reported
VERDICTS = {EXIT_CONFORMING: "conforming", EXIT_NOT_CONFORMING: "not conforming", EXIT_ERROR: "error",
            EXIT_INCOMPLETE: "incomplete", EXIT_INTERRUPTED: "interrupted"}

EXIT_CODES_TEXT = ("exit codes: 0 conforming; 1 a MUST check failed (or a SHOULD check, with --strict); 2 a usage "
                   "error, or the {subject} could not be used; 3 incomplete: no check failed, but a check that counts "
                   "towards the verdict did not run, for a reason the report names and you can fix; 130 interrupted "
                   "(Ctrl-C or SIGTERM): the checks done so far are reported")

T = TypeVar("T")


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
    problem).

    A skip is either ``not_applicable`` (the check cannot apply by design, e.g. against a live environment) or
    a check that applies but could not run for a reason the user can fix (a capability the driver lacks, a
    variable not set): the latter leaves the verdict incomplete when the check counts towards it.
    """

    id: str
    level: str
    outcome: str
    message: str = ""
    duration: float = 0.0
    not_applicable: bool = False
    # What happened during the check, in order on the mock's virtual clock, for the HTML report's timeline:
    # plain dicts with a ``kind`` and a ``time`` (``contract_tests.client.timeline``); fingerprints, never tokens.
    timeline: tuple[dict[str, Any], ...] = field(default=(), compare=False, repr=False)

    @property
    def reason(self) -> str:
        """The message's first line, for a table cell."""
        return self.message.splitlines()[0] if self.message else ""

    def to_json(self) -> dict[str, Any]:
        data = {"id": self.id, "level": self.level, "outcome": self.outcome, "message": self.message,
                "duration": round(self.duration, 3)}
        if self.outcome == "skipped":
            data["not_applicable"] = self.not_applicable
        return data


# Told each check's result as it finishes, with how many are done and how many the run was asked for.
OnResult = Callable[[CheckResult, int, int], None]


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
    planned: int = 0  # how many checks the run was asked for (more than ``results`` when interrupted)
    interrupted: bool = False  # Ctrl-C or SIGTERM stopped the run: ``results`` are the checks done by then

    @property
    def driver(self) -> Subject:
        """The client suite's name for the subject: the driver's self-description."""
        return self.subject

    def result(self, check_id: str) -> CheckResult:
        for result in self.results:
            if result.id == check_id:
                return result
        raise KeyError(f"no result for check {check_id!r} in this report")

    def counts(self, result: CheckResult) -> bool:
        """Whether the check's outcome counts towards the verdict: every MUST check, and SHOULD ones when strict."""
        return result.level == MUST or self.strict

    @property
    def not_run(self) -> list[CheckResult]:
        """The checks that count towards the verdict but were skipped for a reason that can be fixed."""
        return [r for r in self.results if r.outcome == "skipped" and not r.not_applicable and self.counts(r)]

    @property
    def exit_code(self) -> int:
        """0 conforming; 1 a MUST check failed (or a SHOULD one, when strict); 2 a driver, target or suite error;
        3 incomplete (no failure, but a check that counts did not run); 130 interrupted."""
        if self.interrupted:
            return EXIT_INTERRUPTED
        if self.startup_error is not None or any(r.outcome == "error" for r in self.results):
            return EXIT_ERROR
        if any(r.outcome == "failed" and self.counts(r) for r in self.results):
            return EXIT_NOT_CONFORMING
        if self.not_run:
            return EXIT_INCOMPLETE
        return EXIT_CONFORMING

    def summary(self) -> dict[str, Any]:
        counts = {outcome: sum(r.outcome == outcome for r in self.results) for outcome in OUTCOMES}
        return {**counts, "total": len(self.results), "strict": self.strict, "exit_code": self.exit_code,
                "verdict": VERDICTS[self.exit_code], "not_run": [r.id for r in self.not_run],
                "interrupted": self.interrupted, "duration": round(self.duration, 3)}

    def collect(self, items: Iterable[T], run_one: Callable[[T], CheckResult],
                on_result: OnResult | None = None) -> None:
        """Run each item into ``results`` in turn, telling ``on_result`` (the result, how many are done, how many
        were planned) as each finishes. A KeyboardInterrupt
        (Ctrl-C, or SIGTERM as the CLIs map it) ends the run with what was done: ``interrupted``."""
        pending = list(items)
        self.planned = len(pending)
        try:
            for item in pending:
                result = run_one(item)
                self.results.append(result)
                if on_result is not None:
                    on_result(result, len(self.results), self.planned)
        except KeyboardInterrupt:
            self.interrupted = True

    def to_json(self) -> dict[str, Any]:
        return {**self.subject.to_json(self.command), "checks": [r.to_json() for r in self.results],
                "summary": self.summary()}
