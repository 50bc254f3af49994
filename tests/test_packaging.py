"""The wheel: it ships the fixture data, and a non-editable install finds it.

Slower than the rest (a few seconds): it builds a wheel of the project with pip, then starts the
mock from the unpacked wheel in a separate interpreter. It builds without isolation when the
running interpreter's setuptools can read this pyproject.toml (offline), else pip fetches the
build backend named in ``[build-system]``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURE_FILES = ["token.json", "clients.json", "errors.json", "faults.json", "rate_limit.json", "resources.json",
                 "scalekit-openapi.json", "auth_policies.json", "routes.tsv"]

pytestmark = pytest.mark.slow


def _setuptools_reads_pep639() -> bool:
    """setuptools 77 is the first to accept ``license = "MIT"`` (PEP 639) in pyproject.toml."""
    try:
        major = int(metadata.version("setuptools").split(".")[0])
    except (metadata.PackageNotFoundError, ValueError):
        return False
    return major >= 77


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel built from a copy of the source tree (the build leaves nothing in the checkout)."""
    source = tmp_path_factory.mktemp("source")
    ignore = shutil.ignore_patterns(".git", ".tox", ".hypothesis", "build", "dist", "*.egg-info", "__pycache__",
                                   ".*cache", "node_modules")
    shutil.copytree(ROOT, source, dirs_exist_ok=True, ignore=ignore)
    out = tmp_path_factory.mktemp("wheelhouse")
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--disable-pip-version-check",
               "-w", str(out), str(source)]
    if _setuptools_reads_pep639():
        command.insert(4, "--no-build-isolation")
    done = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    [built] = out.glob("scalekit_mock-*.whl")
    return built


def test_wheel_contains_fixture_data(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in FIXTURE_FILES:
        assert f"mock_server/fixtures/{name}" in names
    assert [n for n in names if n.startswith("mock_server/fixtures/keys/") and n.endswith(".pem")]
    assert "mock_server/__init__.py" in names and "mock_server/web/views/controlapi.py" in names


def test_wheel_declares_plugin_entry_point(wheel: Path) -> None:
    archive = zipfile.ZipFile(wheel)
    [entry_points] = [n for n in archive.namelist() if n.endswith(".dist-info/entry_points.txt")]
    text = archive.read(entry_points).decode()
    assert "[pytest11]" in text and "mock_server.pytest_plugin" in text


INSTALLED_CHECK = """
import json, sys
import requests
import mock_server
from mock_server import MockServer
from mock_server.core.data import fixtures_dir

with MockServer() as server:
    data = {"grant_type": "client_credentials", "client_id": server.client_id, "client_secret": server.client_secret}
    response = requests.post(server.url + "/oauth/token", data=data, timeout=10)
    print(json.dumps({"package": mock_server.__file__, "fixtures": str(fixtures_dir()),
                      "status": response.status_code, "token_type": response.json().get("token_type")}))
"""


def test_unpacked_wheel_serves_tokens(wheel: Path, tmp_path: Path) -> None:
    # Given the wheel unpacked as an installer would, and a working directory far from the checkout
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site)}
    # When a fresh interpreter imports the package from there and asks the mock for a token
    done = subprocess.run([sys.executable, "-c", INSTALLED_CHECK], cwd=elsewhere, env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    # Then the package and its fixtures came from the wheel, not the checkout, and a token was issued
    assert Path(report["package"]).is_relative_to(site.resolve())
    assert Path(report["fixtures"]) == site.resolve() / "mock_server" / "fixtures"
    assert (report["status"], report["token_type"]) == (200, "Bearer")
