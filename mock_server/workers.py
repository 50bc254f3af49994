"""``serve --workers N``: N mock processes on one port, behaving as one environment.

Each worker is a whole mock (``MockServer``) in a process of its own, bound with ``SO_REUSEPORT`` to the same port,
so the kernel spreads connections over them; their state is one, shared through Redis (``--state``,
``core/redis_state.py``). The parent starts them, prints what a client needs once, and stops them all when it is
stopped or when one of them ends.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import secrets
import signal
import socket
import sys
import threading
from dataclasses import replace
from typing import Any

from .core.config import MockConfig
from .core.errors import MockError
from .pipeline.guard import is_loopback

START_TIMEOUT = 60.0  # seconds for every worker to be serving


def check_workers(config: MockConfig, count: int) -> None:
    """Refuse a worker count the config cannot serve, with what to do instead."""
    if not 1 <= count <= 64:
        raise MockError("--workers must be from 1 to 64")
    if count > 1 and config.state is None:
        raise MockError("--workers N needs --state redis://HOST:PORT/DB: the processes are one environment only "
                        "through a shared state")
    if count > 1 and config.tls and not config.tls_cert:
        raise MockError("--workers N with --tls needs --tls-cert and --tls-key: every process must serve the same "
                        "certificate")


class Workers:
    """The worker processes of one ``serve --workers N``."""

    def __init__(self, config: MockConfig, count: int, log: bool, config_file: str | None = None) -> None:
        check_workers(config, count)
        self._reserved: socket.socket | None = None
        if config.port == 0:  # one port for all: picked here, held until they listen on it
            self._reserved = _reserve(config.host)
            config = replace(config, port=self._reserved.getsockname()[1])
        if config.control_token is None and not is_loopback(config.host):  # one token for all
            config = replace(config, control_token=secrets.token_urlsafe(32))
        self.config = replace(config, reuse_port=True)
        context = multiprocessing.get_context("spawn")  # a fresh interpreter: no threads or locks inherited
        self._ready: Any = context.Queue()
        args = (self.config, log, config_file, self._ready)
        self.processes = [context.Process(target=_worker, args=args, daemon=True) for _ in range(count)]

    def start(self) -> list[str]:
        """Start every worker; the lines the first one printed for the user. A worker that fails stops them all."""
        for process in self.processes:
            process.start()
        lines: list[str] | None = None
        try:
            for _ in self.processes:
                kind, detail = self._ready.get(timeout=START_TIMEOUT)
                if kind == "error":
                    raise MockError(f"a worker could not start: {detail}")
                lines = lines if lines is not None else detail
        except queue.Empty as exc:
            raise MockError(f"the workers were not all serving within {START_TIMEOUT:.0f} s") from exc
        except MockError:
            self.stop()
            raise
        finally:
            if self._reserved is not None:
                self._reserved.close()
        return lines or []

    def wait(self, stop: threading.Event) -> int:
        """Until ``stop`` is set (0) or a worker ends (1); then every worker is stopped."""
        code = 0
        while not stop.wait(0.5):
            ended = [p for p in self.processes if not p.is_alive()]
            if ended:
                print(f"# scalekit-mock: worker {ended[0].pid} ended (exit code {ended[0].exitcode}); stopping the "
                      "others", file=sys.stderr)
                code = 1
                break
        self.stop()
        return code

    def stop(self) -> None:
        for process in self.processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: the worker stops its server and leaves the shared state
        for process in self.processes:
            process.join(10)
            if process.is_alive():
                process.kill()


def _reserve(host: str) -> socket.socket:
    """A port bound (not listening) with ``SO_REUSEPORT``, so the workers can bind it too."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, 0))
    return sock


def _worker(config: MockConfig, log: bool, config_file: str | None, ready: Any) -> None:
    """One worker: serve until SIGTERM or SIGINT."""
    from .cli import RequestLog, exports
    from .server import MockServer

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        request_log = RequestLog() if log else None
        server = MockServer(config, log=request_log).start()
    except Exception as exc:  # noqa: BLE001 - told to the parent, which says it and stops the others
        ready.put(("error", f"{type(exc).__name__}: {exc}"))
        return
    ready.put(("ready", exports(server, os.environ, config_file)))
    stop.wait()
    server.stop()
    if request_log is not None:
        request_log.close()
