"""The benchmark's vocabulary: a load plan's requests, what a load generator saw, and the figures of a run."""

from __future__ import annotations

import multiprocessing
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from ..core.errors import MockError


class BenchError(MockError):
    """The benchmark could not run (the mock did not start or did not issue a token)."""


@dataclass(frozen=True)
class Request:
    """One request of a load plan; a plan is sent round-robin on every connection."""

    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""


@dataclass(frozen=True)
class LoadResult:
    """What a load generator saw: answers, seconds, and answers or sockets that went wrong."""

    requests: int
    seconds: float
    non_2xx: int = 0
    socket_errors: int = 0

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    def __add__(self, other: LoadResult) -> LoadResult:
        return LoadResult(self.requests + other.requests, self.seconds + other.seconds,
                          self.non_2xx + other.non_2xx, self.socket_errors + other.socket_errors)

    def problems(self) -> str:
        """Empty when every request got a 2xx answer; otherwise what makes the figure suspect."""
        if not self.non_2xx and not self.socket_errors:
            return ""
        return f"SUSPECT: {self.non_2xx} non-2xx answers, {self.socket_errors} socket errors"


Load = Callable[[str, list[Request], int, float], LoadResult]  # (url, plan, connections, seconds)


@dataclass
class Figure:
    """One measured figure; ``anchor`` names the figure of the same run it is compared with."""

    label: str
    value: float
    unit: str
    anchor: str = ""
    ratio: float | None = None
    target: str = ""
    result: str = ""
    note: str = ""


class Report:
    """The figures of one run, in the order measured, with run-wide facts in ``meta``."""

    def __init__(self) -> None:
        self.figures: dict[str, Figure] = {}
        self.meta: dict[str, Any] = {"cpus": multiprocessing.cpu_count(), "python": sys.version.split()[0]}

    def add(self, key: str, label: str, value: float, unit: str, note: str = "") -> Figure:
        self.figures[key] = Figure(label, value, unit, note=note)
        return self.figures[key]

    def add_load(self, key: str, label: str, result: LoadResult, unit: str = "req/s") -> Figure:
        figure = self.add(key, label, result.rate, unit, f"{result.requests:,} in {result.seconds:.1f} s")
        if result.problems():
            figure.result, figure.note = "SUSPECT", f"{figure.note}; {result.problems()}"
        return figure

    def compare(self, key: str, anchor: str) -> float:
        figure, base = self.figures[key], self.figures[anchor].value
        figure.anchor, figure.ratio = anchor, (figure.value / base if base else None)
        return figure.ratio or 0.0

    def judge(self, key: str, target: str, ok: bool) -> None:
        figure = self.figures[key]
        verdict = "PASS" if ok else "MISS"
        figure.target, figure.result = target, (f"SUSPECT/{verdict}" if figure.result else verdict)

    def to_json(self) -> dict[str, Any]:
        return {"meta": self.meta, "figures": {k: asdict(f) for k, f in self.figures.items()}}
