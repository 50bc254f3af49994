"""Schemathesis over Scalekit's published OpenAPI document (``published_spec.py``): against the mock in
process, and against a live environment for GET operations only, within a request budget. The run behind
PROV-PUBLISHED-OPENAPI and ``contract_tests/test_published_openapi.py``.

Against the mock: schemathesis's engine with every phase — the document's examples, coverage (boundary
values, missing parameters, undeclared methods), fuzzing (positive and negative data) and the stateful
phase over the derived and the inferred links — on all 111 operations, with every built-in check. The
document's ``servers`` (``https://$SCALEKIT_ENVIRONMENT_URL``) is replaced by the mock, and every request
carries a token the mock issued: the document's scheme is OAuth 2.0 client credentials, whose tokens
schemathesis does not fetch. The app runs in process (WSGI: no socket, no thread), and is reset before
each case of the stateless phases and at the start of each stateful scenario, so what a case finds
depends on that case (and its scenario's earlier steps) alone. An exception raised inside the mock is
reported as an error. Failures are kept going past (``continue_on_failure``), not shrunk: the report
wants every failing operation, not one minimal example.

No built-in check is excluded against the mock. Some only act in some phases: ``unsupported_method`` and
``missing_required_header`` on coverage cases, ``use_after_free`` and ``ensure_resource_availability``
in the stateful phase, ``allow_header_conformance`` on OPTIONS; ``object_level_authorization`` needs two
configured identities and the run has one (the full-access client), so it never finds anything here.

Live: the GET operations only (nothing changes in the sandbox), one positive case each and one negative
where the operation can be sent one, at most ``budget`` requests (the session refuses more); the same
document and checks but ``ignored_auth``, whose probes would be requests beyond the budget
(PROV-API-NO-TOKEN and PROV-API-MALFORMED-TOKEN check authentication live), and the checks that act only
in the engine's coverage or stateful phases, which the bounded run does not have.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.config import HealthCheck as SchemathesisHealthCheck
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Ok
from schemathesis.engine import events, from_schema
from schemathesis.engine.recorder import ScenarioRecorder
from schemathesis.generation.meta import TestPhase
from schemathesis.hooks import GLOBAL_HOOK_DISPATCHER, HookContext

from mock_server import MockError, MockServer

from .openapi_run import fetch_bearer_token
from .published_report import Report
from .published_spec import Site, amended_document

Case = schemathesis.Case[Any]

MOCK_BASE_URL = "http://localhost"  # a Host the mock answers to (pipeline/guard.py); WSGI needs no socket
# Examples per operation and phase: the whole run in about a minute on a small machine (docs/provider-contract.md).
MAX_EXAMPLES, MAX_EXAMPLES_ENV = 15, "SCALEKIT_PUBLISHED_OPENAPI_EXAMPLES"
# Two cases for each of the 45 GET operations, and room to spare.
LIVE_BUDGET, LIVE_BUDGET_ENV = 100, "SCALEKIT_PUBLISHED_OPENAPI_BUDGET"
LIVE_USER_AGENT = "scalekit-conformance-published-openapi/0.1"  # a sandbox's logs can tell these requests apart
PHASES = ("examples", "coverage", "fuzzing", "stateful")
LIVE_EXCLUDED = ("ignored_auth", "unsupported_method", "missing_required_header", "use_after_free",
                 "ensure_resource_availability", "object_level_authorization", "allow_header_conformance")
MODES: tuple[schemathesis.GenerationMode, ...] = (schemathesis.GenerationMode("positive"),
                                                   schemathesis.GenerationMode("negative"))


def max_examples() -> int:
    """``SCALEKIT_PUBLISHED_OPENAPI_EXAMPLES`` for a larger run, else ``MAX_EXAMPLES``."""
    return int(os.environ.get(MAX_EXAMPLES_ENV) or MAX_EXAMPLES)


def load_schema(base_url: str) -> schemathesis.BaseSchema:
    schema = schemathesis.openapi.from_dict(amended_document())
    schema.config.update(base_url=base_url)
    return schema


def _operation_labels(schema: schemathesis.BaseSchema) -> set[str]:
    return {result.ok().label for result in schema.get_all_operations() if isinstance(result, Ok)}


# -- the mock --------------------------------------------------------------------------------------------


def run_against_mock(server: MockServer, *, examples: int | None = None,
                     phases: tuple[str, ...] = PHASES) -> Report:
    """Every phase of schemathesis's engine over the published document, against ``server``'s WSGI app."""
    started = time.monotonic()
    token = fetch_bearer_token(server)
    schema = load_schema(MOCK_BASE_URL)
    schema.app = server.app
    # Hypothesis's health checks judge the generation, not the mock: a strict schema filters many examples out.
    schema.config.update(headers={"Authorization": f"Bearer {token}"}, continue_on_failure=True,
                         suppress_health_check=[SchemathesisHealthCheck("all")])
    schema.config.generation.update(max_examples=examples or max_examples(), deterministic=True, no_shrink=True)
    schema.config.checks.update(included_check_names=["all"])
    schema.config.phases.update(phases=list(phases))
    report = Report("mock", _operation_labels(schema))
    with _resetting(schema, server, report):
        for event in from_schema(schema).execute():
            if isinstance(event, events.ScenarioFinished):
                _tally(report, event.recorder)
            elif isinstance(event, events.PhaseStarted) and isinstance(event.payload, events.StatefulPhasePayload):
                report.notes.append(f"stateful phase: {event.payload.transitions_total} links, "
                                    f"{event.payload.inferred_transitions} of them inferred by schemathesis, the "
                                    f"others derived (published_spec.derived_links)")
            elif isinstance(event, events.NonFatalError):
                report.errors[f"{event.label}: {type(event.value).__name__}: {event.value}"] += 1
            elif isinstance(event, events.FatalError):
                report.errors[f"the run stopped: {type(event.exception).__name__}: {event.exception}"] += 1
    _mock_errors(server, report)
    report.duration = time.monotonic() - started
    return report


@contextlib.contextmanager
def _resetting(schema: schemathesis.BaseSchema, server: MockServer, report: Report) -> Iterator[None]:
    """Reset the mock before each stateless case of this schema, and as each stateful scenario starts.

    A ``before_call`` hook is global in schemathesis, so it is registered for this run only and ignores
    other schemas' cases. A stateful scenario is one state machine: its constructor resets.
    """
    def before_call(context: HookContext, case: Case, kwargs: dict[str, Any]) -> None:
        if case.operation.schema is schema and case.meta is not None and case.meta.phase.name != TestPhase.STATEFUL:
            _mock_errors(server, report)
            server.reset()

    build = schema.build_state_machine

    def build_resetting(**kwargs: Any) -> Any:
        class Resetting(build(**kwargs)):  # type: ignore[misc]
            def __init__(self) -> None:
                _mock_errors(server, report)
                server.reset()
                super().__init__()

        return Resetting

    schema.build_state_machine = build_resetting  # type: ignore[method-assign]
    GLOBAL_HOOK_DISPATCHER.register_hook_with_name(before_call, "before_call")
    try:
        yield
    finally:
        GLOBAL_HOOK_DISPATCHER.unregister(before_call)


def _mock_errors(server: MockServer, report: Report) -> None:
    """An exception raised inside the mock since the last look (a reset forgets them)."""
    try:
        server.check()
    except MockError as exc:
        report.errors[str(exc)] += 1


def _tally(report: Report, recorder: ScenarioRecorder) -> None:
    """Every case of a finished scenario that reached the mock, and each check's outcome on it."""
    for case_id, node in recorder.cases.items():
        interaction = recorder.interactions.get(case_id)
        if interaction is None:
            continue
        label = node.value.operation.label
        report.case(label, node.value.meta.phase.name if node.value.meta else "?")
        report.requests += 1
        response = interaction.response
        for check in recorder.checks.get(case_id, ()):
            if check.failure_info is None:
                if check.status.name == "SUCCESS":
                    report.passed_check(check.name)
                else:  # the check itself broke: no verdict on the mock, but the run is not complete
                    report.errors[f"{label}: the check {check.name} did not finish"] += 1
                continue
            failure = check.failure_info.failure
            allow = ", ".join(response.headers.get("allow", ())) if response else ""
            sent = interaction.request.body.decode("utf-8", "replace") if interaction.request.body else ""
            body = response.content.decode("utf-8", "replace") if response and response.content else ""
            site = Site(check.name, label, interaction.request.method, interaction.request.uri,
                        response.status_code if response else None, failure.message, allow, sent, body)
            report.failed_check(site, body, failure.title)


# -- a live environment ----------------------------------------------------------------------------------


class BudgetSpent(Exception):
    """The live run's request budget is used up."""


class BudgetedSession(requests.Session):
    """A session that sends at most ``budget`` requests (redirects count), then refuses."""

    def __init__(self, budget: int) -> None:
        super().__init__()
        self.budget, self.sent = budget, 0

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        if self.sent >= self.budget:
            raise BudgetSpent(f"the budget of {self.budget} requests is spent")
        self.sent += 1
        return super().send(request, **kwargs)


def live_budget() -> int:
    return int(os.environ.get(LIVE_BUDGET_ENV) or LIVE_BUDGET)


def run_live(url: str, token: str, *, budget: int | None = None, timeout: float = 10.0) -> Report:
    """One positive and one negative case of every GET operation against ``url``, within the budget."""
    started = time.monotonic()
    schema = load_schema(url).include(method="GET")
    load_all_checks()
    checks = [c for c in CHECKS.get_all() if c.__name__ not in LIVE_EXCLUDED]
    session = BudgetedSession(budget or live_budget())
    report = Report(f"live {url}", _operation_labels(schema), bounded=True)
    report.notes.append(f"GET operations only, at most {session.budget} requests; checks: "
                        + ", ".join(c.__name__ for c in checks))
    headers = {"Authorization": f"Bearer {token}", "User-Agent": LIVE_USER_AGENT}
    try:
        for result in schema.get_all_operations():
            if not isinstance(result, Ok):  # the mock run reports an operation schemathesis cannot load
                continue
            operation = result.ok()
            for mode in MODES if _can_be_invalid(operation.definition.raw) else MODES[:1]:
                case = _one_case(operation.as_strategy(generation_mode=mode))
                if case is None:
                    continue
                try:
                    _live_case(report, case, checks, session, headers, timeout)
                except requests.RequestException as exc:  # BudgetSpent is not one: it ends the run
                    report.errors[f"{operation.label}: {type(exc).__name__}: {exc}"] += 1
    except BudgetSpent as exc:
        report.notes.append(f"{exc}: {len(report.operations)} of {report.operations_total} operations reached")
    report.requests = session.sent
    report.duration = time.monotonic() - started
    return report


def _can_be_invalid(definition: dict[str, Any]) -> bool:
    """Whether a request can break the operation's schema: not if its only parameters are plain string path
    parameters (a path segment is a string whatever it holds), where schemathesis would search long for one."""
    parameters = definition.get("parameters", [])
    return "requestBody" in definition or any(p["in"] != "path" or p.get("schema") != {"type": "string"}
                                              for p in parameters)


def _one_case(strategy: Any) -> Case | None:
    """The first case the strategy draws, deterministically (``None``: it draws none, e.g. nothing to negate)."""
    drawn: list[Case] = []

    @settings(max_examples=1, derandomize=True, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def draw(case: Case) -> None:
        drawn.append(case)

    with contextlib.suppress(Exception):  # an unsatisfiable strategy is an operation without such a case
        draw()
    return drawn[0] if drawn else None


def _live_case(report: Report, case: Case, checks: list[Callable[..., Any]], session: requests.Session,
               headers: dict[str, str], timeout: float) -> None:
    response = case.call(session=session, headers=headers, timeout=timeout)
    report.case(case.operation.label, "live")
    request = response.request
    for check in checks:
        try:
            case.validate_response(response, checks=[check], headers=headers)
        except (AssertionError, FailureGroup) as exc:
            body = response.content.decode("utf-8", "replace")
            for failure in getattr(exc, "exceptions", (exc,)):
                sent = request.body.decode("utf-8", "replace") if isinstance(request.body, bytes) else ""
                site = Site(check.__name__, case.operation.label, str(request.method), str(request.url),
                            response.status_code, str(getattr(failure, "message", failure)),
                            ", ".join(response.headers.get("allow", ())), sent, body)
                report.failed_check(site, body, getattr(failure, "title", ""))
        else:
            report.passed_check(check.__name__)
