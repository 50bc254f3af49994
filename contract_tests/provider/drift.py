"""The drift report: a recording of a live environment against the mock's answers to the same cases.

Every recorded case is made again against a fresh mock (the shipped fixtures, or a directory of
overrides), normalized the same way, and the two answers compared path by path. Each difference has a
kind, said of the live answer: ``status`` (another status), ``missing`` (the mock sends this field or
list item, the live service does not), ``extra`` (the live service sends it, the mock does not),
``type`` (another JSON type), ``message`` (another text) or ``value`` (another number or boolean).
Lists of plain values compare as sets; other lists item by item.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mock_server import MockConfig, MockServer

from .cases import CASES
from .observe import Redactor, json_type, observation
from .probe import CaseSkipped, Probe
from .record import read_recording
from .target import FORBIDDEN_ROUTE, Target, TargetError

ABSENT: Any = object()


@dataclass(frozen=True)
class Difference:
    """One way the live answer (recorded) differs from the mock's, at a path of the normalized answer."""

    case: str
    path: str
    kind: str
    live: Any
    mock: Any

    @property
    def fixture(self) -> str:
        """Where the mock keeps the fact that differs (a fixture file, or code for discovery)."""
        case = CASES.get(self.case)
        if case is None:
            return ""
        return case.fixture if case.fixture.startswith("mock_server/") else f"fixtures/{case.fixture}"

    def to_json(self) -> dict[str, Any]:
        return {"case": self.case, "path": self.path, "kind": self.kind,
                "live": None if self.live is ABSENT else self.live,
                "mock": None if self.mock is ABSENT else self.mock, "fixture": self.fixture}


def _scalar(value: Any) -> bool:
    return not isinstance(value, (dict, list))


def compare(case: str, live: Any, mock: Any, path: str = "") -> Iterator[Difference]:
    """Every difference between two normalized values (``ABSENT`` where one side has nothing)."""
    if live is ABSENT or mock is ABSENT:
        yield Difference(case, path, "missing" if live is ABSENT else "extra", live, mock)
    elif json_type(live) != json_type(mock) and {json_type(live), json_type(mock)} != {"integer", "number"}:
        yield Difference(case, path, "type", json_type(live), json_type(mock))
    elif isinstance(live, dict):
        for key in sorted(set(live) | set(mock)):
            yield from compare(case, live.get(key, ABSENT), mock.get(key, ABSENT), f"{path}.{key}".lstrip("."))
    elif isinstance(live, list) and all(map(_scalar, live + mock)):
        live_set, mock_set = {repr(v): v for v in live}, {repr(v): v for v in mock}
        for key in sorted(set(live_set) | set(mock_set)):
            yield from compare(case, live_set.get(key, ABSENT), mock_set.get(key, ABSENT), f"{path}[]")
    elif isinstance(live, list):
        for n in range(max(len(live), len(mock))):
            yield from compare(case, live[n] if n < len(live) else ABSENT, mock[n] if n < len(mock) else ABSENT,
                               f"{path}[{n}]")
    elif live != mock:
        kind = "status" if path == "status" else "message" if isinstance(live, str) else "value"
        yield Difference(case, path, kind, live, mock)


@dataclass
class DriftReport:
    """The differences, case by case, and what could not be compared."""

    recording: str
    fixtures: str | None
    compared: list[str]
    differences: list[Difference]
    not_recorded: list[str]
    not_comparable: dict[str, str]

    @property
    def exit_code(self) -> int:
        return 1 if self.differences else 0

    def to_json(self) -> dict[str, Any]:
        return {"recording": self.recording, "fixtures": self.fixtures, "compared": self.compared,
                "differences": [d.to_json() for d in self.differences], "not_recorded": self.not_recorded,
                "not_comparable": self.not_comparable, "drift": bool(self.differences)}


def drift(recording: Path, *, fixtures_dir: str | None = None, timeout: float = 10.0) -> DriftReport:
    """Compare a recording with a fresh mock's answers to the same cases (requests as recorded)."""
    recorded = read_recording(recording)
    forbidden = recorded.get("api-forbidden", {}).get("request", {}).get("path", FORBIDDEN_ROUTE)
    report = DriftReport(str(recording), fixtures_dir, [], [], [n for n in CASES if n not in recorded], {})
    with MockServer(MockConfig(fixtures_dir=fixtures_dir)) as mock:
        target = Target.for_mock(mock, forbidden if forbidden.startswith("/api/") else FORBIDDEN_ROUTE)
        redactor = Redactor(target)
        with Probe(target, timeout) as probe:
            for name, live in recorded.items():
                try:
                    observed = observation(probe.exchange(name), redactor)
                except (CaseSkipped, TargetError) as exc:
                    report.not_comparable[name] = str(exc)
                    continue
                report.compared.append(name)
                report.differences += compare(name, live["response"], observed["response"])
    return report


def _show(value: Any) -> str:
    text = "-" if value is ABSENT else repr(value)
    return text if len(text) <= 60 else text[:59] + "…"


def render(report: DriftReport) -> str:
    """The terminal form: one line per difference, then what was not compared, then the verdict."""
    fixtures = report.fixtures or "the shipped fixtures"
    lines = [f"drift: the recording in {report.recording} against a fresh mock ({fixtures}), "
             f"{len(report.compared)} case(s) compared", ""]
    if report.differences:
        rows = [(d.case, d.path, d.kind, _show(d.live), _show(d.mock), d.fixture) for d in report.differences]
        widths = [max(len(r[i]) for r in [("CASE", "PATH", "KIND", "LIVE", "MOCK", ""), *rows]) for i in range(5)]
        header = ("CASE", "PATH", "KIND", "LIVE", "MOCK", "WHERE THE MOCK KEEPS IT")
        for row in [header, *rows]:
            lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:5])) + "  " + row[5])
        lines.append("")
    for name, reason in report.not_comparable.items():
        lines.append(f"not compared: {name}: {reason}")
    if report.not_recorded:
        lines.append(f"not in the recording: {', '.join(report.not_recorded)}")
    cases = len({d.case for d in report.differences})
    lines.append(f"{len(report.differences)} difference(s) in {cases} case(s): "
                 + ("the mock is not faithful to this recording (exit code 1)" if report.differences
                    else "the mock answers as recorded (exit code 0)"))
    return "\n".join(lines).rstrip() + "\n"
