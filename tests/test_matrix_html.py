"""The conformance matrix as HTML (``scalekit-conformance matrix --html``): a row per check, a column per client,
every cell coloured by its outcome with the reason of each miss on it, everything escaped, built in the HTML
report's shell and checked in a real headless browser when one is installed (CI: SCALEKIT_REQUIRE_BROWSER=1).

The columns are made up here (no driver runs), so the page's tests take milliseconds.
"""

from __future__ import annotations

import json
import re
from html import escape
from pathlib import Path

import pytest
import test_html_report as browser

from contract_tests import matrix
from contract_tests.cli import main
from contract_tests.client.checks import CATALOGUE, IDS
from contract_tests.client.target import DriverOnTarget
from contract_tests.client.timing import REAL, VIRTUAL, Timing
from contract_tests.drivers.catalog import ShippedDriver, by_key
from contract_tests.matrix import SECTIONS, Column, render, render_html
from contract_tests.results import CheckResult, SuiteReport

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = "<script>alert(\"x\")</script>\" onmouseover=\"alert(1)"
chromium = browser.chromium  # the HTML report's fixture (found, or skipped, or failed in CI), asked for by name


def column(driver: ShippedDriver, outcomes: dict[str, str] | None = None, *, version: str = "1.0",
           mode: str = VIRTUAL, reason: str = "the client did it wrong", name: str | None = None) -> Column:
    """A made-up run: every check passed but those of ``outcomes`` (``n/a`` a skip that cannot apply)."""
    outcomes = outcomes or {}
    results = [CheckResult(c.id, c.level, "skipped" if outcomes.get(c.id) == "n/a" else outcomes.get(c.id, "passed"),
                           f"{reason}\nthe evidence", not_applicable=outcomes.get(c.id) == "n/a") for c in CATALOGUE]
    subject = DriverOnTarget(name or driver.client, version, (), timing=Timing(mode, "why"))
    return Column(driver, SuiteReport(subject, driver.command, results))


def columns() -> list[Column]:
    return [column(by_key("reference")),
            column(by_key("authlib"), {"REFRESH-REVOKED": "failed", "CACHE-CONCURRENT-COLD": "failed",
                                       "REFRESH-SHORT-LIFETIME": "skipped", "SEC-TOKEN-NOT-REDIRECTED": "n/a",
                                       "CACHE-SEQUENTIAL": "error"}, version="9.9", mode=REAL),
            Column(by_key("httpx-auth"), None, "httpx-auth is not installed")]


def cell(page: str, check_id: str, index: int) -> str:
    """The ``index``-th client's cell of the check's row."""
    row = re.search(rf'<tr class="check" id="check-{check_id}">(.*?)</tr>', page, re.DOTALL)
    assert row is not None, check_id
    cells: list[str] = re.findall(r'<td class="cell.*?</td>', row.group(1), re.DOTALL)
    return cells[index]


# -- the page, from made-up runs ----------------------------------------------------------------------------------
def test_render_html_has_a_row_per_check_and_a_column_per_client() -> None:
    page = render_html(columns())
    assert re.findall(r'<tr class="check" id="check-([^"]+)">', page) == list(IDS)
    assert re.findall(r'<th class="client" scope="col">([^<]+)<', page) == [
        f"{by_key('reference').client} 1.0", f"{by_key('authlib').client} 9.9", by_key("httpx-auth").client]
    rows = re.findall(r'<tr class="check".*?</tr>', page, re.DOTALL)
    assert [len(re.findall(r'<td class="cell', row)) for row in rows] == [3] * len(CATALOGUE)


@pytest.mark.parametrize(("check_id", "index", "css", "shown"), [
    ("FMT-TOKEN-REQUEST", 1, "o-passed", "pass"),
    ("REFRESH-REVOKED", 1, "o-failed must", "FAIL"),  # a MUST
    ("CACHE-CONCURRENT-COLD", 1, "o-failed", "fail"),  # a SHOULD
    ("REFRESH-SHORT-LIFETIME", 1, "o-skipped", "skip"),
    ("SEC-TOKEN-NOT-REDIRECTED", 1, "o-skipped na", "n/a"),
    ("CACHE-SEQUENTIAL", 1, "o-error", "ERROR"),
    ("CACHE-SEQUENTIAL", 2, "not-run", "not run"),
])
def test_render_html_colours_each_cell_by_its_outcome(check_id: str, index: int, css: str, shown: str) -> None:
    found = cell(render_html(columns()), check_id, index)
    assert found.startswith(f'<td class="cell {css}"')
    assert re.search(rf"(<summary>|\">){re.escape(shown)}<", found), found


def test_render_html_puts_the_reason_of_each_miss_on_its_cell() -> None:
    page = render_html(columns())
    failed = cell(page, "REFRESH-REVOKED", 1)
    assert 'title="the client did it wrong"' in failed
    assert '<details><summary>FAIL</summary><div class="why">the client did it wrong</div></details>' in failed
    assert "the evidence" not in page  # the reason is the message's first line
    assert "not run: httpx-auth is not installed" in cell(page, "CACHE-SEQUENTIAL", 2)
    assert cell(page, "REFRESH-REVOKED", 0) == '<td class="cell o-passed">pass</td>'  # a pass needs no reason


def test_render_html_says_each_checks_level_and_section_and_each_clients_time() -> None:
    page = render_html(columns())
    row = page.split('id="check-REFRESH-REVOKED">')[1].split("</tr>")[0]
    assert '<td class="level">MUST</td><td class="section">Refresh</td>' in row
    assert '<td class="level">SHOULD</td><td class="section">Caching</td>' in page.split(
        'id="check-CACHE-CONCURRENT-COLD">')[1]
    assert re.findall(r'<span class="time">time: ([^<]*)</span>', page) == ["virtual", "real (15 s tokens)",
                                                                           "not run"]


def test_render_html_escapes_every_string_from_a_driver_and_a_run() -> None:
    # Given a client whose name, version, usage, command and reasons all try to break out of the page
    evil = ShippedDriver("evil", HOSTILE, HOSTILE, ("true",), HOSTILE)
    page = render_html([column(evil, {"REFRESH-REVOKED": "failed"}, version=HOSTILE, reason=HOSTILE, name=HOSTILE),
                        Column(evil, None, HOSTILE)])
    # Then none of it is markup: no script, no attribute injected, and each string shows as text
    assert "<script" not in page.lower() and "onmouseover=\"" not in page
    assert page.count(escape(HOSTILE)) >= 5
    assert f'title="{escape(HOSTILE)}"' in cell(page, "REFRESH-REVOKED", 0)
    assert f'title="not run: {escape(HOSTILE)}"' in cell(page, "REFRESH-REVOKED", 1)


def test_render_html_loads_nothing_from_anywhere() -> None:
    page = render_html(columns())
    assert "http://" not in page and "https://" not in page
    assert not re.search(r'\b(?:src|href|action|xlink:href)\s*=', page)
    assert not re.search(r"<(?:link|img|iframe|object|embed|script)\b|@import|url\(", page, re.IGNORECASE)
    assert "Content-Security-Policy" in page and "default-src 'none'" in page


def test_the_legend_names_every_cell_the_pages_can_show() -> None:
    page, markdown = render_html(columns()), render(columns())
    for shown, meaning, css in matrix.LEGEND:
        assert f'<span class="cell {css}">{escape(shown.strip("*"))}</span> {escape(meaning)}'.rstrip() in page
        assert f"`{shown}` {meaning}".rstrip() in markdown


def test_sections_are_the_headings_of_conformance_md() -> None:
    headings = re.findall(r"^### (.+)$", (ROOT / "docs" / "conformance.md").read_text(encoding="utf-8"), re.M)
    assert set(SECTIONS.values()) <= set(headings)
    assert "(conformance.md#format-what-goes-on-the-wire)" in render(columns())  # GitHub's anchor for it


# -- the command --------------------------------------------------------------------------------------------------
def test_cli_matrix_html_writes_the_page_next_to_the_markdown(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    made = columns()
    monkeypatch.setattr(matrix, "run_matrix", lambda *args, **kwargs: made)
    md, page = tmp_path / "m.md", tmp_path / "m.html"
    assert main(["matrix", "--output", str(md), "--readme", str(tmp_path / "none"), "--html", str(page)]) == 0
    assert page.read_text(encoding="utf-8") == render_html(made)
    assert md.read_text(encoding="utf-8") == render(made)


def test_cli_matrix_check_html_writes_the_page_of_the_run_checked(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    committed = columns()
    changed = [column(by_key("reference"), {"CACHE-SEQUENTIAL": "failed"}), *committed[1:]]
    monkeypatch.setattr(matrix, "run_matrix", lambda *args, **kwargs: changed)
    md, page = tmp_path / "m.md", tmp_path / "m.html"
    md.write_text(render(committed), encoding="utf-8")
    assert main(["matrix", "--check", "--output", str(md), "--html", str(page)]) == 1
    assert page.read_text(encoding="utf-8") == render_html(changed)
    assert md.read_text(encoding="utf-8") == render(committed)  # --check never writes the Markdown page


# -- in a real browser ------------------------------------------------------------------------------------------
def _page_requests(netlog: Path) -> list[str]:
    """The URLs a page loaded from file:// asked the network for (not the browser's own background requests)."""
    log = json.loads(netlog.read_text(encoding="utf-8"))
    start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return [e["params"]["url"] for e in log["events"] if e["type"] == start
            and str(e.get("params", {}).get("network_isolation_key", "")).startswith("file://")]


def test_browser_renders_the_matrix_with_a_row_per_check_and_a_column_per_client(chromium: str,
                                                                                  tmp_path: Path) -> None:
    # Given the page of three made-up runs; when a real browser loads it, logging its network
    made = columns()
    page = tmp_path / "matrix.html"
    page.write_text(render_html(made), encoding="utf-8")
    netlog = tmp_path / "net.json"
    dom = browser._headless(chromium, page, tmp_path / "profile", "--dump-dom", f"--log-net-log={netlog}")
    shot = browser._headless(chromium, page, tmp_path / "profile2", f"--screenshot={tmp_path / 'm.png'}",
                             "--window-size=1400,1600")
    # Then its DOM has a row per check, a column per client, it painted, its console stayed silent, and it asked
    # the network for nothing
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert re.findall(r'<tr class="check" id="check-([^"]+)">', dom.stdout) == list(IDS)
    assert len(re.findall(r'<th class="client"', dom.stdout)) == len(made)
    assert len(re.findall(r'<td class="cell', dom.stdout)) == len(made) * len(CATALOGUE)
    assert (tmp_path / "m.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", shot.stderr[-2000:]
    assert browser._console(dom) == [] and browser._console(shot) == []
    assert _page_requests(netlog) == []


def test_browser_network_check_sees_a_page_that_fetches(chromium: str, tmp_path: Path) -> None:
    # The harness itself: a page without the policy that loads an image shows that request in the net log.
    page, netlog = tmp_path / "fetches.html", tmp_path / "net.json"
    page.write_text('<!DOCTYPE html><html><body><img src="http://192.0.2.1/x.png"></body></html>', encoding="utf-8")
    browser._headless(chromium, page, tmp_path / "profile", "--dump-dom", f"--log-net-log={netlog}")
    assert _page_requests(netlog) == ["http://192.0.2.1/x.png"]
