"""What a provider check works with, and how it fails or steps aside.

A check is a function taking a ``ProviderContext``. It reads the exchanges it needs
(``ctx.exchange("token")``), judges them against the documented contract, and fails by raising
``CheckFailure`` (``ctx.fail(message)``) with the evidence in the message: the request and the answer,
secrets and tokens redacted. It never returns a verdict. The expected texts come from the shipped
``fixtures/`` (``ctx.expected``), the one place the mock keeps what it knows of the real service.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from mock_server import Fixtures, load_fixtures

from ..results import CheckFailure
from .observe import Redactor, evidence
from .probe import CaseSkipped, Exchange, Probe
from .target import Target


@dataclass(frozen=True)
class ProviderCheck:
    """One entry of the catalogue: what it checks, how strictly, on what source, through which cases."""

    id: str
    level: str
    source: str
    summary: str
    run: Callable[[ProviderContext], None]
    cases: tuple[str, ...] = ()


class ProviderContext:
    """The run's probe and target, the expected values, and the ways a check ends."""

    def __init__(self, check: ProviderCheck, probe: Probe, redactor: Redactor) -> None:
        self.check = check
        self.probe = probe
        self.redactor = redactor
        self.expected: Fixtures = load_fixtures()
        self.note = ""  # what a passing check reports of its run (its result's message), e.g. what it covered

    @property
    def target(self) -> Target:
        return self.probe.target

    def exchange(self, case: str) -> Exchange:
        return self.probe.exchange(case)

    def fail(self, message: str) -> NoReturn:
        raise CheckFailure(self.check.id, message)

    def skip(self, reason: str, *, not_applicable: bool = False) -> NoReturn:
        raise CaseSkipped(reason, not_applicable=not_applicable)

    def evidence(self, exchange: Exchange) -> str:
        return evidence(exchange, self.redactor)

    def show(self, value: Any) -> str:
        """A value for a message, redacted."""
        return repr(self.redactor.value(value))

    def require(self, exchange: Exchange, problems: Sequence[str]) -> None:
        """Fail with every problem found in one answer, and the answer as evidence."""
        if problems:
            self.fail("; ".join(problems) + "\n  " + self.evidence(exchange))

    def json_object(self, exchange: Exchange, status: int | Sequence[int]) -> dict[str, Any]:
        """The answer's JSON object body, after its status; else fail saying what came instead."""
        wanted = (status,) if isinstance(status, int) else tuple(status)
        problems = []
        if exchange.status not in wanted:
            problems.append(f"status {exchange.status}, expected {' or '.join(map(str, wanted))}")
        if not isinstance(exchange.data, dict):
            problems.append(f"the body is not a JSON object ({exchange.media_type or 'no content type'})")
        self.require(exchange, problems)
        data: dict[str, Any] = exchange.data
        return data

    def api_error_spec(self, key: str) -> dict[str, Any]:
        return dict(self.expected.errors["api"][key])

    def source_note(self, family: str, key: str) -> str:
        """Where an expected value comes from: its fixture entry and that entry's source."""
        spec = self.expected.errors[family][key]
        return f"fixtures/errors.json {family}.{key}: {spec.get('source', 'no source given')}"
