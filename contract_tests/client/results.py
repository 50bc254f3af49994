"""What a run of the client suite found: one ``CheckResult`` per check, gathered in a ``SuiteReport``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .driver import DriverInfo

OUTCOMES = ("passed", "failed", "skipped", "error")


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check: ``passed``, ``failed``, ``skipped`` or ``error`` (a driver or suite problem)."""

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
    """Every result of a run, the driver's self-description, and the verdict as an exit code."""

    driver: DriverInfo
    command: str
    results: list[CheckResult] = field(default_factory=list)
    strict: bool = False
    duration: float = 0.0
    startup_error: str | None = None  # the driver could not be started at all: no check ran

    def result(self, check_id: str) -> CheckResult:
        for result in self.results:
            if result.id == check_id:
                return result
        raise KeyError(f"no result for check {check_id!r} in this report")

    @property
    def exit_code(self) -> int:
        """0 conforming; 1 a MUST check failed (or a SHOULD one, when strict); 2 a driver or protocol error."""
        if self.startup_error is not None or any(r.outcome == "error" for r in self.results):
            return 2
        if any(r.outcome == "failed" and (r.level == "MUST" or self.strict) for r in self.results):
            return 1
        return 0

    def summary(self) -> dict[str, Any]:
        counts = {outcome: sum(r.outcome == outcome for r in self.results) for outcome in OUTCOMES}
        verdict = {0: "conforming", 1: "not conforming", 2: "error"}[self.exit_code]
        return {**counts, "total": len(self.results), "strict": self.strict, "exit_code": self.exit_code,
                "verdict": verdict, "duration": round(self.duration, 3)}

    def to_json(self) -> dict[str, Any]:
        return {"driver": {"name": self.driver.name, "version": self.driver.version,
                           "capabilities": list(self.driver.capabilities), "command": self.command},
                "checks": [r.to_json() for r in self.results], "summary": self.summary()}
