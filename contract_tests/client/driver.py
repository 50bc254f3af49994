"""The suite side of the driver protocol, version 1: a client under test behind a child process.

The suite writes one JSON request per line to the driver's stdin and reads one JSON response per
line from its stdout (``docs/driver-protocol.md``). Every read has a deadline, enforced by a reader
thread feeding a queue, so a hung driver can never block the suite: it is killed and reported.
Everything the driver prints (stdout and stderr) is kept for the secret-leak checks.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import select
import signal
import subprocess
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from mock_server import fingerprint

PROTOCOL_VERSION = 1
CAPABILITIES = ("advance_time", "concurrent")
STARTUP_TIMEOUT = 30.0  # the first answer (hello) may take this long whatever the op deadline: start-up is slow
JWT = re.compile(r"eyJ[A-Za-z0-9_\-]*\.[A-Za-z0-9_\-]*\.[A-Za-z0-9_\-]*")
_EOF = None


class DriverError(Exception):
    """Root of what can go wrong with a driver process (as opposed to the client under test)."""


class ProtocolError(DriverError):
    """The driver broke the protocol: it exited, printed a non-JSON line, or answered out of turn."""


class DriverTimeout(DriverError):
    """An op got no answer within its deadline; the driver process has been killed."""

    def __init__(self, op: str, seconds: float, detail: str = "") -> None:
        super().__init__(f"op '{op}' got no answer within {seconds:g} s; the driver was killed{detail}")
        self.op = op
        self.seconds = seconds


@dataclass(frozen=True)
class DriverInfo:
    """What a driver says of itself in answer to ``hello``."""

    name: str
    version: str
    capabilities: tuple[str, ...]
    # Why the driver does not offer a capability, as it says itself (hello's optional ``unavailable``).
    unavailable: tuple[tuple[str, str], ...] = ()

    def why_not(self, missing: Sequence[str]) -> str:
        """A skip reason for a check needing ``missing``: the real cause where the driver named one."""
        told = dict(self.unavailable)
        causes = "; ".join(f"{cap}: {told[cap]}" for cap in missing if cap in told)
        offered = ", ".join(self.capabilities) or "none"
        return (f"needs the capability {', '.join(missing)}, which the driver does not offer "
                f"({causes or 'it offers: ' + offered})")

    # What a client suite's report says of its subject (contract_tests.results.Subject).
    def describe(self) -> str:
        return f"driver: {self.name} {self.version} (capabilities: {', '.join(self.capabilities) or 'none'})"

    def to_json(self, command: str) -> dict[str, Any]:
        return {"driver": {"name": self.name, "version": self.version, "capabilities": list(self.capabilities),
                           "command": command}}

    def properties(self) -> list[tuple[str, str]]:
        return [("driver.name", self.name), ("driver.version", self.version),
                ("driver.capabilities", " ".join(self.capabilities))]


@dataclass(frozen=True)
class CallResult:
    """One call as the client under test reported it.

    A surfaced HTTP failure is accepted in both forms a driver may send: ``ok: false`` with
    ``error.status``, or ``ok: true`` with a non-2xx ``status``.
    """

    ok: bool
    status: int | None = None
    body: Any = None
    error: Mapping[str, Any] | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CallResult:
        status = data.get("status")
        status = status if isinstance(status, int) and not isinstance(status, bool) else None
        error = data.get("error")
        return cls(bool(data.get("ok")), status, data.get("body"), error if isinstance(error, dict) else None)

    @property
    def succeeded(self) -> bool:
        return self.ok and (self.status is None or 200 <= self.status < 300)

    @property
    def surfaced_status(self) -> int | None:
        """The HTTP status of a failure the client surfaced (``None`` for success or no response)."""
        if self.ok:
            return None if self.succeeded else self.status
        status = (self.error or {}).get("status")
        return status if isinstance(status, int) and not isinstance(status, bool) else None

    @property
    def error_type(self) -> str | None:
        if self.succeeded:
            return None
        kind = (self.error or {}).get("type")
        if isinstance(kind, str) and kind:
            return kind
        status = self.surfaced_status
        return "other" if status is None else {401: "unauthenticated", 403: "permission_denied"}.get(status, "http")

    def describe(self) -> str:
        if self.succeeded:
            return f"ok (status {self.status})" if self.status is not None else "ok"
        message = str((self.error or {}).get("message", ""))[:160]
        return f"failed: status {self.surfaced_status}, type {self.error_type}" + (f" ({message})" if message else "")


@dataclass
class DriverOutput:
    """Everything one driver process printed, for the leak checks."""

    label: str
    secret: str
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)


def redact(text: str, secrets: Sequence[str]) -> str:
    """``text`` safe to put in a report: the given secrets and any JWT replaced by their fingerprints."""
    for secret in secrets:
        if secret and secret in text:
            text = text.replace(secret, fingerprint(secret))
    return JWT.sub(lambda m: fingerprint(m.group(0)), text) if "eyJ" in text else text


class DriverProcess:
    """One running driver: start it, send ops, read answers within deadlines, stop or kill it."""

    def __init__(self, argv: Sequence[str], env: Mapping[str, str], *, op_timeout: float, output: DriverOutput) -> None:
        self.argv = list(argv)
        self.env = {**os.environ, **env}
        self.op_timeout = op_timeout
        self.output = output
        self.info = DriverInfo("", "", ())
        self.clock_offset = 0.0  # how far advance_time has moved the driver's clock
        self.sent: list[str] = []  # every request line, in order (replayable)
        self._ids = 0
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._proc: subprocess.Popen[str] | None = None
        self._threads: list[threading.Thread] = []
        self._broken: str | None = None

    # -- life cycle ---------------------------------------------------------------------------
    def start(self) -> DriverInfo:
        """Start the process and say ``hello``; returns what the driver says of itself."""
        self.spawn()
        return self.hello()

    def spawn(self) -> None:
        """Start the process, sending it nothing yet (``hello`` is its first op, whenever it comes)."""
        try:
            self._proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, env=self.env, text=True, encoding="utf-8",
                                          errors="replace", bufsize=1, start_new_session=True)
        except OSError as exc:
            raise ProtocolError(f"cannot start the driver {self.argv[0]!r}: {exc}") from exc
        assert self._proc.stdout is not None and self._proc.stderr is not None
        self._threads = [threading.Thread(target=self._read_stdout, args=(self._proc.stdout,), daemon=True),
                         threading.Thread(target=self._read_stderr, args=(self._proc.stderr,), daemon=True)]
        for thread in self._threads:
            thread.start()

    def hello(self) -> DriverInfo:
        """Say ``hello``, the first op of every process; returns what the driver says of itself."""
        self.info = _hello_info(self.request("hello", timeout=max(self.op_timeout, STARTUP_TIMEOUT)))
        return self.info

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._broken is None and self._proc.poll() is None

    def close(self, grace: float = 2.0) -> None:
        """Ask the driver to shut down; kill it if it does not exit within ``grace`` seconds."""
        if self.alive:
            # A driver that cannot shut down cleanly is killed below; the check is over either way.
            with contextlib.suppress(DriverError):
                self.request("shutdown", timeout=grace)
        self.kill(wait=grace)

    def kill(self, wait: float = 0.0) -> None:
        """Stop the process (and its process group) and collect the rest of its output."""
        proc = self._proc
        if proc is None:
            return
        self._broken = self._broken or "the driver was stopped"
        _wait_exit(proc, wait if wait > 0 else 0.001)
        if proc.poll() is None:  # still running: killed
            # Its whole process group (its own: started in a new session), so that no child of the
            # driver (node under npx, a shell wrapper) lingers. Only while it runs: the id is still ours.
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.kill()
            proc.wait(5)
        for thread in self._threads:
            thread.join(2)
        if proc.stdin is not None:
            with contextlib.suppress(OSError):  # a broken pipe: the process is gone, as wanted
                proc.stdin.close()

    # -- the protocol -------------------------------------------------------------------------
    def request(self, op: str, *, timeout: float | None = None, **fields: Any) -> dict[str, Any]:
        """Send one op and return the driver's answer (``ok`` may be false: a client failure)."""
        if self._broken is not None or self._proc is None:
            raise ProtocolError(f"cannot send '{op}': {self._broken or 'the driver is not running'}")
        self._ids += 1
        line = json.dumps({"id": self._ids, "op": op, **fields})
        self.sent.append(line)
        self._write(op, line)
        answer = self._read(op, timeout if timeout is not None else self.op_timeout)
        return self._check_answer(op, answer)

    def call(self, method: str, path: str, *, body: Any = None, timeout: float | None = None) -> CallResult:
        fields: dict[str, Any] = {"method": method, "path": path}
        if body is not None:
            fields["body"] = body
        return CallResult.from_json(self.request("call", timeout=timeout, **fields))

    def call_concurrently(self, count: int, method: str, path: str, *,
                          timeout: float | None = None) -> list[CallResult]:
        answer = self.request("call_concurrently", timeout=timeout, count=count, method=method, path=path)
        if not answer.get("ok"):
            raise ProtocolError(f"call_concurrently failed as a whole: {CallResult.from_json(answer).describe()}")
        results = answer.get("results")
        if not isinstance(results, list) or len(results) != count or not all(isinstance(r, dict) for r in results):
            raise self._fail(f"call_concurrently answered without a list of {count} result objects")
        return [CallResult.from_json(r) for r in results]

    def new_client(self, *, timeout: float | None = None) -> CallResult:
        return CallResult.from_json(self.request("new_client", timeout=timeout))

    def advance_time(self, seconds: float) -> None:
        answer = self.request("advance_time", seconds=seconds)
        if not answer.get("ok"):
            raise self._fail(f"advance_time failed although offered: {CallResult.from_json(answer).describe()}")
        self.clock_offset += seconds

    # -- plumbing -----------------------------------------------------------------------------
    def _write(self, op: str, line: str) -> None:
        assert self._proc is not None and self._proc.stdin is not None
        try:
            self._proc.stdin.write(line + "\n")
            self._proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError) as exc:
            raise self._exited(op) from exc

    def _read(self, op: str, timeout: float) -> str:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            self._broken = f"op '{op}' hung"
            self.kill()
            raise DriverTimeout(op, timeout, self._stderr_tail()) from None
        if line is _EOF:
            raise self._exited(op)
        return line

    def _check_answer(self, op: str, line: str) -> dict[str, Any]:
        try:
            answer = json.loads(line)
        except ValueError:
            raise self._fail(f"answered '{op}' with a line that is not JSON: {self._excerpt(line)}") from None
        if not isinstance(answer, dict):
            raise self._fail(f"answered '{op}' with JSON that is not an object: {self._excerpt(line)}")
        if answer.get("id") != self._ids or isinstance(answer.get("id"), bool):
            raise self._fail(f"answered '{op}' (id {self._ids}) with id {answer.get('id')!r}")
        if not isinstance(answer.get("ok"), bool):
            raise self._fail(f"answered '{op}' without a boolean 'ok': {self._excerpt(line)}")
        return answer

    def _exited(self, op: str) -> ProtocolError:
        # None when stdout closed but the process lingers: reported without a code
        code = None if self._proc is None else _wait_exit(self._proc, 2)
        return self._fail(f"exited (code {code}) before answering '{op}'")

    def _fail(self, message: str) -> ProtocolError:
        self._broken = message
        self.kill()
        return ProtocolError(f"driver {message}{self._stderr_tail()}")

    def _excerpt(self, text: str) -> str:
        return repr(redact(text, [self.output.secret])[:200])

    def _stderr_tail(self) -> str:
        tail = [redact(line, [self.output.secret]) for line in self.output.stderr[-5:]]
        return ("; stderr ends: " + " | ".join(t[:200] for t in tail)) if tail else ""

    def _read_stdout(self, stream: IO[str]) -> None:
        for line in stream:
            self.output.stdout.append(line.rstrip("\n"))
            if line.strip():
                self._lines.put(line)
        self._lines.put(_EOF)

    def _read_stderr(self, stream: IO[str]) -> None:
        for line in stream:
            self.output.stderr.append(line.rstrip("\n"))


def _wait_exit(proc: subprocess.Popen[str], timeout: float) -> int | None:
    """``proc``'s exit code once it has exited, waiting at most ``timeout`` seconds (None: still running).

    It waits on a pidfd, woken the moment the process exits: ``Popen.wait(timeout)`` polls, at intervals growing to
    50 ms, which cost every driver's shutdown some 25 ms on average (about a second per run).
    """
    pidfd = None
    if proc.poll() is None and hasattr(os, "pidfd_open"):  # not reaped yet: the pid is still this process's
        with contextlib.suppress(OSError):  # a kernel without pidfds (Linux before 5.3): Popen's polling below
            pidfd = os.pidfd_open(proc.pid)
    if pidfd is None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout)
        return proc.returncode
    try:
        waiter = select.poll()
        waiter.register(pidfd, select.POLLIN)  # readable once the process has exited
        waiter.poll(max(timeout, 0.0) * 1000)
    finally:
        os.close(pidfd)
    return proc.poll()


def _hello_info(answer: Mapping[str, Any]) -> DriverInfo:
    if not answer.get("ok"):
        raise ProtocolError(f"the driver refused 'hello': {CallResult.from_json(answer).describe()}")
    name, version, caps = answer.get("name"), answer.get("version"), answer.get("capabilities", [])
    if not isinstance(caps, list) or not all(isinstance(c, str) for c in caps):
        raise ProtocolError("'hello' must answer 'capabilities' as a list of strings")
    unavailable = answer.get("unavailable", {})
    if not isinstance(unavailable, dict):
        raise ProtocolError("'hello' must answer 'unavailable', when present, as an object")
    why = tuple((str(cap), str(reason)) for cap, reason in unavailable.items() if cap in CAPABILITIES)
    return DriverInfo(str(name or "unnamed driver"), str(version or ""), tuple(c for c in caps if c in CAPABILITIES),
                      why)

