"""A throwaway redis-server (Debian's) on a free loopback port: the demo's and the tests' shared frontier.

    with local_redis(workdir) as server:
        run_crawl(..., workers=2, redis_url=server.url)
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalRedis:
    """redis-server on 127.0.0.1, no persistence, stopped by :meth:`stop` (or the context manager)."""

    def __init__(self, workdir: Path | str | None = None, port: int = 0) -> None:
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="animerec-redis-"))
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> LocalRedis:
        import redis

        if not Path(REDIS_SERVER).exists():
            raise RuntimeError(f"redis-server not found (looked for {REDIS_SERVER}): apt-get install redis-server")
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = open(self.workdir / "redis-server.log", "ab")  # noqa: SIM115 (handed to the child process)
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir), "--protected-mode", "yes"],
            stdout=log, stderr=subprocess.STDOUT)
        log.close()
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + timeout
        while True:
            try:
                client.ping()
                return self
            except redis.ConnectionError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"redis-server did not start on port {self.port}; see "
                                       f"{self.workdir / 'redis-server.log'}") from None
                time.sleep(0.05)
            finally:
                client.close()

    def client(self) -> Any:
        import redis

        return redis.Redis.from_url(self.url)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> LocalRedis:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@contextlib.contextmanager
def local_redis(workdir: Path | str | None = None) -> Iterator[LocalRedis]:
    with LocalRedis(workdir) as server:
        yield server
