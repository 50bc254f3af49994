"""The API's routes, from the routes table: matching a method and path to an RPC and its permissions."""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .data import RouteRow

# A path template's parameter: ``{name}``, ``{a.b}``, ``{name=**}``
TEMPLATE_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.]*)(?:=[^}]*)?\}")


@dataclass(frozen=True)
class Route:
    """A served route: the table row and how it is authenticated; its pattern is compiled on first use."""

    row: RouteRow
    policy: str  # "none", "client" or "not_client" (see fixtures/auth_policies.json)
    literal_weight: int

    @functools.cached_property
    def pattern(self) -> re.Pattern[str]:
        return compile_template(self.row.template)

    @property
    def rpc(self) -> str:
        return self.row.rpc

    @property
    def method_name(self) -> str:
        return self.row.rpc.rsplit("/", 1)[-1]

    def allows(self, scopes: tuple[str, ...] | None) -> bool:
        """Whether a token with these scopes may call the route (``None``: full access).

        Where the table lists several permissions, any one of them suffices (inferred).
        """
        if scopes is None or not self.row.permissions:
            return True
        return any(p in scopes for p in self.row.permissions)


def compile_template(template: str) -> re.Pattern[str]:
    """Turn a grpc-gateway path template into a regex: ``{x}`` is one segment, ``**`` the rest."""
    out, pos = [], 0
    for m in TEMPLATE_PARAM.finditer(template):
        out.append(re.escape(template[pos:m.start()]))
        follows_verb = template[m.end():m.end() + 1] == ":"
        out.append(f"(?P<{m.group(1).replace('.', '__')}>[^/:]+)" if follows_verb
                   else f"(?P<{m.group(1).replace('.', '__')}>[^/]+)")
        pos = m.end()
    out.append(re.escape(template[pos:]))
    return re.compile("".join(out).replace(re.escape("**"), ".+") + r"\Z")


def _bucket_key(path: str) -> tuple[str, ...]:
    """The first three segments (without a ``:verb``) and the segment count: no template of the
    table has a parameter there, so a path only needs the templates of its own bucket."""
    parts = path.split("/")
    return (*(p.split(":", 1)[0] for p in parts[1:4]), str(len(parts)))


class RouteTable:
    """All routes, indexed by first segment and segment count so a lookup tries only a few.

    ``more`` gives further rows (the published document's other bindings), added on the first lookup by path:
    reading them costs the document's parse, which a mock that never serves the API should not pay at start.
    """

    def __init__(self, rows: Iterable[RouteRow], policies: dict[str, str],
                 more: Callable[[], Iterable[RouteRow]] | None = None) -> None:
        self.routes: list[Route] = []
        self._policies = policies
        self._buckets: dict[tuple[str, ...], list[Route]] = {}
        self._wild: list[Route] = []
        self._more, self._lock = more, threading.Lock()
        self._add(rows)
        self.all_permissions = frozenset(p for r in self.routes for p in r.row.permissions)

    def _add(self, rows: Iterable[RouteRow]) -> None:
        for row in rows:
            literal = len(TEMPLATE_PARAM.sub("", row.template))
            route = Route(row, self._policies.get(row.auth_type, "client"), literal)
            self.routes.append(route)
            if "**" in row.template or "{" in "/".join(row.template.split("/")[:4]):
                self._wild.append(route)
            else:
                self._buckets.setdefault(_bucket_key(row.template), []).append(route)
        for bucket in self._buckets.values():
            bucket.sort(key=lambda r: -r.literal_weight)

    def _complete(self) -> None:
        with self._lock:
            if self._more is not None:
                self._add(self._more())
                self._more = None

    def match(self, method: str, path: str) -> tuple[Route | None, bool]:
        """Return ``(route, path_known)``: the route for method and path, and whether the path
        matched any route at all (for telling 404 from 405)."""
        if self._more is not None:
            self._complete()
        path_known = False
        for route in self._buckets.get(_bucket_key(path), []) + self._wild:
            if route.pattern.match(path):
                if route.row.method == method:
                    return route, True
                path_known = True
        return None, path_known

    def allowed_methods(self, path: str) -> list[str]:
        """The methods a 405's ``Allow`` header advertises for ``path`` (RFC 9110 15.5.6): those of the
        most specific templates matching it, so ``/x/1:enable`` names the custom method's resource even
        though the ``{id}`` of ``/x/{id}`` would swallow ``1:enable`` too."""
        if self._more is not None:
            self._complete()
        matching = [r for r in self._buckets.get(_bucket_key(path), []) + self._wild if r.pattern.match(path)]
        best = max((r.literal_weight for r in matching), default=0)
        return sorted({r.row.method for r in matching if r.literal_weight == best})

    def find(self, rpc: str, method: str, template: str) -> Route:
        """The route of an RPC's binding, as a command names it (``ControlPlane.api_call``)."""
        if self._more is not None:
            self._complete()
        return self._binding_index[(rpc, method, template)]

    @functools.cached_property
    def _binding_index(self) -> dict[tuple[str, str, str], Route]:
        return {(r.rpc, r.row.method, r.row.template): r for r in self.routes}  # read after _complete()

    def by_rpc(self, rpc: str) -> Route | None:
        """The route of a gRPC method name (``scalekit.v1.organizations.OrganizationService/GetOrganization``)."""
        return self._rpc_index.get(rpc)

    @functools.cached_property
    def _rpc_index(self) -> dict[str, Route]:
        index: dict[str, Route] = {}
        for route in self.routes:  # the table's own row, not another HTTP binding of the RPC
            index.setdefault(route.rpc, route)
        return index
