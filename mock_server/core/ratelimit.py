"""The per-environment rate limit: at most N requests per minute on the virtual clock, off unless set.

Scalekit documents a limit "in requests per minute" and a 429 past it, nothing more. The mock reads that as
a sliding window (inferred): a request is admitted when fewer than N requests were admitted in the 60 seconds
before it, on the virtual clock, so ``advance_clock(60)`` empties the window and no test ever sleeps. Refused
requests are not counted: the limit bounds what is served, and the window never holds more than N times.
Which endpoint families count, and the headers of the 429, are data (``fixtures/rate_limit.json``).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from .errors import ConfigError, ControlError
from .faults import FAMILIES

WINDOW_SECONDS = 60  # "requests per minute" (documented)
MAX_REQUESTS_PER_MINUTE = 1_000_000  # a fixed range, so that the OpenAPI document can state it


def requests_per_minute(value: Any, name: str = "requests_per_minute") -> int | None:
    """A limit as given to the control plane or the config (as ``name``): a whole number from 1, or ``None``."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # JSON (and the OpenAPI document's "integer") counts 60.0 as an integer
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_REQUESTS_PER_MINUTE:
        raise ControlError(f"'{name}' must be a whole number of requests per minute, from 1 to "
                           f"{MAX_REQUESTS_PER_MINUTE}")
    return value


class RateLimiter:
    """The sliding window of admitted request times, and the limit (``None``: off, nothing recorded)."""

    def __init__(self, spec: Mapping[str, Any], clock: Callable[[], float], limit: int | None = None) -> None:
        families = spec.get("families")
        if not isinstance(families, list) or not set(families) <= set(FAMILIES):
            raise ConfigError(f"fixture rate_limit.json: 'families' must be a list of: {', '.join(FAMILIES)}")
        headers = spec.get("headers")
        if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
            raise ConfigError("fixture rate_limit.json: 'headers' must be an object of strings")
        self.families = frozenset(families)
        self.headers: dict[str, str] = dict(headers)
        self._clock = clock
        self._lock = threading.Lock()
        self._times: deque[float] = deque()
        self.limit = limit  # read without the lock on the hot path: off costs one attribute check

    def set(self, limit: int | None) -> None:
        """Set the limit (``None``: off) and start an empty window."""
        with self._lock:
            self.limit = limit
            self._times.clear()

    def admit(self, family: str, now: float | None = None) -> bool:
        """Whether a request of ``family`` may be served now; an admitted request is counted.

        ``now``: the request's time as a shared log carries it (``core/redis_state.py``). Requests submitted by
        several processes (or threads) reach the log a little out of time order; such a time is counted as the
        latest one counted, never read as the clock set back (that is ``clock_set``, applied in log order too)."""
        if family not in self.families:
            return True
        with self._lock:
            limit = self.limit
            if limit is None:  # turned off meanwhile
                return True
            times = self._times
            if now is None:
                now = self._clock()  # read under the lock: the window stays in time order
            elif times:
                now = max(now, times[-1])
            self._expire(now)
            if len(times) >= limit:
                return False
            times.append(now)
            return True

    def clock_set(self, now: float) -> None:
        """The clock was set to ``now``: if that is before a counted request, the window starts anew."""
        with self._lock:
            self._expire(now)

    def _expire(self, now: float) -> None:
        times = self._times
        if times and now < times[-1]:  # the clock was set back: what was counted lies in the future, start anew
            times.clear()
        horizon = now - WINDOW_SECONDS
        while times and times[0] <= horizon:
            times.popleft()

    def state(self) -> dict[str, Any]:
        """The limit, the counted families and how many requests the current window holds."""
        with self._lock:
            self._expire(self._clock())
            return {"requests_per_minute": self.limit, "window_seconds": WINDOW_SECONDS,
                    "families": sorted(self.families), "in_window": len(self._times)}
