"""Crawler worker processes for the multi-worker tests and the benchmark: ``scrapy crawl`` subprocesses
sharing one Redis, as on separate VMs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

# What the add-on and middlewares need on top of the project settings; the lead's settings.py may
# already hold the same values.
SHARED_CRAWL = {
    "ADDONS": json.dumps({"crawler.frontier.addon.FrontierAddon": 0}),
    "DOWNLOADER_MIDDLEWARES": json.dumps({"crawler.politeness.middleware.PolitenessMiddleware": 940,
                                          "crawler.browser.middleware.BrowserMiddleware": 950}),
    "DOWNLOAD_HANDLERS": json.dumps({"http": "crawler.politeness.handler.BudgetDownloadHandler",
                                     "https": "crawler.politeness.handler.BudgetDownloadHandler"}),
    # The shared budget is the only limiter under test: no per-process delays on top of it.
    "DOWNLOAD_DELAY": 0,
    "AUTOTHROTTLE_ENABLED": False,
    "BROWSER_LOCAL_ONLY": True,
    "FRONTIER_HEARTBEAT": 0.5,
    "FRONTIER_WORKER_TTL": 3,
    "FRONTIER_IDLE_CLOSE": 2,
    "LOG_LEVEL": "INFO",
}


class Worker:
    def __init__(self, spider: str, settings: dict[str, Any], args: dict[str, Any], workdir: Path, name: str,
                 runspider: Path | None = None) -> None:
        self.stats_path = workdir / f"{name}-stats.json"
        self.log_path = workdir / f"{name}.log"
        cmd = [sys.executable, "-m", "scrapy"] + (["runspider", str(runspider)] if runspider else ["crawl", spider])
        for key, value in {**SHARED_CRAWL, **settings, "STATS_FILE": self.stats_path}.items():
            cmd += ["-s", f"{key}={value}"]
        for key, value in args.items():
            cmd += ["-a", f"{key}={value}"]
        env = {**os.environ, "SCRAPY_SETTINGS_MODULE": "crawler.settings", "PYTHONUNBUFFERED": "1"}
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"worker did not finish within {timeout}s; log:\n{self.log_tail()}") from None

    def kill9(self) -> None:
        self.proc.kill()
        self.proc.wait()

    def stats(self) -> dict[str, Any]:
        try:
            return json.loads(self.stats_path.read_text())
        except (OSError, ValueError):
            return {}

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def run_workers(spider: str, n: int, settings: dict[str, Any], args: dict[str, Any], workdir: Path,
                timeout: float = 120, stagger: float = 0.0) -> list[Worker]:
    workers = []
    for i in range(n):
        workers.append(Worker(spider, settings, args, workdir, f"{spider}-{i}-{time.monotonic_ns()}"))
        if stagger:
            time.sleep(stagger)
    for worker in workers:
        worker.wait(timeout)
    return workers
