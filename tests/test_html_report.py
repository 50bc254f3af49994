"""The HTML report (``--report-html``): one self-contained page with a timeline per check, escaped, checked in a
real headless browser when one is installed (CI sets SCALEKIT_REQUIRE_BROWSER=1, so there it must be)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from html import escape
from pathlib import Path
from typing import Any

import pytest

from contract_tests import report as render
from contract_tests.cli import main
from contract_tests.client.driver import CallResult, DriverInfo
from contract_tests.client.results import CheckResult, SuiteReport
from contract_tests.client.runner import run_suite
from contract_tests.client.timeline import answer_event, journal_events, step_event
from contract_tests.html_report import html, instants, write_html
from mock_server import MockServer, fingerprint

REFERENCE = f"{sys.executable} -m contract_tests.drivers.reference"
E2E_CHECKS = ["CACHE-SEQUENTIAL", "REFRESH-REVOKED"]
T0 = 1_800_000_000.0
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
SCRIPT = "<script>alert('x')</script>"


def _events() -> tuple[dict[str, Any], ...]:
    return (
        {"kind": "fault", "time": T0, "fault": "status 503 unavailable", "endpoint": "token", "count": 1},
        {"kind": "op", "time": T0 + 0.01, "op": "call", "path": "/api/v1/organizations?<b>=1"},
        {"kind": "token", "time": T0 + 0.02, "seq": 2, "method": "POST", "path": "/oauth/token", "status": 503,
         "outcome": "fault", "issued": None, "fault": "status 503 unavailable"},
        {"kind": "token", "time": T0 + 0.5, "seq": 3, "method": "POST", "path": "/oauth/token", "status": 200,
         "outcome": "issued", "issued": "fp:aaaaaaaaaaaa"},
        {"kind": "api", "time": T0 + 0.51, "seq": 4, "method": "GET", "path": "/api/v1/organizations",
         "status": 200, "outcome": "ok", "bearer": "fp:aaaaaaaaaaaa"},
        {"kind": "answer", "time": T0 + 0.52, "op": "call", "ok": True, "status": 200, "text": "ok (status 200)"},
        {"kind": "clock", "time": T0 + 0.53, "seconds": 86400.0, "note": ""},
        {"kind": "api", "time": T0 + 86400.6, "seq": 5, "method": "GET", "path": "/api/v1/organizations",
         "status": 401, "outcome": "token_expired", "bearer": "fp:aaaaaaaaaaaa"},
        {"kind": "answer", "time": T0 + 86400.7, "op": "call", "ok": False, "status": 401, "text": SCRIPT},
    )


def _report() -> SuiteReport:
    results = [CheckResult("REFRESH-AFTER-LIFETIME", "MUST", "failed", f"the call failed {SCRIPT}\n  #5 GET …", 1.2,
                           timeline=_events()),
               CheckResult("CACHE-SEQUENTIAL", "MUST", "passed", "", 0.4, timeline=_events()[:2]),
               CheckResult("CACHE-CONCURRENT-COLD", "SHOULD", "skipped", "needs the capability concurrent")]
    return SuiteReport(DriverInfo("fake <i>driver</i>", "1.0", ("advance_time",)), "python -m fake", results)


def _timelines(page: str) -> list[str]:
    return re.findall(r'<svg class="timeline" data-check="([^"]+)"', page)


# -- the page, from a hand-built report --------------------------------------------------------------------------
def test_html_escapes_every_string_from_the_journal_and_the_driver() -> None:
    page = html(_report())
    assert "<script" not in page.lower()
    assert escape("the call failed <script>") in page  # the reason, in the table and beside the timeline
    assert "<i>driver</i>" not in page and escape("fake <i>driver</i>") in page
    assert "?<b>=1" not in page and escape("?<b>=1") in page


def test_html_has_one_section_and_one_timeline_per_check() -> None:
    report = _report()
    page = html(report)
    ids = [r.id for r in report.results]
    assert _timelines(page) == ids
    assert re.findall(r'<section class="check [^"]*" id="check-([^"]+)"', page) == ids
    assert all(f'<a href="#check-{check_id}">' in page for check_id in ids)  # the table links to each section
    assert "no events" in page.split('id="check-CACHE-CONCURRENT-COLD"')[1]  # skipped: an empty timeline


def test_html_loads_nothing_from_anywhere() -> None:
    page = html(_report())
    assert "http://" not in page and "https://" not in page
    references = re.findall(r'\b(?:src|href|action|xlink:href)\s*=\s*"([^"]*)"', page)
    assert references and all(ref.startswith("#") for ref in references)  # only links within the page
    assert not re.search(r"<(?:link|img|iframe|object|embed|script)\b|@import|url\(", page, re.IGNORECASE)
    assert "Content-Security-Policy" in page and "default-src 'none'" in page


def test_html_says_the_verdict_as_the_terminal_does() -> None:
    report = _report()
    assert escape(render.verdict(report)) in html(report)
    assert render.verdict(report) in render.table(report)


def test_html_timeline_shows_each_event_kind_with_tokens_as_fingerprints() -> None:
    section = html(_report()).split('id="check-REFRESH-AFTER-LIFETIME"')[1].split("</section>")[0]
    for kind in ("fault", "op", "token", "api", "answer", "clock"):
        assert f'<g class="event {kind}">' in section
    assert "issued T1 fp:aaaaaaaaaaaa" in section and "401 token_expired · T1 fp:aaaaaaaaaaaa" in section
    assert "mock clock +86400 s" in section and "<polyline" in section  # the clock's jump breaks the axis
    assert section.count('class="cited"') == 1  # request #5, which the failure names
    assert re.search(r'<aside class="reason">the call failed &lt;script&gt;', section)


def test_a_token_from_a_broken_response_is_not_shown_as_issued() -> None:
    from contract_tests.client.timeline import journal_events

    entries = [{"seq": 1, "time": T0, "endpoint": "token", "method": "POST", "path": "/oauth/token", "status": 200,
                "outcome": "malformed:not_json", "issued": {"fingerprint": "fp:bbbbbbbbbbbb"}}]
    events = journal_events(entries)
    assert events[0]["issued_as"] == "minted but not sent (a broken response)"


def test_instants_stack_close_events_in_order_and_split_the_rest() -> None:
    events = [{"time": T0 + t, "n": n} for n, t in enumerate([0.0, 0.05, 0.09, 0.3, 86400.0])]
    columns = instants(list(reversed(events)))
    assert [[e["n"] for e in column] for column in columns] == [[0, 1, 2], [3], [4]]


def test_write_html_writes_the_page(tmp_path: Path) -> None:
    write_html(_report(), tmp_path / "r.html")
    assert (tmp_path / "r.html").read_text(encoding="utf-8") == html(_report())


# -- the events ---------------------------------------------------------------------------------------------------
def test_journal_events_keep_fingerprints_and_leave_out_the_control_plane() -> None:
    entries = [{"seq": 1, "time": T0, "endpoint": "control", "method": "POST", "path": "/_mock/reset"},
               {"seq": 2, "time": T0, "endpoint": "api", "method": "GET", "path": "/api/v1/organizations",
                "status": 200, "outcome": "ok", "headers": {"authorization": "Bearer fp:bbbbbbbbbbbb"},
                "fault": {"kind": "status", "status": 503, "preset": "unavailable"}}]
    [event] = journal_events(entries)
    assert event["kind"] == "api" and event["bearer"] == "fp:bbbbbbbbbbbb" and event["seq"] == 2
    assert event["fault"] == "status 503 unavailable"


def test_answer_event_redacts_the_secret_and_tokens() -> None:
    result = CallResult(False, error={"status": 500, "message": f"boom s3cret-value {JWT}"})
    event = answer_event("call", result, "s3cret-value", T0)
    assert "s3cret-value" not in json.dumps(event) and JWT not in json.dumps(event)
    assert fingerprint("s3cret-value") in event["text"] and fingerprint(JWT) in event["text"]


def test_step_event_places_a_clock_move_before_it() -> None:
    event = step_event("advance_clock", {"seconds": 60}, T0 + 60)
    assert event == {"kind": "clock", "time": T0, "seconds": 60.0, "note": ""}


# -- end to end: the suite's own events, and the CLI ------------------------------------------------------------
@pytest.fixture(scope="module")
def e2e(tmp_path_factory: pytest.TempPathFactory) -> tuple[SuiteReport, Path]:
    report = run_suite(REFERENCE, only=E2E_CHECKS)
    page = tmp_path_factory.mktemp("html") / "report.html"
    write_html(report, page)
    return report, page


def test_run_suite_records_each_checks_timeline(e2e: tuple[SuiteReport, Path]) -> None:
    report, page = e2e
    kinds = {r.id: [e["kind"] for e in r.timeline] for r in report.results}
    assert kinds["CACHE-SEQUENTIAL"].count("token") == 1 and kinds["CACHE-SEQUENTIAL"].count("api") == 10
    assert kinds["CACHE-SEQUENTIAL"].count("op") == kinds["CACHE-SEQUENTIAL"].count("answer") == 11  # new_client too
    revoked = report.result("REFRESH-REVOKED").timeline
    assert [e["action"] for e in revoked if e["kind"] == "mock"] == ["revoke"]
    assert [e["status"] for e in revoked if e["kind"] == "api"] == [200, 401, 200]
    assert [e["time"] for e in revoked] == sorted(e["time"] for e in revoked)
    assert _timelines(page.read_text(encoding="utf-8")) == E2E_CHECKS


def test_cli_report_html_shows_a_failure_without_the_secret(tmp_path: Path) -> None:
    path = tmp_path / "r.html"
    driver = f"{sys.executable} -m contract_tests.drivers.faulty.secret_in_url"
    assert main(["client", "--driver", driver, "--only", "FMT-SECRET-NOT-IN-URL", "--report-html", str(path)]) == 1
    page = path.read_text(encoding="utf-8")
    assert re.search(r'<section class="check o-failed" id="check-FMT-SECRET-NOT-IN-URL">', page)
    secret = MockServer().client_secret
    assert secret not in page and fingerprint(secret) in page
    assert not re.search(r"eyJ[\w-]+\.[\w-]+\.", page)  # no token in clear either


def test_cli_provider_report_html(tmp_path: Path) -> None:
    path = tmp_path / "p.html"
    assert main(["provider", "--only", "PROV-TOKEN-RESPONSE", "--report-html", str(path)]) == 0
    assert _timelines(path.read_text(encoding="utf-8")) == ["PROV-TOKEN-RESPONSE"]


# -- in a real browser ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("SCALEKIT_REQUIRE_BROWSER") == "1":
            pytest.fail("SCALEKIT_REQUIRE_BROWSER=1, but neither chromium nor chromium-browser is on PATH")
        pytest.skip("no chromium on PATH (Debian: apt-get install chromium)")
    return found


def _headless(chromium: str, page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Chromium, headless (``--no-sandbox``: CI runs as root), its console logged on stderr."""
    argv = [chromium, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
            "--enable-logging=stderr", "--v=0", *args, page.as_uri()]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)


def _console(run: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in run.stderr.splitlines() if ":CONSOLE" in line]


def test_browser_renders_the_page_with_a_timeline_per_check(chromium: str, e2e: tuple[SuiteReport, Path],
                                                            tmp_path: Path) -> None:
    # Given the page of a real run; when a real browser loads it
    _, page = e2e
    dom = _headless(chromium, page, tmp_path / "profile", "--dump-dom")
    shot = _headless(chromium, page, tmp_path / "profile2", f"--screenshot={tmp_path / 'r.png'}",
                     "--window-size=1400,2000")
    # Then its DOM has a section and a timeline per check, it painted, and its console stayed silent
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert len(re.findall(r'<section class="check', dom.stdout)) == len(E2E_CHECKS)
    assert re.findall(r'<svg class="timeline" data-check="([^"]+)"', dom.stdout) == E2E_CHECKS
    assert len(re.findall(r'<g class="event ', dom.stdout)) >= 20
    assert (tmp_path / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", shot.stderr[-2000:]
    assert _console(dom) == [] and _console(shot) == []


def test_browser_console_check_sees_what_the_page_must_not_do(chromium: str, tmp_path: Path) -> None:
    # The harness itself: a page that fetches something and runs a script gets console lines (CSP refusals).
    page = tmp_path / "bad.html"
    head = html(_report()).split("<title>")[0]
    page.write_text(f"{head}</head><body><img src=\"http://192.0.2.1/x.png\"><script>1</script></body></html>",
                    encoding="utf-8")
    console = _console(_headless(chromium, page, tmp_path / "profile", "--dump-dom"))
    assert any("Content Security Policy" in line for line in console), console
