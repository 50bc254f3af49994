"""The drivers for three popular Python OAuth libraries (authlib, httpx-auth, requests-oauthlib), judged by the
client suite: each speaks the protocol through its library, passes what the library does right, and fails one
check the library is known to fail. Plus how each driver reads its library's exceptions (no server needed).

A module whose library is not installed (the ``drivers`` extra) is skipped, unless ``SCALEKIT_REQUIRE_DRIVERS=1``
(as CI sets it): then that is a failure, so a broken install cannot pass as a skip.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from importlib.metadata import version

import pytest

from contract_tests.client.results import SuiteReport
from contract_tests.client.runner import run_suite
from contract_tests.driverkit import ClientFailure

REQUIRED = os.environ.get("SCALEKIT_REQUIRE_DRIVERS") == "1"
# Each driver must pass these: a well-formed token request, one cached token for many calls, a 403 surfaced
# as permission_denied without retries, and a rejected secret surfaced as 401/unauthenticated.
PASSING = ["FMT-TOKEN-REQUEST", "CACHE-SEQUENTIAL", "ERR-INVALID-CREDENTIALS", "ERR-FORBIDDEN"]


def needs(*modules: str) -> None:
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing and not REQUIRED:
        pytest.skip(f"needs {', '.join(missing)} (pip install -e '.[drivers]')")
    assert not missing, f"SCALEKIT_REQUIRE_DRIVERS=1 but {', '.join(missing)} cannot be imported"


def driver(module: str) -> str:
    return f"{sys.executable} -m contract_tests.drivers.{module}"


def assert_passed(report: SuiteReport, check_ids: list[str]) -> None:
    for check_id in check_ids:
        result = report.result(check_id)
        assert result.outcome == "passed", f"{check_id}: {result.outcome}\n{result.message}"


def assert_failed_by_the_library(report: SuiteReport, check_id: str, behaviour: str, evidence: str) -> None:
    result = report.result(check_id)
    assert result.outcome == "failed", f"{behaviour}, so {check_id} should fail; it was {result.outcome}: " \
                                       f"{result.message}"
    assert evidence in result.message, f"{check_id} failed, but not for the known reason ({behaviour}):\n" \
                                       f"{result.message}"
    assert "protocol error" not in result.message


# -- authlib ------------------------------------------------------------------------------------
AUTHLIB_FAILURE = "REFRESH-REVOKED"


@pytest.fixture(scope="module")
def authlib_report() -> SuiteReport:
    needs("authlib", "requests")
    return run_suite(driver("authlib_session"), only=[*PASSING, AUTHLIB_FAILURE])


def test_authlib_driver_speaks_the_protocol_as_authlib(authlib_report: SuiteReport) -> None:
    subject = authlib_report.driver
    assert (subject.name, subject.version) == ("authlib OAuth2Session", version("authlib"))
    assert set(subject.capabilities) == {"advance_time", "concurrent"}
    assert_passed(authlib_report, PASSING)


def test_authlib_does_not_refetch_a_token_the_api_refused(authlib_report: SuiteReport) -> None:
    # OAuth2Session re-fetches only a token it believes expired (expires_at - leeway); a 401 "Token expired"
    # for a revoked token comes back as a response and the next call sends the same token again.
    assert_failed_by_the_library(authlib_report, AUTHLIB_FAILURE,
                                 "authlib's OAuth2Session never re-fetches a token on a 401 from the API",
                                 "status 401, type unauthenticated")


def test_authlib_driver_maps_token_endpoint_errors() -> None:
    needs("authlib", "requests")
    from authlib.integrations.base_client import OAuthError, UnsupportedTokenTypeError

    from contract_tests.drivers.authlib_session import AuthlibSessionAdapter

    adapter = AuthlibSessionAdapter()
    assert_failure(adapter.classify(OAuthError("invalid_client", "wrong secret")), 401, "unauthenticated")
    assert_failure(adapter.classify(OAuthError("invalid_scope", "no")), 400, "http")
    assert_failure(adapter.classify(UnsupportedTokenTypeError(description="'access_token'")), None,
                   "invalid_response")
    assert_failure(adapter.classify(ValueError("Token endpoint response is not a JSON object")), None,
                   "invalid_response")


# -- httpx-auth ---------------------------------------------------------------------------------
HTTPX_AUTH_FAILURE = "CACHE-CONCURRENT-COLD"


@pytest.fixture(scope="module")
def httpx_auth_report() -> SuiteReport:
    needs("httpx_auth", "httpx")
    return run_suite(driver("httpx_auth_cc"), only=[*PASSING, HTTPX_AUTH_FAILURE])


def test_httpx_auth_driver_speaks_the_protocol_as_httpx_auth(httpx_auth_report: SuiteReport) -> None:
    subject = httpx_auth_report.driver
    assert (subject.name, subject.version) == ("httpx-auth OAuth2ClientCredentials", version("httpx-auth"))
    assert set(subject.capabilities) == {"advance_time", "concurrent"}
    assert_passed(httpx_auth_report, PASSING)


def test_httpx_auth_fetches_one_token_per_cold_caller(httpx_auth_report: SuiteReport) -> None:
    # TokenMemoryCache.get_token serialises the fetches under a lock but does not look in the cache again once
    # it holds it: every caller that found the cache cold fetches a token of its own, one after another.
    assert_failed_by_the_library(httpx_auth_report, HTTPX_AUTH_FAILURE,
                                 "httpx-auth has no single flight (each cold caller fetches its own token)",
                                 "token requests, expected 1 (no single flight")


def test_httpx_auth_driver_maps_token_endpoint_errors() -> None:
    needs("httpx_auth", "httpx")
    from httpx_auth import GrantNotProvided, InvalidGrantRequest

    from contract_tests.drivers.httpx_auth_cc import HttpxAuthAdapter

    adapter = HttpxAuthAdapter()
    refused = InvalidGrantRequest({"error": "invalid_client", "error_description": "wrong secret"})
    assert_failure(adapter.classify(refused), 401, "unauthenticated")
    unavailable = InvalidGrantRequest({"code": 14, "message": "Service unavailable"})
    assert_failure(adapter.classify(unavailable), None, "http")
    missing = adapter.classify(GrantNotProvided("access_token", {"token_type": "Bearer", "secret": "x"}))
    assert_failure(missing, None, "invalid_response")
    assert "secret" not in missing.message  # the library's message quotes the whole response: not passed on


# -- requests-oauthlib --------------------------------------------------------------------------
REQUESTS_OAUTHLIB_FAILURE = "REFRESH-AFTER-LIFETIME"


@pytest.fixture(scope="module")
def requests_oauthlib_report() -> SuiteReport:
    needs("requests_oauthlib", "oauthlib")
    # oauthlib refuses plain http, and the driver does not relax that: the mock is served over TLS.
    return run_suite(driver("requests_oauthlib_backend"), only=[*PASSING, REQUESTS_OAUTHLIB_FAILURE], tls=True)


def test_requests_oauthlib_driver_speaks_the_protocol_over_tls(requests_oauthlib_report: SuiteReport) -> None:
    subject = requests_oauthlib_report.driver
    assert subject.name == "requests-oauthlib OAuth2Session (BackendApplicationClient)"
    assert subject.version == f"{version('requests-oauthlib')} (oauthlib {version('oauthlib')})"
    assert set(subject.capabilities) == {"advance_time", "concurrent"}
    assert_passed(requests_oauthlib_report, PASSING)


def test_requests_oauthlib_cannot_replace_an_expired_token(requests_oauthlib_report: SuiteReport) -> None:
    # oauthlib refuses to send a token past its expires_at (TokenExpiredError, no request goes out), and the
    # client-credentials flow has no refresh token, so the session never gets a new one by itself.
    assert_failed_by_the_library(requests_oauthlib_report, REQUESTS_OAUTHLIB_FAILURE,
                                 "requests-oauthlib raises TokenExpiredError once expires_in has passed and "
                                 "never fetches a new client-credentials token",
                                 "TokenExpiredError")


def test_requests_oauthlib_driver_maps_token_endpoint_errors() -> None:
    needs("requests_oauthlib", "oauthlib")
    from oauthlib.oauth2 import InsecureTransportError, InvalidClientError, MissingTokenError, TokenExpiredError

    from contract_tests.drivers.requests_oauthlib_backend import RequestsOAuthlibAdapter

    adapter = RequestsOAuthlibAdapter()
    assert_failure(adapter.classify(InvalidClientError(description="wrong secret")), 401, "unauthenticated")
    assert_failure(adapter.classify(MissingTokenError(description="Missing access token parameter.")), None,
                   "invalid_response")
    assert_failure(adapter.classify(TokenExpiredError()), None, "other")
    assert_failure(adapter.classify(InsecureTransportError()), None, "other")


def assert_failure(failure: ClientFailure, status: int | None, kind: str) -> None:
    assert (failure.status, failure.type) == (status, kind), failure.to_json()
