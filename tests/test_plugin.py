"""The pytest plugin as an app developer meets it: run their test files with ``pytester``.

The inner runs are in-process: the plugin arrives through its ``pytest11`` entry point, as it does
for anyone who installed the package; each inner session starts and stops its own mock.
"""

from __future__ import annotations

import pytest

ENV_VARS = ("SCALEKIT_ENVIRONMENT_URL", "SCALEKIT_CLIENT_ID", "SCALEKIT_CLIENT_SECRET")


@pytest.fixture
def developer(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A developer's project directory, with none of the ``SCALEKIT_*`` variables set beforehand."""
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    return pytester


APP_TESTS = '''
import os

import requests


def get_token():
    data = {"grant_type": "client_credentials", "client_id": os.environ["SCALEKIT_CLIENT_ID"],
            "client_secret": os.environ["SCALEKIT_CLIENT_SECRET"]}
    return requests.post(os.environ["SCALEKIT_ENVIRONMENT_URL"] + "/oauth/token", data=data, timeout=10)


def test_first_moves_everything(scalekit_env, scalekit_mock):
    assert scalekit_env["SCALEKIT_ENVIRONMENT_URL"] == os.environ["SCALEKIT_ENVIRONMENT_URL"] == scalekit_mock.url
    assert scalekit_mock.url.startswith("http://127.0.0.1:")
    assert os.environ["SCALEKIT_CLIENT_ID"] == scalekit_mock.client_id
    assert get_token().status_code == 200
    scalekit_mock.add_fault("status", endpoint="token", preset="unavailable", count=5)
    scalekit_mock.advance_clock(100_000)
    scalekit_mock.put_client({"client_id": scalekit_mock.client_id, "client_secret": "changed"})
    assert get_token().status_code == 503


def test_second_starts_clean(scalekit_env, scalekit_mock):
    assert scalekit_mock.control.clock.offset == 0
    assert scalekit_mock.control.list_faults() == []
    assert scalekit_mock.journal() == []
    response = get_token()
    assert response.status_code == 200
    token = response.json()["access_token"]
    api = requests.get(scalekit_mock.url + "/api/v1/organizations", timeout=10,
                       headers={"Authorization": "Bearer " + token})
    assert api.status_code == 200


def test_third_without_env_sees_no_variables(scalekit_mock):
    assert not [name for name in {names!r} if name in os.environ]
'''


def test_plugin_env_and_reset_between_tests(developer: pytest.Pytester) -> None:
    developer.makepyfile(test_app=APP_TESTS.replace("{names!r}", repr(ENV_VARS)))
    result = developer.runpytest_inprocess("-v", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*test_first_moves_everything PASSED*", "*test_second_starts_clean PASSED*",
                                 "*test_third_without_env_sees_no_variables PASSED*"])


CONFIGURED_CONFTEST = '''
import pytest

from mock_server import Client, MockConfig


@pytest.fixture(scope="session")
def scalekit_mock_config():
    return MockConfig(token_lifetime=120, clients=(Client("app_client", "app-secret"),))
'''

CONFIGURED_TESTS = '''
import jwt
import requests


def test_configured_server(scalekit_env, scalekit_mock):
    assert scalekit_env["SCALEKIT_CLIENT_ID"] == "app_client"
    assert scalekit_env["SCALEKIT_CLIENT_SECRET"] == "app-secret"
    data = {"grant_type": "client_credentials", "client_id": "app_client", "client_secret": "app-secret"}
    response = requests.post(scalekit_mock.url + "/oauth/token", data=data, timeout=10)
    assert response.status_code == 200
    assert response.json()["expires_in"] == 119
    claims = jwt.decode(response.json()["access_token"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 120
'''


def test_plugin_config_overridden_in_conftest(developer: pytest.Pytester) -> None:
    developer.makeconftest(CONFIGURED_CONFTEST)
    developer.makepyfile(test_configured=CONFIGURED_TESTS)
    result = developer.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


TLS_CONFTEST = '''
import pytest

from mock_server import MockConfig


@pytest.fixture(scope="session")
def scalekit_mock_config():
    return MockConfig(tls=True, grpc=True)
'''

TLS_TESTS = '''
import os

import requests


def test_the_app_reaches_the_https_mock_from_the_environment(scalekit_env, scalekit_mock):
    url = os.environ["SCALEKIT_ENVIRONMENT_URL"]
    assert url.startswith("https://") and os.environ["REQUESTS_CA_BUNDLE"] == scalekit_mock.ca_file
    assert os.environ["GRPC_DEFAULT_SSL_ROOTS_FILE_PATH"] == scalekit_env["SSL_CERT_FILE"] == scalekit_mock.ca_file
    data = {"grant_type": "client_credentials", "client_id": os.environ["SCALEKIT_CLIENT_ID"],
            "client_secret": os.environ["SCALEKIT_CLIENT_SECRET"]}
    assert requests.post(url + "/oauth/token", data=data, timeout=10).status_code == 200  # CA from the env


def test_without_scalekit_env_nothing_is_set():
    assert "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH" not in os.environ
'''


def test_plugin_tls_session_sets_the_trust_variables(developer: pytest.Pytester,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH", "NODE_EXTRA_CA_CERTS"):
        monkeypatch.delenv(name, raising=False)
    developer.makeconftest(TLS_CONFTEST)
    developer.makepyfile(test_tls=TLS_TESTS)
    result = developer.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


SERVER_ERROR_TESTS = '''
import requests


def test_server_breaks(scalekit_mock, monkeypatch):
    def broken():
        raise RuntimeError("boom inside the mock")

    monkeypatch.setitem(scalekit_mock.app.view_functions, "discovery.jwks", broken)
    response = requests.get(scalekit_mock.url + "/keys", timeout=10)
    assert response.status_code == 500  # the client sees a clean 500; the test fails at teardown


def test_next_test_unaffected(scalekit_mock):
    assert requests.get(scalekit_mock.url + "/keys", timeout=10).status_code == 200
'''


def test_plugin_server_error_fails_test_at_teardown(developer: pytest.Pytester) -> None:
    developer.makepyfile(test_broken=SERVER_ERROR_TESTS)
    result = developer.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*ERROR at teardown of test_server_breaks*", "*ServerError*boom inside the mock*"])
