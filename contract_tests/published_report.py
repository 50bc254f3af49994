"""What a schemathesis run over Scalekit's published document found: cases, operations covered, each check's
passes and failures, the failures with one example each, and the excused ones with their reason.

Filled by ``published_run.py``, one check outcome at a time; rendered for the provider check's message and
the pytest failure.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from .published_spec import Site, excuse_for

EXAMPLE_WIDTH = 300  # of a failing answer's body in the report


@dataclass
class Example:
    """The first failure of one check on one operation, and how many there were."""

    title: str
    message: str
    request: str
    status: int | None
    body: str
    count: int = 1


@dataclass
class Report:
    """A run's findings; ``passed`` when every operation was exercised and no check failed."""

    target: str
    expected: set[str]  # the labels of the operations the run should exercise
    cases: int = 0
    requests: int = 0
    duration: float = 0.0
    operations: set[str] = field(default_factory=set)
    checks: dict[str, Counter[str]] = field(default_factory=dict)  # check -> {"passed": n, "failed": n, ...}
    failures: dict[tuple[str, str], Example] = field(default_factory=dict)  # (operation, check) -> first example
    excused: Counter[str] = field(default_factory=Counter)  # reason -> failures excused by it
    phases: Counter[str] = field(default_factory=Counter)  # phase -> cases
    errors: Counter[str] = field(default_factory=Counter)  # what went wrong beyond the checks, and how often
    notes: list[str] = field(default_factory=list)  # bounds that applied (a live run's budget)
    bounded: bool = False  # a live run within a budget: operations it did not reach are noted, not failed

    def case(self, operation: str, phase: str) -> None:
        self.cases += 1
        self.operations.add(operation)
        self.phases[phase] += 1

    def passed_check(self, check: str) -> None:
        self.checks.setdefault(check, Counter())["passed"] += 1

    def failed_check(self, site: Site, body: str, title: str) -> None:
        """A failure, unless an excuse of ``published_spec.EXCUSES`` covers it (then counted under its reason)."""
        check, operation = site.check, site.operation
        excuse = excuse_for(site)
        counts = self.checks.setdefault(check, Counter())
        if excuse is not None:
            counts["excused"] += 1
            self.excused[excuse.reason] += 1
            return
        counts["failed"] += 1
        known = self.failures.get((operation, check))
        if known is not None:
            known.count += 1
        else:
            sent = f" {site.sent[:EXAMPLE_WIDTH]}" if site.sent else ""
            self.failures[(operation, check)] = Example(title, site.message, f"{site.method} {site.url}{sent}",
                                                        site.status, body[:EXAMPLE_WIDTH])

    @property
    def operations_total(self) -> int:
        return len(self.expected)

    @property
    def failed(self) -> int:
        return sum(example.count for example in self.failures.values())

    @property
    def passed(self) -> bool:
        return not self.failures and not self.errors and (self.bounded or self.operations >= self.expected)

    def summary(self) -> str:
        excused = f", {sum(self.excused.values())} excused" if self.excused else ""
        return (f"{self.target}: {self.cases} cases ({self.requests} requests), {len(self.operations)}/"
                f"{self.operations_total} operations, {self.failed} failures{excused}, in {self.duration:.0f} s")

    def render(self) -> str:
        """The summary, the per-check counts, every failing (operation, check) with its example, the excuses."""
        phases = ", ".join(f"{phase} {n}" for phase, n in self.phases.items())
        lines = [self.summary(), *self.notes, f"cases by phase: {phases}", "checks:"]
        for check, counts in sorted(self.checks.items()):
            lines.append(f"  {check:<30} " + ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items())))
        if self.failures:
            lines.append(f"failures ({len(self.failures)} operation/check pairs):")
        for (operation, check), ex in sorted(self.failures.items()):
            message = " ".join(ex.message.split())
            lines += [f"  {operation} — {check} (x{ex.count}): {ex.title}: {message[:EXAMPLE_WIDTH]}",
                      f"    e.g. {ex.request} -> {ex.status} {ex.body}"]
        lines += [f"excused (x{n}): {reason}" for reason, n in self.excused.items()]
        lines += [f"error (x{n}): {error}" for error, n in self.errors.items()]
        missing = sorted(self.expected - self.operations)
        if missing:
            lines.append(f"{len(missing)} operation(s) got no case: " + ", ".join(missing))
        return "\n".join(lines)
