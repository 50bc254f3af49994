"""scalekit-mock: a faithful local mock of a Scalekit environment's machine-to-machine authentication."""

from __future__ import annotations

from .app import create_app
from .clients import Client
from .config import MockConfig
from .control import ControlPlane
from .errors import ConfigError, ControlError, MockError
from .journal import fingerprint
from .server import MockServer, ServerError

__all__ = ["Client", "ConfigError", "ControlError", "ControlPlane", "MockConfig", "MockError", "MockServer",
           "ServerError", "create_app", "fingerprint"]
__version__ = "0.1.0"
