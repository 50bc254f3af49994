"""A directory of fixture overrides replaces shipped files of the same name (how a drifted mock is made)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from mock_server import ConfigError, MockConfig, MockServer
from mock_server.cli import main
from mock_server.core.data import fixtures_dir, load_fixtures


def _override_errors(directory: Path, key: str, message: str) -> None:
    errors = json.loads((fixtures_dir() / "errors.json").read_text())
    errors["api"][key]["message"] = message
    (directory / "errors.json").write_text(json.dumps(errors))


def test_override_replaces_only_the_files_it_has(tmp_path: Path) -> None:
    _override_errors(tmp_path, "token_empty", "No token, no entry")
    overridden, shipped = load_fixtures(tmp_path), load_fixtures()
    assert overridden.errors["api"]["token_empty"]["message"] == "No token, no entry"
    assert shipped.errors["api"]["token_empty"]["message"] == "Token empty"
    assert overridden.clients == shipped.clients and overridden.routes == shipped.routes


def test_server_with_override_answers_the_overridden_text(tmp_path: Path) -> None:
    _override_errors(tmp_path, "token_empty", "No token, no entry")
    with MockServer(MockConfig(fixtures_dir=str(tmp_path))) as server:
        answer = requests.get(f"{server.url}/api/v1/organizations", timeout=5)
    assert answer.status_code == 401 and answer.json()["message"] == "No token, no entry"


@pytest.mark.parametrize("content", ['{"not_clients": []}', "[1, 2]", "{not json"])
def test_malformed_override_is_a_config_error(tmp_path: Path, content: str) -> None:
    (tmp_path / "clients.json").write_text(content)
    with pytest.raises(ConfigError):
        load_fixtures(tmp_path)


def test_missing_override_directory_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_fixtures(tmp_path / "nowhere")


def test_cli_serve_with_missing_fixtures_directory_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--port", "0", "--fixtures", str(tmp_path / "nowhere")]) == 2
    assert "does not exist" in capsys.readouterr().err


def _override_token(directory: Path, **changes: object) -> None:
    token = json.loads((fixtures_dir() / "token.json").read_text())
    (directory / "token.json").write_text(json.dumps({**token, **changes}))


def test_token_response_carries_the_fields_the_fixture_lists(tmp_path: Path) -> None:
    # Given a token.json whose response_fields leave out scope (as a live recording might show)
    _override_token(tmp_path, response_fields=["access_token", "token_type", "expires_in"])
    with MockServer(MockConfig(fixtures_dir=str(tmp_path))) as server:
        answer = requests.post(f"{server.url}/oauth/token", timeout=5, data={
            "grant_type": "client_credentials", "client_id": server.client_id, "client_secret": server.client_secret})
        document = requests.get(f"{server.url}/_mock/openapi.json", timeout=5).json()
    # Then the token response has no scope, and the document says so
    assert answer.status_code == 200 and set(answer.json()) == {"access_token", "token_type", "expires_in"}
    schema = document["components"]["schemas"]["TokenResponse"]
    assert "scope" not in schema["properties"] and "scope" not in schema["required"]


def test_shipped_token_response_has_every_documented_field() -> None:
    with MockServer() as server:
        answer = requests.post(f"{server.url}/oauth/token", timeout=5, data={
            "grant_type": "client_credentials", "client_id": server.client_id, "client_secret": server.client_secret})
    assert list(answer.json()) == ["access_token", "token_type", "expires_in", "scope"]


@pytest.mark.parametrize("fields", [["token_type", "expires_in"], ["access_token", "refresh_token"]])
def test_token_response_fields_without_access_token_or_unknown_are_a_config_error(tmp_path: Path,
                                                                                    fields: list[str]) -> None:
    _override_token(tmp_path, response_fields=fields)
    with pytest.raises(ConfigError, match="response_fields"):
        MockServer(MockConfig(fixtures_dir=str(tmp_path)))
