"""The conformance matrix: the client suite against every shipped driver, as one Markdown page.

``scalekit-conformance matrix`` runs the whole client catalogue against each driver of
``drivers/catalog.py`` (each with a fresh mock, served as that client needs: gRPC, TLS) and writes
``docs/conformance-matrix.md``: check IDs as rows, clients (with their versions) as columns, and why
each non-passing check did not pass. ``--check`` regenerates it in memory and compares the outcomes
with the committed page instead: a library upgrade or a suite change that changes any verdict (or
a client's version) fails it, naming each changed cell. The reasons are not compared: they quote
counts and fingerprints that vary from run to run. ``--html PATH`` also writes the matrix as one self-contained
HTML page (``render_html``, in the HTML report's shell): cells coloured by outcome, each miss's reason on them.
"""

from __future__ import annotations

import concurrent.futures
import re
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path

from .client.checks import CATALOGUE
from .client.runner import run_suite
from .drivers.catalog import SHIPPED, ShippedDriver
from .html_report import page
from .results import MUST, CheckResult, SuiteReport

DEFAULT_PATH = Path("docs/conformance-matrix.md")
# A check's family (its ID's first word) -> the heading of docs/conformance.md that explains it.
SECTIONS = {"FMT": "Format: what goes on the wire", "CACHE": "Caching", "REFRESH": "Refresh", "ERR": "Errors",
            "STATE": "Randomized", "SEC": "Secrets"}
CELL = {"passed": "pass", "skipped": "skip", "error": "ERROR"}
NOT_RUN = "not run"
NOT_APPLICABLE = "n/a"  # skipped because the check cannot apply to that client by design
# Every cell there is, what it means, and its class on the HTML page (the HTML report's outcome classes).
LEGEND = (("pass", "", "o-passed"), ("**FAIL**", "a MUST check failed", "o-failed must"),
          ("fail", "a SHOULD check failed", "o-failed"),
          ("skip", "the driver lacks a capability the check needs", "o-skipped"),
          (NOT_APPLICABLE, "the check cannot apply to the client by design (an API redirect to a client calling the "
           "API over gRPC)", "o-skipped na"),
          (NOT_RUN, "the client was not installed where the page was made", "not-run"),
          ("ERROR", "a driver, mock or suite problem stopped the check", "o-error"))


class MatrixError(Exception):
    """The matrix cannot be built or read (a driver missing, an unreadable committed page)."""


@dataclass(frozen=True)
class Column:
    """One client's run: its driver, and the report (``None`` when the client isn't installed here)."""

    driver: ShippedDriver
    report: SuiteReport | None
    missing: str | None = None

    @property
    def header(self) -> str:
        if self.report is None:
            return self.driver.client
        subject = self.report.driver
        return f"{subject.name} {subject.version}"  # type: ignore[attr-defined]

    @property
    def time(self) -> str:
        """How its time-dependent checks ran: in virtual time, or in real time (the driver cannot move its clock)."""
        timing = getattr(self.report.subject, "timing", None) if self.report is not None else None
        if timing is None:
            return NOT_RUN if self.report is None else ""
        return f"real ({timing.scale.lifetime} s tokens)" if timing.real else "virtual"

    @property
    def served(self) -> str:
        """How the mock served the client: with gRPC and/or TLS, or plain REST over HTTP."""
        served = ", ".join(name for name, on in (("gRPC", self.driver.grpc), ("TLS", self.driver.tls)) if on)
        return served or "REST over HTTP"

    def result(self, check_id: str) -> CheckResult | None:
        """The check's result in this run; ``None`` when it did not run (the client is not installed here)."""
        if self.report is None:
            return None
        try:
            return self.report.result(check_id)
        except KeyError:
            return None

    def why(self, check_id: str) -> str:
        """Why the check did not pass for this client ("" when it passed)."""
        result = self.result(check_id)
        if result is None:
            return f"not run: {self.missing or 'the run did not include this check'}"
        return "" if result.outcome == "passed" else result.reason or result.outcome

    def cell(self, check_id: str) -> str:
        result = self.result(check_id)
        if result is None:
            return NOT_RUN
        if result.outcome == "failed":
            return "**FAIL**" if result.level == MUST else "fail"
        if result.outcome == "skipped" and result.not_applicable:
            return NOT_APPLICABLE
        return CELL.get(result.outcome, result.outcome)


def run_matrix(drivers: Sequence[ShippedDriver] = SHIPPED, *, jobs: int = 2, op_timeout: float = 30.0,
               require_all: bool = False) -> list[Column]:
    """Run the client suite against each driver (``jobs`` at a time); a driver whose client is not installed
    gets an empty column, or a ``MatrixError`` when ``require_all``."""
    def one(driver: ShippedDriver) -> Column:
        missing = driver.missing()
        if missing is not None:
            if require_all:
                raise MatrixError(f"{driver.key}: {missing}")
            return Column(driver, None, missing)
        report = run_suite(driver.command, grpc=driver.grpc, tls=driver.tls, op_timeout=op_timeout)
        return Column(driver, report)

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return list(pool.map(one, drivers))


START, END = "<!-- conformance-matrix:start -->", "<!-- conformance-matrix:end -->"


def section(check_id: str) -> str:
    """The heading of docs/conformance.md that explains the check."""
    return SECTIONS[check_id.split("-", 1)[0]]


def _anchor(heading: str) -> str:
    """A heading's anchor as GitHub makes it: lower case, punctuation dropped, a hyphen for each space."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def table(columns: Sequence[Column], link_prefix: str = "") -> list[str]:
    """The verdict table: a row per check (linked to its rationale), a column per client."""
    lines = ["| check | level | " + " | ".join(c.header for c in columns) + " |",
             "|---|---|" + "---|" * len(columns)]
    for check in CATALOGUE:
        link = f"[{check.id}]({link_prefix}conformance.md#{_anchor(section(check.id))})"
        lines.append(f"| {link} | {check.level} | " + " | ".join(c.cell(check.id) for c in columns) + " |")
    return lines


def embed(text: str, columns: Sequence[Column], link_prefix: str = "docs/") -> str:
    """``text`` (the README) with the table between its two markers replaced; unchanged without markers."""
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start:
        return text
    return text[:start + len(START)] + "\n" + "\n".join(table(columns, link_prefix)) + "\n" + text[end:]


def render(columns: Sequence[Column]) -> str:
    """The Markdown page."""
    lines = ["# Conformance matrix", "",
             "The client conformance suite ([conformance.md](conformance.md)) run against real clients through the "
             "drivers shipped in `contract_tests/drivers/`, each using its library the way the library's docs show "
             "(no retry or refresh logic of the driver's own). Regenerate with `scalekit-conformance matrix`; CI runs "
             "`scalekit-conformance matrix --check` and fails when any verdict or client version differs from this "
             "page. The README explains the notable findings.", "",
             "; ".join(f"`{cell}` {meaning}".rstrip() for cell, meaning, _ in LEGEND) + ". "
             "The clients' table says in which time each ran its time-dependent checks: virtual (both clocks jump) "
             "or, for a driver that cannot move its client's clock, real (the suite waits, on 15 s tokens; "
             "[conformance.md](conformance.md#virtual-time-and-real-time)).", ""]
    lines += table(columns)
    lines += ["", "## The clients and their drivers", "", "| client | driver | how it is used | served with | time |",
              "|---|---|---|---|---|"]
    for column in columns:
        lines.append(f"| {column.header} | `{column.driver.shown}` | {column.driver.usage} | {column.served} | "
                     f"{column.time} |")
    lines += ["", "## Why a check did not pass", ""]
    for column in columns:
        lines.append(f"### {column.header}")
        lines.append("")
        if column.report is None:
            lines += [f"Not run: {column.missing}.", ""]
            continue
        misses = [r for r in column.report.results if r.outcome != "passed"]
        if not misses:
            lines += ["Every check passed.", ""]
        for result in misses:
            reason = " ".join(result.reason.split())[:300].rstrip(" :").replace("|", "\\|")
            lines.append(f"- `{result.id}` ({result.outcome}): {reason}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


MATRIX_CSS = """
table.matrix th.client{font-size:13px;min-width:7em}table.matrix th .time{display:block;font-weight:400;color:#555}
.cell{text-align:center;font-weight:600;white-space:nowrap}span.cell{padding:1px 6px;border-radius:3px}
.cell.o-passed{background:#e3f3e4}.cell.o-failed{background:#fdeaea}.cell.o-failed.must{background:#f7c1c1}
.cell.o-skipped{background:#f0f0f0}.cell.na{color:#999;background:#f7f7f7}.cell.not-run{color:#999;font-style:italic}
.cell.o-error{background:#fbe9d6}.cell summary{cursor:pointer}
.why{font-weight:400;font-size:12px;white-space:normal;text-align:left;max-width:24em;overflow-wrap:anywhere}
"""


def render_html(columns: Sequence[Column]) -> str:
    """The matrix as one self-contained HTML page: a row per check, a column per client, each miss's reason on its
    cell (its tooltip, and a click away), then the clients and how each was run."""
    legend = "; ".join(f"<span class=\"cell {css}\">{escape(cell.strip('*'))}</span> {escape(meaning)}".rstrip()
                       for cell, meaning, css in LEGEND)
    clients = [f"<tr><td>{escape(c.header)}</td><td class=\"id\">{escape(c.driver.shown)}</td>"
               f"<td>{escape(c.driver.usage)}</td><td>{escape(c.served)}</td><td>{escape(c.time)}</td></tr>"
               for c in columns]
    body = ["<h1>Scalekit client conformance matrix</h1>",
            "<p>The client conformance suite (docs/conformance.md) run against real clients through the drivers "
            "shipped in contract_tests/drivers/. Hover or open a cell that did not pass for the reason; under each "
            "client, the time its time-dependent checks ran in: virtual (both clocks jump) or real (the suite "
            "waits).</p>", f"<p class=\"legend\">{legend}.</p>", _html_table(columns),
            "<h2>The clients and their drivers</h2>",
            "<table class=\"clients\">\n<thead><tr><th>client</th><th>driver</th><th>how it is used</th>"
            "<th>served with</th><th>time</th></tr></thead>\n<tbody>\n" + "\n".join(clients) + "\n</tbody>\n</table>"]
    return page("Scalekit client conformance matrix", body, MATRIX_CSS)


def _html_table(columns: Sequence[Column]) -> str:
    head = "".join(f"<th class=\"client\" scope=\"col\">{escape(c.header)}<span class=\"time\">"
                   f"time: {escape(c.time)}</span></th>" for c in columns)
    rows = [f"<tr class=\"check\" id=\"check-{escape(check.id)}\"><td class=\"id\" title=\"{escape(check.rationale)}\">"
            f"{escape(check.id)}</td><td class=\"level\">{escape(check.level)}</td><td class=\"section\">"
            f"{escape(section(check.id))}</td>" + "".join(_html_cell(c, check.id) for c in columns) + "</tr>"
            for check in CATALOGUE]
    return ("<table class=\"matrix\">\n<thead><tr><th>check</th><th>level</th><th>section</th>" + head
            + "</tr></thead>\n<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table>")


def _html_cell(column: Column, check_id: str) -> str:
    """A verdict coloured by its class; one that is not a pass carries why, as a tooltip and in a details."""
    cell, why = column.cell(check_id), column.why(check_id)
    css = next((css for shown, _, css in LEGEND if shown == cell), "")
    if not why:
        return f"<td class=\"cell {css}\">{escape(cell)}</td>"
    return (f"<td class=\"cell {css}\" title=\"{escape(why)}\"><details><summary>{escape(cell.strip('*'))}</summary>"
            f"<div class=\"why\">{escape(why)}</div></details></td>")


def read_outcomes(text: str) -> dict[str, dict[str, str]]:
    """The committed page's verdicts: column header → check ID → cell."""
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    header = next((r for r in rows if r.startswith("| check | level |")), None)
    if header is None:
        raise MatrixError("no matrix table (a '| check | level | ...' header) in the committed page")
    names = [cell.strip() for cell in header.strip().strip("|").split("|")][2:]
    out: dict[str, dict[str, str]] = {name: {} for name in names}
    for row in rows:
        match = re.match(r"\| \[([A-Z0-9-]+)\]", row)
        if match is None:
            continue
        cells = [cell.strip() for cell in row.strip().strip("|").split("|")][2:]
        for name, cell in zip(names, cells, strict=False):  # a short row leaves its last cells out
            out[name][match.group(1)] = cell
    return out


def differences(committed: str, columns: Sequence[Column]) -> list[str]:
    """Every verdict (or client version) of ``columns`` that differs from the committed page."""
    old = read_outcomes(committed)
    new = {c.header: {check.id: c.cell(check.id) for check in CATALOGUE} for c in columns}
    diffs = [f"client {name}: in the committed matrix, not in this run (version changed or driver gone?)"
             for name in old if name not in new]
    diffs += [f"client {name}: not in the committed matrix (new client or new version)" for name in new
              if name not in old]
    for name in new.keys() & old.keys():
        for check_id in sorted(new[name].keys() | old[name].keys()):
            before, after = old[name].get(check_id, "absent"), new[name].get(check_id, "absent")
            if before != after:
                diffs.append(f"{name} / {check_id}: {before} -> {after}")
    return diffs
