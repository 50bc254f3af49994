"""scalekit-mock: a faithful local mock of a Scalekit environment's machine-to-machine authentication.

The public names are imported when first used, so that loading the pytest plugin (``mock_server.pytest_plugin``,
which every pytest run of an environment with the package installed loads) imports nothing heavy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import create_app
    from .clients import Client
    from .config import MockConfig
    from .control import ControlPlane
    from .data import Fixtures, load_fixtures
    from .errors import ConfigError, ControlError, MockError
    from .journal import fingerprint
    from .server import MockServer, ServerError

_HOMES = {"create_app": ".app", "Client": ".clients", "MockConfig": ".config", "ControlPlane": ".control",
          "Fixtures": ".data", "load_fixtures": ".data", "ConfigError": ".errors", "ControlError": ".errors",
          "MockError": ".errors", "fingerprint": ".journal", "MockServer": ".server", "ServerError": ".server"}

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
