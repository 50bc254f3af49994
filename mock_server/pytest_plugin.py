"""pytest fixtures for app developers: a mock Scalekit environment per test session.

``scalekit_mock`` is the running ``MockServer``, reset before each test; ``scalekit_env`` also sets
``SCALEKIT_ENVIRONMENT_URL``, ``SCALEKIT_CLIENT_ID`` and ``SCALEKIT_CLIENT_SECRET`` for the test.
Override ``scalekit_mock_config`` in your conftest to configure the server.

pytest loads this module in every run of an environment where the package is installed: it imports the
server only when a fixture is used.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .core.config import MockConfig
    from .server import MockServer


@pytest.fixture(scope="session")
def scalekit_mock_config() -> MockConfig:
    """The configuration of the session's mock; override it in a conftest to change clients etc."""
    from .core.config import MockConfig

    return MockConfig()


@pytest.fixture(scope="session")
def scalekit_mock_server(scalekit_mock_config: MockConfig) -> Iterator[MockServer]:
    """The session's mock server, started once (use ``scalekit_mock`` in tests: it resets it)."""
    from .server import MockServer

    with MockServer(scalekit_mock_config) as server:
        yield server


@pytest.fixture
def scalekit_mock(scalekit_mock_server: MockServer) -> Iterator[MockServer]:
    """The mock, reset to its initial state; errors inside the server fail the test."""
    scalekit_mock_server.reset()
    yield scalekit_mock_server
    scalekit_mock_server.check()


@pytest.fixture
def scalekit_env(scalekit_mock: MockServer, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Set the three ``SCALEKIT_*`` variables to point at the mock for this test (with TLS also the variables
    that make Python, requests, grpcio and Node trust its CA); returns them."""
    env = {**scalekit_mock.env, **scalekit_mock.trust_env}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env
