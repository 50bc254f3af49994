"""The conformance matrix: its page round-trips, its comparison names every changed verdict, and the
committed docs/conformance-matrix.md still says what every shipped client does.

The last test runs the whole client suite against every real client (about two minutes): it is how CI
notices that a library upgrade or a suite change altered a verdict. Regenerate the page with
``scalekit-conformance matrix`` when the change is intended, and explain it in the README.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from contract_tests.cli import main
from contract_tests.client.checks import CATALOGUE, IDS
from contract_tests.client.driver import DriverInfo
from contract_tests.client.target import DriverOnTarget
from contract_tests.client.timing import REAL, VIRTUAL, Timing
from contract_tests.drivers.catalog import SHIPPED, by_key
from contract_tests.matrix import END, START, Column, differences, embed, read_outcomes, render, run_matrix
from contract_tests.results import CheckResult, SuiteReport

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "docs" / "conformance-matrix.md"
REQUIRED = os.environ.get("SCALEKIT_REQUIRE_DRIVERS") == "1"


def column(key: str, version: str, outcomes: dict[str, str]) -> Column:
    driver = by_key(key)
    results = [CheckResult(c.id, c.level, outcomes.get(c.id, "passed"), "why it failed | with a pipe")
               for c in CATALOGUE]
    return Column(driver, SuiteReport(DriverInfo(driver.client, version, ()), driver.command, results))


def test_the_page_round_trips_every_verdict() -> None:
    columns = [column("reference", "1.0", {}), column("authlib", "9.9", {"REFRESH-REVOKED": "failed",
                                                                         "CACHE-CONCURRENT-COLD": "failed",
                                                                         "REFRESH-SHORT-LIFETIME": "skipped"})]
    page = render(columns)
    outcomes = read_outcomes(page)
    assert set(outcomes) == {f"{by_key('reference').client} 1.0", f"{by_key('authlib').client} 9.9"}
    authlib = outcomes[f"{by_key('authlib').client} 9.9"]
    assert list(authlib) == list(IDS)
    assert (authlib["REFRESH-REVOKED"], authlib["CACHE-CONCURRENT-COLD"], authlib["REFRESH-SHORT-LIFETIME"],
            authlib["FMT-TOKEN-REQUEST"]) == ("**FAIL**", "fail", "skip", "pass")
    assert "(conformance.md#refresh)" in page and "why it failed \\| with a pipe" in page
    assert differences(page, columns) == []


def test_a_check_that_cannot_apply_is_n_a_not_a_skip() -> None:
    driver = by_key("python-sdk")
    results = [CheckResult(c.id, c.level, "skipped", "not applicable: over gRPC",
                           not_applicable=c.id == "SEC-TOKEN-NOT-REDIRECTED") for c in CATALOGUE]
    col = Column(driver, SuiteReport(DriverInfo(driver.client, "1.0", ()), driver.command, results))
    outcomes = read_outcomes(render([col]))[f"{driver.client} 1.0"]
    assert (outcomes["SEC-TOKEN-NOT-REDIRECTED"], outcomes["SEC-SECRET-NOT-REDIRECTED"]) == ("n/a", "skip")


def test_the_clients_table_says_in_which_time_each_ran() -> None:
    def ran_in(key: str, mode: str) -> Column:
        driver = by_key(key)
        subject = DriverOnTarget(driver.client, "1.0", (), timing=Timing(mode, "why"))
        return Column(driver, SuiteReport(subject, driver.command, []))

    page = render([ran_in("reference", VIRTUAL), ran_in("go-x-oauth2", REAL)])
    rows = {line.split(" | ")[0][2:]: line for line in page.splitlines() if " | `" in line}
    assert rows[f"{by_key('reference').client} 1.0"].endswith("| REST over HTTP | virtual |")
    assert rows[f"{by_key('go-x-oauth2').client} 1.0"].endswith("| REST over HTTP | real (15 s tokens) |")


def test_differences_name_each_changed_verdict_and_version() -> None:
    before = render([column("reference", "1.0", {}), column("authlib", "9.9", {"REFRESH-REVOKED": "failed"})])
    after = [column("reference", "1.0", {"CACHE-SEQUENTIAL": "failed"}), column("authlib", "10.0", {})]
    assert sorted(differences(before, after)) == sorted([
        "scalekit-mock reference client 1.0 / CACHE-SEQUENTIAL: pass -> **FAIL**",
        "client authlib 9.9: in the committed matrix, not in this run (version changed or driver gone?)",
        "client authlib 10.0: not in the committed matrix (new client or new version)"])


def test_the_readme_table_is_refreshed_between_its_markers() -> None:
    columns = [column("reference", "1.0", {"CACHE-SEQUENTIAL": "failed"})]
    text = f"intro\n{START}\nold table\n{END}\noutro\n"
    refreshed = embed(text, columns)
    assert refreshed.startswith(f"intro\n{START}\n| check | level |") and refreshed.endswith(f"{END}\noutro\n")
    assert "old table" not in refreshed and "(docs/conformance.md#caching)" in refreshed
    assert read_outcomes(refreshed)["scalekit-mock reference client 1.0"]["CACHE-SEQUENTIAL"] == "**FAIL**"
    assert embed("no markers", columns) == "no markers"


def test_the_readme_shows_the_committed_matrix() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert START in readme, "the README shows the matrix between its markers"
    assert read_outcomes(readme) == read_outcomes(COMMITTED.read_text(encoding="utf-8"))


def test_a_missing_client_is_an_empty_column_or_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from contract_tests import matrix

    ghost = by_key("authlib").__class__("ghost", "ghost-client", "nothing", ("true",), "true",
                                        python_module="no_such_module_here")
    [col] = run_matrix([ghost])
    assert col.report is None and col.cell("CACHE-SEQUENTIAL") == "not run" and "not installed" in (col.missing or "")
    with pytest.raises(matrix.MatrixError, match="ghost: ghost-client is not installed"):
        run_matrix([ghost], require_all=True)


def test_check_and_driver_are_exclusive(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["matrix", "--check", "--driver", "reference"]) == 2
    assert "--check compares every client" in capsys.readouterr().err


def test_the_committed_matrix_matches_every_client() -> None:
    missing = {d.key: d.missing() for d in SHIPPED if d.missing()}
    if missing and not REQUIRED:
        pytest.skip(f"not every client is installed here: {missing}")
    columns = run_matrix(require_all=True)
    diffs = differences(COMMITTED.read_text(encoding="utf-8"), columns)
    assert diffs == [], ("verdicts differ from docs/conformance-matrix.md; if the change is intended, run "
                         "`scalekit-conformance matrix` and explain it in the README:\n" + "\n".join(diffs))
