"""Memory: the served mock's RSS idle, after a warm-up that fills the journal ring, and after many more requests."""

from __future__ import annotations

import re
from pathlib import Path

from ..core.config import MockConfig
from .children import plans, served_mock
from .load import drive
from .report import BenchError, Load, LoadResult, Report

GROWTH_LIMIT = 0.10  # RSS may grow this much over the warm-up figure and still count as flat


def status_mib(pid: int, field_name: str = "VmRSS") -> float:
    """A memory figure of ``/proc/<pid>/status`` (kB there), in MiB."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError as exc:
        raise BenchError(f"cannot read the server's memory: {exc}") from exc
    found = re.search(rf"^{field_name}:\s+(\d+) kB", text, re.MULTILINE)
    if found is None:
        raise BenchError(f"/proc/{pid}/status has no {field_name}")
    return int(found.group(1)) / 1024


def measure_memory(report: Report, load: Load, warmup: int, total: int) -> None:
    with served_mock() as served:
        mixed = plans(served.port)["mixed"]
        idle = status_mib(served.pid)
        warm = drive(load, served.url, mixed, warmup) if warmup else LoadResult(0, 0.0)
        warm_rss = status_mib(served.pid)
        after = drive(load, served.url, mixed, total)
        after_rss, peak = status_mib(served.pid), status_mib(served.pid, "VmHWM")
    report.add("rss_idle", "RSS idle", idle, "MiB", "after start and 3 check requests")
    report.add_load("mixed_c16", "mixed, 16 conns", warm + after).note += " (token, protected, open)"
    report.add("rss_warm", "RSS after warm-up", warm_rss, "MiB",
               f"after {warm.requests:,} mixed requests; the journal ring holds {MockConfig().journal_size:,}")
    rss = report.add("rss_after", f"RSS after {after.requests:,} more", after_rss, "MiB",
                     f"growth {after_rss - warm_rss:+.1f} MiB over the warm-up RSS; peak {peak:.1f} MiB")
    if after.problems():
        rss.result, rss.note = "SUSPECT", f"{rss.note}; {after.problems()}"
    ratio = report.compare("rss_after", "rss_warm")
    report.judge("rss_after", f"growth <= {GROWTH_LIMIT:.0%}", ratio <= 1 + GROWTH_LIMIT)
