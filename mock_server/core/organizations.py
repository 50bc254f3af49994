"""Sample organizations served by the organizations routes: list with paging, get, create."""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from typing import Any

from .errors import ApiError


def _rfc3339(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class OrganizationStore:
    """Organizations in creation order; starts from the fixture set and returns to it on reset.

    Stored organizations are never mutated (a change would replace the dict), so answers share them
    without copying.
    """

    def __init__(self, fixture: dict[str, Any]) -> None:
        self._fixture = fixture
        self._lock = threading.Lock()
        self.default_page_size = int(fixture["default_page_size"])
        self.max_page_size = int(fixture["max_page_size"])
        self._ids = itertools.count(70_000_000_000_000_000)
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._orgs: dict[str, dict[str, Any]] = {o["id"]: o for o in self._fixture["organizations"]}

    def page(self, page_size: int | None, page_token: str) -> dict[str, Any]:
        size = page_size or self.default_page_size
        if not 1 <= size <= self.max_page_size:
            raise ApiError("invalid_argument", f"page_size must be from 1 to {self.max_page_size}")
        if page_token and not (page_token.isascii() and page_token.isdigit()):
            raise ApiError("invalid_argument", "page_token is not one this server issued")
        start = int(page_token or 0)
        orgs = list(self._orgs.values())
        if start > len(orgs):
            raise ApiError("invalid_argument", "page_token is past the end")
        end = start + size
        return {"organizations": orgs[start:end],
                "next_page_token": str(end) if end < len(orgs) else "",
                "prev_page_token": str(max(start - size, 0)) if start else "",
                "total_size": len(orgs)}

    def get(self, org_id: str) -> dict[str, Any]:
        org = self._orgs.get(org_id)
        if org is None:
            raise ApiError("org_not_found")
        return {"organization": org}

    def create(self, body: Any, now: float) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise ApiError("invalid_argument", "the body must be a JSON object (an organization)")
        name = body.get("display_name")
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            raise ApiError("invalid_argument", "display_name must be a non-empty string of at most 200 characters")
        external_id = body.get("external_id")
        metadata = body.get("metadata", {})
        if external_id is not None and not isinstance(external_id, str):
            raise ApiError("invalid_argument", "external_id must be a string")
        region = body.get("region_code")
        region = "US" if region is None or region == "" else region  # absent or empty: the default region
        if not isinstance(region, str):
            raise ApiError("invalid_argument", "region_code must be a string")
        if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
            raise ApiError("invalid_argument", "metadata must be an object of strings")
        stamp = _rfc3339(now)
        org: dict[str, Any] = {"id": f"org_{next(self._ids)}", "create_time": stamp, "update_time": stamp,
               "display_name": name, "region_code": region,
               "external_id": external_id or "", "metadata": metadata, "settings": {"features": []}}
        with self._lock:
            self._orgs = {**self._orgs, org["id"]: org}
        return {"organization": org}
