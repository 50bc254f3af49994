"""A real ``redis-server`` (Debian's package) on 127.0.0.1 for the shared-state tests, started and stopped by them.

Without one installed the tests skip, unless ``SCALEKIT_REQUIRE_REDIS=1`` (CI sets it): then they fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field

import pytest
import redis

from mock_server.bench.shared import free_port, start_redis

REQUIRE_ENV = "SCALEKIT_REQUIRE_REDIS"


@dataclass
class RedisServer:
    """One redis-server process, no persistence: stopping it loses its data, as a crash does."""

    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    directory: str = field(default_factory=lambda: tempfile.mkdtemp(prefix="scalekit-mock-redis-"))

    @property
    def url(self) -> str:
        return self.db(0)

    def db(self, number: int) -> str:
        """The URL of another database of the same server: another environment."""
        return f"redis://127.0.0.1:{self.port}/{number}"

    def start(self) -> RedisServer:
        if shutil.which("redis-server") is None:
            if os.environ.get(REQUIRE_ENV) == "1":
                pytest.fail(f"redis-server is not installed, and {REQUIRE_ENV}=1 requires it (apt-get install "
                            "redis-server)")
            pytest.skip("redis-server is not installed (apt-get install redis-server)")
        self.process = start_redis(self.port, self.directory)  # the bench's own: one way to start one
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.process = None

    def flush(self) -> None:
        redis.Redis(port=self.port).flushall()

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)
