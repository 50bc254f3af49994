"""A ``SuiteReport`` as one self-contained HTML page: the verdict, a row per check, and each check's timeline.

The timeline (``CheckResult.timeline``, see ``contract_tests.client.timeline``) is drawn as an SVG on the mock's
virtual clock: one column per instant (events less than ``INSTANT`` seconds apart stacked in order), columns
evenly spaced whatever the time between them, with a break on the axis where the clock jumped. Nothing on the
page is fetched (inline CSS, no script), and every string from a journal or a driver goes through ``html.escape``.
``page`` is the shell (the head, its Content-Security-Policy, the shared style) the matrix's page is built in too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from .report import verdict
from .results import CheckResult, SuiteReport

INSTANT = 0.1  # seconds: events closer than this to the first of a column share it
COL_W, GAP, ROW_H, TOP, LEFT = 300, 36, 34, 52, 10
PER_LANE = 3  # columns side by side; later ones wrap below, so that the page never scrolls sideways
LINE = 42  # characters of a row's line before it is cut (the whole event is in its tooltip)

OK, BAD, NONE, FAULT, OP, CLOCK, MOCK = "#2e7d32", "#c62828", "#8a8a8a", "#ef8f00", "#5e35b1", "#1565c0", "#607d8b"

# The page may load nothing at all: a browser blocks (and reports on its console) anything it tries to fetch.
CSP = "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
# The style every page shares (the matrix's page too, ``contract_tests.matrix``): type, tables, outcome colours.
BASE_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;max-width:1400px;
 padding:0 16px;color:#222;background:#fafafa}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:0 0 8px}
.o-passed{color:#2e7d32}.o-failed{color:#c62828}.o-skipped{color:#777}.o-error{color:#b35c00}
.muted{color:#777;font-weight:400}
table{border-collapse:collapse;margin:16px 0;background:#fff}
th,td{border-bottom:1px solid #e2e2e2;padding:4px 8px;text-align:left;vertical-align:top}
td.id{font-family:ui-monospace,monospace;white-space:nowrap}
"""
CSS = """
.subject{white-space:pre-wrap;color:#444;margin:0 0 10px;font-family:ui-monospace,monospace;font-size:13px}
.verdict{font-weight:600;padding:8px 12px;border-radius:6px;white-space:pre-wrap;background:#eee}
.verdict.v0{background:#e3f3e4}.verdict.v1{background:#fde4e4}.verdict.v2,.verdict.v130{background:#fbe9d6}
.verdict.v3{background:#fff5cc}
table.checks{width:100%}table.checks td.time{white-space:nowrap}
.outcome{font-weight:600}
section.check{background:#fff;border:1px solid #ddd;border-left:5px solid #bbb;border-radius:6px;
 padding:12px 14px;margin:18px 0}
section.check.o-passed{border-left-color:#2e7d32}section.check.o-failed{border-left-color:#c62828}
section.check.o-error{border-left-color:#b35c00}
.row{display:flex;gap:14px;align-items:flex-start}.scroll{flex:1;overflow-x:auto;min-width:0}
aside.reason{flex:0 0 300px;background:#f6f6f6;border-radius:6px;padding:8px 10px;font-size:13px;
 white-space:pre-wrap;overflow-wrap:anywhere}
section.o-failed aside.reason{background:#fdeaea}section.o-error aside.reason{background:#fbeedd}
pre{background:#f4f4f4;padding:8px;overflow-x:auto;font-size:12px}
svg text{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:10.5px;fill:#222}
svg text.l2{fill:#555}svg text.tick{fill:#1565c0;font-weight:600}svg text.empty{fill:#777;font-size:12px}
svg rect.cited{fill:#fde4e4;stroke:#c62828}
"""


def page(title: str, body: Iterable[str], css: str = "") -> str:
    """A self-contained page: ``title`` (escaped here), the shared style and ``css``, then ``body``, HTML its callers
    have escaped. Its Content-Security-Policy lets it load nothing."""
    return "\n".join([f"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n{CSP}",
                      f"<title>{escape(title)}</title>\n<style>{BASE_CSS}{css}</style>\n</head>\n<body>", *body,
                      "</body>\n</html>\n"])


def html(report: SuiteReport) -> str:
    """The whole page."""
    title = f"Scalekit {report.suite} conformance: {report.summary()['verdict']}"
    parts = [f"<h1>Scalekit {escape(report.suite)} conformance</h1>",
             f"<p class=\"subject\">{escape(report.subject.describe())}</p>",
             f"<p class=\"verdict v{report.exit_code}\">{escape(verdict(report))}</p>"]
    if report.startup_error is not None:
        parts.append(f"<p class=\"verdict v2\">the run could not start: {escape(report.startup_error)}</p>")
    parts += [_table(report), _legend(), *(_section(r, report) for r in report.results)]
    return page(title, parts, CSS)


def write_html(report: SuiteReport, path: str | Path) -> None:
    Path(path).write_text(html(report), encoding="utf-8")


def _anchor(result: CheckResult) -> str:
    return "check-" + re.sub(r"[^A-Za-z0-9_-]", "_", result.id)


def _outcome(result: CheckResult, report: SuiteReport) -> str:
    text = f"<span class=\"outcome o-{escape(result.outcome)}\">{escape(result.outcome)}</span>"
    if result.outcome == "failed" and not report.counts(result):
        text += " <span class=\"muted\">(a SHOULD: counts only with --strict)</span>"
    return text


def _table(report: SuiteReport) -> str:
    rows = [f"<tr><td class=\"id\"><a href=\"#{_anchor(r)}\">{escape(r.id)}</a></td><td>{escape(r.level)}</td>"
            f"<td>{_outcome(r, report)}</td><td class=\"time\">{r.duration:.1f} s</td><td>{escape(r.reason)}</td></tr>"
            for r in report.results]
    return ("<table class=\"checks\">\n<thead><tr><th>ID</th><th>Level</th><th>Outcome</th><th>Time</th>"
            "<th>Reason</th></tr></thead>\n<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table>")


def _section(result: CheckResult, report: SuiteReport) -> str:
    anchor = _anchor(result)
    reason = result.reason or {"passed": "passed: every rule of the check held"}.get(result.outcome, result.outcome)
    message = (f"<details{' open' if result.outcome in ('failed', 'error') else ''}><summary>the full message"
               f"</summary><pre>{escape(result.message)}</pre></details>") if "\n" in result.message else ""
    return (f"<section class=\"check o-{escape(result.outcome)}\" id=\"{anchor}\">\n<h2><a href=\"#{anchor}\">"
            f"{escape(result.id)}</a> <span class=\"muted\">{escape(result.level)}</span> {_outcome(result, report)}"
            f" <span class=\"muted\">{result.duration:.1f} s</span></h2>\n<div class=\"row\"><div class=\"scroll\">"
            f"{_svg(result)}</div>\n<aside class=\"reason\">{escape(reason)}</aside></div>\n{message}</section>")


# -- the timeline ---------------------------------------------------------------------------------------------
def instants(events: Sequence[Mapping[str, Any]]) -> list[list[Mapping[str, Any]]]:
    """The events in columns: a new column when an event comes ``INSTANT`` s or more after the column's first."""
    columns: list[list[Mapping[str, Any]]] = []
    for event in sorted(events, key=lambda e: float(e["time"])):
        if columns and float(event["time"]) - float(columns[-1][0]["time"]) < INSTANT:
            columns[-1].append(event)
        else:
            columns.append([event])
    return columns


def _svg(result: CheckResult) -> str:
    columns = instants(result.timeline)
    cited = {int(n) for n in re.findall(r"#(\d+)", result.message)}  # requests the failure message names
    names = _token_names(result.timeline)
    start = float(columns[0][0]["time"]) if columns else 0.0
    width = LEFT * 2 + PER_LANE * (COL_W + GAP) - GAP
    body, y = [], 0
    for first in range(0, max(len(columns), 1), PER_LANE):
        lane = columns[first:first + PER_LANE]
        end = LEFT + max(len(lane), 1) * (COL_W + GAP) - GAP + (GAP if first + PER_LANE < len(columns) else 0)
        body.append(f"<line x1=\"{LEFT}\" y1=\"{y + 34}\" x2=\"{end}\" y2=\"{y + 34}\" stroke=\"{CLOCK}\" "
                    f"stroke-width=\"1.5\"/>")
        for index, column in enumerate(lane, start=first):
            x = LEFT + (index - first) * (COL_W + GAP)
            if index and any(e.get("kind") == "clock" for e in columns[index - 1]):
                body.append(_break(x - GAP // 2 if index > first else x + 1, y + 34))
            body.append(f"<circle cx=\"{x + 9}\" cy=\"{y + 34}\" r=\"3.5\" fill=\"{CLOCK}\"/><text class=\"tick\" "
                        f"x=\"{x}\" y=\"{y + 22}\">{escape(_elapsed(float(column[0]['time']) - start))}</text>")
            body += [_row(e, x, y + TOP + n * ROW_H, names, cited, start) for n, e in enumerate(column)]
        y += TOP + max((len(c) for c in lane), default=1) * ROW_H + 8
    if not columns:
        body.append(f"<text class=\"empty\" x=\"{LEFT + 4}\" y=\"{TOP + 8}\">no events: the check did not drive "
                    f"the client or the mock</text>")
    return (f"<svg class=\"timeline\" data-check=\"{escape(result.id)}\" data-events=\"{len(result.timeline)}\" "
            f"width=\"{width}\" height=\"{y}\" viewBox=\"0 0 {width} {y}\" role=\"img\" "
            f"aria-label=\"timeline of {escape(result.id)}\">" + "".join(body) + "</svg>")


def _break(x: int, y: int) -> str:
    """A clock jump between two columns: the axis (at height ``y``) interrupted by a zigzag."""
    zigzag = f"{x - 7},{y} {x - 3},{y - 7} {x + 3},{y + 7} {x + 7},{y}"
    return (f"<rect x=\"{x - 7}\" y=\"{y - 4}\" width=\"14\" height=\"8\" fill=\"#fff\"/><polyline "
            f"points=\"{zigzag}\" fill=\"none\" stroke=\"{CLOCK}\" stroke-width=\"1.5\"/>")


def _elapsed(seconds: float) -> str:
    if seconds < 10:
        return f"+{seconds:.2f} s"
    if seconds < 3600:
        return f"+{seconds:.1f} s"
    return f"+{seconds:,.0f} s ({seconds / 3600:.1f} h)".replace(",", " ")


def _token_names(events: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """``T1``, ``T2`` … by order of issue, as the failure messages name them."""
    names: dict[str, str] = {}
    for event in events:
        if event.get("kind") == "token" and event.get("issued"):
            names.setdefault(str(event["issued"]), f"T{len(names) + 1}")
    return names


def _row(event: Mapping[str, Any], x: int, y: int, names: Mapping[str, str], cited: set[int], start: float) -> str:
    line1, line2 = _lines(event, names)
    tip = "; ".join(f"{k}: {v}" for k, v in event.items() if k != "time" and v not in (None, ""))
    tip = f"{_elapsed(float(event['time']) - start)} on the mock's clock; {tip}"
    mark = (f"<rect class=\"cited\" x=\"{x - 2}\" y=\"{y - 3}\" width=\"{COL_W - 6}\" height=\"{ROW_H - 3}\" "
            f"rx=\"4\"/>") if event.get("seq") in cited else ""
    return (f"<g class=\"event {escape(str(event.get('kind')))}\"><title>{escape(tip)}</title>{mark}"
            f"{_marker(event, x + 9, y + 10)}<text x=\"{x + 22}\" y=\"{y + 10}\">{escape(_clip(line1))}</text>"
            f"<text class=\"l2\" x=\"{x + 22}\" y=\"{y + 23}\">{escape(_clip(line2))}</text></g>")


def _clip(text: str) -> str:
    return text if len(text) <= LINE else text[: LINE - 1] + "…"


def _status_colour(status: Any) -> str:
    code = status if isinstance(status, int) else 0
    return OK if 200 <= code < 300 else NONE if code == 0 else BAD


def _marker(event: Mapping[str, Any], cx: int, cy: int) -> str:
    """One shape per kind: token ●, API call ■, other request ○, op ▶, answer ◀, clock ◷, fault ◆, mock step ▢."""
    kind = event.get("kind")
    colour = _status_colour(event.get("status"))
    ring = f" stroke=\"{FAULT}\" stroke-width=\"3\"" if event.get("fault") and kind != "fault" else ""
    if kind == "token":
        return f"<circle cx=\"{cx}\" cy=\"{cy}\" r=\"7\" fill=\"{colour}\"{ring}/>"
    if kind == "api":
        return f"<rect x=\"{cx - 7}\" y=\"{cy - 7}\" width=\"14\" height=\"14\" fill=\"{colour}\"{ring}/>"
    if kind == "op":
        return f"<polygon points=\"{cx - 6},{cy - 7} {cx + 7},{cy} {cx - 6},{cy + 7}\" fill=\"{OP}\"/>"
    if kind == "answer":
        fill = OK if event.get("ok") else BAD
        return f"<polygon points=\"{cx + 6},{cy - 7} {cx - 7},{cy} {cx + 6},{cy + 7}\" fill=\"{fill}\"/>"
    if kind == "clock":
        return (f"<circle cx=\"{cx}\" cy=\"{cy}\" r=\"7\" fill=\"#fff\" stroke=\"{CLOCK}\" stroke-width=\"2\"/>"
                f"<path d=\"M{cx},{cy - 4} V{cy} H{cx + 4}\" stroke=\"{CLOCK}\" stroke-width=\"2\" fill=\"none\"/>")
    if kind == "fault":
        return f"<polygon points=\"{cx},{cy - 8} {cx + 8},{cy} {cx},{cy + 8} {cx - 8},{cy}\" fill=\"{FAULT}\"/>"
    if kind == "request":
        return f"<circle cx=\"{cx}\" cy=\"{cy}\" r=\"5\" fill=\"#fff\" stroke=\"{colour}\" stroke-width=\"2\"/>"
    return (f"<rect x=\"{cx - 6}\" y=\"{cy - 6}\" width=\"12\" height=\"12\" rx=\"3\" fill=\"#fff\" "
            f"stroke=\"{MOCK}\" stroke-width=\"2\"/>")


def _lines(e: Mapping[str, Any], names: Mapping[str, str]) -> tuple[str, str]:
    """The two lines of text beside an event's marker."""
    kind = e.get("kind")
    if kind in ("token", "api", "request"):
        status = f"{e.get('status') or 'no answer'} {e.get('outcome') or ''}".strip()
        if kind == "token" and e.get("issued"):
            status += f" · {e.get('issued_as', 'issued')} {_token(e['issued'], names)}"
        elif kind == "api":
            scheme = e.get("authorization")
            status += f" · {_token(e['bearer'], names)}" if e.get("bearer") else \
                f" · {scheme} auth, no bearer" if scheme else " · no bearer token"
        if e.get("fault"):
            status += f" · fault {e['fault']}"
        return f"#{e.get('seq')} {e.get('method')} {e.get('path')}", status
    if kind == "op":
        extra = {"call": e.get("path"), "call_concurrently": f"{e.get('count')} at once, {e.get('path')}",
                 "advance_time": f"the client's clock +{e.get('seconds')} s"}.get(str(e.get("op")), "")
        return f"→ {e.get('op')}", str(extra or "sent to the driver")
    if kind == "answer":
        return f"← {e.get('op')} answered", str(e.get("text", ""))
    if kind == "clock":
        return f"mock clock +{float(e.get('seconds', 0)):g} s", str(e.get("note") or "virtual time jumps")
    if kind == "fault":
        return "fault queued", f"{e.get('fault')} on {e.get('endpoint')} (next {e.get('count')})"
    return f"mock: {e.get('action', kind)}", str(e.get("details", ""))


def _token(fp: Any, names: Mapping[str, str]) -> str:
    name = names.get(str(fp))
    return f"{name} {fp}" if name else f"bearer {fp}"


def _legend() -> str:
    kinds: list[tuple[dict[str, Any], str]] = [
        ({"kind": "token", "status": 200}, "token request"), ({"kind": "api", "status": 200}, "API call"),
        ({"kind": "api", "status": 401}, "refused (4xx/5xx)"),
        ({"kind": "api", "status": 503, "fault": "x"}, "answered by a fault"),
        ({"kind": "op"}, "op sent to the driver"), ({"kind": "answer", "ok": True}, "the client's answer"),
        ({"kind": "clock"}, "clock move"), ({"kind": "fault"}, "fault queued"), ({"kind": "mock"}, "other mock step")]
    items, x = [], 12
    for event, label in kinds:
        items.append(f"{_marker(event, x, 14)}<text x=\"{x + 12}\" y=\"18\">{escape(label)}</text>")
        x += 12 + len(label) * 7 + 24
    return (f"<p class=\"muted\">Each timeline runs on the mock's virtual clock, from the check's first event: one "
            f"column per instant (events within {INSTANT:g} s stacked in order), evenly spaced; a zigzag marks a jump "
            f"of the clock. Requests the failure names are outlined in red; hover an event for all it recorded.</p>"
            f"<svg class=\"legend\" width=\"{x}\" height=\"28\">"
            f"{''.join(items)}</svg>")
