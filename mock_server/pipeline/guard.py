"""Who may talk to the mock: the ``Host`` names it answers to, and what a control-plane request must look like.

Two attacks from a browser on the developer's own machine, and one from the network, all I/O-free rules here,
applied by every face:

- **DNS rebinding**: a page on ``evil.example`` re-points that name at 127.0.0.1 and talks to the mock as if it
  were its own origin. Bound to a loopback address, the mock answers only requests whose ``Host`` (over HTTP/2
  and gRPC: ``:authority``) names it: loopback names and addresses, the configured host, the issuer's host and
  ``allowed_hosts``. The port is not checked (a tunnel or port forward may change it; rebinding changes the
  name). A request without a ``Host`` cannot come from a browser, so it passes. Bound to any other address the
  check is off: a LAN or container name is legitimate there, and unknowable in advance.
- **CSRF**: a page's "simple" cross-origin POST (``text/plain``, a form) needs no preflight. A control-plane
  request that changes state or carries a body must say ``Content-Type: application/json`` (which a browser
  sends cross-origin only after a preflight the mock never grants), and one whose ``Origin`` is not the mock's
  own, or whose ``Sec-Fetch-Site`` is ``cross-site``, is refused.
- **Anyone on the network**, when the mock is bound beyond loopback: every ``/_mock/`` request must carry the
  control token in ``X-Scalekit-Mock-Control-Token`` (``MockServer`` makes one for such a bind unless one is
  given; one given explicitly is required on loopback too). ``GET /`` (what this server is) needs none.

The statuses (421, 401, 415, 403) and why: docs/control-plane.md, "Who may call the mock".
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ..core.credentials import CONTROL_TOKEN_HEADER

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
JSON = "application/json"


def is_loopback(host: str) -> bool:
    """Whether an address to bind (or a host name) is loopback: 127.0.0.0/8, ::1, localhost."""
    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def host_name(value: str) -> str:
    """The name of a ``Host`` value, lower-case, without its port (``[::1]:8080`` → ``::1``)."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:value.find("]")] if "]" in value else value
    if value.count(":") == 1:
        return value.split(":", 1)[0]
    return value  # a name, or a bare IPv6 address


@dataclass(frozen=True)
class Refusal:
    """Why a request is refused: the HTTP status, a sentence for the ``{"error": ...}`` body, and its headers."""

    status: int
    message: str
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Guard:
    """The rules for one running server, computed once at its start (``Guard.for_server``).

    ``hosts`` holds the exact ``Host`` values accepted at a glance (names, and names with the server's port);
    ``None`` turns the Host check off. ``names`` are the host names that are the mock's own, for ``Origin``.
    ``control_token``: what every ``/_mock/`` request must carry (``None``: nothing).
    """

    hosts: frozenset[str] | None = None
    names: frozenset[str] = frozenset()
    scheme: str = "http"
    port: int = 0
    issuer_origin: tuple[str, str, int] | None = None
    control_token: str | None = field(default=None, repr=False)

    @classmethod
    def for_server(cls, *, bind: str, scheme: str, port: int, issuer: str | None = None,
                   allowed_hosts: tuple[str, ...] = (), control_token: str | None = None) -> Guard:
        """The guard of a server bound to ``bind:port``: the Host check on only for a loopback bind."""
        names = {*LOOPBACK_NAMES, *(h.lower() for h in allowed_hosts)}
        if not _unspecified(bind):
            names.add(host_name(bind))
        issuer_origin = _origin(issuer) if issuer else None
        if issuer_origin is not None:
            names.add(issuer_origin[1])
        hosts = None
        if is_loopback(bind):
            shown = {f"[{n}]" if ":" in n else n for n in names}
            hosts = frozenset({*shown, *(f"{n}:{port}" for n in shown)})
        return cls(hosts, frozenset(names), scheme, port, issuer_origin, control_token)

    def host_allowed(self, host: str) -> bool:
        """Whether a request with this ``Host`` value is answered (the fast path: one set lookup)."""
        if self.hosts is None or not host or host in self.hosts:
            return True
        return self._own_name(host_name(host))

    def _own_name(self, name: str) -> bool:
        return name in self.names or is_loopback(name)  # any 127.x, *.localhost

    def origin_allowed(self, origin: str) -> bool:
        """Whether an ``Origin`` is the mock's own: its issuer's, or this scheme and port on one of its names."""
        parsed = _origin(origin)
        if parsed is None:
            return False  # "null" (a sandboxed frame, a file: page) or garbage
        if parsed == self.issuer_origin:
            return True
        scheme, name, port = parsed
        return scheme == self.scheme and port == self.port and self._own_name(name)

    def token_refusal(self, path: str, sent: str) -> Refusal | None:
        """Why a request is refused for want of the control token (401), or ``None``: with a token set, every
        request under ``/_mock/`` needs it, whatever its path or method. Compared in constant time, as digests (so
        that not even the length of the token shows); the body never repeats what was sent."""
        token = self.control_token
        if token is None or not (path == "/_mock" or path.startswith("/_mock/")):
            return None
        if sent and hmac.compare_digest(_digest(sent), _digest(token)):
            return None
        problem = (f"the control token sent in the {CONTROL_TOKEN_HEADER} header is not this mock's" if sent else
                   f"the control plane needs this mock's control token in the {CONTROL_TOKEN_HEADER} header, and "
                   "none was sent")
        return Refusal(401, f"{problem} (serve prints a token it makes at start; in Python: MockServer.control_token)",
                       (("WWW-Authenticate", f'{CONTROL_TOKEN_HEADER} realm="scalekit-mock control plane"'),))

    def control_refusal(self, method: str, content_type: str, length: int, origin: str,
                        fetch_site: str) -> Refusal | None:
        """Why a control-plane request is refused (CSRF), or ``None``. The media type is checked first: it is
        what every browser-made simple request gets wrong."""
        changes = method in STATE_CHANGING or length > 0
        if changes and content_type.split(";", 1)[0].strip().lower() != JSON:
            shown = f"not {content_type[:100]!r}" if content_type else "none was sent"
            return Refusal(415, f"control-plane requests that change state or carry a body must be sent with "
                                f"Content-Type: {JSON} ({shown})")
        if fetch_site.strip().lower() == "cross-site":
            return Refusal(403, "requests from another site (Sec-Fetch-Site: cross-site) to the control plane are "
                                "refused: only the mock's own origin may call it")
        if origin and not self.origin_allowed(origin):
            return Refusal(403, f"requests from another origin ({origin[:200]}) to the control plane are refused: "
                                f"only the mock's own origin ({self.scheme}://127.0.0.1:{self.port} or an allowed "
                                "host) may call it")
        return None

    def host_refusal(self, host: str) -> str:
        """The control plane's sentence for a refused ``Host`` (the other families have their documented body)."""
        return (f"this mock does not answer to the Host {host[:200]!r} (a DNS-rebinding guard): it answers to "
                "localhost, 127.0.0.1, [::1] and its configured host; add names with --allowed-host")


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8", "surrogateescape")).digest()


def _unspecified(bind: str) -> bool:
    try:
        return ipaddress.ip_address(bind.strip("[]")).is_unspecified
    except ValueError:
        return False


def _origin(url: str) -> tuple[str, str, int] | None:
    """``(scheme, host, port)`` of an origin or URL, the port filled in for http and https; ``None`` if unusable."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or (443 if scheme == "https" else 80)
