"""Where an environment's state lives: in this process (``LocalState``, the default), or shared by many processes
through Redis (``redis_state.RedisState``, ``--state redis://…``).

The control plane changes its state only through **commands**: a name and JSON arguments, applied by
``ControlPlane._apply_<name>`` (the names: ``control.COMMANDS``). Whatever is not deterministic (a generated key,
the time, a random seed) is decided before a command is submitted and travels in its arguments, so that applying
the same commands in the same order gives every process the same state. ``LocalState`` applies a command at once,
in the caller's thread; ``RedisState`` appends it to a shared log that every process applies in order, and returns
once every live process has applied it. The journal and the ``jti`` sequence are the two pieces of state that
change on every request; each backend keeps them its own way, behind the same interface.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from .errors import StateUnavailable
from .journal import Journal

if TYPE_CHECKING:
    from .keys import SigningKey


Applier = Callable[..., Any]


class TokenSequence(Protocol):
    """The tokens' ``jti`` numbers."""

    def next(self) -> int: ...

    def last(self) -> int:
        """No token issued so far has a greater number."""

    def fence(self) -> None:
        """Tokens issued from now on get numbers above ``last()`` as it was read before (a revocation up to it)."""


class StateBackend(Protocol):
    """What the control plane needs of the place its state lives."""

    shared: bool  # state other processes see: commands go through a log, and control-plane reads sync first

    @property
    def sequence(self) -> TokenSequence:
        """The tokens' ``jti`` numbers."""

    @property
    def journal(self) -> Journal: ...

    @property
    def available(self) -> bool: ...

    def bind(self, appliers: Mapping[str, Applier]) -> None: ...

    def submit(self, name: str, *args: Any, wait_all: bool = True) -> Any:
        """Apply command ``name`` to the environment and return what applying it here returned (or raise what it
        raised). ``wait_all``: return only once every process has applied it (a change others must see at once);
        else once this one has (a fault taken, a request counted: the log's order alone decides)."""

    def sync(self) -> None:
        """Return once every command submitted anywhere so far is applied here and every request answered anywhere
        is in the journal: what a control-plane read does first."""

    def shared_key(self, make: Callable[[], SigningKey]) -> SigningKey:
        """The environment's start key: the one the first process made with ``make``."""

    def describe(self) -> dict[str, Any]:
        """What ``GET /_mock/state`` shows of the backend."""

    def close(self) -> None: ...


class LocalSequence:
    """``jti`` numbers from the wall clock in microseconds, so ids stay unique across mock restarts."""

    def __init__(self, first: int | None = None) -> None:
        self._count = itertools.count(first or time.time_ns() // 1000)
        self._last = -1
        self._lock = threading.Lock()

    def next(self) -> int:
        with self._lock:
            self._last = next(self._count)
            return self._last

    def last(self) -> int:
        return self._last

    def fence(self) -> None:
        """Nothing to do: numbers only grow, one at a time."""


class LocalState:
    """The state of one process: a command is applied at once, in the caller's thread."""

    shared = False
    available = True

    def __init__(self, journal_size: int = 10_000) -> None:
        self.sequence = LocalSequence()
        self.journal = Journal(journal_size)
        self._appliers: Mapping[str, Applier] = {}

    def bind(self, appliers: Mapping[str, Applier]) -> None:
        self._appliers = appliers

    def submit(self, name: str, *args: Any, wait_all: bool = True) -> Any:
        return self._appliers[name](*args)

    def sync(self) -> None:
        """Nothing to wait for: every command was applied when it was submitted."""

    def shared_key(self, make: Callable[[], SigningKey]) -> SigningKey:
        return make()

    def describe(self) -> dict[str, Any]:
        return {"backend": "memory"}

    def close(self) -> None:
        pass


__all__ = ["LocalState", "StateBackend", "StateUnavailable", "TokenSequence", "open_state", "shown_url"]


def shown_url(url: str) -> str:
    """The URL without its password, for messages and ``GET /_mock/state``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def open_state(url: str | None, journal_size: int) -> StateBackend:
    """The backend a ``state`` setting names: ``None`` (this process) or ``redis://HOST:PORT/DB``."""
    if url is None:
        return LocalState(journal_size)
    from .redis_state import RedisState  # redis-py is imported only by mocks that share their state

    return RedisState(url, journal_size)
