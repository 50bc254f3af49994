"""The issue's "done means", shown directly: both official SDKs, unmodified, against the mock's gRPC face.

Each SDK runs in its shipped driver process; the test talks the driver protocol to it and steers the
mock between calls: list and get organizations, a new token after an injected "Token expired", and a
403 surfaced as the SDK's forbidden error. Skipped without the SDKs (``pip install
'scalekit-mock[drivers]'``, ``python -m contract_tests.drivers.install``) unless
``SCALEKIT_REQUIRE_DRIVERS=1`` (CI), which makes a missing SDK a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from contract_tests.client.driver import DriverOutput, DriverProcess
from contract_tests.drivers.catalog import by_key
from mock_server import MockServer

ORGS = "/api/v1/organizations"
FIRST_ORG = "org_59615193906282635"
REQUIRED = os.environ.get("SCALEKIT_REQUIRE_DRIVERS") == "1"


@pytest.fixture(params=["python-sdk", "node-sdk"])
def sdk(request: pytest.FixtureRequest) -> Iterator[tuple[MockServer, DriverProcess]]:
    driver = by_key(request.param)
    missing = driver.missing()
    if missing is not None:
        if REQUIRED:
            pytest.fail(f"{driver.key}: {missing} (SCALEKIT_REQUIRE_DRIVERS=1)")
        pytest.skip(missing)
    with MockServer(grpc=driver.grpc, tls=driver.tls) as mock:
        env = {**mock.env, **mock.trust_env}
        process = DriverProcess(list(driver.argv), env, op_timeout=60, output=DriverOutput(driver.key,
                                                                                          mock.client_secret))
        process.start()
        try:
            yield mock, process
        finally:
            process.close()
        mock.check()


def api_calls(mock: MockServer) -> list[tuple[str, int, str]]:
    return [(e["transport"], e["status"], e["outcome"]) for e in mock.journal(endpoint="api")]


def test_list_and_get_over_grpc(sdk: tuple[MockServer, DriverProcess]) -> None:
    mock, driver = sdk
    assert driver.new_client().succeeded
    listed = driver.call("GET", f"{ORGS}?page_size=10")
    assert listed.succeeded and listed.body["organizations"][0]["id"] == FIRST_ORG
    assert listed.body["total_size"] == 25 and len(listed.body["organizations"]) == 10
    got = driver.call("GET", f"{ORGS}/{FIRST_ORG}")
    assert got.succeeded and got.body["organization"]["display_name"] == "Acme Corp"
    assert api_calls(mock)[-2:] == [("grpc", 200, "ok"), ("grpc", 200, "ok")]


def test_a_new_token_after_an_injected_token_expired(sdk: tuple[MockServer, DriverProcess]) -> None:
    mock, driver = sdk
    assert driver.new_client().succeeded
    assert driver.call("GET", f"{ORGS}?page_size=10").succeeded
    before = len(mock.journal(endpoint="token"))
    mock.add_fault("token_expired", endpoint="api")
    again = driver.call("GET", f"{ORGS}/{FIRST_ORG}")
    assert again.succeeded, again.describe()
    assert len(mock.journal(endpoint="token")) == before + 1  # one new token
    assert api_calls(mock)[-2:] == [("grpc", 401, "token_expired"), ("grpc", 200, "ok")]
    first, retry = (e["token"]["fingerprint"] for e in mock.journal(endpoint="api", status=200)[-2:])
    assert first != retry  # the retry carried the new token


def test_403_is_surfaced_as_forbidden_and_not_retried(sdk: tuple[MockServer, DriverProcess]) -> None:
    mock, driver = sdk
    assert driver.new_client().succeeded
    assert driver.call("GET", f"{ORGS}?page_size=10").succeeded
    mock.add_fault("forbidden", endpoint="api")
    denied = driver.call("GET", f"{ORGS}?page_size=10")
    assert not denied.succeeded and denied.surfaced_status == 403 and denied.error_type == "permission_denied"
    assert "Insufficient permissions" in str(denied.error)
    assert api_calls(mock)[-1] == ("grpc", 403, "forbidden")
    assert driver.call("GET", f"{ORGS}?page_size=10").succeeded  # the client still works
