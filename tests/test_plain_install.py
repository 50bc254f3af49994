"""Every documented command works from a plain ``pip install`` of the wheel, with no extras.

tox's environment has the ``test`` and ``drivers`` extras, so a green run there could hide a package that
only works with them. These tests run the README's commands from a separate virtualenv holding nothing but
a plain install of this checkout's wheel: ``bash .ci/plain-venv DIR`` makes one (``.ci/run`` does, and passes
it on as ``SCALEKIT_PLAIN_VENV``). Making it needs the package index, so the tests only use it: without
one they are skipped, except in CI, where that is a failure.
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import read_lines
from redis_server import RedisServer

from contract_tests.client.checks import IDS

ROOT = Path(__file__).resolve().parent.parent
VENV_VARIABLE = "SCALEKIT_PLAIN_VENV"
# What only the extras bring: none of it may be in a plain install.
EXTRAS_ONLY = ("openapi-spec-validator", "scalekit-sdk-python", "authlib", "httpx-auth", "requests-oauthlib")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def venv() -> Path:
    named = os.environ.get(VENV_VARIABLE)
    if not named:
        if os.environ.get("CI"):
            pytest.fail(f"{VENV_VARIABLE} is not set: .ci/run makes the plain-install virtualenv", pytrace=False)
        pytest.skip(f"no plain install to check: bash .ci/plain-venv DIR, then {VENV_VARIABLE}=DIR")
    path = Path(named)
    assert (path / "bin" / "python").is_file(), f"{VENV_VARIABLE}={named} is not a virtualenv"
    return path


def run(venv: Path, *argv: str, cwd: Path | None = None, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """A command of the virtualenv, with its ``bin`` ahead on PATH (so ``python`` in a driver command is its), run
    away from the checkout (by default in the virtualenv's folder), which would otherwise be first on sys.path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCALEKIT_", "PYTHON", "VIRTUAL_ENV"))}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(list(argv), cwd=cwd or venv, env=env, capture_output=True, text=True, timeout=timeout,
                          check=False)


def test_the_plain_install_is_this_checkout_without_extras(venv: Path) -> None:
    # The installed modules are the checkout's (a stale virtualenv would test old code) ...
    where = run(venv, "python", "-c", "import mock_server, contract_tests; print(mock_server.__file__); "
                "print(contract_tests.__file__)")
    assert where.returncode == 0, where.stderr
    for installed in where.stdout.split():
        package = Path(installed).parent
        assert not package.is_relative_to(ROOT), f"{package} is the checkout, not an install"
        for source in (ROOT / package.name).rglob("*.py"):
            twin = package / source.relative_to(ROOT / package.name)
            assert twin.is_file() and _digest(twin) == _digest(source), f"{twin} differs from the checkout"
    # ... and nothing an extra brings is there.
    listed = run(venv, "python", "-m", "pip", "list", "--format=freeze").stdout.lower()
    assert not [name for name in EXTRAS_ONLY if f"{name}==" in listed]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_both_commands_answer_help_and_version(venv: Path) -> None:
    for command in ("scalekit-mock", "scalekit-conformance"):
        for flag in ("--help", "--version"):
            done = run(venv, command, flag)
            assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert run(venv, "scalekit-conformance", "--version").stdout.startswith("scalekit-conformance 0.")


def test_the_client_suite_passes_the_reference_driver_strictly(venv: Path) -> None:
    done = run(venv, "scalekit-conformance", "client", "--driver", "python -m contract_tests.drivers.reference",
               "--strict")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    # Every check ran: none skipped (time-machine, which moves the driver's clock, came with the package)
    checks = len(IDS)
    assert re.search(rf"^{checks} passed, 0 failed, 0 skipped, 0 error\(s\) .*: conforming", done.stdout, re.M), \
        done.stdout
    assert len([line for line in done.stderr.splitlines() if line.startswith("[")]) == checks  # progress, per check


def test_the_provider_suite_passes_against_the_mock(venv: Path) -> None:
    done = run(venv, "scalekit-conformance", "provider")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert ": conforming, exit code 0" in done.stdout and " 0 skipped" in done.stdout


def test_a_driver_needing_the_drivers_extra_says_so_in_one_line(venv: Path) -> None:
    done = run(venv, "scalekit-conformance", "client", "--grpc", "--tls", "--driver",
               "python -m contract_tests.drivers.python_sdk", "--only", "CACHE-SEQUENTIAL")
    assert done.returncode == 2
    assert "Traceback" not in done.stdout + done.stderr
    [line] = done.stderr.strip().splitlines()
    assert "needs the 'drivers' extra: pip install 'scalekit-mock[drivers]'" in line


@pytest.fixture
def served(venv: Path) -> Iterator[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCALEKIT_")}
    process = subprocess.Popen([str(venv / "bin" / "scalekit-mock"), "serve", "--port", "0", "--quiet"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert process.stdout is not None
    url = ""
    for line in process.stdout:
        url = line.removeprefix("export SCALEKIT_ENVIRONMENT_URL=").strip() if "ENVIRONMENT_URL=" in line else url
        if line.startswith("# the mock's own endpoints"):
            break
    try:
        assert url.startswith("http://127.0.0.1:"), process.communicate(timeout=10)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=10)
    assert process.returncode == 0


def test_token_command_gets_a_token_from_a_served_mock(venv: Path, served: str) -> None:
    done = run(venv, "scalekit-mock", "token", "--url", served)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count(".") == 2 and done.stdout.startswith("eyJ")


def readme_fixture_example() -> str:
    """The README's example of testing an application with the fixtures, as the README has it."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    [example] = [block for block in blocks if "def test_lists_organizations" in block]
    return example


def test_readme_fixture_example_and_a_users_own_tests_pass(venv: Path, tmp_path: Path) -> None:
    # Given the README's example verbatim, and a test of the user's that has nothing to do with Scalekit
    (tmp_path / "test_readme_example.py").write_text(readme_fixture_example(), encoding="utf-8")
    (tmp_path / "test_unrelated.py").write_text("def test_arithmetic():\n    assert 1 + 1 == 2\n", encoding="utf-8")
    # When pytest runs them in the plain install
    done = run(venv, "python", "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=tmp_path)
    # Then all pass, and the plugins loaded without a word
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert re.search(r"^3 passed", done.stdout, re.M), done.stdout
    assert "plugin" not in done.stdout.lower() + done.stderr.lower()


def test_loading_the_pytest_plugins_imports_nothing_heavy(venv: Path) -> None:
    heavy = ("flask", "uvicorn", "zttp", "jwt", "cryptography", "hypothesis", "schemathesis", "httpx",
             "mock_server.server", "contract_tests.client.runner")
    code = ("import sys, mock_server.pytest_plugin, contract_tests.pytest_plugin; "
            f"print(sorted(m for m in {heavy!r} if m in sys.modules))")
    done = run(venv, "python", "-c", code)
    assert (done.returncode, done.stdout.strip()) == (0, "[]"), done.stderr


def test_pytest_pyargs_with_a_driver_collects_only_the_client_checks(venv: Path, tmp_path: Path) -> None:
    done = run(venv, "python", "-m", "pytest", "-p", "no:cacheprovider", "-q", "--pyargs", "contract_tests",
               "--scalekit-driver", "python -m contract_tests.drivers.reference",
               "--scalekit-only", "CACHE-SEQUENTIAL", cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:]
    # One check selected and passed, the other client checks skipped, the mock's own tests deselected
    assert re.search(rf"^1 passed, {len(IDS) - 1} skipped, \d+ deselected", done.stdout, re.M), done.stdout[-1500:]


def test_serve_with_workers_and_a_shared_state_works_from_the_plain_install(venv: Path) -> None:
    """The README's "Running it for a team or a load test": redis-py came with the package."""
    store = RedisServer().start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCALEKIT_")}
    process = subprocess.Popen([str(venv / "bin" / "scalekit-mock"), "serve", "--port", "0", "--quiet", "--state",
                                store.url, "--workers", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=env)
    try:
        lines = read_lines(process.stdout, "# the mock's own endpoints")
        assert any(line.startswith("# 2 worker processes") for line in lines), lines
        url = next(line.split("=", 1)[1].strip() for line in lines if "ENVIRONMENT_URL=" in line)
        token = run(venv, "scalekit-mock", "token", "--url", url)
        assert token.returncode == 0 and token.stdout.startswith("eyJ"), token.stderr
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=20)
        store.remove()
    assert process.returncode == 0
