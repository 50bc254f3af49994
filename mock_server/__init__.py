"""scalekit-mock: a faithful local mock of a Scalekit environment's machine-to-machine authentication."""

from __future__ import annotations

from .app import create_app
from .clients import Client
from .config import MockConfig
from .control import ControlPlane
from .data import Fixtures, load_fixtures
from .errors import ConfigError, ControlError, MockError
from .journal import fingerprint
from .server import MockServer, ServerError

__all__ = ["Client", "ConfigError", "ControlError", "ControlPlane", "Fixtures", "MockConfig", "MockError",
           "MockServer", "ServerError", "create_app", "fingerprint", "load_fixtures"]
__version__ = "0.1.0"
