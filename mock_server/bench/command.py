"""``scalekit-mock bench``: how fast the mock issues tokens and serves the API, starts, and how its memory holds.

Machines are shared and noisy, so every figure is printed beside the anchor it is judged against,
measured in the same run: compare ratios within one run, never absolute times across runs.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from ..core.config import MockConfig
from ..core.errors import MockError
from .cpu import machine_busy
from .load import pick_load
from .memory import measure_memory
from .report import Figure, Report
from .shared import measure_shared
from .startup import measure_first_token, measure_start
from .throughput import measure_throughput

NOISE_LIMIT = 0.10  # above this share of the CPUs used by other processes, a run is flagged as unreliable
STEPS = ("throughput", "shared", "start", "first-token", "memory")  # what --steps names, in the order they run


@dataclass(frozen=True)
class Options:
    """What to measure and how long: ``duration`` seconds per throughput figure, ``requests`` for memory."""

    duration: float = 5.0
    requests: int = 100_000
    warmup: int = MockConfig().journal_size  # fill the journal ring before the first reading
    rounds: int = 3
    warm_starts: int = 20
    generator: str = "auto"
    peer: str = "auto"  # the token rate's peer: "auto" (find or install oauth2-mock-server), "none", or a command
    json_path: str | None = None
    steps: tuple[str, ...] = STEPS


def cpu_snapshot() -> tuple[float, float, float]:
    """(wall time, busy CPU seconds of the whole machine, CPU seconds of this process and its reaped children)."""
    busy = machine_busy()
    own = os.times()
    return time.monotonic(), busy, own.user + own.system + own.children_user + own.children_system


def others_share(before: tuple[float, float, float], after: tuple[float, float, float]) -> float:
    """The share of the machine's CPU time that processes outside this run used between two snapshots."""
    wall, busy, own = (b - a for a, b in zip(before, after, strict=True))
    return max(0.0, busy - own) / (wall * multiprocessing.cpu_count()) if wall > 0 else 0.0


def _value(figure: Figure) -> str:
    places = 0 if figure.unit.endswith("/s") else 1
    return f"{figure.value:,.{places}f} {figure.unit}"


def render(report: Report) -> str:
    """The figures as a table, then the notes, then how the run was made."""
    rows = [("figure", "value", "anchor", "ratio", "target", "result")]
    for f in report.figures.values():
        anchor = report.figures[f.anchor].label if f.anchor else ""
        rows.append((f.label, _value(f), anchor, "" if f.ratio is None else f"{f.ratio:.1%}", f.target, f.result))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "-" * max(map(len, lines)))
    lines += ["", "notes:"] + [f"  {f.label}: {f.note}" for f in report.figures.values() if f.note]
    steps = report.meta.get("others_by_step", {})
    lines += [f"  run: {', '.join(f'{k}={v}' for k, v in report.meta.items() if k != 'others_by_step')}",
              f"  CPU share used by other processes: {', '.join(f'{k} {v:.0%}' for k, v in steps.items())}"]
    if report.meta["generator"].startswith("python"):
        lines += ["NOTE: wrk was not used: the Python load generator shares these CPUs and saturates first, so the "
                  "HTTP figures are GENERATOR-BOUND (a floor on the mock's speed, not its measure)"]
    if report.meta.get("others_cpu_share", 0) > NOISE_LIMIT:
        lines += [f"WARNING: other processes used {report.meta['others_cpu_share']:.0%} of the CPUs during the run: "
                  "even the ratios are unreliable; run again on a quiet machine"]
    return "\n".join(lines)


def run(options: Options) -> Report:
    report = Report()
    load, report.meta["generator"] = pick_load(options.generator)
    report.meta.update(duration_s=options.duration, rounds=options.rounds, requests=options.requests,
                       warmup=options.warmup)
    steps: dict[str, tuple[str, Callable[[], None]]] = {
        "throughput": ("signing and HTTP throughput", lambda: measure_throughput(report, load, options.duration,
                                                                                 options.rounds, options.peer)),
        "shared": ("shared state and workers", lambda: measure_shared(report, load, options.duration,
                                                                      options.rounds)),
        "start": ("start time", lambda: measure_start(report, options.warm_starts)),
        "first-token": ("launch to first token", lambda: measure_first_token(report, options.rounds)),
        "memory": (f"memory over {options.requests:,} requests", lambda: measure_memory(report, load, options.warmup,
                                                                                         options.requests)),
    }
    first = cpu_snapshot()
    for name, step in (steps[key] for key in STEPS if key in options.steps):
        before = cpu_snapshot()
        step()
        after = cpu_snapshot()
        share = report.meta.setdefault("others_by_step", {})[name] = round(others_share(before, after), 3)
        print(f"bench: {name}: {after[0] - before[0]:.1f} s; other processes used {share:.0%} of the CPUs",
              file=sys.stderr, flush=True)
    report.meta["others_cpu_share"] = round(others_share(first, cpu_snapshot()), 3)
    return report


def parse_options(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(prog="scalekit-mock bench", description=__doc__.splitlines()[0].replace("``", ""))
    parser.add_argument("--duration", type=float, help="seconds per throughput figure (default 5; quick 1)")
    parser.add_argument("--requests", type=int, help="requests for the memory figure (default 100000; quick 10000)")
    parser.add_argument("--warmup", type=int, default=Options.warmup, help="warm-up requests before the first RSS")
    parser.add_argument("--rounds", type=int, help="interleaved slices per rate (default 3; quick 1)")
    parser.add_argument("--quick", action="store_true", help="short runs, for a smoke test")
    parser.add_argument("--generator", choices=("auto", "wrk", "python"), default="auto", help="load generator")
    parser.add_argument("--peer", default="auto", metavar="auto|none|COMMAND",
                        help="the token rate's peer: find or install oauth2-mock-server (auto, the default), none, "
                             "or a command that serves like it (-a HOST -p PORT appended)")
    parser.add_argument("--json", dest="json_path", metavar="PATH", help="also write every figure as JSON")
    parser.add_argument("--steps", default=",".join(STEPS), metavar="NAME[,NAME...]",
                        help=f"run only these steps, of {', '.join(STEPS)} (default: all)")
    args = parser.parse_args(argv)
    steps = tuple(name.strip() for name in args.steps.split(",") if name.strip())
    if not steps or not set(steps) <= set(STEPS):
        parser.error(f"--steps takes names of {', '.join(STEPS)}, not {args.steps!r}")
    quick = Options(duration=1.0, requests=10_000, rounds=1, warm_starts=5) if args.quick else Options()
    options = replace(quick, warmup=args.warmup, generator=args.generator, json_path=args.json_path, peer=args.peer,
                      steps=steps,
                      rounds=quick.rounds if args.rounds is None else args.rounds,
                      duration=quick.duration if args.duration is None else args.duration,
                      requests=quick.requests if args.requests is None else args.requests)
    if options.duration <= 0 or options.requests < 1 or options.rounds < 1 or options.warmup < 0:
        parser.error("--duration, --requests and --rounds must be positive, --warmup not negative")
    return options


def main(argv: list[str] | None = None) -> int:
    """Run every measurement and print the table; 0 when it ran (targets missed or not), 2 when it could not."""
    try:
        options = parse_options(argv)
    except SystemExit as exc:  # argparse's way out: 0 for --help, 2 for a usage error
        return exc.code if isinstance(exc.code, int) else 2
    try:
        report = run(options)
    except MockError as exc:
        print(f"scalekit-mock bench: {exc}", file=sys.stderr)
        return 2
    print(render(report))
    if options.json_path:
        Path(options.json_path).write_text(json.dumps(report.to_json(), indent=2) + "\n", encoding="utf-8")
    return 0
