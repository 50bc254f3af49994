"""The drivers shipped for real clients: what the conformance matrix runs, and how each must be served.

Each entry names the client, the driver command, what the mock must offer it (the official SDKs call
the API over gRPC; the Python SDK and requests-oauthlib insist on TLS) and how to tell whether the
client is installed here. The Python libraries come with the ``drivers`` extra
(``pip install 'scalekit-mock[drivers]'``), the Node clients (the Node SDK, openid-client) with
``python -m contract_tests.drivers.install``, Go's
x/oauth2 from Debian's packages (``golang-go``, ``golang-golang-x-oauth2-dev``; its driver is built on first use).
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from . import go_oauth2

HERE = Path(__file__).resolve().parent
NODE_SDK_DIR = HERE / "node-sdk"
NODE_OPENID_CLIENT_DIR = HERE / "node-openid-client"


@dataclass(frozen=True)
class ShippedDriver:
    """One column of the matrix."""

    key: str  # stable column id
    client: str  # the client's name as its users know it
    usage: str  # how the driver uses it (one line, for the matrix)
    argv: tuple[str, ...]
    shown: str  # the command as the docs show it (no absolute paths)
    grpc: bool = False
    tls: bool = False
    python_module: str | None = None  # importable when the client is installed
    node_dir: Path | None = None  # a node package whose node_modules must be installed
    go: bool = False  # a Go driver, built with Debian's toolchain and library (go_oauth2.py)

    @property
    def command(self) -> str:
        """The driver command as ``--driver`` takes it (split like a shell would)."""
        import shlex

        return shlex.join(self.argv)

    def missing(self) -> str | None:
        """Why the driver can't run here (client not installed), or ``None`` when it can."""
        if self.python_module is not None and importlib.util.find_spec(self.python_module) is None:
            return f"{self.client} is not installed (pip install 'scalekit-mock[drivers]')"
        if self.node_dir is not None:
            if shutil.which("node") is None:
                return "node is not on PATH"
            if not (self.node_dir / "node_modules").is_dir():
                return f"{self.client} is not installed (python -m contract_tests.drivers.install)"
        if self.go:
            return go_oauth2.missing()
        return None


def _python(module: str) -> tuple[tuple[str, ...], str]:
    return (sys.executable, "-m", f"contract_tests.drivers.{module}"), f"python -m contract_tests.drivers.{module}"


SHIPPED: tuple[ShippedDriver, ...] = (
    ShippedDriver("reference", "scalekit-mock reference client", "httpx, with the careful token handling of "
                  "contract_tests/drivers/reference_client.py (the baseline)", *_python("reference")),
    ShippedDriver("python-sdk", "scalekit-sdk-python", "ScalekitClient(...).organization over gRPC + TLS",
                  *_python("python_sdk"), grpc=True, tls=True, python_module="scalekit"),
    ShippedDriver("node-sdk", "@scalekit-sdk/node", "new ScalekitClient(...).organization over gRPC (h2c)",
                  ("node", str(NODE_SDK_DIR / "driver.mjs")),
                  "node contract_tests/drivers/node-sdk/driver.mjs", grpc=True, node_dir=NODE_SDK_DIR),
    ShippedDriver("node-openid-client", "openid-client clientCredentialsGrant", "discovery(), then "
                  "clientCredentialsGrant() and fetchProtectedResource(); openid-client v6 keeps no token, so this "
                  "judges the cache an app writes around it (the last token reused until expiresIn() <= 60 s, one "
                  "fetch in flight, nothing on a 401), not the library alone",
                  ("node", str(NODE_OPENID_CLIENT_DIR / "driver.mjs")),
                  "node contract_tests/drivers/node-openid-client/driver.mjs", node_dir=NODE_OPENID_CLIENT_DIR),
    ShippedDriver("authlib", "authlib", "requests_client.OAuth2Session, client_credentials",
                  *_python("authlib_session"), python_module="authlib"),
    ShippedDriver("httpx-auth", "httpx-auth", "httpx.Client(auth=OAuth2ClientCredentials(...))",
                  *_python("httpx_auth_cc"), python_module="httpx_auth"),
    ShippedDriver("requests-oauthlib", "requests-oauthlib", "OAuth2Session(client=BackendApplicationClient(...)) "
                  "over TLS (it refuses plain http)", *_python("requests_oauthlib_backend"), tls=True,
                  python_module="requests_oauthlib"),
    ShippedDriver("go-x-oauth2", "golang.org/x/oauth2 clientcredentials", "clientcredentials.Config{ClientID, "
                  "ClientSecret, TokenURL}.Client(ctx), AuthStyle left to auto-detect (Debian's 0.3.0, built with "
                  "its Go); it cannot move its clock, so it is judged in real time", *_python("go_oauth2"), go=True),
)


def by_key(key: str) -> ShippedDriver:
    for driver in SHIPPED:
        if driver.key == key:
            return driver
    raise KeyError(f"no shipped driver {key!r}; known: {', '.join(d.key for d in SHIPPED)}")
