"""Embedded local servers: the default store when ``MONGO_URI`` is unset, and a local Redis.

There is no ``mongod`` package on our machines, so the demo and the tests start SecantusDB (MongoDB's
wire protocol over WiredTiger, from PyPI) as a child process on 127.0.0.1 and talk to it with plain
pymongo, exactly as they would to a real server. It runs in its own process so that crawler workers
and the trainer, which are separate processes too, can all share it. :class:`LocalRedis` does the same
for Debian's ``redis-server`` (the shared crawl frontier in the demo and the tests).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymongo
from pymongo.errors import PyMongoError

logger = logging.getLogger(__name__)

DEFAULT_DATA_DIR = Path("data") / "mongo"
DEFAULT_DATABASE = "animerec"
START_TIMEOUT_S = 30.0


class EmbeddedStoreError(RuntimeError):
    """The local server could not be started or did not answer."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _server_command(port: int, data_dir: Path) -> list[str]:
    exe = shutil.which("secantusd-py", path=str(Path(sys.executable).parent)) or shutil.which("secantusd-py")
    base = [exe] if exe else [sys.executable, "-m", "secantus"]
    return [*base, "--host", "127.0.0.1", "--port", str(port), "--storage-path", str(data_dir),
            "--standalone", "--log-level", "WARNING"]


class LocalMongo:
    """A SecantusDB server on a free loopback port, stopped (with its children) on ``stop()``.

    ``data_dir`` keeps the data between runs; ``":memory:"`` gives a throw-away store.
    """

    def __init__(self, data_dir: str | Path = DEFAULT_DATA_DIR, port: int = 0,
                 database: str = DEFAULT_DATABASE) -> None:
        self.data_dir = data_dir if str(data_dir) == ":memory:" else Path(data_dir)
        self.port = port or free_port()
        self.database = database
        self.process: subprocess.Popen[bytes] | None = None
        self._log_path: Path | None = None

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/{self.database}"

    def start(self) -> LocalMongo:
        if isinstance(self.data_dir, Path):
            self.data_dir.mkdir(parents=True, exist_ok=True)
            self._log_path = self.data_dir.parent / f"{self.data_dir.name}-server.log"
        else:
            self._log_path = Path(os.devnull)
        log = open(self._log_path, "ab")  # noqa: SIM115 - the child owns it for its lifetime
        self.process = subprocess.Popen(
            _server_command(self.port, Path(self.data_dir)), stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,  # its own group: stop() kills all of it
        )
        log.close()
        self._wait_ready()
        logger.info("local MongoDB-compatible store (SecantusDB) at %s, data in %s", self.uri, self.data_dir)
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        client = pymongo.MongoClient(self.uri, serverSelectionTimeoutMS=500, connectTimeoutMS=500)
        try:
            while time.monotonic() < deadline:
                if self.process is not None and self.process.poll() is not None:
                    raise EmbeddedStoreError(
                        f"SecantusDB exited with code {self.process.returncode} at start; see {self._log_path}")
                try:
                    client.admin.command("ping")
                    return
                except PyMongoError:
                    time.sleep(0.1)
        finally:
            client.close()
        self.stop()
        raise EmbeddedStoreError(f"SecantusDB did not answer on port {self.port} within {START_TIMEOUT_S:.0f} s")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    def __enter__(self) -> LocalMongo:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def mongo_uri(data_dir: str | Path = DEFAULT_DATA_DIR) -> Iterator[str]:
    """``MONGO_URI`` when set; otherwise a local server for the duration of the block."""
    configured = os.environ.get("MONGO_URI")
    if configured:
        yield configured
        return
    with LocalMongo(data_dir) as server:
        yield server.uri


class LocalRedis:
    """Debian's ``redis-server`` on a free loopback port, no persistence, stopped on ``stop()``."""

    def __init__(self, port: int = 0, executable: str = "redis-server") -> None:
        self.port = port or free_port()
        self.executable = shutil.which(executable) or executable
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> LocalRedis:
        if not shutil.which(self.executable):
            raise EmbeddedStoreError("redis-server is not installed: run `make setup` (apt-get install redis-server)")
        self.process = subprocess.Popen(
            [self.executable, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
             "--appendonly", "no", "--protected-mode", "yes"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise EmbeddedStoreError(f"redis-server exited with code {self.process.returncode} at start")
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.05)
        self.stop()
        raise EmbeddedStoreError(f"redis-server did not listen on port {self.port}")

    def client(self) -> Any:
        import redis

        return redis.Redis.from_url(self.url)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)

    def __enter__(self) -> LocalRedis:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
