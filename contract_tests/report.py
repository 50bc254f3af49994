"""Rendering a ``SuiteReport`` of either suite: a terminal table, JSON, JUnit XML and Markdown (HTML:
``html_report``)."""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from .results import CheckResult, SuiteReport

REASON_WIDTH = 90
_ERROR_TYPES = {"client": "driver", "provider": "target"}  # whose problem an error outcome is


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def verdict(report: SuiteReport) -> str:
    """The verdict line, last, after a line on what did not run when something did not (every rendering says it
    in these words)."""
    s = report.summary()
    mode = " (strict: SHOULD failures count)" if report.strict else ""
    line = (f"{s['passed']} passed, {s['failed']} failed, {s['skipped']} skipped, {s['error']} error(s) "
            f"in {s['duration']:.1f} s: {s['verdict']}{mode}, exit code {s['exit_code']}")
    if report.interrupted:
        return f"interrupted after {len(report.results)} of {report.planned} check(s): the rest did not run\n{line}"
    if report.not_run:
        return ("did not run, though they count towards the verdict (the reason is beside each): "
                + ", ".join(r.id for r in report.not_run) + "\n" + line)
    return line


def progress_line(result: CheckResult, done: int, total: int) -> str:
    """One line as a check finishes, for the terminal while the run goes on."""
    width = len(str(total))
    return (f"[{done:>{width}}/{total}] {result.id:<30} {result.level:<6} {result.outcome:<7} "
            f"{result.duration:5.1f} s  {_cut(result.reason, REASON_WIDTH - 30)}").rstrip()


def print_progress(result: CheckResult, done: int, total: int) -> None:
    """The CLIs' ``on_result``: a progress line on stderr, so stdout keeps only the report."""
    print(progress_line(result, done, total), file=sys.stderr, flush=True)


def table(report: SuiteReport) -> str:
    """The terminal table: ID, level, outcome and a one-line reason per check, then the verdict."""
    width = max((len(r.id) for r in report.results), default=2)
    lines = [report.subject.describe(), "", f"{'ID':<{width}}  LEVEL   OUTCOME  REASON"]
    for r in report.results:
        lines.append(f"{r.id:<{width}}  {r.level:<6}  {r.outcome:<7}  {_cut(r.reason, REASON_WIDTH)}".rstrip())
    lines += ["", verdict(report)]
    return "\n".join(lines)


def details(report: SuiteReport) -> str:
    """The full messages of every check that failed, broke, or counts but did not run: the evidence behind the
    table; and of a passing check that reports what its run covered (PROV-PUBLISHED-OPENAPI's counts)."""
    not_run = {r.id for r in report.not_run}  # why they did not run is what to fix
    blocks = [f"--- {r.id} ({r.level}, {'did not run' if r.id in not_run else r.outcome})\n{r.message}"
              for r in report.results if r.outcome in ("failed", "error") or r.id in not_run
              or (r.outcome == "passed" and r.message)]
    return "\n\n".join(blocks)


def write_json(report: SuiteReport, path: str | Path) -> None:
    """``{"driver" or "target": {...}, "checks": [{"id", "level", "outcome", "message", ...}], "summary": {...}}``."""
    Path(path).write_text(json.dumps(report.to_json(), indent=2) + "\n", encoding="utf-8")


def junit_xml(report: SuiteReport) -> str:
    """A JUnit XML document: one testcase per check; a SHOULD failure outside strict mode is a skip."""
    s = report.summary()
    suite = ET.Element("testsuite", name=f"scalekit-{report.suite}-conformance", tests=str(s["total"]),
                       failures=str(s["failed"]), errors=str(s["error"]), skipped=str(s["skipped"]),
                       time=f"{report.duration:.3f}")
    props = ET.SubElement(suite, "properties")
    for name, value in [*report.subject.properties(), ("strict", str(report.strict))]:
        ET.SubElement(props, "property", name=name, value=value)
    for r in report.results:
        _testcase(suite, r, report)
    ET.indent(suite)
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


def _testcase(suite: ET.Element, r: CheckResult, report: SuiteReport) -> None:
    case = ET.SubElement(suite, "testcase", classname=f"{report.suite}.{r.level}", name=r.id, time=f"{r.duration:.3f}")
    if r.outcome == "failed" and (r.level == "MUST" or report.strict):
        ET.SubElement(case, "failure", message=_cut(r.reason, 200), type=r.level).text = r.message
    elif r.outcome == "failed":
        ET.SubElement(case, "skipped", message=f"SHOULD not met (not required without --strict): {_cut(r.reason, 160)}")
    elif r.outcome == "error":
        kind = _ERROR_TYPES.get(report.suite, "error")
        ET.SubElement(case, "error", message=_cut(r.reason, 200), type=kind).text = r.message
    elif r.outcome == "skipped":
        ET.SubElement(case, "skipped", message=r.message)


def write_junit(report: SuiteReport, path: str | Path) -> None:
    Path(path).write_text(junit_xml(report), encoding="utf-8")


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(report: SuiteReport) -> str:
    """A Markdown report: the verdict, a table of checks, then the evidence of each failure."""
    lines = [f"# Scalekit {report.suite} conformance", "", report.subject.describe(), "", verdict(report), "",
             "| ID | Level | Outcome | Reason |", "|---|---|---|---|"]
    lines += [f"| `{r.id}` | {r.level} | {r.outcome} | {_md_cell(_cut(r.reason, 160))} |" for r in report.results]
    for r in report.results:
        if r.outcome in ("failed", "error"):
            lines += ["", f"## {r.id} ({r.level}, {r.outcome})", "", "```", r.message, "```"]
    return "\n".join(lines) + "\n"


def write_markdown(report: SuiteReport, path: str | Path) -> None:
    Path(path).write_text(markdown(report), encoding="utf-8")


def present(report: SuiteReport, prog: str, *, json_path: str | None = None, junit_path: str | None = None,
            md_path: str | None = None, html_path: str | None = None) -> int:
    """What both suites' CLIs do with a report: print it (or the one startup error) and write the files
    asked for. Returns the exit code: the report's, or 2 when a file cannot be written."""
    from .html_report import write_html  # not at the top: html_report takes its verdict text from here
    if report.startup_error is not None:
        print(f"{prog}: {report.startup_error}", file=sys.stderr)
    else:
        print(table(report))
        evidence = details(report)
        if evidence:
            print("\n" + evidence)
    for path, write in ((json_path, write_json), (junit_path, write_junit), (md_path, write_markdown),
                        (html_path, write_html)):
        if path:
            try:
                write(report, path)
            except OSError as exc:
                print(f"{prog}: cannot write {path}: {exc}", file=sys.stderr)
                return 2
    return report.exit_code
