"""The reference driver: the careful client of ``reference_client.py`` behind the driver protocol.

Run it with ``python -m contract_tests.drivers.reference``.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from ..driverkit import Adapter, ClientFailure, classify_exception, failure_for_status, hidden_modules, run

with hidden_modules("httpx._main"):  # httpx's command line (rich, click when installed): a third of the start-up
    from .reference_client import InvalidTokenResponse, ScalekitClient, ScalekitError


class ReferenceAdapter(Adapter):
    name = "scalekit-mock reference client"
    version = "1.0"

    def make_client(self, env: Mapping[str, str]) -> ScalekitClient:
        return ScalekitClient(env["SCALEKIT_ENVIRONMENT_URL"], env["SCALEKIT_CLIENT_ID"], env["SCALEKIT_CLIENT_SECRET"])

    def call(self, client: Any, method: str, path: str, body: Any) -> tuple[int, Any]:
        return 200, client.request(method, path, json=body)

    def classify(self, exc: BaseException) -> ClientFailure:
        if isinstance(exc, InvalidTokenResponse):
            return ClientFailure(None, "invalid_response", str(exc))
        if isinstance(exc, ScalekitError):
            if exc.status is None:
                kind = "timeout" if "timed out" in str(exc) else "transport"
                return ClientFailure(None, kind, str(exc))
            return failure_for_status(exc.status, str(exc))
        return classify_exception(exc)


if __name__ == "__main__":
    sys.exit(run(ReferenceAdapter()))
