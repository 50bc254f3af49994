"""What the faulty drivers share: the reference driver, built around a client class with one bug."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import NoReturn

from ...driverkit import run
from ..reference import ReferenceAdapter
from ..reference_client import ScalekitClient


class FaultyAdapter(ReferenceAdapter):
    """The reference adapter (same calls, same error mapping) building ``client_class`` instead."""

    version = "0"

    def __init__(self, client_class: type[ScalekitClient], bug: str) -> None:
        self.client_class = client_class
        self.name = f"faulty: {bug}"

    def make_client(self, env: Mapping[str, str]) -> ScalekitClient:
        return self.client_class(env["SCALEKIT_ENVIRONMENT_URL"], env["SCALEKIT_CLIENT_ID"],
                                 env["SCALEKIT_CLIENT_SECRET"])


def serve(client_class: type[ScalekitClient], bug: str) -> NoReturn:
    """Speak the driver protocol on stdin/stdout around ``client_class`` until ``shutdown``."""
    sys.exit(run(FaultyAdapter(client_class, bug)))
