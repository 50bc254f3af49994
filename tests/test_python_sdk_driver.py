"""The driver for Scalekit's official Python SDK (``scalekit-sdk-python``, unmodified), judged by the client
suite over the mock's gRPC face with TLS: what it does right, and one rule it is known to break.

Skipped when the SDK is not installed, unless ``SCALEKIT_REQUIRE_DRIVERS=1`` (as CI sets it): then that
is a failure, so a broken install cannot pass as a skip.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from typing import Any

import pytest

from contract_tests.client.results import SuiteReport
from contract_tests.client.runner import run_suite

REQUIRED = os.environ.get("SCALEKIT_REQUIRE_DRIVERS") == "1"


def _missing(*modules: str) -> list[str]:
    missing = []
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            missing.append(f"{name} ({exc})")
    return missing


MISSING = _missing("scalekit", "grpc", "grpc_status", "google.protobuf.json_format")
if MISSING and not REQUIRED:
    pytest.skip(f"the Python SDK driver needs scalekit-sdk-python installed (missing: {', '.join(MISSING)}); "
                f"pip install -e '.[drivers]'", allow_module_level=True)

DRIVER = f"{sys.executable} -m contract_tests.drivers.python_sdk"
# What the issue asks of the SDK, and one SHOULD it is known to break (it never reads expires_in).
PASSING = ["FMT-BEARER-HEADER", "CACHE-SEQUENTIAL", "REFRESH-REVOKED", "ERR-FORBIDDEN"]
KNOWN_FAILURE = "REFRESH-BEFORE-EXPIRY"
SECRET_REDIRECTED, TOKEN_REDIRECTED = "SEC-SECRET-NOT-REDIRECTED", "SEC-TOKEN-NOT-REDIRECTED"


def test_the_sdk_is_installed() -> None:
    # Reached with the SDK installed (passes), or missing under SCALEKIT_REQUIRE_DRIVERS=1 (fails).
    assert not MISSING, f"SCALEKIT_REQUIRE_DRIVERS=1 but {', '.join(MISSING)} cannot be imported"


@pytest.fixture(scope="module")
def report() -> SuiteReport:
    """One run of the checks this module asserts on, over gRPC with TLS (one driver process per check)."""
    if MISSING:
        pytest.fail(f"SCALEKIT_REQUIRE_DRIVERS=1 but {', '.join(MISSING)} cannot be imported")
    return run_suite(DRIVER, only=[*PASSING, KNOWN_FAILURE, SECRET_REDIRECTED, TOKEN_REDIRECTED], grpc=True, tls=True)


def test_driver_says_hello_as_the_sdk_with_its_version(report: SuiteReport) -> None:
    driver = report.driver
    assert getattr(driver, "name", None) == "scalekit-sdk-python"
    assert getattr(driver, "version", None) == "2.21.0"
    assert set(getattr(driver, "capabilities", ())) == {"advance_time", "concurrent"}


@pytest.mark.parametrize("check_id", PASSING)
def test_the_sdk_passes(report: SuiteReport, check_id: str) -> None:
    # CACHE-SEQUENTIAL / FMT-BEARER-HEADER: list calls on the token fetched in the constructor.
    # REFRESH-REVOKED: UNAUTHENTICATED "Token expired" -> grpc_exec re-authenticates and retries once.
    # ERR-FORBIDDEN: PERMISSION_DENIED surfaces as 403/permission_denied, not retried.
    result = report.result(check_id)
    assert result.outcome == "passed", f"{check_id}: {result.outcome}\n{result.message}"


def test_the_sdk_sends_its_token_until_the_server_refuses_it(report: SuiteReport) -> None:
    # The SDK never reads expires_in and keeps no expiry: after expires_in has passed on both clocks it still
    # sends the first token, and refreshes only when the mock answers 16 UNAUTHENTICATED "Token expired".
    result = report.result(KNOWN_FAILURE)
    assert result.outcome == "failed", (
        f"scalekit-sdk-python 2.21.0 keeps its token until the server refuses it (no expires_in tracking), so "
        f"{KNOWN_FAILURE} should fail; it was {result.outcome}: {result.message}")
    assert "still carried the first token" in result.message
    assert "OrganizationService/ListOrganization" in result.message  # the calls went over gRPC, as the SDK's do
    assert "protocol error" not in result.message


# -- how the driver reads the SDK's exceptions (no server needed) ---------------------------------
SECRET = "test_s3cretValueThatMustNeverBeShown00"
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJza2NfMSJ9.c2lnbmF0dXJl"


def sdk_error(code_name: str, details: str) -> BaseException:
    """What the SDK raises for a gRPC status the server (or grpc-core) gave, built by the SDK itself."""
    import grpc
    from scalekit.common.exceptions import ScalekitServerException

    class FakeRpcError(grpc.RpcError):
        def code(self) -> Any:
            return getattr(grpc.StatusCode, code_name)

        def details(self) -> str:
            return details

        def trailing_metadata(self) -> Any:
            return None

    return ScalekitServerException.promote(FakeRpcError())  # type: ignore[no-any-return]


def adapter() -> Any:
    from contract_tests.drivers.python_sdk import PythonSdkAdapter

    made = PythonSdkAdapter()
    made.secret = SECRET
    return made


@pytest.mark.parametrize(("code", "details", "status", "kind"), [
    ("UNAUTHENTICATED", "Token expired", 401, "unauthenticated"),
    ("PERMISSION_DENIED", "Insufficient permissions", 403, "permission_denied"),
    ("UNAVAILABLE", "Service unavailable", 503, "http"),
    ("RESOURCE_EXHAUSTED", "Too many requests", 429, "http"),
    ("NOT_FOUND", "Organization not found", 404, "http"),
    ("DEADLINE_EXCEEDED", "Deadline Exceeded", None, "timeout"),
    ("UNAVAILABLE", "failed to connect to all addresses; last error: Connection refused", None, "transport"),
])
def test_grpc_status_maps_to_the_protocol_error(code: str, details: str, status: int | None, kind: str) -> None:
    failure = adapter().classify(sdk_error(code, details))
    assert (failure.status, failure.type) == (status, kind)
    assert code in failure.message and details.split(";")[0] in failure.message


def test_token_endpoint_refusal_is_unauthenticated_and_messages_carry_no_credentials() -> None:
    from requests.models import Response
    from scalekit.common.exceptions import ScalekitServerException

    response = Response()
    response.status_code, response.reason = 401, "Unauthorized"
    response._content = b'{"error": "invalid_client", "error_description": "Invalid credentials"}'
    failure = adapter().classify(ScalekitServerException.promote(response))
    assert (failure.status, failure.type) == (401, "unauthenticated")
    assert "Invalid credentials" in failure.message
    leaky = adapter().classify(sdk_error("UNAUTHENTICATED", f"bad {SECRET} Bearer {JWT} {JWT}"))
    assert SECRET not in leaky.message and JWT not in leaky.message and "eyJ" not in leaky.message


def test_paths_other_than_the_two_organization_reads_are_unsupported() -> None:
    from contract_tests.driverkit import ClientFailure

    with pytest.raises(ClientFailure) as caught:
        adapter().call(object(), "POST", "/api/v1/organizations", {"display_name": "x"})
    assert caught.value.type == "unsupported"


def test_the_sdk_re_posts_its_secret_to_where_the_token_endpoint_redirects(report: SuiteReport) -> None:
    # Its token request is requests.post, which follows a 307 with the same body: the form, secret included.
    result = report.result(SECRET_REDIRECTED)
    assert result.outcome == "failed", f"{SECRET_REDIRECTED}: {result.outcome}\n{result.message}"
    assert re.search(r"POST https://127\.0\.0\.1:\d+/oauth/token -> 404 second_origin, carried the client secret",
                     result.message), result.message


def test_an_api_redirect_cannot_apply_to_the_sdks_grpc_calls(report: SuiteReport) -> None:
    result = report.result(TOKEN_REDIRECTED)
    assert (result.outcome, result.not_applicable) == ("skipped", True), result.message
    assert "over gRPC, which has no redirects" in result.message
    assert TOKEN_REDIRECTED not in [r.id for r in report.not_run]  # a skip by design leaves no run incomplete
