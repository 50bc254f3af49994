"""The mock's virtual clock: real time plus an offset that tests move."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator


class VirtualClock:
    """Real time shifted by an offset; token issuance and every expiry check read it."""

    def __init__(self, source: Callable[[], float] = time.time) -> None:
        self._source = source
        self._offset = 0.0
        self._lock = threading.Lock()
        self._pins: dict[int, float] = {}  # thread -> the time a command applied on it was submitted at

    def now(self) -> float:
        if self._pins:  # only while a command is applied: the hot path pays one truth test
            pinned = self._pins.get(threading.get_ident())
            if pinned is not None:
                return pinned
        return self._source() + self._offset

    @contextlib.contextmanager
    def pinned(self, now: float) -> Iterator[None]:
        """Make ``now()`` read ``now`` on this thread meanwhile: a command replayed by another process
        (``state.py``) computes with the time of the process that submitted it."""
        thread = threading.get_ident()
        self._pins[thread] = now
        try:
            yield
        finally:
            del self._pins[thread]

    @property
    def offset(self) -> float:
        return self._offset

    def advance(self, seconds: float) -> float:
        """Move the clock forward by ``seconds`` (never backward) and return the new time."""
        if seconds < 0:
            raise ValueError(BACKWARD)
        with self._lock:
            self._offset += seconds
        return self.now()

    def set(self, timestamp: float) -> float:
        """Make ``now()`` read ``timestamp`` (a Unix time) from here on."""
        with self._lock:
            self._offset = timestamp - self._source()
        return self.now()

    def offset_for(self, timestamp: float) -> float:
        """The offset that makes ``now()`` read ``timestamp`` at this instant."""
        return timestamp - self._source()

    def set_offset(self, offset: float) -> None:
        with self._lock:
            self._offset = offset

    def reset(self) -> None:
        with self._lock:
            self._offset = 0.0


BACKWARD = "the clock only moves forward; to jump to a time, set it (POST /_mock/clock/set, or MockServer.set_clock)"
