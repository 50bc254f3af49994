"""One environment shared by many mock processes, on one host or many, through Redis (``--state redis://…``).

Every process keeps the whole state in memory, as a lone mock does, and changes it only by applying the commands
of one shared log (a Redis stream), in the log's order (``state.py`` says what a command is). So:

- a read (a token checked, a resource fetched) costs no round trip: the process's own copy answers;
- a change (a client added, a clock move, a resource created) is appended to the log and returns once every live
  process has applied it, so it is in force everywhere the moment its caller gets the answer;
- a decision that must happen once in the environment (a queued fault taken, a request counted against the rate
  limit) is a command too: the log's order decides which process gets it, exactly as often as asked.

The journal is a Redis list that each process appends to in batches from a background thread (no round trip on the
request's path; an entry is numbered by its place in the list); a read of the journal first has every process
flush (``sync``). Tokens are numbered from a shared counter, in blocks (``_Sequence``). A process that joins later
replays the log from the start (or from the last reset, which trims it). When Redis cannot be reached every request
is answered 503 (``state_unavailable``), and the process catches up when Redis is back; a Redis that came back empty
is a new environment, and every process returns to the initial state.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import secrets
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import redis

from .errors import ConfigError, HttpError, MockError, StateUnavailable
from .journal import Journal, JournalEntry
from .jsontext import compact
from .state import Applier, shown_url

if TYPE_CHECKING:
    from .keys import SigningKey

PREFIX = "scalekit-mock:"
ENV, LOG, TOKENS, WORKERS, ALIVE = (PREFIX + k for k in ("env", "log", "tokens", "workers", "alive:"))
JOURNAL, JOURNAL_META = PREFIX + "journal", PREFIX + "journal-meta"
COMMAND_TIMEOUT = 10.0  # seconds a submitter waits for its own command to be applied
BARRIER_TIMEOUT = 5.0  # seconds it waits for every other live process to apply it too
ALIVE_MS = 5000  # a process that has not said it is alive for this long is no longer waited for
RECONNECT_PAUSE = 0.25
TOKEN_BLOCK = 256  # jti numbers a process takes at once
# Seconds the journal's flusher gathers entries for one push. Each push costs about 130 us of redis-py and Redis,
# much of it under the GIL the event loop needs, against about 7 us an entry (its encoding included): 10 ms kept
# the Redis state's protected-call rate at 83-99% of the in-memory one where 2 ms gave 58-69% (runs a minute apart,
# before orjson). A journal read loses nothing by it: every process pushes what it has first (``sync``).
FLUSH_WINDOW = 0.010

# The live processes' applied log positions (dead ones are forgotten on the way).
_LIVE_APPLIED = """
local out = {}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if redis.call('EXISTS', ARGV[1] .. all[i]) == 1 then out[#out + 1] = all[i + 1]
  else redis.call('HDEL', KEYS[1], all[i]) end
end
return out
"""
# The most entries one push sends: Redis's Lua unpacks at most about 8,000 values (a buffer that grew while Redis
# was away is larger).
PUSH_CHUNK = 1000
# Append a batch of journal entries; keep the newest ARGV[1]; count what falls off the front as dropped. An entry's
# seq is its place among all ever pushed (dropped + index + 1): the number of the batch's last is returned.
_JOURNAL_PUSH = """
local length = redis.call('RPUSH', KEYS[1], unpack(ARGV, 2))
local extra = length - tonumber(ARGV[1])
local dropped = tonumber(redis.call('HGET', KEYS[2], 'dropped') or '0')
if extra > 0 then
  redis.call('LTRIM', KEYS[1], extra, -1)
  dropped = redis.call('HINCRBY', KEYS[2], 'dropped', extra)
  length = length - extra
end
return dropped + length
"""
# The entries after the first ARGV[1] ever pushed, with how many were dropped and where the last clear was.
_JOURNAL_READ = """
local dropped = tonumber(redis.call('HGET', KEYS[2], 'dropped') or '0')
local cleared = tonumber(redis.call('HGET', KEYS[2], 'cleared') or '0')
local start = math.max(tonumber(ARGV[1]) - dropped, 0)
return {dropped, cleared, redis.call('LRANGE', KEYS[1], start, -1)}
"""
_JOURNAL_CLEAR = """
local n = redis.call('LLEN', KEYS[1])
redis.call('DEL', KEYS[1])
local dropped = redis.call('HINCRBY', KEYS[2], 'dropped', n)
redis.call('HSET', KEYS[2], 'cleared', dropped)
return dropped
"""


def _position(entry_id: bytes | str) -> tuple[int, int]:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


class RedisState:
    """The environment's state in Redis, applied by every process from one log (see the module's doc)."""

    shared = True

    def __init__(self, url: str, journal_size: int) -> None:
        self.url = shown_url(url)
        # Any: redis-py's types cover its sync and async clients at once, so every reply is a union
        self.redis: Any = redis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)
        self.worker = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        self._appliers: Mapping[str, Applier] = {}
        self._waiting: dict[str, concurrent.futures.Future[Any]] = {}
        self._applied = "0-0"
        self._available = False
        self._closed = threading.Event()
        self._applying = threading.local()
        self._live_applied = self.redis.register_script(_LIVE_APPLIED)
        self._env = ""
        self._key: str | None = None  # the start key as shared, to seed a Redis that came back empty
        self.sequence = _Sequence(self)
        self.journal = SharedJournal(self, journal_size)
        try:
            self._join()
        except redis.RedisError as exc:
            raise ConfigError(f"cannot reach the shared state at {self.url}: {exc}") from exc

    # -- the interface (state.StateBackend) --------------------------------------------------
    @property
    def available(self) -> bool:
        return self._available

    def bind(self, appliers: Mapping[str, Applier]) -> None:
        """Replay the log so far (this process joins the environment as it is), then follow it."""
        self._appliers = appliers
        try:
            self._catch_up()
        except redis.RedisError as exc:
            raise ConfigError(f"cannot read the shared state at {self.url}: {exc}") from exc
        self._available = True
        for target, name in ((self._follow, "log"), (self.journal.flusher, "journal")):
            threading.Thread(target=target, name=f"scalekit-mock-state-{name}", daemon=True).start()

    def submit(self, name: str, *args: Any, wait_all: bool = True) -> Any:
        if getattr(self._applying, "on", False):  # part of the command being applied: applied with it
            return self._appliers[name](*args)
        command_id = secrets.token_hex(8)
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self._waiting[command_id] = future
        try:
            entry_id = self.call(lambda r: r.xadd(LOG, {"c": json.dumps([command_id, name, args])}))
            result = future.result(COMMAND_TIMEOUT)
        except concurrent.futures.TimeoutError as exc:
            raise StateUnavailable(f"the shared state did not apply {name!r} within {COMMAND_TIMEOUT:.0f} s") from exc
        finally:
            self._waiting.pop(command_id, None)
        if wait_all:
            self._wait_all(entry_id)
        if name == "reset":  # what came before no longer matters: a process joining later replays from here
            self.call(lambda r: r.xtrim(LOG, minid=entry_id))
        return result

    def sync(self) -> None:
        self.submit("sync")

    def shared_key(self, make: Callable[[], SigningKey]) -> SigningKey:
        from .keys import SigningKey

        raw = self.call(lambda r: r.hget(ENV, "key"))
        if raw is None:
            key = make()
            self.call(lambda r: r.hsetnx(ENV, "key", json.dumps({"kid": key.kid, "pem": key.pem().decode()})))
            raw = self.call(lambda r: r.hget(ENV, "key"))
        self._key = raw.decode()
        shared = json.loads(raw)
        return SigningKey.from_pem(shared["kid"], shared["pem"].encode(), trusted=True)

    def describe(self) -> dict[str, Any]:
        try:
            workers = len(self._live_applied(keys=[WORKERS], args=[ALIVE]))
        except redis.RedisError:
            workers = None
        return {"backend": "redis", "url": self.url, "process": self.worker, "processes": workers,
                "available": self._available}

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        try:
            self.journal.flush()
            self.redis.hdel(WORKERS, self.worker)
            self.redis.delete(ALIVE + self.worker)
        except (redis.RedisError, StateUnavailable):
            pass
        self.redis.close()

    # -- talking to Redis ----------------------------------------------------------------------
    def call(self, do: Callable[[redis.Redis], Any]) -> Any:
        """One exchange with Redis; when it fails, the environment is unavailable here until Redis is back."""
        if not self._available and self._appliers and not getattr(self._applying, "on", False):
            raise StateUnavailable(f"the shared state at {self.url} cannot be reached")
        try:
            return do(self.redis)
        except redis.RedisError as exc:
            self._lost()
            raise StateUnavailable(f"the shared state at {self.url} cannot be reached: {exc}") from exc

    def _join(self) -> None:
        self.redis.hsetnx(ENV, "id", secrets.token_hex(8))
        self._env = self.redis.hget(ENV, "id").decode()
        self.redis.setnx(TOKENS, time.time_ns() // 1000)  # as a lone mock's: unique across restarts
        self.redis.hsetnx(JOURNAL_META, "dropped", 0)
        self._alive()

    def _alive(self) -> None:
        pipe = self.redis.pipeline(transaction=False)
        pipe.set(ALIVE + self.worker, 1, px=ALIVE_MS)
        pipe.hset(WORKERS, self.worker, self._applied)
        pipe.execute()

    def _lost(self) -> None:
        if self._available:
            self._available = False
            print(f"scalekit-mock: the shared state at {self.url} cannot be reached; answering 503 until it is back",
                  file=sys.stderr)
        for future in list(self._waiting.values()):
            if not future.done():
                future.set_exception(StateUnavailable(f"the shared state at {self.url} cannot be reached"))

    # -- following the log ---------------------------------------------------------------------
    def _catch_up(self) -> None:
        while True:
            batch = self.redis.xread({LOG: self._applied}, count=512)
            if not batch:
                return
            self._apply_batch(batch)

    def _follow(self) -> None:
        beat = 0.0
        while not self._closed.is_set():
            if not self._available:  # a request's exchange failed: back once Redis answers, caught up
                self._recover()
                continue
            try:
                if time.monotonic() - beat > 1.0:
                    self._alive()
                    beat = time.monotonic()
                batch = self.redis.xread({LOG: self._applied}, count=512, block=200)
                if batch:
                    self._apply_batch(batch)
                    self.redis.hset(WORKERS, self.worker, self._applied)
            except Exception as exc:  # close() may take the connection from under this read
                if self._closed.is_set():
                    return
                if not isinstance(exc, redis.RedisError):
                    raise
                self._lost()
                self._recover()

    def _apply_batch(self, batch: list[Any]) -> None:
        for _stream, entries in batch:
            for entry_id, fields in entries:
                self._apply(fields[b"c"])
                self._applied = entry_id.decode()

    def _apply(self, raw: bytes) -> None:
        command_id, name, args = json.loads(raw)
        future = self._waiting.get(command_id)
        self._applying.on = True
        try:
            result = self._appliers[name](*args)
        except Exception as exc:  # noqa: BLE001 - the same on every process; the submitter hears it
            if future is not None and not future.done():
                future.set_exception(exc)
            elif not isinstance(exc, (HttpError, MockError)):  # not an answer (404, 409): this process may differ
                print(f"scalekit-mock: applying {name!r} from another process failed here: {exc!r}", file=sys.stderr)
        else:
            if future is not None and not future.done():
                future.set_result(result)
        finally:
            self._applying.on = False

    def _wait_all(self, entry_id: bytes) -> None:
        """Until every live process has applied the log up to ``entry_id`` (a process gone silent is not waited
        for past ``BARRIER_TIMEOUT``)."""
        target, deadline = _position(entry_id), time.monotonic() + BARRIER_TIMEOUT
        while time.monotonic() < deadline:
            applied = self.call(lambda r: self._live_applied(keys=[WORKERS], args=[ALIVE]))
            if all(_position(a) >= target for a in applied):
                return
            time.sleep(0.0005)
        print(f"scalekit-mock: a process of the shared state did not apply a change within {BARRIER_TIMEOUT:.0f} s",
              file=sys.stderr)

    def _recover(self) -> None:
        """Wait for Redis; go on from where this process was, or, if Redis lost the environment, start it anew."""
        while not self._closed.wait(RECONNECT_PAUSE):
            try:
                self.redis.ping()
                env = self.redis.hget(ENV, "id")
                known = self._applied == "0-0" or bool(self.redis.xrange(LOG, self._applied, self._applied))
                if env is None or env.decode() != self._env or not known:
                    self._start_anew()
                self._alive()
            except redis.RedisError:
                continue
            self._available = True
            print(f"scalekit-mock: the shared state at {self.url} is back", file=sys.stderr)
            return

    def _start_anew(self) -> None:
        """Redis came back without this environment: every process returns to the initial state, with the same
        start key (the first to get here shares its own, which is every process's)."""
        self._applied = "0-0"
        self._join()
        if self._key is not None:
            self.redis.hsetnx(ENV, "key", self._key)
        self.journal.forget()  # what it held belongs to the environment that is gone
        self._applying.on = True
        try:
            self._appliers["reset"]()
        finally:
            self._applying.on = False
        self._catch_up()


class _Sequence:
    """The tokens' ``jti`` numbers: one counter for the environment, from which each process takes a block of
    ``TOKEN_BLOCK`` at a time (a token costs no round trip). ``last`` is the counter: no token issued so far has a
    greater number. Revoking every token up to it stays exact because applying such a revocation ``fence``s each
    process's block: a token issued after it comes from a new block, above the number revoked."""

    def __init__(self, state: RedisState) -> None:
        self._state = state
        self._lock = threading.Lock()
        self._next = self._end = 0

    def next(self) -> int:
        with self._lock:
            if self._next >= self._end:
                end = int(self._state.call(lambda r: r.incrby(TOKENS, TOKEN_BLOCK)))
                self._next, self._end = end - TOKEN_BLOCK + 1, end + 1
            number, self._next = self._next, self._next + 1
            return number

    def last(self) -> int:
        return int(self._state.call(lambda r: r.get(TOKENS)) or -1)

    def fence(self) -> None:
        with self._lock:
            self._end = self._next


class SharedJournal(Journal):
    """The environment's journal: a Redis list, appended in batches; this process's copy (the parent's ring) is
    brought up to date on each read."""

    def __init__(self, state: RedisState, size: int) -> None:
        super().__init__(size)
        self._state = state
        self._buffer: list[JournalEntry] = []
        self._pending = threading.Event()
        self._buffered = threading.Lock()
        self._flushing = threading.Lock()
        self._read = 0  # how many entries ever pushed this copy has read (dropped ones included)
        self._cleared = 0
        self._refreshing = threading.Lock()
        self._push = state.redis.register_script(_JOURNAL_PUSH)
        self._fetch = state.redis.register_script(_JOURNAL_READ)
        self._clear = state.redis.register_script(_JOURNAL_CLEAR)

    def next_seq(self) -> int:
        """0: an entry is numbered when it reaches Redis (``flush``), in the order entries reach it, so a request
        costs no round trip. (Unlike the ring of a lone mock, which numbers a request as it comes in, a request
        still in flight at a clear is numbered after it.)"""
        return 0

    def record(self, entry: JournalEntry) -> None:
        with self._buffered:  # never the lock a push holds: a request does not wait for Redis
            self._buffer.append(entry)
            del self._buffer[:-self.size]  # Redis away for long: the newest entries are kept, as in the ring
        if not self._pending.is_set():  # set() takes a lock and wakes waiters: once per push is enough
            self._pending.set()

    def flusher(self) -> None:
        while not self._state._closed.is_set():
            if self._pending.wait(0.5):
                time.sleep(FLUSH_WINDOW)  # the entries of the next few ms go in the same push
            self._pending.clear()
            try:
                self.flush()
            except StateUnavailable:
                time.sleep(RECONNECT_PAUSE)
            except Exception:  # close() may take the connection from under this push
                if not self._state._closed.is_set():
                    raise
                return

    def flush(self) -> None:
        with self._flushing:  # one push at a time, so batches reach Redis in the order they were taken
            with self._buffered:
                batch, self._buffer = self._buffer, []
            for start in range(0, len(batch), PUSH_CHUNK):
                chunk = batch[start:start + PUSH_CHUNK]
                args = [self.size, *(compact(vars(e), default=str) for e in chunk)]  # vars: asdict's copy costs 5x
                try:
                    last = int(self._state.call(lambda r: self._push(keys=[JOURNAL, JOURNAL_META],
                                                                     args=args)))  # noqa: B023 - called at once
                except StateUnavailable:
                    with self._buffered:
                        self._buffer[:0] = batch[start:]
                    raise
                for number, entry in enumerate(chunk, last - len(chunk) + 1):
                    entry.seq = number

    def entries(self, **filters: Any) -> list[dict[str, Any]]:
        self._refresh()
        return super().entries(**filters)

    def last_seq(self) -> int:
        self._refresh()
        return super().last_seq()

    def clear(self) -> None:
        cleared = int(self._state.call(lambda r: self._clear(keys=[JOURNAL, JOURNAL_META])))
        with self._lock:
            self._entries.clear()
            self._read = self._cleared = cleared

    def forget(self) -> None:
        """This copy only (Redis lost the journal): empty, nothing left to push, reading from the start."""
        with self._flushing, self._buffered, self._lock:
            self._buffer.clear()
            self._entries.clear()
            self._read = self._cleared = 0

    def _refresh(self) -> None:
        self._state.sync()  # every process has pushed what it answered so far
        with self._refreshing:
            self._read_new()

    def _read_new(self) -> None:
        dropped, cleared, texts = self._state.call(
            lambda r: self._fetch(keys=[JOURNAL, JOURNAL_META], args=[self._read]))
        first = max(self._read, int(dropped)) + 1
        entries = [JournalEntry(**{**json.loads(t), "seq": first + i}) for i, t in enumerate(texts)]
        with self._lock:
            if int(cleared) > self._cleared:
                self._entries.clear()
                self._cleared = int(cleared)
            self._entries.extend(entries)
            self._read = max(self._read, int(dropped)) + len(entries)
