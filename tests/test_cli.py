"""``scalekit-mock``: serve (exports, one redacted log line per request, clean stop), token, usage errors."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from mock_server.cli import main


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_serve(*args: str, env: dict[str, str] | None = None,
                printed: list[str] | None = None) -> tuple[subprocess.Popen[str], dict[str, str]]:
    """Start ``scalekit-mock serve`` and read its export lines (it prints them once it listens; the line naming
    the control plane comes last). ``printed`` gets every line."""
    process = subprocess.Popen([sys.executable, "-m", "mock_server.cli", "serve", *args], text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env={**os.environ, **(env or {})})
    exports: dict[str, str] = {}
    assert process.stdout is not None
    while True:
        line = process.stdout.readline()
        if not line:
            raise AssertionError(f"serve exited early: {process.communicate()[1]}")
        if printed is not None:
            printed.append(line)
        match = re.match(r"export (SCALEKIT_\w+)=(.*)$", line.strip())
        if match:
            exports[match.group(1)] = match.group(2)
        if line.startswith("# the mock's own endpoints"):
            return process, exports


@pytest.fixture
def served() -> Iterator[tuple[subprocess.Popen[str], dict[str, str]]]:
    process, exports = start_serve("--port", str(free_port()))
    yield process, exports
    if process.poll() is None:
        process.kill()
        process.communicate()


def test_serve_prints_exports_that_work_and_stops_cleanly_on_sigterm(
        served: tuple[subprocess.Popen[str], dict[str, str]]) -> None:
    process, exports = served
    url = exports["SCALEKIT_ENVIRONMENT_URL"]
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
    token = requests.post(f"{url}/oauth/token", timeout=10, data={
        "grant_type": "client_credentials", "client_id": exports["SCALEKIT_CLIENT_ID"],
        "client_secret": exports["SCALEKIT_CLIENT_SECRET"]}).json()["access_token"]
    assert requests.get(f"{url}/api/v1/organizations", headers={"Authorization": f"Bearer {token}"},
                        timeout=10).status_code == 200
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=10)
    assert process.returncode == 0
    # Given two requests, the log has one line each, with fingerprints and never the secret or the token.
    lines = [line for line in err.splitlines() if " /oauth/token " in line or " /api/v1/" in line]
    assert len(lines) == 2, err
    assert re.search(r"POST /oauth/token 200 issued client=skc_\d+ token=fp:[0-9a-f]{12}", lines[0])
    assert "GET /api/v1/organizations 200 ok" in lines[1]
    assert exports["SCALEKIT_CLIENT_SECRET"] not in err and token not in err


def test_serve_log_escapes_control_characters_of_a_request(
        served: tuple[subprocess.Popen[str], dict[str, str]]) -> None:
    # Given a request whose path holds an encoded newline and an ANSI escape (a forged log line, a repainted terminal)
    process, exports = served
    requests.get(exports["SCALEKIT_ENVIRONMENT_URL"] + "/api/v1/x%0a2026-01-01T00:00:00Z%20POST%20/oauth/token%20200"
                 "%1b[2J", timeout=10)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=10)
    # Then the log has one line for it, with the control characters escaped
    [line] = [line for line in err.splitlines() if "/api/v1/x" in line]
    assert "/api/v1/x\\x0a2026-01-01T00:00:00Z POST /oauth/token 200\\x1b[2J" in line
    assert "\x1b" not in err and not any(line.startswith("2026-01-01T00:00:00Z") for line in err.splitlines())


def test_serve_takes_its_client_from_the_environment() -> None:
    env = {"SCALEKIT_CLIENT_ID": "skc_11111111111111111", "SCALEKIT_CLIENT_SECRET": "test_from_the_env"}
    printed: list[str] = []
    process, exports = start_serve("--port", str(free_port()), "--quiet", env=env, printed=printed)
    try:
        assert exports["SCALEKIT_CLIENT_ID"] == env["SCALEKIT_CLIENT_ID"]
        # The secret came from the environment: it is the user's, never echoed (it would land in CI logs).
        assert "SCALEKIT_CLIENT_SECRET" not in exports and env["SCALEKIT_CLIENT_SECRET"] not in "".join(printed)
        assert any("SCALEKIT_CLIENT_SECRET in this environment (not printed)" in line for line in printed)
        answer = requests.post(f"{exports['SCALEKIT_ENVIRONMENT_URL']}/oauth/token", timeout=10, data={
            "grant_type": "client_credentials", **{k.lower()[9:]: v for k, v in env.items()}})
        assert answer.status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=10)
    assert process.returncode == 0


def test_token_command_prints_a_token_of_the_running_mock(
        served: tuple[subprocess.Popen[str], dict[str, str]], capsys: pytest.CaptureFixture[str]) -> None:
    _, exports = served
    assert main(["token", "--url", exports["SCALEKIT_ENVIRONMENT_URL"]]) == 0
    token = capsys.readouterr().out.strip()
    assert token.count(".") == 2 and token.startswith("eyJ")
    assert main(["token", "--url", exports["SCALEKIT_ENVIRONMENT_URL"], "--json", "--scope", "organizations:read"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["scope"] == "organizations:read" and body["token_type"] == "Bearer"


@pytest.mark.parametrize(("argv", "message"), [
    (["token", "--url", "http://127.0.0.1:1"], "cannot reach"),
    (["token", "--url", "ftp://example"], "must be an http(s) URL"),
    (["serve", "--port", "70000"], "port must be from 0 to 65535"),
    (["serve", "--token-lifetime", "1"], "token lifetime"),
])
def test_cli_errors_are_one_line_and_exit_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_token_command_with_a_wrong_secret_says_so(served: tuple[subprocess.Popen[str], dict[str, str]],
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    _, exports = served
    assert main(["token", "--url", exports["SCALEKIT_ENVIRONMENT_URL"], "--client-secret", "wrong"]) == 2
    assert "401 Unauthorized" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--help"], ["serve", "--help"], ["token", "--help"]])
def test_help_exits_0(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 0 and "usage: scalekit-mock" in capsys.readouterr().out


def test_bad_option_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["serve", "--no-such-option"])
    assert stop.value.code == 2 and "unrecognized arguments" in capsys.readouterr().err


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "cannot read config file"),
    ('{"port": "8080"}', "'port' has the wrong type"),
    ('{"colour": "blue"}', "unknown field(s): colour"),
    ('{"clients": [{"client_id": "x"}]}', "client_secret"),
])
def test_bad_config_file_exits_2(tmp_path: Path, content: str, message: str,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "mock.json"
    config.write_text(content)
    assert main(["serve", "--config", str(config)]) == 2
    assert message in capsys.readouterr().err


def test_config_file_sets_clients_and_lifetime(tmp_path: Path) -> None:
    config = tmp_path / "mock.json"
    config.write_text(json.dumps({"token_lifetime": 300, "clients": [
        {"client_id": "skc_22222222222222222", "client_secret": "test_config_secret"}]}))
    port = free_port()
    process, exports = start_serve("--config", str(config), "--port", str(port), "--quiet")
    try:
        assert exports["SCALEKIT_CLIENT_ID"] == "skc_22222222222222222"
        body = requests.post(f"http://127.0.0.1:{port}/oauth/token", timeout=10, data={
            "grant_type": "client_credentials", "client_id": "skc_22222222222222222",
            "client_secret": "test_config_secret"}).json()
        assert body["expires_in"] == 299
    finally:
        process.terminate()
        process.communicate(timeout=10)
    assert process.returncode == 0


def test_bench_options_reach_the_benchmark(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--help"]) == 0
    assert "--quick" in capsys.readouterr().out
    assert main(["bench", "--no-such-option"]) == 2
    assert "unrecognized arguments: --no-such-option" in capsys.readouterr().err


class _StuckStream:
    """A stderr whose reader has stopped reading: every write waits until ``reading`` is set."""

    def __init__(self) -> None:
        self.reading, self.waiting = threading.Event(), threading.Event()
        self.text: list[str] = []

    def write(self, text: str) -> int:
        self.waiting.set()
        self.reading.wait(30)
        self.text.append(text)
        return len(text)

    def flush(self) -> None:
        pass


def test_the_request_log_never_holds_up_a_request_and_counts_what_it_could_not_write(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from mock_server.cli import RequestLog
    from mock_server.core.journal import JournalEntry

    stream = _StuckStream()
    monkeypatch.setattr(sys, "stderr", stream)
    log = RequestLog(limit=3)

    def entry(n: int) -> JournalEntry:
        return JournalEntry(seq=n, time=0.0, method="GET", path=f"/api/v1/{n}", query={}, headers={}, form=None,
                            endpoint="api", transport="http", status=200, outcome="ok")

    log(entry(0))
    assert stream.waiting.wait(10)  # its line is being written, and the writing waits
    done = threading.Event()
    threading.Thread(target=lambda: ([log(entry(n)) for n in range(1, 10)], done.set()), daemon=True).start()
    # Then nine more requests are logged at once though nothing is being written
    assert done.wait(10)
    stream.reading.set()
    log.close()
    written = "".join(stream.text)
    # The first line was being written, three waited; the other six are counted, then the lines go on
    assert written.count("GET /api/v1/") == 4, written
    assert "# 6 request lines not written: the log was not read fast enough" in written
    assert log.blocks is False  # so that serve's API calls may still be answered on the event loop
