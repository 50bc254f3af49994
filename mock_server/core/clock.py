"""The mock's virtual clock: real time plus an offset that tests move."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class VirtualClock:
    """Real time shifted by an offset; token issuance and every expiry check read it."""

    def __init__(self, source: Callable[[], float] = time.time) -> None:
        self._source = source
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        return self._source() + self._offset

    @property
    def offset(self) -> float:
        return self._offset

    def advance(self, seconds: float) -> float:
        """Move the clock forward by ``seconds`` (never backward) and return the new time."""
        if seconds < 0:
            raise ValueError("the clock only moves forward; to jump to a time, set it (POST /_mock/clock/set, "
                             "or MockServer.set_clock)")
        with self._lock:
            self._offset += seconds
        return self.now()

    def set(self, timestamp: float) -> float:
        """Make ``now()`` read ``timestamp`` (a Unix time) from here on."""
        with self._lock:
            self._offset = timestamp - self._source()
        return self.now()

    def reset(self) -> None:
        with self._lock:
            self._offset = 0.0
