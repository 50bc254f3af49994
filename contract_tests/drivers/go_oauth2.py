"""The golang.org/x/oauth2 driver (``go-x-oauth2/driver.go``): built on first use, then run.

``python -m contract_tests.drivers.go_oauth2`` builds the Go driver when the cache has no binary for this
source and this toolchain and library yet, then becomes it (``os.execv``: the same process, so the suite's
deadlines and kills reach the Go program itself). The build is offline, from Debian's packages: ``golang-go``
and ``golang-golang-x-oauth2-dev`` (its sources in ``/usr/share/gocode``), in GOPATH mode, with no module proxy
(``GOPROXY=off``): the library is the one bookworm pins, 0.3.0. ``python -m contract_tests.drivers.install``
builds it ahead of time.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NoReturn

GOPATH = Path("/usr/share/gocode")
LIBRARY = GOPATH / "src" / "golang.org" / "x" / "oauth2"
PACKAGE = "golang-golang-x-oauth2-dev"
SOURCE = Path(__file__).resolve().parent / "go-x-oauth2" / "driver.go"
INSTALL = "apt-get install golang-go golang-golang-x-oauth2-dev"
EXIT_NOT_BUILT = 2


class BuildError(Exception):
    """The Go driver could not be built here (the message says why)."""


def missing() -> str | None:
    """Why the driver cannot be built here, or ``None`` when it can."""
    if shutil.which("go") is None:
        return f"go is not on PATH ({INSTALL})"
    if not (LIBRARY / "clientcredentials").is_dir():
        return f"golang.org/x/oauth2 is not in {GOPATH} ({INSTALL})"
    return None


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "scalekit-mock" / "go-x-oauth2"


def binary() -> Path:
    """Where the binary for this source, toolchain and library is (or will be) in the cache.

    The name hashes the source and the times of the toolchain and library files, so that editing the driver or
    an upgrade of either Debian package builds afresh; only ``stat`` calls, since every check starts the driver.
    """
    go = Path(shutil.which("go") or "go").resolve()
    digest = hashlib.sha256(SOURCE.read_bytes())
    for path in (go, LIBRARY / "oauth2.go", LIBRARY / "internal" / "token.go"):
        digest.update(f"{path}:{path.stat().st_mtime_ns}".encode())
    return cache_dir() / f"driver-{digest.hexdigest()[:16]}"


def library_version() -> str:
    """x/oauth2's version, as the Debian package states it (its revision, "-1", left out)."""
    try:
        done = subprocess.run(["dpkg-query", "-W", "-f=${Version}", PACKAGE], capture_output=True, text=True,
                              check=False, timeout=30)
    except OSError:
        return "unknown"
    version = done.stdout.strip().split(":")[-1]
    return version.rsplit("-", 1)[0] if done.returncode == 0 and version else "unknown"


def build() -> Path:
    """The driver's binary, built into the cache first when it is not there yet."""
    reason = missing()
    if reason is not None:
        raise BuildError(reason)
    target = binary()
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")  # two runs building at once each finish
    env = {**os.environ, "GOPATH": str(GOPATH), "GO111MODULE": "off", "GOFLAGS": "", "GOPROXY": "off",
           "GOCACHE": str(target.parent / "gocache"), "CGO_ENABLED": "0"}
    command = ["go", "build", "-o", str(partial), "-ldflags", f"-X main.oauth2Version={library_version()}",
               str(SOURCE)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False, timeout=600)
    if done.returncode != 0:
        raise BuildError(f"go build failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}")
    os.replace(partial, target)
    return target


def main() -> NoReturn:
    try:
        path = build()
    except BuildError as exc:
        print(f"the golang.org/x/oauth2 driver cannot be built: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_NOT_BUILT) from None
    os.execv(path, [str(path)])


if __name__ == "__main__":
    main()
