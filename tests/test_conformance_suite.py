"""The client conformance suite itself: the protocol side, the catalogue against the reference client,
the reports, the CLI and the pytest face."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from contract_tests.cli import main
from contract_tests.client import report as render
from contract_tests.client.checks import IDS
from contract_tests.client.driver import CallResult, DriverInfo
from contract_tests.client.evidence import JournalView
from contract_tests.client.failures import _retry_of
from contract_tests.client.results import CheckResult, SuiteReport
from contract_tests.client.runner import UsageError, run_suite
from contract_tests.client.target import DriverOnTarget

REFERENCE = f"{sys.executable} -m contract_tests.drivers.reference"
HANG_BOUND = 5.0  # the reference client times out after 3 s

FAKE_DRIVER = """\
import json, sys, time
MODE = {mode!r}
for line in sys.stdin:
    request = json.loads(line)
    rid, op = request["id"], request["op"]
    if MODE == "exit_at_hello" or (MODE == "exit" and op != "hello"):
        sys.exit(3)
    if op == "hello":
        answer = {{"id": rid, "ok": True, "name": "fake " + MODE, "version": "0", "capabilities": []}}
    elif MODE == "hang" and op == "call":
        time.sleep(3600)
    elif MODE == "garbage":
        print("this is not JSON", flush=True)
        continue
    elif MODE == "wrong_id":
        answer = {{"id": rid + 100, "ok": True}}
    else:
        answer = {{"id": rid, "ok": True}}
    print(json.dumps(answer), flush=True)
    if op == "shutdown":
        break
"""

# A reference-client driver that reports a surfaced HTTP failure as ok:true with a non-2xx status.
LENIENT_DRIVER = """\
import json, os, sys
from contract_tests.drivers.reference_client import ScalekitClient, ScalekitError
env = os.environ
client = None
for line in sys.stdin:
    request = json.loads(line)
    rid, op = request["id"], request["op"]
    answer = {"id": rid, "ok": True}
    if op == "hello":
        answer.update(name="lenient", version="0", capabilities=[])
    elif op == "new_client":
        client = ScalekitClient(env["SCALEKIT_ENVIRONMENT_URL"], env["SCALEKIT_CLIENT_ID"],
                                env["SCALEKIT_CLIENT_SECRET"])
    elif op == "call":
        try:
            answer.update(status=200, body=client.request(request["method"], request["path"]))
        except ScalekitError as exc:
            answer.update(status=exc.status, body=None)
    print(json.dumps(answer), flush=True)
    if op == "shutdown":
        break
"""

# The reference client offering neither capability: no clock moves, no concurrent calls.
PLAIN_REFERENCE_DRIVER = """\
import sys
from contract_tests import driverkit
from contract_tests.drivers.reference import ReferenceAdapter
class PlainAdapter(ReferenceAdapter):
    concurrent = False
    fake_clock = False
sys.exit(driverkit.run(PlainAdapter()))
"""


def driver_script(tmp_path: Path, mode: str) -> str:
    path = tmp_path / f"fake_{mode}.py"
    path.write_text(FAKE_DRIVER.format(mode=mode), encoding="utf-8")
    return f"{sys.executable} {path}"


@pytest.fixture(scope="module")
def reference_report() -> SuiteReport:
    """The whole catalogue against the reference client, strict, run once for this module."""
    started = time.monotonic()
    report = run_suite(REFERENCE, strict=True, hang_bound=HANG_BOUND)
    elapsed = time.monotonic() - started
    print(f"\nfull client catalogue against the reference driver: {elapsed:.1f} s")
    for result in report.results:
        print(f"  {result.id:<30} {result.outcome:<7} {result.duration:5.2f} s")
    return report


# -- the protocol side ----------------------------------------------------------------------------
def test_run_suite_hung_op_fails_the_check_within_the_deadline(tmp_path: Path) -> None:
    # Given a driver that never answers 'call', when the suite runs a check with a 2 s op deadline
    started = time.monotonic()
    report = run_suite(driver_script(tmp_path, "hang"), only=["CACHE-SEQUENTIAL"], op_timeout=2)
    # Then the check fails as a hang, soon after the deadline, and the run is not conforming
    result = report.result("CACHE-SEQUENTIAL")
    assert result.outcome == "failed"
    assert "hung" in result.message and "'call' got no answer within 2 s" in result.message
    assert time.monotonic() - started < 15
    assert report.exit_code == 1


def test_run_suite_starts_a_fresh_driver_after_a_hang(tmp_path: Path) -> None:
    report = run_suite(driver_script(tmp_path, "hang"), only=["CACHE-SEQUENTIAL", "FMT-BEARER-HEADER"], op_timeout=2)
    assert [r.outcome for r in report.results] == ["failed", "failed"]
    assert all("hung" in r.message for r in report.results)


@pytest.mark.parametrize(("mode", "expected"), [
    ("exit", "exited (code 3) before answering 'new_client'"),
    ("garbage", "a line that is not JSON: 'this is not JSON"),
    ("wrong_id", "with id 102"),
])
def test_run_suite_protocol_error_is_an_error_not_a_failure(tmp_path: Path, mode: str, expected: str) -> None:
    report = run_suite(driver_script(tmp_path, mode), only=["CACHE-SEQUENTIAL"], op_timeout=5)
    result = report.result("CACHE-SEQUENTIAL")
    assert result.outcome == "error"
    assert "protocol error" in result.message and expected in result.message
    assert report.exit_code == 2


def test_run_suite_driver_that_cannot_say_hello_errors_every_check(tmp_path: Path) -> None:
    report = run_suite(driver_script(tmp_path, "exit_at_hello"), only=["CACHE-SEQUENTIAL", "ERR-FORBIDDEN"])
    assert [r.outcome for r in report.results] == ["error", "error"]
    assert "did not start" in report.results[0].message
    assert report.driver.name == "unknown" and report.exit_code == 2
    assert report.startup_error is not None and "before answering 'hello'" in report.startup_error


def test_cli_driver_that_cannot_start_is_one_line_and_exit_2(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["client", "--driver", str(tmp_path / "no-such-driver"), "--report-json", str(tmp_path / "r.json")])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == "" and err.count("\n") == 1 and "the driver did not start" in err
    assert json.loads((tmp_path / "r.json").read_text())["summary"]["exit_code"] == 2


def test_run_suite_skips_checks_needing_a_missing_capability(tmp_path: Path) -> None:
    report = run_suite(driver_script(tmp_path, "ok"), only=["REFRESH-AFTER-LIFETIME", "CACHE-CONCURRENT-COLD"],
                       time="virtual")
    assert [r.outcome for r in report.results] == ["skipped", "skipped"]
    assert "needs the capability advance_time" in report.result("REFRESH-AFTER-LIFETIME").message
    assert report.result("REFRESH-AFTER-LIFETIME").message.endswith("; or run it in real time (--time real)")
    assert report.driver == DriverOnTarget("fake ok", "0", (), target="mock")
    # A MUST check that did not run leaves the verdict incomplete, never conforming.
    assert report.exit_code == 3 and report.summary()["verdict"] == "incomplete"
    assert report.summary()["not_run"] == ["REFRESH-AFTER-LIFETIME"]


def test_cli_run_with_a_skipped_must_check_is_incomplete_exit_3(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["client", "--driver", driver_script(tmp_path, "ok"), "--only", "REFRESH-AFTER-LIFETIME",
                 "--time", "virtual", "--report-json", str(tmp_path / "r.json")])
    out = capsys.readouterr().out
    assert code == 3
    lines = out.splitlines()
    [verdict] = [n for n, line in enumerate(lines) if line.endswith("incomplete, exit code 3")]
    assert lines[verdict - 1] == ("did not run, though they count towards the verdict (the reason is beside "
                                  "each): REFRESH-AFTER-LIFETIME")
    summary = json.loads((tmp_path / "r.json").read_text())["summary"]
    assert summary["verdict"] == "incomplete" and summary["exit_code"] == 3
    assert "--- REFRESH-AFTER-LIFETIME (MUST, did not run)\nneeds the capability advance_time" in out


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"only": ["NO-SUCH-CHECK"]}, "unknown check id(s): NO-SUCH-CHECK"),
    ({"skip": ["CACHE-SEQUENTIAL", "NOPE"]}, "unknown check id(s): NOPE"),
    ({"op_timeout": 0}, "timeouts must be positive"),
])
def test_run_suite_usage_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        run_suite(REFERENCE, **kwargs)  # type: ignore[arg-type]


def test_run_suite_empty_driver_command_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="empty"):
        run_suite("  ")


@pytest.mark.parametrize(("answer", "succeeded", "status", "kind"), [
    ({"ok": True, "status": 200, "body": {}}, True, None, None),
    ({"ok": True, "status": 403, "body": None}, False, 403, "permission_denied"),
    ({"ok": True, "status": 401}, False, 401, "unauthenticated"),
    ({"ok": False, "error": {"status": 401, "type": "unauthenticated", "message": "x"}}, False, 401, "unauthenticated"),
    ({"ok": False, "error": {"status": None, "type": "timeout", "message": "x"}}, False, None, "timeout"),
    ({"ok": False}, False, None, "other"),
])
def test_call_result_accepts_both_forms_of_a_surfaced_failure(answer: dict[str, object], succeeded: bool,
                                                              status: int | None, kind: str | None) -> None:
    result = CallResult.from_json(answer)
    assert (result.succeeded, result.surfaced_status, result.error_type) == (succeeded, status, kind)


def entry(seq: int, endpoint: str, status: int, **fields: object) -> dict[str, object]:
    return {"seq": seq, "time": 1000.0 + seq, "endpoint": endpoint, "status": status, "method": "GET",
            "path": "/oauth/token" if endpoint == "token" else "/api/v1/organizations", "headers": {}, **fields}


def test_journal_view_counts_only_tokens_the_client_was_given() -> None:
    # Given a broken token response (issued but never delivered), a good one, and API calls using each
    journal = JournalView([
        entry(3, "api", 401, headers={"authorization": "Bearer fp:bogus"}),
        entry(1, "token", 200, issued={"fingerprint": "fp:aaa"}, outcome="malformed:not_json", client_id="c"),
        entry(2, "token", 200, issued={"fingerprint": "fp:bbb"}, outcome="issued", client_id="c"),
        entry(4, "api", 200, headers={"authorization": "bearer fp:bbb"}),
        entry(5, "api", 401, headers={}),
        entry(6, "control", 200),
    ])
    # Then only the delivered token counts, requests are in arrival order, and bearers are read from headers
    assert list(journal.delivered("c")) == ["fp:bbb"] and journal.delivered("other") == {}
    assert [r.seq for r in journal] == [1, 2, 3, 4, 5]
    assert [r.bearer for r in journal.api_calls] == ["fp:bogus", "fp:bbb", None]
    assert journal.after(3).counts() == "0 token requests, 2 API calls"
    assert "#4 GET /api/v1/organizations -> 200, bearer T2 (fp:bbb)" in journal.describe()



def test_journal_view_never_calls_a_token_from_a_broken_response_issued() -> None:
    # Given token responses a malformed_token fault broke: one without the token, one with it (as a string
    # expires_in), and a good one
    journal = JournalView([
        entry(1, "token", 200, issued={"fingerprint": "fp:aaa"}, outcome="malformed:missing_access_token"),
        entry(2, "token", 200, issued={"fingerprint": "fp:bbb"}, outcome="malformed:expires_in_string"),
        entry(3, "token", 200, issued={"fingerprint": "fp:ccc"}, outcome="issued"),
    ])
    # Then the journal says which reached the client, and how
    lines = journal.describe().splitlines()
    assert lines[0].endswith("-> 200 malformed:missing_access_token, T1 (fp:aaa) minted but not sent (a broken "
                             "response)")
    assert lines[1].endswith("-> 200 malformed:expires_in_string, T2 (fp:bbb) sent in a broken response")
    assert lines[2].endswith("-> 200 issued, issued T3 (fp:ccc)")
    # and a token that was in its (broken) response still counts as handed over: a client may use it
    assert list(journal.delivered()) == ["fp:bbb", "fp:ccc"]


def test_journal_view_names_the_other_origin_and_what_reached_it() -> None:
    # Given a token issued, an API call redirected, and two requests at the second origin: one with the token
    # (as a bearer) and the secret, one with nothing
    origin = {"origin": "http://127.0.0.1:5555"}
    journal = JournalView([
        entry(1, "token", 200, issued={"fingerprint": "fp:tok"}, outcome="issued"),
        entry(2, "api", 307, outcome="redirect", extra={"detail": "to http://127.0.0.1:5555/api/v1/organizations"}),
        entry(3, "foreign", 404, outcome="second_origin", headers={"authorization": "Bearer fp:tok"},
              extra={**origin, "carried_secret": True, "carried_token": True, "carried": ["fp:sec", "fp:tok"]}),
        entry(4, "foreign", 404, outcome="second_origin",
              extra={**origin, "carried_secret": False, "carried_token": False, "carried": []}),
    ])
    # Then they are told apart from the mock's own API calls, with the origin and what each carried
    assert [r.seq for r in journal.foreign] == [3, 4] and [r.seq for r in journal.api_calls] == [2]
    assert [(r.carried_secret, r.carried_token) for r in journal.foreign] == [(True, True), (False, False)]
    lines = journal.describe().splitlines()
    assert lines[1].endswith("-> 307 redirect (to http://127.0.0.1:5555/api/v1/organizations), no bearer token")
    assert lines[2] == ("  #3 GET http://127.0.0.1:5555/api/v1/organizations -> 404 second_origin, carried the client "
                        "secret (fp:sec) and token T1 (fp:tok)")
    assert lines[3].endswith("404 second_origin, carried no secret and no token the mock issued")


BASIC = {"authorization": "Basic skc_1:fp:secret"}
BODY = {"client_id": ["skc_1"], "client_secret": ["fp:secret"], "grant_type": ["client_credentials"]}


def token_at(seq: int, time: float, status: int, **fields: object) -> dict[str, object]:
    return entry(seq, "token", status, time=time, method="POST", **fields)


def test_an_auth_style_probe_is_one_attempt_with_the_request_it_resends() -> None:
    # Given a 503 to a Basic token request, resent at once with the credentials in the body (golang.org/x/oauth2's
    # auth-style probe), which gets the token
    refused = token_at(1, 10.0, 503, headers=BASIC)
    probe = token_at(2, 10.001, 200, form=BODY, client_id="skc_1", issued={"fingerprint": "fp:t"})
    first, retry, probed = _retry_of(JournalView([refused, probe]).token_requests, 503, 0.1)
    # Then the probe is not a retry, and nothing was retried
    assert (first and first.seq, retry, probed and probed.seq) == (1, None, 2)
    # Given the probe refused too, and a retry 0.5 s after it: the retry is measured from the probe
    later = token_at(3, 10.501, 200, form=BODY, issued={"fingerprint": "fp:t"})
    first, retry, probed = _retry_of(JournalView([refused, {**probe, "status": 503}, later]).token_requests, 503, 0.1)
    assert (retry and retry.seq, probed and probed.seq) == (3, 2)


@pytest.mark.parametrize("resend", [
    token_at(2, 10.001, 200, headers=BASIC),  # the same request again, at once: a retry without backoff
    token_at(2, 10.001, 200, form={**BODY, "client_secret": ["fp:other"]}),  # another secret
    token_at(2, 10.001, 200, form={**BODY, "scope": ["users:read"]}),  # another request
    token_at(2, 0.5 + 10.0, 200, form=BODY),  # a body retry after a backoff: judged as a retry
])
def test_only_an_immediate_resend_moving_the_credentials_alone_is_a_probe(resend: dict[str, object]) -> None:
    refused = token_at(1, 10.0, 503, headers=BASIC, form={"grant_type": ["client_credentials"]})
    _, retry, probed = _retry_of(JournalView([refused, resend]).token_requests, 503, 0.1)
    assert (retry and retry.seq, probed) == (2, None)


def test_run_suite_accepts_failures_reported_as_ok_with_a_status(tmp_path: Path) -> None:
    path = tmp_path / "lenient.py"
    path.write_text(LENIENT_DRIVER, encoding="utf-8")
    checks = ["ERR-FORBIDDEN", "ERR-PERSISTENT-401", "ERR-INVALID-CREDENTIALS", "CACHE-SEQUENTIAL"]
    report = run_suite(f"{sys.executable} {path}", only=checks)
    assert {r.id: r.outcome for r in report.results} == dict.fromkeys(checks, "passed"), report.results


# -- the catalogue against the reference client -----------------------------------------------------
def test_reference_client_passes_every_check_strictly(reference_report: SuiteReport) -> None:
    failed = {r.id: r.message for r in reference_report.results if r.outcome != "passed"}
    assert failed == {}
    assert [r.id for r in reference_report.results] == list(IDS)
    assert reference_report.exit_code == 0 and reference_report.strict
    assert "advance_time" in reference_report.driver.capabilities


def test_run_suite_reuse_driver_passes_with_the_reference_client() -> None:
    checks = ["CACHE-SEQUENTIAL", "REFRESH-AFTER-LIFETIME", "REFRESH-CLOCK-SKEW", "REFRESH-REVOKED"]
    report = run_suite(REFERENCE, only=checks, reuse_driver=True, strict=True)
    assert [r.outcome for r in report.results] == ["passed"] * len(checks), report.results


def test_run_suite_in_virtual_time_without_capabilities_skips_time_checks_and_runs_the_state_machine(
        tmp_path: Path) -> None:
    path = tmp_path / "plain.py"
    path.write_text(PLAIN_REFERENCE_DRIVER, encoding="utf-8")
    report = run_suite(f"{sys.executable} {path}", only=["REFRESH-BEFORE-EXPIRY", "CACHE-CONCURRENT-COLD",
                                                          "STATE-MACHINE"], time="virtual")
    assert report.driver.capabilities == ()
    assert {r.id: r.outcome for r in report.results} == {
        "REFRESH-BEFORE-EXPIRY": "skipped", "CACHE-CONCURRENT-COLD": "skipped", "STATE-MACHINE": "passed"}
    assert report.exit_code == 0  # the skipped checks are SHOULD ones: without --strict they do not count
    # The skip reason names the real cause, as the driver gave it in hello's "unavailable".
    assert "fake_clock = False" in report.result("REFRESH-BEFORE-EXPIRY").message
    assert "not safe to share between threads" in report.result("CACHE-CONCURRENT-COLD").message


# -- reports --------------------------------------------------------------------------------------
def test_report_json_has_driver_checks_and_summary(reference_report: SuiteReport, tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    render.write_json(reference_report, path)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert set(data) == {"driver", "target", "time", "checks", "summary"}
    assert data["target"] == {"mode": "mock", "url": None, "upstream_requests": 0}
    assert data["time"] == {"mode": "virtual", "reason": "the driver offers advance_time", "token_lifetime": None,
                            "waited": {}, "added_seconds": 0}
    assert {"name", "version", "capabilities"} <= set(data["driver"])
    assert [c["id"] for c in data["checks"]] == list(IDS)
    assert all({"id", "level", "outcome", "message"} <= set(c) for c in data["checks"])
    assert data["summary"]["passed"] == len(IDS) and data["summary"]["exit_code"] == 0


def test_report_junit_xml_parses_with_one_testcase_per_check(reference_report: SuiteReport) -> None:
    suite = ET.fromstring(render.junit_xml(reference_report).split("?>", 1)[1])
    assert suite.tag == "testsuite" and suite.get("tests") == str(len(IDS)) and suite.get("failures") == "0"
    assert [case.get("name") for case in suite.iter("testcase")] == list(IDS)


def mixed_report(strict: bool = False) -> SuiteReport:
    return SuiteReport(DriverInfo("acme", "1.2", ("concurrent",)), "acme-driver", strict=strict, results=[
        CheckResult("CACHE-SEQUENTIAL", "MUST", "passed"),
        CheckResult("REFRESH-BEFORE-EXPIRY", "SHOULD", "failed", "a | b\nevidence line"),
        CheckResult("REFRESH-AFTER-LIFETIME", "MUST", "skipped", "needs the capability advance_time"),
        CheckResult("ERR-FORBIDDEN", "MUST", "failed", "403 retried\n  #3 GET ..."),
    ])


def test_report_junit_xml_marks_failures_skips_and_should_failures() -> None:
    suite = ET.fromstring(render.junit_xml(mixed_report()).split("?>", 1)[1])
    cases = {case.get("name"): [child.tag for child in case] for case in suite.iter("testcase")}
    assert cases == {"CACHE-SEQUENTIAL": [], "REFRESH-BEFORE-EXPIRY": ["skipped"],
                     "REFRESH-AFTER-LIFETIME": ["skipped"], "ERR-FORBIDDEN": ["failure"]}
    strict = ET.fromstring(render.junit_xml(mixed_report(strict=True)).split("?>", 1)[1])
    assert strict.find("testcase[@name='REFRESH-BEFORE-EXPIRY']/failure") is not None


def test_report_markdown_has_a_table_row_per_check_and_the_evidence() -> None:
    text = render.markdown(mixed_report())
    assert "| ID | Level | Outcome | Reason |" in text
    assert "| `REFRESH-BEFORE-EXPIRY` | SHOULD | failed | a \\| b |" in text
    assert "## ERR-FORBIDDEN (MUST, failed)" in text and "  #3 GET ..." in text


def test_report_table_shows_one_line_per_check_and_the_verdict() -> None:
    lines = render.table(mixed_report()).splitlines()
    assert lines[0] == "driver: acme 1.2 (capabilities: concurrent)"
    assert any(line.split()[:3] == ["ERR-FORBIDDEN", "MUST", "failed"] and "403 retried" in line for line in lines)
    assert lines[-1].startswith("1 passed, 2 failed, 1 skipped, 0 error(s)") and "exit code 1" in lines[-1]


@pytest.mark.parametrize(("outcomes", "strict", "code"), [
    ([("MUST", "passed"), ("SHOULD", "failed")], False, 0),
    ([("MUST", "passed"), ("SHOULD", "failed")], True, 1),
    ([("MUST", "failed"), ("SHOULD", "passed")], False, 1),
    ([("MUST", "failed"), ("SHOULD", "error")], False, 2),
    ([("MUST", "skipped")], False, 3),
    ([("MUST", "passed"), ("SHOULD", "skipped")], False, 0),
    ([("MUST", "passed"), ("SHOULD", "skipped")], True, 3),
    ([("MUST", "failed"), ("MUST", "skipped")], False, 1),
    ([("MUST", "n/a")], True, 0),
])
def test_suite_report_exit_code(outcomes: list[tuple[str, str]], strict: bool, code: int) -> None:
    results = [CheckResult(f"C{n}", level, "skipped", not_applicable=True) if outcome == "n/a"
               else CheckResult(f"C{n}", level, outcome) for n, (level, outcome) in enumerate(outcomes)]
    assert SuiteReport(DriverInfo("d", "", ()), "d", results, strict=strict).exit_code == code


def test_suite_report_collect_reports_progress_and_ends_on_ctrl_c() -> None:
    # Given a run whose third check is interrupted by Ctrl-C
    seen: list[tuple[str, int, int]] = []

    def run_one(check_id: str) -> CheckResult:
        if check_id == "C2":
            raise KeyboardInterrupt
        return CheckResult(check_id, "MUST", "passed")

    report = SuiteReport(DriverInfo("d", "", ()), "d")
    report.collect(["C0", "C1", "C2", "C3"], run_one, lambda r, done, total: seen.append((r.id, done, total)))
    # Then the checks done so far are kept, each was told as it finished, and the verdict says interrupted
    assert seen == [("C0", 1, 4), ("C1", 2, 4)]
    assert [r.id for r in report.results] == ["C0", "C1"]
    assert report.interrupted and report.exit_code == 130
    assert "interrupted after 2 of 4 check(s)" in render.table(report)


# -- the CLI --------------------------------------------------------------------------------------
def test_cli_help_documents_the_client_suite(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["client", "--help"])
    out = capsys.readouterr().out
    assert exit_info.value.code == 0
    for option in ("--driver", "--strict", "--only", "--skip", "--timeout", "--hang-bound", "--reuse-driver",
                   "--report-json", "--junit-xml", "--report-md", "--list", "exit codes", "STATE-MACHINE"):
        assert option in out


def test_cli_list_prints_the_catalogue(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["client", "--list"]) == 0
    out = capsys.readouterr().out
    assert [line.split()[0] for line in out.splitlines()] == list(IDS)


@pytest.mark.parametrize("argv", [["client"], ["client", "--driver", REFERENCE, "--only", "NOPE"],
                                  ["client", "--driver", ""]])
def test_cli_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert "scalekit-conformance client:" in capsys.readouterr().err


def test_cli_conforming_driver_exits_0_and_writes_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = {name: tmp_path / name for name in ("r.json", "r.xml", "r.md")}
    code = main(["client", "--driver", REFERENCE, "--only", "CACHE-SEQUENTIAL", "--report-json", str(paths["r.json"]),
                 "--junit-xml", str(paths["r.xml"]), "--report-md", str(paths["r.md"])])
    assert code == 0
    assert "CACHE-SEQUENTIAL" in capsys.readouterr().out
    assert json.loads(paths["r.json"].read_text(encoding="utf-8"))["checks"][0]["outcome"] == "passed"
    assert ET.parse(paths["r.xml"]).getroot().get("tests") == "1"
    assert "`CACHE-SEQUENTIAL` | MUST | passed" in paths["r.md"].read_text(encoding="utf-8")


@pytest.mark.parametrize(("mode", "code"), [("hang", 1), ("garbage", 2)])
def test_cli_exit_code_for_failing_and_broken_drivers(tmp_path: Path, mode: str, code: int,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["client", "--driver", driver_script(tmp_path, mode), "--only", "CACHE-SEQUENTIAL", "--timeout", "1"]
    assert main(argv) == code
    assert f"--- CACHE-SEQUENTIAL (MUST, {'failed' if code == 1 else 'error'})" in capsys.readouterr().out


def test_cli_prints_progress_and_sigterm_reports_the_checks_done_exit_130() -> None:
    # Given a run of three checks, printing a progress line on stderr as each finishes
    argv = [sys.executable, "-m", "contract_tests.cli", "client", "--driver", REFERENCE,
            "--only", "FMT-TOKEN-REQUEST", "CACHE-SEQUENTIAL", "SEC-SECRET-NOT-LOGGED"]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as run:
        assert run.stderr is not None and run.stdout is not None
        first = run.stderr.readline()
        # When it is sent SIGTERM once the first check is done
        run.terminate()
        out, err = run.communicate(timeout=60)
    # Then it ends with exit code 130, the done checks in the table, and no traceback
    assert first.startswith("[1/3] FMT-TOKEN-REQUEST") and "passed" in first
    assert run.returncode == 130, err
    assert "Traceback" not in err + out
    assert "FMT-TOKEN-REQUEST" in out and "interrupted after" in out and "of 3 check(s)" in out


def test_cli_runs_as_a_module_and_documents_the_suites() -> None:
    done = subprocess.run([sys.executable, "-m", "contract_tests.cli", "--help"], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0 and "client" in done.stdout and "Exit codes" in done.stdout


# -- the pytest face ------------------------------------------------------------------------------
def test_pytest_face_runs_one_check_against_the_reference_driver(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--pyargs", "contract_tests", "-v", "-p", "no:cacheprovider",
                                           "-k", "test_client_check",
                                           "--scalekit-driver", REFERENCE, "--scalekit-only", "CACHE-SEQUENTIAL")
    result.stdout.fnmatch_lines(["*test_client_check?CACHE-SEQUENTIAL? PASSED*"])
    assert result.ret == 0
    assert "test_client_check[CACHE-CONCURRENT-COLD] SKIPPED" in result.stdout.str()


def test_pytest_face_skips_every_check_without_a_driver(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--pyargs", "contract_tests.test_client_conformance", "-rs",
                                           "-p", "no:cacheprovider")
    result.assert_outcomes(skipped=len(IDS))
    result.stdout.fnmatch_lines(["*no --scalekit-driver given*"])


def test_pytest_face_fails_a_must_check_the_driver_breaks(pytester: pytest.Pytester, tmp_path: Path) -> None:
    driver = driver_script(tmp_path, "hang")
    result = pytester.runpytest_subprocess("--pyargs", "contract_tests.test_client_conformance", "-p",
                                           "no:cacheprovider", "--scalekit-driver", driver, "--scalekit-timeout", "1",
                                           "--scalekit-only", "CACHE-SEQUENTIAL")
    result.assert_outcomes(failed=1, skipped=len(IDS) - 1)
    result.stdout.fnmatch_lines(["*CACHE-SEQUENTIAL (MUST): the client hung*"])
