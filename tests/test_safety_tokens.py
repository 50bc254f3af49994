"""Safe to run anywhere: the control token beyond loopback, a signing key of each run's own, tokens only for the
clients the environment knows, and no secret from the environment echoed by ``serve``.

Every request goes to 127.0.0.1; a mock bound to 0.0.0.0 is bound so only for a test's moment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from helpers import ORGS, call_api, get_token, read_lines

from mock_server import MockConfig, MockServer
from mock_server.cli import CONTROL_TOKEN_ENV, build_parser, exports, serve_config
from mock_server.core.bodies import api_error_body
from mock_server.core.clients import Client
from mock_server.core.credentials import CONTROL_TOKEN_HEADER
from mock_server.core.data import fixtures_dir, load_fixtures
from mock_server.core.errors import ConfigError

FIXTURES = load_fixtures(None)
FIXTURE_KID = FIXTURES.token["default_key"]["kid"]
TOKEN = "control-token-for-tests-0123456789"
INVALID_TOKEN = api_error_body(FIXTURES, "invalid_token")


def fixture_private_key() -> rsa.RSAPrivateKey:
    """The key shipped in the package: anyone who installed it holds it."""
    key = serialization.load_pem_private_key(FIXTURES.default_key_pem(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def claims_of(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


# -- the control token -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def exposed() -> Iterator[MockServer]:
    # Bound to every interface for this module's moment; its URL (and every request here) is 127.0.0.1.
    with MockServer(host="0.0.0.0") as mock:
        yield mock


def test_a_bind_beyond_loopback_makes_a_control_token(exposed: MockServer) -> None:
    assert exposed.url.startswith("http://127.0.0.1:")
    assert exposed.control_token is not None and len(exposed.control_token) >= 32
    assert exposed.control_headers == {CONTROL_TOKEN_HEADER: exposed.control_token}
    assert exposed.control_token not in repr(exposed.config)
    assert MockServer(host="0.0.0.0").control_token != exposed.control_token  # one per mock


@pytest.mark.parametrize(("method", "path"), [("GET", "/_mock/state"), ("POST", "/_mock/reset"), ("GET", "/_mock/"),
                                              ("GET", "/_mock/openapi.json"), ("GET", "/_mock/nowhere"),
                                              ("DELETE", "/_mock/state")])
def test_control_plane_without_the_token_is_401_json(exposed: MockServer, method: str, path: str) -> None:
    exposed.advance_clock(5)

    missing = requests.request(method, exposed.url + path, json={}, timeout=10)
    wrong = requests.request(method, exposed.url + path, json={}, timeout=10,
                             headers={CONTROL_TOKEN_HEADER: "not-the-token-but-long-enough"})

    for answer in (missing, wrong):
        assert answer.status_code == 401 and answer.headers["Content-Type"] == "application/json"
        assert set(answer.json()) == {"error"} and CONTROL_TOKEN_HEADER in answer.json()["error"]
        assert answer.headers["WWW-Authenticate"].startswith(CONTROL_TOKEN_HEADER)
    assert "none was sent" in missing.json()["error"] and "not this mock's" in wrong.json()["error"]
    assert "not-the-token" not in wrong.text
    assert exposed.control.clock.offset > 0  # the reset was refused
    exposed.reset()


def test_control_plane_with_the_token_is_served(exposed: MockServer) -> None:
    exposed.advance_clock(5)

    state = requests.get(f"{exposed.url}/_mock/state", headers=exposed.control_headers, timeout=10)
    reset = requests.post(f"{exposed.url}/_mock/reset", json={}, headers=exposed.control_headers, timeout=10)

    assert state.status_code == 200 and state.json()["clock_offset"] == 5
    assert reset.status_code == 200 and exposed.control.clock.offset == 0
    # The CSRF rules still hold with the token; the index and the API ask for none
    assert requests.post(f"{exposed.url}/_mock/reset", data="x", headers=exposed.control_headers,
                         timeout=10).status_code == 415
    assert requests.get(f"{exposed.url}/", timeout=10).status_code == 200
    assert call_api(exposed, get_token(exposed)).status_code == 200


def test_the_control_token_is_never_journaled(exposed: MockServer) -> None:
    exposed.reset()
    token = exposed.control_token
    assert token is not None

    requests.get(exposed.url + ORGS, headers={CONTROL_TOKEN_HEADER: token, "X-Echo": token}, timeout=10)
    requests.get(exposed.url + ORGS, headers={CONTROL_TOKEN_HEADER: "a-wrong-one-but-a-secret-too"}, timeout=10)

    journal = json.dumps(exposed.journal())
    assert token not in journal and "a-wrong-one" not in journal
    assert exposed.journal()[0]["headers"][CONTROL_TOKEN_HEADER.lower()].startswith("fp:")


def test_the_document_of_a_mock_with_a_token_declares_it(exposed: MockServer) -> None:
    document = requests.get(f"{exposed.url}/_mock/openapi.json", headers=exposed.control_headers, timeout=10).json()

    scheme = document["components"]["securitySchemes"]["mockControlToken"]
    assert scheme == {**scheme, "type": "apiKey", "in": "header", "name": CONTROL_TOKEN_HEADER}
    for path, item in document["paths"].items():
        for operation in item.values():
            if path.startswith("/_mock/"):
                assert operation["security"] == [{"mockControlToken": []}] and "401" in operation["responses"], path
            else:
                assert "security" not in operation, path


def test_a_loopback_mock_needs_no_token_and_declares_none(scalekit_mock: MockServer) -> None:
    document = requests.get(f"{scalekit_mock.url}/_mock/openapi.json", timeout=10).json()

    assert scalekit_mock.control_token is None and scalekit_mock.control_headers == {}
    assert "securitySchemes" not in document["components"]
    assert not any("security" in op for path, item in document["paths"].items() if path.startswith("/_mock/")
                   for op in item.values())


def test_a_token_given_on_loopback_is_required_there_too() -> None:
    with MockServer(control_token=TOKEN) as mock:
        assert requests.get(f"{mock.url}/_mock/state", timeout=10).status_code == 401
        assert requests.get(f"{mock.url}/_mock/state", headers={CONTROL_TOKEN_HEADER: TOKEN},
                            timeout=10).status_code == 200
        mock.advance_clock(1)  # its own methods call the control plane in process: no token needed
        assert mock.now() > 0


@pytest.mark.parametrize("token", ["short", "has a space in it, so no", "x" * 513, "tab\tinside-0123456789"])
def test_a_bad_control_token_is_refused_at_start(token: str) -> None:
    with pytest.raises(ConfigError, match="control token"):
        MockConfig(control_token=token)


def test_the_control_token_from_config_file_environment_and_flag(tmp_path: Path) -> None:
    config_file = tmp_path / "mock.json"
    config_file.write_text(json.dumps({"control_token": "from-the-config-file-0123"}), encoding="utf-8")
    parser = build_parser()

    def token_of(words: list[str], environ: dict[str, str]) -> str | None:
        return serve_config(parser.parse_args(["serve", *words]), environ).control_token

    assert token_of([], {}) is None
    assert token_of(["--config", str(config_file)], {}) == "from-the-config-file-0123"
    assert token_of(["--config", str(config_file)], {CONTROL_TOKEN_ENV: TOKEN}) == TOKEN
    assert token_of(["--control-token", "from-the-flag-0123456789", "--config", str(config_file)],
                    {CONTROL_TOKEN_ENV: TOKEN}) == "from-the-flag-0123456789"


# -- the signing key ---------------------------------------------------------------------------------------

CHILD = ("import json, sys; from mock_server import MockServer; from mock_server.core import keys; "
         "mock = MockServer(); made = bool(keys._generated); "
         "print(json.dumps({'made_at_construction': made, 'jwks': mock.control.jwks()}))")


def _child_jwks() -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCALEKIT_")}
    done = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=60, check=True,
                          env=env)
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def test_two_runs_have_different_keys_made_on_first_need() -> None:
    first, second = _child_jwks(), _child_jwks()

    assert not first["made_at_construction"] and not second["made_at_construction"]
    [one], [other] = first["jwks"]["keys"], second["jwks"]["keys"]
    assert one["n"] != other["n"] and one["kid"] != other["kid"]
    for key in (one, other):
        assert key["kid"].startswith(FIXTURES.token["kid_prefix"]) and key["kid"] != FIXTURE_KID
        assert key["kid"][len(FIXTURES.token["kid_prefix"]):].isdigit()


def test_the_mocks_of_one_process_share_its_key() -> None:
    # One RSA generation per process, however many mocks a test suite starts.
    assert MockServer().control.jwks() == MockServer(port=1).control.jwks()


def test_deterministic_mode_signs_with_the_shipped_fixture_key() -> None:
    with MockServer(signing_key="fixture") as mock:
        [published] = requests.get(f"{mock.url}/keys", timeout=10).json()["keys"]
        token = get_token(mock)
        mock.rotate_keys(grace_seconds=0)
        mock.reset()
        after_reset = mock.control.jwks()["keys"]

    public = fixture_private_key().public_key()
    assert published["kid"] == FIXTURE_KID and jwt.get_unverified_header(token)["kid"] == FIXTURE_KID
    assert jwt.decode(token, public, algorithms=["RS256"], options={"verify_aud": False})["sub"] == mock.client_id
    assert [k["kid"] for k in after_reset] == [FIXTURE_KID]  # reset returns to the start key


def test_a_key_file_is_the_start_key_and_reset_returns_to_it() -> None:
    key_file = str(FIXTURES.default_key_path)
    with MockServer(signing_key_file=key_file) as mock:
        start = mock.control.jwks()["keys"]
        rotated = mock.rotate_keys(grace_seconds=0)
        mock.reset()
        assert mock.control.jwks()["keys"] == start and start[0]["kid"] != rotated
    assert start[0]["n"] == MockServer(signing_key="fixture").control.jwks()["keys"][0]["n"]


@pytest.mark.parametrize(("changes", "message"), [
    ({"signing_key": "shared"}, "signing_key must be one of generated, fixture"),
    ({"signing_key": "fixture", "signing_key_file": "key.pem"}, "exclude each other"),
])
def test_bad_signing_key_settings_are_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        MockConfig.from_mapping(changes, MockConfig())


def test_signing_key_flags_reach_the_config() -> None:
    parser = build_parser()

    assert serve_config(parser.parse_args(["serve"]), {}).signing_key == "generated"
    assert serve_config(parser.parse_args(["serve", "--signing-key", "fixture"]), {}).signing_key == "fixture"
    assert serve_config(parser.parse_args(["serve", "--signing-key-file", "k.pem"]), {}).signing_key_file == "k.pem"


def test_a_missing_key_file_fails_the_start_with_a_message() -> None:
    with pytest.raises(ConfigError, match="cannot read signing key file"):
        MockServer(signing_key_file="/nonexistent/key.pem")


# -- tokens the mock could not have issued -----------------------------------------------------------------


def test_a_token_forged_with_the_shipped_fixture_key_is_invalid(scalekit_mock: MockServer) -> None:
    # The shipped key is public: a default mock must not take what it signs, under its kid or the mock's.
    claims = claims_of(get_token(scalekit_mock))
    for kid in (FIXTURE_KID, scalekit_mock.control.keys.current.kid):
        forged = jwt.encode(claims, fixture_private_key(), algorithm="RS256", headers={"kid": kid})

        answer = call_api(scalekit_mock, forged)

        assert (answer.status_code, answer.json()) == (401, INVALID_TOKEN)


def test_a_token_for_an_unknown_client_signed_with_the_mocks_key_is_invalid(scalekit_mock: MockServer) -> None:
    plane = scalekit_mock.control
    stranger = plane.issuer.issue(plane.policy, Client("skc_00000000000000001", "x"), None, plane.now())
    known = plane.issuer.issue(plane.policy, scalekit_mock.default_client, None, plane.now())

    answer = call_api(scalekit_mock, stranger.access_token)

    assert (answer.status_code, answer.json()) == (401, INVALID_TOKEN)
    assert scalekit_mock.journal()[-1]["outcome"] == "invalid_token"
    assert call_api(scalekit_mock, known.access_token).status_code == 200  # the control case


def test_a_removed_clients_tokens_follow_the_rule_for_deleted_clients(scalekit_mock: MockServer) -> None:
    scalekit_mock.put_client({"client_id": "svc_removed", "client_secret": "removed-secret"})
    token = get_token(scalekit_mock, "svc_removed", "removed-secret")
    assert call_api(scalekit_mock, token).status_code == 200

    scalekit_mock.remove_client("svc_removed")

    answer = call_api(scalekit_mock, token)
    assert FIXTURES.resources["organization_clients"]["tokens_of_deleted"] == "rejected"
    assert (answer.status_code, answer.json()) == (401, INVALID_TOKEN)


def test_a_put_clients_tokens_survive_a_reset(scalekit_mock: MockServer) -> None:
    # A reset is no deletion: the client was once the environment's, and its tokens keep their expiry.
    scalekit_mock.put_client({"client_id": "svc_before_reset", "client_secret": "before-reset-secret"})
    token = get_token(scalekit_mock, "svc_before_reset", "before-reset-secret")

    scalekit_mock.reset()

    assert call_api(scalekit_mock, token).status_code == 200


def test_with_valid_until_expiry_a_removed_clients_tokens_keep_working(tmp_path: Path) -> None:
    resources = json.loads((fixtures_dir() / "resources.json").read_text(encoding="utf-8"))
    resources["organization_clients"]["tokens_of_deleted"] = "valid_until_expiry"
    (tmp_path / "resources.json").write_text(json.dumps(resources), encoding="utf-8")
    with MockServer(fixtures_dir=str(tmp_path)) as mock:
        limited = mock.limited_client
        assert limited is not None
        token = get_token(mock, limited.client_id, limited.client_secret)

        mock.remove_client(limited.client_id)

        assert call_api(mock, token).status_code == 200  # organizations:read, its scope
        mock.advance_clock(FIXTURES.token["lifetime_seconds"])
        assert call_api(mock, token).json() == api_error_body(FIXTURES, "token_expired")


# -- serve echoes no secret from the environment -----------------------------------------------------------


def test_serve_prints_no_secret_from_its_environment() -> None:
    secret, control = "test_secret_from_the_environment", "control-token-from-the-environment"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("SCALEKIT_")},
           "SCALEKIT_CLIENT_ID": "skc_22222222222222222", "SCALEKIT_CLIENT_SECRET": secret, CONTROL_TOKEN_ENV: control}
    process = subprocess.Popen([sys.executable, "-m", "mock_server.cli", "serve", "--port", "0", "--quiet"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    watchdog = threading.Timer(60, process.kill)  # a child that never prints ends the reads below with EOF
    watchdog.start()
    try:
        printed = read_lines(process.stdout, until="# the mock's own endpoints")
        told = read_lines(process.stderr, until="# /_mock/ requests need the control token")
        [url] = [line.strip().partition("=")[2] for line in printed
                 if line.startswith("export SCALEKIT_ENVIRONMENT_URL=")]
        assert requests.get(f"{url}/_mock/state", timeout=10).status_code == 401  # given explicitly: required
        assert requests.get(f"{url}/_mock/state", headers={CONTROL_TOKEN_HEADER: control},
                            timeout=10).status_code == 200
    finally:
        watchdog.cancel()
        process.terminate()
        _, rest = process.communicate(timeout=10)
    output = "".join(printed + told) + rest
    assert secret not in output and control not in output
    assert "SCALEKIT_CLIENT_SECRET in this environment (not printed)" in output
    assert f"{CONTROL_TOKEN_ENV} in this environment (not printed)" in output


def test_a_lone_secret_in_the_environment_is_not_echoed() -> None:
    # Without SCALEKIT_CLIENT_ID the mock keeps its built-in client, whose (published) secret it prints.
    environ = {"SCALEKIT_CLIENT_SECRET": "test_lonely_secret_of_the_user"}
    with MockServer(serve_config(build_parser().parse_args(["serve", "--port", "0"]), environ)) as mock:
        lines = exports(mock, environ, None)

    assert not any("test_lonely_secret_of_the_user" in line for line in lines)
    assert f"export SCALEKIT_CLIENT_SECRET={mock.client_secret}" in lines
