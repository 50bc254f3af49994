"""The fixture data the mock is made of, read from ``fixtures/`` (shipped inside the wheel).

Every fact that could be wrong about the real service lives in those files, not in code; this
module only finds and parses them. The parsed data is immutable and cached per process, so that
starting a second mock costs no file reads.
"""

from __future__ import annotations

import csv
import functools
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ConfigError


def fixtures_dir() -> Path:
    """Where the fixture files are: inside the installed package (``mock_server/fixtures``), or beside the
    package in a checkout (``fixtures/``)."""
    here = Path(__file__).resolve().parent.parent  # the mock_server package
    for candidate in (here / "fixtures", here.parent / "fixtures"):
        if (candidate / "token.json").is_file():
            return candidate
    raise ConfigError(f"fixture data not found next to {here}")


@dataclass(frozen=True)
class RouteRow:
    """One line of the routes table: an RPC with its REST binding and required permissions."""

    rpc: str
    method: str
    template: str
    body_field: str
    auth_type: str
    permissions: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class Fixtures:
    """All fixture data, parsed."""

    clients: tuple[dict[str, Any], ...]
    token: dict[str, Any]
    errors: dict[str, Any]
    faults: dict[str, Any]
    rate_limit: dict[str, Any]
    resources: dict[str, Any]
    auth_policies: dict[str, str]
    routes: tuple[RouteRow, ...]
    default_key_path: Path
    openapi_path: Path  # Scalekit's published document, read when the API is first called (resource_api.py)

    def default_key_pem(self) -> bytes:
        return self.default_key_path.read_bytes()


def _find(directories: tuple[Path, ...], name: str) -> Path:
    """The first of the directories that has the file: overrides first, the shipped fixtures last."""
    for directory in directories:
        if (directory / name).is_file():
            return directory / name
    raise ConfigError(f"fixture {name} not found in {', '.join(map(str, directories))}")


def _read_json(directories: tuple[Path, ...], name: str) -> dict[str, Any]:
    path = _find(directories, name)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read fixture {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"fixture {path} must hold a JSON object")
    return data


def parse_routes(text: str) -> tuple[RouteRow, ...]:
    """Parse the tab-separated routes table (header line first)."""
    rows = []
    for row in csv.DictReader(io.StringIO(text), delimiter="\t"):
        perms = tuple(p for p in (row.get("required_permissions") or "").split(",") if p)
        rows.append(RouteRow(row["rpc"], row["http_method"].upper(), row["path_template"],
                             row.get("body_field") or "", row.get("auth_type") or "", perms))
    return tuple(rows)


@functools.lru_cache(maxsize=8)
def load_fixtures(overrides: Path | None = None) -> Fixtures:
    """Read every fixture file once per process (the data is never mutated).

    ``overrides`` is a directory whose files replace the shipped ones of the same name (an
    ``errors.json`` with other message texts, say); files it lacks come from the shipped set.
    """
    shipped = fixtures_dir()
    directories = (overrides, shipped) if overrides is not None else (shipped,)
    if overrides is not None and not overrides.is_dir():
        raise ConfigError(f"fixtures directory {overrides} does not exist")
    try:
        policies = _read_json(directories, "auth_policies.json")["policies"]
        token = _read_json(directories, "token.json")
        return Fixtures(
            clients=tuple(_read_json(directories, "clients.json")["clients"]),
            token=token,
            errors=_read_json(directories, "errors.json"),
            faults=_read_json(directories, "faults.json"),
            rate_limit=_read_json(directories, "rate_limit.json"),
            resources=_read_json(directories, "resources.json"),
            auth_policies=policies,
            routes=parse_routes(_find(directories, "routes.tsv").read_text(encoding="utf-8")),
            default_key_path=_find(directories, str(token["default_key"]["file"])),
            openapi_path=_find(directories, "scalekit-openapi.json"),
        )
    except (KeyError, TypeError, OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"fixture data is incomplete or malformed: {exc!r}") from exc
