"""Who may talk to the mock: the ``Host`` names it answers to, and what a control-plane request must look like.

Two attacks from a browser on the developer's own machine, both I/O-free rules here, applied by every face:

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

The statuses (421, 415, 403) and why: docs/control-plane.md, "Who may call the mock".
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

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
    """Why a request is refused: the HTTP status and a sentence for the ``{"error": ...}`` body."""

    status: int
    message: str


@dataclass(frozen=True)
class Guard:
    """The rules for one running server, computed once at its start (``Guard.for_server``).

    ``hosts`` holds the exact ``Host`` values accepted at a glance (names, and names with the server's port);
    ``None`` turns the Host check off. ``names`` are the host names that are the mock's own, for ``Origin``.
    """

    hosts: frozenset[str] | None = None
    names: frozenset[str] = frozenset()
    scheme: str = "http"
    port: int = 0
    issuer_origin: tuple[str, str, int] | None = None

    @classmethod
    def for_server(cls, *, bind: str, scheme: str, port: int, issuer: str | None = None,
                   allowed_hosts: tuple[str, ...] = ()) -> Guard:
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
        return cls(hosts, frozenset(names), scheme, port, issuer_origin)

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
