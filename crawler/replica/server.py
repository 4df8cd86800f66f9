"""Run the replica in a background thread: ``with ReplicaServer(rate_limit=5) as site: site.base_url``."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from aiohttp import web

from crawler.replica import data as replica_data
from crawler.replica.app import STATS_KEY, create_app
from crawler.replica.faults import FaultConfig


class ReplicaServer:
    """The replica on ``host:port`` (port 0 = a free one) in a daemon thread with its own event loop.

    Keyword arguments other than host/port/data_dir are `FaultConfig` fields. The data is loaded once
    per process and shared by every server on the same folder.
    """

    def __init__(self, port: int = 0, host: str = "127.0.0.1", data_dir: Path | str | None = None,
                 **faults) -> None:
        unknown = set(faults) - set(FaultConfig.names())
        if unknown:
            raise TypeError(f"unknown replica fault options: {', '.join(sorted(unknown))}")
        self.host = host
        self.port = port
        self.faults = FaultConfig(**faults)
        self.data = replica_data.load(data_dir)
        self.app = create_app(self.data, self.faults)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> ReplicaServer:
        self._thread = threading.Thread(target=self._serve, name="mal-replica", daemon=True)
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise RuntimeError(f"the MAL replica failed to start: {self._error}") from self._error
        if not self._ready.is_set():
            raise RuntimeError("the MAL replica did not start within 30 s")
        return self

    def _serve(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            self._runner = web.AppRunner(self.app, access_log=None)
            loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, self.host, self.port)
            loop.run_until_complete(site.start())
            self.port = site._server.sockets[0].getsockname()[1]  # the real port when asked for 0
        except BaseException as exc:  # reported to the starting thread
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        loop.run_forever()
        loop.run_until_complete(self._runner.cleanup())
        loop.close()

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def stats(self) -> dict:
        """The same counters as GET /_replica/stats, read directly."""
        return self.app[STATS_KEY].snapshot()

    def reset_stats(self) -> None:
        from crawler.replica.app import GATE_KEY

        self.app[STATS_KEY].reset()
        self.app[GATE_KEY].reset()

    def __enter__(self) -> ReplicaServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
