"""Schemathesis over Scalekit's published OpenAPI document against the mock: the mock must answer as the real
service's own contract says (``published_run.py``; the document as read, its additions and excuses, in
``published_spec.py``).

One run of every phase over all 111 operations with every built-in check (under a minute; more
examples with ``SCALEKIT_PUBLISHED_OPENAPI_EXAMPLES``), then what the run rests on: the shipped copy of the
document, the additions that make it say what the service does, the derived links, the excuses, and the
live run's request budget.
"""

from __future__ import annotations

import functools

import pytest

from contract_tests.openapi_run import fetch_bearer_token
from contract_tests.published_report import Report
from contract_tests.published_run import LIVE_USER_AGENT, BudgetedSession, BudgetSpent, run_against_mock, run_live
from contract_tests.published_spec import (
    ERROR_STATUSES,
    Site,
    amended_document,
    derived_links,
    excuse_for,
    operations,
    published_document,
)
from mock_server import MockServer
from mock_server.core.data import fixtures_dir


@functools.lru_cache(maxsize=1)
def mock_report() -> Report:
    return run_against_mock(MockServer())  # never started: schemathesis calls its WSGI app


def test_mock_answers_as_the_published_document_says() -> None:
    # Given every operation, every phase and every check, the mock shows no failure and raises nothing.
    report = mock_report()
    if not report.passed:
        pytest.fail(report.render(), pytrace=False)


def test_the_run_covers_every_operation_in_every_phase() -> None:
    report = mock_report()
    assert report.operations_total == 111 and report.operations == report.expected
    assert set(report.phases) == {"examples", "coverage", "fuzzing", "stateful"}
    assert min(report.phases.values()) > 0
    # The checks that apply to any answer judged every case.
    for check in ("not_a_server_error", "missing_required_header", "unsupported_method"):
        assert sum(report.checks[check].values()) == report.cases, check


def test_the_shipped_document_is_the_published_one_with_its_notice() -> None:
    document = published_document()
    assert sum(1 for _ in operations(document)) == 111 and len(document["paths"]) == 75
    assert document["servers"] == [{"url": "https://$SCALEKIT_ENVIRONMENT_URL"}]
    assert not any("links" in r for _, _, op in operations(document) for r in op["responses"].values())  # hence ours
    notice = (fixtures_dir() / "scalekit-openapi.NOTICE.md").read_text(encoding="utf-8")
    assert "MIT License" in notice and "Copyright (c) 2024 Scalekit Inc" in notice


def test_the_amended_document_adds_error_statuses_and_links_and_changes_nothing_else() -> None:
    published, amended = published_document(), amended_document()
    for (path, method, before), (_, _, after) in zip(operations(published), operations(amended), strict=True):
        added = set(after["responses"]) - set(before["responses"])
        assert added <= {e.status for e in ERROR_STATUSES}, (method, path)
        assert "409" in after["responses"] or method == "get"
        for status, response in before["responses"].items():
            if status.startswith("2"):
                links = after["responses"][status].pop("links", None)
                assert after["responses"][status] == response and (links is None or method == "post")
        assert {k: v for k, v in after.items() if k != "responses"} == {k: v for k, v in before.items()
                                                                       if k != "responses"}
    error = amended["paths"]["/api/v1/organizations/{id}"]["get"]["responses"]["404"]
    assert error["content"]["application/json"]["schema"]["properties"]["code"] == {"enum": [5]}


def test_derived_links_chain_a_create_to_what_it_created() -> None:
    document = published_document()
    by_id = {op["operationId"]: (path, op) for path, _, op in operations(document)}
    links = {(source, link["operationId"]): link["parameters"] for source, _, _, link in derived_links(document)}
    assert links[(("/api/v1/organizations", "post"), "OrganizationService_GetOrganization")] == {
        "path.id": "$response.body#/organization/id"}
    assert links[(("/api/v1/roles", "post"), "RolesService_DeleteRole")] == {
        "path.role_name": "$response.body#/role/name"}
    assert links[(("/api/v1/organizations/{organization_id}/clients", "post"),
                  "ClientService_GetOrganizationClient")] == {
        "path.organization_id": "$request.path.organization_id", "path.client_id": "$response.body#/client/client_id"}
    for (_, target), parameters in links.items():  # every path parameter of the target is set, and exists
        path, _ = by_id[target]
        assert {f"path.{p}" for p in path.replace("}", "{").split("{")[1::2]} == set(parameters), target


@pytest.mark.parametrize(("site", "excused"), [
    (Site("unsupported_method", "GET /api/v1/connections", "POST", "http://x/api/v1/connections", 200, ""), True),
    (Site("unsupported_method", "GET /api/v1/users", "DELETE", "http://x/api/v1/users", 200, ""), False),
    (Site("allow_header_conformance", "GET /api/v1/connections", "OPTIONS", "http://x/api/v1/connections", 405, "",
          "GET, POST"), True),
    (Site("allow_header_conformance", "GET /api/v1/connections", "OPTIONS", "http://x/api/v1/connections", 405, "",
          "GET, DELETE"), False),
    (Site("negative_data_rejection", "POST /api/v1/roles", "POST", "http://x/api/v1/roles", 201,
          "Invalid data should have been rejected\nInvalid component: Missing request body"), True),
    (Site("negative_data_rejection", "POST /api/v1/roles", "POST", "http://x/api/v1/roles", 201,
          "Invalid component: in body - name: Incorrect type"), False),
    (Site("positive_data_acceptance", "GET /api/v1/users", "GET", "http://x/api/v1/users?page_size=5", 400, ""), True),
    (Site("positive_data_acceptance", "GET /api/v1/users", "GET", "http://x/api/v1/users?page_size=0", 400, ""), False),
    (Site("positive_data_acceptance", "GET /api/v1/users", "GET", "http://x/api/v1/users?page_token=zz", 400, ""),
     True),
    (Site("positive_data_acceptance", "GET /api/v1/users", "GET", "http://x/api/v1/users?page_token=", 400, ""), False),
    (Site("positive_data_acceptance", "POST /api/v1/organizations", "POST", "http://x/api/v1/organizations", 400, "",
          sent='{"display_name": ""}'), True),
    (Site("positive_data_acceptance", "POST /api/v1/organizations", "POST", "http://x/api/v1/organizations", 400, "",
          sent='{"display_name": "Acme", "external_id": ""}'), False),
])
def test_an_excuse_covers_the_documents_gap_only(site: Site, excused: bool) -> None:
    assert (excuse_for(site) is not None) is excused


def test_a_live_run_stays_within_its_budget_and_says_so() -> None:
    # Given a stand-in environment (a mock on a socket) and a budget of 10 requests, the live run sends 10 GETs
    # of the API and no more, and reports that it stopped short.
    with MockServer() as server:
        token = fetch_bearer_token(server)
        server.clear_journal()
        report = run_live(server.url, token, budget=10)
        sent = server.journal()
    assert report.requests == len(sent) == 10
    assert {(e["method"], e["endpoint"], e["headers"]["user-agent"]) for e in sent} == {("GET", "api", LIVE_USER_AGENT)}
    assert report.passed and len(report.operations) < report.operations_total
    assert any("the budget of 10 requests is spent" in note for note in report.notes)


def test_the_live_budget_is_a_hard_limit() -> None:
    # Given a session with a budget of one request, the second is refused before it leaves.
    with MockServer() as server:
        server.clear_journal()
        session = BudgetedSession(1)
        assert session.get(f"{server.url}/keys", timeout=5).status_code == 200
        with pytest.raises(BudgetSpent):
            session.get(f"{server.url}/keys", timeout=5)
        assert session.sent == 1 and len(server.journal()) == 1
