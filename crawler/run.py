"""Runs spiders as worker processes (``scrapy crawl``), one stage after the other, and gathers their stats.

Each worker is a separate process, as it is on a VM: with ``workers > 1`` the workers of a stage share
one Redis frontier and politeness budget (``redis_url``), so they split the work and never fetch a URL
twice. Used by ``animerec crawl``, the demo and the tests.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

STAGES = ("users", "animelists", "anime")

# Crawling the local replica: no politeness delays (the replica is ours), wide concurrency, robots.txt
# still obeyed. The demo, the tests and the benchmarks start from these.
REPLICA_SETTINGS: dict[str, Any] = {
    "DOWNLOAD_DELAY": 0,
    "AUTOTHROTTLE_ENABLED": False,
    "CONCURRENT_REQUESTS": 32,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 32,
    "RETRY_TIMES": 8,
    "BUDGET_RATE": 200,  # the replica serves ~500 requests/s; leave it room for the other worker
    "BUDGET_BURST": 20,
    "BROWSER_LOCAL_ONLY": True,
    # With a shared frontier: close 4 s after the queue ran dry (two heartbeats), not 10 s.
    "FRONTIER_IDLE_CLOSE": 4,
    "LOG_LEVEL": "INFO",
}


@dataclass
class StageResult:
    spider: str
    seconds: float
    workers: list[dict[str, Any]] = field(default_factory=list)  # final stats of each worker
    exit_codes: list[int] = field(default_factory=list)

    def total(self, key: str) -> int:
        return sum(int(w.get(key, 0) or 0) for w in self.workers)

    def prefixed(self, prefix: str) -> dict[str, int]:
        out: dict[str, int] = {}
        for worker in self.workers:
            for key, value in worker.items():
                if key.startswith(prefix) and isinstance(value, int):
                    out[key] = out.get(key, 0) + value
        return out

    def summary(self) -> str:
        written = sum(self.prefixed("pipeline/written/").values())
        problems = {**self.prefixed("crawler/pages_failed/"), **self.prefixed("pipeline/invalid/"),
                    **self.prefixed("pipeline/write_failed/"), **self.prefixed("log_count/ERROR")}
        parts = [f"{self.spider}: {self.total('downloader/response_count')} responses, {written} documents "
                 f"written by {len(self.workers)} worker(s) in {self.seconds:.1f} s"]
        if problems:
            parts.append("problems: " + ", ".join(f"{k}={v}" for k, v in sorted(problems.items())))
        return "; ".join(parts)


def worker_command(spider: str, settings: Mapping[str, Any], args: Mapping[str, Any]) -> list[str]:
    cmd = [sys.executable, "-m", "scrapy", "crawl", spider]
    for name, value in settings.items():
        cmd += ["-s", f"{name}={value}"]
    for name, value in args.items():
        cmd += ["-a", f"{name}={value}"]
    return cmd


def spider_args(spider: str, args: Mapping[str, Any]) -> dict[str, Any]:
    """Only the arguments the spider's ``__init__`` takes, so one ``-a`` list can serve every stage."""
    import inspect

    from scrapy.spiderloader import SpiderLoader
    from scrapy.utils.project import get_project_settings

    cls = SpiderLoader.from_settings(get_project_settings()).load(spider)
    accepted = inspect.signature(cls.__init__).parameters
    return {k: v for k, v in args.items() if k in accepted}


def start_workers(spider: str, n: int, settings: Mapping[str, Any], args: Mapping[str, Any], stats_dir: Path,
                  log_dir: Path | None = None) -> list[tuple[subprocess.Popen[bytes], Path]]:
    env = {**os.environ, "SCRAPY_SETTINGS_MODULE": "crawler.settings"}
    workers = []
    accepted_args = spider_args(spider, args)
    for i in range(n):
        stats_path = stats_dir / f"{spider}-{i}-{time.monotonic_ns()}.json"
        cmd = worker_command(spider, {**settings, "STATS_FILE": stats_path}, accepted_args)
        log = open(log_dir / f"{spider}-{i}.log", "ab") if log_dir else subprocess.DEVNULL  # noqa: SIM115
        workers.append((subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT), stats_path))
        if log_dir:
            log.close()
    return workers


def read_stats(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def run_stage(spider: str, *, workers: int = 1, settings: Mapping[str, Any] | None = None,
              args: Mapping[str, Any] | None = None, log_dir: Path | None = None,
              timeout_s: float | None = None) -> StageResult:
    settings = dict(settings or {})
    if workers > 1 and not settings.get("REDIS_URL"):
        raise ValueError("several workers need a shared frontier: give a Redis URL (--redis or REDIS_URL)")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="animerec-stats-") as tmp:
        procs = start_workers(spider, workers, settings, args or {}, Path(tmp), log_dir)
        result = StageResult(spider, 0.0)
        for proc, stats_path in procs:
            try:
                result.exit_codes.append(proc.wait(timeout=timeout_s))
            except subprocess.TimeoutExpired:
                proc.kill()
                result.exit_codes.append(proc.wait())
            result.workers.append(read_stats(stats_path))
    result.seconds = time.monotonic() - started
    return result


def run_crawl(spiders: Iterable[str] = STAGES, *, mongo_uri: str, base_url: str | None = None, workers: int = 1,
              redis_url: str | None = None, settings: Mapping[str, Any] | None = None,
              args: Mapping[str, Any] | None = None, log_dir: Path | None = None,
              echo: bool = True) -> list[StageResult]:
    merged: dict[str, Any] = {"MONGO_URI": mongo_uri}
    if base_url:
        merged["MAL_BASE_URL"] = base_url
    if redis_url:
        merged["REDIS_URL"] = redis_url
    merged.update(settings or {})
    results = []
    for spider in spiders:
        if echo:
            print(f"crawl: {spider} with {workers} worker(s) ...", flush=True)
        result = run_stage(spider, workers=workers, settings=merged, args=args, log_dir=log_dir)
        if echo:
            print("crawl: " + result.summary(), flush=True)
        # Scrapy exits 0 even when a component failed at start: judge workers by their stats instead.
        failed = [i for i, stats in enumerate(result.workers)
                  if stats.get("finish_reason") != "finished" or stats.get("log_count/CRITICAL")]
        if failed:
            hint = f"; see the logs in {log_dir}" if log_dir else ""
            raise RuntimeError(f"{spider}: worker(s) {failed} did not finish cleanly (exit codes "
                               f"{result.exit_codes}, finish reasons "
                               f"{[w.get('finish_reason') for w in result.workers]}){hint}")
        results.append(result)
    return results


def parse_assignments(pairs: Sequence[str] | None, flag: str) -> dict[str, str]:
    out = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ValueError(f"{flag} takes NAME=VALUE, got {pair!r}")
        out[name] = value
    return out
