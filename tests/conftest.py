"""The project's own tests use the same fixtures app developers get (``mock_server.pytest_plugin``)."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: takes seconds, not milliseconds (builds a wheel, starts interpreters)")
