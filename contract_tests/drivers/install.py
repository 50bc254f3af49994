"""Install what the drivers that wrap real clients need beyond Python: ``python -m contract_tests.drivers.install``.

Every directory under ``contract_tests/drivers/`` with a ``package-lock.json`` (``node-sdk/``: the official
``@scalekit-sdk/node``) gets ``npm ci --no-audit --no-fund`` when its ``node_modules`` is missing or older
than the lock file; an up-to-date one is left alone, so running this before every test run is cheap. The Go
driver of golang.org/x/oauth2 is built into its cache directory unless it is there already (``go_oauth2.py``).

Without npm on PATH, or without Debian's ``golang-go`` and ``golang-golang-x-oauth2-dev``, it prints a one-line
notice to stderr and exits 0 (the tests of those drivers then skip with a reason), unless
``SCALEKIT_REQUIRE_DRIVERS=1`` (as CI sets it): then it exits 1.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from . import go_oauth2

DRIVERS = Path(__file__).resolve().parent
REQUIRE_ENV = "SCALEKIT_REQUIRE_DRIVERS"
NPM_CI = ("ci", "--no-audit", "--no-fund")


def npm_projects(root: Path | None = None) -> list[Path]:
    """The driver directories (under ``root``, by default this package's) with an npm lock file, in name order."""
    return sorted(lock.parent for lock in (DRIVERS if root is None else root).glob("*/package-lock.json"))


def is_stale(project: Path) -> bool:
    """Whether ``project`` needs ``npm ci``: no ``node_modules``, or one older than ``package-lock.json``.

    npm rewrites ``node_modules/.package-lock.json`` on every install, so its time says when the tree was
    last installed; an older npm without it leaves the directory's own time to go by.
    """
    modules = project / "node_modules"
    if not modules.is_dir():
        return True
    marker = modules / ".package-lock.json"
    installed = (marker if marker.is_file() else modules).stat().st_mtime
    return installed < (project / "package-lock.json").stat().st_mtime


def drivers_required(environ: Mapping[str, str] | None = None) -> bool:
    """Whether missing drivers are an error (``SCALEKIT_REQUIRE_DRIVERS=1``) rather than a skip."""
    return (os.environ if environ is None else environ).get(REQUIRE_ENV, "") == "1"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m contract_tests.drivers.install", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--force", action="store_true", help="run npm ci even where node_modules is up to date")
    args = parser.parse_args(argv)
    return install_npm(args.force) or build_go()


def build_go() -> int:
    """Build the Go driver (a no-op when its binary is in the cache); 1 when it cannot be and drivers are required."""
    try:
        go_oauth2.build()
    except go_oauth2.BuildError as exc:
        if drivers_required():
            print(f"error: {REQUIRE_ENV}=1 requires the golang.org/x/oauth2 driver, which cannot be built: {exc}",
                  file=sys.stderr)
            return 1
        print(f"notice: not building the golang.org/x/oauth2 driver (its tests will skip): {exc}", file=sys.stderr)
    return 0


def install_npm(force: bool) -> int:
    """``npm ci`` where ``node_modules`` is stale (everywhere with ``force``); 1 when that fails or cannot be done
    and drivers are required."""
    stale = [p for p in npm_projects() if force or is_stale(p)]
    if not stale:
        return 0
    npm = shutil.which("npm")
    names = ", ".join(p.name for p in stale)
    if npm is None:
        if drivers_required():
            print(f"error: npm is not on PATH, and {REQUIRE_ENV}=1 requires the drivers ({names}); "
                  "install Node.js (with npm) first", file=sys.stderr)
            return 1
        print(f"notice: npm is not on PATH; not installing the drivers in {names} (their tests will skip)",
              file=sys.stderr)
        return 0
    for project in stale:
        print(f"npm {' '.join(NPM_CI)} in {project}", file=sys.stderr)
        done = subprocess.run([npm, *NPM_CI], cwd=project, check=False)
        if done.returncode != 0:
            print(f"error: npm ci failed in {project} (exit {done.returncode})", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
