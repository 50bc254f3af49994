"""The peer the token rate is judged against: oauth2-mock-server (npm), a widely used OAuth 2 mock, on Node.

It signs RS256 tokens for any client credentials, as the mock does, so the same wrk load on both, in the same
run, compares two mocks doing the same work. It is found on ``PATH`` or installed once, at a pinned version,
into a cache directory (``npm install``; that needs npm and the npm registry). When it cannot be had, the bench
says why and the token targets are not judged.
"""

from __future__ import annotations

import os
import re
import select
import shlex
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .report import BenchError, Request

PACKAGE, VERSION = "oauth2-mock-server", "9.3.0"
TOKEN = Request("POST", "/token", {"Content-Type": "application/x-www-form-urlencoded"},
                "grant_type=client_credentials&client_id=bench&client_secret=bench-secret")


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "scalekit-mock" / "bench"


@dataclass(frozen=True)
class Peer:
    command: list[str]
    where: str  # how it was found, for the report


def choose_peer(option: str) -> Peer | str:
    """The peer ``--peer`` names: found or installed (``auto``), none, or a command line of the user's."""
    if option == "auto":
        return find_peer()
    if option == "none":
        return "none asked for (--peer none)"
    return Peer(shlex.split(option), f"--peer {option}")


def find_peer(install: bool = True) -> Peer | str:
    """The peer's command line, or why there is none."""
    node = shutil.which("node")
    if node is None:
        return "node is not installed (apt-get install nodejs npm)"
    script = cache_dir() / "node_modules" / PACKAGE / "dist" / f"{PACKAGE}.mjs"
    if not script.is_file() and shutil.which(PACKAGE):
        return Peer([str(shutil.which(PACKAGE))], f"{PACKAGE} on PATH (version not checked)")
    if not script.is_file() and install:
        npm = shutil.which("npm")
        if npm is None:
            return "npm is not installed (apt-get install npm)"
        cache_dir().mkdir(parents=True, exist_ok=True)
        done = subprocess.run([npm, "install", "--prefix", str(cache_dir()), "--no-audit", "--no-fund",
                               "--silent", f"{PACKAGE}@{VERSION}"], capture_output=True, text=True, timeout=300,
                              check=False)
        if done.returncode != 0:
            return f"npm install {PACKAGE}@{VERSION} failed: {(done.stderr or done.stdout).strip()[-300:]}"
    if not script.is_file():
        return f"{PACKAGE} is not installed"
    return Peer([node, str(script)], f"{PACKAGE} {VERSION}, installed in {cache_dir()}")


_LISTENING = re.compile(r"listening on https?://[^\s:]+:(\d+)")


@contextmanager
def served_peer(peer: Peer) -> Iterator[str]:
    """The peer on a free loopback port, for the length of the block: its base URL."""
    proc = subprocess.Popen([*peer.command, "-a", "127.0.0.1", "-p", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        port: int | None = None
        seen: list[str] = []
        assert proc.stdout is not None
        while port is None:
            ready, _, _ = select.select([proc.stdout], [], [], 30)
            line = proc.stdout.readline() if ready else ""
            if not line:
                raise BenchError(f"{PACKAGE} did not start: {''.join(seen)[-500:]}")
            seen.append(line)
            match = _LISTENING.search(line)
            port = int(match.group(1)) if match else None
        threading.Thread(target=proc.stdout.read, daemon=True).start()  # whatever it prints later: never blocks it
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
