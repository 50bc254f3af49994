"""scalekit-mock: a faithful local mock of a Scalekit environment's machine-to-machine authentication.

The public names are imported when first used, so that loading the pytest plugin (``mock_server.pytest_plugin``,
which every pytest run of an environment with the package installed loads) imports nothing heavy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .core.clients import Client
    from .core.config import MockConfig
    from .core.control import ControlPlane
    from .core.data import Fixtures, load_fixtures
    from .core.errors import ConfigError, ControlError, MockError
    from .core.journal import fingerprint
    from .server import MockServer, ServerError
    from .web.app import create_app

_HOMES = {"create_app": ".web.app", "Client": ".core.clients", "MockConfig": ".core.config",
          "ControlPlane": ".core.control", "Fixtures": ".core.data", "load_fixtures": ".core.data",
          "ConfigError": ".core.errors", "ControlError": ".core.errors", "MockError": ".core.errors",
          "fingerprint": ".core.journal", "MockServer": ".server", "ServerError": ".server"}

__all__ = ["Client", "ConfigError", "ControlError", "ControlPlane", "Fixtures", "MockConfig", "MockError",
           "MockServer", "ServerError", "create_app", "fingerprint", "load_fixtures"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home, __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
